/* Serving a transformer (docs/SERVING.md, "Transformers: text in"): its
 * inputs are texts (BYTES), tokenised on the server with the vocabulary the
 * model file carries, and its outputs depend on the task:
 *   classification        label BYTES [rows], p_<class> FP64 [rows] each
 *   token_classification  words, labels BYTES [rows, W]; word_start,
 *                         word_end INT64 [rows, W] (characters); W the most
 *                         words of a row in the request, shorter rows padded
 *                         with null and -1
 *   qa                    answer BYTES, score FP64, start, end INT64 [rows]
 *   mlm                   embedding FP64 [rows, hidden] (mean-pooled,
 *                         L2-normalised, as kaizen embed)
 * Only the model's worker thread runs the model (kz_serve_text_run). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/text/utf8.h"
#include "engine/predict/predictor.h"
#include "engine/serve/server_internal.h"
#include "kernels/core/error.h"
#include "models/transformer/transformer.h"

struct kz_serve_text_out {
  int64_t rows;
  kz_tf_text_row *r;
};

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static kz_status add_out(kz_serve_model *m, const char *name, kz_datatype t, int64_t cols) {
  int k = m->n_out++;
  m->out_type[k] = t;
  m->out_cols[k] = cols;
  return (m->out_names[k] = dup_str(name)) ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
}

kz_status kz_serve_text_plan(kz_serve_model *m) {
  kz_tf_text_options o;
  kz_tf_text_options_default(&o);
  kz_status st = kz_tf_text_open(kz_predictor_nn(m->pred), &o, &m->text);
  if (st != KZ_OK) return kz_fail_context(st, "%s", m->path);
  const int n_in = kz_tf_text_input_count(m->text);
  m->feat_names = calloc((size_t)n_in, sizeof *m->feat_names);
  m->feat_categorical = calloc((size_t)n_in, sizeof *m->feat_categorical);
  m->feat_type = calloc((size_t)n_in, sizeof *m->feat_type);
  const int K = kz_tf_text_class_count(m->text), cap = K + 8;
  m->out_names = calloc((size_t)cap, sizeof *m->out_names);
  m->out_type = calloc((size_t)cap, sizeof *m->out_type);
  m->out_cols = calloc((size_t)cap, sizeof *m->out_cols);
  if (!m->feat_names || !m->feat_categorical || !m->feat_type || !m->out_names || !m->out_type ||
      !m->out_cols)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int i = 0; i < n_in; ++i) {
    if (!(m->feat_names[i] = dup_str(kz_tf_text_input_name(m->text, i))))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    m->feat_categorical[i] = 1;
    m->feat_type[i] = KZ_TYPE_BYTES;
    m->n_feat++;
  }
  const char *task = kz_tf_text_task(m->text);
  if (!strcmp(task, "classification")) {
    KZ_TRY(add_out(m, "label", KZ_TYPE_BYTES, 0));
    for (int k = 0; k < K; ++k) {
      char name[256];
      snprintf(name, sizeof name, "p_%s", kz_tf_text_class_name(m->text, k));
      KZ_TRY(add_out(m, name, KZ_TYPE_FP64, 0));
    }
  } else if (!strcmp(task, "token_classification")) {
    KZ_TRY(add_out(m, "words", KZ_TYPE_BYTES, -1));
    KZ_TRY(add_out(m, "labels", KZ_TYPE_BYTES, -1));
    KZ_TRY(add_out(m, "word_start", KZ_TYPE_INT64, -1));
    KZ_TRY(add_out(m, "word_end", KZ_TYPE_INT64, -1));
  } else if (!strcmp(task, "qa")) {
    KZ_TRY(add_out(m, "answer", KZ_TYPE_BYTES, 0));
    KZ_TRY(add_out(m, "score", KZ_TYPE_FP64, 0));
    KZ_TRY(add_out(m, "start", KZ_TYPE_INT64, 0));
    KZ_TRY(add_out(m, "end", KZ_TYPE_INT64, 0));
  } else {
    KZ_TRY(add_out(m, "embedding", KZ_TYPE_FP64, kz_tf_text_embedding_size(m->text)));
  }
  return KZ_OK;
}

void kz_serve_text_free(kz_serve_model *m) {
  kz_tf_text_free(m->text);
  m->text = NULL;
  free(m->out_type), free(m->out_cols);
}

kz_status kz_serve_text_check(const kz_serve_model *m, const char *input, int64_t row,
                              const char *v) {
  (void)m;
  if (!v)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': element %lld is null (a text is required)",
                   input, (long long)row);
  size_t len = strlen(v);
  kz_tf_text_options o;
  kz_tf_text_options_default(&o);
  if (len == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': element %lld is an empty text", input,
                   (long long)row);
  if (len > (size_t)o.max_text_bytes)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s': element %lld is too long (%zu bytes; at most %d per text)", input,
                   (long long)row, len, o.max_text_bytes);
  size_t bad = kz_utf8_validate((const uint8_t *)v, len);
  if (bad != len)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': element %lld is not valid UTF-8 (byte %zu)",
                   input, (long long)row, bad);
  /* caught here, before the queue, so that a client's blank text is a bad
   * request and not a backend failure in /metrics; whitespace beyond ASCII
   * is still caught by the tokenizer on the worker */
  size_t k = 0;
  while (k < len && ((unsigned char)v[k] <= 0x20 || v[k] == 0x7f)) ++k;
  if (k == len)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s': element %lld has no tokens (only whitespace or control "
                   "characters)",
                   input, (long long)row);
  return KZ_OK;
}

