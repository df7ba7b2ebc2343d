/* LoRA adapters whatever the model type (the transformer's,
 * models/transformer/lora.h, and the TFT's, models/tft/lora.h): what the
 * trainer, the predictor and `kaizen export` call. */
#ifndef KZ_MODELS_ADAPTERS_H
#define KZ_MODELS_ADAPTERS_H

#include <stddef.h>
#include <stdint.h>

#include "models/nn_model.h"

/* Whether m has LoRA adapters (model.lora). */
int kz_adapters_has(const kz_nn_model *m);
/* Merge (1) the adapters into the base weights or unmerge (0). */
kz_status kz_adapters_merge(kz_nn_model *m, int merge);
/* The adapters in PEFT's layout under dir, with the base's fingerprint. */
kz_status kz_adapters_export_peft(const kz_nn_model *m, const char *dir, const char *base_name,
                                  int overwrite);
/* `--adapter DIR`: *m replaced by its base with dir's adapter merged. */
kz_status kz_adapters_apply(kz_nn_model **m, const char *dir, char *note, size_t cap);

/* Several adapters over one loaded base, whatever its type (the server's
 * adapters by name): kz_transformer_adapter_* or kz_tft_adapter_* behind one
 * handle. load reads dir's adapter for base (a transformer or a TFT without
 * adapters of its own), checking the base's fingerprint; apply merges it
 * into base's weights (forecasts and predictions then equal `kaizen predict
 * --adapter`'s), saving what it overwrites; remove restores that bit for
 * bit (also after an apply that failed part way). One applied at a time. */
typedef struct kz_adapter kz_adapter;
kz_status kz_adapter_load(const kz_nn_model *base, const char *dir, kz_adapter **out, char *note,
                          size_t cap);
void kz_adapter_free(kz_adapter *a);
kz_status kz_adapter_apply(kz_nn_model *base, kz_adapter *a);
kz_status kz_adapter_remove(kz_nn_model *base, kz_adapter *a);
const char *kz_adapter_fingerprint(const kz_adapter *a);
int64_t kz_adapter_rank(const kz_adapter *a);

#endif
