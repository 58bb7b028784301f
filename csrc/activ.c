/* activ.c — ReLU, dropout, linear (sgemm), softmax, log-softmax and cross-entropy,
 * forward and backward side by side. Row-wise kernels work on (n, k) matrices. */
#include <math.h>
#include <cblas.h>
#include "nnkernels.h"

void lt_relu_forward(const float *x, float *y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > LT_NN_PAR_MIN)
  for (int64_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i]; /* NaN passes through */
}

void lt_relu_backward(const float *x, const float *gy, float *gx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > LT_NN_PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    const float g = gy[i]; /* loaded unconditionally: a select, not a mispredicted branch */
    gx[i] = x[i] > 0.0f ? g : 0.0f;
  }
}

void lt_dropout_forward(const float *x, const float *mask, float *y, int64_t n, float keep) {
  const float s = 1.0f / keep;
#pragma omp parallel for simd schedule(static) if (n > LT_NN_PAR_MIN)
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * mask[i] * s;
}

void lt_dropout_backward(const float *gy, const float *mask, float *gx, int64_t n, float keep) {
  lt_dropout_forward(gy, mask, gx, n, keep);
}

void lt_linear_forward(const float *x, const float *w, const float *b, float *y,
                       int64_t n, int64_t in, int64_t out) {
  if (b) {
    for (int64_t r = 0; r < n; r++) {
      for (int64_t j = 0; j < out; j++) y[r * out + j] = b[j];
    }
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, x, (int)in,
              w, (int)in, b ? 1.0f : 0.0f, y, (int)out);
}

void lt_linear_backward_input(const float *gy, const float *w, float *gx,
                              int64_t n, int64_t in, int64_t out) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out, 1.0f, gy,
              (int)out, w, (int)in, 0.0f, gx, (int)in);
}

void lt_linear_backward_params(const float *gy, const float *x, float *gw, float *gb, float scale,
                               int64_t n, int64_t in, int64_t out) {
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, scale, gy,
              (int)out, x, (int)in, 1.0f, gw, (int)in);
  if (gb) {
    for (int64_t r = 0; r < n; r++) {
      for (int64_t j = 0; j < out; j++) gb[j] += scale * gy[r * out + j];
    }
  }
}

/* max_j x[j] and log sum_j exp(x[j] - max): the stable pieces of a softmax row. */
static void row_logsumexp(const float *x, int64_t k, float *m, float *lse) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < k; j++) mx = x[j] > mx ? x[j] : mx;
  double s = 0.0;
  for (int64_t j = 0; j < k; j++) s += exp((double)(x[j] - mx));
  *m = mx;
  *lse = (float)log(s);
}

void lt_softmax_forward(const float *x, float *y, int64_t n, int64_t k) {
#pragma omp parallel for schedule(static) if (n * k > LT_NN_PAR_MIN)
  for (int64_t r = 0; r < n; r++) {
    float m, lse;
    row_logsumexp(x + r * k, k, &m, &lse);
    for (int64_t j = 0; j < k; j++) y[r * k + j] = expf(x[r * k + j] - m - lse);
  }
}

void lt_softmax_backward(const float *y, const float *gy, float *gx, int64_t n, int64_t k) {
#pragma omp parallel for schedule(static) if (n * k > LT_NN_PAR_MIN)
  for (int64_t r = 0; r < n; r++) {
    double dot = 0.0;
    for (int64_t j = 0; j < k; j++) dot += (double)gy[r * k + j] * y[r * k + j];
    for (int64_t j = 0; j < k; j++) gx[r * k + j] = y[r * k + j] * (gy[r * k + j] - (float)dot);
  }
}

void lt_logsoftmax_forward(const float *x, float *y, int64_t n, int64_t k) {
#pragma omp parallel for schedule(static) if (n * k > LT_NN_PAR_MIN)
  for (int64_t r = 0; r < n; r++) {
    float m, lse;
    row_logsumexp(x + r * k, k, &m, &lse);
    for (int64_t j = 0; j < k; j++) y[r * k + j] = x[r * k + j] - m - lse;
  }
}

void lt_logsoftmax_backward(const float *y, const float *gy, float *gx, int64_t n, int64_t k) {
#pragma omp parallel for schedule(static) if (n * k > LT_NN_PAR_MIN)
  for (int64_t r = 0; r < n; r++) {
    double s = 0.0;
    for (int64_t j = 0; j < k; j++) s += gy[r * k + j];
    for (int64_t j = 0; j < k; j++) gx[r * k + j] = gy[r * k + j] - expf(y[r * k + j]) * (float)s;
  }
}

double lt_nll_forward(const float *logp, const int32_t *label, int64_t n, int64_t k) {
  double s = 0.0;
  for (int64_t r = 0; r < n; r++) s -= logp[r * k + label[r] - 1];
  return s / (double)n;
}

void lt_crossentropy_backward(const float *logp, const int32_t *label, float *gx, int64_t n,
                              int64_t k) {
  const float inv = 1.0f / (float)n;
  for (int64_t r = 0; r < n; r++) {
    for (int64_t j = 0; j < k; j++) gx[r * k + j] = expf(logp[r * k + j]) * inv;
    gx[r * k + label[r] - 1] -= inv;
  }
}
