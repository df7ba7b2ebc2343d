/* TFT meta JSON (config, columns with their statistics, series names with
 * their target scaling) and kz_tft_from_meta. Doubles are written with 17
 * significant digits, so a loaded model scales exactly as the saved one. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/meta_read.h"
#include "models/tft/tft_lora.h"
#include "models/tft/tft_model.h"

static json_t *num_cols(char *const *names, const double *mean, const double *std, int n) {
  json_t *a = json_array();
  for (int i = 0; i < n; i++) {
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(names[i]));
    json_object_set_new(c, "mean", json_real(mean[i]));
    json_object_set_new(c, "std", json_real(std[i]));
    json_array_append_new(a, c);
  }
  return a;
}

static json_t *strings(char *const *s, int32_t n) {
  json_t *a = json_array();
  for (int32_t i = 0; i < n; i++) json_array_append_new(a, json_string(s[i]));
  return a;
}

static json_t *reals(const double *v, int64_t n) {
  json_t *a = json_array();
  for (int64_t i = 0; i < n; i++) json_array_append_new(a, json_real(v[i]));
  return a;
}

kz_status kz_tft_meta_json(const kz_nn_model *model, char **out) {
  const kz_tft_model *m = (const kz_tft_model *)model;
  const kz_tft_dims *dm = &m->dm;
  json_t *root = json_object(), *cfg = json_object(), *cols = json_object(), *ser = json_object();
  json_object_set_new(cfg, "hidden", json_integer(dm->d));
  json_object_set_new(cfg, "heads", json_integer(dm->heads));
  json_object_set_new(cfg, "encoder_length", json_integer(dm->k));
  json_object_set_new(cfg, "horizon", json_integer(dm->tau));
  json_object_set_new(cfg, "stride", json_integer(m->stride));
  json_object_set_new(cfg, "season", json_integer(m->season));
  json_object_set_new(cfg, "series_embedding", json_boolean(m->series_embedding));
  json_object_set_new(cfg, "relative_time", json_boolean(m->relative_time));
  json_object_set_new(cfg, "sort_quantiles", json_boolean(m->sort_quantiles));
  json_object_set_new(cfg, "scaling", json_string(m->window_scaling ? "window" : "series"));
  json_object_set_new(cfg, "transform", json_string(m->log_target ? "log" : "none"));
  json_object_set_new(cfg, "quantiles", reals(dm->quantiles, dm->n_quantiles));
  if (dm->lora.r > 0) json_object_set_new(cfg, "lora", kz_tft_lora_to_json(&dm->lora));
  json_object_set_new(cols, "static_num", num_cols(m->snum, m->snum_mean, m->snum_std, m->n_snum));
  json_t *sc = json_array();
  for (int i = 0; i < m->n_scat; i++) {
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(m->scat[i]));
    json_object_set_new(c, "categories", strings(m->scat_names[i], m->scat_card[i]));
    json_array_append_new(sc, c);
  }
  json_object_set_new(cols, "static_cat", sc);
  for (int part = 0; part < 2; part++) { /* observed_cat, known_cat */
    json_t *a = json_array();
    const int i0 = part ? m->n_ocat : 0, i1 = part ? m->n_ocat + m->n_kcat : m->n_ocat;
    for (int i = i0; i < i1; i++) {
      json_t *c = json_object();
      json_object_set_new(c, "name", json_string(m->tvc[i]));
      json_object_set_new(c, "categories", strings(m->tvc_names[i], m->tvc_card[i]));
      json_array_append_new(a, c);
    }
    json_object_set_new(cols, part ? "known_cat" : "observed_cat", a);
  }
  json_object_set_new(cols, "known",
                      num_cols(m->known, m->known_mean, m->known_std, m->n_known_cols));
  json_object_set_new(cols, "observed", num_cols(m->obs, m->obs_mean, m->obs_std, m->n_obs));
  char *cal_names[4];
  for (int c = 0; c < m->n_cal; c++) cal_names[c] = (char *)kz_tft_cal_names[m->cal[c]];
  json_object_set_new(cols, "calendar",
                      num_cols(cal_names, m->known_mean + m->n_known_cols,
                               m->known_std + m->n_known_cols, m->n_cal));
  json_t *cy = json_array();
  for (int c = 0; c < m->n_cyc; c++) json_array_append_new(cy, json_integer(m->cyc[c]));
  json_object_set_new(cfg, "cycles", cy);
  json_t *lg = json_array();
  for (int i = 0; i < m->n_lags; i++) json_array_append_new(lg, json_integer(m->lags[i]));
  json_object_set_new(cfg, "lags", lg);
  char *cyc_names[2 * KZ_TFT_MAX_CYCLES];
  for (int c = 0; c < 2 * m->n_cyc; c++) cyc_names[c] = (char *)m->cyc_names[c];
  const int off = m->n_known_cols + m->n_cal;
  json_object_set_new(cols, "cycles",
                      num_cols(cyc_names, m->known_mean + off, m->known_std + off, 2 * m->n_cyc));
  json_object_set_new(ser, "column", json_string(m->series_field_name));
  json_object_set_new(ser, "names", strings(m->series_names, m->n_series));
  json_object_set_new(ser, "mean", reals(m->y_mean, m->n_series));
  json_object_set_new(ser, "std", reals(m->y_std, m->n_series));
  json_object_set_new(ser, "mean_all", json_real(m->y_mean_all));
  json_object_set_new(ser, "std_all", json_real(m->y_std_all));
  json_object_set_new(root, "type", json_string("tft"));
  json_object_set_new(root, "version", json_integer(1));
  json_object_set_new(root, "config", cfg);
  json_object_set_new(root, "columns", cols);
  json_object_set_new(root, "series", ser);
  json_object_set_new(root, "time_step", json_real(m->time_step));
  json_object_set_new(root, "n_params", json_integer(m->base.info.n_params));
  json_t *outs = json_array();
  for (int64_t i = 0; i < dm->tau; i++)
    for (int64_t q = 0; q < dm->n_quantiles; q++) {
      char name[64];
      snprintf(name, sizeof name, "t%lld_p%g", (long long)(i + 1), 100.0 * dm->quantiles[q]);
      json_array_append_new(outs, json_string(name));
    }
  json_object_set_new(root, "output_names", outs);
  *out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
  json_decref(root);
  return *out ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: meta json");
}

