/* LoRA adapters as files (models/transformer/lora.h, docs/FORMATS.md
 * "LoRA adapters"): the base model's fingerprint, and the Hugging Face PEFT
 * layout both ways: adapter_config.json + adapter_model.safetensors with
 * base_model.model.<module>.lora_A.weight [r, in] / lora_B.weight [out, r]
 * and the trained head (PEFT's modules_to_save) and biases beside them. */
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
#include "models/transformer/lora.h"
#include "models/transformer/tf_internal.h"

static const char *const PREFIX = "base_model.model.";
static const char *const FP_KEY = "kaizen_base_fingerprint";

static int64_t numel_of(const tf_named *t) {
  return t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
}

/* A tensor the adapter holds: trainable (adapters, trained head, biases). */
static int in_adapter(const kz_tf *m, const tf_named *t) {
  return kz_nn_is_trainable(&m->base, t->offset, numel_of(t));
}

/* kz64 over (name, shape, floats) of every tensor the adapter does not
 * hold: the base weights it was trained against, whatever file they came
 * from (a Hugging Face directory or a kaizen model). */
static kz_status fingerprint(const kz_tf *m, char out[KZ_LORA_FINGERPRINT_LEN]) {
  float *host = NULL;
  KZ_TRY(kz_nn_params_host(&m->base, &host));
  const float *p = host ? host : (const float *)m->base.params.data;
  kz_hash64 h;
  kz_hash64_init(&h);
  for (int i = 0; i < m->n_named; i++) {
    const tf_named *t = &m->named[i];
    if (in_adapter(m, t)) continue;
    kz_hash64_update(&h, t->name, strlen(t->name) + 1);
    kz_hash64_update(&h, t->shape, sizeof t->shape);
    kz_hash64_update(&h, p + t->offset, (size_t)numel_of(t) * sizeof(float));
  }
  free(host);
  snprintf(out, KZ_LORA_FINGERPRINT_LEN, "kz64:%016" PRIx64, kz_hash64_final(&h));
  return KZ_OK;
}

kz_status kz_transformer_base_fingerprint(const kz_nn_model *model,
                                          char out[KZ_LORA_FINGERPRINT_LEN]) {
  const kz_tf *m = (const kz_tf *)model;
  if (strcmp(m->base.ops->type, "transformer") || !m->lora.enabled)
    return kz_fail(KZ_ERR_INVALID_ARG, "lora: the model has no LoRA adapters");
  if (m->lora_merged)
    return kz_fail(KZ_ERR_INVALID_ARG, "lora: unmerge the adapters before fingerprinting the base");
  return fingerprint(m, out);
}

/* ---- names ---------------------------------------------------------------- */

/* kaizen's tensor name -> the PEFT key. with_bert: the base is a
 * BertFor<Task> (the encoder and the pooler under "bert."), else BertModel. */
static void peft_key(const kz_tf *m, const char *name, int with_bert, char *out, size_t cap) {
  const int under_bert = !strncmp(name, "embeddings.", 11) || !strncmp(name, "encoder.", 8) ||
                         !strncmp(name, "pooler.", 7);
  /* the bias of an adapted Linear is its base_layer's in PEFT's modules */
  const size_t n = strlen(name);
  int wrapped = 0;
  for (int k = 0; m && k < TF_LORA_NMOD && n > 5 && !strcmp(name + n - 5, ".bias"); k++) {
    const size_t p = strlen(kz_tf_lora_module_path[k]);
    wrapped |= (m->lora.targets & (1u << k)) && n >= p + 5 &&
               !strncmp(name + n - 5 - p, kz_tf_lora_module_path[k], p) &&
               (n == p + 5 || name[n - 6 - p] == '.');
  }
  snprintf(out, cap, "%s%s%.*s%s", PREFIX, with_bert && under_bert ? "bert." : "",
           (int)(wrapped ? n - 5 : n), name, wrapped ? ".base_layer.bias" : "");
}

/* The PEFT key -> kaizen's name: the prefix required, "bert." and PEFT's
 * adapter name ("default") dropped. 0 when the key is not PEFT's. */
