/* tensor.c — the Tensor type as Lua sees it: constructors, views, element access,
 * and the dispatch of arithmetic, comparisons, reductions and products to the
 * kernels (csrc/kernels/tensor.h). Userdata and storage are auxlib.c's; printing is
 * print.c's.
 *
 * Dtypes: float (float32, the default), double (float64) and int (int32). Arithmetic is
 * float or double: an int operand is converted to float first, and where float and
 * double tensors meet, the float one is converted to double (as PyTorch promotes). An
 * in-place operation keeps its receiver's dtype (its operands are converted to it), and
 * the matrix products take one dtype and refuse a mix. Number operands are rounded to
 * the dtype computed in. */
#include <math.h>
#include <string.h>

#include "lua_lunet.h"

/* A contiguous tensor of a's shape, every element of which the caller writes. */
static lt_tensor *new_like(lua_State *L, const lt_tensor *a, lt_dtype dt) {
  return lunet_newresult(L, dt, a->ndim, a->size, "lunet");
}

/* ---------------------------------------------------------------- constructors */

static int l_zeros(lua_State *L) {
  int64_t size[LT_MAXDIM];
  int next;
  int nd = lunet_checksizes(L, 1, size, "zeros", &next);
  lunet_newtensor(L, lunet_optdtype(L, next, "zeros"), nd, size, "zeros");
  return 1;
}

/* v as an int element: truncated toward zero; NaN and values beyond int32 raise. */
static int32_t int_value(lua_State *L, double v, const char *fname) {
  if (v != v) luaL_error(L, "%s: NaN does not fit an int tensor", fname);
  if (!(v > -2147483649.0 && v < 2147483648.0)) luaL_error(L, "%s: %f does not fit an int tensor", fname, v);
  return (int32_t)v;
}

/* v as an element of dtype dt: int_value for int, else v itself (the kernels round it). */
static double elem_value(lua_State *L, lt_dtype dt, double v, const char *fname) {
  return dt == LT_INT ? int_value(L, v, fname) : v;
}

/* Room for one element of any dtype. */
typedef union {
  float f;
  int32_t i;
  double d;
} scalar_slot;

/* A view of one value, v converted to dt (checked by elem_value) and stored in *slot,
 * with the given shape and every stride 0. */
static lt_tensor scalar_view(lua_State *L, lt_dtype dt, double v, scalar_slot *slot, int ndim, const int64_t *size,
                             const char *fname) {
  lt_tensor t;
  memset(&t, 0, sizeof t);
  t.base = slot;
  t.dtype = dt;
  lt_set(&t, 0, elem_value(L, dt, v, fname));
  t.ndim = ndim;
  for (int i = 0; i < ndim; i++) t.size[i] = size[i];
  return t;
}

/* Every element of t (any layout) = v, converted to t's dtype. */
static void fill_value(lua_State *L, lt_tensor *t, double v, const char *fname) {
  if (t->dtype != LT_INT) {
    lt_unary(t, t, LT_FILL, v, 0.0);
    return;
  }
  scalar_slot slot;
  lt_tensor one = scalar_view(L, LT_INT, v, &slot, t->ndim, t->size, fname);
  lt_copy(t, &one);
}

static int l_ones(lua_State *L) {
  int64_t size[LT_MAXDIM];
  int next;
  int nd = lunet_checksizes(L, 1, size, "ones", &next);
  fill_value(L, lunet_newtensor(L, lunet_optdtype(L, next, "ones"), nd, size, "ones"), 1.0, "ones");
  return 1;
}

/* full(sizes, value [, dtype]) */
static int l_full(lua_State *L) {
  int64_t size[LT_MAXDIM];
  luaL_argexpected(L, lua_istable(L, 1), 1, "table of sizes");
  int nd = lunet_checksizes(L, 1, size, "full", NULL);
  double v = luaL_checknumber(L, 2);
  fill_value(L, lunet_newtensor(L, lunet_optdtype(L, 3, "full"), nd, size, "full"), v, "full");
  return 1;
}

/* tensor(nested table [, dtype]) */
static void nested_shape(lua_State *L, int idx, int depth, int64_t *size, int *nd) {
  if (depth >= LT_MAXDIM) luaL_error(L, "tensor: nesting deeper than %d levels", LT_MAXDIM);
  int64_t n = (int64_t)luaL_len(L, idx);
  size[depth] = n;
  *nd = depth + 1;
  if (n > 0) {
    lua_geti(L, idx, 1);
    if (lua_istable(L, -1)) nested_shape(L, lua_gettop(L), depth + 1, size, nd);
    lua_pop(L, 1);
  }
}

static void nested_fill(lua_State *L, int idx, int depth, int nd, const int64_t *size, lt_tensor *t,
                        int64_t *k) {
  int64_t n = (int64_t)luaL_len(L, idx);
  if (n != size[depth])
    luaL_error(L, "tensor: ragged nested table (level %d has %I entries, expected %I)", depth + 1,
               (lua_Integer)n, (lua_Integer)size[depth]);
  for (int64_t i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    if (depth + 1 < nd) {
      if (!lua_istable(L, -1)) luaL_error(L, "tensor: ragged nested table (expected a table at level %d)", depth + 2);
      nested_fill(L, lua_gettop(L), depth + 1, nd, size, t, k);
    } else {
      int ok;
      lua_Number v = lua_tonumberx(L, -1, &ok);
      if (!ok) luaL_error(L, "tensor: entries must be numbers, got %s", luaL_typename(L, -1));
      lt_set(t, (*k)++, elem_value(L, t->dtype, v, "tensor"));
    }
    lua_pop(L, 1);
  }
}

static int l_tensor(lua_State *L) {
  if (lua_type(L, 1) == LUA_TNUMBER) { /* a 0-D tensor */
    lt_tensor *t = lunet_newtensor(L, lunet_optdtype(L, 2, "tensor"), 0, NULL, "tensor");
    fill_value(L, t, lua_tonumber(L, 1), "tensor");
    return 1;
  }
  luaL_argexpected(L, lua_istable(L, 1), 1, "nested table of numbers");
  int64_t size[LT_MAXDIM];
  int nd = 0;
  nested_shape(L, 1, 0, size, &nd);
  lt_tensor *t = lunet_newtensor(L, lunet_optdtype(L, 2, "tensor"), nd, size, "tensor");
  int64_t k = 0;
  nested_fill(L, 1, 0, nd, size, t, &k);
  return 1;
}

/* A trailing dtype argument (a string) of arange and linspace, removed from the stack. */
static lt_dtype trailing_dtype(lua_State *L, int min_args, const char *fname) {
  int top = lua_gettop(L);
  if (top <= min_args || lua_type(L, top) != LUA_TSTRING) return LT_FLOAT;
  lt_dtype dt = lunet_optdtype(L, top, fname);
  lua_settop(L, top - 1);
  return dt;
}

/** lunet.arange([start = 0,] stop [, step = 1] [, dtype = "float"]) -> a 1-D tensor of
 * start, start + step, ... up to (not including) stop, computed in float64 and rounded to
 * dtype ("float", "double" or "int"). Errors: "arange: step must be finite and non-zero".
 * Example: lunet.arange(0, 1, 0.25, "double") --> {0, 0.25, 0.5, 0.75} */
static int l_arange(lua_State *L) {
  lt_dtype dt = trailing_dtype(L, 1, "arange");
  double a = luaL_checknumber(L, 1), b, step;
  if (lua_isnoneornil(L, 2)) {
    b = a;
    a = 0;
  } else {
    b = luaL_checknumber(L, 2);
  }
  step = luaL_optnumber(L, 3, 1.0);
  if (step == 0 || !isfinite(step) || !isfinite(a) || !isfinite(b)) luaL_error(L, "arange: step must be finite and non-zero");
  double cnt = ceil((b - a) / step);
  if (cnt < 0) cnt = 0;
  if (cnt > (double)LUNET_MAX_NUMEL) luaL_error(L, "arange: too many elements");
  int64_t n = (int64_t)cnt;
  lt_tensor *t = lunet_newtensor(L, dt, 1, &n, "arange");
  for (int64_t i = 0; i < n; i++) lt_set(t, i, elem_value(L, dt, a + (double)i * step, "arange"));
  return 1;
}

/** lunet.linspace(start, stop, n [, dtype = "float"]) -> a 1-D tensor of n evenly spaced
 * values from start to stop (both included), computed in float64 and rounded to dtype.
 * Example: lunet.linspace(0, 1, 3, "double") --> {0, 0.5, 1} */
static int l_linspace(lua_State *L) {
  lt_dtype dt = trailing_dtype(L, 3, "linspace");
  double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
  lua_Integer n = luaL_checkinteger(L, 3);
  if (n < 0) luaL_error(L, "linspace: count must be non-negative, got %I", n);
  int64_t sz = n;
  lt_tensor *t = lunet_newtensor(L, dt, 1, &sz, "linspace");
  for (int64_t i = 0; i < n; i++)
    lt_set(t, i, elem_value(L, dt, n == 1 ? a : a + (b - a) * (double)i / (double)(n - 1), "linspace"));
  return 1;
}

/* ---------------------------------------------------------------- views */

static int m_size(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, t->size[lunet_checkdimarg(L, 2, t, "size")]);
    return 1;
  }
  lunet_pushsize(L, t->ndim, t->size);
  return 1;
}

