/* lua_lunet.h — the binding layer: lunet's own lauxlib.
 *
 * lunet is two layers with one seam. The kernels (csrc/kernels/) are plain C over
 * pointers, sizes and lt_tensor views; they never see Lua, and the build compiles them
 * without Lua's headers. The binding (csrc/lua/, and csrc/mpi/lua_mpi.c) is the only
 * code that includes lua.h: each binding function checks its arguments with the helpers
 * below, raising errors that name the function and the argument
 * ("conv2d: input must be 4-D (N,C,H,W), got 3-D (1,28,28)"), resizes the caller's
 * output tensors, and only then hands raw pointers to a kernel. The helpers live in
 * auxlib.c, a static library that lunet.core and lunet.mpi both link. */
#ifndef LUNET_LUA_LUNET_H
#define LUNET_LUA_LUNET_H

#include <stdio.h>

#include <lua.h>
#include <lauxlib.h>
#include "tensor.h"

#define LUNET_TENSOR_MT "lunet.Tensor"
#define LUNET_SIZE_MT "lunet.Size"
/* Largest element count lunet allocates: keeps byte counts far from overflow. */
#define LUNET_MAX_NUMEL ((int64_t)1 << 40)

/* ---- tensors: creation, views, resizing ---- */

/* Push a new contiguous tensor and return it; contents zeroed (newtensor) or unspecified
 * (newresult: for results the caller writes in full). Sizes are checked and their
 * product overflow-checked; errors name fname. */
lt_tensor *lunet_newtensor(lua_State *L, lt_dtype dt, int ndim, const int64_t *size, const char *fname);
lt_tensor *lunet_newresult(lua_State *L, lt_dtype dt, int ndim, const int64_t *size, const char *fname);
/* Push a plain userdata of `bytes` bytes (no metatable) and return its block, or return
 * NULL with nothing pushed when memory runs out (Lua's own error would not name the
 * caller): the collector sees every byte of what lives in it. */
void *lunet_newblock(lua_State *L, size_t bytes);
/* Push a tensor with the given view onto the storage of the tensor at idx. */
lt_tensor *lunet_pushview(lua_State *L, int idx, const lt_tensor *view);
/* The output (or workspace) at idx, named what (may be NULL) in errors that start with
 * fname, made contiguous with the given shape. A tensor that already is stays where it
 * points, even when it is a view, and keeps its contents. Otherwise only a tensor made
 * with a storage of its own (by a constructor or an earlier resize) is resized: it keeps
 * its storage when that is large enough (contents then unspecified), else gets a fresh
 * zeroed one. A view of another shape is refused rather than re-pointed at offset 0,
 * where it would overwrite elements it does not cover. Last, the output must not overlap
 * any other tensor argument (lunet_checknooverlap). This is how kernels reuse the
 * caller's output and workspace buffers. */
lt_tensor *lunet_resize(lua_State *L, int idx, int ndim, const int64_t *size, const char *fname,
                        const char *what);
lt_tensor *lunet_resize_like(lua_State *L, int idx, const lt_tensor *like, const char *fname, const char *what);
/* Raise unless the tensor at idx, which a kernel writes while it reads the others,
 * overlaps none of the other tensors on the stack (lt_overlap). */
void lunet_checknooverlap(lua_State *L, int idx, const char *fname, const char *what);
/* Max-pool switches hold flat indices into (H,W) input planes, and a plane of another
 * width reads them as other pixels: maxpool2d_forward records (H,W) on its switches,
 * the backward and unpool compare. getplane returns 0 (and zeros) when none was recorded
 * (switches made by hand, or a view of them); any resize forgets the record. */
void lunet_setplane(lua_State *L, int idx, int64_t h, int64_t w);
int lunet_getplane(lua_State *L, int idx, int64_t *hw);
/* Create the tensor and storage metatables (__gc and __close release the storage);
 * leaves the tensor metatable on the stack. */
void lunet_newmetatables(lua_State *L);
const char *lunet_dtypename(lt_dtype dt); /* "float", "int" or "double" */

/* ---- printing (print.c) ---- */

/* __tostring of a tensor: its elements in one common format, then "[lunet float tensor of size (2,3)]". */
int lunet_tostring(lua_State *L);
/* Push a size object, what t:size() returns: a list of the sizes that prints as "(2,3)",
 * compares with == entry by entry, and goes wherever a list of sizes does. */
void lunet_pushsize(lua_State *L, int ndim, const int64_t *size);

