/* tensor.c — the Tensor type as Lua sees it: constructors, views, element access,
 * printing, and the dispatch of arithmetic, comparisons, reductions and products to the
 * kernels (csrc/kernels/tensor.h). Userdata and storage are auxlib.c's. */
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

/* Every element of t (any layout) = v, converted to t's dtype. */
static void fill_value(lua_State *L, lt_tensor *t, double v, const char *fname) {
  if (t->dtype == LT_FLOAT) {
    lt_unary(t, t, LT_FILL, (float)v, 0.0f);
    return;
  }
  lt_tensor one;
  memset(&one, 0, sizeof one);
  int32_t iv = int_value(L, v, fname);
  one.base = &iv;
  one.dtype = LT_INT;
  one.ndim = t->ndim;
  for (int i = 0; i < t->ndim; i++) one.size[i] = t->size[i];
  lt_copy(t, &one); /* every stride 0: the one value everywhere */
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
      if (t->dtype == LT_FLOAT)
        lt_fdata(t)[*k] = (float)v;
      else
        lt_idata(t)[*k] = int_value(L, v, "tensor");
      (*k)++;
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

static int l_arange(lua_State *L) {
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
  lt_tensor *t = lunet_newtensor(L, LT_FLOAT, 1, &n, "arange");
  for (int64_t i = 0; i < n; i++) lt_fdata(t)[i] = (float)(a + (double)i * step);
  return 1;
}

static int l_linspace(lua_State *L) {
  double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
  lua_Integer n = luaL_checkinteger(L, 3);
  if (n < 0) luaL_error(L, "linspace: count must be non-negative, got %I", n);
  int64_t sz = n;
  lt_tensor *t = lunet_newtensor(L, LT_FLOAT, 1, &sz, "linspace");
  for (int64_t i = 0; i < n; i++) lt_fdata(t)[i] = (float)(n == 1 ? a : a + (b - a) * (double)i / (double)(n - 1));
  return 1;
}

/* ---------------------------------------------------------------- views */

static int m_size(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, t->size[lunet_checkdimarg(L, 2, t, "size")]);
    return 1;
  }
  lua_createtable(L, t->ndim, 0);
  for (int i = 0; i < t->ndim; i++) {
    lua_pushinteger(L, t->size[i]);
    lua_rawseti(L, -2, i + 1);
  }
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

/* dst = src, elementwise in row-major order. A source that overlaps dst is copied out
 * first, so that no element is read after it is written; dst itself needs no copy. */
static void copy_into(lua_State *L, lt_tensor *dst, const lt_tensor *src) {
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
  copy_into(L, t, s);
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
  lt_copy(new_like(L, t, dt), t);
  return 1;
}
static int m_float(lua_State *L) { return convert(L, LT_FLOAT); }
static int m_int(lua_State *L) { return convert(L, LT_INT); }

/* ---------------------------------------------------------------- element access */

static double get_at(const lt_tensor *t, int64_t off) {
  return t->dtype == LT_FLOAT ? (double)lt_fdata(t)[off] : (double)lt_idata(t)[off];
}

static void push_elem(lua_State *L, const lt_tensor *t, int64_t off) {
  if (t->dtype == LT_FLOAT)
    lua_pushnumber(L, lt_fdata(t)[off]);
  else
    lua_pushinteger(L, lt_idata(t)[off]);
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
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int mt_newindex(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
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
    double v = luaL_checknumber(L, 3);
    if (t->dtype == LT_FLOAT)
      lt_fdata(t)[off] = (float)v;
    else
      lt_idata(t)[off] = int_value(L, v, "newindex");
    return 0;
  }
  select_view(L, 1, t, 0, i, "newindex");
  lt_tensor *row = lunet_checktensor(L, -1);
  if (lua_type(L, 3) == LUA_TNUMBER) {
    lua_pushvalue(L, -1);
    lua_pushvalue(L, 3);
    lua_replace(L, 2);
    lua_replace(L, 1);
    lua_settop(L, 2);
    return m_fill(L), 0;
  }
  lt_tensor *src = lunet_checktensor(L, 3);
  if (lt_numel(src) != lt_numel(row)) {
    char a[160], b[160];
    luaL_error(L, "newindex: cannot assign a %s tensor to a %s slice", lt_shape_str(src, a, sizeof a),
               lt_shape_str(row, b, sizeof b));
  }
  copy_into(L, row, src);
  return 0;
}

