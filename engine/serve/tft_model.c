/* Serving a TFT (docs/SERVING.md, "Forecasting models (TFT)"). A request
 * carries series histories as the rows of a timeseries file: one row per
 * step, the columns of the model's schema by name (series id, time, target,
 * static, known and observed columns), each cell read as `kaizen data import`
 * reads a CSV cell. Rows are grouped by series (in order of first
 * appearance; rows of different series may interleave) and each series'
 * times must increase. Optional inputs "future:<known column>" give the known
 * values of the horizon ([series, horizon] in the series' order); a known
 * column without them is carried forward from the last row, as `kaizen
 * predict` does, and calendar and cycle features come from the future times.
 *
 * Each series becomes a kz_tft_series exactly as kz_tft_store_load builds one
 * from shards, with the horizon appended as rows whose target is missing, and
 * the worker cuts the window at the end of its history with the model's own
 * kz_tft_batch_put: so a served forecast is `kaizen predict`'s arithmetic on
 * the same inputs. Outputs: series BYTES [S], time FP64 [S, tau] (the
 * forecast times, as predict's time column) and one FP64 [S, tau] tensor per
 * quantile, named as predict's columns (p10, p50, p90). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/numparse.h"
#include "data/import/timeparse.h"
#include "data/shard/schema.h"
#include "engine/predict/predictor.h"
#include "engine/serve/server_internal.h"
#include "kernels/core/error.h"
#include "models/tft/tft_model.h"

#define FUTURE_PREFIX "future:"

/* What a request column feeds. */
enum role { R_SERIES, R_TIME, R_TARGET, R_SNUM, R_SCAT, R_KNOWN, R_OBS, R_TVC, R_FUTURE };

typedef struct tcol {
  enum role role;
  int idx;      /* within its group (snum, scat, known, obs, tvc); R_FUTURE: the history column */
  int optional; /* may be left out (the series id, future values) */
} tcol;

struct kz_serve_tft {
  kz_tft_model *tm;
  const char *time_format; /* the import's ("number", "date", "datetime"); NULL: unknown */
  int n_cols;              /* history columns; then the future ones up to m->n_feat */
  tcol *cols;              /* m->n_feat of them, in m->feat_names' order */
  kz_tft_host_batch hb;    /* the worker's */
  float *pred;
  int64_t pred_cap; /* windows */
  int64_t unseen;   /* category values the model never saw (atomic) */
  /* the interpretation outputs after series, time and the quantiles: the
   * variables of each selection network (static, encoder, decoder) */
  int n_fore; /* outputs before them */
  int nv[3];
  const char *vnames[3][KZ_TFT_MAX_VARS];
};

/* One request's series: their names (as sent) and the store the windows are
 * cut from; series i's history is its first hist[i] rows. */
struct kz_serve_tft_req {
  kz_tft_store st;
  char **names;
  int64_t *hist;
};

struct kz_serve_tft_out {
  int64_t B;
  double *q;       /* [B, tau, Q] in target units, sorted when the model sorts */
  double **interp; /* per window: for a job's first window when it asked for the
                      interpretation, its static, encoder, decoder weights and
                      attention [tau, k + tau] (NULL otherwise) */
};

enum { OUT_STATIC, OUT_ENCODER, OUT_DECODER, OUT_ATTENTION, N_INTERP };
static const char *const interp_names[N_INTERP] = {"static_weights", "encoder_weights",
                                                   "decoder_weights", "attention"};

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* ---- plan ------------------------------------------------------------------ */

static const char *column_of(const kz_schema *s, const char *field) {
  int f = kz_schema_field_index(s, field);
  return f >= 0 && s->fields[f].n_columns > 0 ? s->fields[f].columns[0].name : NULL;
}

static kz_status add_col(kz_serve_model *m, const char *name, enum role role, int idx,
                         int categorical, int optional) {
  kz_serve_tft *t = m->tft;
  int k = m->n_feat;
  if (role == R_FUTURE) {
    size_t n = strlen(FUTURE_PREFIX) + strlen(name) + 1;
    if ((m->feat_names[k] = malloc(n))) snprintf(m->feat_names[k], n, FUTURE_PREFIX "%s", name);
  } else {
    m->feat_names[k] = dup_str(name);
  }
  if (!m->feat_names[k]) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  m->feat_categorical[k] = categorical;
  /* times: numbers as FP64 (they are read as doubles), dates as text */
  const int text_time = !t->time_format || strcmp(t->time_format, "number");
  m->feat_type[k] = categorical || (role == R_TIME && text_time) ? KZ_TYPE_BYTES
                    : role == R_TIME                             ? KZ_TYPE_FP64
                                                                 : KZ_TYPE_FP32;
  t->cols[k] = (tcol){role, idx, optional};
  m->n_feat++;
  return KZ_OK;
}

/* The variables of the selection networks, in the network's order and with
 * the names `kaizen predict` gives them in F.interpret.json. */
