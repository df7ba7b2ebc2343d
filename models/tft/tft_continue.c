/* Continuing a TFT (docs/MODELS.md, "Continuing a TFT"): train.init_from
 * (kz_tft_init_from_model) and train.continual's old data as a second set of
 * training series (kz_tft_train_source).
 *
 * init_from: the job's model m, created from its config and the new data,
 * becomes the file's model (src) continued on that data. What comes from
 * where, and why:
 *  - the architecture and the inputs are the file's: the job's model section
 *    and the columns it picks from the new data are compared with the file,
 *    key by key and column set by column set, and a difference is an error
 *    naming both (a network cannot take other inputs than it learnt);
 *  - the weights, the covariate statistics and the target scaling of every
 *    series the file knows are the file's: the network learnt in those
 *    units; re-scaling a known series from its new history would move every
 *    input and output of the series under the learnt weights (a step change
 *    at the first step, not a continuation), and replayed old windows would
 *    no longer look as they did;
 *  - the dictionaries (series, static and time-varying categories) are the
 *    file's, in its order, so every code keeps its meaning; categories of
 *    the new data that the file lacks are appended. A new series is scaled
 *    by its own history in the new training split (what a fresh model gives
 *    it; the file's all-series scaling would put a panel of series at
 *    different levels on one scale), and a new category's table row (a new
 *    series' embedding too) starts as a copy of the file's "unknown" row,
 *    the one the old model used for it;
 *  - training options (stride, season, sort_quantiles, dropout,
 *    loss_weight) are the job's;
 *  - a file with LoRA adapters gives its base tensors with the adapters
 *    folded in (what it computes with). A job with model.lora starts from its
 *    base instead (tft_lora_model.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/tft/tft_lora.h"
#include "models/tft/tft_model.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* "a, b, c" (or "none"), cut to cap. */
static void join(char *buf, size_t cap, char *const *names, int n) {
  buf[0] = 0;
  if (n == 0) snprintf(buf, cap, "none");
  for (int i = 0; i < n; i++) {
    size_t used = strlen(buf);
    snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
  }
}

/* ---- the job's model against the file's ---------------------------------------------- */

static kz_status differ(const char *key, const char *file, const char *job) {
  return kz_fail(KZ_ERR_INVALID_ARG,
                 "model.%s: the model has %s, the job %s; a continued model keeps its "
                 "architecture and inputs, so the job's model section must describe it",
                 key, file, job);
}

static kz_status same_int(const char *key, int64_t file, int64_t job) {
  if (file == job) return KZ_OK;
  char a[32], b[32];
  snprintf(a, sizeof a, "%lld", (long long)file);
  snprintf(b, sizeof b, "%lld", (long long)job);
  return differ(key, a, b);
}

static kz_status same_text(const char *key, const char *file, const char *job) {
  return strcmp(file, job) ? differ(key, file, job) : KZ_OK;
}

static void int_list(char *buf, size_t cap, const int64_t *v, int n) {
  buf[0] = 0;
  snprintf(buf, cap, "[");
  for (int i = 0; i < n; i++)
    snprintf(buf + strlen(buf), cap - strlen(buf), "%s%lld", i ? ", " : "", (long long)v[i]);
  snprintf(buf + strlen(buf), cap - strlen(buf), "]");
}

