/* The Temporal Fusion Transformer network (Lim et al. 2021): parameters,
 * activations, forward and backward on one batch of windows, as a plain
 * sequence of kernels/ops.h calls (docs/MODELS.md, "## tft").
 *
 * Layout of a batch: time-major. Row t * B + b of a [T * B, ...] tensor is
 * step t of window b, so the encoder is rows [0, k * B), the decoder rows
 * [k * B, (k + tau) * B), one LSTM step is a slice, and a per-window context
 * [B, d] is added to every step with bias_add on the [T, B * d] view.
 * Inputs arrive variable-major ([V, T, B]) so each variable is a slice.
 *
 * Parameters live in one block, in the order kz_tft_layout walks them
 * (their names are PyTorch-style, tools/make_tft_fixture.py uses the same);
 * gradients in a second block of the same layout. */
#ifndef KZ_MODELS_TFT_NET_H
#define KZ_MODELS_TFT_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/core/arena.h"
#include "kernels/core/backend.h"

enum { KZ_TFT_MAX_VARS = 64, KZ_TFT_MAX_QUANTILES = 16, KZ_TFT_NAME = 64 };

/* The shape of the network. */
typedef struct kz_tft_dims {
  int64_t d;      /* hidden size */
  int64_t heads;  /* attention heads; d_head = d / heads */
  int64_t k, tau; /* encoder length, horizon */
  int64_t n_static_real, n_static_cat;
  int32_t static_card[KZ_TFT_MAX_VARS]; /* categories of each static categorical */
  int64_t n_observed, n_known;          /* time-varying real inputs */
  /* time-varying categorical inputs (tables of card + 1 rows, the last
   * "unknown"): observed ones (encoder only), then known ones (both) */
  int64_t n_observed_cat, n_known_cat;
  int32_t tv_card[KZ_TFT_MAX_VARS];
  int64_t n_quantiles;
  double quantiles[KZ_TFT_MAX_QUANTILES];
  /* model.lora (tft_lora.h): adapters on the chosen linear layers, after
   * the base tensors in the block; r 0: none */
  struct kz_tft_lora_cfg {
    int64_t r;
    unsigned targets; /* 1 << kz_tft_lora_group */
    double alpha;
    int rslora, bias, train_head;
  } lora;
} kz_tft_dims;

/* A parameter: its view in the parameter block and in the gradient block;
 * lora: the LoRA adapter on it (a linear layer's weight), or NULL. */
typedef struct kz_tft_param {
  kz_tensor p, g;
  const struct kz_tft_adapter *lora;
} kz_tft_param;

/* Gated residual network: y = LN(skip(a) + GLU(W_g (W_2 ELU(W_1 a + W_c c
 * + b_1) + b_2) + b_g)); skip is a projection when in != out. */
typedef struct kz_tft_grn {
  int64_t in, hid, out, ctx; /* ctx 0: no context input */
  kz_tft_param fc1_w, fc1_b, ctx_w, fc2_w, fc2_b, gate_w, gate_b, skip_w, skip_b, norm_w, norm_b;
} kz_tft_grn;

/* Gated skip connection: y = LN(skip + GLU(W_g x + b_g)). */
typedef struct kz_tft_gate {
  int64_t in, out;
  kz_tft_param gate_w, gate_b, norm_w, norm_b;
} kz_tft_gate;

/* Variable selection network over n variables of width d each. */
typedef struct kz_tft_vsn {
  int64_t n, n_real;                   /* real variables first, then categorical */
  kz_tft_param emb_w[KZ_TFT_MAX_VARS]; /* real: Linear(1, d) weight [d, 1]; cat: table */
  kz_tft_param emb_b[KZ_TFT_MAX_VARS]; /* real only */
  kz_tft_grn flat;                     /* n*d -> n selection logits */
  kz_tft_grn var[KZ_TFT_MAX_VARS];     /* d -> d each */
} kz_tft_vsn;

typedef struct kz_tft_lstm {
  kz_tft_param wx, wh, b; /* [4d, d], [4d, d], [4d]; gates i, f, g, o */
} kz_tft_lstm;

