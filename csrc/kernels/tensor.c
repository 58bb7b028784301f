/* tensor.c — shape bookkeeping and the generic kernels over strided views:
 * elementwise maps, copies, reductions, and the sgemm front end. */
#include "tensor.h"
#include "fastmath.h"
#include "gemm.h"
#include "threadpool.h"

#include <float.h>
#include <tgmath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t lt_numel(const lt_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= t->size[i];
  return n;
}

int lt_is_contiguous(const lt_tensor *t) {
  int64_t expect = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->size[i] != 1 && t->stride[i] != expect) return 0;
    expect *= t->size[i];
  }
  return 1;
}

int lt_same_shape(const lt_tensor *a, const lt_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->size[i] != b->size[i]) return 0;
  return 1;
}

void lt_set_contiguous_strides(lt_tensor *t) {
  int64_t st = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    t->stride[i] = st;
    st *= t->size[i];
  }
}

const char *lt_shape_str(const lt_tensor *t, char *buf, size_t n) {
  size_t used = 0;
  used += (size_t)snprintf(buf, n, "(");
  for (int i = 0; i < t->ndim && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, i ? ",%lld" : "%lld", (long long)t->size[i]);
  if (used < n) snprintf(buf + used, n - used, ")");
  return buf;
}

/* Views are checked against their storage when made, so these extents fit int64. */
static int view_extent(const lt_tensor *t, int64_t *last) {
  int64_t e = t->offset;
  for (int i = 0; i < t->ndim; i++) {
    if (t->size[i] == 0) return 0;
    e += (t->size[i] - 1) * t->stride[i];
  }
  *last = e;
  return 1;
}

int lt_overlap(const lt_tensor *a, const lt_tensor *b) {
  int64_t ea, eb;
  return a->base == b->base && view_extent(a, &ea) && view_extent(b, &eb) && a->offset <= eb &&
         b->offset <= ea;
}

int lt_same_view(const lt_tensor *a, const lt_tensor *b) {
  if (a->base != b->base || a->offset != b->offset || !lt_same_shape(a, b)) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->size[i] != 1 && a->stride[i] != b->stride[i]) return 0;
  return 1;
}

int lt_shape_numel(int ndim, const int64_t *size, int64_t *numel) {
  int64_t span = 1;
  int empty = 0;
  for (int i = 0; i < ndim; i++) {
    if (size[i] == 0) empty = 1;
    else if (lt_mul_overflow(span, size[i], &span)) return -1;
  }
  *numel = empty ? 0 : span;
  return 0;
}

/* ---- the strided walker ----
 * Up to four views of one shape are walked together. Size-1 dimensions are dropped and
 * neighbouring dimensions merged wherever every view is contiguous across them, so a
 * contiguous tensor becomes one row and the inner loops run over plain arrays. */
typedef struct {
  int ndim;
  int64_t size[LT_MAXDIM];
  int64_t st[4][LT_MAXDIM];
} walk_t;

static void walk_init(walk_t *w, int ndim, const int64_t *size, int nt, const int64_t *const *strides) {
  w->ndim = 0;
  for (int d = 0; d < ndim; d++) {
    if (size[d] == 1) continue;
    int k = w->ndim;
    if (k > 0) {
      int merge = 1;
      for (int t = 0; t < nt; t++)
        if (w->st[t][k - 1] != strides[t][d] * size[d]) merge = 0;
      if (merge) {
        w->size[k - 1] *= size[d];
        for (int t = 0; t < nt; t++) w->st[t][k - 1] = strides[t][d];
        continue;
      }
    }
    w->size[k] = size[d];
    for (int t = 0; t < nt; t++) w->st[t][k] = strides[t][d];
    w->ndim++;
  }
  if (w->ndim == 0) { /* a single element */
    w->ndim = 1;
    w->size[0] = 1;
    for (int t = 0; t < nt; t++) w->st[t][0] = 1;
  }
}

/* Calls row(ctx, offsets, inner strides, length) once per innermost row. */
typedef void (*row_fn)(void *ctx, const int64_t *off, const int64_t *st, int64_t n);

static void walk_rows(const walk_t *w, int nt, row_fn row, void *ctx) {
  int last = w->ndim - 1;
  int64_t idx[LT_MAXDIM] = {0};
  int64_t off[4] = {0, 0, 0, 0};
  int64_t inner[4];
  for (int t = 0; t < nt; t++) inner[t] = w->st[t][last];
  int64_t rows = 1;
  for (int d = 0; d < last; d++) rows *= w->size[d];
  for (int64_t r = 0; r < rows; r++) {
    row(ctx, off, inner, w->size[last]);
    for (int d = last - 1; d >= 0; d--) {
      idx[d]++;
      for (int t = 0; t < nt; t++) off[t] += w->st[t][d];
      if (idx[d] < w->size[d]) break;
      for (int t = 0; t < nt; t++) off[t] -= w->st[t][d] * w->size[d];
      idx[d] = 0;
    }
  }
}

typedef struct {
  row_fn row;
  void *ctx;
  int nt;
  const int64_t *off, *st;
} split_job;

static void split_chunk(void *vjob, int64_t begin, int64_t end, int lane) {
  const split_job *j = vjob;
  int64_t off[4];
  for (int t = 0; t < j->nt; t++) off[t] = j->off[t] + begin * j->st[t];
  j->row(j->ctx, off, j->st, end - begin);
}

/* walk_rows for elementwise maps (every output element depends on its inputs alone):
 * a row longer than a chunk is cut into chunks over the thread pool. */
typedef struct {
  row_fn row;
  void *ctx;
  int nt;
} par_ctx;

static void par_row(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {
  const par_ctx *c = vctx;
  if (n <= LT_EW_GRAIN) {
    c->row(c->ctx, off, st, n);
    return;
  }
  split_job j = {c->row, c->ctx, c->nt, off, st};
  lt_parallel_for(n, LT_EW_GRAIN, split_chunk, &j);
}

static void walk_rows_parallel(const walk_t *w, int nt, row_fn row, void *ctx) {
  par_ctx c = {row, ctx, nt};
  walk_rows(w, nt, par_row, &c);
}

/* ---- elementwise ----
 * Each row function is written once, as a macro over the element type T, and defined for
 * float and for double: the arithmetic is T's (tgmath.h picks expf or exp by the type of
 * the argument), so float tensors compute exactly as before double existed. */

typedef struct {
  void *o;
  const void *a, *b, *c;
  int op;
  double p, q; /* the scalars, rounded to T by the row */
} ew_ctx;

#define DEFINE_SCALAR_HELPERS(T)                                                          \
  static inline T sigmoid_##T(T x) { return (T)1 / ((T)1 + exp(-x)); }                   \
  /* x - y floor(x / y): the remainder with the divisor's sign (Python's %). */          \
  static inline T remainder_py_##T(T x, T y) {                                            \
    T r = fmod(x, y);                                                                     \
    return r != 0 && ((r < 0) != (y < 0)) ? r + y : r;                                    \
  }                                                                                       \
  /* -1, 0 or 1; NaN stays NaN and -0 stays -0. */                                        \
  static inline T sign_##T(T x) { return x > 0 ? (T)1 : x < 0 ? (T)-1 : x; }
