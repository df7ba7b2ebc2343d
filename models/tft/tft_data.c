/* Series from timeseries shards and the windows cut from them
 * (tft_model.h). Columns are found by name in the data set's schema, series
 * and static categories by their strings, so a data set imported again
 * (other codes, other column order) maps onto the model the same way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/iter.h"
#include "kernels/core/error.h"
#include "models/tft/tft_model.h"

typedef struct colref {
  int field, col;
} colref;

static kz_status find_col(const kz_schema *s, const char *field, const char *name, const char *what,
                          colref *out) {
  int f = kz_schema_field_index(s, field);
  if (f >= 0)
    for (int c = 0; c < s->fields[f].n_columns; c++)
      if (!strcmp(s->fields[f].columns[c].name, name)) {
        *out = (colref){f, c};
        return KZ_OK;
      }
  return kz_fail(
      KZ_ERR_INVALID_ARG,
      "tft: the data set has no %s column '%s' (field %s); the model was trained with it", what,
      name, field);
}

/* dataset code -> model code for one categorical column, by string; -1 unseen. */
static int32_t *code_map(const kz_column *c, char *const *names, int32_t n) {
  int32_t *map = malloc(sizeof(int32_t) * (size_t)(c->n_categories > 0 ? c->n_categories : 1));
  if (!map) return NULL;
  for (int32_t i = 0; i < c->n_categories; i++) {
    map[i] = -1;
    for (int32_t j = 0; j < n; j++)
      if (!strcmp(c->categories[i], names[j])) map[i] = j;
  }
  return map;
}

static kz_status grow(kz_tft_series *s, int64_t nk, int64_t no, int64_t nc) {
  if (s->n < s->cap) return KZ_OK;
  int64_t cap = s->cap ? 2 * s->cap : 64;
  double *t = realloc(s->time, sizeof(double) * (size_t)cap);
  if (t) s->time = t;
  float *y = t ? realloc(s->y, sizeof(float) * (size_t)cap) : NULL;
  if (y) s->y = y;
  float *k = y ? realloc(s->known, sizeof(float) * (size_t)(cap * (nk ? nk : 1))) : NULL;
  if (k) s->known = k;
  float *o = k ? realloc(s->obs, sizeof(float) * (size_t)(cap * (no ? no : 1))) : NULL;
  if (o) s->obs = o;
  int32_t *c = o ? realloc(s->cat, sizeof(int32_t) * (size_t)(cap * (nc ? nc : 1))) : NULL;
  if (c) s->cat = c;
  if (!c) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: series");
  s->cap = cap;
  return KZ_OK;
}

