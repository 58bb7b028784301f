/* tensor.h — lunet's tensor: a view (offset, shape, strides) onto a flat storage.
 *
 * The kernel layer (csrc/kernels/) starts here. Kernels are plain C over pointers,
 * sizes and these views: they know nothing of Lua, and the build compiles them without
 * Lua's headers, so that including lua.h here fails. A comment above each kernel gives
 * the math and the shapes; callers (the binding, csrc/lua/) check shapes, dtypes and
 * sizes and own every buffer. The kernel headers: tensor.h (views, elementwise,
 * reductions, products), gemm.h, nnkernels.h, rnn.h, optim.h, random.h, imgops.h,
 * lunet_io.h (file formats), threadpool.h and parallel.h, speed.h.
 * Storage memory is owned by whoever created it
 * (in lunet, a Lua full userdata so the garbage collector sees its size); a
 * tensor is only a view. Element counts, offsets and strides are in elements, not bytes:
 * an element is 4 bytes (float, int) or 8 (double), lt_elsize, so every view operation
 * is dtype-agnostic and only what touches bytes (allocation, raw copies, files) asks.
 * The arithmetic kernels work in float or double, as their inputs are; int tensors are
 * converted to float by the binding first (see each kernel for the dtypes it takes).
 */
#ifndef LUNET_TENSOR_H
#define LUNET_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define LT_MAXDIM 8
#define LT_ALIGN 64 /* bytes; a cache line, enough for AVX-512 loads */

/* The values are those of the tensor file format (lunet_io.h). */
typedef enum { LT_FLOAT = 0, LT_INT = 1, LT_DOUBLE = 2 } lt_dtype;

typedef struct lt_tensor {
  void *base;                 /* first element of the storage */
  int64_t offset;             /* in elements */
  int ndim;                   /* 0 .. LT_MAXDIM; 0 is a scalar with one element */
  lt_dtype dtype;
  int64_t size[LT_MAXDIM];
  int64_t stride[LT_MAXDIM];
} lt_tensor;

static inline size_t lt_elsize(lt_dtype dt) { return dt == LT_DOUBLE ? 8 : 4; }
static inline float *lt_fdata(const lt_tensor *t) { return (float *)t->base + t->offset; }
static inline int32_t *lt_idata(const lt_tensor *t) { return (int32_t *)t->base + t->offset; }
static inline double *lt_ddata(const lt_tensor *t) { return (double *)t->base + t->offset; }
/* The first element of the view, whatever its dtype. */
static inline void *lt_data(const lt_tensor *t) { return (char *)t->base + t->offset * (int64_t)lt_elsize(t->dtype); }
/* The element off elements past lt_data(t), as a double: exact for every dtype. */
static inline double lt_get(const lt_tensor *t, int64_t off) {
  switch (t->dtype) {
    case LT_FLOAT: return lt_fdata(t)[off];
    case LT_INT: return lt_idata(t)[off];
    case LT_DOUBLE: break;
  }
  return lt_ddata(t)[off];
}
/* Store v there, rounded to float or truncated to int (the caller has checked that v fits). */
static inline void lt_set(const lt_tensor *t, int64_t off, double v) {
  switch (t->dtype) {
    case LT_FLOAT: lt_fdata(t)[off] = (float)v; return;
    case LT_INT: lt_idata(t)[off] = (int32_t)v; return;
    case LT_DOUBLE: lt_ddata(t)[off] = v; return;
  }
}

int64_t lt_numel(const lt_tensor *t);
int lt_is_contiguous(const lt_tensor *t);
int lt_same_shape(const lt_tensor *a, const lt_tensor *b);
/* Fill strides for a contiguous row-major layout. */
void lt_set_contiguous_strides(lt_tensor *t);
/* Writes "(2,3,4)" into buf (at most n bytes). */
const char *lt_shape_str(const lt_tensor *t, char *buf, size_t n);

/* The checked arithmetic every size, offset and stride computation goes through, in the
 * binding and the kernels: *out = a*b or a+b, returning -1 (out unspecified) when an
 * operand is negative or the result does not fit int64, else 0. Sizes, offsets and
 * strides are never negative, so refusing negatives also catches a size that wrapped. */