static int m_stride(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, t->stride[lunet_checkdimarg(L, 2, t, "stride")]);
    return 1;
  }
  lua_createtable(L, t->ndim, 0);
  for (int i = 0; i < t->ndim; i++) {
    lua_pushinteger(L, t->stride[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* t:shapeString() → "(2,3,4)", the form every error message uses. */
static int m_shapeString(lua_State *L) {
  char buf[200];
  lua_pushstring(L, lt_shape_str(lunet_checktensor(L, 1), buf, sizeof buf));
  return 1;
}

static int m_dim(lua_State *L) {
  lua_pushinteger(L, lunet_checktensor(L, 1)->ndim);
  return 1;
}

static int m_numel(lua_State *L) {
  lua_pushinteger(L, lt_numel(lunet_checktensor(L, 1)));
  return 1;
}

static int m_dtype(lua_State *L) {
  lua_pushstring(L, lunet_dtypename(lunet_checktensor(L, 1)->dtype));
  return 1;
}

/* t:sharesStorage(u): whether t and u are views of one storage, so that writing one may
 * change the other. */
static int m_sharesStorage(lua_State *L) {
  lua_pushboolean(L, lunet_checktensor(L, 1)->base == lunet_checktensor(L, 2)->base);
  return 1;
}

static int m_isContiguous(lua_State *L) {
  lua_pushboolean(L, lt_is_contiguous(lunet_checktensor(L, 1)));
  return 1;
}

/* Parse a target shape with at most one -1, matching numel. */
static int target_shape(lua_State *L, const lt_tensor *t, int arg, int64_t *size, const char *fname) {
  int nd = 0, infer = -1;
  int64_t known = 1;
  if (lua_istable(L, arg)) {
    nd = (int)luaL_len(L, arg);
    if (nd > LT_MAXDIM) luaL_error(L, "%s: at most %d dimensions", fname, LT_MAXDIM);
    for (int i = 0; i < nd; i++) {
      lua_geti(L, arg, i + 1);
      size[i] = lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
  } else {
    for (int a = arg; !lua_isnone(L, a); a++) {
      if (nd == LT_MAXDIM) luaL_error(L, "%s: at most %d dimensions", fname, LT_MAXDIM);
      size[nd++] = luaL_checkinteger(L, a);
    }
  }
  for (int i = 0; i < nd; i++) {
    if (size[i] == -1) {
      if (infer >= 0) luaL_error(L, "%s: only one size may be -1", fname);
      infer = i;
    } else if (size[i] < 0) {
      luaL_error(L, "%s: size %d is negative (%I)", fname, i + 1, (lua_Integer)size[i]);
    } else if (lt_mul_overflow(known, size[i], &known)) {
      luaL_error(L, "%s: sizes overflow", fname);
    }
  }
  int64_t n = lt_numel(t);
  if (infer >= 0) {
    if (known == 0 || n % known != 0) {
      char buf[160];
      luaL_error(L, "%s: cannot infer size -1 for %I elements %s", fname, (lua_Integer)n, lt_shape_str(t, buf, sizeof buf));
    }
    size[infer] = n / known;
    known = n;
  }
  if (known != n) {
    char buf[160];
    luaL_error(L, "%s: shape has %I elements but the tensor %s has %I", fname, (lua_Integer)known,
               lt_shape_str(t, buf, sizeof buf), (lua_Integer)n);
  }
  int64_t span;
  if (lt_shape_numel(nd, size, &span)) luaL_error(L, "%s: sizes overflow", fname); /* an empty view's strides */
  return nd;
}

static int m_view(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  int64_t size[LT_MAXDIM];
  int nd = target_shape(L, t, 2, size, "view");
  if (!lt_is_contiguous(t)) luaL_error(L, "view: tensor is not contiguous (use reshape, or contiguous() first)");
  lt_tensor v = *t;
  v.ndim = nd;
  for (int i = 0; i < nd; i++) v.size[i] = size[i];
  lt_set_contiguous_strides(&v);
  lunet_pushview(L, 1, &v);
  return 1;
}

static lt_tensor *push_contiguous_copy(lua_State *L, const lt_tensor *t) {
  lt_tensor *c = new_like(L, t, t->dtype);
  lt_copy(c, t);
  return c;
}

static int m_reshape(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  int64_t size[LT_MAXDIM];
  int nd = target_shape(L, t, 2, size, "reshape");
  lt_tensor v;
  if (lt_is_contiguous(t)) {
    v = *t;
    v.ndim = nd;
    for (int i = 0; i < nd; i++) v.size[i] = size[i];
    lt_set_contiguous_strides(&v);
    lunet_pushview(L, 1, &v);
    return 1;
  }
  lt_tensor *c = push_contiguous_copy(L, t);
  c->ndim = nd;
  for (int i = 0; i < nd; i++) c->size[i] = size[i];
  lt_set_contiguous_strides(c);
  return 1;
}

/* off + i*stride for a view's offset or an element's: in range for every view that was
 * checked when it was made, checked all the same (lt_mul_overflow). */
static int64_t step_offset(lua_State *L, int64_t off, int64_t i, int64_t stride, const char *fname) {
  int64_t skip, sum;
  if (!lt_mul_overflow(i, stride, &skip) && !lt_add_overflow(off, skip, &sum)) return sum;
  return luaL_error(L, "%s: offset %I + %I * %I overflows", fname, (lua_Integer)off, (lua_Integer)i,
                    (lua_Integer)stride);
}

static int m_narrow(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  int d = lunet_checkdimarg(L, 2, t, "narrow");
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  if (start < 1 || len < 0 || start - 1 > t->size[d] || len > t->size[d] - (start - 1)) {
    if (start >= 1 && len >= 0 && len - 1 <= LUA_MAXINTEGER - start) /* start+len-1 fits */
      luaL_error(L, "narrow: range [%I, %I] out of bounds for dimension %d of size %I", start, start + (len - 1),
                 d + 1, (lua_Integer)t->size[d]);
    luaL_error(L, "narrow: %I elements from %I out of bounds for dimension %d of size %I", len, start, d + 1,
               (lua_Integer)t->size[d]);
  }
  lt_tensor v = *t;
  v.offset = step_offset(L, t->offset, start - 1, t->stride[d], "narrow");
  v.size[d] = len;
  lunet_pushview(L, 1, &v);
  return 1;
}

static int select_view(lua_State *L, int idx, lt_tensor *t, int d, lua_Integer i, const char *fname) {
  if (i < 0) i += t->size[d] + 1;
  if (i < 1 || i > t->size[d])
    luaL_error(L, "%s: index %I out of range for dimension %d of size %I", fname, i, d + 1, (lua_Integer)t->size[d]);
  lt_tensor v = *t;
  v.offset = step_offset(L, t->offset, i - 1, t->stride[d], fname);
  for (int j = d; j < t->ndim - 1; j++) {
    v.size[j] = v.size[j + 1];
    v.stride[j] = v.stride[j + 1];
  }
  v.ndim--;
  lunet_pushview(L, idx, &v);
  return 1;
}

static int m_select(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (t->ndim == 0) luaL_error(L, "select: cannot select from a 0-D tensor");
  int d = lunet_checkdimarg(L, 2, t, "select");
  return select_view(L, 1, t, d, luaL_checkinteger(L, 3), "select");
}

static int m_transpose(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  int a, b;
  if (lua_isnoneornil(L, 2)) {
    if (t->ndim != 2) luaL_error(L, "transpose: without dimensions the tensor must be 2-D, got %d-D", t->ndim);
    a = 0;
    b = 1;
  } else {
    a = lunet_checkdimarg(L, 2, t, "transpose");
    b = lunet_checkdimarg(L, 3, t, "transpose");
  }
  lt_tensor v = *t;
  v.size[a] = t->size[b];
  v.size[b] = t->size[a];
  v.stride[a] = t->stride[b];
  v.stride[b] = t->stride[a];
  lunet_pushview(L, 1, &v);
  return 1;
}

static int m_permute(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  int n = lua_istable(L, 2) ? (int)luaL_len(L, 2) : lua_gettop(L) - 1;
  if (n != t->ndim) luaL_error(L, "permute: expected %d dimensions, got %d", t->ndim, n);
  int seen[LT_MAXDIM] = {0};
  lt_tensor v = *t;
  for (int i = 0; i < n; i++) {
    lua_Integer d;
    if (lua_istable(L, 2)) {
      lua_geti(L, 2, i + 1);
      d = lua_tointeger(L, -1);
      lua_pop(L, 1);
    } else {
      d = luaL_checkinteger(L, i + 2);
    }
    if (d < 1 || d > n || seen[d - 1]) luaL_error(L, "permute: not a permutation of 1..%d", n);
    seen[d - 1] = 1;
    v.size[i] = t->size[d - 1];
    v.stride[i] = t->stride[d - 1];
  }
  lunet_pushview(L, 1, &v);
  return 1;
}

static int m_expand(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  int64_t size[LT_MAXDIM];
  int nd = lunet_checksizes(L, 2, size, "expand", NULL);
  if (nd < t->ndim) luaL_error(L, "expand: cannot expand %d-D to %d-D", t->ndim, nd);
  lt_tensor v = *t;
  v.ndim = nd;
  int off = nd - t->ndim;
  for (int i = nd - 1; i >= 0; i--) {
    int j = i - off;
    if (j >= 0 && t->size[j] == size[i]) {
      v.size[i] = t->size[j];
      v.stride[i] = t->stride[j];
    } else if (j < 0 || t->size[j] == 1) {
      v.size[i] = size[i];
      v.stride[i] = 0;
    } else {
      char buf[160];
      luaL_error(L, "expand: size %I of dimension %d cannot expand to %I %s", (lua_Integer)t->size[j], j + 1,
                 (lua_Integer)size[i], lt_shape_str(t, buf, sizeof buf));
    }
  }
  int64_t numel; /* every other function counts a view's elements in int64 */
  if (lt_shape_numel(nd, v.size, &numel)) luaL_error(L, "expand: sizes overflow");
  lunet_pushview(L, 1, &v);
  return 1;
}

static int m_unsqueeze(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  lua_Integer d = luaL_checkinteger(L, 2);
  if (d < 0) d += t->ndim + 2;
  if (d < 1 || d > t->ndim + 1 || t->ndim == LT_MAXDIM)
    luaL_error(L, "unsqueeze: dimension %I out of range for a %d-D tensor", luaL_checkinteger(L, 2), t->ndim);
  lt_tensor v = *t;
  int k = (int)d - 1;
  for (int j = t->ndim; j > k; j--) {
    v.size[j] = t->size[j - 1];
    v.stride[j] = t->stride[j - 1];
  }
  v.size[k] = 1;
  v.stride[k] = k < t->ndim ? step_offset(L, 0, t->size[k], t->stride[k], "unsqueeze") : 1;
  v.ndim++;
  lunet_pushview(L, 1, &v);
  return 1;
}

static int m_squeeze(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  int only = lua_isnoneornil(L, 2) ? -1 : lunet_checkdimarg(L, 2, t, "squeeze");
  lt_tensor v = *t;
  v.ndim = 0;
  for (int i = 0; i < t->ndim; i++) {
    if (t->size[i] == 1 && (only < 0 || only == i)) continue;
    v.size[v.ndim] = t->size[i];
    v.stride[v.ndim] = t->stride[i];
    v.ndim++;
  }
  lunet_pushview(L, 1, &v);
  return 1;
}

static int m_contiguous(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (lt_is_contiguous(t)) {
    lua_settop(L, 1);
    return 1;
  }
  push_contiguous_copy(L, t);
  return 1;
}

static int m_clone(lua_State *L) {
  push_contiguous_copy(L, lunet_checktensor(L, 1));
  return 1;
}

/* Raise unless every element of src fits dtype dt: an int takes a float or double only in
 * int32's range (and never NaN), as int_value. */
static void check_fits(lua_State *L, lt_dtype dt, const lt_tensor *src, const char *fname) {
  if (dt != LT_INT || src->dtype == LT_INT || lt_numel(src) == 0) return;
  int_value(L, lt_reduce_all(src, LT_MAX, 0), fname); /* max propagates NaN */
  int_value(L, lt_reduce_all(src, LT_MIN, 0), fname);
}

/* dst = src, elementwise in row-major order, converted to dst's dtype (check_fits). A
 * source that overlaps dst is copied out first, so that no element is read after it is
 * written; dst itself needs no copy. */
static void copy_into(lua_State *L, lt_tensor *dst, const lt_tensor *src, const char *fname) {
  check_fits(L, dst->dtype, src, fname);
  if (lt_same_view(dst, src)) return;
  if (lt_overlap(dst, src)) src = push_contiguous_copy(L, src);
  lt_copy(dst, src);
}

static int m_copy(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  lt_tensor *s = lunet_checktensor(L, 2);
  if (lt_numel(t) != lt_numel(s)) {
    char a[160], b[160];
    luaL_error(L, "copy: destination %s and source %s differ in number of elements", lt_shape_str(t, a, sizeof a),
               lt_shape_str(s, b, sizeof b));
  }
  copy_into(L, t, s, "copy");
  lua_settop(L, 1);
  return 1;
}

static int m_fill(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  fill_value(L, t, luaL_checknumber(L, 2), "fill");
  lua_settop(L, 1);
  return 1;
}

static int m_zero(lua_State *L) {
  lua_settop(L, 1);
  lua_pushnumber(L, 0);
  return m_fill(L);
}

static int convert(lua_State *L, lt_dtype dt) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (t->dtype == dt) {
    lua_settop(L, 1);
    return 1;
  }
  check_fits(L, dt, t, lunet_dtypename(dt));
  lt_copy(new_like(L, t, dt), t);
  return 1;
}
/** t:float(), t:double(), t:int() -> t itself when it has that dtype, else a new tensor
 * of t's values converted: to float rounded to nearest (beyond float's range to +-inf;
 * NaN and infinities kept), to double exactly, to int truncated toward zero (every value
 * must fit int32: "int: NaN does not fit an int tensor").
 * Example: lunet.tensor{1/3}:double()[1] --> 0.3333333432674408 (float's 1/3) */
static int m_float(lua_State *L) { return convert(L, LT_FLOAT); }
static int m_int(lua_State *L) { return convert(L, LT_INT); }
static int m_double(lua_State *L) { return convert(L, LT_DOUBLE); }

/* ---------------------------------------------------------------- element access */

static void push_elem(lua_State *L, const lt_tensor *t, int64_t off) {
  if (t->dtype == LT_INT)
    lua_pushinteger(L, lt_idata(t)[off]);
  else
    lua_pushnumber(L, lt_get(t, off));
}

static int m_item(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (lt_numel(t) != 1) luaL_error(L, "item: tensor must have exactly one element, has %I", (lua_Integer)lt_numel(t));
  int64_t off = 0; /* every index is 0 */
  push_elem(L, t, off);
  return 1;
}

static void totable_rec(lua_State *L, const lt_tensor *t, int d, int64_t off) {
  lua_createtable(L, (int)t->size[d], 0);
  for (int64_t i = 0; i < t->size[d]; i++) {
    if (d == t->ndim - 1)
      push_elem(L, t, off + i * t->stride[d]);
    else
      totable_rec(L, t, d + 1, off + i * t->stride[d]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int m_totable(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (t->ndim == 0) {
    push_elem(L, t, 0);
    return 1;
  }
  totable_rec(L, t, 0, 0);
  return 1;
}

static const luaL_Reg methods[];

/* Torch7's multi-index t[{i, {first, last}, {}}]: into *v, the view of t that the table
 * key at idx picks, one entry per leading dimension: a number selects (the dimension goes),
 * {} keeps the dimension whole, {i} narrows it to i, {first, last} to first..last
 * (inclusive; negative counts from the end). Returns 1 when every dimension was picked by
 * a number (an element). Errors: "index: entry 2 of the key must be a number or a table
 * ({}, {i} or {first, last}), got string". */
static int key_view(lua_State *L, const lt_tensor *t, int idx, lt_tensor *v, const char *fname) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  if (n > t->ndim) luaL_error(L, "%s: the key has %I entries for a %d-D tensor", fname, n, t->ndim);
  *v = *t;
  int d = 0, numbers = 0;
  for (lua_Integer k = 1; k <= n; k++) {
    int ty = lua_rawgeti(L, idx, k), ok;
    if (ty == LUA_TNUMBER) {
      lua_Integer i = lua_tointegerx(L, -1, &ok), i0 = i;
      if (!ok) luaL_error(L, "%s: entry %I of the key must be an integer, got %s", fname, k, lua_tostring(L, -1));
      if (i < 0) i += v->size[d] + 1;
      if (i < 1 || i > v->size[d])
        luaL_error(L, "%s: index %I out of range for dimension %I of size %I", fname, i0, k, (lua_Integer)v->size[d]);
      v->offset = step_offset(L, v->offset, i - 1, v->stride[d], fname);
      for (int j = d; j < v->ndim - 1; j++) {
        v->size[j] = v->size[j + 1];
        v->stride[j] = v->stride[j + 1];
      }
      v->ndim--;
      numbers++;
    } else if (ty == LUA_TTABLE) {
      int r = lua_gettop(L);
      lua_Integer m = (lua_Integer)lua_rawlen(L, r), bound[2] = {1, v->size[d]};
      if (m > 2) luaL_error(L, "%s: entry %I of the key must be {}, {i} or {first, last}, got %I numbers", fname, k, m);
      for (lua_Integer j = 0; j < m; j++) {
        lua_rawgeti(L, r, j + 1);
        bound[j] = lua_tointegerx(L, -1, &ok);
        if (!ok) luaL_error(L, "%s: entry %I of the key must hold integers, got %s", fname, k, luaL_typename(L, -1));
        if (bound[j] < 0) bound[j] += v->size[d] + 1;
        lua_pop(L, 1);
      }
      if (m == 1) bound[1] = bound[0];
      if (bound[0] < 1 || bound[1] > v->size[d] || bound[0] > bound[1] + 1)
        luaL_error(L, "%s: range [%I, %I] out of bounds for dimension %I of size %I", fname, bound[0], bound[1], k,
                   (lua_Integer)v->size[d]);
      v->offset = step_offset(L, v->offset, bound[0] - 1, v->stride[d], fname);
      v->size[d] = bound[1] - bound[0] + 1;
      d++;
    } else {
      luaL_error(L, "%s: entry %I of the key must be a number or a table ({}, {i} or {first, last}), got %s", fname, k,
                 luaL_typename(L, -1));
    }
    lua_pop(L, 1);
  }
  return numbers == t->ndim;
}

/** t[i] (a number for a 1-D t, else the view t:select(1, i)); t[{i, {first, last}, {}}]
 * (Torch7's multi-index, see key_view: a view, or a number when every dimension is picked
 * by a number); t.name, a method. Any other key is an error, never nil:
 * "index: tensor has no method 'foo'". Example: x[{2, {1, 3}}] --> row 2, columns 1..3 */
static int mt_index(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    int ok;
    lua_Integer i = lua_tointegerx(L, 2, &ok);
    if (!ok) luaL_error(L, "index: tensor index must be an integer, got %s", lua_tostring(L, 2));
    if (t->ndim == 0) luaL_error(L, "index: cannot index a 0-D tensor (use :item())");
    if (t->ndim == 1) {
      if (i < 0) i += t->size[0] + 1;
      if (i < 1 || i > t->size[0])
        luaL_error(L, "index: index %I out of range for dimension 1 of size %I", lua_tointeger(L, 2),
                   (lua_Integer)t->size[0]);
      push_elem(L, t, step_offset(L, 0, i - 1, t->stride[0], "index"));
      return 1;
    }
    return select_view(L, 1, t, 0, i, "index");
  }
  if (lua_type(L, 2) == LUA_TTABLE) {
    lt_tensor v;
    if (key_view(L, t, 2, &v, "index"))
      push_elem(L, &v, 0);
    else
      lunet_pushview(L, 1, &v);
    return 1;
  }
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNIL) {
    if (lua_type(L, 2) == LUA_TSTRING) luaL_error(L, "index: tensor has no method '%s'", lua_tostring(L, 2));
    luaL_error(L, "index: a tensor is indexed by a number, a {i, {first, last}, {}} table or a method name, got %s",
               luaL_typename(L, 2));
  }
  return 1;
}

/* The view at vidx = the value at 3: a number (filled) or a tensor of as many elements. */
static int assign_view(lua_State *L, int vidx) {
  lt_tensor *dst = lunet_checktensor(L, vidx);
  if (lua_type(L, 3) == LUA_TNUMBER) {
    fill_value(L, dst, lua_tonumber(L, 3), "newindex");
    return 0;
  }
  lt_tensor *src = lunet_checktensor(L, 3);
  if (lt_numel(src) != lt_numel(dst)) {
    char a[160], b[160];
    luaL_error(L, "newindex: cannot assign a %s tensor to a %s slice", lt_shape_str(src, a, sizeof a),
               lt_shape_str(dst, b, sizeof b));
  }
  copy_into(L, dst, src, "newindex");
  return 0;
}

/** t[i] = v, t[{i, {first, last}, {}}] = v: v a number (every element of the slice) or a
 * tensor of as many elements (copied in row-major order). Example: x[{1, {}}] = 0 */
static int mt_newindex(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (lua_type(L, 2) == LUA_TTABLE) {
    lt_tensor v;
    key_view(L, t, 2, &v, "newindex");
    lunet_pushview(L, 1, &v);
    return assign_view(L, lua_gettop(L));
  }
  int ok;
  lua_Integer i = lua_tointegerx(L, 2, &ok);
  if (!ok) luaL_error(L, "newindex: tensor index must be an integer, got %s", luaL_typename(L, 2));
  if (t->ndim == 0) luaL_error(L, "newindex: cannot index a 0-D tensor");
  if (i < 0) i += t->size[0] + 1;
  if (i < 1 || i > t->size[0])
    luaL_error(L, "newindex: index %I out of range for dimension 1 of size %I", lua_tointeger(L, 2),
               (lua_Integer)t->size[0]);
  if (t->ndim == 1) {
    int64_t off = step_offset(L, 0, i - 1, t->stride[0], "newindex");
    lt_set(t, off, elem_value(L, t->dtype, luaL_checknumber(L, 3), "newindex"));
    return 0;
  }
  select_view(L, 1, t, 0, i, "newindex");
  return assign_view(L, lua_gettop(L));
}

static int mt_len(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  lua_pushinteger(L, t->ndim ? t->size[0] : 1);
  return 1;
}

/* ---------------------------------------------------------------- elementwise */

/* Broadcast a and b to a common shape (numpy rules, right-aligned). */
static int broadcast_shape(lua_State *L, const lt_tensor *a, const lt_tensor *b, int64_t *size, const char *fname) {
  int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int i = 0; i < nd; i++) {
    int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
    int64_t sa = ia >= 0 ? a->size[ia] : 1, sb = ib >= 0 ? b->size[ib] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      char x[160], y[160];
      luaL_error(L, "%s: shapes %s and %s cannot be broadcast together", fname, lt_shape_str(a, x, sizeof x),
                 lt_shape_str(b, y, sizeof y));
    }
    size[i] = sa == 1 ? sb : sa;
  }
  return nd;
}

static lt_tensor expanded(const lt_tensor *t, int nd, const int64_t *size) {
  lt_tensor v = *t;
  v.ndim = nd;
  int off = nd - t->ndim;
  for (int i = 0; i < nd; i++) {
    int j = i - off;
    v.size[i] = size[i];
    v.stride[i] = (j >= 0 && t->size[j] == size[i]) ? t->stride[j] : 0;
  }
  return v;
}

/* An operand that may also be a number: raises naming fname when it is neither. */
static lt_tensor *operand(lua_State *L, int idx, const char *fname) {
  lt_tensor *t = lunet_totensor(L, idx);
  if (!t) luaL_error(L, "%s: argument #%d must be a tensor or a number, got %s", fname, idx, luaL_typename(L, idx));
  if (!t->base) luaL_error(L, "%s: argument #%d was released (closed)", fname, idx);
  return t;
}

/* The tensor at idx (an operand) as dtype dt: itself, or converted into a temporary that
 * replaces it on the stack. */
static lt_tensor *as_dtype(lua_State *L, int idx, lt_dtype dt, const char *fname) {
  lt_tensor *t = operand(L, idx, fname);
  if (t->dtype == dt) return t;
  lt_tensor *c = new_like(L, t, dt);
  lt_copy(c, t);
  lua_replace(L, idx);
  return c;
}

/* The dtype arithmetic on the tensors among arguments first..last is done in: double when
 * one is double, else float. */
static lt_dtype arith_dtype(lua_State *L, int first, int last) {
  for (int i = first; i <= last; i++) {
    const lt_tensor *t = lunet_totensor(L, i);
    if (t && t->dtype == LT_DOUBLE) return LT_DOUBLE;
  }
  return LT_FLOAT;
}

/* Argument idx as an operand of arithmetic: a float or double tensor (an int one is
 * converted to float, in a temporary that replaces it on the stack). */
static lt_tensor *real_arg(lua_State *L, int idx, const char *fname) {
  lt_tensor *t = operand(L, idx, fname);
  return t->dtype == LT_INT ? as_dtype(L, idx, LT_FLOAT, fname) : t;
}

static const char *binop_names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "fmod", "remainder", "atan2"};

