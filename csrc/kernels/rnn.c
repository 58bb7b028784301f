/* rnn.c — vanilla RNN, LSTM and GRU over whole sequences: forward and
 * backpropagation through time, side by side. Shapes and layouts: rnn.h.
 *
 * Cells (x = x_t, h = h_{t-1}, c = c_{t-1}, σ the logistic function, * elementwise):
 *   RNN   h' = tanh(W_x x + W_h h + b)
 *   LSTM  i = σ(W_xi x + W_hi h + b_i)      f = σ(W_xf x + W_hf h + b_f)
 *         g = tanh(W_xg x + W_hg h + b_g)   o = σ(W_xo x + W_ho h + b_o)
 *         c' = f * c + i * g                h' = o * tanh(c')
 *   GRU   (PyTorch's and cuDNN's formulation: the reset gate multiplies W_hn h + b_hn)
 *         r = σ(W_ir x + b_ir + W_hr h + b_hr)
 *         z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *         n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 *         h' = (1 - z) * n + z * h
 *
 * Cost structure, the same for the three cells:
 *   forward   one sgemm for the input projections of all N*T rows, then per step one
 *             sgemm for the recurrent product and one fused pass computing every gate,
 *             the new state and its copy into the h_{t-1} sequence;
 *   backward  per step one fused pass turning dL/dh_t into the gates' pre-activation
 *             gradients dG (stashed for all steps) and one sgemm dG_t W_h carrying the
 *             gradient to h_{t-1}; then dL/dx, dW_x and dW_h are one sgemm each over all
 *             steps at once and the bias gradients one pass of column sums.
 * Within a step the sequences are independent: a large batch is cut into chunks of
 * sequences on lunet's thread pool, each chunk doing its rows' recurrent sgemm and
 * gate pass, so that a step is one parallel loop and not two.
 *
 * State buffer (floats, batch-first rows r = n*T + t):
 *   A   (N,T,G*H)  gate activations (the RNN's single gate is h_t itself)
 *   Hp  (N,T,H)    h_{t-1}, so dW_h = dG^T Hp is one product
 *   LSTM: Cp (N,T,H) c_{t-1};  Tc (N,T,H) tanh(c_t)
 *   GRU:  Hn (N,T,H) W_hn h_{t-1} + b_hn;  S (N,G*H) the current step's W_h h_{t-1}
 * Scratch buffer: dG (N,T,G*H) and, for the GRU, dGh (N,T,G*H), the gradient w.r.t.
 * W_h h + b_h, which differs from dG in the n block (r * dG_n).
 */
#include "fastmath.h"
#include "gemm.h"
#include "rnn.h"
#include "tensor.h"
#include "threadpool.h"

#include <limits.h>
#include <string.h>

/* Gate values per chunk of a step on the thread pool. A step's chunk must be long
 * enough to pay for handing rows between cores: at batch 128 (32768 LSTM gate values
 * a step) two threads were slower than one (bench/RESULTS.md), so that stays serial. */
#define LT_RNN_PARALLEL_MIN 65536

/* The gate passes below must vectorize. Their clamps are float comparisons, which GCC
 * will not if-convert while it must preserve floating-point exceptions (-ftrapping-math,
 * its default); nothing here reads the exception flags. And they run in the widest
 * vector unit the CPU has, picked when the module loads, whatever -march the library
 * was built for. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LT_GATE_PASS __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LT_GATE_PASS
#endif

int lt_rnn_gates(lt_rnn_cell cell) {
  switch (cell) {
  case LT_LSTM: return 4;
  case LT_GRU: return 3;
  default: return 1;
  }
}

/* The state's blocks after A and Hp, in units of N*T*H: LSTM Cp and Tc, GRU Hn. */
static int64_t state_extra_nth(lt_rnn_cell cell) { return cell == LT_RNN ? 0 : (cell == LT_LSTM ? 2 : 1); }

