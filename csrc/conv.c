/* conv.c — 2-D convolution (cross-correlation, as every deep-learning framework
 * computes it) over NCHW batches, lowered to cblas_sgemm through im2col.
 *
 * Image by image: one image is unfolded into cols (K, L), K = c*kh*kw, L = oh*ow, small
 * enough to stay in cache, and multiplied with the filters viewed as an (oc, K) matrix
 * in one sgemm whose result is that image's (oc, L) output plane: NCHW needs no
 * transposes. With several threads the images are split over OpenMP "lanes", each
 * with its own block of the workspace and a single-threaded sgemm, so that OpenMP and
 * OpenBLAS never run (and spin) at the same time; with one lane, or fewer images than
 * threads, the images go in turn and OpenBLAS threads each sgemm itself.
 */
#include <string.h>
#include <cblas.h>
#include <omp.h>
#include "nnkernels.h"

int64_t lt_window_outsize(int64_t in, int64_t k, int64_t stride, int64_t pad) {
  int64_t span = in + 2 * pad - k;
  return span < 0 ? 0 : span / stride + 1;
}

/* Both unfold directions go through a zero-padded copy of the image, (c, h+2ph, w+2pw),
 * so that every window lies inside it and the inner loops are plain strided copies. */
static int64_t padded_floats(const lt_conv2d_geom *g) {
  return g->c * (g->h + 2 * g->ph) * (g->w + 2 * g->pw);
}

void lt_im2col(const float *in, float *cols, float *pad, const lt_conv2d_geom *g) {
  const int64_t L = g->oh * g->ow, PH = g->h + 2 * g->ph, PW = g->w + 2 * g->pw;
  memset(pad, 0, (size_t)padded_floats(g) * sizeof(float));
  for (int64_t ci = 0; ci < g->c; ci++) {
    for (int64_t r = 0; r < g->h; r++) {
      memcpy(pad + (ci * PH + r + g->ph) * PW + g->pw, in + (ci * g->h + r) * g->w, (size_t)g->w * sizeof(float));
    }
  }
  for (int64_t ci = 0; ci < g->c; ci++) {
    for (int64_t i = 0; i < g->kh; i++) {
      for (int64_t j = 0; j < g->kw; j++) {
        float *dst = cols + ((ci * g->kh + i) * g->kw + j) * L;
        const float *src = pad + (ci * PH + i) * PW + j;
        for (int64_t y = 0; y < g->oh; y++) {
          const float *s = src + y * g->sh * PW;
          float *d = dst + y * g->ow;
          if (g->sw == 1) {
            for (int64_t x = 0; x < g->ow; x++) d[x] = s[x];
          } else {
            for (int64_t x = 0; x < g->ow; x++) d[x] = s[x * g->sw];
          }
        }
      }
    }
  }
}

void lt_col2im(const float *cols, float *gin, float *pad, const lt_conv2d_geom *g) {
  const int64_t L = g->oh * g->ow, PH = g->h + 2 * g->ph, PW = g->w + 2 * g->pw;
  memset(pad, 0, (size_t)padded_floats(g) * sizeof(float));
  for (int64_t ci = 0; ci < g->c; ci++) {
    for (int64_t i = 0; i < g->kh; i++) {
      for (int64_t j = 0; j < g->kw; j++) {
        const float *src = cols + ((ci * g->kh + i) * g->kw + j) * L;
        float *dst = pad + (ci * PH + i) * PW + j;
        for (int64_t y = 0; y < g->oh; y++) {
          float *d = dst + y * g->sh * PW;
          const float *s = src + y * g->ow;
          if (g->sw == 1) {
            for (int64_t x = 0; x < g->ow; x++) d[x] += s[x];
          } else {
            for (int64_t x = 0; x < g->ow; x++) d[x * g->sw] += s[x];
          }
        }
      }
    }
  }
  for (int64_t ci = 0; ci < g->c; ci++) {
    for (int64_t r = 0; r < g->h; r++) {
      memcpy(gin + (ci * g->h + r) * g->w, pad + (ci * PH + r + g->ph) * PW + g->pw, (size_t)g->w * sizeof(float));
    }
  }
}

int lt_conv2d_lanes(const lt_conv2d_geom *g) {
  const int64_t nt = omp_get_max_threads();
  return nt > 1 && g->n >= nt ? (int)nt : 1;
}

int64_t lt_conv2d_lane_floats(const lt_conv2d_geom *g) {
  const int64_t K = g->c * g->kh * g->kw;
  return K * g->oh * g->ow + padded_floats(g) + g->oc * K + g->oc;
}

/* A lane's blocks of the workspace: cols (K, L), the padded image, and its share of
 * the parameter gradients (oc*K, then oc). */
typedef struct {
  float *cols, *pad, *gweight, *gbias;
} lane_work;

static lane_work lane_blocks(float *work, int lane, const lt_conv2d_geom *g) {
  const int64_t K = g->c * g->kh * g->kw;
  lane_work w;
  w.cols = work + lane * lt_conv2d_lane_floats(g);
  w.pad = w.cols + K * g->oh * g->ow;
  w.gweight = w.pad + padded_floats(g);
  w.gbias = w.gweight + g->oc * K;
  return w;
}

