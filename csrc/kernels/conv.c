/* conv.c — 2-D convolution (cross-correlation, as every deep-learning framework
 * computes it) over NCHW batches, lowered to sgemm (gemm.h) through im2col; with
 * dilation and groups, and hence also the transposed convolution (nnkernels.h).
 *
 * Image by image: one image is unfolded into cols (K, L), K = c*kh*kw, L = oh*ow, small
 * enough to stay in cache, and multiplied with the filters viewed as an (oc, K) matrix
 * in one sgemm whose result is that image's (oc, L) output plane: NCHW needs no
 * transposes. With groups, the image is unfolded group by group, each group's input
 * channels a convolution of their own with the group's slices of the filters and the
 * output planes: one im2col and one sgemm per group. A depthwise group (one input
 * channel: groups = c) skips both and runs its taps over the padded plane directly.
 * The images are spread over the lanes of lunet's thread pool
 * (threadpool.h), each lane with its own cols and padded image in the workspace.
 *
 * The parameter gradients sum over the images. So that the sums do not depend on
 * which thread took which image, nor on the thread count, the batch is cut into a
 * fixed number of blocks (LT_CONV2D_BLOCKS, fewer for a small batch), each block's sum
 * goes to its own slot of the workspace, and the slots are added in order at the end.
 */
#include <string.h>
#include "gemm.h"
#include "nnkernels.h"
#include "tensor.h"
#include "threadpool.h"

int64_t lt_window_outsize(int64_t in, int64_t k, int64_t stride, int64_t pad) {
  int64_t padded;
  if (lt_add_overflow(pad, pad, &padded) || lt_add_overflow(in, padded, &padded) || padded < k) return 0;
  return (padded - k) / stride + 1;
}

/* Both unfold directions go through a zero-padded copy of the image, (c, h+2ph, w+2pw),
 * so that every window lies inside it and the inner loops are plain strided copies. */
static int64_t padded_floats(const lt_conv2d_geom *g) {
  return g->c * (g->h + 2 * g->ph) * (g->w + 2 * g->pw);
}

/* The short rows of a window (14 or 28 columns in LeNet-5) are moved four floats at a
 * time, the last four overlapping the ones before when n is not a multiple of 4: no
 * scalar tail, and no call (GCC turns a copy loop into a call of memmove, whose set-up
 * costs more than a row of 14). vec4 is a float vector that may sit anywhere a float may. */
typedef float vec4 __attribute__((vector_size(16), aligned(4)));

#define MOVE4(d, s, x) (*(vec4 *)((d) + (x)) = *(const vec4 *)((s) + (x)))

/* d[x] = s[x] for x < n: rows up to 32 floats by a jump into straight-line moves. */
static inline void copy_row(float *restrict d, const float *restrict s, int64_t n) {
  if (n < 4 || n > 32) {
    memcpy(d, s, (size_t)n * sizeof(float));
    return;
  }
  switch ((n - 1) / 4) { /* the moves at 4k for 4k + 4 < n... */
    case 7: MOVE4(d, s, 24); /* fall through */
    case 6: MOVE4(d, s, 20); /* fall through */
    case 5: MOVE4(d, s, 16); /* fall through */
    case 4: MOVE4(d, s, 12); /* fall through */
    case 3: MOVE4(d, s, 8); /* fall through */
    case 2: MOVE4(d, s, 4); /* fall through */
    case 1: MOVE4(d, s, 0); /* fall through */
    default: MOVE4(d, s, n - 4); /* ...and the last four */
  }
}

/* d[x] += s[x] for x < n, the adjoint of copy_row: the last four sums are taken before
 * the loop overwrites any of them, so that the overlap stores the same values twice. */
