/* augment.c — data augmentation on batches of images, one pass each: crop with zero (or
 * fill) padding and a horizontal mirror, per image, with the random draws made by the
 * caller. */
#include "imgops.h"
#include "threadpool.h"

typedef struct {
  const float *in;
  float *out;
  int64_t c, h, w, oh, ow, pad;
  const int32_t *oy, *ox, *flip;
  float fill;
} crop_job;

static void crop_range(void *ctx, int64_t i0, int64_t i1, int lane) {
  const crop_job *j = ctx;
  for (int64_t i = i0; i < i1; i++) { /* i: one (image, channel) plane */
    const int64_t img = i / j->c;
    const float *src = j->in + i * j->h * j->w;
    float *dst = j->out + i * j->oh * j->ow;
    const int64_t y0 = j->oy[img] - j->pad, x0 = j->ox[img] - j->pad;
    const int mirror = j->flip && j->flip[img];
    for (int64_t y = 0; y < j->oh; y++) {
      const int64_t sy = y0 + y;
      float *row = dst + y * j->ow;
      if (sy < 0 || sy >= j->h) {
        for (int64_t x = 0; x < j->ow; x++) row[x] = j->fill;
        continue;
      }
      const float *srow = src + sy * j->w;
      for (int64_t x = 0; x < j->ow; x++) {
        const int64_t sx = x0 + (mirror ? j->ow - 1 - x : x);
        row[x] = sx >= 0 && sx < j->w ? srow[sx] : j->fill;
      }
    }
  }
}

void lunet_img_crop_flip(const float *in, float *out, int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh,
                         int64_t ow, int64_t pad, const int32_t *oy, const int32_t *ox, const int32_t *flip,
                         float fill) {
  lt_parallel_for(n * c, 1 + LT_EW_GRAIN / (oh * ow > 0 ? oh * ow : 1), crop_range,
                  &(crop_job){.in = in, .out = out, .c = c, .h = h, .w = w, .oh = oh, .ow = ow, .pad = pad,
                              .oy = oy, .ox = ox, .flip = flip, .fill = fill});
}
