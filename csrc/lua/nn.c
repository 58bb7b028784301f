/* nn.c — the binding of the CNN kernels (nnkernels.h) as functions of lunet.core.
 *
 * THNN's calling convention: inputs first, then the output and workspace tensors,
 * which the caller owns and which are resized here (their storage is reused when large
 * enough), then integer options. Every function checks ranks, shapes, dtypes and
 * contiguity and raises an error naming the kernel before touching memory; outputs are
 * resized only after every check, and data pointers are read only after the resizes. */
#include <limits.h>
#include <math.h>

#include "lua_lunet.h"
#include "nnkernels.h"

/* ---------------------------------------------------------------- checks */

/* Every size handed to cblas_sgemm as an int, and every flat index stored as int32. */
static void check_int_range(lua_State *L, const char *fname, int64_t v, const char *what) {
  if (v > INT_MAX) luaL_error(L, "%s: %s (%I) is too large for the BLAS interface", fname, what, (lua_Integer)v);
}

/* Reads the window options (kh, kw,) sh, sw, ph, pw from argument idx on into g and
 * computes the output size from g->h, g->w; raises when the window does not fit. */
static void window_args(lua_State *L, int idx, int with_kernel, const char *fname, lt_conv2d_geom *g) {
  if (with_kernel) {
    g->kh = lunet_checkinteger(L, idx++, fname, "kernel height", 1, INT32_MAX);
    g->kw = lunet_checkinteger(L, idx++, fname, "kernel width", 1, INT32_MAX);
  }
  g->sh = lunet_checkinteger(L, idx++, fname, "stride height", 1, INT32_MAX);
  g->sw = lunet_checkinteger(L, idx++, fname, "stride width", 1, INT32_MAX);
  g->ph = lunet_checkinteger(L, idx++, fname, "padding height", 0, INT32_MAX);
  g->pw = lunet_checkinteger(L, idx, fname, "padding width", 0, INT32_MAX);
  /* the window's span, dilation*(k-1)+1; the pooling windows are not dilated */
  int64_t span_h = 0, span_w = 0;
  if (lt_mul_overflow(g->dh, g->kh - 1, &span_h) || lt_mul_overflow(g->dw, g->kw - 1, &span_w))
    luaL_error(L, "%s: sizes overflow", fname);
  span_h++, span_w++;
  if (g->ph > g->h + span_h || g->pw > g->w + span_w)
    luaL_error(L, "%s: padding %Ix%I is larger than the input %Ix%I plus the kernel", fname,
               (lua_Integer)g->ph, (lua_Integer)g->pw, (lua_Integer)g->h, (lua_Integer)g->w);
  g->oh = lt_window_outsize(g->h, span_h, g->sh, g->ph);
  g->ow = lt_window_outsize(g->w, span_w, g->sw, g->pw);
  if ((g->oh < 1 || g->ow < 1) && g->dh == 1 && g->dw == 1)
    luaL_error(L, "%s: a %Ix%I window with padding %Ix%I does not fit the %Ix%I input", fname,
               (lua_Integer)g->kh, (lua_Integer)g->kw, (lua_Integer)g->ph, (lua_Integer)g->pw,
               (lua_Integer)g->h, (lua_Integer)g->w);
  if (g->oh < 1 || g->ow < 1)
    luaL_error(L, "%s: a %Ix%I window dilated %Ix%I (spanning %Ix%I) with padding %Ix%I does not fit the %Ix%I input",
               fname, (lua_Integer)g->kh, (lua_Integer)g->kw, (lua_Integer)g->dh, (lua_Integer)g->dw,
               (lua_Integer)span_h, (lua_Integer)span_w, (lua_Integer)g->ph, (lua_Integer)g->pw, (lua_Integer)g->h,
               (lua_Integer)g->w);
}

/* The input's (n, c, h, w); no dilation, one group until the options say otherwise. */
static void set_input_geom(lt_conv2d_geom *g, const lt_tensor *in) {
  g->n = in->size[0];
  g->c = in->size[1];
  g->h = in->size[2];
  g->w = in->size[3];
  g->dh = g->dw = g->groups = 1;
}

/* ---------------------------------------------------------------- conv2d */

/* Reads the optional dilation dH, dW and groups from idx on (each 1 when absent). */
static void conv_dilation_groups(lua_State *L, int idx, const char *fname, lt_conv2d_geom *g) {
  g->dh = lua_isnoneornil(L, idx) ? 1 : lunet_checkinteger(L, idx, fname, "dilation height", 1, INT32_MAX);
  g->dw = lua_isnoneornil(L, idx + 1) ? 1 : lunet_checkinteger(L, idx + 1, fname, "dilation width", 1, INT32_MAX);
  g->groups = lua_isnoneornil(L, idx + 2) ? 1 : lunet_checkinteger(L, idx + 2, fname, "groups", 1, INT32_MAX);
}

/* Checks the filters at widx, (oc, c/groups, kh, kw), and fills g->kh, g->kw and the
 * channel count the filters give: g->oc for conv2d; for conv_transpose2d, whose input
 * has the oc channels and whose filters read (inC, outC/groups, kH, kW), g->c. The
 * input's count, already in g, must match and be divisible by groups. */
static void conv_weight(lua_State *L, int widx, lt_conv2d_geom *g, const char *fname, const char *wname,
                        int transposed) {
  lt_tensor *w = lunet_checkin(L, widx, fname, wname, 4, transposed ? "(inC,outC/groups,kH,kW)"
                                                                      : "(outC,inC/groups,kH,kW)");
  char buf[160];
  if (w->size[0] < 1 || w->size[1] < 1 || w->size[2] < 1 || w->size[3] < 1)
    luaL_error(L, "%s: %s %s has an empty dimension", fname, wname, lt_shape_str(w, buf, sizeof buf));
  g->kh = w->size[2];
  g->kw = w->size[3];
  const int64_t have = transposed ? g->oc : g->c, per_group = have / g->groups;
  if (transposed && w->size[0] != have)
    luaL_error(L, "%s: %s %s expects %I input channels, the input has %I", fname, wname,
               lt_shape_str(w, buf, sizeof buf), (lua_Integer)w->size[0], (lua_Integer)have);
  if (have % g->groups != 0)
    luaL_error(L, "%s: the input's %I channels are not divisible by groups = %I", fname, (lua_Integer)have,
               (lua_Integer)g->groups);
  if (transposed) {
    if (lt_mul_overflow(w->size[1], g->groups, &g->c)) luaL_error(L, "%s: sizes overflow", fname);
    return;
  }
  if (w->size[1] != per_group && g->groups == 1)
    luaL_error(L, "%s: %s expects %I input channels, the input has %I", fname, wname, (lua_Integer)w->size[1],
               (lua_Integer)have);
  if (w->size[1] != per_group)
    luaL_error(L, "%s: %s expects %I input channels per group, the input has %I in %I groups (%I each)", fname,
               wname, (lua_Integer)w->size[1], (lua_Integer)have, (lua_Integer)g->groups, (lua_Integer)per_group);
  if (w->size[0] % g->groups != 0)
    luaL_error(L, "%s: %s %s has %I output channels, not divisible by groups = %I", fname, wname,
               lt_shape_str(w, buf, sizeof buf), (lua_Integer)w->size[0], (lua_Integer)g->groups);
  g->oc = w->size[0];
}

/* Checks the optional bias at idx (nil allowed): one element per output channel, n of them. */
static void conv_bias(lua_State *L, int idx, const char *fname, const char *bname, int64_t n) {
  if (lua_isnil(L, idx)) return;
  lt_tensor *b = lunet_checkin(L, idx, fname, bname, 1, "(outC)");
  if (b->size[0] != n)
    luaL_error(L, "%s: %s must have %I elements (one per output channel), got %I", fname, bname, (lua_Integer)n,
               (lua_Integer)b->size[0]);
}

/* Checks the sizes handed to sgemm and resizes the workspace at idx to the
 * lt_conv2d_work_floats(g) floats the kernels need. */
static lt_tensor *conv_workspace(lua_State *L, int idx, const char *fname, const lt_conv2d_geom *g) {
  const int64_t total = lt_conv2d_work_floats(g);
  if (total < 0) luaL_error(L, "%s: sizes overflow", fname);
  /* lt_conv2d_work_floats has checked these products */
  check_int_range(L, fname, g->c / g->groups * g->kh * g->kw, "inC/groups*kH*kW");
  check_int_range(L, fname, g->oh * g->ow, "outH*outW");
  check_int_range(L, fname, g->oc, "outC");
  return lunet_resize(L, idx, 1, &total, fname, "workspace");
}

