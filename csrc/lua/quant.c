/* quant.c — the binding of quant.h: compact weights for nn.Linear's inference.
 *   lunet.core.quantize_weight(weight, format) -> a QuantWeight of the float (out,in) weight,
 *                                  format "bf16" or "int8"
 *   lunet.core.qweight_frombytes(format, out, in, bytes [, scales]) -> a QuantWeight from
 *                                  what :bytes() and :scales() gave (a saved model), validated
 *   lunet.core.qlinear_forward(input, qweight, bias|nil, output) -> output = input · W^T + bias
 * A QuantWeight is a userdata holding its format and sizes; its values (and int8's scales)
 * live in a second userdata, its user value, so the collector sees their bytes and
 * releasing it (__gc, __close) drops them. Its methods are in doc/quant.luadoc. */
#include <string.h>

#include "lua_lunet.h"
#include "quant.h"

#define QWEIGHT_MT "lunet.QuantWeight"

static const char *const format_names[] = {"bf16", "int8", NULL};

static lt_qformat check_format(lua_State *L, int idx, const char *fname) {
  const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
  for (int i = 0; s && format_names[i]; i++) {
    if (strcmp(s, format_names[i]) == 0) return (lt_qformat)i;
  }
  if (s) luaL_error(L, "%s: format must be \"bf16\" or \"int8\", got \"%s\"", fname, s);
  return luaL_error(L, "%s: format must be \"bf16\" or \"int8\", got %s", fname, luaL_typename(L, idx));
}

/* Pushes a new QuantWeight of the given format and sizes (values unspecified) and returns
 * it; out*in is overflow-checked and bounded like a tensor's element count. */
static lt_qweight *new_qweight(lua_State *L, lt_qformat f, int64_t out, int64_t in, const char *fname) {
  int64_t count, bytes = 0;
  const int64_t scale_bytes = f == LT_QINT8 ? out * (int64_t)sizeof(float) : 0;
  if (lt_mul_overflow(out, in, &count) || count > LUNET_MAX_NUMEL ||
      lt_mul_overflow(count, lt_qformat_size(f), &bytes) || __builtin_add_overflow(bytes, scale_bytes, &bytes))
    luaL_error(L, "%s: %I x %I weights are too many", fname, (lua_Integer)out, (lua_Integer)in);
  lt_qweight *q = lua_newuserdatauv(L, sizeof *q, 1);
  memset(q, 0, sizeof *q);
  luaL_setmetatable(L, QWEIGHT_MT);
  char *block = lunet_newblock(L, (size_t)bytes);
  if (!block)
    luaL_error(L, "%s: not enough memory for %I x %I %s weights (%I MiB)", fname, (lua_Integer)out, (lua_Integer)in,
               format_names[f], (lua_Integer)(bytes >> 20));
  lua_setiuservalue(L, -2, 1);
  q->format = f;
  q->out = out;
  q->in = in;
  /* the scales first: float-aligned in the userdata's (maximally aligned) block */
  q->scale = f == LT_QINT8 ? (float *)block : NULL;
  q->data = block + scale_bytes;
  return q;
}

static lt_qweight *check_qweight(lua_State *L, int idx, const char *fname) {
  lt_qweight *q = luaL_testudata(L, idx, QWEIGHT_MT);
  if (!q)
    luaL_error(L, "%s: argument #%d must be quantized weights (a QuantWeight), got %s", fname, idx,
               luaL_typename(L, idx));
  if (!q->data) luaL_error(L, "%s: argument #%d, the quantized weights, was released (closed)", fname, idx);
  return q;
}