typedef struct {
  const lt_conv2d_geom *g;
  const float *in, *weight, *bias, *gout;
  float *out, *gin, *gweight, *gbias, *work;
  float scale;
} conv_job;

typedef void (*image_fn)(const conv_job *job, int64_t b, int lane);

/* Runs fn for every image: in turn with one lane, else split over `lanes` OpenMP
 * threads with OpenBLAS held to one thread meanwhile. */
static void for_each_image(const conv_job *job, int lanes, image_fn fn) {
  if (lanes <= 1) {
    for (int64_t b = 0; b < job->g->n; b++) fn(job, b, 0);
    return;
  }
  const int blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
#pragma omp parallel num_threads(lanes)
  {
    const int lane = omp_get_thread_num();
#pragma omp for schedule(static)
    for (int64_t b = 0; b < job->g->n; b++) fn(job, b, lane);
  }
  openblas_set_num_threads(blas_threads);
}

static void forward_image(const conv_job *job, int64_t b, int lane) {
  const lt_conv2d_geom *g = job->g;
  const int64_t L = g->oh * g->ow, K = g->c * g->kh * g->kw;
  const lane_work w = lane_blocks(job->work, lane, g);
  float *o = job->out + b * g->oc * L;
  if (job->bias) {
    for (int64_t oc = 0; oc < g->oc; oc++) {
      for (int64_t l = 0; l < L; l++) o[oc * L + l] = job->bias[oc];
    }
  }
  lt_im2col(job->in + b * g->c * g->h * g->w, w.cols, w.pad, g);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->oc, (int)L, (int)K, 1.0f,
              job->weight, (int)K, w.cols, (int)L, job->bias ? 1.0f : 0.0f, o, (int)L);
}

void lt_conv2d_forward(const float *in, const float *weight, const float *bias, float *out,
                       float *work, const lt_conv2d_geom *g) {
  const conv_job job = {.g = g, .in = in, .weight = weight, .bias = bias, .out = out, .work = work};
  for_each_image(&job, lt_conv2d_lanes(g), forward_image);
}

static void backward_input_image(const conv_job *job, int64_t b, int lane) {
  const lt_conv2d_geom *g = job->g;
  const int64_t L = g->oh * g->ow, K = g->c * g->kh * g->kw;
  const lane_work w = lane_blocks(job->work, lane, g);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)L, (int)g->oc, 1.0f,
              job->weight, (int)K, job->gout + b * g->oc * L, (int)L, 0.0f, w.cols, (int)L);
  lt_col2im(w.cols, job->gin + b * g->c * g->h * g->w, w.pad, g);
}

void lt_conv2d_backward_input(const float *gout, const float *weight, float *gin, float *work,
                              const lt_conv2d_geom *g) {
  const conv_job job = {.g = g, .gout = gout, .weight = weight, .gin = gin, .work = work};
  for_each_image(&job, lt_conv2d_lanes(g), backward_input_image);
}

/* Lane 0 accumulates straight into gweight and gbias; the other lanes into their own
 * blocks of the workspace, added in afterwards. */
static void backward_params_image(const conv_job *job, int64_t b, int lane) {
  const lt_conv2d_geom *g = job->g;
  const int64_t L = g->oh * g->ow, K = g->c * g->kh * g->kw;
  const lane_work w = lane_blocks(job->work, lane, g);
  float *gw = lane == 0 ? job->gweight : w.gweight;
  float *gb = lane == 0 ? job->gbias : w.gbias;
  const float *go = job->gout + b * g->oc * L;
  lt_im2col(job->in + b * g->c * g->h * g->w, w.cols, w.pad, g);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->oc, (int)K, (int)L, job->scale,
              go, (int)L, w.cols, (int)L, 1.0f, gw, (int)K);
  if (job->gbias) {
    for (int64_t oc = 0; oc < g->oc; oc++) {
      const float *q = go + oc * L;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (int64_t l = 0; l < L; l++) s += q[l];
      gb[oc] += job->scale * s;
    }
  }
}

void lt_conv2d_backward_params(const float *in, const float *gout, float *gweight, float *gbias,
                               float *work, float scale, const lt_conv2d_geom *g) {
  const int64_t K = g->c * g->kh * g->kw;
  const int lanes = lt_conv2d_lanes(g);
  for (int t = 1; t < lanes; t++) {
    memset(lane_blocks(work, t, g).gweight, 0, (size_t)(g->oc * K + g->oc) * sizeof(float));
  }
  const conv_job job = {.g = g, .in = in, .gout = gout, .gweight = gweight, .gbias = gbias,
                        .work = work, .scale = scale};
  for_each_image(&job, lanes, backward_params_image);
  for (int t = 1; t < lanes; t++) {
    const lane_work w = lane_blocks(work, t, g);
    for (int64_t k = 0; k < g->oc * K; k++) gweight[k] += w.gweight[k];
    if (gbias) {
      for (int64_t oc = 0; oc < g->oc; oc++) gbias[oc] += w.gbias[oc];
    }
  }
}
