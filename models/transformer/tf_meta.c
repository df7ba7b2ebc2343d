/* Transformer meta JSON (config, special ids, field positions, classes),
 * kz_transformer_from_meta and save. Unknown keys are refused, so an edited
 * or misspelt key never loads as a default. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/meta_read.h"
#include "models/transformer/tf_internal.h"

static json_t *build_meta(const kz_tf *m) {
  json_t *root = json_object(), *cfg = json_object(), *sp = json_object(), *fields = json_object(),
         *outputs = json_array(), *classes = json_array();
  json_object_set_new(cfg, "task", json_string(kz_tf_task_names[m->task]));
  json_object_set_new(cfg, "layers", json_integer(m->layers));
  json_object_set_new(cfg, "hidden", json_integer(m->hidden));
  json_object_set_new(cfg, "heads", json_integer(m->heads));
  json_object_set_new(cfg, "ffn", json_integer(m->ffn));
  json_object_set_new(cfg, "max_len", json_integer(m->max_len));
  json_object_set_new(cfg, "vocab", json_integer(m->vocab));
  json_object_set_new(cfg, "type_vocab", json_integer(m->type_vocab));
  json_object_set_new(cfg, "dropout", json_real(m->dropout));
  json_object_set_new(cfg, "attention_dropout", json_real(m->attn_dropout));
  json_object_set_new(cfg, "init_std", json_real(m->init_std));
  json_object_set_new(cfg, "layernorm_eps", json_real(m->ln_eps));
  json_object_set_new(cfg, "mask_prob", json_real(m->mask_prob));
  json_object_set_new(sp, "pad", json_integer(m->sp.pad));
  json_object_set_new(sp, "unk", json_integer(m->sp.unk));
  json_object_set_new(sp, "cls", json_integer(m->sp.cls));
  json_object_set_new(sp, "sep", json_integer(m->sp.sep));
  json_object_set_new(sp, "mask", json_integer(m->sp.mask));
  json_object_set_new(fields, "count", json_integer(m->n_fields));
  json_object_set_new(fields, "input_ids", json_integer(m->f_ids));
  json_object_set_new(fields, "length", json_integer(m->f_len));
  json_object_set_new(fields, "token_type_ids", json_integer(m->f_types));
  json_object_set_new(fields, "label", json_integer(m->f_label));
  json_object_set_new(fields, "token_labels", json_integer(m->f_tok));
  json_object_set_new(fields, "answer_start", json_integer(m->f_astart));
  json_object_set_new(fields, "answer_end", json_integer(m->f_aend));
  json_object_set_new(fields, "width", json_integer(m->data_len));
  for (int k = 0; k < m->n_classes; k++)
    json_array_append_new(classes, json_string(m->class_names[k]));
  switch (m->task) {
  case TF_MLM:
    json_array_append_new(outputs, json_string("mlm_loss"));
    break;
  case TF_CLS:
    for (int k = 0; k < m->n_classes; k++)
      json_array_append_new(outputs, json_string(m->class_names[k]));
    break;
  case TF_TOKCLS:
    for (int64_t t = 0; t < m->data_len; t++) {
      char name[32];
      snprintf(name, sizeof name, "label_%lld", (long long)t);
      json_array_append_new(outputs, json_string(name));
    }
    break;
  case TF_QA:
    json_array_append_new(outputs, json_string("answer_start"));
    json_array_append_new(outputs, json_string("answer_end"));
    break;
  }
  json_object_set_new(root, "type", json_string("transformer"));
  json_object_set_new(root, "version", json_integer(1));
  json_object_set_new(root, "config", cfg);
  json_object_set_new(root, "special_ids", sp);
  json_object_set_new(root, "fields", fields);
  json_object_set_new(root, "label_name", m->label_name ? json_string(m->label_name) : json_null());
  json_object_set_new(root, "classes", classes);
  json_object_set_new(root, "n_params", json_integer(m->base.info.n_params));
  json_object_set_new(root, "output_names", outputs);
  if (m->lora.enabled) json_object_set_new(root, "lora", kz_tf_lora_to_json(m));
  if (m->tokenizer) json_object_set_new(root, "tokenizer", json_deep_copy(m->tokenizer));
  return root;
}

kz_status kz_tf_meta_json(const kz_nn_model *model, char **out) {
  json_t *root = build_meta((const kz_tf *)model);
  *out = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(root);
  return *out ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: meta json");
}

kz_status kz_tf_save(const kz_nn_model *model, const char *path) {
  return kz_nn_model_save(model, path);
}

/* ---- from_meta ---------------------------------------------------------- */

static const char *const who = "transformer";

static kz_status bad(const char *what) {
  return kz_meta_bad(who, what);
}

static kz_status get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out) {
  return kz_meta_int(who, o, key, lo, hi, out);
}

static kz_status get_real(json_t *o, const char *key, double lo, double hi, double *out) {
  return kz_meta_real_in(who, o, key, lo, hi, out);
}

static kz_status known_keys(json_t *o, const char *where, const char *const *keys) {
  return kz_meta_known_keys(who, o, where, keys);
}

static kz_status field(json_t *fields, const char *key, int n, int *out) {
  int64_t v = 0;
  KZ_TRY(get_int(fields, key, -1, n - 1, &v));
  *out = (int)v;
  return KZ_OK;
}

