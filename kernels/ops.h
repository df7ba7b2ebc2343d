/* Tensor-level op entry points: the only way model and engine code runs a
 * kernel. Each wrapper checks dtypes, shapes and devices (the error names the
 * op, the argument and both shapes), then dispatches through the op table of
 * the stream's backend. Semantics are documented on kz_op_table. */
#ifndef KZ_OPS_H
#define KZ_OPS_H

#include "kernels/core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* c = alpha * op(a) @ op(b) + beta * c. a: [M,K] or [B,M,K] (transposed:
 * [K,M] / [B,K,M]); b likewise [K,N] / [N,K]; c: [M,N] or [B,M,N] f32.
 * A 2-D operand with a 3-D c is broadcast across the batch. a and b are both
 * f32 or both bf16. */
kz_status kz_op_matmul(kz_stream *s, const kz_tensor *a, const kz_tensor *b, kz_tensor *c,
                       bool trans_a, bool trans_b, float alpha, float beta);
/* Backward ops: every gradient output (dbias, dx, dgamma, dbeta, dlogits,
 * dtable) may be NULL, meaning "not wanted": it is neither read nor written
 * and the other outputs are computed as usual. */
kz_status kz_op_bias_add(kz_stream *s, const kz_tensor *x, const kz_tensor *bias, kz_tensor *y);
kz_status kz_op_bias_add_bwd(kz_stream *s, const kz_tensor *dy, kz_tensor *dbias, bool accumulate);
/* y = gelu(x + bias) (bias per column; y may alias x). Fused where the backend
 * has the slot, otherwise bias_add then gelu in place. */
kz_status kz_op_bias_gelu(kz_stream *s, const kz_tensor *x, const kz_tensor *bias, kz_tensor *y,
                          kz_gelu_approx approx);
kz_status kz_op_add(kz_stream *s, const kz_tensor *a, const kz_tensor *b, kz_tensor *y);
kz_status kz_op_gelu(kz_stream *s, const kz_tensor *x, kz_tensor *y, kz_gelu_approx approx);
kz_status kz_op_gelu_bwd(kz_stream *s, const kz_tensor *x, const kz_tensor *dy, kz_tensor *dx,
                         kz_gelu_approx approx, bool accumulate);
/* mean and rstd may be NULL; otherwise f32 of kz_tensor_rows(x) elements. */
kz_status kz_op_layernorm(kz_stream *s, const kz_tensor *x, const kz_tensor *gamma,
                          const kz_tensor *beta, kz_tensor *y, kz_tensor *mean, kz_tensor *rstd,
                          float eps);
kz_status kz_op_layernorm_bwd(kz_stream *s, const kz_tensor *dy, const kz_tensor *x,
                              const kz_tensor *gamma, const kz_tensor *mean, const kz_tensor *rstd,
                              kz_tensor *dx, kz_tensor *dgamma, kz_tensor *dbeta, bool accumulate);
/* x, y: [B, H, T, S] f32; lengths: NULL or i32 [B]. */
kz_status kz_op_softmax(kz_stream *s, const kz_tensor *x, kz_tensor *y, const kz_tensor *lengths,
                        float scale, bool causal);
kz_status kz_op_softmax_bwd(kz_stream *s, const kz_tensor *y, const kz_tensor *dy, kz_tensor *dx,
                            const kz_tensor *lengths, float scale, bool causal, bool accumulate);
/* logits [N, C] f32, targets [N] i32, losses [N] f32. */
kz_status kz_op_cross_entropy(kz_stream *s, const kz_tensor *logits, const kz_tensor *targets,
                              kz_tensor *losses, int32_t ignore_index);
kz_status kz_op_cross_entropy_bwd(kz_stream *s, const kz_tensor *logits, const kz_tensor *targets,
                                  const kz_tensor *dloss, kz_tensor *dlogits, int32_t ignore_index,
                                  bool accumulate);
/* ids [N] (or [B, T]) i32, table [V, D] f32, out [N, D] (or [B, T, D]). */
kz_status kz_op_embedding(kz_stream *s, const kz_tensor *ids, const kz_tensor *table,
                          kz_tensor *out);
