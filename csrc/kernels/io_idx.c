/* io_idx.c — IDX reader (MNIST's format) through zlib's gz* functions, which
 * read gzip'd and raw files alike ("transparent" mode). */
#include "lunet_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>

/* Deflate cannot compress better than 1032:1, so a gzip file of s bytes holds
 * at most 1032 s bytes (plus headers): a bound on what a header may claim. */
#define DEFLATE_MAX_RATIO 1032

struct lunet_idx_reader {
  gzFile gz;
  char *path;
  int type;    /* IDX type byte */
  int width;   /* bytes per value */
  int64_t count; /* number of values */
};

static const struct {
  int type, width;
  const char *name;
  int integer;
} idx_types[] = {{0x08, 1, "uint8", 1},   {0x09, 1, "int8", 1},     {0x0B, 2, "int16", 1},
                 {0x0C, 4, "int32", 1},   {0x0D, 4, "float32", 0}, {0x0E, 8, "float64", 0}};
#define N_IDX_TYPES (sizeof idx_types / sizeof idx_types[0])

static int idx_type_index(int type) {
  for (size_t i = 0; i < N_IDX_TYPES; i++)
    if (idx_types[i].type == type) return (int)i;
  return -1;
}

void lunet_idx_close(lunet_idx_reader *r) {
  if (!r) return;
  if (r->gz) gzclose(r->gz);
  free(r->path);
  free(r);
}

/* Reads exactly n bytes; returns the count read (short at end of file) or -1
 * on a read or decompression error, with zlib's message in err. */
