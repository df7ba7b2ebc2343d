/* A TFT's LoRA adapters as files and on a chosen base (models/tft/lora.h):
 * the base's fingerprint, PEFT's adapter directory both ways, stripping the
 * adapters and `--adapter` at prediction. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs/atomic_file.h"
#include "data/shard/fsutil.h"
#include "data/shard/hash64.h"
#include "kernels/core/error.h"
#include "models/io/safetensors.h"
#include "models/tft/lora.h"
#include "models/tft/tft_lora.h"
#include "models/tft/tft_model.h"

static const char *const PREFIX = "base_model.model.";
static const char *const FP_KEY = "kaizen_base_fingerprint";
enum { FP_LEN = 32 };

int kz_tft_has_lora(const kz_nn_model *model) {
  const kz_tft_model *m = (const kz_tft_model *)model;
  return model && !strcmp(m->base.ops->type, "tft") && m->dm.lora.r > 0 && m->net;
}

static kz_tft_lora *lora_of(const kz_nn_model *model) {
  return kz_tft_net_lora(((const kz_tft_model *)model)->net);
}

kz_status kz_tft_lora_merge_model(kz_nn_model *model, int merge) {
  if (!kz_tft_has_lora(model))
    return kz_fail(KZ_ERR_INVALID_ARG, "lora merge: the model has no LoRA adapters");
  kz_tft_model *m = (kz_tft_model *)model;
  return kz_tft_lora_merge(lora_of(model), kz_tft_net_stream(m->net), merge);
}

/* ---- fingerprint -------------------------------------------------------------------- */

static kz_status fingerprint(const kz_tft_model *m, char out[FP_LEN]) {
  float *host = NULL;
  KZ_TRY(kz_nn_params_host(&m->base, &host));
  const float *p = host ? host : (const float *)m->base.params.data;
  const kz_tft_names *nm = kz_tft_net_names(m->net);
  kz_hash64 h;
  kz_hash64_init(&h);
  for (int i = 0; i < nm->n; i++) {
    if (kz_nn_is_trainable(&m->base, nm->offset[i], nm->count[i])) continue;
    kz_hash64_update(&h, nm->name[i], strlen(nm->name[i]) + 1);
    kz_hash64_update(&h, &nm->count[i], sizeof nm->count[i]);
    kz_hash64_update(&h, p + nm->offset[i], (size_t)nm->count[i] * sizeof(float));
  }
  free(host);
  snprintf(out, FP_LEN, "kz64:%016" PRIx64, kz_hash64_final(&h));
  return KZ_OK;
}

kz_status kz_tft_base_fingerprint(const kz_nn_model *model, char out[32]) {
  if (!kz_tft_has_lora(model))
    return kz_fail(KZ_ERR_INVALID_ARG, "lora: the model has no LoRA adapters");
  if (lora_of(model)->merged)
    return kz_fail(KZ_ERR_INVALID_ARG, "lora: unmerge the adapters before fingerprinting the base");
  return fingerprint((const kz_tft_model *)model, out);
}

/* ---- export ------------------------------------------------------------------------- */

static const char *const bias_names[] = {"none", "all", "lora_only"};

