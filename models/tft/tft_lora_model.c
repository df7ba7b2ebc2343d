/* A TFT with LoRA adapters as a model of the trainer (tft_lora.h): what
 * trains (the adapters, the head, the chosen biases; the rest frozen, so
 * the optimizer keeps state for those ranges only) and how a LoRA run
 * starts from its base (train.init_from). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/tft/tft_lora.h"
#include "models/tft/tft_model.h"

static int64_t offset_of(const kz_tft_model *m, const kz_tensor *t) {
  return (const float *)t->data - (const float *)m->base.params.data;
}

static int ends_with(const char *s, const char *tail) {
  const size_t n = strlen(s), k = strlen(tail);
  return n >= k && !strcmp(s + n - k, tail);
}

/* fc1_b, gate_b, norm_b, real0.b, enc.b, head.b, attn.bq ... */
static int is_bias(const char *name) {
  if (strstr(name, ".lora_")) return 0;
  if (ends_with(name, "_b") || ends_with(name, ".b")) return 1;
  return !strcmp(name, "attn.bq") || !strcmp(name, "attn.bk") || !strcmp(name, "attn.bv") ||
         !strcmp(name, "attn.bo");
}

static int by_offset(const void *a, const void *b) {
  const kz_param_range *x = a, *y = b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

kz_status kz_tft_lora_trainable(kz_tft_model *m) {
  kz_tft_lora *l = kz_tft_net_lora(m->net);
  if (!l) return KZ_OK;
  const kz_tft_names *nm = kz_tft_net_names(m->net);
  const struct kz_tft_lora_cfg *c = &m->dm.lora;
  const int cap = nm->n + l->n + 2;
  kz_param_range *r = malloc((size_t)cap * sizeof *r);
  if (!r) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft lora");
  int n = 0;
  r[n++] = (kz_param_range){l->base_params, m->base.info.n_params - l->base_params};
  for (int i = 0; i < nm->n; i++) {
    const int head = !strcmp(nm->name[i], "head.w") || !strcmp(nm->name[i], "head.b");
    if ((c->train_head && head) || (c->bias == 1 && is_bias(nm->name[i])))
      r[n++] = (kz_param_range){nm->offset[i], nm->count[i]};
  }
  for (int i = 0; c->bias == 2 && i < l->n; i++)
    if (l->ad[i].bias.p.data)
      r[n++] = (kz_param_range){offset_of(m, &l->ad[i].bias.p), kz_tensor_numel(&l->ad[i].bias.p)};
  /* sorted, overlaps (the LSTM's bias serves both its weights) and
   * neighbours joined */
  qsort(r, (size_t)n, sizeof *r, by_offset);
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (k > 0 && r[i].offset <= r[k - 1].offset + r[k - 1].count) {
      const int64_t end = r[i].offset + r[i].count;
      if (end > r[k - 1].offset + r[k - 1].count) r[k - 1].count = end - r[k - 1].offset;
      continue;
    }
    r[k++] = r[i];
  }
  kz_status st = k > KZ_NN_MAX_RANGES
                     ? kz_fail(KZ_ERR_INVALID_ARG,
                               "model.lora: the trainable tensors form %d ranges, more than %d; "
                               "use bias: lora_only or none",
                               k, KZ_NN_MAX_RANGES)
                     : kz_nn_set_trainable(&m->base, r, k);
  free(r);
  return st;
}

/* ---- train.init_from: the base ------------------------------------------------------ */

/* The meta without what a LoRA run may differ in from its base: the
 * adapters, the parameter count and the statistics of the data (means and
 * standard deviations: the base's are taken over). */
static json_t *layout_meta(const kz_nn_model *model) {
  char *text = NULL;
  if (kz_tft_meta_json(model, &text) != KZ_OK) return NULL;
  json_t *root = json_loads(text, 0, NULL);
  free(text);
  if (!root) return NULL;
  json_object_del(root, "n_params");
  json_object_del(json_object_get(root, "config"), "lora");
  json_t *ser = json_object_get(root, "series");
  static const char *const stats[] = {"mean", "std", "mean_all", "std_all"};
  for (int i = 0; i < 4; i++) json_object_del(ser, stats[i]);
  const char *key;
  json_t *cols;
  json_object_foreach(json_object_get(root, "columns"), key, cols) {
    size_t j;
    json_t *c;
    json_array_foreach(cols, j, c) {
      json_object_del(c, "mean");
      json_object_del(c, "std");
    }
  }
  return root;
}