/* quantize_weight(weight, format) */
static int l_quantize_weight(lua_State *L) {
  const lt_tensor *w = lunet_checkin(L, 1, "quantize", "weight", 2, "(out,in)");
  const lt_qformat f = check_format(L, 2, "quantize");
  if (w->size[0] < 1 || w->size[1] < 1) {
    char buf[160];
    luaL_error(L, "quantize: weight %s has an empty dimension", lt_shape_str(w, buf, sizeof buf));
  }
  lt_qweight *q = new_qweight(L, f, w->size[0], w->size[1], "quantize");
  const int64_t bad = lt_quantize(lt_fdata(w), q);
  if (bad >= 0)
    luaL_error(L, "quantize: weight[%I][%I] is %f, which %s cannot hold (only finite weights%s)",
               (lua_Integer)(bad / q->in + 1), (lua_Integer)(bad % q->in + 1), (double)lt_fdata(w)[bad],
               format_names[f], f == LT_QBF16 ? ", up to 3.39e38," : "");
  return 1;
}

/* qweight_frombytes(format, out, in, bytes [, scales]) */
static int l_qweight_frombytes(lua_State *L) {
  static const char *fname = "qweight_frombytes";
  const lt_qformat f = check_format(L, 1, fname);
  const int64_t out = lunet_checkinteger(L, 2, fname, "out", 1, LUNET_MAX_NUMEL);
  const int64_t in = lunet_checkinteger(L, 3, fname, "in", 1, LUNET_MAX_NUMEL);
  size_t len;
  const char *bytes = lua_type(L, 4) == LUA_TSTRING ? lua_tolstring(L, 4, &len) : NULL;
  if (!bytes) luaL_error(L, "%s: bytes must be a string, got %s", fname, luaL_typename(L, 4));
  const lt_tensor *scales = NULL;
  if (f == LT_QINT8) {
    scales = lunet_checkin(L, 5, fname, "scales", 1, "(out)");
    if (scales->size[0] != out)
      luaL_error(L, "%s: scales must have %I elements (one per row), got %I", fname, (lua_Integer)out,
                 (lua_Integer)scales->size[0]);
  } else if (!lua_isnoneornil(L, 5)) {
    luaL_error(L, "%s: bf16 weights have no scales, got %s", fname, luaL_typename(L, 5));
  }
  /* the length is checked before anything is allocated for the sizes the caller claims */
  int64_t count;
  if (lt_mul_overflow(out, in, &count) || count > LUNET_MAX_NUMEL || len != (size_t)count * (size_t)lt_qformat_size(f))
    luaL_error(L, "%s: %I x %I %s weights do not take the %I bytes given", fname, (lua_Integer)out, (lua_Integer)in,
               format_names[f], (lua_Integer)len);
  const size_t want = len;
  lt_qweight *q = new_qweight(L, f, out, in, fname);
  memcpy(q->data, bytes, want);
  if (scales) memcpy(q->scale, lt_fdata(scales), (size_t)out * sizeof(float));
  const int64_t bad = lt_qweight_check(q);
  if (bad >= 0 && bad < out * in)
    luaL_error(L, "%s: weight[%I][%I] is not a valid %s value%s", fname, (lua_Integer)(bad / in + 1),
               (lua_Integer)(bad % in + 1), format_names[f], f == LT_QBF16 ? " (infinite or NaN)" : " (-128)");
  if (bad >= 0)
    luaL_error(L, "%s: scale %I is %f, not a finite value >= 0", fname, (lua_Integer)(bad - out * in + 1),
               (double)q->scale[bad - out * in]);
  return 1;
}

