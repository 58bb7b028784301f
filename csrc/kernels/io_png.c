/* io_png.c — PNG read and write with libpng.
 *
 * libpng reports errors by calling an error function that must not return; ours
 * records the message and longjmps back to the setjmp of the function that
 * called into libpng. Every resource those functions acquire lives in a struct
 * reached through a pointer, never in a local that changes after setjmp, so the
 * error path can release all of it.
 */
#include "lunet_io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PNG_MSG_LEN 160
/* Deflate cannot compress better than 1032:1, so a PNG of s bytes holds at most
 * 1032 s bytes of pixel data: a bound on the size its header may claim. */
#define DEFLATE_MAX_RATIO 1032

struct lunet_png_reader {
  char *path;
  FILE *fp;
  png_structp png;
  png_infop info;
  png_bytep pixels; /* h rows of rowbytes, as libpng delivers them */
  png_bytepp rows;
  int64_t c, h, w;
  int bits; /* 8 or 16 after the transformations */
  size_t rowbytes;
  size_t raw_rowbytes; /* a row as stored in the file, before the transformations */
  char msg[PNG_MSG_LEN]; /* libpng's last error */
};

static void on_png_error(png_structp png, png_const_charp msg) {
  char *dst = png_get_error_ptr(png);
  snprintf(dst, PNG_MSG_LEN, "%s", msg);
  png_longjmp(png, 1);
}

/* libpng's own stdio reader says only "Read Error"; this one tells a short file. */
static void read_file(png_structp png, png_bytep data, size_t n) {
  FILE *fp = png_get_io_ptr(png);
  if (fread(data, 1, n, fp) != n) png_error(png, ferror(fp) ? strerror(errno) : "file truncated");
}

static void on_png_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

void lunet_png_close(lunet_png_reader *r) {
  if (!r) return;
  if (r->png) png_destroy_read_struct(&r->png, r->info ? &r->info : NULL, NULL);
  if (r->fp) fclose(r->fp);
  free(r->rows);
  free(r->pixels);
  free(r->path);
  free(r);
}

/* Reads the header and sets up the transformations; -1 on a libpng error. */
static int read_info(lunet_png_reader *r) {
  if (setjmp(png_jmpbuf(r->png))) return -1;
  png_set_read_fn(r->png, r->fp, read_file);
  png_set_sig_bytes(r->png, 8);
  png_read_info(r->png, r->info);
  r->raw_rowbytes = png_get_rowbytes(r->png, r->info);
  png_set_expand(r->png); /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
  png_set_interlace_handling(r->png);
  png_read_update_info(r->png, r->info);
  r->c = png_get_channels(r->png, r->info);
  r->bits = png_get_bit_depth(r->png, r->info);
  r->h = png_get_image_height(r->png, r->info);
  r->w = png_get_image_width(r->png, r->info);
  r->rowbytes = png_get_rowbytes(r->png, r->info);
  return 0;
}

lunet_png_reader *lunet_png_open(const char *path, int64_t *c, int64_t *h, int64_t *w,
                                 char *err, size_t errlen) {
  lunet_png_reader *r = calloc(1, sizeof *r);
  if (r) r->path = malloc(strlen(path) + 1);
  if (!r || !r->path) {
    snprintf(err, errlen, "'%s': out of memory", path);
    lunet_png_close(r);
    return NULL;
  }
  strcpy(r->path, path);
  int fd = lunet_open_regular(path, 0, err, errlen);
  if (fd >= 0 && !(r->fp = fdopen(fd, "rb"))) {
    snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
    close(fd);
  }
  if (!r->fp) {
    lunet_png_close(r);
    return NULL;
  }
  png_byte sig[8];
  if (fread(sig, 1, 8, r->fp) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
    snprintf(err, errlen, "'%s' is not a PNG file (bad signature)", path);
    lunet_png_close(r);
    return NULL;
  }
  r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r->msg, on_png_error, on_png_warning);
  if (r->png) r->info = png_create_info_struct(r->png);
  if (!r->info) {
    snprintf(err, errlen, "'%s': out of memory", path);
    lunet_png_close(r);
    return NULL;
  }
  if (read_info(r)) {
    snprintf(err, errlen, "'%s': corrupt PNG: %s", path, r->msg);
    lunet_png_close(r);
    return NULL;
  }
  if (r->rowbytes != (size_t)(r->c * r->w * (r->bits / 8)) || r->c < 1 || r->c > 4) {
    snprintf(err, errlen, "'%s': unsupported PNG layout (%d channels of %d bits)", path,
             (int)r->c, r->bits);
    lunet_png_close(r);
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(r->fp), &st) == 0 && r->raw_rowbytes > 0 &&
      (uint64_t)r->h > (uint64_t)st.st_size * DEFLATE_MAX_RATIO / r->raw_rowbytes) {
    snprintf(err, errlen, "'%s': corrupt PNG: the header announces %lldx%lld pixels, more than "
             "a %lld-byte file can hold", path, (long long)r->w, (long long)r->h, (long long)st.st_size);
    lunet_png_close(r);
    return NULL;
  }
  *c = r->c;
  *h = r->h;
  *w = r->w;
  return r;
}

