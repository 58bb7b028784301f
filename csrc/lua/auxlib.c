/* auxlib.c — lunet's own lauxlib (declared in lua_lunet.h): tensor userdata and their
 * storage, and the argument checks every binding file shares.
 *
 * A tensor is a full userdata holding an lt_tensor (the view); its first user value is
 * the storage, another full userdata whose block holds the elements. Views share the
 * storage userdata, so Lua's collector does the reference counting and sees every byte. */
#include <stdio.h>
#include <string.h>

#include "lua_lunet.h"

#define STORAGE_MT "lunet.Storage"

typedef struct {
  int64_t capacity; /* bytes */
  void *data;       /* aligned pointer into this same block */
} storage_t;

/* A tensor userdata's block. The view comes first, so the block is also an lt_tensor. */
typedef struct {
  lt_tensor view;
  /* The view was made with a storage of its own (a constructor, or a resize that gave it
   * one), so resizing it cannot move it off elements another view expects it to cover;
   * every other view (narrow, select, view, ...) has whole = 0. */
  int whole;
  int64_t plane[2]; /* lunet_setplane's (H,W); 0 when none was recorded */
} tensor_block;

const char *lunet_dtypename(lt_dtype dt) {
  switch (dt) {
    case LT_FLOAT: return "float";
    case LT_INT: return "int";
    case LT_DOUBLE: break;
  }
  return "double";
}

/* "a float tensor", "an int tensor": the article for the dtype's name. */
static const char *article(lt_dtype dt) { return dt == LT_INT ? "an" : "a"; }

/* ---------------------------------------------------------------- creation */

/* Pushes a userdata of the byte count at index 1; called through lua_pcall, so that a
 * failed allocation comes back as a status instead of Lua's bare "not enough memory". */
static int alloc_block(lua_State *L) {
  lua_newuserdatauv(L, (size_t)lua_tointeger(L, 1), 0);
  return 1;
}

void *lunet_newblock(lua_State *L, size_t bytes) {
  lua_pushcfunction(L, alloc_block);
  lua_pushinteger(L, (lua_Integer)bytes);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return NULL;
  }
  return lua_touserdata(L, -1);
}

static storage_t *new_storage(lua_State *L, int64_t numel, lt_dtype dt, const char *fname, int zero) {
  if (numel < 0 || numel > LUNET_MAX_NUMEL)
    luaL_error(L, "%s: cannot allocate a tensor of %I elements", fname, (lua_Integer)numel);
  size_t data = (size_t)numel * lt_elsize(dt); /* at most 2^43: no overflow */
  size_t bytes = sizeof(storage_t) + data + LT_ALIGN;
  storage_t *s = lunet_newblock(L, bytes);
  if (!s)
    luaL_error(L, "%s: not enough memory for a tensor of %I elements (%I MiB)", fname,
               (lua_Integer)numel, (lua_Integer)(bytes >> 20));
  uintptr_t p = (uintptr_t)(s + 1);
  p = (p + LT_ALIGN - 1) & ~(uintptr_t)(LT_ALIGN - 1);
  s->data = (void *)p;
  s->capacity = (int64_t)data;
  if (zero) memset(s->data, 0, data);
  luaL_setmetatable(L, STORAGE_MT);
  return s;
}

static int64_t checked_numel(lua_State *L, int ndim, const int64_t *size, const char *fname) {
  int64_t n;
  if (ndim < 0 || ndim > LT_MAXDIM)
    luaL_error(L, "%s: at most %d dimensions are supported, got %d", fname, LT_MAXDIM, ndim);
  for (int i = 0; i < ndim; i++)
    if (size[i] < 0) luaL_error(L, "%s: size %d is negative (%I)", fname, i + 1, (lua_Integer)size[i]);
  if (lt_shape_numel(ndim, size, &n) || n > LUNET_MAX_NUMEL)
    luaL_error(L, "%s: cannot allocate a tensor of that many elements (size overflows)", fname);
  return n;
}

/* Push a tensor userdata viewing the storage at index sidx. */
static lt_tensor *push_view(lua_State *L, int sidx, const lt_tensor *view, int whole) {
  sidx = lua_absindex(L, sidx);
  tensor_block *b = lua_newuserdatauv(L, sizeof(tensor_block), 1);
  memset(b, 0, sizeof *b);
  b->view = *view;
  b->whole = whole;
  lua_pushvalue(L, sidx);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, LUNET_TENSOR_MT);
  return &b->view;
}

