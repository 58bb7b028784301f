/* lua_lunet.h — what the binding files (lua_*.c, the only files that include
 * lua.h) share: checking and creating tensor userdata. */
#ifndef LUNET_LUA_LUNET_H
#define LUNET_LUA_LUNET_H

#include <stdio.h>

#include <lua.h>
#include <lauxlib.h>
#include "tensor.h"

#define LUNET_TENSOR_MT "lunet.Tensor"

/* Argument checks: raise "fname: argument #idx ..." errors naming the function. */
lt_tensor *lunet_checktensor(lua_State *L, int idx);              /* any dtype */
lt_tensor *lunet_checkfloat(lua_State *L, int idx, const char *fname); /* float32 */
lt_tensor *lunet_checkint(lua_State *L, int idx, const char *fname);   /* int32 */
lt_tensor *lunet_totensor(lua_State *L, int idx);                 /* NULL if not a tensor */
/* Raise unless t has exactly ndim dims: "fname: what must be 4-D (N,C,H,W), got 3-D (1,28,28)". */
void lunet_checkdim(lua_State *L, const lt_tensor *t, int ndim, const char *fname,
                    const char *what, const char *layout);
/* Raise unless t is contiguous. */
void lunet_checkcontig(lua_State *L, const lt_tensor *t, const char *fname, const char *what);
/* A kernel's input: a contiguous float tensor of rank ndim (the three checks above). */
lt_tensor *lunet_checkin(lua_State *L, int idx, const char *fname, const char *what, int ndim,
                         const char *layout);
/* The FILE* of an open Lua file handle (io.open's) at idx; raises naming fname otherwise. */
FILE *lunet_checkfile(lua_State *L, int idx, const char *fname);

/* Push a new contiguous tensor (contents zeroed) and return it. */
lt_tensor *lunet_newtensor(lua_State *L, lt_dtype dt, int ndim, const int64_t *size);
/* Make the tensor at idx contiguous with the given shape, keeping its storage when it
 * is large enough (contents then unspecified), else giving it a fresh zeroed storage.
 * This is how kernels reuse the caller's output and workspace buffers. */
lt_tensor *lunet_resize(lua_State *L, int idx, int ndim, const int64_t *size);

/* Registration: each binding file adds its functions to the table on top of the stack. */
void lunet_open_tensor(lua_State *L);
void lunet_open_nn(lua_State *L);
void lunet_open_optim(lua_State *L); /* lua_optim.c: fused optimizer updates */
void lunet_open_io(lua_State *L); /* lua_io.c: file formats and image operations */
void lunet_open_rnn(lua_State *L); /* lua_rnn.c: RNN, LSTM and GRU over whole sequences */
void lunet_open_sys(lua_State *L); /* lua_sys.c: fsync and file checksums for lunet.save */
void lunet_open_speed(lua_State *L); /* lua_speed.c: denormal flushing, the sgemm timer */

#endif
