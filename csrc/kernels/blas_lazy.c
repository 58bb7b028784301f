/* blas_lazy.c — OpenBLAS, loaded on first use.
 *
 * Loading libopenblas costs about as much as starting Lua itself: it is built for every
 * x86 CPU at once (DYNAMIC_ARCH), and the dynamic loader resolves some 16,000 of its
 * symbol relocations when the library loads. `lunet -e 'require "lunet"'` should start
 * at once, and most of what it then does (data, plots, the REPL) never calls BLAS. So
 * lunet.core does not link OpenBLAS: the few functions it uses are defined here and
 * dlopen the library the first time one of them runs. The thread count set before
 * then is kept and handed over when the library loads.
 */
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef LUNET_OPENBLAS_SONAME
#define LUNET_OPENBLAS_SONAME "libopenblas.so.0"
#endif

static struct {
  void (*sgemm)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const enum CBLAS_TRANSPOSE, const blasint,
                const blasint, const blasint, const float, const float *, const blasint, const float *,
                const blasint, const float, float *, const blasint);
  void (*dgemm)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const enum CBLAS_TRANSPOSE, const blasint,
                const blasint, const blasint, const double, const double *, const blasint, const double *,
                const blasint, const double, double *, const blasint);
  void (*set_num_threads)(int);
  int (*get_num_threads)(void);
  char *(*get_config)(void);
  char *(*get_corename)(void);
} blas;

static pthread_once_t once = PTHREAD_ONCE_INIT;
/* The thread count, and whether the library is in: a count set while another thread
 * loads the library must not be lost. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int threads_wanted = 1;
static int loaded;

static void *must_find(void *lib, const char *name) {
  void *f = dlsym(lib, name);
  if (!f) {
    fprintf(stderr, "lunet: %s has no %s (%s)\n", LUNET_OPENBLAS_SONAME, name, dlerror());
    abort();
  }
  return f;
}

static void load(void) {
  void *lib = dlopen(LUNET_OPENBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "lunet: cannot load OpenBLAS: %s\n", dlerror());
    abort();
  }
  *(void **)&blas.sgemm = must_find(lib, "cblas_sgemm");
  *(void **)&blas.dgemm = must_find(lib, "cblas_dgemm");
  *(void **)&blas.set_num_threads = must_find(lib, "openblas_set_num_threads");
  *(void **)&blas.get_num_threads = must_find(lib, "openblas_get_num_threads");
  *(void **)&blas.get_config = must_find(lib, "openblas_get_config");
  *(void **)&blas.get_corename = must_find(lib, "openblas_get_corename");
  pthread_mutex_lock(&mu);
  blas.set_num_threads(threads_wanted);
  loaded = 1;
  pthread_mutex_unlock(&mu);
}

static void need(void) { pthread_once(&once, load); }

void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
                 const blasint m, const blasint n, const blasint k, const float alpha, const float *a,
                 const blasint lda, const float *b, const blasint ldb, const float beta, float *c,
                 const blasint ldc) {
  need();
  blas.sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void cblas_dgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
                 const blasint m, const blasint n, const blasint k, const double alpha, const double *a,
                 const blasint lda, const double *b, const blasint ldb, const double beta, double *c,
                 const blasint ldc) {
  need();
  blas.dgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* Called by lunet's thread settings before any product: no reason to load for it. */
void openblas_set_num_threads(int n) {
  pthread_mutex_lock(&mu);
  threads_wanted = n;
  if (loaded) blas.set_num_threads(n);
  pthread_mutex_unlock(&mu);
}

int openblas_get_num_threads(void) {
  pthread_mutex_lock(&mu);
  const int n = loaded ? blas.get_num_threads() : threads_wanted;
  pthread_mutex_unlock(&mu);
  return n;
}

char *openblas_get_config(void) {
  need();
  return blas.get_config();
}

char *openblas_get_corename(void) {
  need();
  return blas.get_corename();
}
