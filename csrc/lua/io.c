/* io.c — binding of the file formats (io_png.c, io_idx.c, io_tensor.c) and the
 * image operations (imgops.c).
 *
 * Errors are named after the public Lua functions these back: image.load and
 * image.save (lunet.image), loadIDX, image.resize and the other lunet.image
 * operations. tensor_write and tensor_read return nil and a message on a
 * format or I/O error, as Lua's io functions do, so that lunet.save/lunet.load
 * can say which file and which value failed. */
#include <math.h>
#include <string.h>

#include "imgops.h"
#include "lua_lunet.h"
#include "lunet_io.h"

#define GUARD_MT "lunet.io_guard"
#define ERRLEN 512

/* ---------------------------------------------------------------- guards */

/* A reader handle owned by a to-be-closed stack slot: whether the function
 * returns or raises (a bad file, or no memory for the tensor), the handle is
 * closed exactly once. */
typedef struct {
  void (*close)(void *handle);
  void *handle;
} io_guard;

static int guard_close(lua_State *L) {
  io_guard *g = luaL_checkudata(L, 1, GUARD_MT);
  void *h = g->handle;
  g->handle = NULL;
  if (h) g->close(h);
  return 0;
}

static io_guard *push_guard(lua_State *L, void (*close)(void *)) {
  io_guard *g = lua_newuserdatauv(L, sizeof *g, 0);
  g->close = close;
  g->handle = NULL;
  if (luaL_newmetatable(L, GUARD_MT)) {
    lua_pushcfunction(L, guard_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, guard_close);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  lua_toclose(L, -1);
  return g;
}

static void close_png(void *h) { lunet_png_close(h); }
static void close_idx(void *h) { lunet_idx_close(h); }

/* ---------------------------------------------------------------- argument checks */

static const char *check_path(lua_State *L, int idx, const char *fname) {
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_error(L, "%s: argument #%d (path) must be a string, got %s", fname, idx,
               luaL_typename(L, idx));
  return lua_tostring(L, idx);
}

static double check_number(lua_State *L, int idx, const char *fname, const char *what) {
  if (lua_type(L, idx) != LUA_TNUMBER)
    luaL_error(L, "%s: %s (argument #%d) must be a number, got %s", fname, what, idx,
               luaL_typename(L, idx));
  double v = lua_tonumber(L, idx);
  if (!isfinite(v))
    luaL_error(L, "%s: %s must be finite, got %s", fname, what, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
  return v;
}

static float opt_fill(lua_State *L, int idx, const char *fname) {
  return lua_isnoneornil(L, idx) ? 0.0f : (float)check_number(L, idx, fname, "fill");
}

/* A display mode by name: "minmax" or "symmetric"; nil means clamp where allow_nil. */
static lunet_display check_mode(lua_State *L, int idx, const char *fname, int allow_nil) {
  if (allow_nil && lua_isnoneornil(L, idx)) return LUNET_DISPLAY_CLAMP;
  const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
  if (s && strcmp(s, "minmax") == 0) return LUNET_DISPLAY_MINMAX;
  if (s && strcmp(s, "symmetric") == 0) return LUNET_DISPLAY_SYMMETRIC;
  luaL_error(L, "%s: scale (argument #%d) must be \"minmax\" or \"symmetric\"%s, got %s", fname,
             idx, allow_nil ? " or nil" : "", s ? s : luaL_typename(L, idx));
  return LUNET_DISPLAY_CLAMP;
}

/* A contiguous float image batch: H×W, C×H×W or N×C×H×W, seen as `planes` planes. */
static lt_tensor *check_image(lua_State *L, int idx, const char *fname, size_t *planes) {
  lt_tensor *t = lunet_checkfloat(L, idx, fname);
  if (t->ndim < 2 || t->ndim > 4) {
    char buf[160];
    luaL_error(L, "%s: image must be 2-D (H,W), 3-D (C,H,W) or 4-D (N,C,H,W), got %d-D %s", fname,
               t->ndim, lt_shape_str(t, buf, sizeof buf));
  }
  lunet_checkcontig(L, t, fname, "image");
  *planes = 1;
  for (int d = 0; d < t->ndim - 2; d++) *planes *= (size_t)t->size[d];
  return t;
}

/* Push a new float tensor with x's leading dimensions and an h×w plane. */
static lt_tensor *new_image_like(lua_State *L, const lt_tensor *x, int64_t h, int64_t w, const char *fname) {
  int64_t size[4];
  for (int d = 0; d < x->ndim - 2; d++) size[d] = x->size[d];
  size[x->ndim - 2] = h;
  size[x->ndim - 1] = w;
  return lunet_newtensor(L, LT_FLOAT, x->ndim, size, fname);
}

/* ---------------------------------------------------------------- PNG */

/* png_load(path) -> float tensor C×H×W in [0,1] */
static int l_png_load(lua_State *L) {
  const char *path = check_path(L, 1, "image.load");
  io_guard *g = push_guard(L, close_png);
  char err[ERRLEN];
  int64_t size[3];
  lunet_png_reader *r = lunet_png_open(path, &size[0], &size[1], &size[2], err, sizeof err);
  if (!r) return luaL_error(L, "image.load: %s", err);
  g->handle = r;
  lt_tensor *t = lunet_newtensor(L, LT_FLOAT, 3, size, "image.load");
  if (lunet_png_read(r, lt_fdata(t), err, sizeof err)) return luaL_error(L, "image.load: %s", err);
  return 1;
}

/* png_save(path, x, [scale], [bits]): x is H×W or C×H×W (C = 1..4) */
static int l_png_save(lua_State *L) {
  const char *fname = "image.save";
  const char *path = check_path(L, 1, fname);
  lt_tensor *t = lunet_checkfloat(L, 2, fname);
  char buf[160], err[ERRLEN];
  if (!(t->ndim == 2 || (t->ndim == 3 && t->size[0] >= 1 && t->size[0] <= 4)))
    return luaL_error(L, "%s: image must be 2-D (H,W) or 3-D (C,H,W) with C = 1 (gray), "
                      "2 (gray, alpha), 3 (RGB) or 4 (RGBA), got %d-D %s",
                      fname, t->ndim, lt_shape_str(t, buf, sizeof buf));
  lunet_checkcontig(L, t, fname, "image");
  lunet_display mode = check_mode(L, 3, fname, 1);
  lua_Integer bits = lua_isnoneornil(L, 4) ? 8 : lua_isinteger(L, 4) ? lua_tointeger(L, 4) : 0;
  if (bits != 8 && bits != 16)
    return luaL_error(L, "%s: bits must be 8 or 16, got %s", fname, luaL_tolstring(L, 4, NULL));
  int64_t c = t->ndim == 3 ? t->size[0] : 1;
  int64_t h = t->size[t->ndim - 2], w = t->size[t->ndim - 1];
  if (h < 1 || w < 1)
    return luaL_error(L, "%s: image must have at least one pixel, got %s", fname,
                      lt_shape_str(t, buf, sizeof buf));
  if (lunet_png_write(path, lt_fdata(t), c, h, w, (int)bits, mode, err, sizeof err))
    return luaL_error(L, "%s: %s", fname, err);
  return 0;
}

/* ---------------------------------------------------------------- IDX */

/* idx_load(path, [dtype]) -> tensor of the file's shape: "float" (default) holds
 * the raw values (0..255 for MNIST images, not scaled), "int" int32 (labels). */
static int l_idx_load(lua_State *L) {
  const char *fname = "loadIDX";
  const char *path = check_path(L, 1, fname);
  lt_dtype dtype = LT_FLOAT;
  if (!lua_isnoneornil(L, 2)) {
    const char *s = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
    if (s && strcmp(s, "int") == 0)
      dtype = LT_INT;
    else if (!s || strcmp(s, "float") != 0)
      return luaL_error(L, "%s: dtype (argument #2) must be \"float\" or \"int\", got %s", fname,
                        s ? s : luaL_typename(L, 2));
  }
  io_guard *g = push_guard(L, close_idx);
  char err[ERRLEN];
  int ndim;
  int64_t size[LT_MAXDIM];
  lunet_idx_reader *r = lunet_idx_open(path, &ndim, size, err, sizeof err);
  if (!r) return luaL_error(L, "%s: %s", fname, err);
  g->handle = r;
  lt_tensor *t = lunet_newtensor(L, dtype, ndim, size, fname);
  if (lunet_idx_read(r, lt_data(t), dtype, err, sizeof err))
    return luaL_error(L, "%s: %s", fname, err);
  return 1;
}

/* ---------------------------------------------------------------- tensor format */

/* tensor_write(file, t) -> true, or nil and a message. t must be contiguous. */
static int l_tensor_write(lua_State *L) {
  FILE *f = lunet_checkfile(L, 1, "tensor_write");
  lt_tensor *t = lunet_checktensor(L, 2);
  lunet_checkcontig(L, t, "tensor_write", "tensor");
  lunet_tns_header hd;
  hd.dtype = t->dtype;
  hd.ndim = t->ndim;
  memcpy(hd.size, t->size, sizeof hd.size);
  char err[ERRLEN];
  if (lunet_tns_write(f, &hd, lt_data(t), err, sizeof err)) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* tensor_read(file) -> tensor, or nil and a message. */
static int l_tensor_read(lua_State *L) {
  FILE *f = lunet_checkfile(L, 1, "tensor_read");
  lunet_tns_header hd;
  char err[ERRLEN];
  if (lunet_tns_read_header(f, &hd, err, sizeof err) == 0) {
    lt_tensor *t = lunet_newtensor(L, hd.dtype, hd.ndim, hd.size, "tensor_read");
    if (lunet_tns_read_data(f, &hd, lt_data(t), err, sizeof err) == 0)
      return 1;
  }
  luaL_pushfail(L);
  lua_pushstring(L, err);
  return 2;
}

/* ---------------------------------------------------------------- image operations */

/* img_resize(x, h, w) -> x resized to h×w (bilinear) */
static int l_img_resize(lua_State *L) {
  const char *fname = "image.resize";
  size_t planes;
  lt_tensor *x = check_image(L, 1, fname, &planes);
  int64_t oh = lunet_checkinteger(L, 2, fname, "height", 1, INT32_MAX);
  int64_t ow = lunet_checkinteger(L, 3, fname, "width", 1, INT32_MAX);
  int64_t h = x->size[x->ndim - 2], w = x->size[x->ndim - 1];
  char buf[160];
  if (h < 1 || w < 1)
    return luaL_error(L, "%s: cannot resize an empty image %s", fname, lt_shape_str(x, buf, sizeof buf));
  lt_tensor *y = new_image_like(L, x, oh, ow, fname);
  lunet_img_resize(lt_fdata(x), lt_fdata(y), planes, h, w, oh, ow);
  return 1;
}

/* img_rotate(x, degrees, [fill]) -> x turned counter-clockwise about its centre */
static int l_img_rotate(lua_State *L) {
  const char *fname = "image.rotate";
  size_t planes;
  lt_tensor *x = check_image(L, 1, fname, &planes);
  double deg = check_number(L, 2, fname, "angle");
  float fill = opt_fill(L, 3, fname);
  int64_t h = x->size[x->ndim - 2], w = x->size[x->ndim - 1];
  lt_tensor *y = new_image_like(L, x, h, w, fname);
  lunet_img_rotate(lt_fdata(x), lt_fdata(y), planes, h, w, deg, fill);
  return 1;
}

/* img_translate(x, dx, dy, [fill]) -> x moved dx right and dy down */
static int l_img_translate(lua_State *L) {
  const char *fname = "image.translate";
  size_t planes;
  lt_tensor *x = check_image(L, 1, fname, &planes);
  double dx = check_number(L, 2, fname, "dx"), dy = check_number(L, 3, fname, "dy");
  float fill = opt_fill(L, 4, fname);
  int64_t h = x->size[x->ndim - 2], w = x->size[x->ndim - 1];
  lt_tensor *y = new_image_like(L, x, h, w, fname);
  lunet_img_translate(lt_fdata(x), lt_fdata(y), planes, h, w, dx, dy, fill);
  return 1;
}

/* img_scale(x, factor, [fill]) -> x zoomed by factor about its centre */
static int l_img_scale(lua_State *L) {
  const char *fname = "image.scale";
  size_t planes;
  lt_tensor *x = check_image(L, 1, fname, &planes);
  double factor = check_number(L, 2, fname, "factor");
  if (!(factor > 0)) return luaL_error(L, "%s: factor must be positive, got %f", fname, factor);
  float fill = opt_fill(L, 3, fname);
  int64_t h = x->size[x->ndim - 2], w = x->size[x->ndim - 1];
  lt_tensor *y = new_image_like(L, x, h, w, fname);
  lunet_img_scale(lt_fdata(x), lt_fdata(y), planes, h, w, factor, fill);
  return 1;
}

/* img_crop(x, top, left, h, w, [fill]) -> the h×w window at (top, left), 1-based;
 * the window may extend past the border, where it holds fill */
static int l_img_crop(lua_State *L) {
  const char *fname = "image.crop";
  size_t planes;
  lt_tensor *x = check_image(L, 1, fname, &planes);
  int64_t top = lunet_checkinteger(L, 2, fname, "top", INT32_MIN, INT32_MAX);
  int64_t left = lunet_checkinteger(L, 3, fname, "left", INT32_MIN, INT32_MAX);
  int64_t oh = lunet_checkinteger(L, 4, fname, "height", 1, INT32_MAX);
  int64_t ow = lunet_checkinteger(L, 5, fname, "width", 1, INT32_MAX);
  float fill = opt_fill(L, 6, fname);
  int64_t h = x->size[x->ndim - 2], w = x->size[x->ndim - 1];
  lt_tensor *y = new_image_like(L, x, oh, ow, fname);
  lunet_img_crop(lt_fdata(x), lt_fdata(y), planes, h, w, top - 1, left - 1, oh, ow, fill);
  return 1;
}

/* img_normalize(x, mode, [perImage]) -> x mapped for display into [0,1]; with
 * perImage each index of the first dimension is mapped on its own */
static int l_img_normalize(lua_State *L) {
  const char *fname = "image.normalize";
  lt_tensor *x = lunet_checkfloat(L, 1, fname);
  lunet_checkcontig(L, x, fname, "tensor");
  lunet_display mode = check_mode(L, 2, fname, 0);
  int per = lua_toboolean(L, 3) && x->ndim > 0;
  size_t n = (size_t)lt_numel(x), groups = per ? (size_t)x->size[0] : 1;
  lt_tensor *y = lunet_newtensor(L, LT_FLOAT, x->ndim, x->size, fname);
  lunet_img_normalize(lt_fdata(x), lt_fdata(y), groups, groups ? n / groups : 0, mode);
  return 1;
}

void lunet_open_io(lua_State *L) {
  static const luaL_Reg fns[] = {{"png_load", l_png_load},
                                 {"png_save", l_png_save},
                                 {"idx_load", l_idx_load},
                                 {"tensor_write", l_tensor_write},
                                 {"tensor_read", l_tensor_read},
                                 {"img_resize", l_img_resize},
                                 {"img_rotate", l_img_rotate},
                                 {"img_translate", l_img_translate},
                                 {"img_scale", l_img_scale},
                                 {"img_crop", l_img_crop},
                                 {"img_normalize", l_img_normalize},
                                 {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
