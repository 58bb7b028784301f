/* sys.c — what lunet.save, lunet.load and fileutil.writeAtomic need and Lua's io
 * library lacks: opening only regular files (io.open blocks on a FIFO), creating a
 * temporary file exclusively (io.open cannot say O_EXCL), fsync, so that a new
 * checkpoint is on the disk before it replaces the old one, and a CRC-32 of a file's
 * bytes, the container's checksum. All return nil and a message on failure, as Lua's
 * io functions do. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "lua_lunet.h"
#include "lunet_io.h"

static int stream_close(lua_State *L) {
  luaL_Stream *s = luaL_checkudata(L, 1, LUA_FILEHANDLE);
  return luaL_fileresult(L, fclose(s->f) == 0, NULL);
}

/* Push descriptor fd as a Lua file (io library's handle, closed by f:close() or the
 * collector), or nil and a message. */
static int push_stream(lua_State *L, int fd, const char *mode) {
  luaL_Stream *s = lua_newuserdatauv(L, sizeof *s, 0);
  s->closef = NULL; /* a closed file until fdopen succeeds */
  luaL_setmetatable(L, LUA_FILEHANDLE);
  if (!(s->f = fdopen(fd, mode))) {
    int saved = errno;
    close(fd);
    errno = saved;
    return luaL_fileresult(L, 0, NULL);
  }
  s->closef = stream_close;
  return 1;
}

/* open_read(path) -> a file open for reading, or nil and a message: a path that is not
 * a regular file (a FIFO, a folder, a device) is refused without blocking. */
static int l_open_read(lua_State *L) {
  char err[512];
  int fd = lunet_open_regular(luaL_checkstring(L, 1), 0, err, sizeof err);
  if (fd < 0) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  return push_stream(L, fd, "rb");
}

/* open_temp(path) -> a new file beside path open for reading and writing, and its name;
 * or nil and a message (lunet_open_temp: exclusive, never through a symlink). */
static int l_open_temp(lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  char err[512];
  char *name = lua_newuserdatauv(L, len + 32, 0); /* len < 2^63 (a Lua string): no overflow */
  int fd = lunet_open_temp(path, name, len + 32, err, sizeof err);
  if (fd < 0) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  int n = push_stream(L, fd, "w+b");
  if (n != 1) {
    remove(name);
    return n;
  }
  lua_pushstring(L, name);
  return 2;
}

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
  static const luaL_Reg fns[] = {{"fsync", l_fsync}, {"file_crc32", l_file_crc32}, {"open_read", l_open_read},
                                 {"open_temp", l_open_temp}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
