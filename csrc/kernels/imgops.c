/* imgops.c — resize, rotate, translate, zoom, crop and display normalization
 * of float image planes (see imgops.h for the conventions). */
#include "imgops.h"

#include <math.h>

lunet_display_map lunet_img_display_map(const float *x, size_t n, lunet_display mode) {
  lunet_display_map m = {0.0f, 1.0f, 0.0f};
  if (mode == LUNET_DISPLAY_CLAMP) return m;
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(x[i])) continue;
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  if (mode == LUNET_DISPLAY_MINMAX) {
    m.lo = lo;
    m.range = hi > lo ? hi - lo : 0.0f;
  } else {
    /* symmetric: y = x / (2 max|x|) + 0.5 */
    float amax = fmaxf(fabsf(lo), fabsf(hi));
    m.range = hi >= lo && amax > 0 ? 2.0f * amax : 0.0f;
    m.base = 0.5f;
  }
  if (m.range == 0.0f) m.base = 0.5f;
  return m;
}

void lunet_img_normalize(const float *src, float *dst, size_t groups, size_t n,
                         lunet_display mode) {
  for (size_t g = 0; g < groups; g++) {
    const float *x = src + g * n;
    float *y = dst + g * n;
    lunet_display_map m = lunet_img_display_map(x, n, mode);
    for (size_t i = 0; i < n; i++) y[i] = lunet_display_apply(m, x[i]);
  }
}

static float pixel(const float *p, int64_t h, int64_t w, int64_t x, int64_t y, float fill) {
  return x >= 0 && x < w && y >= 0 && y < h ? p[y * w + x] : fill;
}

/* Bilinear interpolation of plane p (h×w) at (sx, sy): with x0 = floor(sx),
 * ax = sx - x0 (and likewise for y),
 *   v = (1-ay)((1-ax) p[y0][x0] + ax p[y0][x0+1]) + ay((1-ax) p[y0+1][x0] + ax p[y0+1][x0+1]).
 * A zero weight's neighbour is not read, so integer points return one pixel exactly. */
static float bilinear(const float *p, int64_t h, int64_t w, double sx, double sy, float fill) {
  double fx = floor(sx), fy = floor(sy);
  /* also rejects NaN, and keeps the int64 conversions below defined */
  if (!(fx >= -1.0 && fx <= (double)(w - 1) && fy >= -1.0 && fy <= (double)(h - 1))) return fill;
  int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
  float ax = (float)(sx - fx), ay = (float)(sy - fy);
  int64_t x1 = ax > 0 ? x0 + 1 : x0, y1 = ay > 0 ? y0 + 1 : y0;
  float top = (1 - ax) * pixel(p, h, w, x0, y0, fill) + ax * pixel(p, h, w, x1, y0, fill);
  if (ay == 0) return top;
  float bottom = (1 - ax) * pixel(p, h, w, x0, y1, fill) + ax * pixel(p, h, w, x1, y1, fill);
  return (1 - ay) * top + ay * bottom;
}

void lunet_img_resize(const float *src, float *dst, size_t planes, int64_t h, int64_t w,
                      int64_t oh, int64_t ow) {
  double rx = (double)w / (double)ow, ry = (double)h / (double)oh;
  for (size_t k = 0; k < planes; k++) {
    const float *p = src + k * (size_t)(h * w);
    float *q = dst + k * (size_t)(oh * ow);
    for (int64_t y = 0; y < oh; y++) {
      double sy = fmin(fmax((y + 0.5) * ry - 0.5, 0.0), (double)(h - 1));
      for (int64_t x = 0; x < ow; x++) {
        double sx = fmin(fmax((x + 0.5) * rx - 0.5, 0.0), (double)(w - 1));
        q[y * ow + x] = bilinear(p, h, w, sx, sy, 0.0f);
      }
    }
  }
}

/* dst(x, y) = src(m[0] x + m[1] y + m[2], m[3] x + m[4] y + m[5]) */
static void warp(const float *src, float *dst, size_t planes, int64_t h, int64_t w,
                 const double m[6], float fill) {
  for (size_t k = 0; k < planes; k++) {
    const float *p = src + k * (size_t)(h * w);
    float *q = dst + k * (size_t)(h * w);
    for (int64_t y = 0; y < h; y++)
      for (int64_t x = 0; x < w; x++)
        q[y * w + x] = bilinear(p, h, w, m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5], fill);
  }
}

/* Output pixel q reads the input at c + R(-θ)(q - c), c the centre: with y
 * pointing down, R(-θ) sends the offset (u, v) to (u cos θ - v sin θ, u sin θ + v cos θ),
 * which turns the content counter-clockwise on screen. Multiples of 90° take
 * exact cosines so quarter turns are exact permutations of the pixels. */
void lunet_img_rotate(const float *src, float *dst, size_t planes, int64_t h, int64_t w,
                      double degrees, float fill) {
  /* turn in [0, 360): fmod keeps the sign of degrees, and for a tiny negative turn
   * turn + 360 rounds to 360 itself, the same angle as 0 */
  double turn = fmod(degrees, 360.0), c, s;
  if (turn < 0) turn += 360.0;
  if (turn >= 360.0) turn = 0.0;
  if (fmod(turn, 90.0) == 0.0) {
    static const double cq[4] = {1, 0, -1, 0}, sq[4] = {0, 1, 0, -1};
    int q = (int)(turn / 90.0);
    c = cq[q];
    s = sq[q];
  } else {
    double rad = turn * (3.14159265358979323846 / 180.0);
    c = cos(rad);
    s = sin(rad);
  }
  double cx = (double)(w - 1) / 2, cy = (double)(h - 1) / 2;
  const double m[6] = {c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy};
  warp(src, dst, planes, h, w, m, fill);
}

void lunet_img_translate(const float *src, float *dst, size_t planes, int64_t h, int64_t w,
                         double dx, double dy, float fill) {
  const double m[6] = {1, 0, -dx, 0, 1, -dy};
  warp(src, dst, planes, h, w, m, fill);
}

/* Output pixel q reads the input at c + (q - c) / factor. */
void lunet_img_scale(const float *src, float *dst, size_t planes, int64_t h, int64_t w,
                     double factor, float fill) {
  double cx = (double)(w - 1) / 2, cy = (double)(h - 1) / 2, r = 1.0 / factor;
  const double m[6] = {r, 0, cx - cx * r, 0, r, cy - cy * r};
  warp(src, dst, planes, h, w, m, fill);
}

void lunet_img_crop(const float *src, float *dst, size_t planes, int64_t h, int64_t w,
                    int64_t top, int64_t left, int64_t oh, int64_t ow, float fill) {
  for (size_t k = 0; k < planes; k++) {
    const float *p = src + k * (size_t)(h * w);
    float *q = dst + k * (size_t)(oh * ow);
    for (int64_t y = 0; y < oh; y++)
      for (int64_t x = 0; x < ow; x++) q[y * ow + x] = pixel(p, h, w, left + x, top + y, fill);
  }
}