DEFINE_SCALAR_HELPERS(float)
DEFINE_SCALAR_HELPERS(double)
/* tanh: float through fastmath.h's rational form (a few ulp, vectorizes), double exact. */
static inline float tanh_float(float x) { return lt_ftanh(x); }
static inline double tanh_double(double x) { return tanh(x); }

#define ROW_LOOP(T, EXPR)                                                  \
  do {                                                                     \
    if (so == 1 && sa == 1 && sb == 1) {                                   \
      for (int64_t i = 0; i < n; i++) { T x = a[i], y = b[i]; o[i] = (EXPR); } \
    } else {                                                               \
      for (int64_t i = 0; i < n; i++) {                                    \
        T x = a[i * sa], y = b[i * sb];                                    \
        o[i * so] = (EXPR);                                                \
      }                                                                    \
    }                                                                      \
  } while (0)

#define DEFINE_BINARY_ROW(T)                                                                  \
  static void binary_row_##T(void *vctx, const int64_t *off, const int64_t *st, int64_t n) { \
    const ew_ctx *c = vctx;                                                                   \
    T *o = (T *)c->o + off[0];                                                                \
    const T *a = (const T *)c->a + off[1], *b = (const T *)c->b + off[2];                     \
    const int64_t so = st[0], sa = st[1], sb = st[2];                                         \
    switch ((lt_binop)c->op) {                                                                \
      case LT_ADD: ROW_LOOP(T, x + y); break;                                                 \
      case LT_SUB: ROW_LOOP(T, x - y); break;                                                 \
      case LT_MUL: ROW_LOOP(T, x * y); break;                                                 \
      case LT_DIV: ROW_LOOP(T, x / y); break;                                                 \
      case LT_POW: ROW_LOOP(T, pow(x, y)); break;                                             \
      case LT_MAXIMUM: ROW_LOOP(T, x > y || isnan(x) ? x : y); break;                         \
      case LT_MINIMUM: ROW_LOOP(T, x < y || isnan(x) ? x : y); break;                         \
      case LT_FMOD: ROW_LOOP(T, fmod(x, y)); break;                                           \
      case LT_REMAINDER: ROW_LOOP(T, remainder_py_##T(x, y)); break;                          \
      case LT_ATAN2: ROW_LOOP(T, atan2(x, y)); break;                                         \
    }                                                                                         \
  }
DEFINE_BINARY_ROW(float)
DEFINE_BINARY_ROW(double)

void lt_binary(lt_tensor *out, const lt_tensor *a, const lt_tensor *b, lt_binop op) {
  const int64_t *st[3] = {out->stride, a->stride, b->stride};
  walk_t w;
  walk_init(&w, out->ndim, out->size, 3, st);
  ew_ctx c = {lt_data(out), lt_data(a), lt_data(b), NULL, (int)op, 0, 0};
  walk_rows_parallel(&w, 3, out->dtype == LT_DOUBLE ? binary_row_double : binary_row_float, &c);
}

#define UROW_LOOP(T, EXPR)                                                 \
  do {                                                                     \
    if (so == 1 && sa == 1) {                                              \
      for (int64_t i = 0; i < n; i++) { T x = a[i]; o[i] = (EXPR); }      \
    } else {                                                               \
      for (int64_t i = 0; i < n; i++) { T x = a[i * sa]; o[i * so] = (EXPR); } \
    }                                                                      \
  } while (0)

#define DEFINE_UNARY_ROW(T)                                                                  \
  static void unary_row_##T(void *vctx, const int64_t *off, const int64_t *st, int64_t n) { \
    const ew_ctx *c = vctx;                                                                  \
    T *o = (T *)c->o + off[0];                                                               \
    const T *a = (const T *)c->a + off[1];                                                   \
    const int64_t so = st[0], sa = st[1];                                                    \
    const T p = (T)c->p, q = (T)c->q;                                                        \
    switch ((lt_unop)c->op) {                                                                \
      case LT_NEG: UROW_LOOP(T, -x); break;                                                  \
      case LT_EXP: UROW_LOOP(T, exp(x)); break;                                              \
      case LT_LOG: UROW_LOOP(T, log(x)); break;                                              \
      case LT_SQRT: UROW_LOOP(T, sqrt(x)); break;                                            \
      case LT_TANH: UROW_LOOP(T, tanh_##T(x)); break; /* float: lt_ftanh, vectorized */      \
      case LT_SIGMOID: UROW_LOOP(T, sigmoid_##T(x)); break;                                  \
      case LT_RELU: UROW_LOOP(T, x < 0 ? (T)0 : x); break; /* NaN passes through */          \
      case LT_ABS: UROW_LOOP(T, fabs(x)); break;                                             \
      case LT_POWS: UROW_LOOP(T, p == 2 ? x * x : pow(x, p)); break;                         \
      case LT_CLAMP: UROW_LOOP(T, x < p ? p : (x > q ? q : x)); break;                       \
      case LT_FILL: UROW_LOOP(T, ((void)x, p)); break;                                       \
      case LT_AFFINE: UROW_LOOP(T, p * x + q); break;                                        \
      case LT_SIN: UROW_LOOP(T, sin(x)); break;                                              \
      case LT_COS: UROW_LOOP(T, cos(x)); break;                                              \
      case LT_FLOOR: UROW_LOOP(T, floor(x)); break;                                          \
      case LT_CEIL: UROW_LOOP(T, ceil(x)); break;                                            \
      case LT_ROUND: UROW_LOOP(T, nearbyint(x)); break; /* halves to even, as PyTorch */     \
      case LT_SIGN: UROW_LOOP(T, sign_##T(x)); break;                                        \
    }                                                                                        \
  }
DEFINE_UNARY_ROW(float)
DEFINE_UNARY_ROW(double)

void lt_unary(lt_tensor *out, const lt_tensor *a, lt_unop op, double p, double q) {
  const int64_t *st[2] = {out->stride, a->stride};
  walk_t w;
  walk_init(&w, out->ndim, out->size, 2, st);
  ew_ctx c = {lt_data(out), lt_data(a), NULL, NULL, (int)op, p, q};
  walk_rows_parallel(&w, 2, out->dtype == LT_DOUBLE ? unary_row_double : unary_row_float, &c);
}

#define DEFINE_TERNARY_ROW(T)                                                                    \
  static void ternary_row_##T(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {   \
    const ew_ctx *c = vctx;                                                                      \
    T *o = (T *)c->o + off[0];                                                                   \
    const T *a = (const T *)c->a + off[1], *b = (const T *)c->b + off[2], *w = (const T *)c->c + off[3]; \
    const int64_t so = st[0], sa = st[1], sb = st[2], sc = st[3];                                \
    const T p = (T)c->p;                                                                         \
    switch ((lt_ternop)c->op) {                                                                  \
      case LT_WHERE: for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] != 0 ? b[i * sb] : w[i * sc]; break; \
      case LT_LERP:                                                                              \
        for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] + w[i * sc] * (b[i * sb] - a[i * sa]); \
        break;                                                                                   \
      case LT_ADDCMUL: for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] + p * b[i * sb] * w[i * sc]; break; \
      case LT_ADDCDIV: for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] + p * b[i * sb] / w[i * sc]; break; \
    }                                                                                            \
  }
