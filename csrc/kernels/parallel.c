#include "parallel.h"

#include <cblas.h>
#include <stdlib.h>
#include <unistd.h>

static int nthreads = 1;

void lt_set_num_threads(int n) {
  nthreads = n;
  openblas_set_num_threads(n);
}

int lt_get_num_threads(void) { return nthreads; }

void lt_parallel_init(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  const char *env = getenv("LUNET_NUM_THREADS");
  if (env && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end == '\0' && v >= 1 && v <= 1024) n = v;
  }
  lt_set_num_threads(n >= 1 ? (int)n : 1);
}
