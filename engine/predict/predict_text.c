/* kaizen predict / eval of a transformer on raw text (--input texts.txt, a
 * CSV or JSON-lines file): the columns the model's text came from, read in
 * chunks and run through kz_tf_text (models/transformer/transformer.h).
 * docs/CLI.md, "Transformers on raw text", says what each task writes. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs/atomic_file.h"
#include "data/import/rows.h"
#include "engine/predict/predict_internal.h"
#include "kernels/core/error.h"
#include "models/transformer/tf_metrics.h"
#include "models/transformer/transformer.h"

enum { TEXT_CHUNK = 256 };

typedef struct text_src {
  const kz_predict_request *r;
  kz_rows *rows;
  kz_tf_text *tt;
  int n_in;
  int col[3]; /* the file's column of each text input; [n_in]: the gold answer (eval) */
  int n_keep;
  int *keep;
  /* one chunk: the cells copied out of the reader */
  char *buf;
  size_t len, cap;
  size_t *off;  /* [rows * (n_in + 1 + n_keep)] offsets into buf */
  size_t *lens; /* the same, lengths */
  const char **cells;
  int64_t n, first_line, rows_done;
} text_src;

static void src_close(text_src *s) {
  kz_rows_close(s->rows);
  kz_tf_text_free(s->tt);
  free(s->keep), free(s->buf), free(s->off), free(s->lens), free(s->cells);
}

static int find_col(const text_src *s, const char *name) {
  for (int i = 0; i < kz_rows_fields(s->rows); ++i)
    if (!strcmp(kz_rows_field(s->rows, i), name)) return i;
  return -1;
}

/* The file's column for input i: its name, else "text" (one text input),
 * else the only column of a one-column file (a .txt file's "text"). */
static kz_status map_input(text_src *s, int i) {
  const char *name = kz_tf_text_input_name(s->tt, i);
  int c = find_col(s, name);
  if (c < 0 && s->n_in == 1) c = find_col(s, "text");
  if (c < 0 && s->n_in == 1 && kz_rows_fields(s->rows) == 1) c = 0;
  if (c >= 0) {
    s->col[i] = c;
    return KZ_OK;
  }
  char have[512] = "";
  size_t used = 0;
  for (int k = 0; k < kz_rows_fields(s->rows) && used < sizeof have - 64; ++k)
    used += (size_t)snprintf(have + used, sizeof have - used, "%s%s", k ? ", " : "",
                             kz_rows_field(s->rows, k));
  return kz_fail(KZ_ERR_INVALID_ARG,
                 "%s: no column '%s', which the %s model reads as text (columns: %s)", s->r->input,
                 name, kz_tf_text_task(s->tt), have);
}

static kz_status src_open(text_src *s, const kz_predict_request *r, kz_nn_model *m, int eval) {
  memset(s, 0, sizeof *s);
  s->r = r;
  kz_tf_text_options o;
  kz_tf_text_options_default(&o);
  if (r->max_answer_len > 0) o.max_answer_len = r->max_answer_len;
  if (r->qa_stride >= 0) o.stride = r->qa_stride;
  KZ_TRY(kz_tf_text_open(m, &o, &s->tt));
  s->n_in = kz_tf_text_input_count(s->tt);
  KZ_TRY(kz_rows_open(r->input, &s->rows));
  int eof;
  KZ_TRY(kz_rows_next(s->rows, &eof));
  if (eof)
    return kz_fail(KZ_ERR_FORMAT, "%s: the file is empty (a header row is required)", r->input);
  for (int i = 0; i < s->n_in; ++i) KZ_TRY(map_input(s, i));
  s->col[s->n_in] = -1;
  if (eval) {
    const int qa = !strcmp(kz_tf_text_task(s->tt), "qa");
    if (!qa && strcmp(kz_tf_text_task(s->tt), "classification") != 0)
      return kz_fail(KZ_ERR_UNSUPPORTED,
                     "kaizen eval --input: a %s transformer is evaluated on its data set "
                     "(--data DIR); raw text is evaluated for classification and qa",
                     kz_tf_text_task(s->tt));
    const char *gold =
        qa ? kz_transformer_text_column(m, "answer_text_column") : kz_transformer_label_column(m);
    if (!gold) gold = qa ? "answer_text" : "label";
    if ((s->col[s->n_in] = find_col(s, gold)) < 0)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: no column '%s' with the %s", r->input, gold,
                     qa ? "gold answer text" : "label");
  }
  if (r->keep && *r->keep) {
    s->keep = malloc(sizeof(int) * (strlen(r->keep) + 1));
    if (!s->keep) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    for (const char *p = r->keep; *p;) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      char name[256];
      snprintf(name, sizeof name, "%.*s", (int)(len < 255 ? len : 255), p);
      int c = len ? find_col(s, name) : -1;
      if (len && c < 0)
        return kz_fail(KZ_ERR_INVALID_ARG, "--keep: %s has no column '%s'", r->input, name);
      if (len) s->keep[s->n_keep++] = c;
      p += len + (comma ? 1 : 0);
    }
  }
  const size_t per = (size_t)(s->n_in + 1 + s->n_keep);
  s->off = malloc(TEXT_CHUNK * per * sizeof *s->off);
  s->lens = malloc(TEXT_CHUNK * per * sizeof *s->lens);
  s->cells = malloc(TEXT_CHUNK * per * sizeof *s->cells);
  return s->off && s->lens && s->cells ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
}

