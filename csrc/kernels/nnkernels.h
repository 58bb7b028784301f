/* nnkernels.h — the CNN kernels: conv2d (conv.c), max-pool and unpool (pool.c),
 * ReLU, dropout, linear, softmax and cross-entropy (activ.c).
 *
 * Plain functions over raw float/int32 pointers and sizes; they know nothing of Lua.
 * Every array is contiguous, row-major, batch-first (NCHW for images, (N,D) for
 * vectors). The callers (csrc/lua/nn.c) check shapes and own every output and
 * workspace buffer. "Accumulates" means the kernel adds into its output (+=), the
 * way parameter gradients are gathered over calls; otherwise outputs are overwritten.
 */
#ifndef LUNET_NNKERNELS_H
#define LUNET_NNKERNELS_H

#include <stdint.h>

/* ---- conv2d (conv.c) ---- */

/* The geometry of a 2-D convolution or pooling window over a batch:
 * input (n, c, h, w), window kh x kw, stride sh, sw, zero padding ph, pw on each
 * side, dilation dh, dw (the window's taps are dh rows and dw columns apart, so it
 * spans dh*(kh-1)+1 x dw*(kw-1)+1 cells), output spatial size oh x ow (at most what
 * lt_window_outsize gives for the dilated window; a transposed convolution may ask
 * for less, see below). For conv2d, oc is the number of output channels and groups
 * splits both channel counts into that many independent convolutions: group gi maps
 * input channels [gi*c/groups, (gi+1)*c/groups) to output channels
 * [gi*oc/groups, (gi+1)*oc/groups) (groups = c is the depthwise convolution).
 * Pooling ignores oc, dh, dw and groups. */
typedef struct lt_conv2d_geom {
  int64_t n, c, h, w;
  int64_t oc, kh, kw, sh, sw, ph, pw;
  int64_t oh, ow;
  int64_t dh, dw, groups;
} lt_conv2d_geom;

/* floor((in + 2*pad - k) / stride) + 1, or 0 when the window does not fit (or in + 2*pad overflows).
 * A dilated window passes its span, dilation*(k-1)+1. */
int64_t lt_window_outsize(int64_t in, int64_t k, int64_t stride, int64_t pad);

/* im2col of ONE image (g->n and g->groups are ignored). With L = oh*ow and K = c*kh*kw,
 *   cols[(ci*kh + i)*kw + j][y*ow + x] = in[ci][y*sh - ph + i*dh][x*sw - pw + j*dw]
 * (zero outside the input). in (c, h, w), cols (K, L); pad is a workspace of
 * c*(h+2ph)*(w+2pw) floats that receives the zero-padded image. */
void lt_im2col(const float *in, float *cols, float *pad, const lt_conv2d_geom *g);
/* The adjoint of lt_im2col for ONE image: grad_input (c, h, w) is overwritten with
 * grad_input[ci][y*sh-ph+i*dh][x*sw-pw+j*dw] summed over every (i, j, y, x) that reads it;
 * pad as for lt_im2col. */
void lt_col2im(const float *cols, float *grad_input, float *pad, const lt_conv2d_geom *g);

/* The batched kernels below work image by image: unfold one image into cols (K, L),
 * small enough to stay in cache, and multiply it with the filters viewed as an
 * (oc, K) matrix in one sgemm whose result is that image's (oc, L) output plane; with
 * groups, group by group: one im2col of the group's C = c/groups channels and one
 * sgemm with its slices of the filters and the output (K = C*kh*kw below); a depthwise
 * group (C = 1) runs its taps over its padded plane directly, without cols. The images
 * are spread over the lanes of lunet's thread pool, and the parameter gradients are
 * summed per block of images, a fixed number of blocks in a fixed order, so that they
 * do not depend on the thread count.
 * work is a workspace of lt_conv2d_work_floats(g) floats:
 *   lanes * (K*L (cols) + C*(h+2ph)*(w+2pw) (the padded image))
 *   + blocks * (oc*K + oc (a block's parameter gradients)). */
