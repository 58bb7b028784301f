/* optim.c — fused optimizer updates: one pass over parameter, gradient and state,
 * in chunks on lunet's thread pool. */
#include "optim.h"
#include "threadpool.h"

#include <math.h>

/* Adam's, RMSprop's and Adagrad's updates take a square root and a division per element,
 * which cost as much as their memory traffic in 4 SSE lanes: they run in 8 lanes with AVX
 * where the CPU has it, picked when the module loads. AVX alone, not FMA, so that no
 * multiply-add is fused: the same bits as the default's (square root and division are
 * correctly rounded in any width). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LT_STEP_PASS __attribute__((target_clones("avx", "default")))
#else
#define LT_STEP_PASS
#endif

typedef struct {
  float *p, *a, *b;
  const float *g;
  float lr, c1, c2, eps, wd;
  int nesterov;
} step_job;

static void sgd_plain(void *ctx, int64_t i0, int64_t i1, int lane) {
  const step_job *j = ctx;
  for (int64_t i = i0; i < i1; i++) j->p[i] -= j->lr * (j->g[i] + j->wd * j->p[i]);
}

/* a: velocity; c1: momentum */
static void sgd_momentum(void *ctx, int64_t i0, int64_t i1, int lane) {
  const step_job *j = ctx;
  const float mu = j->c1;
  for (int64_t i = i0; i < i1; i++) {
    float gi = j->g[i] + j->wd * j->p[i];
    float vi = mu * j->a[i] + gi;
    j->a[i] = vi;
    j->p[i] -= j->lr * (j->nesterov ? gi + mu * vi : vi);
  }
}

void lt_sgd_step(float *p, const float *g, float *v, int64_t n, float lr, float mu, int nesterov, float wd) {
  step_job j = {.p = p, .a = v, .g = g, .lr = lr, .c1 = mu, .wd = wd, .nesterov = nesterov};
  lt_parallel_for(n, LT_EW_GRAIN, mu == 0.0f ? sgd_plain : sgd_momentum, &j);
}

/* a, b: first and second moments; c1, c2: beta1, beta2; lr, eps: the bias-corrected
 * step size and epsilon */
LT_STEP_PASS static void adam_range(void *ctx, int64_t i0, int64_t i1, int lane) {
  const step_job *j = ctx;
  const float b1 = j->c1, b2 = j->c2;
  for (int64_t i = i0; i < i1; i++) {
    float gi = j->g[i] + j->wd * j->p[i];
    float mi = b1 * j->a[i] + (1.0f - b1) * gi;
    float vi = b2 * j->b[i] + (1.0f - b2) * gi * gi;
    j->a[i] = mi;
    j->b[i] = vi;
    j->p[i] -= j->lr * mi / (sqrtf(vi) + j->eps);
  }
}

void lt_adam_step(float *p, const float *g, float *m, float *v, int64_t n, float lr, float b1, float b2,
                  float eps, float wd, int64_t t) {
  /* Bias corrections folded into one step size and a scaled epsilon. */
  double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
  step_job j = {.p = p, .a = m, .b = v, .g = g, .lr = (float)(lr * sqrt(c2) / c1), .c1 = b1, .c2 = b2,
                .eps = (float)(eps * sqrt(c2)), .wd = wd};
  lt_parallel_for(n, LT_EW_GRAIN, adam_range, &j);
}

/* a: square average; c1: alpha */
LT_STEP_PASS static void rmsprop_range(void *ctx, int64_t i0, int64_t i1, int lane) {
  const step_job *j = ctx;
  const float alpha = j->c1;
  for (int64_t i = i0; i < i1; i++) {
    float gi = j->g[i] + j->wd * j->p[i];
    float vi = alpha * j->a[i] + (1.0f - alpha) * gi * gi;
    j->a[i] = vi;
    j->p[i] -= j->lr * gi / (sqrtf(vi) + j->eps);
  }
}

void lt_rmsprop_step(float *p, const float *g, float *v, int64_t n, float lr, float alpha, float eps, float wd) {
  step_job j = {.p = p, .a = v, .g = g, .lr = lr, .c1 = alpha, .eps = eps, .wd = wd};
  lt_parallel_for(n, LT_EW_GRAIN, rmsprop_range, &j);
}

/* a: sum of squares */
LT_STEP_PASS static void adagrad_range(void *ctx, int64_t i0, int64_t i1, int lane) {
  const step_job *j = ctx;
  for (int64_t i = i0; i < i1; i++) {
    float gi = j->g[i] + j->wd * j->p[i];
    float si = j->a[i] + gi * gi;
    j->a[i] = si;
    j->p[i] -= j->lr * gi / (sqrtf(si) + j->eps);
  }
}

void lt_adagrad_step(float *p, const float *g, float *s, int64_t n, float lr, float eps, float wd) {
  step_job j = {.p = p, .a = s, .g = g, .lr = lr, .eps = eps, .wd = wd};
  lt_parallel_for(n, LT_EW_GRAIN, adagrad_range, &j);
}
