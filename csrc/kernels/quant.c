/* quant.c — bf16 and int8 weights for a linear layer's inference (quant.h).
 *
 * The product y = x · W^T reads W in its compact format and widens 8 weights at a time
 * to float32 in registers: a bf16 value is the upper half of a float32 (a 16-bit shift),
 * an int8 value goes to int32 and then to float32; an int8 row's scale multiplies its
 * sum once, at the end. Each sum is kept in 8 lanes (lane l adds the k = l mod 8 terms
 * with fused multiply-adds) and the lanes are combined in one fixed order, in the AVX2
 * path and in the portable one alike (fmaf), so the result does not depend on the CPU
 * path, on how rows are grouped or on the thread count.
 * The AVX2 path works on up to 4 rows of x at once, and for each group of x rows on
 * 4 rows of W (batch 1) or 2 (4 rows of x: 8 sums in registers); W is walked in tiles
 * that stay in L2 while every group of x rows passes over them, so W is read from
 * memory once per product.
 */
#include "quant.h"
#include "speed.h"
#include "threadpool.h"

#include <float.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define LT_HAVE_AVX2 1
#include <immintrin.h>
#else
#define LT_HAVE_AVX2 0
#endif

#define LANES 8
#define XROWS 4             /* rows of x per pass over a tile of W */
#define UNIT_ROWS 4         /* rows of W per unit of the parallel split */
#define TILE_BYTES (1 << 17) /* a tile of W: 128 KB, well inside L2 */
/* Products below this many multiply-adds (about 0.1 ms) run on the calling thread; a
 * product of fewer than 16 rows of x is paced by reading W and counts as 16 rows (the
 * rule of lt_sgemm, gemm.c). */
#define PAR_MIN_MACS (1 << 23)

int lt_qformat_size(lt_qformat f) { return f == LT_QBF16 ? 2 : 1; }

static inline uint16_t bf16_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  /* round to nearest, ties to even: add just under half an ulp of bf16, plus the parity */
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline float bf16_value(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static int64_t quantize_bf16(const float *w, uint16_t *q, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    q[i] = bf16_bits(w[i]);
    /* a non-finite weight, or one past bf16's largest value that rounds to infinity */
    if (!(fabsf(bf16_value(q[i])) <= FLT_MAX)) return i;
  }
  return -1;
}

static int64_t quantize_int8(const float *w, int8_t *q, float *scale, int64_t out, int64_t in) {
  for (int64_t j = 0; j < out; j++) {
    const float *row = w + j * in;
    int8_t *qr = q + j * in;
    float m = 0.0f;
    for (int64_t k = 0; k < in; k++) {
      const float a = fabsf(row[k]);
      if (!(a <= FLT_MAX)) return j * in + k;
      m = a > m ? a : m;
    }
    const float s = m / 127.0f;
    /* a zero row (or one whose scale is below float32's normal range) stores zeros */
    if (!(s >= FLT_MIN)) {
      scale[j] = 0.0f;
      memset(qr, 0, (size_t)in);
      continue;
    }
    scale[j] = s;
    for (int64_t k = 0; k < in; k++) {
      const float v = nearbyintf(row[k] / s);
      qr[k] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
    }
  }
  return -1;
}

int64_t lt_quantize(const float *w, lt_qweight *q) {
  if (q->format == LT_QBF16) return quantize_bf16(w, q->data, q->out * q->in);
  return quantize_int8(w, q->data, q->scale, q->out, q->in);
}

void lt_dequantize(const lt_qweight *q, float *w) {
  if (q->format == LT_QBF16) {
    const uint16_t *d = q->data;
    for (int64_t i = 0; i < q->out * q->in; i++) w[i] = bf16_value(d[i]);
    return;
  }
  const int8_t *d = q->data;
  for (int64_t j = 0; j < q->out; j++) {
    for (int64_t k = 0; k < q->in; k++) w[j * q->in + k] = (float)d[j * q->in + k] * q->scale[j];
  }
}