static void name_variables(kz_serve_tft *t) {
  const kz_tft_model *tm = t->tm;
  const kz_tft_dims *dm = &tm->dm;
  const char *const *cal = (const char *const *)kz_tft_cal_names;
  int n = 0;
  const char **v = t->vnames[0];
  for (int i = 0; i < tm->n_snum; i++) v[n++] = tm->snum[i];
  if (tm->series_embedding) v[n++] = tm->series_field_name;
  for (int i = 0; i < tm->n_scat; i++) v[n++] = tm->scat[i];
  t->nv[0] = (int)(dm->n_static_real + dm->n_static_cat);
  n = 0, v = t->vnames[1];
  v[n++] = "target";
  for (int i = 0; i < tm->n_obs; i++) v[n++] = tm->obs[i];
  for (int i = 0; i < tm->n_known_cols; i++) v[n++] = tm->known[i];
  for (int c = 0; c < tm->n_cal; c++) v[n++] = cal[tm->cal[c]];
  for (int c = 0; c < 2 * tm->n_cyc; c++) v[n++] = tm->cyc_names[c];
  for (int c = 0; c < tm->n_lags; c++) v[n++] = tm->lag_names[c];
  if (tm->relative_time) v[n++] = "relative_time";
  for (int c = 0; c < tm->n_ocat + tm->n_kcat; c++) v[n++] = tm->tvc[c];
  t->nv[1] = (int)(1 + dm->n_observed + dm->n_known + dm->n_observed_cat + dm->n_known_cat);
  n = 0, v = t->vnames[2];
  for (int i = 0; i < tm->n_known_cols; i++) v[n++] = tm->known[i];
  for (int c = 0; c < tm->n_cal; c++) v[n++] = cal[tm->cal[c]];
  for (int c = 0; c < 2 * tm->n_cyc; c++) v[n++] = tm->cyc_names[c];
  for (int c = 0; c < tm->n_lags; c++) v[n++] = tm->lag_names[c];
  if (tm->relative_time) v[n++] = "relative_time";
  for (int c = 0; c < tm->n_kcat; c++) v[n++] = tm->tvc[tm->n_ocat + c];
  t->nv[2] = (int)(dm->n_known + dm->n_known_cat);
}

int kz_serve_tft_default_outputs(const kz_serve_model *m) {
  return m->tft->n_fore;
}

kz_status kz_serve_tft_plan(kz_serve_model *m) {
  const kz_schema *s = kz_predictor_schema(m->pred);
  kz_tft_model *tm = (kz_tft_model *)kz_predictor_nn(m->pred);
  const char *time_col = column_of(s, "time"), *target_col = column_of(s, "target");
  if (!tm || strcmp(s->kind, "timeseries") || !time_col || !target_col)
    return kz_fail(KZ_ERR_FORMAT, "%s: a TFT model file without a timeseries input schema",
                   m->path);
  if (!(m->tft = calloc(1, sizeof *m->tft))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
  kz_serve_tft *t = m->tft;
  t->tm = tm;
  const json_t *tf = s->meta ? json_object_get(s->meta, "time_format") : NULL;
  t->time_format = json_is_string(tf) ? json_string_value(tf) : NULL;
  const int ntvc = tm->n_ocat + tm->n_kcat;
  const int cap = 3 + tm->n_snum + tm->n_scat + 2 * (tm->n_known_cols + ntvc) + tm->n_obs;
  m->feat_names = calloc((size_t)cap, sizeof *m->feat_names);
  m->feat_categorical = calloc((size_t)cap, sizeof *m->feat_categorical);
  m->feat_type = calloc((size_t)cap, sizeof *m->feat_type);
  t->cols = calloc((size_t)cap, sizeof *t->cols);
  const int Q = (int)tm->dm.n_quantiles;
  m->out_names = calloc((size_t)(Q + 2 + N_INTERP), sizeof *m->out_names);
  if (!m->feat_names || !m->feat_categorical || !m->feat_type || !t->cols || !m->out_names)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  /* the series id is optional: a file imported without --series-id is one
   * series, named "all" as the import names it */
  KZ_TRY(add_col(m, tm->series_field_name, R_SERIES, 0, 1, 1));
  KZ_TRY(add_col(m, time_col, R_TIME, 0, 0, 0));
  KZ_TRY(add_col(m, target_col, R_TARGET, 0, 0, 0));
  for (int i = 0; i < tm->n_snum; i++) KZ_TRY(add_col(m, tm->snum[i], R_SNUM, i, 0, 0));
  for (int i = 0; i < tm->n_scat; i++) KZ_TRY(add_col(m, tm->scat[i], R_SCAT, i, 1, 0));
  for (int i = 0; i < tm->n_known_cols; i++) KZ_TRY(add_col(m, tm->known[i], R_KNOWN, i, 0, 0));
  for (int i = 0; i < tm->n_obs; i++) KZ_TRY(add_col(m, tm->obs[i], R_OBS, i, 0, 0));
  for (int i = 0; i < ntvc; i++) KZ_TRY(add_col(m, tm->tvc[i], R_TVC, i, 1, 0));
  t->n_cols = m->n_feat;
  for (int k = 0; k < t->n_cols; k++) {
    const tcol *c = &t->cols[k];
    if (c->role == R_KNOWN || (c->role == R_TVC && c->idx >= tm->n_ocat))
      KZ_TRY(add_col(m, m->feat_names[k], R_FUTURE, k, m->feat_categorical[k], 1));
  }
  m->out_names[m->n_out++] = dup_str("series");
  m->out_names[m->n_out++] = dup_str("time");
  for (int q = 0; q < Q; q++) {
    char name[32];
    snprintf(name, sizeof name, "p%g", 100.0 * tm->dm.quantiles[q]);
    m->out_names[m->n_out++] = dup_str(name);
  }
  t->n_fore = m->n_out;
  for (int i = 0; i < N_INTERP; i++) m->out_names[m->n_out++] = dup_str(interp_names[i]);
  for (int k = 0; k < m->n_out; k++)
    if (!m->out_names[k]) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  name_variables(t);
  return KZ_OK;
}

void kz_serve_tft_free(kz_serve_model *m) {
  if (!m->tft) return;
  kz_tft_batch_free(&m->tft->hb);
  free(m->tft->pred), free(m->tft->cols);
  free(m->tft);
  m->tft = NULL;
}

int64_t kz_serve_tft_unseen(const kz_serve_model *m) {
  return m->tft ? __atomic_load_n(&m->tft->unseen, __ATOMIC_RELAXED) : 0;
}

/* ---- requests --------------------------------------------------------------- */

void kz_serve_tft_req_free(kz_serve_tft_req *q) {
  if (!q) return;
  for (int64_t i = 0; q->names && i < q->st.n; i++) free(q->names[i]);
  free(q->names), free(q->hist);
  kz_tft_store_free(&q->st);
  free(q);
}

/* The text of element i (NULL: missing), as request.c gives cells: FP32
 * with 9 significant digits, FP64 with 17, so they parse back the same. */
static const char *cell(const kz_infer_tensor *t, int64_t i, char *num, size_t cap) {
  switch (t->datatype) {
  case KZ_TYPE_FP32: {
    float x = ((const float *)t->data)[i];
    if (isnan(x)) return NULL;
    snprintf(num, cap, "%.9g", (double)x);
    return num;
  }
  case KZ_TYPE_FP64: {
    double x = ((const double *)t->data)[i];
    if (isnan(x)) return NULL;
    snprintf(num, cap, "%.17g", x);
    return num;
  }
  case KZ_TYPE_INT32:
    snprintf(num, cap, "%" PRId32, ((const int32_t *)t->data)[i]);
    return num;
  case KZ_TYPE_INT64:
    snprintf(num, cap, "%" PRId64, ((const int64_t *)t->data)[i]);
    return num;
  case KZ_TYPE_BYTES:
    return ((const char *const *)t->data)[i];
  default:
    return NULL;
  }
}

typedef struct parse_ctx {
  const kz_serve_model *m;
  const kz_tft_model *tm;
  const kz_infer_request *r;
  int *slot;    /* per column: the request's input, -1 absent */
  int64_t rows; /* history rows */
  int32_t *row_series;
  int64_t unseen;
  int time_format; /* the first row's (kz_time_format); -1 before it */
  int64_t time_row;
  int64_t *first_row; /* per series: its first request row */
} parse_ctx;

static kz_status check_tensor(const parse_ctx *c, int k, const kz_infer_tensor *t) {
  const char *name = c->m->feat_names[k];
  const tcol *col = &c->m->tft->cols[k];
  if ((unsigned)t->datatype >= KZ_TYPE_COUNT || t->datatype == KZ_TYPE_BOOL)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': datatype %s is not accepted", name,
                   kz_datatype_name(t->datatype));
  if (c->m->feat_categorical[k] && t->datatype != KZ_TYPE_BYTES)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s' is categorical: send its values as BYTES (strings), not %s", name,
                   kz_datatype_name(t->datatype));
  if (!t->data) return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': no data", name);
  if (col->role == R_FUTURE) {
    const int64_t tau = c->tm->dm.tau;
    if (t->ndim < 1 || t->ndim > 2 || (t->ndim == 2 && t->shape[1] != tau))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "input '%s': shape must be [series x horizon] or [series, %lld]", name,
                     (long long)tau);
    return KZ_OK;
  }
  if (t->ndim < 1 || t->ndim > 2 || (t->ndim == 2 && t->shape[1] != 1))
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': shape must be [rows] or [rows, 1]", name);
  return KZ_OK;
}

