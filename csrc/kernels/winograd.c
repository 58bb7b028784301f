/* winograd.c — conv2d by Winograd's minimal filtering algorithm (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016): F(2×2, 5×5) for 5×5 filters and
 * F(4×4, 3×3) for 3×3 ones, both on 6×6 tiles.
 *
 * An output tile of m×m pixels (m = 2 or 4) needs an n×n input tile, n = m + r - 1 = 6.
 * With the transforms A^T (m×n), G (n×r) and B^T (n×n) of the points 0, ±1, ±2 and ∞,
 *   Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
 * is the cross-correlation of the tile d with the filter g: 36 multiplies per channel pair
 * and tile where im2col does m²r² (100 for 5×5, 144 for 3×3). Summed over the input
 * channels, each of the 36 positions ξ of the 6×6 transform is a matrix product,
 *   M[ξ] (tiles, oc) = V[ξ] (tiles, c) · U[ξ]^T,   U[ξ] (oc, c) the transformed filters,
 * handed to lt_sgemm (gemm.h). The gradients are the transposes:
 *   dM = A dY A^T per output tile, dV[ξ] = dM[ξ] · U[ξ], d(input) = B dV B^T added over the
 *   overlapping input tiles; dU[ξ] = dM[ξ]^T · V[ξ] summed over tiles, dg = G^T dU G.
 *
 * Layout: channels innermost (an image is packed as (h, w, c), channels padded to a
 * multiple of 8 with zeros), so that each transform works on 8 channels at once, one
 * vector per tile cell, and writes whole vectors. Images are taken in groups of about
 * GROUP_TILES tiles, so that each product has a few hundred rows; the groups are fixed
 * by the batch size alone and spread over the lanes of the thread pool, and the
 * parameter gradients are summed per block of images in a fixed order (as in conv.c):
 * no result depends on the thread count.
 *
 * The transforms are computed once, in double, from the points (wino_build): B^T has
 * small integer entries and G carries the fractions. In float32 the results differ
 * from im2col's by rounding only (spec/winograd_spec.lua bounds the difference).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "gemm.h"
#include "nnkernels.h"
#include "tensor.h"
#include "threadpool.h"

#define TN 6            /* the tile side n = m + r - 1 of both algorithms */
#define TNN (TN * TN)   /* the transform positions ξ: one product each */
#define VL 8            /* floats per vector; channels are padded to a multiple of it */
#define GROUP_TILES 98 /* tiles per product, about: a group of images has at least this many */

/* The transform passes run in the widest vector unit the CPU has, chosen when the
 * module loads (as the recurrent kernels' gate passes, rnn.c). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WINO_PASS __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define WINO_PASS
#endif

typedef float v8 __attribute__((vector_size(VL * sizeof(float))));
typedef float v8u __attribute__((vector_size(VL * sizeof(float)), aligned(sizeof(float))));

#define LOAD(p) (*(const v8u *)(p))
#define STORE(p, x) (*(v8u *)(p) = (x))

/* One algorithm: output tile m×m, filter r×r; at = A^T (m×n), g = G (n×r), bt = B^T (n×n). */
typedef struct {
  int m, r;
  float at[TN][TN], g[TN][TN], bt[TN][TN];
} wino_mats;

static wino_mats wino[2]; /* F(4×4, 3×3) and F(2×2, 5×5) */
static pthread_once_t wino_once = PTHREAD_ONCE_INIT;

/* The finite points; the sixth is ∞. */
static const double wino_points[TN - 1] = {0, 1, -1, 2, -2};

/* Row j of a Vandermonde-like matrix with `cols` columns: the powers of point j, or for
 * the point at infinity the leading coefficient alone. */
static double wino_power(int j, int i, int cols) {
  if (j == TN - 1) return i == cols - 1 ? 1.0 : 0.0;
  double p = 1.0;
  for (int e = 0; e < i; e++) p *= wino_points[j];
  return p;
}

/* The transforms of F(m, r) from the points. A polynomial product evaluated at the points
 * and interpolated back is the linear convolution; its transpose is the correlation:
 *   y = A^T [ (G g) ⊙ (B^T d) ],  A = the m-column power matrix, G the r-column one, B = V^{-1}
 * with V the n-column one. Row j of B^T is scaled by prod_{l≠j} (p_j - p_l) (which makes
 * it integer) and row j of G divided by the same. */