/* Checks the grad_output at idx against the shape the geometry gives it. */
static lt_tensor *conv_gradout(lua_State *L, int idx, const char *fname, const int64_t *shape) {
  lt_tensor *grad_output = lunet_checkin(L, idx, fname, "grad_output", 4, "(N,C,H,W)");
  lunet_checkshape(L, grad_output, fname, "grad_output", "(N,C,H,W)", shape);
  return grad_output;
}

/* The geometry of conv2d over the (N,C,H,W) input at 1 (read for its shape) with the
 * filters at widx, the options sH, sW, pH, pW at 6..9 and dH, dW, groups from dgidx on. */
static void conv2d_geom(lua_State *L, int widx, const char *wname, int dgidx, lt_conv2d_geom *g) {
  lt_tensor *in = lunet_checktensor(L, 1);
  lunet_checkdim(L, in, 4, "conv2d", "input", "(N,C,H,W)");
  set_input_geom(g, in);
  conv_dilation_groups(L, dgidx, "conv2d", g);
  conv_weight(L, widx, g, "conv2d", wname, 0);
  window_args(L, 6, 0, "conv2d", g);
}

/* ------------------------------------------------------- conv_transpose2d */

#define CONVT "conv_transpose2d"

/* One side of the transposed convolution's output: (in-1)*s - 2p + d*(k-1) + op + 1;
 * returns -1 when it overflows. */
static int64_t convt_outsize(int64_t in, int64_t s, int64_t p, int64_t d, int64_t k, int64_t op) {
  int64_t a, span;
  if (lt_mul_overflow(in - 1, s, &a) || lt_mul_overflow(d, k - 1, &span) || lt_add_overflow(a, span, &a) ||
      lt_add_overflow(a, op + 1, &a))
    return -1;
  return a - 2 * p;
}

/* The geometry of conv_transpose2d over the (N,inC,H,W) input at 1 (read for its
 * shape) with the filters at widx and the options sH, sW, pH, pW, opH, opW, dH, dW,
 * groups at 6..14: that of the convolution mapping the transposed convolution's output
 * (N,outC,H',W') back to its input (nnkernels.h). */
static void convt_geom(lua_State *L, int widx, const char *wname, lt_conv2d_geom *g) {
  lt_tensor *in = lunet_checktensor(L, 1);
  lunet_checkdim(L, in, 4, CONVT, "input", "(N,C,H,W)");
  g->n = in->size[0];
  g->oc = in->size[1];
  g->oh = in->size[2];
  g->ow = in->size[3];
  g->sh = lunet_checkinteger(L, 6, CONVT, "stride height", 1, INT32_MAX);
  g->sw = lunet_checkinteger(L, 7, CONVT, "stride width", 1, INT32_MAX);
  g->ph = lunet_checkinteger(L, 8, CONVT, "padding height", 0, INT32_MAX);
  g->pw = lunet_checkinteger(L, 9, CONVT, "padding width", 0, INT32_MAX);
  const int64_t oph = lunet_checkinteger(L, 10, CONVT, "output padding height", 0, INT32_MAX);
  const int64_t opw = lunet_checkinteger(L, 11, CONVT, "output padding width", 0, INT32_MAX);
  conv_dilation_groups(L, 12, CONVT, g);
  conv_weight(L, widx, g, CONVT, wname, 1);
  if ((oph >= g->sh && oph >= g->dh) || (opw >= g->sw && opw >= g->dw))
    luaL_error(L, CONVT ": output padding %Ix%I must be smaller than the stride %Ix%I or the dilation %Ix%I",
               (lua_Integer)oph, (lua_Integer)opw, (lua_Integer)g->sh, (lua_Integer)g->sw, (lua_Integer)g->dh,
               (lua_Integer)g->dw);
  if (g->oh < 1 || g->ow < 1) {
    char buf[160];
    luaL_error(L, CONVT ": input %s has an empty spatial dimension", lt_shape_str(in, buf, sizeof buf));
  }
  g->h = convt_outsize(g->oh, g->sh, g->ph, g->dh, g->kh, oph);
  g->w = convt_outsize(g->ow, g->sw, g->pw, g->dw, g->kw, opw);
  if (g->h < 1 || g->w < 1)
    luaL_error(L, CONVT ": a %Ix%I kernel (dilation %Ix%I) with stride %Ix%I, padding %Ix%I and output padding "
               "%Ix%I leaves no output for the %Ix%I input", (lua_Integer)g->kh, (lua_Integer)g->kw,
               (lua_Integer)g->dh, (lua_Integer)g->dw, (lua_Integer)g->sh, (lua_Integer)g->sw, (lua_Integer)g->ph,
               (lua_Integer)g->pw, (lua_Integer)oph, (lua_Integer)opw, (lua_Integer)g->oh, (lua_Integer)g->ow);
}

/* ------------------------------------- conv2d and conv_transpose2d, one binding */

/* A call of either convolution: its geometry (that of the conv2d kernels) and the
 * shapes of the module's input x and output y, which for the transposed convolution
 * are the geometry's output and input. */
typedef struct {
  const char *fname;
  int transposed;
  lt_conv2d_geom g;
  int64_t x[4], y[4];
} conv_call;

/* Reads the geometry from the input at 1 (its shape) and the filters at widx; the
 * options for conv2d are sH, sW, pH, pW at 6..9 and dH, dW, groups from dgidx on, for
 * conv_transpose2d the nine at 6..14. */
static void conv_call_init(lua_State *L, conv_call *c, int transposed, int widx, const char *wname, int dgidx) {
  c->transposed = transposed;
  c->fname = transposed ? CONVT : "conv2d";
  if (transposed)
    convt_geom(L, widx, wname, &c->g);
  else
    conv2d_geom(L, widx, wname, dgidx, &c->g);
  const lt_conv2d_geom *g = &c->g;
  const int64_t in[4] = {g->n, g->c, g->h, g->w}, out[4] = {g->n, g->oc, g->oh, g->ow};
  for (int i = 0; i < 4; i++) {
    c->x[i] = transposed ? out[i] : in[i];
    c->y[i] = transposed ? in[i] : out[i];
  }
}

/* src -> dst through the filters: the module's forward (x -> y, with the bias) or its
 * gradient w.r.t. the input (y -> x, bias NULL). conv2d's forward and the transposed
 * convolution's backward go from the geometry's input to its output. */
static void conv_map(const conv_call *c, int forward, const float *src, const float *weight, const float *bias,
                     float *dst, float *work) {
  if (forward != c->transposed)
    lt_conv2d_forward(src, weight, bias, dst, work, &c->g);
  else
    lt_conv2d_backward_input(src, weight, bias, dst, work, &c->g);
}

/* forward(input, weight, bias|nil, output, workspace, <options>) -> output */
static int conv_forward(lua_State *L, int transposed) {
  conv_call c;
  lt_tensor *in = lunet_checkin(L, 1, transposed ? CONVT : "conv2d", "input", 4, "(N,C,H,W)");
  conv_call_init(L, &c, transposed, 2, "weight", 10);
  conv_bias(L, 3, c.fname, "bias", c.y[1]);
  lunet_checkout(L, 4, c.fname, "output", LT_FLOAT);
  lunet_checkout(L, 5, c.fname, "workspace", LT_FLOAT);
  lt_tensor *out = lunet_resize(L, 4, 4, c.y, c.fname, "output");
  lt_tensor *work = conv_workspace(L, 5, c.fname, &c.g);
  const lt_tensor *w = lunet_totensor(L, 2), *b = lunet_totensor(L, 3);
  conv_map(&c, 1, lt_fdata(in), lt_fdata(w), b ? lt_fdata(b) : NULL, lt_fdata(out), lt_fdata(work));
  lua_settop(L, 4);
  return 1;
}

/* backward_input(input, grad_output, weight, grad_input, workspace, <options>) -> grad_input;
 * input gives the shape only (the size the gradient maps back to). */
static int conv_backward_input(lua_State *L, int transposed) {
  conv_call c;
  conv_call_init(L, &c, transposed, 3, "weight", 10);
  lunet_checkout(L, 4, c.fname, "grad_input", LT_FLOAT);
  lunet_checkout(L, 5, c.fname, "workspace", LT_FLOAT);
  lt_tensor *grad_output = conv_gradout(L, 2, c.fname, c.y);
  lt_tensor *grad_input = lunet_resize(L, 4, 4, c.x, c.fname, "grad_input");
  lt_tensor *work = conv_workspace(L, 5, c.fname, &c.g);
  conv_map(&c, 0, lt_fdata(grad_output), lt_fdata(lunet_totensor(L, 3)), NULL, lt_fdata(grad_input),
           lt_fdata(work));
  lua_settop(L, 4);
  return 1;
}

