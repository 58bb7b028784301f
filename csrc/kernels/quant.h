/* quant.h — compact weights for a linear layer's inference (quant.c): bf16, or int8 with
 * one float32 scale per output row.
 *
 * At batch 1 a linear layer reads each weight once and does one multiply-add with it, so
 * its time is the time to read the weights: halving (bf16) or quartering (int8) their
 * bytes is the only way below that bound. The weights are converted to float32 in
 * registers as they are read; the sums are float32.
 *   bf16: the upper 16 bits of a float32, rounded to nearest even (7 stored bits of
 *         mantissa: relative error at most 2^-8 per weight)
 *   int8: q[j][k] = round(w[j][k] / s[j]), s[j] = max_k |w[j][k]| / 127 (a zero row has
 *         s = 0 and q = 0): absolute error at most s[j] / 2 per weight
 */
#ifndef LUNET_QUANT_H
#define LUNET_QUANT_H

#include <stdint.h>

typedef enum { LT_QBF16, LT_QINT8 } lt_qformat;

/* An (out, in) weight matrix in a compact format, row-major and contiguous: data holds
 * out*in values (uint16_t bf16 bits, or int8_t), scale the out row scales (int8 only;
 * NULL for bf16). */
typedef struct {
  lt_qformat format;
  int64_t out, in;
  void *data;
  float *scale;
} lt_qweight;

/* Bytes per stored weight: 2 (bf16) or 1 (int8). */
int lt_qformat_size(lt_qformat f);

/* Fills q->data (and q->scale) from the float32 matrix w (q->out, q->in). Returns -1, or
 * the flat index of the first weight that is not finite (then q is unspecified). */
int64_t lt_quantize(const float *w, lt_qweight *q);

/* w (out, in) = the float32 values q stands for: bf16 widened, int8 times its row's scale. */
void lt_dequantize(const lt_qweight *q, float *w);

/* Validates q as read from a file: -1 when every bf16 value is finite, every int8 value in
 * -127..127 and every scale finite and >= 0; else the flat index of the first bad weight,
 * or out*in + r for a bad scale of row r. */
int64_t lt_qweight_check(const lt_qweight *q);

/* y (n, out) = x (n, in) · W^T (+ bias (out), may be NULL), W the weights q stands for:
 *   y[r][j] = s[j] * sum_k x[r][k] q[j][k] + bias[j]     (int8; bf16 without s[j])
 * Each sum runs over k in 8 interleaved partial sums (k mod 8) combined in a fixed order,
 * whatever the CPU path (AVX2+FMA, or portable C with fmaf) and the thread count, so y is
 * the same on every x86-64 CPU and for any lunet.setNumThreads. Rows of W are split over
 * the thread pool when the product is large; W is read once per 4 rows of x (once in all
 * at batch 1). */
void lt_qlinear_forward(const float *x, const lt_qweight *q, const float *bias, float *y, int64_t n);

#endif