static kz_status match(parse_ctx *c) {
  const kz_serve_model *m = c->m;
  const kz_infer_request *r = c->r;
  const char *first = NULL;
  for (int k = 0; k < m->n_feat; k++) c->slot[k] = -1;
  c->rows = -1;
  if (r->n_inputs < 0 || (r->n_inputs > 0 && !r->inputs))
    return kz_fail(KZ_ERR_INVALID_ARG, "bad input list");
  for (int i = 0; i < r->n_inputs; i++) {
    const kz_infer_tensor *t = &r->inputs[i];
    if (!t->name) return kz_fail(KZ_ERR_INVALID_ARG, "input %d has no name", i);
    int k = -1;
    for (int j = 0; j < m->n_feat && k < 0; j++)
      if (!strcmp(m->feat_names[j], t->name)) k = j;
    if (k < 0 && r->ignore_unknown_inputs) continue;
    if (k < 0) {
      char names[512];
      size_t used = 0;
      names[0] = '\0';
      for (int j = 0; j < m->n_feat && used + 8 < sizeof names; j++) {
        int w =
            snprintf(names + used, sizeof names - used, "%s%s", j ? ", " : "", m->feat_names[j]);
        used = w > 0 && (size_t)w < sizeof names - used ? used + (size_t)w : sizeof names;
      }
      return kz_fail(KZ_ERR_INVALID_ARG, "model '%s' has no input '%s' (its inputs: %s)", m->name,
                     t->name, names);
    }
    if (c->slot[k] >= 0) return kz_fail(KZ_ERR_INVALID_ARG, "input '%s' given twice", t->name);
    KZ_TRY(check_tensor(c, k, t));
    c->slot[k] = i;
    if (m->tft->cols[k].role == R_FUTURE) continue;
    if (c->rows >= 0 && t->shape[0] != c->rows)
      return kz_fail(KZ_ERR_INVALID_ARG, "input '%s' has %lld rows, '%s' has %lld", t->name,
                     (long long)t->shape[0], first, (long long)c->rows);
    c->rows = t->shape[0];
    if (!first) first = t->name;
  }
  for (int k = 0; k < m->tft->n_cols; k++) {
    const tcol *col = &m->tft->cols[k];
    if (c->slot[k] >= 0 || col->optional) continue;
    static const char *const what[] = {
        "series id",          "time",          "target",           "static numeric",
        "static categorical", "known numeric", "observed numeric", "time-varying categorical"};
    return kz_fail(KZ_ERR_INVALID_ARG, "missing input '%s', the model's %s column",
                   m->feat_names[k], what[col->role]);
  }
  if (c->rows < 1) return kz_fail(KZ_ERR_INVALID_ARG, "the request holds no history rows");
  return KZ_OK;
}