static kz_status put(text_src *s, size_t at, const char *v, size_t n) {
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 65536;
    while (cap < s->len + n + 1) cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    s->buf = b, s->cap = cap;
  }
  memcpy(s->buf + s->len, v, n);
  s->buf[s->len + n] = '\0';
  s->off[at] = s->len, s->lens[at] = n;
  s->len += n + 1;
  return KZ_OK;
}

/* The next chunk's cells: per row, the text inputs, the gold answer slot,
 * then the kept columns. s->n = 0 at the end. */
static kz_status src_next(text_src *s) {
  const int per = s->n_in + 1 + s->n_keep;
  s->rows_done += s->n;
  s->n = 0, s->len = 0;
  while (s->n < TEXT_CHUNK) {
    int eof;
    KZ_TRY(kz_rows_next(s->rows, &eof));
    if (eof) break;
    int64_t line = kz_rows_line(s->rows);
    if (s->n == 0) s->first_line = line;
    for (int k = 0; k < per; ++k) {
      int c = k <= s->n_in ? s->col[k] : s->keep[k - s->n_in - 1];
      const char *v = c >= 0 ? kz_rows_field(s->rows, c) : "";
      size_t n = c >= 0 ? kz_rows_field_len(s->rows, c) : 0;
      KZ_TRY(put(s, (size_t)(s->n * per + k), v, n));
    }
    s->n++;
  }
  for (int64_t i = 0; i < s->n * per; ++i) s->cells[i] = s->buf + s->off[i];
  return KZ_OK;
}

/* The chunk's text inputs as a dense [n, n_in] array for kz_tf_text_run. */
static void text_cells(text_src *s, const char **cells, size_t *lens) {
  const int per = s->n_in + 1 + s->n_keep;
  for (int64_t r = 0; r < s->n; ++r)
    for (int i = 0; i < s->n_in; ++i) {
      cells[r * s->n_in + i] = s->cells[r * per + i];
      lens[r * s->n_in + i] = s->lens[r * per + i];
    }
}

static kz_status run_chunk(text_src *s, kz_tf_text_row *rows, const char **cells, size_t *lens) {
  text_cells(s, cells, lens);
  kz_status st = kz_tf_text_run(s->tt, s->n, s->rows_done + 1, cells, lens, rows);
  if (st != KZ_OK)
    return kz_fail_context(st, "%s (data row %lld is on line %lld)", s->r->input,
                           (long long)(s->rows_done + 1), (long long)s->first_line);
  return KZ_OK;
}

/* ---- output ---------------------------------------------------------------------- */

static void csv_cell(FILE *f, const char *v, size_t n, int comma) {
  if (comma) fputc(',', f);
  int quote = memchr(v, ',', n) || memchr(v, '"', n) || memchr(v, '\n', n) || memchr(v, '\r', n);
  if (quote) fputc('"', f);
  for (size_t i = 0; i < n; ++i) {
    if (v[i] == '"') fputc('"', f);
    fputc(v[i], f);
  }
  if (quote) fputc('"', f);
}

static void csv_str(FILE *f, const char *v, int comma) {
  csv_cell(f, v, strlen(v), comma);
}

static void csv_json(FILE *f, json_t *j, int comma) {
  char *t = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
  csv_str(f, t ? t : "null", comma);
  free(t);
  json_decref(j);
}

