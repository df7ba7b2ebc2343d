/* The op list: every op of the kernel layer, named once.
 *
 * Everything that enumerates ops is derived from this file: the dispatch
 * slots of kz_op_table (core/backend.h), the declarations of the CPU and
 * CUDA entry points (cpu/cpu_ops.h, cuda/cuda_ops.h), the tables each backend
 * fills (backend_cpu.c, backend_cuda.cu), the harness registry
 * (harness/op_registry.c), the gradient-op list (harness/grad_cases.c), the
 * ctest names (tests/ops.cmake reads this file at configure time) and, for
 * the unary elementwise family, the validated wrappers, the parity, gradient
 * and benchmark cases. `op/list_complete` fails when an op lacks a reference,
 * a CPU or CUDA implementation or gradient cases without saying why here.
 * docs/KERNELS.md walks through adding an op.
 *
 * KZ_OP_LIST(X, U) calls
 *
 *   X(name, slot, grad, cpu, cuda, (slot parameters), flops, bytes, tol_f32, tol_bf16, summary)
 *
 * for each op with its own signature, and
 *
 *   U(name, param, value, grad, cpu, cuda, flops, tol, summary)
 *
 * for each unary elementwise op y = f(x; param) with a backward
 * dx (+)= dy * f'(x; param). A U row is two ops, `name` (slot name_fwd) and
 * `name_bwd` (slot name_bwd), whose signatures, wrappers (kz_op_<name>,
 * kz_op_<name>_bwd in ops.h), cases and registry rows are all generated; the
 * op itself is the scalar reference kz_ref_<name>(x, param) and its
 * derivative kz_ref_<name>_grad(x, param) plus the kz_cpu_ and kz_cuda_
 * entry points of the two slots. `param` names the float parameter (alpha) and `value` is a typical
 * value the cases use.
 *
 * grad, cpu and cuda are KZ_YES or KZ_NO("why it is absent"); a fused op's
 * cpu or cuda may also be KZ_UNFUSED("the sequence"): the slot stays NULL and
 * the wrapper in ops.c runs the unfused sequence of existing ops instead
 * (the harness then tests that sequence on that backend):
 *  - grad: the op has finite-difference cases under its name (grad_cases.c);
 *    a backward op is checked through its forward's cases ("the backward of
 *    layernorm");
 *  - cpu, cuda: the backend implements the slot (kz_cpu_<slot>,
 *    kz_cuda_<slot>); KZ_NO leaves the slot NULL, which the wrapper reports
 *    as unsupported or, for a fused op, answers with the unfused sequence.
 *
 * The rows are kept one per line start (`X(name, slot, grad,` and
 * `U(name, param, value, grad,`) because tests/ops.cmake reads them with a regex. */
#ifndef KZ_OP_LIST_H
#define KZ_OP_LIST_H