static inline void add_row(float *restrict d, const float *restrict s, int64_t n) {
  if (n < 4) {
    for (int64_t x = 0; x < n; x++) d[x] += s[x];
    return;
  }
  const vec4 last = *(const vec4 *)(d + n - 4) + *(const vec4 *)(s + n - 4);
  for (int64_t x = 0; x + 4 < n; x += 4) *(vec4 *)(d + x) += *(const vec4 *)(s + x);
  *(vec4 *)(d + n - 4) = last;
}

/* The (oh, ow) window positions of one tap (i, j) over a padded plane: cols row d (L
 * floats) from the plane p at that tap's offset, rows rs floats apart, columns sw apart;
 * add: the adjoint, p += d. */
static void tap_rows(float *restrict d, float *restrict p, int64_t oh, int64_t ow, int64_t rs, int64_t sw,
                     int add) {
  for (int64_t y = 0; y < oh; y++, d += ow, p += rs) {
    if (sw == 1 && add) add_row(p, d, ow);
    else if (sw == 1) copy_row(d, p, ow);
    else if (add) for (int64_t x = 0; x < ow; x++) p[x * sw] += d[x];
    else for (int64_t x = 0; x < ow; x++) d[x] = p[x * sw];
  }
}

/* pad = the zero-padded copy of in (c, h, w) */
static void pad_image(const float *in, float *pad, const lt_conv2d_geom *g) {
  const int64_t h = g->h, w = g->w, PH = h + 2 * g->ph, PW = w + 2 * g->pw;
  memset(pad, 0, (size_t)padded_floats(g) * sizeof(float));
  for (int64_t ci = 0; ci < g->c; ci++) {
    for (int64_t r = 0; r < h; r++) copy_row(pad + (ci * PH + r + g->ph) * PW + g->pw, in + (ci * h + r) * w, w);
  }
}

/* in (c, h, w) = the inside of pad, the adjoint of pad_image's copy */
static void crop_image(const float *pad, float *in, const lt_conv2d_geom *g) {
  const int64_t h = g->h, w = g->w, PH = h + 2 * g->ph, PW = w + 2 * g->pw;
  for (int64_t ci = 0; ci < g->c; ci++) {
    for (int64_t r = 0; r < h; r++) copy_row(in + (ci * h + r) * w, pad + (ci * PH + r + g->ph) * PW + g->pw, w);
  }
}

/* Both directions: add = 0 unfolds in (c, h, w) into cols through pad; add = 1 sums cols
 * into pad and copies its inside to in (then the gradient). */
static void unfold(float *in, float *cols, float *pad, const lt_conv2d_geom *g, int add) {
  const int64_t c = g->c, h = g->h, w = g->w, kh = g->kh, kw = g->kw, oh = g->oh, ow = g->ow;
  const int64_t L = oh * ow, PH = h + 2 * g->ph, PW = w + 2 * g->pw;
  if (add) memset(pad, 0, (size_t)padded_floats(g) * sizeof(float));
  else pad_image(in, pad, g);
  for (int64_t ci = 0; ci < c; ci++) {
    for (int64_t i = 0; i < kh; i++) {
      for (int64_t j = 0; j < kw; j++) {
        tap_rows(cols + ((ci * kh + i) * kw + j) * L, pad + (ci * PH + i * g->dh) * PW + j * g->dw, oh, ow,
                 g->sh * PW, g->sw, add);
      }
    }
  }
  if (add) crop_image(pad, in, g);
}

void lt_im2col(const float *in, float *cols, float *pad, const lt_conv2d_geom *g) {
  unfold((float *)in, cols, pad, g, 0); /* in is only read when add = 0 */
}

void lt_col2im(const float *cols, float *grad_input, float *pad, const lt_conv2d_geom *g) {
  unfold(grad_input, (float *)cols, pad, g, 1); /* cols is only read when add = 1 */
}

/* Depthwise groups (one input channel each, the depthwise convolution and its channel
 * multipliers) are computed from the padded plane directly, tap by tap: an unfold and a
 * product of one row would cost more in set-up than the arithmetic. `one` is a group's
 * geometry (c = 1, oc = G filters), w its G filters (G, kh, kw), pad its padded plane.
 * Each sum runs in one fixed order (the taps in order), whatever the thread. */
