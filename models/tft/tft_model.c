/* kz_tft_create: the `model` section, the columns of the timeseries schema,
 * the training series (kept for row-anchored training windows) and their
 * statistics: per-series target mean and standard deviation, covariate
 * means and standard deviations over the training split. */
#include "models/tft/tft_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kernels/core/error.h"
#include "models/tft/tft_lora.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void tft_destroy(kz_nn_model *model) {
  kz_tft_free((kz_tft_model *)model);
}

static kz_status tft_init_params(kz_nn_model *model, uint64_t seed) {
  kz_tft_model *m = (kz_tft_model *)model;
  const int64_t n = m->base.info.n_params;
  const int on_host = m->base.device.kind == KZ_DEVICE_CPU;
  float *p = on_host ? (float *)m->base.params.data : malloc((size_t)(n > 0 ? n : 1) * 4);
  if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: init");
  kz_tft_init_host(&m->dm, p, seed);
  kz_tft_lora_init_host(kz_tft_net_lora(m->net), p, seed); /* model.lora: A random, B zero */
  m->seed = seed;
  if (on_host) return KZ_OK;
  kz_stream *s = kz_tft_net_stream(m->net);
  kz_status st = kz_copy_to_device(s, m->base.params.data, p, (size_t)n * 4);
  if (st == KZ_OK) st = kz_stream_sync(s);
  free(p);
  return st;
}

static kz_status tft_save(const kz_nn_model *model, const char *path) {
  return kz_nn_model_save(model, path);
}

const kz_nn_model_ops kz_tft_ops = {
    .type = "tft",
    .destroy = tft_destroy,
    .init_params = tft_init_params,
    .train_batch = kz_tft_train_batch,
    .eval_batch = kz_tft_eval_batch,
    .eval_finish = kz_tft_eval_finish,
    .predict_batch = kz_tft_predict_batch,
    .save = tft_save,
    .meta_json = kz_tft_meta_json,
    .eval_dataset = kz_tft_eval_dataset,
    .predict_dataset = kz_tft_predict_dataset,
    .loss_items = kz_tft_loss_items,
    .init_from_model = kz_tft_init_from_model,
    .train_source = kz_tft_train_source,
};

void kz_tft_free(kz_tft_model *m) {
  if (!m) return;
  kz_tft_net_destroy(m->net);
  kz_tft_store_free(&m->train);
  kz_tft_store_free(&m->old);
  free(m->old_path), free(m->train_path);
  kz_tft_batch_free(&m->hb);
  for (int i = 0; i < KZ_TFT_MAX_COLS; i++) {
    free(m->snum[i]), free(m->known[i]), free(m->obs[i]), free(m->scat[i]);
    for (int32_t j = 0; m->scat_names[i] && j < m->scat_card[i]; j++) free(m->scat_names[i][j]);
    free(m->scat_names[i]);
    free(m->tvc[i]);
    for (int32_t j = 0; m->tvc_names[i] && j < m->tvc_card[i]; j++) free(m->tvc_names[i][j]);
    free(m->tvc_names[i]);
  }
  for (int32_t j = 0; m->series_names && j < m->n_series; j++) free(m->series_names[j]);
  free(m->series_names);
  free(m->series_field_name);
  free(m->y_mean), free(m->y_std);
  free(m->base.input_schema);
  free(m);
}

/* The network and the trainer's view of it: parameter and gradient blocks
 * are the network's. */