/* a op b where either may be a number. inplace: result written into a. */
static int binary(lua_State *L, lt_binop op, int inplace) {
  const char *fname = binop_names[op];
  int na = lua_type(L, 1) == LUA_TNUMBER, nb = lua_type(L, 2) == LUA_TNUMBER;
  if (na && nb) luaL_error(L, "%s: at least one operand must be a tensor", fname);
  if (nb || na) {
    int ti = na ? 2 : 1;
    if (inplace && na) luaL_error(L, "%s_: the receiver must be a tensor", fname);
    lt_tensor *a = inplace ? lunet_checkreal(L, ti, fname) : real_arg(L, ti, fname);
    /* rounded to a's dtype first, so that -s and s + x are float's for a float a */
    double s = a->dtype == LT_FLOAT ? (float)lua_tonumber(L, na ? 1 : 2) : lua_tonumber(L, na ? 1 : 2);
    lt_tensor *o = inplace ? a : new_like(L, a, a->dtype);
    switch (op) {
      case LT_ADD: lt_unary(o, a, LT_AFFINE, 1.0, s); break;
      case LT_SUB: na ? lt_unary(o, a, LT_AFFINE, -1.0, s) : lt_unary(o, a, LT_AFFINE, 1.0, -s); break;
      case LT_MUL: lt_unary(o, a, LT_AFFINE, s, 0.0); break;
      case LT_POW:
        if (!na) {
          lt_unary(o, a, LT_POWS, s, 0.0);
          break;
        }
        /* a number raised to a tensor goes the general way */
        __attribute__((fallthrough));
      default: {
        scalar_slot slot;
        lt_tensor sc = scalar_view(L, a->dtype, s, &slot, a->ndim, a->size, fname);
        if (na)
          lt_binary(o, &sc, a, op);
        else
          lt_binary(o, a, &sc, op);
      }
    }
    if (inplace) lua_settop(L, 1);
    return 1;
  }
  lt_dtype dt = inplace ? lunet_checkreal(L, 1, fname)->dtype : arith_dtype(L, 1, 2);
  lt_tensor *a = as_dtype(L, 1, dt, fname);
  lt_tensor *b = as_dtype(L, 2, dt, fname);
  int64_t size[LT_MAXDIM];
  int nd = broadcast_shape(L, a, b, size, fname);
  lt_tensor ea = expanded(a, nd, size), eb = expanded(b, nd, size);
  if (inplace) {
    if (!lt_same_shape(&ea, a) || nd != a->ndim) {
      char x[160], y[160];
      luaL_error(L, "%s_: result shape would differ from the receiver's %s (operand %s)", fname,
                 lt_shape_str(a, x, sizeof x), lt_shape_str(b, y, sizeof y));
    }
    /* The kernel reads b[i] after it has written a[j] for j < i: b overlapping a is
     * copied out, unless it is a itself (each element then read before it is written). */
    if (lt_overlap(a, &eb) && !lt_same_view(a, &eb)) {
      b = push_contiguous_copy(L, b);
      eb = expanded(b, nd, size);
    }
    lt_binary(a, a, &eb, op);
    lua_settop(L, 1);
    return 1;
  }
  lt_tensor *o = lunet_newtensor(L, dt, nd, size, fname);
  lt_binary(o, &ea, &eb, op);
  return 1;
}