/* ---- from_meta ----------------------------------------------------------------------- */

static const char *const who = "tft";

static kz_status bad(const char *what) {
  return kz_meta_bad(who, what);
}

static kz_status get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out) {
  return kz_meta_int(who, o, key, lo, hi, out);
}

static kz_status get_real(json_t *o, const char *key, double *out) {
  return kz_meta_real(who, o, key, out);
}

static kz_status get_strings(json_t *a, const char *what, char ***out, int32_t *n) {
  return kz_meta_strings(who, a, what, what, out, n);
}

static kz_status get_num_cols(json_t *a, const char *what, char **names, double *mean, double *std,
                              int *n) {
  if (!json_is_array(a) || json_array_size(a) > KZ_TFT_MAX_COLS) return bad(what);
  *n = (int)json_array_size(a);
  for (int i = 0; i < *n; i++) {
    json_t *c = json_array_get(a, (size_t)i), *nm = json_object_get(c, "name");
    if (!json_is_string(nm) || !(names[i] = kz_meta_dup(json_string_value(nm)))) return bad(what);
    KZ_TRY(get_real(c, "mean", &mean[i]));
    KZ_TRY(get_real(c, "std", &std[i]));
    if (!(std[i] > 0)) return kz_fail(KZ_ERR_FORMAT, "tft meta: %s[%d].std must be > 0", what, i);
  }
  return KZ_OK;
}

