/* MLP meta JSON (config, schema positions, feature and label statistics,
 * class names), kz_mlp_from_meta and save. Statistics are doubles written
 * with 17 significant digits, so from_meta rebuilds a bit-identical model. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/meta_read.h"
#include "models/mlp/mlp_internal.h"
#include "models/nn_file.h"

static const char *const act_names[] = {"relu", "gelu"};
static const char *const init_names[] = {"he", "xavier"};

static json_t *build_meta(const kz_mlp *m) {
  json_t *root = json_object(), *cfg = json_object(), *hidden = json_array();
  json_t *fields = json_object(), *num = json_array(), *cat = json_array(), *label = json_object();
  for (int l = 0; l < m->n_hidden; l++) json_array_append_new(hidden, json_integer(m->hidden[l]));
  json_object_set_new(cfg, "hidden", hidden);
  json_object_set_new(cfg, "activation", json_string(act_names[m->activation]));
  json_object_set_new(cfg, "dropout", json_real(m->dropout));
  json_object_set_new(cfg, "embedding_dim",
                      m->embedding_dim_cfg > 0 ? json_integer(m->embedding_dim_cfg)
                                               : json_string("auto"));
  json_object_set_new(
      cfg, "task", json_string(m->task == KZ_MLP_CLASSIFICATION ? "classification" : "regression"));
  json_object_set_new(cfg, "init", json_string(init_names[m->init]));

  json_object_set_new(fields, "count", json_integer(m->n_fields));
  json_object_set_new(fields, "numeric", json_integer(m->tab.f_num));
  json_object_set_new(fields, "categorical", json_integer(m->tab.f_cat));
  json_object_set_new(fields, "label", json_integer(m->tab.f_label));

  for (int64_t i = 0; i < m->tab.n_num; i++) {
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(m->num_names[i]));
    json_object_set_new(c, "mean", json_real(m->num_mean[i]));
    json_object_set_new(c, "std", json_real(m->num_std[i]));
    json_object_set_new(c, "missing_indicator", json_boolean(m->miss_index[i] >= 0));
    json_array_append_new(num, c);
  }
  for (int64_t j = 0; j < m->tab.n_cat; j++) {
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(m->cat_names[j]));
    json_object_set_new(c, "categories", json_integer(m->tab.cat_card[j]));
    json_object_set_new(c, "dim", json_integer(m->cat_dim[j]));
    json_array_append_new(cat, c);
  }
  json_object_set_new(label, "name", json_string(m->label_name));
  json_object_set_new(label, "mean", json_real(m->tab.label_mean));
  json_object_set_new(label, "std", json_real(m->tab.label_std));
  json_t *classes = json_array();
  for (int k = 0; k < m->n_classes; k++)
    json_array_append_new(classes, json_string(m->class_names[k]));
  json_object_set_new(label, "classes", classes);

  json_object_set_new(root, "type", json_string("mlp"));
  json_object_set_new(root, "version", json_integer(1));
  json_object_set_new(root, "config", cfg);
  json_object_set_new(root, "fields", fields);
  json_object_set_new(root, "numeric", num);
  json_object_set_new(root, "categorical", cat);
  json_object_set_new(root, "label", label);
  json_object_set_new(root, "n_params", json_integer(m->base.info.n_params));
  /* Prediction column names (kaizen predict): the classes, or the label. */
  json_t *outputs = json_array();
  if (m->n_classes > 0)
    for (int k = 0; k < m->n_classes; k++)
      json_array_append_new(outputs, json_string(m->class_names[k]));
  else
    json_array_append_new(outputs, json_string(m->label_name));
  json_object_set_new(root, "output_names", outputs);
  return root;
}

kz_status kz_mlp_meta_json(const kz_nn_model *model, char **out) {
  json_t *root = build_meta((const kz_mlp *)model);
  *out = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(root);
  return *out ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: meta json");
}

kz_status kz_mlp_save(const kz_nn_model *model, const char *path) {
  return kz_nn_model_save(model, path); /* meta, load-back check, parameters: one path */
}

/* ---- from_meta ---------------------------------------------------------- */

static const char *const who = "mlp";

static kz_status bad(const char *what) {
  return kz_meta_bad(who, what);
}
static kz_status pick(json_t *o, const char *key, const char *const *names, int n, int *out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_string(v)) return bad(key);
  for (int i = 0; i < n; i++)
    if (strcmp(json_string_value(v), names[i]) == 0) return (*out = i), KZ_OK;
  return kz_fail(KZ_ERR_FORMAT, "mlp meta: unknown %s '%s'", key, json_string_value(v));
}