kz_status kz_op_embedding_bwd(kz_stream *s, const kz_tensor *ids, const kz_tensor *dout,
                              kz_tensor *dtable, bool accumulate);
/* params, grads, m, v: same shape f32; params_bf16: NULL or same shape bf16. */
kz_status kz_op_adamw(kz_stream *s, kz_tensor *params, const kz_tensor *grads, kz_tensor *m,
                      kz_tensor *v, kz_tensor *params_bf16, const kz_adamw_hparams *hp);
/* y = x with its dims reordered: y->shape[j] == x->shape[perm[j]], perm a
 * permutation of 0..x->ndim-1 (up to 4 dims, f32, y must not overlap x).
 * With kz_tensor_reshape and kz_tensor_slice (core/tensor.h) this splits
 * and merges attention heads ([B,T,H*D] -> [B,T,H,D] -> [B,H,T,D] and back)
 * and makes time steps contiguous ([B,T,D] -> [T,B,D], then slice t). */
kz_status kz_op_permute(kz_stream *s, const kz_tensor *x, kz_tensor *y, const int *perm);
/* The backward of kz_op_permute with the same perm: dx (+)= dy permuted by
 * the inverse permutation (dx has x's shape). dx NULL is "not wanted". */
kz_status kz_op_permute_bwd(kz_stream *s, const kz_tensor *dy, kz_tensor *dx, const int *perm,
                            bool accumulate);
/* Elastic weight consolidation: grads += lambda * fisher * (params - anchor),
 * the gradient of (lambda/2) * sum fisher * (params - anchor)^2, which keeps
 * the weights that mattered for earlier data (large fisher) near their old
 * values (anchor). All four f32 of one shape; lambda >= 0 and finite. */
kz_status kz_op_ewc_grad(kz_stream *s, const kz_tensor *params, const kz_tensor *anchor,
                         const kz_tensor *fisher, kz_tensor *grads, float lambda);

/* Converts between f32 and bf16 tensors of equal shape (either direction). */
kz_status kz_op_cast(kz_stream *s, const kz_tensor *x, kz_tensor *y);

/* The MLP's ops. Dropout: x, y, mask f32 of one shape (y may alias x);
 * mask[i] = 1/(1-p) or 0 from the counter-based stream of key (so a mask is
 * a function of (key, i) on every backend); 0 <= p < 1. dropout_bwd:
 * dx (+)= dy * mask (dx may alias dy). */
kz_status kz_op_dropout(kz_stream *s, const kz_tensor *x, kz_tensor *y, kz_tensor *mask, double p,
                        uint64_t key);
kz_status kz_op_dropout_bwd(kz_stream *s, const kz_tensor *dy, const kz_tensor *mask, kz_tensor *dx,
                            bool accumulate);
/* pred, target, losses: f32 [N] (or one shape); a NaN target is an
 * unlabelled row: loss 0, gradient 0. mse_bwd: dpred (+)= 2 * scale *
 * (pred - target), the gradient of scale * sum of losses. */
kz_status kz_op_mse(kz_stream *s, const kz_tensor *pred, const kz_tensor *target,
                    kz_tensor *losses);
kz_status kz_op_mse_bwd(kz_stream *s, const kz_tensor *pred, const kz_tensor *target,
                        kz_tensor *dpred, double scale, bool accumulate);
/* v: f32 [rows, C] raw numeric inputs; mean, std: U8 tensors of 8*C bytes
 * holding C doubles each (the tensor type has no f64, and the statistics
 * must stay double for the result to be the model's); miss: i32 [C], the
 * missing-indicator column after the C standardised ones, or -1; x: f32
 * [rows, X] with X >= C + (indicators): columns 0..C-1 and the indicators
 * are written, the others are left alone. */
kz_status kz_op_standardize(kz_stream *s, const kz_tensor *v, const kz_tensor *mean,
                            const kz_tensor *std, const kz_tensor *miss, kz_tensor *x,
                            double inf_z);
