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

/* ---------------------------------------------------------------- batch norm */

/* sum over channel ch's values of f(x) for f = x (p = 0) or (x - center)^2 (p = 2). */
static double channel_sum(const norm_job *j, int64_t ch, double center, int p) {
  double acc = 0.0;
  for (int64_t b = 0; b < j->n; b++) {
    const float *x = j->x + (b * j->c + ch) * j->s;
    for (int64_t i = 0; i < j->s; i++) {
      const double v = (double)x[i] - center;
      acc += p ? v * v : v;
    }
  }
  return acc;
}

static void bn_forward_channels(void *ctx, int64_t c0, int64_t c1, int lane) {
  const norm_job *j = ctx;
  const double m = (double)(j->n * j->s);
  for (int64_t ch = c0; ch < c1; ch++) {
    double mean, var;
    if (j->batch) {
      mean = channel_sum(j, ch, 0.0, 0) / m;
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
      for (int64_t i = 0; i < j->s; i++) {
        const double g = j->dy[o + i];
        sdy += g;
        sdyx += g * ((double)j->x[o + i] - mean);
      }
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

static void ln_forward_rows(void *ctx, int64_t r0, int64_t r1, int lane) {
  const norm_job *j = ctx;
  const int64_t d = j->s;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = j->x + r * d;
    float *y = j->y + r * d;
    double sum = 0.0, sq = 0.0;
    for (int64_t i = 0; i < d; i++) sum += x[i];
    const double mean = d > 0 ? sum / (double)d : 0.0;
    for (int64_t i = 0; i < d; i++) sq += ((double)x[i] - mean) * ((double)x[i] - mean);
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

static void ln_backward_rows(void *ctx, int64_t r0, int64_t r1, int lane) {
  const norm_job *j = ctx;
  const int64_t d = j->s;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = j->x + r * d, *dy = j->dy + r * d;
    const double mean = j->mean[r], invstd = j->invstd[r];
    double sg = 0.0, sgx = 0.0; /* sum g, sum g * xhat */
    for (int64_t i = 0; i < d; i++) {
      const double g = (double)dy[i] * (j->w ? j->w[i] : 1.0f);
      sg += g;
      sgx += g * ((double)x[i] - mean) * invstd;
    }
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

static void ln_param_columns(void *ctx, int64_t c0, int64_t c1, int lane) {
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
  if (grad_weight || grad_bias) lt_parallel_for(d, lt_items_grain(r), ln_param_columns, &j);
}