static int kz_name(const char *key, char *out, size_t cap) {
  size_t n = strlen(PREFIX);
  if (strncmp(key, PREFIX, n)) return 0;
  key += n;
  if (!strncmp(key, "bert.", 5)) key += 5;
  snprintf(out, cap, "%s", key);
  /* ".default" (an adapter's name), ".base_layer" (the wrapped Linear's
   * own weight and bias, saved with bias: lora_only / all) */
  static const char *const drop[] = {".default.", ".base_layer."};
  for (int i = 0; i < 2; i++) {
    char *d = strstr(out, drop[i]);
    size_t len = strlen(drop[i]) - 1;
    if (d) memmove(d, d + len, strlen(d + len) + 1);
  }
  return 1;
}

static const char *task_type(const kz_tf *m) {
  if (!m->lora.train_head) return "FEATURE_EXTRACTION";
  switch (m->task) {
  case TF_CLS:
    return "SEQ_CLS";
  case TF_TOKCLS:
    return "TOKEN_CLS";
  case TF_QA:
    return "QUESTION_ANS";
  default:
    return NULL; /* masked LM: PEFT has no task type for it */
  }
}

static json_t *modules_to_save(const kz_tf *m) {
  if (!m->lora.train_head) return json_null();
  switch (m->task) {
  case TF_CLS:
    return json_pack("[s, s]", "pooler", "classifier");
  case TF_TOKCLS:
    return json_pack("[s]", "classifier");
  case TF_QA:
    return json_pack("[s]", "qa_outputs");
  default:
    return json_pack("[s]", "cls");
  }
}

/* PEFT matches a list entry as a suffix of the module's name, so
 * "output.dense" would also take attention.output.dense: with the FFN
 * output among the targets the set is written as a full-match regex. */
static json_t *target_modules(const kz_tf *m) {
  const unsigned t = m->lora.targets;
  if (!(t & (1u << TF_LORA_FO))) {
    json_t *a = json_array();
    for (int k = 0; k < TF_LORA_NMOD; k++)
      if (t & (1u << k)) json_array_append_new(a, json_string(kz_tf_lora_target_name[k]));
    return a;
  }
  char re[512] = ".*encoder\\.layer\\.\\d+\\.(";
  for (int k = 0, first = 1; k < TF_LORA_NMOD; k++) {
    if (!(t & (1u << k))) continue;
    size_t at = strlen(re);
    if (!first) re[at++] = '|';
    first = 0;
    for (const char *p = kz_tf_lora_module_path[k]; *p && at + 3 < sizeof re; p++) {
      if (*p == '.') re[at++] = '\\';
      re[at++] = *p;
    }
    re[at] = 0;
  }
  strncat(re, ")", sizeof re - strlen(re) - 1);
  return json_string(re);
}

/* ---- export --------------------------------------------------------------- */