kz_status kz_tft_store_load(const kz_tft_model *m, const char *path, const char *split,
                            kz_tft_store *st) {
  kz_dataset_options o = {.split = split};
  kz_dataset *ds = NULL;
  KZ_TRY(kz_dataset_open(path, &o, &ds));
  const kz_schema *sc = kz_dataset_schema(ds);
  kz_status rc = KZ_OK;
  int32_t *smap = NULL, *cmap[KZ_TFT_MAX_COLS] = {0}, *tmap[KZ_TFT_MAX_COLS] = {0};
  colref tc[KZ_TFT_MAX_COLS];
  const int ntvc = m->n_ocat + m->n_kcat;
  kz_shard_batch b;
  memset(&b, 0, sizeof b);
  colref sn[KZ_TFT_MAX_COLS], scc[KZ_TFT_MAX_COLS], kn[KZ_TFT_MAX_COLS], ob[KZ_TFT_MAX_COLS];
  const int f_sid = kz_schema_field_index(sc, "series_id"), f_t = kz_schema_field_index(sc, "time");
  const int f_y = kz_schema_field_index(sc, "target");
  if (strcmp(sc->kind, "timeseries") || f_sid < 0 || f_t < 0 || f_y < 0) {
    rc = kz_fail(KZ_ERR_INVALID_ARG,
                 "tft: %s is a '%s' data set; the TFT needs a timeseries one (kaizen data import "
                 "--kind timeseries)",
                 path, sc->kind);
    goto done;
  }
  for (int i = 0; rc == KZ_OK && i < m->n_snum; i++)
    rc = find_col(sc, "static_num", m->snum[i], "static", &sn[i]);
  for (int i = 0; rc == KZ_OK && i < m->n_scat; i++)
    rc = find_col(sc, "static_cat", m->scat[i], "static", &scc[i]);
  for (int i = 0; rc == KZ_OK && i < m->n_known_cols; i++)
    rc = find_col(sc, "known_num", m->known[i], "known", &kn[i]);
  for (int i = 0; rc == KZ_OK && i < m->n_obs; i++)
    rc = find_col(sc, "observed_num", m->obs[i], "observed", &ob[i]);
  for (int i = 0; rc == KZ_OK && i < ntvc; i++)
    rc = find_col(sc, i < m->n_ocat ? "observed_cat" : "known_cat", m->tvc[i],
                  i < m->n_ocat ? "observed" : "known", &tc[i]);
  if (rc != KZ_OK) goto done;
  const kz_column *sid = &sc->fields[f_sid].columns[0];
  if (!(smap = code_map(sid, m->series_names, m->n_series))) goto oom;
  for (int i = 0; i < m->n_scat; i++)
    if (!(cmap[i] = code_map(&sc->fields[scc[i].field].columns[scc[i].col], m->scat_names[i],
                             m->scat_card[i])))
      goto oom;
  for (int i = 0; i < ntvc; i++)
    if (!(tmap[i] = code_map(&sc->fields[tc[i].field].columns[tc[i].col], m->tvc_names[i],
                             m->tvc_card[i])))
      goto oom;
  st->f_sid = f_sid;
  st->f_time = f_t;
  if (!st->by_code) {
    st->n_codes = sid->n_categories;
    st->by_code = malloc(sizeof(int32_t) * (size_t)(st->n_codes > 0 ? st->n_codes : 1));
    if (!st->by_code) goto oom;
    for (int32_t i = 0; i < st->n_codes; i++) st->by_code[i] = -1;
  }
  const int64_t rows = kz_dataset_rows(ds), chunk = 4096;
  if ((rc = kz_shard_batch_alloc(sc, chunk, &b)) != KZ_OK) goto done;
  for (int64_t r0 = 0; r0 < rows && rc == KZ_OK; r0 += chunk) {
    const int64_t n = rows - r0 < chunk ? rows - r0 : chunk;
    kz_shard_batch_clear(&b);
    if ((rc = kz_dataset_read_range(ds, r0, n, &b, 0)) != KZ_OK) break;
    for (int64_t r = 0; r < n; r++) {
      int32_t code = *kz_batch_i32(&b, f_sid, r);
      if (code < 0 || code >= st->n_codes) {
        rc = kz_fail(KZ_ERR_FORMAT, "tft: %s: row %lld has series code %d outside its dictionary",
                     path, (long long)(r0 + r), (int)code);
        break;
      }
      if (st->by_code[code] < 0) {
        kz_tft_series *ns = realloc(st->s, sizeof(kz_tft_series) * (size_t)(st->n + 1));
        if (!ns) goto oom;
        st->s = ns;
        kz_tft_series *s = &st->s[st->n];
        memset(s, 0, sizeof *s);
        s->code = smap[code];
        for (int i = 0; i < m->n_snum; i++)
          s->s_num[i] = kz_batch_f32(&b, sn[i].field, r)[sn[i].col];
        for (int i = 0; i < m->n_scat; i++) {
          int32_t c = kz_batch_i32(&b, scc[i].field, r)[scc[i].col];
          s->s_cat[i] = c >= 0 ? cmap[i][c] : -1;
        }
        st->by_code[code] = (int32_t)st->n++;
      }
      kz_tft_series *s = &st->s[st->by_code[code]];
      const int nkw = kz_tft_known_width(m);
      if ((rc = grow(s, nkw, m->n_obs, ntvc)) != KZ_OK) break;
      const double t = *kz_batch_f64(&b, f_t, r);
      if (s->n > 0 && !(t > s->time[s->n - 1])) {
        rc = kz_fail(KZ_ERR_FORMAT,
                     "tft: %s: series '%s': time %.17g does not follow %.17g (rows must be in "
                     "time order per series)",
                     path, sid->categories[code], t, s->time[s->n - 1]);
        break;
      }
      s->time[s->n] = t;
      s->y[s->n] = *kz_batch_f32(&b, f_y, r);
      for (int i = 0; i < m->n_known_cols; i++)
        s->known[s->n * nkw + i] = kz_batch_f32(&b, kn[i].field, r)[kn[i].col];
      for (int c = m->n_known_cols; c < nkw; c++)
        s->known[s->n * nkw + c] = (float)kz_tft_derived(m, t, c - m->n_known_cols);
      for (int i = 0; i < m->n_obs; i++)
        s->obs[s->n * m->n_obs + i] = kz_batch_f32(&b, ob[i].field, r)[ob[i].col];
      for (int i = 0; i < ntvc; i++) {
        const int32_t c = kz_batch_i32(&b, tc[i].field, r)[tc[i].col];
        s->cat[s->n * ntvc + i] = c >= 0 ? tmap[i][c] : -1;
      }
      s->n++;
    }
  }
  goto done;
oom:
  rc = kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: loading %s", path);
done:
  kz_shard_batch_free(&b);
  free(smap);
  for (int i = 0; i < KZ_TFT_MAX_COLS; i++) free(cmap[i]), free(tmap[i]);
  kz_dataset_close(ds);
  return rc;
}

