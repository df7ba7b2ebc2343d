/* Adapter-only checkpoints (ckpt_adapter.h). */
#include "engine/train/ckpt_adapter.h"

#include <stdio.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/transformer/lora.h"

int kz_ckpt_adapter_only(const kz_nn_model *m) {
  return kz_transformer_has_lora(m);
}

static kz_status base_fp(const kz_nn_model *m, char fp[40]) {
  if (fp[0]) return KZ_OK;
  char buf[KZ_LORA_FINGERPRINT_LEN];
  KZ_TRY(kz_transformer_base_fingerprint(m, buf));
  snprintf(fp, 40, "%s", buf);
  return KZ_OK;
}

kz_status kz_ckpt_adapter_pack(const kz_nn_model *m, float *host, kz_ckpt_state *st, char fp[40]) {
  const kz_nn_model_base *b = kz_nn_base_c(m);
  KZ_TRY(base_fp(m, fp));
  kz_param_range r[KZ_NN_MAX_RANGES];
  const int nr = kz_nn_trainable_ranges(b, r);
  int64_t at = 0;
  /* ranges ascend, so moving each to the front never overwrites one not
   * yet moved */
  for (int i = 0; i < nr; ++i) {
    memmove(host + at, host + r[i].offset, (size_t)r[i].count * sizeof(float));
    at += r[i].count;
  }
  st->params_n = at;
  snprintf(st->base_fingerprint, sizeof st->base_fingerprint, "%s", fp);
  return KZ_OK;
}

kz_status kz_ckpt_adapter_restore(kz_nn_model *m, kz_stream *s, const kz_ckpt_data *d,
                                  const char *where, char fp[40]) {
  kz_nn_model_base *b = kz_nn_base(m);
  if (!kz_ckpt_adapter_only(m))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the checkpoint holds only adapter tensors (base %s), but the job's model "
                   "has no LoRA adapters (model.lora)",
                   where, d->st.base_fingerprint);
  KZ_TRY(base_fp(m, fp));
  if (strcmp(fp, d->st.base_fingerprint))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the checkpoint's adapters were trained on the base model with "
                   "fingerprint %s; the base the job loaded (train.init_from) has %s: resume "
                   "with the base the run started from",
                   where, d->st.base_fingerprint, fp);
  kz_param_range r[KZ_NN_MAX_RANGES];
  const int nr = kz_nn_trainable_ranges(b, r);
  int64_t at = 0;
  for (int i = 0; i < nr; ++i) at += r[i].count;
  if (at != d->params_n)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the checkpoint holds %lld trainable floats, the job's model trains %lld",
                   where, (long long)d->params_n, (long long)at);
  at = 0;
  for (int i = 0; i < nr; ++i) {
    KZ_TRY(kz_copy_to_device(s, (float *)b->params.data + r[i].offset, d->params + at,
                             (size_t)r[i].count * sizeof(float)));
    at += r[i].count;
  }
  return KZ_OK;
}
