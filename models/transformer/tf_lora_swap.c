/* Several adapters over one loaded base (lora.h, "adapters by name"): an
 * adapter is kept apart from the base, its A and B on the base's device and
 * its trained head and biases on the host, and is merged into the base's own
 * weights when chosen, the weights it changes saved on the host first so that
 * taking it off again restores the base bit for bit. Merging runs the same
 * GEMM (W += scale B A) as kz_transformer_lora_merge, so a base with an
 * adapter applied predicts what `kaizen predict --adapter` predicts. */
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/transformer/lora.h"
#include "models/transformer/tf_internal.h"

typedef struct ad_mod {
  int64_t layer;
  int module;
  kz_tensor a, b; /* [r, in], [out, r] on the base's device */
} ad_mod;

typedef struct ad_copy {
  int64_t offset, count; /* in the base's parameter block */
  float *values;         /* host */
} ad_copy;

struct kz_tf_adapter {
  float scale;
  int64_t r;
  int n_mod, n_copy;
  ad_mod *mod;
  ad_copy *copy;
  float *saved; /* host: what applying overwrites, while applied */
  int64_t saved_n;
  int applied;
  int done_mod, done_copy; /* while applied: how many have their weights saved */
  char fp[KZ_LORA_FINGERPRINT_LEN];
};

void kz_transformer_adapter_free(kz_tf_adapter *a) {
  if (!a) return;
  for (int i = 0; a->mod && i < a->n_mod; i++)
    kz_tensor_free(&a->mod[i].a), kz_tensor_free(&a->mod[i].b);
  for (int i = 0; a->copy && i < a->n_copy; i++) free(a->copy[i].values);
  free(a->mod), free(a->copy), free(a->saved);
  free(a);
}

static int64_t numel_of(const tf_named *t) {
  return t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
}

static kz_status device_copy(kz_stream *s, const kz_tensor *src, kz_device dev, kz_tensor *out) {
  KZ_TRY(kz_tensor_alloc(dev, KZ_F32, src->ndim, src->shape, out));
  return kz_copy_on_device(s, out->data, src->data, kz_tensor_bytes(src));
}

/* What the adapter model m (the base with the adapter, lora.h import) holds
 * beyond the base: its A and B per adapted module and its trained tensors. */
static kz_status extract(const kz_tf *base, const kz_tf *m, kz_tf_adapter *a) {
  int n_mod = 0, n_copy = 0;
  for (int64_t l = 0; l < m->layers; l++)
    for (int k = 0; k < TF_LORA_NMOD; k++) n_mod += (m->lora.targets >> k) & 1;
  for (int i = 0; i < m->n_named; i++)
    n_copy += !m->named[i].lora &&
              kz_nn_is_trainable(&m->base, m->named[i].offset, numel_of(&m->named[i]));
  a->mod = calloc((size_t)(n_mod ? n_mod : 1), sizeof *a->mod);
  a->copy = calloc((size_t)(n_copy ? n_copy : 1), sizeof *a->copy);
  if (!a->mod || !a->copy) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "adapter: out of memory");
  for (int64_t l = 0; l < m->layers; l++)
    for (int k = 0; k < TF_LORA_NMOD; k++) {
      if (!(m->lora.targets & (1u << k))) continue;
      ad_mod *d = &a->mod[a->n_mod++];
      d->layer = l, d->module = k;
      KZ_TRY(device_copy(m->stream, &m->p.lora_a[l][k], base->base.device, &d->a));
      KZ_TRY(device_copy(m->stream, &m->p.lora_b[l][k], base->base.device, &d->b));
      a->saved_n += kz_tf_lora_in(m, k) * kz_tf_lora_out(m, k);
    }
  for (int i = 0; i < m->n_named; i++) {
    const tf_named *t = &m->named[i];
    if (t->lora || !kz_nn_is_trainable(&m->base, t->offset, numel_of(t))) continue;
    const int j = kz_transformer_param_find((const kz_nn_model *)base, t->name);
    if (j < 0) return kz_fail(KZ_ERR_INTERNAL, "adapter: %s is not in the base", t->name);
    ad_copy *c = &a->copy[a->n_copy++];
    c->offset = base->named[j].offset;
    c->count = numel_of(t);
    if (!(c->values = malloc((size_t)c->count * sizeof(float))))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "adapter: out of memory");
    KZ_TRY(kz_copy_to_host(m->stream, c->values, (const float *)m->base.params.data + t->offset,
                           (size_t)c->count * sizeof(float)));
    a->saved_n += c->count;
  }
  KZ_TRY(kz_stream_sync(m->stream));
  if (!(a->saved = malloc((size_t)(a->saved_n ? a->saved_n : 1) * sizeof(float))))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "adapter: out of memory");
  return KZ_OK;
}

