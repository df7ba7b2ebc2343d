/* LoRA adapters by model type (models/adapters.h). */
#include "models/adapters.h"

#include <string.h>

#include "kernels/core/error.h"
#include "models/tft/lora.h"
#include "models/transformer/lora.h"

static int is_tft(const kz_nn_model *m) {
  return m && !strcmp(kz_nn_base_c(m)->ops->type, "tft");
}

int kz_adapters_has(const kz_nn_model *m) {
  return is_tft(m) ? kz_tft_has_lora(m) : kz_transformer_has_lora(m);
}

kz_status kz_adapters_merge(kz_nn_model *m, int merge) {
  return is_tft(m) ? kz_tft_lora_merge_model(m, merge) : kz_transformer_lora_merge(m, merge);
}

kz_status kz_adapters_export_peft(const kz_nn_model *m, const char *dir, const char *base_name,
                                  int overwrite) {
  return is_tft(m) ? kz_tft_lora_export_peft(m, dir, base_name, overwrite)
                   : kz_transformer_lora_export_peft(m, dir, base_name, overwrite);
}

kz_status kz_adapters_apply(kz_nn_model **m, const char *dir, char *note, size_t cap) {
  if (is_tft(*m)) return kz_tft_lora_apply(m, dir, note, cap);
  if (strcmp(kz_nn_base(*m)->ops->type, "transformer"))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--adapter: adapters apply to transformer and TFT models only");
  return kz_transformer_lora_apply(m, dir, note, cap);
}
