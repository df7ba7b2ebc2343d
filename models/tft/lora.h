/* LoRA adapters of a TFT as the rest of kaizen sees them (docs/MODELS.md,
 * "LoRA adapters"; tft_lora.h for the network side): merging, the base
 * model's fingerprint, adapter directories in PEFT's layout
 * (adapter_config.json + adapter_model.safetensors with
 * base_model.model.<module>.lora_A.weight [r, in] / .lora_B.weight [out, r],
 * modules named as the TFT's parameters: "vp.var0.fc1", "enc.wh", "attn.wq",
 * "head"; the trained head and biases beside them under their own names). */
#ifndef KZ_MODELS_TFT_LORA_PUBLIC_H
#define KZ_MODELS_TFT_LORA_PUBLIC_H

#include <stddef.h>

#include "models/nn_model.h"

/* Whether m is a TFT with LoRA adapters. */
int kz_tft_has_lora(const kz_nn_model *m);
/* merge 1: W += scale B A, the adapters stop running; 0: W restored bit for
 * bit. Idempotent. */
kz_status kz_tft_lora_merge_model(kz_nn_model *m, int merge);
/* "kz64:" + 16 hex digits over the name, size and floats of every tensor
 * the adapter does not hold (the frozen base), in layout order. */
kz_status kz_tft_base_fingerprint(const kz_nn_model *m, char out[32]);
/* dir/adapter_config.json and dir/adapter_model.safetensors (metadata
 * kaizen_base_fingerprint); an adapter already there is an error unless
 * overwrite. */
kz_status kz_tft_lora_export_peft(const kz_nn_model *m, const char *dir, const char *base_name,
                                  int overwrite);
/* The adapter in dir onto base (a TFT without adapters): a new model with
 * base's meta and tensors and the adapter's; a recorded fingerprint that is
 * not base's is an error naming both. note (nullable) gets a summary. */
kz_status kz_tft_lora_import_peft(const kz_nn_model *base, const char *dir, kz_nn_model **out,
                                  char *note, size_t cap);
/* The same model without its adapters (unmerged first). */
kz_status kz_tft_lora_strip(kz_nn_model *m, kz_nn_model **out);
/* `kaizen predict|eval --adapter DIR`: *m replaced by its base (itself, or
 * its adapters stripped) with dir's adapter loaded and merged. */
kz_status kz_tft_lora_apply(kz_nn_model **m, const char *dir, char *note, size_t cap);

#endif