static kz_status parse_meta(kz_tf *m, json_t *root) {
  static const char *const top[] = {
      "type",     "version",      "config",       "special_ids", "fields", "label_name", "classes",
      "n_params", "output_names", "input_schema", "tokenizer",   "lora",   NULL};
  static const char *const cfgk[] = {
      "task",     "layers",        "hidden",     "heads",   "ffn",
      "max_len",  "vocab",         "type_vocab", "dropout", "attention_dropout",
      "init_std", "layernorm_eps", "mask_prob",  NULL};
  static const char *const spk[] = {"pad", "unk", "cls", "sep", "mask", NULL};
  static const char *const fk[] = {
      "count",        "input_ids",    "length",     "token_type_ids", "label",
      "token_labels", "answer_start", "answer_end", "width",          NULL};
  KZ_TRY(known_keys(root, "", top));
  json_t *cfg = json_object_get(root, "config"), *sp = json_object_get(root, "special_ids");
  json_t *fields = json_object_get(root, "fields"), *classes = json_object_get(root, "classes");
  if (!json_is_object(cfg)) return bad("config");
  if (!json_is_object(sp)) return bad("special_ids");
  if (!json_is_object(fields)) return bad("fields");
  if (!json_is_array(classes)) return bad("classes");
  KZ_TRY(known_keys(cfg, "config", cfgk));
  KZ_TRY(known_keys(sp, "special_ids", spk));
  KZ_TRY(known_keys(fields, "fields", fk));
  json_t *task = json_object_get(cfg, "task");
  if (!json_is_string(task)) return bad("config.task");
  int t = -1;
  for (int i = 0; kz_tf_task_names[i]; i++)
    if (!strcmp(kz_tf_task_names[i], json_string_value(task))) t = i;
  if (t < 0)
    return kz_fail(KZ_ERR_FORMAT, "transformer meta: unknown task '%s'", json_string_value(task));
  m->task = (tf_task)t;
  KZ_TRY(get_int(cfg, "layers", 1, KZ_TF_MAX_LAYERS, &m->layers));
  KZ_TRY(get_int(cfg, "hidden", 1, 1 << 16, &m->hidden));
  KZ_TRY(get_int(cfg, "heads", 1, 1 << 10, &m->heads));
  KZ_TRY(get_int(cfg, "ffn", 1, 1 << 18, &m->ffn));
  KZ_TRY(get_int(cfg, "max_len", 2, 1 << 16, &m->max_len));
  KZ_TRY(get_int(cfg, "vocab", 5, 1 << 24, &m->vocab));
  KZ_TRY(get_int(cfg, "type_vocab", 1, 1024, &m->type_vocab));
  KZ_TRY(get_real(cfg, "dropout", 0, 0.95, &m->dropout));
  KZ_TRY(get_real(cfg, "attention_dropout", 0, 0.95, &m->attn_dropout));
  KZ_TRY(get_real(cfg, "init_std", 0, 10, &m->init_std));
  KZ_TRY(get_real(cfg, "layernorm_eps", 0, 1, &m->ln_eps));
  KZ_TRY(get_real(cfg, "mask_prob", 0, 1, &m->mask_prob));
  int64_t v = 0;
  int32_t *ids[5] = {&m->sp.pad, &m->sp.unk, &m->sp.cls, &m->sp.sep, &m->sp.mask};
  for (int i = 0; i < 5; i++) {
    KZ_TRY(get_int(sp, spk[i], -1, m->vocab - 1, &v));
    *ids[i] = (int32_t)v;
  }
  KZ_TRY(get_int(fields, "count", 1, 64, &v));
  m->n_fields = (int)v;
  KZ_TRY(field(fields, "input_ids", m->n_fields, &m->f_ids));
  KZ_TRY(field(fields, "length", m->n_fields, &m->f_len));
  KZ_TRY(field(fields, "token_type_ids", m->n_fields, &m->f_types));
  KZ_TRY(field(fields, "label", m->n_fields, &m->f_label));
  KZ_TRY(field(fields, "token_labels", m->n_fields, &m->f_tok));
  KZ_TRY(field(fields, "answer_start", m->n_fields, &m->f_astart));
  KZ_TRY(field(fields, "answer_end", m->n_fields, &m->f_aend));
  KZ_TRY(get_int(fields, "width", 1, m->max_len, &m->data_len));
  if (m->f_ids < 0 || m->f_len < 0) return bad("fields.input_ids / fields.length");
  json_t *tok = json_object_get(root, "tokenizer");
  if (tok) { /* optional: older models carry no vocabulary */
    KZ_TRY(kz_tf_tokenizer_check(tok, m->vocab));
    m->tokenizer = json_incref(tok);
  }
  json_t *ln = json_object_get(root, "label_name");
  if (json_is_string(ln) && !(m->label_name = kz_meta_dup(json_string_value(ln))))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer meta");
  int32_t nc = 0;
  kz_status st = kz_meta_strings(who, classes, "classes", "classes[]", &m->class_names, &nc);
  m->n_classes = (int)nc;
  json_t *lora = json_object_get(root, "lora");
  if (st == KZ_OK && lora) st = kz_tf_lora_from_json(m, lora);
  return st;
}

static kz_status build(void *m, json_t *root, kz_device device, int64_t want_params, int allocate) {
  KZ_TRY(parse_meta(m, root));
  return kz_tf_finish_layout(m, device, want_params, allocate);
}

static void free_model(void *m) {
  kz_tf_free(m);
}

kz_status kz_transformer_from_meta(const char *meta_json, kz_device device, int64_t want_params,
                                   kz_nn_model **out) {
  return kz_meta_load(who, meta_json, 0, sizeof(kz_tf), build, free_model, device, want_params,
                      out);
}