kz_status kz_transformer_lora_export_peft(const kz_nn_model *model, const char *dir,
                                          const char *base_name, int overwrite) {
  const kz_tf *m = (const kz_tf *)model;
  char fp[KZ_LORA_FINGERPRINT_LEN];
  KZ_TRY(kz_transformer_base_fingerprint(model, fp));
  struct stat sb;
  char cfg_path[4200], st_path[4200];
  snprintf(cfg_path, sizeof cfg_path, "%s/adapter_config.json", dir);
  snprintf(st_path, sizeof st_path, "%s/adapter_model.safetensors", dir);
  if (!overwrite && (stat(cfg_path, &sb) == 0 || stat(st_path, &sb) == 0))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s holds an adapter already; pass --overwrite to replace it", dir);
  int created = 0;
  KZ_TRY(kz_fs_ensure_dir(dir, &created));
  const tf_lora_cfg *c = &m->lora;
  const int with_bert = m->lora.train_head;
  json_t *cfg = json_object();
  json_object_set_new(cfg, "peft_type", json_string("LORA"));
  const char *tt = task_type(m);
  json_object_set_new(cfg, "task_type", tt ? json_string(tt) : json_null());
  json_object_set_new(cfg, "base_model_name_or_path", json_string(base_name ? base_name : ""));
  json_object_set_new(cfg, "r", json_integer(c->r));
  json_object_set_new(cfg, "lora_alpha", json_real(c->alpha));
  json_object_set_new(cfg, "lora_dropout", json_real(c->dropout));
  json_object_set_new(cfg, "use_rslora", json_boolean(c->rslora));
  json_object_set_new(cfg, "bias", json_string(kz_tf_lora_bias_names[c->bias]));
  json_object_set_new(cfg, "target_modules", target_modules(m));
  json_object_set_new(cfg, "modules_to_save", modules_to_save(m));
  json_object_set_new(cfg, "fan_in_fan_out", json_false());
  json_object_set_new(cfg, "init_lora_weights", json_true());
  json_object_set_new(cfg, "inference_mode", json_true());
  json_object_set_new(cfg, "use_dora", json_false());
  json_object_set_new(cfg, "layers_to_transform", json_null());
  json_object_set_new(cfg, "rank_pattern", json_object());
  json_object_set_new(cfg, "alpha_pattern", json_object());
  json_object_set_new(cfg, "revision", json_null());
  char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
  json_decref(cfg);
  if (!text) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "lora export");

  float *host = NULL;
  kz_status st = kz_nn_params_host(&m->base, &host);
  const float *p = host ? host : (const float *)m->base.params.data;
  kz_safetensors_writer *w = NULL;
  if (st == KZ_OK) st = kz_safetensors_writer_new(&w);
  char(*keys)[256] = calloc((size_t)m->n_named, sizeof *keys);
  if (st == KZ_OK && !keys) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "lora export");
  for (int i = 0; st == KZ_OK && i < m->n_named; i++) {
    const tf_named *t = &m->named[i];
    if (!in_adapter(m, t)) continue;
    peft_key(m, t->name, with_bert, keys[i], sizeof keys[i]);
    st = kz_safetensors_writer_add_f32(w, keys[i], t->ndim, t->shape, p + t->offset);
  }
  if (st == KZ_OK) st = kz_safetensors_writer_set_metadata(w, "format", "pt");
  if (st == KZ_OK) st = kz_safetensors_writer_set_metadata(w, FP_KEY, fp);
  if (st == KZ_OK) st = kz_safetensors_writer_write(w, st_path);
  if (st == KZ_OK) {
    size_t len = strlen(text);
    text[len] = '\n';
    st = kz_fs_write_atomic(cfg_path, text, len + 1);
  }
  kz_safetensors_writer_free(w);
  free(keys);
  free(host);
  free(text);
  return st;
}

/* ---- import --------------------------------------------------------------- */

static kz_status cfg_fail(const char *path, const char *what) {
  return kz_fail(KZ_ERR_FORMAT, "%s: %s", path, what);
}

/* adapter_config.json -> the lora part of tf_lora_cfg (targets come from the
 * tensors). PEFT features kaizen does not implement are refused. */
