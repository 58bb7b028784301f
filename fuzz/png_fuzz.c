/* png_fuzz.c — libFuzzer target for the PNG reader (io_png.c), as image.load
 * uses it: open (header, transformations), allocate c×h×w floats, read.
 *
 * Every PNG chunk carries a CRC-32 that libpng checks, so almost every random
 * mutation would stop at the first CRC. The custom mutator recomputes the
 * CRC of every complete chunk after mutating, so the fuzzer reaches the chunk
 * contents; the crash files it saves are therefore valid-CRC PNGs that
 * reproduce on their own. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz.h"
#include "lunet_io.h"


static uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Chunks after the 8-byte signature: length (4), type (4), data (length), CRC of type and data (4). */
static void fix_crcs(uint8_t *data, size_t size) {
  size_t pos = 8;
  while (pos + 12 <= size) {
    uint32_t len = get_be32(data + pos);
    if (len > size - pos - 12) break;
    uint32_t crc = (uint32_t)crc32(0L, data + pos + 4, len + 4);
    uint8_t *p = data + pos + 8 + len;
    p[0] = (uint8_t)(crc >> 24), p[1] = (uint8_t)(crc >> 16), p[2] = (uint8_t)(crc >> 8), p[3] = (uint8_t)crc;
    pos += 12 + (size_t)len;
  }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  if (seed % 8 != 0) fix_crcs(data, size); /* now and then a bad CRC, to test that path */
  return size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size);
  char err[512];
  int64_t c, h, w;
  lunet_png_reader *r = lunet_png_open(path, &c, &h, &w, err, sizeof err);
  if (!r) return 0;
  float *dst = malloc((size_t)(c * h * w) * sizeof(float) + 1);
  if (dst) lunet_png_read(r, dst, err, sizeof err);
  free(dst);
  lunet_png_close(r);
  return 0;
}