/* qlinear_forward(input, qweight, bias|nil, output) -> output */
static int l_qlinear_forward(lua_State *L) {
  const lt_tensor *x = lunet_checkin(L, 1, "qlinear", "input", 2, "(N,in)");
  const lt_qweight *q = check_qweight(L, 2, "qlinear");
  if (x->size[1] != q->in)
    luaL_error(L, "qlinear: the weights expect %I input features, the input has %I", (lua_Integer)q->in,
               (lua_Integer)x->size[1]);
  const lt_tensor *b = NULL;
  if (!lua_isnil(L, 3)) {
    b = lunet_checkin(L, 3, "qlinear", "bias", 1, "(out)");
    if (b->size[0] != q->out)
      luaL_error(L, "qlinear: bias must have %I elements, got %I", (lua_Integer)q->out, (lua_Integer)b->size[0]);
  }
  lunet_checkout(L, 4, "qlinear", "output", LT_FLOAT);
  lt_tensor *y = lunet_resize(L, 4, 2, (int64_t[]){x->size[0], q->out}, "qlinear", "output");
  lt_qlinear_forward(lt_fdata(x), q, b ? lt_fdata(b) : NULL, lt_fdata(y), x->size[0]);
  lua_settop(L, 4);
  return 1;
}

/* ---------------------------------------------------------------- methods */

static int m_format(lua_State *L) {
  lua_pushstring(L, format_names[check_qweight(L, 1, "QuantWeight:format")->format]);
  return 1;
}

static int m_size(lua_State *L) {
  const lt_qweight *q = check_qweight(L, 1, "QuantWeight:size");
  lua_pushinteger(L, (lua_Integer)q->out);
  lua_pushinteger(L, (lua_Integer)q->in);
  return 2;
}

static int m_nbytes(lua_State *L) {
  const lt_qweight *q = check_qweight(L, 1, "QuantWeight:nbytes");
  lua_pushinteger(L, (lua_Integer)(q->out * q->in * lt_qformat_size(q->format) +
                                   (q->scale ? q->out * (int64_t)sizeof(float) : 0)));
  return 1;
}

static int m_dequantize(lua_State *L) {
  const lt_qweight *q = check_qweight(L, 1, "QuantWeight:dequantize");
  lt_dequantize(q, lt_fdata(lunet_newresult(L, LT_FLOAT, 2, (int64_t[]){q->out, q->in}, "QuantWeight:dequantize")));
  return 1;
}

static int m_bytes(lua_State *L) {
  const lt_qweight *q = check_qweight(L, 1, "QuantWeight:bytes");
  lua_pushlstring(L, q->data, (size_t)(q->out * q->in * lt_qformat_size(q->format)));
  return 1;
}

static int m_scales(lua_State *L) {
  const lt_qweight *q = check_qweight(L, 1, "QuantWeight:scales");
  if (!q->scale) return 0;
  float *s = lt_fdata(lunet_newresult(L, LT_FLOAT, 1, &q->out, "QuantWeight:scales"));
  memcpy(s, q->scale, (size_t)q->out * sizeof(float));
  return 1;
}

static int m_tostring(lua_State *L) {
  const lt_qweight *q = luaL_checkudata(L, 1, QWEIGHT_MT);
  if (!q->data) lua_pushstring(L, "QuantWeight (released)");
  else lua_pushfstring(L, "QuantWeight(%s, %I x %I)", format_names[q->format], (lua_Integer)q->out, (lua_Integer)q->in);
  return 1;
}

/* Release: forget the values; their block goes with the collector's next cycle. */
static int m_release(lua_State *L) {
  lt_qweight *q = luaL_checkudata(L, 1, QWEIGHT_MT);
  q->data = NULL;
  q->scale = NULL;
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 1);
  return 0;
}

void lunet_open_quant(lua_State *L) {
  static const luaL_Reg methods[] = {{"format", m_format},   {"size", m_size},     {"nbytes", m_nbytes},
                                     {"dequantize", m_dequantize}, {"bytes", m_bytes}, {"scales", m_scales},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", m_release}, {"__close", m_release}, {"__tostring", m_tostring}, {NULL, NULL}};
  luaL_newmetatable(L, QWEIGHT_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");
  lua_setfield(L, -3, "QuantWeight"); /* core.QuantWeight: the methods */
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"quantize_weight", l_quantize_weight},
                                 {"qweight_frombytes", l_qweight_frombytes},
                                 {"qlinear_forward", l_qlinear_forward},
                                 {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
