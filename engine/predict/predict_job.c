/* kaizen predict / eval over raw files or shards (predict_job.h). Rows are
 * read in chunks, mapped to the model's layout and scored, so memory stays
 * constant in the number of rows (eval of a GBDT keeps one margin and one
 * label per row: AUC needs them all). */
#define _POSIX_C_SOURCE 200809L
#include "engine/predict/predict_job.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs/atomic_file.h"
#include "data/import/rows.h"
#include "data/map/input_map.h"
#include "data/shard/fsutil.h"
#include "data/shard/reader.h"
#include "engine/predict/predict_internal.h"
#include "engine/predict/predictor.h"
#include "kernels/core/error.h"
#include "models/gbdt/metrics.h"

enum { CHUNK = 4096 };

typedef struct source {
  const kz_predict_request *r;
  const char *what; /* the input's name in messages */
  kz_input_map *map;
  kz_rows *rows; /* --input */
  int n_fields;
  const char **cells;
  size_t *lens;
  kz_dataset *ds; /* --data */
  kz_shard_batch raw;
  int64_t next, total;
  kz_shard_batch batch; /* the model's layout */
  int n_keep;
  int *keep;
  char **keep_names;
  char *kept; /* the chunk's kept cells, CSV-encoded, one row after another */
  size_t kept_len, kept_cap;
  size_t *kept_end; /* per row of the chunk */
  int64_t first_row;
} source;

static void source_close(source *s) {
  kz_input_map_free(s->map);
  kz_rows_close(s->rows);
  if (s->ds) kz_dataset_close(s->ds);
  kz_shard_batch_free(&s->raw);
  kz_shard_batch_free(&s->batch);
  for (int k = 0; s->keep_names && k < s->n_keep; ++k) free(s->keep_names[k]);
  free(s->keep_names);
  free(s->cells), free(s->lens), free(s->keep), free(s->kept), free(s->kept_end);
}

static kz_status csv_append(source *s, const char *v, size_t len, int comma) {
  if (s->kept_len + 2 * len + 4 > s->kept_cap) {
    size_t cap = (s->kept_cap ? s->kept_cap * 2 : 4096) + 2 * len + 4;
    char *k = realloc(s->kept, cap);
    if (!k) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    s->kept = k, s->kept_cap = cap;
  }
  char *o = s->kept + s->kept_len;
  if (comma) *o++ = ',';
  int quote =
      memchr(v, ',', len) || memchr(v, '"', len) || memchr(v, '\n', len) || memchr(v, '\r', len);
  if (quote) *o++ = '"';
  for (size_t i = 0; i < len; ++i) {
    if (v[i] == '"') *o++ = '"';
    *o++ = v[i];
  }
  if (quote) *o++ = '"';
  s->kept_len = (size_t)(o - s->kept);
  return KZ_OK;
}

/* --keep: input columns by name */
static kz_status plan_keep(source *s) {
  const char *list = s->r->keep;
  if (!list || !*list) return KZ_OK;
  if (!s->rows)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--keep names columns of --input; with --data the output starts with 'row'");
  s->keep = malloc(sizeof(int) * (strlen(list) + 1));
  s->keep_names = calloc(strlen(list) + 1, sizeof(char *));
  if (!s->keep || !s->keep_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (const char *p = list; *p;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    int found = -1;
    for (int i = 0; i < s->n_fields && found < 0; ++i)
      if (strlen(kz_rows_field(s->rows, i)) == len && !strncmp(kz_rows_field(s->rows, i), p, len))
        found = i;
    if (len && found < 0)
      return kz_fail(KZ_ERR_INVALID_ARG, "--keep: %s has no column '%.*s'", s->what, (int)len, p);
    if (len) {
      if (!(s->keep_names[s->n_keep] = strndup(p, len)))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
      s->keep[s->n_keep++] = found;
    }
    p += len + (comma ? 1 : 0);
  }
  return KZ_OK;
}

static kz_status open_input(source *s, kz_predictor *p, kz_label_need need) {
  KZ_TRY(kz_rows_open(s->r->input, &s->rows));
  int eof;
  KZ_TRY(kz_rows_next(s->rows, &eof));
  if (eof)
    return kz_fail(KZ_ERR_FORMAT, "%s: the file is empty (a header row is required)", s->what);
  s->n_fields = kz_rows_fields(s->rows);
  s->cells = calloc((size_t)s->n_fields, sizeof *s->cells);
  s->lens = calloc((size_t)s->n_fields, sizeof *s->lens);
  if (!s->cells || !s->lens) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int i = 0; i < s->n_fields; ++i) s->cells[i] = kz_rows_field(s->rows, i);
  if (!kz_predictor_schema(p))
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "%s: the model file carries no input schema (written before model files kept "
                   "one); retrain it, or import the file and use --data",
                   kz_predictor_path(p));
  KZ_TRY(kz_input_map_for_columns(kz_predictor_schema(p), s->n_fields, s->cells, need, s->what,
                                  &s->map));
  return plan_keep(s);
}