static kz_status same_config(const kz_tft_model *f, const kz_tft_model *j) {
  KZ_TRY(same_int("hidden", f->dm.d, j->dm.d));
  KZ_TRY(same_int("heads", f->dm.heads, j->dm.heads));
  KZ_TRY(same_int("encoder_length", f->dm.k, j->dm.k));
  KZ_TRY(same_int("horizon", f->dm.tau, j->dm.tau));
  char a[512], b[512];
  int same = f->dm.n_quantiles == j->dm.n_quantiles;
  for (int64_t q = 0; same && q < f->dm.n_quantiles; q++)
    same = f->dm.quantiles[q] == j->dm.quantiles[q];
  if (!same) {
    a[0] = b[0] = 0;
    for (int64_t q = 0; q < f->dm.n_quantiles; q++)
      snprintf(a + strlen(a), sizeof a - strlen(a), "%s%g", q ? ", " : "[", f->dm.quantiles[q]);
    for (int64_t q = 0; q < j->dm.n_quantiles; q++)
      snprintf(b + strlen(b), sizeof b - strlen(b), "%s%g", q ? ", " : "[", j->dm.quantiles[q]);
    snprintf(a + strlen(a), sizeof a - strlen(a), "]");
    snprintf(b + strlen(b), sizeof b - strlen(b), "]");
    return differ("quantiles", a, b);
  }
  static const char *const tf[] = {"false", "true"};
  KZ_TRY(same_text("series_embedding", tf[f->series_embedding], tf[j->series_embedding]));
  KZ_TRY(same_text("relative_time", tf[f->relative_time], tf[j->relative_time]));
  static const char *const sc[] = {"series", "window"}, *const tr[] = {"none", "log"};
  KZ_TRY(same_text("scaling", sc[f->window_scaling], sc[j->window_scaling]));
  KZ_TRY(same_text("transform", tr[f->log_target], tr[j->log_target]));
  int64_t cf[4] = {0}, cj[4] = {0};
  for (int i = 0; i < f->n_cal; i++) cf[i] = f->cal[i];
  for (int i = 0; i < j->n_cal; i++) cj[i] = j->cal[i];
  same = f->n_cal == j->n_cal && !memcmp(cf, cj, sizeof(int64_t) * (size_t)f->n_cal);
  if (!same) {
    char *nf[4], *nj[4];
    for (int i = 0; i < f->n_cal; i++) nf[i] = (char *)kz_tft_cal_names[f->cal[i]];
    for (int i = 0; i < j->n_cal; i++) nj[i] = (char *)kz_tft_cal_names[j->cal[i]];
    join(a, sizeof a, nf, f->n_cal);
    join(b, sizeof b, nj, j->n_cal);
    return differ("calendar", a, b);
  }
  if (f->n_cyc != j->n_cyc || memcmp(f->cyc, j->cyc, sizeof(int64_t) * (size_t)f->n_cyc)) {
    int_list(a, sizeof a, f->cyc, f->n_cyc);
    int_list(b, sizeof b, j->cyc, j->n_cyc);
    return differ("cycles", a, b);
  }
  if (f->n_lags != j->n_lags || memcmp(f->lags, j->lags, sizeof(int64_t) * (size_t)f->n_lags)) {
    int_list(a, sizeof a, f->lags, f->n_lags);
    int_list(b, sizeof b, j->lags, j->n_lags);
    return differ("lags", a, b);
  }
  return KZ_OK;
}

/* The job's columns of one kind (names, n) must be the file's as a set:
 * perm[i] is the job's index of the file's i-th column. */
static kz_status same_columns(const char *kind, const char *key, const char *field,
                              char *const *file, int nf, char *const *job, int nj, const char *data,
                              int *perm) {
  int same = nf == nj;
  for (int i = 0; same && i < nf; i++) {
    perm[i] = -1;
    for (int k = 0; k < nj; k++)
      if (!strcmp(file[i], job[k])) perm[i] = k;
    same = perm[i] >= 0;
  }
  if (same) return KZ_OK;
  char a[600], b[600];
  join(a, sizeof a, file, nf);
  join(b, sizeof b, job, nj);
  return kz_fail(KZ_ERR_INVALID_ARG,
                 "%s columns (field %s): the model was trained with %s; the job takes %s from "
                 "data.train %s (model.%s picks them: list the model's, or import the new data "
                 "with the same columns)",
                 kind, field, a, b, data, key);
}

static void permute_names(char **a, const int *perm, int n) {
  char *t[KZ_TFT_MAX_COLS];
  for (int i = 0; i < n; i++) t[i] = a[perm[i]];
  memcpy(a, t, sizeof(char *) * (size_t)n);
}

static void permute_dicts(char ***names, int32_t *card, const int *perm, int n) {
  char **tn[KZ_TFT_MAX_COLS];
  int32_t tc[KZ_TFT_MAX_COLS];
  for (int i = 0; i < n; i++) tn[i] = names[perm[i]], tc[i] = card[perm[i]];
  memcpy(names, tn, sizeof(char **) * (size_t)n);
  memcpy(card, tc, sizeof(int32_t) * (size_t)n);
}