static int mt_len(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  lua_pushinteger(L, t->ndim ? t->size[0] : 1);
  return 1;
}

/* ---------------------------------------------------------------- printing */

static void fmt_num(luaL_Buffer *b, double v, int is_int, int width) {
  char s[64];
  if (is_int)
    snprintf(s, sizeof s, "%*.0f", width, v);
  else
    snprintf(s, sizeof s, "%*.4g", width, v);
  luaL_addstring(b, s);
}

/* Print a matrix slice (rows of the last dim), abbreviating beyond 6 rows/columns. */
static void print_rows(luaL_Buffer *b, const lt_tensor *t, int64_t off, int d, int is_int) {
  const int EDGE = 3;
  if (d == t->ndim - 1) {
    int64_t n = t->size[d];
    for (int64_t i = 0; i < n; i++) {
      if (n > 2 * EDGE && i == EDGE) {
        luaL_addstring(b, "  ...");
        i = n - EDGE - 1;
        continue;
      }
      luaL_addstring(b, i ? " " : "");
      fmt_num(b, get_at(t, off + i * t->stride[d]), is_int, 10);
    }
    luaL_addchar(b, '\n');
    return;
  }
  int64_t n = t->size[d];
  for (int64_t i = 0; i < n; i++) {
    if (n > 2 * EDGE && i == EDGE) {
      luaL_addstring(b, " ...\n");
      i = n - EDGE - 1;
      continue;
    }
    if (d < t->ndim - 2) {
      char hdr[96];
      snprintf(hdr, sizeof hdr, "(%s%lld,.,.) =\n", d ? "...," : "", (long long)(i + 1));
      luaL_addstring(b, hdr);
    }
    print_rows(b, t, off + i * t->stride[d], d + 1, is_int);
    if (d < t->ndim - 2) luaL_addchar(b, '\n');
  }
}

