/* lua_rnn.c — the binding of the recurrent kernels (rnn.h) as functions of lunet.core:
 *
 *   <cell>_forward(x, Wx, Wh, bx, bh, h0, c0, y, cN, state)          -> y [, cN]
 *   <cell>_backward_data(x, Wx, Wh, state, gradOutput, gradInput, gradH0, gradC0, scratch)
 *   <cell>_backward_weights(x, state, scratch, gradWx, gradWh, gradBx, gradBh [, scale])
 *
 * for <cell> = rnn, lstm, gru; one positional layout for the three, the arguments a cell
 * has no use for being nil: bh and gradBh (the GRU's hidden-side bias) and c0, cN,
 * gradC0 (the LSTM's cell state). h0 and c0 may be nil (zeros); gradInput may be nil
 * (not computed). x (N,T,D), Wx (G*H,D), Wh (G*H,H), biases (G*H), states (N,H),
 * y and gradOutput (N,T,H); shapes and layouts are documented in rnn.h.
 *
 * THNN's convention as in lua_nn.c: the caller owns the output, state and scratch
 * tensors, which are resized here (their storage is reused when large enough); every
 * argument is checked before any is resized, and data pointers are taken after the
 * resizes. The backward functions need the state the forward call left and check
 * that its size matches the shapes they are given. */
#include <stdio.h>

#include "lua_lunet.h"
#include "rnn.h"

static const char *const cell_names[] = {"rnn", "lstm", "gru"};

/* "lstm_forward" and so on, for error messages. */
typedef struct {
  lt_rnn_cell cell;
  char fname[32];
} rnn_call;

static rnn_call call_of(lua_State *L, const char *suffix) {
  rnn_call c;
  c.cell = (lt_rnn_cell)lua_tointeger(L, lua_upvalueindex(1));
  snprintf(c.fname, sizeof c.fname, "%s_%s", cell_names[c.cell], suffix);
  return c;
}


/* Raise unless t has the given shape (ndim sizes); its rank is already checked. */
static void check_shape(lua_State *L, const lt_tensor *t, const char *fname, const char *what,
                        const char *layout, int64_t a, int64_t b, int64_t c) {
  const int64_t want[3] = {a, b, c};
  for (int i = 0; i < t->ndim; i++) {
    if (t->size[i] != want[i]) {
      char got[160], exp[96];
      if (t->ndim == 1) snprintf(exp, sizeof exp, "(%lld)", (long long)a);
      else if (t->ndim == 2) snprintf(exp, sizeof exp, "(%lld,%lld)", (long long)a, (long long)b);
      else snprintf(exp, sizeof exp, "(%lld,%lld,%lld)", (long long)a, (long long)b, (long long)c);
      luaL_error(L, "%s: %s must be %s = %s, got %s", fname, what, layout, exp,
                 lt_shape_str(t, got, sizeof got));
    }
  }
}

/* An optional tensor argument of a given shape: NULL when nil. */
static lt_tensor *check_opt(lua_State *L, int idx, const char *fname, const char *what, int ndim,
                            const char *layout, int64_t a, int64_t b) {
  if (lua_isnoneornil(L, idx)) return NULL;
  lt_tensor *t = lunet_checkin(L, idx, fname, what, ndim, layout);
  check_shape(L, t, fname, what, layout, a, b, 0);
  return t;
}

/* Raise unless argument idx is nil: this cell has no use for it. */
static void check_nil(lua_State *L, int idx, const char *fname, const char *what) {
  if (!lua_isnoneornil(L, idx))
    luaL_error(L, "%s: argument #%d (%s) must be nil for this cell, got %s", fname, idx, what,
               lunet_totensor(L, idx) ? "a tensor" : luaL_typename(L, idx));
}

/* An output or workspace argument: a float tensor that is not also another argument
 * (resizing it would change that argument under the kernel). */
static void check_out(lua_State *L, int idx, const char *fname, const char *what) {
  lunet_checkfloat(L, idx, fname);
  for (int i = 1, top = lua_gettop(L); i <= top; i++) {
    if (i != idx && lua_rawequal(L, i, idx))
      luaL_error(L, "%s: argument #%d (%s, an output) is the same tensor as argument #%d", fname,
                 idx, what, i);
  }
}

