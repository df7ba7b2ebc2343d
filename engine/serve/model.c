/* A served model: its predictor, its queue and the worker thread that runs
 * batches (server_internal.h). Only the worker touches the predictor, so a
 * model needs no lock around scoring; the queue has one mutex. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/shard/schema.h"
#include "engine/predict/predictor.h"
#include "engine/serve/server_internal.h"
#include "kernels/core/error.h"

int64_t kz_serve_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void free_model(kz_serve_model *m) {
  kz_serve_adapters_free(m);
  pthread_mutex_destroy(&m->run_mu);
  kz_predictor_close(m->pred);
  for (int i = 0; m->feat_names && i < m->n_feat; ++i) free(m->feat_names[i]);
  for (int i = 0; m->out_names && i < m->n_out; ++i) free(m->out_names[i]);
  free(m->feat_names), free(m->feat_categorical), free(m->feat_type), free(m->out_names);
  kz_serve_text_free(m);
  kz_serve_tft_free(m);
  free(m->path);
  free(m);
}

/* The feature columns: every column of the schema but the label. */
static kz_status plan_inputs(kz_serve_model *m) {
  const kz_schema *s = kz_predictor_schema(m->pred);
  if (!s)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "%s: the model file carries no input schema (written before model files kept "
                   "one); retrain it to serve it",
                   m->path);
  if (!strcmp(m->type, "transformer")) return kz_serve_text_plan(m);
  if (!strcmp(m->type, "tft")) return kz_serve_tft_plan(m);
  int n = 0;
  for (int f = 0; f < s->n_fields; ++f) n += s->fields[f].n_columns;
  m->feat_names = calloc((size_t)(n ? n : 1), sizeof *m->feat_names);
  m->feat_categorical = calloc((size_t)(n ? n : 1), sizeof *m->feat_categorical);
  m->feat_type = calloc((size_t)(n ? n : 1), sizeof *m->feat_type);
  if (!m->feat_names || !m->feat_categorical || !m->feat_type)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int f = 0; f < s->n_fields; ++f) {
    const kz_field *fd = &s->fields[f];
    for (int c = 0; c < fd->n_columns; ++c) {
      const char *name = fd->columns[c].name;
      if (s->label && !strcmp(s->label, name)) continue;
      int k = m->n_feat;
      if (!(m->feat_names[k] = dup_str(name))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "oom");
      m->n_feat++;
      m->feat_categorical[k] = fd->type == KZ_FIELD_I32 || fd->type == KZ_FIELD_STR;
      m->feat_type[k] = fd->type == KZ_FIELD_F32   ? KZ_TYPE_FP32
                        : fd->type == KZ_FIELD_F64 ? KZ_TYPE_FP64
                                                   : KZ_TYPE_BYTES;
    }
  }
  m->n_out = kz_predictor_output_count(m->pred);
  m->out_names = calloc((size_t)(m->n_out ? m->n_out : 1), sizeof *m->out_names);
  if (!m->out_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int k = 0; k < m->n_out; ++k)
    if (!(m->out_names[k] = dup_str(kz_predictor_output_name(m->pred, k))))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  return kz_predictor_set_columns(m->pred, m->n_feat, (const char *const *)m->feat_names);
}

/* ---- the worker --------------------------------------------------------- */

/* The tabular outputs: FP64 [rows] each. */
static kz_status numeric_outputs(const kz_serve_model *m, const kz_serve_job *job,
                                 const double *out) {
  kz_infer_response *r = job->resp;
  KZ_TRY(kz_serve_response_outputs(r, job->n_want));
  for (int k = 0; k < job->n_want; ++k) {
    int o = job->want[k];
    kz_serve_out *so = &r->outs[k];
    so->type = KZ_TYPE_FP64, so->ndim = 1, so->shape[0] = job->rows;
    so->name = dup_str(m->out_names[o]);
    so->f64 = malloc((size_t)(job->rows ? job->rows : 1) * sizeof(double));
    if (!so->name || !so->f64) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < job->rows; ++i) so->f64[i] = out[i * m->n_out + o];
  }
  return KZ_OK;
}

/* out: the tabular run's values from the job's first row, or res (tres for
 * a TFT) and at: the text run's results and the job's first row in them. */
static void finish(kz_serve_model *m, kz_serve_job *job, int64_t t_start, int64_t t_end,
                   const double *out, const kz_serve_text_out *res, const kz_serve_tft_out *tres,
                   int64_t at) {
  kz_infer_response *r = job->resp;
  r->queue_us = t_start - job->t_enqueue;
  r->compute_us = t_end - t_start;
  r->total_us = t_end - job->t_submit;
  if (r->status == KZ_OK) {
    r->rows = job->rows;
    kz_status st = m->tft    ? kz_serve_tft_finish(m, tres, at, job)
                   : m->text ? kz_serve_text_finish(m, res, at, job)
                             : numeric_outputs(m, job, out);
    if (st != KZ_OK) /* the outputs made so far are freed with r */
      kz_serve_response_fail(r, st, kz_last_error());
  }
  pthread_mutex_lock(&m->mu);
  if (r->status == KZ_OK) {
    m->metrics.success++;
    m->metrics.request_us += (uint64_t)r->total_us;
    m->metrics.queue_us += (uint64_t)r->queue_us;
    m->metrics.compute_us += (uint64_t)r->compute_us;
    m->metrics.inference_count += (uint64_t)job->rows;
  } else {
    m->metrics.failure[r->status == KZ_ERR_UNAVAILABLE ? KZ_FAIL_REJECTED : KZ_FAIL_BACKEND]++;
  }
  pthread_mutex_unlock(&m->mu);
  job->resp = NULL;
  kz_infer_callback cb = job->callback;
  void *user = job->user;
  kz_serve_job_free(job);
  cb(r, user);
}

