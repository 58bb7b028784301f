/* io_tensor.c — lunet's tensor file format (layout in lunet_io.h).
 *
 * Data go through a small buffer in which every element (4 bytes, or 8 for double) is
 * encoded little-endian byte by byte, so files are the same on any host. */
#include "lunet_io.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

static const char tns_magic[8] = {'L', 'U', 'N', 'E', 'T', 'T', 'N', 'S'};

#define BUFBYTES 65536 /* the buffered block */

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put64(unsigned char *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const unsigned char *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* The element count, or -1 when it (or, with a zero size, the product of the others) overflows. */
static int64_t tns_numel(const lunet_tns_header *hd) {
  int64_t n;
  return lt_shape_numel(hd->ndim, hd->size, &n) ? -1 : n;
}

/* Element i of an array in memory of es-byte elements (es 4 or 8), as the integer of its
 * bits, and back. */
static uint64_t elem_bits(const unsigned char *p, int64_t i, size_t es) {
  uint32_t v32;
  uint64_t v64;
  if (es == 8) return memcpy(&v64, p + 8 * i, 8), v64;
  return memcpy(&v32, p + 4 * i, 4), v32;
}

static void set_elem_bits(unsigned char *p, int64_t i, uint64_t v, size_t es) {
  uint32_t v32 = (uint32_t)v;
  if (es == 8) memcpy(p + 8 * i, &v, 8);
  else memcpy(p + 4 * i, &v32, 4);
}

/* The same bits in the file: es bytes, little-endian. */
static void put_elem(unsigned char *p, uint64_t v, size_t es) {
  if (es == 8) put64(p, v);
  else put32(p, (uint32_t)v);
}

static uint64_t get_elem(const unsigned char *p, size_t es) { return es == 8 ? get64(p) : get32(p); }

static int write_fail(char *err, size_t errlen) {
  snprintf(err, errlen, "write error: %s", strerror(errno));
  return -1;
}

int lunet_tns_write(FILE *f, const lunet_tns_header *hd, const void *data, char *err,
                    size_t errlen) {
  unsigned char head[8 + 12 + 8 * LT_MAXDIM];
  memcpy(head, tns_magic, 8);
  put32(head + 8, LUNET_TNS_VERSION);
  put32(head + 12, (uint32_t)hd->dtype);
  put32(head + 16, (uint32_t)hd->ndim);
  for (int d = 0; d < hd->ndim; d++) put64(head + 20 + 8 * d, (uint64_t)hd->size[d]);
  size_t hlen = 20 + 8 * (size_t)hd->ndim;
  if (fwrite(head, 1, hlen, f) != hlen) return write_fail(err, errlen);
  int64_t n = tns_numel(hd);
  const unsigned char *src = data; /* moved as 4- or 8-byte words, whatever they hold */
  const size_t es = lt_elsize(hd->dtype);
  const int64_t chunk = BUFBYTES / (int64_t)es;
  unsigned char buf[BUFBYTES];
  uLong crc = crc32(crc32(0L, Z_NULL, 0), head, (uInt)hlen);
  for (int64_t done = 0; done < n;) {
    int64_t m = n - done < chunk ? n - done : chunk;
    for (int64_t i = 0; i < m; i++) put_elem(buf + es * i, elem_bits(src, done + i, es), es);
    crc = crc32(crc, buf, (uInt)(es * m));
    if (fwrite(buf, es, (size_t)m, f) != (size_t)m) return write_fail(err, errlen);
    done += m;
  }
  put32(buf, (uint32_t)crc);
  if (fwrite(buf, 1, 4, f) != 4) return write_fail(err, errlen);
  return 0;
}

/* Bytes from the current position to the end, or -1 when f cannot seek (a pipe). */
static int64_t remaining(FILE *f) {
  long here = ftell(f);
  if (here < 0 || fseek(f, 0, SEEK_END) != 0) return -1;
  long end = ftell(f);
  if (fseek(f, here, SEEK_SET) != 0 || end < here) return -1;
  return (int64_t)(end - here);
}

static int read_fail(FILE *f, const char *what, char *err, size_t errlen) {
  if (ferror(f))
    snprintf(err, errlen, "read error in the tensor %s: %s", what, strerror(errno));
  else
    snprintf(err, errlen, "truncated tensor %s", what);
  return -1;
}

int lunet_tns_read_header(FILE *f, lunet_tns_header *hd, char *err, size_t errlen) {
  unsigned char head[20 + 8 * LT_MAXDIM];
  if (fread(head, 1, 20, f) != 20) return read_fail(f, "header", err, errlen);
  if (memcmp(head, tns_magic, 8) != 0) {
    snprintf(err, errlen, "not a lunet tensor (bad magic)");
    return -1;
  }
  uint32_t version = get32(head + 8), dtype = get32(head + 12), ndim = get32(head + 16);
  if (version != 1 && version != LUNET_TNS_VERSION) {
    snprintf(err, errlen, "tensor format version %u, this lunet reads versions 1 and %u", version,
             LUNET_TNS_VERSION);
    return -1;
  }
  if (dtype != LT_FLOAT && dtype != LT_INT && dtype != LT_DOUBLE) {
    snprintf(err, errlen, "unknown tensor dtype %u (0 float, 1 int, 2 double)", dtype);
    return -1;
  }
  if (ndim > LT_MAXDIM) {
    snprintf(err, errlen, "tensor of %u dimensions (at most %d)", ndim, LT_MAXDIM);
    return -1;
  }
  hd->dtype = (lt_dtype)dtype;
  hd->ndim = (int)ndim;
  if (fread(head + 20, 8, ndim, f) != ndim) return read_fail(f, "header", err, errlen);
  hd->crc = (uint32_t)crc32(0L, Z_NULL, 0);
  if (version >= 2) hd->crc = (uint32_t)crc32(hd->crc, head, 20 + 8 * ndim);
  for (uint32_t d = 0; d < ndim; d++) {
    uint64_t s = get64(head + 20 + 8 * d);
    if (s > INT64_MAX) {
      snprintf(err, errlen, "tensor size %llu too large", (unsigned long long)s);
      return -1;
    }
    hd->size[d] = (int64_t)s;
  }
  int64_t n = tns_numel(hd), bytes, left = remaining(f);
  if (n < 0 || lt_mul_overflow(n, (int64_t)lt_elsize(hd->dtype), &bytes)) {
    snprintf(err, errlen, "tensor sizes overflow");
    return -1;
  }
  if (left >= 0 && bytes > left - 4) {
    /* unsigned: bytes may be within 4 of INT64_MAX */
    snprintf(err, errlen, "truncated tensor: the header announces %llu bytes of data and "
             "checksum, %lld remain in the file", (unsigned long long)bytes + 4, (long long)left);
    return -1;
  }
  return 0;
}

int lunet_tns_read_data(FILE *f, const lunet_tns_header *hd, void *dst, char *err,
                        size_t errlen) {
  int64_t n = tns_numel(hd);
  unsigned char *out = dst;
  const size_t es = lt_elsize(hd->dtype);
  const int64_t chunk = BUFBYTES / (int64_t)es;
  unsigned char buf[BUFBYTES];
  uLong crc = hd->crc;
  for (int64_t done = 0; done < n;) {
    int64_t m = n - done < chunk ? n - done : chunk;
    if (fread(buf, es, (size_t)m, f) != (size_t)m) return read_fail(f, "data", err, errlen);
    crc = crc32(crc, buf, (uInt)(es * m));
    for (int64_t i = 0; i < m; i++) set_elem_bits(out, done + i, get_elem(buf + es * i, es), es);
    done += m;
  }
  if (fread(buf, 1, 4, f) != 4) return read_fail(f, "checksum", err, errlen);
  if (get32(buf) != (uint32_t)crc) {
    snprintf(err, errlen, "tensor corrupt (checksum mismatch)");
    return -1;
  }
  return 0;
}