void kz_serve_text_out_free(kz_serve_text_out *res) {
  if (!res) return;
  free(res->r);
  free(res);
}

kz_status kz_serve_text_run(kz_serve_model *m, int64_t rows, const char *const *cells,
                            kz_serve_text_out **out) {
  *out = NULL;
  const int n_in = m->n_feat;
  kz_serve_text_out *res = calloc(1, sizeof *res);
  size_t *lens = malloc((size_t)(rows * n_in) * sizeof *lens);
  if (res) res->r = malloc((size_t)rows * sizeof *res->r);
  if (!res || !res->r || !lens) {
    free(lens);
    kz_serve_text_out_free(res);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory for %lld texts", (long long)rows);
  }
  for (int64_t i = 0; i < rows * n_in; ++i) lens[i] = cells[i] ? strlen(cells[i]) : 0;
  res->rows = rows;
  kz_status st = kz_tf_text_run(m->text, rows, 0, cells, lens, res->r);
  free(lens);
  if (st != KZ_OK) {
    kz_serve_text_out_free(res);
    return st;
  }
  *out = res;
  return KZ_OK;
}

static char *dup_n(const char *s, int64_t n) {
  char *d = malloc((size_t)n + 1);
  if (d) memcpy(d, s, (size_t)n), d[n] = '\0';
  return d;
}

/* Output `o` of the model for the job's rows [at, at + rows) into so. */
static kz_status fill(const kz_serve_model *m, int o, const kz_tf_text_row *r, int64_t rows,
                      const kz_serve_job *job, kz_serve_out *so) {
  const char *task = kz_tf_text_task(m->text);
  int64_t cols = m->out_cols[o];
  if (cols < 0) /* the most words of a row */
    for (int64_t i = 0; i < rows; ++i) cols = r[i].n_words > cols ? r[i].n_words : cols;
  if (cols < 0) cols = 0;
  so->type = m->out_type[o];
  so->ndim = m->out_cols[o] ? 2 : 1;
  so->shape[0] = rows, so->shape[1] = m->out_cols[o] ? cols : 0;
  const int64_t per = m->out_cols[o] ? cols : 1, n = rows * per;
  if (!(so->name = dup_str(m->out_names[o]))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
  if (so->type == KZ_TYPE_BYTES) so->str = calloc((size_t)(n ? n : 1), sizeof *so->str);
  if (so->type == KZ_TYPE_INT64) so->i64 = malloc((size_t)(n ? n : 1) * sizeof *so->i64);
  if (so->type == KZ_TYPE_FP64) so->f64 = malloc((size_t)(n ? n : 1) * sizeof *so->f64);
  if (!so->str && !so->i64 && !so->f64) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
  const int n_in = m->n_feat;
  for (int64_t i = 0; i < rows; ++i) {
    const kz_tf_text_row *x = &r[i];
    const char *text = job->cells[i * n_in + (n_in - 1)]; /* the text, or qa's context */
    if (!strcmp(task, "classification")) {
      if (o == 0 && !(so->str[i] = dup_str(kz_tf_text_class_name(m->text, x->label))))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
      if (o > 0) so->f64[i] = x->probs[o - 1];
    } else if (!strcmp(task, "token_classification")) {
      for (int64_t w = 0; w < cols; ++w) {
        const kz_tf_word *wd = w < x->n_words ? &x->words[w] : NULL;
        int64_t at = i * cols + w;
        if (o == 0 && wd &&
            !(so->str[at] = dup_n(text + wd->byte_start, wd->byte_end - wd->byte_start)))
          return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
        if (o == 1 && wd && wd->label >= 0 &&
            !(so->str[at] = dup_str(kz_tf_text_class_name(m->text, wd->label))))
          return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
        if (o == 2) so->i64[at] = wd ? wd->start : -1;
        if (o == 3) so->i64[at] = wd ? wd->end : -1;
      }
    } else if (!strcmp(task, "qa")) {
      if (o == 0 && !(so->str[i] = dup_n(text + x->byte_start,
                                         x->has_answer ? x->byte_end - x->byte_start : 0)))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
      if (o == 1) so->f64[i] = x->score;
      if (o == 2) so->i64[i] = x->has_answer ? x->start : -1;
      if (o == 3) so->i64[i] = x->has_answer ? x->end : -1;
    } else {
      for (int64_t k = 0; k < cols; ++k) so->f64[i * cols + k] = x->embedding[k];
    }
  }
  return KZ_OK;
}

kz_status kz_serve_text_finish(const kz_serve_model *m, const kz_serve_text_out *res, int64_t at,
                               const kz_serve_job *job) {
  kz_infer_response *r = job->resp;
  KZ_TRY(kz_serve_response_outputs(r, job->n_want));
  for (int k = 0; k < job->n_want; ++k)
    KZ_TRY(fill(m, job->want[k], res->r + at, job->rows, job, &r->outs[k]));
  return KZ_OK;
}
