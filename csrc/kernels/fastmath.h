/* fastmath.h — tanh, the logistic function, exp and the normal CDF as inline code the
 * compiler can vectorize, for the recurrent gates (rnn.c), the elementwise tanh (tensor.c)
 * and the activations (activations.c). */
#ifndef LUNET_FASTMATH_H
#define LUNET_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

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

/* e^x without library calls or branches. Below -87 the result is 0 (e^x would be
 * subnormal, which lunet's kernels flush anyway); x is clamped to 88 (the activations
 * never go above), then
 * x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so n ln2 is exact), e^r by its Taylor
 * polynomial of degree 6 (truncation below 7e-8 relative) and 2^n written into the exponent
 * bits. n comes from the float sum with 1.5 * 2^23, whose low mantissa bits then hold it:
 * no float-to-int conversion, so a NaN input gives NaN without undefined behaviour. */
static inline float lt_fexp(float x0) {
  float x = x0 < -87.0f ? -87.0f : x0;
  x = x > 88.0f ? 88.0f : x;
  const float shifter = 12582912.0f; /* 1.5 * 2^23 */
  const float t = x * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  uint32_t bits; /* unsigned: a NaN's bits wrap around instead of overflowing */
  memcpy(&bits, &t, sizeof bits);
  bits -= 0x4B400000u; /* the bits of the shifter: what remains is n */
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const uint32_t e = (bits + 127u) << 23;
  float scale;
  memcpy(&scale, &e, sizeof scale);
  return x0 < -87.0f ? 0.0f : p * scale;
}

/* 1 / (1 + e^-x) from lt_fexp of -|x|, so neither side overflows. */
static inline float lt_fsigmoid_exp(float x) {
  const float e = lt_fexp(-fabsf(x));
  const float d = 1.0f / (1.0f + e);
  return x >= 0.0f ? d : e * d;
}

/* The standard normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2, through Abramowitz & Stegun's
 * 7.1.26 for erfc(z), z = |x| / sqrt 2: (a1 t + ... + a5 t^5) e^(-z^2), t = 1 / (1 + p z),
 * absolute error below 1.5e-7 (7.5e-8 on Phi). For x < 0, Phi = erfc(z) / 2 directly, never
 * 1 minus a number near 1, so the left tail keeps its relative precision. */
static inline float lt_fnormcdf(float x) {
  const float z = fabsf(x) * 0.70710678118654752f;
  const float t = 1.0f / (1.0f + 0.3275911f * z);
  float q = 1.061405429f;
  q = q * t - 1.453152027f;
  q = q * t + 1.421413741f;
  q = q * t - 0.284496736f;
  q = q * t + 0.254829592f;
  const float half = 0.5f * q * t * lt_fexp(-z * z);
  return x >= 0.0f ? 1.0f - half : half;
}

#endif