/* The dimensions from x (N,T,D) and a weight (G*H, K) whose first size gives H. */
static lt_rnn_dims check_dims(lua_State *L, const rnn_call *c, const lt_tensor *x,
                              const lt_tensor *w, const char *wname) {
  const int G = lt_rnn_gates(c->cell);
  lt_rnn_dims d = {c->cell, x->size[0], x->size[1], x->size[2], w->size[0] / G};
  char got[160];
  if (x->size[0] < 1 || x->size[1] < 1 || x->size[2] < 1)
    luaL_error(L, "%s: input must have N, T, D >= 1, got %s", c->fname, lt_shape_str(x, got, sizeof got));
  if (w->size[0] < G || w->size[0] % G != 0)
    luaL_error(L, "%s: %s must have %d*H rows (the %s gates stacked), got %s", c->fname, wname, G,
               cell_names[c->cell], lt_shape_str(w, got, sizeof got));
  if (lt_rnn_check_dims(&d) != 0)
    luaL_error(L, "%s: sizes N=%I, T=%I, D=%I, H=%I are too large for the BLAS interface", c->fname,
               (lua_Integer)d.N, (lua_Integer)d.T, (lua_Integer)d.D, (lua_Integer)d.H);
  return d;
}

/* Raise unless the state (or scratch) tensor has the length these shapes need; `from`
 * names the call that fills it. */
static void check_len(lua_State *L, const rnn_call *c, const lt_tensor *t, int64_t want,
                      const char *what, const char *from) {
  if (t->size[0] != want) {
    char got[160];
    luaL_error(L, "%s: %s must be the (%I) floats that %s_%s left for these shapes, got %s", c->fname,
               what, (lua_Integer)want, cell_names[c->cell], from, lt_shape_str(t, got, sizeof got));
  }
}

static lt_tensor *resize(lua_State *L, int idx, int ndim, int64_t a, int64_t b, int64_t c3) {
  const int64_t size[3] = {a, b, c3};
  return lunet_resize(L, idx, ndim, size);
}

static const float *fdata_or_null(const lt_tensor *t) { return t ? lt_fdata(t) : NULL; }

static int l_forward(lua_State *L) {
  const rnn_call c = call_of(L, "forward");
  const int lstm = c.cell == LT_LSTM, gru = c.cell == LT_GRU;
  lt_tensor *x = lunet_checkin(L, 1, c.fname, "input", 3, "(N,T,D)");
  lt_tensor *wx = lunet_checkin(L, 2, c.fname, "Wx", 2, "(G*H,D)");
  const lt_rnn_dims d = check_dims(L, &c, x, wx, "Wx");
  const int64_t GH = wx->size[0];
  check_shape(L, wx, c.fname, "Wx", "(G*H,D)", GH, d.D, 0);
  lt_tensor *wh = lunet_checkin(L, 3, c.fname, "Wh", 2, "(G*H,H)");
  check_shape(L, wh, c.fname, "Wh", "(G*H,H)", GH, d.H, 0);
  lt_tensor *bx = lunet_checkin(L, 4, c.fname, "bx", 1, "(G*H)");
  check_shape(L, bx, c.fname, "bx", "(G*H)", GH, 0, 0);
  lt_tensor *bh = NULL;
  if (gru) {
    bh = lunet_checkin(L, 5, c.fname, "bh", 1, "(G*H)");
    check_shape(L, bh, c.fname, "bh", "(G*H)", GH, 0, 0);
  } else {
    check_nil(L, 5, c.fname, "bh");
  }
  lt_tensor *h0 = check_opt(L, 6, c.fname, "h0", 2, "(N,H)", d.N, d.H);
  lt_tensor *c0 = NULL;
  if (lstm) {
    c0 = check_opt(L, 7, c.fname, "c0", 2, "(N,H)", d.N, d.H);
    check_out(L, 9, c.fname, "cN");
  } else {
    check_nil(L, 7, c.fname, "c0");
    check_nil(L, 9, c.fname, "cN");
  }
  check_out(L, 8, c.fname, "y");
  check_out(L, 10, c.fname, "state");

  lt_tensor *y = resize(L, 8, 3, d.N, d.T, d.H);
  lt_tensor *cN = lstm ? resize(L, 9, 2, d.N, d.H, 0) : NULL;
  lt_tensor *state = resize(L, 10, 1, lt_rnn_state_size(&d), 0, 0);
  lt_rnn_forward(&d, lt_fdata(x), lt_fdata(wx), lt_fdata(wh), lt_fdata(bx), fdata_or_null(bh),
                 fdata_or_null(h0), fdata_or_null(c0), lt_fdata(y), cN ? lt_fdata(cN) : NULL,
                 lt_fdata(state));
  lua_pushvalue(L, 8);
  if (!lstm) return 1;
  lua_pushvalue(L, 9);
  return 2;
}

