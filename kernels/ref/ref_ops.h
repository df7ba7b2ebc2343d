/* Reference implementations: scalar C in double precision, the oracle every
 * backend is checked against and the function finite differences are taken
 * of. Written for clarity, never for speed: no blocking, no threads, one
 * obvious loop per formula. Signatures mirror kz_op_table (core/backend.h)
 * with double arrays in place of float and bf16 ones, on host memory. */
#ifndef KZ_REF_OPS_H
#define KZ_REF_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Same semantics as kz_gemm; a, b, c point at doubles, strides in elements. */
typedef struct kz_ref_gemm {
  const double *a;
  const double *b;
  double *c;
  bool trans_a, trans_b;
  int64_t m, n, k;
  int64_t lda, ldb, ldc;
  int64_t stride_a, stride_b, stride_c;
  int64_t batch;
  double alpha, beta;
} kz_ref_gemm;

/* The MLP's ops (ref/mlp.c). Dropout's mask element i is 1/(1-p) where
 * kz_dropout_unit(key, i) >= p, else 0: a counter-based stream, so any
 * backend draws the same mask from (key, i) alone. */
double kz_dropout_unit(uint64_t key, int64_t i);
void kz_ref_dropout_fwd(const double *x, double *y, double *mask, int64_t n, double p,
                        uint64_t key);
void kz_ref_dropout_bwd(const double *dy, const double *mask, double *dx, int64_t n,
                        bool accumulate);
void kz_ref_mse_fwd(const double *pred, const double *target, double *losses, int64_t n);
void kz_ref_mse_bwd(const double *pred, const double *target, double *dpred, int64_t n,
                    double scale, bool accumulate);
void kz_ref_standardize(const double *v, const double *mean, const double *std, const int32_t *miss,
                        double *x, int64_t rows, int64_t cols, int64_t x_cols, double inf_z);
void kz_ref_copy_cols(const double *src, int64_t src_ld, double *dst, int64_t dst_ld, int64_t rows,
                      int64_t cols);

/* The TFT's ops (ref/tft.c): LSTM cell (gates i, f, g, o), GLU, quantile loss. */
void kz_ref_lstm_cell_fwd(const double *gates, const double *c_prev, double *h, double *c,
                          int64_t rows, int64_t hidden);
void kz_ref_lstm_cell_bwd(const double *gates, const double *c_prev, const double *c,
                          const double *dh, const double *dc, double *dgates, double *dc_prev,
                          int64_t rows, int64_t hidden, bool accumulate);
void kz_ref_glu_fwd(const double *x, double *y, int64_t rows, int64_t cols);
void kz_ref_glu_bwd(const double *x, const double *dy, double *dx, int64_t rows, int64_t cols,
                    bool accumulate);
void kz_ref_quantile_loss_fwd(const double *pred, const double *target, const double *quantiles,
                              double *losses, int64_t rows, int64_t nq);
void kz_ref_quantile_loss_bwd(const double *pred, const double *target, const double *quantiles,
                              double *dpred, int64_t rows, int64_t nq, double scale,
                              bool accumulate);

void kz_ref_gemm_run(const kz_ref_gemm *g);
void kz_ref_bias_add_fwd(const double *x, const double *bias, double *y, int64_t rows,
                         int64_t cols);
void kz_ref_bias_add_bwd(const double *dy, double *dbias, int64_t rows, int64_t cols,
                         bool accumulate);
void kz_ref_add(const double *a, const double *b, double *y, int64_t n);
double kz_ref_gelu(double x, kz_gelu_approx approx);
double kz_ref_gelu_grad(double x, kz_gelu_approx approx);
void kz_ref_gelu_fwd(const double *x, double *y, int64_t n, kz_gelu_approx approx);
void kz_ref_gelu_bwd(const double *x, const double *dy, double *dx, int64_t n,
                     kz_gelu_approx approx, bool accumulate);
void kz_ref_layernorm_fwd(const double *x, const double *gamma, const double *beta, double *y,
                          double *mean, double *rstd, int64_t rows, int64_t cols, double eps);
void kz_ref_layernorm_bwd(const double *dy, const double *x, const double *gamma,
                          const double *mean, const double *rstd, double *dx, double *dgamma,
                          double *dbeta, int64_t rows, int64_t cols, bool accumulate);
/* sh->lengths is read as a host array here. */
void kz_ref_softmax_fwd(const double *x, double *y, const kz_softmax_shape *sh);
void kz_ref_softmax_bwd(const double *y, const double *dy, double *dx, const kz_softmax_shape *sh,
                        bool accumulate);
/* Returns false (and leaves losses partly written) on an out-of-range target. */
bool kz_ref_cross_entropy_fwd(const double *logits, const int32_t *targets, double *losses,
                              int64_t rows, int64_t classes, int32_t ignore_index);