typedef struct scratch {
  const char **cells;
  double *out;
  int64_t cap; /* rows */
} scratch;

static int reserve(scratch *sc, const kz_serve_model *m, int64_t rows) {
  if (rows <= sc->cap) return 1;
  free(sc->cells), free(sc->out);
  sc->cap = 0;
  sc->cells = malloc((size_t)rows * (size_t)(m->n_feat ? m->n_feat : 1) * sizeof *sc->cells);
  sc->out = malloc((size_t)rows * (size_t)(m->n_out ? m->n_out : 1) * sizeof *sc->out);
  if (!sc->cells || !sc->out) return 0;
  sc->cap = rows;
  return 1;
}

/* One model run over the jobs' rows. On failure, each job runs alone so a bad
 * value fails only the request that sent it. */
static void run_batch(kz_serve_model *m, scratch *sc, kz_serve_job **jobs, int n) {
  int64_t t_start = kz_serve_now_us(), rows = 0;
  for (int j = 0; j < n; ++j) {
    if (jobs[j]->deadline && t_start > jobs[j]->deadline)
      kz_serve_response_fail(jobs[j]->resp, KZ_ERR_UNAVAILABLE,
                             "the request timed out in the queue");
    if (jobs[j]->resp->status == KZ_OK) rows += jobs[j]->rows;
  }
  kz_status st = KZ_OK;
  if (rows > 0 && !reserve(sc, m, rows))
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory for a batch of %lld rows", (long long)rows);
  int64_t at = 0;
  for (int j = 0; st == KZ_OK && !m->tft && j < n; ++j) {
    if (jobs[j]->resp->status != KZ_OK) continue;
    memcpy(sc->cells + at * m->n_feat, jobs[j]->cells,
           (size_t)(jobs[j]->rows * m->n_feat) * sizeof *sc->cells);
    at += jobs[j]->rows;
  }
  kz_serve_text_out *res = NULL;
  kz_serve_tft_out *tres = NULL;
  if (st == KZ_OK && rows > 0) {
    /* a batch's jobs share their adapter (take_batch) */
    pthread_mutex_lock(&m->run_mu);
    st = kz_serve_adapter_select(m, jobs[0]->adapter);
    if (st == KZ_OK)
      st = m->tft    ? kz_serve_tft_run(m, jobs, n, &tres)
           : m->text ? kz_serve_text_run(m, rows, sc->cells, &res)
                     : kz_predictor_predict(m->pred, rows, sc->cells, sc->out);
    pthread_mutex_unlock(&m->run_mu);
  }
  int64_t t_end = kz_serve_now_us();
  if (rows > 0) {
    pthread_mutex_lock(&m->mu);
    m->metrics.exec_count++;
    m->metrics.unseen = m->tft ? kz_serve_tft_unseen(m) : kz_predictor_unseen(m->pred);
    pthread_mutex_unlock(&m->mu);
  }
  if (st != KZ_OK) {
    int live = 0;
    for (int j = 0; j < n; ++j) live += jobs[j]->resp->status == KZ_OK;
    if (live > 1) {
      kz_serve_text_out_free(res);
      kz_serve_tft_out_free(tres);
      for (int j = 0; j < n; ++j) run_batch(m, sc, &jobs[j], 1);
      return;
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", kz_last_error());
    for (int j = 0; j < n; ++j)
      if (jobs[j]->resp->status == KZ_OK) kz_serve_response_fail(jobs[j]->resp, st, msg);
  }
  at = 0;
  for (int j = 0; j < n; ++j) {
    int ok = jobs[j]->resp->status == KZ_OK;
    int64_t n_rows = jobs[j]->rows;
    /* frees the job */
    finish(m, jobs[j], t_start, t_end, ok && !m->text && !m->tft ? sc->out + at * m->n_out : NULL,
           res, tres, at);
    if (ok) at += n_rows;
  }
  kz_serve_text_out_free(res);
  kz_serve_tft_out_free(tres);
}

/* Takes the next batch off the queue (m->mu held): the first request, then
 * as many more as fit in max_batch_size rows (dynamic batching only). A
 * batch runs with one adapter (or none): requests for another adapter stay
 * queued, in order, for a later batch; the first request always goes, so
 * none waits behind others for long. */
static int take_batch(kz_serve_model *m, kz_serve_job **jobs, int cap) {
  int n = 0;
  int64_t rows = 0;
  kz_serve_job *prev = NULL, *j = m->head;
  while (j && n < cap) {
    kz_serve_job *next = j->next;
    if (n > 0 && (!m->batching.dynamic || rows + j->rows > m->batching.max_batch_size)) break;
    if (n > 0 && j->adapter != jobs[0]->adapter) { /* left for a later batch */
      prev = j, j = next;
      continue;
    }
    if (prev)
      prev->next = next;
    else
      m->head = next;
    if (m->tail == j) m->tail = prev;
    j->next = NULL;
    m->queued--, m->queued_rows -= j->rows;
    rows += j->rows;
    jobs[n++] = j;
    j = next;
  }
  return n;
}

static void *worker(void *arg) {
  kz_serve_model *m = arg;
  scratch sc = {0};
  int cap = (int)(m->batching.max_batch_size < 4096 ? m->batching.max_batch_size : 4096);
  kz_serve_job **jobs = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *jobs);
  if (!jobs) cap = 1, jobs = NULL;
  kz_serve_job *one[1];
  pthread_mutex_lock(&m->mu);
  for (;;) {
    while (!m->head && !m->closing) pthread_cond_wait(&m->wake, &m->mu);
    if (!m->head) break; /* closing and drained */
    /* the first request waits up to max_queue_delay_us for company */
    if (m->batching.dynamic && m->batching.max_queue_delay_us > 0) {
      int64_t until = m->head->t_enqueue + m->batching.max_queue_delay_us;
      while (!m->closing && m->queued_rows < m->batching.max_batch_size) {
        int64_t now = kz_serve_now_us();
        if (now >= until) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (until - now) * 1000;
        ts.tv_sec += ns / 1000000000, ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&m->wake, &m->mu, &ts);
      }
    }
    int n = jobs ? take_batch(m, jobs, cap) : take_batch(m, one, 1);
    pthread_mutex_unlock(&m->mu);
    run_batch(m, &sc, jobs ? jobs : one, n);
    pthread_mutex_lock(&m->mu);
  }
  pthread_mutex_unlock(&m->mu);
  free(jobs);
  free(sc.cells), free(sc.out);
  return NULL;
}