int lt_rnn_check_dims(const lt_rnn_dims *d) {
  int64_t gh, nt, tgh, ntgh, nth, rest, len;
  if (d->N < 1 || d->T < 1 || d->D < 1 || d->H < 1) return -1;
  if (lt_mul_overflow(lt_rnn_gates(d->cell), d->H, &gh) || lt_mul_overflow(d->N, d->T, &nt) ||
      lt_mul_overflow(d->T, gh, &tgh) || lt_mul_overflow(nt, gh, &ntgh) ||
      lt_mul_overflow(nt, d->H, &nth) || lt_mul_overflow(nth, 1 + state_extra_nth(d->cell), &rest))
    return -1;
  /* BLAS takes int sizes and leading dimensions */
  if (nt > INT_MAX || tgh > INT_MAX || d->D > INT_MAX) return -1;
  /* the longest buffers, the state (N*T*G*H + rest + N*G*H) and the GRU's scratch
   * (2 N*T*G*H), are both at most 2 N*T*G*H + rest */
  if (lt_add_overflow(ntgh, ntgh, &len) || lt_add_overflow(len, rest, &len)) return -1;
  return 0;
}

int64_t lt_rnn_state_size(const lt_rnn_dims *d) {
  const int64_t nt = d->N * d->T, gh = lt_rnn_gates(d->cell) * d->H;
  return nt * gh + nt * d->H * (1 + state_extra_nth(d->cell)) + (d->cell == LT_GRU ? d->N * gh : 0);
}

int64_t lt_rnn_scratch_size(const lt_rnn_dims *d) {
  return d->N * d->T * lt_rnn_gates(d->cell) * d->H * (d->cell == LT_GRU ? 2 : 1);
}

typedef struct {
  float *a, *hp, *cp, *tc, *hn, *s;
} rnn_state;

static rnn_state state_views(const lt_rnn_dims *d, float *state) {
  const int64_t nth = d->N * d->T * d->H;
  rnn_state v = {0};
  v.a = state;
  v.hp = v.a + nth * lt_rnn_gates(d->cell);
  if (d->cell == LT_LSTM) {
    v.cp = v.hp + nth;
    v.tc = v.cp + nth;
  } else if (d->cell == LT_GRU) {
    v.hn = v.hp + nth;
    v.s = v.hn + nth;
  }
  return v;
}


/* ---- gate passes: one row (one sequence n, one step t), H units ---- */

/* a: W_x x + W_h h (in), h' (out); h: h' */
LT_GATE_PASS static void rnn_forward_row(int64_t H, float *restrict a, const float *restrict b, float *restrict h) {
#pragma omp simd
  for (int64_t j = 0; j < H; j++) {
    const float v = lt_ftanh(a[j] + b[j]);
    a[j] = v;
    h[j] = v;
  }
}

/* dg = dL/d(pre-activation) = (grad_output + dh) (1 - h'^2) */
LT_GATE_PASS static void rnn_backward_row(int64_t H, const float *restrict a, const float *restrict grad_output,
                             const float *restrict dh, float *restrict dg) {
#pragma omp simd
  for (int64_t j = 0; j < H; j++) dg[j] = (grad_output[j] + dh[j]) * (1.0f - a[j] * a[j]);
}

/* a: pre-activations (i,f,g,o) without bias (in), activations (out);
 * c: c_{t-1}; cout: c_t; tc: tanh(c_t); h: h_t */
LT_GATE_PASS static void lstm_forward_row(int64_t H, float *restrict a, const float *restrict b,
                             const float *restrict c, float *restrict cout, float *restrict tc,
                             float *restrict h) {
#pragma omp simd
  for (int64_t j = 0; j < H; j++) {
    const float i = lt_fsigmoid(a[j] + b[j]);
    const float f = lt_fsigmoid(a[H + j] + b[H + j]);
    const float g = lt_ftanh(a[2 * H + j] + b[2 * H + j]);
    const float o = lt_fsigmoid(a[3 * H + j] + b[3 * H + j]);
    const float cn = f * c[j] + i * g;
    const float t = lt_ftanh(cn);
    a[j] = i;
    a[H + j] = f;
    a[2 * H + j] = g;
    a[3 * H + j] = o;
    cout[j] = cn;
    tc[j] = t;
    h[j] = o * t;
  }
}

/* dL/dh_t = grad_output + dh; dc: dL/dc_t from step t+1 (in), dL/dc_{t-1} (out);
 * dg: gradients w.r.t. the pre-activations of (i,f,g,o) */