kz_status kz_transformer_adapter_load(const kz_nn_model *base_model, const char *dir,
                                      kz_tf_adapter **out, char *note, size_t cap) {
  *out = NULL;
  kz_nn_model *m = NULL;
  KZ_TRY(kz_transformer_lora_import_peft(base_model, dir, &m, note, cap));
  kz_tf_adapter *a = calloc(1, sizeof *a);
  kz_status st = a ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "adapter: out of memory");
  const kz_tf *am = (const kz_tf *)m;
  if (st == KZ_OK) {
    a->scale = (float)kz_tf_lora_scale(&am->lora);
    a->r = am->lora.r;
    st = kz_transformer_base_fingerprint(m, a->fp);
  }
  if (st == KZ_OK) st = extract((const kz_tf *)base_model, am, a);
  kz_nn_base(m)->ops->destroy(m);
  if (st != KZ_OK) {
    kz_transformer_adapter_free(a);
    return st;
  }
  *out = a;
  return KZ_OK;
}

const char *kz_transformer_adapter_fingerprint(const kz_tf_adapter *a) {
  return a->fp;
}
int64_t kz_transformer_adapter_rank(const kz_tf_adapter *a) {
  return a->r;
}

static kz_status check_base(const kz_nn_model *model) {
  if (strcmp(kz_nn_base_c(model)->ops->type, "transformer") || kz_transformer_has_lora(model))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "adapters go onto a transformer without LoRA adapters of its own");
  return KZ_OK;
}

kz_status kz_transformer_adapter_apply(kz_nn_model *model, kz_tf_adapter *a) {
  KZ_TRY(check_base(model));
  if (a->applied) return kz_fail(KZ_ERR_INVALID_ARG, "adapter: already applied");
  kz_tf *m = (kz_tf *)model;
  /* applied from the first change on, so that a failure part way is undone
   * by remove: each weight is saved (synchronously) before it changes */
  a->applied = 1, a->done_mod = a->done_copy = 0;
  int64_t at = 0;
  for (int i = 0; i < a->n_mod; i++) {
    const ad_mod *d = &a->mod[i];
    kz_tensor w = kz_tf_lora_base_weight(m, d->layer, d->module);
    KZ_TRY(kz_copy_to_host(m->stream, a->saved + at, w.data, kz_tensor_bytes(&w)));
    KZ_TRY(kz_stream_sync(m->stream));
    a->done_mod++;
    KZ_TRY(kz_op_matmul(m->stream, &d->b, &d->a, &w, false, false, a->scale, 1.0f));
    at += kz_tensor_numel(&w);
  }
  float *p = (float *)m->base.params.data;
  for (int i = 0; i < a->n_copy; i++) {
    const ad_copy *c = &a->copy[i];
    const size_t bytes = (size_t)c->count * sizeof(float);
    KZ_TRY(kz_copy_to_host(m->stream, a->saved + at, p + c->offset, bytes));
    KZ_TRY(kz_stream_sync(m->stream));
    a->done_copy++;
    KZ_TRY(kz_copy_to_device(m->stream, p + c->offset, c->values, bytes));
    at += c->count;
  }
  KZ_TRY(kz_nn_refresh_bf16(&m->base, m->stream));
  return kz_stream_sync(m->stream);
}

kz_status kz_transformer_adapter_remove(kz_nn_model *model, kz_tf_adapter *a) {
  if (!a->applied) return KZ_OK;
  kz_tf *m = (kz_tf *)model;
  int64_t at = 0;
  for (int i = 0; i < a->n_mod; i++) {
    kz_tensor w = kz_tf_lora_base_weight(m, a->mod[i].layer, a->mod[i].module);
    if (i < a->done_mod)
      KZ_TRY(kz_copy_to_device(m->stream, w.data, a->saved + at, kz_tensor_bytes(&w)));
    at += kz_tensor_numel(&w);
  }
  float *p = (float *)m->base.params.data;
  for (int i = 0; i < a->done_copy; i++) {
    KZ_TRY(kz_copy_to_device(m->stream, p + a->copy[i].offset, a->saved + at,
                             (size_t)a->copy[i].count * sizeof(float)));
    at += a->copy[i].count;
  }
  KZ_TRY(kz_nn_refresh_bf16(&m->base, m->stream));
  KZ_TRY(kz_stream_sync(m->stream));
  a->applied = 0;
  return KZ_OK;
}
