/* activations.c — the pointwise activations beyond ReLU (tanh, sigmoid, leaky ReLU, ELU,
 * GELU, SiLU, softplus), forward and backward, with PyTorch's definitions. One loop per
 * activation, chunked on lunet's thread pool; the switch is outside the loops. tanh (GELU's
 * tanh form included), exp and the normal CDF are fastmath.h's branch-free forms, which
 * vectorize (tanh the same formula as the tensor method's and the recurrent kernels'); ELU
 * and softplus keep libm's expm1 and log1p, for their precision near 0. */
#include <math.h>
#include "fastmath.h"
#include "nnkernels.h"
#include "threadpool.h"

typedef struct {
  lt_activation kind;
  const float *x, *y, *g;
  float *out;
  float p, q;
} act_job;

/* The logistic function and the normal CDF and density, vectorizable (fastmath.h). */
static inline float sigmoidf(float x) { return lt_fsigmoid_exp(x); }
static inline float normpdf(float x) { return 0.3989422804014327f * lt_fexp(-0.5f * x * x); } /* 1/sqrt(2 pi) */

/* The loops run in AVX2 with FMA where the CPU has them, chosen when the module loads (as
 * the recurrent kernels' gate passes, rnn.c). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ACT_PASS __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define ACT_PASS
#endif

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

ACT_PASS static void forward_range(void *ctx, int64_t i0, int64_t i1, int lane) {
  const act_job *j = ctx;
  const float *x = j->x, p = j->p, q = j->q;
  float *y = j->out;
  switch (j->kind) {
    case LT_ACT_TANH:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) y[i] = lt_ftanh(x[i]);
      break;
    case LT_ACT_SIGMOID:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) y[i] = sigmoidf(x[i]);
      break;
    case LT_ACT_LEAKY_RELU:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) y[i] = x[i] < 0.0f ? p * x[i] : x[i];
      break;
    case LT_ACT_ELU:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) y[i] = x[i] > 0.0f ? x[i] : p * expm1f(x[i]);
      break;
    case LT_ACT_GELU:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) y[i] = x[i] * lt_fnormcdf(x[i]);
      break;
    case LT_ACT_GELU_TANH:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) {
        const float v = x[i];
        y[i] = 0.5f * v * (1.0f + lt_ftanh(GELU_K * (v + GELU_C * v * v * v)));
      }
      break;
    case LT_ACT_SILU:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) y[i] = x[i] * sigmoidf(x[i]);
      break;
    case LT_ACT_SOFTPLUS:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) {
        const float bx = p * x[i];
        y[i] = bx > q ? x[i] : log1pf(expf(bx)) / p;
      }
      break;
  }
}

ACT_PASS static void backward_range(void *ctx, int64_t i0, int64_t i1, int lane) {
  const act_job *j = ctx;
  const float *x = j->x, *y = j->y, *g = j->g, p = j->p, q = j->q;
  float *d = j->out;
  switch (j->kind) {
    case LT_ACT_TANH:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) d[i] = g[i] * (1.0f - y[i] * y[i]);
      break;
    case LT_ACT_SIGMOID:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) d[i] = g[i] * y[i] * (1.0f - y[i]);
      break;
    case LT_ACT_LEAKY_RELU:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) d[i] = x[i] > 0.0f ? g[i] : p * g[i];
      break;
    case LT_ACT_ELU:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) d[i] = x[i] > 0.0f ? g[i] : g[i] * p * expf(x[i]);
      break;
    case LT_ACT_GELU:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) {
        const float v = x[i];
        d[i] = g[i] * (lt_fnormcdf(v) + v * normpdf(v));
      }
      break;
    case LT_ACT_GELU_TANH:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) {
        const float v = x[i];
        const float t = lt_ftanh(GELU_K * (v + GELU_C * v * v * v));
        const float dinner = GELU_K * (1.0f + 3.0f * GELU_C * v * v), sech2 = 1.0f - t * t;
        /* where tanh has saturated (sech^2 = 0) dinner may be infinite: the term is 0 */
        d[i] = g[i] * (0.5f * (1.0f + t) + (sech2 == 0.0f ? 0.0f : 0.5f * v * sech2 * dinner));
      }
      break;
    case LT_ACT_SILU:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) {
        const float s = sigmoidf(x[i]);
        d[i] = g[i] * s * (1.0f + x[i] * (1.0f - s));
      }
      break;
    case LT_ACT_SOFTPLUS:
      _Pragma("omp simd")
      for (int64_t i = i0; i < i1; i++) {
        const float bx = p * x[i];
        d[i] = bx > q ? g[i] : g[i] * sigmoidf(bx);
      }
      break;
  }
}

void lt_activation_forward(lt_activation kind, const float *x, float *y, int64_t n, float p, float q) {
  lt_parallel_for(n, LT_EW_GRAIN, forward_range, &(act_job){.kind = kind, .x = x, .out = y, .p = p, .q = q});
}

void lt_activation_backward(lt_activation kind, const float *x, const float *y, const float *grad_output,
                            float *grad_input, int64_t n, float p, float q) {
  lt_parallel_for(n, LT_EW_GRAIN, backward_range,
                  &(act_job){.kind = kind, .x = x, .y = y, .g = grad_output, .out = grad_input, .p = p, .q = q});
}
