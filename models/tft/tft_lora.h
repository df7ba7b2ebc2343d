/* LoRA adapters on the TFT's linear layers (docs/MODELS.md, "LoRA adapters"
 * and "## tft"): model.lora on a model.type tft job. An adapter on a
 * weight W [out, in] adds scale (x A^T) B^T to the layer's output, A [r, in]
 * and B [out, r] living after the base tensors in the parameter block (named
 * "<module>.lora_A.weight", "<module>.lora_B.weight", the module being the
 * weight's name without its "_w" / ".w" suffix: "vp.var0.fc1", "enc.wx",
 * "attn.wq", "head"). Linear layers run through kz_tft_linear pick their
 * adapter up from the weight (kz_tft_param.lora); the two that are plain
 * matmuls inside something else (the GRN context projection, the LSTM's
 * recurrent weight) call kz_tft_lora_fwd / _bwd beside the matmul. The
 * backward recomputes u = x A^T (r columns: cheap) instead of keeping it. */
#ifndef KZ_MODELS_TFT_LORA_H
#define KZ_MODELS_TFT_LORA_H

#include <jansson.h>
#include <stdbool.h>

#include "common/config/cfg.h"
#include "models/nn_model.h"
#include "models/tft/tft_net.h"

/* The adaptable layer groups, model.lora.target_modules names. */
typedef enum {
  KZ_TFT_LORA_GRN_FC1 = 0, /* "grn_fc1": every GRN's first linear */
  KZ_TFT_LORA_GRN_FC2,     /* "grn_fc2": its second */
  KZ_TFT_LORA_GRN_CTX,     /* "grn_ctx": the static context's projection in a GRN */
  KZ_TFT_LORA_GRN_SKIP,    /* "grn_skip": the skip projection (input width != output) */
  KZ_TFT_LORA_GLU,         /* "glu": the GLU's linear of every GRN and gated skip */
  KZ_TFT_LORA_LSTM_IH,     /* "lstm_ih": the LSTMs' input weights */
  KZ_TFT_LORA_LSTM_HH,     /* "lstm_hh": their recurrent weights */
  KZ_TFT_LORA_QUERY,       /* "query", "key", "value", "attn_out": the attention's */
  KZ_TFT_LORA_KEY,
  KZ_TFT_LORA_VALUE,
  KZ_TFT_LORA_ATTN_OUT,
  KZ_TFT_LORA_HEAD, /* "head": the quantile head (not in all-linear, as PEFT) */
  KZ_TFT_LORA_NGROUP
} kz_tft_lora_group;

extern const char *const kz_tft_lora_group_names[KZ_TFT_LORA_NGROUP];

typedef struct kz_tft_lora kz_tft_lora;

/* One adapter: its tensors and the set it belongs to (scale, scratch). */
typedef struct kz_tft_adapter {
  kz_tft_param a, b;     /* [r, in], [out, r] */
  int64_t a_off, b_off;  /* their offsets in the block */
  const kz_tft_param *w; /* the base weight [out, in] */
  kz_tft_param bias;     /* the layer's bias (p.data NULL when it has none) */
  int group;
  char module[KZ_TFT_NAME];
  kz_tft_lora *set;
} kz_tft_adapter;

struct kz_tft_lora {
  int64_t r;
  float scale;
  int merged; /* the adapters folded into the base weights: not run */
  int n;
  kz_tft_adapter *ad;
  int64_t base_params; /* the base tensors' floats: the adapters start there */
  kz_device dev;
  kz_tensor u, du; /* [rows, r] scratch of the backward */
  int64_t cap_rows;
  float *saved; /* the base weights as they were while merged (host) */
};

/* model.lora (absent: r 0). dropout other than 0 is refused: the TFT's
 * adapters have none (model.dropout drops every GLU's input already). */
kz_status kz_tft_lora_read_cfg(const kz_cfg_node *model_cfg, struct kz_tft_lora_cfg *out);
double kz_tft_lora_scale(const struct kz_tft_lora_cfg *c);
json_t *kz_tft_lora_to_json(const struct kz_tft_lora_cfg *c);
kz_status kz_tft_lora_from_json(json_t *o, struct kz_tft_lora_cfg *c);

/* Floats of the adapters dm->lora asks for (0 without). */
kz_status kz_tft_lora_numel(const kz_tft_dims *dm, int64_t *out);
/* The adapters over the blocks (base tensors first, base_params floats):
 * views, p's weights pointing at them, names appended. *out NULL without
 * model.lora. */
kz_status kz_tft_lora_attach(const kz_tft_dims *dm, kz_tft_params *p, const kz_tensor *params,
                             const kz_tensor *grads, int64_t base_params, kz_device dev,
                             kz_tft_names *names, kz_tft_lora **out);
void kz_tft_lora_free(kz_tft_lora *l);
/* A Kaiming-uniform, B zero, on a host block laid out as the network's. */
void kz_tft_lora_init_host(const kz_tft_lora *l, float *params, uint64_t seed);

/* Whether w's adapter runs beside it: it has one and it is not merged (a
 * merged adapter is part of the weight, which the base's shortcuts may then
 * use as any weight: the same forecasts with and without the adapter set). */
static inline bool kz_tft_lora_runs(const kz_tft_param *w) {
  return w->lora && !w->lora->set->merged;
}

/* y += scale (x A^T) B^T when w has an adapter (and it is not merged). */
kz_status kz_tft_lora_fwd(kz_stream *s, const kz_tensor *x, const kz_tft_param *w, kz_tensor *y);
/* dA, dB added into the gradient block; dx (nullable) += the adapter's share. */
kz_status kz_tft_lora_bwd(kz_stream *s, const kz_tensor *x, const kz_tft_param *w,
                          const kz_tensor *dy, kz_tensor *dx);

/* ---- the model (tft_lora_model.c) ---- */
struct kz_tft_model;
/* The trainable ranges of a model with adapters: the adapters, the head
 * (train_head) and the chosen biases (bias: all, lora_only); nothing
 * without model.lora. */
kz_status kz_tft_lora_trainable(struct kz_tft_model *m);
/* The TFT's ops with init_from_model: a model with adapters starts from its
 * base (train.init_from a TFT without adapters): the base's tensors and
 * target / covariate scaling, the data's layout checked to be the base's. */
const kz_nn_model_ops *kz_tft_lora_ops(void);

/* merge 1: W += scale B A (host copy of W kept), merge 0: W restored bit for
 * bit. Idempotent. */
kz_status kz_tft_lora_merge(kz_tft_lora *l, kz_stream *s, int merge);

#endif