const char *const kz_tft_cal_names[5] = {"hour", "day_of_week", "month", "year", NULL};

/* Days since 1970-01-01 to the proleptic Gregorian date: shift the year to
 * start in March (leap days fall last), count 400-year eras of 146097 days. */
static void civil(int64_t days, int64_t *year, int *month) {
  const int64_t z = days + 719468; /* days since 0000-03-01 */
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                      /* [0, 146096] */
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
  const int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
  *month = (int)(mp < 10 ? mp + 3 : mp - 9);
  *year = yoe + era * 400 + (*month <= 2);
}

double kz_tft_calendar(double t, int which) {
  const double days = floor(t / 86400.0);
  int64_t year = 0;
  int month = 0;
  switch (which) {
  case KZ_TFT_CAL_HOUR:
    return (t - days * 86400.0) / 3600.0;
  case KZ_TFT_CAL_DOW: {
    int64_t d = ((int64_t)days + 3) % 7; /* 1970-01-01 was a Thursday (3, Monday 0) */
    return (double)(d < 0 ? d + 7 : d);
  }
  case KZ_TFT_CAL_MONTH:
    civil((int64_t)days, &year, &month);
    return (double)month;
  default:
    civil((int64_t)days, &year, &month);
    return (double)year;
  }
}

double kz_tft_derived(const kz_tft_model *m, double t, int j) {
  if (j < m->n_cal) return kz_tft_calendar(t, m->cal[j]);
  j -= m->n_cal;
  /* the phase from the step count, reduced before the angle so a large time
   * (seconds since 1970) keeps its precision */
  const double P = (double)m->cyc[j / 2], ph = fmod(round(t / m->time_step), P) / P;
  const double a = 2.0 * 3.14159265358979323846 * ph;
  return j % 2 ? cos(a) : sin(a);
}

void kz_tft_name_cycles(kz_tft_model *m) {
  for (int i = 0; i < m->n_lags; i++)
    snprintf(m->lag_names[i], sizeof m->lag_names[i], "lag%lld", (long long)m->lags[i]);
  for (int c = 0; c < 2 * m->n_cyc; c++)
    snprintf(m->cyc_names[c], sizeof m->cyc_names[c], "cycle%lld_%s", (long long)m->cyc[c / 2],
             c % 2 ? "cos" : "sin");
}

void kz_tft_store_free(kz_tft_store *st) {
  for (int64_t i = 0; i < st->n; i++) {
    free(st->s[i].time), free(st->s[i].y), free(st->s[i].known), free(st->s[i].obs);
    free(st->s[i].cat);
  }
  free(st->s);
  free(st->by_code);
  memset(st, 0, sizeof *st);
}