/* Copies cols columns of src [R, Cs] starting at src_col into dst [R, Cd]
 * starting at dst_col (a block of an input matrix and back). */
kz_status kz_op_copy_cols(kz_stream *s, const kz_tensor *src, int64_t src_col, kz_tensor *dst,
                          int64_t dst_col, int64_t cols);

/* ---- the transformer encoder's ops (issue 16) ----
 *
 * Fused residual + dropout + layernorm, the post-LN output of a BERT
 * sublayer: h' = dropout(h) with the mask of kz_op_dropout over the flat
 * index r*C + c (a function of (key, index) on every backend: 1/(1-p) where
 * kz_dropout_unit(key, i) >= p, else 0; p = 0 is the identity), r = x + h',
 * y = layernorm(r; gamma, beta, eps).
 * x, h, y: f32 [R, C] (any shape, C last); gamma, beta: [C]; mean, rstd: NULL
 * (inference) or f32 [R] (saved for the backward). y may alias x or h.
 * The mask itself is never stored: the backward redraws it from the key. */
kz_status kz_op_residual_layernorm(kz_stream *s, const kz_tensor *x, const kz_tensor *h,
                                   const kz_tensor *gamma, const kz_tensor *beta, kz_tensor *y,
                                   kz_tensor *mean, kz_tensor *rstd, double dropout_p,
                                   uint64_t dropout_key, float eps);
/* The same, also writing the pre-norm sum r (NULL: not saved) of x's shape;
 * r may alias x or h but not y. Only needed for a backward from r (below). */
kz_status kz_op_residual_layernorm_r(kz_stream *s, const kz_tensor *x, const kz_tensor *h,
                                     const kz_tensor *gamma, const kz_tensor *beta, kz_tensor *y,
                                     kz_tensor *r, kz_tensor *mean, kz_tensor *rstd,
                                     double dropout_p, uint64_t dropout_key, float eps);
/* Backward: dr = layernorm_bwd(dy); dx (+)= dr (the residual path);
 * dh (+)= dr * mask (the same mask, redrawn from dropout_key); dgamma,
 * dbeta (+)= sum_rows dy * xhat, sum_rows dy. Any of dx, dh, dgamma, dbeta
 * may be NULL (not wanted); dx or dh may alias dy (not each other).
 * The normalised input xhat comes from what was saved:
 *  - r NULL (the default, least memory traffic): from the forward's output,
 *    xhat = (y - beta) / gamma. y is kept anyway (the next layer's input), so
 *    nothing beyond mean/rstd is saved and the forward writes R*C floats
 *    fewer. Needs every gamma[c] != 0 (a zero is refused where gamma is in
 *    host memory; a tiny |gamma| loses digits) and y unchanged since the
 *    forward (do not run the next sublayer in place over it while this
 *    backward is pending). mean is not read (may be NULL).
 *  - r given (kz_op_residual_layernorm_r saved it): xhat = (r - mean) * rstd,
 *    exact for any gamma; y and beta are not read (may be NULL).
 * rstd is always required. eps is the forward's (checked like it; the saved
 * rstd already holds it). */
kz_status kz_op_residual_layernorm_bwd(kz_stream *s, const kz_tensor *dy, const kz_tensor *y,
                                       const kz_tensor *r, const kz_tensor *gamma,
                                       const kz_tensor *beta, const kz_tensor *mean,
                                       const kz_tensor *rstd, kz_tensor *dx, kz_tensor *dh,
                                       kz_tensor *dgamma, kz_tensor *dbeta, double dropout_p,
                                       uint64_t dropout_key, float eps, bool accumulate);
/* MLM gather: out[i, :] = x[idx[i], :]. x: f32 [N, D] (or [B, T, D], rows
 * numbered b*T + t); idx: i32 [M]; out: f32 [M, D]. An index outside
 * [0, N): KZ_ERR_INVALID_ARG on the CPU (nothing written), a zero row on
 * CUDA (as embedding). */