static kz_status open_data(source *s, kz_predictor *p, kz_label_need need) {
  kz_dataset_options o = {.split = s->r->split};
  KZ_TRY(kz_dataset_open(s->r->data, &o, &s->ds));
  s->total = kz_dataset_rows(s->ds);
  if (s->total == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the data set has no rows%s%s", s->what,
                   s->r->split ? " in split " : "", s->r->split ? s->r->split : "");
  const kz_schema *ds_schema = kz_dataset_schema(s->ds);
  if (!kz_predictor_schema(p)) {
    if (!s->r->quiet)
      fprintf(
          stderr,
          "kaizen: %s carries no input schema (an older model file): the data set's columns "
          "and dictionaries are taken as the model's, unchecked; retrain to have them checked\n",
          kz_predictor_path(p));
    KZ_TRY(kz_predictor_adopt_schema(p, ds_schema));
  }
  KZ_TRY(kz_input_map_for_schema(kz_predictor_schema(p), ds_schema, need, s->what, &s->map));
  KZ_TRY(kz_shard_batch_alloc(ds_schema, CHUNK, &s->raw));
  return plan_keep(s);
}

static kz_status source_open(source *s, const kz_predict_request *r, kz_predictor *p,
                             kz_label_need need) {
  memset(s, 0, sizeof *s);
  s->r = r;
  if (!r->input == !r->data)
    return kz_fail(KZ_ERR_INVALID_ARG, "give one of --input FILE (a raw file) or --data DIR");
  s->what = r->input ? r->input : r->data;
  KZ_TRY(r->input ? open_input(s, p, need) : open_data(s, p, need));
  KZ_TRY(kz_shard_batch_alloc(kz_input_map_schema(s->map), CHUNK, &s->batch));
  s->kept_end = calloc(CHUNK, sizeof *s->kept_end);
  if (!s->kept_end) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  if (!r->quiet && *kz_input_map_ignored(s->map))
    fprintf(stderr, "kaizen: %s: columns the model does not read (ignored): %s\n", s->what,
            kz_input_map_ignored(s->map));
  return KZ_OK;
}

/* The next chunk of rows into s->batch (0 rows at the end). */
static kz_status source_next(source *s) {
  s->first_row += s->batch.rows;
  kz_shard_batch_clear(&s->batch);
  s->kept_len = 0;
  if (s->ds) {
    int64_t n = s->total - s->next < CHUNK ? s->total - s->next : CHUNK;
    if (n <= 0) return KZ_OK;
    kz_shard_batch_clear(&s->raw);
    KZ_TRY(kz_dataset_read_range(s->ds, s->next, n, &s->raw, 0));
    s->raw.rows = n;
    s->next += n;
    return kz_input_map_batch(s->map, &s->raw, &s->batch);
  }
  while (s->batch.rows < CHUNK) {
    int eof;
    KZ_TRY(kz_rows_next(s->rows, &eof));
    if (eof) break;
    int64_t line = kz_rows_line(s->rows);
    if (kz_rows_fields(s->rows) != s->n_fields)
      return kz_fail(KZ_ERR_FORMAT, "%s:%lld: %d fields, but the header has %d", s->what,
                     (long long)line, kz_rows_fields(s->rows), s->n_fields);
    for (int i = 0; i < s->n_fields; ++i) {
      s->cells[i] = kz_rows_field(s->rows, i);
      s->lens[i] = kz_rows_field_len(s->rows, i);
    }
    for (int k = 0; k < s->n_keep; ++k)
      KZ_TRY(csv_append(s, s->cells[s->keep[k]], s->lens[s->keep[k]], k > 0));
    s->kept_end[s->batch.rows] = s->kept_len;
    KZ_TRY(kz_input_map_row(s->map, s->cells, s->lens, line, &s->batch));
  }
  return KZ_OK;
}