/* backward_params(input, grad_output, grad_weight, grad_bias|nil, workspace, <options with the scale>)
 * accumulates into grad_weight and grad_bias. The transposed convolution's weight
 * gradient is conv2d's with input and grad_output swapped, its bias gradient the
 * channel sums of its grad_output. */
static int conv_backward_params(lua_State *L, int transposed) {
  conv_call c;
  lt_tensor *in = lunet_checkin(L, 1, transposed ? CONVT : "conv2d", "input", 4, "(N,C,H,W)");
  conv_call_init(L, &c, transposed, 3, "grad_weight", 11);
  conv_bias(L, 4, c.fname, "grad_bias", c.y[1]);
  lunet_checkout(L, 3, c.fname, "grad_weight", LT_FLOAT);
  if (!lua_isnil(L, 4)) lunet_checkout(L, 4, c.fname, "grad_bias", LT_FLOAT);
  lunet_checkout(L, 5, c.fname, "workspace", LT_FLOAT);
  float scale = (float)luaL_optnumber(L, transposed ? 15 : 10, 1.0);
  lt_tensor *grad_output = conv_gradout(L, 2, c.fname, c.y);
  lt_tensor *work = conv_workspace(L, 5, c.fname, &c.g);
  lunet_checknooverlap(L, 3, c.fname, "grad_weight");
  if (!lua_isnil(L, 4)) lunet_checknooverlap(L, 4, c.fname, "grad_bias");
  lt_tensor *grad_weight = lunet_totensor(L, 3), *grad_bias = lunet_totensor(L, 4);
  float *gb = grad_bias ? lt_fdata(grad_bias) : NULL;
  if (!transposed) {
    lt_conv2d_backward_params(lt_fdata(in), lt_fdata(grad_output), lt_fdata(grad_weight), gb, lt_fdata(work), scale,
                              &c.g);
    return 0;
  }
  lt_conv2d_backward_params(lt_fdata(grad_output), lt_fdata(in), lt_fdata(grad_weight), NULL, lt_fdata(work), scale,
                            &c.g);
  if (gb) lt_channel_sums(lt_fdata(grad_output), gb, c.y[0], c.y[1], c.y[2] * c.y[3], scale);
  return 0;
}

/* conv2d_forward(input, weight, bias|nil, output, workspace, sH, sW, pH, pW [, dH, dW, groups]) -> output */
static int l_conv2d_forward(lua_State *L) { return conv_forward(L, 0); }

/* conv2d_backward_input(input, grad_output, weight, grad_input, workspace, sH, sW, pH, pW [, dH, dW, groups])
 * -> grad_input */
static int l_conv2d_backward_input(lua_State *L) { return conv_backward_input(L, 0); }

/* conv2d_backward_params(input, grad_output, grad_weight, grad_bias|nil, workspace, sH, sW, pH, pW
 *                        [, scale [, dH, dW, groups]]) */
static int l_conv2d_backward_params(lua_State *L) { return conv_backward_params(L, 0); }

/* conv_transpose2d_forward(input, weight, bias|nil, output, workspace, sH, sW, pH, pW, opH, opW, dH, dW, groups)
 * -> output (N, outC, H', W') */
static int l_conv_transpose2d_forward(lua_State *L) { return conv_forward(L, 1); }

/* conv_transpose2d_backward_input(input, grad_output, weight, grad_input, workspace, <the forward's options>)
 * -> grad_input */
static int l_conv_transpose2d_backward_input(lua_State *L) { return conv_backward_input(L, 1); }

/* conv_transpose2d_backward_params(input, grad_output, grad_weight, grad_bias|nil, workspace,
 *                                  <the forward's options> [, scale]) */
static int l_conv_transpose2d_backward_params(lua_State *L) { return conv_backward_params(L, 1); }

/* ---------------------------------------------------------------- max-pool */

/* The geometry of a pooling window (max or average) from the input at idx and the window
 * options from opt on. */
static lt_tensor *window_geom(lua_State *L, int idx, int opt, const char *fname, lt_conv2d_geom *g) {
  lt_tensor *in = lunet_checkin(L, idx, fname, "input", 4, "(N,C,H,W)");
  set_input_geom(g, in);
  g->oc = g->c;
  window_args(L, opt, 1, fname, g);
  if (2 * g->ph > g->kh || 2 * g->pw > g->kw)
    luaL_error(L, "%s: padding %Ix%I must be at most half the %Ix%I window", fname, (lua_Integer)g->ph,
               (lua_Integer)g->pw, (lua_Integer)g->kh, (lua_Integer)g->kw);
  return in;
}

/* Max-pooling geometry: window_geom, with input planes small enough for int32 switches. */
static lt_tensor *pool_geom(lua_State *L, int idx, int opt, const char *fname, lt_conv2d_geom *g) {
  lt_tensor *in = window_geom(L, idx, opt, fname, g);
  int64_t hw;
  if (lt_mul_overflow(g->h, g->w, &hw) || hw > INT32_MAX)
    luaL_error(L, "%s: input planes are too large for int32 switches", fname);
  return in;
}

/* Switches index the (g->h, g->w) planes, 1-based; a bad one would write outside the
 * plane, and switches recorded over planes of another size would pass that test yet
 * name other pixels (row * w + col reads differently under another w). */
static lt_tensor *check_switches(lua_State *L, int idx, const char *fname, const lt_tensor *like,
                                 const lt_conv2d_geom *g) {
  lt_tensor *s = lunet_checkint(L, idx, fname);
  lunet_checkdim(L, s, 4, fname, "switches", "(N,C,H,W)");
  lunet_checkcontig(L, s, fname, "switches");
  lunet_checkshape(L, s, fname, "switches", "(N,C,H,W)", like->size);
  int64_t plane[2];
  if (lunet_getplane(L, idx, plane) && (plane[0] != g->h || plane[1] != g->w))
    luaL_error(L, "%s: the switches come from a forward over %Ix%I planes, not %Ix%I", fname,
               (lua_Integer)plane[0], (lua_Integer)plane[1], (lua_Integer)g->h, (lua_Integer)g->w);
  const int64_t hw = g->h * g->w; /* checked to fit int32 */
  const int32_t *p = lt_idata(s);
  const int64_t n = lt_numel(s);
  /* One branch-free pass that vectorizes, in 32 bits (1 <= s <= hw as one unsigned
   * comparison); the position of a bad switch is looked up only when there is one. */
  const uint32_t top = (uint32_t)hw;
  int bad = 0;
  for (int64_t i = 0; i < n; i++) bad |= (uint32_t)p[i] - 1u >= top;
  for (int64_t i = 0; bad && i < n; i++) {
    if (p[i] < 1 || p[i] > hw)
      luaL_error(L, "%s: switch %d at position %I is outside 1..%I", fname, (int)p[i], (lua_Integer)(i + 1),
                 (lua_Integer)hw);
  }
  return s;
}

/* maxpool2d_forward(input, output, switches, kH, kW, sH, sW, pH, pW) -> output, switches */
static int l_maxpool2d_forward(lua_State *L) {
  lt_conv2d_geom g;
  lt_tensor *in = pool_geom(L, 1, 4, "maxpool2d", &g);
  lunet_checkout(L, 2, "maxpool2d", "output", LT_FLOAT);
  lunet_checkout(L, 3, "maxpool2d", "switches", LT_INT);
  lt_tensor *out = lunet_resize(L, 2, 4, (int64_t[]){g.n, g.c, g.oh, g.ow}, "maxpool2d", "output");
  lt_tensor *sw = lunet_resize(L, 3, 4, (int64_t[]){g.n, g.c, g.oh, g.ow}, "maxpool2d", "switches");
  lt_maxpool2d_forward(lt_fdata(in), lt_fdata(out), lt_idata(sw), &g);
  lunet_setplane(L, 3, g.h, g.w);
  lua_settop(L, 3);
  return 2;
}