void kz_tft_scale_of(const kz_tft_model *m, const kz_tft_series *s, double *mean, double *std) {
  if (s->code >= 0 && s->code < m->n_series) {
    *mean = m->y_mean[s->code];
    *std = m->y_std[s->code];
  } else {
    *mean = m->y_mean_all;
    *std = m->y_std_all;
  }
}

kz_status kz_tft_batch_reserve(const kz_tft_model *m, kz_tft_host_batch *hb, int64_t B) {
  if (B <= hb->cap) return KZ_OK;
  const kz_tft_dims *dm = &m->dm;
  const int64_t np = 1 + dm->n_observed + dm->n_known;
  kz_tft_batch_free(hb);
  hb->s_real = malloc(sizeof(float) * (size_t)(B * (dm->n_static_real + 1)));
  hb->s_cat = malloc(sizeof(int32_t) * (size_t)(B * (dm->n_static_cat + 1)));
  hb->past = malloc(sizeof(float) * (size_t)(B * np * dm->k));
  hb->fut = malloc(sizeof(float) * (size_t)(B * dm->n_known * dm->tau));
  hb->y = malloc(sizeof(float) * (size_t)(B * dm->tau));
  const int64_t ntvc = dm->n_observed_cat + dm->n_known_cat;
  hb->past_cat = malloc(sizeof(int32_t) * (size_t)(B * (ntvc ? ntvc : 1) * dm->k));
  hb->fut_cat =
      malloc(sizeof(int32_t) * (size_t)(B * (dm->n_known_cat ? dm->n_known_cat : 1) * dm->tau));
  hb->series = malloc(sizeof(int32_t) * (size_t)B);
  hb->pos = malloc(sizeof(int64_t) * (size_t)B);
  hb->loc = malloc(sizeof(double) * (size_t)B);
  hb->w = malloc(sizeof(float) * (size_t)B);
  hb->scl = malloc(sizeof(double) * (size_t)B);
  if (!hb->s_real || !hb->s_cat || !hb->past || !hb->fut || !hb->y || !hb->series || !hb->pos ||
      !hb->loc || !hb->scl || !hb->w || !hb->past_cat || !hb->fut_cat) {
    kz_tft_batch_free(hb);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: batch of %lld windows", (long long)B);
  }
  hb->cap = B;
  return KZ_OK;
}

void kz_tft_batch_free(kz_tft_host_batch *hb) {
  free(hb->s_real), free(hb->s_cat), free(hb->past), free(hb->fut), free(hb->y);
  free(hb->series), free(hb->pos), free(hb->loc), free(hb->scl), free(hb->w);
  free(hb->past_cat), free(hb->fut_cat);
  memset(hb, 0, sizeof *hb);
}

static float stdz(float v, double mean, double std) {
  return isnan(v) ? 0.0f : (float)(((double)v - mean) / std);
}

/* The target at step j as the window scales it; 0 (the mean) before the
 * series' start or where missing. */
static float lagged(const kz_tft_model *m, const kz_tft_series *s, int64_t j, double mean,
                    double sd) {
  return j >= 0 ? stdz((float)kz_tft_tr(m, s->y[j]), mean, sd) : 0.0f;
}

/* Window w of a batch of hb->B: decoder from step p of series s. Layout
 * (tft_net.h): statics variable-major, past [1 + obs + known, k, B], future
 * [known, tau, B], targets [tau, B]; NaN inputs enter as 0 (the mean). */
