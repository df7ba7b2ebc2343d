/* The linear model's meta JSON (the "meta" of its .kzm files and
 * checkpoints, docs/FORMATS.md) and the model rebuilt from it. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/linear/linear_internal.h"

static json_t *str_array(char **v, int64_t n) {
  json_t *a = json_array();
  for (int64_t i = 0; a && i < n; ++i) json_array_append_new(a, json_string(v[i]));
  return a;
}

kz_status kz_linear_meta_json(const kz_nn_model *mm, char **out) {
  const kz_linear *m = (const kz_linear *)mm;
  json_t *o = json_object();
  json_t *mean = json_array(), *std = json_array(), *card = json_array();
  if (!o || !mean || !std || !card) {
    json_decref(o), json_decref(mean), json_decref(std), json_decref(card);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "linear model: out of memory");
  }
  for (int64_t j = 0; j < m->tab.n_num; ++j) {
    json_array_append_new(mean, json_real(m->mean[j]));
    json_array_append_new(std, json_real(m->std[j]));
  }
  for (int64_t j = 0; j < m->tab.n_cat; ++j)
    json_array_append_new(card, json_integer(m->tab.cat_card[j]));
  json_object_set_new(o, "type", json_string("linear"));
  json_object_set_new(o, "task",
                      json_string(m->tab.classification ? "classification" : "regression"));
  json_object_set_new(o, "n_out", json_integer(m->tab.n_out));
  json_object_set_new(o, "output_names", str_array(m->names, m->tab.n_out));
  json_object_set_new(o, "label", json_string(m->label_name ? m->label_name : ""));
  json_object_set_new(o, "field_numeric", json_integer(m->tab.f_num));
  json_object_set_new(o, "field_categorical", json_integer(m->tab.f_cat));
  json_object_set_new(o, "field_label", json_integer(m->tab.f_label));
  json_object_set_new(o, "numeric_names", str_array(m->num_names, m->tab.n_num));
  json_object_set_new(o, "numeric_mean", mean);
  json_object_set_new(o, "numeric_std", std);
  json_object_set_new(o, "categorical_names", str_array(m->cat_names, m->tab.n_cat));
  json_object_set_new(o, "categorical_cardinality", card);
  json_object_set_new(o, "label_mean", json_real(m->tab.label_mean));
  json_object_set_new(o, "label_std", json_real(m->tab.label_std));
  /* Sorted keys and full-precision reals: the same model gives the same bytes. */
  char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
  json_decref(o);
  if (!s) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "linear model: out of memory");
  *out = s;
  return KZ_OK;
}

static kz_status meta_strings(json_t *o, const char *key, int64_t n, char ***out) {
  json_t *a = json_object_get(o, key);
  if (!json_is_array(a) || (int64_t)json_array_size(a) != n)
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: '%s' must be an array of %lld strings", key,
                   (long long)n);
  char **v = calloc((size_t)n + 1, sizeof *v);
  if (!v) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  *out = v;
  for (int64_t i = 0; i < n; ++i) {
    const char *s = json_string_value(json_array_get(a, (size_t)i));
    if (!s)
      return kz_fail(KZ_ERR_FORMAT, "linear model meta: '%s'[%lld] is not a string", key,
                     (long long)i);
    v[i] = strdup(s);
    if (!v[i]) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  return KZ_OK;
}

static kz_status meta_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: '%s' must be an integer in [%lld, %lld]", key,
                   (long long)lo, (long long)hi);
  *out = json_integer_value(v);
  return KZ_OK;
}

static kz_status meta_doubles(json_t *o, const char *key, int64_t n, double *out) {
  json_t *a = json_object_get(o, key);
  if (!json_is_array(a) || (int64_t)json_array_size(a) != n)
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: '%s' must be an array of %lld numbers", key,
                   (long long)n);
  for (int64_t i = 0; i < n; ++i) {
    json_t *v = json_array_get(a, (size_t)i);
    if (!json_is_number(v))
      return kz_fail(KZ_ERR_FORMAT, "linear model meta: '%s'[%lld] is not a number", key,
                     (long long)i);
    out[i] = json_number_value(v);
  }
  return KZ_OK;
}