static int l_backward_data(lua_State *L) {
  const rnn_call c = call_of(L, "backward_data");
  const int lstm = c.cell == LT_LSTM;
  lt_tensor *x = lunet_checkin(L, 1, c.fname, "input", 3, "(N,T,D)");
  lt_tensor *wx = lunet_checkin(L, 2, c.fname, "Wx", 2, "(G*H,D)");
  const lt_rnn_dims d = check_dims(L, &c, x, wx, "Wx");
  const int64_t GH = wx->size[0];
  check_shape(L, wx, c.fname, "Wx", "(G*H,D)", GH, d.D, 0);
  lt_tensor *wh = lunet_checkin(L, 3, c.fname, "Wh", 2, "(G*H,H)");
  check_shape(L, wh, c.fname, "Wh", "(G*H,H)", GH, d.H, 0);
  lt_tensor *state = lunet_checkin(L, 4, c.fname, "state", 1, "(S)");
  check_len(L, &c, state, lt_rnn_state_size(&d), "state", "forward");
  lt_tensor *dy = lunet_checkin(L, 5, c.fname, "gradOutput", 3, "(N,T,H)");
  check_shape(L, dy, c.fname, "gradOutput", "(N,T,H)", d.N, d.T, d.H);
  const int want_dx = !lua_isnoneornil(L, 6);
  if (want_dx) check_out(L, 6, c.fname, "gradInput");
  check_out(L, 7, c.fname, "gradH0");
  if (lstm) check_out(L, 8, c.fname, "gradC0");
  else check_nil(L, 8, c.fname, "gradC0");
  check_out(L, 9, c.fname, "scratch");

  lt_tensor *dx = want_dx ? resize(L, 6, 3, d.N, d.T, d.D) : NULL;
  lt_tensor *dh0 = resize(L, 7, 2, d.N, d.H, 0);
  lt_tensor *dc0 = lstm ? resize(L, 8, 2, d.N, d.H, 0) : NULL;
  lt_tensor *scratch = resize(L, 9, 1, lt_rnn_scratch_size(&d), 0, 0);
  lt_rnn_backward_data(&d, lt_fdata(wx), lt_fdata(wh), lt_fdata(state), lt_fdata(dy),
                       dx ? lt_fdata(dx) : NULL, lt_fdata(dh0), dc0 ? lt_fdata(dc0) : NULL,
                       lt_fdata(scratch));
  lua_pushvalue(L, 6);
  return 1;
}

static int l_backward_weights(lua_State *L) {
  const rnn_call c = call_of(L, "backward_weights");
  const int gru = c.cell == LT_GRU;
  lt_tensor *x = lunet_checkin(L, 1, c.fname, "input", 3, "(N,T,D)");
  lt_tensor *dwh = lunet_checkin(L, 5, c.fname, "gradWh", 2, "(G*H,H)");
  const lt_rnn_dims d = check_dims(L, &c, x, dwh, "gradWh");
  const int64_t GH = dwh->size[0];
  check_shape(L, dwh, c.fname, "gradWh", "(G*H,H)", GH, d.H, 0);
  lt_tensor *state = lunet_checkin(L, 2, c.fname, "state", 1, "(S)");
  check_len(L, &c, state, lt_rnn_state_size(&d), "state", "forward");
  lt_tensor *scratch = lunet_checkin(L, 3, c.fname, "scratch", 1, "(S)");
  check_len(L, &c, scratch, lt_rnn_scratch_size(&d), "scratch", "backward_data");
  lt_tensor *dwx = lunet_checkin(L, 4, c.fname, "gradWx", 2, "(G*H,D)");
  check_shape(L, dwx, c.fname, "gradWx", "(G*H,D)", GH, d.D, 0);
  lt_tensor *dbx = lunet_checkin(L, 6, c.fname, "gradBx", 1, "(G*H)");
  check_shape(L, dbx, c.fname, "gradBx", "(G*H)", GH, 0, 0);
  lt_tensor *dbh = NULL;
  if (gru) {
    dbh = lunet_checkin(L, 7, c.fname, "gradBh", 1, "(G*H)");
    check_shape(L, dbh, c.fname, "gradBh", "(G*H)", GH, 0, 0);
  } else {
    check_nil(L, 7, c.fname, "gradBh");
  }
  const float scale = (float)luaL_optnumber(L, 8, 1.0);
  lt_rnn_backward_weights(&d, lt_fdata(x), lt_fdata(state), lt_fdata(scratch), scale, lt_fdata(dwx),
                          lt_fdata(dwh), lt_fdata(dbx), dbh ? lt_fdata(dbh) : NULL);
  return 0;
}

void lunet_open_rnn(lua_State *L) {
  static const struct {
    const char *suffix;
    lua_CFunction fn;
  } fns[] = {{"forward", l_forward}, {"backward_data", l_backward_data}, {"backward_weights", l_backward_weights}};
  for (int cell = LT_RNN; cell <= LT_GRU; cell++) {
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
      lua_pushfstring(L, "%s_%s", cell_names[cell], fns[i].suffix);
      lua_pushinteger(L, cell);
      lua_pushcclosure(L, fns[i].fn, 1);
      lua_settable(L, -3);
    }
  }
}
