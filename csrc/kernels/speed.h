/* speed.h — what fast training loops and the benchmarks need from the CPU: flushing
 * denormal floats to zero, a timer around cblas_sgemm called directly, and the machine's
 * read bandwidth. */
#ifndef LUNET_SPEED_H
#define LUNET_SPEED_H

#include <stdint.h>

/* Turns flush-to-zero and denormals-are-zero (the MXCSR bits FTZ and DAZ) on or off
 * on the calling thread; the workers of lunet's thread pool copy the calling thread's
 * setting before each chunk they run (threadpool.h). OpenBLAS's worker threads,
 * started when the library loads, keep theirs. Returns the previous setting of the
 * calling thread, or -1 where the CPU has no such control (then nothing changes). */
int lt_set_flush_denormals(int on);
/* 1 when both bits are set on the calling thread, 0 when not, -1 without the control. */
int lt_get_flush_denormals(void);

/* 1 when this CPU runs AVX2 and FMA instructions (the kernels compiled for them with a
 * target attribute, gemm.c and quant.c, run only then), else 0. */
int lt_cpu_avx2_fma(void);

/* Seconds per call of cblas_sgemm(RowMajor, NoTrans, NoTrans) on n x n matrices (own:
 * of lt_sgemm, the product under the nn kernels, gemm.h), averaged over reps calls
 * after one untimed call; -1 when the buffers cannot be allocated. The reference that
 * lunet's matmul and kernels are compared with. */
double lt_bench_sgemm(int n, int reps, int own);

/* Bytes per second read by a streaming sum over a buffer of `bytes` bytes (whole floats:
 * bytes is a positive multiple of 4), averaged over reps passes after the buffer has been
 * written once (its pages faulted in and, for a buffer larger than the last-level cache,
 * evicted from it by the time a pass comes back to them). The passes split over lunet's
 * thread pool (threadpool.h): with one thread this is one core's bandwidth, with more the
 * machine's. -1 when the buffer cannot be allocated. A buffer well beyond the L3 cache
 * gives the memory's bandwidth, the bound on any kernel that streams its operands from
 * memory once (a batch-1 linear layer reads each weight once). */
double lt_bench_read_bandwidth(int64_t bytes, int reps);

#endif
