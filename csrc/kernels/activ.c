/* activ.c — ReLU, dropout, linear (sgemm), softmax, log-softmax and cross-entropy,
 * forward and backward side by side. Row-wise kernels work on (n, k) matrices. The
 * elementwise and row-wise loops run in chunks on lunet's thread pool. */
#include <math.h>
#include "gemm.h"
#include "nnkernels.h"
#include "threadpool.h"

/* The arguments of one elementwise or row-wise loop. */
typedef struct {
  const float *x, *y, *m;
  float *out;
  int64_t k;
  float s;
} act_job;

static void relu_forward_range(void *ctx, int64_t i0, int64_t i1, int lane) {
  const act_job *j = ctx;
#pragma omp simd
  for (int64_t i = i0; i < i1; i++) j->out[i] = j->x[i] < 0.0f ? 0.0f : j->x[i]; /* NaN passes through */
}

void lt_relu_forward(const float *x, float *y, int64_t n) {
  lt_parallel_for(n, LT_EW_GRAIN, relu_forward_range, &(act_job){.x = x, .out = y});
}

static void relu_backward_range(void *ctx, int64_t i0, int64_t i1, int lane) {
  const act_job *j = ctx;
#pragma omp simd
  for (int64_t i = i0; i < i1; i++) {
    const float g = j->y[i]; /* loaded unconditionally: a select, not a mispredicted branch */
    j->out[i] = j->x[i] > 0.0f ? g : 0.0f;
  }
}

void lt_relu_backward(const float *x, const float *grad_output, float *grad_input, int64_t n) {
  lt_parallel_for(n, LT_EW_GRAIN, relu_backward_range,
                  &(act_job){.x = x, .y = grad_output, .out = grad_input});
}

static void dropout_range(void *ctx, int64_t i0, int64_t i1, int lane) {
  const act_job *j = ctx;
#pragma omp simd
  for (int64_t i = i0; i < i1; i++) j->out[i] = j->x[i] * j->m[i] * j->s;
}

void lt_dropout_forward(const float *x, const float *mask, float *y, int64_t n, float keep) {
  lt_parallel_for(n, LT_EW_GRAIN, dropout_range, &(act_job){.x = x, .m = mask, .out = y, .s = 1.0f / keep});
}

void lt_dropout_backward(const float *grad_output, const float *mask, float *grad_input, int64_t n, float keep) {
  lt_dropout_forward(grad_output, mask, grad_input, n, keep);
}

void lt_linear_forward(const float *x, const float *w, const float *b, float *y,
                       int64_t n, int64_t in, int64_t out) {
  if (b) {
    for (int64_t r = 0; r < n; r++) {
      for (int64_t j = 0; j < out; j++) y[r * out + j] = b[j];
    }
  }
  lt_sgemm(LT_NOTRANS, LT_TRANS, n, out, in, 1.0f, x, in,
              w, in, b ? 1.0f : 0.0f, y, out);
}

void lt_linear_backward_input(const float *grad_output, const float *w, float *grad_input,
                              int64_t n, int64_t in, int64_t out) {
  lt_sgemm(LT_NOTRANS, LT_NOTRANS, n, in, out, 1.0f, grad_output,
              out, w, in, 0.0f, grad_input, in);
}

void lt_linear_backward_params(const float *grad_output, const float *x, float *grad_weight, float *grad_bias,
                               float scale, int64_t n, int64_t in, int64_t out) {
  lt_sgemm(LT_TRANS, LT_NOTRANS, out, in, n, scale, grad_output,
              out, x, in, 1.0f, grad_weight, in);
  if (grad_bias) {
    for (int64_t r = 0; r < n; r++) {
      for (int64_t j = 0; j < out; j++) grad_bias[j] += scale * grad_output[r * out + j];
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

static void softmax_forward_rows(void *ctx, int64_t r0, int64_t r1, int lane) {
  const act_job *j = ctx;
  const int64_t k = j->k;
  for (int64_t r = r0; r < r1; r++) {
    float m, lse;
    row_logsumexp(j->x + r * k, k, &m, &lse);
    for (int64_t c = 0; c < k; c++) j->out[r * k + c] = expf(j->x[r * k + c] - m - lse);
  }
}

void lt_softmax_forward(const float *x, float *y, int64_t n, int64_t k) {
  lt_parallel_for(n, lt_items_grain(k), softmax_forward_rows, &(act_job){.x = x, .out = y, .k = k});
}

static void softmax_backward_rows(void *ctx, int64_t r0, int64_t r1, int lane) {
  const act_job *j = ctx;
  const int64_t k = j->k;
  for (int64_t r = r0; r < r1; r++) {
    double dot = 0.0;
    for (int64_t c = 0; c < k; c++) dot += (double)j->y[r * k + c] * j->x[r * k + c];
    for (int64_t c = 0; c < k; c++) j->out[r * k + c] = j->x[r * k + c] * (j->y[r * k + c] - (float)dot);
  }
}

void lt_softmax_backward(const float *y, const float *grad_output, float *grad_input, int64_t n, int64_t k) {
  lt_parallel_for(n, lt_items_grain(k), softmax_backward_rows,
                  &(act_job){.x = y, .y = grad_output, .out = grad_input, .k = k});
}

static void logsoftmax_forward_rows(void *ctx, int64_t r0, int64_t r1, int lane) {
  const act_job *j = ctx;
  const int64_t k = j->k;
  for (int64_t r = r0; r < r1; r++) {
    float m, lse;
    row_logsumexp(j->x + r * k, k, &m, &lse);
    for (int64_t c = 0; c < k; c++) j->out[r * k + c] = j->x[r * k + c] - m - lse;
  }
}

void lt_logsoftmax_forward(const float *x, float *y, int64_t n, int64_t k) {
  lt_parallel_for(n, lt_items_grain(k), logsoftmax_forward_rows, &(act_job){.x = x, .out = y, .k = k});
}

static void logsoftmax_backward_rows(void *ctx, int64_t r0, int64_t r1, int lane) {
  const act_job *j = ctx;
  const int64_t k = j->k;
  for (int64_t r = r0; r < r1; r++) {
    double s = 0.0;
    for (int64_t c = 0; c < k; c++) s += j->y[r * k + c];
    for (int64_t c = 0; c < k; c++) j->out[r * k + c] = j->y[r * k + c] - expf(j->x[r * k + c]) * (float)s;
  }
}

void lt_logsoftmax_backward(const float *y, const float *grad_output, float *grad_input, int64_t n, int64_t k) {
  lt_parallel_for(n, lt_items_grain(k), logsoftmax_backward_rows,
                  &(act_job){.x = y, .y = grad_output, .out = grad_input, .k = k});
}

double lt_nll_forward(const float *logp, const int32_t *label, int64_t n, int64_t k) {
  double s = 0.0;
  for (int64_t r = 0; r < n; r++) s -= logp[r * k + label[r] - 1];
  return s / (double)n;
}

void lt_crossentropy_backward(const float *logp, const int32_t *label, float *grad_input, int64_t n,
                              int64_t k) {
  const float inv = 1.0f / (float)n;
  for (int64_t r = 0; r < n; r++) {
    for (int64_t j = 0; j < k; j++) grad_input[r * k + j] = expf(logp[r * k + j]) * inv;
    grad_input[r * k + label[r] - 1] -= inv;
  }
}