static void header(FILE *f, text_src *s) {
  const char *task = kz_tf_text_task(s->tt);
  int c = 0;
  for (int k = 0; k < s->n_keep; ++k) csv_str(f, kz_rows_field(s->rows, s->keep[k]), c++);
  (void)c;
  if (!strcmp(task, "classification")) {
    csv_str(f, "label", s->n_keep > 0);
    for (int k = 0; k < kz_tf_text_class_count(s->tt); ++k) {
      char name[300];
      snprintf(name, sizeof name, "p_%s", kz_tf_text_class_name(s->tt, k));
      csv_str(f, name, 1);
    }
  } else if (!strcmp(task, "token_classification")) {
    fputs(s->n_keep ? ",words,labels,spans" : "words,labels,spans", f);
  } else if (!strcmp(task, "qa")) {
    fputs(s->n_keep ? ",answer,score,start,end" : "answer,score,start,end", f);
  } else {
    for (int64_t k = 0; k < kz_tf_text_embedding_size(s->tt); ++k)
      fprintf(f, "%s%s%lld", k || s->n_keep ? "," : "", "e_", (long long)k);
  }
  fputc('\n', f);
}

static void write_row(FILE *f, text_src *s, int64_t r, const kz_tf_text_row *row) {
  const int per = s->n_in + 1 + s->n_keep;
  const char *task = kz_tf_text_task(s->tt);
  for (int k = 0; k < s->n_keep; ++k) {
    int64_t at = r * per + s->n_in + 1 + k;
    csv_cell(f, s->cells[at], s->lens[at], k > 0);
  }
  const int comma = s->n_keep > 0;
  if (!strcmp(task, "classification")) {
    csv_str(f, kz_tf_text_class_name(s->tt, row->label), comma);
    for (int k = 0; k < kz_tf_text_class_count(s->tt); ++k)
      fprintf(f, ",%.9g", (double)row->probs[k]);
  } else if (!strcmp(task, "token_classification")) {
    const char *text = s->cells[r * per];
    json_t *words = json_array(), *labels = json_array(), *spans = json_array();
    for (int32_t w = 0; w < row->n_words; ++w) {
      const kz_tf_word *wd = &row->words[w];
      json_array_append_new(
          words, json_stringn(text + wd->byte_start, (size_t)(wd->byte_end - wd->byte_start)));
      json_array_append_new(labels, wd->label >= 0
                                        ? json_string(kz_tf_text_class_name(s->tt, wd->label))
                                        : json_null());
      json_array_append_new(spans, json_pack("[I,I]", (json_int_t)wd->start, (json_int_t)wd->end));
    }
    csv_json(f, words, comma);
    csv_json(f, labels, 1);
    csv_json(f, spans, 1);
  } else if (!strcmp(task, "qa")) {
    const char *ctx = s->cells[r * per + 1];
    csv_cell(f, ctx + row->byte_start,
             row->has_answer ? (size_t)(row->byte_end - row->byte_start) : 0, comma);
    fprintf(f, ",%.9g,%lld,%lld", row->score, (long long)row->start, (long long)row->end);
  } else {
    for (int64_t k = 0; k < kz_tf_text_embedding_size(s->tt); ++k)
      fprintf(f, k || comma ? ",%.9g" : "%.9g", (double)row->embedding[k]);
  }
  fputc('\n', f);
}

static kz_status scratch(text_src *s, kz_tf_text_row **rows, const char ***cells, size_t **lens) {
  *rows = malloc(TEXT_CHUNK * sizeof **rows);
  *cells = malloc(TEXT_CHUNK * (size_t)s->n_in * sizeof **cells);
  *lens = malloc(TEXT_CHUNK * (size_t)s->n_in * sizeof **lens);
  return *rows && *cells && *lens ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
}

kz_status kz_predict_text_job(const kz_predict_request *r, kz_nn_model *m) {
  text_src s;
  kz_status st = src_open(&s, r, m, 0);
  kz_atomic_file out = {0};
  if (st == KZ_OK && r->out) st = kz_atomic_file_open(&out, r->out);
  FILE *f = r->out ? out.f : stdout;
  kz_tf_text_row *rows = NULL;
  const char **cells = NULL;
  size_t *lens = NULL;
  int64_t truncated = 0;
  if (st == KZ_OK) st = scratch(&s, &rows, &cells, &lens);
  if (st == KZ_OK) header(f, &s);
  while (st == KZ_OK) {
    st = src_next(&s);
    if (st != KZ_OK || s.n == 0) break;
    st = run_chunk(&s, rows, cells, lens);
    for (int64_t i = 0; st == KZ_OK && i < s.n; ++i) {
      write_row(f, &s, i, &rows[i]);
      truncated += rows[i].truncated > 0;
    }
  }
  if (r->out) {
    st = kz_atomic_file_finish(&out, st); /* bad input leaves no partial output */
  } else if (fflush(stdout) != 0 && st == KZ_OK) {
    st = kz_fail(KZ_ERR_IO, "stdout: write failed");
  }
  if (st == KZ_OK && truncated && !r->quiet)
    fprintf(stderr,
            "kaizen predict: %lld texts were longer than the model's %lld tokens and were cut%s\n",
            (long long)truncated, (long long)kz_tf_text_max_tokens(s.tt),
            strcmp(kz_tf_text_task(s.tt), "token_classification")
                ? ""
                : " (their last words have no label)");
  free(rows), free(cells), free(lens);
  src_close(&s);
  return st;
}

