/* Helpers the per-family case files (cases_*.c) use to fill the table. Not
 * part of the harness API. */
#ifndef KZ_HARNESS_CASE_BUILD_H
#define KZ_HARNESS_CASE_BUILD_H

#include "kernels/core/error.h"
#include "kernels/harness/op_case.h"
#include "kernels/ops.h"

/* Appends a zeroed case for `op` named by the format. On allocation failure
 * the list is marked and a scratch case returned, so builders need no checks. */
kz_op_case *kz_case_new(kz_op_case_list *list, const char *op, kz_case_invoke_fn invoke,
                        kz_case_ref_fn ref, const char *fmt, ...) KZ_PRINTF(5, 6);
/* Adds an argument (standard normal inputs; NMSE bound from the registry by
 * the argument's dtype) and returns it for adjustments. */
kz_arg_spec *kz_case_arg(kz_op_case *c, const char *name, kz_dtype dtype, kz_arg_role role,
                         int ndim, const int64_t *shape);
void kz_arg_normal(kz_arg_spec *a, double mean, double std);
void kz_arg_uniform(kz_arg_spec *a, double lo, double hi);
void kz_arg_ints(kz_arg_spec *a, int64_t lo, int64_t hi);
int64_t kz_arg_numel(const kz_arg_spec *a);
/* The role a gradient output takes: poisoned, or pre-filled when accumulating. */
static inline kz_arg_role kz_grad_role(bool accumulate) {
  return accumulate ? KZ_ARG_INOUT : KZ_ARG_OUT;
}

/* Per-family builders, called in registry order by kz_op_cases_build. The
 * bench calls the single-case constructors with its own shapes. */
void kz_cases_matmul(kz_op_case_list *l);
void kz_cases_elementwise(kz_op_case_list *l); /* bias_add(_bwd), add, gelu(_bwd) */
void kz_cases_layernorm(kz_op_case_list *l);
void kz_cases_softmax(kz_op_case_list *l);
void kz_cases_loss(kz_op_case_list *l);  /* cross_entropy(_bwd), embedding(_bwd) */
void kz_cases_optim(kz_op_case_list *l); /* adamw, casts */
void kz_cases_unary(kz_op_case_list *l); /* every U row of the op list */
void kz_cases_mlp(kz_op_case_list *l);   /* dropout(_bwd), mse(_bwd), standardize, copy_cols */
void kz_bench_cases_mlp(kz_op_case_list *l);
void kz_cases_view(kz_op_case_list *l); /* permute and its backward */
/* residual_layernorm(_bwd), gather_rows(_bwd), qa_span_loss(_bwd) */
void kz_cases_transformer(kz_op_case_list *l);
void kz_cases_attention(kz_op_case_list *l); /* attention and its backward */
void kz_bench_cases_attention(kz_op_case_list *l);
void kz_cases_tft(kz_op_case_list *l); /* lstm_cell(_bwd), glu(_bwd), quantile_loss(_bwd) */
void kz_bench_cases_tft(kz_op_case_list *l);
void kz_cases_lora(kz_op_case_list *l); /* lora and its backward */
void kz_bench_cases_lora(kz_op_case_list *l);

/* A unary elementwise op of the op list, as the generic cases see it. */
typedef struct kz_unary_info {
  const char *name, *bwd_name;
  double value; /* the typical parameter the cases use */
  double (*ref)(double x, double param);
  double (*grad)(double x, double param);
  kz_status (*fwd)(kz_stream *s, const kz_tensor *x, kz_tensor *y, float param);
  kz_status (*bwd)(kz_stream *s, const kz_tensor *x, const kz_tensor *dy, kz_tensor *dx,
                   float param, bool accumulate);
  bool has_grad; /* the list marks gradient cases KZ_YES */
} kz_unary_info;

int kz_unary_count(void);
const kz_unary_info *kz_unary_at(int i);

kz_op_case *kz_case_matmul(kz_op_case_list *l, bool ta, bool tb, int64_t batch, bool batch_a,
                           bool batch_b, int64_t m, int64_t n, int64_t k, kz_dtype dtype,
                           float alpha, float beta);
kz_op_case *kz_case_bias_add(kz_op_case_list *l, int64_t rows, int64_t cols, bool in_place);
kz_op_case *kz_case_bias_add_bwd(kz_op_case_list *l, int64_t rows, int64_t cols, bool acc);
/* unfused: run the wrapper's fallback (the backend's fused slot cleared). */
kz_op_case *kz_case_bias_gelu(kz_op_case_list *l, int64_t rows, int64_t cols, kz_gelu_approx approx,
                              bool unfused);
kz_op_case *kz_case_add(kz_op_case_list *l, int64_t n, bool in_place);
kz_op_case *kz_case_gelu(kz_op_case_list *l, int64_t n, kz_gelu_approx approx);
kz_op_case *kz_case_gelu_bwd(kz_op_case_list *l, int64_t n, kz_gelu_approx approx, bool acc);
kz_op_case *kz_case_layernorm(kz_op_case_list *l, int ndim, const int64_t *shape, bool stats,
                              double x_mean);
kz_op_case *kz_case_layernorm_bwd(kz_op_case_list *l, int64_t rows, int64_t cols, bool acc);
/* drop: gradient outputs passed as NULL (1 dx, 2 dgamma, 4 dbeta). */
kz_op_case *kz_case_layernorm_bwd_drop(kz_op_case_list *l, int64_t rows, int64_t cols, bool acc,
                                       unsigned drop);
