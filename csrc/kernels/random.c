#include "random.h"

#include <math.h>
#include <string.h>

static uint64_t s[LT_RNG_STATE_WORDS] = {0x9E3779B97F4A7C15ull, 0xBF58476D1CE4E5B9ull,
                                         0x94D049BB133111EBull, 0x2545F4914F6CDD1Dull};
static int has_spare = 0;
static double spare = 0.0;

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* splitmix64 expands one seed into the four state words (the xoshiro authors' advice). */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void lt_rng_seed(uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < LT_RNG_STATE_WORDS; i++) s[i] = splitmix64(&x);
  has_spare = 0;
  spare = 0.0;
}

uint64_t lt_rng_next(void) {
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double lt_rng_uniform(void) { return (double)(lt_rng_next() >> 11) * 0x1.0p-53; }

double lt_rng_normal(void) {
  if (has_spare) {
    has_spare = 0;
    return spare;
  }
  double u, v, q;
  do {
    u = 2.0 * lt_rng_uniform() - 1.0;
    v = 2.0 * lt_rng_uniform() - 1.0;
    q = u * u + v * v;
  } while (q >= 1.0 || q == 0.0);
  double f = sqrt(-2.0 * log(q) / q);
  spare = v * f;
  has_spare = 1;
  return u * f;
}

double lt_rng_truncnormal(double std) {
  double z;
  do z = lt_rng_normal();
  while (fabs(z) > 2.0);
  return z * std;
}

uint64_t lt_rng_below(uint64_t n) {
  /* Rejection keeps every residue equally likely. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = lt_rng_next();
  while (x >= limit);
  return x % n;
}

void lt_rng_get_state(uint64_t out[LT_RNG_STATE_WORDS + 2]) {
  memcpy(out, s, sizeof s);
  out[LT_RNG_STATE_WORDS] = (uint64_t)has_spare;
  memcpy(&out[LT_RNG_STATE_WORDS + 1], &spare, sizeof spare);
}

const char *lt_rng_set_state(const uint64_t in[LT_RNG_STATE_WORDS + 2]) {
  uint64_t any = 0;
  for (int i = 0; i < LT_RNG_STATE_WORDS; i++) any |= in[i];
  double v;
  memcpy(&v, &in[LT_RNG_STATE_WORDS + 1], sizeof v);
  if (!any) return "the generator's words are all zero, a state xoshiro256** never leaves";
  if (in[LT_RNG_STATE_WORDS] > 1) return "the spare-normal flag is neither 0 nor 1";
  if (!isfinite(v)) return "the spare normal value is not finite";
  memcpy(s, in, sizeof s);
  has_spare = (int)in[LT_RNG_STATE_WORDS];
  spare = v;
  return NULL;
}

/* ---------------------------------------------------------------- fills */

static float uniform_float(double lo, double hi) {
  float v = (float)(lo + (hi - lo) * lt_rng_uniform());
  if (v >= (float)hi && hi > lo) v = nextafterf((float)hi, (float)lo);
  return v;
}

/* The same draw for a double: moved just below hi when the rounding reaches it. */
static double uniform_double(double lo, double hi) {
  double v = lo + (hi - lo) * lt_rng_uniform();
  if (v >= hi && hi > lo) v = nextafter(hi, lo);
  return v;
}

typedef enum { FILL_UNIFORM, FILL_NORMAL, FILL_TRUNC } fill_kind;

/* One draw per element, walking the view's index in row-major order; float or double
 * (a float element is the float rounding of the double draw). */
static void fill(lt_tensor *t, fill_kind k, double p, double q) {
  const int64_t n = lt_numel(t);
  int64_t idx[LT_MAXDIM] = {0}, off = 0;
  const int dbl = t->dtype == LT_DOUBLE;
  for (int64_t i = 0; i < n; i++) {
    lt_set(t, off, k == FILL_UNIFORM ? (dbl ? uniform_double(p, q) : uniform_float(p, q))
                   : k == FILL_NORMAL ? p + q * lt_rng_normal()
                                      : lt_rng_truncnormal(p));
    for (int j = t->ndim - 1; j >= 0; j--) {
      off += t->stride[j];
      if (++idx[j] < t->size[j]) break;
      off -= t->stride[j] * t->size[j];
      idx[j] = 0;
    }
  }
}

void lt_fill_uniform(lt_tensor *t, double lo, double hi) { fill(t, FILL_UNIFORM, lo, hi); }
void lt_fill_normal(lt_tensor *t, double mean, double std) { fill(t, FILL_NORMAL, mean, std); }
void lt_fill_truncnormal(lt_tensor *t, double std) { fill(t, FILL_TRUNC, std, 0.0); }

void lt_fill_bernoulli(float *d, int64_t n, double p) {
  for (int64_t i = 0; i < n; i++) d[i] = uniform_float(0.0, 1.0) < p ? 1.0f : 0.0f;
}

void lt_randperm(int32_t *d, int64_t n) {
  for (int64_t i = 0; i < n; i++) d[i] = (int32_t)(i + 1);
  for (int64_t i = n - 1; i > 0; i--) {
    const int64_t j = (int64_t)lt_rng_below((uint64_t)(i + 1));
    const int32_t tmp = d[i];
    d[i] = d[j];
    d[j] = tmp;
  }
}
