/* optim.h — fused optimizer updates: one pass over parameters, gradients and state. */
#ifndef LUNET_OPTIM_H
#define LUNET_OPTIM_H

#include <stdint.h>

/* SGD with optional momentum (heavy ball or Nesterov) and L2 weight decay:
 *   g' = g + wd*p;  v = mu*v + g' (when mu > 0);  step = nesterov ? g' + mu*v : v (g' when mu = 0)
 *   p -= lr * step.  v may be NULL when mu == 0. */
void lt_sgd_step(float *p, const float *g, float *v, int64_t n, float lr, float mu, int nesterov, float wd);

/* Adam (Kingma & Ba) with bias correction, t = step number from 1:
 *   g' = g + wd*p;  m = b1*m + (1-b1)*g';  v = b2*v + (1-b2)*g'^2
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) */
void lt_adam_step(float *p, const float *g, float *m, float *v, int64_t n, float lr, float b1, float b2,
                  float eps, float wd, int64_t t);

/* RMSProp: v = a*v + (1-a)*g'^2;  p -= lr * g' / (sqrt(v) + eps) */
void lt_rmsprop_step(float *p, const float *g, float *v, int64_t n, float lr, float alpha, float eps, float wd);

/* Adagrad: s += g'^2;  p -= lr * g' / (sqrt(s) + eps) */
void lt_adagrad_step(float *p, const float *g, float *s, int64_t n, float lr, float eps, float wd);

#endif