kz_status kz_tft_lora_export_peft(const kz_nn_model *model, const char *dir, const char *base_name,
                                  int overwrite) {
  const kz_tft_model *m = (const kz_tft_model *)model;
  char fp[FP_LEN];
  KZ_TRY(kz_tft_base_fingerprint(model, fp));
  char cfg_path[4200], st_path[4200];
  snprintf(cfg_path, sizeof cfg_path, "%s/adapter_config.json", dir);
  snprintf(st_path, sizeof st_path, "%s/adapter_model.safetensors", dir);
  struct stat sb;
  if (!overwrite && (stat(cfg_path, &sb) == 0 || stat(st_path, &sb) == 0))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s holds an adapter already; pass --overwrite to replace it", dir);
  int created = 0;
  KZ_TRY(kz_fs_ensure_dir(dir, &created));
  const struct kz_tft_lora_cfg *c = &m->dm.lora;
  const kz_tft_lora *l = lora_of(model);
  json_t *cfg = json_object(), *targets = json_array(), *groups = json_array();
  for (int i = 0; i < l->n; i++) json_array_append_new(targets, json_string(l->ad[i].module));
  for (int k = 0; k < KZ_TFT_LORA_NGROUP; k++)
    if (c->targets & (1u << k))
      json_array_append_new(groups, json_string(kz_tft_lora_group_names[k]));
  json_object_set_new(cfg, "peft_type", json_string("LORA"));
  json_object_set_new(cfg, "task_type", json_null());
  json_object_set_new(cfg, "base_model_name_or_path", json_string(base_name ? base_name : ""));
  json_object_set_new(cfg, "r", json_integer(c->r));
  json_object_set_new(cfg, "lora_alpha", json_real(c->alpha));
  json_object_set_new(cfg, "lora_dropout", json_real(0.0));
  json_object_set_new(cfg, "use_rslora", json_boolean(c->rslora));
  json_object_set_new(cfg, "bias", json_string(bias_names[c->bias]));
  json_object_set_new(cfg, "target_modules", targets);
  json_object_set_new(cfg, "modules_to_save",
                      c->train_head ? json_pack("[s]", "head") : json_null());
  json_object_set_new(cfg, "fan_in_fan_out", json_false());
  json_object_set_new(cfg, "init_lora_weights", json_true());
  json_object_set_new(cfg, "inference_mode", json_true());
  json_object_set_new(cfg, "use_dora", json_false());
  json_object_set_new(cfg, "layers_to_transform", json_null());
  json_object_set_new(cfg, "rank_pattern", json_object());
  json_object_set_new(cfg, "alpha_pattern", json_object());
  json_object_set_new(cfg, "revision", json_null());
  /* kaizen's own: the model type and model.lora.target_modules */
  json_object_set_new(cfg, "kaizen_model_type", json_string("tft"));
  json_object_set_new(cfg, "kaizen_target_groups", groups);
  char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
  json_decref(cfg);
  if (!text) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "lora export");

  float *host = NULL;
  kz_status st = kz_nn_params_host(&m->base, &host);
  const float *p = host ? host : (const float *)m->base.params.data;
  const kz_tft_names *nm = kz_tft_net_names(m->net);
  kz_safetensors_writer *w = NULL;
  if (st == KZ_OK) st = kz_safetensors_writer_new(&w);
  char(*keys)[KZ_TFT_NAME + 32] = calloc((size_t)nm->n + 1, sizeof *keys);
  if (st == KZ_OK && !keys) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "lora export");
  /* the adapters by their module's shape; a trained head or bias flat */
  for (int i = 0; st == KZ_OK && i < nm->n; i++) {
    if (!kz_nn_is_trainable(&m->base, nm->offset[i], nm->count[i])) continue;
    snprintf(keys[i], sizeof keys[i], "%s%s", PREFIX, nm->name[i]);
    int64_t shape[2] = {nm->count[i], 1};
    int rank = 1;
    for (int j = 0; j < l->n; j++) {
      const kz_tft_adapter *ad = &l->ad[j];
      const kz_tensor *t = ad->a_off == nm->offset[i]   ? &ad->a.p
                           : ad->b_off == nm->offset[i] ? &ad->b.p
                                                        : NULL;
      if (t) shape[0] = t->shape[0], shape[1] = t->shape[1], rank = 2;
    }
    if (!strcmp(nm->name[i], "head.w")) shape[0] = m->dm.n_quantiles, shape[1] = m->dm.d, rank = 2;
    st = kz_safetensors_writer_add_f32(w, keys[i], rank, shape, p + nm->offset[i]);
  }
  if (st == KZ_OK) st = kz_safetensors_writer_set_metadata(w, "format", "pt");
  if (st == KZ_OK) st = kz_safetensors_writer_set_metadata(w, FP_KEY, fp);
  if (st == KZ_OK) st = kz_safetensors_writer_write(w, st_path);
  if (st == KZ_OK) {
    const size_t len = strlen(text);
    text[len] = '\n';
    st = kz_fs_write_atomic(cfg_path, text, len + 1);
  }
  kz_safetensors_writer_free(w);
  free(keys);
  free(host);
  free(text);
  return st;
}

