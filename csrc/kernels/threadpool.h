/* threadpool.h — lunet's own worker threads for the kernels' parallel loops.
 *
 * Why not OpenMP: at the end of an OpenMP parallel region every thread of the team must
 * arrive at a barrier, so the region lasts until the slowest thread has been scheduled,
 * run its share and checked in. On a machine whose cores are busy with other work, a
 * worker may wait milliseconds for a core: on the shared 2-core machine of
 * bench/RESULTS.md, before this pool, LeNet-5's first ReLU took 0.3 ms on one thread
 * and 16 ms on two with OpenMP.
 * Here the chunks of a loop are
 * claimed one at a time by whichever thread is running: the calling thread starts at
 * once, a worker that wakes up late finds the chunks taken and goes back to sleep, and
 * the caller waits only for chunks a worker has actually started. With every core
 * free, the work still splits over all of them. And when a started chunk keeps the
 * caller waiting far longer than a chunk takes (its worker lost its core to another
 * program), loops run on the calling thread alone for a while before trying again.
 *
 * The pool has lt_get_num_threads() - 1 workers (parallel.h), started on first use;
 * the calling thread is lane 0, worker w is lane w. Workers copy the caller's MXCSR
 * (the flush-denormals setting) before running a chunk.
 */
#ifndef LUNET_THREADPOOL_H
#define LUNET_THREADPOOL_H

#include <stdint.h>

/* Elements per chunk of a memory-bound elementwise loop (activations, optimizer updates,
 * tensor maps): tens of microseconds of work, so that a smaller loop runs on the calling
 * thread alone and a larger one pays one wake-up per worker. */
#define LT_EW_GRAIN (1 << 16)

/* Items per chunk of a loop whose items (planes, rows, channels) are per_item elements of
 * work each: about LT_EW_GRAIN elements, at least one item. */
static inline int64_t lt_items_grain(int64_t per_item) {
  return per_item >= LT_EW_GRAIN ? 1 : LT_EW_GRAIN / (per_item > 0 ? per_item : 1);
}

/* fn(ctx, begin, end, lane) processes the items [begin, end) of a loop; lane
 * identifies the thread, so that fn can use a per-lane workspace: it is below both
 * lt_parallel_lanes() and the number of chunks. */
typedef void (*lt_range_fn)(void *ctx, int64_t begin, int64_t end, int lane);

/* The lanes a lt_parallel_for started now may use: lt_get_num_threads(). */
int lt_parallel_lanes(void);

/* Runs fn over [0, n) in chunks of `grain` items (the last one shorter) and returns
 * when every chunk is done. Each chunk runs exactly once, on some lane; with one lane,
 * or from inside a chunk (no nesting), all of them run on the calling thread in order.
 * Not reentrant from several application threads at once (Lua is single-threaded). */
void lt_parallel_for(int64_t n, int64_t grain, lt_range_fn fn, void *ctx);

#endif