static int depthwise(const lt_conv2d_geom *g) { return g->groups > 1 && g->c == g->groups; }

/* Their loops run in AVX2 where the CPU has it, chosen when the module loads. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DW_PASS __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DW_PASS
#endif

typedef float dw_v8 __attribute__((vector_size(32)));
typedef float dw_v8u __attribute__((vector_size(32), aligned(4)));
typedef int32_t dw_v8i __attribute__((vector_size(32)));

/* d[x] = b + sum over the taps (i, j) in order of w[i][j] * base[i istep + j jstep + x sw],
 * for x < n. With sw = 1 and n >= 8 it goes 32 at a time, four vectors of sums in registers
 * over every tap, a vector that would pass the row's end moved back to end there (each d[x]
 * is the same sum wherever its vector starts, so an overlap stores the same values twice);
 * otherwise one output at a time, in the same order. */
static inline __attribute__((always_inline)) void dw_taps_row(float *d, int64_t n, const float *base, int64_t istep,
                                                              int64_t jstep, int64_t sw, const float *w, int64_t kh,
                                                              int64_t kw, float b) {
  if (sw == 1 && n >= 8) {
    for (int64_t x = 0; x < n; x += 32) {
      const dw_v8 start = {b, b, b, b, b, b, b, b};
      dw_v8 acc[4] = {start, start, start, start};
      int64_t at[4];
      for (int v = 0; v < 4; v++) at[v] = x + 8 * v > n - 8 ? n - 8 : x + 8 * v;
      for (int64_t i = 0; i < kh; i++) {
        for (int64_t j = 0; j < kw; j++) {
          const float *r = base + i * istep + j * jstep;
          const float wt = w[i * kw + j];
          for (int v = 0; v < 4; v++) acc[v] += wt * *(const dw_v8u *)(r + at[v]);
        }
      }
      for (int v = 0; v < 4; v++) *(dw_v8u *)(d + at[v]) = acc[v];
    }
    return;
  }
  for (int64_t x = 0; x < n; x++) {
    float acc = b;
    for (int64_t i = 0; i < kh; i++) {
      for (int64_t j = 0; j < kw; j++) acc += w[i * kw + j] * base[i * istep + j * jstep + x * sw];
    }
    d[x] = acc;
  }
}

/* out (G, oh, ow) = bias (or 0) + the G filters over the padded plane, row by row. */
DW_PASS static void dw_forward(const float *pad, const float *w, const float *bias, float *out,
                               const lt_conv2d_geom *one) {
  const int64_t PW = one->w + 2 * one->pw, oh = one->oh, ow = one->ow, kh = one->kh, kw = one->kw;
  for (int64_t o = 0; o < one->oc; o++, out += oh * ow, w += kh * kw) {
    for (int64_t y = 0; y < oh; y++) {
      dw_taps_row(out + y * ow, ow, pad + y * one->sh * PW, one->dh * PW, one->dw, one->sw, w, kh, kw,
                  bias ? bias[o] : 0.0f);
    }
  }
}

/* pad (the padded plane's gradient, zeroed here) = the adjoint of dw_forward for grad_output (G, oh, ow) */
DW_PASS static void dw_backward_input(const float *grad_output, const float *w, float *pad, const lt_conv2d_geom *one) {
  const int64_t PW = one->w + 2 * one->pw, oh = one->oh, ow = one->ow, sw = one->sw;
  memset(pad, 0, (size_t)padded_floats(one) * sizeof(float));
  for (int64_t o = 0; o < one->oc; o++, grad_output += oh * ow) {
    for (int64_t i = 0; i < one->kh; i++) {
      for (int64_t j = 0; j < one->kw; j++) {
        const float wt = *w++;
        float *p = pad + i * one->dh * PW + j * one->dw;
        for (int64_t y = 0; y < oh; y++) {
          float *restrict d = p + y * one->sh * PW;
          const float *restrict r = grad_output + y * ow;
          if (sw == 1) for (int64_t x = 0; x < ow; x++) d[x] += wt * r[x];
          else for (int64_t x = 0; x < ow; x++) d[x * sw] += wt * r[x];
        }
      }
    }
  }
}