static void wino_build(wino_mats *w, int m, int r) {
  double a[TN][2 * TN];
  w->m = m;
  w->r = r;
  for (int j = 0; j < TN; j++) {
    for (int i = 0; i < TN; i++) {
      a[j][i] = wino_power(j, i, TN);
      a[j][TN + i] = i == j;
    }
  }
  for (int c = 0; c < TN; c++) { /* Gauss-Jordan with partial pivoting: a[.][TN..] = V^{-1} */
    int p = c;
    for (int i = c + 1; i < TN; i++) {
      if ((a[i][c] < 0 ? -a[i][c] : a[i][c]) > (a[p][c] < 0 ? -a[p][c] : a[p][c])) p = i;
    }
    for (int k = 0; k < 2 * TN; k++) {
      const double t = a[c][k];
      a[c][k] = a[p][k];
      a[p][k] = t;
    }
    const double d = a[c][c];
    for (int k = 0; k < 2 * TN; k++) a[c][k] /= d;
    for (int i = 0; i < TN; i++) {
      if (i == c) continue;
      const double f = a[i][c];
      for (int k = 0; k < 2 * TN; k++) a[i][k] -= f * a[c][k];
    }
  }
  memset(w->at, 0, sizeof w->at);
  memset(w->g, 0, sizeof w->g);
  for (int j = 0; j < TN; j++) {
    double s = 1.0;
    for (int l = 0; j < TN - 1 && l < TN - 1; l++) {
      if (l != j) s *= wino_points[j] - wino_points[l];
    }
    for (int i = 0; i < TN; i++) w->bt[j][i] = (float)(a[i][TN + j] * s);
    for (int k = 0; k < r; k++) w->g[j][k] = (float)(wino_power(j, k, r) / s);
    for (int i = 0; i < m; i++) w->at[i][j] = (float)wino_power(j, i, m);
  }
}

/* B^T and B applied to six vectors, written out: the input transforms are the bulk of the
 * transform work, and B^T has 16 non-zero entries of 36, all small integers. Both
 * algorithms share it (the same points). Checked against the computed matrix when the
 * module loads (wino_build_all): if they differed, Winograd would not be used. */