/* ---- argument checks: each raises "fname: ..." naming the argument ---- */

lt_tensor *lunet_checktensor(lua_State *L, int idx);                   /* any dtype */
/* A tensor of dtype dt: "fname: argument #2 must be a float tensor, got an int tensor".
 * Refusing a double tensor, the message says the kernel is float32 only. */
lt_tensor *lunet_checkdtype(lua_State *L, int idx, const char *fname, lt_dtype dt);
lt_tensor *lunet_checkfloat(lua_State *L, int idx, const char *fname); /* float32 */
lt_tensor *lunet_checkint(lua_State *L, int idx, const char *fname);   /* int32 */
lt_tensor *lunet_checkreal(lua_State *L, int idx, const char *fname);  /* float32 or float64 */
lt_tensor *lunet_totensor(lua_State *L, int idx);                      /* NULL if not a tensor */
/* Raise unless t has exactly ndim dims: "fname: what must be 4-D (N,C,H,W), got 3-D (1,28,28)". */
void lunet_checkdim(lua_State *L, const lt_tensor *t, int ndim, const char *fname, const char *what,
                    const char *layout);
/* Raise unless t (of checked rank) has the sizes want[0..ndim):
 * "fname: what must be (N,C,H,W) = (1,2,4,4), got (1,2,2,2)". */
void lunet_checkshape(lua_State *L, const lt_tensor *t, const char *fname, const char *what,
                      const char *layout, const int64_t *want);
/* Raise unless t is contiguous. */
void lunet_checkcontig(lua_State *L, const lt_tensor *t, const char *fname, const char *what);
/* A kernel's input: a contiguous float tensor of rank ndim (the three checks above). */
lt_tensor *lunet_checkin(lua_State *L, int idx, const char *fname, const char *what, int ndim,
                         const char *layout);
/* A kernel's output or workspace: a tensor of dtype dt that is not also another argument
 * (resizing it would change that argument under the kernel). */
void lunet_checkout(lua_State *L, int idx, const char *fname, const char *what, lt_dtype dt);
/* The FILE* of an open Lua file handle (io.open's) at idx. */
FILE *lunet_checkfile(lua_State *L, int idx, const char *fname);
/* An integer argument in lo..hi (a float with an integer value counts):
 * "fname: what must be in lo..hi, got v", or "must be >= lo" when hi is LUA_MAXINTEGER. */
lua_Integer lunet_checkinteger(lua_State *L, int idx, const char *fname, const char *what, lua_Integer lo,
                               lua_Integer hi);
/* A dimension argument of t: 1-based, negative counts from the end. Returns it 0-based. */
int lunet_checkdimarg(lua_State *L, int arg, const lt_tensor *t, const char *fname);
/* Sizes given as integers from arg on, or as one table, into size; returns their count.
 * Stops at the first non-number; *next (when not NULL) gets the argument after them. */
int lunet_checksizes(lua_State *L, int arg, int64_t *size, const char *fname, int *next);
/* A dtype option at arg: "float" (the default, also for nil), "double" or "int". */
lt_dtype lunet_optdtype(lua_State *L, int arg, const char *fname);

/* The modules' entry points: the only symbols lunet.core and lunet.mpi export (the build
 * hides every other one, so neither module's copy of the kernels can clash with another
 * library's symbols). */
#define LUNET_EXPORT __attribute__((visibility("default")))

/* ---- registration: each binding file adds its functions to the table on top of the stack ---- */
void lunet_open_tensor(lua_State *L); /* tensor.c: the Tensor type; first, it makes the metatable */
void lunet_open_random(lua_State *L); /* random.c: generator, random constructors and fills */
void lunet_open_nn(lua_State *L);     /* nn.c: the CNN kernels */
void lunet_open_optim(lua_State *L);  /* optim.c: fused optimizer updates */
void lunet_open_io(lua_State *L);     /* io.c: file formats and image operations */
void lunet_open_rnn(lua_State *L);    /* rnn.c: RNN, LSTM and GRU over whole sequences */
void lunet_open_sys(lua_State *L);    /* sys.c: fsync and file checksums for lunet.save */
void lunet_open_speed(lua_State *L);  /* speed.c: denormal flushing, the sgemm timer */
void lunet_open_augment(lua_State *L); /* augment.c: batched crop and mirror (data.transforms) */
void lunet_open_quant(lua_State *L);   /* quant.c: bf16 and int8 weights for inference */

#endif
