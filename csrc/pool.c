/* pool.c — 2-D max-pooling over NCHW batches, with the argmax "switches" that the
 * backward pass and the deconvnet's unpooling route values through.
 *
 * A switch is the flat index of the window's maximum inside its own input plane,
 * 1-based as every index lunet shows to Lua: row * w + col + 1. Planes are
 * (image, channel) pairs, processed in parallel. */
#include <float.h>
#include <string.h>
#include "nnkernels.h"

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
      float best = -FLT_MAX;
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

void lt_maxpool2d_forward(const float *in, float *out, int32_t *switches, const lt_conv2d_geom *g) {
  const int64_t planes = g->n * g->c, hw = g->h * g->w, L = g->oh * g->ow;
  /* Without padding every window lies inside the input (oh, ow round down). */
  const int two = g->kh == 2 && g->kw == 2 && g->ph == 0 && g->pw == 0;
#pragma omp parallel for schedule(static) if (planes * L * g->kh * g->kw > LT_NN_PAR_MIN)
  for (int64_t p = 0; p < planes; p++) {
    if (two) pool_plane(in + p * hw, out + p * L, switches + p * L, g, 2, 2, 0);
    else pool_plane(in + p * hw, out + p * L, switches + p * L, g, g->kh, g->kw, 1);
  }
}

/* Both the max-pool backward and the unpool scatter one (oh, ow) plane of values into
 * the (h, w) input plane through the switches, adding where windows share a maximum. */
static void scatter_switches(const float *vals, const int32_t *switches, float *dst,
                             const lt_conv2d_geom *g) {
  const int64_t planes = g->n * g->c, hw = g->h * g->w, L = g->oh * g->ow;
#pragma omp parallel for schedule(static) if (planes * hw > LT_NN_PAR_MIN)
  for (int64_t p = 0; p < planes; p++) {
    float *d = dst + p * hw;
    const float *v = vals + p * L;
    const int32_t *s = switches + p * L;
    memset(d, 0, (size_t)hw * sizeof(float));
    for (int64_t l = 0; l < L; l++) d[s[l] - 1] += v[l];
  }
}

void lt_maxpool2d_backward(const float *gout, const int32_t *switches, float *gin,
                           const lt_conv2d_geom *g) {
  scatter_switches(gout, switches, gin, g);
}

void lt_maxunpool2d(const float *in, const int32_t *switches, float *out, const lt_conv2d_geom *g) {
  scatter_switches(in, switches, out, g);
}
