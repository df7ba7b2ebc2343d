/* The in-process server (include/kaizen.h, "serving"): a GBDT and an MLP
 * trained by the real `kaizen` binary on a small generated table are served;
 * answers must equal `kaizen predict --input` on the same rows digit for
 * digit, through the synchronous and the asynchronous call, one request at a
 * time and many at once (dynamic batching), with requests rejected for every
 * malformed input, a full queue rejected at once, a timeout in the queue,
 * unload while requests wait, metadata and metrics.
 * usage: test_serve KAIZEN TMPDIR */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kaizen.h"
#include "tests/test_util.h"

enum { N_TRAIN = 400, N_NEW = 60 };
static const char *colors[] = {"red", "green", "blue"};
static char tmp[512], kaizen[512];

static double u01(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*s >> 11) / 9007199254740992.0;
}

/* new rows, kept to build requests from the same values */
static double nx1[N_NEW], nx2[N_NEW];
static const char *ncolor[N_NEW];

static void write_csv(const char *path, int n, int label_kind, uint64_t seed, int keep) {
  FILE *f = fopen(path, "w");
  fprintf(f, "x1,x2,color%s\n", label_kind == 0 ? ",y" : label_kind == 1 ? ",cls" : "");
  uint64_t s = seed;
  for (int i = 0; i < n; ++i) {
    double x1 = u01(&s) * 10 - 5, x2 = u01(&s) * 3;
    int c = (int)(u01(&s) * 3);
    int missing = i % 11 == 3;
    const char *color = keep && i % 17 == 5 ? "purple" /* unseen */ : colors[c];
    if (keep) nx1[i] = missing ? NAN : x1, nx2[i] = x2, ncolor[i] = i % 13 == 7 ? NULL : color;
    if (missing)
      fprintf(f, "NA,");
    else
      fprintf(f, "%.17g,", x1);
    fprintf(f, "%.17g,%s", (double)(float)x2, keep && i % 13 == 7 ? "" : color);
    double y = sin(x1) * 2 + x2 * (c + 1) + u01(&s) * 0.1;
    if (label_kind == 0) fprintf(f, ",%.6f", y);
    if (label_kind == 1) fprintf(f, ",%s", y > 3 ? "high" : y > 1 ? "mid" : "low");
    fprintf(f, "\n");
  }
  fclose(f);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

static int train(const char *name, int label_kind, const char *model_yaml) {
  char csv[600];
  snprintf(csv, sizeof csv, "%s/%s.csv", tmp, name);
  write_csv(csv, N_TRAIN, label_kind, 42, 0);
  if (sh("'%s' data import --kind tabular --input %s --out %s/%s_data --label %s %s >/dev/null",
         kaizen, csv, tmp, name, label_kind ? "cls" : "y",
         label_kind ? "--label-type categorical" : ""))
    return 1;
  char yaml[600];
  snprintf(yaml, sizeof yaml, "%s/%s.yaml", tmp, name);
  FILE *f = fopen(yaml, "w");
  fprintf(f, "model: %s\ndata: {train: %s/%s_data}\ntrain: {seed: 1%s}\n", model_yaml, tmp, name,
          label_kind ? ", epochs: 3, batch_size: 32" : "");
  fprintf(f, "output: {runs_dir: %s/runs, experiment: e, run_id: %s}\n", tmp, name);
  fclose(f);
  return sh("'%s' train %s --quiet >/dev/null", kaizen, yaml);
}

/* `kaizen predict` on the new rows: n_out columns of %.9g text per row */
static int predict_cli(const char *model, char lines[N_NEW][512]) {
  char out[600];
  snprintf(out, sizeof out, "%s/pred.csv", tmp);
  if (sh("'%s' predict --model %s --input %s/new.csv --out %s --overwrite --quiet", kaizen, model,
         tmp, out))
    return 1;
  FILE *f = fopen(out, "r");
  char header[512];
  if (!f || !fgets(header, sizeof header, f)) return 1;
  for (int i = 0; i < N_NEW; ++i) {
    if (!fgets(lines[i], 512, f)) return 1;
    lines[i][strcspn(lines[i], "\n")] = '\0';
  }
  fclose(f);
  return 0;
}

/* the response's rows as `kaizen predict` prints them */
static void response_line(const kz_infer_response *r, int64_t row, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int k = 0; k < kz_infer_response_output_count(r); ++k) {
    kz_infer_tensor t;
    kz_infer_response_output(r, k, &t);
    used += (size_t)snprintf(buf + used, cap - used, k ? ",%.9g" : "%.9g",
                             ((const double *)t.data)[row]);
  }
}

