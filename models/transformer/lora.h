/* LoRA adapters of a transformer (docs/MODELS.md, "LoRA adapters"): merge
 * and unmerge, the base model's fingerprint, adapter files and the Hugging
 * Face PEFT layout. A model has adapters when its model section had
 * model.lora (or it was built from an adapter file). */
#ifndef KZ_MODELS_TRANSFORMER_LORA_H
#define KZ_MODELS_TRANSFORMER_LORA_H

#include "models/nn_model.h"

/* merge 1: W += scale B A for every adapter, and the forward stops running
 * the adapters (no extra latency); merge 0: W -= scale B A, back to the
 * adapters. Idempotent. Training a merged model is refused. */
kz_status kz_transformer_lora_merge(kz_nn_model *m, int merge);
int kz_transformer_lora_merged(const kz_nn_model *m);

#endif
