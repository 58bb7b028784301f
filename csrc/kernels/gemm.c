/* gemm.c — lt_sgemm (gemm.h): cblas_sgemm, or lunet's own AVX-512 sgemm.
 *
 * The AVX-512 path is the classic Goto/BLIS blocking, row-major:
 *   for each panel of NC columns of C
 *     for each slice of KC along k:  pack op(B)[slice, panel] into slivers of NR columns
 *       for each block of MC rows:    pack op(A)[block, slice] into slivers of MR rows
 *         for each sliver pair:       the MR x NR micro-kernel, C tile += A sliver · B sliver
 * The micro-kernel holds an 8 x 32 tile of C in 16 zmm registers; per k it loads two
 * vectors of B and broadcasts 8 values of A: 16 fused multiply-adds. A B sliver (KC x NR,
 * 32 KB) stays in L1 while the A slivers of a block stream from L2. Tiles at the right
 * and bottom edges are computed whole from zero-padded slivers and stored under masks.
 * Small products of a linear layer's forward (up to 16 rows, B transposed) skip the
 * packing: one dot product per element reads every value of B once. The packing space
 * is per thread and allocated on its first product, so training steps allocate nothing.
 *
 * The blas backend hands products to cblas_sgemm, except those same few-row products
 * on a CPU with AVX2 and FMA: OpenBLAS packs B for them, reading and writing the weights
 * of a linear layer at batch 1 twice more than the product needs; dot_rows_avx2 reads
 * them once.
 */
#include "gemm.h"
#include "speed.h"
#include "threadpool.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define LT_X86 1
#include <immintrin.h>
#else
#define LT_X86 0
#endif

enum { BACKEND_BLAS, BACKEND_AVX512 };
static int backend = -1; /* chosen on first use */

int lt_gemm_available(const char *name) {
  if (strcmp(name, "blas") == 0) return 1;
#if LT_X86
  if (strcmp(name, "avx512") == 0) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }
#endif
  return 0;
}

int lt_set_gemm_backend(const char *name) {
  if (!lt_gemm_available(name)) return -1;
  backend = strcmp(name, "blas") == 0 ? BACKEND_BLAS : BACKEND_AVX512;
  return 0;
}

static int current_backend(void) {
  if (backend < 0) {
    const char *env = getenv("LUNET_GEMM");
    if (!(env && lt_set_gemm_backend(env) == 0) && lt_set_gemm_backend("avx512") != 0)
      backend = BACKEND_BLAS;
  }
  return backend;
}

const char *lt_gemm_backend(void) { return current_backend() == BACKEND_AVX512 ? "avx512" : "blas"; }

typedef struct {
  lt_trans ta, tb;
  int64_t m, n, k;
  float alpha, beta;
  const float *a, *b;
  float *c;
  int64_t lda, ldb, ldc;
} gemm_args;

#if LT_X86
/* Few rows of A: at most this many (a linear layer's forward at a small batch). */
#define FEW_ROWS 16
#define AVX2 __attribute__((target("avx2,fma")))
/* The first n (0..8) lanes, as _mm256_maskload_ps wants them. */
AVX2 static inline __m256i lanes8(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)), idx);
}
AVX2 static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
/* Few-row products stream B from memory once and reuse it from L1: k is cut into blocks
 * of DOT_KB, a block of B's rows (or columns) is swept by every row of A before the next
 * block loads, and the accumulators are kept in memory between blocks. Keeping them does
 * not change what they sum or the order: each element is summed along k in order. */
#define DOT_KB 256

/* C[i0..i1, j0..j1] for at most FEW_ROWS rows, A and op(B) = B^T both k-contiguous: one
 * dot product per element (8 lanes, then the lanes summed), for four rows of B and two
 * of A at a time; a block of the four rows of B comes from memory once and from L1 for
 * the other rows of A. Every element is summed in the same order wherever its block starts. */
