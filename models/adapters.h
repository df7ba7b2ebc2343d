/* LoRA adapters whatever the model type (the transformer's,
 * models/transformer/lora.h, and the TFT's, models/tft/lora.h): what the
 * trainer, the predictor and `kaizen export` call. */
#ifndef KZ_MODELS_ADAPTERS_H
#define KZ_MODELS_ADAPTERS_H

#include <stddef.h>

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

#endif