/* ---- import ------------------------------------------------------------------------- */

static kz_status read_config(const char *path, struct kz_tft_lora_cfg *c, char *base_name,
                             size_t cap) {
  json_error_t err;
  json_t *o = json_load_file(path, 0, &err);
  if (!o) return kz_fail(KZ_ERR_FORMAT, "%s: %s (line %d)", path, err.text, err.line);
  kz_status st = KZ_OK;
  json_t *pt = json_object_get(o, "peft_type"), *r = json_object_get(o, "r");
  json_t *a = json_object_get(o, "lora_alpha"), *d = json_object_get(o, "lora_dropout");
  json_t *b = json_object_get(o, "bias"), *rs = json_object_get(o, "use_rslora");
  json_t *bn = json_object_get(o, "base_model_name_or_path");
  memset(c, 0, sizeof *c);
  snprintf(base_name, cap, "%s", json_is_string(bn) ? json_string_value(bn) : "");
  if (!json_is_string(pt) || strcmp(json_string_value(pt), "LORA"))
    st = kz_fail(KZ_ERR_FORMAT, "%s: peft_type is not \"LORA\"", path);
  else if (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > 4096)
    st = kz_fail(KZ_ERR_FORMAT, "%s: r must be an integer in [1, 4096]", path);
  else if (!json_is_number(a) || !(json_number_value(a) > 0))
    st = kz_fail(KZ_ERR_FORMAT, "%s: lora_alpha must be a positive number", path);
  else if (d && !json_is_null(d) && (!json_is_number(d) || json_number_value(d) != 0))
    st = kz_fail(KZ_ERR_UNSUPPORTED, "%s: lora_dropout must be 0 (the TFT's adapters take none)",
                 path);
  else if (rs && !json_is_boolean(rs))
    st = kz_fail(KZ_ERR_FORMAT, "%s: use_rslora must be a boolean", path);
  if (st == KZ_OK) {
    c->r = json_integer_value(r);
    c->alpha = json_number_value(a);
    c->rslora = json_is_true(rs);
    c->bias = json_is_string(b) ? -1 : 0;
    for (int i = 0; json_is_string(b) && i < 3; i++)
      if (!strcmp(json_string_value(b), bias_names[i])) c->bias = i;
    if (c->bias < 0)
      st = kz_fail(KZ_ERR_FORMAT, "%s: bias must be \"none\", \"all\" or \"lora_only\"", path);
  }
  static const char *const must_be_false[] = {"use_dora", "fan_in_fan_out", NULL};
  for (int i = 0; st == KZ_OK && must_be_false[i]; i++)
    if (json_is_true(json_object_get(o, must_be_false[i])))
      st = kz_fail(KZ_ERR_UNSUPPORTED, "%s: %s is set, which kaizen's LoRA does not implement",
                   path, must_be_false[i]);
  json_decref(o);
  return st;
}

static int ends_with(const char *s, const char *tail) {
  const size_t n = strlen(s), k = strlen(tail);
  return n >= k && !strcmp(s + n - k, tail);
}

/* "<module>.lora_A.weight" -> the module's group (-1: not an adapter name) */
static int adapter_group(const char *name) {
  char mod[256];
  const size_t n = strlen(name), k = strlen(".lora_A.weight");
  if (n <= k || (!ends_with(name, ".lora_A.weight") && !ends_with(name, ".lora_B.weight")))
    return -1;
  snprintf(mod, sizeof mod, "%.*s", (int)(n - k), name);
  static const struct {
    const char *tail;
    int group;
  } map[] = {{".fc1", KZ_TFT_LORA_GRN_FC1},    {".fc2", KZ_TFT_LORA_GRN_FC2},
             {".ctx", KZ_TFT_LORA_GRN_CTX},    {".skip", KZ_TFT_LORA_GRN_SKIP},
             {".gate", KZ_TFT_LORA_GLU},       {".wx", KZ_TFT_LORA_LSTM_IH},
             {".wh", KZ_TFT_LORA_LSTM_HH},     {"attn.wq", KZ_TFT_LORA_QUERY},
             {"attn.wk", KZ_TFT_LORA_KEY},     {"attn.wv", KZ_TFT_LORA_VALUE},
             {"attn.wo", KZ_TFT_LORA_ATTN_OUT}};
  if (!strcmp(mod, "head")) return KZ_TFT_LORA_HEAD;
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (ends_with(mod, map[i].tail)) return map[i].group;
  return -1;
}