/* A stride-1 depthwise group of one filter (no channel multiplier) gathers instead: each
 * input value sums its taps' output gradients, read from a copy of the output gradient's
 * plane set in zeros by the window's span (bordered_dims), so that every tap lands inside. */
static int dw_gathers(const lt_conv2d_geom *g) {
  return depthwise(g) && g->oc == g->groups && g->sh == 1 && g->sw == 1;
}

/* The bordered plane: max(h + ph, oh) + (kh-1) dh rows of max(w + pw, ow) + (kw-1) dw;
 * 1 when a size overflows int64 (lt_conv2d_work_floats checks it first). */
static int bordered_dims(const lt_conv2d_geom *g, int64_t *rows, int64_t *cols) {
  int64_t mt, ml;
  return lt_mul_overflow(g->kh - 1, g->dh, &mt) || lt_mul_overflow(g->kw - 1, g->dw, &ml) ||
         lt_add_overflow(g->h, g->ph, rows) || lt_add_overflow(*rows > g->oh ? *rows : g->oh, mt, rows) ||
         lt_add_overflow(g->w, g->pw, cols) || lt_add_overflow(*cols > g->ow ? *cols : g->ow, ml, cols);
}

/* grad_input (h, w) = the taps of w (kh, kw) over grad_output (oh, ow), row by row; border
 * is the bordered plane's space. */
DW_PASS static void dw_gather_input(const float *grad_output, const float *w, float *grad_input, float *border,
                                    const lt_conv2d_geom *one) {
  const int64_t oh = one->oh, ow = one->ow, mt = (one->kh - 1) * one->dh, ml = (one->kw - 1) * one->dw;
  int64_t BH, BW;
  bordered_dims(one, &BH, &BW);
  memset(border, 0, (size_t)(BH * BW) * sizeof(float));
  for (int64_t r = 0; r < oh; r++) copy_row(border + (r + mt) * BW + ml, grad_output + r * ow, ow);
  /* tap (i, j) of input (y, x) reads border[y + ph + mt - i dh][x + pw + ml - j dw] */
  for (int64_t y = 0; y < one->h; y++) {
    dw_taps_row(grad_input + y * one->w, one->w, border + (y + one->ph + mt) * BW + one->pw + ml, -one->dh * BW,
                -one->dw, 1, w, one->kh, one->kw, 0.0f);
  }
}

/* The sums of taps t0 .. t0+nt-1 (nt <= 16) of one filter into sums[]: each tap summed in a
 * vector over the stride-1 rows' vectors and in a float over the columns of other rows,
 * then the two added. */
