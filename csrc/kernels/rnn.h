/* rnn.h — whole-sequence recurrent kernels (vanilla RNN, LSTM, GRU): forward and
 * backpropagation through time. Plain C over raw float pointers; no Lua here.
 *
 * Shapes (row-major, batch-first, G gates per cell: RNN 1, LSTM 4, GRU 3):
 *   x          (N,T,D)  input sequence
 *   y          (N,T,H)  hidden state h_t for every t
 *   weight_ih  (G*H,D)  input-to-hidden weights (W_x below)
 *   weight_hh  (G*H,H)  hidden-to-hidden weights (W_h)
 *   bias_ih    (G*H)    bias
 *   bias_hh    (G*H)    GRU only: the hidden-side bias
 *   h0, c0     (N,H)    initial hidden / cell state (NULL means zeros; c0 is LSTM only)
 * A gradient is named after its variable: grad_output = dL/dy, grad_input = dL/dx, ...
 * The weight layout is PyTorch's (weight_ih_l0, weight_hh_l0) with the gate blocks
 * stacked along the first dimension in PyTorch's order: LSTM (i,f,g,o), GRU (r,z,n).
 * The RNN and LSTM have one bias (TensorFlow's; PyTorch's b_ih + b_hh is the same
 * function with a redundant parameter); the GRU needs both because b_hn sits inside
 * the reset gate's product.
 *
 * The forward pass fills `state` (lt_rnn_state_size floats) with what the backward
 * passes read; they also need `scratch` (lt_rnn_scratch_size floats).
 * Callers own both buffers and reuse them between calls.
 */
#ifndef LUNET_RNN_H
#define LUNET_RNN_H

#include <stdint.h>

typedef enum { LT_RNN = 0, LT_LSTM = 1, LT_GRU = 2 } lt_rnn_cell;

typedef struct lt_rnn_dims {
  lt_rnn_cell cell;
  int64_t N, T, D, H;
} lt_rnn_dims;

/* Number of gate blocks G of a cell: 1, 4 or 3. */
int lt_rnn_gates(lt_rnn_cell cell);

/* 0 when every size is positive and every product the kernels form (rows, leading
 * dimensions, buffer lengths) fits a BLAS int; -1 otherwise. */
int lt_rnn_check_dims(const lt_rnn_dims *d);

/* Floats the caller provides as `state` and `scratch` (dims must pass the check). */
int64_t lt_rnn_state_size(const lt_rnn_dims *d);
int64_t lt_rnn_scratch_size(const lt_rnn_dims *d);

/* Forward over the whole sequence. Writes y (N,T,H), for the LSTM the last cell state
 * cN (N,H) (required), and state. bias_hh is read for the GRU only, c0 and cN for the
 * LSTM only. */
void lt_rnn_forward(const lt_rnn_dims *d, const float *x, const float *weight_ih,
                    const float *weight_hh, const float *bias_ih, const float *bias_hh, const float *h0,
                    const float *c0, float *y, float *cN, float *state);

/* Backpropagation through time, in two parts as THNN's updateGradInput and
 * accGradParameters. Both read the state of the forward call with the same x and
 * weights; the first leaves the gates' gradients in scratch for the second.
 *
 * backward_input: from grad_output = dL/dy (N,T,H) writes grad_input = dL/dx (N,T,D)
 * (NULL to skip), grad_h0 = dL/dh0 (N,H) and, for the LSTM, grad_c0 = dL/dc0 (N,H); also
 * when the forward started from zeros (h0, c0 NULL), the gradient is then the one
 * w.r.t. that zero state. */
void lt_rnn_backward_input(const lt_rnn_dims *d, const float *weight_ih, const float *weight_hh,
                           const float *state, const float *grad_output, float *grad_input, float *grad_h0,
                           float *grad_c0, float *scratch);

/* backward_params: ACCUMULATES scale * dL/dW into grad_weight_ih (G*H,D), grad_weight_hh
 * (G*H,H), grad_bias_ih (G*H) and, for the GRU, grad_bias_hh (G*H). */
void lt_rnn_backward_params(const lt_rnn_dims *d, const float *x, const float *state,
                            const float *scratch, float scale, float *grad_weight_ih,
                            float *grad_weight_hh, float *grad_bias_ih, float *grad_bias_hh);

#endif