lt_tensor *lunet_pushview(lua_State *L, int idx, const lt_tensor *view) {
  lua_getiuservalue(L, idx, 1);
  lt_tensor *t = push_view(L, -1, view, 0);
  lua_remove(L, -2);
  return t;
}

static lt_tensor *new_tensor(lua_State *L, lt_dtype dt, int ndim, const int64_t *size, const char *fname,
                             int zero) {
  int64_t n = checked_numel(L, ndim, size, fname);
  storage_t *s = new_storage(L, n, dt, fname, zero);
  lt_tensor v;
  memset(&v, 0, sizeof v);
  v.base = s->data;
  v.ndim = ndim;
  v.dtype = dt;
  for (int i = 0; i < ndim; i++) v.size[i] = size[i];
  lt_set_contiguous_strides(&v);
  lt_tensor *t = push_view(L, -1, &v, 1);
  lua_remove(L, -2);
  return t;
}

lt_tensor *lunet_newtensor(lua_State *L, lt_dtype dt, int ndim, const int64_t *size, const char *fname) {
  return new_tensor(L, dt, ndim, size, fname, 1);
}

lt_tensor *lunet_newresult(lua_State *L, lt_dtype dt, int ndim, const int64_t *size, const char *fname) {
  return new_tensor(L, dt, ndim, size, fname, 0);
}

/* "argument #i (what)" or "argument #i" into buf, for the messages below. */
static const char *argname(char *buf, size_t n, int idx, const char *what) {
  snprintf(buf, n, what ? "argument #%d (%s)" : "argument #%d", idx, what);
  return buf;
}

lt_tensor *lunet_resize(lua_State *L, int idx, int ndim, const int64_t *size, const char *fname,
                        const char *what) {
  idx = lua_absindex(L, idx);
  lt_tensor *t = lunet_checktensor(L, idx);
  tensor_block *blk = (tensor_block *)t;
  int64_t n = checked_numel(L, ndim, size, fname);
  lt_tensor want = *t;
  want.ndim = ndim;
  memcpy(want.size, size, (size_t)ndim * sizeof *size);
  if (!(lt_same_shape(t, &want) && lt_is_contiguous(t))) {
    /* Re-pointing a view at offset 0 would write elements of its storage it does not cover. */
    if (!blk->whole) {
      char a[48], got[160], exp[160];
      luaL_error(L, "%s: %s is a view %s%s at offset %I of another tensor's storage; an output view must "
                 "already be contiguous with the result's shape %s (or pass a tensor of its own to be resized)",
                 fname, argname(a, sizeof a, idx, what), lt_shape_str(t, got, sizeof got),
                 lt_is_contiguous(t) ? "" : " (not contiguous)", (lua_Integer)t->offset,
                 lt_shape_str(&want, exp, sizeof exp));
    }
    lua_getiuservalue(L, idx, 1);
    storage_t *s = luaL_testudata(L, -1, STORAGE_MT);
    lua_pop(L, 1);
    if (!s || s->capacity < n * (int64_t)lt_elsize(t->dtype)) {
      s = new_storage(L, n, t->dtype, fname, 1);
      lua_setiuservalue(L, idx, 1);
    }
    t->base = s->data;
    t->offset = 0;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->size[i] = size[i];
    lt_set_contiguous_strides(t);
  }
  blk->plane[0] = blk->plane[1] = 0;
  lunet_checknooverlap(L, idx, fname, what);
  return t;
}

lt_tensor *lunet_resize_like(lua_State *L, int idx, const lt_tensor *like, const char *fname, const char *what) {
  return lunet_resize(L, idx, like->ndim, like->size, fname, what);
}

void lunet_checknooverlap(lua_State *L, int idx, const char *fname, const char *what) {
  const lt_tensor *out = lunet_totensor(L, idx);
  for (int i = 1, top = lua_gettop(L); i <= top; i++) {
    const lt_tensor *in = i == idx ? NULL : lunet_totensor(L, i);
    if (in && in->base && lt_overlap(out, in)) {
      char a[48];
      luaL_error(L, "%s: %s, which the kernel writes, overlaps argument #%d, which it reads or writes at the "
                 "same time (pass a separate tensor)", fname, argname(a, sizeof a, idx, what), i);
    }
  }
}

void lunet_setplane(lua_State *L, int idx, int64_t h, int64_t w) {
  tensor_block *b = (tensor_block *)lunet_checktensor(L, idx);
  b->plane[0] = h;
  b->plane[1] = w;
}