static inline __attribute__((always_inline)) void dw_tap_sums(const float *pad, const float *grad_output,
                                                              int64_t t0, int nt, const lt_conv2d_geom *one,
                                                              float *sums) {
  const int64_t PW = one->w + 2 * one->pw, oh = one->oh, ow = one->ow, sw = one->sw, kw = one->kw;
  const int64_t whole = sw == 1 ? ow - ow % 8 : 0;
  /* a stride-1 row of at least 8 ends with the vector of its last 8 columns, the lanes
   * the whole vectors counted masked off (a select, not a product with 0: inf * 0 is NaN) */
  const int tail = sw == 1 && ow >= 8 && whole < ow;
  dw_v8i keep = {0};
  for (int l = 0; l < 8; l++) keep[l] = ow - 8 + l >= whole ? -1 : 0;
  dw_v8 acc[16];
  float rest[16];
  for (int t = 0; t < nt; t++) {
    acc[t] = (dw_v8){0};
    rest[t] = 0.0f;
  }
  for (int64_t y = 0; y < oh; y++) {
    const float *q = grad_output + y * ow, *row = pad + y * one->sh * PW, *r[16];
    for (int t = 0, i = (int)(t0 / kw), j = (int)(t0 % kw); t < nt; t++) {
      r[t] = row + i * one->dh * PW + j * one->dw;
      if (++j == kw) j = 0, i++;
    }
    for (int64_t x = 0; x < whole; x += 8) {
      const dw_v8 g = *(const dw_v8u *)(q + x);
      for (int t = 0; t < nt; t++) acc[t] += g * *(const dw_v8u *)(r[t] + x);
    }
    if (tail) {
      const dw_v8 g = *(const dw_v8u *)(q + ow - 8);
      for (int t = 0; t < nt; t++) acc[t] += (dw_v8)((dw_v8i)(g * *(const dw_v8u *)(r[t] + ow - 8)) & keep);
      continue;
    }
    for (int t = 0; t < nt; t++) {
      float sum = rest[t];
      for (int64_t x = whole; x < ow; x++) sum += q[x] * r[t][x * sw];
      rest[t] = sum;
    }
  }
  for (int t = 0; t < nt; t++) {
    const dw_v8 v = acc[t];
    sums[t] = (((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))) + rest[t];
  }
}

/* part (G, kh, kw) = scale * (the taps' sums of grad_output (G, oh, ow) times the padded
 * plane) + (first ? 0 : part), 16 taps at a time (a 3x3 filter's 9 with the count fixed
 * at compile time, so that its sums stay in registers). */
DW_PASS static void dw_backward_params(const float *pad, const float *grad_output, float *part, float scale,
                                       int first, const lt_conv2d_geom *one) {
  const int64_t taps = one->kh * one->kw;
  float sums[16];
  for (int64_t o = 0; o < one->oc; o++, grad_output += one->oh * one->ow, part += taps) {
    for (int64_t t0 = 0; t0 < taps; t0 += 16) {
      const int nt = taps - t0 < 16 ? (int)(taps - t0) : 16;
      if (nt == 9) dw_tap_sums(pad, grad_output, t0, 9, one, sums);
      else dw_tap_sums(pad, grad_output, t0, nt, one, sums);
      for (int t = 0; t < nt; t++) part[t0 + t] = (first ? 0.0f : part[t0 + t]) + scale * sums[t];
    }
  }
}

/* The images are spread over `lanes` lanes of the thread pool; the parameter gradients
 * are summed per block of images, `blocks` blocks in a fixed order, so that they do not
 * depend on the thread count. */
#define CONV2D_BLOCKS 8

static int conv2d_lanes(const lt_conv2d_geom *g) {
  const int lanes = lt_parallel_lanes();
  return g->n < lanes ? (int)(g->n > 0 ? g->n : 1) : lanes;
}

static int conv2d_blocks(const lt_conv2d_geom *g) {
  return g->n < CONV2D_BLOCKS ? (int)(g->n > 0 ? g->n : 1) : CONV2D_BLOCKS;
}

/* The geometry of one group: its c/groups input channels, as one image to unfold. */
static lt_conv2d_geom group_geom(const lt_conv2d_geom *g) {
  lt_conv2d_geom one = *g;
  one.c = g->c / g->groups;
  one.oc = g->oc / g->groups;
  one.groups = 1;
  return one;
}

/* The filters' row length, the K of one group's sgemm: (c/groups)*kh*kw. */
static int64_t group_k(const lt_conv2d_geom *g) { return g->c / g->groups * g->kh * g->kw; }

/* A lane's cols space: one group's cols (K, L), or a gathering depthwise group's bordered
 * plane where that is larger. */