kz_op_case *kz_case_softmax(kz_op_case_list *l, const int64_t *bhts, float scale, bool causal,
                            bool lengths);
kz_op_case *kz_case_softmax_bwd(kz_op_case_list *l, const int64_t *bhts, float scale, bool causal,
                                bool lengths, bool acc);
kz_op_case *kz_case_cross_entropy(kz_op_case_list *l, int64_t rows, int64_t classes);
kz_op_case *kz_case_cross_entropy_bwd(kz_op_case_list *l, int64_t rows, int64_t classes, bool acc);
kz_op_case *kz_case_embedding(kz_op_case_list *l, int ids_ndim, const int64_t *ids_shape,
                              int64_t vocab, int64_t dim);
kz_op_case *kz_case_embedding_bwd(kz_op_case_list *l, int64_t n, int64_t vocab, int64_t dim,
                                  bool acc);
kz_op_case *kz_case_adamw(kz_op_case_list *l, int64_t n, int steps, bool bf16_copy);
kz_op_case *kz_case_ewc_grad(kz_op_case_list *l, int64_t n, float lambda);
kz_op_case *kz_case_cast(kz_op_case_list *l, int64_t n, kz_dtype from);
/* x of `shape` (ndim dims) permuted by perm; bwd: the backward from dy (the
 * permuted shape) to dx (x's shape), accumulating when acc. */
kz_op_case *kz_case_permute(kz_op_case_list *l, int ndim, const int64_t *shape, const int *perm,
                            bool bwd, bool acc);
/* save_r: the forward also writes r / the backward reads r (else y);
 * in_place: y aliases x / dx aliases dy; drop (backward): gradient outputs
 * passed as NULL (1 dx, 2 dh, 4 dgamma, 8 dbeta). */
kz_op_case *kz_case_residual_layernorm(kz_op_case_list *l, int64_t rows, int64_t cols, double p,
                                       bool save_r, bool stats, bool in_place);
kz_op_case *kz_case_residual_layernorm_bwd(kz_op_case_list *l, int64_t rows, int64_t cols, double p,
                                           bool save_r, bool acc, unsigned drop, bool in_place);
kz_op_case *kz_case_gather_rows(kz_op_case_list *l, int64_t n, int64_t dim, int64_t m);
kz_op_case *kz_case_gather_rows_bwd(kz_op_case_list *l, int64_t n, int64_t dim, int64_t m,
                                    bool acc);
/* logits [batch*seq, 2] (3-D [batch, seq, 2] when ndim is 3). */
kz_op_case *kz_case_qa_span_loss(kz_op_case_list *l, int64_t batch, int64_t seq, int ndim);
kz_op_case *kz_case_qa_span_loss_bwd(kz_op_case_list *l, int64_t batch, int64_t seq, bool acc);
/* Fused attention on B x T tokens of H heads of D: the layout, masks, lse
 * and dropout come from p (fused, lse, lengths, causal, dropout_p, key);
 * the backward takes p.accumulate and p.drop (1 dq, 2 dk, 4 dv; with the
 * fused layout only 7, the whole dqkv). */
kz_op_case *kz_case_attention(kz_op_case_list *l, int64_t t, int64_t d,
                              const kz_fused_attn_params *p);
kz_op_case *kz_case_attention_bwd(kz_op_case_list *l, int64_t t, int64_t d,
                                  const kz_fused_attn_params *p, bool acc, unsigned drop);
/* The TFT's ops. lstm_cell_bwd drop bits: 1 dgates, 2 dc_prev, 4 dc (NULL). */
kz_op_case *kz_case_lstm_cell(kz_op_case_list *l, int64_t rows, int64_t hidden);
kz_op_case *kz_case_lstm_cell_bwd(kz_op_case_list *l, int64_t rows, int64_t hidden, bool acc,
                                  unsigned drop);
kz_op_case *kz_case_glu(kz_op_case_list *l, int64_t rows, int64_t cols);
kz_op_case *kz_case_glu_bwd(kz_op_case_list *l, int64_t rows, int64_t cols, bool acc);
kz_op_case *kz_case_quantile_loss(kz_op_case_list *l, int64_t rows, int64_t nq);
kz_op_case *kz_case_quantile_loss_bwd(kz_op_case_list *l, int64_t rows, int64_t nq, double scale,
                                      bool acc);
/* LoRA on x [rows, in] with rank r into columns [col, col + out) of y
 * [rows, ld]; the backward's drop bits: 1 dx, 2 da, 4 db. */
kz_op_case *kz_case_lora(kz_op_case_list *l, int64_t rows, int64_t in, int64_t rank, int64_t out,
                         int64_t ld, int64_t col, float scale);
kz_op_case *kz_case_lora_bwd(kz_op_case_list *l, int64_t rows, int64_t in, int64_t rank,
                             int64_t out, int64_t ld, int64_t col, float scale, bool acc,
                             unsigned drop);
kz_op_case *kz_case_unary(kz_op_case_list *l, const kz_unary_info *u, int64_t n, float param);
kz_op_case *kz_case_unary_bwd(kz_op_case_list *l, const kz_unary_info *u, int64_t n, float param,
                              bool acc);

#endif