AVX2 static void dot_rows_avx2(const gemm_args *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  const int64_t k = g->k;
  __m256 kept[FEW_ROWS][4];
  for (int64_t j = j0; j < j1; j += 4) {
    const int64_t nj = j1 - j < 4 ? j1 - j : 4;
    const float *b[4];
    for (int q = 0; q < 4; q++) b[q] = g->b + (j + (q < nj ? q : 0)) * g->ldb;
    for (int64_t p0 = 0; p0 < k; p0 += DOT_KB) {
      const int64_t p1 = k - p0 < DOT_KB ? k : p0 + DOT_KB;
      for (int64_t i = i0; i < i1; i += 2) {
        const int two = i + 1 < i1;
        const float *a0 = g->a + i * g->lda, *a1 = g->a + (i + two) * g->lda;
        __m256 *acc0 = kept[i - i0], *acc1 = kept[i - i0 + two];
        __m256 acc[2][4];
        for (int q = 0; q < 4; q++) {
          acc[0][q] = p0 == 0 ? _mm256_setzero_ps() : acc0[q];
          acc[1][q] = p0 == 0 ? _mm256_setzero_ps() : acc1[q];
        }
        int64_t p = p0;
        for (; p + 8 <= p1; p += 8) {
          const __m256 x0 = _mm256_loadu_ps(a0 + p), x1 = _mm256_loadu_ps(a1 + p);
#pragma GCC unroll 4
          for (int q = 0; q < 4; q++) {
            const __m256 w = _mm256_loadu_ps(b[q] + p);
            acc[0][q] = _mm256_fmadd_ps(x0, w, acc[0][q]);
            acc[1][q] = _mm256_fmadd_ps(x1, w, acc[1][q]);
          }
        }
        if (p < p1) { /* k's last, partial vector */
          const __m256i m = lanes8(p1 - p);
          const __m256 x0 = _mm256_maskload_ps(a0 + p, m), x1 = _mm256_maskload_ps(a1 + p, m);
          for (int q = 0; q < 4; q++) {
            const __m256 w = _mm256_maskload_ps(b[q] + p, m);
            acc[0][q] = _mm256_fmadd_ps(x0, w, acc[0][q]);
            acc[1][q] = _mm256_fmadd_ps(x1, w, acc[1][q]);
          }
        }
        for (int q = 0; q < 4; q++) { /* a lone last row ran twice: its own sums go last */
          acc1[q] = acc[1][q];
          acc0[q] = acc[0][q];
        }
      }
    }
    for (int64_t i = i0; i < i1; i++) {
      float *c = g->c + i * g->ldc + j;
      for (int64_t q = 0; q < nj; q++) {
        const float v = g->alpha * hsum8(kept[i - i0][q]);
        c[q] = g->beta == 0.0f ? v : v + g->beta * c[q];
      }
    }
  }
}
#endif

/* cblas_sgemm on one thread: the thread pool is the parallelism (OpenBLAS's own threads
 * would split the product differently for each thread count). */
static void blas_gemm(const gemm_args *g) {
#if LT_X86
  if (g->m <= FEW_ROWS && g->ta == LT_NOTRANS && g->tb == LT_TRANS && lt_cpu_avx2_fma()) {
    dot_rows_avx2(g, 0, g->m, 0, g->n);
    return;
  }
#endif
  const int threads = openblas_get_num_threads();
  if (threads > 1) openblas_set_num_threads(1);
  cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, (int)g->m,
              (int)g->n, (int)g->k, g->alpha, g->a, (int)g->lda, g->b, (int)g->ldb, g->beta, g->c, (int)g->ldc);
  if (threads > 1) openblas_set_num_threads(threads);
}

#if LT_X86

#define MR 8
#define NR 32
#define KC 256
#define MC 128
#define NC 2048

/* This thread's packing space: an A block (MC x KC) and a B panel (KC x NC) at most. */
static _Thread_local float *pack_space;

static float *packing_space(void) {
  if (!pack_space) pack_space = aligned_alloc(64, (size_t)(MC * KC + KC * NC) * sizeof(float));
  return pack_space;
}

/* Compiled for AVX-512F whatever the build's -march; run only where the CPU has it. */
#define AVX512 __attribute__((target("avx512f")))

/* Column mask for the first n (0..16) lanes. */
AVX512 static inline __mmask16 lanes_mask(int64_t n) {
  return (__mmask16)(n >= 16 ? 0xffff : n <= 0 ? 0 : (1u << n) - 1);
}

/* The transposing copy both packers need: dst[c][r] = src[r][c] for r < rows (<= 16),
 * c < cols (<= 16); src rows are lds apart, dst rows ldd apart. Rows of dst get `rows`
 * values (the rest of a row is untouched); a 16 x 16 block is 64 shuffles. */