static int64_t cols_floats(const lt_conv2d_geom *g) {
  int64_t kl = group_k(g) * g->oh * g->ow, rows, cols;
  if (!dw_gathers(g)) return kl;
  bordered_dims(g, &rows, &cols);
  return rows * cols > kl ? rows * cols : kl;
}

/* A lane's floats: its cols space and one group's padded image (c/groups)*(h+2ph)*(w+2pw).
 * The groups are unfolded one at a time, so that a grouped convolution's cols stay in
 * cache. */
static int64_t lane_floats(const lt_conv2d_geom *g) {
  const lt_conv2d_geom one = group_geom(g);
  return cols_floats(g) + padded_floats(&one);
}

/* A block's floats: its parameter gradients, oc*K + oc. */
static int64_t block_floats(const lt_conv2d_geom *g) { return g->oc * group_k(g) + g->oc; }

/* A gathering depthwise group's cols space is also its bordered plane: kl grows to it. */
static int bordered_overflows(const lt_conv2d_geom *g, int64_t *kl) {
  int64_t rows, cols, n;
  if (!dw_gathers(g)) return 0;
  if (bordered_dims(g, &rows, &cols) || lt_mul_overflow(rows, cols, &n)) return 1;
  if (n > *kl) *kl = n;
  return 0;
}

int64_t lt_conv2d_work_floats(const lt_conv2d_geom *g) {
  int64_t k, l, kl, ok, ph, pw, pad, lane, block, lanes, blocks, total;
  if (lt_mul_overflow(g->c / g->groups, g->kh, &k) || lt_mul_overflow(k, g->kw, &k) ||
      lt_mul_overflow(g->oh, g->ow, &l) || lt_mul_overflow(k, l, &kl) || lt_mul_overflow(g->oc, k, &ok) ||
      lt_add_overflow(g->ph, g->ph, &ph) || lt_add_overflow(g->h, ph, &ph) || lt_add_overflow(g->pw, g->pw, &pw) ||
      lt_add_overflow(g->w, pw, &pw) || lt_mul_overflow(g->c / g->groups, ph, &pad) ||
      lt_mul_overflow(pad, pw, &pad) || bordered_overflows(g, &kl) ||
      lt_add_overflow(kl, pad, &lane) || lt_add_overflow(ok, g->oc, &block) ||
      lt_mul_overflow(lane, conv2d_lanes(g), &lanes) || lt_mul_overflow(block, conv2d_blocks(g), &blocks) ||
      lt_add_overflow(lanes, blocks, &total))
    return -1;
  /* the sizes above are checked either way: the binding relies on them for the int range */
  return lt_conv2d_winograd(g) ? lt_winograd_work_floats(g, conv2d_lanes(g), conv2d_blocks(g)) : total;
}

/* The workspace: lanes x (one group's cols (K, L) and padded image), then blocks x
 * (grad_weight (oc*K), grad_bias (oc)) partial sums. */
static float *lane_cols(float *work, int lane, const lt_conv2d_geom *g) {
  return work + lane * lane_floats(g);
}

static float *lane_pad(float *work, int lane, const lt_conv2d_geom *g) {
  return lane_cols(work, lane, g) + cols_floats(g);
}

static float *block_sums(float *work, int block, const lt_conv2d_geom *g) {
  return work + conv2d_lanes(g) * lane_floats(g) + block * block_floats(g);
}

typedef struct {
  const lt_conv2d_geom *g;
  const float *in, *weight, *bias, *grad_output;
  float *out, *grad_input, *work;
  float scale;
  int has_grad_bias;
} conv_job;