DEFINE_TERNARY_ROW(float)
DEFINE_TERNARY_ROW(double)

void lt_ternary(lt_tensor *out, const lt_tensor *a, const lt_tensor *b, const lt_tensor *c, lt_ternop op, double p) {
  const int64_t *st[4] = {out->stride, a->stride, b->stride, c->stride};
  walk_t w;
  walk_init(&w, out->ndim, out->size, 4, st);
  ew_ctx x = {lt_data(out), lt_data(a), lt_data(b), lt_data(c), (int)op, p, 0};
  walk_rows_parallel(&w, 4, out->dtype == LT_DOUBLE ? ternary_row_double : ternary_row_float, &x);
}

/* ---- copy with conversion; walks both in row-major order of their own shapes ---- */

static inline void load_walker(walk_t *w, const lt_tensor *t) {
  const int64_t *st[1] = {t->stride};
  walk_init(w, t->ndim, t->size, 1, st);
}

/* Offset of the k-th element (row-major) of a walked view. */
static int64_t walk_offset(const walk_t *w, int64_t k) {
  int64_t off = 0;
  for (int d = w->ndim - 1; d >= 0; d--) {
    off += (k % w->size[d]) * w->st[0][d];
    k /= w->size[d];
  }
  return off;
}

typedef struct {
  void *d;
  const void *s;
} copy_ctx;

/* d[i] = s[i] converted: a C conversion (float rounds to nearest, int truncates). */
#define DEFINE_COPY_ROW(TD, TS)                                                                      \
  static void copy_row_##TD##_##TS(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {  \
    const copy_ctx *c = vctx;                                                                        \
    TD *d = (TD *)c->d + off[0];                                                                     \
    const TS *s = (const TS *)c->s + off[1];                                                         \
    for (int64_t i = 0; i < n; i++) d[i * st[0]] = (TD)s[i * st[1]];                                 \
  }
#define DEFINE_COPY_ROWS(TD) DEFINE_COPY_ROW(TD, float) DEFINE_COPY_ROW(TD, int32_t) DEFINE_COPY_ROW(TD, double)
DEFINE_COPY_ROWS(float)
DEFINE_COPY_ROWS(int32_t)
DEFINE_COPY_ROWS(double)

/* By [dst dtype][src dtype], in lt_dtype's order: float, int, double. */
static const row_fn copy_rows[3][3] = {
    {copy_row_float_float, copy_row_float_int32_t, copy_row_float_double},
    {copy_row_int32_t_float, copy_row_int32_t_int32_t, copy_row_int32_t_double},
    {copy_row_double_float, copy_row_double_int32_t, copy_row_double_double},
};

void lt_copy(lt_tensor *dst, const lt_tensor *src) {
  int64_t n = lt_numel(dst);
  if (n == 0) return;
  if (dst->dtype == src->dtype && lt_is_contiguous(dst) && lt_is_contiguous(src)) {
    memmove(lt_data(dst), lt_data(src), (size_t)n * lt_elsize(dst->dtype));
    return;
  }
  row_fn row = copy_rows[dst->dtype][src->dtype];
  copy_ctx c = {lt_data(dst), lt_data(src)};
  if (lt_same_shape(dst, src)) { /* one walk with both stride sets: no division per element */
    const int64_t *st[2] = {dst->stride, src->stride};
    walk_t w;
    walk_init(&w, dst->ndim, dst->size, 2, st);
    walk_rows(&w, 2, row, &c);
    return;
  }
  walk_t wd, ws;
  load_walker(&wd, dst);
  load_walker(&ws, src);
  const int64_t unit[2] = {1, 1};
  for (int64_t k = 0; k < n; k++) {
    const int64_t off[2] = {walk_offset(&wd, k), walk_offset(&ws, k)};
    row(&c, off, unit, 1);
  }
}

/* ---- reductions ---- */

typedef struct {
  double acc, acc2;
  double best;
  int64_t best_at, count;
  double p; /* the norm's order */
} red_state;

static void red_init(red_state *r, lt_redop op, double p) {
  r->acc = op == LT_PROD ? 1.0 : op == LT_NORM && p == -INFINITY ? INFINITY : 0.0;
  r->acc2 = 0.0;
  r->count = 0;
  r->best_at = -1;
  r->best = (op == LT_MAX || op == LT_ARGMAX || op == LT_LOGSUMEXP) ? -INFINITY : INFINITY;
  r->p = p;
}

/* Element i of a float or double array, as a double. The functions below that take the
 * dtype are written once and compiled twice: always inlined into a caller that passes a
 * constant dtype (red_visit, red_visit2), so that no loop asks the dtype per element. */
#define ALWAYS_INLINE static inline __attribute__((always_inline))
ALWAYS_INLINE double load_real(const void *x, int64_t i, lt_dtype dt) {
  return dt == LT_DOUBLE ? ((const double *)x)[i] : (double)((const float *)x)[i];
}

/* acc = sum |x|^p (p finite, nonzero), the count of nonzeros (p = 0), or max/min |x|
 * (p = +-inf); a NaN makes the norm NaN. */
ALWAYS_INLINE void norm_visit(red_state *r, const void *x, lt_dtype dt, int64_t s, int64_t n) {
  const double p = r->p;
  for (int64_t i = 0; i < n; i++) {
    double a = fabs(load_real(x, i * s, dt));
    if (isnan(a) || isnan(r->acc)) r->acc = NAN;
    else if (p == INFINITY) r->acc = a > r->acc ? a : r->acc;
    else if (p == -INFINITY) r->acc = a < r->acc ? a : r->acc;
    else if (p == 0.0) r->acc += a != 0.0;
    else if (p == 1.0) r->acc += a;
    else if (p == 2.0) r->acc += a * a;
    else r->acc += pow(a, p);
  }
}

/* Visit n values x[0], x[s], ... (float or double); index k0 is the row-major index of
 * the first one. */