typedef struct kz_tft_params {
  kz_tft_vsn vs, vp, vf; /* static (absent when there are no static inputs), past, future */
  kz_tft_grn ctx_sel, ctx_enr, ctx_h, ctx_c;
  kz_tft_lstm enc, dec;
  kz_tft_gate gate_lstm;
  kz_tft_grn enrich;
  kz_tft_param wq, bq, wk, bk, wv, bv, wo, bo;
  kz_tft_gate gate_attn;
  kz_tft_grn pos;
  kz_tft_gate gate_out;
  kz_tft_param head_w, head_b;
} kz_tft_params;

/* Parameter names in block order (for fixtures and descriptions). */
typedef struct kz_tft_names {
  int n, cap;
  char (*name)[KZ_TFT_NAME];
  int64_t *offset, *count;
} kz_tft_names;

/* Builds the views over params/grads (either may be NULL: offsets only),
 * returns the parameter count; names (nullable) receives every tensor. */
kz_status kz_tft_layout(const kz_tft_dims *dm, float *params, float *grads, kz_device dev,
                        kz_tft_params *out, int64_t *n_params, kz_tft_names *names);
void kz_tft_names_free(kz_tft_names *n);
/* Deterministic initialisation on a host block (Xavier-uniform weights,
 * zero biases, layernorm gamma 1, embeddings N(0, 1)). */
void kz_tft_init_host(const kz_tft_dims *dm, float *params, uint64_t seed);

/* One batch of B windows, host memory. The past real inputs are the scaled
 * target first, then the observed, then the known inputs; the encoder's
 * variables are those reals, then the observed and known categoricals; the
 * decoder's the known reals, then the known categoricals. */
typedef struct kz_tft_batch {
  int64_t B;
  const float *s_real;  /* [n_static_real, B] (variable-major, as past and fut) */
  const int32_t *s_cat; /* [B, n_static_cat]: codes; outside [0, card) is "unknown" */
  const float *past;    /* [1 + n_observed + n_known, k, B] */
  const float *fut;     /* [n_known, tau, B] */
  /* categorical codes (outside [0, card): "unknown"); NULL when there are none */
  const int32_t *past_cat; /* [n_observed_cat + n_known_cat, k, B] */
  const int32_t *fut_cat;  /* [n_known_cat, tau, B] */
  const float *y;          /* [tau, B] scaled targets, NaN: no label; NULL when predicting */
  const float *w;          /* [B] per-window loss weights; NULL: all 1 */
  uint64_t dropout_key;    /* training with dropout: the masks' key (one per step) */
} kz_tft_batch;

typedef struct kz_tft_net kz_tft_net;

kz_status kz_tft_net_create(const kz_tft_dims *dm, kz_device dev, kz_tft_net **out);
void kz_tft_net_destroy(kz_tft_net *n);
int64_t kz_tft_net_n_params(const kz_tft_net *n);
kz_tensor *kz_tft_net_params(kz_tft_net *n);
kz_tensor *kz_tft_net_grads(kz_tft_net *n);
const kz_tft_names *kz_tft_net_names(const kz_tft_net *n);
kz_stream *kz_tft_net_stream(kz_tft_net *n);
/* model.lora's adapters (tft_lora.h); NULL without. */
struct kz_tft_lora *kz_tft_net_lora(kz_tft_net *n);

/* Forward (+ loss when b->y) and, with train, the backward: gradients of
 * weight * (mean quantile loss over labelled elements, each window's
 * elements weighted by b->w when set) are ADDED into the gradient block. *loss: the mean loss;
 * *labelled: elements counted. pred (nullable): [tau, B, Q] forecasts in scaled units (host). */
kz_status kz_tft_net_step(kz_tft_net *n, const kz_tft_batch *b, bool train, double weight,
                          double *loss, int64_t *labelled, float *pred);
/* Dropout p in [0, 1) on the input of every GLU while training (0: none,
 * the default; kz_tft_drop in tft_blocks.h). */
kz_status kz_tft_net_set_dropout(kz_tft_net *n, double p);
/* Mean over the batch of the variable selection weights (host, nullable):
 * static [n_static], encoder [n_past], decoder [n_known]; attention [tau, k + tau]
 * averaged over windows and heads. From the last kz_tft_net_step. */
kz_status kz_tft_net_interpret(kz_tft_net *n, double *w_static, double *w_past, double *w_fut,
                               double *attn);

#endif
