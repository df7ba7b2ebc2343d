/* kaizen — public C API.
 *
 * Every function that can fail returns a kz_status; on failure kz_last_error()
 * returns a message (thread-local, valid until the next failing call on the
 * same thread) naming the file, field, device or request at fault. */
#ifndef KAIZEN_H
#define KAIZEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KZ_VERSION_MAJOR 0
#define KZ_VERSION_MINOR 1
#define KZ_VERSION_PATCH 0

typedef enum kz_status {
  KZ_OK = 0,
  KZ_ERR_INVALID_ARG = 1, /* a caller-supplied value is out of contract */
  KZ_ERR_OUT_OF_MEMORY = 2,
  KZ_ERR_IO = 3,          /* a file could not be read or written */
  KZ_ERR_FORMAT = 4,      /* a file or document is malformed */
  KZ_ERR_UNSUPPORTED = 5, /* valid request this build or device cannot do */
  KZ_ERR_DEVICE = 6,      /* a CUDA / driver call failed */
  KZ_ERR_NOT_FOUND = 7,
  KZ_ERR_INTERNAL = 8,
  KZ_ERR_UNAVAILABLE = 9 /* the server cannot take it now: queue full, shutting down, timed out */
} kz_status;

/* Message describing the most recent failure on this thread ("" if none). */
const char *kz_last_error(void);
/* Stable short name of a status code, e.g. "invalid-argument". */
const char *kz_status_name(kz_status status);

/* ---- build ------------------------------------------------------------ */
typedef struct kz_build_info {
  const char *version;    /* "0.1.0" */
  const char *git_hash;   /* short hash of the source tree, or "unknown" */
  const char *build_type; /* CMAKE_BUILD_TYPE */
  int cuda_enabled;       /* 1 when compiled with CUDA kernels */
  const char *cuda_archs; /* e.g. "80;90" or "" */
  const char *blas;       /* e.g. "OpenBLAS 0.3.21" */
  int openmp_threads;     /* threads OpenMP will use */
  int sanitizers;         /* 1 in ASan/UBSan builds */
} kz_build_info;

void kz_build_info_get(kz_build_info *info);
const char *kz_version(void);

/* ---- devices ---------------------------------------------------------- */
typedef enum kz_device_kind { KZ_DEVICE_CPU = 0, KZ_DEVICE_CUDA = 1 } kz_device_kind;

typedef struct kz_device {
  kz_device_kind kind;
  int index; /* 0 for the CPU; CUDA ordinal otherwise */
} kz_device;

typedef struct kz_device_info {
  kz_device device;
  char name[128];
  int compute_major, compute_minor; /* CUDA compute capability; 0 for CPU */
  int multiprocessors;              /* SMs, or CPU cores OpenMP uses */
  uint64_t total_memory;            /* bytes */
  char kernel_target[16];           /* kernel-config table in effect: "cpu", "sm_90" */
  int shared_mem_optin;             /* bytes of shared memory a block may opt in to; 0 for CPU */
} kz_device_info;

/* Number of usable devices: the CPU is always device 0 of the list, CUDA
 * devices follow. Never fails: a CUDA build on a machine without a GPU or
 * driver simply lists the CPU alone. */
int kz_device_list_count(void);
kz_status kz_device_list_get(int position, kz_device_info *info);
/* Number of CUDA devices the driver reports (0 without GPU or without CUDA). */
int kz_cuda_device_count(void);

/* Parses "auto", "cpu", "cuda" or "cuda:N". "auto" picks cuda:0 when present,
 * else the CPU. Requests for absent devices fail with a message naming them. */
kz_status kz_device_parse(const char *spec, kz_device *out);
/* Writes "cpu" or "cuda:N" into buf. */
void kz_device_format(kz_device device, char *buf, size_t size);

/* ---- kernel configuration --------------------------------------------- */
/* Loads a YAML file of kernel knob overrides (docs/KERNEL_CONFIG.md) and makes
 * it the process-wide configuration. Unknown targets, ops or knobs and
 * illegal values fail naming the file and line; nothing changes on failure. */
kz_status kz_kernel_config_load_file(const char *path);
/* Applies KZ_KERNEL_CONFIG if set; a no-op otherwise. */
kz_status kz_kernel_config_load_env(void);
/* Restores the built-in tables. */
void kz_kernel_config_reset(void);

/* ---- scoring new rows ------------------------------------------------- */
/* A trained model (neural .kzm or GBDT model.json) ready to score rows that
 * arrive by column name: a raw CSV line, a JSON object, a request. The model
 * file carries the schema of its training data; columns are matched by
 * name, numbers parsed as `kaizen data import` parses them, category strings
 * mapped through the model's own dictionaries (a value it never saw counts
 * as missing, see kz_predictor_unseen). docs/CLI.md, "kaizen predict". */
typedef struct kz_predictor kz_predictor;