/* ---- life cycle ------------------------------------------------------------ */

kz_status kz_serve_model_open(const char *name, int64_t version, const char *path,
                              const char *device, const kz_batching *b, kz_serve_model **out) {
  *out = NULL;
  kz_serve_model *m = calloc(1, sizeof *m);
  if (!m || !(m->path = dup_str(path))) {
    free(m);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  snprintf(m->name, sizeof m->name, "%s", name);
  m->version = version;
  m->applied = -1;
  pthread_mutex_init(&m->run_mu, NULL);
  m->batching = *b;
  kz_status st = kz_predictor_open(path, device, &m->pred);
  if (st == KZ_OK) {
    m->type = kz_predictor_type(m->pred);
    st = plan_inputs(m);
  }
  if (st != KZ_OK) {
    free_model(m);
    return st;
  }
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->wake, NULL);
  int e = pthread_create(&m->worker, NULL, worker, m);
  if (e) {
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->mu);
    free_model(m);
    return kz_fail(KZ_ERR_INTERNAL, "model '%s': cannot start its worker thread: %s", name,
                   strerror(e));
  }
  *out = m;
  return KZ_OK;
}

void kz_serve_model_close(kz_serve_model *m) {
  if (!m) return;
  pthread_mutex_lock(&m->mu);
  m->closing = 1;
  pthread_cond_signal(&m->wake);
  pthread_mutex_unlock(&m->mu);
  pthread_join(m->worker, NULL);
  pthread_cond_destroy(&m->wake);
  pthread_mutex_destroy(&m->mu);
  free_model(m);
}

void kz_serve_model_count_failure(kz_serve_model *m, int reason) {
  pthread_mutex_lock(&m->mu);
  m->metrics.failure[reason]++;
  pthread_mutex_unlock(&m->mu);
}

kz_status kz_serve_model_enqueue(kz_serve_model *m, kz_serve_job *job) {
  pthread_mutex_lock(&m->mu);
  kz_status st = KZ_OK;
  if (m->closing)
    st = kz_fail(KZ_ERR_UNAVAILABLE, "model '%s' version %lld is being unloaded", m->name,
                 (long long)m->version);
  else if (m->queued >= m->batching.max_queue_size)
    st = kz_fail(KZ_ERR_UNAVAILABLE,
                 "model '%s' version %lld: the queue is full (%lld requests waiting, "
                 "max_queue_size); retry later",
                 m->name, (long long)m->version, (long long)m->queued);
  if (st != KZ_OK) {
    m->metrics.failure[KZ_FAIL_REJECTED]++;
    pthread_mutex_unlock(&m->mu);
    return st;
  }
  job->t_enqueue = kz_serve_now_us();
  if (m->tail)
    m->tail->next = job;
  else
    m->head = job;
  m->tail = job;
  m->queued++, m->queued_rows += job->rows;
  pthread_cond_signal(&m->wake);
  pthread_mutex_unlock(&m->mu);
  return KZ_OK;
}