static int m_add(lua_State *L) { return binary(L, LT_ADD, 0); }
static int m_sub(lua_State *L) { return binary(L, LT_SUB, 0); }
static int m_mul(lua_State *L) { return binary(L, LT_MUL, 0); }
static int m_div(lua_State *L) { return binary(L, LT_DIV, 0); }
static int m_pow(lua_State *L) { return binary(L, LT_POW, 0); }
static int m_maximum(lua_State *L) { return binary(L, LT_MAXIMUM, 0); }
static int m_minimum(lua_State *L) { return binary(L, LT_MINIMUM, 0); }
/** t:fmod(b), t:remainder(b), t:atan2(b) -> a new float (or double) tensor, broadcasting; b a tensor or a
 * number. fmod's result has t's sign (C's fmodf), remainder's b's (Python's %: a - b
 * floor(a / b)); atan2(t, b) is the angle of the point (b, t). A zero divisor gives NaN.
 * Example: lunet.tensor{-3, 3}:remainder(2) --> {1, 1}; :fmod(2) --> {-1, 1} */
static int m_fmod(lua_State *L) { return binary(L, LT_FMOD, 0); }
static int m_remainder(lua_State *L) { return binary(L, LT_REMAINDER, 0); }
static int m_atan2(lua_State *L) { return binary(L, LT_ATAN2, 0); }
static int m_add_(lua_State *L) { return binary(L, LT_ADD, 1); }
static int m_sub_(lua_State *L) { return binary(L, LT_SUB, 1); }
static int m_mul_(lua_State *L) { return binary(L, LT_MUL, 1); }
static int m_div_(lua_State *L) { return binary(L, LT_DIV, 1); }
static int m_pow_(lua_State *L) { return binary(L, LT_POW, 1); }

/* Comparisons give float 0/1 tensors (so they can be summed into counts), whatever the
 * operands' dtypes. A number compared with a float tensor is first rounded to float, as
 * every scalar operand is. */
static int compare(lua_State *L, lt_cmpop op, const char *fname) {
  lt_tensor *a = operand(L, 1, fname);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    double s = a->dtype == LT_FLOAT ? (double)(float)lua_tonumber(L, 2) : lua_tonumber(L, 2);
    lt_compare_scalar(lunet_newresult(L, LT_FLOAT, a->ndim, a->size, fname), a, s, op);
    return 1;
  }
  lt_tensor *b = operand(L, 2, fname);
  int64_t size[LT_MAXDIM];
  int nd = broadcast_shape(L, a, b, size, fname);
  lt_tensor ea = expanded(a, nd, size), eb = expanded(b, nd, size);
  lt_compare(lunet_newresult(L, LT_FLOAT, nd, size, fname), &ea, &eb, op);
  return 1;
}
static int m_eq(lua_State *L) { return compare(L, LT_EQ, "eq"); }
static int m_ne(lua_State *L) { return compare(L, LT_NE, "ne"); }
static int m_lt(lua_State *L) { return compare(L, LT_LT, "lt"); }
static int m_le(lua_State *L) { return compare(L, LT_LE, "le"); }
static int m_gt(lua_State *L) { return compare(L, LT_GT, "gt"); }
static int m_ge(lua_State *L) { return compare(L, LT_GE, "ge"); }

static int unary(lua_State *L, lt_unop op, const char *fname, int inplace) {
  lt_tensor *a = inplace ? lunet_checkreal(L, 1, fname) : real_arg(L, 1, fname);
  double p = 0, q = 0;
  if (op == LT_CLAMP) {
    if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3)) luaL_error(L, "%s: at least one of min and max must be given", fname);
    p = luaL_optnumber(L, 2, -HUGE_VAL);
    q = luaL_optnumber(L, 3, HUGE_VAL);
    if (p > q) luaL_error(L, "%s: lower bound %f is above upper bound %f", fname, p, q);
  }
  lt_tensor *o = inplace ? a : new_like(L, a, a->dtype);
  lt_unary(o, a, op, p, q);
  if (inplace) lua_settop(L, 1);
  return 1;
}

#define UNARY(name, op)                                                       \
  static int m_##name(lua_State *L) { return unary(L, op, #name, 0); }        \
  static int m_##name##_(lua_State *L) { return unary(L, op, #name "_", 1); }
UNARY(neg, LT_NEG)
UNARY(exp, LT_EXP)
UNARY(log, LT_LOG)
UNARY(sqrt, LT_SQRT)
UNARY(tanh, LT_TANH)
UNARY(sigmoid, LT_SIGMOID)
UNARY(relu, LT_RELU)
UNARY(abs, LT_ABS)
/** t:clamp([min], [max]) -> a new float (or double) tensor of t's elements limited to min..max; either
 * side may be nil (open): x:clamp(0, nil), x:clamp(nil, 1). NaN stays NaN; clamp_ works in
 * place. Errors: "clamp: at least one of min and max must be given", "clamp: lower bound
 * 2.000000 is above upper bound 1.000000". Example: lunet.tensor{-2, 3}:clamp(0) --> {0, 3} */
UNARY(clamp, LT_CLAMP)
/** t:sin(), cos(), floor(), ceil(), round() (halves to even), sign() (-1, 0 or 1; NaN stays
 * NaN) -> a new float (or double) tensor; the names ending in _ work in place on a float
 * or double tensor.
 * Example: lunet.tensor{-1.5, 0.5, 2.5}:round() --> {-2, 0, 2} */
UNARY(sin, LT_SIN)
UNARY(cos, LT_COS)
UNARY(floor, LT_FLOOR)
UNARY(ceil, LT_CEIL)
UNARY(round, LT_ROUND)
UNARY(sign, LT_SIGN)

static int mt_unm(lua_State *L) { return unary(L, LT_NEG, "neg", 0); }

/* ---------------------------------------------------------------- reductions */

/* Reductions that have a value for no elements: sum 0, prod 1, norm 0 (p >= 0),
 * logsumexp -inf, all true, any false. */
static int reduces_empty(lt_redop op, double p) {
  return op == LT_SUM || op == LT_PROD || (op == LT_NORM && p >= 0) || op == LT_LOGSUMEXP || op == LT_ALL ||
         op == LT_ANY;
}

/* t:op() over everything (a number; all/any a boolean) or t:op(dim [, keepdim]) with the
 * dimension at argument darg (a tensor of t's dtype, float for an int t; int for
 * argmax/argmin). Accumulated in float64 either way. */
static int reduce_p(lua_State *L, lt_redop op, const char *fname, double p, int darg) {
  lt_tensor *a = real_arg(L, 1, fname);
  if (lua_isnoneornil(L, darg)) {
    if (lt_numel(a) == 0 && !reduces_empty(op, p)) luaL_error(L, "%s: tensor is empty", fname);
    double v = lt_reduce_all(a, op, p);
    if (op == LT_ARGMAX || op == LT_ARGMIN)
      lua_pushinteger(L, (lua_Integer)v + 1);
    else if (op == LT_ALL || op == LT_ANY)
      lua_pushboolean(L, v != 0.0);
    else
      lua_pushnumber(L, v);
    return 1;
  }
  int d = lunet_checkdimarg(L, darg, a, fname);
  int keep = lua_toboolean(L, darg + 1);
  if (a->size[d] == 0 && !reduces_empty(op, p)) luaL_error(L, "%s: dimension %d is empty", fname, d + 1);
  int64_t size[LT_MAXDIM];
  for (int i = 0; i < a->ndim; i++) size[i] = i == d ? 1 : a->size[i];
  int is_arg = op == LT_ARGMAX || op == LT_ARGMIN;
  lt_tensor *o = lunet_newtensor(L, is_arg ? LT_INT : a->dtype, a->ndim, size, fname);
  lt_reduce_dim(o, a, d, op, p);
  if (is_arg) {
    int64_t n = lt_numel(o);
    for (int64_t i = 0; i < n; i++) lt_idata(o)[i] += 1;
  }
  if (!keep) {
    for (int j = d; j < o->ndim - 1; j++) {
      o->size[j] = o->size[j + 1];
      o->stride[j] = o->stride[j + 1];
    }
    o->ndim--;
  }
  /* max/min along a dim also give the indices, as the second result */
  if (op == LT_MAX || op == LT_MIN) {
    lt_tensor *ix = lunet_newtensor(L, LT_INT, a->ndim, size, fname);
    lt_reduce_dim(ix, a, d, op == LT_MAX ? LT_ARGMAX : LT_ARGMIN, p);
    int64_t n = lt_numel(ix);
    for (int64_t i = 0; i < n; i++) lt_idata(ix)[i] += 1;
    if (!keep) {
      ix->ndim = o->ndim;
      for (int j = 0; j < o->ndim; j++) {
        ix->size[j] = o->size[j];
        ix->stride[j] = o->stride[j];
      }
    }
    return 2;
  }
  return 1;
}

static int reduce(lua_State *L, lt_redop op, const char *fname) { return reduce_p(L, op, fname, 0.0, 2); }

/** t:prod([dim [, keepdim]]), t:logsumexp([dim [, keepdim]]), t:all([dim [, keepdim]]),
 * t:any([dim [, keepdim]]): over every element a number (all/any: a boolean), along dim a
 * float tensor (all/any: 0/1, the mask type of the comparisons). Accumulated in float64.
 * An empty tensor gives prod 1, logsumexp -inf, all true, any false. NaN propagates
 * through prod and logsumexp and counts as true for all/any; max and min (and
 * argmax/argmin) propagate NaN too, as PyTorch: the first NaN is the result.
 * Example: lunet.tensor{{1, 2}, {3, 4}}:prod(2) --> {2, 12} */
static int m_prod(lua_State *L) { return reduce(L, LT_PROD, "prod"); }
static int m_logsumexp(lua_State *L) { return reduce(L, LT_LOGSUMEXP, "logsumexp"); }
static int m_all(lua_State *L) { return reduce(L, LT_ALL, "all"); }
static int m_any(lua_State *L) { return reduce(L, LT_ANY, "any"); }

/** t:norm([p = 2 [, dim [, keepdim]]]) -> the p-norm (sum |x|^p)^(1/p) of every element (a
 * number) or along dim (a float or double tensor). p = 0 counts nonzeros, p = math.huge gives max |x|,
 * -math.huge min |x|; any NaN gives NaN. An empty tensor's norm is 0 (p >= 0).
 * Errors: "norm: p must be a number, got ...".
 * Example: lunet.tensor{3, 4}:norm() --> 5 */
static int m_norm(lua_State *L) {
  double p = 2.0;
  if (!lua_isnoneornil(L, 2)) {
    if (lua_type(L, 2) != LUA_TNUMBER) luaL_error(L, "norm: p must be a number, got %s", luaL_typename(L, 2));
    p = lua_tonumber(L, 2);
    if (isnan(p)) luaL_error(L, "norm: p must be a number, got nan");
  }
  return reduce_p(L, LT_NORM, "norm", p, 3);
}

/* The optional dimension argument at arg (1-based, negative from the end) of t, 0-based;
 * def when none is given. */
static int optdim(lua_State *L, int arg, const lt_tensor *t, int def, const char *fname) {
  return lua_isnoneornil(L, arg) ? def : lunet_checkdimarg(L, arg, t, fname);
}

static int scan(lua_State *L, lt_redop op, const char *fname) {
  lt_tensor *a = real_arg(L, 1, fname);
  if (a->ndim == 0) luaL_error(L, "%s: cannot scan a 0-D tensor", fname);
  int d = optdim(L, 2, a, 0, fname);
  lt_scan(new_like(L, a, a->dtype), a, d, op);
  return 1;
}
/** t:cumsum([dim = 1]), t:cumprod([dim = 1]) -> a tensor of t's shape and dtype (float for
 * an int t): the running sum (product) along dim, accumulated in float64. Example: lunet.tensor{1, 2, 3}:cumsum() --> {1, 3, 6} */
static int m_cumsum(lua_State *L) { return scan(L, LT_SUM, "cumsum"); }
static int m_cumprod(lua_State *L) { return scan(L, LT_PROD, "cumprod"); }

static int m_sum(lua_State *L) { return reduce(L, LT_SUM, "sum"); }
static int m_mean(lua_State *L) { return reduce(L, LT_MEAN, "mean"); }
static int m_max(lua_State *L) { return reduce(L, LT_MAX, "max"); }
static int m_min(lua_State *L) { return reduce(L, LT_MIN, "min"); }
static int m_var(lua_State *L) { return reduce(L, LT_VAR, "var"); }
static int m_std(lua_State *L) { return reduce(L, LT_STD, "std"); }
static int m_argmax(lua_State *L) { return reduce(L, LT_ARGMAX, "argmax"); }
static int m_argmin(lua_State *L) { return reduce(L, LT_ARGMIN, "argmin"); }

/* ---------------------------------------------------------------- matrix products */

