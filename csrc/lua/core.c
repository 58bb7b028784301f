/* core.c — luaopen_lunet_core: builds the module table from every binding file. */
#include <stdlib.h>
#include <time.h>

#include <cblas.h>

#include "lua_lunet.h"
#include "parallel.h"

static int l_setNumThreads(lua_State *L) {
  lt_set_num_threads((int)lunet_checkinteger(L, 1, "setNumThreads", "thread count", 1, 1024));
  return 0;
}

static int l_getNumThreads(lua_State *L) {
  lua_pushinteger(L, lt_get_num_threads());
  return 1;
}

/* Seconds on a monotonic clock, for timing runs and benchmarks. */
static int l_wallclock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

/* Which BLAS kernel set runs (OpenBLAS's core name), for benchmark reports. */
static int l_blasInfo(lua_State *L) {
  lua_pushstring(L, openblas_get_config());
  lua_pushstring(L, openblas_get_corename());
  return 2;
}

LUNET_EXPORT int luaopen_lunet_core(lua_State *L);
int luaopen_lunet_core(lua_State *L) {
  lt_parallel_init();
  lua_newtable(L);
  lunet_open_tensor(L);
  lunet_open_random(L);
  lunet_open_nn(L);
  lunet_open_optim(L);
  lunet_open_io(L);
  lunet_open_rnn(L);
  lunet_open_sys(L);
  lunet_open_speed(L);
  lunet_open_augment(L);
  lunet_open_quant(L);
  static const luaL_Reg fns[] = {{"setNumThreads", l_setNumThreads},
                                 {"getNumThreads", l_getNumThreads},
                                 {"blasInfo", l_blasInfo},
                                 {"wallclock", l_wallclock},
                                 {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
  return 1;
}