static const char *first_difference(json_t *a, json_t *b) {
  static const char *const parts[] = {"config", "columns", "series", "time_step", "output_names"};
  for (int i = 0; i < 5; i++)
    if (!json_equal(json_object_get(a, parts[i]), json_object_get(b, parts[i]))) return parts[i];
  return "type";
}

static kz_status from_base(kz_nn_model *model, const kz_nn_model *src, char *note, size_t cap) {
  kz_tft_model *m = (kz_tft_model *)model;
  const kz_tft_model *b = (const kz_tft_model *)src;
  kz_tft_lora *l = kz_tft_net_lora(m->net);
  if (b->dm.lora.r > 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "the model has LoRA adapters of its own; a LoRA run starts from a TFT without "
                   "them (its base)");
  json_t *ja = layout_meta(model), *jb = layout_meta(src);
  kz_status st = ja && jb ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft lora");
  if (st == KZ_OK && !json_equal(ja, jb))
    st = kz_fail(KZ_ERR_INVALID_ARG,
                 "its %s differs from this LoRA job's (model section and data set): the adapters "
                 "adapt a base on data of the same layout (columns, categories, series, sizes)",
                 first_difference(ja, jb));
  json_decref(ja);
  json_decref(jb);
  KZ_TRY(st);
  if (b->base.info.n_params != l->base_params)
    return kz_fail(KZ_ERR_INVALID_ARG, "it holds %lld parameters, the job's base tensors %lld",
                   (long long)b->base.info.n_params, (long long)l->base_params);
  /* the base's scaling: its weights were trained on it, and base + adapter
   * (kaizen predict --adapter) scales as the base does */
  memcpy(m->y_mean, b->y_mean, (size_t)m->n_series * sizeof(double));
  memcpy(m->y_std, b->y_std, (size_t)m->n_series * sizeof(double));
  m->y_mean_all = b->y_mean_all, m->y_std_all = b->y_std_all;
  memcpy(m->snum_mean, b->snum_mean, sizeof m->snum_mean);
  memcpy(m->snum_std, b->snum_std, sizeof m->snum_std);
  memcpy(m->known_mean, b->known_mean, sizeof m->known_mean);
  memcpy(m->known_std, b->known_std, sizeof m->known_std);
  memcpy(m->obs_mean, b->obs_mean, sizeof m->obs_mean);
  memcpy(m->obs_std, b->obs_std, sizeof m->obs_std);
  float *host = NULL;
  KZ_TRY(kz_nn_params_host(&b->base, &host));
  const float *p = host ? host : (const float *)b->base.params.data;
  kz_stream *s = kz_tft_net_stream(m->net);
  st = kz_copy_to_device(s, m->base.params.data, p, (size_t)l->base_params * sizeof(float));
  if (st == KZ_OK) st = kz_stream_sync(s);
  free(host);
  KZ_TRY(st);
  snprintf(note, cap,
           "the base's %lld parameters and scaling, frozen; %d LoRA adapters (r %lld, %lld "
           "parameters) new, B zero: the run starts as the base",
           (long long)l->base_params, l->n, (long long)l->r,
           (long long)(m->base.info.n_params - l->base_params));
  return KZ_OK;
}

const kz_nn_model_ops *kz_tft_lora_ops(void) {
  /* the TFT's ops, and init_from_model: filled on first use (kz_tft_ops is
   * an object, not a constant expression C can initialise a static from) */
  static kz_nn_model_ops ops;
  if (!ops.type) {
    kz_nn_model_ops o = kz_tft_ops;
    o.init_from_model = from_base;
    ops = o;
  }
  return &ops;
}
