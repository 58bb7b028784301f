/* random.h — lunet's one random generator (xoshiro256**), seeded by lunet.manualSeed.
 * Everything random in lunet (rand, randn, truncated normal, dropout masks, shuffles)
 * draws from it, so one seed reproduces a run. */
#ifndef LUNET_RANDOM_H
#define LUNET_RANDOM_H

#include <stdint.h>

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
void lt_rng_set_state(const uint64_t in[LT_RNG_STATE_WORDS + 2]);

#endif