static int name_index(const kz_tft_names *nm, const char *name) {
  for (int i = 0; i < nm->n; i++)
    if (!strcmp(nm->name[i], name)) return i;
  return -1;
}

/* A model of base's meta with model.lora set to c (r 0: none), base's
 * tensors copied. */
static kz_status rebuild(const kz_nn_model *base, const struct kz_tft_lora_cfg *c,
                         kz_nn_model **out) {
  *out = NULL;
  char *meta = NULL;
  KZ_TRY(kz_nn_model_meta(base, &meta));
  json_t *root = json_loads(meta, 0, NULL);
  free(meta);
  json_t *cfg = root ? json_object_get(root, "config") : NULL;
  if (!cfg) {
    json_decref(root);
    return kz_fail(KZ_ERR_INTERNAL, "tft lora: the model's meta");
  }
  if (c->r > 0)
    json_object_set_new(cfg, "lora", kz_tft_lora_to_json(c));
  else
    json_object_del(cfg, "lora");
  json_object_del(root, "n_params");
  meta = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
  json_decref(root);
  if (!meta) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft lora");
  kz_nn_model *m = NULL;
  const kz_tft_model *b = (const kz_tft_model *)base;
  kz_status st = kz_nn_model_from_meta(meta, b->base.device, &m);
  free(meta);
  /* the base tensors come first in both blocks */
  const kz_tft_lora *bl = kz_tft_net_lora(b->net);
  const int64_t n_base = bl ? bl->base_params : b->base.info.n_params;
  float *host = NULL;
  if (st == KZ_OK) st = kz_nn_params_host(&b->base, &host);
  if (st == KZ_OK) {
    kz_stream *s = kz_tft_net_stream(((kz_tft_model *)m)->net);
    const float *p = host ? host : (const float *)b->base.params.data;
    st = kz_copy_to_device(s, kz_nn_base(m)->params.data, p, (size_t)n_base * sizeof(float));
    if (st == KZ_OK) st = kz_stream_sync(s);
  }
  free(host);
  if (st != KZ_OK) {
    if (m) kz_nn_base(m)->ops->destroy(m);
    return st;
  }
  *out = m;
  return KZ_OK;
}

