/* tensor_fuzz.c — libFuzzer target for lunet's tensor format (io_tensor.c),
 * read from an in-memory FILE* (fmemopen) as tensor_read does: header, then
 * the data into a buffer of the announced size; a tensor that reads back is
 * written again and must give the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lunet_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0; /* fmemopen refuses an empty buffer */
  FILE *f = fmemopen((void *)data, size, "rb");
  if (!f) abort();
  char err[512];
  lunet_tns_header hd;
  if (lunet_tns_read_header(f, &hd, err, sizeof err) == 0) {
    int64_t n = fuzz_numel(hd.ndim, hd.size);
    long start = ftell(f) - 20 - 8 * hd.ndim;
    void *dst = malloc((size_t)n * 4 + 1);
    if (dst && lunet_tns_read_data(f, &hd, dst, err, sizeof err) == 0) {
      size_t len = (size_t)(ftell(f) - start);
      char *out = malloc(len + 1);
      FILE *g = out ? fmemopen(out, len + 1, "wb") : NULL;
      if (g) {
        if (lunet_tns_write(g, &hd, dst, err, sizeof err) != 0 || fflush(g) != 0 || (size_t)ftell(g) != len ||
            memcmp(out, data + start, len) != 0)
          abort(); /* a tensor that loads must save to the same bytes */
        fclose(g);
      }
      free(out);
    }
    free(dst);
  }
  fclose(f);
  return 0;
}