static int mt_tostring(lua_State *L) {
  lt_tensor *t = luaL_checkudata(L, 1, LUNET_TENSOR_MT);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char buf[200];
  if (!t->base) {
    luaL_addstring(&b, "[lunet tensor (released)]");
  } else {
    if (t->ndim == 0)
      fmt_num(&b, get_at(t, 0), t->dtype == LT_INT, 0), luaL_addchar(&b, '\n');
    else if (lt_numel(t) > 0)
      print_rows(&b, t, 0, 0, t->dtype == LT_INT);
    char shape[160];
    lt_shape_str(t, shape, sizeof shape);
    snprintf(buf, sizeof buf, "[lunet %s tensor of size %s]", t->dtype == LT_FLOAT ? "float" : "int", shape);
    luaL_addstring(&b, buf);
  }
  luaL_pushresult(&b);
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

/* Float view of argument idx: int tensors are converted into a temporary left on the stack. */
static lt_tensor *float_arg(lua_State *L, int idx, const char *fname) {
  lt_tensor *t = operand(L, idx, fname);
  if (t->dtype == LT_FLOAT) return t;
  lt_tensor *f = new_like(L, t, LT_FLOAT);
  lt_copy(f, t);
  lua_replace(L, idx);
  return f;
}

static const char *binop_names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum"};

/* a op b where either may be a number. inplace: result written into a. */
static int binary(lua_State *L, lt_binop op, int inplace) {
  const char *fname = binop_names[op];
  int na = lua_type(L, 1) == LUA_TNUMBER, nb = lua_type(L, 2) == LUA_TNUMBER;
  if (na && nb) luaL_error(L, "%s: at least one operand must be a tensor", fname);
  if (nb || na) {
    int ti = na ? 2 : 1;
    if (inplace && na) luaL_error(L, "%s_: the receiver must be a tensor", fname);
    lt_tensor *a = inplace ? lunet_checkfloat(L, ti, fname) : float_arg(L, ti, fname);
    float s = (float)lua_tonumber(L, na ? 1 : 2);
    lt_tensor *o = inplace ? a : new_like(L, a, LT_FLOAT);
    switch (op) {
      case LT_ADD: lt_unary(o, a, LT_AFFINE, 1.0f, s); break;
      case LT_SUB: na ? lt_unary(o, a, LT_AFFINE, -1.0f, s) : lt_unary(o, a, LT_AFFINE, 1.0f, -s); break;
      case LT_MUL: lt_unary(o, a, LT_AFFINE, s, 0.0f); break;
      case LT_POW:
        if (!na) {
          lt_unary(o, a, LT_POWS, s, 0.0f);
          break;
        }
        /* a number raised to a tensor goes the general way */
        __attribute__((fallthrough));
      default: {
        lt_tensor sc;
        memset(&sc, 0, sizeof sc);
        sc.base = &s;
        sc.ndim = a->ndim;
        for (int i = 0; i < a->ndim; i++) sc.size[i] = a->size[i];
        if (na)
          lt_binary(o, &sc, a, op);
        else
          lt_binary(o, a, &sc, op);
      }
    }
    if (inplace) lua_settop(L, 1);
    return 1;
  }
  lt_tensor *a = inplace ? lunet_checkfloat(L, 1, fname) : float_arg(L, 1, fname);
  lt_tensor *b = float_arg(L, 2, fname);
  a = lunet_totensor(L, 1);
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
  lt_tensor *o = lunet_newtensor(L, LT_FLOAT, nd, size, fname);
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
static int m_add_(lua_State *L) { return binary(L, LT_ADD, 1); }
static int m_sub_(lua_State *L) { return binary(L, LT_SUB, 1); }
static int m_mul_(lua_State *L) { return binary(L, LT_MUL, 1); }
static int m_div_(lua_State *L) { return binary(L, LT_DIV, 1); }
static int m_pow_(lua_State *L) { return binary(L, LT_POW, 1); }

/* Comparisons give float 0/1 tensors (so they can be summed into counts). A number
 * compared with a float tensor is first rounded to float, as every scalar operand is. */
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
  lt_tensor *a = inplace ? lunet_checkfloat(L, 1, fname) : float_arg(L, 1, fname);
  float p = 0, q = 0;
  if (op == LT_CLAMP) {
    p = (float)luaL_optnumber(L, 2, -HUGE_VAL);
    q = (float)luaL_optnumber(L, 3, HUGE_VAL);
    if (p > q) luaL_error(L, "%s: lower bound %f is above upper bound %f", fname, p, q);
  }
  lt_tensor *o = inplace ? a : new_like(L, a, LT_FLOAT);
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
UNARY(clamp, LT_CLAMP)

static int mt_unm(lua_State *L) { return unary(L, LT_NEG, "neg", 0); }

/* ---------------------------------------------------------------- reductions */

static int reduce(lua_State *L, lt_redop op, const char *fname) {
  lt_tensor *a = float_arg(L, 1, fname);
  if (lua_isnoneornil(L, 2)) {
    if (lt_numel(a) == 0 && op != LT_SUM) luaL_error(L, "%s: tensor is empty", fname);
    double v = lt_reduce_all(a, op);
    if (op == LT_ARGMAX || op == LT_ARGMIN)
      lua_pushinteger(L, (lua_Integer)v + 1);
    else
      lua_pushnumber(L, v);
    return 1;
  }
  int d = lunet_checkdimarg(L, 2, a, fname);
  int keep = lua_toboolean(L, 3);
  if (a->size[d] == 0) luaL_error(L, "%s: dimension %d is empty", fname, d + 1);
  int64_t size[LT_MAXDIM];
  for (int i = 0; i < a->ndim; i++) size[i] = i == d ? 1 : a->size[i];
  int is_arg = op == LT_ARGMAX || op == LT_ARGMIN;
  lt_tensor *o = lunet_newtensor(L, is_arg ? LT_INT : LT_FLOAT, a->ndim, size, fname);
  lt_reduce_dim(o, a, d, op);
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
    lt_reduce_dim(ix, a, d, op == LT_MAX ? LT_ARGMAX : LT_ARGMIN);
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
static void mm_into(lua_State *L, lt_tensor *c, float beta, float alpha, const lt_tensor *a, const lt_tensor *b,
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

/* matmul: 1-D·1-D (number), 2-D@2-D, 2-D@1-D, 1-D@2-D, batched 3-D@3-D and 3-D@2-D. */
static int m_matmul(lua_State *L) {
  lt_tensor *a = lunet_checkfloat(L, 1, "matmul");
  lt_tensor *b = lunet_checkfloat(L, 2, "matmul");
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
      lt_tensor c;
      float v = 0;
      memset(&c, 0, sizeof c);
      c.base = &v;
      c.ndim = 2;
      c.size[0] = c.size[1] = 1;
      c.stride[0] = c.stride[1] = 1;
      mm_into(L, &c, 0, 1, &av, &bv, "matmul");
      lua_pushnumber(L, v);
      return 1;
    }
    int64_t size[2] = {av.size[0], bv.size[1]};
    lt_tensor *c = (av.size[1] == 0 ? lunet_newtensor : lunet_newresult)(L, LT_FLOAT, 2, size, "matmul");
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
  lt_tensor *c = (av.size[2] == 0 ? lunet_newtensor : lunet_newresult)(L, LT_FLOAT, 3, size, "matmul");
  mm_into(L, c, 0, 1, &av, &bv, "matmul");
  return 1;
}

/* C:addmm_(A, B [, beta=1, alpha=1]) — in place: C = beta*C + alpha*A@B. */
static int m_addmm_(lua_State *L) {
  lt_tensor *c = lunet_checkfloat(L, 1, "addmm_");
  lt_tensor *a = lunet_checkfloat(L, 2, "addmm_");
  lt_tensor *b = lunet_checkfloat(L, 3, "addmm_");
  float beta = (float)luaL_optnumber(L, 4, 1.0), alpha = (float)luaL_optnumber(L, 5, 1.0);
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
  lt_tensor *c = lunet_checkfloat(L, 1, "addmm");
  lt_copy(new_like(L, c, LT_FLOAT), c);
  lua_replace(L, 1);
  return m_addmm_(L);
}

static int m_bmm(lua_State *L) {
  lt_tensor *a = lunet_checkfloat(L, 1, "bmm");
  lt_tensor *b = lunet_checkfloat(L, 2, "bmm");
  lunet_checkdim(L, a, 3, "bmm", "A", "(B,n,k)");
  lunet_checkdim(L, b, 3, "bmm", "B", "(B,k,m)");
  return m_matmul(L);
}

/* dot(a, b): sum of products of two same-size tensors (float64 accumulation). */
static int m_dot(lua_State *L) {
  lt_tensor *a = float_arg(L, 1, "dot");
  lt_tensor *b = float_arg(L, 2, "dot");
  a = lunet_totensor(L, 1);
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
    lt_gather_rows(lunet_newresult(L, t->dtype, t->ndim, size, "index"), t, lt_idata(ix), ix->stride[0]);
    return 1;
  }
  lt_tensor *o = lunet_checktensor(L, 3);
  if (o->dtype != t->dtype) luaL_error(L, "index: out must have the dtype of the source");
  /* An out that shares storage with the source or the indices receives a finished
   * gather: rows copied one by one would read what earlier rows wrote. */
  lt_tensor *tmp = NULL;
  if (o->base == t->base || o->base == ix->base) {
    tmp = lunet_newresult(L, t->dtype, t->ndim, size, "index");
    lt_gather_rows(tmp, t, lt_idata(ix), ix->stride[0]);
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
  else lt_gather_rows(o, t, lt_idata(ix), ix->stride[0]);
  lua_settop(L, 3);
  return 1;
}

/* ---------------------------------------------------------------- raw bytes */

/* t:storageBytes() → the elements as a little-endian string (contiguous copy). */
static int m_tobytes(lua_State *L) {
  lt_tensor *t = lunet_checktensor(L, 1);
  if (!lt_is_contiguous(t)) t = push_contiguous_copy(L, t);
  lua_pushlstring(L, (const char *)((float *)t->base + t->offset), (size_t)lt_numel(t) * 4);
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
    {NULL, NULL}};

static const luaL_Reg functions[] = {
    {"zeros", l_zeros}, {"ones", l_ones}, {"full", l_full}, {"tensor", l_tensor}, {"arange", l_arange},
    {"linspace", l_linspace}, {"matmul", m_matmul}, {"addmm", m_addmm}, {"bmm", m_bmm}, {"dot", m_dot},
    {NULL, NULL}};

void lunet_open_tensor(lua_State *L) {
  lunet_newmetatables(L);
  lua_newtable(L); /* methods */
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "methods");
  lua_pushcclosure(L, mt_index, 1);
  lua_setfield(L, -2, "__index");
  static const luaL_Reg meta[] = {{"__newindex", mt_newindex}, {"__len", mt_len}, {"__tostring", mt_tostring},
                                  {"__add", mt_add}, {"__sub", mt_sub}, {"__mul", mt_mul}, {"__div", mt_div},
                                  {"__pow", mt_pow}, {"__unm", mt_unm}, {NULL, NULL}};
  luaL_setfuncs(L, meta, 0);
  lua_setfield(L, -2, "Tensor"); /* core.Tensor = the metatable, to extend from Lua */
  luaL_setfuncs(L, functions, 0);
}
