/* LoRA adapters on the transformer's Linear layers (docs/MODELS.md, "LoRA
 * adapters"): the configuration (`model.lora`), the modules an adapter may
 * sit on, and what the rest of the model calls (tf_lora.c). The adapter
 * tensors are named views of the parameter block like every other tensor,
 * after the head: `encoder.layer.L.<module>.lora_A.weight` [r, in] and
 * `.lora_B.weight` [out, r], module names as Hugging Face BertModel's. */
#ifndef KZ_MODELS_TRANSFORMER_TF_LORA_H
#define KZ_MODELS_TRANSFORMER_TF_LORA_H

#include <stdint.h>

#include "common/config/cfg.h"
#include "kaizen.h"
#include "kernels/core/arena.h"
#include "kernels/core/tensor.h"

/* The adaptable Linear layers of a layer, in the order of the walk. */
typedef enum {
  TF_LORA_Q = 0, /* attention.self.query */
  TF_LORA_K,     /* attention.self.key */
  TF_LORA_V,     /* attention.self.value */
  TF_LORA_AO,    /* attention.output.dense */
  TF_LORA_FI,    /* intermediate.dense */
  TF_LORA_FO,    /* output.dense */
  TF_LORA_NMOD
} tf_lora_module;

typedef enum { TF_LORA_BIAS_NONE = 0, TF_LORA_BIAS_ALL, TF_LORA_BIAS_LORA_ONLY } tf_lora_bias;

/* The HF module path of m under encoder.layer.L ("attention.self.query"),
 * and PEFT's short target name ("query", "dense", "intermediate.dense"). */
extern const char *const kz_tf_lora_module_path[TF_LORA_NMOD];
extern const char *const kz_tf_lora_target_name[TF_LORA_NMOD];
extern const char *const kz_tf_lora_bias_names[]; /* "none", "all", "lora_only", NULL */

typedef struct tf_lora_cfg {
  int enabled;
  unsigned targets; /* bit 1 << tf_lora_module */
  int64_t r;
  double alpha, dropout;
  int rslora;     /* scale alpha / sqrt(r) instead of alpha / r */
  int bias;       /* tf_lora_bias: which biases train beside the adapters */
  int train_head; /* the task head trains too (PEFT's modules_to_save) */
} tf_lora_cfg;

/* What a module's adapter keeps for the backward: u = x' A^T [N, r] and,
 * with adapter dropout, x' = dropout(x) [N, in] and its mask. */
typedef struct tf_lora_saved {
  kz_tensor u, xd, mask;
} tf_lora_saved;

/* Reads model.lora (absent: disabled). Errors name the key. */
kz_status kz_tf_lora_read_cfg(const kz_cfg_node *model_cfg, tf_lora_cfg *out);
double kz_tf_lora_scale(const tf_lora_cfg *c);

#endif
