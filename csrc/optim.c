#include "optim.h"

#include <math.h>

#define PAR _Pragma("omp parallel for if (n > 262144) schedule(static)")

void lt_sgd_step(float *p, const float *g, float *v, int64_t n, float lr, float mu, int nesterov, float wd) {
  if (mu == 0.0f) {
    PAR for (int64_t i = 0; i < n; i++) p[i] -= lr * (g[i] + wd * p[i]);
    return;
  }
  PAR for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float vi = mu * v[i] + gi;
    v[i] = vi;
    p[i] -= lr * (nesterov ? gi + mu * vi : vi);
  }
}

void lt_adam_step(float *p, const float *g, float *m, float *v, int64_t n, float lr, float b1, float b2,
                  float eps, float wd, int64_t t) {
  /* Bias corrections folded into one step size and a scaled epsilon. */
  double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
  float step = (float)(lr * sqrt(c2) / c1);
  float epsc = (float)(eps * sqrt(c2));
  PAR for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step * mi / (sqrtf(vi) + epsc);
  }
}

void lt_rmsprop_step(float *p, const float *g, float *v, int64_t n, float lr, float alpha, float eps, float wd) {
  PAR for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float vi = alpha * v[i] + (1.0f - alpha) * gi * gi;
    v[i] = vi;
    p[i] -= lr * gi / (sqrtf(vi) + eps);
  }
}

void lt_adagrad_step(float *p, const float *g, float *s, int64_t n, float lr, float eps, float wd) {
  PAR for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float si = s[i] + gi * gi;
    s[i] = si;
    p[i] -= lr * gi / (sqrtf(si) + eps);
  }
}