/* The workspace size in floats for the current thread count, or -1 when it overflows
 * int64. Every size product is checked. */
int64_t lt_conv2d_work_floats(const lt_conv2d_geom *g);

/* Forward, with G = oc/groups and C = c/groups, o in group gi = o / G:
 *   out[b][o][y][x] = bias[o] + sum_{ci<C,i,j} weight[o][ci][i][j] * in[b][gi*C+ci][y*sh-ph+i*dh][x*sw-pw+j*dw]
 * in (n,c,h,w), weight (oc,C,kh,kw), bias (oc) or NULL, out (n,oc,oh,ow). */
void lt_conv2d_forward(const float *in, const float *weight, const float *bias, float *out,
                       float *work, const lt_conv2d_geom *g);
/* Gradient w.r.t. the input: grad_input[b] = col2im(weight^T · grad_output[b]) group by group, i.e. the
 * transposed convolution of grad_output with the same filters, plus bias[ci] on every plane ci when bias
 * (c) is given (the transposed convolution's own bias; NULL for conv2d's backward).
 * grad_output (n,oc,oh,ow), grad_input (n,c,h,w) overwritten. */
void lt_conv2d_backward_input(const float *grad_output, const float *weight, const float *bias,
                              float *grad_input, float *work, const lt_conv2d_geom *g);
/* Gradients w.r.t. the parameters, accumulated:
 *   grad_weight[o][k] += scale * sum_b (grad_output[b][o] · im2col(in[b])[gi*K + k]^T)   (o in group gi)
 *   grad_bias[o]      += scale * sum_{b,y,x} grad_output[b][o][y][x]       (skipped when grad_bias is NULL)
 * in is the forward input (n,c,h,w), grad_weight (oc,C,kh,kw), grad_bias (oc). */
void lt_conv2d_backward_params(const float *in, const float *grad_output, float *grad_weight, float *grad_bias,
                               float *work, float scale, const lt_conv2d_geom *g);

/* Per-channel sums over a batch, accumulated in a fixed order (image by image):
 *   out[ci] += scale * sum_{b,l} x[b][ci][l],  x (n, c, l).
 * The transposed convolution's bias gradient. */
void lt_channel_sums(const float *x, float *out, int64_t n, int64_t c, int64_t l, float scale);

/* One image's bias gradient into a block's partial sums, as lt_conv2d_backward_params sums them:
 *   part_b[o] = (first ? 0 : part_b[o]) + scale * sum_l grad_output_b[o][l],  grad_output_b (oc, l). */
void lt_conv2d_bias_sums(float *part_b, const float *grad_output_b, int64_t oc, int64_t l, float scale, int first);

/* Winograd's algorithm (winograd.c) takes over the three kernels above for the
 * convolutions where it needs fewer multiplies: 3×3 and 5×5 filters, stride 1, no
 * dilation, no groups, at least LT_WINOGRAD_MIN_CHANNELS input and output channels
 * (fewer make products too thin to gain). lt_conv2d_winograd(g) says whether it does,
 * under the current setting: "auto" (the default; LUNET_CONV=im2col in the environment
 * changes it when the module loads) or "im2col" (never). lt_set_conv2d_algorithm returns
 * 0, or -1 for an unknown name. */
#define LT_WINOGRAD_MIN_CHANNELS 32
int lt_conv2d_winograd(const lt_conv2d_geom *g);
const char *lt_conv2d_algorithm(void);
int lt_set_conv2d_algorithm(const char *name);
/* Its workspace in floats for `lanes` lanes and `blocks` blocks of parameter sums, -1 on
 * overflow; its kernels compute what lt_conv2d_forward, lt_conv2d_backward_input and
 * lt_conv2d_backward_params compute (up to rounding), with the same arguments. */
int64_t lt_winograd_work_floats(const lt_conv2d_geom *g, int lanes, int blocks);
void lt_winograd_forward(const float *in, const float *weight, const float *bias, float *out, float *work,
                         const lt_conv2d_geom *g);
