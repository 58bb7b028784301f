/* imgops.h — image operations for visualization, on float planes.
 *
 * An image batch is `planes` consecutive H×W planes (row-major), which covers
 * C×H×W and N×C×H×W alike: every operation treats each plane on its own.
 * Coordinates: x to the right, y downward, pixel centres at integers, so the
 * centre of an H×W plane is ((W-1)/2, (H-1)/2).
 */
#ifndef LUNET_IMGOPS_H
#define LUNET_IMGOPS_H

#include <stddef.h>
#include <stdint.h>

/* How float values map to display intensities in [0,1]. */
typedef enum {
  LUNET_DISPLAY_CLAMP = 0,    /* y = x, clamped to [0,1] when written */
  LUNET_DISPLAY_MINMAX = 1,   /* y = (x - min) / (max - min) */
  LUNET_DISPLAY_SYMMETRIC = 2 /* y = x / (2 max|x|) + 0.5: zero is mid-grey */
} lunet_display;

/* The map y = (x - lo) / range + base that a display mode applies to a set of
 * values; range 0 means "no contrast": every value maps to base, mid-grey.
 * Non-finite values are ignored when taking min and max. */
typedef struct {
  float lo, range, base;
} lunet_display_map;

lunet_display_map lunet_img_display_map(const float *x, size_t n, lunet_display mode);

static inline float lunet_display_apply(lunet_display_map m, float x) {
  return m.range > 0 ? (x - m.lo) / m.range + m.base : m.base;
}

/* dst = display map of src, computed separately for each of `groups`
 * consecutive runs of n values (one image each). dst may equal src. */
void lunet_img_normalize(const float *src, float *dst, size_t groups, size_t n,
                         lunet_display mode);

/* Bilinear resize of each h×w plane to oh×ow, half-pixel aligned:
 * source x = (x + 0.5) * w/ow - 0.5, clamped to the border (resizing to the
 * same size is the identity). */
void lunet_img_resize(const float *src, float *dst, size_t planes, int64_t h, int64_t w,
                      int64_t oh, int64_t ow);

/* Rotation, translation and zoom are affine warps, inverse-mapped: each output
 * pixel reads the input, bilinearly, at the point the inverse map sends it to;
 * neighbours outside the plane read as `fill`. An integer source coordinate
 * reads exactly one pixel, so integer shifts and quarter turns are exact copies. */

/* Rotate counter-clockwise (as displayed, y down) by `degrees` about the centre. */
void lunet_img_rotate(const float *src, float *dst, size_t planes, int64_t h, int64_t w,
                      double degrees, float fill);

/* Move the content by (dx, dy) pixels, right and down; sub-pixel shifts interpolate. */
void lunet_img_translate(const float *src, float *dst, size_t planes, int64_t h, int64_t w,
                         double dx, double dy, float fill);

/* Zoom by `factor` about the centre (factor > 1 enlarges the content). */
void lunet_img_scale(const float *src, float *dst, size_t planes, int64_t h, int64_t w,
                     double factor, float fill);

/* Copy the oh×ow window whose top-left pixel is (top, left), 0-based, out of
 * each h×w plane; the window may extend past the border, where it reads `fill`. */
void lunet_img_crop(const float *src, float *dst, size_t planes, int64_t h, int64_t w,
                    int64_t top, int64_t left, int64_t oh, int64_t ow, float fill);

/* Batched augmentation (augment.c): in (n,c,h,w) -> out (n,c,oh,ow) with, for image i,
 * out[i][.][y][x] = padded[i][.][oy[i] + y][ox[i] + x'], where padded is in with pad rows
 * and columns of fill on every side, x' = ow-1-x when flip (may be NULL) has flip[i] != 0
 * and x otherwise (a mirror of the crop). The caller checks 0 <= oy[i] <= h + 2 pad - oh,
 * the same for ox, and that out and in do not overlap. */
void lunet_img_crop_flip(const float *in, float *out, int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh,
                         int64_t ow, int64_t pad, const int32_t *oy, const int32_t *ox, const int32_t *flip,
                         float fill);

#endif