/* A number cell (NaN when missing) read as import reads one. */
static kz_status number(const parse_ctx *c, int k, int64_t row, const char *v, float *out) {
  double x = 0;
  if (!v || kz_is_missing(v, strlen(v))) {
    *out = NAN;
    return KZ_OK;
  }
  int rc = kz_parse_number(v, strlen(v), &x);
  if (!rc)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': row %lld: '%.40s' is not a number",
                   c->m->feat_names[k], (long long)row, v);
  if (kz_number_overflows_f32(rc, x))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s': row %lld: '%.40s' is out of the float32 range the model reads",
                   c->m->feat_names[k], (long long)row, v);
  *out = (float)x;
  return KZ_OK;
}

/* A category cell: the model's code, -1 missing or never seen (counted). */
static int32_t category(parse_ctx *c, char *const *names, int32_t n, const char *v) {
  if (!v || kz_is_missing(v, strlen(v))) return -1;
  for (int32_t j = 0; j < n; j++)
    if (!strcmp(names[j], v)) return j;
  c->unseen++;
  return -1;
}

static const char *input_cell(const parse_ctx *c, int k, int64_t i, char *num, size_t cap) {
  return c->slot[k] < 0 ? NULL : cell(&c->r->inputs[c->slot[k]], i, num, cap);
}

static uint64_t name_hash(const char *v) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (; *v; ++v) h = (h ^ (unsigned char)*v) * 1099511628211ULL;
  return h;
}

/* The slot of v in the index (open addressing, a power-of-two size): the
 * series there, or -1 at an empty slot where it would go. */
static int64_t *slot_of(int64_t *index, int64_t size, char *const *names, const char *v) {
  for (uint64_t h = name_hash(v);; ++h) {
    int64_t *e = &index[h & (uint64_t)(size - 1)];
    if (*e < 0 || !strcmp(names[*e], v)) return e;
  }
}

/* Room for one more series: names, series, hist and an index at most half
 * full (rebuilt when it grows). */
static kz_status grow_series(kz_serve_tft_req *q, int64_t *cap, int64_t **index, int64_t *size) {
  if (q->st.n == *cap) {
    *cap = *cap ? 2 * *cap : 16;
    char **nn = realloc(q->names, sizeof *nn * (size_t)*cap);
    if (nn) q->names = nn;
    kz_tft_series *ns = nn ? realloc(q->st.s, sizeof *ns * (size_t)*cap) : NULL;
    if (ns) q->st.s = ns;
    int64_t *nh = ns ? realloc(q->hist, sizeof *nh * (size_t)*cap) : NULL;
    if (!nh) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    q->hist = nh;
  }
  if (2 * (q->st.n + 1) <= *size) return KZ_OK;
  int64_t n = *size ? 2 * *size : 64;
  int64_t *ix = malloc(sizeof *ix * (size_t)n);
  if (!ix) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < n; i++) ix[i] = -1;
  for (int64_t i = 0; i < q->st.n; i++) *slot_of(ix, n, q->names, q->names[i]) = i;
  free(*index);
  *index = ix, *size = n;
  return KZ_OK;
}

/* Rows to series: names in order of first appearance, row_series per row. */
static kz_status group(parse_ctx *c, kz_serve_tft_req *q) {
  int64_t cap = 0, size = 0, *index = NULL;
  char num[64];
  kz_status st = KZ_OK;
  for (int64_t i = 0; st == KZ_OK && i < c->rows; i++) {
    const char *v = c->slot[0] < 0 ? "all" : input_cell(c, 0, i, num, sizeof num);
    if (!v) {
      st = kz_fail(KZ_ERR_INVALID_ARG, "input '%s': row %lld: the series id is missing",
                   c->m->feat_names[0], (long long)i);
      break;
    }
    if ((st = grow_series(q, &cap, &index, &size)) != KZ_OK) break;
    int64_t *e = slot_of(index, size, q->names, v);
    if (*e < 0) {
      const int64_t s = q->st.n;
      memset(&q->st.s[s], 0, sizeof q->st.s[s]);
      q->hist[s] = 0;
      if (!(q->names[s] = dup_str(v))) {
        st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
        break;
      }
      q->st.n++;
      *e = s;
    }
    c->row_series[i] = (int32_t)*e;
    q->hist[*e]++;
  }
  free(index);
  return st;
}

static kz_status alloc_series(const kz_tft_model *tm, kz_tft_series *s, int64_t n) {
  const int64_t nk = kz_tft_known_width(tm), no = tm->n_obs, nc = tm->n_ocat + tm->n_kcat;
  s->cap = n;
  s->time = malloc(sizeof(double) * (size_t)n);
  s->y = malloc(sizeof(float) * (size_t)n);
  s->known = malloc(sizeof(float) * (size_t)(n * (nk ? nk : 1)));
  s->obs = malloc(sizeof(float) * (size_t)(n * (no ? no : 1)));
  s->cat = malloc(sizeof(int32_t) * (size_t)(n * (nc ? nc : 1)));
  if (!s->time || !s->y || !s->known || !s->obs || !s->cat)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory for a series of %lld steps", (long long)n);
  return KZ_OK;
}