int64_t lt_qweight_check(const lt_qweight *q) {
  const int64_t count = q->out * q->in;
  if (q->format == LT_QBF16) {
    const uint16_t *d = q->data;
    for (int64_t i = 0; i < count; i++) {
      if ((d[i] & 0x7f80u) == 0x7f80u) return i; /* exponent all ones: infinity or NaN */
    }
    return -1;
  }
  const int8_t *d = q->data;
  for (int64_t i = 0; i < count; i++) {
    if (d[i] == INT8_MIN) return i;
  }
  for (int64_t j = 0; j < q->out; j++) {
    if (!(q->scale[j] >= 0.0f && q->scale[j] <= FLT_MAX)) return count + j;
  }
  return -1;
}

/* ---------------------------------------------------------------- the product */

/* y[r][j] from the 8 lane sums p of row r of x with row j of W: the lanes added in a fixed
 * tree, times the row's scale (int8), plus the bias. Not inlined, so that both paths run
 * this same code (inlined into the AVX2 path, its multiply and add could fuse). */
__attribute__((noinline)) static float finish(const lt_qweight *q, int64_t j, const float *p, const float *bias) {
  float s = ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
  if (q->format == LT_QINT8) s = s * q->scale[j];
  return bias ? s + bias[j] : s;
}

static inline float weight_at(const lt_qweight *q, int64_t j, int64_t k) {
  const int64_t i = j * q->in + k;
  return q->format == LT_QBF16 ? bf16_value(((const uint16_t *)q->data)[i]) : (float)((const int8_t *)q->data)[i];
}

/* The portable path: y for rows [r0, r1) of x and [j0, j1) of W, each sum in 8 lanes
 * as the AVX2 path keeps it (the last, partial block of k padded with zeros). */
static void rows_portable(const float *x, const lt_qweight *q, const float *bias, float *y, int64_t r0, int64_t r1,
                          int64_t j0, int64_t j1) {
  const int64_t in = q->in;
  for (int64_t r = r0; r < r1; r++) {
    for (int64_t j = j0; j < j1; j++) {
      float p[LANES] = {0};
      for (int64_t k = 0; k < in; k += LANES) {
        for (int l = 0; l < LANES; l++) {
          const int inside = k + l < in;
          p[l] = fmaf(inside ? x[r * in + k + l] : 0.0f, inside ? weight_at(q, j, k + l) : 0.0f, p[l]);
        }
      }
      y[r * q->out + j] = finish(q, j, p, bias);
    }
  }
}

#if LT_HAVE_AVX2
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE inline __attribute__((always_inline))

/* 8 weights from src (bf16 bits or int8), widened to float32. */
AVX2 static INLINE __m256 widen(lt_qformat f, const void *src) {
  if (f == LT_QBF16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(src)), 16));
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(src)));
}

/* rw rows of W from j0 against nb rows of x from r0: each of the rw*nb sums in one
 * register, every weight widened once for the nb rows of x. f, rw and nb are constants
 * at each call site, which gets its own unrolled code. */
AVX2 static INLINE void block(lt_qformat f, int rw, int nb, const float *x, const lt_qweight *q, const float *bias,
                              float *y, int64_t r0, int64_t j0) {
  const int64_t in = q->in, full = in & ~(int64_t)(LANES - 1);
  const int es = f == LT_QBF16 ? 2 : 1;
  const char *w = (const char *)q->data + j0 * in * es;
  __m256 acc[4][XROWS];
#pragma GCC unroll 4
  for (int i = 0; i < rw; i++) {
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++) acc[i][b] = _mm256_setzero_ps();
  }
  for (int64_t k = 0; k < full; k += LANES) {
    __m256 xv[XROWS];
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++) xv[b] = _mm256_loadu_ps(x + (r0 + b) * in + k);
#pragma GCC unroll 4
    for (int i = 0; i < rw; i++) {
      const __m256 wv = widen(f, w + (i * in + k) * es);
#pragma GCC unroll 4
      for (int b = 0; b < nb; b++) acc[i][b] = _mm256_fmadd_ps(xv[b], wv, acc[i][b]);
    }
  }
  if (full < in) {
    /* the last in - full (< 8) values: x under a mask, W copied beside zeros (reading
     * 8 values in place could run past the end of W) */
    const int rest = (int)(in - full);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rest), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 xv[XROWS];
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++) xv[b] = _mm256_maskload_ps(x + (r0 + b) * in + full, mask);
#pragma GCC unroll 4
    for (int i = 0; i < rw; i++) {
      char tail[16] = {0};
      memcpy(tail, w + (i * in + full) * es, (size_t)(rest * es));
      const __m256 wv = widen(f, tail);
#pragma GCC unroll 4
      for (int b = 0; b < nb; b++) acc[i][b] = _mm256_fmadd_ps(xv[b], wv, acc[i][b]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < rw; i++) {
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++) {
      float p[LANES];
      _mm256_storeu_ps(p, acc[i][b]);
      y[(r0 + b) * q->out + j0 + i] = finish(q, j0 + i, p, bias);
    }
  }
}