/* The matrix dimensions (the last two) of t, and their strides, must fit a BLAS int. */
static void check_blas_dims(lua_State *L, const lt_tensor *t, const char *fname) {
  for (int i = t->ndim - 2; i < t->ndim; i++)
    if (t->size[i] > INT32_MAX || t->stride[i] > INT32_MAX)
      luaL_error(L, "%s: dimensions beyond 2^31 are not supported by BLAS", fname);
}

/* C = beta*C + alpha * A·B, 2-D (lt_addmm) or batched 3-D (lt_bmm). */
static void mm_into(lua_State *L, lt_tensor *c, double beta, double alpha, const lt_tensor *a, const lt_tensor *b,
                    const char *fname) {
  check_blas_dims(L, a, fname);
  check_blas_dims(L, b, fname);
  check_blas_dims(L, c, fname);
  if ((c->ndim == 3 ? lt_bmm : lt_addmm)(c, beta, alpha, a, b)) luaL_error(L, "%s: out of memory", fname);
}

static void shape_mismatch(lua_State *L, const char *fname, const lt_tensor *a, const lt_tensor *b) {
  char x[160], y[160];
  luaL_error(L, "%s: shapes %s and %s do not match for a matrix product", fname, lt_shape_str(a, x, sizeof x),
             lt_shape_str(b, y, sizeof y));
}

/* The operand at idx of a matrix product: a float or double tensor of ref's dtype (the
 * products do not mix dtypes, as in PyTorch):
 * "matmul: argument #2 is a float tensor and argument #1 a double tensor: ...". */
static lt_tensor *mm_operand(lua_State *L, int idx, const lt_tensor *ref, int refidx, const char *fname) {
  lt_tensor *t = lunet_checkreal(L, idx, fname);
  if (ref && t->dtype != ref->dtype)
    luaL_error(L, "%s: argument #%d is a %s tensor and argument #%d a %s tensor: the operands of a matrix product "
               "must have one dtype (convert one with :float() or :double())", fname, idx, lunet_dtypename(t->dtype),
               refidx, lunet_dtypename(ref->dtype));
  return t;
}

/* matmul: 1-D·1-D (number), 2-D@2-D, 2-D@1-D, 1-D@2-D, batched 3-D@3-D and 3-D@2-D. */
static int m_matmul(lua_State *L) {
  lt_tensor *a = mm_operand(L, 1, NULL, 0, "matmul");
  lt_tensor *b = mm_operand(L, 2, a, 1, "matmul");
  lt_tensor av = *a, bv = *b;
  int squeeze_a = 0, squeeze_b = 0;
  if (a->ndim < 1 || a->ndim > 3 || b->ndim < 1 || b->ndim > 3)
    luaL_error(L, "matmul: operands must be 1-D, 2-D or 3-D, got %d-D and %d-D", a->ndim, b->ndim);
  if (av.ndim == 1) { /* row vector */
    av.ndim = 2;
    av.size[1] = a->size[0];
    av.stride[1] = a->stride[0];
    av.size[0] = 1;
    av.stride[0] = step_offset(L, 0, a->size[0], a->stride[0], "matmul");
    squeeze_a = 1;
  }
  if (bv.ndim == 1) { /* column vector */
    bv.ndim = 2;
    bv.size[0] = b->size[0];
    bv.stride[0] = b->stride[0];
    bv.size[1] = 1;
    bv.stride[1] = 1;
    squeeze_b = 1;
  }
  if (av.ndim == 2 && bv.ndim == 2) {
    if (av.size[1] != bv.size[0]) shape_mismatch(L, "matmul", a, b);
    if (squeeze_a && squeeze_b) {
      scalar_slot v;
      const int64_t one[2] = {1, 1};
      lt_tensor c = scalar_view(L, a->dtype, 0.0, &v, 2, one, "matmul");
      c.stride[0] = c.stride[1] = 1;
      mm_into(L, &c, 0, 1, &av, &bv, "matmul");
      lua_pushnumber(L, lt_get(&c, 0));
      return 1;
    }
    int64_t size[2] = {av.size[0], bv.size[1]};
    lt_tensor *c = (av.size[1] == 0 ? lunet_newtensor : lunet_newresult)(L, a->dtype, 2, size, "matmul");
    mm_into(L, c, 0, 1, &av, &bv, "matmul");
    if (squeeze_a) {
      c->ndim = 1;
      c->size[0] = size[1];
      c->stride[0] = 1;
    } else if (squeeze_b) {
      c->ndim = 1;
      c->stride[0] = 1;
    }
    return 1;
  }
  /* batched: (B,n,k) @ (B,k,m) or (B,n,k) @ (k,m) */
  if (av.ndim != 3 || squeeze_b) shape_mismatch(L, "matmul", a, b);
  int64_t B = av.size[0];
  if ((bv.ndim == 3 && (bv.size[0] != B || bv.size[1] != av.size[2])) || (bv.ndim == 2 && bv.size[0] != av.size[2]))
    shape_mismatch(L, "matmul", a, b);
  int64_t m = bv.ndim == 3 ? bv.size[2] : bv.size[1];
  int64_t size[3] = {B, av.size[1], m};
  lt_tensor *c = (av.size[2] == 0 ? lunet_newtensor : lunet_newresult)(L, a->dtype, 3, size, "matmul");
  mm_into(L, c, 0, 1, &av, &bv, "matmul");
  return 1;
}

/* C:addmm_(A, B [, beta=1, alpha=1]) — in place: C = beta*C + alpha*A@B. */
static int m_addmm_(lua_State *L) {
  lt_tensor *c = mm_operand(L, 1, NULL, 0, "addmm_");
  lt_tensor *a = mm_operand(L, 2, c, 1, "addmm_");
  lt_tensor *b = mm_operand(L, 3, c, 1, "addmm_");
  double beta = luaL_optnumber(L, 4, 1.0), alpha = luaL_optnumber(L, 5, 1.0);
  lunet_checkdim(L, a, 2, "addmm_", "A", "(n,k)");
  lunet_checkdim(L, b, 2, "addmm_", "B", "(k,m)");
  lunet_checkdim(L, c, 2, "addmm_", "C", "(n,m)");
  if (a->size[1] != b->size[0] || c->size[0] != a->size[0] || c->size[1] != b->size[1]) {
    char x[160], y[160], z[160];
    luaL_error(L, "addmm_: shapes C%s, A%s, B%s do not match", lt_shape_str(c, z, sizeof z),
               lt_shape_str(a, x, sizeof x), lt_shape_str(b, y, sizeof y));
  }
  /* BLAS reads A and B while it writes C: an operand overlapping C is copied out */
  if (lt_overlap(c, a)) a = push_contiguous_copy(L, a);
  if (lt_overlap(c, b)) b = push_contiguous_copy(L, b);
  mm_into(L, c, beta, alpha, a, b, "addmm_");
  lua_settop(L, 1);
  return 1;
}

/* C:addmm(A, B [, beta, alpha]) — a new tensor. */
static int m_addmm(lua_State *L) {
  lt_tensor *c = mm_operand(L, 1, NULL, 0, "addmm");
  lt_copy(new_like(L, c, c->dtype), c);
  lua_replace(L, 1);
  return m_addmm_(L);
}

static int m_bmm(lua_State *L) {
  lt_tensor *a = mm_operand(L, 1, NULL, 0, "bmm");
  lt_tensor *b = mm_operand(L, 2, a, 1, "bmm");
  lunet_checkdim(L, a, 3, "bmm", "A", "(B,n,k)");
  lunet_checkdim(L, b, 3, "bmm", "B", "(B,k,m)");
  return m_matmul(L);
}

/* dot(a, b): sum of products of two same-size tensors (float64 accumulation; a float
 * and a double operand are multiplied in double). */
static int m_dot(lua_State *L) {
  lt_dtype dt = arith_dtype(L, 1, 2);
  lt_tensor *a = as_dtype(L, 1, dt, "dot");
  lt_tensor *b = as_dtype(L, 2, dt, "dot");
  if (!lt_same_shape(a, b)) {
    char x[160], y[160];
    luaL_error(L, "dot: shapes %s and %s differ", lt_shape_str(a, x, sizeof x), lt_shape_str(b, y, sizeof y));
  }
  lua_pushnumber(L, lt_dot(a, b));
  return 1;
}

/* t:index(idx [, out]) — rows of t picked by a 1-D int tensor of 1-based indices along
 * dimension 1 (a gather, for minibatches); out, if given, receives them (resized and
 * reused unless it already has the result's shape). */
static int m_index(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  lt_tensor *ix = lunet_checkint(L, 2, "index");
  if (ix->ndim != 1) luaL_error(L, "index: indices must be a 1-D int tensor, got %d-D", ix->ndim);
  if (t->ndim < 1) luaL_error(L, "index: cannot gather from a 0-D tensor");
  int64_t size[LT_MAXDIM];
  for (int i = 0; i < t->ndim; i++) size[i] = t->size[i];
  size[0] = ix->size[0];
  int64_t n = ix->size[0];
  for (int64_t i = 0; i < n; i++) {
    int32_t k = lt_idata(ix)[i * ix->stride[0]];
    if (k < 1 || k > t->size[0])
      luaL_error(L, "index: index %I out of range for dimension 1 of size %I", (lua_Integer)k, (lua_Integer)t->size[0]);
  }
  if (lua_isnoneornil(L, 3)) {
    lt_index_select(lunet_newresult(L, t->dtype, t->ndim, size, "index"), t, 0, lt_idata(ix), ix->stride[0]);
    return 1;
  }
  lt_tensor *o = lunet_checktensor(L, 3);
  if (o->dtype != t->dtype) luaL_error(L, "index: out must have the dtype of the source");
  /* An out that shares storage with the source or the indices receives a finished
   * gather: rows copied one by one would read what earlier rows wrote. */
  lt_tensor *tmp = NULL;
  if (o->base == t->base || o->base == ix->base) {
    tmp = lunet_newresult(L, t->dtype, t->ndim, size, "index");
    lt_index_select(tmp, t, 0, lt_idata(ix), ix->stride[0]);
    /* read in full: out may now grow over them */
    lua_pushnil(L);
    lua_replace(L, 1);
    lua_pushnil(L);
    lua_replace(L, 2);
  }
  /* an out of the result's shape, of any layout, is written where it points */
  lt_tensor want = *t;
  want.size[0] = size[0];
  if (!lt_same_shape(o, &want)) o = lunet_resize(L, 3, t->ndim, size, "index", "out");
  if (tmp) lt_copy(o, tmp);
  else lt_index_select(o, t, 0, lt_idata(ix), ix->stride[0]);
  lua_settop(L, 3);
  return 1;
}

/* ---------------------------------------------------------------- joining and splitting */

/* The tensors of the list at argument 1 pushed on the stack (the first at the returned
 * index), each checked: "fname: list element 2 must be a tensor, got string". */
static int push_list(lua_State *L, const char *fname, int *count) {
  lua_settop(L, 2); /* the list and the dimension */
  if (!lua_istable(L, 1) || lunet_totensor(L, 1))
    luaL_error(L, "%s: argument #1 must be a table of tensors, got %s", fname, luaL_typename(L, 1));
  lua_Integer n = luaL_len(L, 1);
  if (n < 1) luaL_error(L, "%s: argument #1 must hold at least one tensor", fname);
  if (n > 1000000 || !lua_checkstack(L, (int)n + 8)) luaL_error(L, "%s: too many tensors (%I)", fname, n);
  int first = lua_gettop(L) + 1;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 1, i);
    lt_tensor *t = lunet_totensor(L, -1);
    if (!t) luaL_error(L, "%s: list element %I must be a tensor, got %s", fname, i, luaL_typename(L, -1));
    if (!t->base) luaL_error(L, "%s: list element %I was released (closed)", fname, i);
  }
  *count = (int)n;
  return first;
}

static void dtype_mismatch(lua_State *L, const char *fname, int i, const lt_tensor *t, const lt_tensor *ref) {
  luaL_error(L, "%s: list element %d is a%s %s tensor, element 1 a%s %s tensor", fname, i,
             t->dtype == LT_INT ? "n" : "", lunet_dtypename(t->dtype), ref->dtype == LT_INT ? "n" : "",
             lunet_dtypename(ref->dtype));
}

/** lunet.cat(list, [dim = 1]) -> a new tensor: the tensors of list joined along dim
 * (negative counts from the end). They must have one dtype (float or int) and equal sizes
 * but along dim; a 1-D empty tensor is skipped (as in PyTorch).
 * Errors name the element: "cat: list element 2 has shape (2,4), element 1 (2,3): sizes
 * must match except along dimension 1".
 * Example: lunet.cat({lunet.ones(2, 3), lunet.zeros(1, 3)}, 1) --> a (3,3) tensor */