static kz_status from_json(kz_linear *m, json_t *o, kz_device device, int64_t want_params,
                           int allocate) {
  const char *type = json_string_value(json_object_get(o, "type"));
  const char *task = json_string_value(json_object_get(o, "task"));
  if (!type || strcmp(type, "linear") != 0)
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: type is not \"linear\"");
  if (!task || (strcmp(task, "classification") && strcmp(task, "regression")))
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: task must be classification or regression");
  m->tab.classification = !strcmp(task, "classification");
  int64_t v = -1;
  KZ_TRY(meta_int(o, "n_out", 1, 1 << 20, &m->tab.n_out));
  KZ_TRY(meta_int(o, "field_numeric", -1, 1 << 10, &v));
  m->tab.f_num = (int)v;
  KZ_TRY(meta_int(o, "field_categorical", -1, 1 << 10, &v));
  m->tab.f_cat = (int)v;
  KZ_TRY(meta_int(o, "field_label", -1, 1 << 10, &v));
  m->tab.f_label = (int)v;
  KZ_TRY(meta_strings(o, "output_names", m->tab.n_out, &m->names));
  const char *label = json_string_value(json_object_get(o, "label"));
  m->label_name = strdup(label ? label : "");
  if (!m->label_name) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  json_t *nn = json_object_get(o, "numeric_names");
  json_t *cn = json_object_get(o, "categorical_names");
  m->tab.n_num = json_is_array(nn) ? (int64_t)json_array_size(nn) : 0;
  m->tab.n_cat = json_is_array(cn) ? (int64_t)json_array_size(cn) : 0;
  KZ_TRY(meta_strings(o, "numeric_names", m->tab.n_num, &m->num_names));
  KZ_TRY(meta_strings(o, "categorical_names", m->tab.n_cat, &m->cat_names));
  m->mean = calloc((size_t)m->tab.n_num + 1, sizeof *m->mean);
  m->std = calloc((size_t)m->tab.n_num + 1, sizeof *m->std);
  m->tab.cat_card = calloc((size_t)m->tab.n_cat + 1, sizeof *m->tab.cat_card);
  double *card = calloc((size_t)m->tab.n_cat + 1, sizeof *card);
  if (!m->mean || !m->std || !m->tab.cat_card || !card) {
    free(card);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  kz_status st = meta_doubles(o, "numeric_mean", m->tab.n_num, m->mean);
  if (st == KZ_OK) st = meta_doubles(o, "numeric_std", m->tab.n_num, m->std);
  if (st == KZ_OK) st = meta_doubles(o, "categorical_cardinality", m->tab.n_cat, card);
  for (int64_t j = 0; st == KZ_OK && j < m->tab.n_cat; ++j) {
    if (card[j] < 0 || card[j] > (1 << 24))
      st = kz_fail(KZ_ERR_FORMAT, "linear model meta: bad categorical cardinality");
    m->tab.cat_card[j] = (int32_t)card[j];
  }
  free(card);
  KZ_TRY(st);
  for (int64_t j = 0; j < m->tab.n_num; ++j)
    if (!(isfinite(m->mean[j]) && isfinite(m->std[j]) && m->std[j] > 0))
      return kz_fail(KZ_ERR_FORMAT,
                     "linear model meta: numeric_mean[%lld] / numeric_std[%lld] must be finite, "
                     "std > 0",
                     (long long)j, (long long)j);
  json_t *lm = json_object_get(o, "label_mean"), *ls = json_object_get(o, "label_std");
  if (!json_is_number(lm) || !json_is_number(ls) || !isfinite(json_number_value(lm)) ||
      !isfinite(json_number_value(ls)) || !(json_number_value(ls) > 0))
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: label_mean / label_std missing or invalid");
  m->tab.label_mean = json_number_value(lm);
  m->tab.label_std = json_number_value(ls);
  return kz_linear_finish_layout(m, device, want_params, allocate);
}

kz_status kz_linear_from_meta(const char *meta_json, kz_device device, int64_t want_params,
                              kz_nn_model **out) {
  if (out) *out = NULL;
  json_error_t err;
  json_t *o = json_loads(meta_json, JSON_REJECT_DUPLICATES, &err);
  if (!json_is_object(o)) {
    json_decref(o);
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: not a JSON object (%s)", err.text);
  }
  kz_linear *m = calloc(1, sizeof *m);
  kz_status st = m ? from_json(m, o, device, want_params, out != NULL)
                   : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  json_decref(o);
  if (st != KZ_OK || !out) {
    kz_linear_free(m);
    return st;
  }
  *out = (kz_nn_model *)m;
  return KZ_OK;
}