/* maxpool2d_backward(input, grad_output, switches, grad_input, kH, kW, sH, sW, pH, pW) -> grad_input */
static int l_maxpool2d_backward(lua_State *L) {
  lt_conv2d_geom g;
  pool_geom(L, 1, 5, "maxpool2d", &g);
  lt_tensor *grad_output = lunet_checkin(L, 2, "maxpool2d", "grad_output", 4, "(N,C,H,W)");
  lunet_checkshape(L, grad_output, "maxpool2d", "grad_output", "(N,C,H,W)", (int64_t[]){g.n, g.c, g.oh, g.ow});
  lt_tensor *sw = check_switches(L, 3, "maxpool2d", grad_output, &g);
  lunet_checkout(L, 4, "maxpool2d", "grad_input", LT_FLOAT);
  lt_tensor *grad_input = lunet_resize(L, 4, 4, (int64_t[]){g.n, g.c, g.h, g.w}, "maxpool2d", "grad_input");
  lt_maxpool2d_backward(lt_fdata(grad_output), lt_idata(sw), lt_fdata(grad_input), &g);
  lua_settop(L, 4);
  return 1;
}

/* maxunpool2d(input, switches, output, H, W) -> output: output (N,C,H,W) holds each input
 * value at its switch, zero elsewhere. */
static int l_maxunpool2d(lua_State *L) {
  lt_conv2d_geom g = {0};
  lt_tensor *in = lunet_checkin(L, 1, "maxunpool2d", "input", 4, "(N,C,H,W)");
  g.n = in->size[0];
  g.c = in->size[1];
  g.oh = in->size[2];
  g.ow = in->size[3];
  g.h = lunet_checkinteger(L, 4, "maxunpool2d", "output height", 1, INT32_MAX);
  g.w = lunet_checkinteger(L, 5, "maxunpool2d", "output width", 1, INT32_MAX);
  int64_t hw;
  if (lt_mul_overflow(g.h, g.w, &hw) || hw > INT32_MAX)
    luaL_error(L, "maxunpool2d: output planes are too large for int32 switches");
  lt_tensor *sw = check_switches(L, 2, "maxunpool2d", in, &g);
  lunet_checkout(L, 3, "maxunpool2d", "output", LT_FLOAT);
  lt_tensor *out = lunet_resize(L, 3, 4, (int64_t[]){g.n, g.c, g.h, g.w}, "maxunpool2d", "output");
  lt_maxunpool2d(lt_fdata(in), lt_idata(sw), lt_fdata(out), &g);
  lua_settop(L, 3);
  return 1;
}

/* ---------------------------------------------------------------- elementwise */

/* A contiguous float tensor of any rank. */
static lt_tensor *check_any(lua_State *L, int idx, const char *fname, const char *what) {
  lt_tensor *t = lunet_checkfloat(L, idx, fname);
  lunet_checkcontig(L, t, fname, what);
  return t;
}

static void check_same(lua_State *L, const lt_tensor *a, const lt_tensor *b, const char *fname,
                       const char *wa, const char *wb) {
  if (!lt_same_shape(a, b)) {
    char x[160], y[160];
    luaL_error(L, "%s: %s %s and %s %s differ in shape", fname, wa, lt_shape_str(a, x, sizeof x), wb,
               lt_shape_str(b, y, sizeof y));
  }
}

/* relu_forward(input, output) -> output */
static int l_relu_forward(lua_State *L) {
  lt_tensor *x = check_any(L, 1, "relu", "input");
  lunet_checkout(L, 2, "relu", "output", LT_FLOAT);
  lt_tensor *y = lunet_resize_like(L, 2, x, "relu", "output");
  lt_relu_forward(lt_fdata(x), lt_fdata(y), lt_numel(x));
  lua_settop(L, 2);
  return 1;
}

/* relu_backward(input, grad_output, grad_input) -> grad_input */
static int l_relu_backward(lua_State *L) {
  lt_tensor *x = check_any(L, 1, "relu", "input");
  lt_tensor *grad_output = check_any(L, 2, "relu", "grad_output");
  check_same(L, x, grad_output, "relu", "input", "grad_output");
  lunet_checkout(L, 3, "relu", "grad_input", LT_FLOAT);
  lt_tensor *grad_input = lunet_resize_like(L, 3, x, "relu", "grad_input");
  lt_relu_backward(lt_fdata(x), lt_fdata(grad_output), lt_fdata(grad_input), lt_numel(x));
  lua_settop(L, 3);
  return 1;
}

/* The activations of lt_activation by name, in its order. */
static const char *const activation_names[] = {"tanh", "sigmoid", "leaky_relu", "elu", "gelu", "gelu_tanh",
                                               "silu", "softplus", NULL};

/* activation_forward(name, input, output [, p [, q]]) -> output: the activation called name
 * (tanh, sigmoid, leaky_relu, elu, gelu, gelu_tanh, silu, softplus) with its parameters p, q
 * (nnkernels.h: leaky_relu's slope, elu's alpha, softplus's beta and threshold). */
static int l_activation_forward(lua_State *L) {
  lt_activation kind = (lt_activation)luaL_checkoption(L, 1, NULL, activation_names);
  lt_tensor *x = check_any(L, 2, "activation", "input");
  lunet_checkout(L, 3, "activation", "output", LT_FLOAT);
  float p = (float)luaL_optnumber(L, 4, 0), q = (float)luaL_optnumber(L, 5, 0);
  lt_tensor *y = lunet_resize_like(L, 3, x, "activation", "output");
  lt_activation_forward(kind, lt_fdata(x), lt_fdata(y), lt_numel(x), p, q);
  lua_settop(L, 3);
  return 1;
}

/* activation_backward(name, input, output, grad_output, grad_input [, p [, q]]) -> grad_input,
 * from the forward's input and output. */
static int l_activation_backward(lua_State *L) {
  lt_activation kind = (lt_activation)luaL_checkoption(L, 1, NULL, activation_names);
  lt_tensor *x = check_any(L, 2, "activation", "input");
  lt_tensor *y = check_any(L, 3, "activation", "output");
  lt_tensor *g = check_any(L, 4, "activation", "grad_output");
  check_same(L, x, y, "activation", "input", "output");
  check_same(L, x, g, "activation", "input", "grad_output");
  lunet_checkout(L, 5, "activation", "grad_input", LT_FLOAT);
  float p = (float)luaL_optnumber(L, 6, 0), q = (float)luaL_optnumber(L, 7, 0);
  lt_tensor *grad_input = lunet_resize_like(L, 5, x, "activation", "grad_input");
  lt_activation_backward(kind, lt_fdata(x), lt_fdata(y), lt_fdata(g), lt_fdata(grad_input), lt_numel(x), p, q);
  lua_settop(L, 5);
  return 1;
}

static float check_keep(lua_State *L, int idx) {
  double keep = luaL_checknumber(L, idx);
  if (!(keep > 0 && keep <= 1)) luaL_error(L, "dropout: keep probability must be in (0,1], got %f", keep);
  return (float)keep;
}

/* dropout_forward(input, mask, output, keep) -> output;  output = input * mask / keep */
static int l_dropout_forward(lua_State *L) {
  lt_tensor *x = check_any(L, 1, "dropout", "input");
  lt_tensor *m = check_any(L, 2, "dropout", "mask");
  check_same(L, x, m, "dropout", "input", "mask");
  lunet_checkout(L, 3, "dropout", "output", LT_FLOAT);
  float keep = check_keep(L, 4);
  lt_tensor *y = lunet_resize_like(L, 3, x, "dropout", "output");
  lt_dropout_forward(lt_fdata(x), lt_fdata(m), lt_fdata(y), lt_numel(x), keep);
  lua_settop(L, 3);
  return 1;
}

/* dropout_backward(grad_output, mask, grad_input, keep) -> grad_input */
static int l_dropout_backward(lua_State *L) {
  lt_tensor *grad_output = check_any(L, 1, "dropout", "grad_output");
  lt_tensor *m = check_any(L, 2, "dropout", "mask");
  check_same(L, grad_output, m, "dropout", "grad_output", "mask");
  lunet_checkout(L, 3, "dropout", "grad_input", LT_FLOAT);
  float keep = check_keep(L, 4);
  lt_tensor *grad_input = lunet_resize_like(L, 3, grad_output, "dropout", "grad_input");
  lt_dropout_backward(lt_fdata(grad_output), lt_fdata(m), lt_fdata(grad_input), lt_numel(grad_output), keep);
  lua_settop(L, 3);
  return 1;
}

/* ---------------------------------------------------------------- linear */

/* Checks the weight (out, in) named wname at widx against in_features (unless it is
 * negative), and the optional bias (out) named bname at bidx (nil allowed; no bias
 * argument when bidx is 0). */
