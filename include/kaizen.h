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
  KZ_ERR_INTERNAL = 8
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

#ifdef __cplusplus
}
#endif
#endif /* KAIZEN_H */