/* A request for rows [r0, r0 + n) of the new rows; x2 as FP32, x1 as FP64. */
typedef struct req {
  float x2[N_NEW];
  kz_infer_tensor in[3];
  kz_infer_request r;
} req;

static void make_req(req *q, const char *model, int r0, int n) {
  memset(q, 0, sizeof *q);
  for (int i = 0; i < n; ++i) q->x2[i] = (float)nx2[r0 + i];
  q->in[0] = (kz_infer_tensor){"color", KZ_TYPE_BYTES, 1, {n}, ncolor + r0};
  q->in[1] = (kz_infer_tensor){"x1", KZ_TYPE_FP64, 2, {n, 1}, nx1 + r0};
  q->in[2] = (kz_infer_tensor){"x2", KZ_TYPE_FP32, 1, {n}, q->x2};
  q->r = (kz_infer_request){.model = model, .n_inputs = 3, .inputs = q->in};
}

/* ---- async ------------------------------------------------------------------- */
typedef struct collect {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, bad;
  char (*want)[512];
  int r0[N_NEW];
} collect;

typedef struct ticket {
  collect *c;
  int r0;
} ticket;

static void on_done(kz_infer_response *resp, void *user) {
  ticket *t = user;
  char line[512];
  int bad = kz_infer_response_status(resp) != KZ_OK;
  if (!bad) {
    response_line(resp, 0, line, sizeof line);
    bad = strcmp(line, t->c->want[t->r0]) != 0;
    if (bad) fprintf(stderr, "async row %d: %s != %s\n", t->r0, line, t->c->want[t->r0]);
  } else {
    fprintf(stderr, "async row %d: %s\n", t->r0, kz_infer_response_error(resp));
  }
  kz_infer_response_free(resp);
  pthread_mutex_lock(&t->c->mu);
  t->c->bad += bad;
  t->c->done++;
  pthread_cond_signal(&t->c->cv);
  pthread_mutex_unlock(&t->c->mu);
}

static void check_model(kz_server *s, const char *name, char want[N_NEW][512]) {
  /* everything in one request, then row by row, synchronously */
  req *q = malloc(sizeof *q);
  make_req(q, name, 0, N_NEW);
  kz_infer_response *resp = NULL;
  KZ_CHECK_OK(kz_server_infer(s, &q->r, &resp));
  char line[512];
  for (int i = 0; resp && i < N_NEW; ++i) {
    response_line(resp, i, line, sizeof line);
    if (strcmp(line, want[i])) fprintf(stderr, "%s row %d: %s != %s\n", name, i, line, want[i]);
    KZ_CHECK(!strcmp(line, want[i]));
  }
  kz_infer_response_free(resp);
  for (int i = 0; i < N_NEW; i += 7) {
    make_req(q, name, i, 1);
    resp = NULL;
    KZ_CHECK_OK(kz_server_infer(s, &q->r, &resp));
    if (resp) response_line(resp, 0, line, sizeof line);
    KZ_CHECK(resp && !strcmp(line, want[i]));
    kz_infer_response_free(resp);
  }
  /* every row as its own async request, all at once: they batch together */
  collect c = {.want = want};
  pthread_mutex_init(&c.mu, NULL);
  pthread_cond_init(&c.cv, NULL);
  req *qs = malloc(N_NEW * sizeof *qs);
  ticket tk[N_NEW];
  int sent = 0;
  for (int i = 0; i < N_NEW; ++i) {
    make_req(&qs[i], name, i, 1);
    tk[i] = (ticket){&c, i};
    kz_status st = kz_server_infer_async(s, &qs[i].r, on_done, &tk[i]);
    KZ_CHECK_OK(st);
    sent += st == KZ_OK;
  }
  pthread_mutex_lock(&c.mu);
  while (c.done < sent) pthread_cond_wait(&c.cv, &c.mu);
  pthread_mutex_unlock(&c.mu);
  KZ_CHECK(c.bad == 0);
  free(qs);
  free(q);
}