static kz_status meta_keys(json_t *root) {
  static const char *const top[] = {"type",         "version",      "config", "fields",
                                    "numeric",      "categorical",  "label",  "n_params",
                                    "output_names", "input_schema", NULL};
  static const char *const cfg[] = {"hidden", "activation", "dropout", "embedding_dim",
                                    "task",   "init",       NULL};
  static const char *const fields[] = {"count", "numeric", "categorical", "label", NULL};
  static const char *const num[] = {"name", "mean", "std", "missing_indicator", NULL};
  static const char *const cat[] = {"name", "categories", "dim", NULL};
  static const char *const label[] = {"name", "mean", "std", "classes", NULL};
  KZ_TRY(kz_meta_known_keys(who, root, "", top));
  json_t *o;
  if (json_is_object(o = json_object_get(root, "config")))
    KZ_TRY(kz_meta_known_keys(who, o, "config", cfg));
  if (json_is_object(o = json_object_get(root, "fields")))
    KZ_TRY(kz_meta_known_keys(who, o, "fields", fields));
  if (json_is_object(o = json_object_get(root, "label")))
    KZ_TRY(kz_meta_known_keys(who, o, "label", label));
  const char *arrays[] = {"numeric", "categorical"};
  for (int a = 0; a < 2; ++a) {
    json_t *arr = json_object_get(root, arrays[a]);
    for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr); ++i) {
      char where[48];
      snprintf(where, sizeof where, "%s[%zu]", arrays[a], i);
      json_t *item = json_array_get(arr, i);
      if (json_is_object(item)) KZ_TRY(kz_meta_known_keys(who, item, where, a ? cat : num));
    }
  }
  return KZ_OK;
}

