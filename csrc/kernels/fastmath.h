/* fastmath.h — tanh and the logistic function as inline code the compiler can vectorize,
 * for the recurrent gates (rnn.c) and the elementwise tanh (tensor.c). */
#ifndef LUNET_FASTMATH_H
#define LUNET_FASTMATH_H

/* tanh and σ without library calls or branches, so the gate loops vectorize.
 * tanh(x) ~ x P(x^2) / Q(x^2) on x clamped to +-7.9053 (where the float result is
 * already +-1), the minimax rational approximation of Eigen's generic_fast_tanh_float,
 * within a few ulp of tanh; NaN passes through the clamp. σ(x) = (1 + tanh(x/2)) / 2,
 * exact to about 6e-8 absolute. */
static inline float lt_ftanh(float x) {
  x = x < -7.90531110763549805f ? -7.90531110763549805f : x;
  x = x > 7.90531110763549805f ? 7.90531110763549805f : x;
  const float z = x * x;
  float p = -2.76076847742355e-16f;
  p = p * z + 2.00018790482477e-13f;
  p = p * z - 8.60467152213735e-11f;
  p = p * z + 5.12229709037114e-08f;
  p = p * z + 1.48572235717979e-05f;
  p = p * z + 6.37261928875436e-04f;
  p = p * z + 4.89352455891786e-03f;
  float q = 1.19825839466702e-06f;
  q = q * z + 1.18534705686654e-04f;
  q = q * z + 2.26843463243900e-03f;
  q = q * z + 4.89352518554385e-03f;
  return x * p / q;
}

static inline float lt_fsigmoid(float x) { return 0.5f + 0.5f * lt_ftanh(0.5f * x); }

#endif