static void check_bad_requests(kz_server *s) {
  req q;
  kz_infer_response *resp = (kz_infer_response *)&q; /* must come back NULL */
  make_req(&q, "nope", 0, 2);
  KZ_CHECK_FAILS(kz_server_infer(s, &q.r, &resp), KZ_ERR_NOT_FOUND, "model 'nope' is not loaded");
  KZ_CHECK(resp == NULL);
  make_req(&q, "gbdt", 0, 2);
  q.r.version = 7;
  KZ_CHECK_FAILS(kz_server_infer(s, &q.r, &resp), KZ_ERR_NOT_FOUND, "version 7 is not loaded");
  make_req(&q, "gbdt", 0, 2);
  q.in[1].shape[0] = 3;
  KZ_CHECK_FAILS(kz_server_infer(s, &q.r, &resp), KZ_ERR_INVALID_ARG, "has 3 rows, 'color' has 2");
  make_req(&q, "gbdt", 0, 2);
  q.in[1].shape[1] = 4;
  KZ_CHECK_FAILS(kz_server_infer(s, &q.r, &resp), KZ_ERR_INVALID_ARG, "shape must be [rows]");
  make_req(&q, "gbdt", 0, 2);
  q.in[0].datatype = KZ_TYPE_FP32;
  KZ_CHECK_FAILS(kz_server_infer(s, &q.r, &resp), KZ_ERR_INVALID_ARG,
                 "input 'color' is categorical: send its values as BYTES");
  make_req(&q, "gbdt", 0, 2);
  q.in[2].name = "x3";
  KZ_CHECK_FAILS(kz_server_infer(s, &q.r, &resp), KZ_ERR_INVALID_ARG,
                 "has no input 'x3' (its inputs: x1, x2, color)");
  make_req(&q, "gbdt", 0, 2);
  q.r.n_inputs = 2;
  KZ_CHECK_FAILS(kz_server_infer(s, &q.r, &resp), KZ_ERR_INVALID_ARG, "missing input 'x2'");
  make_req(&q, "gbdt", 0, 2);
  q.in[2].name = "x1";
  KZ_CHECK_FAILS(kz_server_infer(s, &q.r, &resp), KZ_ERR_INVALID_ARG, "input 'x1' given twice");
  make_req(&q, "gbdt", 0, 2);
  const char *outs[] = {"p_x"};
  q.r.n_outputs = 1, q.r.outputs = outs;
  KZ_CHECK_FAILS(kz_server_infer(s, &q.r, &resp), KZ_ERR_INVALID_ARG, "has no output 'p_x'");
  /* a value the model cannot read fails that request alone */
  make_req(&q, "gbdt", 0, 2);
  const char *text[] = {"1.5", "abc"};
  q.in[1] = (kz_infer_tensor){"x1", KZ_TYPE_BYTES, 1, {2}, text};
  KZ_CHECK_FAILS(kz_server_infer(s, &q.r, &resp), KZ_ERR_FORMAT,
                 "column 'x1': 'abc' is not a number");
  /* numbers as text are read like a CSV's cells */
  const char *good[] = {"1.5", "NA"};
  q.in[1].data = good;
  resp = NULL;
  KZ_CHECK_OK(kz_server_infer(s, &q.r, &resp));
  KZ_CHECK(resp && kz_infer_response_output_count(resp) == 1);
  kz_infer_response_free(resp);
}

/* ---- queue limits ---------------------------------------------------------------- */
typedef struct counter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, ok, unavailable;
} counter;

static void count_done(kz_infer_response *resp, void *user) {
  counter *c = user;
  pthread_mutex_lock(&c->mu);
  c->done++;
  c->ok += kz_infer_response_status(resp) == KZ_OK;
  c->unavailable += kz_infer_response_status(resp) == KZ_ERR_UNAVAILABLE;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  kz_infer_response_free(resp);
}