int lunet_getplane(lua_State *L, int idx, int64_t *hw) {
  const tensor_block *b = (const tensor_block *)lunet_checktensor(L, idx);
  hw[0] = b->plane[0];
  hw[1] = b->plane[1];
  return b->plane[0] != 0;
}

/* Release: drop the storage reference; memory goes with the collector's next cycle. */
static int release(lua_State *L) {
  lt_tensor *t = luaL_checkudata(L, 1, LUNET_TENSOR_MT);
  t->base = NULL;
  t->ndim = 0;
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 1);
  return 0;
}

void lunet_newmetatables(lua_State *L) {
  luaL_newmetatable(L, STORAGE_MT);
  lua_pop(L, 1);
  luaL_newmetatable(L, LUNET_TENSOR_MT);
  lua_pushcfunction(L, release);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, release);
  lua_setfield(L, -2, "__close");
}

/* ---------------------------------------------------------------- checks */

lt_tensor *lunet_totensor(lua_State *L, int idx) { return luaL_testudata(L, idx, LUNET_TENSOR_MT); }

lt_tensor *lunet_checktensor(lua_State *L, int idx) {
  lt_tensor *t = luaL_testudata(L, idx, LUNET_TENSOR_MT);
  if (!t) luaL_typeerror(L, idx, "tensor");
  if (!t->base) luaL_argerror(L, idx, "tensor was released (closed)");
  return t;
}

static lt_tensor *check_live(lua_State *L, int idx, const char *fname) {
  lt_tensor *t = luaL_testudata(L, idx, LUNET_TENSOR_MT);
  if (!t) luaL_error(L, "%s: argument #%d must be a tensor, got %s", fname, idx, luaL_typename(L, idx));
  if (!t->base) luaL_error(L, "%s: argument #%d was released (closed)", fname, idx);
  return t;
}

lt_tensor *lunet_checkdtype(lua_State *L, int idx, const char *fname, lt_dtype dt) {
  lt_tensor *t = check_live(L, idx, fname);
  if (t->dtype != dt)
    /* The float32-only kernels (nn, optimizers, images) all come here. */
    luaL_error(L, "%s: argument #%d must be %s %s tensor, got %s %s tensor%s", fname, idx, article(dt),
               lunet_dtypename(dt), article(t->dtype), lunet_dtypename(t->dtype),
               dt == LT_FLOAT && t->dtype == LT_DOUBLE ? " (this kernel is float32 only: convert with :float())" : "");
  return t;
}

lt_tensor *lunet_checkfloat(lua_State *L, int idx, const char *fname) { return lunet_checkdtype(L, idx, fname, LT_FLOAT); }

lt_tensor *lunet_checkint(lua_State *L, int idx, const char *fname) { return lunet_checkdtype(L, idx, fname, LT_INT); }

lt_tensor *lunet_checkreal(lua_State *L, int idx, const char *fname) {
  lt_tensor *t = check_live(L, idx, fname);
  if (t->dtype == LT_INT)
    luaL_error(L, "%s: argument #%d must be a float or double tensor, got an int tensor", fname, idx);
  return t;
}

void lunet_checkdim(lua_State *L, const lt_tensor *t, int ndim, const char *fname, const char *what,
                    const char *layout) {
  if (t->ndim != ndim) {
    char buf[160];
    luaL_error(L, "%s: %s must be %d-D %s, got %d-D %s", fname, what, ndim, layout, t->ndim,
               lt_shape_str(t, buf, sizeof buf));
  }
}

void lunet_checkshape(lua_State *L, const lt_tensor *t, const char *fname, const char *what,
                      const char *layout, const int64_t *want) {
  for (int i = 0; i < t->ndim; i++) {
    if (t->size[i] != want[i]) {
      lt_tensor w = *t;
      memcpy(w.size, want, (size_t)t->ndim * sizeof *want);
      char exp[160], got[160];
      luaL_error(L, "%s: %s must be %s = %s, got %s", fname, what, layout, lt_shape_str(&w, exp, sizeof exp),
                 lt_shape_str(t, got, sizeof got));
    }
  }
}

void lunet_checkcontig(lua_State *L, const lt_tensor *t, const char *fname, const char *what) {
  if (!lt_is_contiguous(t)) luaL_error(L, "%s: %s must be contiguous (call :contiguous())", fname, what);
}

lt_tensor *lunet_checkin(lua_State *L, int idx, const char *fname, const char *what, int ndim,
                         const char *layout) {
  lt_tensor *t = lunet_checkfloat(L, idx, fname);
  lunet_checkdim(L, t, ndim, fname, what, layout);
  lunet_checkcontig(L, t, fname, what);
  return t;
}

