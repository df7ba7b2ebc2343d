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

/* ---- several adapters over one loaded base (tft_lora_swap.c) ---------------
 * An adapter kept apart from the base it was loaded for (read and its
 * fingerprint checked by kz_tft_lora_import_peft, through a transient copy of
 * the base): A and B on the base's device, its trained head and biases on the
 * host. apply merges it into the base's own weights (W += scale B A, the GEMM
 * kz_tft_lora_merge runs, so forecasts equal `kaizen predict --adapter`'s),
 * saving on the host what it overwrites; remove restores that bit for bit.
 * One adapter at a time on a base; the base must have no adapters of its own
 * and must not run while an adapter is applied or removed. */
typedef struct kz_tft_swap_adapter kz_tft_swap_adapter;
kz_status kz_tft_adapter_load(const kz_nn_model *base, const char *dir, kz_tft_swap_adapter **out,
                              char *note, size_t cap);
void kz_tft_adapter_free(kz_tft_swap_adapter *a);
kz_status kz_tft_adapter_apply(kz_nn_model *base, kz_tft_swap_adapter *a);
kz_status kz_tft_adapter_remove(kz_nn_model *base, kz_tft_swap_adapter *a);
/* The fingerprint of the base it was trained on (and checked against). */
const char *kz_tft_adapter_fingerprint(const kz_tft_swap_adapter *a);
int64_t kz_tft_adapter_rank(const kz_tft_swap_adapter *a);

#endif