kz_status kz_tft_finish(kz_tft_model *m, kz_device device, int64_t want_params, int allocate) {
  kz_tft_dims *dm = &m->dm;
  dm->n_static_real = m->n_snum;
  dm->n_static_cat = m->n_scat + (m->series_embedding ? 1 : 0);
  int c = 0;
  if (m->series_embedding) dm->static_card[c++] = m->n_series;
  for (int i = 0; i < m->n_scat; i++) dm->static_card[c++] = m->scat_card[i];
  dm->n_known = kz_tft_known_width(m) + m->n_lags + (m->relative_time ? 1 : 0);
  dm->n_observed = m->n_obs;
  dm->n_observed_cat = m->n_ocat;
  dm->n_known_cat = m->n_kcat;
  for (int i = 0; i < m->n_ocat + m->n_kcat; i++) dm->tv_card[i] = m->tvc_card[i];
  int64_t np = 0;
  KZ_TRY(kz_tft_layout(dm, NULL, NULL, device, NULL, &np, NULL));
  int64_t n_lora = 0;
  KZ_TRY(kz_tft_lora_numel(dm, &n_lora));
  np += n_lora;
  if (np > KZ_NN_MAX_PARAMS)
    return kz_fail(KZ_ERR_INVALID_ARG, "tft: %lld parameters is more than the limit",
                   (long long)np);
  if (want_params >= 0 && np != want_params)
    return kz_fail(KZ_ERR_FORMAT, "tft: the meta describes %lld parameters, the file holds %lld",
                   (long long)np, (long long)want_params);
  m->base.ops = dm->lora.r > 0 ? kz_tft_lora_ops() : &kz_tft_ops;
  m->base.device = device;
  m->base.info = (kz_nn_model_info){.task = "regression",
                                    .out_width = (int)(dm->tau * dm->n_quantiles),
                                    .primary_metric = "q_risk_p50",
                                    .primary_higher_is_better = 0,
                                    .n_params = np};
  /* forward + backward, per window: the GEMMs dominate; about 6 flops per
   * parameter per step of the window is the usual estimate */
  m->base.info.flops_per_row = 6.0 * (double)np * (double)(dm->k + dm->tau);
  if (!allocate) return KZ_OK;
  KZ_TRY(kz_tft_net_create(dm, device, &m->net));
  KZ_TRY(kz_tft_net_set_dropout(m->net, m->dropout));
  m->base.params = *kz_tft_net_params(m->net);
  m->base.grads = *kz_tft_net_grads(m->net);
  return kz_tft_lora_trainable(m); /* model.lora: only the adapters (and head, biases) train */
}

/* ---- config ---------------------------------------------------------------------- */

static kz_status pick_columns(const kz_cfg_node *cfg, const char *key, const kz_schema *s,
                              const char *field, char **out, int *n) {
  const char *want[KZ_TFT_MAX_COLS];
  int nw = 0, all = !kz_cfg_has(cfg, key);
  const int f = kz_schema_field_index(s, field);
  if (!all) KZ_TRY(kz_cfg_get_string_list(cfg, key, NULL, 0, KZ_TFT_MAX_COLS, want, &nw));
  *n = 0;
  if (all) {
    for (int c = 0; f >= 0 && c < s->fields[f].n_columns; c++) {
      if (*n == KZ_TFT_MAX_COLS)
        return kz_fail(KZ_ERR_INVALID_ARG, "tft: more than %d %s columns", KZ_TFT_MAX_COLS, field);
      if (!(out[(*n)++] = dup_str(s->fields[f].columns[c].name)))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: columns");
    }
    return KZ_OK;
  }
  for (int i = 0; i < nw; i++) {
    int found = 0;
    for (int c = 0; f >= 0 && c < s->fields[f].n_columns; c++)
      found |= !strcmp(s->fields[f].columns[c].name, want[i]);
    if (!found)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.%s: '%s' is not a %s column of the data set (field %s%s)", key, want[i],
                     key, field, f < 0 ? ", which it does not have" : "");
    if (!(out[(*n)++] = dup_str(want[i]))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: columns");
  }
  return KZ_OK;
}

/* model.known / model.observed: names from the numeric field or the
 * categorical one (default: every column of both); numeric ones to num,
 * categorical ones appended to m->tvc. */
static kz_status pick_split(kz_tft_model *m, const kz_cfg_node *cfg, const char *key,
                            const kz_schema *s, const char *fnum, const char *fcat, char **num,
                            int *n_num, int *n_cat) {
  const char *want[KZ_TFT_MAX_COLS];
  int nw = 0;
  const int fn = kz_schema_field_index(s, fnum), fc = kz_schema_field_index(s, fcat);
  const int base = m->n_ocat + m->n_kcat; /* n_cat is one of these two: count aside */
  int nc = 0;
  *n_num = 0;
  if (kz_cfg_has(cfg, key)) {
    KZ_TRY(kz_cfg_get_string_list(cfg, key, NULL, 0, KZ_TFT_MAX_COLS, want, &nw));
  } else {
    for (int c = 0; fn >= 0 && c < s->fields[fn].n_columns && nw < KZ_TFT_MAX_COLS; c++)
      want[nw++] = s->fields[fn].columns[c].name;
    for (int c = 0; fc >= 0 && c < s->fields[fc].n_columns && nw < KZ_TFT_MAX_COLS; c++)
      want[nw++] = s->fields[fc].columns[c].name;
  }
  for (int i = 0; i < nw; i++) {
    int where = 0;
    for (int c = 0; fn >= 0 && c < s->fields[fn].n_columns; c++)
      if (!strcmp(s->fields[fn].columns[c].name, want[i])) where = 1;
    for (int c = 0; fc >= 0 && c < s->fields[fc].n_columns; c++)
      if (!strcmp(s->fields[fc].columns[c].name, want[i])) where = 2;
    if (!where)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.%s: '%s' is not a %s column of the data set (fields %s, %s)", key,
                     want[i], key, fnum, fcat);
    if (where == 2 && base + nc >= KZ_TFT_MAX_COLS)
      return kz_fail(KZ_ERR_INVALID_ARG, "tft: more than %d categorical time-varying columns",
                     KZ_TFT_MAX_COLS);
    char **dst = where == 1 ? &num[(*n_num)++] : &m->tvc[base + nc++];
    if (!(*dst = dup_str(want[i]))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: columns");
  }
  *n_cat = nc;
  return KZ_OK;
}

