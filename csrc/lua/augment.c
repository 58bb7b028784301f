/* augment.c — the binding of the batched augmentation kernel (imgops.h) as lunet.core's
 * crop_flip, the building block of lunet.data.transforms' RandomCrop and
 * RandomHorizontalFlip. */
#include "imgops.h"
#include "lua_lunet.h"

/* A 1-D int tensor of n entries, each in lo..hi. */
static const int32_t *check_draws(lua_State *L, int idx, int64_t n, int32_t lo, int64_t hi, const char *what) {
  lt_tensor *t = lunet_checkint(L, idx, "crop_flip");
  lunet_checkdim(L, t, 1, "crop_flip", what, "(N)");
  lunet_checkcontig(L, t, "crop_flip", what);
  if (t->size[0] != n)
    luaL_error(L, "crop_flip: %s has %I entries for %I images", what, (lua_Integer)t->size[0], (lua_Integer)n);
  const int32_t *v = lt_idata(t);
  for (int64_t i = 0; i < n; i++)
    if (v[i] < lo || v[i] > hi)
      luaL_error(L, "crop_flip: %s[%I] = %d is outside %d..%I", what, (lua_Integer)(i + 1), (int)v[i], (int)lo,
                 (lua_Integer)hi);
  return v;
}

/* crop_flip(input (N,C,H,W), output, oy, ox, flip|nil, pad, oh, ow [, fill]) -> output
 * (N,C,oh,ow): each image's oh×ow window at (oy, ox) (0-based) of the input padded by pad
 * on every side with fill (default 0), mirrored left-right where flip is nonzero. */
static int l_crop_flip(lua_State *L) {
  lt_tensor *x = lunet_checkin(L, 1, "crop_flip", "input", 4, "(N,C,H,W)");
  lunet_checkout(L, 2, "crop_flip", "output", LT_FLOAT);
  const int64_t n = x->size[0], c = x->size[1], h = x->size[2], w = x->size[3];
  const int64_t pad = lunet_checkinteger(L, 6, "crop_flip", "padding", 0, INT32_MAX);
  int64_t ph = 0, pw = 0;
  if (lt_add_overflow(h, 2 * pad, &ph) || lt_add_overflow(w, 2 * pad, &pw) || ph > INT32_MAX || pw > INT32_MAX)
    luaL_error(L, "crop_flip: padding %I is too large", (lua_Integer)pad);
  const int64_t oh = lunet_checkinteger(L, 7, "crop_flip", "crop height", 1, ph);
  const int64_t ow = lunet_checkinteger(L, 8, "crop_flip", "crop width", 1, pw);
  const float fill = (float)luaL_optnumber(L, 9, 0.0);
  const int32_t *oy = check_draws(L, 3, n, 0, ph - oh, "oy");
  const int32_t *ox = check_draws(L, 4, n, 0, pw - ow, "ox");
  const int32_t *flip = lua_isnoneornil(L, 5) ? NULL : check_draws(L, 5, n, 0, 1, "flip");
  lt_tensor *y = lunet_resize(L, 2, 4, (int64_t[]){n, c, oh, ow}, "crop_flip", "output");
  lunet_img_crop_flip(lt_fdata(x), lt_fdata(y), n, c, h, w, oh, ow, pad, oy, ox, flip, fill);
  lua_settop(L, 2);
  return 1;
}

void lunet_open_augment(lua_State *L) {
  static const luaL_Reg fns[] = {{"crop_flip", l_crop_flip}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
