/* random.c — the random-number functions of lunet.core: seeding and the generator's
 * state, constructors (rand, randn, truncnormal, randperm) and in-place fills (the
 * tensor methods uniform_, normal_, truncnormal_, bernoulli_). The draws are the
 * kernels' (csrc/kernels/random.h), from lunet's one generator. */
#include <string.h>

#include "lua_lunet.h"
#include "random.h"

static int l_manualSeed(lua_State *L) {
  lt_rng_seed((uint64_t)luaL_checkinteger(L, 1));
  return 0;
}

static int l_getRNGState(lua_State *L) {
  uint64_t st[LT_RNG_STATE_WORDS + 2];
  lt_rng_get_state(st);
  lua_pushlstring(L, (const char *)st, sizeof st);
  return 1;
}

/* setRNGState(s): s as getRNGState returned it; a string of another length or a state
 * the generator cannot be in (all-zero words: every draw 0, randn looping forever) is
 * refused, the state left as it was. */
static int l_setRNGState(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  uint64_t st[LT_RNG_STATE_WORDS + 2];
  if (len != sizeof st)
    luaL_error(L, "setRNGState: state must be %d bytes, got %I", (int)sizeof st, (lua_Integer)len);
  memcpy(st, s, sizeof st);
  const char *why = lt_rng_set_state(st);
  if (why) luaL_error(L, "setRNGState: not a state from getRNGState: %s", why);
  return 0;
}

/* A new tensor of the sizes given from argument 1 on (integers or one table) and the
 * dtype at argument dtarg (0: right after the sizes): "float" (the default) or "double". */
static lt_tensor *new_sized(lua_State *L, const char *fname, int dtarg) {
  int64_t size[LT_MAXDIM];
  int next;
  int nd = lunet_checksizes(L, 1, size, fname, &next);
  lt_dtype dt = lunet_optdtype(L, dtarg ? dtarg : next, fname);
  if (dt == LT_INT) luaL_error(L, "%s: dtype must be \"float\" or \"double\", got int", fname);
  return lunet_newresult(L, dt, nd, size, fname);
}

static double check_std(lua_State *L, int arg, const char *fname) {
  double std = luaL_optnumber(L, arg, 1.0);
  if (!(std > 0)) luaL_error(L, "%s: std must be positive, got %f", fname, std);
  return std;
}

static int l_rand(lua_State *L) {
  lt_fill_uniform(new_sized(L, "rand", 0), 0.0, 1.0);
  return 1;
}

static int l_randn(lua_State *L) {
  lt_fill_normal(new_sized(L, "randn", 0), 0.0, 1.0);
  return 1;
}

/* truncnormal(sizes, std [, dtype]) */
static int l_truncnormal(lua_State *L) {
  luaL_argexpected(L, lua_istable(L, 1), 1, "table of sizes");
  double std = check_std(L, 2, "truncnormal");
  lt_fill_truncnormal(new_sized(L, "truncnormal", 3), std);
  return 1;
}

/* randperm(n) -> int tensor holding a permutation of 1..n. */
static int l_randperm(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 0 || n > INT32_MAX) luaL_error(L, "randperm: n must be in [0, 2^31), got %I", (lua_Integer)n);
  int64_t size = n;
  lt_randperm(lt_idata(lunet_newresult(L, LT_INT, 1, &size, "randperm")), n);
  return 1;
}

static int m_uniform_(lua_State *L) {
  lt_fill_uniform(lunet_checkreal(L, 1, "uniform_"), luaL_optnumber(L, 2, 0), luaL_optnumber(L, 3, 1));
  lua_settop(L, 1);
  return 1;
}

static int m_normal_(lua_State *L) {
  lt_fill_normal(lunet_checkreal(L, 1, "normal_"), luaL_optnumber(L, 2, 0), luaL_optnumber(L, 3, 1));
  lua_settop(L, 1);
  return 1;
}

static int m_truncnormal_(lua_State *L) {
  lt_tensor *t = lunet_checkreal(L, 1, "truncnormal_");
  lt_fill_truncnormal(t, check_std(L, 2, "truncnormal_"));
  lua_settop(L, 1);
  return 1;
}

/* bernoulli_(p): each element 1 with probability p, else 0 (dropout masks). */
static int m_bernoulli_(lua_State *L) {
  lt_tensor *t = lunet_checkfloat(L, 1, "bernoulli_");
  double p = luaL_checknumber(L, 2);
  if (!(p >= 0 && p <= 1)) luaL_error(L, "bernoulli_: probability must be in [0,1], got %f", p);
  lunet_checkcontig(L, t, "bernoulli_", "tensor");
  lt_fill_bernoulli(lt_fdata(t), lt_numel(t), p);
  lua_settop(L, 1);
  return 1;
}

void lunet_open_random(lua_State *L) {
  static const luaL_Reg methods[] = {{"uniform_", m_uniform_}, {"normal_", m_normal_},
                                     {"truncnormal_", m_truncnormal_}, {"bernoulli_", m_bernoulli_},
                                     {NULL, NULL}};
  static const luaL_Reg functions[] = {{"rand", l_rand}, {"randn", l_randn}, {"truncnormal", l_truncnormal},
                                       {"randperm", l_randperm}, {"manualSeed", l_manualSeed},
                                       {"getRNGState", l_getRNGState}, {"setRNGState", l_setRNGState},
                                       {NULL, NULL}};
  luaL_getmetatable(L, LUNET_TENSOR_MT);
  lua_getfield(L, -1, "methods");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
  luaL_setfuncs(L, functions, 0);
}