static kz_status read_config(kz_tft_model *m, const kz_cfg_node *cfg, const kz_schema *s) {
  kz_tft_dims *dm = &m->dm;
  KZ_TRY(kz_cfg_get_int(cfg, "hidden", 16, 1, 4096, &dm->d));
  KZ_TRY(kz_cfg_get_int(cfg, "heads", 4, 1, 64, &dm->heads));
  if (dm->d % dm->heads)
    return kz_fail(KZ_ERR_INVALID_ARG, "model.heads: %lld does not divide model.hidden %lld",
                   (long long)dm->heads, (long long)dm->d);
  KZ_TRY(kz_cfg_get_int(cfg, "encoder_length", 24, 1, 100000, &dm->k));
  KZ_TRY(kz_cfg_get_int(cfg, "horizon", 6, 1, 100000, &dm->tau));
  KZ_TRY(kz_cfg_get_int(cfg, "stride", 1, 1, 100000, &m->stride));
  KZ_TRY(kz_cfg_get_int(cfg, "season", 1, 1, 100000, &m->season));
  KZ_TRY(kz_cfg_get_bool(cfg, "series_embedding", 1, &m->series_embedding));
  KZ_TRY(kz_cfg_get_bool(cfg, "relative_time", 1, &m->relative_time));
  KZ_TRY(kz_cfg_get_bool(cfg, "sort_quantiles", 0, &m->sort_quantiles));
  static const char *const scalings[] = {"series", "window", NULL};
  KZ_TRY(kz_cfg_get_enum(cfg, "scaling", scalings, 0, &m->window_scaling));
  KZ_TRY(kz_cfg_get_double(cfg, "dropout", 0.0, 0.0, 0.9, &m->dropout));
  static const char *const transforms[] = {"none", "log", NULL};
  KZ_TRY(kz_cfg_get_enum(cfg, "transform", transforms, 0, &m->log_target));
  static const char *const weights[] = {"none", "scale", NULL};
  KZ_TRY(kz_cfg_get_enum(cfg, "loss_weight", weights, 0, &m->loss_weight));
  KZ_TRY(kz_tft_lora_read_cfg(cfg, &dm->lora));
  const char *qs[KZ_TFT_MAX_QUANTILES];
  static const char *const def_q[] = {"0.1", "0.5", "0.9"};
  int nq = 0;
  KZ_TRY(kz_cfg_get_string_list(cfg, "quantiles", def_q, 3, KZ_TFT_MAX_QUANTILES, qs, &nq));
  dm->n_quantiles = nq;
  for (int i = 0; i < nq; i++) {
    char *end = NULL;
    double q = strtod(qs[i], &end);
    if (!end || *end || !(q > 0 && q < 1) || (i > 0 && q <= dm->quantiles[i - 1]))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.quantiles[%d]: '%s', expected increasing numbers in (0, 1)", i, qs[i]);
    dm->quantiles[i] = q;
  }
  KZ_TRY(pick_columns(cfg, "static", s, "static_num", m->snum, &m->n_snum));
  /* static: names may be numeric or categorical; the categorical ones are
   * picked from the same list */
  if (kz_cfg_has(cfg, "static")) {
    /* re-read: split the names between the two fields */
    for (int i = 0; i < m->n_snum; i++) free(m->snum[i]), m->snum[i] = NULL;
    m->n_snum = 0;
    const char *want[KZ_TFT_MAX_COLS];
    int nw = 0;
    KZ_TRY(kz_cfg_get_string_list(cfg, "static", NULL, 0, KZ_TFT_MAX_COLS, want, &nw));
    const int fn = kz_schema_field_index(s, "static_num"),
              fc = kz_schema_field_index(s, "static_cat");
    for (int i = 0; i < nw; i++) {
      int where = 0;
      for (int c = 0; fn >= 0 && c < s->fields[fn].n_columns; c++)
        if (!strcmp(s->fields[fn].columns[c].name, want[i])) where = 1;
      for (int c = 0; fc >= 0 && c < s->fields[fc].n_columns; c++)
        if (!strcmp(s->fields[fc].columns[c].name, want[i])) where = 2;
      if (!where)
        return kz_fail(KZ_ERR_INVALID_ARG,
                       "model.static: '%s' is not a static column of the data set (import it "
                       "with --static)",
                       want[i]);
      char **dst = where == 1 ? &m->snum[m->n_snum++] : &m->scat[m->n_scat++];
      if (!(*dst = dup_str(want[i]))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: columns");
    }
  } else {
    const int fc = kz_schema_field_index(s, "static_cat");
    for (int c = 0; fc >= 0 && c < s->fields[fc].n_columns; c++)
      if (!(m->scat[m->n_scat++] = dup_str(s->fields[fc].columns[c].name)))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: columns");
  }
  /* observed categoricals first (their codes come first in a window) */
  KZ_TRY(pick_split(m, cfg, "observed", s, "observed_num", "observed_cat", m->obs, &m->n_obs,
                    &m->n_ocat));
  KZ_TRY(pick_split(m, cfg, "known", s, "known_num", "known_cat", m->known, &m->n_known_cols,
                    &m->n_kcat));
  const char *cal[4];
  int ncal = 0;
  KZ_TRY(kz_cfg_get_string_list(cfg, "calendar", NULL, 0, 4, cal, &ncal));
  json_t *tf = s->meta ? json_object_get(s->meta, "time_format") : NULL;
  const char *fmt = json_is_string(tf) ? json_string_value(tf) : "number";
  if (ncal > 0 && strcmp(fmt, "date") && strcmp(fmt, "datetime"))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.calendar: the time column is a '%s'; calendar features need dates or "
                   "datetimes (docs/DATA.md, Time column)",
                   fmt);
  for (int i = 0; i < ncal; i++) {
    int id = -1;
    for (int j = 0; kz_tft_cal_names[j]; j++)
      if (!strcmp(cal[i], kz_tft_cal_names[j])) id = j;
    for (int j = 0; j < m->n_cal && id >= 0; j++)
      if (m->cal[j] == id) id = -2;
    if (id < 0)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.calendar[%d]: '%s' is %s (hour, day_of_week, month, year)", i, cal[i],
                     id == -2 ? "listed twice" : "not a calendar feature");
    m->cal[m->n_cal++] = id;
  }
  int64_t cyc[KZ_TFT_MAX_CYCLES];
  int ncyc = 0;
  KZ_TRY(kz_cfg_get_int_list(cfg, "cycles", NULL, 0, KZ_TFT_MAX_CYCLES, cyc, &ncyc));
  for (int i = 0; i < ncyc; i++) {
    if (cyc[i] < 2)
      return kz_fail(KZ_ERR_INVALID_ARG, "model.cycles[%d]: %lld, expected a period of >= 2 steps",
                     i, (long long)cyc[i]);
    m->cyc[m->n_cyc++] = cyc[i];
  }
  int64_t lags[KZ_TFT_MAX_CYCLES];
  int nlags = 0;
  KZ_TRY(kz_cfg_get_int_list(cfg, "lags", NULL, 0, KZ_TFT_MAX_CYCLES, lags, &nlags));
  for (int i = 0; i < nlags; i++) {
    if (lags[i] < dm->tau || lags[i] > 1000000)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.lags[%d]: %lld; a lag is a known input only from the horizon (%lld) "
                     "on: the decoder's lagged target must precede the forecast origin",
                     i, (long long)lags[i], (long long)dm->tau);
    m->lags[m->n_lags++] = lags[i];
  }
  kz_tft_name_cycles(m);
  if (kz_tft_known_width(m) > KZ_TFT_MAX_COLS)
    return kz_fail(KZ_ERR_INVALID_ARG, "tft: more than %d known inputs", KZ_TFT_MAX_COLS);
  return KZ_OK;
}