static void forward_images(void *ctx, int64_t begin, int64_t end, int lane) {
  const conv_job *job = ctx;
  const lt_conv2d_geom *g = job->g;
  const lt_conv2d_geom one = group_geom(g);
  const int64_t L = g->oh * g->ow, K = group_k(g), G = one.oc, CHW = one.c * g->h * g->w;
  float *cols = lane_cols(job->work, lane, g), *pad = lane_pad(job->work, lane, g);
  for (int64_t b = begin; b < end; b++) {
    float *o = job->out + b * g->oc * L;
    if (job->bias && !depthwise(g)) {
      for (int64_t oc = 0; oc < g->oc; oc++) {
        for (int64_t l = 0; l < L; l++) o[oc * L + l] = job->bias[oc];
      }
    }
    for (int64_t gi = 0; gi < g->groups; gi++) {
      if (depthwise(g)) {
        pad_image(job->in + (b * g->groups + gi) * CHW, pad, &one);
        dw_forward(pad, job->weight + gi * G * K, job->bias ? job->bias + gi * G : NULL, o + gi * G * L, &one);
        continue;
      }
      lt_im2col(job->in + (b * g->groups + gi) * CHW, cols, pad, &one);
      lt_sgemm(LT_NOTRANS, LT_NOTRANS, G, L, K, 1.0f, job->weight + gi * G * K, K, cols, L,
               job->bias ? 1.0f : 0.0f, o + gi * G * L, L);
    }
  }
}

void lt_conv2d_forward(const float *in, const float *weight, const float *bias, float *out,
                       float *work, const lt_conv2d_geom *g) {
  if (lt_conv2d_winograd(g)) {
    lt_winograd_forward(in, weight, bias, out, work, g);
    return;
  }
  conv_job job = {.g = g, .in = in, .weight = weight, .bias = bias, .out = out, .work = work};
  lt_parallel_for(g->n, 1, forward_images, &job);
}

static void backward_input_images(void *ctx, int64_t begin, int64_t end, int lane) {
  const conv_job *job = ctx;
  const lt_conv2d_geom *g = job->g;
  const lt_conv2d_geom one = group_geom(g);
  const int64_t L = g->oh * g->ow, K = group_k(g), G = one.oc, HW = g->h * g->w;
  float *cols = lane_cols(job->work, lane, g), *pad = lane_pad(job->work, lane, g);
  for (int64_t b = begin; b < end; b++) {
    const float *grad_output_b = job->grad_output + b * g->oc * L;
    float *grad_input_b = job->grad_input + b * g->c * HW;
    for (int64_t gi = 0; gi < g->groups; gi++) {
      if (dw_gathers(g)) {
        dw_gather_input(grad_output_b + gi * L, job->weight + gi * K, grad_input_b + gi * HW, cols, &one);
        continue;
      }
      if (depthwise(g)) {
        dw_backward_input(grad_output_b + gi * G * L, job->weight + gi * G * K, pad, &one);
        crop_image(pad, grad_input_b + gi * one.c * HW, &one);
        continue;
      }
      lt_sgemm(LT_TRANS, LT_NOTRANS, K, L, G, 1.0f, job->weight + gi * G * K, K, grad_output_b + gi * G * L, L,
               0.0f, cols, L);
      lt_col2im(cols, grad_input_b + gi * one.c * HW, pad, &one);
    }
    if (!job->bias) continue;
    for (int64_t ci = 0; ci < g->c; ci++) {
      for (int64_t l = 0; l < HW; l++) grad_input_b[ci * HW + l] += job->bias[ci];
    }
  }
}

void lt_conv2d_backward_input(const float *grad_output, const float *weight, const float *bias,
                              float *grad_input, float *work, const lt_conv2d_geom *g) {
  if (lt_conv2d_winograd(g)) {
    lt_winograd_backward_input(grad_output, weight, bias, grad_input, work, g);
    return;
  }
  conv_job job = {.g = g, .grad_output = grad_output, .weight = weight, .bias = bias, .grad_input = grad_input,
                  .work = work};
  lt_parallel_for(g->n, 1, backward_input_images, &job);
}

