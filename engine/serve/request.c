/* Requests checked and converted on the caller's thread, before they queue:
 * every input becomes the text of its cells, laid out in the model's feature
 * order, so the worker scores them with kz_predictor_predict exactly as
 * `kaizen predict --input` scores a file's cells. Numbers are written with
 * enough digits to parse back to the same value (FP32 %.9g, FP64 %.17g, as
 * the JSON-lines reader writes reals), so the mapping is the same bit for bit. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/serve/server_internal.h"
#include "kernels/core/error.h"

static const char *const type_names[KZ_TYPE_COUNT] = {"BOOL", "INT32", "INT64",
                                                      "FP32", "FP64",  "BYTES"};

const char *kz_datatype_name(kz_datatype t) {
  return (unsigned)t < KZ_TYPE_COUNT ? type_names[t] : "?";
}

int kz_datatype_parse(const char *name, kz_datatype *out) {
  for (int t = 0; t < KZ_TYPE_COUNT; ++t)
    if (name && !strcmp(name, type_names[t])) {
      *out = (kz_datatype)t;
      return 1;
    }
  return 0;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

kz_infer_response *kz_serve_response_new(const char *model, int64_t version, const char *id) {
  kz_infer_response *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->model = dup_str(model ? model : "");
  r->id = dup_str(id ? id : "");
  r->version = version;
  if (!r->model || !r->id) {
    kz_infer_response_free(r);
    return NULL;
  }
  return r;
}

kz_status kz_serve_response_fail(kz_infer_response *r, kz_status status, const char *msg) {
  r->status = status;
  free(r->error);
  r->error = dup_str(msg);
  return status;
}

void kz_serve_job_free(kz_serve_job *job) {
  if (!job) return;
  kz_infer_response_free(job->resp);
  free(job->cells), free(job->text), free(job->want);
  kz_serve_tft_req_free(job->tft);
  free(job);
}

/* ---- text of the cells ----------------------------------------------------- */

typedef struct text_buf {
  char *s;
  size_t len, cap;
} text_buf;

/* Appends v (n bytes) plus a NUL; returns its offset or -1 on failure. */
static int64_t put_text(text_buf *b, const char *v, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (b->len + n + 1 > cap) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) return -1;
    b->s = s, b->cap = cap;
  }
  memcpy(b->s + b->len, v, n);
  b->s[b->len + n] = '\0';
  int64_t at = (int64_t)b->len;
  b->len += n + 1;
  return at;
}

/* The text of element i of t in *v; returns 0 for a missing value (NaN, NULL). */
static int element_text(const kz_infer_tensor *t, int64_t i, char *num, size_t cap,
                        const char **v) {
  switch (t->datatype) {
  case KZ_TYPE_FP32: {
    float x = ((const float *)t->data)[i];
    if (isnan(x)) return 0;
    snprintf(num, cap, "%.9g", (double)x);
    break;
  }
  case KZ_TYPE_FP64: {
    double x = ((const double *)t->data)[i];
    if (isnan(x)) return 0;
    snprintf(num, cap, "%.17g", x);
    break;
  }
  case KZ_TYPE_INT32:
    snprintf(num, cap, "%" PRId32, ((const int32_t *)t->data)[i]);
    break;
  case KZ_TYPE_INT64:
    snprintf(num, cap, "%" PRId64, ((const int64_t *)t->data)[i]);
    break;
  case KZ_TYPE_BOOL:
    snprintf(num, cap, "%s", ((const uint8_t *)t->data)[i] ? "true" : "false");
    break;
  case KZ_TYPE_BYTES:
    *v = ((const char *const *)t->data)[i];
    return *v != NULL;
  }
  *v = num;
  return 1;
}

/* ---- validation ---------------------------------------------------------- */

static int find_feature(const kz_serve_model *m, const char *name) {
  for (int k = 0; k < m->n_feat; ++k)
    if (!strcmp(m->feat_names[k], name)) return k;
  return -1;
}

/* "a, b, c" (at most cap bytes, "..." when cut) */
static void list_names(char *const *names, int n, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int k = 0; k < n && used + 4 < cap; ++k) {
    int w = snprintf(buf + used, cap - used, "%s%s", k ? ", " : "", names[k]);
    if (w < 0 || (size_t)w >= cap - used) {
      snprintf(buf + (cap > 4 ? cap - 4 : 0), 4, "...");
      return;
    }
    used += (size_t)w;
  }
}