static int l_cat(lua_State *L) {
  int n, first = push_list(L, "cat", &n);
  const lt_tensor *ref = NULL;
  int refi = 1;
  for (int i = 0; i < n && !ref; i++) {
    const lt_tensor *t = lunet_totensor(L, first + i);
    if (!(t->ndim == 1 && t->size[0] == 0)) ref = t, refi = i + 1;
  }
  if (!ref) ref = lunet_totensor(L, first);
  if (ref->ndim == 0) luaL_error(L, "cat: list element %d is 0-D; cat joins tensors of at least one dimension", refi);
  int d = optdim(L, 2, ref, 0, "cat");
  int64_t size[LT_MAXDIM], total = 0;
  for (int i = 0; i < n; i++) {
    const lt_tensor *t = lunet_totensor(L, first + i);
    if (t->ndim == 1 && t->size[0] == 0 && t != ref) continue;
    if (t->dtype != ref->dtype) dtype_mismatch(L, "cat", i + 1, t, ref);
    int same = t->ndim == ref->ndim;
    for (int k = 0; same && k < t->ndim; k++) same = k == d || t->size[k] == ref->size[k];
    if (!same) {
      char a[160], b[160];
      luaL_error(L, "cat: list element %d has shape %s, element %d %s: sizes must match except along dimension %d",
                 i + 1, lt_shape_str(t, a, sizeof a), refi, lt_shape_str(ref, b, sizeof b), d + 1);
    }
    if (lt_add_overflow(total, t->size[d], &total)) luaL_error(L, "cat: sizes overflow");
  }
  for (int k = 0; k < ref->ndim; k++) size[k] = k == d ? total : ref->size[k];
  lt_tensor *o = lunet_newresult(L, ref->dtype, ref->ndim, size, "cat");
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    const lt_tensor *t = lunet_totensor(L, first + i);
    if (t->ndim == 1 && t->size[0] == 0 && t != ref) continue;
    lt_tensor v = *o;
    v.offset = step_offset(L, o->offset, at, o->stride[d], "cat");
    v.size[d] = t->size[d];
    lt_copy(&v, t);
    at += t->size[d];
  }
  return 1;
}

/** lunet.stack(list, [dim = 1]) -> a new tensor of one more dimension: the tensors of list
 * (one shape, one dtype) side by side along the new dimension dim, 1..ndim+1 (negative
 * counts from the end). Example: lunet.stack({lunet.ones(3), lunet.zeros(3)}, 2) --> (3,2) */
static int l_stack(lua_State *L) {
  int n, first = push_list(L, "stack", &n);
  const lt_tensor *ref = lunet_totensor(L, first);
  if (ref->ndim == LT_MAXDIM) luaL_error(L, "stack: tensors of %d dimensions cannot gain another", LT_MAXDIM);
  lua_Integer dd = luaL_optinteger(L, 2, 1);
  if (dd < 0) dd += ref->ndim + 2;
  if (dd < 1 || dd > ref->ndim + 1)
    luaL_error(L, "stack: dimension %I out of range for stacking %d-D tensors", luaL_optinteger(L, 2, 1), ref->ndim);
  int d = (int)dd - 1;
  for (int i = 1; i < n; i++) {
    const lt_tensor *t = lunet_totensor(L, first + i);
    if (t->dtype != ref->dtype) dtype_mismatch(L, "stack", i + 1, t, ref);
    if (!lt_same_shape(t, ref)) {
      char a[160], b[160];
      luaL_error(L, "stack: list element %d has shape %s, element 1 %s: shapes must be equal", i + 1,
                 lt_shape_str(t, a, sizeof a), lt_shape_str(ref, b, sizeof b));
    }
  }
  int64_t size[LT_MAXDIM];
  for (int k = 0, j = 0; k <= ref->ndim; k++) size[k] = k == d ? n : ref->size[j++];
  lt_tensor *o = lunet_newresult(L, ref->dtype, ref->ndim + 1, size, "stack");
  for (int i = 0; i < n; i++) {
    lt_tensor v = *o;
    v.offset = step_offset(L, o->offset, i, o->stride[d], "stack");
    for (int k = d; k < o->ndim - 1; k++) {
      v.size[k] = o->size[k + 1];
      v.stride[k] = o->stride[k + 1];
    }
    v.ndim--;
    lt_copy(&v, lunet_totensor(L, first + i));
  }
  return 1;
}

