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

/* One (h, w) input plane into its (oh, ow) output and switches, for a kh x kw window;
 * clip: whether windows may reach into the padding. Inlined into lt_maxpool2d_forward
 * twice: once for the common unpadded 2x2 window with constant arguments, so that the
 * compiler unrolls the window loops, and once in general. */
static inline void pool_plane(const float *src, float *dst, int32_t *sw, const lt_conv2d_geom *g,
                              int64_t kh, int64_t kw, int clip) {
  for (int64_t y = 0; y < g->oh; y++) {
    const int64_t r0 = y * g->sh - g->ph;
    const int64_t ra = clip && r0 < 0 ? 0 : r0, rb = clip && r0 + kh > g->h ? g->h : r0 + kh;
    for (int64_t x = 0; x < g->ow; x++) {
      const int64_t c0 = x * g->sw - g->pw;
      const int64_t ca = clip && c0 < 0 ? 0 : c0, cb = clip && c0 + kw > g->w ? g->w : c0 + kw;
      float best = -INFINITY; /* a window of -inf yields -inf, at its first element */
      int32_t arg = (int32_t)(ra * g->w + ca);
      for (int64_t r = ra; r < rb; r++) {
        for (int64_t c = ca; c < cb; c++) {
          const float v = src[r * g->w + c];
          /* Bit masks instead of branches: the comparisons are data-dependent coin
           * flips. A NaN wins, and then stays since nothing compares greater. */
          const int32_t take = -(int32_t)((v > best) | (v != v));
          best = blendf(take, v, best);
          arg = (take & (int32_t)(r * g->w + c)) | (~take & arg);
        }
      }
      dst[y * g->ow + x] = best;
      sw[y * g->ow + x] = arg + 1;
    }
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
  /* Without padding every window lies inside the input (oh, ow round down). */
  const int two = g->kh == 2 && g->kw == 2 && g->ph == 0 && g->pw == 0;
  for (int64_t p = p0; p < p1; p++) {
    if (two) pool_plane(j->in + p * hw, j->out + p * L, j->sw + p * L, g, 2, 2, 0);
    else pool_plane(j->in + p * hw, j->out + p * L, j->sw + p * L, g, g->kh, g->kw, 1);
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