/* Dictionaries of the series id and the static categoricals. */
/* The category count and names of column `name` of schema field `field`
 * (static, observed or known categoricals), copied into the model. */
static kz_status category_names(const kz_schema *s, const char *field, const char *name,
                                const char *what, int32_t *card, char ***names) {
  const int f = kz_schema_field_index(s, field);
  const kz_column *col = NULL;
  for (int j = 0; f >= 0 && j < s->fields[f].n_columns; j++)
    if (!strcmp(s->fields[f].columns[j].name, name)) col = &s->fields[f].columns[j];
  if (!col) return kz_fail(KZ_ERR_INTERNAL, "tft: %s column %s", what, name);
  *card = col->n_categories;
  *names = calloc((size_t)(col->n_categories > 0 ? col->n_categories : 1), sizeof(char *));
  if (!*names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft");
  for (int32_t j = 0; j < col->n_categories; j++)
    if (!((*names)[j] = dup_str(col->categories[j]))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft");
  return KZ_OK;
}

static kz_status read_dictionaries(kz_tft_model *m, const kz_schema *s) {
  const int f = kz_schema_field_index(s, "series_id");
  const kz_column *c = &s->fields[f].columns[0];
  m->series_field_name = dup_str(c->name ? c->name : "series");
  m->n_series = c->n_categories;
  m->series_names = calloc((size_t)(m->n_series > 0 ? m->n_series : 1), sizeof(char *));
  if (!m->series_field_name || !m->series_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft");
  for (int32_t i = 0; i < m->n_series; i++)
    if (!(m->series_names[i] = dup_str(c->categories[i])))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft");
  for (int i = 0; i < m->n_scat; i++)
    KZ_TRY(
        category_names(s, "static_cat", m->scat[i], "static", &m->scat_card[i], &m->scat_names[i]));
  for (int i = 0; i < m->n_ocat + m->n_kcat; i++)
    KZ_TRY(category_names(s, i < m->n_ocat ? "observed_cat" : "known_cat", m->tvc[i], "categorical",
                          &m->tvc_card[i], &m->tvc_names[i]));
  return KZ_OK;
}

/* Mean and population standard deviation in double over non-missing values;
 * a constant (or empty) column gets std 1. */
typedef struct welford {
  double mean, m2;
  int64_t n;
} welford;
static void wf_add(welford *w, float v) {
  if (!isfinite(v)) return;
  double d = (double)v - w->mean;
  w->mean += d / (double)++w->n;
  w->m2 += d * ((double)v - w->mean);
}
static void wf_get(const welford *w, double *mean, double *std) {
  double sd = w->n > 0 ? sqrt(w->m2 / (double)w->n) : 0.0;
  *mean = w->n > 0 ? w->mean : 0.0;
  *std = sd > 1e-12 * (fabs(*mean) > 1 ? fabs(*mean) : 1) ? sd : 1.0;
}

static kz_status compute_stats(kz_tft_model *m, const char *where) {
  const kz_tft_store *st = &m->train;
  m->y_mean = calloc((size_t)(m->n_series > 0 ? m->n_series : 1), sizeof(double));
  m->y_std = calloc((size_t)(m->n_series > 0 ? m->n_series : 1), sizeof(double));
  if (!m->y_mean || !m->y_std) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: statistics");
  for (int32_t i = 0; i < m->n_series; i++) m->y_mean[i] = 0, m->y_std[i] = 1;
  welford all = {0}, sn[KZ_TFT_MAX_COLS] = {{0}}, kn[KZ_TFT_MAX_COLS] = {{0}},
          ob[KZ_TFT_MAX_COLS] = {{0}};
  const int64_t k = m->dm.k, tau = m->dm.tau;
  for (int64_t i = 0; i < st->n; i++) {
    const kz_tft_series *s = &st->s[i];
    welford ys = {0};
    for (int64_t t = 0; t < s->n; t++) {
      if (m->log_target && s->y[t] < 0)
        return kz_fail(KZ_ERR_INVALID_ARG,
                       "model.transform: log needs targets >= 0; series '%s' has %g at step %lld",
                       s->code >= 0 ? m->series_names[s->code] : "?", (double)s->y[t],
                       (long long)t);
      wf_add(&ys, (float)kz_tft_tr(m, s->y[t]));
      wf_add(&all, (float)kz_tft_tr(m, s->y[t]));
      const int nkw = kz_tft_known_width(m);
      for (int c = 0; c < nkw; c++) wf_add(&kn[c], s->known[t * nkw + c]);
      for (int c = 0; c < m->n_obs; c++) wf_add(&ob[c], s->obs[t * m->n_obs + c]);
    }
    for (int c = 0; c < m->n_snum; c++) wf_add(&sn[c], s->s_num[c]);
    if (s->code >= 0) wf_get(&ys, &m->y_mean[s->code], &m->y_std[s->code]);
  }
  m->train_windows = kz_tft_count_windows(m, st, &m->skipped_series);
  wf_get(&all, &m->y_mean_all, &m->y_std_all);
  kz_tft_set_mean_scale(m);
  for (int c = 0; c < m->n_snum; c++) wf_get(&sn[c], &m->snum_mean[c], &m->snum_std[c]);
  for (int c = 0; c < kz_tft_known_width(m); c++)
    wf_get(&kn[c], &m->known_mean[c], &m->known_std[c]);
  for (int c = 0; c < m->n_obs; c++) wf_get(&ob[c], &m->obs_mean[c], &m->obs_std[c]);
  if (m->skipped_series > 0)
    fprintf(stderr,
            "kaizen: note: tft: %lld of %lld series have fewer than encoder_length + horizon = "
            "%lld steps in the training split and are skipped\n",
            (long long)m->skipped_series, (long long)st->n, (long long)(k + tau));
  if (m->train_windows == 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "tft: %s: no training window: every series has fewer than encoder_length + "
                   "horizon = %lld steps in the training split (lower model.encoder_length or "
                   "model.horizon)",
                   where, (long long)(k + tau));
  return KZ_OK;
}

int64_t kz_tft_count_windows(const kz_tft_model *m, const kz_tft_store *st, int64_t *skipped) {
  const int64_t k = m->dm.k, tau = m->dm.tau;
  int64_t windows = 0, skip = 0;
  for (int64_t i = 0; i < st->n; i++) {
    const int64_t n = st->s[i].n_train;
    if (n < k + tau)
      skip++;
    else
      windows += (n - k - tau) / m->stride + 1;
  }
  if (skipped) *skipped = skip;
  return windows;
}

void kz_tft_set_mean_scale(kz_tft_model *m) {
  const kz_tft_store *st = &m->train;
  double ssum = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < st->n; i++)
    if (st->s[i].n_train >= m->dm.k + m->dm.tau) {
      double mean, sd;
      kz_tft_scale_of(m, &st->s[i], &mean, &sd);
      ssum += sd * (m->log_target ? exp(mean) : 1.0), n++;
    }
  m->mean_scale = n > 0 && ssum > 0 ? ssum / (double)n : 1.0;
}

kz_status kz_tft_create(const kz_cfg_node *cfg, kz_dataset *train, kz_device device,
                        kz_nn_model **out) {
  *out = NULL;
  const kz_schema *s = kz_dataset_schema(train);
  const char *where = kz_dataset_path(train);
  if (strcmp(s->kind, "timeseries") || kz_schema_field_index(s, "series_id") < 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "tft: %s: data set kind is '%s', need 'timeseries' (kaizen data import --kind "
                   "timeseries)",
                   where, s->kind);
  kz_tft_model *m = calloc(1, sizeof *m);
  if (!m) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: model");
  kz_status st = read_config(m, cfg, s);
  if (st == KZ_OK) st = read_dictionaries(m, s);
  json_t *step = s->meta ? json_object_get(s->meta, "time_step") : NULL;
  m->time_step =
      json_is_number(step) && json_number_value(step) > 0 ? json_number_value(step) : 1.0;
  if (st == KZ_OK) st = kz_tft_finish(m, device, -1, 0); /* dims for the store */
  if (st == KZ_OK && !(m->train_path = dup_str(where)))
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: model");
  if (st == KZ_OK) st = kz_tft_store_load(m, where, "train", &m->train);
  for (int64_t i = 0; st == KZ_OK && i < m->train.n; i++) m->train.s[i].n_train = m->train.s[i].n;
  if (st == KZ_OK) st = compute_stats(m, where);
  if (st == KZ_OK) st = kz_tft_finish(m, device, -1, 1);
  if (st != KZ_OK) {
    kz_tft_free(m);
    return st;
  }
  *out = (kz_nn_model *)m;
  return KZ_OK;
}