static inline int lt_mul_overflow(int64_t a, int64_t b, int64_t *out) {
  return a < 0 || b < 0 || __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
static inline int lt_add_overflow(int64_t a, int64_t b, int64_t *out) {
  return a < 0 || b < 0 || __builtin_add_overflow(a, b, out) ? -1 : 0;
}
/* Views of one storage have one base. A view reaches only elements in [offset, offset +
 * sum_i (size_i - 1) * stride_i] (strides are never negative), so two views can share an
 * element only when their bases are equal and these intervals meet (an empty view reaches
 * none). Conservative: the even and the odd columns of a matrix count as overlapping. */
int lt_overlap(const lt_tensor *a, const lt_tensor *b);
/* a and b are the same view: one base, offset, shape and strides. An elementwise kernel
 * may then write one while it reads the other (each element is read before it is written). */
int lt_same_view(const lt_tensor *a, const lt_tensor *b);
/* The element count of a shape into *numel (0 when a size is 0). Returns -1 when a size is
 * negative or when the product of the nonzero sizes overflows: a shape's contiguous
 * strides are those products, so even an empty (0,2^40,2^40) must be refused. */
int lt_shape_numel(int ndim, const int64_t *size, int64_t *numel);

/* ---- kernels over views (the caller has checked shapes; broadcasting is resolved by
 * giving an input the output's shape with stride 0 along broadcast dimensions) ---- */

/* maximum/minimum propagate NaN; fmod has the dividend's sign (C's fmodf), remainder the
 * divisor's (Python's %); atan2(a, b) is the angle of the point (b, a). */
typedef enum { LT_ADD, LT_SUB, LT_MUL, LT_DIV, LT_POW, LT_MAXIMUM, LT_MINIMUM, LT_FMOD, LT_REMAINDER, LT_ATAN2 } lt_binop;
typedef enum {
  LT_NEG, LT_EXP, LT_LOG, LT_SQRT, LT_TANH, LT_SIGMOID, LT_RELU, LT_ABS,
  LT_POWS,  /* x^p */
  LT_CLAMP, /* min(max(x, p), q) */
  LT_FILL,  /* p */
  LT_AFFINE, /* p*x + q: scalar add, sub, mul, div */
  LT_SIN, LT_COS, LT_FLOOR, LT_CEIL,
  LT_ROUND, /* to nearest, halves to even */
  LT_SIGN   /* -1, 0, 1; NaN stays NaN */
} lt_unop;
/* Reductions. max/min (and argmax/argmin) propagate NaN: the first NaN is the answer.
 * prod of nothing is 1; norm (order p) is (sum |x|^p)^(1/p), the count of nonzeros for p =
 * 0, max |x| (min |x|) for p = inf (-inf), NaN with any NaN; logsumexp is max + log sum
 * exp(x - max) (-inf for nothing); all/any give 1 or 0, NaN counting as true. */
typedef enum {
  LT_SUM, LT_MEAN, LT_MAX, LT_MIN, LT_VAR, LT_STD, LT_ARGMAX, LT_ARGMIN,
  LT_PROD, LT_NORM, LT_LOGSUMEXP, LT_ALL, LT_ANY
} lt_redop;
typedef enum {
  LT_WHERE,   /* a != 0 ? b : c (a a mask; NaN counts as true) */
  LT_LERP,    /* a + c (b - a) */
  LT_ADDCMUL, /* a + p b c */
  LT_ADDCDIV  /* a + p b / c */
} lt_ternop;

/* The elementwise kernels compute in their output's dtype, float or double, and every
 * input has that dtype; scalars (p, q) are rounded to it first. */
/* out[i] = a[i] op b[i]; same shape (strides may be 0). out may alias a or b. */
void lt_binary(lt_tensor *out, const lt_tensor *a, const lt_tensor *b, lt_binop op);
/* out[i] = f(a[i]; p, q). out may alias a. */
void lt_unary(lt_tensor *out, const lt_tensor *a, lt_unop op, double p, double q);
/* out[i] = f(a[i], b[i], c[i]; p); out's shape (strides may be 0). out may be the same
 * view as a. */
void lt_ternary(lt_tensor *out, const lt_tensor *a, const lt_tensor *b, const lt_tensor *c, lt_ternop op, double p);
/* dst[i] = src[i] with dtype conversion (C's: to float rounds to nearest, to int
 * truncates and needs a value in int32's range); same number of elements, any strides
 * (elements are taken in row-major order of each). */
void lt_copy(lt_tensor *dst, const lt_tensor *src);
/* Reduction of every element of a float or double tensor (float64 accumulation). var/std
 * are unbiased (n-1). For argmax/argmin, the result is the 0-based row-major index. p:
 * the norm's order. */
double lt_reduce_all(const lt_tensor *a, lt_redop op, double p);
/* Reduce along dim d: out has a's shape with size[d] = 1 (a's dtype, float or double; int
 * for arg-ops). */
void lt_reduce_dim(lt_tensor *out, const lt_tensor *a, int d, lt_redop op, double p);

typedef enum { LT_EQ, LT_NE, LT_LT, LT_LE, LT_GT, LT_GE } lt_cmpop;
/* out[i] = (a[i] op b[i]) ? 1 : 0. out float; a and b of out's shape (strides may be 0),
 * each of any dtype. Compared without arithmetic, in the inputs' own types (int with int
 * as integers, float with float; any other pair as doubles, exact for all three), so
 * infinities compare equal, subnormals are never flushed, and ints above 2^24 keep
 * every bit. NaN compares false except under LT_NE. */
void lt_compare(lt_tensor *out, const lt_tensor *a, const lt_tensor *b, lt_cmpop op);
/* out[i] = (a[i] op s) ? 1 : 0, a[i] (any dtype) taken exactly as a double. */
void lt_compare_scalar(lt_tensor *out, const lt_tensor *a, double s, lt_cmpop op);
/* sum_i a[i] * b[i] over two views of one shape and dtype, summed in double with no
 * temporary; float products are rounded to float first. */
double lt_dot(const lt_tensor *a, const lt_tensor *b);
/* ---- indexing. Indices are int32 and 1-based; the caller has checked them (lt_index_check)
 * and that out overlaps no input. ---- */

/* 0 when every element of the int tensor index is in 1..hi; else -1, *bad = the first that is not. */
int lt_index_check(const lt_tensor *index, int64_t hi, int64_t *bad);
/* out[.., i, ..] = src[.., index[i * index_stride] - 1, ..] along dimension d, for i <
 * out->size[d]; out and src of one dtype and equal sizes but along d. */
void lt_index_select(lt_tensor *out, const lt_tensor *src, int d, const int32_t *index, int64_t index_stride);
/* t[.., index[i] - 1, ..] += src[.., i, ..] along d for i < src->size[d], in order (a
 * repeated index adds each time); t and src float, or both double. */
void lt_index_add(lt_tensor *t, int d, const int32_t *index, int64_t index_stride, const lt_tensor *src);
/* out[p] = src[p with p[d] = index[p] - 1] for every position p of index (out's shape;
 * src's sizes but along d at least index's); one dtype, any. */
void lt_gather(lt_tensor *out, const lt_tensor *src, int d, const lt_tensor *index);
/* t[p with p[d] = index[p] - 1] = src[p] (accumulate: += , float or double) for every position p
 * of index; src has index's shape (strides may be 0) and t's dtype. Later positions win. */
void lt_scatter(lt_tensor *t, int d, const lt_tensor *index, const lt_tensor *src, int accumulate);
/* Masks are tensors of any dtype; an element is true when nonzero (NaN is true). */
/* t[p] = v (converted as by lt_set: for an int t the caller has checked v fits) where
 * mask[p]; mask of t's shape (strides may be 0). */
void lt_masked_fill(lt_tensor *t, const lt_tensor *mask, double v);
int64_t lt_count_nonzero(const lt_tensor *a);
/* out (1-D, lt_count_nonzero(mask) elements, src's dtype) = src[p] where mask[p], in
 * row-major order; mask of src's shape. */
void lt_masked_select(lt_tensor *out, const lt_tensor *src, const lt_tensor *mask);
/* out (n, ndim) int: the 1-based positions of a's n nonzero elements, row-major order. */
void lt_nonzero(lt_tensor *out, const lt_tensor *a);
/* out = the running sum (op LT_SUM) or product (LT_PROD) of a along d, accumulated in
 * float64; one shape, any dtypes (out's is rounded to as by lt_set). */
void lt_scan(lt_tensor *out, const lt_tensor *a, int d, lt_redop op);
/* values (a's dtype, any), indices (int; both a's shape, one strides) = a sorted
 * along d, stable, ascending or descending, NaN above every number; indices 1-based. -1
 * on allocation failure. */
int lt_sort(lt_tensor *values, lt_tensor *indices, const lt_tensor *a, int d, int descending);
/* values (a's dtype), indices (a's shape with size 1 along d, one strides) = the k-th (0-based,
 * k < a->size[d]) smallest of each line along d and its 1-based position. NaN propagates,
 * as in max: a line holding a NaN gives its first NaN. -1 on allocation failure. */
int lt_kthvalue(lt_tensor *values, lt_tensor *indices, const lt_tensor *a, int d, int64_t k);
/* Given sorted (n contiguous elements, ascending) and order (their 1-based positions in the
 * original), writes the distinct values into uniq (sorted's dtype), how often each occurs into counts, and
 * for every original position the 1-based number of its value into inverse (n ints);
 * returns the number of distinct values. */
int64_t lt_unique_sorted(const lt_tensor *sorted, const lt_tensor *order, lt_tensor *uniq, lt_tensor *inverse,
                         lt_tensor *counts);
/* C = beta*C + alpha * A·B for 2-D views of one dtype, C (m,n), A (m,k), B (k,n),
 * through lt_sgemm for float and lt_dgemm for double (gemm.h; alpha and beta rounded to
 * float for float): A and B are handed over transposed in place when their strides
 * allow, copied otherwise. Sizes and strides must fit the BLAS int interface (the
 * caller checks). Returns -1 on allocation failure. */
int lt_addmm(lt_tensor *c, double beta, double alpha, const lt_tensor *a, const lt_tensor *b);
/* C[i] = beta*C[i] + alpha * A[i]·B[i] for i < B: C (B,m,n), A (B,m,k), and B (B,k,n),
 * or B (k,n) shared by every product. Returns -1 on allocation failure. */
int lt_bmm(lt_tensor *c, double beta, double alpha, const lt_tensor *a, const lt_tensor *b);

#endif