static kz_status check_input(const kz_serve_model *m, const kz_infer_request *r, int i, int k,
                             int64_t *rows, const char **first) {
  const kz_infer_tensor *t = &r->inputs[i];
  const char *name = t->name;
  if ((unsigned)t->datatype >= KZ_TYPE_COUNT)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': unknown datatype %d", name, (int)t->datatype);
  if (m->text && t->datatype != KZ_TYPE_BYTES)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s' is text: send it as BYTES (UTF-8 strings), not %s", name,
                   kz_datatype_name(t->datatype));
  if (m->feat_categorical[k] && t->datatype != KZ_TYPE_BYTES)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s' is categorical: send its values as BYTES (category strings), not "
                   "%s",
                   name, kz_datatype_name(t->datatype));
  if (t->datatype == KZ_TYPE_BOOL)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s' is numeric: BOOL is not accepted", name);
  if (t->ndim < 1 || t->ndim > 2 || (t->ndim == 2 && t->shape[1] != 1))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s': shape must be [rows] or [rows, 1] (one value a row), got %d "
                   "dimensions%s",
                   name, t->ndim, t->ndim == 2 ? " with more than one column" : "");
  if (t->shape[0] < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': %lld rows (at least 1)", name,
                   (long long)t->shape[0]);
  if (*rows >= 0 && t->shape[0] != *rows)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s' has %lld rows, '%s' has %lld", name,
                   (long long)t->shape[0], *first, (long long)*rows);
  if (!t->data) return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': no data", name);
  *rows = t->shape[0];
  if (!*first) *first = name;
  for (int64_t e = 0; m->text && e < t->shape[0]; ++e)
    KZ_TRY(kz_serve_text_check(m, name, e, ((const char *const *)t->data)[e]));
  return KZ_OK;
}

/* slot[k] = the request's input for feature k; rows shared by all. */
static kz_status match_inputs(const kz_serve_model *m, const kz_infer_request *r, int *slot,
                              int64_t *rows) {
  char names[512];
  const char *first = NULL;
  for (int k = 0; k < m->n_feat; ++k) slot[k] = -1;
  *rows = -1;
  if (r->n_inputs < 0 || (r->n_inputs > 0 && !r->inputs))
    return kz_fail(KZ_ERR_INVALID_ARG, "bad input list");
  for (int i = 0; i < r->n_inputs; ++i) {
    const char *name = r->inputs[i].name;
    if (!name) return kz_fail(KZ_ERR_INVALID_ARG, "input %d has no name", i);
    int k = find_feature(m, name);
    if (k < 0 && r->ignore_unknown_inputs) continue;
    if (k < 0) {
      list_names(m->feat_names, m->n_feat, names, sizeof names);
      return kz_fail(KZ_ERR_INVALID_ARG, "model '%s' has no input '%s' (its inputs: %s)", m->name,
                     name, names);
    }
    if (slot[k] >= 0) return kz_fail(KZ_ERR_INVALID_ARG, "input '%s' given twice", name);
    slot[k] = i;
    KZ_TRY(check_input(m, r, i, k, rows, &first));
  }
  for (int k = 0; k < m->n_feat; ++k)
    if (slot[k] < 0)
      return kz_fail(KZ_ERR_INVALID_ARG, "missing input '%s', which the model reads as a %s",
                     m->feat_names[k],
                     m->text                  ? "text (BYTES)"
                     : m->feat_categorical[k] ? "categorical feature"
                                              : "numeric feature");
  if (*rows < 0) *rows = 1;
  if (*rows > m->batching.max_batch_size)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%lld rows exceed the model's max_batch_size (%lld); split the request",
                   (long long)*rows, (long long)m->batching.max_batch_size);
  return KZ_OK;
}

static kz_status pick_outputs(const kz_serve_model *m, const kz_infer_request *r,
                              kz_serve_job *job) {
  int n = r->n_outputs > 0 ? r->n_outputs : m->tft ? kz_serve_tft_default_outputs(m) : m->n_out;
  job->want = malloc((size_t)(n ? n : 1) * sizeof *job->want);
  if (!job->want) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  job->n_want = n;
  for (int k = 0; k < n; ++k) {
    if (r->n_outputs <= 0) {
      job->want[k] = k;
      continue;
    }
    const char *name = r->outputs ? r->outputs[k] : NULL;
    int o = -1;
    for (int j = 0; name && j < m->n_out; ++j)
      if (!strcmp(m->out_names[j], name)) o = j;
    if (o < 0) {
      char names[512];
      list_names(m->out_names, m->n_out, names, sizeof names);
      return kz_fail(KZ_ERR_INVALID_ARG, "model '%s' has no output '%s' (its outputs: %s)", m->name,
                     name ? name : "(null)", names);
    }
    job->want[k] = o;
  }
  return KZ_OK;
}