void lunet_checkout(lua_State *L, int idx, const char *fname, const char *what, lt_dtype dt) {
  lunet_checkdtype(L, idx, fname, dt);
  for (int i = 1, top = lua_gettop(L); i <= top; i++) {
    if (i != idx && lua_rawequal(L, i, idx))
      luaL_error(L, "%s: argument #%d (%s) is an output and must not be the same tensor as argument #%d",
                 fname, idx, what, i);
  }
}

FILE *lunet_checkfile(lua_State *L, int idx, const char *fname) {
  luaL_Stream *s = luaL_testudata(L, idx, LUA_FILEHANDLE);
  if (!s) luaL_error(L, "%s: argument #%d must be an open file, got %s", fname, idx, luaL_typename(L, idx));
  if (!s->closef) luaL_error(L, "%s: argument #%d is a closed file", fname, idx);
  return s->f;
}

lua_Integer lunet_checkinteger(lua_State *L, int idx, const char *fname, const char *what, lua_Integer lo,
                               lua_Integer hi) {
  int ok;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (!ok) {
    if (lua_type(L, idx) == LUA_TNUMBER)
      luaL_error(L, "%s: %s (argument #%d) must be an integer, got %f", fname, what, idx, lua_tonumber(L, idx));
    luaL_error(L, "%s: %s (argument #%d) must be an integer, got %s", fname, what, idx, luaL_typename(L, idx));
  }
  if (v < lo || v > hi) {
    if (hi == LUA_MAXINTEGER) luaL_error(L, "%s: %s must be >= %I, got %I", fname, what, lo, v);
    luaL_error(L, "%s: %s must be in %I..%I, got %I", fname, what, lo, hi, v);
  }
  return v;
}

int lunet_checkdimarg(lua_State *L, int arg, const lt_tensor *t, const char *fname) {
  lua_Integer d = luaL_checkinteger(L, arg);
  lua_Integer nd = t->ndim;
  if (d < 0) d += nd + 1;
  if (d < 1 || d > nd)
    luaL_error(L, "%s: dimension %I out of range for a %d-D tensor", fname, luaL_checkinteger(L, arg), t->ndim);
  return (int)d - 1;
}

int lunet_checksizes(lua_State *L, int arg, int64_t *size, const char *fname, int *next) {
  int nd = 0;
  if (lua_istable(L, arg) && !lunet_totensor(L, arg)) {
    int n = (int)luaL_len(L, arg);
    if (n > LT_MAXDIM) luaL_error(L, "%s: at most %d dimensions are supported, got %d", fname, LT_MAXDIM, n);
    for (int i = 1; i <= n; i++) {
      lua_geti(L, arg, i);
      int ok;
      lua_Integer v = lua_tointegerx(L, -1, &ok);
      if (!ok) luaL_error(L, "%s: size %d must be an integer, got %s", fname, i, luaL_typename(L, -1));
      if (v < 0) luaL_error(L, "%s: size %d must be non-negative, got %I", fname, i, v);
      size[nd++] = v;
      lua_pop(L, 1);
    }
    if (next) *next = arg + 1;
    return nd;
  }
  while (lua_type(L, arg) == LUA_TNUMBER) {
    if (nd == LT_MAXDIM) luaL_error(L, "%s: at most %d dimensions are supported", fname, LT_MAXDIM);
    int ok;
    lua_Integer v = lua_tointegerx(L, arg, &ok);
    if (!ok) luaL_error(L, "%s: size %d must be an integer, got %s", fname, nd + 1, lua_tostring(L, arg));
    if (v < 0) luaL_error(L, "%s: size %d must be non-negative, got %I", fname, nd + 1, v);
    size[nd++] = v;
    arg++;
  }
  if (next) *next = arg;
  return nd;
}

lt_dtype lunet_optdtype(lua_State *L, int arg, const char *fname) {
  if (lua_isnoneornil(L, arg)) return LT_FLOAT;
  const char *s = lua_tostring(L, arg);
  if (s && strcmp(s, "float") == 0) return LT_FLOAT;
  if (s && strcmp(s, "int") == 0) return LT_INT;
  if (s && strcmp(s, "double") == 0) return LT_DOUBLE;
  luaL_error(L, "%s: dtype must be \"float\", \"double\" or \"int\", got %s", fname, s ? s : luaL_typename(L, arg));
  return LT_FLOAT;
}