/* clang-format off */
#define KZ_OP_LIST(X, U)                                                                           \
  X(matmul, gemm, KZ_YES, KZ_YES, KZ_YES,                                                          \
    (kz_stream *s, const kz_gemm *g),                                                              \
    "2*B*M*N*K", "(B*M*K + B*K*N)*size(ab) + 4*B*M*N*(beta!=0 ? 2 : 1)", 1e-8, 1e-6,               \
    "C = alpha*op(A)op(B) + beta*C; batched, broadcast, f32 or bf16 inputs")                       \
  X(bias_add, bias_add_fwd, KZ_YES, KZ_YES, KZ_YES,                                                \
    (kz_stream *s, const float *x, const float *bias, float *y, int64_t rows, int64_t cols),       \
    "R*C", "4*(2*R*C + C)", 1e-12, 0, "y[r,c] = x[r,c] + bias[c]")                                 \
  X(bias_add_bwd, bias_add_bwd, KZ_NO("the backward of bias_add"),                                 \
    KZ_YES, KZ_YES,                                                                                \
    (kz_stream *s, const float *dy, float *dbias, int64_t rows, int64_t cols, bool accumulate),    \
    "R*C", "4*(R*C + C*(acc ? 2 : 1))", 1e-9, 0, "dbias[c] (+)= sum_r dy[r,c]")                    \
  X(add, add, KZ_NO("dy passes unchanged to both inputs: there is no backward to check"),          \
    KZ_YES, KZ_YES,                                                                                \
    (kz_stream *s, const float *a, const float *b, float *y, int64_t n),                           \
    "N", "12*N", 1e-12, 0, "y = a + b (residual)")                                                 \
  X(gelu, gelu_fwd, KZ_YES, KZ_YES, KZ_YES,                                                        \
    (kz_stream *s, const float *x, float *y, int64_t n, kz_gelu_approx approx),                    \
    "8*N (nominal)", "8*N", 1e-10, 0, "GELU, erf or tanh form")                                    \
  X(gelu_bwd, gelu_bwd, KZ_NO("the backward of gelu"), KZ_YES, KZ_YES,                             \
    (kz_stream *s, const float *x, const float *dy, float *dx, int64_t n, kz_gelu_approx approx,   \
     bool accumulate),                                                                             \
    "12*N (nominal)", "4*N*(acc ? 4 : 3)", 1e-10, 0, "dx (+)= dy * gelu'(x)")                      \
  X(layernorm, layernorm_fwd, KZ_YES, KZ_YES, KZ_YES,                                              \
    (kz_stream *s, const float *x, const float *gamma, const float *beta, float *y, float *mean,   \
     float *rstd, int64_t rows, int64_t cols, float eps),                                          \
    "8*R*C", "4*(2*R*C + 2*C + 2*R)", 1e-9, 0, "y = (x-mean)*rstd*gamma + beta, saves mean/rstd")  \
  X(layernorm_bwd, layernorm_bwd, KZ_NO("the backward of layernorm"),                              \
    KZ_YES, KZ_YES,                                                                                \
    (kz_stream *s, const float *dy, const float *x, const float *gamma, const float *mean,         \
     const float *rstd, float *dx, float *dgamma, float *dbeta, int64_t rows, int64_t cols,        \
     bool accumulate),                                                                             \
    "12*R*C", "4*(3*R*C + 2*R + 3*C) (+ acc reads)", 1e-8, 0,                                      \
    "dx, dgamma, dbeta from saved mean/rstd (any of the three may be NULL)")                       \
  X(softmax, softmax_fwd, KZ_YES, KZ_YES, KZ_YES,                                                  \
    (kz_stream *s, const float *x, float *y, const kz_softmax_shape *sh),                          \
    "5*B*H*T*S", "8*B*H*T*S", 1e-10, 0, "attention softmax with lengths and causal masks")         \
  X(softmax_bwd, softmax_bwd, KZ_NO("the backward of softmax"),                                    \
    KZ_YES, KZ_YES,                                                                                \
    (kz_stream *s, const float *y, const float *dy, float *dx, const kz_softmax_shape *sh,         \
     bool accumulate),                                                                             \
    "4*B*H*T*S", "4*B*H*T*S*(acc ? 4 : 3)", 1e-9, 0, "dx (+)= scale*y*(dy - sum(dy*y))")           \
  X(cross_entropy, cross_entropy_fwd, KZ_YES, KZ_YES, KZ_YES,                                      \
    (kz_stream *s, const float *logits, const int32_t *targets, float *losses, int64_t rows,       \
     int64_t classes, int32_t ignore_index),                                                       \
    "4*N*C", "4*N*C + 8*N", 1e-9, 0, "per-row loss with ignore_index")                             \
  X(cross_entropy_bwd, cross_entropy_bwd, KZ_NO("the backward of cross_entropy"),                  \
    KZ_YES, KZ_YES,                                                                                \
    (kz_stream *s, const float *logits, const int32_t *targets, const float *dloss,                \
     float *dlogits, int64_t rows, int64_t classes, int32_t ignore_index, bool accumulate),        \
    "5*N*C", "4*N*C*(acc ? 3 : 2) + 12*N", 1e-9, 0, "dlogits (+)= dloss*(softmax - onehot)")       \
  X(embedding, embedding_fwd, KZ_YES, KZ_YES, KZ_YES,                                              \
    (kz_stream *s, const int32_t *ids, const float *table, float *out, int64_t n, int64_t vocab,   \
     int64_t dim),                                                                                 \
    "0", "4*N + 8*N*D", 1e-12, 0, "out[i,:] = table[ids[i],:]")                                    \
  X(embedding_bwd, embedding_bwd, KZ_NO("the backward of embedding"),                              \
    KZ_YES, KZ_YES,                                                                                \
    (kz_stream *s, const int32_t *ids, const float *dout, float *dtable, int64_t n,                \
     int64_t vocab, int64_t dim, bool accumulate),                                                 \
    "N*D", "4*N + 4*N*D + 4*V*D*(acc ? 2 : 1)", 1e-10, 0,                                          \
    "dtable[ids[i],:] += dout[i,:] (repeated ids sum)")                                            \
  X(adamw, adamw, KZ_NO("an optimizer step: nothing is differentiated through it"),                \
    KZ_YES, KZ_YES,                                                                                \
    (kz_stream *s, float *params, const float *grads, float *m, float *v, uint16_t *params_bf16,   \
     int64_t n, const kz_adamw_hparams *hp),                                                       \
    "16*N", "28*N (+ 2*N with the bf16 copy)", 1e-9, 1e-5,                                         \
    "AdamW step on f32 master weights, optional bf16 copy")                                        \
  X(cast_f32_to_bf16, cast_f32_to_bf16, KZ_NO("casts have no gradient"), KZ_YES, KZ_YES,           \
    (kz_stream *s, const float *x, uint16_t *y, int64_t n),                                        \
    "0", "6*N", 0, 0, "round to nearest even (bit exact)")                                         \
  X(cast_bf16_to_f32, cast_bf16_to_f32, KZ_NO("casts have no gradient"), KZ_YES, KZ_YES,           \
    (kz_stream *s, const uint16_t *x, float *y, int64_t n),                                        \
    "0", "6*N", 0, 0, "widen (bit exact)")                                                         \
  X(ewc_grad, ewc_grad, KZ_NO("itself a gradient: ewc/penalty_gradient checks it"),               \
    KZ_YES, KZ_YES,                                                                                \
    (kz_stream *s, const float *params, const float *anchor, const float *fisher, float *grads,    \
     int64_t n, float lambda),                                                                     \
    "4*N", "20*N", 1e-12, 0, "grads += lambda * fisher * (params - anchor) (EWC)")                 \
  X(bias_gelu, bias_gelu_fwd, KZ_NO("fused: bias_add and gelu have the gradient cases"),           \
    KZ_YES, KZ_UNFUSED("bias_add, then gelu in place"),                                            \
    (kz_stream *s, const float *x, const float *bias, float *y, int64_t rows, int64_t cols,        \
     kz_gelu_approx approx),                                                                       \
    "R*C + 8*R*C (nominal)", "4*(2*R*C + C)", 1e-10, 0,                                            \
    "y = gelu(x + bias), fused; ref = kz_ref_bias_add_fwd then kz_ref_gelu_fwd")                   \
  X(residual_layernorm, residual_layernorm_fwd, KZ_YES, KZ_YES, KZ_YES,                            \
    (kz_stream *s, const float *x, const float *h, const float *gamma, const float *beta,          \
     float *y, float *r, float *mean, float *rstd, int64_t rows, int64_t cols, double p,           \
     uint64_t key, float eps),                                                                     \
    "12*R*C (+ R*C mask draws)", "4*(3*R*C + 2*C + 2*R) (+ 4*R*C with r)", 1e-9, 0,                \
    "y = layernorm(x + dropout(h)), fused; ref = dropout, add, layernorm refs")                    \
  X(residual_layernorm_bwd, residual_layernorm_bwd, KZ_NO("the backward of residual_layernorm"),   \
    KZ_YES, KZ_YES,                                                                                \
    (kz_stream *s, const float *dy, const float *y, const float *r, const float *gamma,            \
     const float *beta, const float *mean, const float *rstd, float *dx, float *dh, float *dgamma, \
     float *dbeta, int64_t rows, int64_t cols, double p, uint64_t key, bool accumulate),           \
    "16*R*C (+ R*C mask draws)", "4*(4*R*C + 2*R + 4*C) (+ acc reads)", 1e-8, 0,                   \
    "dr = layernorm'(dy) from y (or r); dx (+)= dr, dh (+)= dr*mask, dgamma/dbeta (+)=")           \
  X(gather_rows, gather_rows_fwd, KZ_YES, KZ_YES, KZ_YES,                                          \
    (kz_stream *s, const float *x, const int32_t *idx, float *out, int64_t m, int64_t n,           \
     int64_t dim),                                                                                 \
    "0", "4*M + 8*M*D", 1e-12, 0, "out[i,:] = x[idx[i],:] (the MLM gather of masked positions)")   \
  X(gather_rows_bwd, gather_rows_bwd, KZ_NO("the backward of gather_rows"), KZ_YES, KZ_YES,        \
    (kz_stream *s, const int32_t *idx, const float *dout, float *dx, int64_t m, int64_t n,         \
     int64_t dim, bool accumulate),                                                                \
    "M*D", "4*M + 4*M*D + 4*N*D*(acc ? 2 : 1)", 1e-10, 0,                                          \
    "dx[idx[i],:] += dout[i,:] (repeated indices sum)")                                            \
  X(qa_span_loss, qa_span_loss_fwd, KZ_YES, KZ_YES, KZ_YES,                                        \
    (kz_stream *s, const float *logits, const int32_t *lengths, const int32_t *starts,             \
     const int32_t *ends, float *losses, int64_t batch, int64_t seq),                              \
    "8*B*T", "8*B*T + 16*B", 1e-9, 0,                                                              \
    "losses[b] = (CE(start) + CE(end)) / 2 over the first lengths[b] of T positions")              \
  X(qa_span_loss_bwd, qa_span_loss_bwd, KZ_NO("the backward of qa_span_loss"), KZ_YES, KZ_YES,     \
    (kz_stream *s, const float *logits, const int32_t *lengths, const int32_t *starts,             \
     const int32_t *ends, const float *dloss, float *dlogits, int64_t batch, int64_t seq,          \
     bool accumulate),                                                                             \
    "10*B*T", "8*B*T*(acc ? 3 : 2) + 20*B", 1e-9, 0,                                               \
    "dlogits (+)= dloss/2 * (masked softmax - onehot) per column; 0 past the length")              \
  U(tanh, scale, 1.0, KZ_YES, KZ_YES, KZ_YES, "N (nominal)", 1e-10,                                \
    "tanh(scale*x) (scale 1: the BERT pooler's activation)")                                       \
  X(lstm_cell, lstm_cell_fwd, KZ_YES, KZ_YES, KZ_YES,                                              \
    (kz_stream *s, const float *gates, const float *c_prev, float *h, float *c, int64_t rows,      \
     int64_t hidden),                                                                              \
    "12*R*H (nominal)", "4*R*H*(4 + 3)", 1e-10, 0,                                                 \
    "LSTM cell on gate pre-activations [R, 4H] (i, f, g, o): c = sig(f)c_prev + sig(i)tanh(g), "   \
    "h = sig(o)tanh(c)")                                                                           \
  X(lstm_cell_bwd, lstm_cell_bwd, KZ_NO("the backward of lstm_cell"), KZ_YES, KZ_YES,              \
    (kz_stream *s, const float *gates, const float *c_prev, const float *c, const float *dh,       \
     const float *dc, float *dgates, float *dc_prev, int64_t rows, int64_t hidden,                 \
     bool accumulate),                                                                             \
    "20*R*H (nominal)", "4*R*H*(11 + (acc ? 5 : 0))", 1e-9, 0,                                     \
    "dgates (+)= d(preact), dc_prev (+)= dc_total*sig(f); dc NULL is zero, dc_prev may be NULL")   \
  X(glu, glu_fwd, KZ_YES, KZ_YES, KZ_YES,                                                          \
    (kz_stream *s, const float *x, float *y, int64_t rows, int64_t cols),                          \
    "4*R*C (nominal)", "4*3*R*C", 1e-10, 0,                                                        \
    "GLU: y[r,c] = x[r,c] * sigmoid(x[r,C+c]), x [R, 2C]")                                         \
  X(glu_bwd, glu_bwd, KZ_NO("the backward of glu"), KZ_YES, KZ_YES,                                \
    (kz_stream *s, const float *x, const float *dy, float *dx, int64_t rows, int64_t cols,         \
     bool accumulate),                                                                             \
    "6*R*C (nominal)", "4*R*C*(acc ? 7 : 5)", 1e-10, 0,                                            \
    "dx[:, :C] (+)= dy*sig(b), dx[:, C:] (+)= dy*a*sig(b)*(1-sig(b))")                             \
  X(quantile_loss, quantile_loss_fwd, KZ_YES, KZ_YES, KZ_YES,                                      \
    (kz_stream *s, const float *pred, const float *target, const float *quantiles, float *losses,  \
     int64_t rows, int64_t nq),                                                                    \
    "4*R*Q", "4*(2*R*Q + R + Q)", 1e-12, 0,                                                        \
    "pinball: losses[r,j] = max(q_j*e, (q_j-1)*e), e = target[r] - pred[r,j]; 0 if target NaN")    \
  X(quantile_loss_bwd, quantile_loss_bwd, KZ_NO("the backward of quantile_loss"), KZ_YES, KZ_YES,  \
    (kz_stream *s, const float *pred, const float *target, const float *quantiles, float *dpred,   \
     int64_t rows, int64_t nq, double scale, bool accumulate),                                     \
    "3*R*Q", "4*(R*Q*(acc ? 3 : 2) + R + Q)", 1e-12, 0,                                            \
    "dpred (+)= scale*(e > 0 ? -q : e < 0 ? 1-q : 1/2-q); 0 where target is NaN")                  \
  U(elu, alpha, 1.0, KZ_YES, KZ_YES, KZ_YES, "4*N (nominal)", 1e-10,                               \
    "ELU: x > 0 ? x : alpha*(exp(x) - 1)")                                                         \
  U(leaky_relu, slope, 0.01, KZ_YES, KZ_YES, KZ_YES, "N", 1e-12,                                   \
    "leaky ReLU: x > 0 ? x : slope*x (slope 0 is the MLP's ReLU: 0 for x <= 0 and NaN)")           \
  X(dropout, dropout_fwd, KZ_YES, KZ_YES, KZ_YES,                                                  \
    (kz_stream *s, const float *x, float *y, float *mask, int64_t n, double p, uint64_t key),      \
    "N", "12*N", 1e-12, 0,                                                                         \
    "mask[i] = unit(key + (i+1)*golden) >= p ? 1/(1-p) : 0 (splitmix64); y = x * mask")            \
  X(dropout_bwd, dropout_bwd, KZ_NO("the backward of dropout"), KZ_YES, KZ_YES,                    \
    (kz_stream *s, const float *dy, const float *mask, float *dx, int64_t n, bool accumulate),     \
    "N", "4*N*(acc ? 4 : 3)", 1e-12, 0, "dx (+)= dy * mask")                                       \
  X(mse, mse_fwd, KZ_YES, KZ_YES, KZ_YES,                                                          \
    (kz_stream *s, const float *pred, const float *target, float *losses, int64_t n),              \
    "3*N", "12*N", 1e-12, 0, "losses = (pred - target)^2; 0 where target is NaN (no label)")       \
  X(mse_bwd, mse_bwd, KZ_NO("the backward of mse"), KZ_YES, KZ_YES,                                \
    (kz_stream *s, const float *pred, const float *target, float *dpred, int64_t n, double scale,  \
     bool accumulate),                                                                             \
    "4*N", "4*N*(acc ? 4 : 3)", 1e-12, 0,                                                          \
    "dpred (+)= 2*scale*(pred - target) in double; 0 where target is NaN")                         \
  X(standardize, standardize_fwd, KZ_NO("prepares inputs: nothing upstream of it is trained"),     \
    KZ_YES, KZ_YES,                                                                                \
    (kz_stream *s, const float *v, const double *mean, const double *std, const int32_t *miss,     \
     float *x, int64_t rows, int64_t cols, int64_t x_cols, double inf_z),                          \
    "3*R*C", "4*(2*R*C) + 20*C", 1e-12, 0,                                                         \
    "x[r,i] = (v-mean[i])/std[i] in double (NaN 0, inf +-inf_z); x[r,cols+miss[i]] = isnan(v)")    \
  X(copy_cols, copy_cols, KZ_NO("a copy: its backward is copy_cols the other way"),                \
    KZ_YES, KZ_YES,                                                                                \
    (kz_stream *s, const float *src, int64_t src_ld, float *dst, int64_t dst_ld, int64_t rows,     \
     int64_t cols),                                                                                \
    "0", "8*R*C", 0, 0, "dst[r*dst_ld + c] = src[r*src_ld + c]: a block of columns, bit exact")    \
  X(permute, permute, KZ_YES, KZ_YES, KZ_YES,                                                      \
    (kz_stream *s, const float *x, float *y, const kz_permute_shape *sh, bool accumulate),         \
    "0 (N adds with acc)", "4*N*(acc ? 3 : 2)", 1e-12, 0,                                          \
    "y (+)= x with up to 4 dims reordered; backward = the inverse permutation")                    \
  X(attention, attention_fwd, KZ_YES, KZ_YES, KZ_YES,                                              \
    (kz_stream *s, const float *q, const float *k, const float *v, float *o, float *lse,           \
     const kz_attn_shape *sh),                                                                     \
    "4*B*H*T*T*D (about half when causal)", "4*(4*B*T*H*D + B*H*T)", 1e-10, 0,                     \
    "fused self-attention o = softmax(scale*q k^T + masks) (dropout) v, saves lse; tiled")         \
  X(attention_bwd, attention_bwd, KZ_NO("the backward of attention"), KZ_YES, KZ_YES,              \
    (kz_stream *s, const float *q, const float *k, const float *v, const float *o,                 \
     const float *dout, const float *lse, float *dq, float *dk, float *dv,                         \
     const kz_attn_shape *sh, bool accumulate),                                                    \
    "10*B*H*T*T*D (recomputes the scores)", "4*(8*B*T*H*D + B*H*T) (+ acc reads)", 1e-9, 0,        \
    "dq, dk, dv (+)= gradients from o and lse (any may be NULL); mask regenerated")              \
  X(lora, lora_fwd, KZ_YES, KZ_YES, KZ_YES,                                                        \
    (kz_stream *s, const float *x, const float *a, const float *b, float *u, float *y,             \
     int64_t rows, int64_t in, int64_t rank, int64_t out, int64_t ldy, float scale),               \
    "2*R*r*(K + M)", "4*(R*K + r*K + M*r + R*r + 2*R*M)", 1e-8, 0,                                 \
    "LoRA: u = x A^T, y[:, :M] += scale * u B^T (y's rows ldy apart); two GEMMs, one op")          \
  X(lora_bwd, lora_bwd, KZ_NO("the backward of lora"), KZ_YES, KZ_YES,                             \
    (kz_stream *s, const float *x, const float *a, const float *b, const float *u,                 \
     const float *dy, float *du, float *dx, float *da, float *db, int64_t rows, int64_t in,        \
     int64_t rank, int64_t out, int64_t ldy, float scale, bool accumulate),                        \
    "2*R*r*(2*M + 2*K)", "4*(2*R*K + 2*R*M + 2*r*K + 2*M*r + 2*R*r) (+ acc reads)", 1e-8, 0,       \
    "du = scale dy B; db (+)= scale dy^T u, da (+)= du^T x, dx (+)= du A (dx, da, db optional)")