static inline void bt_apply(const v8 d[TN], v8 o[TN]) {
  const v8 d13 = d[3] - d[1], d42 = d[4] - d[2];
  o[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  o[1] = d[3] + d[4] - 4.0f * (d[1] + d[2]);
  o[2] = d[4] - d[3] + 4.0f * (d[1] - d[2]);
  o[3] = d42 + 2.0f * d13;
  o[4] = d42 - 2.0f * d13;
  o[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

static inline void b_apply(const v8 w[TN], v8 o[TN]) {
  const v8 w12 = w[2] - w[1], w34 = w[3] - w[4];
  o[0] = 4.0f * w[0];
  o[1] = 4.0f * (w12 + w[5]) - 2.0f * w34;
  o[2] = -5.0f * w[0] - 4.0f * (w[1] + w[2]) - (w[3] + w[4]);
  o[3] = 2.0f * w34 - w12 - 5.0f * w[5];
  o[4] = w[0] + w[1] + w[2] + w[3] + w[4];
  o[5] = w[5];
}

/* A^T (m×6) and A (6×m) applied likewise, for m = 2 (F(2×2, 5×5)) and m = 4 (F(4×4, 3×3)). */
static inline __attribute__((always_inline)) void at_apply(int m, const v8 s[TN], v8 y[TN]) {
  const v8 s12 = s[1] + s[2], s34 = s[3] + s[4], d12 = s[1] - s[2], d34 = s[3] - s[4];
  y[0] = s[0] + s12 + s34;
  if (m == 2) {
    y[1] = d12 + 2.0f * d34 + s[5];
    return;
  }
  y[1] = d12 + 2.0f * d34;
  y[2] = s12 + 4.0f * s34;
  y[3] = d12 + 8.0f * d34 + s[5];
}

static inline __attribute__((always_inline)) void a_apply(int m, const v8 y[TN], v8 o[TN]) {
  if (m == 2) {
    o[0] = y[0];
    o[1] = y[0] + y[1];
    o[2] = y[0] - y[1];
    o[3] = y[0] + 2.0f * y[1];
    o[4] = y[0] - 2.0f * y[1];
    o[5] = y[1];
    return;
  }
  const v8 e = y[0] + y[2], e4 = y[0] + 4.0f * y[2], d = y[1] + y[3], d8 = 2.0f * y[1] + 8.0f * y[3];
  o[0] = y[0];
  o[1] = e + d;
  o[2] = e - d;
  o[3] = e4 + d8;
  o[4] = e4 - d8;
  o[5] = y[3];
}

static int wino_ok; /* 1 when the written-out transforms are the computed ones */

static void wino_build_all(void) {
  wino_build(&wino[0], 4, 3);
  wino_build(&wino[1], 2, 5);
  wino_ok = 1;
  for (int k = 0; k < TN; k++) {
    v8 e[TN], f[TN], h[TN];
    for (int i = 0; i < TN; i++) e[i] = (v8){0} + (i == k ? 1.0f : 0.0f);
    bt_apply(e, f);
    b_apply(e, h);
    for (int i = 0; i < TN; i++) wino_ok &= f[i][0] == wino[0].bt[i][k] && h[i][0] == wino[0].bt[k][i];
    for (int a = 0; a < 2; a++) { /* A^T's column k and A's row k (A^T applied to unit vectors) */
      const wino_mats *w = &wino[a];
      at_apply(w->m, e, f);
      for (int i = 0; i < w->m; i++) wino_ok &= f[i][0] == w->at[i][k];
      if (k >= w->m) continue;
      a_apply(w->m, e, h);
      for (int i = 0; i < TN; i++) wino_ok &= h[i][0] == w->at[k][i];
    }
  }
}

/* ------------------------------------------------------------ the plan of a call */

static int conv_algorithm = -1; /* 1: Winograd where it applies, 0: im2col always; -1: not yet read */

int lt_set_conv2d_algorithm(const char *name) {
  if (strcmp(name, "auto") == 0) conv_algorithm = 1;
  else if (strcmp(name, "im2col") == 0) conv_algorithm = 0;
  else return -1;
  return 0;
}

/* The setting, read from LUNET_CONV on first use. */
static int algorithm_auto(void) {
  if (conv_algorithm < 0) {
    const char *env = getenv("LUNET_CONV");
    if (!(env && lt_set_conv2d_algorithm(env) == 0)) conv_algorithm = 1;
  }
  return conv_algorithm;
}

const char *lt_conv2d_algorithm(void) { return algorithm_auto() ? "auto" : "im2col"; }

int lt_conv2d_winograd(const lt_conv2d_geom *g) {
  pthread_once(&wino_once, wino_build_all);
  return wino_ok && algorithm_auto() && g->groups == 1 && g->kh == g->kw &&
         (g->kh == 3 || g->kh == 5) && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 &&
         g->c >= LT_WINOGRAD_MIN_CHANNELS && g->oc >= LT_WINOGRAD_MIN_CHANNELS && g->n > 0 && g->oh > 0 &&
         g->ow > 0;
}

/* What a call works on: the algorithm, the padded channel counts, the tile grid of an
 * image, the packed image's size, the groups of images and the workspace's parts. */
typedef struct {
  const wino_mats *w;
  int64_t m, r, cp, ocp; /* tile, filter, channels padded to VL */
  int64_t ty, tx, tiles; /* tiles per image: ty × tx */
  int64_t hp, wp;        /* the packed, zero-padded image (hp, wp, cp) */
  int64_t qh, qw;        /* the tile grid's output (qh, qw, ocp): ty*m × tx*m */
  int64_t per, tg;       /* images per group, tiles per group */
  int64_t u;             /* floats of U (and of a block's dU): TNN * ocp * cp */
  int64_t pack, v, mm, q; /* a lane's parts: packed images, V, M, output tiles */
  int64_t lane;
  int own;               /* 1: the products run in own_product, 0: in lt_sgemm (the avx512 backend) */
} wino_plan;

static int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

/* Fills the plan for n images; -1 when a size overflows int64. */
static int wino_plan_of(const lt_conv2d_geom *g, wino_plan *p) {
  pthread_once(&wino_once, wino_build_all);
  p->w = &wino[g->kh == 5];
  p->own = strcmp(lt_gemm_backend(), "avx512") != 0;
  p->m = p->w->m;
  p->r = p->w->r;
  if (g->c > INT64_MAX - VL || g->oc > INT64_MAX - VL || g->oh > INT64_MAX - p->m || g->ow > INT64_MAX - p->m)
    return -1;
  p->cp = round_up(g->c, VL);
  p->ocp = round_up(g->oc, VL);
  p->ty = (g->oh + p->m - 1) / p->m;
  p->tx = (g->ow + p->m - 1) / p->m;
  int64_t reach_h, reach_w, in_h, in_w;
  if (lt_mul_overflow(p->ty, p->m, &p->qh) || lt_mul_overflow(p->tx, p->m, &p->qw) ||
      lt_add_overflow(p->qh, p->r - 1, &reach_h) || lt_add_overflow(p->qw, p->r - 1, &reach_w) ||
      lt_add_overflow(g->h, g->ph, &in_h) || lt_add_overflow(g->w, g->pw, &in_w) ||
      lt_mul_overflow(p->ty, p->tx, &p->tiles))
    return -1;
  p->hp = reach_h > in_h ? reach_h : in_h;
  p->wp = reach_w > in_w ? reach_w : in_w;
  /* at least GROUP_TILES tiles a group, but no fewer than 8 groups in a batch of 8 or more */
  const int64_t want = (GROUP_TILES + p->tiles - 1) / p->tiles, spread = (g->n + 7) / 8;
  p->per = want < spread ? want : spread;
  if (p->per < 1) p->per = 1;
  int64_t t;
  if (lt_mul_overflow(p->per, p->tiles, &p->tg) || lt_mul_overflow(p->ocp, p->cp, &t) ||
      lt_mul_overflow(t, TNN, &p->u) || lt_mul_overflow(p->per, p->hp, &t) || lt_mul_overflow(t, p->wp, &t) ||
      lt_mul_overflow(t, p->cp, &p->pack) || lt_mul_overflow(p->tg, p->cp, &t) || lt_mul_overflow(t, TNN, &p->v) ||
      lt_mul_overflow(p->tg, p->ocp, &t) || lt_mul_overflow(t, TNN, &p->mm) ||
      lt_mul_overflow(p->per, p->qh, &t) || lt_mul_overflow(t, p->qw, &t) || lt_mul_overflow(t, p->ocp, &p->q) ||
      lt_add_overflow(p->pack, p->v, &t) || lt_add_overflow(t, p->mm, &t) || lt_add_overflow(t, p->q, &p->lane))
    return -1;
  return 0;
}

/* The workspace: U, then lanes × (packed images, V, M, output tiles), then blocks × (dU, bias sums). */
int64_t lt_winograd_work_floats(const lt_conv2d_geom *g, int lanes, int blocks) {
  wino_plan p;
  int64_t a, b, total;
  if (wino_plan_of(g, &p) != 0 || lt_mul_overflow(p.lane, lanes, &a) || lt_add_overflow(p.u, p.ocp, &b) ||
      lt_mul_overflow(b, blocks, &b) || lt_add_overflow(p.u, a, &total) || lt_add_overflow(total, b, &total))
    return -1;
  return total;
}

static float *lane_base(float *work, const wino_plan *p, int lane) { return work + p->u + lane * p->lane; }

/* --------------------------------------------------------------- the transforms */

/* U[ξ][o][ci] (or, by_input, U[ξ][ci][o]) = (G g G^T)[ξ] of filter (o, ci), zero in the
 * padding, eight filters at a time along U's last dimension: for the rows [begin, end) of
 * its middle one (o, or ci by_input). */
WINO_PASS static void filters_range(const wino_mats *w, const float *weight, float *u, int64_t c, int64_t oc,
                                    int64_t cp, int64_t ocp, int by_input, int64_t begin, int64_t end) {
  const int r = w->r;
  const int64_t inner = by_input ? ocp : cp;
  for (int64_t row = begin; row < end; row++) {
    for (int64_t l8 = 0; l8 < inner; l8 += VL) {
      v8 g[TN][TN], t[TN][TN];
      for (int a = 0; a < r; a++) {
        for (int b = 0; b < r; b++) {
          for (int l = 0; l < VL; l++) {
            const int64_t o = by_input ? l8 + l : row, ci = by_input ? row : l8 + l;
            g[a][b][l] = o < oc && ci < c ? weight[((o * c + ci) * r + a) * r + b] : 0.0f;
          }
        }
      }
      for (int i = 0; i < TN; i++) {
        for (int b = 0; b < r; b++) {
          v8 acc = g[0][b] * w->g[i][0];
          for (int a = 1; a < r; a++) acc += g[a][b] * w->g[i][a];
          t[i][b] = acc;
        }
      }
      for (int i = 0; i < TN; i++) {
        for (int j = 0; j < TN; j++) {
          v8 acc = t[i][0] * w->g[j][0];
          for (int b = 1; b < r; b++) acc += t[i][b] * w->g[j][b];
          STORE(u + ((i * TN + j) * (by_input ? cp : ocp) + row) * inner + l8, acc);
        }
      }
    }
  }
}

typedef struct {
  const lt_conv2d_geom *g;
  const wino_plan *p;
  const float *in, *weight, *bias, *grad_output;
  float *out, *grad_input, *grad_weight, *work;
  float scale;
  int has_grad_bias, lanes, blocks, by_input;
} wino_job;

static void filters_chunk(void *ctx, int64_t begin, int64_t end, int lane) {
  (void)lane;
  const wino_job *job = ctx;
  filters_range(job->p->w, job->weight, job->work, job->g->c, job->g->oc, job->p->cp, job->p->ocp, job->by_input,
                begin, end);
}

/* Packs images [b0, b1) of x (n, c, h, w) as (hp, wp, cp): pixel (y, x) at (y + ph, x + pw),
 * zero elsewhere. */
static void pack_images(float *pack, const float *x, int64_t b0, int64_t b1, const lt_conv2d_geom *g,
                        const wino_plan *p) {
  const int64_t size = p->hp * p->wp * p->cp;
  memset(pack, 0, (size_t)((b1 - b0) * size) * sizeof(float));
  for (int64_t b = b0; b < b1; b++) {
    float *img = pack + (b - b0) * size;
    for (int64_t ci = 0; ci < g->c; ci++) {
      for (int64_t y = 0; y < g->h; y++) {
        const float *src = x + ((b * g->c + ci) * g->h + y) * g->w;
        float *dst = img + ((y + g->ph) * p->wp + g->pw) * p->cp + ci;
        for (int64_t xx = 0; xx < g->w; xx++) dst[xx * p->cp] = src[xx];
      }
    }
  }
}

/* V[ξ][t][.] = (B^T d B)[ξ] for every tile t of `count` packed images. */
WINO_PASS static void input_tiles(float *v, const float *pack, int64_t count, const wino_plan *p) {
  const int64_t cp = p->cp, rowf = p->wp * cp, imgf = p->hp * rowf;
  for (int64_t t = 0; t < count * p->tiles; t++) {
    const int64_t i = t / p->tiles, ty = t % p->tiles / p->tx, tx = t % p->tx;
    const float *base = pack + i * imgf + ty * p->m * rowf + tx * p->m * cp;
    for (int64_t c8 = 0; c8 < cp; c8 += VL) {
      v8 col[TN], s[TN][TN], row[TN];
      for (int b = 0; b < TN; b++) { /* s = B^T d, column by column */
        for (int a = 0; a < TN; a++) col[a] = LOAD(base + a * rowf + b * cp + c8);
        bt_apply(col, row);
        for (int i2 = 0; i2 < TN; i2++) s[i2][b] = row[i2];
      }
      for (int i2 = 0; i2 < TN; i2++) { /* then s B, row by row */
        bt_apply(s[i2], row);
        for (int j = 0; j < TN; j++) STORE(v + ((i2 * TN + j) * p->tg + t) * cp + c8, row[j]);
      }
    }
  }
}

/* The adjoint of input_tiles: pack (zeroed first) += B dV B^T of every tile, at the tile's place. */
WINO_PASS static void input_tiles_adjoint(float *pack, const float *v, int64_t count, const wino_plan *p) {
  const int64_t cp = p->cp, rowf = p->wp * cp, imgf = p->hp * rowf;
  memset(pack, 0, (size_t)(count * imgf) * sizeof(float));
  for (int64_t t = 0; t < count * p->tiles; t++) {
    const int64_t i = t / p->tiles, ty = t % p->tiles / p->tx, tx = t % p->tx;
    float *base = pack + i * imgf + ty * p->m * rowf + tx * p->m * cp;
    for (int64_t c8 = 0; c8 < cp; c8 += VL) {
      v8 col[TN], s[TN][TN], row[TN];
      for (int j = 0; j < TN; j++) { /* s = B dV, column by column */
        for (int i2 = 0; i2 < TN; i2++) col[i2] = LOAD(v + ((i2 * TN + j) * p->tg + t) * cp + c8);
        b_apply(col, row);
        for (int a = 0; a < TN; a++) s[a][j] = row[a];
      }
      for (int a = 0; a < TN; a++) { /* then s B^T, row by row, added at the tile's place */
        b_apply(s[a], row);
        for (int b = 0; b < TN; b++) {
          float *q = base + a * rowf + b * cp + c8;
          STORE(q, LOAD(q) + row[b]);
        }
      }
    }
  }
}

/* q (count, qh, qw, ocp) = A^T M A of every tile: the output tiles, channels innermost. */
static inline __attribute__((always_inline)) void output_tiles_m(int m, float *q, const float *mm, int64_t count,
                                                                  const wino_plan *p) {
  const int64_t ocp = p->ocp, rowf = p->qw * ocp, imgf = p->qh * rowf;
  for (int64_t t = 0; t < count * p->tiles; t++) {
    const int64_t i = t / p->tiles, ty = t % p->tiles / p->tx, tx = t % p->tx;
    float *base = q + i * imgf + ty * m * rowf + tx * m * ocp;
    for (int64_t k8 = 0; k8 < ocp; k8 += VL) {
      v8 col[TN], s[TN][TN], row[TN];
      for (int j = 0; j < TN; j++) { /* s = A^T M, column by column */
        for (int i2 = 0; i2 < TN; i2++) col[i2] = LOAD(mm + ((i2 * TN + j) * p->tg + t) * ocp + k8);
        at_apply(m, col, row);
        for (int a = 0; a < m; a++) s[a][j] = row[a];
      }
      for (int a = 0; a < m; a++) { /* then s A, row by row */
        at_apply(m, s[a], row);
        for (int b = 0; b < m; b++) STORE(base + a * rowf + b * ocp + k8, row[b]);
      }
    }
  }
}

WINO_PASS static void output_tiles(float *q, const float *mm, int64_t count, const wino_plan *p) {
  if (p->m == 2) output_tiles_m(2, q, mm, count, p);
  else output_tiles_m(4, q, mm, count, p);
}

/* The adjoint of output_tiles: M[ξ][t][.] = (A dY A^T)[ξ] of every tile of q. */
static inline __attribute__((always_inline)) void output_tiles_adjoint_m(int m, float *mm, const float *q,
                                                                          int64_t count, const wino_plan *p) {
  const int64_t ocp = p->ocp, rowf = p->qw * ocp, imgf = p->qh * rowf;
  for (int64_t t = 0; t < count * p->tiles; t++) {
    const int64_t i = t / p->tiles, ty = t % p->tiles / p->tx, tx = t % p->tx;
    const float *base = q + i * imgf + ty * m * rowf + tx * m * ocp;
    for (int64_t k8 = 0; k8 < ocp; k8 += VL) {
      v8 col[TN], s[TN][TN], row[TN];
      for (int b = 0; b < m; b++) { /* s = A dY, column by column */
        for (int a = 0; a < m; a++) col[a] = LOAD(base + a * rowf + b * ocp + k8);
        a_apply(m, col, row);
        for (int i2 = 0; i2 < TN; i2++) s[i2][b] = row[i2];
      }
      for (int i2 = 0; i2 < TN; i2++) { /* then s A^T, row by row */
        a_apply(m, s[i2], row);
        for (int j = 0; j < TN; j++) STORE(mm + ((i2 * TN + j) * p->tg + t) * ocp + k8, row[j]);
      }
    }
  }
}

WINO_PASS static void output_tiles_adjoint(float *mm, const float *q, int64_t count, const wino_plan *p) {
  if (p->m == 2) output_tiles_adjoint_m(2, mm, q, count, p);
  else output_tiles_adjoint_m(4, mm, q, count, p);
}

/* q (count, qh, qw, ocp) = grad_output of images [b0, b1), zero beyond (oh, ow) and oc. */
static void pack_grad_output(float *q, const float *grad_output, int64_t b0, int64_t b1, const lt_conv2d_geom *g,
                             const wino_plan *p) {
  const int64_t size = p->qh * p->qw * p->ocp;
  memset(q, 0, (size_t)((b1 - b0) * size) * sizeof(float));
  for (int64_t b = b0; b < b1; b++) {
    for (int64_t o = 0; o < g->oc; o++) {
      for (int64_t y = 0; y < g->oh; y++) {
        const float *src = grad_output + ((b * g->oc + o) * g->oh + y) * g->ow;
        float *dst = q + (b - b0) * size + y * p->qw * p->ocp + o;
        for (int64_t x = 0; x < g->ow; x++) dst[x * p->ocp] = src[x];
      }
    }
  }
}

/* ---------------------------------------------------------------- the products */

/* Rows i0..i0+MR of C, columns j..j+8*NV: acc = sum_k A[i][k] B[k][.], then
 * C = alpha * acc (+ C when accumulating). MR and NV are constants where it is inlined. */
static inline __attribute__((always_inline)) void product_tile(int mr, int nv, int64_t k, float alpha,
                                                               const float *a, int64_t ars, int64_t aks,
                                                               const float *b, int64_t ldb, int accumulate,
                                                               float *c, int64_t ldc) {
  v8 acc[6][2];
  for (int i = 0; i < mr; i++) {
    for (int v = 0; v < nv; v++) acc[i][v] = (v8){0};
  }
  for (int64_t kk = 0; kk < k; kk++) {
    v8 bv[2];
    for (int v = 0; v < nv; v++) bv[v] = LOAD(b + kk * ldb + v * VL);
    for (int i = 0; i < mr; i++) {
      const float av = a[i * ars + kk * aks];
      for (int v = 0; v < nv; v++) acc[i][v] += av * bv[v];
    }
  }
  for (int i = 0; i < mr; i++) {
    for (int v = 0; v < nv; v++) {
      float *q = c + i * ldc + v * VL;
      STORE(q, accumulate ? LOAD(q) + alpha * acc[i][v] : alpha * acc[i][v]);
    }
  }
}

/* C (rows, cols) = alpha * A B (+ C when accumulating), C row-major with ldc = cols, a
 * multiple of 8; A's element (i, k) at a[i*ars + k*aks], B (k, cols) row-major with ldb.
 * Tiles of 6 rows by 16 columns: twelve accumulators, two loads of B and six broadcasts of
 * A per step of k. Each element is summed over k in order, whatever the shapes. */
WINO_PASS static void own_product(int64_t rows, int64_t cols, int64_t k, float alpha, const float *a, int64_t ars,
                                  int64_t aks, const float *b, int64_t ldb, int accumulate, float *c) {
  for (int64_t j = 0; j < cols; j += 2 * VL) {
    const int wide = cols - j >= 2 * VL;
    for (int64_t i = 0; i < rows; i += 6) {
      const float *ai = a + i * ars;
      float *ci = c + i * cols + j;
      const int64_t mr = rows - i < 6 ? rows - i : 6;
#define TILE(R)                                                                                   \
  case R:                                                                                         \
    if (wide) product_tile(R, 2, k, alpha, ai, ars, aks, b + j, ldb, accumulate, ci, cols);       \
    else product_tile(R, 1, k, alpha, ai, ars, aks, b + j, ldb, accumulate, ci, cols);            \
    break;
      switch (mr) {
        TILE(1)
        TILE(2)
        TILE(3)
        TILE(4)
        TILE(5)
        TILE(6)
      }
#undef TILE
    }
  }
}

/* The product of one transform position: lunet's AVX-512 sgemm where it is the backend
 * (gemm.h), else own_product, which beats cblas_sgemm on these thin shapes (k and the
 * columns are the channel counts, the rows a group's tiles). */
static void product(int own, int64_t rows, int64_t cols, int64_t k, float alpha, const float *a, int64_t ars,
                    int64_t aks, const float *b, int64_t ldb, int accumulate, float *c) {
  if (own) {
    own_product(rows, cols, k, alpha, a, ars, aks, b, ldb, accumulate, c);
    return;
  }
  lt_sgemm(aks == 1 ? LT_NOTRANS : LT_TRANS, LT_NOTRANS, rows, cols, k, alpha, a, aks == 1 ? ars : aks, b, ldb,
           accumulate ? 1.0f : 0.0f, c, cols);
}

/* The 36 products of a group, position x reading a + x*astep and b + x*bstep and writing
 * c + x*cstep. */
typedef struct {
  int64_t rows, cols, k, ars, aks, ldb, astep, bstep, cstep;
  float alpha;
  const float *a, *b;
  float *c;
  int accumulate, own;
} positions_job;

static void positions_chunk(void *ctx, int64_t begin, int64_t end, int lane) {
  (void)lane;
  const positions_job *j = ctx;
  for (int64_t x = begin; x < end; x++) {
    product(j->own, j->rows, j->cols, j->k, j->alpha, j->a + x * j->astep, j->ars, j->aks, j->b + x * j->bstep, j->ldb,
            j->accumulate, j->c + x * j->cstep);
  }
}

/* In order on the calling thread when the group is one chunk of a parallel loop; spread
 * over the pool when it is the call's only group (a batch of one image): each position
 * is one product into its own slice, so the results are the same either way. */
static void positions(const positions_job *j) { lt_parallel_for(TNN, 1, positions_chunk, (void *)j); }

/* Images per chunk of the forward and input-gradient loops: one under a batch of 16, so
 * that small batches spread over the lanes (their rows are independent: each element is
 * summed over the channels in one order whatever the group). */
static int64_t image_grain(const lt_conv2d_geom *g, const wino_plan *p) { return g->n <= 16 ? 1 : p->per; }

/* ------------------------------------------------------------------- the calls */

/* dst (count, ch, h, w) = the channels-last images at src, image i's pixel (y, x) channel k at
 * src[i*img + y*row + x*cs + k], plus bias[k] when bias is given. */
static void unpack_planes(float *dst, const float *src, int64_t count, int64_t ch, int64_t h, int64_t w, int64_t img,
                          int64_t row, int64_t cs, const float *bias) {
  for (int64_t i = 0; i < count; i++) {
    for (int64_t k = 0; k < ch; k++) {
      const float add = bias ? bias[k] : 0.0f;
      for (int64_t y = 0; y < h; y++) {
        float *d = dst + ((i * ch + k) * h + y) * w;
        const float *q = src + i * img + y * row + k;
        for (int64_t x = 0; x < w; x++) d[x] = q[x * cs] + add;
      }
    }
  }
}

/* Group [begin, end) of images: V of the packed input, then M[ξ] = V[ξ] U[ξ]^T. */
static void forward_groups(void *ctx, int64_t b0, int64_t b1, int lane) {
  const wino_job *job = ctx;
  const wino_plan *p = job->p;
  const lt_conv2d_geom *g = job->g;
  float *pack = lane_base(job->work, p, lane), *v = pack + p->pack, *mm = v + p->v, *q = mm + p->mm;
  const int64_t count = b1 - b0, rows = count * p->tiles;
  pack_images(pack, job->in, b0, b1, g, p);
  input_tiles(v, pack, count, p);
  positions(&(positions_job){.rows = rows, .cols = p->ocp, .k = p->cp, .alpha = 1.0f, .a = v, .ars = p->cp, .aks = 1,
                             .astep = p->tg * p->cp, .b = job->work, .ldb = p->ocp, .bstep = p->ocp * p->cp,
                             .c = mm, .cstep = p->tg * p->ocp, .own = p->own});
  output_tiles(q, mm, count, p);
  unpack_planes(job->out + b0 * g->oc * g->oh * g->ow, q, count, g->oc, g->oh, g->ow, p->qh * p->qw * p->ocp,
                p->qw * p->ocp, p->ocp, job->bias);
}

/* U of the filters into the workspace's head, over the pool. */
static void transform_filters(wino_job *job) {
  lt_parallel_for(job->by_input ? job->p->cp : job->p->ocp, 1, filters_chunk, job);
}

void lt_winograd_forward(const float *in, const float *weight, const float *bias, float *out, float *work,
                         const lt_conv2d_geom *g) {
  wino_plan p;
  if (wino_plan_of(g, &p) != 0) return; /* the binding sized the workspace with this plan */
  wino_job job = {.g = g, .p = &p, .in = in, .weight = weight, .bias = bias, .out = out, .work = work, .by_input = 1};
  transform_filters(&job);
  lt_parallel_for(g->n, image_grain(g, &p), forward_groups, &job);
}

static void backward_input_groups(void *ctx, int64_t b0, int64_t b1, int lane) {
  const wino_job *job = ctx;
  const wino_plan *p = job->p;
  const lt_conv2d_geom *g = job->g;
  float *pack = lane_base(job->work, p, lane), *v = pack + p->pack, *mm = v + p->v, *q = mm + p->mm;
  const int64_t count = b1 - b0, rows = count * p->tiles;
  pack_grad_output(q, job->grad_output, b0, b1, g, p);
  output_tiles_adjoint(mm, q, count, p);
  positions(&(positions_job){.rows = rows, .cols = p->cp, .k = p->ocp, .alpha = 1.0f, .a = mm, .ars = p->ocp, .aks = 1,
                             .astep = p->tg * p->ocp, .b = job->work, .ldb = p->cp, .bstep = p->ocp * p->cp,
                             .c = v, .cstep = p->tg * p->cp, .own = p->own});
  input_tiles_adjoint(pack, v, count, p);
  unpack_planes(job->grad_input + b0 * g->c * g->h * g->w, pack + (g->ph * p->wp + g->pw) * p->cp, count, g->c, g->h,
                g->w, p->hp * p->wp * p->cp, p->wp * p->cp, p->cp, job->bias);
}

void lt_winograd_backward_input(const float *grad_output, const float *weight, const float *bias,
                                float *grad_input, float *work, const lt_conv2d_geom *g) {
  wino_plan p;
  if (wino_plan_of(g, &p) != 0) return;
  wino_job job = {.g = g, .p = &p, .grad_output = grad_output, .weight = weight, .bias = bias,
                  .grad_input = grad_input, .work = work};
  transform_filters(&job);
  lt_parallel_for(g->n, image_grain(g, &p), backward_input_groups, &job);
}

/* Block i of the batch: images [i*n/blocks, (i+1)*n/blocks). */
static int64_t wino_block_start(int64_t i, const wino_job *job) { return i * job->g->n / job->blocks; }

/* Block i's partial sums, after the lanes' parts: its dU (TNN, ocp, cp), then its bias sums (ocp). */
static float *block_sums(const wino_job *job, int64_t i) {
  const wino_plan *p = job->p;
  return job->work + p->u + job->lanes * p->lane + i * (p->u + p->ocp);
}

/* Block i's sums, group by group (groups of p->per images from the block's start):
 * dU[ξ] (+)= scale * M[ξ]^T V[ξ], with V of the input and M of grad_output; the bias sums
 * as conv.c sums them. The first group overwrites the block's slot. */
static void backward_params_blocks(void *ctx, int64_t begin, int64_t end, int lane) {
  const wino_job *job = ctx;
  const wino_plan *p = job->p;
  const lt_conv2d_geom *g = job->g;
  float *pack = lane_base(job->work, p, lane), *v = pack + p->pack, *mm = v + p->v, *q = mm + p->mm;
  for (int64_t i = begin; i < end; i++) {
    float *du = block_sums(job, i), *part_b = du + p->u;
    const int64_t first = wino_block_start(i, job), last = wino_block_start(i + 1, job);
    for (int64_t b0 = first; b0 < last; b0 += p->per) {
      const int64_t b1 = b0 + p->per < last ? b0 + p->per : last, count = b1 - b0;
      pack_images(pack, job->in, b0, b1, g, p);
      input_tiles(v, pack, count, p);
      pack_grad_output(q, job->grad_output, b0, b1, g, p);
      output_tiles_adjoint(mm, q, count, p);
      positions(&(positions_job){.rows = p->ocp, .cols = p->cp, .k = count * p->tiles, .alpha = job->scale, .a = mm,
                                 .ars = 1, .aks = p->ocp, .astep = p->tg * p->ocp, .b = v, .ldb = p->cp,
                                 .bstep = p->tg * p->cp, .accumulate = b0 != first, .c = du,
                                 .cstep = p->ocp * p->cp, .own = p->own});
      if (!job->has_grad_bias) continue;
      for (int64_t b = b0; b < b1; b++) {
        lt_conv2d_bias_sums(part_b, job->grad_output + b * g->oc * g->oh * g->ow, g->oc, g->oh * g->ow, job->scale,
                            b == first);
      }
    }
  }
}

/* grad_weight[o][ci] += G^T dU[.][o][ci] G over the filters [begin, end) (dU summed over the blocks). */
WINO_PASS static void filter_grads_range(const wino_mats *w, const float *du, float *grad_weight, int64_t c,
                                         int64_t cp, int64_t ocp, int64_t begin, int64_t end) {
  const int r = w->r;
  for (int64_t o = begin; o < end; o++) {
    for (int64_t ci = 0; ci < c; ci++) {
      float t[TN][TN];
      for (int i = 0; i < TN; i++) {
        for (int b = 0; b < r; b++) {
          float s = 0.0f;
          for (int j = 0; j < TN; j++) s += du[((i * TN + j) * ocp + o) * cp + ci] * w->g[j][b];
          t[i][b] = s;
        }
      }
      for (int a = 0; a < r; a++) {
        for (int b = 0; b < r; b++) {
          float s = 0.0f;
          for (int i = 0; i < TN; i++) s += w->g[i][a] * t[i][b];
          grad_weight[((o * c + ci) * r + a) * r + b] += s;
        }
      }
    }
  }
}

static void filter_grads_chunk(void *ctx, int64_t begin, int64_t end, int lane) {
  (void)lane;
  const wino_job *job = ctx;
  filter_grads_range(job->p->w, block_sums(job, 0), job->grad_weight, job->g->c, job->p->cp, job->p->ocp, begin, end);
}

/* Block 0's slot += the other blocks' slots, in block order, over the elements [begin, end). */
static void sum_blocks_chunk(void *ctx, int64_t begin, int64_t end, int lane) {
  (void)lane;
  const wino_job *job = ctx;
  float *du = block_sums(job, 0);
  for (int i = 1; i < job->blocks; i++) {
    const float *part = block_sums(job, i);
    for (int64_t k = begin; k < end; k++) du[k] += part[k];
  }
}

void lt_winograd_backward_params(const float *in, const float *grad_output, float *grad_weight, float *grad_bias,
                                 float *work, float scale, const lt_conv2d_geom *g, int lanes, int blocks) {
  wino_plan p;
  if (wino_plan_of(g, &p) != 0) return;
  wino_job job = {.g = g, .p = &p, .in = in, .grad_output = grad_output, .grad_weight = grad_weight, .work = work,
                  .scale = scale, .has_grad_bias = grad_bias != NULL, .lanes = lanes, .blocks = blocks};
  lt_parallel_for(blocks, 1, backward_params_blocks, &job);
  float *du = block_sums(&job, 0);
  lt_parallel_for(p.u + (grad_bias ? p.ocp : 0), lt_items_grain(blocks), sum_blocks_chunk, &job);
  lt_parallel_for(g->oc, 1, filter_grads_chunk, &job);
  if (grad_bias) {
    for (int64_t o = 0; o < g->oc; o++) grad_bias[o] += du[p.u + o];
  }
}
