/* rnn.c — the binding of the recurrent kernels (rnn.h) as functions of lunet.core:
 *
 *   <cell>_forward(x, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0, y, cN, state) -> y [, cN]
 *   <cell>_backward_input(x, weight_ih, weight_hh, state, grad_output, grad_input, grad_h0,
 *                         grad_c0, scratch) -> grad_input
 *   <cell>_backward_params(x, state, scratch, grad_weight_ih, grad_weight_hh, grad_bias_ih,
 *                          grad_bias_hh [, scale])
 *
 * for <cell> = rnn, lstm, gru; one positional layout for the three, the arguments a cell
 * has no use for being nil: bias_hh and grad_bias_hh (the GRU's hidden-side bias) and
 * c0, cN, grad_c0 (the LSTM's cell state). h0 and c0 may be nil (zeros); grad_input may
 * be nil (not computed). x (N,T,D), weight_ih (G*H,D), weight_hh (G*H,H), biases (G*H),
 * states (N,H), y and grad_output (N,T,H); shapes and layouts are documented in rnn.h.
 *
 * THNN's convention as in nn.c: the caller owns the output, state and scratch
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

/* An optional tensor argument of a given shape: NULL when nil. */
static lt_tensor *check_opt(lua_State *L, int idx, const char *fname, const char *what, int ndim,
                            const char *layout, int64_t a, int64_t b) {
  if (lua_isnoneornil(L, idx)) return NULL;
  lt_tensor *t = lunet_checkin(L, idx, fname, what, ndim, layout);
  lunet_checkshape(L, t, fname, what, layout, (int64_t[]){a, b});
  return t;
}