/* Compares every column set and puts the job's lists in the file's order. */
static kz_status same_inputs(const kz_tft_model *f, kz_tft_model *j) {
  const char *data = j->train_path ? j->train_path : "?";
  int perm[KZ_TFT_MAX_COLS];
  KZ_TRY(same_columns("static numeric", "static", "static_num", f->snum, f->n_snum, j->snum,
                      j->n_snum, data, perm));
  permute_names(j->snum, perm, j->n_snum);
  KZ_TRY(same_columns("static categorical", "static", "static_cat", f->scat, f->n_scat, j->scat,
                      j->n_scat, data, perm));
  permute_names(j->scat, perm, j->n_scat);
  permute_dicts(j->scat_names, j->scat_card, perm, j->n_scat);
  KZ_TRY(same_columns("known numeric", "known", "known_num", f->known, f->n_known_cols, j->known,
                      j->n_known_cols, data, perm));
  permute_names(j->known, perm, j->n_known_cols);
  KZ_TRY(same_columns("observed numeric", "observed", "observed_num", f->obs, f->n_obs, j->obs,
                      j->n_obs, data, perm));
  permute_names(j->obs, perm, j->n_obs);
  KZ_TRY(same_columns("observed categorical", "observed", "observed_cat", f->tvc, f->n_ocat, j->tvc,
                      j->n_ocat, data, perm));
  permute_names(j->tvc, perm, j->n_ocat);
  permute_dicts(j->tvc_names, j->tvc_card, perm, j->n_ocat);
  const int fo = f->n_ocat, jo = j->n_ocat;
  KZ_TRY(same_columns("known categorical", "known", "known_cat", f->tvc + fo, f->n_kcat,
                      j->tvc + jo, j->n_kcat, data, perm));
  permute_names(j->tvc + jo, perm, j->n_kcat);
  permute_dicts(j->tvc_names + jo, j->tvc_card + jo, perm, j->n_kcat);
  if (fabs(f->time_step - j->time_step) > 1e-9 * fabs(f->time_step))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "time step: the model's series have a step of %.17g, data.train %s one of "
                   "%.17g (the time columns are not on the same grid)",
                   f->time_step, data, j->time_step);
  return KZ_OK;
}

/* ---- dictionaries ------------------------------------------------------------------------ */

/* *out: a's names, then those of b that a lacks (copies); *added of them. */
static kz_status merge(char *const *a, int32_t na, char *const *b, int32_t nb, char ***out,
                       int32_t *n, int32_t *added) {
  char **m = calloc((size_t)(na + nb > 0 ? na + nb : 1), sizeof(char *));
  if (!m) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: dictionaries");
  int32_t k = 0;
  for (int32_t i = 0; i < na; i++) m[k++] = dup_str(a[i]);
  for (int32_t i = 0; i < nb; i++) {
    int seen = 0;
    for (int32_t j = 0; j < na && !seen; j++) seen = !strcmp(a[j], b[i]);
    if (!seen) m[k++] = dup_str(b[i]);
  }
  int ok = 1;
  for (int32_t i = 0; i < k; i++) ok &= m[i] != NULL;
  if (!ok) {
    for (int32_t i = 0; i < k; i++) free(m[i]);
    free(m);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: dictionaries");
  }
  *out = m;
  *n = k;
  *added = k - na;
  return KZ_OK;
}

static void free_names(char **names, int32_t n) {
  for (int32_t i = 0; names && i < n; i++) free(names[i]);
  free(names);
}

/* One categorical column's dictionary: the file's, then the job's new ones. */
static kz_status merge_dict(char *const *file, int32_t nf, char ***names, int32_t *card,
                            int32_t *added) {
  char **m = NULL;
  int32_t n = 0;
  KZ_TRY(merge(file, nf, *names, *card, &m, &n, added));
  free_names(*names, *card);
  *names = m;
  *card = n;
  return KZ_OK;
}

/* The series: the file's with their scaling, then the new data's others
 * with the scaling the job's model computed from their training history
 * (the file's all-series scaling for one without training rows). */