void kz_tft_batch_put(const kz_tft_model *m, const kz_tft_store *st, kz_tft_host_batch *hb,
                      int64_t w, int32_t si, int64_t p) {
  const kz_tft_dims *dm = &m->dm;
  const kz_tft_series *s = &st->s[si];
  const int64_t B = hb->B, k = dm->k, tau = dm->tau, nk = kz_tft_known_width(m), no = m->n_obs;
  const int ntvc = m->n_ocat + m->n_kcat;
  double mean, sd;
  kz_tft_scale_of(m, s, &mean, &sd);
  if (m->window_scaling) {
    /* the encoder's mean and standard deviation, so the network sees every
     * window at one level and scale (a series' level drifts; a window's
     * recent history says where it is now); floored at a small fraction of
     * the series' own spread so a flat encoder does not blow the scale up */
    double sum = 0, sq = 0;
    int64_t cnt = 0;
    for (int64_t j = p - k; j < p; j++)
      if (!isnan(s->y[j])) {
        const double v = kz_tft_tr(m, s->y[j]);
        sum += v, sq += v * v, cnt++;
      }
    if (cnt > 0) {
      const double mu = sum / (double)cnt, var = sq / (double)cnt - mu * mu;
      const double wsd = var > 0 ? sqrt(var) : 0.0;
      mean = mu;
      sd = wsd > 0.01 * sd ? wsd : 0.01 * sd;
    }
  }
  hb->loc[w] = mean;
  hb->scl[w] = sd;
  hb->series[w] = si;
  hb->pos[w] = p;
  for (int i = 0; i < m->n_snum; i++)
    hb->s_real[i * B + w] = stdz(s->s_num[i], m->snum_mean[i], m->snum_std[i]);
  int c = 0;
  if (m->series_embedding) hb->s_cat[w * dm->n_static_cat + c++] = s->code;
  for (int i = 0; i < m->n_scat; i++) hb->s_cat[w * dm->n_static_cat + c++] = s->s_cat[i];
  const double rt_den = (double)(k > tau ? k : tau);
  for (int64_t t = 0; t < k; t++) {
    const int64_t j = p - k + t; /* >= 0 for every window the callers cut */
    int64_t v = 0;
    hb->past[(v++ * k + t) * B + w] = stdz((float)kz_tft_tr(m, s->y[j]), mean, sd);
    for (int i = 0; i < no; i++)
      hb->past[(v++ * k + t) * B + w] = stdz(s->obs[j * no + i], m->obs_mean[i], m->obs_std[i]);
    for (int i = 0; i < nk; i++)
      hb->past[(v++ * k + t) * B + w] =
          stdz(s->known[j * nk + i], m->known_mean[i], m->known_std[i]);
    for (int i = 0; i < m->n_lags; i++)
      hb->past[(v++ * k + t) * B + w] = lagged(m, s, j - m->lags[i], mean, sd);
    if (m->relative_time) hb->past[(v++ * k + t) * B + w] = (float)((double)(t - k) / rt_den);
    for (int i = 0; i < ntvc; i++) hb->past_cat[(i * k + t) * B + w] = s->cat[j * ntvc + i];
  }
  for (int64_t t = 0; t < tau; t++) {
    const int64_t j = p + t < s->n ? p + t : s->n - 1; /* past the end: carried forward */
    int64_t v = 0;
    for (int i = 0; i < nk; i++) {
      float kv = s->known[j * nk + i];
      if (p + t >= s->n && i >= m->n_known_cols) /* derived from the future time */
        kv = (float)kz_tft_derived(m, s->time[s->n - 1] + (double)(p + t - s->n + 1) * m->time_step,
                                   i - m->n_known_cols);
      hb->fut[(v++ * tau + t) * B + w] = stdz(kv, m->known_mean[i], m->known_std[i]);
    }
    for (int i = 0; i < m->n_lags; i++) /* lag >= horizon: before the window's origin p */
      hb->fut[(v++ * tau + t) * B + w] = lagged(m, s, p + t - m->lags[i], mean, sd);
    if (m->relative_time) hb->fut[(v++ * tau + t) * B + w] = (float)((double)t / rt_den);
    for (int i = 0; i < m->n_kcat; i++) /* past the end: carried forward, as the known reals */
      hb->fut_cat[(i * tau + t) * B + w] = s->cat[j * ntvc + m->n_ocat + i];
    hb->y[t * B + w] = p + t < s->n ? stdz((float)kz_tft_tr(m, s->y[p + t]), mean, sd) : NAN;
    if (p + t < s->n && isnan(s->y[p + t])) hb->y[t * B + w] = NAN;
  }
}

kz_tft_batch kz_tft_batch_view(const kz_tft_host_batch *hb, int64_t B) {
  return (kz_tft_batch){.B = B,
                        .s_real = hb->s_real,
                        .s_cat = hb->s_cat,
                        .past = hb->past,
                        .fut = hb->fut,
                        .y = hb->y,
                        .past_cat = hb->past_cat,
                        .fut_cat = hb->fut_cat};
}