void kz_ref_cross_entropy_bwd(const double *logits, const int32_t *targets, const double *dloss,
                              double *dlogits, int64_t rows, int64_t classes, int32_t ignore_index,
                              bool accumulate);
bool kz_ref_embedding_fwd(const int32_t *ids, const double *table, double *out, int64_t n,
                          int64_t vocab, int64_t dim);
void kz_ref_embedding_bwd(const int32_t *ids, const double *dout, double *dtable, int64_t n,
                          int64_t vocab, int64_t dim, bool accumulate);
/* EWC: the penalty (lambda/2) * sum fisher * (params - anchor)^2 and its
 * gradient, added into grads. */
double kz_ref_ewc_penalty(const double *params, const double *anchor, const double *fisher,
                          int64_t n, double lambda);
void kz_ref_ewc_grad(const double *params, const double *anchor, const double *fisher,
                     double *grads, int64_t n, double lambda);
/* params_bf16 (nullable) receives the updated weights rounded to bf16 and
 * widened back to double, so it compares directly with a backend's output. */
void kz_ref_adamw(double *params, const double *grads, double *m, double *v, double *params_bf16,
                  int64_t n, const kz_adamw_hparams *hp);
void kz_ref_permute(const double *x, double *y, const kz_permute_shape *sh, bool accumulate);
/* The transformer encoder's ops (ref/transformer.c), compositions of the
 * references above. They return false on allocation failure or an invalid
 * index/length/target (which the CPU op refuses). residual_layernorm_bwd
 * reads y and beta when r is NULL, r and mean otherwise (see ops.h). */
bool kz_ref_residual_layernorm_fwd(const double *x, const double *h, const double *gamma,
                                   const double *beta, double *y, double *r, double *mean,
                                   double *rstd, int64_t rows, int64_t cols, double p, uint64_t key,
                                   double eps);
bool kz_ref_residual_layernorm_bwd(const double *dy, const double *y, const double *r,
                                   const double *gamma, const double *beta, const double *mean,
                                   const double *rstd, double *dx, double *dh, double *dgamma,
                                   double *dbeta, int64_t rows, int64_t cols, double p,
                                   uint64_t key, bool accumulate);
bool kz_ref_gather_rows_fwd(const double *x, const int32_t *idx, double *out, int64_t m, int64_t n,
                            int64_t dim);
void kz_ref_gather_rows_bwd(const int32_t *idx, const double *dout, double *dx, int64_t m,
                            int64_t n, int64_t dim, bool accumulate);
bool kz_ref_qa_span_loss_fwd(const double *logits, const int32_t *lengths, const int32_t *starts,
                             const int32_t *ends, double *losses, int64_t batch, int64_t seq);
bool kz_ref_qa_span_loss_bwd(const double *logits, const int32_t *lengths, const int32_t *starts,
                             const int32_t *ends, const double *dloss, double *dlogits,
                             int64_t batch, int64_t seq, bool accumulate);
/* Rounds each value to the nearest bf16 (ties to even) and widens it back. */
void kz_ref_round_bf16(const double *x, double *y, int64_t n);
/* The unary elementwise ops of the op list: f(x; param) and f'(x; param),
 * one element at a time (the harness loops over arrays). */
#define KZ_UNARY(name, param, ...)                                                                 \
  double kz_ref_##name(double x, double param);                                                    \
  double kz_ref_##name##_grad(double x, double param);
KZ_OP_UNARIES()
#undef KZ_UNARY

/* Fused self-attention (ref/attention.c), same layout and masks as
 * kz_attn_shape with sh->lengths read as a host array. lse may be NULL. The
 * backward recomputes everything from q, k, v (it takes no saved o or lse);
 * dq, dk, dv may each be NULL. */
void kz_ref_attention_fwd(const double *q, const double *k, const double *v, double *o, double *lse,
                          const kz_attn_shape *sh);
void kz_ref_attention_bwd(const double *q, const double *k, const double *v, const double *dout,
                          double *dq, double *dk, double *dv, const kz_attn_shape *sh,
                          bool accumulate);

/* LoRA (ref/lora.c): u = x A^T [R, r]; y[:, :M] (rows ldy apart) += scale u B^T.
 * The backward: du = scale dy B (written), db (+)= scale dy^T u, da (+)=
 * du^T x, dx (+)= du A; dx, da, db may be NULL. x [R, K], a [r, K], b [M, r]. */
void kz_ref_lora_fwd(const double *x, const double *a, const double *b, double *u, double *y,
                     int64_t rows, int64_t in, int64_t rank, int64_t out, int64_t ldy,
                     double scale);
void kz_ref_lora_bwd(const double *x, const double *a, const double *b, const double *u,
                     const double *dy, double *du, double *dx, double *da, double *db, int64_t rows,
                     int64_t in, int64_t rank, int64_t out, int64_t ldy, double scale,
                     bool accumulate);

#ifdef __cplusplus
}
#endif
#endif
