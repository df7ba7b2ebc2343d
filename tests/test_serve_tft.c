/* A TFT through the in-process server (include/kaizen.h, "serving";
 * docs/SERVING.md, "Forecasting models (TFT)"): every series of a CSV as
 * tensors (BYTES series and covariates, FP64 times, FP32 targets with NaN
 * for missing), answered synchronously and asynchronously; the quantiles
 * must equal `kaizen predict`'s CSV digit for digit (tests/serve_tft.sh
 * trains the model and runs predict). Then a series too short for the
 * encoder and a missing column are refused with messages naming them, and
 * the metadata describes the window.
 * usage: test_serve_tft MODEL.kzm SERIES.csv PREDICT.csv
 * (the CSV: txhousing's columns; its first column the series id) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaizen.h"

enum { MAX_COLS = 16, MAX_ROWS = 20000 };

static int fails;
#define CHECK(c, ...)                                                                              \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                         \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
      fails++;                                                                                     \
    }                                                                                              \
  } while (0)

typedef struct table {
  int n_cols, n_rows;
  char *names[MAX_COLS];
  char **cells; /* [n_rows][n_cols], quotes removed */
} table;

/* A small CSV reader: commas, optional double quotes around a cell, no
 * commas or newlines inside quotes (the files here have none). */
static int read_table(const char *path, table *t) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[4096];
  memset(t, 0, sizeof *t);
  t->cells = calloc((size_t)MAX_ROWS * MAX_COLS, sizeof *t->cells);
  for (int r = -1; fgets(line, sizeof line, f) && r < MAX_ROWS; ++r) {
    line[strcspn(line, "\r\n")] = '\0';
    int c = 0;
    for (char *save = NULL, *tok = strtok_r(line, ",", &save); tok && c < MAX_COLS;
         tok = strtok_r(NULL, ",", &save), ++c) {
      size_t n = strlen(tok);
      if (n >= 2 && tok[0] == '"' && tok[n - 1] == '"') tok[n - 1] = '\0', ++tok;
      char *v = strdup(tok);
      if (r < 0)
        t->names[c] = v;
      else
        t->cells[r * MAX_COLS + c] = v;
    }
    if (r < 0)
      t->n_cols = c;
    else
      t->n_rows = r + 1;
  }
  fclose(f);
  return t->n_rows > 0;
}

static const char *at(const table *t, int r, int c) {
  return t->cells[r * MAX_COLS + c];
}

static int col(const table *t, const char *name) {
  for (int c = 0; c < t->n_cols; ++c)
    if (!strcmp(t->names[c], name)) return c;
  return -1;
}

/* The request's tensors for rows [r0, r1) of t: the time column "date" as
 * FP64, the target "sales" as FP32 (NaN for NA), the rest as BYTES text. */
typedef struct request {
  kz_infer_tensor in[MAX_COLS];
  const char **text[MAX_COLS];
  double *date;
  float *sales;
  int n;
} request;

static void build(const table *t, int r0, int r1, const char *skip, request *q) {
  memset(q, 0, sizeof *q);
  int rows = r1 - r0;
  for (int c = 0; c < t->n_cols; ++c) {
    if (skip && !strcmp(t->names[c], skip)) continue;
    kz_infer_tensor *x = &q->in[q->n++];
    x->name = t->names[c], x->ndim = 1, x->shape[0] = rows;
    if (!strcmp(t->names[c], "date")) {
      q->date = malloc(sizeof(double) * (size_t)rows);
      for (int r = 0; r < rows; ++r) q->date[r] = strtod(at(t, r0 + r, c), NULL);
      x->datatype = KZ_TYPE_FP64, x->data = q->date;
    } else if (!strcmp(t->names[c], "sales")) {
      q->sales = malloc(sizeof(float) * (size_t)rows);
      for (int r = 0; r < rows; ++r) {
        const char *v = at(t, r0 + r, c);
        q->sales[r] = strcmp(v, "NA") ? strtof(v, NULL) : NAN;
      }
      x->datatype = KZ_TYPE_FP32, x->data = q->sales;
    } else {
      q->text[c] = malloc(sizeof(char *) * (size_t)rows);
      for (int r = 0; r < rows; ++r) q->text[c][r] = at(t, r0 + r, c);
      x->datatype = KZ_TYPE_BYTES, x->data = q->text[c];
    }
  }
}

static void release(request *q) {
  for (int c = 0; c < MAX_COLS; ++c) free(q->text[c]);
  free(q->date), free(q->sales);
}