static void json_string_out(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *c = (const unsigned char *)s; *c; ++c) {
    if (*c == '"' || *c == '\\')
      fprintf(f, "\\%c", *c);
    else if (*c < 0x20)
      fprintf(f, "\\u%04x", *c);
    else
      fputc(*c, f);
  }
  fputc('"', f);
}

static void unseen_note(source *s, const char *cmd, int64_t rows) {
  if (s->r->quiet) return;
  int64_t unseen = kz_input_map_unseen(s->map);
  if (unseen)
    fprintf(stderr,
            "kaizen %s: %lld rows; %lld category values the model never saw were read as "
            "missing (%s)\n",
            cmd, (long long)rows, (long long)unseen, kz_input_map_unseen_summary(s->map));
}

/* ---- predict ------------------------------------------------------------------ */

static void put_name(FILE *f, const char *s, int comma) {
  if (comma) fputc(',', f);
  int quote = strpbrk(s, ",\"\r\n") != NULL;
  if (quote) fputc('"', f);
  for (; *s; ++s) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  if (quote) fputc('"', f);
}

static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static kz_status check_out(const kz_predict_request *r) {
  if (!r->out) return KZ_OK;
  if (same_file(r->out, r->model) || same_file(r->out, r->input))
    return kz_fail(KZ_ERR_INVALID_ARG, "--out %s is the model or the input; choose another file",
                   r->out);
  struct stat st;
  if (stat(r->out, &st) == 0) {
    if (S_ISDIR(st.st_mode)) return kz_fail(KZ_ERR_INVALID_ARG, "--out %s is a directory", r->out);
    if (!r->overwrite)
      return kz_fail(KZ_ERR_INVALID_ARG, "--out %s exists; pass --overwrite to replace it", r->out);
  }
  return KZ_OK;
}

static kz_status write_predictions(source *s, kz_predictor *p, FILE *f, int64_t *rows) {
  int K = kz_predictor_output_count(p);
  double *out = malloc(sizeof(double) * CHUNK * (size_t)K);
  if (!out) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  int comma = 0;
  if (s->ds) put_name(f, "row", comma++);
  for (int k = 0; k < s->n_keep; ++k) put_name(f, s->keep_names[k], comma++);
  for (int k = 0; k < K; ++k) put_name(f, kz_predictor_output_name(p, k), comma++);
  fputc('\n', f);
  kz_status st = KZ_OK;
  for (;;) {
    st = source_next(s);
    if (st != KZ_OK || s->batch.rows == 0) break;
    st = kz_predictor_batch(p, &s->batch, out);
    if (st != KZ_OK) break;
    size_t begin = 0;
    for (int64_t r = 0; r < s->batch.rows; ++r) {
      int c = 0;
      if (s->ds) fprintf(f, "%lld", (long long)(s->first_row + r)), c = 1;
      if (s->n_keep) {
        fwrite(s->kept + begin, 1, s->kept_end[r] - begin, f);
        begin = s->kept_end[r];
        c = 1;
      }
      for (int k = 0; k < K; ++k) fprintf(f, c || k ? ",%.9g" : "%.9g", out[r * K + k]);
      fputc('\n', f);
    }
    *rows += s->batch.rows;
  }
  free(out);
  return st;
}

/* A model whose examples span rows (the TFT's windows over a series) reads
 * a whole data set: --data, not --input. */
static kz_status whole_dataset(const kz_predict_request *r, kz_predictor *p, const char *what) {
  if (r->data) return KZ_OK;
  return kz_fail(KZ_ERR_INVALID_ARG, "%s: a %s model %ss from a data set (--data DIR), not --input",
                 kz_predictor_path(p), kz_predictor_type(p), what);
}

/* The model, with --adapter's LoRA adapter applied and merged. */
static kz_status open_predictor(const kz_predict_request *r, kz_predictor **p) {
  KZ_TRY(kz_predictor_open(r->model, r->device, p));
  if (!r->adapter) return KZ_OK;
  char note[1024] = "";
  kz_status st = kz_predictor_use_adapter(*p, r->adapter, note, sizeof note);
  if (st != KZ_OK) {
    kz_predictor_close(*p);
    *p = NULL;
    return st;
  }
  if (!r->quiet) fprintf(stderr, "kaizen: %s\n", note);
  return KZ_OK;
}