static kz_status merge_series(const kz_tft_model *f, kz_tft_model *j, int32_t *added) {
  char **names = NULL;
  int32_t n = 0;
  KZ_TRY(merge(f->series_names, f->n_series, j->series_names, j->n_series, &names, &n, added));
  double *mean = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  double *sd = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  if (!mean || !sd) {
    free(mean), free(sd), free_names(names, n);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: series");
  }
  for (int32_t i = 0; i < f->n_series; i++) mean[i] = f->y_mean[i], sd[i] = f->y_std[i];
  for (int32_t i = f->n_series; i < n; i++) {
    mean[i] = f->y_mean_all, sd[i] = f->y_std_all;
    for (int64_t s = 0; s < j->train.n; s++) {
      const int32_t c = j->train.s[s].code;
      if (c >= 0 && j->train.s[s].n > 0 && !strcmp(j->series_names[c], names[i]))
        mean[i] = j->y_mean[c], sd[i] = j->y_std[c];
    }
  }
  free_names(j->series_names, j->n_series);
  free(j->y_mean), free(j->y_std);
  j->series_names = names;
  j->n_series = n;
  j->y_mean = mean;
  j->y_std = sd;
  return KZ_OK;
}

/* ---- weights ------------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

/* m's block from src's, tensor by tensor by name; a categorical table with
 * more rows (new categories before the last, "unknown", row) takes src's
 * rows for the old categories and src's unknown row for every new one and
 * for its own unknown row. Tensors src lacks keep their initialisation. */
static kz_status copy_weights(kz_tft_model *m, const kz_tft_model *src, int *fresh) {
  kz_tft_names nm, ns;
  memset(&nm, 0, sizeof nm);
  memset(&ns, 0, sizeof ns);
  int64_t npm = 0, nps = 0;
  const int64_t d = m->dm.d;
  float *tmp = NULL, *host = malloc(sizeof(float) * (size_t)(m->base.info.n_params + 1));
  kz_status st = host ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: weights");
  if (st == KZ_OK) st = kz_tft_layout(&m->dm, NULL, NULL, m->base.device, NULL, &npm, &nm);
  if (st == KZ_OK) st = kz_tft_layout(&src->dm, NULL, NULL, src->base.device, NULL, &nps, &ns);
  if (st == KZ_OK) st = kz_nn_params_host(&src->base, &tmp);
  const float *sp = tmp ? tmp : (const float *)src->base.params.data;
  if (st == KZ_OK) kz_tft_init_host(&m->dm, host, m->seed);
  if (st == KZ_OK) kz_tft_lora_init_host(kz_tft_net_lora(m->net), host, m->seed);
  *fresh = 0;
  for (int i = 0; st == KZ_OK && i < nm.n; i++) {
    int k = -1;
    for (int j = 0; j < ns.n && k < 0; j++)
      if (!strcmp(nm.name[i], ns.name[j])) k = j;
    float *dst = host + nm.offset[i];
    const float *from = sp + (k >= 0 ? ns.offset[k] : 0);
    if (k < 0) {
      *fresh += 1;
    } else if (nm.count[i] == ns.count[k]) {
      memcpy(dst, from, sizeof(float) * (size_t)nm.count[i]);
    } else if (ends_with(nm.name[i], ".table") && nm.count[i] > ns.count[k] &&
               nm.count[i] % d == 0 && ns.count[k] % d == 0) {
      const int64_t rs = ns.count[k] / d, rm = nm.count[i] / d;
      memcpy(dst, from, sizeof(float) * (size_t)((rs - 1) * d));
      for (int64_t r = rs - 1; r < rm; r++)
        memcpy(dst + r * d, from + (rs - 1) * d, sizeof(float) * (size_t)d);
    } else {
      st = kz_fail(KZ_ERR_INTERNAL, "tft: tensor %s: %lld floats in the model, %lld in the job's",
                   nm.name[i], (long long)ns.count[k], (long long)nm.count[i]);
    }
  }
  /* the whole block: the base tensors (npm floats), then any adapters */
  const size_t bytes = sizeof(float) * (size_t)m->base.info.n_params;
  if (st == KZ_OK && npm > m->base.info.n_params)
    st = kz_fail(KZ_ERR_INTERNAL, "tft: layout of %lld floats in a block of %lld", (long long)npm,
                 (long long)m->base.info.n_params);
  if (st == KZ_OK && m->base.device.kind == KZ_DEVICE_CPU) {
    memcpy(m->base.params.data, host, bytes);
  } else if (st == KZ_OK) {
    kz_stream *s = kz_tft_net_stream(m->net);
    st = kz_copy_to_device(s, m->base.params.data, host, bytes);
    if (st == KZ_OK) st = kz_stream_sync(s);
  }
  free(host);
  free(tmp);
  kz_tft_names_free(&nm);
  kz_tft_names_free(&ns);
  return st;
}