kz_status kz_eval_text_job(const kz_predict_request *r, kz_nn_model *m, FILE *out) {
  text_src s;
  kz_status st = src_open(&s, r, m, 1);
  kz_tf_text_row *rows = NULL;
  const char **cells = NULL;
  size_t *lens = NULL;
  double em = 0, f1 = 0, ll = 0; /* classification: em counts the correct rows */
  int64_t n = 0, *conf = NULL;
  const int qa = st == KZ_OK && !strcmp(kz_tf_text_task(s.tt), "qa");
  const int K = st == KZ_OK ? kz_tf_text_class_count(s.tt) : 0;
  if (st == KZ_OK && !qa && !(conf = calloc((size_t)(K * K), sizeof *conf)))
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  if (st == KZ_OK) st = scratch(&s, &rows, &cells, &lens);
  while (st == KZ_OK) {
    st = src_next(&s);
    if (st != KZ_OK || s.n == 0) break;
    st = run_chunk(&s, rows, cells, lens);
    const int per = s.n_in + 1 + s.n_keep;
    for (int64_t i = 0; st == KZ_OK && !qa && i < s.n; ++i) {
      const char *gold = s.cells[i * per + s.n_in];
      int g = -1;
      for (int k = 0; k < K && g < 0; ++k)
        if (!strcmp(kz_tf_text_class_name(s.tt, k), gold)) g = k;
      if (g < 0) {
        st = kz_fail(KZ_ERR_INVALID_ARG, "%s: row %lld: label '%.80s' is not a class of the model",
                     r->input, (long long)(s.rows_done + i + 1), gold);
        break;
      }
      em += rows[i].label == g;
      ll -= log(fmax((double)rows[i].probs[g], 1e-30));
      conf[g * K + rows[i].label]++;
      n++;
    }
    for (int64_t i = 0; st == KZ_OK && qa && i < s.n; ++i) {
      const kz_tf_text_row *row = &rows[i];
      const char *ctx = s.cells[i * per + 1], *gold = s.cells[i * per + s.n_in];
      size_t glen = s.lens[i * per + s.n_in];
      size_t plen = row->has_answer ? (size_t)(row->byte_end - row->byte_start) : 0;
      em += kz_tf_text_em(ctx + row->byte_start, plen, gold, glen);
      f1 += kz_tf_text_f1(ctx + row->byte_start, plen, gold, glen);
      n++;
    }
  }
  if (st == KZ_OK && n == 0) st = kz_fail(KZ_ERR_INVALID_ARG, "%s: no rows to evaluate", r->input);
  /* classification: logloss, accuracy, macro-F1 over the classes that occur;
   * qa: SQuAD's exact match and F1 on the answer text */
  double macro = 0;
  int used = 0;
  for (int k = 0; conf && k < K; ++k) {
    int64_t tp = conf[k * K + k], fp = 0, fn = 0;
    for (int j = 0; j < K; ++j)
      if (j != k) fp += conf[j * K + k], fn += conf[k * K + j];
    if (tp + fp + fn) macro += 2.0 * (double)tp / (double)(2 * tp + fp + fn), used++;
  }
  const char *names[3] = {qa ? "text_exact_match" : "logloss", qa ? "text_f1" : "accuracy",
                          "macro_f1"};
  double v[3] = {qa ? em / (double)n : ll / (double)n, qa ? f1 / (double)n : em / (double)n,
                 used ? macro / used : NAN};
  if (st == KZ_OK) {
    json_t *j = json_pack("{s:s, s:s, s:I}", "model", r->model, "type", "transformer", "rows",
                          (json_int_t)n);
    if (!r->json) fprintf(out, "rows %lld\n", (long long)n);
    for (int k = 0; k < (qa ? 2 : 3); ++k) {
      if (j) json_object_set_new(j, names[k], isfinite(v[k]) ? json_real(v[k]) : json_null());
      if (!r->json) fprintf(out, "%s %.9g\n", names[k], v[k]);
    }
    char *t = j && r->json ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    if (t) fprintf(out, "%s\n", t);
    free(t);
    json_decref(j);
  }
  free(rows), free(cells), free(lens), free(conf);
  src_close(&s);
  return st;
}