AVX512 static inline void transpose16(const float *src, int64_t lds, int64_t rows, int64_t cols, float *dst,
                               int64_t ldd) {
  const __mmask16 load = lanes_mask(cols), store = lanes_mask(rows);
  __m512 r[16], t[16];
  for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_maskz_loadu_ps(load, src + i * lds) : _mm512_setzero_ps();
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  /* r[4q + j] holds, in 128-bit lane l, column 4l + j of rows 4q .. 4q+3 */
  for (int j = 0; j < 4; j++) {
    t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);      /* lanes 0,2 of rows 0-3 | 4-7 */
    t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);  /* lanes 1,3 */
    t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
  }
  for (int j = 0; j < 4; j++) {
    /* column j (lane 0), 8 + j (lane 2); column 4 + j (lane 1), 12 + j (lane 3) */
    const __m512 c0 = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88), c8 = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    const __m512 c4 = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88),
                 c12 = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xdd);
    if (j < cols) _mm512_mask_storeu_ps(dst + j * ldd, store, c0);
    if (4 + j < cols) _mm512_mask_storeu_ps(dst + (4 + j) * ldd, store, c4);
    if (8 + j < cols) _mm512_mask_storeu_ps(dst + (8 + j) * ldd, store, c8);
    if (12 + j < cols) _mm512_mask_storeu_ps(dst + (12 + j) * ldd, store, c12);
  }
}

/* op(A)[i0 .. i0+mc, p0 .. p0+kc] into slivers of MR rows: sliver s holds, for each k,
 * the MR values of rows s*MR .. s*MR+MR-1 (zero beyond mc). */
AVX512 __attribute__((noinline)) static void pack_a(const gemm_args *g, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                                             float *ap) {
  for (int64_t s = 0; s < mc; s += MR) {
    float *d = ap + s * kc;
    const int64_t rows = mc - s < MR ? mc - s : MR;
    if (rows < MR) memset(d, 0, (size_t)(kc * MR) * sizeof(float));
    if (g->ta == LT_NOTRANS) {
      /* rows of A are k-contiguous: transpose blocks of 16 k */
      const float *src = g->a + (i0 + s) * g->lda + p0;
      for (int64_t k = 0; k < kc; k += 16) transpose16(src + k, g->lda, rows, kc - k < 16 ? kc - k : 16, d + k * MR, MR);
    } else {
      const float *src = g->a + p0 * g->lda + i0 + s;
      const __mmask16 m = lanes_mask(rows);
      for (int64_t k = 0; k < kc; k++) _mm512_mask_storeu_ps(d + k * MR, m, _mm512_maskz_loadu_ps(m, src + k * g->lda));
    }
  }
}

/* op(B)[p0 .. p0+kc, j0 .. j0+nc] into slivers of NR columns: sliver s holds, for each k,
 * the NR values of columns s*NR .. s*NR+NR-1 (zero beyond nc). */
