/* norm.c — batch normalization and layer normalization, forward and backward side by side.
 *
 * Every statistic is a sum in double taken front to back by one lane (a channel of a
 * batch norm, a row or a column block of a layer norm), so that the results do not depend
 * on the thread count. */
#include <math.h>
#include <string.h>
#include "nnkernels.h"
#include "threadpool.h"

/* The arguments of the loops below; a field a loop does not use stays zero. */
typedef struct {
  const float *x, *dy, *w, *b, *mean, *invstd;
  float *y, *rm, *rv, *gx, *gw, *gb;
  float *save_mean, *save_invstd;
  int64_t n, c, s; /* batch norm: x (n, c, s); layer norm: x (n rows, s columns) */
  int batch;
  double momentum, eps;
  float scale;
} norm_job;

/* The sums below run in SUM_WAYS interleaved partial sums, added up in one fixed order at
 * the end: one chain of dependent additions would wait on each addition's latency. */
#define SUM_WAYS 8

static double add_ways(const double *a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* The SUM_WAYS partial sums as two vectors of four doubles (GCC's vector extension: two
 * AVX registers, or four SSE2 ones), and four floats read from anywhere widened to them.
 * Each lane does exactly what its scalar partial sum did. */
typedef double sum4 __attribute__((vector_size(4 * sizeof(double))));
typedef float load4 __attribute__((vector_size(4 * sizeof(float)), aligned(sizeof(float))));
#define widen(p) __builtin_convertvector(*(const load4 *)(p), sum4)
static inline void spill(const sum4 *lo, const sum4 *hi, double *a) {
  for (int k = 0; k < 4; k++) a[k] = (*lo)[k], a[4 + k] = (*hi)[k];
}

/* sum_i (x[i] - c) (p = 1) or sum_i (x[i] - c)^2 (p = 2) over n floats, in double. */
static inline __attribute__((always_inline)) double sum_centered(const float *x, int64_t n, double c, int p) {
  const sum4 cc = {c, c, c, c};
  sum4 lo = {0}, hi = {0};
  int64_t i = 0;
  for (; i + SUM_WAYS <= n; i += SUM_WAYS) {
    const sum4 v0 = widen(x + i) - cc, v1 = widen(x + i + 4) - cc;
    lo += p == 2 ? v0 * v0 : v0;
    hi += p == 2 ? v1 * v1 : v1;
  }
  double a[SUM_WAYS];
  spill(&lo, &hi, a);
  for (; i < n; i++) {
    const double v = (double)x[i] - c;
    a[i % SUM_WAYS] += p == 2 ? v * v : v;
  }
  return add_ways(a);
}

/* With g = dy * w (w NULL: 1), adds sum_i g[i] to *sg and sum_i g[i] (x[i] - c) to *sgx, in double. */
static inline __attribute__((always_inline)) void sum_grads(const float *dy, const float *w, const float *x, int64_t n,
                                                            double c, double *sg, double *sgx) {
  const sum4 cc = {c, c, c, c};
  sum4 alo = {0}, ahi = {0}, blo = {0}, bhi = {0};
  int64_t i = 0;
  for (; i + SUM_WAYS <= n; i += SUM_WAYS) {
    sum4 g0 = widen(dy + i), g1 = widen(dy + i + 4);
    if (w) {
      g0 *= widen(w + i);
      g1 *= widen(w + i + 4);
    }
    alo += g0;
    ahi += g1;
    blo += g0 * (widen(x + i) - cc);
    bhi += g1 * (widen(x + i + 4) - cc);
  }
  double a[SUM_WAYS], b[SUM_WAYS];
  spill(&alo, &ahi, a);
  spill(&blo, &bhi, b);
  for (; i < n; i++) {
    const double g = (double)dy[i] * (w ? w[i] : 1.0f);
    a[i % SUM_WAYS] += g;
    b[i % SUM_WAYS] += g * ((double)x[i] - c);
  }
  *sg += add_ways(a);
  *sgx += add_ways(b);
}

/* ---------------------------------------------------------------- batch norm */

/* The sum over channel ch's values of x - center (p = 1) or (x - center)^2 (p = 2). */
static double channel_sum(const norm_job *j, int64_t ch, double center, int p) {
  double acc = 0.0;
  for (int64_t b = 0; b < j->n; b++) acc += sum_centered(j->x + (b * j->c + ch) * j->s, j->s, center, p);
  return acc;
}

static void bn_forward_channels(void *ctx, int64_t c0, int64_t c1, int lane) {
  const norm_job *j = ctx;
  const double m = (double)(j->n * j->s);
  for (int64_t ch = c0; ch < c1; ch++) {
    double mean, var;
    if (j->batch) {
      mean = channel_sum(j, ch, 0.0, 1) / m;
      const double sq = channel_sum(j, ch, mean, 2);
      var = sq / m;
      if (j->rm) {
        j->rm[ch] = (float)((1.0 - j->momentum) * j->rm[ch] + j->momentum * mean);
        j->rv[ch] = (float)((1.0 - j->momentum) * j->rv[ch] + j->momentum * sq / (m - 1.0));
      }
    } else {
      mean = j->rm[ch];
      var = j->rv[ch];
    }
    const double invstd = 1.0 / sqrt(var + j->eps);
    j->save_mean[ch] = (float)mean;
    j->save_invstd[ch] = (float)invstd;
    /* y = (x - mean) * a + bias: the centering first, exact for x near the mean, where
     * x * a - mean * a would cancel */
    const float mf = (float)mean, af = (float)(invstd * (j->w ? j->w[ch] : 1.0)), bf = j->b ? j->b[ch] : 0.0f;
    for (int64_t b = 0; b < j->n; b++) {
      const int64_t o = (b * j->c + ch) * j->s;
#pragma omp simd
      for (int64_t i = 0; i < j->s; i++) j->y[o + i] = (j->x[o + i] - mf) * af + bf;
    }
  }
}

void lt_batchnorm_forward(const float *x, const float *weight, const float *bias, float *running_mean,
                          float *running_var, float *y, float *save_mean, float *save_invstd, int64_t n, int64_t c,
                          int64_t s, int batch_stats, double momentum, double eps) {
  norm_job j = {.x = x, .w = weight, .b = bias, .rm = running_mean, .rv = running_var, .y = y,
                .save_mean = save_mean, .save_invstd = save_invstd, .n = n, .c = c, .s = s,
                .batch = batch_stats, .momentum = momentum, .eps = eps};
  lt_parallel_for(c, lt_items_grain(n * s), bn_forward_channels, &j);
}

static void bn_backward_channels(void *ctx, int64_t c0, int64_t c1, int lane) {
  const norm_job *j = ctx;
  const int64_t m = j->n * j->s;
  const int sums = j->batch || j->gw || j->gb;
  for (int64_t ch = c0; ch < c1; ch++) {
    const double mean = j->mean[ch], invstd = j->invstd[ch];
    double sdy = 0.0, sdyx = 0.0; /* sum dy, sum dy * (x - mean) */
    for (int64_t b = 0; sums && b < j->n; b++) {
      const int64_t o = (b * j->c + ch) * j->s;
      sum_grads(j->dy + o, NULL, j->x + o, j->s, mean, &sdy, &sdyx);
    }
    if (j->gb) j->gb[ch] += j->scale * (float)sdy;
    if (j->gw) j->gw[ch] += j->scale * (float)(sdyx * invstd);
    if (!j->gx) continue;
    /* grad_input = dy * k + (x - mean) * kx + k0 */
    const double k = invstd * (j->w ? j->w[ch] : 1.0);
    double kx = 0.0, k0 = 0.0;
    if (j->batch && m > 0) {
      kx = -k * invstd * invstd * sdyx / (double)m;
      k0 = -k * sdy / (double)m;
    }
    const float kf = (float)k, kxf = (float)kx, k0f = (float)k0, mf = j->mean[ch];
    for (int64_t b = 0; b < j->n; b++) {
      const int64_t o = (b * j->c + ch) * j->s;
#pragma omp simd
      for (int64_t i = 0; i < j->s; i++) j->gx[o + i] = j->dy[o + i] * kf + (j->x[o + i] - mf) * kxf + k0f;
    }
  }
}

void lt_batchnorm_backward(const float *x, const float *grad_output, const float *weight, const float *save_mean,
                           const float *save_invstd, float *grad_input, float *grad_weight, float *grad_bias,
                           int64_t n, int64_t c, int64_t s, int batch_stats, float scale) {
  norm_job j = {.x = x, .dy = grad_output, .w = weight, .mean = save_mean, .invstd = save_invstd,
                .gx = grad_input, .gw = grad_weight, .gb = grad_bias, .n = n, .c = c, .s = s,
                .batch = batch_stats, .scale = scale};
  lt_parallel_for(c, lt_items_grain(n * s), bn_backward_channels, &j);
}

/* ---------------------------------------------------------------- layer norm */

/* The layer norm's loops also run in AVX2 where the CPU has it, chosen when the module
 * loads: the same operations on wider vectors (no FMA, whose single rounding would change
 * the sums), so the results are those of the portable code to the bit. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LN_PASS __attribute__((target_clones("avx2", "default")))
#else
#define LN_PASS
#endif

LN_PASS static void ln_forward_rows(void *ctx, int64_t r0, int64_t r1, int lane) {
  const norm_job *j = ctx;
  const int64_t d = j->s;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = j->x + r * d;
    float *y = j->y + r * d;
    const double mean = d > 0 ? sum_centered(x, d, 0.0, 1) / (double)d : 0.0;
    const double sq = sum_centered(x, d, mean, 2);
    const double invstd = 1.0 / sqrt((d > 0 ? sq / (double)d : 0.0) + j->eps);
    j->save_mean[r] = (float)mean;
    j->save_invstd[r] = (float)invstd;
    const float a = (float)invstd, mf = (float)mean;
    if (j->w) {
#pragma omp simd
      for (int64_t i = 0; i < d; i++) y[i] = (x[i] - mf) * a * j->w[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < d; i++) y[i] = (x[i] - mf) * a;
    }
    if (j->b) {
#pragma omp simd
      for (int64_t i = 0; i < d; i++) y[i] += j->b[i];
    }
  }
}

void lt_layernorm_forward(const float *x, const float *weight, const float *bias, float *y, float *save_mean,
                          float *save_invstd, int64_t r, int64_t d, double eps) {
  norm_job j = {.x = x, .w = weight, .b = bias, .y = y, .save_mean = save_mean, .save_invstd = save_invstd,
                .n = r, .s = d, .eps = eps};
  lt_parallel_for(r, lt_items_grain(d), ln_forward_rows, &j);
}

LN_PASS static void ln_backward_rows(void *ctx, int64_t r0, int64_t r1, int lane) {
  const norm_job *j = ctx;
  const int64_t d = j->s;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = j->x + r * d, *dy = j->dy + r * d;
    const double mean = j->mean[r], invstd = j->invstd[r];
    double sg = 0.0, sgx = 0.0; /* sum g, sum g * (x - mean) */
    sum_grads(dy, j->w, x, d, mean, &sg, &sgx);
    sgx *= invstd; /* sum g * xhat */
    /* grad_input = invstd * g + (x - mean) * kx + k0 */
    const float a = (float)invstd, kxf = (float)(-invstd * invstd * sgx / (double)d),
                k0f = (float)(-invstd * sg / (double)d), mf = j->mean[r];
    float *gx = j->gx + r * d;
    if (j->w) {
#pragma omp simd
      for (int64_t i = 0; i < d; i++) gx[i] = dy[i] * j->w[i] * a + (x[i] - mf) * kxf + k0f;
    } else {
#pragma omp simd
      for (int64_t i = 0; i < d; i++) gx[i] = dy[i] * a + (x[i] - mf) * kxf + k0f;
    }
  }
}