ALWAYS_INLINE void red_visit_as(red_state *r, lt_redop op, const void *x, lt_dtype dt, int64_t s, int64_t n,
                                int64_t k0, int64_t kstep) {
  switch (op) {
    case LT_SUM:
    case LT_MEAN:
      for (int64_t i = 0; i < n; i++) r->acc += load_real(x, i * s, dt);
      break;
    case LT_VAR:
    case LT_STD:
      for (int64_t i = 0; i < n; i++) r->acc += load_real(x, i * s, dt);
      break;
    case LT_PROD:
      for (int64_t i = 0; i < n; i++) r->acc *= load_real(x, i * s, dt);
      break;
    case LT_NORM: norm_visit(r, x, dt, s, n); break;
    case LT_ALL:
    case LT_ANY:
      for (int64_t i = 0; i < n; i++) r->acc += load_real(x, i * s, dt) != 0.0; /* NaN counts as true */
      break;
    case LT_MAX:
    case LT_ARGMAX:
    case LT_LOGSUMEXP: /* the first pass finds the maximum */
      for (int64_t i = 0; i < n; i++) {
        double v = load_real(x, i * s, dt);
        if (v > r->best || r->best_at < 0 || isnan(v)) {
          if (isnan(r->best) && r->best_at >= 0) break;
          r->best = v;
          r->best_at = k0 + i * kstep;
        }
      }
      break;
    case LT_MIN:
    case LT_ARGMIN:
      for (int64_t i = 0; i < n; i++) {
        double v = load_real(x, i * s, dt);
        if (v < r->best || r->best_at < 0 || isnan(v)) {
          if (isnan(r->best) && r->best_at >= 0) break;
          r->best = v;
          r->best_at = k0 + i * kstep;
        }
      }
      break;
  }
  r->count += n;
}

static void red_visit(red_state *r, lt_redop op, const void *x, lt_dtype dt, int64_t s, int64_t n, int64_t k0,
                      int64_t kstep) {
  if (dt == LT_DOUBLE) red_visit_as(r, op, x, LT_DOUBLE, s, n, k0, kstep);
  else red_visit_as(r, op, x, LT_FLOAT, s, n, k0, kstep);
}

/* The second pass: sum (x - mean)^2 for var/std, sum exp(x - max) for logsumexp. */
ALWAYS_INLINE void red_visit2_as(red_state *r, lt_redop op, const void *x, lt_dtype dt, int64_t s, int64_t n,
                                 double mean) {
  if (op == LT_LOGSUMEXP) {
    if (isfinite(r->best))
      for (int64_t i = 0; i < n; i++) r->acc2 += exp(load_real(x, i * s, dt) - r->best);
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    double d = load_real(x, i * s, dt) - mean;
    r->acc2 += d * d;
  }
}

static void red_visit2(red_state *r, lt_redop op, const void *x, lt_dtype dt, int64_t s, int64_t n, double mean) {
  if (dt == LT_DOUBLE) red_visit2_as(r, op, x, LT_DOUBLE, s, n, mean);
  else red_visit2_as(r, op, x, LT_FLOAT, s, n, mean);
}

static int red_two_pass(lt_redop op) { return op == LT_VAR || op == LT_STD || op == LT_LOGSUMEXP; }

static double red_result(const red_state *r, lt_redop op) {
  switch (op) {
    case LT_SUM: return r->acc;
    case LT_MEAN: return r->count ? r->acc / (double)r->count : NAN;
    case LT_VAR: return r->count > 1 ? r->acc2 / (double)(r->count - 1) : NAN;
    case LT_STD: return r->count > 1 ? sqrt(r->acc2 / (double)(r->count - 1)) : NAN;
    case LT_MAX:
    case LT_MIN: return r->best;
    case LT_ARGMAX:
    case LT_ARGMIN: return (double)r->best_at;
    case LT_PROD: return r->acc;
    case LT_NORM:
      if (r->p == 2.0) return sqrt(r->acc);
      if (r->p == 0.0 || r->p == 1.0 || isinf(r->p)) return r->acc;
      return pow(r->acc, 1.0 / r->p);
    case LT_LOGSUMEXP: /* an infinite (or NaN) maximum is the answer; empty gives -inf */
      return isfinite(r->best) ? r->best + log(r->acc2) : r->best;
    case LT_ALL: return r->acc == (double)r->count;
    case LT_ANY: return r->acc > 0.0;
  }
  return NAN;
}

typedef struct {
  const lt_tensor *a;
  red_state *r;
  lt_redop op;
  int pass;
  double mean;
  int64_t k;
} redall_ctx;

/* The element off elements past lt_data(t) of a float or double tensor. */
static inline const void *real_at(const lt_tensor *t, int64_t off) {
  return t->dtype == LT_DOUBLE ? (const void *)(lt_ddata(t) + off) : (const void *)(lt_fdata(t) + off);
}