/* A queue of 4 behind a worker that waits 300 ms for company: the 5th
 * request is rejected at once; a request whose timeout passes in the queue
 * fails as unavailable; unload runs what is queued first. */
static void check_queue(kz_server *s, const char *path) {
  kz_batching b = {
      .dynamic = 1, .max_batch_size = 8, .max_queue_delay_us = 300000, .max_queue_size = 4};
  KZ_CHECK_OK(kz_server_load(s, "small", 1, path, &b));
  req big;
  kz_infer_response *resp = NULL;
  make_req(&big, "small", 0, 9);
  KZ_CHECK_FAILS(kz_server_infer(s, &big.r, &resp), KZ_ERR_INVALID_ARG,
                 "9 rows exceed the model's max_batch_size (8)");
  counter c = {.done = 0};
  pthread_mutex_init(&c.mu, NULL);
  pthread_cond_init(&c.cv, NULL);
  req q[5];
  int accepted = 0;
  for (int i = 0; i < 4; ++i) {
    make_req(&q[i], "small", i, 1);
    if (i == 3) q[i].r.timeout_us = 1000; /* 1 ms: it waits 300 ms */
    kz_status st = kz_server_infer_async(s, &q[i].r, count_done, &c);
    KZ_CHECK_OK(st);
    accepted += st == KZ_OK;
  }
  make_req(&q[4], "small", 4, 1);
  KZ_CHECK_FAILS(kz_server_infer_async(s, &q[4].r, count_done, &c), KZ_ERR_UNAVAILABLE,
                 "the queue is full (4 requests waiting, max_queue_size)");
  char *metrics = NULL;
  KZ_CHECK_OK(kz_server_metrics(s, &metrics));
  KZ_CHECK(metrics && strstr(metrics, "nv_inference_pending_request_count{model=\"small\","
                                      "version=\"1\"} 4\n"));
  kz_string_free(metrics);
  nanosleep(&(struct timespec){0, 20000000},
            NULL); /* past the 1 ms timeout, well before the 300 ms delay ends */
  KZ_CHECK_OK(kz_server_unload(s, "small", 0)); /* drains the queue */
  KZ_CHECK(c.done == accepted && c.ok == 3 && c.unavailable == 1);
  if (c.done != accepted || c.ok != 3 || c.unavailable != 1)
    fprintf(stderr, "accepted %d done %d ok %d unavailable %d\n", accepted, c.done, c.ok,
            c.unavailable);
  KZ_CHECK(!kz_server_model_ready(s, "small", 0));
  KZ_CHECK_FAILS(kz_server_unload(s, "small", 0), KZ_ERR_NOT_FOUND, "model 'small' is not loaded");
  pthread_cond_destroy(&c.cv);
  pthread_mutex_destroy(&c.mu);
}

/* Four threads sending 50 requests each while a second version loads and the
 * first unloads: every request either answers right or fails not-found. */
typedef struct hammer {
  kz_server *s;
  char (*want)[512];
  int bad;
} hammer;

static void *hammer_run(void *arg) {
  hammer *h = arg;
  for (int i = 0; i < 50; ++i) {
    req q;
    int row = i % N_NEW;
    make_req(&q, "gbdt", row, 1);
    kz_infer_response *resp = NULL;
    kz_status st = kz_server_infer(h->s, &q.r, &resp);
    char line[512] = "";
    if (st == KZ_OK) response_line(resp, 0, line, sizeof line);
    if (st != KZ_OK || strcmp(line, h->want[row])) {
      fprintf(stderr, "hammer row %d: %s %s\n", row, kz_status_name(st),
              st ? kz_last_error() : line);
      h->bad++;
    }
    kz_infer_response_free(resp);
  }
  return NULL;
}

/* test_serve text MODEL: a transformer classification model through the C
 * API: a text answers with a BYTES label and a probability per class; bytes
 * that are not UTF-8 (which HTTP's JSON parser refuses before the server
 * sees them) are refused here, naming the input and element, and the model
 * keeps serving. */