static int64_t gz_read_full(lunet_idx_reader *r, void *buf, size_t n, char *err, size_t errlen) {
  int got = gzread(r->gz, buf, (unsigned)n);
  int code;
  const char *msg = gzerror(r->gz, &code);
  if (got < 0 || (code != Z_OK && code != Z_BUF_ERROR) ||
      (code == Z_BUF_ERROR && (size_t)got < n)) {
    const char *tail = strstr(msg, ">: "); /* zlib's message starts "<fd:N>: " */
    if (strncmp(msg, "<fd:", 4) == 0 && tail) msg = tail + 3;
    snprintf(err, errlen, "'%s': %s", r->path,
             code == Z_ERRNO ? strerror(errno) : code == Z_BUF_ERROR ? "truncated gzip stream" : msg);
    return -1;
  }
  return got;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

lunet_idx_reader *lunet_idx_open(const char *path, int *ndim, int64_t size[LT_MAXDIM],
                                 char *err, size_t errlen) {
  struct stat st;
  int fd = lunet_open_regular(path, 0, err, errlen);
  if (fd < 0) return NULL;
  if (fstat(fd, &st) != 0) { /* the size bounds the data a header may announce */
    snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  lunet_idx_reader *r = calloc(1, sizeof *r);
  if (r) r->path = malloc(strlen(path) + 1);
  if (!r || !r->path) {
    snprintf(err, errlen, "'%s': out of memory", path);
    lunet_idx_close(r);
    close(fd);
    return NULL;
  }
  strcpy(r->path, path);
  if (!(r->gz = gzdopen(fd, "rb"))) {
    snprintf(err, errlen, "cannot open '%s': out of memory", path);
    lunet_idx_close(r);
    close(fd);
    return NULL;
  }
  gzbuffer(r->gz, 1 << 17);
  unsigned char head[4 + 4 * LT_MAXDIM];
  int64_t got = gz_read_full(r, head, 4, err, errlen);
  if (got < 0) goto fail;
  int t = got == 4 && head[0] == 0 && head[1] == 0 ? idx_type_index(head[2]) : -1;
  if (t < 0 || head[3] < 1 || head[3] > LT_MAXDIM) {
    if (got < 4)
      snprintf(err, errlen, "'%s' is not an IDX file: only %d bytes long", path, (int)got);
    else
      snprintf(err, errlen,
               "'%s' is not an IDX file: bad magic 0x%02X%02X%02X%02X (expected 00 00, a type "
               "byte 08/09/0B/0C/0D/0E, then 1..%d dimensions)",
               path, head[0], head[1], head[2], head[3], LT_MAXDIM);
    goto fail;
  }
  r->type = idx_types[t].type;
  r->width = idx_types[t].width;
  *ndim = head[3];
  got = gz_read_full(r, head + 4, 4 * (size_t)*ndim, err, errlen);
  if (got < 0) goto fail;
  if (got < 4 * *ndim) {
    snprintf(err, errlen, "'%s': truncated IDX header (%d dimensions announced)", path, *ndim);
    goto fail;
  }
  int64_t count, bytes;
  for (int d = 0; d < *ndim; d++) size[d] = be32(head + 4 + 4 * d);
  if (lt_shape_numel(*ndim, size, &count) || lt_mul_overflow(count, r->width, &bytes)) {
    snprintf(err, errlen, "'%s': IDX sizes overflow", path);
    goto fail;
  }
  int64_t header = 4 + 4 * (int64_t)*ndim, have = (int64_t)st.st_size - header;
  if (gzdirect(r->gz) ? bytes != have : bytes / DEFLATE_MAX_RATIO > (int64_t)st.st_size) {
    if (gzdirect(r->gz) && bytes > have)
      snprintf(err, errlen, "'%s': truncated IDX file: the header announces %lld bytes of "
               "data, the file holds %lld", path, (long long)bytes, (long long)have);
    else if (gzdirect(r->gz))
      snprintf(err, errlen, "'%s': %lld bytes follow the %lld bytes of data the IDX header "
               "announces", path, (long long)(have - bytes), (long long)bytes);
    else
      snprintf(err, errlen, "'%s': the IDX header announces %lld bytes of data, more than a "
               "%lld-byte gzip file can hold", path, (long long)bytes, (long long)st.st_size);
    goto fail;
  }
  r->count = count;
  return r;
fail:
  lunet_idx_close(r);
  return NULL;
}

/* The value at p (big-endian, IDX type `type`) as a double (exact for every type). */
static double idx_value(int type, const unsigned char *p) {
  uint32_t u;
  switch (type) {
  case 0x08: return p[0];
  case 0x09: return (int8_t)p[0];
  case 0x0B: return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
  case 0x0C: return (int32_t)be32(p);
  case 0x0D: {
    float f;
    u = be32(p);
    memcpy(&f, &u, 4);
    return f;
  }
  default: {
    uint64_t v = (uint64_t)be32(p) << 32 | be32(p + 4);
    double d;
    memcpy(&d, &v, 8);
    return d;
  }
  }
}

int lunet_idx_read(lunet_idx_reader *r, void *dst, lt_dtype dtype, char *err, size_t errlen) {
  int t = idx_type_index(r->type);
  if (dtype == LT_INT && !idx_types[t].integer) {
    snprintf(err, errlen, "'%s' holds %s values, which cannot be read as int", r->path,
             idx_types[t].name);
    return -1;
  }
  unsigned char buf[1 << 16];
  const int64_t per = (int64_t)sizeof buf / r->width;
  for (int64_t done = 0; done < r->count;) {
    int64_t n = r->count - done < per ? r->count - done : per;
    int64_t got = gz_read_full(r, buf, (size_t)(n * r->width), err, errlen);
    if (got < 0) return -1;
    if (got < n * r->width) {
      snprintf(err, errlen, "'%s': truncated IDX data: the header announces %lld values, the "
               "file holds %lld", r->path, (long long)r->count, (long long)(done + got / r->width));
      return -1;
    }
    for (int64_t i = 0; i < n; i++) {
      double v = idx_value(r->type, buf + i * r->width);
      if (dtype == LT_INT)
        ((int32_t *)dst)[done + i] = (int32_t)v;
      else
        ((float *)dst)[done + i] = (float)v;
    }
    done += n;
  }
  int64_t extra = gz_read_full(r, buf, 1, err, errlen);
  if (extra < 0) return -1;
  if (extra > 0) {
    snprintf(err, errlen, "'%s': bytes follow the %lld values the IDX header announces", r->path,
             (long long)r->count);
    return -1;
  }
  return 0;
}
