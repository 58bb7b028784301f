/* speed.c — the binding of speed.h:
 *   lunet.setFlushDenormals(on) -> the previous setting (a boolean), or nil where the
 *                                  CPU has no such control
 *   lunet.getFlushDenormals()   -> boolean, or nil likewise
 *   lunet.gemmBackend()         -> "avx512" or "blas": the sgemm under the nn kernels (gemm.h)
 *   lunet.setGemmBackend(name)  selects it; an error when this CPU cannot run it
 *   lunet.gemmBackends()        -> the backends this CPU can run, in a list
 *   lunet.convAlgorithm()       -> "auto" (Winograd where it applies) or "im2col" (nnkernels.h)
 *   lunet.setConvAlgorithm(name) selects it; an error for another name
 *   lunet.core.bench_sgemm(n [, reps = 1 [, "lunet"]]) -> seconds per n x n x n cblas_sgemm
 *                                  call (with "lunet": per lt_sgemm call, gemm.h)
 *   lunet.core.bench_read(bytes [, reps = 1]) -> bytes per second of a streaming sum over
 *                                  a buffer of that size, over lunet's threads (speed.h) */
#include <limits.h>
#include <string.h>

#include "gemm.h"
#include "lua_lunet.h"
#include "nnkernels.h"
#include "speed.h"

static int push_setting(lua_State *L, int v) {
  if (v < 0) lua_pushnil(L);
  else lua_pushboolean(L, v);
  return 1;
}

static int l_setFlushDenormals(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  return push_setting(L, lt_set_flush_denormals(lua_toboolean(L, 1)));
}

static int l_getFlushDenormals(lua_State *L) { return push_setting(L, lt_get_flush_denormals()); }

static int l_bench_sgemm(lua_State *L) {
  const lua_Integer n = luaL_checkinteger(L, 1), reps = luaL_optinteger(L, 2, 1);
  /* n*n floats per matrix must fit the BLAS int interface and memory */
  if (n < 1 || n > 16384) luaL_error(L, "bench_sgemm: n must be in 1..16384, got %I", n);
  if (reps < 1 || reps > INT_MAX) luaL_error(L, "bench_sgemm: reps must be >= 1, got %I", reps);
  const int own = lua_isnoneornil(L, 3) ? 0 : luaL_checkoption(L, 3, NULL, (const char *const[]){"cblas", "lunet", NULL});
  const double secs = lt_bench_sgemm((int)n, (int)reps, own);
  if (secs < 0) luaL_error(L, "bench_sgemm: out of memory for three %Ix%I matrices", n, n);
  lua_pushnumber(L, secs);
  return 1;
}

/* Up to 1 TiB: beyond any machine's memory, far below where bytes * reps loses precision. */
#define LT_READ_MAX_BYTES ((lua_Integer)1 << 40)

static int l_bench_read(lua_State *L) {
  const lua_Integer bytes = lunet_checkinteger(L, 1, "bench_read", "bytes", 4, LT_READ_MAX_BYTES);
  if (bytes % 4 != 0) luaL_error(L, "bench_read: bytes must be a multiple of 4 (whole floats), got %I", bytes);
  const int reps = (int)(lua_isnoneornil(L, 2) ? 1 : lunet_checkinteger(L, 2, "bench_read", "reps", 1, INT_MAX));
  const double rate = lt_bench_read_bandwidth((int64_t)bytes, reps);
  if (rate < 0) luaL_error(L, "bench_read: out of memory for a buffer of %I bytes", bytes);
  lua_pushnumber(L, rate);
  return 1;
}

static const char *const gemm_backends[] = {"avx512", "blas"};

static int l_gemmBackend(lua_State *L) {
  lua_pushstring(L, lt_gemm_backend());
  return 1;
}

static int l_setGemmBackend(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (lt_set_gemm_backend(name) != 0) {
    int known = 0;
    for (size_t i = 0; i < sizeof gemm_backends / sizeof *gemm_backends; i++) known |= strcmp(name, gemm_backends[i]) == 0;
    luaL_error(L, known ? "setGemmBackend: this CPU cannot run the '%s' backend"
                        : "setGemmBackend: unknown backend '%s' (expected 'avx512' or 'blas')", name);
  }
  return 0;
}

static int l_gemmBackends(lua_State *L) {
  lua_newtable(L);
  int n = 0;
  for (size_t i = 0; i < sizeof gemm_backends / sizeof *gemm_backends; i++) {
    if (lt_gemm_available(gemm_backends[i])) {
      lua_pushstring(L, gemm_backends[i]);
      lua_rawseti(L, -2, ++n);
    }
  }
  return 1;
}

static int l_convAlgorithm(lua_State *L) {
  lua_pushstring(L, lt_conv2d_algorithm());
  return 1;
}

static int l_setConvAlgorithm(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (lt_set_conv2d_algorithm(name) != 0)
    luaL_error(L, "setConvAlgorithm: unknown algorithm '%s' (expected 'auto' or 'im2col')", name);
  return 0;
}

void lunet_open_speed(lua_State *L) {
  static const luaL_Reg fns[] = {{"setFlushDenormals", l_setFlushDenormals},
                                 {"getFlushDenormals", l_getFlushDenormals},
                                 {"gemmBackend", l_gemmBackend},
                                 {"setGemmBackend", l_setGemmBackend},
                                 {"gemmBackends", l_gemmBackends},
                                 {"convAlgorithm", l_convAlgorithm},
                                 {"setConvAlgorithm", l_setConvAlgorithm},
                                 {"bench_sgemm", l_bench_sgemm},
                                 {"bench_read", l_bench_read},
                                 {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