static int run_text(const char *model) {
  kz_server_options o;
  kz_server_options_default(&o);
  o.device = "cpu";
  kz_server *s = NULL;
  KZ_CHECK_OK(kz_server_new(&o, &s));
  if (!s) return 1;
  KZ_CHECK_OK(kz_server_load(s, "tf", 0, model, NULL));
  const char *good[2] = {"It is a truth universally acknowledged.", "Emma"};
  const char *bad[2] = {"fine", "bad \xff byte"};
  for (int round = 0; round < 2; round++) {
    kz_infer_tensor in = {.name = "text",
                          .datatype = KZ_TYPE_BYTES,
                          .ndim = 1,
                          .shape = {2},
                          .data = round ? (const void *)good : (const void *)bad};
    kz_infer_request r = {.model = "tf", .inputs = &in, .n_inputs = 1};
    kz_infer_response *resp = NULL;
    kz_status st = kz_server_infer(s, &r, &resp);
    if (!round) {
      KZ_CHECK(st == KZ_ERR_INVALID_ARG && strstr(kz_last_error(), "element 1 is not valid UTF-8"));
      kz_infer_response_free(resp);
      continue;
    }
    KZ_CHECK_OK(st);
    KZ_CHECK(resp && kz_infer_response_status(resp) == KZ_OK);
    kz_infer_tensor t;
    int n = resp ? kz_infer_response_output_count(resp) : 0;
    KZ_CHECK(n >= 3);
    if (n >= 3) {
      KZ_CHECK_OK(kz_infer_response_output(resp, 0, &t));
      KZ_CHECK(!strcmp(t.name, "label") && t.datatype == KZ_TYPE_BYTES && t.shape[0] == 2);
      const char *const *labels = t.data;
      KZ_CHECK(labels[0] && labels[1] && *labels[0]);
      double sum = 0;
      for (int k = 1; k < n; k++) {
        KZ_CHECK_OK(kz_infer_response_output(resp, k, &t));
        KZ_CHECK(t.datatype == KZ_TYPE_FP64 && !strncmp(t.name, "p_", 2));
        sum += ((const double *)t.data)[0];
      }
      KZ_CHECK(fabs(sum - 1) < 1e-5);
    }
    kz_infer_response_free(resp);
  }
  kz_server_free(s);
  return KZ_TEST_RESULT();
}

/* ---- LoRA adapters by name ------------------------------------------------ */

enum { AD_ROWS = 3, AD_MAX_OUT = 16, AD_ASYNC = 48 };
static const char *const ad_texts[AD_ROWS] = {"It is a truth universally acknowledged.",
                                              "Emma was not required, by any subsequent "
                                              "discovery, to retract her ill opinion.",
                                              "Captain Wentworth had no fortune."};

/* The class probabilities of the three texts run with adapter (NULL: none). */
static int ad_infer(kz_server *s, const char *adapter, double *p, int *n_p) {
  kz_infer_tensor in = {
      .name = "text", .datatype = KZ_TYPE_BYTES, .ndim = 1, .shape = {AD_ROWS}, .data = ad_texts};
  kz_infer_request r = {.model = "tf", .inputs = &in, .n_inputs = 1, .adapter = adapter};
  kz_infer_response *resp = NULL;
  if (kz_server_infer(s, &r, &resp) != KZ_OK) {
    fprintf(stderr, "infer with adapter %s: %s\n", adapter ? adapter : "(none)", kz_last_error());
    return 0;
  }
  *n_p = 0;
  for (int k = 0; k < kz_infer_response_output_count(resp) && *n_p < AD_MAX_OUT; k++) {
    kz_infer_tensor t;
    if (kz_infer_response_output(resp, k, &t) != KZ_OK || t.datatype != KZ_TYPE_FP64) continue;
    for (int i = 0; i < AD_ROWS; i++) p[i * AD_MAX_OUT + *n_p] = ((const double *)t.data)[i];
    ++*n_p;
  }
  kz_infer_response_free(resp);
  return *n_p > 0;
}

typedef struct ad_async {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, bad;
  double worst;
  const double *ref[3]; /* the base's, a's and b's answers alone */
} ad_async;

typedef struct ad_call {
  ad_async *a;
  int i;
} ad_call;

/* A response to one of the mixed requests must be its own adapter's answer:
 * within 1e-6 of it (a batch of other rows may sum in another order) and
 * nearer to it than to the other two. */