/* The sum of one plane of l floats, in one fixed order. */
static float plane_sum(const float *q, int64_t l) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < l; k++) s += q[k];
  return s;
}

void lt_conv2d_bias_sums(float *part_b, const float *grad_output_b, int64_t oc, int64_t l, float scale, int first) {
  for (int64_t o = 0; o < oc; o++) part_b[o] = (first ? 0.0f : part_b[o]) + scale * plane_sum(grad_output_b + o * l, l);
}

/* Block i of the batch: images [i*n/blocks, (i+1)*n/blocks). */
static int64_t block_start(int64_t i, const lt_conv2d_geom *g) { return i * g->n / conv2d_blocks(g); }

/* One block's sums: grad_weight slot = scale * sum_b grad_output[b] . cols[b]^T group by group,
 * grad_bias slot = scale * sum_b sum_l grad_output[b][o][l]; the first image overwrites the slot. */
static void backward_params_blocks(void *ctx, int64_t begin, int64_t end, int lane) {
  const conv_job *job = ctx;
  const lt_conv2d_geom *g = job->g;
  const lt_conv2d_geom one = group_geom(g);
  const int64_t L = g->oh * g->ow, K = group_k(g), G = one.oc, CHW = one.c * g->h * g->w;
  float *cols = lane_cols(job->work, lane, g), *pad = lane_pad(job->work, lane, g);
  for (int64_t i = begin; i < end; i++) {
    float *part_w = block_sums(job->work, (int)i, g), *part_b = part_w + g->oc * K;
    for (int64_t b = block_start(i, g); b < block_start(i + 1, g); b++) {
      const float *grad_output_b = job->grad_output + b * g->oc * L;
      const int first = b == block_start(i, g);
      for (int64_t gi = 0; gi < g->groups; gi++) {
        if (depthwise(g)) {
          pad_image(job->in + (b * g->groups + gi) * CHW, pad, &one);
          dw_backward_params(pad, grad_output_b + gi * G * L, part_w + gi * G * K, job->scale, first, &one);
          continue;
        }
        lt_im2col(job->in + (b * g->groups + gi) * CHW, cols, pad, &one);
        lt_sgemm(LT_NOTRANS, LT_TRANS, G, K, L, job->scale, grad_output_b + gi * G * L, L, cols, L,
                 first ? 0.0f : 1.0f, part_w + gi * G * K, K);
      }
      if (job->has_grad_bias) lt_conv2d_bias_sums(part_b, grad_output_b, g->oc, L, job->scale, first);
    }
  }
}

void lt_conv2d_backward_params(const float *in, const float *grad_output, float *grad_weight, float *grad_bias,
                               float *work, float scale, const lt_conv2d_geom *g) {
  const int64_t K = group_k(g);
  const int blocks = conv2d_blocks(g);
  if (lt_conv2d_winograd(g)) {
    lt_winograd_backward_params(in, grad_output, grad_weight, grad_bias, work, scale, g, conv2d_lanes(g), blocks);
    return;
  }
  conv_job job = {.g = g, .in = in, .grad_output = grad_output, .work = work, .scale = scale,
                  .has_grad_bias = grad_bias != NULL};
  lt_parallel_for(blocks, 1, backward_params_blocks, &job);
  for (int i = 0; i < blocks; i++) {
    const float *part_w = block_sums(work, i, g), *part_b = part_w + g->oc * K;
    for (int64_t k = 0; k < g->oc * K; k++) grad_weight[k] += part_w[k];
    if (grad_bias) {
      for (int64_t oc = 0; oc < g->oc; oc++) grad_bias[oc] += part_b[oc];
    }
  }
}

void lt_channel_sums(const float *x, float *out, int64_t n, int64_t c, int64_t l, float scale) {
  for (int64_t b = 0; b < n; b++) {
    for (int64_t ci = 0; ci < c; ci++) {
      out[ci] += scale * plane_sum(x + (b * c + ci) * l, l);
    }
  }
}