static kz_status read_config(const char *path, tf_lora_cfg *c, char *base_name, size_t cap) {
  json_error_t err;
  json_t *o = json_load_file(path, 0, &err);
  if (!o) return kz_fail(KZ_ERR_FORMAT, "%s: %s (line %d)", path, err.text, err.line);
  kz_status st = KZ_OK;
  json_t *pt = json_object_get(o, "peft_type"), *r = json_object_get(o, "r");
  json_t *a = json_object_get(o, "lora_alpha"), *d = json_object_get(o, "lora_dropout");
  json_t *b = json_object_get(o, "bias"), *rs = json_object_get(o, "use_rslora");
  memset(c, 0, sizeof *c);
  c->enabled = 1;
  json_t *bn = json_object_get(o, "base_model_name_or_path");
  snprintf(base_name, cap, "%s", json_is_string(bn) ? json_string_value(bn) : "");
  if (!json_is_string(pt) || strcmp(json_string_value(pt), "LORA"))
    st = cfg_fail(path, "peft_type is not \"LORA\"");
  else if (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > 4096)
    st = cfg_fail(path, "r must be an integer in [1, 4096]");
  else if (!json_is_number(a) || !(json_number_value(a) > 0))
    st = cfg_fail(path, "lora_alpha must be a positive number");
  else if (d && !json_is_null(d) &&
           (!json_is_number(d) || json_number_value(d) < 0 || json_number_value(d) > 0.95))
    st = cfg_fail(path, "lora_dropout must be in [0, 0.95]");
  else if (rs && !json_is_boolean(rs))
    st = cfg_fail(path, "use_rslora must be a boolean");
  if (st == KZ_OK) {
    c->r = json_integer_value(r);
    c->alpha = json_number_value(a);
    c->dropout = json_is_number(d) ? json_number_value(d) : 0.0;
    c->rslora = json_is_true(rs);
    c->bias = json_is_string(b) ? -1 : 0;
    for (int i = 0; json_is_string(b) && kz_tf_lora_bias_names[i]; i++)
      if (!strcmp(json_string_value(b), kz_tf_lora_bias_names[i])) c->bias = i;
    if (c->bias < 0) st = cfg_fail(path, "bias must be \"none\", \"all\" or \"lora_only\"");
  }
  /* what kaizen's adapters are not */
  static const char *const must_be_false[] = {"use_dora", "fan_in_fan_out", "use_qalora", NULL};
  for (int i = 0; st == KZ_OK && must_be_false[i]; i++)
    if (json_is_true(json_object_get(o, must_be_false[i])))
      st = kz_fail(KZ_ERR_UNSUPPORTED, "%s: %s is set, which kaizen's LoRA does not implement",
                   path, must_be_false[i]);
  static const char *const must_be_empty[] = {"rank_pattern", "alpha_pattern", NULL};
  for (int i = 0; st == KZ_OK && must_be_empty[i]; i++) {
    json_t *v = json_object_get(o, must_be_empty[i]);
    if (v && !json_is_null(v) && json_object_size(v) > 0)
      st = kz_fail(KZ_ERR_UNSUPPORTED, "%s: %s gives per-layer ranks or alphas, not supported",
                   path, must_be_empty[i]);
  }
  json_t *lt = json_object_get(o, "layers_to_transform");
  if (st == KZ_OK && lt && !json_is_null(lt))
    st = kz_fail(KZ_ERR_UNSUPPORTED, "%s: layers_to_transform is set (kaizen adapts every layer)",
                 path);
  json_decref(o);
  return st;
}

/* "encoder.layer.L.<module path>.lora_A.weight" -> (L, module, 0 A / 1 B) */
static int parse_lora_name(const char *name, int64_t *layer, int *k, int *which) {
  long long l = -1;
  int at = 0;
  if (sscanf(name, "encoder.layer.%lld.%n", &l, &at) != 1 || at == 0 || l < 0) return 0;
  const char *rest = name + at;
  for (int j = 0; j < TF_LORA_NMOD; j++) {
    size_t n = strlen(kz_tf_lora_module_path[j]);
    if (strncmp(rest, kz_tf_lora_module_path[j], n)) continue;
    if (!strcmp(rest + n, ".lora_A.weight") || !strcmp(rest + n, ".lora_B.weight")) {
      *layer = l, *k = j, *which = rest[n + 6] == 'B';
      return 1;
    }
  }
  return 0;
}

