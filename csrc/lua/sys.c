/* sys.c — what lunet.save needs and Lua's io library lacks: fsync, so that a new
 * checkpoint is on the disk before it replaces the old one, and a CRC-32 of a file's
 * bytes, the container's checksum. Both return nil and a message on failure, as Lua's
 * io functions do. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "lua_lunet.h"

/* fsync(file) flushes an open file's buffer and then the kernel's copy to the disk;
 * fsync(path) syncs a file or a folder by name (a folder, to make a rename in it
 * durable). -> true, or nil and a message */
static int l_fsync(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING) {
    const char *path = lua_tostring(L, 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return luaL_fileresult(L, 0, path);
    int ok = fsync(fd) == 0, saved = errno;
    close(fd);
    errno = saved;
    return luaL_fileresult(L, ok, path);
  }
  FILE *f = lunet_checkfile(L, 1, "fsync");
  return luaL_fileresult(L, fflush(f) == 0 && fsync(fileno(f)) == 0, NULL);
}

/* file_crc32(file, n) -> zlib's CRC-32 of the next n bytes of an open file (which it
 * reads), or nil and a message when fewer remain. */
static int l_file_crc32(lua_State *L) {
  FILE *f = lunet_checkfile(L, 1, "file_crc32");
  lua_Integer n = luaL_checkinteger(L, 2);
  if (n < 0) return luaL_error(L, "file_crc32: byte count must be >= 0, got %I", n);
  unsigned char buf[1 << 16];
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    size_t want = n < (lua_Integer)sizeof buf ? (size_t)n : sizeof buf;
    size_t got = fread(buf, 1, want, f);
    crc = crc32(crc, buf, (uInt)got);
    n -= (lua_Integer)got;
    if (got < want) {
      luaL_pushfail(L);
      lua_pushstring(L, ferror(f) ? strerror(errno) : "file shorter than expected");
      return 2;
    }
  }
  lua_pushinteger(L, (lua_Integer)crc);
  return 1;
}

void lunet_open_sys(lua_State *L) {
  static const luaL_Reg fns[] = {{"fsync", l_fsync}, {"file_crc32", l_file_crc32}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
