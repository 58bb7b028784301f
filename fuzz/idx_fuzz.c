/* idx_fuzz.c — libFuzzer target for the IDX reader (io_idx.c), as loadIDX uses
 * it: open (header), allocate the values, read them as float and as int.
 *
 * The reader takes raw and gzip'd files alike. Mutating a gzip stream's bytes
 * mostly breaks its deflate data or its CRC, so for a gzip input the custom
 * mutator, every other time, inflates it, mutates the IDX bytes inside and
 * gzips them again: both the gzip layer and the IDX parser behind it get
 * fuzzed, and saved crash files reproduce on their own. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz.h"
#include "lunet_io.h"


#define INNER_MAX (1 << 16)

/* Inflates a gzip stream into out (at most cap bytes); returns the length, or 0 on any error. */
static size_t gunzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
  z_stream z = {0};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return 0;
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int rc = inflate(&z, Z_FINISH);
  size_t len = z.total_out;
  inflateEnd(&z);
  return rc == Z_STREAM_END ? len : 0;
}

/* Gzips in into out (at most cap bytes); returns the length, or 0 when it does not fit. */
static size_t gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap, int level) {
  z_stream z = {0};
  if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int rc = deflate(&z, Z_FINISH);
  size_t len = z.total_out;
  deflateEnd(&z);
  return rc == Z_STREAM_END ? len : 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  static uint8_t inner[INNER_MAX];
  if (seed % 2 == 0 && size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
    size_t n = gunzip(data, size, inner, sizeof inner);
    if (n > 0) {
      n = LLVMFuzzerMutate(inner, n, sizeof inner);
      size_t m = gzip(inner, n, data, max_size, (int)(seed / 2 % 10));
      if (m > 0) return m;
    }
  }
  return LLVMFuzzerMutate(data, size, max_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size);
  static const lt_dtype dtypes[2] = {LT_FLOAT, LT_INT};
  for (int k = 0; k < 2; k++) {
    char err[512];
    int ndim;
    int64_t sz[LT_MAXDIM];
    lunet_idx_reader *r = lunet_idx_open(path, &ndim, sz, err, sizeof err);
    if (!r) return 0;
    int64_t n = fuzz_numel(ndim, sz);
    void *dst = malloc((size_t)n * 4 + 1);
    if (dst) lunet_idx_read(r, dst, dtypes[k], err, sizeof err);
    free(dst);
    lunet_idx_close(r);
  }
  return 0;
}