/* device: "auto", "cpu", "cuda[:N]" or NULL (auto). */
kz_status kz_predictor_open(const char *model_path, const char *device, kz_predictor **out);
void kz_predictor_close(kz_predictor *p);
/* Values per row: class probabilities (classifiers) or the prediction. */
int kz_predictor_output_count(const kz_predictor *p);
/* "p_<class>" for a probability, else the label's name. */
const char *kz_predictor_output_name(const kz_predictor *p, int k);
/* The columns of the records to come, in order. Columns the model does not
 * read are ignored; a feature column it reads but names lacks fails, naming
 * it. The label column is optional. Call again to change the layout. */
kz_status kz_predictor_set_columns(kz_predictor *p, int n, const char *const *names);
/* Scores n_rows records of the layout set above: cells[r * n_columns + i]
 * is the text of column i in record r (NULL or "" = missing). out receives
 * n_rows * kz_predictor_output_count values. On failure nothing is scored
 * and the message names the record and column. */
kz_status kz_predictor_predict(kz_predictor *p, int64_t n_rows, const char *const *cells,
                               double *out);
/* Category values mapped to missing because the model never saw them,
 * counted over every record scored since the last set_columns. */
int64_t kz_predictor_unseen(const kz_predictor *p);

/* ---- serving ---------------------------------------------------------- */
/* An inference server inside the caller's process (docs/SERVING.md): models
 * loaded by name and version from model files, requests of named tensors,
 * dynamic batching with one worker thread per model, metrics. Every function
 * is thread-safe. `kaizen serve` puts the KServe v2 HTTP protocol in front of
 * the same server (kz_http_start below). */

/* Element types, named as in the KServe v2 protocol ("FP32", "BYTES"). */
typedef enum kz_datatype {
  KZ_TYPE_BOOL = 0,
  KZ_TYPE_INT32 = 1,
  KZ_TYPE_INT64 = 2,
  KZ_TYPE_FP32 = 3,
  KZ_TYPE_FP64 = 4,
  /* strings: data is `const char *const *`, one NUL-terminated UTF-8 string
   * per element, NULL for a missing value. Category values and numbers as
   * text today; text inputs of the transformer tasks later */
  KZ_TYPE_BYTES = 5
} kz_datatype;
#define KZ_TYPE_COUNT 6
const char *kz_datatype_name(kz_datatype t);
/* "FP32" -> KZ_TYPE_FP32; returns 0 for a name it does not know. */
int kz_datatype_parse(const char *name, kz_datatype *out);

#define KZ_INFER_MAX_DIMS 8
/* A tensor by name, type and shape. data: the elements in row-major order
 * (BYTES: an array of string pointers); NaN in FP32/FP64 is a missing value.
 * The first dimension is the batch (rows). The server copies inputs before
 * kz_server_infer(_async) returns. */
typedef struct kz_infer_tensor {
  const char *name;
  kz_datatype datatype;
  int ndim;
  int64_t shape[KZ_INFER_MAX_DIMS];
  const void *data;
} kz_infer_tensor;

/* How one model batches (per model; the server's options give defaults). */
typedef struct kz_batching {
  int dynamic;                /* 1: requests waiting together run as one batch */
  int64_t max_batch_size;     /* rows per run; a request may not exceed it */
  int64_t max_queue_delay_us; /* how long the first request waits for others */
  int64_t max_queue_size;     /* requests waiting; one more is rejected at once */
} kz_batching;

typedef struct kz_server_options {
  kz_batching batching; /* defaults: dynamic, 1024 rows, 0 us, 1024 requests */
  const char *device;   /* models' device: "auto" (NULL), "cpu", "cuda[:N]" */
} kz_server_options;

void kz_server_options_default(kz_server_options *o);

typedef struct kz_server kz_server;
/* options NULL: the defaults. */
kz_status kz_server_new(const kz_server_options *options, kz_server **out);
/* Stops accepting, finishes every queued request (their callbacks run), then
 * frees everything. Must not race with other calls on the same server. */
void kz_server_free(kz_server *s);

/* Loads a model file (model.json, .kzm) as name/version. version <= 0 takes
 * the next one after the highest loaded under that name (1 for the first).
 * batching NULL: the server's. Names: [A-Za-z0-9_.-], 1..64 characters. */
kz_status kz_server_load(kz_server *s, const char *name, int64_t version, const char *path,
                         const kz_batching *batching);
/* Loads a LoRA adapter (a PEFT directory: adapter_config.json and
 * adapter_model.safetensors, as a LoRA run's adapter/) onto the transformer
 * loaded as model/version (0: the highest) under the adapter name (same
 * rules as model names). A request's `adapter` picks it; requests for
 * different adapters never share a batch. An adapter trained on another
 * base (its recorded fingerprint differs) is refused naming both
 * fingerprints. The model itself must have no adapters of its own. */
kz_status kz_server_load_adapter(kz_server *s, const char *model, int64_t version, const char *name,
                                 const char *dir);
/* Stops taking requests for name (version 0: every version), runs the
 * queued ones, frees the model. */
kz_status kz_server_unload(kz_server *s, const char *name, int64_t version);
/* 1 when name/version (0: the highest) is loaded and taking requests. */
int kz_server_model_ready(kz_server *s, const char *name, int64_t version);
/* KServe v2 model metadata as JSON: name, versions, platform, inputs and
 * outputs with datatypes and shapes. Free with kz_string_free. */