int lunet_png_read(lunet_png_reader *r, float *dst, char *err, size_t errlen) {
  if ((size_t)r->h > SIZE_MAX / r->rowbytes || (size_t)r->h > SIZE_MAX / sizeof(png_bytep)) {
    snprintf(err, errlen, "'%s': PNG of %lld rows is too large", r->path, (long long)r->h);
    return -1;
  }
  r->pixels = malloc((size_t)r->h * r->rowbytes);
  r->rows = malloc((size_t)r->h * sizeof(png_bytep));
  if (!r->pixels || !r->rows) {
    snprintf(err, errlen, "'%s': out of memory for a %lldx%lld PNG", r->path, (long long)r->h,
             (long long)r->w);
    return -1;
  }
  for (int64_t y = 0; y < r->h; y++) r->rows[y] = r->pixels + (size_t)y * r->rowbytes;
  if (setjmp(png_jmpbuf(r->png))) {
    snprintf(err, errlen, "'%s': corrupt PNG: %s", r->path, r->msg);
    return -1;
  }
  png_read_image(r->png, r->rows);
  png_read_end(r->png, NULL);
  /* interleaved samples (big-endian when 16-bit) -> planes */
  const float top = r->bits == 16 ? 65535.0f : 255.0f;
  const size_t plane = (size_t)(r->h * r->w);
  for (int64_t y = 0; y < r->h; y++) {
    const png_byte *row = r->rows[y];
    for (int64_t x = 0; x < r->w; x++)
      for (int64_t k = 0; k < r->c; k++) {
        size_t i = (size_t)(x * r->c + k);
        unsigned v = r->bits == 16 ? (unsigned)row[2 * i] << 8 | row[2 * i + 1] : row[i];
        dst[(size_t)k * plane + (size_t)(y * r->w + x)] = (float)v / top; /* k/255 correctly rounded */
      }
  }
  return 0;
}

typedef struct {
  FILE *fp;
  png_structp png;
  png_infop info;
  png_bytep row; /* one row of interleaved samples */
  char msg[PNG_MSG_LEN];
} png_writer;

/* Encodes the planes through libpng; -1 on a libpng error (message in wr->msg). */
static int write_rows(png_writer *wr, const float *src, int64_t c, int64_t h, int64_t w, int bits,
                      lunet_display_map map) {
  static const int color_types[4] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                     PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  if (setjmp(png_jmpbuf(wr->png))) return -1;
  png_init_io(wr->png, wr->fp);
  png_set_IHDR(wr->png, wr->info, (png_uint_32)w, (png_uint_32)h, bits, color_types[c - 1],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(wr->png, wr->info);
  const float top = bits == 16 ? 65535.0f : 255.0f;
  const size_t plane = (size_t)(h * w), bytes = (size_t)bits / 8;
  for (int64_t y = 0; y < h; y++) {
    for (int64_t x = 0; x < w; x++)
      for (int64_t k = 0; k < c; k++) {
        float v = lunet_display_apply(map, src[(size_t)k * plane + (size_t)(y * w + x)]);
        v = v > 0 ? (v < 1 ? v : 1) : 0; /* NaN -> 0 */
        unsigned q = (unsigned)lrintf(v * top);
        size_t i = (size_t)(x * c + k) * bytes;
        if (bits == 16) {
          wr->row[i] = (png_byte)(q >> 8);
          wr->row[i + 1] = (png_byte)(q & 0xff);
        } else {
          wr->row[i] = (png_byte)q;
        }
      }
    png_write_row(wr->png, wr->row);
  }
  png_write_end(wr->png, NULL);
  return 0;
}

int lunet_png_write(const char *path, const float *src, int64_t c, int64_t h, int64_t w,
                    int bits, lunet_display mode, char *err, size_t errlen) {
  if (c < 1 || c > 4 || h < 1 || w < 1 || h > PNG_UINT_31_MAX || w > PNG_UINT_31_MAX / 8 ||
      (bits != 8 && bits != 16)) {
    snprintf(err, errlen, "cannot write '%s': a PNG needs 1 to 4 channels, sizes >= 1 and "
             "8 or 16 bits", path);
    return -1;
  }
  lunet_display_map map = lunet_img_display_map(src, (size_t)(c * h * w), mode);
  png_writer wr = {0};
  const char *why = NULL;
  wr.row = malloc((size_t)(c * w) * (size_t)(bits / 8));
  int fd = -1;
  if (!wr.row) {
    why = "out of memory";
  } else if ((fd = lunet_open_regular(path, 1, err, errlen)) < 0) {
    free(wr.row);
    return -1;
  } else if (!(wr.fp = fdopen(fd, "wb"))) {
    why = strerror(errno);
    close(fd);
  } else {
    wr.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, wr.msg, on_png_error, on_png_warning);
    if (wr.png) wr.info = png_create_info_struct(wr.png);
    if (!wr.info) why = "out of memory";
    else if (write_rows(&wr, src, c, h, w, bits, map)) why = wr.msg;
  }
  if (wr.png) png_destroy_write_struct(&wr.png, wr.info ? &wr.info : NULL);
  free(wr.row);
  if (wr.fp) {
    int bad = ferror(wr.fp);
    if ((fclose(wr.fp) != 0 || bad) && !why) why = strerror(errno);
  }
  if (why) {
    snprintf(err, errlen, "cannot write '%s': %s", path, why);
    if (wr.fp) remove(path); /* no partial file under the real name (a regular file: it was checked) */
    return -1;
  }
  return 0;
}