kz_status kz_transformer_lora_import_peft(const kz_nn_model *base_model, const char *dir,
                                          kz_nn_model **out, char *note, size_t cap) {
  *out = NULL;
  const kz_tf *base = (const kz_tf *)base_model;
  if (strcmp(base->base.ops->type, "transformer"))
    return kz_fail(KZ_ERR_INVALID_ARG, "lora: adapters apply to transformer models only");
  if (base->lora.enabled)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "lora: the base model has adapters of its own; load the adapter onto a model "
                   "without them");
  char cfg_path[4200], st_path[4200];
  snprintf(cfg_path, sizeof cfg_path, "%s/adapter_config.json", dir);
  snprintf(st_path, sizeof st_path, "%s/adapter_model.safetensors", dir);
  tf_lora_cfg lc;
  char base_name[1024];
  KZ_TRY(read_config(cfg_path, &lc, base_name, sizeof base_name));
  kz_safetensors *sf = NULL;
  KZ_TRY(kz_safetensors_open(st_path, &sf));
  /* the targets from the tensors present; anything else must be a tensor
   * of the base (a trained head or bias) */
  kz_status st = KZ_OK;
  int heads = 0;
  char name[512];
  const int64_t count = kz_safetensors_count(sf);
  for (int64_t i = 0; st == KZ_OK && i < count; i++) {
    const kz_safetensors_tensor *t = kz_safetensors_tensor_at(sf, i);
    int64_t l;
    int k, which;
    if (!kz_name(t->name, name, sizeof name))
      st = kz_fail(KZ_ERR_FORMAT, "%s: tensor %s does not start with %s", st_path, t->name, PREFIX);
    else if (parse_lora_name(name, &l, &k, &which)) {
      if (l >= base->layers)
        st = kz_fail(KZ_ERR_INVALID_ARG, "%s: %s is past the base model's %lld layers", st_path,
                     t->name, (long long)base->layers);
      lc.targets |= 1u << k;
    } else if (strstr(name, "lora_")) {
      st = kz_fail(KZ_ERR_UNSUPPORTED, "%s: %s is not an adapter kaizen can place", st_path,
                   t->name);
    } else if (kz_transformer_param_find(base_model, name) < 0) {
      st =
          kz_fail(KZ_ERR_INVALID_ARG, "%s: %s names no tensor of the base model", st_path, t->name);
    } else {
      const int is_head = strncmp(name, "embeddings.", 11) && strncmp(name, "encoder.", 8);
      heads += is_head;
    }
  }
  if (st == KZ_OK && !lc.targets)
    st = kz_fail(KZ_ERR_FORMAT, "%s: holds no lora_A / lora_B tensor", st_path);
  lc.train_head = heads > 0;
  /* the base's meta with the adapters added: the adapter model */
  char *meta = NULL;
  kz_nn_model *m = NULL;
  if (st == KZ_OK) st = kz_nn_model_meta(base_model, &meta);
  if (st == KZ_OK) {
    json_t *root = json_loads(meta, 0, NULL);
    kz_tf tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.lora = lc;
    json_object_set_new(root, "lora", kz_tf_lora_to_json(&tmp));
    json_object_del(root, "n_params"); /* the base's: the adapters add to it */
    free(meta);
    meta = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(root);
    st = meta ? kz_nn_model_from_meta(meta, base->base.device, &m)
              : kz_fail(KZ_ERR_OUT_OF_MEMORY, "lora import");
  }
  free(meta);
  int copied = 0, kept = 0;
  if (st == KZ_OK) st = kz_transformer_copy_matching(m, base_model, &copied, &kept);
  kz_tf *a = (kz_tf *)m;
  /* the file's tensors by name, shapes checked */
  float *buf = NULL;
  int loaded = 0;
  for (int64_t i = 0; st == KZ_OK && i < count; i++) {
    const kz_safetensors_tensor *t = kz_safetensors_tensor_at(sf, i);
    kz_name(t->name, name, sizeof name);
    int j = kz_transformer_param_find(m, name);
    const tf_named *n = j >= 0 ? &a->named[j] : NULL;
    if (!n || t->rank != n->ndim || t->shape[0] != n->shape[0] ||
        (n->ndim == 2 && t->shape[1] != n->shape[1])) {
      st = kz_fail(
          KZ_ERR_INVALID_ARG, "%s: %s has shape [%lld, %lld], the model's %s is [%lld, %lld]",
          st_path, t->name, (long long)t->shape[0], (long long)(t->rank > 1 ? t->shape[1] : 0),
          name, (long long)(n ? n->shape[0] : -1), (long long)(n && n->ndim > 1 ? n->shape[1] : 0));
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
      st = kz_copy_to_device(a->stream, (float *)a->base.params.data + n->offset, buf,
                             (size_t)t->numel * sizeof(float));
    loaded += st == KZ_OK;
  }
  free(buf);
  if (st == KZ_OK) st = kz_stream_sync(a->stream);
  /* every adapter present: an A without its B (or a layer left out) would
   * silently run as zero */
  int n_adapters = 0;
  for (int i = 0; st == KZ_OK && i < a->n_named; i++) {
    if (!a->named[i].lora) continue;
    n_adapters++;
    snprintf(name, sizeof name, "%s", a->named[i].name);
    char key[600];
    peft_key(NULL, name, 1, key, sizeof key);
    char key2[600];
    peft_key(NULL, name, 0, key2, sizeof key2);
    if (kz_safetensors_find(sf, key) < 0 && kz_safetensors_find(sf, key2) < 0) {
      char key3[640];
      char *dot = strstr(key2, ".weight");
      snprintf(key3, sizeof key3, "%.*s.default.weight", dot ? (int)(dot - key2) : 0, key2);
      if (kz_safetensors_find(sf, key3) < 0)
        st = kz_fail(KZ_ERR_FORMAT, "%s: %s is missing (the other layers have it)", st_path, name);
    }
  }
  /* the base the adapter was trained on, when the file says */
  const char *want = kz_safetensors_metadata_get(sf, FP_KEY);
  char have[KZ_LORA_FINGERPRINT_LEN] = "";
  if (st == KZ_OK) st = fingerprint(a, have);
  if (st == KZ_OK && want && strcmp(want, have))
    st = kz_fail(KZ_ERR_INVALID_ARG,
                 "lora: the adapter %s was trained on the base model %s%s%swith fingerprint %s; "
                 "this base model's is %s (a different base)",
                 dir, base_name[0] ? "'" : "", base_name, base_name[0] ? "' " : "", want, have);
  if (st == KZ_OK && note)
    snprintf(note, cap,
             "adapter %s: %d tensors (%d adapters, r %lld, scale %.6g), base fingerprint %s%s", dir,
             loaded, n_adapters / 2, (long long)lc.r, kz_tf_lora_scale(&lc), have,
             want ? " (matches)" : " (the file records none)");
  kz_safetensors_close(sf);
  if (st != KZ_OK) {
    if (m) kz_nn_base(m)->ops->destroy(m);
    return st;
  }
  *out = m;
  return KZ_OK;
}

