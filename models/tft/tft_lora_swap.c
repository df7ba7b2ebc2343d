/* Several adapters over one loaded TFT (lora.h, "adapters by name"): an
 * adapter is kept apart from the base, its A and B on the base's device and
 * its trained head and biases on the host, and is merged into the base's own
 * weights when chosen, what it overwrites saved on the host first so that
 * taking it off restores the base bit for bit. The merge is the GEMM
 * kz_tft_lora_merge runs (W += scale B A) on the same values, so a base with
 * an adapter applied forecasts what `kaizen predict --adapter` forecasts. */
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/tft/lora.h"
#include "models/tft/tft_lora.h"
#include "models/tft/tft_model.h"

typedef struct ad_mod {
  int64_t w_off; /* the adapted weight in the base's block */
  kz_tensor w;   /* its shape (data set at apply: the base's block) */
  kz_tensor a, b;
} ad_mod;

typedef struct ad_copy {
  int64_t offset, count; /* in the base's block */
  float *values;         /* host */
} ad_copy;

struct kz_tft_swap_adapter {
  float scale;
  int64_t r;
  int n_mod, n_copy;
  ad_mod *mod;
  ad_copy *copy;
  float *saved; /* host: what applying overwrites, while applied */
  int64_t saved_n;
  int applied;
  int done_mod, done_copy; /* while applied: how many have their weights saved */
  char fp[32];
};

void kz_tft_adapter_free(kz_tft_swap_adapter *a) {
  if (!a) return;
  for (int i = 0; a->mod && i < a->n_mod; i++)
    kz_tensor_free(&a->mod[i].a), kz_tensor_free(&a->mod[i].b);
  for (int i = 0; a->copy && i < a->n_copy; i++) free(a->copy[i].values);
  free(a->mod), free(a->copy), free(a->saved);
  free(a);
}

static kz_status device_copy(kz_stream *s, const kz_tensor *src, kz_device dev, kz_tensor *out) {
  KZ_TRY(kz_tensor_alloc(dev, KZ_F32, src->ndim, src->shape, out));
  return kz_copy_on_device(s, out->data, src->data, kz_tensor_bytes(src));
}

static int name_index(const kz_tft_names *nm, const char *name) {
  for (int i = 0; i < nm->n; i++)
    if (!strcmp(nm->name[i], name)) return i;
  return -1;
}

/* What the adapter model (the base with the adapter, lora.h import) holds
 * beyond the base: A and B per adapted weight, and its trained tensors. The
 * base tensors lead both blocks in the same layout, so a weight's offset in
 * the adapter model is its offset in the base. */
static kz_status extract(const kz_tft_model *base, kz_tft_model *m, kz_tft_swap_adapter *a) {
  kz_tft_lora *l = kz_tft_net_lora(m->net);
  kz_stream *s = kz_tft_net_stream(m->net);
  const kz_tft_names *nm = kz_tft_net_names(m->net), *bn = kz_tft_net_names(base->net);
  const float *p0 = (const float *)m->base.params.data;
  int n_copy = 0;
  for (int i = 0; i < nm->n; i++)
    n_copy +=
        !strstr(nm->name[i], ".lora_") && kz_nn_is_trainable(&m->base, nm->offset[i], nm->count[i]);
  a->mod = calloc((size_t)(l->n ? l->n : 1), sizeof *a->mod);
  a->copy = calloc((size_t)(n_copy ? n_copy : 1), sizeof *a->copy);
  if (!a->mod || !a->copy) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "adapter: out of memory");
  for (int i = 0; i < l->n; i++) {
    const kz_tft_adapter *ad = &l->ad[i];
    ad_mod *d = &a->mod[a->n_mod++];
    d->w = ad->w->p;
    d->w.data = NULL;
    d->w_off = (const float *)ad->w->p.data - p0;
    if (d->w_off < 0 || d->w_off + kz_tensor_numel(&d->w) > l->base_params)
      return kz_fail(KZ_ERR_INTERNAL, "adapter: %s's weight is not a base tensor", ad->module);
    KZ_TRY(device_copy(s, &ad->a.p, base->base.device, &d->a));
    KZ_TRY(device_copy(s, &ad->b.p, base->base.device, &d->b));
    a->saved_n += kz_tensor_numel(&d->w);
  }
  for (int i = 0; i < nm->n; i++) {
    if (strstr(nm->name[i], ".lora_") || !kz_nn_is_trainable(&m->base, nm->offset[i], nm->count[i]))
      continue;
    const int j = name_index(bn, nm->name[i]);
    if (j < 0 || bn->count[j] != nm->count[i])
      return kz_fail(KZ_ERR_INTERNAL, "adapter: %s is not in the base", nm->name[i]);
    ad_copy *c = &a->copy[a->n_copy++];
    c->offset = bn->offset[j];
    c->count = nm->count[i];
    if (!(c->values = malloc((size_t)c->count * sizeof(float))))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "adapter: out of memory");
    KZ_TRY(kz_copy_to_host(s, c->values, p0 + nm->offset[i], (size_t)c->count * sizeof(float)));
    a->saved_n += c->count;
  }
  KZ_TRY(kz_stream_sync(s));
  if (!(a->saved = malloc((size_t)(a->saved_n ? a->saved_n : 1) * sizeof(float))))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "adapter: out of memory");
  return KZ_OK;
}