AVX512 __attribute__((noinline)) static void pack_b(const gemm_args *g, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                                             float *bp) {
  for (int64_t s = 0; s < nc; s += NR) {
    float *d = bp + s * kc;
    const int64_t cols = nc - s < NR ? nc - s : NR;
    if (g->tb == LT_NOTRANS) {
      const __mmask16 m0 = lanes_mask(cols), m1 = lanes_mask(cols - 16);
      for (int64_t k = 0; k < kc; k++) {
        const float *src = g->b + (p0 + k) * g->ldb + j0 + s;
        _mm512_store_ps(d + k * NR, _mm512_maskz_loadu_ps(m0, src));
        _mm512_store_ps(d + k * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
      }
    } else {
      /* columns of op(B) are rows of B, k-contiguous: transpose 16 x 16 blocks, each
       * half of the sliver in turn (zero columns past nc) */
      for (int h = 0; h < 2; h++) {
        const int64_t hc = cols - 16 * h;
        const float *src = g->b + (j0 + s + 16 * h) * g->ldb + p0;
        for (int64_t k = 0; k < kc; k += 16) {
          const int64_t n = kc - k < 16 ? kc - k : 16;
          if (hc >= 16) {
            transpose16(src + k, g->ldb, 16, n, d + k * NR + 16 * h, NR);
          } else {
            for (int64_t q = 0; q < n; q++) _mm512_storeu_ps(d + (k + q) * NR + 16 * h, _mm512_setzero_ps());
            if (hc > 0) transpose16(src + k, g->ldb, hc, n, d + k * NR + 16 * h, NR);
          }
        }
      }
    }
  }
}

/* out = alpha * acc (+ beta * out, or + out when accumulating onto an earlier k slice),
 * under a column mask. */
AVX512 static inline __attribute__((always_inline)) void store_row(float *out, __m512 acc, __mmask16 m, float alpha,
                                                            float beta, int first) {
  const __m512 va = _mm512_set1_ps(alpha);
  if (first && beta == 0.0f) {
    _mm512_mask_storeu_ps(out, m, _mm512_mul_ps(va, acc));
  } else {
    const __m512 old = _mm512_maskz_loadu_ps(m, out);
    const __m512 scaled = first ? _mm512_mul_ps(_mm512_set1_ps(beta), old) : old;
    _mm512_mask_storeu_ps(out, m, _mm512_fmadd_ps(va, acc, scaled));
  }
}

/* The MR x (16*nv) tile of C at c: kc multiply-adds of an A sliver and a B sliver,
 * then the first `rows` rows stored under the column masks m0, m1. nv (1 or 2, the
 * vectors per row) is a constant at each call site, so each gets its own unrolled code. */
AVX512 static inline __attribute__((always_inline)) void micro_kernel(int nv, int64_t kc, const float *ap,
                                                               const float *bp, float *c, int64_t ldc,
                                                               int64_t rows, __mmask16 m0, __mmask16 m1,
                                                               float alpha, float beta, int first) {
  __m512 acc0[MR], acc1[MR];
  /* C's rows are far apart (ldc): start fetching them now, the k loop hides the wait */
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++) {
    if (i < rows && !(first && beta == 0.0f)) {
      _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
      if (nv > 1) _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
    acc0[i] = acc1[i] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(bp + k * NR);
    const __m512 b1 = nv > 1 ? _mm512_load_ps(bp + k * NR + 16) : b0;
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512 av = _mm512_set1_ps(ap[k * MR + i]);
      acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
      if (nv > 1) acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++) {
    if (i < rows) {
      store_row(c + i * ldc, acc0[i], m0, alpha, beta, first);
      if (nv > 1) store_row(c + i * ldc + 16, acc1[i], m1, alpha, beta, first);
    }
  }
}

/* C[i0..i1, j0..j1] for at most MR rows, A and op(B) = B^T both k-contiguous (as in a
 * linear layer's forward at a small batch): one dot product per element, every value
 * of B read once. Packing B would read and write it twice more for the one row
 * sliver that uses it, and for batch 1 this is all of the work. */
AVX512 static void dot_rows(const gemm_args *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  const int64_t rows = i1 - i0, k = g->k;
  for (int64_t j = j0; j < j1; j++) {
    const float *b = g->b + j * g->ldb;
    /* two sums per row, over alternate blocks of 16 k, for two chains of multiply-adds */
    __m512 acc[2][MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) acc[0][i] = acc[1][i] = _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p += 16) {
      const __mmask16 m = lanes_mask(k - p);
      const int h = (int)(p >> 4) & 1;
      _mm_prefetch((const char *)(b + g->ldb + p), _MM_HINT_T0); /* the next row of B */
      const __m512 bv = _mm512_maskz_loadu_ps(m, b + p);
#pragma GCC unroll 8
      for (int i = 0; i < MR; i++) {
        if (i < rows) acc[h][i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, g->a + (i0 + i) * g->lda + p), bv, acc[h][i]);
      }
    }
    for (int64_t i = 0; i < rows; i++) {
      float *c = g->c + (i0 + i) * g->ldc + j;
      const float v = g->alpha * _mm512_reduce_add_ps(_mm512_add_ps(acc[0][i], acc[1][i]));
      *c = g->beta == 0.0f ? v : v + g->beta * *c;
    }
  }
}

