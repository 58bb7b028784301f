/* speed.c — denormal flushing and the direct sgemm timer (speed.h). */
#include "speed.h"
#include "gemm.h"

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