kz_status kz_tft_lora_import_peft(const kz_nn_model *base, const char *dir, kz_nn_model **out,
                                  char *note, size_t cap) {
  *out = NULL;
  if (strcmp(kz_nn_base_c(base)->ops->type, "tft"))
    return kz_fail(KZ_ERR_INVALID_ARG, "lora: not a TFT model");
  if (kz_tft_has_lora(base))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "lora: the base model has adapters of its own; load the adapter onto a model "
                   "without them");
  const kz_tft_model *bm = (const kz_tft_model *)base;
  char cfg_path[4200], st_path[4200], base_name[1024];
  snprintf(cfg_path, sizeof cfg_path, "%s/adapter_config.json", dir);
  snprintf(st_path, sizeof st_path, "%s/adapter_model.safetensors", dir);
  struct kz_tft_lora_cfg c;
  KZ_TRY(read_config(cfg_path, &c, base_name, sizeof base_name));
  kz_safetensors *sf = NULL;
  KZ_TRY(kz_safetensors_open(st_path, &sf));
  const int64_t count = kz_safetensors_count(sf);
  const size_t np = strlen(PREFIX);
  const kz_tft_names *bn = kz_tft_net_names(bm->net);
  kz_status st = KZ_OK;
  for (int64_t i = 0; st == KZ_OK && i < count; i++) {
    const char *key = kz_safetensors_tensor_at(sf, i)->name;
    const char *name = key + np;
    int g;
    if (strncmp(key, PREFIX, np))
      st = kz_fail(KZ_ERR_FORMAT, "%s: tensor %s does not start with %s", st_path, key, PREFIX);
    else if ((g = adapter_group(name)) >= 0)
      c.targets |= 1u << g;
    else if (strstr(name, "lora_"))
      st = kz_fail(KZ_ERR_UNSUPPORTED, "%s: %s is not an adapter kaizen can place on a TFT",
                   st_path, key);
    else if (name_index(bn, name) < 0)
      st = kz_fail(KZ_ERR_INVALID_ARG, "%s: %s names no tensor of the base model", st_path, key);
    else
      c.train_head |= !strcmp(name, "head.w") || !strcmp(name, "head.b");
  }
  if (st == KZ_OK && !c.targets)
    st = kz_fail(KZ_ERR_FORMAT, "%s: holds no lora_A / lora_B tensor", st_path);
  kz_nn_model *m = NULL;
  if (st == KZ_OK) st = rebuild(base, &c, &m);
  kz_tft_model *a = (kz_tft_model *)m;
  const kz_tft_names *nm = m ? kz_tft_net_names(a->net) : NULL;
  int *seen = m ? calloc((size_t)nm->n + 1, sizeof(int)) : NULL;
  if (st == KZ_OK && !seen) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "lora import");
  float *buf = NULL;
  int loaded = 0;
  for (int64_t i = 0; st == KZ_OK && i < count; i++) {
    const kz_safetensors_tensor *t = kz_safetensors_tensor_at(sf, i);
    const int j = name_index(nm, t->name + np);
    if (j < 0 || t->numel != nm->count[j]) {
      st = kz_fail(KZ_ERR_INVALID_ARG, "%s: %s holds %lld values, the model's %s %lld", st_path,
                   t->name, (long long)t->numel, t->name + np,
                   (long long)(j >= 0 ? nm->count[j] : -1));
      break;
    }
    float *nb = realloc(buf, (size_t)(t->numel > 0 ? t->numel : 1) * sizeof(float));
    if (!nb) {
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "lora import");
      break;
    }
    buf = nb;
    st = kz_safetensors_read_f32(sf, i, buf, t->numel);
    if (st == KZ_OK)
      st =
          kz_copy_to_device(kz_tft_net_stream(a->net), (float *)a->base.params.data + nm->offset[j],
                            buf, (size_t)t->numel * sizeof(float));
    seen[j] = 1;
    loaded += st == KZ_OK;
  }
  free(buf);
  if (st == KZ_OK) st = kz_stream_sync(kz_tft_net_stream(a->net));
  /* every adapter of the groups present: a missing one would run as zero */
  for (int j = 0; st == KZ_OK && j < nm->n; j++)
    if (strstr(nm->name[j], ".lora_") && !seen[j])
      st = kz_fail(KZ_ERR_FORMAT, "%s: %s%s is missing (the others of its group are there)",
                   st_path, PREFIX, nm->name[j]);
  free(seen);
  const char *want = kz_safetensors_metadata_get(sf, FP_KEY);
  char have[FP_LEN] = "";
  if (st == KZ_OK) st = fingerprint(a, have);
  if (st == KZ_OK && want && strcmp(want, have))
    st = kz_fail(KZ_ERR_INVALID_ARG,
                 "lora: the adapter %s was trained on the base model %s%s%swith fingerprint %s; "
                 "this base model's is %s (a different base)",
                 dir, base_name[0] ? "'" : "", base_name, base_name[0] ? "' " : "", want, have);
  if (st == KZ_OK && note)
    snprintf(note, cap,
             "adapter %s: %d tensors (%d adapters, r %lld, scale %.6g), base fingerprint %s%s", dir,
             loaded, kz_tft_net_lora(a->net)->n, (long long)c.r, kz_tft_lora_scale(&c), have,
             want ? " (matches)" : " (the file records none)");
  kz_safetensors_close(sf);
  if (st != KZ_OK) {
    if (m) kz_nn_base(m)->ops->destroy(m);
    return st;
  }
  *out = m;
  return KZ_OK;
}

kz_status kz_tft_lora_strip(kz_nn_model *model, kz_nn_model **out) {
  *out = NULL;
  KZ_TRY(kz_tft_lora_merge_model(model, 0)); /* bit for bit the base again */
  struct kz_tft_lora_cfg none;
  memset(&none, 0, sizeof none);
  return rebuild(model, &none, out);
}