/* C[i0..i1, j0..j1] of the product, on the calling thread. */
AVX512 static void avx512_block(const gemm_args *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float *space) {
  if (i1 - i0 <= MR && g->ta == LT_NOTRANS && g->tb == LT_TRANS) {
    dot_rows(g, i0, i1, j0, j1);
    return;
  }
  float *ap = space, *bp = space + MC * KC;
  for (int64_t jc = j0; jc < j1; jc += NC) {
    const int64_t nc = j1 - jc < NC ? j1 - jc : NC;
    for (int64_t pc = 0; pc < g->k; pc += KC) {
      const int64_t kc = g->k - pc < KC ? g->k - pc : KC;
      const int first = pc == 0;
      pack_b(g, pc, kc, jc, nc, bp);
      for (int64_t ic = i0; ic < i1; ic += MC) {
        const int64_t mc = i1 - ic < MC ? i1 - ic : MC;
        pack_a(g, ic, mc, pc, kc, ap);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t cols = nc - jr < NR ? nc - jr : NR;
          const __mmask16 m0 = lanes_mask(cols), m1 = lanes_mask(cols - 16);
          const float *b = bp + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t rows = mc - ir < MR ? mc - ir : MR;
            float *c = g->c + (ic + ir) * g->ldc + jc + jr;
            if (cols > 16) micro_kernel(2, kc, ap + ir * kc, b, c, g->ldc, rows, m0, m1, g->alpha, g->beta, first);
            else micro_kernel(1, kc, ap + ir * kc, b, c, g->ldc, rows, m0, m1, g->alpha, g->beta, first);
          }
        }
      }
    }
  }
}


#define UNIT_COLS NR
#define UNIT_ROWS MR
#else
#define UNIT_COLS 32
#define UNIT_ROWS 8
#endif

/* Products below this many multiply-adds (about 0.1 ms) run whole, on the calling thread:
 * a recurrent step's product at batch 128 (2M) ran slower split over two threads. */
#define PAR_MIN_MACS (1 << 23)
/* A larger product is cut into about this many chunks of columns (or rows) of C, whatever
 * the thread count: each chunk is then a product of the same shape at 1 thread as at 8,
 * and OpenBLAS, whose blocking (and so the order it sums in) varies with the shape, gives
 * the same bits for it; the chunks are claimed by whichever lanes run (threadpool.h). */
#define SPLIT_CHUNKS 8
/* A chunk of a split product spans at least this many columns (or rows) of C, so that
 * repacking the shared operand per chunk costs under 1% of the chunk's work. */
#define MIN_CHUNK_COLS 128
#define MIN_CHUNK_ROWS 64
typedef struct {
  const gemm_args *g;
  int by_cols, backend;
} split_job;

/* The product for the columns (or rows) of C in units [u0, u1). */
static void split_chunk(void *ctx, int64_t u0, int64_t u1, int lane) {
  const split_job *j = ctx;
  const gemm_args *g = j->g;
  const int64_t unit = j->by_cols ? UNIT_COLS : UNIT_ROWS, lim = j->by_cols ? g->n : g->m;
  const int64_t s = u0 * unit, e = u1 * unit < lim ? u1 * unit : lim;
#if LT_X86
  float *space = j->backend == BACKEND_AVX512 ? packing_space() : NULL;
  if (space) {
    if (j->by_cols) avx512_block(g, 0, g->m, s, e, space);
    else avx512_block(g, s, e, 0, g->n, space);
    return;
  }
#endif
  gemm_args sub = *g;
  if (j->by_cols) {
    sub.n = e - s;
    sub.b += sub.tb == LT_TRANS ? s * sub.ldb : s;
    sub.c += s;
  } else {
    sub.m = e - s;
    sub.a += sub.ta == LT_TRANS ? s : s * sub.lda;
    sub.c += s * sub.ldc;
  }
  blas_gemm(&sub);
}

void lt_sgemm(lt_trans ta, lt_trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
              int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; i++) {
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    }
    return;
  }
  const gemm_args g = {ta, tb, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc};
  const int64_t col_units = (n + UNIT_COLS - 1) / UNIT_COLS, row_units = (m + UNIT_ROWS - 1) / UNIT_ROWS;
  const split_job j = {&g, col_units * UNIT_COLS >= row_units * UNIT_ROWS, current_backend()};
  const int64_t units = j.by_cols ? col_units : row_units;
  int64_t grain = units;
  /* a product of few rows is paced by reading B (a linear layer's weights at batch 1):
   * it counts as 16 rows */
  if ((double)(m < 16 ? 16 : m) * (double)n * (double)k >= PAR_MIN_MACS) {
    const int64_t min_units = j.by_cols ? MIN_CHUNK_COLS / UNIT_COLS : MIN_CHUNK_ROWS / UNIT_ROWS;
    grain = (units + SPLIT_CHUNKS - 1) / SPLIT_CHUNKS;
    if (grain < min_units) grain = min_units;
  }
  lt_parallel_for(units, grain, split_chunk, (void *)&j);
}

void lt_dgemm(lt_trans ta, lt_trans tb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
              int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
              (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