static void ad_done(kz_infer_response *resp, void *user) {
  ad_call *c = user;
  kz_infer_tensor t;
  int ok = kz_infer_response_status(resp) == KZ_OK &&
           kz_infer_response_output(resp, 1, &t) == KZ_OK && t.datatype == KZ_TYPE_FP64;
  double d[3] = {0, 0, 0};
  for (int k = 0; ok && k < 3; k++)
    for (int i = 0; i < AD_ROWS; i++)
      d[k] = fmax(d[k], fabs(((const double *)t.data)[i] - c->a->ref[k][i * AD_MAX_OUT]));
  const int own = c->i % 3;
  ok = ok && d[own] <= 1e-6 && d[own] < d[(own + 1) % 3] && d[own] < d[(own + 2) % 3];
  kz_infer_response_free(resp);
  pthread_mutex_lock(&c->a->mu);
  c->a->bad += !ok;
  c->a->worst = fmax(c->a->worst, d[own]);
  c->a->done++;
  pthread_cond_signal(&c->a->cv);
  pthread_mutex_unlock(&c->a->mu);
}

/* test_serve adapters BASE A_DIR B_DIR OTHER_BASE: adapters a and b loaded
 * onto one served base by name; prints each one's probabilities (and the
 * base's) as "name row p..." for the caller to compare with `kaizen predict
 * --adapter`. Taking an adapter off restores the base bit for bit; requests
 * for different adapters queued together (dynamic batching, a queue delay)
 * each get their own adapter's answer; an unknown name, an adapter on an
 * unknown model, a name loaded twice and an adapter of another base are
 * refused. */