LT_GATE_PASS static void lstm_backward_row(int64_t H, const float *restrict a, const float *restrict c,
                              const float *restrict tc, const float *restrict grad_output,
                              const float *restrict dh, float *restrict dc, float *restrict dg) {
#pragma omp simd
  for (int64_t j = 0; j < H; j++) {
    const float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j], t = tc[j];
    const float dht = grad_output[j] + dh[j];
    const float dct = dc[j] + dht * o * (1.0f - t * t);
    dg[j] = dct * g * i * (1.0f - i);
    dg[H + j] = dct * c[j] * f * (1.0f - f);
    dg[2 * H + j] = dct * i * (1.0f - g * g);
    dg[3 * H + j] = dht * t * o * (1.0f - o);
    dc[j] = dct * f;
  }
}

/* a: W_i x (r,z,n) without bias (in), activations (r,z,n) (out); s: W_h h (r,z,n);
 * hp: h_{t-1}; hn: W_hn h + b_hn (out); h: h_t */
LT_GATE_PASS static void gru_forward_row(int64_t H, float *restrict a, const float *restrict s,
                            const float *restrict bias_ih, const float *restrict bias_hh,
                            const float *restrict hp, float *restrict hn, float *restrict h) {
#pragma omp simd
  for (int64_t j = 0; j < H; j++) {
    const float r = lt_fsigmoid(a[j] + bias_ih[j] + s[j] + bias_hh[j]);
    const float z = lt_fsigmoid(a[H + j] + bias_ih[H + j] + s[H + j] + bias_hh[H + j]);
    const float m = s[2 * H + j] + bias_hh[2 * H + j];
    const float n = lt_ftanh(a[2 * H + j] + bias_ih[2 * H + j] + r * m);
    a[j] = r;
    a[H + j] = z;
    a[2 * H + j] = n;
    hn[j] = m;
    h[j] = n + z * (hp[j] - n);
  }
}

/* dL/dh_t = grad_output + dh; dh: dL/dh_t from step t+1 (in), the direct part z dL/dh_t of
 * dL/dh_{t-1} (out); dgx, dgh: gradients w.r.t. W_i x + b_i and W_h h + b_h */
LT_GATE_PASS static void gru_backward_row(int64_t H, const float *restrict a, const float *restrict hn,
                             const float *restrict hp, const float *restrict grad_output,
                             float *restrict dh, float *restrict dgx, float *restrict dgh) {
#pragma omp simd
  for (int64_t j = 0; j < H; j++) {
    const float r = a[j], z = a[H + j], n = a[2 * H + j];
    const float dht = grad_output[j] + dh[j];
    const float dn = dht * (1.0f - z) * (1.0f - n * n);
    const float dz = dht * (hp[j] - n) * z * (1.0f - z);
    const float dr = dn * hn[j] * r * (1.0f - r);
    dgx[j] = dr;
    dgx[H + j] = dz;
    dgx[2 * H + j] = dn;
    dgh[j] = dr;
    dgh[H + j] = dz;
    dgh[2 * H + j] = dn * r;
    dh[j] = dht * z;
  }
}

/* out[c] += scale * sum over rows of m[r][c] */
static void colsum_acc(int64_t rows, int64_t cols, float scale, const float *m, float *out) {
  for (int64_t r = 0; r < rows; r++) {
    const float *row = m + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; c++) out[c] += scale * row[c];
  }
}

/* Row n of an (N,H) initial state, or zeros. */
static void copy_or_zero(float *dst, const float *src, int64_t n) {
  if (src)
    memcpy(dst, src, (size_t)n * sizeof(float));
  else
    memset(dst, 0, (size_t)n * sizeof(float));
}

/* What the gate pass of step t reads and writes; rows r = n*T + t. */
typedef struct {
  const lt_rnn_dims *d;
  rnn_state s;
  int64_t t;
  const float *weight_hh;
  const float *bias_ih, *bias_hh; /* forward */
  float *y, *cN;
  const float *grad_output; /* backward: dh, dc are the (N,H) carries */
  float *dh, *dc, *dg, *dgh;
} step_ctx;