kz_status kz_op_gather_rows(kz_stream *s, const kz_tensor *x, const kz_tensor *idx, kz_tensor *out);
/* dx[idx[i], :] (+)= dout[i, :]; repeated indices sum (in index order on the
 * CPU: deterministic; float atomics on CUDA); without accumulate every other
 * row of dx is zeroed. dx NULL: not wanted. */
kz_status kz_op_gather_rows_bwd(kz_stream *s, const kz_tensor *idx, const kz_tensor *dout,
                                kz_tensor *dx, bool accumulate);
/* Extractive-QA span loss. logits: f32 [B*T, 2] (or [B, T, 2]): column 0 the
 * start logits, column 1 the end logits of position t of sequence b at row
 * b*T + t; lengths, starts, ends: i32 [B]; losses: f32 [B] =
 * (CE(start) + CE(end)) / 2, each a softmax over positions t < lengths[b]
 * (later positions are masked out). A length outside [1, T] or a target
 * outside [0, lengths[b]): KZ_ERR_INVALID_ARG on the CPU, a NaN loss on CUDA
 * (backward: that term adds no one-hot part; lengths clamped to [0, T]). */
kz_status kz_op_qa_span_loss(kz_stream *s, const kz_tensor *logits, const kz_tensor *lengths,
                             const kz_tensor *starts, const kz_tensor *ends, kz_tensor *losses);
/* dlogits (+)= dloss[b] / 2 * (softmax - onehot(target)) in each column over
 * t < lengths[b]; 0 at masked positions. dloss: f32 [B]; dlogits NULL: not
 * wanted. */
kz_status kz_op_qa_span_loss_bwd(kz_stream *s, const kz_tensor *logits, const kz_tensor *lengths,
                                 const kz_tensor *starts, const kz_tensor *ends,
                                 const kz_tensor *dloss, kz_tensor *dlogits, bool accumulate);
/* Fused self-attention (see kz_attn_shape in core/backend.h for the masks
 * and the dropout mask). T = rows / batch, D = head dim.
 *
 * kz_op_attention: qkv f32 [B*T, 3*H*D] = [q | k | v] column blocks (the
 * output of one fused projection); o f32 [B*T, H*D]; lse NULL (inference) or
 * f32 [B*H*T]; lengths NULL or i32 [B] (keys j >= lengths[b] are padding;
 * a length above T counts as T, a negative one as 0). 0 <= dropout_p < 1. */
typedef struct kz_attn_opts {
  int64_t batch, heads;
  float scale; /* usually 1/sqrt(D) */
  bool causal;
  double dropout_p;
  uint64_t dropout_key;
} kz_attn_opts;
kz_status kz_op_attention(kz_stream *s, const kz_tensor *qkv, kz_tensor *o, kz_tensor *lse,
                          const kz_tensor *lengths, const kz_attn_opts *a);
/* The backward: o and lse from the forward (lse required), dout like o;
 * dqkv NULL ("not wanted") or f32 [B*T, 3*H*D]: its q, k, v blocks (+)= the
 * gradients. */
kz_status kz_op_attention_bwd(kz_stream *s, const kz_tensor *qkv, const kz_tensor *o,
                              const kz_tensor *dout, const kz_tensor *lse, const kz_tensor *lengths,
                              kz_tensor *dqkv, const kz_attn_opts *a, bool accumulate);
/* The same on separate q, k, v tensors, each f32 [B*T, H*D] (D = cols / H);
 * in the backward each of dq, dk, dv may be NULL on its own. */
kz_status kz_op_attention_sep(kz_stream *s, const kz_tensor *q, const kz_tensor *k,
                              const kz_tensor *v, kz_tensor *o, kz_tensor *lse,
                              const kz_tensor *lengths, const kz_attn_opts *a);
kz_status kz_op_attention_sep_bwd(kz_stream *s, const kz_tensor *q, const kz_tensor *k,
                                  const kz_tensor *v, const kz_tensor *o, const kz_tensor *dout,
                                  const kz_tensor *lse, const kz_tensor *lengths, kz_tensor *dq,
                                  kz_tensor *dk, kz_tensor *dv, const kz_attn_opts *a,
                                  bool accumulate);