static kz_status parse_time(parse_ctx *c, int k, int64_t row, const char *v, double *t) {
  const char *why = NULL, *name = c->m->feat_names[k];
  if (!v || kz_is_missing(v, strlen(v)))
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': row %lld: the time is missing", name,
                   (long long)row);
  int f = kz_parse_time(v, strlen(v), t, &why);
  if (f < 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s': row %lld: '%.40s' is not a time (a number, a date YYYY-MM-DD or "
                   "a datetime)%s%s",
                   name, (long long)row, v, why ? ": " : "", why ? why : "");
  /* one format per request, as import wants one per file; the model file
   * does not record which (its schema may), but calendar features were
   * only ever trained on dates or datetimes */
  const char *tf = c->m->tft->time_format, *fn = kz_time_format_name((kz_time_format)f);
  if (tf && strcmp(tf, fn))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s': row %lld: '%.40s' is a %s; the model's times are %ss", name,
                   (long long)row, v, fn, tf);
  if (c->tm->n_cal > 0 && f == KZ_TIME_NUMBER)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s': row %lld: '%.40s' is a number; the model reads calendar features "
                   "from dates or datetimes",
                   name, (long long)row, v);
  if (c->time_format >= 0 && f != c->time_format)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s': row %lld: '%.40s' is a %s, but row %lld is a %s; send one format",
                   name, (long long)row, v, fn, (long long)c->time_row,
                   kz_time_format_name((kz_time_format)c->time_format));
  if (c->time_format < 0) c->time_format = f, c->time_row = row;
  return KZ_OK;
}

/* A static column holds one value per series, as import requires: row i's
 * value (numeric: as a number, so "1" and "1.0" agree) against row r0's. */
static kz_status same_static(parse_ctx *c, int k, int64_t i, int64_t r0, const char *series,
                             int numeric) {
  char a[64], b[64];
  const char *v = input_cell(c, k, i, a, sizeof a), *w = input_cell(c, k, r0, b, sizeof b);
  int same;
  if (numeric) {
    float x, y;
    KZ_TRY(number(c, k, i, v, &x));
    KZ_TRY(number(c, k, r0, w, &y));
    same = x == y || (isnan(x) && isnan(y));
  } else {
    int mv = !v || kz_is_missing(v, strlen(v)), mw = !w || kz_is_missing(w, strlen(w));
    same = mv || mw ? mv == mw : !strcmp(v, w);
  }
  if (same) return KZ_OK;
  return kz_fail(KZ_ERR_INVALID_ARG,
                 "input '%s': row %lld: series '%s' has '%.40s' here but '%.40s' at row %lld; a "
                 "static column holds one value per series",
                 c->m->feat_names[k], (long long)i, series, v ? v : "null", w ? w : "null",
                 (long long)r0);
}

/* Step j of series s from request row i. */
static kz_status put_row(parse_ctx *c, const kz_serve_tft_req *q, int32_t si, int64_t j,
                         int64_t i) {
  const kz_serve_model *m = c->m;
  const kz_tft_model *tm = c->tm;
  kz_tft_series *s = &q->st.s[si];
  const int nk = kz_tft_known_width(tm), ntvc = tm->n_ocat + tm->n_kcat;
  char num[64];
  for (int k = 1; k < m->tft->n_cols; k++) {
    const tcol *col = &m->tft->cols[k];
    const char *v = input_cell(c, k, i, num, sizeof num);
    switch (col->role) {
    case R_TIME:
      KZ_TRY(parse_time(c, k, i, v, &s->time[j]));
      if (j > 0 && !(s->time[j] > s->time[j - 1]))
        return kz_fail(KZ_ERR_INVALID_ARG,
                       "series '%s': row %lld: time '%.40s' does not follow the series' "
                       "previous row (a series' rows must be in increasing time order)",
                       q->names[si], (long long)i, v);
      break;
    case R_TARGET:
      KZ_TRY(number(c, k, i, v, &s->y[j]));
      break;
    case R_KNOWN:
      KZ_TRY(number(c, k, i, v, &s->known[j * nk + col->idx]));
      break;
    case R_OBS:
      KZ_TRY(number(c, k, i, v, &s->obs[j * tm->n_obs + col->idx]));
      break;
    case R_TVC:
      s->cat[j * ntvc + col->idx] = category(c, tm->tvc_names[col->idx], tm->tvc_card[col->idx], v);
      break;
    case R_SNUM: /* statics: from the series' first row, as the shards give them */
      if (j == 0) KZ_TRY(number(c, k, i, v, &s->s_num[col->idx]));
      if (j > 0) KZ_TRY(same_static(c, k, i, c->first_row[si], q->names[si], 1));
      break;
    case R_SCAT:
      if (j == 0)
        s->s_cat[col->idx] = category(c, tm->scat_names[col->idx], tm->scat_card[col->idx], v);
      if (j > 0) KZ_TRY(same_static(c, k, i, c->first_row[si], q->names[si], 0));
      break;
    default:
      break;
    }
  }
  for (int d = tm->n_known_cols; d < nk; d++)
    s->known[j * nk + d] = (float)kz_tft_derived(tm, s->time[j], d - tm->n_known_cols);
  return KZ_OK;
}

/* The horizon after series si's history: times a step apart, known values
 * from the future inputs or carried forward, derived features from the
 * times, targets missing. */