static void forward_gates(const step_ctx *c, int64_t n) {
  const int64_t T = c->d->T, H = c->d->H, GH = lt_rnn_gates(c->d->cell) * H, r = n * T + c->t;
  const rnn_state *s = &c->s;
  float *h = c->y + r * H;
  switch (c->d->cell) {
  case LT_LSTM:
    lstm_forward_row(H, s->a + r * GH, c->bias_ih, s->cp + r * H,
                     c->t + 1 < T ? s->cp + (r + 1) * H : c->cN + n * H, s->tc + r * H, h);
    break;
  case LT_GRU:
    gru_forward_row(H, s->a + r * GH, s->s + n * GH, c->bias_ih, c->bias_hh, s->hp + r * H, s->hn + r * H, h);
    break;
  default:
    rnn_forward_row(H, s->a + r * GH, c->bias_ih, h);
  }
  if (c->t + 1 < T) memcpy(s->hp + (r + 1) * H, h, (size_t)H * sizeof(float));
}

static void backward_gates(const step_ctx *c, int64_t n) {
  const int64_t T = c->d->T, H = c->d->H, GH = lt_rnn_gates(c->d->cell) * H, r = n * T + c->t;
  const rnn_state *s = &c->s;
  switch (c->d->cell) {
  case LT_LSTM:
    lstm_backward_row(H, s->a + r * GH, s->cp + r * H, s->tc + r * H, c->grad_output + r * H, c->dh + n * H,
                      c->dc + n * H, c->dg + r * GH);
    break;
  case LT_GRU:
    gru_backward_row(H, s->a + r * GH, s->hn + r * H, s->hp + r * H, c->grad_output + r * H, c->dh + n * H,
                     c->dg + r * GH, c->dgh + r * GH);
    break;
  default:
    rnn_backward_row(H, s->a + r * GH, c->grad_output + r * H, c->dh + n * H, c->dg + r * GH);
  }
}

/* Step t of the forward pass for the sequences [n0, n1): the recurrent product
 * W_h h_{t-1}, added onto the projections of step t (or kept apart for the GRU,
 * whose n block is scaled by r), then the gate pass. */
static void forward_step_rows(void *ctx, int64_t n0, int64_t n1, int lane) {
  const step_ctx *c = ctx;
  const int64_t T = c->d->T, H = c->d->H, GH = lt_rnn_gates(c->d->cell) * H;
  const float *hpt = c->s.hp + (n0 * T + c->t) * H;
  if (c->d->cell == LT_GRU)
    lt_sgemm(LT_NOTRANS, LT_TRANS, n1 - n0, GH, H, 1.0f, hpt,
                T * H, c->weight_hh, H, 0.0f, c->s.s + n0 * GH, GH);
  else
    lt_sgemm(LT_NOTRANS, LT_TRANS, n1 - n0, GH, H, 1.0f, hpt,
                T * H, c->weight_hh, H, 1.0f, c->s.a + (n0 * T + c->t) * GH, T * GH);
  for (int64_t n = n0; n < n1; n++) forward_gates(c, n);
}

/* Step t of the backward pass for the sequences [n0, n1): the gate pass, then
 * dL/dh_{t-1} = dGh_t W_h (plus the GRU's direct path z dL/dh_t, already there). */
static void backward_step_rows(void *ctx, int64_t n0, int64_t n1, int lane) {
  const step_ctx *c = ctx;
  const int64_t T = c->d->T, H = c->d->H, GH = lt_rnn_gates(c->d->cell) * H;
  for (int64_t n = n0; n < n1; n++) backward_gates(c, n);
  lt_sgemm(LT_NOTRANS, LT_NOTRANS, n1 - n0, H, GH, 1.0f,
              c->dgh + (n0 * T + c->t) * GH, T * GH, c->weight_hh, H,
              c->d->cell == LT_GRU ? 1.0f : 0.0f, c->dh + n0 * H, H);
}

/* A step over the batch: the sequences are independent within a step, so chunks of
 * them (at least LT_RNN_PARALLEL_MIN gate values each) go to lunet's thread pool; a
 * smaller batch (batch 10 has 2560 LSTM gate values) runs on the calling thread. */