void lt_winograd_backward_input(const float *grad_output, const float *weight, const float *bias,
                                float *grad_input, float *work, const lt_conv2d_geom *g);
void lt_winograd_backward_params(const float *in, const float *grad_output, float *grad_weight, float *grad_bias,
                                 float *work, float scale, const lt_conv2d_geom *g, int lanes, int blocks);

/* The transposed convolution (ConvTranspose2d) is the adjoint of a convolution and
 * has no kernels of its own: with the geometry of the convolution that maps ITS
 * output (n, c, h, w) back to its input (n, oc, oh, ow) (weight (oc, c/groups, kh, kw),
 * oc its input channels), its forward is lt_conv2d_backward_input (with its bias),
 * its gradient w.r.t. the input lt_conv2d_forward (no bias), its weight gradient
 * lt_conv2d_backward_params with in and grad_output swapped, its bias gradient
 * lt_channel_sums of its grad_output. */

/* ---- max-pool 2-D (pool.c) ---- */

/* Forward: out[b][ci][y][x] = max over the window of in[b][ci][...] (padding cells
 * never win; 2*ph <= kh and 2*pw <= kw so every window holds an input cell);
 * switches[b][ci][y][x] = the flat index of that maximum inside its input plane,
 * 1-based as every index lunet shows to Lua: row*w + col + 1. Ties go to the first
 * maximum in row-major order; a NaN wins. in (n,c,h,w), out and switches (n,c,oh,ow). */
void lt_maxpool2d_forward(const float *in, float *out, int32_t *switches, const lt_conv2d_geom *g);
/* Backward: grad_input (n,c,h,w) = 0, then grad_input[plane][switch - 1] += grad_output[...] for every output
 * cell. Switches must lie in 1..h*w (the caller checks them). */
void lt_maxpool2d_backward(const float *grad_output, const int32_t *switches, float *grad_input,
                           const lt_conv2d_geom *g);
/* Unpool through the switches: the same scatter applied to values, in (n,c,oh,ow) ->
 * out (n,c,h,w), zero where no maximum came from (the deconvnet's unpooling). */
void lt_maxunpool2d(const float *in, const int32_t *switches, float *out, const lt_conv2d_geom *g);

/* ---- activations, dropout, linear, softmax, loss (activ.c) ---- */

/* y = max(x, 0); n elements. */
void lt_relu_forward(const float *x, float *y, int64_t n);
/* grad_input = grad_output where x > 0, else 0 (x is the forward input, the pre-activation). */
void lt_relu_backward(const float *x, const float *grad_output, float *grad_input, int64_t n);

/* Inverted dropout with a given 0/1 mask (drawn by the caller from lunet's generator):
 * y = x * mask / keep, so evaluation needs no rescaling. */
void lt_dropout_forward(const float *x, const float *mask, float *y, int64_t n, float keep);
/* grad_input = grad_output * mask / keep. */
void lt_dropout_backward(const float *grad_output, const float *mask, float *grad_input, int64_t n, float keep);

/* y = x · W^T + b. x (n, in), W (out, in), b (out) or NULL, y (n, out). */
void lt_linear_forward(const float *x, const float *w, const float *b, float *y,
                       int64_t n, int64_t in, int64_t out);
/* grad_input = grad_output · W; grad_input (n, in) overwritten. */
void lt_linear_backward_input(const float *grad_output, const float *w, float *grad_input,
                              int64_t n, int64_t in, int64_t out);
/* Accumulates grad_weight += scale * grad_output^T · x and grad_bias += scale * sum over
 * rows of grad_output (grad_bias may be NULL). */
void lt_linear_backward_params(const float *grad_output, const float *x, float *grad_weight, float *grad_bias,
                               float scale, int64_t n, int64_t in, int64_t out);

