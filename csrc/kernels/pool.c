/* pool.c — 2-D max-pooling over NCHW batches, with the argmax "switches" that the
 * backward pass and the deconvnet's unpooling route values through; and 2-D average
 * pooling, over fixed windows or adaptive ones (at the end).
 *
 * A switch is the flat index of the window's maximum inside its own input plane,
 * 1-based as every index lunet shows to Lua: row * w + col + 1. Planes are
 * (image, channel) pairs, processed in parallel. */
#include <math.h>
#include <string.h>
#include "nnkernels.h"
#include "threadpool.h"

/* mask ? a : b for mask all ones or all zeros, on the bits. */
static inline float blendf(int32_t mask, float a, float b) {
  uint32_t ua, ub;
  memcpy(&ua, &a, sizeof ua);
  memcpy(&ub, &b, sizeof ub);
  const uint32_t u = (ua & (uint32_t)mask) | (ub & ~(uint32_t)mask);
  float r;
  memcpy(&r, &u, sizeof r);
  return r;
}

/* The window's running maximum takes v (at flat index at) when v is greater or NaN: a
 * NaN wins, and then stays since nothing compares greater. Bit masks instead of
 * branches: the comparisons are data-dependent coin flips. */
static inline void take_max(float v, int32_t at, float *best, int32_t *arg) {
  const int32_t take = -(int32_t)((v > *best) | (v != v));
  *best = blendf(take, v, *best);
  *arg = (take & at) | (~take & *arg);
}

/* One (h, w) input plane into its (oh, ow) output and switches, the windows clipped to
 * the input where they reach into the padding. */
static void pool_plane(const float *src, float *dst, int32_t *sw, const lt_conv2d_geom *g) {
  const int64_t kh = g->kh, kw = g->kw;
  for (int64_t y = 0; y < g->oh; y++) {
    const int64_t r0 = y * g->sh - g->ph;
    const int64_t ra = r0 < 0 ? 0 : r0, rb = r0 + kh > g->h ? g->h : r0 + kh;
    for (int64_t x = 0; x < g->ow; x++) {
      const int64_t c0 = x * g->sw - g->pw;
      const int64_t ca = c0 < 0 ? 0 : c0, cb = c0 + kw > g->w ? g->w : c0 + kw;
      float best = -INFINITY; /* a window of -inf yields -inf, at its first element */
      int32_t arg = (int32_t)(ra * g->w + ca);
      for (int64_t r = ra; r < rb; r++) {
        for (int64_t c = ca; c < cb; c++) take_max(src[r * g->w + c], (int32_t)(r * g->w + c), &best, &arg);
      }
      dst[y * g->ow + x] = best;
      sw[y * g->ow + x] = arg + 1;
    }
  }
}

/* Four windows side by side, one per vector lane. */
typedef float f4 __attribute__((vector_size(16), aligned(4)));
typedef int32_t i4 __attribute__((vector_size(16), aligned(4)));

/* take_max in four lanes at once. */
static inline void take_max4(f4 v, i4 at, f4 *best, i4 *arg) {
  const i4 take = (v > *best) | (v != v);
  *best = (f4)(((i4)v & take) | ((i4)*best & ~take));
  *arg = (at & take) | (*arg & ~take);
}

/* Windows x..x+3 of rows s0, s1 (the row pair of output row y; w: the input's width)
 * into d and a, their columns split into even and odd lanes. */
static inline void pool4_2x2(const float *s0, const float *s1, int64_t w, int64_t y, int64_t x, float *d,
                             int32_t *a) {
  const f4 a0 = *(const f4 *)(s0 + 2 * x), a1 = *(const f4 *)(s0 + 2 * x + 4);
  const f4 b0 = *(const f4 *)(s1 + 2 * x), b1 = *(const f4 *)(s1 + 2 * x + 4);
  const i4 i0 = (int32_t)(2 * y * w + 2 * x) + (i4){0, 2, 4, 6}, i1 = i0 + (int32_t)w;
  f4 best = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}; /* as in pool_plane */
  i4 arg = i0;
  take_max4(__builtin_shufflevector(a0, a1, 0, 2, 4, 6), i0, &best, &arg);
  take_max4(__builtin_shufflevector(a0, a1, 1, 3, 5, 7), i0 + 1, &best, &arg);
  take_max4(__builtin_shufflevector(b0, b1, 0, 2, 4, 6), i1, &best, &arg);
  take_max4(__builtin_shufflevector(b0, b1, 1, 3, 5, 7), i1 + 1, &best, &arg);
  *(f4 *)(d + x) = best;
  *(i4 *)(a + x) = arg + 1;
}

/* pool_plane for the unpadded 2x2 window of stride 2, LeNet's, every window inside the
 * input (oh, ow round down): four windows at a time, the last four overlapping the ones
 * before when ow is not a multiple of 4 (they are written twice, the same values); the
 * same comparisons in the same order as pool_plane, so the same maxima and switches. */
static void pool_plane_2x2(const float *src, float *dst, int32_t *sw, const lt_conv2d_geom *g) {
  const int64_t w = g->w, ow = g->ow;
  if (ow < 4) {
    pool_plane(src, dst, sw, g);
    return;
  }
  for (int64_t y = 0; y < g->oh; y++) {
    const float *s0 = src + 2 * y * w, *s1 = s0 + w;
    for (int64_t x = 0; x + 4 < ow; x += 4) pool4_2x2(s0, s1, w, y, x, dst + y * ow, sw + y * ow);
    pool4_2x2(s0, s1, w, y, ow - 4, dst + y * ow, sw + y * ow);
  }
}

typedef struct {
  const lt_conv2d_geom *g;
  const float *in;
  float *out;
  int32_t *sw;
  const int32_t *csw;
} pool_job;