static void each_step(const step_ctx *c, lt_range_fn rows) {
  const int64_t per_row = lt_rnn_gates(c->d->cell) * c->d->H;
  const int64_t grain = per_row >= LT_RNN_PARALLEL_MIN ? 1 : LT_RNN_PARALLEL_MIN / per_row;
  lt_parallel_for(c->d->N, grain, rows, (void *)c);
}

void lt_rnn_forward(const lt_rnn_dims *d, const float *x, const float *weight_ih,
                    const float *weight_hh, const float *bias_ih, const float *bias_hh, const float *h0,
                    const float *c0, float *y, float *cN, float *state) {
  const int64_t N = d->N, T = d->T, D = d->D, H = d->H, GH = lt_rnn_gates(d->cell) * H;
  step_ctx c = {.d = d, .s = state_views(d, state), .weight_hh = weight_hh, .bias_ih = bias_ih,
                .bias_hh = bias_hh, .y = y, .cN = cN};

  /* input projections of all steps: A = x W_x^T, (N*T, G*H) */
  lt_sgemm(LT_NOTRANS, LT_TRANS, N * T, GH, D, 1.0f, x,
              D, weight_ih, D, 0.0f, c.s.a, GH);
  for (int64_t n = 0; n < N; n++) {
    copy_or_zero(c.s.hp + n * T * H, h0 ? h0 + n * H : NULL, H);
    if (d->cell == LT_LSTM) copy_or_zero(c.s.cp + n * T * H, c0 ? c0 + n * H : NULL, H);
  }
  for (c.t = 0; c.t < T; c.t++) each_step(&c, forward_step_rows);
}

void lt_rnn_backward_input(const lt_rnn_dims *d, const float *weight_ih, const float *weight_hh,
                           const float *state, const float *grad_output, float *grad_input, float *grad_h0,
                           float *grad_c0, float *scratch) {
  const int64_t N = d->N, T = d->T, D = d->D, H = d->H, GH = lt_rnn_gates(d->cell) * H;
  /* the state is only read; the gradient that flows into W_h h is dG itself except
   * for the GRU. grad_h0 and grad_c0 carry dL/dh_t and dL/dc_t from step to step and end as
   * dL/dh0 and dL/dc0. */
  step_ctx c = {.d = d, .s = state_views(d, (float *)state), .weight_hh = weight_hh,
                .grad_output = grad_output, .dh = grad_h0, .dc = grad_c0,
                .dg = scratch, .dgh = d->cell == LT_GRU ? scratch + N * T * GH : scratch};

  memset(grad_h0, 0, (size_t)(N * H) * sizeof(float));
  if (d->cell == LT_LSTM) memset(grad_c0, 0, (size_t)(N * H) * sizeof(float));
  for (c.t = T - 1; c.t >= 0; c.t--) each_step(&c, backward_step_rows);
  /* grad_input = dG W_x, all steps at once */
  if (grad_input)
    lt_sgemm(LT_NOTRANS, LT_NOTRANS, N * T, D, GH, 1.0f, c.dg,
                GH, weight_ih, D, 0.0f, grad_input, D);
}

void lt_rnn_backward_params(const lt_rnn_dims *d, const float *x, const float *state,
                            const float *scratch, float scale, float *grad_weight_ih,
                            float *grad_weight_hh, float *grad_bias_ih, float *grad_bias_hh) {
  const int64_t N = d->N, T = d->T, D = d->D, H = d->H, GH = lt_rnn_gates(d->cell) * H;
  const rnn_state s = state_views(d, (float *)state);
  const float *dg = scratch, *dgh = d->cell == LT_GRU ? scratch + N * T * GH : scratch;
  /* all steps at once: dW_x += dG^T x, dW_h += dGh^T Hp */
  lt_sgemm(LT_TRANS, LT_NOTRANS, GH, D, N * T, scale, dg,
              GH, x, D, 1.0f, grad_weight_ih, D);
  lt_sgemm(LT_TRANS, LT_NOTRANS, GH, H, N * T, scale, dgh,
              GH, s.hp, H, 1.0f, grad_weight_hh, H);
  colsum_acc(N * T, GH, scale, dg, grad_bias_ih);
  if (d->cell == LT_GRU) colsum_acc(N * T, GH, scale, dgh, grad_bias_hh);
}
