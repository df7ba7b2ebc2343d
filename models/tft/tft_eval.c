/* The TFT's training step on row-anchored windows, evaluation over a data
 * set's validation span (with the seasonal-naive baseline on the same
 * windows) and forecasts after each series' last observation. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/track/svg_plot.h"
#include "kernels/core/error.h"
#include "models/tft/tft_model.h"

enum { EVAL_BATCH = 256 };

/* The step of series s at time t (binary search), or -1. */
static int64_t find_step(const kz_tft_series *s, double t) {
  int64_t lo = 0, hi = s->n - 1;
  while (lo <= hi) {
    int64_t mid = (lo + hi) / 2;
    if (s->time[mid] == t) return mid;
    if (s->time[mid] < t)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

/* The series training rows are read against: the job's training split, or
 * train.continual's old data (kz_tft_train_source). */
static const kz_tft_store *source(const kz_tft_model *m) {
  return m->use_old ? &m->old : &m->train;
}

/* The training windows that start at rows of b (on the stride, inside the
 * training split), put into m->hb; *nw of them. */
static kz_status gather_windows(kz_tft_model *m, const kz_shard_batch *b, int64_t *nw_out) {
  const kz_tft_dims *dm = &m->dm;
  const kz_tft_store *st = source(m);
  *nw_out = 0;
  KZ_TRY(kz_tft_batch_reserve(m, &m->hb, b->rows));
  int64_t nw = 0;
  for (int64_t r = 0; r < b->rows; r++) {
    int32_t code = *kz_batch_i32(b, st->f_sid, r);
    if (code < 0 || code >= st->n_codes || st->by_code[code] < 0) continue;
    const int32_t si = st->by_code[code];
    const kz_tft_series *s = &st->s[si];
    const int64_t p = find_step(s, *kz_batch_f64(b, st->f_time, r));
    if (p < dm->k || p + dm->tau > s->n_train || (p - dm->k) % m->stride) continue;
    m->hb.series[nw] = si;
    m->hb.pos[nw++] = p;
  }
  m->hb.B = nw;
  for (int64_t w = 0; w < nw; w++)
    kz_tft_batch_put(m, st, &m->hb, w, m->hb.series[w], m->hb.pos[w]);
  *nw_out = nw;
  return KZ_OK;
}

static kz_status check_train(const kz_tft_model *m) {
  if (source(m)->n == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "tft: this model holds no training series (a loaded model "
                                       "is trained again with train.init_from)");
  return KZ_OK;
}

kz_status kz_tft_train_batch(kz_nn_model *model, const kz_shard_batch *b, double weight,
                             uint64_t seed, double *loss) {
  kz_tft_model *m = (kz_tft_model *)model;
  *loss = 0.0;
  KZ_TRY(check_train(m));
  int64_t nw = 0;
  KZ_TRY(gather_windows(m, b, &nw));
  if (nw == 0) return KZ_OK;
  kz_tft_batch bt = kz_tft_batch_view(&m->hb, nw);
  bt.dropout_key = seed;
  if (m->loss_weight) {
    /* target units per scaled unit at the window's level */
    for (int64_t w = 0; w < nw; w++)
      m->hb.w[w] =
          (float)(m->hb.scl[w] * (m->log_target ? exp(m->hb.loc[w]) : 1.0) / m->mean_scale);
    bt.w = m->hb.w;
  }
  int64_t lab = 0;
  return kz_tft_net_step(m->net, &bt, true, weight, loss, &lab, NULL);
}

kz_status kz_tft_loss_items(kz_nn_model *model, const kz_shard_batch *b, uint64_t seed,
                            int64_t *items) {
  kz_tft_model *m = (kz_tft_model *)model;
  (void)seed;
  *items = 0;
  KZ_TRY(check_train(m));
  int64_t nw = 0;
  KZ_TRY(gather_windows(m, b, &nw));
  if (nw == 0) return KZ_OK;
  /* the loss is a mean over the windows' known targets, once per quantile
   * (kz_tft_net_step) */
  kz_tft_batch bt = kz_tft_batch_view(&m->hb, nw);
  for (int64_t i = 0; i < m->dm.tau * nw; i++)
    if (!isnan(bt.y[i])) *items += m->dm.n_quantiles;
  return KZ_OK;
}

kz_status kz_tft_eval_batch(kz_nn_model *model, const kz_shard_batch *b, kz_nn_eval *acc) {
  (void)model, (void)b, (void)acc;
  return kz_fail(KZ_ERR_UNSUPPORTED, "tft: evaluation needs whole series: evaluate a data set "
                                     "(kaizen eval MODEL --data DIR), not rows");
}

kz_status kz_tft_predict_batch(kz_nn_model *model, const kz_shard_batch *b, float *out) {
  (void)model, (void)b, (void)out;
  return kz_fail(KZ_ERR_UNSUPPORTED, "tft: forecasts need whole series: predict from a data set "
                                     "(kaizen predict MODEL --data DIR), not rows");
}

/* ---- metrics ------------------------------------------------------------------------ */

typedef struct sums {
  double ql[KZ_TFT_MAX_QUANTILES], abs_y, abs_e, smape, naive_abs_e, naive_smape;
  int64_t n;
} sums;

static int median_index(const kz_tft_dims *dm) {
  int best = 0;
  for (int i = 1; i < dm->n_quantiles; i++)
    if (fabs(dm->quantiles[i] - 0.5) < fabs(dm->quantiles[best] - 0.5)) best = i;
  return best;
}

/* The quantiles reported: all of them up to three, else the first, the
 * median and the last. */
static int reported(const kz_tft_dims *dm, int *idx) {
  if (dm->n_quantiles <= 3) {
    for (int i = 0; i < dm->n_quantiles; i++) idx[i] = i;
    return (int)dm->n_quantiles;
  }
  idx[0] = 0, idx[1] = median_index(dm), idx[2] = (int)dm->n_quantiles - 1;
  return 3;
}

static void fill_metrics(const kz_tft_model *mc, const sums *s, kz_nn_metrics *out) {
  kz_tft_model *m = (kz_tft_model *)mc;
  const kz_tft_dims *dm = &m->dm;
  int idx[3];
  const int nr = reported(dm, idx);
  memset(out, 0, sizeof *out);
  int n = 0;
  for (int i = 0; i < nr; i++) {
    snprintf(m->metric_names[n], sizeof m->metric_names[n], "q_risk_p%g",
             100.0 * dm->quantiles[idx[i]]);
    out->values[n++] = s && s->abs_y > 0 ? 2.0 * s->ql[idx[i]] / s->abs_y : NAN;
  }
  const char *rest[] = {"mae", "smape", "naive_q_risk_p50", "naive_mae", "naive_smape"};
  double vals[5] = {NAN, NAN, NAN, NAN, NAN};
  if (s && s->n > 0) {
    vals[0] = s->abs_e / (double)s->n;
    vals[1] = s->smape / (double)s->n;
    vals[2] = s->abs_y > 0 ? s->naive_abs_e / s->abs_y : NAN;
    vals[3] = s->naive_abs_e / (double)s->n;
    vals[4] = s->naive_smape / (double)s->n;
  }
  for (int i = 0; i < 5 && n < KZ_NN_MAX_METRICS; i++) {
    snprintf(m->metric_names[n], sizeof m->metric_names[n], "%s", rest[i]);
    out->values[n++] = vals[i];
  }
  out->n = n;
  for (int i = 0; i < n; i++) {
    out->names[i] = m->metric_names[i];
    out->higher_is_better[i] = 0;
  }
}

void kz_tft_eval_finish(const kz_nn_model *model, const kz_nn_eval *acc, kz_nn_metrics *out) {
  (void)acc; /* the TFT evaluates through eval_dataset */
  fill_metrics((const kz_tft_model *)model, NULL, out);
}

static double smape_term(double y, double f) {
  double den = fabs(y) + fabs(f);
  return den > 0 ? 2.0 * fabs(y - f) / den : 0.0;
}

/* Runs the windows of hb (B of them) and adds their scored steps to s. */
static kz_status score(kz_tft_model *m, const kz_tft_store *st, int64_t B, float *pred, sums *s) {
  const kz_tft_dims *dm = &m->dm;
  kz_tft_batch bt = kz_tft_batch_view(&m->hb, B);
  double loss = 0;
  int64_t lab = 0;
  KZ_TRY(kz_tft_net_step(m->net, &bt, false, 0.0, &loss, &lab, pred));
  const int med = median_index(dm);
  const int64_t Q = dm->n_quantiles;
  for (int64_t w = 0; w < B; w++) {
    const kz_tft_series *se = &st->s[m->hb.series[w]];
    const int64_t p = m->hb.pos[w];
    const double mean = m->hb.loc[w], sd = m->hb.scl[w];
    for (int64_t i = 0; i < dm->tau; i++) {
      const float y = se->y[p + i];
      /* the seasonal-naive forecast from the window's origin */
      const int64_t j = p - m->season + i % m->season;
      const float nv = j >= 0 ? se->y[j] : NAN;
      if (isnan(y) || isnan(nv)) continue; /* both scored on the same steps */
      const float *pr = pred + (i * B + w) * Q;
      for (int64_t q = 0; q < Q; q++) {
        double f = kz_tft_untr(m, (double)pr[q] * sd + mean), e = (double)y - f,
               qq = dm->quantiles[q];
        s->ql[q] += fmax(qq * e, (qq - 1.0) * e);
      }
      const double f50 = kz_tft_untr(m, (double)pr[med] * sd + mean);
      s->abs_y += fabs((double)y);
      s->abs_e += fabs((double)y - f50);
      s->smape += smape_term(y, f50);
      s->naive_abs_e += fabs((double)y - (double)nv);
      s->naive_smape += smape_term(y, nv);
      s->n++;
    }
  }
  return KZ_OK;
}

kz_status kz_tft_eval_dataset(kz_nn_model *model, const char *path, kz_nn_metrics *out) {
  kz_tft_model *m = (kz_tft_model *)model;
  const kz_tft_dims *dm = &m->dm;
  kz_tft_store st;
  memset(&st, 0, sizeof st);
  /* the history (train split), then the span to forecast (valid split) */
  kz_status rc = kz_tft_store_load(m, path, "train", &st);
  for (int64_t i = 0; rc == KZ_OK && i < st.n; i++) st.s[i].n_train = st.s[i].n;
  if (rc == KZ_OK) rc = kz_tft_store_load(m, path, "valid", &st);
  float *pred = malloc(sizeof(float) * (size_t)(EVAL_BATCH * dm->tau * dm->n_quantiles));
  if (rc == KZ_OK && !pred) rc = kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: eval");
  if (rc == KZ_OK) rc = kz_tft_batch_reserve(m, &m->hb, EVAL_BATCH);
  sums s;
  memset(&s, 0, sizeof s);
  int64_t windows = 0, B = 0;
  m->hb.B = EVAL_BATCH;
  for (int64_t si = 0; rc == KZ_OK && si < st.n; si++) {
    const kz_tft_series *se = &st.s[si];
    int64_t p0 = se->n_train > dm->k ? se->n_train : dm->k;
    for (int64_t p = p0; rc == KZ_OK && p + dm->tau <= se->n; p++) {
      m->hb.series[B] = (int32_t)si;
      m->hb.pos[B++] = p;
      windows++;
      if (B == EVAL_BATCH) {
        for (int64_t w = 0; w < B; w++)
          kz_tft_batch_put(m, &st, &m->hb, w, m->hb.series[w], m->hb.pos[w]);
        rc = score(m, &st, B, pred, &s);
        B = 0;
      }
    }
  }
  if (rc == KZ_OK && B > 0) {
    m->hb.B = B;
    for (int64_t w = 0; w < B; w++)
      kz_tft_batch_put(m, &st, &m->hb, w, m->hb.series[w], m->hb.pos[w]);
    rc = score(m, &st, B, pred, &s);
  }
  if (rc == KZ_OK && windows == 0)
    rc = kz_fail(KZ_ERR_INVALID_ARG,
                 "tft: %s: no evaluation window: no series has encoder_length (%lld) steps before "
                 "horizon (%lld) steps of its validation span",
                 path, (long long)dm->k, (long long)dm->tau);
  if (rc == KZ_OK) fill_metrics(m, &s, out);
  free(pred);
  kz_tft_store_free(&st);
  return rc;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

/* Quoted for CSV (doubled quotes) or JSON (escaped), series names being
 * arbitrary category strings. */
static void put_name(FILE *f, const char *s, int json) {
  fputc('"', f);
  for (; *s; s++) {
    if (json && (*s == '"' || *s == '\\'))
      fputc('\\', f);
    else if (!json && *s == '"')
      fputc('"', f);
    if (json && (unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", (unsigned)*s);
    else
      fputc(*s, f);
  }
  fputc('"', f);
}

/* One line per series and step: CSV, or JSON lines when the name ends in
 * .jsonl; written to path.tmp and renamed. Crossing pairs are counted before
 * model.sort_quantiles puts them in order. */
static kz_status write_forecasts(const kz_tft_model *m, const kz_tft_store *st, int64_t B,
                                 float *pred, const char *path, int64_t *crossing) {
  const kz_tft_dims *dm = &m->dm;
  const int64_t Q = dm->n_quantiles;
  const int json = ends_with(path, ".jsonl");
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return kz_fail(KZ_ERR_IO, "%s: cannot write", tmp);
  if (!json) {
    fprintf(f, "%s,step,time", m->series_field_name);
    for (int64_t q = 0; q < Q; q++) fprintf(f, ",p%g", 100.0 * dm->quantiles[q]);
    fputc('\n', f);
  }
  for (int64_t w = 0; w < B; w++) {
    const kz_tft_series *se = &st->s[m->hb.series[w]];
    const double mean = m->hb.loc[w], sd = m->hb.scl[w];
    const char *name = se->code >= 0 ? m->series_names[se->code] : "?";
    for (int64_t i = 0; i < dm->tau; i++) {
      float *pr = pred + (i * B + w) * Q;
      for (int64_t q = 1; q < Q; q++) *crossing += pr[q] < pr[q - 1];
      if (m->sort_quantiles) /* insertion sort of a handful */
        for (int64_t q = 1; q < Q; q++)
          for (int64_t j = q; j > 0 && pr[j] < pr[j - 1]; j--) {
            float t = pr[j];
            pr[j] = pr[j - 1], pr[j - 1] = t;
          }
      const double time = se->time[se->n - 1] + (double)(i + 1) * m->time_step;
      if (json) {
        fputs("{\"series\":", f);
        put_name(f, name, 1);
        fprintf(f, ",\"step\":%lld,\"time\":%.17g", (long long)(i + 1), time);
        for (int64_t q = 0; q < Q; q++)
          fprintf(f, ",\"p%g\":%.9g", 100.0 * dm->quantiles[q],
                  kz_tft_untr(m, (double)pr[q] * sd + mean));
        fputs("}\n", f);
      } else {
        put_name(f, name, 0);
        fprintf(f, ",%lld,%.17g", (long long)(i + 1), time);
        for (int64_t q = 0; q < Q; q++)
          fprintf(f, ",%.9g", kz_tft_untr(m, (double)pr[q] * sd + mean));
        fputc('\n', f);
      }
    }
  }
  kz_status rc = fclose(f) == 0 ? KZ_OK : kz_fail(KZ_ERR_IO, "%s: write failed", tmp);
  if (rc == KZ_OK && rename(tmp, path) != 0)
    rc = kz_fail(KZ_ERR_IO, "%s: cannot rename to %s", tmp, path);
  if (rc != KZ_OK) remove(tmp);
  return rc;
}

static void names_json(FILE *f, const char *key, char *const *names, int n, const char *extra,
                       const double *w, int nw) {
  fprintf(f, "\"%s\":{", key);
  for (int i = 0; i < nw; i++) {
    if (i) fputc(',', f);
    put_name(f, i < n ? names[i] : extra, 1);
    fprintf(f, ":%.6g", w[i]);
  }
  fputc('}', f);
}

/* path.interpret.json: the mean variable-selection weights of the last
 * batch (static, encoder, decoder inputs) and its attention pattern
 * (decoder step x window step, averaged over series and heads). */
static kz_status write_interpretation(kz_tft_model *m, const char *out_path) {
  const kz_tft_dims *dm = &m->dm;
  const int64_t T = dm->k + dm->tau;
  double ws[KZ_TFT_MAX_VARS] = {0}, wp[KZ_TFT_MAX_VARS] = {0}, wf[KZ_TFT_MAX_VARS] = {0};
  double *att = malloc(sizeof(double) * (size_t)(dm->tau * T));
  if (!att) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: interpretation");
  kz_status rc = kz_tft_net_interpret(m->net, ws, wp, wf, att);
  char path[4200], tmp[4300];
  snprintf(path, sizeof path, "%s.interpret.json", out_path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = rc == KZ_OK ? fopen(tmp, "w") : NULL;
  if (rc == KZ_OK && !f) rc = kz_fail(KZ_ERR_IO, "%s: cannot write", tmp);
  if (rc == KZ_OK) {
    /* static: series id first when embedded, then real, then categorical */
    char *sn[KZ_TFT_MAX_VARS + 1];
    int n = 0;
    for (int i = 0; i < m->n_snum; i++) sn[n++] = m->snum[i];
    if (m->series_embedding) sn[n++] = m->series_field_name;
    for (int i = 0; i < m->n_scat; i++) sn[n++] = m->scat[i];
    char *pn[KZ_TFT_MAX_VARS + 2], target[] = "target";
    int np = 0;
    pn[np++] = target;
    for (int i = 0; i < m->n_obs; i++) pn[np++] = m->obs[i];
    for (int i = 0; i < m->n_known_cols; i++) pn[np++] = m->known[i];
    for (int c = 0; c < m->n_cal; c++) pn[np++] = (char *)kz_tft_cal_names[m->cal[c]];
    for (int c = 0; c < 2 * m->n_cyc; c++) pn[np++] = m->cyc_names[c];
    for (int c = 0; c < m->n_lags; c++) pn[np++] = m->lag_names[c];
    if (m->relative_time) pn[np++] = (char *)"relative_time";
    for (int c = 0; c < m->n_ocat + m->n_kcat; c++) pn[np++] = m->tvc[c];
    char *dn[KZ_TFT_MAX_VARS + 1];
    int nd = 0;
    for (int i = 0; i < m->n_known_cols; i++) dn[nd++] = m->known[i];
    for (int c = 0; c < m->n_cal; c++) dn[nd++] = (char *)kz_tft_cal_names[m->cal[c]];
    for (int c = 0; c < 2 * m->n_cyc; c++) dn[nd++] = m->cyc_names[c];
    for (int c = 0; c < m->n_lags; c++) dn[nd++] = m->lag_names[c];
    if (m->relative_time) dn[nd++] = (char *)"relative_time";
    for (int c = 0; c < m->n_kcat; c++) dn[nd++] = m->tvc[m->n_ocat + c];
    fputc('{', f);
    names_json(f, "static", sn, n, "relative_time", ws,
               (int)(dm->n_static_real + dm->n_static_cat));
    fputc(',', f);
    names_json(f, "encoder", pn, np, "?", wp,
               (int)(1 + dm->n_observed + dm->n_known + dm->n_observed_cat + dm->n_known_cat));
    fputc(',', f);
    names_json(f, "decoder", dn, nd, "?", wf, (int)(dm->n_known + dm->n_known_cat));
    fprintf(f,
            ",\"attention\":{\"rows\":\"decoder step 1..%lld\",\"cols\":\"window step, "
            "encoder %lld then decoder %lld\",\"weights\":[",
            (long long)dm->tau, (long long)dm->k, (long long)dm->tau);
    for (int64_t i = 0; i < dm->tau; i++) {
      fputs(i ? ",[" : "[", f);
      for (int64_t j = 0; j < T; j++) fprintf(f, "%s%.6g", j ? "," : "", att[i * T + j]);
      fputc(']', f);
    }
    fputs("]}}\n", f);
    if (fclose(f) != 0) rc = kz_fail(KZ_ERR_IO, "%s: write failed", tmp);
    if (rc == KZ_OK && rename(tmp, path) != 0)
      rc = kz_fail(KZ_ERR_IO, "%s: cannot rename to %s", tmp, path);
    if (rc != KZ_OK) remove(tmp);
  }
  free(att);
  return rc;
}

/* opts->plot: one series' recent history (max(k, 2 tau) steps) and its
 * forecast, the median as a line over the band from the first to the last
 * quantile; x counts steps from the last observation. */
static kz_status write_plot(const kz_tft_model *m, const kz_tft_store *st, int64_t B,
                            const float *pred, const kz_nn_predict_opts *o) {
  const kz_tft_dims *dm = &m->dm;
  int64_t w = 0;
  if (o->plot_series) {
    for (w = 0; w < B; w++) {
      const kz_tft_series *se = &st->s[m->hb.series[w]];
      if (se->code >= 0 && !strcmp(m->series_names[se->code], o->plot_series)) break;
    }
    if (w == B)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "--plot-series '%s': no series of that name has a forecast (%lld series, "
                     "the first '%s')",
                     o->plot_series, (long long)B,
                     st->s[m->hb.series[0]].code >= 0 ? m->series_names[st->s[m->hb.series[0]].code]
                                                      : "?");
  }
  const kz_tft_series *se = &st->s[m->hb.series[w]];
  const int64_t tau = dm->tau, Q = dm->n_quantiles, nh_max = dm->k > 2 * tau ? dm->k : 2 * tau;
  const int64_t nh = se->n < nh_max ? se->n : nh_max;
  double *v = malloc(sizeof(double) * (size_t)(2 * nh + 4 * tau));
  if (!v) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: plot");
  double *hx = v, *hy = v + nh, *fx = v + 2 * nh, *fy = fx + tau, *lo = fy + tau, *hi = lo + tau;
  for (int64_t i = 0; i < nh; i++) {
    hx[i] = (double)(i - nh + 1);
    hy[i] = se->y[se->n - nh + i]; /* NaN: a gap in the line */
  }
  const int med = median_index(dm);
  const double mean = m->hb.loc[w], sd = m->hb.scl[w];
  for (int64_t i = 0; i < tau; i++) {
    const float *pr = pred + (i * B + w) * Q;
    fx[i] = (double)(i + 1);
    fy[i] = kz_tft_untr(m, (double)pr[med] * sd + mean);
    lo[i] = kz_tft_untr(m, (double)pr[0] * sd + mean);
    hi[i] = kz_tft_untr(m, (double)pr[Q - 1] * sd + mean);
  }
  char lab[2][96], title[200], xl[160];
  snprintf(lab[0], sizeof lab[0], "history");
  snprintf(lab[1], sizeof lab[1], "forecast p%g, band p%g-p%g", 100.0 * dm->quantiles[med],
           100.0 * dm->quantiles[0], 100.0 * dm->quantiles[Q - 1]);
  snprintf(title, sizeof title, "%s %s: forecast of %lld steps", m->series_field_name,
           se->code >= 0 ? m->series_names[se->code] : "?", (long long)tau);
  snprintf(xl, sizeof xl, "steps after the last observation (one step = %g)", m->time_step);
  kz_plot_series ps[2] = {{.label = lab[0], .n = (int)nh, .x = hx, .y = hy},
                          {.label = lab[1], .n = (int)tau, .x = fx, .y = fy, .lo = lo, .hi = hi}};
  kz_status rc = kz_svg_line_chart(o->plot, title, xl, "target", ps, 2);
  free(v);
  return rc;
}

kz_status kz_tft_predict_dataset(kz_nn_model *model, const char *path, const char *out_path,
                                 const kz_nn_predict_opts *opts) {
  kz_tft_model *m = (kz_tft_model *)model;
  const kz_tft_dims *dm = &m->dm;
  kz_tft_store st;
  memset(&st, 0, sizeof st);
  kz_status rc = kz_tft_store_load(m, path, NULL, &st);
  int64_t nw = 0, crossing = 0;
  for (int64_t i = 0; i < st.n; i++) nw += st.s[i].n >= dm->k;
  float *pred = malloc(sizeof(float) * (size_t)((nw ? nw : 1) * dm->tau * dm->n_quantiles));
  if (rc == KZ_OK && !pred) rc = kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: predict");
  if (rc == KZ_OK && nw == 0)
    rc = kz_fail(KZ_ERR_INVALID_ARG, "tft: %s: no series has encoder_length = %lld steps", path,
                 (long long)dm->k);
  if (rc == KZ_OK) rc = kz_tft_batch_reserve(m, &m->hb, nw);
  if (rc == KZ_OK) {
    m->hb.B = nw;
    int64_t w = 0;
    for (int64_t i = 0; i < st.n; i++)
      if (st.s[i].n >= dm->k) kz_tft_batch_put(m, &st, &m->hb, w++, (int32_t)i, st.s[i].n);
    kz_tft_batch bt = kz_tft_batch_view(&m->hb, nw);
    double loss;
    int64_t lab;
    rc = kz_tft_net_step(m->net, &bt, false, 0.0, &loss, &lab, pred);
  }
  if (rc == KZ_OK) rc = write_forecasts(m, &st, nw, pred, out_path, &crossing);
  if (rc == KZ_OK) rc = write_interpretation(m, out_path);
  if (rc == KZ_OK && opts && opts->plot) rc = write_plot(m, &st, nw, pred, opts);
  if (rc == KZ_OK && !(opts && opts->quiet)) {
    fprintf(stderr, "kaizen: tft: %lld series, %lld steps each", (long long)nw, (long long)dm->tau);
    if (crossing) fprintf(stderr, ", %lld crossing quantile pairs", (long long)crossing);
    if (m->n_known_cols + m->n_kcat > 0)
      fprintf(stderr, "; known inputs past the data are carried forward from the last step");
    fputc('\n', stderr);
  }
  free(pred);
  kz_tft_store_free(&st);
  return rc;
}
