/* embedding.c — the lookup of rows of a weight matrix by 1-based index, and its gradient,
 * added into the rows the indices name and no other. */
#include <stdlib.h>
#include <string.h>
#include "nnkernels.h"
#include "threadpool.h"

typedef struct {
  const int32_t *index;
  const float *src;
  float *dst;
  const int32_t *pairs; /* backward: (row, position) pairs, sorted */
  int64_t n, d;
  int32_t pad;
  float scale;
} emb_job;

static void lookup_rows(void *ctx, int64_t i0, int64_t i1, int lane) {
  const emb_job *j = ctx;
  for (int64_t i = i0; i < i1; i++)
    memcpy(j->dst + i * j->d, j->src + (int64_t)(j->index[i] - 1) * j->d, (size_t)j->d * sizeof(float));
}

void lt_embedding_forward(const int32_t *index, const float *weight, float *out, int64_t n, int64_t d) {
  lt_parallel_for(n, lt_items_grain(d), lookup_rows, &(emb_job){.index = index, .src = weight, .dst = out, .d = d});
}

/* Orders (row, position) pairs by row, then position: a total order, so the sort is
 * deterministic although qsort is not stable. */
static int pair_cmp(const void *a, const void *b) {
  const int32_t *p = a, *q = b;
  if (p[0] != q[0]) return p[0] < q[0] ? -1 : 1;
  return (p[1] > q[1]) - (p[1] < q[1]);
}

/* Columns per block of a row's sums: the block stays on the stack. */
#define EMB_COLUMN_BLOCK 256

/* The runs of equal rows that START in [k0, k1) of the sorted pairs (a run may end past
 * k1): each row is summed by exactly one lane, its positions in increasing order. */
static void add_runs(void *ctx, int64_t k0, int64_t k1, int lane) {
  const emb_job *j = ctx;
  const int32_t *pr = j->pairs;
  int64_t k = k0;
  while (k > 0 && k < k1 && pr[2 * k] == pr[2 * (k - 1)]) k++;
  double acc[EMB_COLUMN_BLOCK];
  while (k < k1) {
    const int32_t row = pr[2 * k];
    int64_t e = k + 1;
    while (e < j->n && pr[2 * e] == row) e++;
    if (row != j->pad) {
      float *gw = j->dst + (int64_t)(row - 1) * j->d;
      for (int64_t c0 = 0; c0 < j->d; c0 += EMB_COLUMN_BLOCK) {
        const int64_t w = j->d - c0 < EMB_COLUMN_BLOCK ? j->d - c0 : EMB_COLUMN_BLOCK;
        memset(acc, 0, sizeof acc);
        for (int64_t q = k; q < e; q++) {
          const float *g = j->src + (int64_t)pr[2 * q + 1] * j->d + c0;
          for (int64_t c = 0; c < w; c++) acc[c] += g[c];
        }
        for (int64_t c = 0; c < w; c++) gw[c0 + c] += j->scale * (float)acc[c];
      }
    }
    k = e;
  }
}

void lt_embedding_backward(const int32_t *index, const float *grad_output, float *grad_weight, int32_t *work,
                           int64_t n, int64_t d, int32_t pad, float scale) {
  for (int64_t i = 0; i < n; i++) {
    work[2 * i] = index[i];
    work[2 * i + 1] = (int32_t)i;
  }
  qsort(work, (size_t)n, 2 * sizeof(int32_t), pair_cmp);
  lt_parallel_for(n, lt_items_grain(d), add_runs,
                  &(emb_job){.src = grad_output, .dst = grad_weight, .pairs = work, .n = n, .d = d, .pad = pad,
                             .scale = scale});
}