kz_status kz_server_model_metadata(kz_server *s, const char *name, int64_t version, char **json);
/* {"name":"kaizen","version":...,"extensions":[...],"models":[...]} */
kz_status kz_server_metadata(kz_server *s, char **json);
/* Metrics in the Prometheus text format, Triton's names (docs/SERVING.md). */
kz_status kz_server_metrics(kz_server *s, char **text);
void kz_string_free(char *s);

/* A request: one tensor per input column, all with the same number of rows.
 * Tabular models take one input per feature column, named after it: numeric
 * columns as FP32/FP64/INT32/INT64 (or BYTES holding numbers as text),
 * categorical columns as BYTES category strings; values are mapped exactly
 * as `kaizen predict --input` maps a file's cells. A TFT takes its series'
 * history as rows (one input per column of its import: series id, time,
 * target, covariates) and optional "future:<known column>" inputs of shape
 * [series, horizon] (docs/SERVING.md, "Forecasting models (TFT)"). */
typedef struct kz_infer_request {
  const char *model;
  int64_t version; /* 0: the highest loaded */
  const char *id;  /* optional, echoed in the response */
  int n_inputs;
  const kz_infer_tensor *inputs;
  int n_outputs;              /* 0: every output */
  const char *const *outputs; /* names of the outputs wanted */
  int64_t timeout_us;         /* > 0: fail (unavailable) if still queued after it */
  int ignore_unknown_inputs;  /* 1: skip inputs the model does not read, as `kaizen predict`
                                 skips columns (the label among them); 0: reject them */
  const char *adapter;        /* a LoRA adapter loaded onto the model (kz_server_load_adapter)
                                 to run with; NULL or "": the model itself */
} kz_infer_request;

typedef struct kz_infer_response kz_infer_response;

/* Runs the request and waits. On success *out is the response (free it); on
 * failure *out is NULL and kz_last_error() says why: invalid-argument for a
 * malformed request, not-found for an unknown model, unavailable when the
 * model's queue is full, a model-run failure otherwise. */
kz_status kz_server_infer(kz_server *s, const kz_infer_request *r, kz_infer_response **out);

/* Called once per accepted request, on the model's worker thread; the
 * callee owns the response (kz_infer_response_free) and must not block long. */
typedef void (*kz_infer_callback)(kz_infer_response *response, void *user);
/* Queues the request and returns. KZ_OK: callback will run exactly once
 * (with a failure status if the run fails). Anything else: rejected at once,
 * the callback never runs. */
kz_status kz_server_infer_async(kz_server *s, const kz_infer_request *r, kz_infer_callback callback,
                                void *user);

kz_status kz_infer_response_status(const kz_infer_response *r);
const char *kz_infer_response_error(const kz_infer_response *r); /* "" on success */
const char *kz_infer_response_model(const kz_infer_response *r);
int64_t kz_infer_response_version(const kz_infer_response *r);
const char *kz_infer_response_id(const kz_infer_response *r); /* "" when none */
int kz_infer_response_output_count(const kz_infer_response *r);
/* Output k: FP64 [rows] for the tabular families; a transformer's also
 * BYTES (const char *const *, NULL entries for padding), INT64 and
 * [rows, cols]; a TFT's series BYTES [series], time and one per quantile
 * FP64 [series, horizon], and by name its interpretation (docs/SERVING.md).
 * data lives as long as the response. */
kz_status kz_infer_response_output(const kz_infer_response *r, int k, kz_infer_tensor *out);
/* Microseconds: waiting in the queue, the model run (the whole batch), in all. */
void kz_infer_response_timings(const kz_infer_response *r, int64_t *queue_us, int64_t *compute_us,
                               int64_t *total_us);
void kz_infer_response_free(kz_infer_response *r);

/* ---- serving over HTTP ------------------------------------------------- */
/* The KServe v2 HTTP protocol in front of a kz_server (docs/SERVING.md). */
typedef struct kz_http_options {
  const char *host;       /* address to bind; default "127.0.0.1" */
  int port;               /* 0: any free port (kz_http_port tells which) */
  const char *token;      /* bearer token required on every route but health; NULL: none */
  int64_t max_body_bytes; /* larger bodies get 413; default 16 MiB */
  int request_timeout_s;  /* idle connection timeout; default 30 */
  int max_connections;    /* concurrent connections; default 1024 */
  int threads;            /* HTTP threads; default 4 */
  const char *log_path;   /* JSON lines per request; NULL: none, "-": stderr */
} kz_http_options;

void kz_http_options_default(kz_http_options *o);
typedef struct kz_http kz_http;
/* Starts serving s in background threads; s must outlive the kz_http. */
kz_status kz_http_start(kz_server *s, const kz_http_options *o, kz_http **out);
int kz_http_port(const kz_http *h);
/* Stops accepting connections, waits for the requests in flight, frees h. */
void kz_http_stop(kz_http *h);

#ifdef __cplusplus
}
#endif
#endif /* KAIZEN_H */