static kz_status parse_meta(kz_mlp *m, json_t *root) {
  KZ_TRY(meta_keys(root));
  json_t *cfg = json_object_get(root, "config"), *fields = json_object_get(root, "fields");
  json_t *num = json_object_get(root, "numeric"), *cat = json_object_get(root, "categorical");
  json_t *label = json_object_get(root, "label");
  if (!json_is_object(cfg)) return bad("config");
  if (!json_is_object(fields)) return bad("fields");
  if (!json_is_array(num)) return bad("numeric");
  if (!json_is_array(cat)) return bad("categorical");
  if (!json_is_object(label)) return bad("label");

  json_t *hidden = json_object_get(cfg, "hidden");
  if (!json_is_array(hidden) || json_array_size(hidden) >= KZ_MLP_MAX_LAYERS)
    return bad("config.hidden");
  m->n_hidden = (int)json_array_size(hidden);
  for (int l = 0; l < m->n_hidden; l++) {
    json_t *v = json_array_get(hidden, (size_t)l);
    /* the bound create puts on a config */
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (1 << 20))
      return kz_fail(KZ_ERR_FORMAT, "mlp meta: config.hidden[%d] must be an integer in [1, %d]", l,
                     1 << 20);
    m->hidden[l] = json_integer_value(v);
  }
  int act = 0, init = 0, task = 0;
  static const char *const tasks[] = {"classification", "regression"};
  KZ_TRY(pick(cfg, "activation", act_names, 2, &act));
  KZ_TRY(pick(cfg, "init", init_names, 2, &init));
  KZ_TRY(pick(cfg, "task", tasks, 2, &task));
  m->activation = (kz_mlp_activation)act;
  m->init = (kz_mlp_init)init;
  m->task = (kz_mlp_task)task;
  KZ_TRY(kz_meta_real(who, cfg, "dropout", &m->dropout));
  /* the range create accepts */
  if (!(m->dropout >= 0 && m->dropout <= 0.95))
    return kz_fail(KZ_ERR_FORMAT, "mlp meta: config.dropout = %g is outside [0, 0.95]", m->dropout);
  json_t *ed = json_object_get(cfg, "embedding_dim");
  m->embedding_dim_cfg = json_is_integer(ed) ? (int)json_integer_value(ed) : 0;

  int64_t v = 0;
  KZ_TRY(kz_meta_int(who, fields, "count", 1, 64, &v));
  m->n_fields = (int)v;
  KZ_TRY(kz_meta_int(who, fields, "numeric", -1, m->n_fields - 1, &v));
  m->tab.f_num = (int)v;
  KZ_TRY(kz_meta_int(who, fields, "categorical", -1, m->n_fields - 1, &v));
  m->tab.f_cat = (int)v;
  KZ_TRY(kz_meta_int(who, fields, "label", 0, m->n_fields - 1, &v));
  m->tab.f_label = (int)v;

  m->tab.n_num = (int64_t)json_array_size(num);
  m->tab.n_cat = (int64_t)json_array_size(cat);
  size_t nn = (size_t)(m->tab.n_num ? m->tab.n_num : 1),
         nc = (size_t)(m->tab.n_cat ? m->tab.n_cat : 1);
  m->num_names = calloc(nn, sizeof(char *));
  m->num_mean = calloc(nn, sizeof(double));
  m->num_std = calloc(nn, sizeof(double));
  m->miss_index = calloc(nn, sizeof(int));
  m->cat_names = calloc(nc, sizeof(char *));
  m->tab.cat_card = calloc(nc, sizeof(int32_t));
  m->cat_dim = calloc(nc, sizeof(int64_t));
  if (!m->num_names || !m->num_mean || !m->num_std || !m->miss_index || !m->cat_names ||
      !m->tab.cat_card || !m->cat_dim)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp meta");
  for (int64_t i = 0; i < m->tab.n_num; i++) {
    json_t *c = json_array_get(num, (size_t)i);
    KZ_TRY(kz_meta_str(who, c, "name", &m->num_names[i]));
    KZ_TRY(kz_meta_real(who, c, "mean", &m->num_mean[i]));
    KZ_TRY(kz_meta_real(who, c, "std", &m->num_std[i]));
    /* create writes std 1 for a constant column: 0, negative or non-finite
     * statistics only come from an edited file, and would turn every
     * prediction into NaN */
    if (!isfinite(m->num_mean[i]) || !(isfinite(m->num_std[i]) && m->num_std[i] > 0))
      return kz_fail(KZ_ERR_FORMAT,
                     "mlp meta: numeric[%lld]: mean %g and std %g must be finite, std > 0",
                     (long long)i, m->num_mean[i], m->num_std[i]);
    json_t *mi = json_object_get(c, "missing_indicator");
    if (!json_is_boolean(mi)) return bad("numeric[].missing_indicator");
    m->miss_index[i] = json_is_true(mi) ? (int)m->n_miss++ : -1;
  }
  for (int64_t j = 0; j < m->tab.n_cat; j++) {
    json_t *c = json_array_get(cat, (size_t)j);
    KZ_TRY(kz_meta_str(who, c, "name", &m->cat_names[j]));
    KZ_TRY(kz_meta_int(who, c, "categories", 0, INT32_MAX - 1, &v));
    m->tab.cat_card[j] = (int32_t)v;
    KZ_TRY(kz_meta_int(who, c, "dim", 1, 1 << 20, &m->cat_dim[j]));
  }
  KZ_TRY(kz_meta_str(who, label, "name", &m->label_name));
  KZ_TRY(kz_meta_real(who, label, "mean", &m->tab.label_mean));
  KZ_TRY(kz_meta_real(who, label, "std", &m->tab.label_std));
  if (!isfinite(m->tab.label_mean) || !(isfinite(m->tab.label_std) && m->tab.label_std > 0))
    return kz_fail(KZ_ERR_FORMAT, "mlp meta: label: mean %g and std %g must be finite, std > 0",
                   m->tab.label_mean, m->tab.label_std);
  json_t *classes = json_object_get(label, "classes");
  if (!json_is_array(classes)) return bad("label.classes");
  if (m->task == KZ_MLP_CLASSIFICATION) {
    if (json_array_size(classes) < 2) return bad("label.classes");
    int32_t n = 0;
    kz_status st =
        kz_meta_strings(who, classes, "label.classes", "label.classes[]", &m->class_names, &n);
    m->n_classes = (int)n;
    KZ_TRY(st);
  }
  return KZ_OK;
}

static kz_status build(void *m, json_t *root, kz_device device, int64_t want_params, int allocate) {
  KZ_TRY(parse_meta(m, root));
  return kz_mlp_finish_layout(m, device, want_params, allocate);
}

static void free_model(void *m) {
  kz_mlp_free(m);
}

kz_status kz_mlp_from_meta(const char *meta_json, kz_device device, int64_t want_params,
                           kz_nn_model **out) {
  return kz_meta_load(who, meta_json, 1, sizeof(kz_mlp), build, free_model, device, want_params,
                      out);
}