static lt_tensor *linear_weight(lua_State *L, int widx, int bidx, int64_t in_features, const char *wname,
                                const char *bname) {
  lt_tensor *w = lunet_checkin(L, widx, "linear", wname, 2, "(out,in)");
  if (in_features >= 0 && w->size[1] != in_features)
    luaL_error(L, "linear: %s expects %I input features, the input has %I", wname, (lua_Integer)w->size[1],
               (lua_Integer)in_features);
  check_int_range(L, "linear", w->size[0], "out features");
  check_int_range(L, "linear", w->size[1], "in features");
  if (w->size[0] < 1 || w->size[1] < 1) {
    char buf[160];
    luaL_error(L, "linear: %s %s has an empty dimension", wname, lt_shape_str(w, buf, sizeof buf));
  }
  if (bidx && !lua_isnil(L, bidx)) {
    lt_tensor *b = lunet_checkin(L, bidx, "linear", bname, 1, "(out)");
    if (b->size[0] != w->size[0])
      luaL_error(L, "linear: %s must have %I elements, got %I", bname, (lua_Integer)w->size[0],
                 (lua_Integer)b->size[0]);
  }
  return w;
}

/* linear_forward(input, weight, bias|nil, output) -> output;  output = input · weight^T + bias */
static int l_linear_forward(lua_State *L) {
  lt_tensor *x = lunet_checkin(L, 1, "linear", "input", 2, "(N,in)");
  lt_tensor *w = linear_weight(L, 2, 3, x->size[1], "weight", "bias");
  check_int_range(L, "linear", x->size[0], "batch size");
  lunet_checkout(L, 4, "linear", "output", LT_FLOAT);
  lt_tensor *y = lunet_resize(L, 4, 2, (int64_t[]){x->size[0], w->size[0]}, "linear", "output");
  const lt_tensor *b = lunet_totensor(L, 3);
  lt_linear_forward(lt_fdata(x), lt_fdata(w), b ? lt_fdata(b) : NULL, lt_fdata(y), x->size[0], w->size[1],
                    w->size[0]);
  lua_settop(L, 4);
  return 1;
}

static void linear_gradout(lua_State *L, const lt_tensor *grad_output, int64_t n, int64_t out) {
  lunet_checkshape(L, grad_output, "linear", "grad_output", "(N,out)", (int64_t[]){n, out});
}

/* linear_backward_input(grad_output, weight, grad_input) -> grad_input = grad_output · weight */
static int l_linear_backward_input(lua_State *L) {
  lt_tensor *grad_output = lunet_checkin(L, 1, "linear", "grad_output", 2, "(N,out)");
  lt_tensor *w = linear_weight(L, 2, 0, -1, "weight", NULL);
  linear_gradout(L, grad_output, grad_output->size[0], w->size[0]);
  check_int_range(L, "linear", grad_output->size[0], "batch size");
  lunet_checkout(L, 3, "linear", "grad_input", LT_FLOAT);
  lt_tensor *grad_input = lunet_resize(L, 3, 2, (int64_t[]){grad_output->size[0], w->size[1]}, "linear", "grad_input");
  lt_linear_backward_input(lt_fdata(grad_output), lt_fdata(w), lt_fdata(grad_input), grad_output->size[0],
                           w->size[1], w->size[0]);
  lua_settop(L, 3);
  return 1;
}

/* linear_backward_params(input, grad_output, grad_weight, grad_bias|nil [, scale]) accumulates
 * grad_weight += scale * grad_output^T · input and grad_bias += scale * column sums of grad_output. */
static int l_linear_backward_params(lua_State *L) {
  lt_tensor *x = lunet_checkin(L, 1, "linear", "input", 2, "(N,in)");
  lunet_checkout(L, 3, "linear", "grad_weight", LT_FLOAT);
  if (!lua_isnil(L, 4)) lunet_checkout(L, 4, "linear", "grad_bias", LT_FLOAT);
  lt_tensor *grad_weight = linear_weight(L, 3, 4, x->size[1], "grad_weight", "grad_bias");
  lt_tensor *grad_output = lunet_checkin(L, 2, "linear", "grad_output", 2, "(N,out)");
  linear_gradout(L, grad_output, x->size[0], grad_weight->size[0]);
  check_int_range(L, "linear", x->size[0], "batch size");
  float scale = (float)luaL_optnumber(L, 5, 1.0);
  lunet_checknooverlap(L, 3, "linear", "grad_weight");
  if (!lua_isnil(L, 4)) lunet_checknooverlap(L, 4, "linear", "grad_bias");
  lt_tensor *grad_bias = lunet_totensor(L, 4);
  lt_linear_backward_params(lt_fdata(grad_output), lt_fdata(x), lt_fdata(grad_weight),
                            grad_bias ? lt_fdata(grad_bias) : NULL, scale,
                            x->size[0], x->size[1], grad_weight->size[0]);
  return 0;
}

/* ---------------------------------------------------------------- softmax and loss */

typedef void (*rowwise_fn)(const float *, float *, int64_t, int64_t);
typedef void (*rowwise_bwd_fn)(const float *, const float *, float *, int64_t, int64_t);

/* f(input, output) over an (N,K) input. */
static int rowwise_forward(lua_State *L, const char *fname, rowwise_fn f) {
  lt_tensor *x = lunet_checkin(L, 1, fname, "input", 2, "(N,K)");
  lunet_checkout(L, 2, fname, "output", LT_FLOAT);
  lt_tensor *y = lunet_resize_like(L, 2, x, fname, "output");
  f(lt_fdata(x), lt_fdata(y), x->size[0], x->size[1]);
  lua_settop(L, 2);
  return 1;
}

/* f(output, grad_output, grad_input): the backward from the forward's output. */
static int rowwise_backward(lua_State *L, const char *fname, rowwise_bwd_fn f) {
  lt_tensor *y = lunet_checkin(L, 1, fname, "output", 2, "(N,K)");
  lt_tensor *grad_output = lunet_checkin(L, 2, fname, "grad_output", 2, "(N,K)");
  check_same(L, y, grad_output, fname, "output", "grad_output");
  lunet_checkout(L, 3, fname, "grad_input", LT_FLOAT);
  lt_tensor *grad_input = lunet_resize_like(L, 3, y, fname, "grad_input");
  f(lt_fdata(y), lt_fdata(grad_output), lt_fdata(grad_input), y->size[0], y->size[1]);
  lua_settop(L, 3);
  return 1;
}

/* softmax_forward(input, output), softmax_backward(output, grad_output, grad_input), and the
 * same for logsoftmax. */
static int l_softmax_forward(lua_State *L) { return rowwise_forward(L, "softmax", lt_softmax_forward); }
static int l_softmax_backward(lua_State *L) { return rowwise_backward(L, "softmax", lt_softmax_backward); }
static int l_logsoftmax_forward(lua_State *L) { return rowwise_forward(L, "logsoftmax", lt_logsoftmax_forward); }
static int l_logsoftmax_backward(lua_State *L) {
  return rowwise_backward(L, "logsoftmax", lt_logsoftmax_backward);
}

/* Labels at idx: a 1-D int or float tensor of n class numbers in 1..k. Returns int32
 * labels: the tensor's own data, or (for float labels) a converted copy in a userdata
 * pushed on the stack. */
static const int32_t *check_labels(lua_State *L, int idx, int64_t n, int64_t k) {
  lt_tensor *t = lunet_checktensor(L, idx);
  lunet_checkdim(L, t, 1, "crossentropy", "labels", "(N)");
  lunet_checkcontig(L, t, "crossentropy", "labels");
  if (t->size[0] != n)
    luaL_error(L, "crossentropy: %I labels for %I rows of logits", (lua_Integer)t->size[0], (lua_Integer)n);
  const int32_t *lab;
  if (t->dtype == LT_INT) {
    lab = lt_idata(t);
  } else {
    int32_t *conv = lua_newuserdatauv(L, (size_t)n * sizeof(int32_t), 0);
    const float *f = lt_fdata(t);
    for (int64_t i = 0; i < n; i++) {
      if (!(f[i] >= 1 && f[i] <= (double)k) || f[i] != floorf(f[i]))
        luaL_error(L, "crossentropy: label %f at position %I is not a class number in 1..%I", (double)f[i],
                   (lua_Integer)(i + 1), (lua_Integer)k);
      conv[i] = (int32_t)f[i];
    }
    lab = conv;
  }
  for (int64_t i = 0; i < n; i++) {
    if (lab[i] < 1 || lab[i] > k)
      luaL_error(L, "crossentropy: label %d at position %I is out of range 1..%I", (int)lab[i],
                 (lua_Integer)(i + 1), (lua_Integer)k);
  }
  return lab;
}

