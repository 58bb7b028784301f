/* save_fuzz.c — libFuzzer target for lunet.load, the reader of lunet.save's
 * container and of checkpoints. The parser is Lua (lua/lunet/serialize.lua)
 * over the C tensor reader, so this target embeds Lua: one lua_State with the
 * lunet core linked in (package.preload["lunet.core"]) and lua/ on
 * package.path, and calls lunet.load under pcall on each input. Any Lua error
 * is a correct answer to a bad file; a crash or a sanitizer report is a bug.
 *
 * The Lua interpreter is not instrumented, so libFuzzer would see only the C
 * code's coverage. A line hook feeds it the Lua side too: each pair of
 * consecutive (source, line) events bumps one of libFuzzer's extra counters.
 *
 * The container ends with a CRC-32 of everything before it, so the custom
 * mutator recomputes that trailer after mutating (most of the time): the
 * fuzzer then reaches the value parser behind the checksum, and the crash
 * files it saves load as they are. */
#include <string.h>
#include <zlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "fuzz.h"

int luaopen_lunet_core(lua_State *L);

static lua_State *L;
static int load_ref; /* registry reference to lunet.load */

#define LUA_EDGES 8192
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[LUA_EDGES];

static void line_hook(lua_State *l, lua_Debug *ar) {
  static uintptr_t prev;
  lua_getinfo(l, "S", ar);
  uintptr_t here = (uintptr_t)ar->source * 31u + (uintptr_t)ar->currentline * 2654435761u;
  lua_edges[(here ^ prev) % LUA_EDGES]++;
  prev = here >> 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setenv("LUNET_NUM_THREADS", "1", 0);
  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_lunet_core);
  lua_setfield(L, -2, "lunet.core");
  lua_pop(L, 1);
  if (luaL_dostring(L, "package.path = '" LUNET_SOURCE_DIR "/lua/?.lua;" LUNET_SOURCE_DIR
                       "/lua/?/init.lua;' .. package.path\n"
                       "return require('lunet').load") != LUA_OK) {
    fprintf(stderr, "save_fuzz: %s\n", lua_tostring(L, -1));
    abort();
  }
  load_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_sethook(L, line_hook, LUA_MASKLINE, 0);
  return 0;
}

static const char magic[6] = {'L', 'U', 'N', 'E', 'T', '\0'};

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  if (seed % 8 != 0 && size >= sizeof magic + 4 && memcmp(data, magic, sizeof magic) == 0) {
    uint32_t crc = (uint32_t)crc32(0L, data, (uInt)(size - 4));
    for (int i = 0; i < 4; i++) data[size - 4 + i] = (uint8_t)(crc >> 8 * i);
  }
  return size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size);
  lua_rawgeti(L, LUA_REGISTRYINDEX, load_ref);
  lua_pushstring(L, path);
  lua_pcall(L, 1, 1, 0);
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