/* A table of views of the tensor at 1: pieces of step along d, the last one shorter. */
static int split_views(lua_State *L, const lt_tensor *t, int64_t step, int d, const char *fname) {
  int64_t len = t->size[d], pieces = len == 0 ? 1 : (len - 1) / step + 1;
  if (pieces > INT32_MAX) luaL_error(L, "%s: too many pieces (%I)", fname, (lua_Integer)pieces);
  lua_createtable(L, (int)pieces, 0);
  for (int64_t i = 0; i < pieces; i++) {
    lt_tensor v = *t;
    int64_t at = i * step; /* < len: no overflow */
    v.offset = step_offset(L, t->offset, at, t->stride[d], fname);
    v.size[d] = len - at < step ? len - at : step;
    lunet_pushview(L, 1, &v);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* A table of views of the tensor at 1 along d, of the sizes in the table at 2, which must
 * add up to t's size along d. */
static int split_sizes(lua_State *L, const lt_tensor *t, int d) {
  lua_Integer n = (lua_Integer)luaL_len(L, 2);
  int64_t at = 0;
  lua_createtable(L, n > 0 && n < INT32_MAX ? (int)n : 0, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 2, i);
    int ok;
    lua_Integer len = lua_tointegerx(L, -1, &ok);
    lua_pop(L, 1);
    if (!ok || len < 0) luaL_error(L, "split: sizes[%I] must be a non-negative integer", i);
    if (len > t->size[d] - at)
      luaL_error(L, "split: sizes add up to more than %I, the size of dimension %d", (lua_Integer)t->size[d], d + 1);
    lt_tensor v = *t;
    v.offset = step_offset(L, t->offset, at, t->stride[d], "split");
    v.size[d] = len;
    at += len;
    lunet_pushview(L, 1, &v);
    lua_rawseti(L, -2, i);
  }
  if (at != t->size[d])
    luaL_error(L, "split: sizes add up to %I, not %I, the size of dimension %d", (lua_Integer)at,
               (lua_Integer)t->size[d], d + 1);
  return 1;
}

/** t:split(size, [dim = 1]) -> a table of views of t, pieces of size along dim, the last
 * one shorter when size does not divide t:size(dim) (one empty view for an empty dim);
 * size may also be a table of sizes that add up to t:size(dim). Writing a piece writes t.
 * Example: lunet.arange(5):split(2) --> views {0,1}, {2,3}, {4}; :split({1, 4}) --> {0}, {1,2,3,4} */
static int m_split(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (t->ndim == 0) luaL_error(L, "split: cannot split a 0-D tensor");
  int d = optdim(L, 3, t, 0, "split");
  if (lua_istable(L, 2) && !lunet_totensor(L, 2)) return split_sizes(L, t, d);
  lua_Integer step = lunet_checkinteger(L, 2, "split", "size", 1, LUA_MAXINTEGER);
  return split_views(L, t, step, d, "split");
}

/** t:chunk(n, [dim = 1]) -> a table of at most n views of t along dim, each of
 * ceil(t:size(dim) / n) elements but the last (fewer pieces when they run out, as PyTorch).
 * Example: lunet.arange(6):chunk(4) --> views {0,1}, {2,3}, {4,5} */
static int m_chunk(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (t->ndim == 0) luaL_error(L, "chunk: cannot chunk a 0-D tensor");
  lua_Integer n = lunet_checkinteger(L, 2, "chunk", "n", 1, LUA_MAXINTEGER);
  int d = optdim(L, 3, t, 0, "chunk");
  int64_t len = t->size[d], step = len / n + (len % n != 0);
  return split_views(L, t, step > 0 ? step : 1, d, "chunk");
}

/* ---------------------------------------------------------------- indexing */

/* The int index tensor at arg, every element in 1..hi (for dimension d), else
 * "fname: index 7 out of range for dimension 2 of size 3". A view overlapping out (the
 * tensor the caller writes) is copied out first. */
static lt_tensor *check_indices(lua_State *L, int arg, int64_t hi, int d, const char *fname, const lt_tensor *out) {
  lt_tensor *ix = lunet_checkint(L, arg, fname);
  int64_t bad;
  if (lt_index_check(ix, hi, &bad))
    luaL_error(L, "%s: index %I out of range for dimension %d of size %I", fname, (lua_Integer)bad, d + 1,
               (lua_Integer)hi);
  if (out && lt_overlap(out, ix)) {
    ix = push_contiguous_copy(L, ix);
    lua_replace(L, arg);
  }
  return ix;
}

/* The input at arg, copied out when it overlaps out (the tensor being written) in any
 * other way than as the same view. */
static lt_tensor *unaliased(lua_State *L, int arg, lt_tensor *in, const lt_tensor *out) {
  if (lt_overlap(out, in) && !lt_same_view(out, in)) {
    in = push_contiguous_copy(L, in);
    lua_replace(L, arg);
  }
  return in;
}

/** t:indexSelect(dim, idx) -> a new tensor (t's dtype): the slices of t along dim (negative
 * counts from the end) picked by the 1-D int tensor idx of 1-based indices; its size along
 * dim is #idx. Example: x:indexSelect(2, lunet.tensor({3, 1}, "int")) --> columns 3 and 1 */
static int m_indexSelect(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (t->ndim == 0) luaL_error(L, "indexSelect: cannot index a 0-D tensor");
  int d = lunet_checkdimarg(L, 2, t, "indexSelect");
  lt_tensor *ix = check_indices(L, 3, t->size[d], d, "indexSelect", NULL);
  if (ix->ndim != 1) luaL_error(L, "indexSelect: idx (argument #3) must be 1-D, got %d-D", ix->ndim);
  int64_t size[LT_MAXDIM];
  for (int i = 0; i < t->ndim; i++) size[i] = i == d ? ix->size[0] : t->size[i];
  lt_index_select(lunet_newresult(L, t->dtype, t->ndim, size, "indexSelect"), t, d, lt_idata(ix), ix->stride[0]);
  return 1;
}

/** t:indexAdd_(dim, idx, src) -> t: t's slice idx[i] along dim += src's slice i, for every i
 * (a repeated index adds each time). t and src float, or both double, equal sizes but along
 * dim, where src has #idx. Example: lunet.zeros(3):indexAdd_(1, lunet.tensor({1, 1}, "int"), lunet.ones(2)) --> {2, 0, 0} */
static int m_indexAdd_(lua_State *L) {
  lt_tensor *t = lunet_checkreal(L, 1, "indexAdd_");
  if (t->ndim == 0) luaL_error(L, "indexAdd_: cannot index a 0-D tensor");
  int d = lunet_checkdimarg(L, 2, t, "indexAdd_");
  lt_tensor *ix = check_indices(L, 3, t->size[d], d, "indexAdd_", t);
  if (ix->ndim != 1) luaL_error(L, "indexAdd_: idx (argument #3) must be 1-D, got %d-D", ix->ndim);
  lt_tensor *src = lunet_checkdtype(L, 4, "indexAdd_", t->dtype);
  int ok = src->ndim == t->ndim;
  for (int i = 0; ok && i < t->ndim; i++) ok = src->size[i] == (i == d ? ix->size[0] : t->size[i]);
  if (!ok) {
    char a[160], b[160];
    luaL_error(L, "indexAdd_: src (argument #4) has shape %s; it must be t's %s with %I along dimension %d", lt_shape_str(src, a, sizeof a),
               lt_shape_str(t, b, sizeof b), (lua_Integer)ix->size[0], d + 1);
  }
  if (lt_overlap(t, src)) src = push_contiguous_copy(L, src); /* even the same view: slices move */
  lt_index_add(t, d, lt_idata(ix), ix->stride[0], src);
  lua_settop(L, 1);
  return 1;
}

/* idx (gather's and scatter's) has t's rank and, but along d, no size beyond limit's. */
static void check_index_shape(lua_State *L, const lt_tensor *ix, const lt_tensor *limit, int d, const char *fname,
                              const char *what) {
  int ok = ix->ndim == limit->ndim;
  for (int i = 0; ok && i < ix->ndim; i++) ok = i == d || ix->size[i] <= limit->size[i];
  if (!ok) {
    char a[160], b[160];
    luaL_error(L, "%s: idx %s must have the rank of %s %s and no larger size but along dimension %d", fname,
               lt_shape_str(ix, a, sizeof a), what, lt_shape_str(limit, b, sizeof b), d + 1);
  }
}

/** t:gather(dim, idx) -> a new tensor of idx's shape and t's dtype: out[p] = t[p with
 * p[dim] = idx[p]] (1-based). idx is an int tensor of t's rank, no larger than t but along
 * dim. Example: lunet.tensor{{1, 2}, {3, 4}}:gather(2, lunet.tensor({{2}, {1}}, "int")) --> {{2}, {3}} */
static int m_gather(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (t->ndim == 0) luaL_error(L, "gather: cannot index a 0-D tensor");
  int d = lunet_checkdimarg(L, 2, t, "gather");
  lt_tensor *ix = check_indices(L, 3, t->size[d], d, "gather", NULL);
  check_index_shape(L, ix, t, d, "gather", "t");
  lt_gather(lunet_newresult(L, t->dtype, ix->ndim, ix->size, "gather"), t, d, ix);
  return 1;
}

static int scatter(lua_State *L, int accumulate, const char *fname) {
  lt_tensor *t = accumulate ? lunet_checkreal(L, 1, fname) : lunet_checktensor(L, 1);
  if (t->ndim == 0) luaL_error(L, "%s: cannot index a 0-D tensor", fname);
  int d = lunet_checkdimarg(L, 2, t, fname);
  lt_tensor *ix = check_indices(L, 3, t->size[d], d, fname, t);
  check_index_shape(L, ix, t, d, fname, "t");
  lt_tensor src;
  scalar_slot one;
  if (lua_type(L, 4) == LUA_TNUMBER) { /* one value everywhere: every stride 0 */
    src = scalar_view(L, t->dtype, lua_tonumber(L, 4), &one, 0, NULL, fname);
  } else {
    lt_tensor *s = lunet_totensor(L, 4);
    if (!s) luaL_error(L, "%s: src (argument #4) must be a tensor or a number, got %s", fname, luaL_typename(L, 4));
    if (s->dtype != t->dtype) luaL_error(L, "%s: src (argument #4) must have t's dtype %s, got %s", fname,
                                         lunet_dtypename(t->dtype), lunet_dtypename(s->dtype));
    for (int i = 0; i < ix->ndim; i++)
      if (s->ndim != ix->ndim || ix->size[i] > s->size[i]) {
        char a[160], b[160];
        luaL_error(L, "%s: src %s must have idx's rank and be no smaller than idx %s", fname,
                   lt_shape_str(s, a, sizeof a), lt_shape_str(ix, b, sizeof b));
      }
    if (lt_overlap(t, s)) s = push_contiguous_copy(L, s);
    src = *s;
  }
  src.ndim = ix->ndim;
  for (int i = 0; i < ix->ndim; i++) src.size[i] = ix->size[i];
  lt_scatter(t, d, ix, &src, accumulate);
  lua_settop(L, 1);
  return 1;
}

/** t:scatter_(dim, idx, src) -> t: t[p with p[dim] = idx[p]] = src[p] for every position p of
 * idx (src a tensor of t's dtype at least idx's size, or a number); scatterAdd_ adds
 * instead (float or double; repeated indices add up). Where indices repeat, scatter_ keeps the last.
 * Example: lunet.zeros(2, 2):scatter_(2, lunet.tensor({{2}, {1}}, "int"), 5) --> {{0, 5}, {5, 0}} */
static int m_scatter_(lua_State *L) { return scatter(L, 0, "scatter_"); }
static int m_scatterAdd_(lua_State *L) { return scatter(L, 1, "scatterAdd_"); }

/* ---------------------------------------------------------------- masks */

/* The mask at arg: a tensor of any dtype (the comparisons give float 0/1), nonzero = true. */
static lt_tensor *check_mask(lua_State *L, int arg, const char *fname) {
  lt_tensor *m = lunet_totensor(L, arg);
  if (!m) luaL_error(L, "%s: mask (argument #%d) must be a tensor, got %s", fname, arg, luaL_typename(L, arg));
  if (!m->base) luaL_error(L, "%s: mask (argument #%d) was released (closed)", fname, arg);
  return m;
}

/** t:maskedFill_(mask, value) -> t: value where mask (broadcast to t's shape) is nonzero.
 * Masks are tensors of any dtype, nonzero (NaN too) meaning true: the comparisons' 0/1 results.
 * Example: x:maskedFill_(x:lt(0), 0) */
static int m_maskedFill_(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  lt_tensor *m = check_mask(L, 2, "maskedFill_");
  double v = elem_value(L, t->dtype, luaL_checknumber(L, 3), "maskedFill_");
  int64_t size[LT_MAXDIM];
  int nd = broadcast_shape(L, t, m, size, "maskedFill_");
  lt_tensor em = expanded(m, nd, size);
  if (nd != t->ndim || !lt_same_shape(&em, t)) {
    char a[160], b[160];
    luaL_error(L, "maskedFill_: mask %s does not broadcast to the tensor's shape %s", lt_shape_str(m, a, sizeof a),
               lt_shape_str(t, b, sizeof b));
  }
  if (lt_overlap(t, &em) && !lt_same_view(t, &em)) {
    m = push_contiguous_copy(L, m);
    em = expanded(m, nd, size);
  }
  lt_masked_fill(t, &em, v);
  lua_settop(L, 1);
  return 1;
}

/** t:maskedSelect(mask) -> a new 1-D tensor (t's dtype) of the elements of t where mask is
 * nonzero, row-major order; t and mask broadcast together. Example: x:maskedSelect(x:gt(0)) */
static int m_maskedSelect(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  lt_tensor *m = check_mask(L, 2, "maskedSelect");
  int64_t size[LT_MAXDIM];
  int nd = broadcast_shape(L, t, m, size, "maskedSelect");
  int64_t numel;
  if (lt_shape_numel(nd, size, &numel)) luaL_error(L, "maskedSelect: sizes overflow");
  lt_tensor et = expanded(t, nd, size), em = expanded(m, nd, size);
  int64_t n = lt_count_nonzero(&em);
  lt_masked_select(lunet_newresult(L, t->dtype, 1, &n, "maskedSelect"), &et, &em);
  return 1;
}

/** t:nonzero() -> an (n, t:dim()) int tensor: the 1-based positions of t's n nonzero
 * elements (NaN counts), row-major order. Example: lunet.tensor{0, 3, 0, 4}:nonzero() --> {{2}, {4}} */
static int m_nonzero(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  int64_t size[2] = {lt_count_nonzero(t), t->ndim};
  lt_nonzero(lunet_newresult(L, LT_INT, 2, size, "nonzero"), t);
  return 1;
}

/* The operand at arg as dtype dt, a tensor (converted) or a number (into *slot, a 0-D view). */
static lt_tensor ternary_operand(lua_State *L, int arg, lt_dtype dt, scalar_slot *slot, const char *fname,
                                 const char *what) {
  if (lua_type(L, arg) == LUA_TNUMBER) return scalar_view(L, dt, lua_tonumber(L, arg), slot, 0, NULL, fname);
  if (!lunet_totensor(L, arg))
    luaL_error(L, "%s: %s (argument #%d) must be a tensor or a number, got %s", fname, what, arg, luaL_typename(L, arg));
  return *as_dtype(L, arg, dt, fname);
}

/* The shape a, b and c broadcast to. */
static int broadcast3(lua_State *L, const lt_tensor *a, const lt_tensor *b, const lt_tensor *c, int64_t *size,
                      const char *fname) {
  lt_tensor ab;
  memset(&ab, 0, sizeof ab);
  ab.ndim = broadcast_shape(L, a, b, ab.size, fname);
  return broadcast_shape(L, &ab, c, size, fname);
}

/** lunet.where(mask, a, b) -> a new tensor, double when a or b is double, else float: a
 * where mask is nonzero (NaN too), else b; mask (any dtype), a and b (tensors, or numbers
 * for a and b) broadcast together. Example: lunet.where(x:gt(0), x, 0) --> relu(x) */
static int l_where(lua_State *L) {
  lua_settop(L, 3);
  scalar_slot sa, sb;
  check_mask(L, 1, "where");
  lt_dtype dt = arith_dtype(L, 2, 3);
  lt_tensor m = *as_dtype(L, 1, dt, "where");
  lt_tensor a = ternary_operand(L, 2, dt, &sa, "where", "a"), b = ternary_operand(L, 3, dt, &sb, "where", "b");
  int64_t size[LT_MAXDIM];
  int nd = broadcast3(L, &m, &a, &b, size, "where");
  lt_tensor em = expanded(&m, nd, size), ea = expanded(&a, nd, size), eb = expanded(&b, nd, size);
  lt_ternary(lunet_newresult(L, dt, nd, size, "where"), &em, &ea, &eb, LT_WHERE, 0.0);
  return 1;
}

/** t:lerp(finish, weight) -> a new tensor t + weight (finish - t), broadcasting, double when
 * one operand is, else float; finish and weight tensors or numbers.
 * Example: lunet.zeros(2):lerp(lunet.ones(2), 0.25) --> {0.25, 0.25} */
static int m_lerp(lua_State *L) {
  lua_settop(L, 3);
  scalar_slot sb, sw;
  real_arg(L, 1, "lerp");
  lt_dtype dt = arith_dtype(L, 1, 3);
  lt_tensor a = *as_dtype(L, 1, dt, "lerp");
  lt_tensor b = ternary_operand(L, 2, dt, &sb, "lerp", "finish"), w = ternary_operand(L, 3, dt, &sw, "lerp", "weight");
  int64_t size[LT_MAXDIM];
  int nd = broadcast3(L, &a, &b, &w, size, "lerp");
  lt_tensor ea = expanded(&a, nd, size), eb = expanded(&b, nd, size), ew = expanded(&w, nd, size);
  lt_ternary(lunet_newresult(L, dt, nd, size, "lerp"), &ea, &eb, &ew, LT_LERP, 0.0);
  return 1;
}

/* t:addcmul_(t1, t2 [, value]) or t:addcmul_(value, t1, t2) (Torch7's order). */
static int addc(lua_State *L, lt_ternop op, const char *fname) {
  lt_tensor *t = lunet_checkreal(L, 1, fname);
  double value = 1.0;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    value = lua_tonumber(L, 2);
    lua_remove(L, 2);
  } else if (!lua_isnoneornil(L, 4)) {
    value = luaL_checknumber(L, 4);
  }
  lua_settop(L, 3);
  lt_tensor *b = as_dtype(L, 2, t->dtype, fname), *c = as_dtype(L, 3, t->dtype, fname);
  int64_t size[LT_MAXDIM];
  int nd = broadcast3(L, t, b, c, size, fname);
  lt_tensor want = *t;
  want.ndim = nd;
  for (int i = 0; i < nd; i++) want.size[i] = size[i];
  if (nd != t->ndim || !lt_same_shape(&want, t)) {
    char x[160], y[160], z[160];
    luaL_error(L, "%s: operands %s and %s do not broadcast to the receiver's shape %s", fname,
               lt_shape_str(b, x, sizeof x), lt_shape_str(c, y, sizeof y), lt_shape_str(t, z, sizeof z));
  }
  lt_tensor eb = expanded(b, nd, size), ec = expanded(c, nd, size);
  if (lt_overlap(t, &eb) && !lt_same_view(t, &eb)) eb = expanded(b = unaliased(L, 2, b, t), nd, size);
  if (lt_overlap(t, &ec) && !lt_same_view(t, &ec)) ec = expanded(c = unaliased(L, 3, c, t), nd, size);
  lt_ternary(t, t, &eb, &ec, op, value);
  lua_settop(L, 1);
  return 1;
}

/** t:addcmul_(t1, t2 [, value = 1]) -> t: t += value t1 t2; t:addcdiv_(t1, t2 [, value = 1]):
 * t += value t1 / t2. t float or double (t1 and t2 converted to its dtype); t1 and t2
 * broadcast to t's shape. Torch7's order
 * t:addcmul_(value, t1, t2) works too. Example: v:addcmul_(g, g, 1 - beta2) */
static int m_addcmul_(lua_State *L) { return addc(L, LT_ADDCMUL, "addcmul_"); }
static int m_addcdiv_(lua_State *L) { return addc(L, LT_ADDCDIV, "addcdiv_"); }

/* ---------------------------------------------------------------- sorting and selection */

/* The input at 1 (float or int), the dimension at darg (default the last); rejects 0-D. */
static lt_tensor *sort_input(lua_State *L, int darg, int *d, const char *fname) {
  lt_tensor *a = lunet_checktensor(L, 1);
  if (a->ndim == 0) luaL_error(L, "%s: cannot sort a 0-D tensor", fname);
  *d = optdim(L, darg, a, a->ndim - 1, fname);
  return a;
}