static int run_adapters(const char *base, const char *a_dir, const char *b_dir, const char *other) {
  kz_server_options o;
  kz_server_options_default(&o);
  o.device = "cpu";
  o.batching.max_queue_delay_us = 20000;
  kz_server *s = NULL;
  KZ_CHECK_OK(kz_server_new(&o, &s));
  if (!s) return 1;
  KZ_CHECK_OK(kz_server_load(s, "tf", 0, base, NULL));
  KZ_CHECK_OK(kz_server_load(s, "other", 0, other, NULL));
  KZ_CHECK_OK(kz_server_load_adapter(s, "tf", 0, "a", a_dir));
  KZ_CHECK_OK(kz_server_load_adapter(s, "tf", 0, "b", b_dir));
  KZ_CHECK(kz_server_load_adapter(s, "nope", 0, "a", a_dir) == KZ_ERR_NOT_FOUND);
  KZ_CHECK(kz_server_load_adapter(s, "tf", 0, "a", b_dir) == KZ_ERR_INVALID_ARG &&
           strstr(kz_last_error(), "has an adapter 'a' already"));
  kz_status st = kz_server_load_adapter(s, "other", 0, "a", a_dir);
  const char *e = kz_last_error(), *f1 = strstr(e, "fingerprint kz64:");
  KZ_CHECK(st == KZ_ERR_INVALID_ARG && f1 && strstr(f1 + 1, "is kz64:"));
  if (st == KZ_OK) fprintf(stderr, "adapter a loaded onto another base\n");
  char *md = NULL;
  KZ_CHECK_OK(kz_server_model_metadata(s, "tf", 0, &md));
  KZ_CHECK(md && strstr(md, "\"adapters\":[{") && strstr(md, "\"name\":\"a\"") &&
           strstr(md, "\"name\":\"b\""));
  kz_string_free(md);
  static double p[5][AD_ROWS * AD_MAX_OUT];
  int n[5] = {0};
  const char *order[5] = {NULL, "a", "b", NULL, "a"};
  for (int k = 0; k < 5; k++) KZ_CHECK(ad_infer(s, order[k], p[k], &n[k]));
  /* off and on again: bit for bit */
  KZ_CHECK(!memcmp(p[0], p[3], sizeof p[0]) && !memcmp(p[1], p[4], sizeof p[0]));
  KZ_CHECK(memcmp(p[0], p[1], sizeof p[0]) && memcmp(p[1], p[2], sizeof p[0]));
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < AD_ROWS; i++) {
      printf("%s %d", order[k] ? order[k] : "base", i);
      for (int j = 0; j < n[k]; j++) printf(" %.17g", p[k][i * AD_MAX_OUT + j]);
      printf("\n");
    }
  kz_infer_tensor in = {
      .name = "text", .datatype = KZ_TYPE_BYTES, .ndim = 1, .shape = {AD_ROWS}, .data = ad_texts};
  kz_infer_request bad = {.model = "tf", .inputs = &in, .n_inputs = 1, .adapter = "zzz"};
  kz_infer_response *resp = NULL;
  KZ_CHECK(kz_server_infer(s, &bad, &resp) == KZ_ERR_INVALID_ARG &&
           strstr(kz_last_error(), "no adapter 'zzz' (loaded: a, b)"));
  /* many requests for the three at once: batches never mix them */
  static ad_async as;
  static ad_call calls[AD_ASYNC];
  pthread_mutex_init(&as.mu, NULL);
  pthread_cond_init(&as.cv, NULL);
  int queued = 0;
  for (int k = 0; k < 3; k++) as.ref[k] = p[k];
  for (int i = 0; i < AD_ASYNC; i++) {
    calls[i] = (ad_call){&as, i};
    kz_infer_request r = {.model = "tf", .inputs = &in, .n_inputs = 1, .adapter = order[i % 3]};
    if (kz_server_infer_async(s, &r, ad_done, &calls[i]) == KZ_OK) queued++;
  }
  KZ_CHECK(queued == AD_ASYNC);
  pthread_mutex_lock(&as.mu);
  while (as.done < queued) pthread_cond_wait(&as.cv, &as.mu);
  pthread_mutex_unlock(&as.mu);
  KZ_CHECK(as.bad == 0);
  fprintf(stderr, "%d mixed requests: %d not their own adapter's answer; worst difference %.2e\n",
          queued, as.bad, as.worst);
  pthread_cond_destroy(&as.cv);
  pthread_mutex_destroy(&as.mu);
  kz_server_free(s);
  return KZ_TEST_RESULT();
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "text")) return run_text(argv[2]);
  if (argc >= 6 && !strcmp(argv[1], "adapters"))
    return run_adapters(argv[2], argv[3], argv[4], argv[5]);
  if (argc < 3) {
    fprintf(stderr, "usage: test_serve KAIZEN TMPDIR\n");
    return 2;
  }
  snprintf(kaizen, sizeof kaizen, "%s", argv[1]);
  snprintf(tmp, sizeof tmp, "%s/serve_unit", argv[2]);
  if (sh("rm -rf '%s' && mkdir -p '%s'", tmp, tmp)) return 1;
  char path[600];
  snprintf(path, sizeof path, "%s/new.csv", tmp);
  write_csv(path, N_NEW, 2, 7, 1);
  if (train("gbdt", 0, "{type: gbdt, num_round: 20, max_depth: 3}") ||
      train("mlp", 1, "{type: mlp, hidden: [8]}"))
    return 1;
  static char want_gbdt[N_NEW][512], want_mlp[N_NEW][512];
  char gbdt_path[600], mlp_path[600];
  snprintf(gbdt_path, sizeof gbdt_path, "%s/runs/e/gbdt/model.json", tmp);
  snprintf(mlp_path, sizeof mlp_path, "%s/runs/e/mlp/model.kzm", tmp);
  if (predict_cli(gbdt_path, want_gbdt) || predict_cli(mlp_path, want_mlp)) return 1;

  kz_server_options o;
  kz_server_options_default(&o);
  o.batching.max_batch_size = 64;
  o.batching.max_queue_delay_us = 2000;
  o.device = "cpu";
  kz_server *s = NULL;
  KZ_CHECK_OK(kz_server_new(&o, &s));
  if (!s) return 1;
  KZ_CHECK_OK(kz_server_load(s, "gbdt", 0, gbdt_path, NULL));
  kz_batching big = o.batching;
  big.max_batch_size = 100;
  KZ_CHECK_OK(kz_server_load(s, "mlp", 3, mlp_path, &big));
  KZ_CHECK_FAILS(kz_server_load(s, "mlp", 3, mlp_path, NULL), KZ_ERR_INVALID_ARG,
                 "model 'mlp' version 3 is already loaded");
  KZ_CHECK_FAILS(kz_server_load(s, "bad name", 1, mlp_path, NULL), KZ_ERR_INVALID_ARG,
                 "only letters, digits");
  KZ_CHECK(kz_server_load(s, "missing", 1, "/nonexistent/model.json", NULL) != KZ_OK);
  KZ_CHECK(kz_server_model_ready(s, "gbdt", 1) && kz_server_model_ready(s, "mlp", 0));
  KZ_CHECK(!kz_server_model_ready(s, "mlp", 1));

  check_model(s, "gbdt", want_gbdt);
  check_model(s, "mlp", want_mlp);
  check_bad_requests(s);

  char *meta = NULL;
  KZ_CHECK_OK(kz_server_model_metadata(s, "mlp", 0, &meta));
  KZ_CHECK(meta && strstr(meta, "\"platform\":\"kaizen_mlp\"") &&
           strstr(meta, "{\"name\":\"x1\",\"datatype\":\"FP32\",\"shape\":[-1]}") &&
           strstr(meta, "\"categories\":[\"blue\",\"green\",\"red\"]") &&
           strstr(meta, "\"name\":\"p_high\",\"datatype\":\"FP64\""));
  if (kz_test_failures) fprintf(stderr, "%s\n", meta ? meta : "(null)");
  kz_string_free(meta);
  KZ_CHECK_FAILS(kz_server_model_metadata(s, "mlp", 2, &meta), KZ_ERR_NOT_FOUND, "version 2");
  KZ_CHECK_OK(kz_server_metadata(s, &meta));
  KZ_CHECK(meta && strstr(meta, "\"name\":\"kaizen\"") && strstr(meta, "\"name\":\"mlp\""));
  kz_string_free(meta);

  check_queue(s, gbdt_path);

  hammer h[4];
  pthread_t th[4];
  for (int i = 0; i < 4; ++i) {
    h[i] = (hammer){s, want_gbdt, 0};
    pthread_create(&th[i], NULL, hammer_run, &h[i]);
  }
  KZ_CHECK_OK(kz_server_load(s, "other", 0, gbdt_path, NULL));
  KZ_CHECK_OK(kz_server_unload(s, "other", 0));
  for (int i = 0; i < 4; ++i) {
    pthread_join(th[i], NULL);
    KZ_CHECK(h[i].bad == 0);
  }

  char *metrics = NULL;
  KZ_CHECK_OK(kz_server_metrics(s, &metrics));
  if (metrics) {
    long long success = -1, count = -1, exec = -1;
    const char *p = strstr(metrics, "nv_inference_request_success{model=\"gbdt\",version=\"1\"} ");
    if (p) sscanf(strchr(p, '}') + 2, "%lld", &success);
    p = strstr(metrics, "nv_inference_count{model=\"gbdt\",version=\"1\"} ");
    if (p) sscanf(strchr(p, '}') + 2, "%lld", &count);
    p = strstr(metrics, "nv_inference_exec_count{model=\"gbdt\",version=\"1\"} ");
    if (p) sscanf(strchr(p, '}') + 2, "%lld", &exec);
    /* check_model: 1 + 9 + 60 requests, 60 + 9 + 60 rows; 1 good bad-input
     * request (2 rows); 200 hammer rows */
    KZ_CHECK(success == 1 + 9 + 60 + 1 + 200);
    KZ_CHECK(count == 60 + 9 + 60 + 2 + 200);
    KZ_CHECK(exec > 0 && exec < success); /* requests did share runs */
    KZ_CHECK(strstr(metrics, "nv_inference_request_failure{model=\"gbdt\",version=\"1\","
                             "reason=\"BACKEND\"} 1\n") != NULL);
    KZ_CHECK(strstr(metrics, "# TYPE nv_inference_queue_duration_us counter\n") != NULL);
    KZ_CHECK(strstr(metrics, "kaizen_unseen_category_count{model=\"gbdt\",version=\"1\"} 0\n") ==
             NULL);
    if (kz_test_failures) fputs(metrics, stderr);
  }
  kz_string_free(metrics);
  kz_server_free(s);
  return KZ_TEST_RESULT();
}