/* clang-format on */

/* ---- reading the markers --------------------------------------------------
 * KZ_YES and KZ_NO are never defined as macros: they are pasted onto a
 * prefix, so a row's marker selects one of the definitions below. */

/* The function for a backend's slot, or NULL where the list says KZ_NO. */
#define KZ_OP_FN(mark, fn) KZ_OP_FN_##mark(fn)
#define KZ_OP_FN_KZ_YES(fn) fn
#define KZ_OP_FN_KZ_NO(reason) KZ_OP_FN_NULL_
#define KZ_OP_FN_NULL_(fn) NULL

#define KZ_OP_FN_KZ_UNFUSED(sequence) KZ_OP_FN_NULL_

/* The reason string of a KZ_NO, NULL for KZ_YES. */
#define KZ_OP_WHY(mark) KZ_OP_WHY_##mark
#define KZ_OP_WHY_KZ_YES NULL
#define KZ_OP_WHY_KZ_NO(reason) reason
#define KZ_OP_WHY_KZ_UNFUSED(sequence) "runs the unfused sequence: " sequence

/* The fallback sequence of a KZ_UNFUSED, NULL otherwise. */
#define KZ_OP_UNFUSED(mark) KZ_OP_UNFUSED_##mark
#define KZ_OP_UNFUSED_KZ_YES NULL
#define KZ_OP_UNFUSED_KZ_NO(reason) NULL
#define KZ_OP_UNFUSED_KZ_UNFUSED(sequence) sequence