/* crossentropy_forward(logits, labels, logp) -> loss (a number): logp = logsoftmax(logits),
 * loss = mean over rows of -logp[label]. */
static int l_crossentropy_forward(lua_State *L) {
  lt_tensor *x = lunet_checkin(L, 1, "crossentropy", "logits", 2, "(N,K)");
  if (x->size[0] < 1) luaL_error(L, "crossentropy: logits have no rows");
  lunet_checkout(L, 3, "crossentropy", "logp", LT_FLOAT);
  const int32_t *lab = check_labels(L, 2, x->size[0], x->size[1]);
  lt_tensor *lp = lunet_resize_like(L, 3, x, "crossentropy", "logp");
  lt_logsoftmax_forward(lt_fdata(x), lt_fdata(lp), x->size[0], x->size[1]);
  lua_pushnumber(L, lt_nll_forward(lt_fdata(lp), lab, x->size[0], x->size[1]));
  return 1;
}

/* crossentropy_backward(logp, labels, grad_input) -> grad_input = (softmax - onehot) / N */
static int l_crossentropy_backward(lua_State *L) {
  lt_tensor *lp = lunet_checkin(L, 1, "crossentropy", "logp", 2, "(N,K)");
  if (lp->size[0] < 1) luaL_error(L, "crossentropy: logp has no rows");
  lunet_checkout(L, 3, "crossentropy", "grad_input", LT_FLOAT);
  const int32_t *lab = check_labels(L, 2, lp->size[0], lp->size[1]);
  lt_tensor *grad_input = lunet_resize_like(L, 3, lp, "crossentropy", "grad_input");
  lt_crossentropy_backward(lt_fdata(lp), lab, lt_fdata(grad_input), lp->size[0], lp->size[1]);
  lua_settop(L, 3);
  return 1;
}

/* ---------------------------------------------------------------- batch and layer norm */

/* A batch-norm input at idx: (N,C), (N,C,L) or (N,C,H,W), viewed as (n, c, s). */
static lt_tensor *bn_input(lua_State *L, int idx, const char *what, int64_t *n, int64_t *c, int64_t *s) {
  lt_tensor *x = lunet_checkfloat(L, idx, "batchnorm");
  if (x->ndim < 2 || x->ndim > 4) {
    char buf[160];
    luaL_error(L, "batchnorm: %s must be 2-D (N,C), 3-D (N,C,L) or 4-D (N,C,H,W), got %d-D %s", what, x->ndim,
               lt_shape_str(x, buf, sizeof buf));
  }
  lunet_checkcontig(L, x, "batchnorm", what);
  *n = x->size[0];
  *c = x->size[1];
  *s = 1;
  for (int d = 2; d < x->ndim; d++) *s *= x->size[d]; /* a factor of the checked element count */
  return x;
}

/* The per-channel (per-feature) vector named what at idx: a contiguous float (n); nil
 * gives NULL when nil_ok. */
static lt_tensor *vector_arg(lua_State *L, int idx, const char *fname, const char *what, int64_t n, int nil_ok) {
  if (nil_ok && lua_isnil(L, idx)) return NULL;
  lt_tensor *t = lunet_checkin(L, idx, fname, what, 1, "(C)");
  lunet_checkshape(L, t, fname, what, "(C)", &n);
  return t;
}

/* A number option at idx in [lo, hi] (hi_open: hi excluded; lo always included unless lo_open). */
static double number_arg(lua_State *L, int idx, const char *fname, const char *what, double lo, int lo_open,
                         double hi) {
  const double v = luaL_checknumber(L, idx);
  if (!(v >= lo && v <= hi) || (lo_open && v == lo))
    luaL_error(L, "%s: %s must be in %s%f, %f], got %f", fname, what, lo_open ? "(" : "[", lo, hi, v);
  return v;
}

/* An accumulated parameter gradient at idx (nil allowed): checked like vector_arg, and not
 * overlapping any other argument. */
static float *grad_param(lua_State *L, int idx, const char *fname, const char *what, int64_t n) {
  lt_tensor *t = vector_arg(L, idx, fname, what, n, 1);
  if (!t) return NULL;
  lunet_checknooverlap(L, idx, fname, what);
  return lt_fdata(t);
}

static float *fdata_or_null(const lt_tensor *t) { return t ? lt_fdata(t) : NULL; }

/* batchnorm_forward(input, weight|nil, bias|nil, running_mean|nil, running_var|nil, output, save_mean,
 *                   save_invstd, training, momentum, eps) -> output
 * Batch statistics in training or without running statistics (then updating the running
 * ones in place when given, in training), the running ones otherwise; save_mean and
 * save_invstd (C) receive the statistics used, for batchnorm_backward. */
static int l_batchnorm_forward(lua_State *L) {
  int64_t n, c, s;
  lt_tensor *x = bn_input(L, 1, "input", &n, &c, &s);
  lt_tensor *w = vector_arg(L, 2, "batchnorm", "weight", c, 1), *b = vector_arg(L, 3, "batchnorm", "bias", c, 1);
  lt_tensor *rm = vector_arg(L, 4, "batchnorm", "running_mean", c, 1);
  lt_tensor *rv = vector_arg(L, 5, "batchnorm", "running_var", c, 1);
  if (!rm != !rv) luaL_error(L, "batchnorm: give both running_mean and running_var, or neither");
  lunet_checkout(L, 6, "batchnorm", "output", LT_FLOAT);
  lunet_checkout(L, 7, "batchnorm", "save_mean", LT_FLOAT);
  lunet_checkout(L, 8, "batchnorm", "save_invstd", LT_FLOAT);
  const int training = lua_toboolean(L, 9);
  const double momentum = number_arg(L, 10, "batchnorm", "momentum", 0.0, 0, 1.0);
  const double eps = number_arg(L, 11, "batchnorm", "eps", 0.0, 1, HUGE_VAL);
  if (training && n * s < 2) {
    char buf[160];
    luaL_error(L, "batchnorm: expected more than 1 value per channel in training, got input %s",
               lt_shape_str(x, buf, sizeof buf));
  }
  lt_tensor *y = lunet_resize_like(L, 6, x, "batchnorm", "output");
  lt_tensor *sm = lunet_resize(L, 7, 1, &c, "batchnorm", "save_mean");
  lt_tensor *si = lunet_resize(L, 8, 1, &c, "batchnorm", "save_invstd");
  if (rm) {
    lunet_checknooverlap(L, 4, "batchnorm", "running_mean");
    lunet_checknooverlap(L, 5, "batchnorm", "running_var");
  }
  lt_batchnorm_forward(lt_fdata(x), fdata_or_null(w), fdata_or_null(b), fdata_or_null(rm), fdata_or_null(rv),
                       lt_fdata(y), lt_fdata(sm), lt_fdata(si), n, c, s, training || !rm, momentum, eps);
  lua_settop(L, 6);
  return 1;
}

/* batchnorm_backward(input, grad_output, weight|nil, save_mean, save_invstd, grad_input|nil, grad_weight|nil,
 *                    grad_bias|nil, batch_stats [, scale]) -> grad_input (or nothing)
 * From batchnorm_forward's saved statistics; batch_stats says whether they were the batch's
 * (then the gradient flows through them too). grad_input is resized and overwritten,
 * grad_weight and grad_bias accumulated (times scale); a nil one is skipped. */
static int l_batchnorm_backward(lua_State *L) {
  int64_t n, c, s;
  lt_tensor *x = bn_input(L, 1, "input", &n, &c, &s);
  lt_tensor *dy = lunet_checkfloat(L, 2, "batchnorm");
  lunet_checkcontig(L, dy, "batchnorm", "grad_output");
  check_same(L, x, dy, "batchnorm", "input", "grad_output");
  lt_tensor *w = vector_arg(L, 3, "batchnorm", "weight", c, 1);
  lt_tensor *sm = vector_arg(L, 4, "batchnorm", "save_mean", c, 0);
  lt_tensor *si = vector_arg(L, 5, "batchnorm", "save_invstd", c, 0);
  const int with_input = !lua_isnil(L, 6);
  if (with_input) lunet_checkout(L, 6, "batchnorm", "grad_input", LT_FLOAT);
  const int batch_stats = lua_toboolean(L, 9);
  const float scale = (float)luaL_optnumber(L, 10, 1.0);
  lt_tensor *gx = with_input ? lunet_resize_like(L, 6, x, "batchnorm", "grad_input") : NULL;
  float *gw = grad_param(L, 7, "batchnorm", "grad_weight", c), *gb = grad_param(L, 8, "batchnorm", "grad_bias", c);
  lt_batchnorm_backward(lt_fdata(x), lt_fdata(dy), fdata_or_null(w), lt_fdata(sm), lt_fdata(si), fdata_or_null(gx),
                        gw, gb, n, c, s, batch_stats, scale);
  lua_settop(L, 6);
  return with_input;
}