/* Columns per block of the parameter gradients: one block's sums stay on the stack. */
#define LN_COLUMN_BLOCK 256

LN_PASS static void ln_param_columns(void *ctx, int64_t c0, int64_t c1, int lane) {
  const norm_job *j = ctx;
  const int64_t d = j->s;
  double sw[LN_COLUMN_BLOCK], sb[LN_COLUMN_BLOCK];
  for (int64_t b0 = c0; b0 < c1; b0 += LN_COLUMN_BLOCK) {
    const int64_t w = c1 - b0 < LN_COLUMN_BLOCK ? c1 - b0 : LN_COLUMN_BLOCK;
    memset(sw, 0, sizeof sw);
    memset(sb, 0, sizeof sb);
    for (int64_t r = 0; r < j->n; r++) {
      const float *x = j->x + r * d + b0, *dy = j->dy + r * d + b0;
      const double mean = j->mean[r], invstd = j->invstd[r];
      for (int64_t i = 0; i < w; i++) {
        sb[i] += dy[i];
        sw[i] += (double)dy[i] * ((double)x[i] - mean) * invstd;
      }
    }
    for (int64_t i = 0; i < w; i++) {
      if (j->gw) j->gw[b0 + i] += j->scale * (float)sw[i];
      if (j->gb) j->gb[b0 + i] += j->scale * (float)sb[i];
    }
  }
}

void lt_layernorm_backward(const float *x, const float *grad_output, const float *weight, const float *save_mean,
                           const float *save_invstd, float *grad_input, float *grad_weight, float *grad_bias,
                           int64_t r, int64_t d, float scale) {
  norm_job j = {.x = x, .dy = grad_output, .w = weight, .mean = save_mean, .invstd = save_invstd,
                .gx = grad_input, .gw = grad_weight, .gb = grad_bias, .n = r, .s = d, .scale = scale};
  if (grad_input && d > 0) lt_parallel_for(r, lt_items_grain(d), ln_backward_rows, &j);
  /* Each lane sums whole rows' worth of columns, d / lanes of them, so that it reads long
   * runs of each row; a column's sum is the same whichever lane takes it. */
  const int64_t lanes = lt_parallel_lanes(), wide = (d + lanes - 1) / lanes, grain = lt_items_grain(r);
  if (grad_weight || grad_bias) lt_parallel_for(d, wide > grain ? wide : grain, ln_param_columns, &j);
}