static kz_status convert(const kz_serve_model *m, const kz_infer_request *r, const int *slot,
                         kz_serve_job *job) {
  int64_t n = job->rows * m->n_feat;
  int64_t *off = malloc((size_t)(n ? n : 1) * sizeof *off);
  text_buf b = {0};
  if (!off) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  char num[64];
  for (int k = 0; k < m->n_feat; ++k) {
    const kz_infer_tensor *t = &r->inputs[slot[k]];
    for (int64_t row = 0; row < job->rows; ++row) {
      const char *v = NULL;
      int64_t at = -1;
      if (element_text(t, row, num, sizeof num, &v) && (at = put_text(&b, v, strlen(v))) < 0) {
        free(off), free(b.s);
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory for the request's values");
      }
      off[row * m->n_feat + k] = at;
    }
  }
  job->text = b.s;
  job->cells = malloc((size_t)(n ? n : 1) * sizeof *job->cells);
  if (!job->cells) {
    free(off);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  for (int64_t i = 0; i < n; ++i) job->cells[i] = off[i] < 0 ? NULL : b.s + off[i];
  free(off);
  return KZ_OK;
}

kz_status kz_serve_job_new(const kz_serve_model *m, const kz_infer_request *r, int64_t t_submit,
                           kz_serve_job **out) {
  *out = NULL;
  int *slot = malloc((size_t)(m->n_feat ? m->n_feat : 1) * sizeof *slot);
  kz_serve_job *job = calloc(1, sizeof *job);
  if (!slot || !job) {
    free(slot), free(job);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  job->t_submit = t_submit;
  if (r->timeout_us > 0) job->deadline = t_submit + r->timeout_us;
  kz_status st = kz_serve_adapter_find((kz_serve_model *)m, r->adapter, &job->adapter);
  if (st == KZ_OK)
    st = m->tft ? kz_serve_tft_parse(m, r, job) : match_inputs(m, r, slot, &job->rows);
  if (st == KZ_OK) st = pick_outputs(m, r, job);
  if (st == KZ_OK && !m->tft) st = convert(m, r, slot, job);
  if (st == KZ_OK && !(job->resp = kz_serve_response_new(m->name, m->version, r->id)))
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  free(slot);
  if (st != KZ_OK) {
    kz_serve_job_free(job);
    return st;
  }
  *out = job;
  return KZ_OK;
}

/* ---- the response -------------------------------------------------------- */

kz_status kz_infer_response_status(const kz_infer_response *r) {
  return r->status;
}
const char *kz_infer_response_error(const kz_infer_response *r) {
  return r->error ? r->error : "";
}
const char *kz_infer_response_model(const kz_infer_response *r) {
  return r->model;
}
int64_t kz_infer_response_version(const kz_infer_response *r) {
  return r->version;
}
const char *kz_infer_response_id(const kz_infer_response *r) {
  return r->id;
}
int kz_infer_response_output_count(const kz_infer_response *r) {
  return r->status == KZ_OK ? r->n_out : 0;
}

kz_status kz_serve_response_outputs(kz_infer_response *r, int n) {
  r->outs = calloc((size_t)(n ? n : 1), sizeof *r->outs);
  if (!r->outs) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory for the response");
  r->n_out = n;
  return KZ_OK;
}

kz_status kz_infer_response_output(const kz_infer_response *r, int k, kz_infer_tensor *out) {
  if (!r || !out || k < 0 || k >= kz_infer_response_output_count(r))
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_infer_response_output: no output %d", k);
  const kz_serve_out *o = &r->outs[k];
  memset(out, 0, sizeof *out);
  out->name = o->name;
  out->datatype = o->type;
  out->ndim = o->ndim;
  out->shape[0] = o->shape[0];
  out->shape[1] = o->shape[1];
  out->data = o->type == KZ_TYPE_BYTES   ? (const void *)o->str
              : o->type == KZ_TYPE_INT64 ? (const void *)o->i64
                                         : (const void *)o->f64;
  return KZ_OK;
}

void kz_infer_response_timings(const kz_infer_response *r, int64_t *queue_us, int64_t *compute_us,
                               int64_t *total_us) {
  if (queue_us) *queue_us = r->queue_us;
  if (compute_us) *compute_us = r->compute_us;
  if (total_us) *total_us = r->total_us;
}

void kz_infer_response_free(kz_infer_response *r) {
  if (!r) return;
  for (int k = 0; r->outs && k < r->n_out; ++k) {
    kz_serve_out *o = &r->outs[k];
    int64_t n = o->shape[0] * (o->ndim > 1 ? o->shape[1] : 1);
    for (int64_t i = 0; o->str && i < n; ++i) free(o->str[i]);
    free(o->name), free(o->f64), free(o->i64), free(o->str);
  }
  free(r->outs);
  free(r->error), free(r->model), free(r->id);
  free(r);
}