static kz_status put_future(parse_ctx *c, const kz_serve_tft_req *q, int32_t si) {
  const kz_serve_model *m = c->m;
  const kz_tft_model *tm = c->tm;
  kz_tft_series *s = &q->st.s[si];
  const int64_t n = q->hist[si], tau = tm->dm.tau;
  const int nk = kz_tft_known_width(tm), ntvc = tm->n_ocat + tm->n_kcat, no = tm->n_obs;
  char num[64];
  for (int64_t t = 0; t < tau; t++) {
    const int64_t j = n + t;
    s->time[j] = s->time[n - 1] + (double)(t + 1) * tm->time_step;
    s->y[j] = NAN;
    for (int i = 0; i < no; i++) s->obs[j * no + i] = NAN;
    memcpy(s->known + j * nk, s->known + (n - 1) * nk, sizeof(float) * (size_t)nk);
    memcpy(s->cat + j * ntvc, s->cat + (n - 1) * ntvc, sizeof(int32_t) * (size_t)ntvc);
    for (int k = m->tft->n_cols; k < m->n_feat; k++) {
      if (c->slot[k] < 0) continue;
      const tcol *hc = &m->tft->cols[m->tft->cols[k].idx];
      const int64_t e = (int64_t)si * tau + t;
      const char *v = input_cell(c, k, e, num, sizeof num);
      if (hc->role == R_KNOWN)
        KZ_TRY(number(c, k, e, v, &s->known[j * nk + hc->idx]));
      else
        s->cat[j * ntvc + hc->idx] = category(c, tm->tvc_names[hc->idx], tm->tvc_card[hc->idx], v);
    }
    for (int d = tm->n_known_cols; d < nk; d++)
      s->known[j * nk + d] = (float)kz_tft_derived(tm, s->time[j], d - tm->n_known_cols);
  }
  s->n = n + tau;
  return KZ_OK;
}

static kz_status build(parse_ctx *c, kz_serve_tft_req *q) {
  const kz_tft_model *tm = c->tm;
  const int64_t k = tm->dm.k, tau = tm->dm.tau;
  KZ_TRY(group(c, q));
  const int64_t S = q->st.n;
  if (S > c->m->batching.max_batch_size)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%lld series exceed the model's max_batch_size (%lld); split the request",
                   (long long)S, (long long)c->m->batching.max_batch_size);
  for (int64_t i = 0; i < S; i++)
    if (q->hist[i] < k)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "series '%s' has %lld history rows; the model needs at least its "
                     "encoder_length, %lld",
                     q->names[i], (long long)q->hist[i], (long long)k);
  for (int k2 = c->m->tft->n_cols; k2 < c->m->n_feat; k2++) {
    if (c->slot[k2] < 0) continue;
    const kz_infer_tensor *t = &c->r->inputs[c->slot[k2]];
    const int64_t have = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
    if (have != S * tau)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "input '%s': %lld values; it needs horizon (%lld) values for each of the "
                     "%lld series, in the order the series first appear",
                     c->m->feat_names[k2], (long long)have, (long long)tau, (long long)S);
  }
  for (int64_t i = 0; i < S; i++) {
    kz_tft_series *s = &q->st.s[i];
    KZ_TRY(alloc_series(tm, s, q->hist[i] + tau));
    s->code = -1;
    for (int32_t j = 0; j < tm->n_series; j++)
      if (!strcmp(tm->series_names[j], q->names[i])) s->code = j;
  }
  if (!(c->first_row = malloc(sizeof(int64_t) * (size_t)S)))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = c->rows - 1; i >= 0; i--) c->first_row[c->row_series[i]] = i;
  for (int64_t i = 0; i < c->rows; i++) {
    kz_tft_series *s = &q->st.s[c->row_series[i]];
    KZ_TRY(put_row(c, q, c->row_series[i], s->n, i));
    s->n++;
  }
  for (int64_t i = 0; i < S; i++) KZ_TRY(put_future(c, q, (int32_t)i));
  return KZ_OK;
}

