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
#include <time.h>

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

/* Claims and runs chunks of generation g until none is left; returns how many it ran. */
static int64_t run_chunks(const job_t *j, uint32_t g, int lane) {
  for (int64_t ran = 0;; ran++) {
    uint64_t c = atomic_load_explicit(&claim, memory_order_relaxed);
    do {
      if ((uint32_t)(c >> 32) != g || (uint32_t)c >= j->chunks) return ran;
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

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Back-off when the other cores are busy. A worker that claimed a chunk and was then
 * descheduled holds up the caller until the scheduler gives it a core back, which on a
 * machine running other work takes milliseconds, every loop. When the caller waits
 * much longer for the last chunks than one of its own chunks took, loops run on the
 * calling thread alone for a while (50 ms, doubling while it recurs, up to 1.6 s),
 * then are tried in parallel again. Results are the same either way. */
#define STALL_SLACK_NS 200000
#define BACKOFF_MIN_NS 50000000
#define BACKOFF_MAX_NS 1600000000
static int64_t serial_until, backoff = BACKOFF_MIN_NS; /* the calling thread's */

static void note_wait(int64_t waited, int64_t per_chunk) {
  if (waited > 2 * per_chunk + STALL_SLACK_NS) {
    serial_until = now_ns() + backoff;
    if (backoff < BACKOFF_MAX_NS) backoff *= 2;
  } else if (backoff > BACKOFF_MIN_NS) {
    backoff /= 2;
  }
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
  int lanes = inside || now_ns() < serial_until ? 1 : lt_parallel_lanes();
  if (lanes > chunks) lanes = (int)chunks;
  if (lanes > 1) lanes = ensure_workers(lanes);
  if (lanes <= 1) {
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
  const int64_t t0 = now_ns(), mine = run_chunks(&j, g, 0), t1 = now_ns();
  inside = 0;
  for (int s = 0; atomic_load_explicit(&done, memory_order_acquire) < j.chunks; s++) {
    if (s < CALLER_SPIN) CPU_RELAX();
    else sched_yield();
  }
  if (mine > 0) note_wait(now_ns() - t1, (t1 - t0) / mine);
  if (blas_threads > 1) openblas_set_num_threads(blas_threads);
}
