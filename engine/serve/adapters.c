/* LoRA adapters by name on a served transformer (docs/SERVING.md,
 * "Adapters"). One copy of the base serves them all: the adapter a batch
 * asks for is merged into the base's weights just before the batch runs
 * and taken out (the saved weights copied back, bit for bit) when a batch
 * for another adapter or for the base comes (kz_tf_adapter, lora.h). A
 * switch costs one small GEMM per adapted layer; the memory is one base
 * plus the adapters' own tensors. Batches never mix adapters (take_batch). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "engine/predict/predictor.h"
#include "engine/serve/server_internal.h"
#include "kernels/core/error.h"
#include "models/transformer/lora.h"

static kz_status check_name(const char *name) {
  size_t n = name ? strlen(name) : 0;
  int ok = n >= 1 && n <= KZ_SERVE_NAME_MAX;
  for (size_t i = 0; ok && i < n; ++i) {
    char c = name[i];
    ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
  }
  return ok ? KZ_OK
            : kz_fail(KZ_ERR_INVALID_ARG,
                      "adapter name '%s': 1 to %d letters, digits, '_', '-' or '.'",
                      name ? name : "(null)", KZ_SERVE_NAME_MAX);
}

/* m->mu held */
static int index_of(const kz_serve_model *m, const char *name) {
  for (int i = 0; i < m->n_adapters; ++i)
    if (!strcmp(m->adapters[i].name, name)) return i;
  return -1;
}

kz_status kz_serve_adapter_load(kz_serve_model *m, const char *name, const char *dir) {
  KZ_TRY(check_name(name));
  if (!m->text)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model '%s' is a %s model: LoRA adapters go onto transformers only", m->name,
                   m->type);
  pthread_mutex_lock(&m->mu);
  int taken = index_of(m, name) >= 0, full = m->n_adapters == KZ_SERVE_MAX_ADAPTERS;
  pthread_mutex_unlock(&m->mu);
  if (taken)
    return kz_fail(KZ_ERR_INVALID_ARG, "model '%s' has an adapter '%s' already", m->name, name);
  if (full)
    return kz_fail(KZ_ERR_INVALID_ARG, "model '%s': at most %d adapters", m->name,
                   KZ_SERVE_MAX_ADAPTERS);
  kz_nn_model *base = kz_predictor_nn(m->pred);
  if (kz_transformer_has_lora(base))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model '%s' (%s) has LoRA adapters of its own: serve its base model (the "
                   "run's train.init_from) and load both adapters onto that",
                   m->name, m->path);
  /* the import reads the base's weights: none of the others may be merged
   * into them meanwhile */
  kz_tf_adapter *ad = NULL;
  char note[1024] = "";
  pthread_mutex_lock(&m->run_mu);
  kz_status st = kz_serve_adapter_select(m, -1);
  if (st == KZ_OK) st = kz_transformer_adapter_load(base, dir, &ad, note, sizeof note);
  pthread_mutex_unlock(&m->run_mu);
  if (st != KZ_OK)
    return kz_fail_context(st, "adapter '%s' of model '%s' from %s", name, m->name, dir);
  pthread_mutex_lock(&m->mu);
  if (index_of(m, name) >= 0 || m->n_adapters == KZ_SERVE_MAX_ADAPTERS) {
    st = kz_fail(KZ_ERR_INVALID_ARG, "model '%s' has an adapter '%s' already", m->name, name);
  } else {
    kz_serve_adapter *a = &m->adapters[m->n_adapters];
    snprintf(a->name, sizeof a->name, "%s", name);
    a->ad = ad;
    m->n_adapters++; /* visible to requests only now, complete */
  }
  pthread_mutex_unlock(&m->mu);
  if (st != KZ_OK) kz_transformer_adapter_free(ad);
  return st;
}

kz_status kz_serve_adapter_find(kz_serve_model *m, const char *name, int *index) {
  *index = -1;
  if (!name || !name[0]) return KZ_OK;
  pthread_mutex_lock(&m->mu);
  int i = index_of(m, name);
  char have[512] = "";
  size_t at = 0;
  for (int k = 0; i < 0 && k < m->n_adapters && at < sizeof have; ++k) {
    int w = snprintf(have + at, sizeof have - at, "%s%s", k ? ", " : "", m->adapters[k].name);
    at += w > 0 ? (size_t)w : 0;
  }
  pthread_mutex_unlock(&m->mu);
  if (i < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "model '%s' has no adapter '%s' (%s%s)", m->name, name,
                   have[0] ? "loaded: " : "none loaded", have);
  *index = i;
  return KZ_OK;
}

kz_status kz_serve_adapter_select(kz_serve_model *m, int index) {
  if (m->applied == index) return KZ_OK;
  kz_nn_model *base = kz_predictor_nn(m->pred);
  if (m->applied >= 0) {
    KZ_TRY(kz_transformer_adapter_remove(base, m->adapters[m->applied].ad));
    m->applied = -1;
  }
  if (index < 0) return KZ_OK;
  /* a failed merge leaves the base as it was: what it changed is restored */
  kz_status st = kz_transformer_adapter_apply(base, m->adapters[index].ad);
  if (st != KZ_OK) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", kz_last_error());
    kz_transformer_adapter_remove(base, m->adapters[index].ad);
    return kz_fail(st, "adapter '%s': %s", m->adapters[index].name, msg);
  }
  m->applied = index;
  return KZ_OK;
}

void kz_serve_adapters_free(kz_serve_model *m) {
  for (int i = 0; i < m->n_adapters; ++i) kz_transformer_adapter_free(m->adapters[i].ad);
  m->n_adapters = 0;
}

kz_status kz_server_load_adapter(kz_server *s, const char *model, int64_t version, const char *name,
                                 const char *dir) {
  if (!s || !model || !dir)
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_server_load_adapter: NULL argument");
  kz_serve_model *m = kz_server_acquire(s, model, version);
  if (!m) {
    if (version > 0)
      return kz_fail(KZ_ERR_NOT_FOUND, "model '%s' version %lld is not loaded", model,
                     (long long)version);
    return kz_fail(KZ_ERR_NOT_FOUND, "model '%s' is not loaded", model);
  }
  kz_status st = kz_serve_adapter_load(m, name, dir);
  kz_server_release(s, m);
  return st;
}