kz_status kz_predict_job(const kz_predict_request *r) {
  KZ_TRY(check_out(r));
  kz_predictor *p = NULL;
  KZ_TRY(open_predictor(r, &p));
  kz_nn_model *dnn = kz_predictor_nn(p);
  if (dnn && kz_nn_base(dnn)->ops->predict_dataset) {
    kz_status ds = whole_dataset(r, p, "predict");
    if (ds == KZ_OK && !r->out)
      ds = kz_fail(KZ_ERR_INVALID_ARG, "%s: a %s model writes its forecasts to --out FILE",
                   kz_predictor_path(p), kz_predictor_type(p));
    if (ds == KZ_OK && r->plot && !r->overwrite) {
      struct stat pst;
      if (stat(r->plot, &pst) == 0)
        ds = kz_fail(KZ_ERR_INVALID_ARG, "--plot %s exists; pass --overwrite to replace it",
                     r->plot);
    }
    kz_nn_predict_opts po = {.plot = r->plot, .plot_series = r->plot_series};
    if (ds == KZ_OK) ds = kz_nn_base(dnn)->ops->predict_dataset(dnn, r->data, r->out, &po);
    kz_predictor_close(p);
    return ds;
  }
  if (r->plot || r->plot_series) {
    kz_status ps = kz_fail(KZ_ERR_INVALID_ARG,
                           "%s: --plot is for forecasting models (model.type: tft); a %s model "
                           "predicts rows",
                           kz_predictor_path(p), kz_predictor_type(p));
    kz_predictor_close(p);
    return ps;
  }
  if (dnn && r->input && !strcmp(kz_predictor_type(p), "transformer")) {
    kz_status ts = kz_predict_text_job(r, dnn);
    kz_predictor_close(p);
    return ts;
  }
  source s;
  kz_status st = source_open(&s, r, p, KZ_LABEL_OPTIONAL);
  kz_atomic_file out = {0};
  if (st == KZ_OK && r->out) st = kz_atomic_file_open(&out, r->out);
  int64_t rows = 0;
  if (st == KZ_OK) st = write_predictions(&s, p, r->out ? out.f : stdout, &rows);
  if (r->out) {
    st = kz_atomic_file_finish(&out, st); /* bad input leaves no partial output */
  } else if (fflush(stdout) != 0 && st == KZ_OK) {
    st = kz_fail(KZ_ERR_IO, "stdout: write failed");
  }
  if (st == KZ_OK) unseen_note(&s, "predict", rows);
  source_close(&s);
  kz_predictor_close(p);
  return st;
}

/* ---- eval ------------------------------------------------------------------------ */

typedef struct gbdt_rows {
  double *margin;
  float *label;
  int64_t n, cap;
} gbdt_rows;

/* A GBDT chunk: margins and labels (class codes as floats) appended. */
static kz_status gbdt_chunk(source *s, kz_predictor *p, gbdt_rows *g) {
  const kz_gbdt_model *m = kz_predictor_gbdt(p);
  int64_t n = s->batch.rows, K = m->num_group;
  if (g->n + n > g->cap) {
    int64_t cap = (g->cap ? g->cap * 2 : CHUNK) + n;
    double *mg = realloc(g->margin, sizeof(double) * (size_t)(cap * K));
    if (mg) g->margin = mg;
    float *lb = mg ? realloc(g->label, sizeof(float) * (size_t)cap) : NULL;
    if (!lb) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    g->label = lb, g->cap = cap;
  }
  KZ_TRY(kz_predictor_gbdt_margins(p, &s->batch, g->margin + g->n * K));
  const kz_schema *sc = kz_input_map_schema(s->map);
  int fi = -1, ci = -1;
  if (!sc->label || !kz_schema_find_column(sc, sc->label, &fi, &ci))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the model has no label to evaluate against",
                   kz_predictor_path(p));
  int classes = m->objective == KZ_GBDT_BINARY_LOGISTIC || m->objective == KZ_GBDT_MULTI_SOFTPROB;
  for (int64_t r = 0; r < n; ++r) {
    float y;
    if (sc->fields[fi].type == KZ_FIELD_I32) {
      int32_t code = kz_batch_i32(&s->batch, fi, r)[ci];
      y = code < 0 ? NAN : (float)code;
    } else {
      y = kz_batch_f32(&s->batch, fi, r)[ci];
    }
    if (isnan(y))
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: row %lld: the label ('%s') is missing", s->what,
                     (long long)(s->first_row + r), sc->label);
    if (classes && sc->fields[fi].type != KZ_FIELD_I32 && y != 0 && y != 1)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: row %lld: label %g is not a class of the model",
                     s->what, (long long)(s->first_row + r), y);
    g->label[g->n + r] = y;
  }
  g->n += n;
  return KZ_OK;
}

