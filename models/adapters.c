/* LoRA adapters by model type (models/adapters.h). */
#include "models/adapters.h"

#include <stdlib.h>
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

/* One path for both families: a model with adapters of its own is
 * unmerged (bit for bit the base again) and stripped to its base, dir's
 * adapter is imported onto that (fingerprint checked) and merged; on
 * failure *m stays as it was, unmerged. */
kz_status kz_adapters_apply(kz_nn_model **m, const char *dir, char *note, size_t cap) {
  const int tft = is_tft(*m);
  if (!tft && strcmp(kz_nn_base(*m)->ops->type, "transformer"))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--adapter: adapters apply to transformer and TFT models only");
  kz_nn_model *base = *m, *stripped = NULL, *out = NULL;
  if (kz_adapters_has(base)) {
    KZ_TRY(kz_adapters_merge(base, 0));
    KZ_TRY(tft ? kz_tft_lora_strip(base, &stripped) : kz_transformer_lora_strip(base, &stripped));
    base = stripped;
  }
  kz_status st = tft ? kz_tft_lora_import_peft(base, dir, &out, note, cap)
                     : kz_transformer_lora_import_peft(base, dir, &out, note, cap);
  if (stripped) kz_nn_base(stripped)->ops->destroy(stripped);
  if (st == KZ_OK) st = kz_adapters_merge(out, 1);
  if (st != KZ_OK) {
    if (out) kz_nn_base(out)->ops->destroy(out);
    return st;
  }
  kz_nn_base(*m)->ops->destroy(*m);
  *m = out;
  return KZ_OK;
}

/* ---- several adapters over one base ------------------------------------------------ */

struct kz_adapter {
  kz_tf_adapter *tf;        /* a transformer's */
  kz_tft_swap_adapter *tft; /* a TFT's */
};

kz_status kz_adapter_load(const kz_nn_model *base, const char *dir, kz_adapter **out, char *note,
                          size_t cap) {
  *out = NULL;
  const char *type = base ? kz_nn_base_c(base)->ops->type : "";
  if (strcmp(type, "tft") && strcmp(type, "transformer"))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "a %s model: LoRA adapters go onto transformer and TFT models only", type);
  if (kz_adapters_has(base))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "the model has LoRA adapters of its own: load adapters onto its base (the "
                   "run's train.init_from)");
  kz_adapter *a = calloc(1, sizeof *a);
  if (!a) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "adapter: out of memory");
  kz_status st = is_tft(base) ? kz_tft_adapter_load(base, dir, &a->tft, note, cap)
                              : kz_transformer_adapter_load(base, dir, &a->tf, note, cap);
  if (st != KZ_OK) {
    free(a);
    return st;
  }
  *out = a;
  return KZ_OK;
}

void kz_adapter_free(kz_adapter *a) {
  if (!a) return;
  kz_transformer_adapter_free(a->tf);
  kz_tft_adapter_free(a->tft);
  free(a);
}

kz_status kz_adapter_apply(kz_nn_model *base, kz_adapter *a) {
  return a->tft ? kz_tft_adapter_apply(base, a->tft) : kz_transformer_adapter_apply(base, a->tf);
}

kz_status kz_adapter_remove(kz_nn_model *base, kz_adapter *a) {
  return a->tft ? kz_tft_adapter_remove(base, a->tft) : kz_transformer_adapter_remove(base, a->tf);
}

const char *kz_adapter_fingerprint(const kz_adapter *a) {
  return a->tft ? kz_tft_adapter_fingerprint(a->tft) : kz_transformer_adapter_fingerprint(a->tf);
}

int64_t kz_adapter_rank(const kz_adapter *a) {
  return a->tft ? kz_tft_adapter_rank(a->tft) : kz_transformer_adapter_rank(a->tf);
}