static void sort_into(lua_State *L, const lt_tensor *a, int d, int descending, const char *fname) {
  lt_tensor *v = lunet_newresult(L, a->dtype, a->ndim, a->size, fname);
  lt_tensor *ix = lunet_newresult(L, LT_INT, a->ndim, a->size, fname);
  if (lt_sort(v, ix, a, d, descending)) luaL_error(L, "%s: out of memory", fname);
}

/** t:sort([dim = last [, descending = false]]) -> values (t's dtype, float or int), indices
 * (int, 1-based), both t's shape: t sorted along dim, stably (equal elements keep their
 * order); NaN sorts above every number (last ascending, first descending). t:argsort(...)
 * gives the indices alone. Example: local v, i = lunet.tensor{3, 1, 2}:sort() --> {1, 2, 3}, {2, 3, 1} */
static int m_sort(lua_State *L) {
  int d;
  lt_tensor *a = sort_input(L, 2, &d, "sort");
  sort_into(L, a, d, lua_toboolean(L, 3), "sort");
  return 2;
}

static int m_argsort(lua_State *L) {
  int d;
  lt_tensor *a = sort_input(L, 2, &d, "argsort");
  sort_into(L, a, d, lua_toboolean(L, 3), "argsort");
  return 1;
}

/** t:topk(k, [dim = last [, largest = true]]) -> values, indices (views, k along dim): the k
 * largest (smallest) elements along dim in order, ties in their original order.
 * Errors: "topk: k must be in 0..n, got ...". Example: lunet.tensor{1, 5, 3}:topk(2) --> {5, 3}, {2, 3} */
static int m_topk(lua_State *L) {
  int d;
  lt_tensor *a = sort_input(L, 3, &d, "topk");
  lua_Integer k = lunet_checkinteger(L, 2, "topk", "k", 0, a->size[d]);
  int largest = lua_isnoneornil(L, 4) || lua_toboolean(L, 4);
  sort_into(L, a, d, largest, "topk");
  for (int top = lua_gettop(L), i = top - 1; i <= top; i++) {
    lt_tensor v = *lunet_totensor(L, i);
    v.size[d] = k;
    lunet_pushview(L, i, &v);
  }
  return 2;
}

static int kth(lua_State *L, int d, lua_Integer k, int keep, const char *fname) {
  lt_tensor *a = lunet_totensor(L, 1);
  int64_t size[LT_MAXDIM];
  for (int i = 0; i < a->ndim; i++) size[i] = i == d ? 1 : a->size[i];
  lt_tensor *v = lunet_newresult(L, a->dtype, a->ndim, size, fname);
  lt_tensor *ix = lunet_newresult(L, LT_INT, a->ndim, size, fname);
  if (lt_kthvalue(v, ix, a, d, k - 1)) luaL_error(L, "%s: out of memory", fname);
  if (!keep)
    for (int i = -2; i <= -1; i++) {
      lt_tensor *t = lunet_totensor(L, i);
      for (int j = d; j < t->ndim - 1; j++) {
        t->size[j] = t->size[j + 1];
        t->stride[j] = t->stride[j + 1];
      }
      t->ndim--;
    }
  return 2;
}

/** t:kthvalue(k, [dim = last [, keepdim]]) -> values (t's dtype), indices (int): the k-th
 * smallest element along dim and its 1-based position. NaN propagates (a line with a NaN
 * gives its first NaN). Example: lunet.tensor{3, 1, 2}:kthvalue(2) --> 2 (0-D), 3 */
static int m_kthvalue(lua_State *L) {
  int d;
  lt_tensor *a = sort_input(L, 3, &d, "kthvalue");
  if (a->size[d] == 0) luaL_error(L, "kthvalue: dimension %d is empty", d + 1);
  lua_Integer k = lunet_checkinteger(L, 2, "kthvalue", "k", 1, a->size[d]);
  return kth(L, d, k, lua_toboolean(L, 4), "kthvalue");
}

/** t:median() -> the lower median of every element (a number); t:median(dim [, keepdim]) ->
 * values, indices along dim. NaN propagates, as in PyTorch. Example: lunet.tensor{4, 1, 3, 2}:median() --> 2 */
static int m_median(lua_State *L) {
  lt_tensor *a = lunet_checktensor(L, 1);
  if (lua_isnoneornil(L, 2)) {
    if (lt_numel(a) == 0) luaL_error(L, "median: tensor is empty");
    lt_tensor flat = *(lt_is_contiguous(a) ? a : push_contiguous_copy(L, a));
    flat.ndim = 1;
    flat.size[0] = lt_numel(a);
    flat.stride[0] = 1;
    scalar_slot v;
    int32_t i;
    lt_tensor vo = flat, io = flat;
    vo.base = &v, vo.offset = 0, io.base = &i, io.offset = 0, io.dtype = LT_INT;
    vo.size[0] = io.size[0] = 1;
    if (lt_kthvalue(&vo, &io, &flat, 0, (flat.size[0] - 1) / 2)) luaL_error(L, "median: out of memory");
    push_elem(L, &vo, 0);
    return 1;
  }
  if (a->ndim == 0) luaL_error(L, "median: cannot take the median of a 0-D tensor along a dimension");
  int d = lunet_checkdimarg(L, 2, a, "median");
  if (a->size[d] == 0) luaL_error(L, "median: dimension %d is empty", d + 1);
  return kth(L, d, (a->size[d] - 1) / 2 + 1, lua_toboolean(L, 3), "median");
}

/** t:unique() -> values, inverse, counts: the distinct elements of t in ascending order (a
 * 1-D tensor of t's dtype; each NaN counts as its own value), for each element of t the 1-based
 * position of its value (an int tensor of t's shape), and how often each value occurs (int).
 * Example: lunet.tensor{2, 1, 2}:unique() --> {1, 2}, {2, 1, 2}, {1, 2} */
static int m_unique(lua_State *L) {
  lua_settop(L, 1);
  lt_tensor *a = lunet_checktensor(L, 1);
  int64_t n = lt_numel(a);
  lt_tensor flat = *(lt_is_contiguous(a) ? a : push_contiguous_copy(L, a));
  flat.ndim = 1;
  flat.size[0] = n;
  flat.stride[0] = 1;
  lt_tensor *sorted = lunet_newresult(L, a->dtype, 1, &n, "unique");
  lt_tensor *order = lunet_newresult(L, LT_INT, 1, &n, "unique");
  if (lt_sort(sorted, order, &flat, 0, 0)) luaL_error(L, "unique: out of memory");
  lt_tensor *uniq = lunet_newresult(L, a->dtype, 1, &n, "unique");
  lt_tensor *inverse = lunet_newresult(L, LT_INT, a->ndim, a->size, "unique");
  lt_tensor *counts = lunet_newresult(L, LT_INT, 1, &n, "unique");
  int64_t u = lt_unique_sorted(sorted, order, uniq, inverse, counts);
  uniq->size[0] = counts->size[0] = u;
  return 3;
}

/* ---------------------------------------------------------------- raw bytes */

/* t:storageBytes() → the elements as a little-endian string (contiguous copy). */
static int m_tobytes(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (!lt_is_contiguous(t)) t = push_contiguous_copy(L, t);
  lua_pushlstring(L, (const char *)lt_data(t), (size_t)lt_numel(t) * lt_elsize(t->dtype));
  return 1;
}

/* ---------------------------------------------------------------- registration */

static int mt_add(lua_State *L) { return binary(L, LT_ADD, 0); }
static int mt_sub(lua_State *L) { return binary(L, LT_SUB, 0); }
static int mt_mul(lua_State *L) { return binary(L, LT_MUL, 0); }
static int mt_div(lua_State *L) { return binary(L, LT_DIV, 0); }
static int mt_pow(lua_State *L) { return binary(L, LT_POW, 0); }

static const luaL_Reg methods[] = {
    {"size", m_size}, {"shapeString", m_shapeString}, {"stride", m_stride}, {"dim", m_dim}, {"numel", m_numel}, {"dtype", m_dtype},
    {"isContiguous", m_isContiguous}, {"sharesStorage", m_sharesStorage}, {"view", m_view}, {"reshape", m_reshape}, {"narrow", m_narrow},
    {"select", m_select}, {"transpose", m_transpose}, {"t", m_transpose}, {"permute", m_permute},
    {"expand", m_expand}, {"unsqueeze", m_unsqueeze}, {"squeeze", m_squeeze}, {"contiguous", m_contiguous},
    {"clone", m_clone}, {"copy", m_copy}, {"fill", m_fill}, {"zero", m_zero}, {"float", m_float}, {"int", m_int},
    {"double", m_double},
    {"item", m_item}, {"index", m_index}, {"totable", m_totable}, {"tobytes", m_tobytes},
    {"add", m_add}, {"sub", m_sub}, {"mul", m_mul}, {"div", m_div}, {"pow", m_pow},
    {"maximum", m_maximum}, {"minimum", m_minimum},
    {"add_", m_add_}, {"sub_", m_sub_}, {"mul_", m_mul_}, {"div_", m_div_}, {"pow_", m_pow_},
    {"eq", m_eq}, {"ne", m_ne}, {"lt", m_lt}, {"le", m_le}, {"gt", m_gt}, {"ge", m_ge},
    {"neg", m_neg}, {"exp", m_exp}, {"log", m_log}, {"sqrt", m_sqrt}, {"tanh", m_tanh}, {"sigmoid", m_sigmoid},
    {"relu", m_relu}, {"abs", m_abs}, {"clamp", m_clamp},
    {"neg_", m_neg_}, {"exp_", m_exp_}, {"log_", m_log_}, {"sqrt_", m_sqrt_}, {"tanh_", m_tanh_},
    {"sigmoid_", m_sigmoid_}, {"relu_", m_relu_}, {"abs_", m_abs_}, {"clamp_", m_clamp_},
    {"sum", m_sum}, {"mean", m_mean}, {"max", m_max}, {"min", m_min}, {"var", m_var}, {"std", m_std},
    {"argmax", m_argmax}, {"argmin", m_argmin},
    {"matmul", m_matmul}, {"addmm", m_addmm}, {"addmm_", m_addmm_}, {"bmm", m_bmm}, {"dot", m_dot},
    {"split", m_split}, {"chunk", m_chunk},
    {"indexSelect", m_indexSelect}, {"indexAdd_", m_indexAdd_}, {"gather", m_gather}, {"scatter_", m_scatter_},
    {"scatterAdd_", m_scatterAdd_}, {"maskedFill_", m_maskedFill_}, {"maskedSelect", m_maskedSelect},
    {"nonzero", m_nonzero},
    {"sin", m_sin}, {"cos", m_cos}, {"floor", m_floor}, {"ceil", m_ceil}, {"round", m_round}, {"sign", m_sign},
    {"sin_", m_sin_}, {"cos_", m_cos_}, {"floor_", m_floor_}, {"ceil_", m_ceil_}, {"round_", m_round_},
    {"sign_", m_sign_}, {"fmod", m_fmod}, {"remainder", m_remainder}, {"atan2", m_atan2}, {"lerp", m_lerp},
    {"addcmul_", m_addcmul_}, {"addcdiv_", m_addcdiv_},
    {"prod", m_prod}, {"cumsum", m_cumsum}, {"cumprod", m_cumprod}, {"norm", m_norm}, {"logsumexp", m_logsumexp},
    {"all", m_all}, {"any", m_any},
    {"sort", m_sort}, {"argsort", m_argsort}, {"topk", m_topk}, {"kthvalue", m_kthvalue}, {"median", m_median},
    {"unique", m_unique},
    {NULL, NULL}};

static const luaL_Reg functions[] = {
    {"zeros", l_zeros}, {"ones", l_ones}, {"full", l_full}, {"tensor", l_tensor}, {"arange", l_arange},
    {"linspace", l_linspace}, {"matmul", m_matmul}, {"addmm", m_addmm}, {"bmm", m_bmm}, {"dot", m_dot},
    {"cat", l_cat}, {"stack", l_stack}, {"where", l_where},
    {NULL, NULL}};

void lunet_open_tensor(lua_State *L) {
  lunet_newmetatables(L);
  lua_newtable(L); /* methods */
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "methods");
  lua_pushcclosure(L, mt_index, 1);
  lua_setfield(L, -2, "__index");
  static const luaL_Reg meta[] = {{"__newindex", mt_newindex}, {"__len", mt_len}, {"__tostring", lunet_tostring},
                                  {"__add", mt_add}, {"__sub", mt_sub}, {"__mul", mt_mul}, {"__div", mt_div},
                                  {"__pow", mt_pow}, {"__unm", mt_unm}, {NULL, NULL}};
  luaL_setfuncs(L, meta, 0);
  lua_setfield(L, -2, "Tensor"); /* core.Tensor = the metatable, to extend from Lua */
  luaL_setfuncs(L, functions, 0);
}
