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

static lt_tensor *param(lua_State *L, const char *fname) {
  lt_tensor *p = lunet_checkfloat(L, 1, fname);
  lunet_checkcontig(L, p, fname, "parameter");
  return p;
}

/* The parameter (argument 1) and the nstate state buffers (from argument 3 on) are
 * written while the gradient is read: none may overlap another. Checked after every
 * argument's own checks. */
static void check_written(lua_State *L, const char *fname, int nstate, const char *const *states) {
  lunet_checknooverlap(L, 1, fname, "parameter");
  for (int i = 0; i < nstate; i++) lunet_checknooverlap(L, 3 + i, fname, states[i]);
}

/* sgd_step(p, g, v|nil, lr, momentum, nesterov, wd) */
static int l_sgd_step(lua_State *L) {
  lt_tensor *p = param(L, "sgd_step");
  const float *g = same_as(L, 2, p, "sgd_step", "gradient");
  float mu = (float)luaL_checknumber(L, 5);
  float *v = mu != 0.0f ? same_as(L, 3, p, "sgd_step", "momentum buffer") : NULL;
  const float lr = (float)luaL_checknumber(L, 4), wd = (float)luaL_checknumber(L, 7);
  check_written(L, "sgd_step", v ? 1 : 0, (const char *const[]){"momentum buffer"});
  lt_sgd_step(lt_fdata(p), g, v, lt_numel(p), lr, mu, lua_toboolean(L, 6), wd);
  return 0;
}

/* adam_step(p, g, m, v, lr, beta1, beta2, eps, wd, t) */
static int l_adam_step(lua_State *L) {
  lt_tensor *p = param(L, "adam_step");
  lua_Integer t = lunet_checkinteger(L, 10, "adam_step", "step number", 1, LUA_MAXINTEGER);
  const float *g = same_as(L, 2, p, "adam_step", "gradient");
  float *m = same_as(L, 3, p, "adam_step", "first moment"), *v = same_as(L, 4, p, "adam_step", "second moment");
  const float lr = (float)luaL_checknumber(L, 5), beta1 = (float)luaL_checknumber(L, 6),
              beta2 = (float)luaL_checknumber(L, 7), eps = (float)luaL_checknumber(L, 8),
              wd = (float)luaL_checknumber(L, 9);
  check_written(L, "adam_step", 2, (const char *const[]){"first moment", "second moment"});
  lt_adam_step(lt_fdata(p), g, m, v, lt_numel(p), lr, beta1, beta2, eps, wd, t);
  return 0;
}

/* rmsprop_step(p, g, v, lr, alpha, eps, wd) */
static int l_rmsprop_step(lua_State *L) {
  lt_tensor *p = param(L, "rmsprop_step");
  const float *g = same_as(L, 2, p, "rmsprop_step", "gradient");
  float *v = same_as(L, 3, p, "rmsprop_step", "square average");
  const float lr = (float)luaL_checknumber(L, 4), alpha = (float)luaL_checknumber(L, 5),
              eps = (float)luaL_checknumber(L, 6), wd = (float)luaL_checknumber(L, 7);
  check_written(L, "rmsprop_step", 1, (const char *const[]){"square average"});
  lt_rmsprop_step(lt_fdata(p), g, v, lt_numel(p), lr, alpha, eps, wd);
  return 0;
}

/* adagrad_step(p, g, s, lr, eps, wd) */
static int l_adagrad_step(lua_State *L) {
  lt_tensor *p = param(L, "adagrad_step");
  const float *g = same_as(L, 2, p, "adagrad_step", "gradient");
  float *s = same_as(L, 3, p, "adagrad_step", "square sum");
  const float lr = (float)luaL_checknumber(L, 4), eps = (float)luaL_checknumber(L, 5),
              wd = (float)luaL_checknumber(L, 6);
  check_written(L, "adagrad_step", 1, (const char *const[]){"square sum"});
  lt_adagrad_step(lt_fdata(p), g, s, lt_numel(p), lr, eps, wd);
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