static kz_status parse(kz_tft_model *m, json_t *root) {
  json_t *cfg = json_object_get(root, "config"), *cols = json_object_get(root, "columns");
  json_t *ser = json_object_get(root, "series");
  if (!json_is_object(cfg)) return bad("config");
  if (!json_is_object(cols)) return bad("columns");
  if (!json_is_object(ser)) return bad("series");
  kz_tft_dims *dm = &m->dm;
  KZ_TRY(get_int(cfg, "hidden", 1, 4096, &dm->d));
  KZ_TRY(get_int(cfg, "heads", 1, 64, &dm->heads));
  if (dm->d % dm->heads) return kz_fail(KZ_ERR_FORMAT, "tft meta: heads do not divide hidden");
  KZ_TRY(get_int(cfg, "encoder_length", 1, 100000, &dm->k));
  KZ_TRY(get_int(cfg, "horizon", 1, 100000, &dm->tau));
  KZ_TRY(get_int(cfg, "stride", 1, 100000, &m->stride));
  KZ_TRY(get_int(cfg, "season", 1, 100000, &m->season));
  json_t *b1 = json_object_get(cfg, "series_embedding"),
         *b2 = json_object_get(cfg, "relative_time");
  if (!json_is_boolean(b1)) return bad("config.series_embedding");
  if (!json_is_boolean(b2)) return bad("config.relative_time");
  m->series_embedding = json_is_true(b1);
  m->relative_time = json_is_true(b2);
  json_t *b3 = json_object_get(cfg, "sort_quantiles");
  if (!json_is_boolean(b3)) return bad("config.sort_quantiles");
  m->sort_quantiles = json_is_true(b3);
  json_t *q = json_object_get(cfg, "quantiles");
  if (!json_is_array(q) || json_array_size(q) < 1 || json_array_size(q) > KZ_TFT_MAX_QUANTILES)
    return bad("config.quantiles");
  dm->n_quantiles = (int64_t)json_array_size(q);
  for (int64_t i = 0; i < dm->n_quantiles; i++) {
    json_t *v = json_array_get(q, (size_t)i);
    if (!json_is_number(v) || !(json_number_value(v) > 0 && json_number_value(v) < 1))
      return bad("config.quantiles[]");
    dm->quantiles[i] = json_number_value(v);
  }
  json_t *lora = json_object_get(cfg, "lora"); /* model.lora's adapters; absent: none */
  if (lora) KZ_TRY(kz_tft_lora_from_json(lora, &dm->lora));
  KZ_TRY(get_num_cols(json_object_get(cols, "static_num"), "columns.static_num", m->snum,
                      m->snum_mean, m->snum_std, &m->n_snum));
  KZ_TRY(get_num_cols(json_object_get(cols, "known"), "columns.known", m->known, m->known_mean,
                      m->known_std, &m->n_known_cols));
  KZ_TRY(get_num_cols(json_object_get(cols, "observed"), "columns.observed", m->obs, m->obs_mean,
                      m->obs_std, &m->n_obs));
  char *cal_names[KZ_TFT_MAX_COLS] = {0};
  int ncal = 0;
  json_t *calj = json_object_get(cols, "calendar");
  if (!json_is_array(calj) || json_array_size(calj) > 4 ||
      m->n_known_cols + (int)json_array_size(calj) > KZ_TFT_MAX_COLS)
    return bad("columns.calendar");
  kz_status cst =
      get_num_cols(json_object_get(cols, "calendar"), "columns.calendar", cal_names,
                   m->known_mean + m->n_known_cols, m->known_std + m->n_known_cols, &ncal);
  for (int c = 0; cst == KZ_OK && c < ncal; c++) {
    int id = -1;
    for (int j = 0; kz_tft_cal_names[j]; j++)
      if (!strcmp(cal_names[c], kz_tft_cal_names[j])) id = j;
    if (id < 0 || c >= 4 || m->n_known_cols + ncal > KZ_TFT_MAX_COLS)
      cst = bad("columns.calendar[].name");
    else
      m->cal[m->n_cal++] = id;
  }
  for (int c = 0; c < KZ_TFT_MAX_COLS; c++) free(cal_names[c]);
  KZ_TRY(cst);
  /* scaling (absent in models saved before it: series) */
  json_t *sca = json_object_get(cfg, "scaling");
  if (sca && (!json_is_string(sca) || (strcmp(json_string_value(sca), "series") &&
                                       strcmp(json_string_value(sca), "window"))))
    return bad("config.scaling");
  m->window_scaling = sca && !strcmp(json_string_value(sca), "window");
  json_t *tra = json_object_get(cfg, "transform");
  if (tra && (!json_is_string(tra) ||
              (strcmp(json_string_value(tra), "none") && strcmp(json_string_value(tra), "log"))))
    return bad("config.transform");
  m->log_target = tra && !strcmp(json_string_value(tra), "log");
  /* cycles (absent in models saved before them: none) */
  json_t *cy = json_object_get(cfg, "cycles");
  if (cy) {
    if (!json_is_array(cy) || json_array_size(cy) > KZ_TFT_MAX_CYCLES) return bad("config.cycles");
    for (size_t i = 0; i < json_array_size(cy); i++) {
      json_t *v = json_array_get(cy, i);
      if (!json_is_integer(v) || json_integer_value(v) < 2) return bad("config.cycles[]");
      m->cyc[m->n_cyc++] = json_integer_value(v);
    }
  }
  json_t *lg = json_object_get(cfg, "lags"); /* absent before lags: none */
  if (lg) {
    if (!json_is_array(lg) || json_array_size(lg) > KZ_TFT_MAX_CYCLES) return bad("config.lags");
    for (size_t i = 0; i < json_array_size(lg); i++) {
      json_t *v = json_array_get(lg, i);
      if (!json_is_integer(v) || json_integer_value(v) < dm->tau) return bad("config.lags[]");
      m->lags[m->n_lags++] = json_integer_value(v);
    }
  }
  kz_tft_name_cycles(m);
  if (kz_tft_known_width(m) > KZ_TFT_MAX_COLS) return bad("config.cycles");
  if (m->n_cyc > 0) {
    char *cyc_names[KZ_TFT_MAX_COLS] = {0};
    int ncyc = 0;
    const int off = m->n_known_cols + m->n_cal;
    json_t *cc = json_object_get(cols, "cycles");
    cst = json_is_array(cc) && (int)json_array_size(cc) == 2 * m->n_cyc
              ? get_num_cols(cc, "columns.cycles", cyc_names, m->known_mean + off,
                             m->known_std + off, &ncyc)
              : bad("columns.cycles");
    for (int c = 0; c < KZ_TFT_MAX_COLS; c++) free(cyc_names[c]);
    KZ_TRY(cst);
  }
  json_t *sc = json_object_get(cols, "static_cat");
  if (!json_is_array(sc) || json_array_size(sc) > KZ_TFT_MAX_COLS - 1)
    return bad("columns.static_cat");
  m->n_scat = (int)json_array_size(sc);
  for (int i = 0; i < m->n_scat; i++) {
    json_t *c = json_array_get(sc, (size_t)i), *nm = json_object_get(c, "name");
    if (!json_is_string(nm) || !(m->scat[i] = kz_meta_dup(json_string_value(nm))))
      return bad("columns.static_cat[].name");
    KZ_TRY(get_strings(json_object_get(c, "categories"), "columns.static_cat[].categories",
                       &m->scat_names[i], &m->scat_card[i]));
  }
  for (int part = 0; part < 2; part++) { /* absent in models saved before them: none */
    json_t *a = json_object_get(cols, part ? "known_cat" : "observed_cat");
    if (!a) continue;
    const int base = m->n_ocat + m->n_kcat;
    if (!json_is_array(a) || base + (int)json_array_size(a) > KZ_TFT_MAX_COLS)
      return bad(part ? "columns.known_cat" : "columns.observed_cat");
    for (int i = 0; i < (int)json_array_size(a); i++) {
      json_t *c = json_array_get(a, (size_t)i), *nm = json_object_get(c, "name");
      if (!json_is_string(nm) || !(m->tvc[base + i] = kz_meta_dup(json_string_value(nm))))
        return bad("columns.*_cat[].name");
      KZ_TRY(get_strings(json_object_get(c, "categories"), "columns.*_cat[].categories",
                         &m->tvc_names[base + i], &m->tvc_card[base + i]));
      if (part)
        m->n_kcat++;
      else
        m->n_ocat++;
    }
  }
  json_t *col = json_object_get(ser, "column");
  if (!json_is_string(col) || !(m->series_field_name = kz_meta_dup(json_string_value(col))))
    return bad("series.column");
  KZ_TRY(
      get_strings(json_object_get(ser, "names"), "series.names", &m->series_names, &m->n_series));
  json_t *mean = json_object_get(ser, "mean"), *std = json_object_get(ser, "std");
  if (!json_is_array(mean) || (int32_t)json_array_size(mean) != m->n_series)
    return bad("series.mean");
  if (!json_is_array(std) || (int32_t)json_array_size(std) != m->n_series) return bad("series.std");
  m->y_mean = calloc((size_t)(m->n_series > 0 ? m->n_series : 1), sizeof(double));
  m->y_std = calloc((size_t)(m->n_series > 0 ? m->n_series : 1), sizeof(double));
  if (!m->y_mean || !m->y_std) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft meta");
  for (int32_t i = 0; i < m->n_series; i++) {
    json_t *a = json_array_get(mean, (size_t)i), *b = json_array_get(std, (size_t)i);
    if (!json_is_number(a) || !json_is_number(b) || !isfinite(json_number_value(a)) ||
        !(json_number_value(b) > 0))
      return bad("series.mean/std[]");
    m->y_mean[i] = json_number_value(a);
    m->y_std[i] = json_number_value(b);
  }
  KZ_TRY(get_real(ser, "mean_all", &m->y_mean_all));
  KZ_TRY(get_real(ser, "std_all", &m->y_std_all));
  if (!(m->y_std_all > 0)) return bad("series.std_all");
  return get_real(root, "time_step", &m->time_step);
}

static kz_status build(void *m, json_t *root, kz_device device, int64_t want_params, int allocate) {
  KZ_TRY(parse(m, root));
  return kz_tft_finish(m, device, want_params, allocate);
}

static void free_model(void *m) {
  kz_tft_free(m);
}

kz_status kz_tft_from_meta(const char *meta_json, kz_device device, int64_t want_params,
                           kz_nn_model **out) {
  return kz_meta_load(who, meta_json, 0, sizeof(kz_tft_model), build, free_model, device,
                      want_params, out);
}
