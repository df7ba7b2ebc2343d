/* The in-process inference server (include/kaizen.h, "serving";
 * docs/SERVING.md): what the server, a loaded model, a queued request and a
 * response hold. One worker thread per model owns its kz_predictor; callers
 * only validate and convert their request, then queue it. */
#ifndef KZ_ENGINE_SERVE_SERVER_INTERNAL_H
#define KZ_ENGINE_SERVE_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "kaizen.h"

#define KZ_SERVE_NAME_MAX 64
#define KZ_SERVE_MAX_ADAPTERS 64

/* Triton's failure reasons (nv_inference_request_failure{reason}). */
enum { KZ_FAIL_REJECTED = 0, KZ_FAIL_BACKEND = 1, KZ_FAIL_OTHER = 2, KZ_FAIL_REASONS = 3 };

/* One output tensor of a response: [rows] or [rows, cols]. */
typedef struct kz_serve_out {
  char *name;
  kz_datatype type; /* FP64, INT64 or BYTES */
  int ndim;
  int64_t shape[2];
  double *f64;  /* FP64 */
  int64_t *i64; /* INT64 */
  char **str;   /* BYTES; NULL entries are JSON null */
} kz_serve_out;

struct kz_infer_response {
  kz_status status;
  char *error;
  char *model;
  int64_t version;
  char *id;
  int64_t rows;
  int n_out;
  kz_serve_out *outs; /* n_out of them */
  int64_t queue_us, compute_us, total_us;
};

/* One accepted request waiting for (or in) a run. */
typedef struct kz_serve_job {
  struct kz_serve_job *next;
  int64_t rows;
  const char **cells; /* rows x the model's features, in its feature order */
  char *text;         /* the cells' bytes */
  int n_want;
  int *want;   /* output indices the caller asked for */
  int adapter; /* the LoRA adapter it runs with (an index of the model's), -1: the base */
  kz_infer_response *resp;
  kz_infer_callback callback;
  void *user;
  int64_t t_submit, t_enqueue, deadline; /* monotonic us; deadline 0: none */
  struct kz_serve_tft_req *tft;          /* a TFT request's series (tft_model.c); rows: series */
} kz_serve_job;

typedef struct kz_serve_metrics {
  uint64_t success, failure[KZ_FAIL_REASONS];
  uint64_t inference_count; /* rows run */
  uint64_t exec_count;      /* model runs (batches) */
  uint64_t request_us, queue_us, compute_us;
  int64_t unseen; /* category values the model never saw */
} kz_serve_metrics;

struct kz_tf_text;
typedef struct kz_serve_tft kz_serve_tft;
typedef struct kz_serve_tft_req kz_serve_tft_req;
struct kz_tf_adapter;

/* A LoRA adapter loaded onto a served transformer (adapters.c). */
typedef struct kz_serve_adapter {
  char name[KZ_SERVE_NAME_MAX + 1];
  struct kz_tf_adapter *ad;
} kz_serve_adapter;

typedef struct kz_serve_model {
  char name[KZ_SERVE_NAME_MAX + 1];
  int64_t version;
  char *path;
  const char *type; /* "gbdt", "mlp", "linear" */
  kz_predictor *pred;
  kz_batching batching;
  /* inputs: the feature columns of the model's schema (not the label) */
  int n_feat;
  char **feat_names;
  int *feat_categorical; /* 1: category strings (BYTES) */
  kz_datatype *feat_type;
  int n_out;
  char **out_names;
  /* transformers: texts in (BYTES inputs, tokenised here), outputs by task
   * (text_model.c); NULL for the tabular families */
  struct kz_tf_text *text;
  kz_datatype *out_type; /* per output: FP64, INT64 or BYTES */
  int64_t *out_cols;     /* per output: 0 [rows]; > 0 [rows, cols]; -1 [rows, words] */
  /* the TFT: series histories in, quantile forecasts out (tft_model.c); NULL
   * for the other families */
  struct kz_serve_tft *tft;

  /* LoRA adapters by name (adapters.c): added under mu, never removed
   * before the model closes; run_mu serialises what touches the weights (a
   * batch's run, merging an adapter in or out) and guards applied */
  kz_serve_adapter adapters[KZ_SERVE_MAX_ADAPTERS];
  int n_adapters;
  pthread_mutex_t run_mu;
  int applied; /* the adapter merged into the weights now, -1: none */

  pthread_mutex_t mu; /* guards everything below (and n_adapters) */
  pthread_cond_t wake;
  kz_serve_job *head, *tail;
  int64_t queued, queued_rows;
  int closing;
  int refs; /* callers between lookup and queueing (the server's mutex) */
  pthread_t worker;
  kz_serve_metrics metrics;
} kz_serve_model;