kz_status kz_tft_adapter_load(const kz_nn_model *base, const char *dir, kz_tft_swap_adapter **out,
                              char *note, size_t cap) {
  *out = NULL;
  kz_nn_model *m = NULL;
  KZ_TRY(kz_tft_lora_import_peft(base, dir, &m, note, cap));
  kz_tft_swap_adapter *a = calloc(1, sizeof *a);
  kz_status st = a ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "adapter: out of memory");
  kz_tft_model *am = (kz_tft_model *)m;
  if (st == KZ_OK) {
    a->scale = kz_tft_net_lora(am->net)->scale;
    a->r = am->dm.lora.r;
    st = kz_tft_base_fingerprint(m, a->fp);
  }
  if (st == KZ_OK) st = extract((const kz_tft_model *)base, am, a);
  kz_nn_base(m)->ops->destroy(m);
  if (st != KZ_OK) {
    kz_tft_adapter_free(a);
    return st;
  }
  *out = a;
  return KZ_OK;
}

const char *kz_tft_adapter_fingerprint(const kz_tft_swap_adapter *a) {
  return a->fp;
}
int64_t kz_tft_adapter_rank(const kz_tft_swap_adapter *a) {
  return a->r;
}

kz_status kz_tft_adapter_apply(kz_nn_model *model, kz_tft_swap_adapter *a) {
  if (strcmp(kz_nn_base_c(model)->ops->type, "tft") || kz_tft_has_lora(model))
    return kz_fail(KZ_ERR_INVALID_ARG, "adapters go onto a TFT without LoRA adapters of its own");
  if (a->applied) return kz_fail(KZ_ERR_INVALID_ARG, "adapter: already applied");
  kz_tft_model *m = (kz_tft_model *)model;
  kz_stream *s = kz_tft_net_stream(m->net);
  float *p = (float *)m->base.params.data;
  /* applied from the first change on, so that a failure part way is undone
   * by remove: each tensor is saved (synchronously) before it changes. The
   * trained tensors first, then the merges, as the adapter model predict
   * loads has them (its trained head is the weight a head adapter adds to) */
  a->applied = 1, a->done_mod = a->done_copy = 0;
  int64_t at = 0;
  for (int i = 0; i < a->n_copy; i++) {
    const ad_copy *c = &a->copy[i];
    const size_t bytes = (size_t)c->count * sizeof(float);
    KZ_TRY(kz_copy_to_host(s, a->saved + at, p + c->offset, bytes));
    KZ_TRY(kz_stream_sync(s));
    a->done_copy++;
    KZ_TRY(kz_copy_to_device(s, p + c->offset, c->values, bytes));
    at += c->count;
  }
  for (int i = 0; i < a->n_mod; i++) {
    const ad_mod *d = &a->mod[i];
    kz_tensor w = d->w;
    w.data = p + d->w_off;
    KZ_TRY(kz_copy_to_host(s, a->saved + at, w.data, kz_tensor_bytes(&w)));
    KZ_TRY(kz_stream_sync(s));
    a->done_mod++;
    KZ_TRY(kz_op_matmul(s, &d->b, &d->a, &w, false, false, a->scale, 1.0f));
    at += kz_tensor_numel(&w);
  }
  return kz_stream_sync(s);
}

kz_status kz_tft_adapter_remove(kz_nn_model *model, kz_tft_swap_adapter *a) {
  if (!a->applied) return KZ_OK;
  kz_tft_model *m = (kz_tft_model *)model;
  kz_stream *s = kz_tft_net_stream(m->net);
  float *p = (float *)m->base.params.data;
  /* in the reverse order of apply: a tensor changed twice (a trained head
   * a head adapter merges into) gets its first saved copy back */
  int64_t at = a->saved_n;
  for (int i = a->n_mod - 1; i >= 0; i--) {
    const int64_t n = kz_tensor_numel(&a->mod[i].w);
    at -= n;
    if (i < a->done_mod)
      KZ_TRY(kz_copy_to_device(s, p + a->mod[i].w_off, a->saved + at, (size_t)n * sizeof(float)));
  }
  for (int i = a->n_copy - 1; i >= 0; i--) {
    at -= a->copy[i].count;
    if (i < a->done_copy)
      KZ_TRY(kz_copy_to_device(s, p + a->copy[i].offset, a->saved + at,
                               (size_t)a->copy[i].count * sizeof(float)));
  }
  KZ_TRY(kz_stream_sync(s));
  a->applied = 0;
  return KZ_OK;
}