static void pool_planes(void *ctx, int64_t p0, int64_t p1, int lane) {
  const pool_job *j = ctx;
  const lt_conv2d_geom *g = j->g;
  const int64_t hw = g->h * g->w, L = g->oh * g->ow;
  const int two = g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0;
  for (int64_t p = p0; p < p1; p++) {
    if (two) pool_plane_2x2(j->in + p * hw, j->out + p * L, j->sw + p * L, g);
    else pool_plane(j->in + p * hw, j->out + p * L, j->sw + p * L, g);
  }
}

void lt_maxpool2d_forward(const float *in, float *out, int32_t *switches, const lt_conv2d_geom *g) {
  lt_parallel_for(g->n * g->c, lt_items_grain(g->h * g->w), pool_planes,
                  &(pool_job){.g = g, .in = in, .out = out, .sw = switches});
}

/* Both the max-pool backward and the unpool scatter one (oh, ow) plane of values into
 * the (h, w) input plane through the switches, adding where windows share a maximum. */
static void scatter_planes(void *ctx, int64_t p0, int64_t p1, int lane) {
  const pool_job *j = ctx;
  const int64_t hw = j->g->h * j->g->w, L = j->g->oh * j->g->ow;
  for (int64_t p = p0; p < p1; p++) {
    float *d = j->out + p * hw;
    const float *v = j->in + p * L;
    const int32_t *s = j->csw + p * L;
    memset(d, 0, (size_t)hw * sizeof(float));
    for (int64_t l = 0; l < L; l++) d[s[l] - 1] += v[l];
  }
}

static void scatter_switches(const float *vals, const int32_t *switches, float *dst,
                             const lt_conv2d_geom *g) {
  lt_parallel_for(g->n * g->c, lt_items_grain(g->h * g->w), scatter_planes,
                  &(pool_job){.g = g, .in = vals, .out = dst, .csw = switches});
}

void lt_maxpool2d_backward(const float *grad_output, const int32_t *switches, float *grad_input,
                           const lt_conv2d_geom *g) {
  scatter_switches(grad_output, switches, grad_input, g);
}

void lt_maxunpool2d(const float *in, const int32_t *switches, float *out, const lt_conv2d_geom *g) {
  scatter_switches(in, switches, out, g);
}

/* ---------------------------------------------------------------- average pooling */

/* The window of output index i along one axis (in cells in, out cells out, window k,
 * stride, padding pad): input cells [*lo, *hi) and the length the average divides by
 * (see lt_avgpool_mode). */
static inline void avg_window(int64_t i, int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad,
                              lt_avgpool_mode mode, int64_t *lo, int64_t *hi, int64_t *len) {
  if (mode == LT_AVGPOOL_ADAPTIVE) {
    *lo = i * in / out;
    *hi = ((i + 1) * in + out - 1) / out;
    *len = *hi - *lo;
    return;
  }
  int64_t a = i * stride - pad, b = a + k < in + pad ? a + k : in + pad;
  const int64_t padded = b - a;
  a = a < 0 ? 0 : a;
  b = b > in ? in : b;
  *lo = a;
  *hi = b;
  *len = mode == LT_AVGPOOL_INCLUDE_PAD ? padded : b - a;
}

typedef struct {
  const lt_conv2d_geom *g;
  const float *src;
  float *dst;
  lt_avgpool_mode mode;
  int backward;
} avg_job;

/* Forward, one plane of src (h, w) into its averages dst (oh, ow); backward, one plane of
 * gradients src (oh, ow) spread over dst (h, w), each divided by its window's divisor. */
static void avg_planes(void *ctx, int64_t p0, int64_t p1, int lane) {
  const avg_job *j = ctx;
  const lt_conv2d_geom *g = j->g;
  const int64_t hw = g->h * g->w, L = g->oh * g->ow;
  for (int64_t p = p0; p < p1; p++) {
    const float *src = j->src + p * (j->backward ? L : hw);
    float *dst = j->dst + p * (j->backward ? hw : L);
    if (j->backward) memset(dst, 0, (size_t)hw * sizeof(float));
    for (int64_t y = 0; y < g->oh; y++) {
      int64_t r0, r1, rl;
      avg_window(y, g->h, g->oh, g->kh, g->sh, g->ph, j->mode, &r0, &r1, &rl);
      for (int64_t x = 0; x < g->ow; x++) {
        int64_t c0, c1, cl;
        avg_window(x, g->w, g->ow, g->kw, g->sw, g->pw, j->mode, &c0, &c1, &cl);
        if (j->backward) {
          const float v = (float)((double)src[y * g->ow + x] / (double)(rl * cl));
          for (int64_t r = r0; r < r1; r++) {
            for (int64_t c = c0; c < c1; c++) dst[r * g->w + c] += v;
          }
        } else {
          double sum = 0.0;
          for (int64_t r = r0; r < r1; r++) {
            for (int64_t c = c0; c < c1; c++) sum += src[r * g->w + c];
          }
          dst[y * g->ow + x] = (float)(sum / (double)(rl * cl));
        }
      }
    }
  }
}

void lt_avgpool2d_forward(const float *in, float *out, const lt_conv2d_geom *g, lt_avgpool_mode mode) {
  lt_parallel_for(g->n * g->c, lt_items_grain(g->h * g->w), avg_planes,
                  &(avg_job){.g = g, .src = in, .dst = out, .mode = mode});
}

void lt_avgpool2d_backward(const float *grad_output, float *grad_input, const lt_conv2d_geom *g,
                           lt_avgpool_mode mode) {
  lt_parallel_for(g->n * g->c, lt_items_grain(g->h * g->w), avg_planes,
                  &(avg_job){.g = g, .src = grad_output, .dst = grad_input, .mode = mode, .backward = 1});
}
