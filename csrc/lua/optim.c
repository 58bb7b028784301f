/* optim.c — binding of the fused optimizer updates. Every tensor must be float,
 * contiguous and of the parameter's size. */
#include "lua_lunet.h"
#include "optim.h"

static float *same_as(lua_State *L, int idx, const lt_tensor *p, const char *fname, const char *what) {
  lt_tensor *t = lunet_checkfloat(L, idx, fname);
  lunet_checkcontig(L, t, fname, what);
  if (lt_numel(t) != lt_numel(p)) {
    char a[160], b[160];
    luaL_error(L, "%s: %s %s does not match the parameter %s", fname, what, lt_shape_str(t, a, sizeof a),
               lt_shape_str(p, b, sizeof b));
  }
  return lt_fdata(t);
}

/* The parameter and the state buffers are written while the gradient is read: none may
 * overlap another (lunet_checknooverlap). */
static lt_tensor *param(lua_State *L, const char *fname) {
  lt_tensor *p = lunet_checkfloat(L, 1, fname);
  lunet_checkcontig(L, p, fname, "parameter");
  lunet_checknooverlap(L, 1, fname, "parameter");
  return p;
}

static float *state_of(lua_State *L, int idx, const lt_tensor *p, const char *fname, const char *what) {
  float *s = same_as(L, idx, p, fname, what);
  lunet_checknooverlap(L, idx, fname, what);
  return s;
}

/* sgd_step(p, g, v|nil, lr, momentum, nesterov, wd) */
static int l_sgd_step(lua_State *L) {
  lt_tensor *p = param(L, "sgd_step");
  const float *g = same_as(L, 2, p, "sgd_step", "gradient");
  float mu = (float)luaL_checknumber(L, 5);
  float *v = mu != 0.0f ? state_of(L, 3, p, "sgd_step", "momentum buffer") : NULL;
  lt_sgd_step(lt_fdata(p), g, v, lt_numel(p), (float)luaL_checknumber(L, 4), mu, lua_toboolean(L, 6),
              (float)luaL_checknumber(L, 7));
  return 0;
}

/* adam_step(p, g, m, v, lr, beta1, beta2, eps, wd, t) */
static int l_adam_step(lua_State *L) {
  lt_tensor *p = param(L, "adam_step");
  lua_Integer t = lunet_checkinteger(L, 10, "adam_step", "step number", 1, LUA_MAXINTEGER);
  lt_adam_step(lt_fdata(p), same_as(L, 2, p, "adam_step", "gradient"), state_of(L, 3, p, "adam_step", "first moment"),
               state_of(L, 4, p, "adam_step", "second moment"), lt_numel(p), (float)luaL_checknumber(L, 5),
               (float)luaL_checknumber(L, 6), (float)luaL_checknumber(L, 7), (float)luaL_checknumber(L, 8),
               (float)luaL_checknumber(L, 9), t);
  return 0;
}

/* rmsprop_step(p, g, v, lr, alpha, eps, wd) */
static int l_rmsprop_step(lua_State *L) {
  lt_tensor *p = param(L, "rmsprop_step");
  lt_rmsprop_step(lt_fdata(p), same_as(L, 2, p, "rmsprop_step", "gradient"),
                  state_of(L, 3, p, "rmsprop_step", "square average"), lt_numel(p), (float)luaL_checknumber(L, 4),
                  (float)luaL_checknumber(L, 5), (float)luaL_checknumber(L, 6), (float)luaL_checknumber(L, 7));
  return 0;
}

/* adagrad_step(p, g, s, lr, eps, wd) */
static int l_adagrad_step(lua_State *L) {
  lt_tensor *p = param(L, "adagrad_step");
  lt_adagrad_step(lt_fdata(p), same_as(L, 2, p, "adagrad_step", "gradient"),
                  state_of(L, 3, p, "adagrad_step", "square sum"), lt_numel(p), (float)luaL_checknumber(L, 4),
                  (float)luaL_checknumber(L, 5), (float)luaL_checknumber(L, 6));
  return 0;
}

void lunet_open_optim(lua_State *L) {
  static const luaL_Reg fns[] = {{"sgd_step", l_sgd_step},
                                 {"adam_step", l_adam_step},
                                 {"rmsprop_step", l_rmsprop_step},
                                 {"adagrad_step", l_adagrad_step},
                                 {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