/* 1 for KZ_YES, 0 for KZ_NO: usable in #if-free constant expressions. */
#define KZ_OP_HAS(mark) KZ_OP_HAS_##mark
#define KZ_OP_HAS_KZ_YES 1
#define KZ_OP_HAS_KZ_NO(reason) 0
#define KZ_OP_HAS_KZ_UNFUSED(sequence) 0

/* Ignores a row of the other kind, for derivations that only need one. */
#define KZ_OP_SKIP_X(name, slot, grad, cpu, cuda, params, flops, bytes, tol_f32, tol_bf16, summary)
#define KZ_OP_SKIP_U(name, param, value, grad, cpu, cuda, flops, tol, summary)

/* The slot signatures of a unary elementwise row. */
#define KZ_UNARY_FWD_PARAMS (kz_stream * s, const float *x, float *y, int64_t n, float param)
#define KZ_UNARY_BWD_PARAMS                                                                        \
  (kz_stream * s, const float *x, const float *dy, float *dx, int64_t n, float param,              \
   bool accumulate)

/* Walks every dispatch slot once: define KZ_SLOT(slot, cpu, cuda, params)
 * and expand KZ_OP_SLOTS(). X rows give one slot, U rows two. The table in
 * core/backend.h, the backend declarations and the backends' fills are
 * written this way. */
#define KZ_OP_SLOTS() KZ_OP_LIST(KZ_OP_SLOT_X_, KZ_OP_SLOT_U_)
#define KZ_OP_SLOT_X_(name, slot, grad, cpu, cuda, params, ...) KZ_SLOT(slot, cpu, cuda, params)
#define KZ_OP_SLOT_U_(name, param, value, grad, cpu, cuda, ...)                                    \
  KZ_SLOT(name##_fwd, cpu, cuda, KZ_UNARY_FWD_PARAMS)                                              \
  KZ_SLOT(name##_bwd, cpu, cuda, KZ_UNARY_BWD_PARAMS)

/* Walks the unary elementwise rows only: define KZ_UNARY(name, param, value,
 * grad, cpu, cuda, flops, tol, summary) and expand KZ_OP_UNARIES(). */
#define KZ_OP_UNARIES() KZ_OP_LIST(KZ_OP_SKIP_X, KZ_UNARY)

#endif