/* A layer-norm input at idx whose last k dimensions are normalized: rows r, row length d. */
static lt_tensor *ln_input(lua_State *L, int idx, int kidx, int64_t *r, int64_t *d, int *k) {
  lt_tensor *x = lunet_checkfloat(L, idx, "layernorm");
  lunet_checkcontig(L, x, "layernorm", "input");
  *k = (int)lunet_checkinteger(L, kidx, "layernorm", "number of normalized dimensions", 1, LT_MAXDIM);
  if (*k > x->ndim) {
    char buf[160];
    luaL_error(L, "layernorm: input %s has fewer than the %d normalized dimensions", lt_shape_str(x, buf, sizeof buf),
               *k);
  }
  *r = 1;
  *d = 1;
  for (int i = 0; i < x->ndim; i++) *(i < x->ndim - *k ? r : d) *= x->size[i]; /* factors of the element count */
  return x;
}

/* The weight (or its gradient, or the bias) of a layer norm: nil, or a contiguous float
 * tensor of the input's last k sizes. */
static lt_tensor *ln_param(lua_State *L, int idx, const char *what, const lt_tensor *x, int k) {
  if (lua_isnil(L, idx)) return NULL;
  lt_tensor *t = lunet_checkfloat(L, idx, "layernorm");
  lunet_checkcontig(L, t, "layernorm", what);
  if (t->ndim != k) {
    char a[160], b[160];
    luaL_error(L, "layernorm: %s %s must have the shape of the input's last %d dimensions (input %s)", what,
               lt_shape_str(t, a, sizeof a), k, lt_shape_str(x, b, sizeof b));
  }
  lunet_checkshape(L, t, "layernorm", what, "(normalized shape)", x->size + x->ndim - k);
  return t;
}

/* layernorm_forward(input, weight|nil, bias|nil, output, save_mean, save_invstd, k, eps) -> output
 * Normalizes over the input's last k dimensions; save_mean and save_invstd (rows) receive
 * each row's statistics, for layernorm_backward. */
static int l_layernorm_forward(lua_State *L) {
  int64_t r, d;
  int k;
  lt_tensor *x = ln_input(L, 1, 7, &r, &d, &k);
  lt_tensor *w = ln_param(L, 2, "weight", x, k), *b = ln_param(L, 3, "bias", x, k);
  lunet_checkout(L, 4, "layernorm", "output", LT_FLOAT);
  lunet_checkout(L, 5, "layernorm", "save_mean", LT_FLOAT);
  lunet_checkout(L, 6, "layernorm", "save_invstd", LT_FLOAT);
  const double eps = number_arg(L, 8, "layernorm", "eps", 0.0, 1, HUGE_VAL);
  lt_tensor *y = lunet_resize_like(L, 4, x, "layernorm", "output");
  lt_tensor *sm = lunet_resize(L, 5, 1, &r, "layernorm", "save_mean");
  lt_tensor *si = lunet_resize(L, 6, 1, &r, "layernorm", "save_invstd");
  lt_layernorm_forward(lt_fdata(x), fdata_or_null(w), fdata_or_null(b), lt_fdata(y), lt_fdata(sm), lt_fdata(si), r,
                       d, eps);
  lua_settop(L, 4);
  return 1;
}

/* layernorm_backward(input, grad_output, weight|nil, save_mean, save_invstd, grad_input|nil, grad_weight|nil,
 *                    grad_bias|nil, k [, scale]) -> grad_input (or nothing)
 * grad_input resized and overwritten, grad_weight and grad_bias accumulated (times scale). */
static int l_layernorm_backward(lua_State *L) {
  int64_t r, d;
  int k;
  lt_tensor *x = ln_input(L, 1, 9, &r, &d, &k);
  lt_tensor *dy = lunet_checkfloat(L, 2, "layernorm");
  lunet_checkcontig(L, dy, "layernorm", "grad_output");
  check_same(L, x, dy, "layernorm", "input", "grad_output");
  lt_tensor *w = ln_param(L, 3, "weight", x, k);
  lt_tensor *sm = vector_arg(L, 4, "layernorm", "save_mean", r, 0);
  lt_tensor *si = vector_arg(L, 5, "layernorm", "save_invstd", r, 0);
  const int with_input = !lua_isnil(L, 6);
  if (with_input) lunet_checkout(L, 6, "layernorm", "grad_input", LT_FLOAT);
  lt_tensor *gw = ln_param(L, 7, "grad_weight", x, k), *gb = ln_param(L, 8, "grad_bias", x, k);
  const float scale = (float)luaL_optnumber(L, 10, 1.0);
  lt_tensor *gx = with_input ? lunet_resize_like(L, 6, x, "layernorm", "grad_input") : NULL;
  if (gw) lunet_checknooverlap(L, 7, "layernorm", "grad_weight");
  if (gb) lunet_checknooverlap(L, 8, "layernorm", "grad_bias");
  lt_layernorm_backward(lt_fdata(x), lt_fdata(dy), fdata_or_null(w), lt_fdata(sm), lt_fdata(si), fdata_or_null(gx),
                        fdata_or_null(gw), fdata_or_null(gb), r, d, scale);
  lua_settop(L, 6);
  return with_input;
}

/* ---------------------------------------------------------------- average pooling */

/* The geometry of an average pooling: window_geom from the input at idx and the options
 * kH, kW, sH, sW, pH, pW, ceil_mode, count_include_pad from opt on. With ceil_mode the
 * output sizes round up, as long as the last window starts inside the input or its left
 * padding (PyTorch's rule). */
static lt_avgpool_mode avgpool_geom(lua_State *L, int idx, int opt, lt_conv2d_geom *g) {
  window_geom(L, idx, opt, "avgpool2d", g);
  if (lua_toboolean(L, opt + 6)) {
    const int64_t in[2] = {g->h, g->w}, k[2] = {g->kh, g->kw}, st[2] = {g->sh, g->sw}, p[2] = {g->ph, g->pw};
    int64_t *out[2] = {&g->oh, &g->ow};
    for (int a = 0; a < 2; a++) { /* sizes below 2^31, sums far from overflow */
      int64_t o = (in[a] + 2 * p[a] - k[a] + st[a] - 1) / st[a] + 1;
      if ((o - 1) * st[a] >= in[a] + p[a]) o--;
      *out[a] = o;
    }
  }
  return lua_toboolean(L, opt + 7) ? LT_AVGPOOL_INCLUDE_PAD : LT_AVGPOOL_EXCLUDE_PAD;
}

/* avgpool2d_forward(input, output, kH, kW, sH, sW, pH, pW, ceil_mode, count_include_pad) -> output */
static int l_avgpool2d_forward(lua_State *L) {
  lt_conv2d_geom g;
  lt_avgpool_mode mode = avgpool_geom(L, 1, 3, &g);
  lt_tensor *in = lunet_totensor(L, 1);
  lunet_checkout(L, 2, "avgpool2d", "output", LT_FLOAT);
  lt_tensor *out = lunet_resize(L, 2, 4, (int64_t[]){g.n, g.c, g.oh, g.ow}, "avgpool2d", "output");
  lt_avgpool2d_forward(lt_fdata(in), lt_fdata(out), &g, mode);
  lua_settop(L, 2);
  return 1;
}

/* Checks grad_output at idx against the pooling's output shape and resizes grad_input at
 * gidx to the input's. */
static lt_tensor *pool_gradients(lua_State *L, int idx, int gidx, const char *fname, const lt_conv2d_geom *g,
                                 lt_tensor **grad_input) {
  lt_tensor *grad_output = lunet_checkin(L, idx, fname, "grad_output", 4, "(N,C,H,W)");
  lunet_checkshape(L, grad_output, fname, "grad_output", "(N,C,H,W)", (int64_t[]){g->n, g->c, g->oh, g->ow});
  lunet_checkout(L, gidx, fname, "grad_input", LT_FLOAT);
  *grad_input = lunet_resize(L, gidx, 4, (int64_t[]){g->n, g->c, g->h, g->w}, fname, "grad_input");
  return grad_output;
}

/* avgpool2d_backward(input, grad_output, grad_input, kH, kW, sH, sW, pH, pW, ceil_mode, count_include_pad)
 * -> grad_input; input gives the shape only. */
