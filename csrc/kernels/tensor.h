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
 * tensor is only a view. Element counts and strides are in elements, not bytes.
 * Both dtypes are 4 bytes wide, so every view operation is dtype-agnostic.
 */
#ifndef LUNET_TENSOR_H
#define LUNET_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define LT_MAXDIM 8
#define LT_ALIGN 64 /* bytes; a cache line, enough for AVX-512 loads */

typedef enum { LT_FLOAT = 0, LT_INT = 1 } lt_dtype;

typedef struct lt_tensor {
  void *base;                 /* first element of the storage */
  int64_t offset;             /* in elements */
  int ndim;                   /* 0 .. LT_MAXDIM; 0 is a scalar with one element */
  lt_dtype dtype;
  int64_t size[LT_MAXDIM];
  int64_t stride[LT_MAXDIM];
} lt_tensor;

static inline float *lt_fdata(const lt_tensor *t) { return (float *)t->base + t->offset; }
static inline int32_t *lt_idata(const lt_tensor *t) { return (int32_t *)t->base + t->offset; }

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

typedef enum { LT_ADD, LT_SUB, LT_MUL, LT_DIV, LT_POW, LT_MAXIMUM, LT_MINIMUM } lt_binop;
typedef enum {
  LT_NEG, LT_EXP, LT_LOG, LT_SQRT, LT_TANH, LT_SIGMOID, LT_RELU, LT_ABS,
  LT_POWS,  /* x^p */
  LT_CLAMP, /* min(max(x, p), q) */
  LT_FILL,  /* p */
  LT_AFFINE /* p*x + q: scalar add, sub, mul, div */
} lt_unop;
typedef enum { LT_SUM, LT_MEAN, LT_MAX, LT_MIN, LT_VAR, LT_STD, LT_ARGMAX, LT_ARGMIN } lt_redop;

/* out[i] = a[i] op b[i]; all three float, same shape (strides may be 0). out may alias a or b. */
void lt_binary(lt_tensor *out, const lt_tensor *a, const lt_tensor *b, lt_binop op);
/* out[i] = f(a[i]; p, q); float. out may alias a. */
void lt_unary(lt_tensor *out, const lt_tensor *a, lt_unop op, float p, float q);
/* dst[i] = src[i] with dtype conversion; same number of elements, any strides
 * (elements are taken in row-major order of each). */
void lt_copy(lt_tensor *dst, const lt_tensor *src);
/* Reduction of every element (float64 accumulation). var/std are unbiased (n-1). For
 * argmax/argmin, the result is the 0-based row-major index. */
double lt_reduce_all(const lt_tensor *a, lt_redop op);
/* Reduce along dim d: out has a's shape with size[d] = 1 (float; int for arg-ops). */
void lt_reduce_dim(lt_tensor *out, const lt_tensor *a, int d, lt_redop op);

typedef enum { LT_EQ, LT_NE, LT_LT, LT_LE, LT_GT, LT_GE } lt_cmpop;
/* out[i] = (a[i] op b[i]) ? 1 : 0. out float; a and b of out's shape (strides may be 0),
 * each float or int. Compared without arithmetic, in the inputs' own types (int with int
 * as integers, float with float; int with float as doubles, exact for both), so
 * infinities compare equal, subnormals are never flushed, and ints above 2^24 keep
 * every bit. NaN compares false except under LT_NE. */
void lt_compare(lt_tensor *out, const lt_tensor *a, const lt_tensor *b, lt_cmpop op);
/* out[i] = (a[i] op s) ? 1 : 0, a[i] (float or int) taken exactly as a double. */
void lt_compare_scalar(lt_tensor *out, const lt_tensor *a, double s, lt_cmpop op);
/* sum_i a[i] * b[i] over two float views of one shape: each product rounded to float,
 * summed in double, with no temporary. */
double lt_dot(const lt_tensor *a, const lt_tensor *b);
/* out[i] = src[index[i * index_stride] - 1] for i < out->size[0]: rows (along dimension
 * 0) picked by 1-based indices, which the caller has checked are in 1..src->size[0].
 * out and src have equal sizes beyond dimension 0 and one dtype. */
void lt_gather_rows(lt_tensor *out, const lt_tensor *src, const int32_t *index, int64_t index_stride);
/* C = beta*C + alpha * A·B for 2-D float views, C (m,n), A (m,k), B (k,n), through
 * lt_sgemm (gemm.h): A and B are handed over transposed in place when their strides
 * allow, copied otherwise. Sizes and strides must fit the BLAS int interface (the
 * caller checks). Returns -1 on allocation failure. */
int lt_addmm(lt_tensor *c, float beta, float alpha, const lt_tensor *a, const lt_tensor *b);
/* C[i] = beta*C[i] + alpha * A[i]·B[i] for i < B: C (B,m,n), A (B,m,k), and B (B,k,n),
 * or B (k,n) shared by every product. Returns -1 on allocation failure. */
int lt_bmm(lt_tensor *c, float beta, float alpha, const lt_tensor *a, const lt_tensor *b);

#endif
