/* gemm.h — the matrix product under lunet's CNN and RNN kernels.
 *
 * lt_sgemm computes what cblas_sgemm(CblasRowMajor, ...) computes, with one of two
 * backends chosen when the module loads:
 *   "avx512"  lunet's own packed sgemm (gemm.c) for CPUs with AVX-512F: the OpenBLAS of
 *             these machines is pinned to its Haswell (AVX2) kernels, and an AVX-512
 *             unit does twice the multiply-adds per instruction;
 *   "blas"    cblas_sgemm, on every CPU.
 * LUNET_GEMM=blas (or avx512) in the environment overrides the default, which is
 * avx512 where the CPU has it. Both give the same products up to float rounding.
 * Large products are cut into blocks of rows or columns of C whose shapes do not depend
 * on the thread count, each block computed by one lane of lunet's thread pool
 * (threadpool.h; cblas_sgemm with OpenBLAS held to one thread): with either backend every
 * element of C is summed in the same order whatever the thread count.
 * Called from inside a pool chunk, lt_sgemm runs on the calling thread.
 */
#ifndef LUNET_GEMM_H
#define LUNET_GEMM_H

#include <stdint.h>

typedef enum { LT_NOTRANS = 0, LT_TRANS = 1 } lt_trans;

/* C (m, n) = alpha * op(A) · op(B) + beta * C, row-major with leading dimensions lda,
 * ldb, ldc; op(A) is (m, k), op(B) is (k, n); op(X) = X or X^T. beta == 0 overwrites C
 * without reading it. The sizes must fit the BLAS int interface (the callers check). */
void lt_sgemm(lt_trans ta, lt_trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
              int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* The same in float64, for double tensors, for k > 0 (does nothing when k = 0: lt_addmm
 * scales C itself): cblas_dgemm alone, with no backend choice and no splitting over
 * lunet's pool (OpenBLAS's own thread count applies). */
void lt_dgemm(lt_trans ta, lt_trans tb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
              int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc);

/* The backend in use ("avx512" or "blas"). */
const char *lt_gemm_backend(void);
/* Selects a backend by name; returns 0, or -1 when it is unknown or this CPU lacks it. */
int lt_set_gemm_backend(const char *name);
/* 1 when this CPU can run the named backend, else 0. */
int lt_gemm_available(const char *name);

#endif
