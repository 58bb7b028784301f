/* lunet_io.h — lunet's file formats: PNG (libpng), IDX (MNIST's format, raw or
 * gzip'd, through zlib) and lunet's own tensor format.
 *
 * Plain C over raw buffers; no Lua. Every function that can fail returns 0 on
 * success (or a non-NULL handle) and -1 (or NULL) on failure with a message
 * written into err[errlen]; the PNG and IDX messages name the file, the tensor
 * format (which works on an open FILE*) leaves that to its caller. Readers work in two steps —
 * open (header: shape), then read into a buffer the caller allocated — so the
 * caller owns all big memory; a handle is released with its close function,
 * whether or not the read succeeded.
 */
#ifndef LUNET_IO_H
#define LUNET_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "imgops.h"
#include "tensor.h"

/* ---- opening files ------------------------------------------------------- */

/* A descriptor of path for reading (write = 0), or for writing from its start
 * (write = 1: created with mode 0666 minus the umask when new, emptied otherwise), or
 * -1 with a message naming path. Anything but a regular file (a FIFO, a folder, a
 * device) is refused without blocking. */
int lunet_open_regular(const char *path, int write, char *err, size_t errlen);
/* A new file beside path, name = path.<12 random hex digits>.tmp (namelen bytes at
 * least strlen(path) + 18), created exclusively (never an existing file, never through
 * a symlink) with mode 0666 minus the umask and opened for reading and writing: its
 * descriptor, or -1 with a message naming path. */
int lunet_open_temp(const char *path, char *name, size_t namelen, char *err, size_t errlen);

/* ---- PNG ---------------------------------------------------------------- */

/* Reads any PNG (gray, gray+alpha, RGB, RGBA, palette; 1 to 16 bits;
 * interlaced or not) as c planes of h×w floats in [0,1], sample / (2^bits - 1).
 * c is 1 (gray), 2 (gray, alpha), 3 (RGB) or 4 (RGB, alpha): an alpha channel
 * is kept as the last plane, not composited. A palette becomes RGB, or RGBA
 * when it has transparency; low-bit gray becomes 8-bit. */
typedef struct lunet_png_reader lunet_png_reader;
lunet_png_reader *lunet_png_open(const char *path, int64_t *c, int64_t *h, int64_t *w,
                                 char *err, size_t errlen);
int lunet_png_read(lunet_png_reader *r, float *dst, char *err, size_t errlen);
void lunet_png_close(lunet_png_reader *r);

/* Writes c planes of h×w floats (c = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) as a
 * PNG of 8 or 16 bits per sample: each value goes through the display map of
 * `mode` over all the values, is clamped to [0,1] (NaN to 0) and rounded to
 * the nearest level. On failure the partial file is removed. */
int lunet_png_write(const char *path, const float *src, int64_t c, int64_t h, int64_t w,
                    int bits, lunet_display mode, char *err, size_t errlen);

/* ---- IDX ---------------------------------------------------------------- */

/* IDX: big-endian header — two zero bytes, a type byte (0x08 uint8, 0x09 int8,
 * 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), a dimension count
 * (1..LT_MAXDIM) — then one uint32 size per dimension, then the data,
 * big-endian, exactly the product of the sizes long. gzip'd or raw files are
 * read alike. */
typedef struct lunet_idx_reader lunet_idx_reader;
lunet_idx_reader *lunet_idx_open(const char *path, int *ndim, int64_t size[LT_MAXDIM],
                                 char *err, size_t errlen);
/* Reads all the values, converted to dtype (LT_FLOAT: every type; LT_INT: the
 * integer types only), and checks that no bytes follow them. */
int lunet_idx_read(lunet_idx_reader *r, void *dst, lt_dtype dtype, char *err, size_t errlen);
void lunet_idx_close(lunet_idx_reader *r);

/* ---- lunet tensor format ------------------------------------------------- */

/* Layout, all little-endian:
 *   "LUNETTNS"  8 bytes magic
 *   version     u32 (LUNET_TNS_VERSION)
 *   dtype       u32 (0 float32, 1 int32, 2 float64: lt_dtype's values)
 *   ndim        u32 (0..LT_MAXDIM)
 *   size        u64 × ndim
 *   data        4 bytes per element (8 for float64), row-major
 *   crc32       u32, zlib's crc32 of every byte before it from the magic on
 * Version 1 (still read) had the same layout with a crc32 of the data bytes alone,
 * so a flipped dtype or a swapped size went unnoticed. float64 came later within version
 * 2: older readers refuse its files by their dtype. It is read from and written
 * to an open FILE*, at its current position, so a tensor can be embedded in a
 * larger file. */
#define LUNET_TNS_VERSION 2u

typedef struct {
  lt_dtype dtype;
  int ndim;
  int64_t size[LT_MAXDIM];
  uint32_t crc; /* set by lunet_tns_read_header: the checksum so far (of the header from version 2) */
} lunet_tns_header;

/* Writes a contiguous tensor's header, data and checksum. */
int lunet_tns_write(FILE *f, const lunet_tns_header *hd, const void *data, char *err,
                    size_t errlen);
/* Reads and validates the header; for a seekable file the data it announces
 * must fit in what remains of the file. */
int lunet_tns_read_header(FILE *f, lunet_tns_header *hd, char *err, size_t errlen);
/* Reads the data the header announced into dst and checks its checksum. */
int lunet_tns_read_data(FILE *f, const lunet_tns_header *hd, void *dst, char *err,
                        size_t errlen);

#endif