/* Row-wise over (n, k): y[r][j] = exp(x[r][j] - m) / sum_j exp(x[r][j] - m), m = max_j x[r][j]. */
void lt_softmax_forward(const float *x, float *y, int64_t n, int64_t k);
/* grad_input[r][j] = y[r][j] * (grad_output[r][j] - sum_i grad_output[r][i] y[r][i]); y is the forward output. */
void lt_softmax_backward(const float *y, const float *grad_output, float *grad_input, int64_t n, int64_t k);
/* y[r][j] = x[r][j] - m - log sum_j exp(x[r][j] - m). */
void lt_logsoftmax_forward(const float *x, float *y, int64_t n, int64_t k);
/* grad_input[r][j] = grad_output[r][j] - exp(y[r][j]) * sum_i grad_output[r][i]; y is the forward output. */
void lt_logsoftmax_backward(const float *y, const float *grad_output, float *grad_input, int64_t n, int64_t k);

/* Cross-entropy from log-probabilities logp (n, k) and class labels (n) numbered
 * 1..k, lunet's convention (as THNN's ClassNLLCriterion): returns
 * -(1/n) sum_r logp[r][label[r]-1]. Labels are range-checked by the caller. */
double lt_nll_forward(const float *logp, const int32_t *label, int64_t n, int64_t k);
/* Gradient of nll(logsoftmax(x)) w.r.t. the logits x: grad_input = (exp(logp) - onehot(label)) / n. */
void lt_crossentropy_backward(const float *logp, const int32_t *label, float *grad_input, int64_t n,
                              int64_t k);

/* ---- the other pointwise activations (activations.c), PyTorch's definitions ---- */
typedef enum {
  LT_ACT_TANH, LT_ACT_SIGMOID,
  LT_ACT_LEAKY_RELU, /* x < 0 ? p x : x                                  (p: negative slope) */
  LT_ACT_ELU,        /* x > 0 ? x : p (e^x - 1)                          (p: alpha) */
  LT_ACT_GELU,       /* x Phi(x), Phi the standard normal CDF (erf) */
  LT_ACT_GELU_TANH,  /* PyTorch's approximate="tanh" GELU */
  LT_ACT_SILU,       /* x sigmoid(x) */
  LT_ACT_SOFTPLUS    /* log(1 + e^(p x)) / p, or x where p x > q          (p: beta, q: threshold) */
} lt_activation;
/* y = f(x); n elements. y may be x. */
void lt_activation_forward(lt_activation kind, const float *x, float *y, int64_t n, float p, float q);
/* grad_input = f'(x) grad_output, from the forward input x and output y; grad_input may be grad_output. */
void lt_activation_backward(lt_activation kind, const float *x, const float *y, const float *grad_output,
                            float *grad_input, int64_t n, float p, float q);

/* ---- normalization (norm.c), average pooling (pool.c), embedding (embedding.c) ---- */

/* Batch normalization of x viewed as (n, c, s): channel ch's m = n*s values x[b][ch][i]
 * (s = 1 for an (N,C) input, L for (N,C,L), H*W for (N,C,H,W)). With batch statistics
 * (batch_stats != 0, m >= 2):
 *   mean[ch] = (1/m) sum x,   var[ch] = (1/m) sum (x - mean)^2         (biased)
 * and, when running_mean and running_var are not NULL, they are updated in place:
 *   running_mean = (1 - momentum) running_mean + momentum mean
 *   running_var  = (1 - momentum) running_var  + momentum var * m/(m-1) (unbiased)
 * otherwise mean = running_mean and var = running_var (both given). Then
 *   y = (x - mean) * invstd * weight + bias,   invstd = 1 / sqrt(var + eps)
 * with weight and bias (c) or NULL (1 and 0). save_mean and save_invstd (c) receive the
 * mean and invstd used, for the backward. Each channel's sums are taken in double, front
 * to back, by one lane. */
void lt_batchnorm_forward(const float *x, const float *weight, const float *bias, float *running_mean,
                          float *running_var, float *y, float *save_mean, float *save_invstd, int64_t n, int64_t c,
                          int64_t s, int batch_stats, double momentum, double eps);