/* The unary elementwise ops of the op list (op_list.h), generated:
 * kz_op_<name>(x, y, param) computes y = f(x; param) (y may alias x) and
 * kz_op_<name>_bwd(x, dy, dx, param, accumulate) dx (+)= dy * f'(x; param).
 * x, y, dy, dx: f32 of one shape; param must be finite. */
#define KZ_UNARY(name, param, ...)                                                                 \
  kz_status kz_op_##name(kz_stream *s, const kz_tensor *x, kz_tensor *y, float param);             \
  kz_status kz_op_##name##_bwd(kz_stream *s, const kz_tensor *x, const kz_tensor *dy,              \
                               kz_tensor *dx, float param, bool accumulate);
KZ_OP_UNARIES()
#undef KZ_UNARY

/* The TFT's ops. LSTM cell: gates [R, 4H] pre-activations (x W_x^T + h W_h^T
 * + b, from GEMMs) in PyTorch's gate order i, f, g, o; c_prev, h, c [R, H].
 * Its backward takes the saved gates, c_prev and c, the incoming dh and dc
 * (dc NULL: zero, the last step) and writes dgates and dc_prev (either may
 * be NULL). GLU: x [R, 2C] -> y [R, C] = x[:, :C] * sigmoid(x[:, C:]).
 * Quantile loss: pred [R, Q], target [R] (NaN: no label, zero loss and
 * gradient), quantiles [Q]; losses [R, Q] pinball; the backward adds
 * scale * dloss/dpred (a tie takes the mean slope, 1/2 - q). */
kz_status kz_op_lstm_cell(kz_stream *s, const kz_tensor *gates, const kz_tensor *c_prev,
                          kz_tensor *h, kz_tensor *c);
kz_status kz_op_lstm_cell_bwd(kz_stream *s, const kz_tensor *gates, const kz_tensor *c_prev,
                              const kz_tensor *c, const kz_tensor *dh, const kz_tensor *dc,
                              kz_tensor *dgates, kz_tensor *dc_prev, bool accumulate);
kz_status kz_op_glu(kz_stream *s, const kz_tensor *x, kz_tensor *y);
kz_status kz_op_glu_bwd(kz_stream *s, const kz_tensor *x, const kz_tensor *dy, kz_tensor *dx,
                        bool accumulate);
kz_status kz_op_quantile_loss(kz_stream *s, const kz_tensor *pred, const kz_tensor *target,
                              const kz_tensor *quantiles, kz_tensor *losses);
kz_status kz_op_quantile_loss_bwd(kz_stream *s, const kz_tensor *pred, const kz_tensor *target,
                                  const kz_tensor *quantiles, kz_tensor *dpred, double scale,
                                  bool accumulate);

/* LoRA (ops_lora.c): the low-rank update of a Linear y = x W^T + bias,
 * y (+)= scale (x A^T) B^T, added into columns [y_col, y_col + M) of y (the
 * query, key or value block of the fused [R, 3H] projection), saving u =
 * x A^T for the backward. x [R, K], a [r, K] (r >= 1), b [M, r], u [R, r];
 * y [R, >= y_col + M]. The backward from dy (the same column block): du =
 * scale dy B [R, r] (required workspace, written), then db (+)= scale dy^T
 * u, da (+)= du^T x, dx (+)= du A, each optional (NULL: not wanted). With
 * R = 0 and accumulate false, da and db are zeroed. */
kz_status kz_op_lora(kz_stream *s, const kz_tensor *x, const kz_tensor *a, const kz_tensor *b,
                     kz_tensor *u, kz_tensor *y, int64_t y_col, float scale);
kz_status kz_op_lora_bwd(kz_stream *s, const kz_tensor *x, const kz_tensor *a, const kz_tensor *b,
                         const kz_tensor *u, const kz_tensor *dy, int64_t dy_col, kz_tensor *du,
                         kz_tensor *dx, kz_tensor *da, kz_tensor *db, float scale, bool accumulate);

#ifdef __cplusplus
}
#endif
#endif