/* The response against predict's CSV (series, step, time, p10, p50, p90). */
static void compare(const kz_infer_response *resp, const table *want, const char *what) {
  int n = kz_infer_response_output_count(resp);
  CHECK(n == 5, "%s: %d outputs", what, n);
  kz_infer_tensor series, out;
  if (n != 5 || kz_infer_response_output(resp, 0, &series) != KZ_OK) return;
  const char *const *names = series.data;
  int64_t S = series.shape[0];
  for (int k = 1; k < n; ++k) {
    kz_infer_response_output(resp, k, &out);
    int wc = col(want, out.name);
    CHECK(wc >= 0 && out.ndim == 2 && out.shape[0] == S, "%s: output %s", what, out.name);
    if (wc < 0) continue;
    int64_t tau = out.shape[1], bad = 0;
    CHECK(S * tau == want->n_rows, "%s: %lld x %lld forecasts, predict wrote %d", what,
          (long long)S, (long long)tau, want->n_rows);
    for (int64_t i = 0; i < S * tau && i < want->n_rows; ++i) {
      char got[64];
      snprintf(got, sizeof got, k == 1 ? "%.17g" : "%.9g", ((const double *)out.data)[i]);
      if (strcmp(got, at(want, (int)i, wc)) || strcmp(names[i / tau], at(want, (int)i, 0))) {
        if (bad++ < 3)
          fprintf(stderr, "%s: %s row %lld: %s %s, predict %s %s\n", what, out.name, (long long)i,
                  names[i / tau], got, at(want, (int)i, 0), at(want, (int)i, wc));
      }
    }
    CHECK(bad == 0, "%s: %lld of %s differ from predict's", what, (long long)bad, out.name);
  }
}

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  kz_infer_response *resp;
} waiter;

static void done(kz_infer_response *r, void *user) {
  waiter *w = user;
  pthread_mutex_lock(&w->mu);
  w->resp = r;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test_serve_tft MODEL.kzm SERIES.csv PREDICT.csv\n");
    return 2;
  }
  table data, want;
  if (!read_table(argv[2], &data) || !read_table(argv[3], &want)) {
    fprintf(stderr, "cannot read %s or %s\n", argv[2], argv[3]);
    return 1;
  }
  kz_server *s = NULL;
  if (kz_server_new(NULL, &s) != KZ_OK || kz_server_load(s, "tx", 1, argv[1], NULL) != KZ_OK) {
    fprintf(stderr, "FAIL: %s\n", kz_last_error());
    return 1;
  }
  request q;
  build(&data, 0, data.n_rows, NULL, &q);
  kz_infer_request r = {.model = "tx", .n_inputs = q.n, .inputs = q.in};
  kz_infer_response *resp = NULL;
  kz_status st = kz_server_infer(s, &r, &resp);
  CHECK(st == KZ_OK, "sync: %s", kz_last_error());
  if (st == KZ_OK) compare(resp, &want, "sync");
  kz_infer_response_free(resp);

  waiter w = {.resp = NULL};
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  st = kz_server_infer_async(s, &r, done, &w);
  CHECK(st == KZ_OK, "async: %s", kz_last_error());
  if (st == KZ_OK) {
    pthread_mutex_lock(&w.mu);
    while (!w.resp) pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    CHECK(kz_infer_response_status(w.resp) == KZ_OK, "async: %s", kz_infer_response_error(w.resp));
    compare(w.resp, &want, "async");
    kz_infer_response_free(w.resp);
  }
  release(&q);

  /* the first series' last 5 rows only: too short for the encoder */
  int first_end = 0;
  while (first_end < data.n_rows && !strcmp(at(&data, first_end, 0), at(&data, 0, 0))) ++first_end;
  build(&data, first_end - 5, first_end, NULL, &q);
  r.n_inputs = q.n;
  r.inputs = q.in;
  st = kz_server_infer(s, &r, &resp);
  char needle[256];
  snprintf(needle, sizeof needle, "series '%s' has 5 history rows", at(&data, 0, 0));
  CHECK(st == KZ_ERR_INVALID_ARG && strstr(kz_last_error(), needle), "short history: %d %s",
        (int)st, kz_last_error());
  release(&q);
  build(&data, 0, first_end, "volume", &q);
  r.n_inputs = q.n;
  st = kz_server_infer(s, &r, &resp);
  CHECK(st == KZ_ERR_INVALID_ARG && strstr(kz_last_error(), "missing input 'volume'"),
        "missing column: %d %s", (int)st, kz_last_error());
  release(&q);

  char *meta = NULL;
  CHECK(kz_server_model_metadata(s, "tx", 0, &meta) == KZ_OK && strstr(meta, "\"kaizen_tft\"") &&
            strstr(meta, "\"encoder_length\":") && strstr(meta, "\"future:year\""),
        "metadata: %s", meta ? meta : kz_last_error());
  kz_string_free(meta);
  kz_server_free(s);
  pthread_cond_destroy(&w.cv);
  pthread_mutex_destroy(&w.mu);
  for (int i = 0; i < data.n_rows * MAX_COLS; ++i) free(data.cells[i]);
  for (int i = 0; i < want.n_rows * MAX_COLS; ++i) free(want.cells[i]);
  for (int c = 0; c < MAX_COLS; ++c) free(data.names[c]), free(want.names[c]);
  free(data.cells), free(want.cells);
  if (fails) return 1;
  printf("serve tft in-process: all checks passed\n");
  return 0;
}