kz_status kz_serve_tft_parse(const kz_serve_model *m, const kz_infer_request *r,
                             kz_serve_job *job) {
  parse_ctx c = {.m = m, .tm = m->tft->tm, .r = r, .time_format = -1};
  kz_serve_tft_req *q = calloc(1, sizeof *q);
  c.slot = malloc(sizeof(int) * (size_t)m->n_feat);
  if (!q || !c.slot) {
    free(q), free(c.slot);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  kz_status st = match(&c);
  if (st == KZ_OK && !(c.row_series = malloc(sizeof(int32_t) * (size_t)c.rows)))
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory for %lld rows", (long long)c.rows);
  if (st == KZ_OK) st = build(&c, q);
  free(c.slot), free(c.row_series), free(c.first_row);
  if (st != KZ_OK) {
    kz_serve_tft_req_free(q);
    return st;
  }
  __atomic_fetch_add(&m->tft->unseen, c.unseen, __ATOMIC_RELAXED);
  job->tft = q;
  job->rows = q->st.n;
  return KZ_OK;
}

/* ---- the worker -------------------------------------------------------------- */

static int wants_interp(const kz_serve_model *m, const kz_serve_job *job) {
  for (int k = 0; k < job->n_want; k++)
    if (job->want[k] >= m->tft->n_fore) return 1;
  return 0;
}

/* One network call over the windows of jobs[i] for the i with pick[i] set;
 * forecasts into res->q at each job's first window off[i]; with interp, the
 * interpretation (averaged over these windows) into res->interp[off[i]]. */
static kz_status run_windows(kz_serve_model *m, kz_serve_job *const *jobs, int n, const char *pick,
                             const int64_t *off, int interp, kz_serve_tft_out *res) {
  kz_serve_tft *t = m->tft;
  kz_tft_model *tm = t->tm;
  const kz_tft_dims *dm = &tm->dm;
  const int64_t tau = dm->tau, Q = dm->n_quantiles;
  int64_t B = 0;
  for (int j = 0; j < n; j++)
    if (pick[j]) B += jobs[j]->tft->st.n;
  if (B == 0) return KZ_OK;
  KZ_TRY(kz_tft_batch_reserve(tm, &t->hb, B));
  if (B > t->pred_cap) {
    free(t->pred);
    t->pred_cap = 0;
    if (!(t->pred = malloc(sizeof(float) * (size_t)(B * tau * Q))))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory for %lld forecasts", (long long)B);
    t->pred_cap = B;
  }
  /* the windows end at each series' history: kz_tft_batch_put fills them
   * as predict's do (B set first: it is the layout's stride) */
  t->hb.B = B;
  int64_t w = 0;
  for (int j = 0; j < n; j++) {
    if (!pick[j]) continue;
    const kz_serve_tft_req *q = jobs[j]->tft;
    for (int64_t i = 0; i < q->st.n; i++)
      kz_tft_batch_put(tm, &q->st, &t->hb, w++, (int32_t)i, q->hist[i]);
  }
  kz_tft_batch bt = kz_tft_batch_view(&t->hb, B);
  double loss;
  int64_t lab;
  KZ_TRY(kz_tft_net_step(tm->net, &bt, false, 0.0, &loss, &lab, t->pred));
  w = 0;
  for (int j = 0; j < n; j++) {
    if (!pick[j]) continue;
    for (int64_t i = 0; i < jobs[j]->tft->st.n; i++, w++) {
      const double mean = t->hb.loc[w], sd = t->hb.scl[w];
      double *dst = res->q + (off[j] + i) * tau * Q;
      for (int64_t h = 0; h < tau; h++) {
        float *pr = t->pred + (h * B + w) * Q;
        if (tm->sort_quantiles) /* as predict: insertion sort of a handful */
          for (int64_t a = 1; a < Q; a++)
            for (int64_t b = a; b > 0 && pr[b] < pr[b - 1]; b--) {
              float x = pr[b];
              pr[b] = pr[b - 1], pr[b - 1] = x;
            }
        for (int64_t a = 0; a < Q; a++) dst[h * Q + a] = kz_tft_untr(tm, (double)pr[a] * sd + mean);
      }
    }
    if (interp) {
      const int64_t T = dm->k + tau;
      double *x = malloc(sizeof(double) * (size_t)(t->nv[0] + t->nv[1] + t->nv[2] + tau * T + 1));
      if (!x) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory for the interpretation");
      res->interp[off[j]] = x;
      KZ_TRY(kz_tft_net_interpret(tm->net, x, x + t->nv[0], x + t->nv[0] + t->nv[1],
                                  x + t->nv[0] + t->nv[1] + t->nv[2]));
    }
  }
  return KZ_OK;
}

kz_status kz_serve_tft_run(kz_serve_model *m, kz_serve_job *const *jobs, int n,
                           kz_serve_tft_out **out) {
  const kz_tft_dims *dm = &m->tft->tm->dm;
  const int64_t tau = dm->tau, Q = dm->n_quantiles;
  *out = NULL;
  int64_t B = 0;
  int64_t *off = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
  char *pick = calloc((size_t)(n ? n : 1), 1);
  kz_serve_tft_out *res = calloc(1, sizeof *res);
  if (!off || !pick || !res) {
    free(off), free(pick), free(res);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  for (int j = 0; j < n; j++) {
    off[j] = B;
    if (jobs[j]->resp->status == KZ_OK) B += jobs[j]->tft->st.n;
  }
  res->B = B;
  res->q = malloc(sizeof(double) * (size_t)((B ? B : 1) * tau * Q));
  res->interp = calloc((size_t)(B ? B : 1), sizeof *res->interp);
  kz_status st = res->q && res->interp ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  /* The network reports the interpretation averaged over its batch, so a
   * request that asks for it runs alone (its own series' average); the
   * others run together. */
  for (int j = 0; j < n; j++) pick[j] = jobs[j]->resp->status == KZ_OK && !wants_interp(m, jobs[j]);
  if (st == KZ_OK) st = run_windows(m, jobs, n, pick, off, 0, res);
  for (int j = 0; st == KZ_OK && j < n; j++) {
    if (jobs[j]->resp->status != KZ_OK || !wants_interp(m, jobs[j])) continue;
    memset(pick, 0, (size_t)n);
    pick[j] = 1;
    st = run_windows(m, jobs, n, pick, off, 1, res);
  }
  free(off), free(pick);
  if (st != KZ_OK) {
    kz_serve_tft_out_free(res);
    return st;
  }
  *out = res;
  return KZ_OK;
}

void kz_serve_tft_out_free(kz_serve_tft_out *res) {
  if (!res) return;
  for (int64_t w = 0; res->interp && w < res->B; w++) free(res->interp[w]);
  free(res->interp);
  free(res->q);
  free(res);
}

/* Interpretation output i (OUT_*) from x (run_windows' layout). */
static kz_status interp_output(const kz_serve_model *m, const double *x, int i, kz_serve_out *so) {
  const kz_serve_tft *t = m->tft;
  const kz_tft_dims *dm = &t->tm->dm;
  if (!x) return kz_fail(KZ_ERR_INTERNAL, "tft: no interpretation was computed");
  int64_t at = 0, n;
  for (int g = 0; g < i && g < 3; g++) at += t->nv[g];
  so->type = KZ_TYPE_FP64;
  if (i == OUT_ATTENTION) {
    so->ndim = 2, so->shape[0] = dm->tau, so->shape[1] = dm->k + dm->tau;
    n = so->shape[0] * so->shape[1];
  } else {
    so->ndim = 1, so->shape[0] = n = t->nv[i];
  }
  if (!(so->f64 = malloc(sizeof(double) * (size_t)(n ? n : 1))))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
  memcpy(so->f64, x + at, sizeof(double) * (size_t)n);
  return KZ_OK;
}

kz_status kz_serve_tft_finish(const kz_serve_model *m, const kz_serve_tft_out *res, int64_t at,
                              const kz_serve_job *job) {
  const kz_tft_model *tm = m->tft->tm;
  const int64_t tau = tm->dm.tau, Q = tm->dm.n_quantiles, S = job->rows;
  const kz_serve_tft_req *q = job->tft;
  kz_infer_response *r = job->resp;
  KZ_TRY(kz_serve_response_outputs(r, job->n_want));
  for (int k = 0; k < job->n_want; k++) {
    const int o = job->want[k];
    kz_serve_out *so = &r->outs[k];
    if (!(so->name = dup_str(m->out_names[o]))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
    if (o == 0) { /* series */
      so->type = KZ_TYPE_BYTES, so->ndim = 1, so->shape[0] = S;
      if (!(so->str = calloc((size_t)S, sizeof *so->str)))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
      for (int64_t i = 0; i < S; i++)
        if (!(so->str[i] = dup_str(q->names[i]))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
      continue;
    }
    if (o >= m->tft->n_fore) {
      KZ_TRY(interp_output(m, res->interp[at], o - m->tft->n_fore, so));
      continue;
    }
    so->type = KZ_TYPE_FP64, so->ndim = 2, so->shape[0] = S, so->shape[1] = tau;
    if (!(so->f64 = malloc(sizeof(double) * (size_t)(S * tau))))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
    for (int64_t i = 0; i < S; i++)
      for (int64_t h = 0; h < tau; h++)
        so->f64[i * tau + h] =
            o == 1 ? q->st.s[i].time[q->hist[i] + h] : res->q[((at + i) * tau + h) * Q + (o - 2)];
  }
  return KZ_OK;
}

/* ---- metadata ---------------------------------------------------------------- */

static const char *role_name(enum role r) {
  static const char *const names[] = {"series", "time",     "target",      "static", "static",
                                      "known",  "observed", "categorical", "future"};
  return names[r];
}

void kz_serve_tft_metadata(const kz_serve_model *m, void *inputs_, void *outputs_, void *params_) {
  json_t *inputs = inputs_, *outputs = outputs_, *params = params_;
  const kz_tft_model *tm = m->tft->tm;
  const int64_t tau = tm->dm.tau;
  for (int k = 0; k < m->n_feat; k++) {
    const tcol *c = &m->tft->cols[k];
    const int fut = c->role == R_FUTURE;
    enum role role = fut ? m->tft->cols[c->idx].role : c->role;
    int tvc = fut ? m->tft->cols[c->idx].idx : c->idx;
    const char *kind = role_name(role);
    if (role == R_TVC) kind = tvc < tm->n_ocat ? "observed" : "known";
    json_t *p = json_pack("{s:s, s:b}", "role", fut ? "future" : kind, "optional", c->optional);
    if (m->feat_categorical[k] && role != R_SERIES) {
      json_t *cats = json_array();
      char *const *names = role == R_SCAT ? tm->scat_names[c->idx] : tm->tvc_names[tvc];
      int32_t n = role == R_SCAT ? tm->scat_card[c->idx] : tm->tvc_card[tvc];
      for (int32_t j = 0; j < n; j++) json_array_append_new(cats, json_string(names[j]));
      json_object_set_new(p, "categories", cats);
    }
    if (role == R_TIME && m->tft->time_format)
      json_object_set_new(p, "time_format", json_string(m->tft->time_format));
    json_t *t = fut ? json_pack("{s:s, s:s, s:[i, I]}", "name", m->feat_names[k], "datatype",
                                kz_datatype_name(m->feat_type[k]), "shape", -1, (json_int_t)tau)
                    : json_pack("{s:s, s:s, s:[i]}", "name", m->feat_names[k], "datatype",
                                kz_datatype_name(m->feat_type[k]), "shape", -1);
    if (t) json_object_set_new(t, "parameters", p);
    json_array_append_new(inputs, t);
  }
  for (int k = 0; k < m->tft->n_fore; k++)
    json_array_append_new(outputs,
                          k == 0 ? json_pack("{s:s, s:s, s:[i]}", "name", m->out_names[k],
                                             "datatype", "BYTES", "shape", -1)
                                 : json_pack("{s:s, s:s, s:[i, I]}", "name", m->out_names[k],
                                             "datatype", "FP64", "shape", -1, (json_int_t)tau));
  /* asked for by name only: they make the request run alone */
  for (int i = 0; i < N_INTERP; i++) {
    json_t *o = i == OUT_ATTENTION
                    ? json_pack("{s:s, s:s, s:[I, I]}", "name", interp_names[i], "datatype", "FP64",
                                "shape", (json_int_t)tau, (json_int_t)(tm->dm.k + tau))
                    : json_pack("{s:s, s:s, s:[i]}", "name", interp_names[i], "datatype", "FP64",
                                "shape", m->tft->nv[i]);
    json_t *p = json_pack("{s:b}", "default", 0);
    if (i != OUT_ATTENTION) {
      json_t *names = json_array();
      for (int v = 0; v < m->tft->nv[i]; v++)
        json_array_append_new(names,
                              json_string(m->tft->vnames[i][v] ? m->tft->vnames[i][v] : "?"));
      json_object_set_new(p, "variables", names);
    }
    if (o) json_object_set_new(o, "parameters", p);
    json_array_append_new(outputs, o);
  }
  json_t *qs = json_array();
  for (int64_t q = 0; q < tm->dm.n_quantiles; q++)
    json_array_append_new(qs, json_real(tm->dm.quantiles[q]));
  json_object_set_new(params, "encoder_length", json_integer((json_int_t)tm->dm.k));
  json_object_set_new(params, "horizon", json_integer((json_int_t)tau));
  json_object_set_new(params, "quantiles", qs);
  json_object_set_new(params, "time_step", json_real(tm->time_step));
  json_object_set_new(params, "series_seen", json_integer(tm->n_series));
}
