/* speed.c — denormal flushing, the direct sgemm timer and the read-bandwidth probe (speed.h). */
#include "speed.h"
#include "gemm.h"
#include "threadpool.h"

#include <cblas.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
/* MXCSR bit 15 (FTZ: denormal results become zero) and bit 6 (DAZ: denormal inputs
 * read as zero). */
#define LT_FTZ_DAZ 0x8040u

static void set_bits(int on) {
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(on ? csr | LT_FTZ_DAZ : csr & ~LT_FTZ_DAZ);
}

int lt_get_flush_denormals(void) { return (_mm_getcsr() & LT_FTZ_DAZ) == LT_FTZ_DAZ; }

int lt_set_flush_denormals(int on) {
  const int was = lt_get_flush_denormals();
  set_bits(on);
  return was;
}
#else
int lt_get_flush_denormals(void) { return -1; }
int lt_set_flush_denormals(int on) {
  (void)on;
  return -1;
}
#endif

int lt_cpu_avx2_fma(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  static int have = -1;
  if (have < 0) {
    __builtin_cpu_init();
    have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return have;
#else
  return 0;
#endif
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double lt_bench_sgemm(int n, int reps, int own) {
  const size_t len = (size_t)n * (size_t)n;
  float *a = malloc(len * sizeof(float)), *b = malloc(len * sizeof(float)), *c = malloc(len * sizeof(float));
  double secs = -1.0;
  if (a && b && c) {
    for (size_t i = 0; i < len; i++) {
      a[i] = (float)(i % 17) * 0.125f - 1.0f;
      b[i] = (float)(i % 13) * 0.25f - 1.5f;
    }
    double t0 = 0.0;
    for (int r = -1; r < reps; r++) {
      if (r == 0) t0 = now();
      if (own) lt_sgemm(LT_NOTRANS, LT_NOTRANS, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
      else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    }
    secs = (now() - t0) / reps;
  }
  free(a);
  free(b);
  free(c);
  return secs;
}

/* The read probe's unit of work: a block of LT_READ_LANES floats summed into as many
 * independent accumulators, so that the additions (one dependency chain per accumulator)
 * keep up with the loads and the loop vectorizes without reassociating a single sum. */
#define LT_READ_LANES 32
/* Blocks per chunk of the thread pool: 1 MB, far more than a wake-up costs. */
#define LT_READ_GRAIN ((1 << 20) / (LT_READ_LANES * (int64_t)sizeof(float)))

typedef struct {
  const float *p;
  float *sums; /* one per lane of the pool */
} read_job;

static void read_blocks(void *ctx, int64_t begin, int64_t end, int lane) {
  read_job *job = ctx;
  float acc[LT_READ_LANES] = {0};
  for (const float *b = job->p + begin * LT_READ_LANES, *stop = job->p + end * LT_READ_LANES; b < stop;
       b += LT_READ_LANES)
    for (int j = 0; j < LT_READ_LANES; j++) acc[j] += b[j];
  float s = 0.0f;
  for (int j = 0; j < LT_READ_LANES; j++) s += acc[j];
  job->sums[lane] += s;
}

/* Where each pass's sum goes, so that the compiler keeps the reads. */
static volatile float read_sink;

double lt_bench_read_bandwidth(int64_t bytes, int reps) {
  const int64_t n = bytes / (int64_t)sizeof(float), blocks = n / LT_READ_LANES;
  const int lanes = lt_parallel_lanes();
  float *p = malloc((size_t)n * sizeof(float)), *sums = calloc((size_t)lanes, sizeof(float));
  double rate = -1.0;
  if (p && sums) {
    for (int64_t i = 0; i < n; i++) p[i] = (float)(i & 7);
    const double t0 = now();
    for (int r = 0; r < reps; r++) {
      lt_parallel_for(blocks, LT_READ_GRAIN, read_blocks, &(read_job){.p = p, .sums = sums});
      float s = 0.0f;
      for (int64_t i = blocks * LT_READ_LANES; i < n; i++) s += p[i];
      for (int l = 0; l < lanes; l++) s += sums[l];
      read_sink = s;
    }
    rate = (double)bytes * reps / (now() - t0);
  }
  free(p);
  free(sums);
  return rate;
}
