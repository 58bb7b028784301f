/* lua_mpi.c — lunet.mpi, the binding of csrc/mpi/dist.c: a C module of its own
 * (build/lunet/mpi.so), built only when CMake finds MPI, so that lunet.core never
 * depends on MPI. Lua code uses it through lunet.distributed, which adds a world of
 * one for processes that were not started by mpirun. */
#include <limits.h>
#include <string.h>

#include "lua_lunet.h"
#include "dist.h"

/* Raise unless MPI is running: "fname: MPI is not initialized (call init() first)". */
static void check_running(lua_State *L, const char *fname) {
  ld_state s = ld_get_state();
  if (s == LD_UNINITIALIZED) luaL_error(L, "%s: MPI is not initialized (call init() first)", fname);
  if (s == LD_FINALIZED) luaL_error(L, "%s: MPI was already finalized", fname);
}

/* The elements of a contiguous float tensor and their count. Only float tensors pass,
 * so the ranks agree on the dtype whenever they all get past this check. */
static float *check_buffer(lua_State *L, int idx, const char *fname, int64_t *n) {
  lt_tensor *t = lunet_checkfloat(L, idx, fname);
  lunet_checkcontig(L, t, fname, "tensor");
  *n = lt_numel(t);
  return lt_fdata(t);
}

/* Raise, on every rank, unless every rank passed n elements: a rank with a smaller
 * buffer would be written past its end (broadcast) or the reduction would mismatch
 * (allreduce). Collective: all ranks call it before moving data. */
static void agree_count(lua_State *L, int64_t n, const char *fname) {
  int64_t lo, hi;
  ld_count_range(n, &lo, &hi);
  if (lo != hi)
    luaL_error(L, "%s: the ranks' tensors differ in element count (from %I to %I; this rank %I): "
               "every rank must pass a tensor of the same size", fname, (lua_Integer)lo, (lua_Integer)hi,
               (lua_Integer)n);
}

static int check_root(lua_State *L, int idx, const char *fname) {
  lua_Integer root = luaL_optinteger(L, idx, 0);
  if (root < 0 || root >= ld_size())
    luaL_error(L, "%s: root must be a rank in 0..%d, got %I", fname, ld_size() - 1, (lua_Integer)root);
  return (int)root;
}

static int l_init(lua_State *L) {
  if (ld_init() != 0) luaL_error(L, "init: MPI was finalized and cannot be started again");
  lua_pushinteger(L, ld_rank());
  lua_pushinteger(L, ld_size());
  return 2;
}

static int l_state(lua_State *L) {
  static const char *const names[] = {"uninitialized", "running", "finalized"};
  lua_pushstring(L, names[ld_get_state()]);
  return 1;
}

static int l_finalize(lua_State *L) {
  (void)L;
  ld_finalize();
  return 0;
}

static int l_abort(lua_State *L) {
  lua_Integer code = luaL_optinteger(L, 1, 1);
  check_running(L, "abort");
  ld_abort(code >= 0 && code <= 255 ? (int)code : 1);
  return 0;
}

static int l_rank(lua_State *L) {
  check_running(L, "rank");
  lua_pushinteger(L, ld_rank());
  return 1;
}

static int l_size(lua_State *L) {
  check_running(L, "size");
  lua_pushinteger(L, ld_size());
  return 1;
}

static int l_local(lua_State *L) {
  check_running(L, "localRank");
  lua_pushinteger(L, ld_local_rank());
  lua_pushinteger(L, ld_local_size());
  return 2;
}

static int l_host(lua_State *L) {
  char name[256];
  check_running(L, "host");
  ld_host(name, (int)sizeof name);
  lua_pushstring(L, name);
  return 1;
}

static int l_barrier(lua_State *L) {
  check_running(L, "barrier");
  ld_barrier();
  return 0;
}

/* allreduce(t, "sum"|"mean"): in place, on every rank. */
static int l_allreduce(lua_State *L) {
  static const char *const ops[] = {"sum", "mean", NULL};
  int64_t n;
  float *x = check_buffer(L, 1, "allreduce", &n);
  int op = luaL_checkoption(L, 2, "sum", ops);
  check_running(L, "allreduce");
  agree_count(L, n, "allreduce");
  ld_allreduce(x, n, op == 1);
  lua_settop(L, 1);
  return 1;
}

/* broadcast(t, root): every rank's t takes root's values. */
static int l_broadcast(lua_State *L) {
  int64_t n;
  float *x = check_buffer(L, 1, "broadcast", &n);
  check_running(L, "broadcast");
  int root = check_root(L, 2, "broadcast");
  agree_count(L, n, "broadcast");
  ld_broadcast(x, n, root);
  lua_settop(L, 1);
  return 1;
}

/* broadcastBytes(bytes, root): every rank gets root's string (the others' argument
 * is ignored; pass any string). */
static int l_broadcast_bytes(lua_State *L) {
  size_t len;
  const char *buf = luaL_checklstring(L, 1, &len);
  check_running(L, "broadcastBytes");
  int root = check_root(L, 2, "broadcastBytes");
  if (ld_rank() == root && len > INT_MAX)
    luaL_error(L, "broadcastBytes: message of %I bytes exceeds INT_MAX", (lua_Integer)len);
  int rootLen = ld_broadcast_length((int)len, root);
  char *out = lua_newuserdatauv(L, rootLen > 0 ? (size_t)rootLen : 1, 0);
  if (ld_rank() == root) memcpy(out, buf, len);
  ld_broadcast_bytes(out, rootLen, root);
  lua_pushlstring(L, out, (size_t)rootLen);
  return 1;
}

/* gather(bytes, root): root gets a list of every rank's string (index rank + 1),
 * the others nil. Lengths go first, so every rank sees an oversized total and
 * raises the same error before any bytes move. */
static int l_gather(lua_State *L) {
  size_t len;
  const char *buf = luaL_checklstring(L, 1, &len);
  check_running(L, "gather");
  int root = check_root(L, 2, "gather");
  if (len > INT_MAX) luaL_error(L, "gather: message of %I bytes exceeds INT_MAX", (lua_Integer)len);
  int size = ld_size();
  int *lens = lua_newuserdatauv(L, 2 * (size_t)size * sizeof(int), 0);
  int *displs = lens + size;
  ld_gather_lengths((int)len, lens);
  int64_t total = 0;
  for (int r = 0; r < size; r++) {
    displs[r] = (int)total;
    total += lens[r];
    if (total > INT_MAX) luaL_error(L, "gather: the messages total more than INT_MAX bytes");
  }
  if (ld_rank() != root) {
    ld_gather_bytes(buf, (int)len, NULL, NULL, NULL, root);
    return 0;
  }
  char *out = lua_newuserdatauv(L, total > 0 ? (size_t)total : 1, 0);
  ld_gather_bytes(buf, (int)len, lens, displs, out, root);
  lua_createtable(L, size, 0);
  for (int r = 0; r < size; r++) {
    lua_pushlstring(L, out + displs[r], (size_t)lens[r]);
    lua_rawseti(L, -2, r + 1);
  }
  return 1;
}

LUNET_EXPORT int luaopen_lunet_mpi(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"init", l_init}, {"state", l_state}, {"finalize", l_finalize}, {"abort", l_abort},
    {"rank", l_rank}, {"size", l_size}, {"localRank", l_local}, {"host", l_host},
    {"barrier", l_barrier}, {"allreduce", l_allreduce}, {"broadcast", l_broadcast}, {"broadcastBytes", l_broadcast_bytes},
    {"gather", l_gather}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