/* Raise unless argument idx is nil: this cell has no use for it. */
static void check_nil(lua_State *L, int idx, const char *fname, const char *what) {
  if (!lua_isnoneornil(L, idx))
    luaL_error(L, "%s: argument #%d (%s) must be nil for this cell, got %s", fname, idx, what,
               lunet_totensor(L, idx) ? "a tensor" : luaL_typename(L, idx));
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

static float *fdata_or_null(const lt_tensor *t) { return t ? lt_fdata(t) : NULL; }

static int l_forward(lua_State *L) {
  const rnn_call c = call_of(L, "forward");
  const int lstm = c.cell == LT_LSTM, gru = c.cell == LT_GRU;
  lt_tensor *x = lunet_checkin(L, 1, c.fname, "input", 3, "(N,T,D)");
  lt_tensor *weight_ih = lunet_checkin(L, 2, c.fname, "weight_ih", 2, "(G*H,D)");
  const lt_rnn_dims d = check_dims(L, &c, x, weight_ih, "weight_ih");
  const int64_t GH = weight_ih->size[0];
  lunet_checkshape(L, weight_ih, c.fname, "weight_ih", "(G*H,D)", (int64_t[]){GH, d.D});
  lt_tensor *weight_hh = lunet_checkin(L, 3, c.fname, "weight_hh", 2, "(G*H,H)");
  lunet_checkshape(L, weight_hh, c.fname, "weight_hh", "(G*H,H)", (int64_t[]){GH, d.H});
  lt_tensor *bias_ih = lunet_checkin(L, 4, c.fname, "bias_ih", 1, "(G*H)");
  lunet_checkshape(L, bias_ih, c.fname, "bias_ih", "(G*H)", (int64_t[]){GH});
  lt_tensor *bias_hh = NULL;
  if (gru) {
    bias_hh = lunet_checkin(L, 5, c.fname, "bias_hh", 1, "(G*H)");
    lunet_checkshape(L, bias_hh, c.fname, "bias_hh", "(G*H)", (int64_t[]){GH});
  } else {
    check_nil(L, 5, c.fname, "bias_hh");
  }
  lt_tensor *h0 = check_opt(L, 6, c.fname, "h0", 2, "(N,H)", d.N, d.H);
  lt_tensor *c0 = NULL;
  if (lstm) {
    c0 = check_opt(L, 7, c.fname, "c0", 2, "(N,H)", d.N, d.H);
    lunet_checkout(L, 9, c.fname, "cN", LT_FLOAT);
  } else {
    check_nil(L, 7, c.fname, "c0");
    check_nil(L, 9, c.fname, "cN");
  }
  lunet_checkout(L, 8, c.fname, "y", LT_FLOAT);
  lunet_checkout(L, 10, c.fname, "state", LT_FLOAT);

  lt_tensor *y = lunet_resize(L, 8, 3, (int64_t[]){d.N, d.T, d.H}, c.fname, "y");
  lt_tensor *cN = lstm ? lunet_resize(L, 9, 2, (int64_t[]){d.N, d.H}, c.fname, "cN") : NULL;
  lt_tensor *state = lunet_resize(L, 10, 1, (int64_t[]){lt_rnn_state_size(&d)}, c.fname, "state");
  lt_rnn_forward(&d, lt_fdata(x), lt_fdata(weight_ih), lt_fdata(weight_hh), lt_fdata(bias_ih),
                 fdata_or_null(bias_hh), fdata_or_null(h0), fdata_or_null(c0), lt_fdata(y),
                 cN ? lt_fdata(cN) : NULL, lt_fdata(state));
  lua_pushvalue(L, 8);
  if (!lstm) return 1;
  lua_pushvalue(L, 9);
  return 2;
}

static int l_backward_input(lua_State *L) {
  const rnn_call c = call_of(L, "backward_input");
  const int lstm = c.cell == LT_LSTM;
  lt_tensor *x = lunet_checkin(L, 1, c.fname, "input", 3, "(N,T,D)");
  lt_tensor *weight_ih = lunet_checkin(L, 2, c.fname, "weight_ih", 2, "(G*H,D)");
  const lt_rnn_dims d = check_dims(L, &c, x, weight_ih, "weight_ih");
  const int64_t GH = weight_ih->size[0];
  lunet_checkshape(L, weight_ih, c.fname, "weight_ih", "(G*H,D)", (int64_t[]){GH, d.D});
  lt_tensor *weight_hh = lunet_checkin(L, 3, c.fname, "weight_hh", 2, "(G*H,H)");
  lunet_checkshape(L, weight_hh, c.fname, "weight_hh", "(G*H,H)", (int64_t[]){GH, d.H});
  lt_tensor *state = lunet_checkin(L, 4, c.fname, "state", 1, "(S)");
  check_len(L, &c, state, lt_rnn_state_size(&d), "state", "forward");
  lt_tensor *grad_output = lunet_checkin(L, 5, c.fname, "grad_output", 3, "(N,T,H)");
  lunet_checkshape(L, grad_output, c.fname, "grad_output", "(N,T,H)", (int64_t[]){d.N, d.T, d.H});
  const int want_grad_input = !lua_isnoneornil(L, 6);
  if (want_grad_input) lunet_checkout(L, 6, c.fname, "grad_input", LT_FLOAT);
  lunet_checkout(L, 7, c.fname, "grad_h0", LT_FLOAT);
  if (lstm) lunet_checkout(L, 8, c.fname, "grad_c0", LT_FLOAT);
  else check_nil(L, 8, c.fname, "grad_c0");
  lunet_checkout(L, 9, c.fname, "scratch", LT_FLOAT);

  lt_tensor *grad_input = want_grad_input ? lunet_resize(L, 6, 3, (int64_t[]){d.N, d.T, d.D}, c.fname, "grad_input") : NULL;
  lt_tensor *grad_h0 = lunet_resize(L, 7, 2, (int64_t[]){d.N, d.H}, c.fname, "grad_h0");
  lt_tensor *grad_c0 = lstm ? lunet_resize(L, 8, 2, (int64_t[]){d.N, d.H}, c.fname, "grad_c0") : NULL;
  lt_tensor *scratch = lunet_resize(L, 9, 1, (int64_t[]){lt_rnn_scratch_size(&d)}, c.fname, "scratch");
  lt_rnn_backward_input(&d, lt_fdata(weight_ih), lt_fdata(weight_hh), lt_fdata(state), lt_fdata(grad_output),
                        fdata_or_null(grad_input), lt_fdata(grad_h0), fdata_or_null(grad_c0), lt_fdata(scratch));
  lua_pushvalue(L, 6);
  return 1;
}

static int l_backward_params(lua_State *L) {
  const rnn_call c = call_of(L, "backward_params");
  const int gru = c.cell == LT_GRU;
  lt_tensor *x = lunet_checkin(L, 1, c.fname, "input", 3, "(N,T,D)");
  lt_tensor *grad_weight_hh = lunet_checkin(L, 5, c.fname, "grad_weight_hh", 2, "(G*H,H)");
  const lt_rnn_dims d = check_dims(L, &c, x, grad_weight_hh, "grad_weight_hh");
  const int64_t GH = grad_weight_hh->size[0];
  lunet_checkshape(L, grad_weight_hh, c.fname, "grad_weight_hh", "(G*H,H)", (int64_t[]){GH, d.H});
  lt_tensor *state = lunet_checkin(L, 2, c.fname, "state", 1, "(S)");
  check_len(L, &c, state, lt_rnn_state_size(&d), "state", "forward");
  lt_tensor *scratch = lunet_checkin(L, 3, c.fname, "scratch", 1, "(S)");
  check_len(L, &c, scratch, lt_rnn_scratch_size(&d), "scratch", "backward_input");
  lt_tensor *grad_weight_ih = lunet_checkin(L, 4, c.fname, "grad_weight_ih", 2, "(G*H,D)");
  lunet_checkshape(L, grad_weight_ih, c.fname, "grad_weight_ih", "(G*H,D)", (int64_t[]){GH, d.D});
  lt_tensor *grad_bias_ih = lunet_checkin(L, 6, c.fname, "grad_bias_ih", 1, "(G*H)");
  lunet_checkshape(L, grad_bias_ih, c.fname, "grad_bias_ih", "(G*H)", (int64_t[]){GH});
  lt_tensor *grad_bias_hh = NULL;
  if (gru) {
    grad_bias_hh = lunet_checkin(L, 7, c.fname, "grad_bias_hh", 1, "(G*H)");
    lunet_checkshape(L, grad_bias_hh, c.fname, "grad_bias_hh", "(G*H)", (int64_t[]){GH});
  } else {
    check_nil(L, 7, c.fname, "grad_bias_hh");
  }
  const float scale = (float)luaL_optnumber(L, 8, 1.0);
  static const char *const grads[] = {"grad_weight_ih", "grad_weight_hh", "grad_bias_ih", "grad_bias_hh"};
  for (int i = 4; i <= (gru ? 7 : 6); i++) lunet_checknooverlap(L, i, c.fname, grads[i - 4]);
  lt_rnn_backward_params(&d, lt_fdata(x), lt_fdata(state), lt_fdata(scratch), scale, lt_fdata(grad_weight_ih),
                         lt_fdata(grad_weight_hh), lt_fdata(grad_bias_ih), fdata_or_null(grad_bias_hh));
  return 0;
}

void lunet_open_rnn(lua_State *L) {
  static const struct {
    const char *suffix;
    lua_CFunction fn;
  } fns[] = {{"forward", l_forward}, {"backward_input", l_backward_input}, {"backward_params", l_backward_params}};
  for (int cell = LT_RNN; cell <= LT_GRU; cell++) {
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
      lua_pushfstring(L, "%s_%s", cell_names[cell], fns[i].suffix);
      lua_pushinteger(L, cell);
      lua_pushcclosure(L, fns[i].fn, 1);
      lua_settable(L, -3);
    }
  }
}