/* Rows [j0, j1) of W against nb rows of x from r0: 4 rows of W at a time at batch 1
 * (4 sums), 2 otherwise (8 sums), the rest one by one. */
AVX2 static INLINE void rows_nb(lt_qformat f, int nb, const float *x, const lt_qweight *q, const float *bias,
                                float *y, int64_t r0, int64_t j0, int64_t j1) {
  const int rw = nb == 1 ? 4 : 2;
  int64_t j = j0;
  for (; j + rw <= j1; j += rw) block(f, rw, nb, x, q, bias, y, r0, j);
  for (; j < j1; j++) block(f, 1, nb, x, q, bias, y, r0, j);
}

AVX2 static INLINE void rows_format(lt_qformat f, const float *x, const lt_qweight *q, const float *bias, float *y,
                                    int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
  for (int64_t r = r0; r < r1; r += XROWS) {
    switch (r1 - r < XROWS ? r1 - r : XROWS) {
      case 1: rows_nb(f, 1, x, q, bias, y, r, j0, j1); break;
      case 2: rows_nb(f, 2, x, q, bias, y, r, j0, j1); break;
      case 3: rows_nb(f, 3, x, q, bias, y, r, j0, j1); break;
      default: rows_nb(f, 4, x, q, bias, y, r, j0, j1); break;
    }
  }
}

AVX2 static void rows_avx2(const float *x, const lt_qweight *q, const float *bias, float *y, int64_t r0, int64_t r1,
                           int64_t j0, int64_t j1) {
  if (q->format == LT_QBF16) rows_format(LT_QBF16, x, q, bias, y, r0, r1, j0, j1);
  else rows_format(LT_QINT8, x, q, bias, y, r0, r1, j0, j1);
}

#endif

typedef struct {
  const float *x;
  const lt_qweight *q;
  const float *bias;
  float *y;
  int64_t n;
} qlinear_job;

/* The rows of W in units [u0, u1), tile by tile; every row of x passes over a tile while
 * it is in cache. */
static void qlinear_chunk(void *ctx, int64_t u0, int64_t u1, int lane) {
  const qlinear_job *jb = ctx;
  const lt_qweight *q = jb->q;
  const int64_t end = u1 * UNIT_ROWS < q->out ? u1 * UNIT_ROWS : q->out;
  const int64_t row_bytes = q->in * lt_qformat_size(q->format);
  int64_t tile = TILE_BYTES / row_bytes;
  tile = tile < UNIT_ROWS ? UNIT_ROWS : tile - tile % UNIT_ROWS;
  for (int64_t j0 = u0 * UNIT_ROWS; j0 < end; j0 += tile) {
    const int64_t j1 = end - j0 < tile ? end : j0 + tile;
#if LT_HAVE_AVX2
    if (lt_cpu_avx2_fma()) {
      rows_avx2(jb->x, q, jb->bias, jb->y, 0, jb->n, j0, j1);
      continue;
    }
#endif
    rows_portable(jb->x, q, jb->bias, jb->y, 0, jb->n, j0, j1);
  }
}

void lt_qlinear_forward(const float *x, const lt_qweight *q, const float *bias, float *y, int64_t n) {
  if (n <= 0 || q->out <= 0) return;
  const qlinear_job jb = {x, q, bias, y, n};
  const int64_t units = (q->out + UNIT_ROWS - 1) / UNIT_ROWS;
  const int lanes = lt_parallel_lanes();
  int64_t grain = units;
  if (lanes > 1 && (double)(n < 16 ? 16 : n) * (double)q->out * (double)q->in >= PAR_MIN_MACS) {
    /* about four chunks per lane, for balance when a lane starts late; at least 16 rows */
    grain = (units + 4 * lanes - 1) / (4 * lanes);
    if (grain < 4) grain = 4;
  }
  lt_parallel_for(units, grain, qlinear_chunk, (void *)&jb);
}