struct kz_server {
  kz_server_options options;
  char *device;
  pthread_mutex_t mu; /* the model list and every model's refs */
  pthread_cond_t released;
  int n_models, cap_models;
  kz_serve_model **models;
};

int64_t kz_serve_now_us(void);

/* server.c: name/version (0: the highest) with a reference taken, so it
 * stays loaded until released; NULL when not loaded. */
kz_serve_model *kz_server_acquire(kz_server *s, const char *name, int64_t version);
void kz_server_release(kz_server *s, kz_serve_model *m);

/* model.c: open a model file and start its worker; stop and free it. */
kz_status kz_serve_model_open(const char *name, int64_t version, const char *path,
                              const char *device, const kz_batching *b, kz_serve_model **out);
void kz_serve_model_close(kz_serve_model *m);
/* Queues job (rejected at once when the queue is full or closing). */
kz_status kz_serve_model_enqueue(kz_serve_model *m, kz_serve_job *job);
void kz_serve_model_count_failure(kz_serve_model *m, int reason);

/* text_model.c: a transformer's inputs and outputs (a text model needs a
 * vocabulary in its file), checks of its BYTES inputs on the caller's
 * thread, one run over the rows of a batch and the outputs of one job. */
kz_status kz_serve_text_plan(kz_serve_model *m);
void kz_serve_text_free(kz_serve_model *m);
kz_status kz_serve_text_check(const kz_serve_model *m, const char *input, int64_t row,
                              const char *v);
typedef struct kz_serve_text_out kz_serve_text_out;
kz_status kz_serve_text_run(kz_serve_model *m, int64_t rows, const char *const *cells,
                            kz_serve_text_out **out);
/* rows [at, at + job->rows) of the run's results into job->resp */
kz_status kz_serve_text_finish(const kz_serve_model *m, const kz_serve_text_out *res, int64_t at,
                               const kz_serve_job *job);
void kz_serve_text_out_free(kz_serve_text_out *res);
/* tft_model.c: a TFT's inputs (the columns of its timeseries schema, one
 * row per history step, plus optional future known values) and outputs
 * (series, time and one [series, horizon] tensor per quantile). A request's
 * series are parsed and checked on the caller's thread (kz_serve_tft_parse
 * sets job->tft and job->rows, the series count); the worker runs the
 * series of a batch's jobs as one batch of windows. */
kz_status kz_serve_tft_plan(kz_serve_model *m);
void kz_serve_tft_free(kz_serve_model *m);
kz_status kz_serve_tft_parse(const kz_serve_model *m, const kz_infer_request *r, kz_serve_job *job);
void kz_serve_tft_req_free(struct kz_serve_tft_req *q);
typedef struct kz_serve_tft_out kz_serve_tft_out;
/* The forecasts of the live jobs (status OK) of jobs[0..n), in order. */
kz_status kz_serve_tft_run(kz_serve_model *m, kz_serve_job *const *jobs, int n,
                           kz_serve_tft_out **out);
/* the series [at, at + job->rows) of the run into job->resp */
kz_status kz_serve_tft_finish(const kz_serve_model *m, const kz_serve_tft_out *res, int64_t at,
                              const kz_serve_job *job);
void kz_serve_tft_out_free(kz_serve_tft_out *res);
int64_t kz_serve_tft_unseen(const kz_serve_model *m);
/* The outputs a request gets when it names none (the interpretation ones
 * come after them and only by name). */
int kz_serve_tft_default_outputs(const kz_serve_model *m);
/* metadata.c's inputs, outputs and parameters of a TFT (json_t *). */
void kz_serve_tft_metadata(const kz_serve_model *m, void *inputs, void *outputs, void *params);
/* The response's outputs: n of them, names copied, data NULL (to fill). */
kz_status kz_serve_response_outputs(kz_infer_response *r, int n);

/* adapters.c: the index of the adapter a request names (NULL or "": -1,
 * the base; an unknown name is KZ_ERR_INVALID_ARG naming it and the loaded
 * ones); switching the weights to a job's adapter (run_mu held, worker);
 * freeing them (model closing). */
kz_status kz_serve_adapter_load(kz_serve_model *m, const char *name, const char *dir);
kz_status kz_serve_adapter_find(kz_serve_model *m, const char *name, int *index);
kz_status kz_serve_adapter_select(kz_serve_model *m, int index);
void kz_serve_adapters_free(kz_serve_model *m);

/* request.c: a validated, converted request ready for the queue. */
kz_status kz_serve_job_new(const kz_serve_model *m, const kz_infer_request *r, int64_t t_submit,
                           kz_serve_job **out);
void kz_serve_job_free(kz_serve_job *job);
kz_infer_response *kz_serve_response_new(const char *model, int64_t version, const char *id);
/* Sets the response's failure; returns status. */
kz_status kz_serve_response_fail(kz_infer_response *r, kz_status status, const char *msg);

#endif