static void redall_row(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {
  redall_ctx *c = vctx;
  if (c->pass == 2)
    red_visit2(c->r, c->op, real_at(c->a, off[0]), c->a->dtype, st[0], n, c->mean);
  else
    red_visit(c->r, c->op, real_at(c->a, off[0]), c->a->dtype, st[0], n, c->k, 1);
  c->k += n;
}

double lt_reduce_all(const lt_tensor *a, lt_redop op, double p) {
  red_state r;
  red_init(&r, op, p);
  /* Arg-ops need row-major element numbers, so walk without dropping dimensions' order:
   * merging keeps order, so the running count k is the row-major index. */
  walk_t w;
  load_walker(&w, a);
  redall_ctx c = {a, &r, op, 1, 0.0, 0};
  walk_rows(&w, 1, redall_row, &c);
  if (red_two_pass(op)) {
    c.pass = 2;
    c.mean = r.count ? r.acc / (double)r.count : 0.0;
    walk_rows(&w, 1, redall_row, &c);
  }
  return red_result(&r, op);
}

/* ---- comparisons ---- */

typedef struct {
  float *o;
  const lt_tensor *a, *b;
  lt_cmpop op;
  double s; /* the scalar of lt_compare_scalar */
} cmp_ctx;

/* r = x op y, for any one type T: NaN compares false except under ne. */
#define CMP(op, x, y)                                                                       \
  ((op) == LT_EQ ? (x) == (y) : (op) == LT_NE ? (x) != (y) : (op) == LT_LT ? (x) < (y)      \
   : (op) == LT_LE ? (x) <= (y) : (op) == LT_GT ? (x) > (y) : (x) >= (y))

static void compare_row(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {
  const cmp_ctx *c = vctx;
  float *o = c->o + off[0];
  const int64_t so = st[0], sa = st[1], sb = st[2];
  const lt_dtype da = c->a->dtype, db = c->b->dtype;
  if (da == LT_INT && db == LT_INT) {
    const int32_t *a = lt_idata(c->a) + off[1], *b = lt_idata(c->b) + off[2];
    for (int64_t i = 0; i < n; i++) o[i * so] = CMP(c->op, a[i * sa], b[i * sb]) ? 1.0f : 0.0f;
  } else if (da == LT_FLOAT && db == LT_FLOAT) {
    const float *a = lt_fdata(c->a) + off[1], *b = lt_fdata(c->b) + off[2];
    for (int64_t i = 0; i < n; i++) o[i * so] = CMP(c->op, a[i * sa], b[i * sb]) ? 1.0f : 0.0f;
  } else { /* int32, float and double all convert to double exactly */
    for (int64_t i = 0; i < n; i++)
      o[i * so] = CMP(c->op, lt_get(c->a, off[1] + i * sa), lt_get(c->b, off[2] + i * sb)) ? 1.0f : 0.0f;
  }
}

void lt_compare(lt_tensor *out, const lt_tensor *a, const lt_tensor *b, lt_cmpop op) {
  const int64_t *st[3] = {out->stride, a->stride, b->stride};
  walk_t w;
  walk_init(&w, out->ndim, out->size, 3, st);
  cmp_ctx c = {lt_fdata(out), a, b, op, 0.0};
  walk_rows_parallel(&w, 3, compare_row, &c);
}

static void compare_scalar_row(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {
  const cmp_ctx *c = vctx;
  float *o = c->o + off[0];
  const int64_t so = st[0], sa = st[1];
  const double y = c->s;
  if (c->a->dtype == LT_FLOAT) {
    const float *a = lt_fdata(c->a) + off[1];
    for (int64_t i = 0; i < n; i++) o[i * so] = CMP(c->op, (double)a[i * sa], y) ? 1.0f : 0.0f;
  } else {
    for (int64_t i = 0; i < n; i++) o[i * so] = CMP(c->op, lt_get(c->a, off[1] + i * sa), y) ? 1.0f : 0.0f;
  }
}

void lt_compare_scalar(lt_tensor *out, const lt_tensor *a, double s, lt_cmpop op) {
  const int64_t *st[2] = {out->stride, a->stride};
  walk_t w;
  walk_init(&w, out->ndim, out->size, 2, st);
  cmp_ctx c = {lt_fdata(out), a, NULL, op, s};
  walk_rows_parallel(&w, 2, compare_scalar_row, &c);
}

/* ---- dot, gather ---- */

typedef struct {
  const lt_tensor *a, *b;
  double acc;
} dot_ctx;

static void dot_row(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {
  dot_ctx *c = vctx;
  double acc = 0.0;
  if (c->a->dtype == LT_DOUBLE) {
    const double *a = lt_ddata(c->a) + off[0], *b = lt_ddata(c->b) + off[1];
    for (int64_t i = 0; i < n; i++) acc += a[i * st[0]] * b[i * st[1]];
  } else {
    const float *a = lt_fdata(c->a) + off[0], *b = lt_fdata(c->b) + off[1];
    for (int64_t i = 0; i < n; i++) acc += (double)(a[i * st[0]] * b[i * st[1]]);
  }
  c->acc += acc;
}

double lt_dot(const lt_tensor *a, const lt_tensor *b) {
  const int64_t *st[2] = {a->stride, b->stride};
  walk_t w;
  walk_init(&w, a->ndim, a->size, 2, st);
  dot_ctx c = {a, b, 0.0};
  walk_rows(&w, 2, dot_row, &c);
  return c.acc;
}

/* The view of row i of t along dimension 0: t[i] with one dimension less. */
static lt_tensor row_view(const lt_tensor *t, int64_t i) {
  lt_tensor v = *t;
  v.ndim = t->ndim - 1;
  v.offset = t->offset + i * t->stride[0];
  for (int d = 1; d < t->ndim; d++) {
    v.size[d - 1] = t->size[d];
    v.stride[d - 1] = t->stride[d];
  }
  return v;
}

/* The view t[..., i, ...] along dimension d, which keeps its size of 1. */
static lt_tensor slice_view(const lt_tensor *t, int d, int64_t i) {
  lt_tensor v = *t;
  v.offset = t->offset + i * t->stride[d];
  v.size[d] = 1;
  return v;
}

void lt_index_select(lt_tensor *out, const lt_tensor *src, int d, const int32_t *index, int64_t index_stride) {
  for (int64_t i = 0; i < out->size[d]; i++) {
    lt_tensor o = slice_view(out, d, i), s = slice_view(src, d, (int64_t)index[i * index_stride] - 1);
    lt_copy(&o, &s);
  }
}

void lt_index_add(lt_tensor *t, int d, const int32_t *index, int64_t index_stride, const lt_tensor *src) {
  for (int64_t i = 0; i < src->size[d]; i++) {
    lt_tensor o = slice_view(t, d, (int64_t)index[i * index_stride] - 1), s = slice_view(src, d, i);
    lt_binary(&o, &o, &s, LT_ADD);
  }
}

/* ---- position walks: every position of a shape in row-major order, with the offsets
 * of up to three views of it (no merging: kernels below need the position itself) ---- */
typedef struct {
  int ndim;
  const int64_t *size;
  int nt;
  const int64_t *st[3];
  int64_t pos[LT_MAXDIM];
  int64_t off[3];
} pos_walk;

static void pos_init(pos_walk *w, int ndim, const int64_t *size, int nt, const int64_t *const *st) {
  memset(w, 0, sizeof *w);
  w->ndim = ndim;
  w->size = size;
  w->nt = nt;
  for (int t = 0; t < nt; t++) w->st[t] = st[t];
}

/* Step to the next position; 0 after the last. */
static int pos_next(pos_walk *w) {
  for (int d = w->ndim - 1; d >= 0; d--) {
    w->pos[d]++;
    for (int t = 0; t < w->nt; t++) w->off[t] += w->st[t][d];
    if (w->pos[d] < w->size[d]) return 1;
    for (int t = 0; t < w->nt; t++) w->off[t] -= w->st[t][d] * w->size[d];
    w->pos[d] = 0;
  }
  return 0;
}

static int64_t shape_numel(int ndim, const int64_t *size) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= size[i];
  return n;
}

static inline int nonzero_at(const lt_tensor *t, int64_t off) { return lt_get(t, off) != 0.0; }

/* Element di of d = element si of s, both of one dtype of es bytes (lt_elsize). */
static inline void copy_elem(void *d, int64_t di, const void *s, int64_t si, size_t es) {
  if (es == 8) ((uint64_t *)d)[di] = ((const uint64_t *)s)[si];
  else ((uint32_t *)d)[di] = ((const uint32_t *)s)[si];
}

/* The first index outside 1..hi, row by row (row-major order). */
typedef struct {
  const int32_t *ix;
  int64_t hi, bad;
  int found;
} check_ctx;

static void check_row(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {
  check_ctx *c = vctx;
  if (c->found) return;
  const int32_t *ix = c->ix + off[0];
  for (int64_t i = 0; i < n; i++) {
    const int32_t k = ix[i * st[0]];
    if (k < 1 || k > c->hi) {
      c->bad = k;
      c->found = 1;
      return;
    }
  }
}

int lt_index_check(const lt_tensor *index, int64_t hi, int64_t *bad) {
  if (lt_numel(index) == 0) return 0;
  const int64_t *st[1] = {index->stride};
  walk_t w;
  walk_init(&w, index->ndim, index->size, 1, st);
  check_ctx c = {lt_idata(index), hi, 0, 0};
  walk_rows(&w, 1, check_row, &c);
  if (c.found) *bad = c.bad;
  return c.found ? -1 : 0;
}

/* Walks three views over index's shape, row by row, the one at `moved` with its stride
 * along d zero (the index moves along d). */
static void walk_indexed(const lt_tensor *index, const int64_t *s0, const int64_t *s1, const int64_t *s2, int moved,
                         int d, row_fn row, void *ctx) {
  const int64_t *st[3] = {s0, s1, s2};
  int64_t z[LT_MAXDIM];
  memcpy(z, st[moved], sizeof z);
  z[d] = 0;
  st[moved] = z;
  walk_t w;
  walk_init(&w, index->ndim, index->size, 3, st);
  walk_rows(&w, 3, row, ctx);
}

/* The rows of gather and scatter: out (written) and in (read) of one dtype of es bytes,
 * the index, and the stride along d of the view the index moves. */
typedef struct {
  void *out;
  const void *in;
  const int32_t *ix;
  int64_t sd;
  size_t es;
  lt_dtype dtype;
  int accumulate;
} index_ctx;

/* out[p] = in[p with p[d] = index[p] - 1] (views 0, 1, 2: out, index, in) */
static void gather_row(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {
  const index_ctx *c = vctx;
  const int32_t *ix = c->ix + off[1];
  if (c->es == 8) {
    uint64_t *o = (uint64_t *)c->out + off[0];
    const uint64_t *s = (const uint64_t *)c->in + off[2];
    for (int64_t i = 0; i < n; i++) o[i * st[0]] = s[i * st[2] + ((int64_t)ix[i * st[1]] - 1) * c->sd];
  } else {
    uint32_t *o = (uint32_t *)c->out + off[0];
    const uint32_t *s = (const uint32_t *)c->in + off[2];
    for (int64_t i = 0; i < n; i++) o[i * st[0]] = s[i * st[2] + ((int64_t)ix[i * st[1]] - 1) * c->sd];
  }
}

/* out[p with p[d] = index[p] - 1] = in[p], or +=, in row-major order: a repeated position
 * takes the last value (or the sum in that order) */
static void scatter_row(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {
  const index_ctx *c = vctx;
  const int32_t *ix = c->ix + off[1];
  for (int64_t i = 0; i < n; i++) {
    const int64_t at = off[0] + i * st[0] + ((int64_t)ix[i * st[1]] - 1) * c->sd, from = off[2] + i * st[2];
    if (!c->accumulate) copy_elem(c->out, at, c->in, from, c->es);
    else if (c->dtype == LT_DOUBLE) ((double *)c->out)[at] += ((const double *)c->in)[from];
    else ((float *)c->out)[at] += ((const float *)c->in)[from];
  }
}

void lt_gather(lt_tensor *out, const lt_tensor *src, int d, const lt_tensor *index) {
  if (lt_numel(index) == 0) return;
  index_ctx c = {lt_data(out), lt_data(src), lt_idata(index), src->stride[d], lt_elsize(src->dtype), src->dtype, 0};
  walk_indexed(index, out->stride, index->stride, src->stride, 2, d, gather_row, &c);
}

void lt_scatter(lt_tensor *t, int d, const lt_tensor *index, const lt_tensor *src, int accumulate) {
  if (lt_numel(index) == 0) return;
  index_ctx c = {lt_data(t), lt_data(src), lt_idata(index), t->stride[d], lt_elsize(t->dtype), t->dtype, accumulate};
  walk_indexed(index, t->stride, index->stride, src->stride, 0, d, scatter_row, &c);
}

/* ---- masks ---- */

/* The mask ops walk row by row in row-major order (walk_rows): view 0 the tensor, view 1
 * the mask. */
typedef struct {
  lt_tensor *t;         /* masked_fill's target; masked_select's out */
  const lt_tensor *a;   /* the mask (count_nonzero's tensor) or masked_select's source */
  const lt_tensor *m;   /* masked_select's mask */
  double v;
  int64_t k;            /* count_nonzero's count; masked_select's next position in out */
} mask_ctx;

static void fill_row(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {
  const mask_ctx *c = vctx;
  for (int64_t i = 0; i < n; i++)
    if (nonzero_at(c->a, off[1] + i * st[1])) lt_set(c->t, off[0] + i * st[0], c->v);
}

void lt_masked_fill(lt_tensor *t, const lt_tensor *mask, double v) {
  if (lt_numel(t) == 0) return;
  const int64_t *st[2] = {t->stride, mask->stride};
  walk_t w;
  walk_init(&w, t->ndim, t->size, 2, st);
  mask_ctx c = {t, mask, NULL, v, 0};
  walk_rows(&w, 2, fill_row, &c);
}

static void count_row(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {
  mask_ctx *c = vctx;
  for (int64_t i = 0; i < n; i++) c->k += nonzero_at(c->a, off[0] + i * st[0]);
}

int64_t lt_count_nonzero(const lt_tensor *a) {
  if (lt_numel(a) == 0) return 0;
  const int64_t *st[1] = {a->stride};
  walk_t w;
  walk_init(&w, a->ndim, a->size, 1, st);
  mask_ctx c = {NULL, a, NULL, 0.0, 0};
  walk_rows(&w, 1, count_row, &c);
  return c.k;
}

static void select_row(void *vctx, const int64_t *off, const int64_t *st, int64_t n) {
  mask_ctx *c = vctx;
  const size_t es = lt_elsize(c->a->dtype);
  for (int64_t i = 0; i < n; i++)
    if (nonzero_at(c->m, off[1] + i * st[1]))
      copy_elem(lt_data(c->t), c->k++ * c->t->stride[0], lt_data(c->a), off[0] + i * st[0], es);
}

void lt_masked_select(lt_tensor *out, const lt_tensor *src, const lt_tensor *mask) {
  if (lt_numel(src) == 0) return;
  const int64_t *st[2] = {src->stride, mask->stride};
  walk_t w;
  walk_init(&w, src->ndim, src->size, 2, st);
  mask_ctx c = {out, src, mask, 0.0, 0};
  walk_rows(&w, 2, select_row, &c);
}

void lt_nonzero(lt_tensor *out, const lt_tensor *a) {
  if (lt_numel(a) == 0) return;
  const int64_t *st[1] = {a->stride};
  pos_walk w;
  pos_init(&w, a->ndim, a->size, 1, st);
  int32_t *o = lt_idata(out);
  int64_t k = 0;
  do {
    if (!nonzero_at(a, w.off[0])) continue;
    for (int d = 0; d < a->ndim; d++) o[k * out->stride[0] + d * out->stride[1]] = (int32_t)(w.pos[d] + 1);
    k++;
  } while (pos_next(&w));
}

/* ---- along one dimension: scans and sorting ---- */

/* Calls fn(ctx, offsets) for every position of a's shape with dimension d left out; the
 * offsets are those of a and of out (one shape but d). */
typedef void (*line_fn)(void *ctx, int64_t offa, int64_t offo);

static void each_line(const lt_tensor *a, const lt_tensor *out, int d, line_fn fn, void *ctx) {
  int64_t size[LT_MAXDIM], sa[LT_MAXDIM], so[LT_MAXDIM];
  int nd = 0;
  for (int i = 0; i < a->ndim; i++) {
    if (i == d) continue;
    size[nd] = a->size[i];
    sa[nd] = a->stride[i];
    so[nd] = out->stride[i];
    nd++;
  }
  if (shape_numel(nd, size) == 0) return;
  const int64_t *st[2] = {sa, so};
  pos_walk w;
  pos_init(&w, nd, size, 2, st);
  do fn(ctx, w.off[0], w.off[1]);
  while (pos_next(&w));
}

typedef struct {
  const lt_tensor *a;
  lt_tensor *out;
  int64_t n, s;
  lt_redop op;
  double p;
} reduce_ctx;

static void reduce_line(void *vctx, int64_t offa, int64_t offo) {
  const reduce_ctx *c = vctx;
  red_state r;
  red_init(&r, c->op, c->p);
  const void *x = real_at(c->a, offa);
  red_visit(&r, c->op, x, c->a->dtype, c->s, c->n, 0, 1);
  if (red_two_pass(c->op)) red_visit2(&r, c->op, x, c->a->dtype, c->s, c->n, r.acc / (double)c->n);
  lt_set(c->out, offo, red_result(&r, c->op));
}

void lt_reduce_dim(lt_tensor *out, const lt_tensor *a, int d, lt_redop op, double p) {
  reduce_ctx c = {a, out, a->size[d], a->stride[d], op, p};
  each_line(a, out, d, reduce_line, &c);
}

typedef struct {
  const lt_tensor *a, *o;
  int64_t n, sa, so;
  lt_redop op;
} scan_ctx;

static void scan_line(void *vctx, int64_t offa, int64_t offo) {
  const scan_ctx *c = vctx;
  double acc = c->op == LT_PROD ? 1.0 : 0.0;
  for (int64_t i = 0; i < c->n; i++) {
    double x = lt_get(c->a, offa + i * c->sa);
    acc = c->op == LT_PROD ? acc * x : acc + x;
    lt_set(c->o, offo + i * c->so, acc);
  }
}

void lt_scan(lt_tensor *out, const lt_tensor *a, int d, lt_redop op) {
  scan_ctx c = {a, out, a->size[d], a->stride[d], out->stride[d], op};
  each_line(a, out, d, scan_line, &c);
}

/* Sorting works on doubles, which hold every dtype's elements exactly (lt_get). */
typedef struct {
  double v;
  int32_t i;
} sort_item;

/* x before y in the order: NaN is above every number (as PyTorch), equal keys keep their
 * positions (the merge takes from the left on ties). */
static inline int sort_before(double x, double y, int descending) {
  if (descending) return !isnan(y) && (isnan(x) || x > y);
  return !isnan(x) && (isnan(y) || x < y);
}

static void merge_sort(sort_item *a, sort_item *tmp, int64_t n, int descending) {
  for (int64_t width = 1; width < n; width *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * width) {
      int64_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
      int64_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) tmp[k++] = sort_before(a[j].v, a[i].v, descending) ? a[j++] : a[i++];
      while (i < mid) tmp[k++] = a[i++];
      while (j < hi) tmp[k++] = a[j++];
    }
    memcpy(a, tmp, (size_t)n * sizeof *a);
  }
}

typedef struct {
  const lt_tensor *a, *v;
  int32_t *ix;
  int64_t n, sa, sv, si;
  int descending;
  int64_t k; /* -1: the whole line; else only the k-th (0-based) smallest, NaN first found */
  sort_item *buf, *tmp;
} sort_ctx;

/* Lines of at least this many float or int elements sort by radix instead: the same order
 * (both sorts are stable and rank by the same keys), in four passes over the line. */
#define RADIX_MIN 256

/* An unsigned key that orders as sort_before: the float's bits with the sign flipped (and
 * the rest too for negatives), -0 as +0 (they tie), every NaN above +inf; descending is
 * the complement, so NaN comes first there too. An int's key is its offset value. */
static inline uint32_t sort_key(const lt_tensor *a, int64_t off, int descending) {
  uint32_t k;
  if (a->dtype == LT_INT) {
    k = (uint32_t)lt_idata(a)[off] ^ 0x80000000u;
  } else {
    float x = lt_fdata(a)[off];
    if (x == 0.0f) x = 0.0f;
    memcpy(&k, &x, sizeof k);
    k = isnan(x) ? 0xFFFFFFFFu : (k & 0x80000000u) ? ~k : k | 0x80000000u;
  }
  return descending ? ~k : k;
}

/* The line's 1-based positions in sorted order, into out: LSD radix on 8 bits at a time,
 * stable, a pass skipped where every key has the same byte; k0, k1, i1 are scratch of n. */
static void radix_order(const sort_ctx *c, int64_t offa, uint32_t *k0, uint32_t *k1, int32_t *out, int32_t *i1) {
  const int64_t n = c->n;
  int32_t *i0 = out;
  for (int64_t i = 0; i < n; i++) {
    k0[i] = sort_key(c->a, offa + i * c->sa, c->descending);
    i0[i] = (int32_t)(i + 1);
  }
  for (int shift = 0; shift < 32; shift += 8) {
    int64_t count[257] = {0};
    for (int64_t i = 0; i < n; i++) count[((k0[i] >> shift) & 0xFF) + 1]++;
    if (count[((k0[0] >> shift) & 0xFF) + 1] == n) continue;
    for (int b = 0; b < 256; b++) count[b + 1] += count[b];
    for (int64_t i = 0; i < n; i++) {
      const int64_t at = count[(k0[i] >> shift) & 0xFF]++;
      k1[at] = k0[i];
      i1[at] = i0[i];
    }
    uint32_t *kt = k0; k0 = k1; k1 = kt;
    int32_t *it = i0; i0 = i1; i1 = it;
  }
  if (i0 != out) memcpy(out, i0, (size_t)n * sizeof *out);
}

static void sort_line(void *vctx, int64_t offa, int64_t offo) {
  const sort_ctx *c = vctx;
  if (c->n >= RADIX_MIN && (c->a->dtype == LT_FLOAT || c->a->dtype == LT_INT)) {
    /* the scratch: tmp's 16 bytes per element, as two keys and an index; the order into buf */
    uint32_t *k0 = (uint32_t *)c->tmp, *k1 = k0 + c->n;
    int32_t *order = (int32_t *)c->buf, *i1 = (int32_t *)(k1 + c->n);
    radix_order(c, offa, k0, k1, order, i1);
    /* order sits in buf's first 4n bytes: filled back to front, each item lands at or
     * after the bytes it reads */
    for (int64_t i = c->n - 1; i >= 0; i--) {
      const int32_t at = order[i];
      c->buf[i] = (sort_item){lt_get(c->a, offa + (at - 1) * c->sa), at};
    }
  } else {
    for (int64_t i = 0; i < c->n; i++) c->buf[i] = (sort_item){lt_get(c->a, offa + i * c->sa), (int32_t)(i + 1)};
    merge_sort(c->buf, c->tmp, c->n, c->descending);
  }
  if (c->k >= 0) {
    int64_t at = c->k;
    if (isnan(c->buf[c->n - 1].v)) /* NaN propagates: sorted last, stably, so the line's first NaN */
      for (at = c->n - 1; at > 0 && isnan(c->buf[at - 1].v);) at--;
    lt_set(c->v, offo, c->buf[at].v);
    c->ix[offo] = c->buf[at].i;
    return;
  }
  for (int64_t i = 0; i < c->n; i++) {
    lt_set(c->v, offo + i * c->sv, c->buf[i].v);
    c->ix[offo + i * c->si] = c->buf[i].i;
  }
}

static int sort_lines(lt_tensor *values, lt_tensor *indices, const lt_tensor *a, int d, int descending,
                      int64_t k) {
  int64_t n = a->size[d];
  sort_item *buf = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof *buf);
  if (!buf) return -1;
  sort_ctx c = {a, values, lt_idata(indices), n, a->stride[d], values->stride[d],
                indices->stride[d], descending, k, buf, buf + n};
  each_line(a, values, d, sort_line, &c);
  free(buf);
  return 0;
}

int lt_sort(lt_tensor *values, lt_tensor *indices, const lt_tensor *a, int d, int descending) {
  return sort_lines(values, indices, a, d, descending, -1);
}

int lt_kthvalue(lt_tensor *values, lt_tensor *indices, const lt_tensor *a, int d, int64_t k) {
  return sort_lines(values, indices, a, d, 0, k);
}

int64_t lt_unique_sorted(const lt_tensor *sorted, const lt_tensor *order, lt_tensor *uniq, lt_tensor *inverse,
                         lt_tensor *counts) {
  int64_t n = lt_numel(sorted), u = -1;
  for (int64_t i = 0; i < n; i++) {
    double v = lt_get(sorted, i);
    if (i == 0 || v != lt_get(sorted, i - 1)) { /* NaN != NaN: each NaN is its own value */
      u++;
      lt_set(uniq, u, v);
      lt_idata(counts)[u] = 0;
    }
    lt_idata(counts)[u]++;
    lt_idata(inverse)[lt_idata(order)[i] - 1] = (int32_t)(u + 1);
  }
  return u + 1;
}

/* ---- matrix products ---- */

/* Can a 2-D view (rows r, cols c) go to BLAS as is? Sets trans and leading dimension. */
static int gemm_layout(const lt_tensor *t, lt_trans *trans, int64_t *ld) {
  int64_t r = t->size[0], c = t->size[1], s0 = t->stride[0], s1 = t->stride[1];
  if ((c == 1 || s1 == 1) && (r == 1 || s0 >= c)) {
    *trans = LT_NOTRANS;
    *ld = r == 1 ? (c > 0 ? c : 1) : s0;
    return 1;
  }
  if ((r == 1 || s0 == 1) && (c == 1 || s1 >= r)) {
    *trans = LT_TRANS;
    *ld = c == 1 ? (r > 0 ? r : 1) : s1;
    return 1;
  }
  return 0;
}

static void *contiguous_copy(const lt_tensor *t, lt_tensor *view) {
  int64_t n = lt_numel(t);
  void *buf = malloc((size_t)(n > 0 ? n : 1) * lt_elsize(t->dtype));
  if (!buf) return NULL;
  *view = *t;
  view->base = buf;
  view->offset = 0;
  lt_set_contiguous_strides(view);
  lt_copy(view, t);
  return buf;
}

int lt_addmm(lt_tensor *c, double beta, double alpha, const lt_tensor *a, const lt_tensor *b) {
  int64_t m = a->size[0], k = a->size[1], n = b->size[1];
  lt_tensor av = *a, bv = *b, cv = *c;
  void *abuf = NULL, *bbuf = NULL, *cbuf = NULL;
  lt_trans ta = LT_NOTRANS, tb = LT_NOTRANS, tc = LT_NOTRANS;
  int64_t lda = 1, ldb = 1, ldc = 1;
  int rc = 0;
  if (!gemm_layout(&av, &ta, &lda)) {
    if (!(abuf = contiguous_copy(a, &av))) goto oom;
    gemm_layout(&av, &ta, &lda);
  }
  if (!gemm_layout(&bv, &tb, &ldb)) {
    if (!(bbuf = contiguous_copy(b, &bv))) goto oom;
    gemm_layout(&bv, &tb, &ldb);
  }
  if (!gemm_layout(&cv, &tc, &ldc) || tc != LT_NOTRANS) {
    if (!(cbuf = contiguous_copy(c, &cv))) goto oom;
    gemm_layout(&cv, &tc, &ldc);
  }
  if (m > 0 && n > 0) {
    if (k == 0)
      lt_unary(&cv, &cv, LT_AFFINE, beta, 0.0);
    else if (c->dtype == LT_DOUBLE)
      lt_dgemm(ta, tb, m, n, k, alpha, lt_ddata(&av), lda, lt_ddata(&bv), ldb, beta, lt_ddata(&cv), ldc);
    else
      lt_sgemm(ta, tb, m, n, k, (float)alpha, lt_fdata(&av), lda, lt_fdata(&bv), ldb, (float)beta, lt_fdata(&cv),
               ldc);
  }
  if (cbuf) lt_copy(c, &cv);
  goto done;
oom:
  rc = -1;
done:
  free(abuf);
  free(bbuf);
  free(cbuf);
  return rc;
}

int lt_bmm(lt_tensor *c, double beta, double alpha, const lt_tensor *a, const lt_tensor *b) {
  for (int64_t i = 0; i < c->size[0]; i++) {
    lt_tensor ci = row_view(c, i), ai = row_view(a, i), bi = b->ndim == 3 ? row_view(b, i) : *b;
    if (lt_addmm(&ci, beta, alpha, &ai, &bi)) return -1;
  }
  return 0;
}