static void print_metric(FILE *out, int json, const char *name, double v) {
  if (json && isfinite(v))
    fprintf(out, ",\"%s\":%.9g", name, v);
  else if (json) /* e.g. AUC of one class: JSON has no NaN */
    fprintf(out, ",\"%s\":null", name);
  else
    fprintf(out, "%s %.9g\n", name, v);
}

kz_status kz_eval_job(const kz_predict_request *r, FILE *out) {
  kz_predictor *p = NULL;
  KZ_TRY(open_predictor(r, &p));
  kz_nn_model *dnn = kz_predictor_nn(p);
  if (dnn && kz_nn_base(dnn)->ops->eval_dataset) {
    kz_nn_metrics mt;
    kz_status ds = whole_dataset(r, p, "evaluate");
    if (ds == KZ_OK) ds = kz_nn_base(dnn)->ops->eval_dataset(dnn, r->data, &mt);
    if (ds == KZ_OK && r->json) {
      fputs("{\"model\":", out);
      json_string_out(out, r->model);
      fprintf(out, ",\"type\":\"%s\"", kz_predictor_type(p));
    }
    for (int i = 0; ds == KZ_OK && i < mt.n; ++i)
      print_metric(out, r->json, mt.names[i], mt.values[i]);
    if (ds == KZ_OK && r->json) fputs("}\n", out);
    kz_predictor_close(p);
    return ds;
  }
  if (dnn && r->input && !strcmp(kz_predictor_type(p), "transformer")) {
    kz_status ts = kz_eval_text_job(r, dnn, out);
    kz_predictor_close(p);
    return ts;
  }
  source s;
  kz_status st = source_open(&s, r, p, KZ_LABEL_REQUIRED);
  kz_nn_model *nn = kz_predictor_nn(p);
  kz_nn_eval acc;
  memset(&acc, 0, sizeof acc);
  gbdt_rows g = {0};
  int64_t rows = 0;
  while (st == KZ_OK) {
    st = source_next(&s);
    if (st != KZ_OK || s.batch.rows == 0) break;
    rows += s.batch.rows;
    st = nn ? kz_nn_base(nn)->ops->eval_batch(nn, &s.batch, &acc) : gbdt_chunk(&s, p, &g);
  }
  if (st == KZ_OK && rows == 0) st = kz_fail(KZ_ERR_INVALID_ARG, "%s: no rows to evaluate", s.what);
  if (st == KZ_OK) {
    unseen_note(&s, "eval", rows);
    if (r->json) {
      fputs("{\"model\":", out);
      json_string_out(out, r->model);
      fprintf(out, ",\"type\":\"%s\",\"rows\":%lld", kz_predictor_type(p), (long long)rows);
    }
    if (nn) {
      kz_nn_metrics mt;
      kz_nn_base(nn)->ops->eval_finish(nn, &acc, &mt);
      for (int i = 0; i < mt.n; ++i) print_metric(out, r->json, mt.names[i], mt.values[i]);
    } else {
      const kz_gbdt_model *m = kz_predictor_gbdt(p);
      kz_gbdt_metric ms[KZ_GBDT_M_COUNT];
      int n = kz_gbdt_eval_metrics(m->objective, ms);
      for (int i = 0; i < n; ++i)
        print_metric(out, r->json, kz_gbdt_metric_name(ms[i]),
                     kz_gbdt_metric_eval(ms[i], m->objective, m->quantile_alpha, m->num_group, g.n,
                                         g.margin, g.label));
    }
    if (r->json) fputs("}\n", out);
  }
  free(g.margin), free(g.label);
  source_close(&s);
  kz_predictor_close(p);
  return st;
}