/* ---- prediction with a chosen adapter -------------------------------------- */

int kz_transformer_has_lora(const kz_nn_model *model) {
  const kz_tf *m = (const kz_tf *)model;
  return model && !strcmp(m->base.ops->type, "transformer") && m->lora.enabled;
}

kz_status kz_transformer_lora_strip(const kz_nn_model *model, kz_nn_model **out) {
  *out = NULL;
  const kz_tf *m = (const kz_tf *)model;
  if (!kz_transformer_has_lora(model))
    return kz_fail(KZ_ERR_INVALID_ARG, "lora: the model has no LoRA adapters");
  if (m->lora_merged)
    return kz_fail(KZ_ERR_INVALID_ARG, "lora: unmerge the adapters before taking the base");
  char *meta = NULL;
  KZ_TRY(kz_nn_model_meta(model, &meta));
  json_t *root = json_loads(meta, 0, NULL);
  free(meta);
  if (!root) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "lora strip");
  json_object_del(root, "lora");
  json_object_del(root, "n_params");
  meta = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
  json_decref(root);
  kz_nn_model *b = NULL;
  kz_status st = meta ? kz_nn_model_from_meta(meta, m->base.device, &b)
                      : kz_fail(KZ_ERR_OUT_OF_MEMORY, "lora strip");
  free(meta);
  int copied = 0, kept = 0;
  if (st == KZ_OK) st = kz_transformer_copy_matching(b, model, &copied, &kept);
  if (st != KZ_OK) {
    if (b) kz_nn_base(b)->ops->destroy(b);
    return st;
  }
  *out = b;
  return KZ_OK;
}
