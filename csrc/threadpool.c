/* threadpool.c — lunet's worker threads (threadpool.h).
 *
 * One loop ("job") runs at a time. Publishing a job bumps a generation number; the
 * chunks are claimed through one atomic word holding (generation << 32 | next chunk),
 * so a worker that wakes after its job is over cannot claim a chunk of the next one,
 * and `done` counts the chunks finished, which the caller waits for. Workers spin a
 * little after a job (loops often come in quick succession), then sleep on a
 * condition variable.
 */
#include "threadpool.h"
#include "parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#define GET_CSR() _mm_getcsr()
#define SET_CSR(v) _mm_setcsr(v)
#else
#define CPU_RELAX() ((void)0)
#define GET_CSR() 0u
#define SET_CSR(v) ((void)(v))
#endif

#define MAX_LANES 64
/* Pauses a worker spins for the next job before it sleeps (tens of microseconds),
 * and that the caller spins for the last chunks before it yields its core. */
#define WORKER_SPIN 2000
#define CALLER_SPIN 2000

typedef struct {
  lt_range_fn fn;
  void *ctx;
  int64_t n, grain;
  uint32_t chunks;
  int lanes;
  unsigned csr;
} job_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static job_t job;               /* guarded by mu */
static int sleepers;            /* guarded by mu */
static int started;             /* workers started; only the calling thread touches it */
static _Atomic uint32_t gen;    /* written under mu */
static _Atomic uint64_t claim;  /* gen << 32 | next chunk */
static _Atomic uint32_t done;   /* chunks finished in the current generation */
static _Thread_local int inside; /* running chunks: a nested loop runs serially */

int lt_parallel_lanes(void) {
  const int n = lt_get_num_threads();
  return n < 1 ? 1 : (n > MAX_LANES ? MAX_LANES : n);
}

/* Claims and runs chunks of generation g until none is left. */
static void run_chunks(const job_t *j, uint32_t g, int lane) {
  for (;;) {
    uint64_t c = atomic_load_explicit(&claim, memory_order_relaxed);
    do {
      if ((uint32_t)(c >> 32) != g || (uint32_t)c >= j->chunks) return;
    } while (!atomic_compare_exchange_weak_explicit(&claim, &c, c + 1, memory_order_acquire,
                                                    memory_order_relaxed));
    const int64_t begin = (int64_t)(uint32_t)c * j->grain;
    const int64_t end = begin + j->grain < j->n ? begin + j->grain : j->n;
    j->fn(j->ctx, begin, end, lane);
    atomic_fetch_add_explicit(&done, 1, memory_order_release);
  }
}

static void *worker(void *arg) {
  const int lane = (int)(intptr_t)arg;
  uint32_t seen = atomic_load(&gen);
  inside = 1;
  for (;;) {
    for (int s = 0; s < WORKER_SPIN && atomic_load_explicit(&gen, memory_order_relaxed) == seen; s++)
      CPU_RELAX();
    pthread_mutex_lock(&mu);
    while (atomic_load_explicit(&gen, memory_order_relaxed) == seen) {
      sleepers++;
      pthread_cond_wait(&wake, &mu);
      sleepers--;
    }
    const job_t j = job;
    seen = atomic_load_explicit(&gen, memory_order_relaxed);
    pthread_mutex_unlock(&mu);
    if (lane < j.lanes) {
      if (GET_CSR() != j.csr) SET_CSR(j.csr);
      run_chunks(&j, seen, lane);
    }
  }
  return NULL;
}

/* Starts workers up to lanes - 1 of them; returns the lanes actually available. */
static int ensure_workers(int lanes) {
  while (started < lanes - 1) {
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    const int rc = pthread_create(&t, &attr, worker, (void *)(intptr_t)(started + 1));
    pthread_attr_destroy(&attr);
    if (rc != 0) break;
    started++;
  }
  return started + 1 < lanes ? started + 1 : lanes;
}

void lt_parallel_for(int64_t n, int64_t grain, lt_range_fn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  /* chunk numbers must fit the claim word's 32 bits */
  if (n / grain >= (int64_t)UINT32_MAX) grain = n / ((int64_t)UINT32_MAX - 1) + 1;
  const int64_t chunks = (n + grain - 1) / grain;
  int lanes = lt_parallel_lanes();
  if (lanes > chunks) lanes = (int)chunks;
  if (lanes > 1 && !inside) lanes = ensure_workers(lanes);
  if (lanes <= 1 || inside) {
    for (int64_t b = 0; b < n; b += grain) fn(ctx, b, b + grain < n ? b + grain : n, 0);
    return;
  }
  /* Chunks call BLAS single-threaded: the pool's threads are the parallelism. */
  const int blas_threads = openblas_get_num_threads();
  if (blas_threads > 1) openblas_set_num_threads(1);
  const job_t j = {fn, ctx, n, grain, (uint32_t)chunks, lanes, GET_CSR()};
  pthread_mutex_lock(&mu);
  job = j;
  const uint32_t g = atomic_load_explicit(&gen, memory_order_relaxed) + 1;
  atomic_store_explicit(&done, 0, memory_order_relaxed);
  atomic_store_explicit(&claim, (uint64_t)g << 32, memory_order_relaxed);
  atomic_store_explicit(&gen, g, memory_order_release);
  if (sleepers > 0) pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);

  inside = 1;
  run_chunks(&j, g, 0);
  inside = 0;
  for (int s = 0; atomic_load_explicit(&done, memory_order_acquire) < j.chunks; s++) {
    if (s < CALLER_SPIN) CPU_RELAX();
    else sched_yield();
  }
  if (blas_threads > 1) openblas_set_num_threads(blas_threads);
}