kz_status kz_tft_init_from_model(kz_nn_model *model, const kz_nn_model *src_model, char *note,
                                 size_t cap) {
  kz_tft_model *m = (kz_tft_model *)model;
  const kz_tft_model *f = (const kz_tft_model *)src_model;
  KZ_TRY(same_config(f, m));
  KZ_TRY(same_inputs(f, m));
  /* a file with LoRA adapters: the weights it computes with, the adapters
   * folded into the base tensors (the trainer drops src after this call) */
  kz_tft_lora *lora = kz_tft_net_lora(f->net);
  if (lora && !lora->merged) KZ_TRY(kz_tft_lora_merge(lora, kz_tft_net_stream(f->net), 1));
  int32_t new_series = 0, new_cats = 0, added = 0;
  KZ_TRY(merge_series(f, m, &new_series));
  for (int i = 0; i < m->n_scat; i++) {
    KZ_TRY(
        merge_dict(f->scat_names[i], f->scat_card[i], &m->scat_names[i], &m->scat_card[i], &added));
    new_cats += added;
  }
  for (int i = 0; i < m->n_ocat + m->n_kcat; i++) {
    KZ_TRY(merge_dict(f->tvc_names[i], f->tvc_card[i], &m->tvc_names[i], &m->tvc_card[i], &added));
    new_cats += added;
  }
  /* the network's units: the file's covariate statistics */
  memcpy(m->snum_mean, f->snum_mean, sizeof m->snum_mean);
  memcpy(m->snum_std, f->snum_std, sizeof m->snum_std);
  memcpy(m->known_mean, f->known_mean, sizeof m->known_mean);
  memcpy(m->known_std, f->known_std, sizeof m->known_std);
  memcpy(m->obs_mean, f->obs_mean, sizeof m->obs_mean);
  memcpy(m->obs_std, f->obs_std, sizeof m->obs_std);
  m->y_mean_all = f->y_mean_all;
  m->y_std_all = f->y_std_all;
  /* the training series again, under the merged dictionaries */
  kz_tft_store_free(&m->train);
  KZ_TRY(kz_tft_store_load(m, m->train_path, "train", &m->train));
  for (int64_t i = 0; i < m->train.n; i++) m->train.s[i].n_train = m->train.s[i].n;
  kz_tft_set_mean_scale(m);
  /* the network for the merged dictionaries (tables may have grown) */
  kz_tft_net_destroy(m->net);
  m->net = NULL;
  kz_tft_batch_free(&m->hb);
  KZ_TRY(kz_tft_finish(m, m->base.device, -1, 1));
  int fresh = 0;
  KZ_TRY(copy_weights(m, f, &fresh));
  snprintf(note, cap,
           "tft: weights, covariate statistics and the scaling of %d series from the model; %d "
           "new series (scaled by their history in data.train) and %d new categories, their "
           "embeddings started from the model's unknown row%s",
           (int)f->n_series, (int)new_series, (int)new_cats,
           fresh ? "; some tensors the model lacks start as initialised" : "");
  return KZ_OK;
}

/* ---- train.continual's old data ---------------------------------------------------------- */

kz_status kz_tft_train_source(kz_nn_model *model, const char *path) {
  kz_tft_model *m = (kz_tft_model *)model;
  m->use_old = 0;
  if (!path) return KZ_OK;
  if (!m->old_path || strcmp(m->old_path, path) != 0) {
    kz_tft_store_free(&m->old);
    free(m->old_path);
    m->old_path = NULL;
    KZ_TRY(kz_tft_store_load(m, path, "train", &m->old));
    for (int64_t i = 0; i < m->old.n; i++) m->old.s[i].n_train = m->old.s[i].n;
    if (kz_tft_count_windows(m, &m->old, NULL) == 0) {
      kz_tft_store_free(&m->old);
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "tft: no training window: every series has fewer than encoder_length + "
                     "horizon = %lld steps in the train split",
                     (long long)(m->dm.k + m->dm.tau));
    }
    if (!(m->old_path = dup_str(path))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: old data");
  }
  m->use_old = 1;
  return KZ_OK;
}