static int l_avgpool2d_backward(lua_State *L) {
  lt_conv2d_geom g;
  lt_avgpool_mode mode = avgpool_geom(L, 1, 4, &g);
  lt_tensor *grad_input, *grad_output = pool_gradients(L, 2, 3, "avgpool2d", &g, &grad_input);
  lt_avgpool2d_backward(lt_fdata(grad_output), lt_fdata(grad_input), &g, mode);
  lua_settop(L, 3);
  return 1;
}

/* The geometry of an adaptive average pooling: the input at idx, (N,C,H,W) with H, W >= 1,
 * and the output size oH, oW from opt on. */
static lt_tensor *adaptive_geom(lua_State *L, int idx, int opt, lt_conv2d_geom *g) {
  lt_tensor *in = lunet_checkin(L, idx, "adaptive_avgpool2d", "input", 4, "(N,C,H,W)");
  *g = (lt_conv2d_geom){0};
  set_input_geom(g, in);
  g->oc = g->c;
  if (g->h < 1 || g->w < 1) {
    char buf[160];
    luaL_error(L, "adaptive_avgpool2d: input %s has empty planes", lt_shape_str(in, buf, sizeof buf));
  }
  g->oh = lunet_checkinteger(L, opt, "adaptive_avgpool2d", "output height", 1, INT32_MAX);
  g->ow = lunet_checkinteger(L, opt + 1, "adaptive_avgpool2d", "output width", 1, INT32_MAX);
  return in;
}

/* adaptive_avgpool2d_forward(input, output, oH, oW) -> output */
static int l_adaptive_avgpool2d_forward(lua_State *L) {
  lt_conv2d_geom g;
  lt_tensor *in = adaptive_geom(L, 1, 3, &g);
  lunet_checkout(L, 2, "adaptive_avgpool2d", "output", LT_FLOAT);
  lt_tensor *out = lunet_resize(L, 2, 4, (int64_t[]){g.n, g.c, g.oh, g.ow}, "adaptive_avgpool2d", "output");
  lt_avgpool2d_forward(lt_fdata(in), lt_fdata(out), &g, LT_AVGPOOL_ADAPTIVE);
  lua_settop(L, 2);
  return 1;
}

/* adaptive_avgpool2d_backward(input, grad_output, grad_input, oH, oW) -> grad_input; input gives the shape only. */
static int l_adaptive_avgpool2d_backward(lua_State *L) {
  lt_conv2d_geom g;
  adaptive_geom(L, 1, 4, &g);
  lt_tensor *grad_input, *grad_output = pool_gradients(L, 2, 3, "adaptive_avgpool2d", &g, &grad_input);
  lt_avgpool2d_backward(lt_fdata(grad_output), lt_fdata(grad_input), &g, LT_AVGPOOL_ADAPTIVE);
  lua_settop(L, 3);
  return 1;
}

/* ---------------------------------------------------------------- embedding */

/* The indices at idx (an int tensor of any shape below LT_MAXDIM dimensions, contiguous,
 * each in 1..rows) and the weight (rows, d) at widx, named wname. */
static lt_tensor *embedding_args(lua_State *L, int idx, int widx, const char *wname, lt_tensor **weight) {
  lt_tensor *index = lunet_checkint(L, idx, "embedding");
  lunet_checkcontig(L, index, "embedding", "indices");
  if (index->ndim >= LT_MAXDIM)
    luaL_error(L, "embedding: indices have %d dimensions, at most %d are allowed", index->ndim, LT_MAXDIM - 1);
  if (lt_numel(index) > INT32_MAX) luaL_error(L, "embedding: more than 2^31 - 1 indices");
  *weight = lunet_checkin(L, widx, "embedding", wname, 2, "(numEmbeddings,dim)");
  const int64_t rows = (*weight)->size[0];
  int64_t bad;
  if (lt_index_check(index, rows, &bad))
    luaL_error(L, "embedding: index %I is out of range 1..%I (the number of embeddings)", (lua_Integer)bad,
               (lua_Integer)rows);
  return index;
}

/* The shape of the lookup: the indices' shape, then the embedding dimension d. */
static int embedding_shape(const lt_tensor *index, int64_t d, int64_t *size) {
  for (int i = 0; i < index->ndim; i++) size[i] = index->size[i];
  size[index->ndim] = d;
  return index->ndim + 1;
}

/* embedding_forward(indices, weight, output) -> output (indices' shape..., dim) */
static int l_embedding_forward(lua_State *L) {
  lt_tensor *w, *index = embedding_args(L, 1, 2, "weight", &w);
  lunet_checkout(L, 3, "embedding", "output", LT_FLOAT);
  int64_t size[LT_MAXDIM];
  const int nd = embedding_shape(index, w->size[1], size);
  lt_tensor *out = lunet_resize(L, 3, nd, size, "embedding", "output");
  lt_embedding_forward(lt_idata(index), lt_fdata(w), lt_fdata(out), lt_numel(index), w->size[1]);
  lua_settop(L, 3);
  return 1;
}

/* embedding_backward(indices, grad_output, grad_weight, workspace, padding_idx [, scale]) accumulates
 * scale * grad_output's rows into the rows of grad_weight the indices name, except
 * padding_idx's (0: none); workspace is an int tensor, resized. */
static int l_embedding_backward(lua_State *L) {
  lt_tensor *gw, *index = embedding_args(L, 1, 3, "grad_weight", &gw);
  lt_tensor *dy = lunet_checkfloat(L, 2, "embedding");
  lunet_checkcontig(L, dy, "embedding", "grad_output");
  int64_t size[LT_MAXDIM];
  const int nd = embedding_shape(index, gw->size[1], size);
  lunet_checkdim(L, dy, nd, "embedding", "grad_output", "(indices..., dim)");
  lunet_checkshape(L, dy, "embedding", "grad_output", "(indices..., dim)", size);
  lunet_checkout(L, 4, "embedding", "workspace", LT_INT);
  const int32_t pad = (int32_t)lunet_checkinteger(L, 5, "embedding", "padding_idx", 0, gw->size[0]);
  const float scale = (float)luaL_optnumber(L, 6, 1.0);
  const int64_t n = lt_numel(index), pairs = 2 * n;
  lt_tensor *work = lunet_resize(L, 4, 1, &pairs, "embedding", "workspace");
  lunet_checknooverlap(L, 3, "embedding", "grad_weight");
  lt_embedding_backward(lt_idata(index), lt_fdata(dy), lt_fdata(gw), lt_idata(work), n, gw->size[1], pad, scale);
  return 0;
}

void lunet_open_nn(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"conv2d_forward", l_conv2d_forward},
      {"conv2d_backward_input", l_conv2d_backward_input},
      {"conv2d_backward_params", l_conv2d_backward_params},
      {"conv_transpose2d_forward", l_conv_transpose2d_forward},
      {"conv_transpose2d_backward_input", l_conv_transpose2d_backward_input},
      {"conv_transpose2d_backward_params", l_conv_transpose2d_backward_params},
      {"maxpool2d_forward", l_maxpool2d_forward},
      {"maxpool2d_backward", l_maxpool2d_backward},
      {"maxunpool2d", l_maxunpool2d},
      {"relu_forward", l_relu_forward},
      {"relu_backward", l_relu_backward},
      {"activation_forward", l_activation_forward},
      {"activation_backward", l_activation_backward},
      {"dropout_forward", l_dropout_forward},
      {"dropout_backward", l_dropout_backward},
      {"linear_forward", l_linear_forward},
      {"linear_backward_input", l_linear_backward_input},
      {"linear_backward_params", l_linear_backward_params},
      {"softmax_forward", l_softmax_forward},
      {"softmax_backward", l_softmax_backward},
      {"logsoftmax_forward", l_logsoftmax_forward},
      {"logsoftmax_backward", l_logsoftmax_backward},
      {"crossentropy_forward", l_crossentropy_forward},
      {"crossentropy_backward", l_crossentropy_backward},
      {"batchnorm_forward", l_batchnorm_forward},
      {"batchnorm_backward", l_batchnorm_backward},
      {"layernorm_forward", l_layernorm_forward},
      {"layernorm_backward", l_layernorm_backward},
      {"avgpool2d_forward", l_avgpool2d_forward},
      {"avgpool2d_backward", l_avgpool2d_backward},
      {"adaptive_avgpool2d_forward", l_adaptive_avgpool2d_forward},
      {"adaptive_avgpool2d_backward", l_adaptive_avgpool2d_backward},
      {"embedding_forward", l_embedding_forward},
      {"embedding_backward", l_embedding_backward},
      {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