/* The backward of lt_batchnorm_forward from its saved statistics; xhat = (x - mean) * invstd,
 * w = weight[ch] (1 for NULL), sums over the channel's m values:
 *   grad_input  = w * invstd * (dy - (sum dy + xhat * sum dy*xhat) / m)   with batch statistics
 *   grad_input  = w * invstd * dy                                          with running ones
 *   grad_weight += scale * sum dy*xhat,   grad_bias += scale * sum dy        (accumulated)
 * grad_input, grad_weight and grad_bias may each be NULL (not computed). */
void lt_batchnorm_backward(const float *x, const float *grad_output, const float *weight, const float *save_mean,
                           const float *save_invstd, float *grad_input, float *grad_weight, float *grad_bias,
                           int64_t n, int64_t c, int64_t s, int batch_stats, float scale);

/* Layer normalization of the r rows of x (r, d), each over its d values:
 *   y = (x - mean) * invstd * weight + bias,  mean and biased variance of the row,
 *   invstd = 1 / sqrt(var + eps); weight and bias (d) or NULL (1 and 0).
 * save_mean and save_invstd (r) receive each row's statistics. */
void lt_layernorm_forward(const float *x, const float *weight, const float *bias, float *y, float *save_mean,
                          float *save_invstd, int64_t r, int64_t d, double eps);
/* The backward from the saved statistics; xhat = (x - mean) * invstd, g = dy * weight:
 *   grad_input   = invstd * (g - mean_row(g) - xhat * mean_row(g * xhat))
 *   grad_weight += scale * sum_rows dy*xhat,   grad_bias += scale * sum_rows dy  (accumulated)
 * each of grad_input, grad_weight, grad_bias may be NULL. Column sums run over the rows in
 * order, in double. */
void lt_layernorm_backward(const float *x, const float *grad_output, const float *weight, const float *save_mean,
                           const float *save_invstd, float *grad_input, float *grad_weight, float *grad_bias,
                           int64_t r, int64_t d, float scale);

/* How an average-pooling window is placed and what its sum is divided by (PyTorch's rules).
 * Along each axis, output index i of a kh (kw) window with stride sh and padding ph reads
 * [i*sh - ph, min(i*sh - ph + kh, h + ph)) clipped to the input [0, h); the divisor is the
 * product of the two axes' lengths before clipping to the input (INCLUDE_PAD) or after
 * (EXCLUDE_PAD). ADAPTIVE ignores the window options: output index i of oh reads
 * [floor(i*h/oh), ceil((i+1)*h/oh)) and divides by its size. */
typedef enum { LT_AVGPOOL_INCLUDE_PAD, LT_AVGPOOL_EXCLUDE_PAD, LT_AVGPOOL_ADAPTIVE } lt_avgpool_mode;
/* out (n,c,oh,ow) = the averages of in (n,c,h,w) over each window, summed in double. */
void lt_avgpool2d_forward(const float *in, float *out, const lt_conv2d_geom *g, lt_avgpool_mode mode);
/* grad_input (n,c,h,w) = 0, then every grad_output cell divided by its divisor added over its window. */
void lt_avgpool2d_backward(const float *grad_output, float *grad_input, const lt_conv2d_geom *g,
                           lt_avgpool_mode mode);

/* Lookup: out (n, d) row i = weight[index[i] - 1], weight (rows, d); indices 1-based and
 * checked by the caller. */
void lt_embedding_forward(const int32_t *index, const float *weight, float *out, int64_t n, int64_t d);
/* grad_weight[index[i] - 1] += scale * grad_output[i] for every i whose index is not pad
 * (1-based; 0 for none); rows no index names are not touched. The indices are sorted
 * (with their positions, into work: 2n int32) so that each row's contributions are summed
 * in double, in the order of i, by one lane. n <= INT32_MAX. */
void lt_embedding_backward(const int32_t *index, const float *grad_output, float *grad_weight, int32_t *work,
                           int64_t n, int64_t d, int32_t pad, float scale);

#endif
