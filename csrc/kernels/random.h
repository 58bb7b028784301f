/* random.h — lunet's one random generator (xoshiro256**), seeded by lunet.manualSeed.
 * Everything random in lunet (rand, randn, truncated normal, dropout masks, shuffles)
 * draws from it, so one seed reproduces a run. */
#ifndef LUNET_RANDOM_H
#define LUNET_RANDOM_H

#include <stdint.h>

#include "tensor.h"

#define LT_RNG_STATE_WORDS 4

void lt_rng_seed(uint64_t seed);
uint64_t lt_rng_next(void);
/* Uniform in [0,1) with 53 random bits. */
double lt_rng_uniform(void);
/* Standard normal (Marsaglia polar method; the spare value is part of the state). */
double lt_rng_normal(void);
/* Normal(0, std) resampled until within 2 std, as TensorFlow's truncated_normal. */
double lt_rng_truncnormal(double std);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t lt_rng_below(uint64_t n);
/* The whole state as words (for checkpoints): s[0..3], has_spare, spare bits. */
void lt_rng_get_state(uint64_t out[LT_RNG_STATE_WORDS + 2]);
/* Sets the state when it is one the generator can be in, returning NULL; else leaves
 * the state alone and returns why not: xoshiro's all-zero words stay zero forever (a
 * normal draw would then loop forever), has_spare is 0 or 1, the spare a finite number. */
const char *lt_rng_set_state(const uint64_t in[LT_RNG_STATE_WORDS + 2]);

/* ---- fills of float or double tensors. Elements are drawn in row-major order of the
 * view, so one seed gives the same values whatever the strides; a float element is the
 * float rounding of the draw a double one gets. ---- */

/* t[i] ~ U[lo, hi): the float rounding of a draw that would reach hi is moved just below. */
void lt_fill_uniform(lt_tensor *t, double lo, double hi);
/* t[i] ~ N(mean, std^2). */
void lt_fill_normal(lt_tensor *t, double mean, double std);
/* t[i] ~ N(0, std^2) resampled until |t[i]| <= 2 std (lt_rng_truncnormal). */
void lt_fill_truncnormal(lt_tensor *t, double std);
/* d[i] = 1 with probability p, else 0, for i < n (dropout masks): 1 when a draw of
 * U[0,1) (as lt_fill_uniform rounds it) is below p. */
void lt_fill_bernoulli(float *d, int64_t n, double p);
/* d[0..n) = a uniform random permutation of 1..n (Fisher-Yates). */
void lt_randperm(int32_t *d, int64_t n);

#endif
