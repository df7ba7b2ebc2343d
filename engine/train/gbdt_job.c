/* `kaizen train` for gradient-boosted trees (job.h, docs/GBDT.md); prediction
 * and evaluation go through engine/predict. Training validates the whole config
 * and reads the data before the run directory exists, so a bad job leaves nothing behind.
 * Round checkpoints (gbdt_checkpoint.h) let `--resume` continue a killed run
 * to the model an uninterrupted one would have saved, byte for byte.
 * train.init_from (gbdt_init.h) continues an existing model with new trees,
 * or with model.process_type: update refreshes its trees (models/gbdt/refresh.h). */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "data/shard/fsutil.h"
#include "engine/dist/comm.h"
#include "engine/dist/launch.h"
#include "engine/track/run.h"
#include "engine/train/gbdt_checkpoint.h"
#include "engine/train/gbdt_data.h"
#include "engine/train/gbdt_init.h"
#include "engine/train/job.h"
#include "kernels/core/error.h"
#include "models/gbdt/booster.h"
#include "models/gbdt/booster_common.h"
#include "models/gbdt/booster_gpu.h"
#include "models/gbdt/gbdt_json.h"
#include "models/gbdt/metrics.h"
#include "models/gbdt/refresh.h"
#include "models/gbdt/rng.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* train.device / --device: auto, cpu or cuda[:N]. Whether the CUDA device
 * exists and suits the job is decided by pick_device once the data is read. */
static kz_status check_device(const char *device) {
  if (!strcmp(device, "auto") || !strcmp(device, "cpu")) return KZ_OK;
  if (!strncmp(device, "cuda", 4) && (device[4] == '\0' || device[4] == ':')) return KZ_OK;
  return kz_fail(KZ_ERR_INVALID_ARG, "train.device: '%s' is not auto, cpu or cuda[:N]", device);
}

/* auto: the CPU. The GPU booster (booster_gpu.c) has so far only run against
 * host emulations of its kernels (tests/test_gbdt_gpu.c), never on a GPU, so
 * it is opt-in (cuda[:N]) until tests/gbdt_gpu.cmake has passed on hardware;
 * then auto should prefer cuda:0 when the parameters are supported.
 * An explicit cuda[:N] that cannot be honoured fails, naming why. */
static kz_status pick_device(const char *what, const char *spec, const kz_gbdt_params *p,
                             int n_categorical, kz_device *out) {
  *out = (kz_device){KZ_DEVICE_CPU, 0};
  if (!strcmp(spec, "cpu") || !strcmp(spec, "auto")) return KZ_OK;
  kz_status st = kz_device_parse(spec, out);
  if (st == KZ_ERR_INVALID_ARG) return kz_fail_context(st, "%s", what);
  if (st != KZ_OK) { /* absent: no CUDA in this build, or no such device */
    char why[256];
    snprintf(why, sizeof why, "%s", kz_last_error());
    return kz_fail(KZ_ERR_UNSUPPORTED, "%s: %s; GBDT can run on the CPU (cpu or auto)", what, why);
  }
  kz_gbdt_gpu_options o = {*out, NULL};
  KZ_TRY(kz_gbdt_gpu_check_device(&o));
  if (p) KZ_TRY(kz_gbdt_gpu_check_params(p, n_categorical));
  return KZ_OK;
}

/* The CPU or the GPU booster, or the refresh updater (process_type:
 * update), behind the calls train_run makes. */
typedef struct booster {
  kz_gbdt_booster *cpu;
  kz_gbdt_gpu_booster *gpu;
  kz_gbdt_refresher *ref;
} booster;

static void booster_free(booster *b) {
  kz_gbdt_gpu_booster_free(b->gpu);
  kz_gbdt_booster_free(b->cpu);
  kz_gbdt_refresher_free(b->ref);
  memset(b, 0, sizeof *b);
}

/* *init (train.init_from, or NULL) is taken over: the refresher refreshes
 * it, a booster continues it. */
static kz_status booster_create(const kz_gbdt_params *p, kz_device dev, const kz_gbdt_data *td,
                                const kz_gbdt_data *vd, const kz_gbdt_dist *dist,
                                kz_gbdt_model **init, booster *b) {
  memset(b, 0, sizeof *b);
  if (p->process_update) return kz_gbdt_refresher_create(p, td, vd, init, &b->ref);
  kz_status st;
  if (dev.kind == KZ_DEVICE_CPU) {
    st = kz_gbdt_booster_create_dist(p, td, vd, dist, &b->cpu);
  } else if (dist) {
    st = kz_fail(KZ_ERR_UNSUPPORTED,
                 "train.device: data-parallel GBDT runs on the CPU booster (rank %d of %d "
                 "asked for the GPU one); set train.device=cpu",
                 dist->rank, dist->size);
  } else {
    kz_gbdt_gpu_options o = {dev, NULL};
    st = kz_gbdt_gpu_booster_create(p, td, vd, &o, &b->gpu);
  }
  if (st == KZ_OK && *init)
    st = b->gpu ? kz_gbdt_gpu_booster_init_from(b->gpu, init, "train.init_from")
                : kz_gbdt_booster_init_from(b->cpu, init, "train.init_from");
  kz_gbdt_model_free(*init);
  *init = NULL;
  if (st != KZ_OK) booster_free(b);
  return st;
}
static const kz_gbdt_metric *booster_metrics(const booster *b, int *n) {
  return b->ref   ? kz_gbdt_refresher_metrics(b->ref, n)
         : b->gpu ? kz_gbdt_gpu_booster_metrics(b->gpu, n)
                  : kz_gbdt_booster_metrics(b->cpu, n);
}
static kz_status booster_round(booster *b, double *train_m, double *valid_m, int *stop) {
  return b->ref   ? kz_gbdt_refresher_round(b->ref, train_m, valid_m, stop)
         : b->gpu ? kz_gbdt_gpu_booster_round(b->gpu, train_m, valid_m, stop)
                  : kz_gbdt_booster_round(b->cpu, train_m, valid_m, stop);
}
static int booster_best_round(const booster *b, double *best_value) {
  return b->ref   ? kz_gbdt_refresher_best_round(b->ref, best_value)
         : b->gpu ? kz_gbdt_gpu_booster_best_round(b->gpu, best_value)
                  : kz_gbdt_booster_best_round(b->cpu, best_value);
}
/* Frees the booster either way. */
static kz_status booster_finish(booster *b, kz_gbdt_model **m) {
  kz_status st = b->ref   ? kz_gbdt_refresher_finish(b->ref, m)
                 : b->gpu ? kz_gbdt_gpu_booster_finish(b->gpu, m)
                          : kz_gbdt_booster_finish(b->cpu, m);
  memset(b, 0, sizeof *b);
  return st;
}
static void booster_get_state(const booster *b, kz_gbdt_booster_state *s) {
  if (b->ref)
    kz_gbdt_refresher_get_state(b->ref, s);
  else if (b->gpu)
    kz_gbdt_gpu_booster_get_state(b->gpu, s);
  else
    kz_gbdt_booster_get_state(b->cpu, s);
}
static kz_status booster_set_state(booster *b, const kz_gbdt_booster_state *s,
                                   kz_gbdt_model **trees, const char *where) {
  return b->ref   ? kz_gbdt_refresher_set_state(b->ref, s, trees, where)
         : b->gpu ? kz_gbdt_gpu_booster_set_state(b->gpu, s, trees, where)
                  : kz_gbdt_booster_set_state(b->cpu, s, trees, where);
}

/* The same feature columns (names, order, dictionaries) in both sets. */
static kz_status check_same_columns(const kz_gbdt_table *a, const kz_gbdt_table *b) {
  if (a->n_numeric != b->n_numeric || a->n_categorical != b->n_categorical)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "data.valid: %d numeric + %d categorical columns, data.train has %d + %d",
                   b->n_numeric, b->n_categorical, a->n_numeric, a->n_categorical);
  for (int i = 0; i < a->n_numeric; ++i)
    if (strcmp(a->num_cols[i].name, b->num_cols[i].name))
      return kz_fail(KZ_ERR_INVALID_ARG, "data.valid: numeric column %d is '%s', train has '%s'", i,
                     b->num_cols[i].name, a->num_cols[i].name);
  for (int i = 0; i < a->n_categorical; ++i) {
    const kz_column *x = &a->cat_cols[i], *y = &b->cat_cols[i];
    int same = !strcmp(x->name, y->name) && x->n_categories == y->n_categories;
    for (int c = 0; same && c < x->n_categories; ++c)
      same = !strcmp(x->categories[c], y->categories[c]);
    if (!same)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "data.valid: categorical column '%s' differs from data.train's '%s' (name or "
                     "dictionary); import both from one file",
                     y->name, x->name);
  }
  if ((a->label_is_code != b->label_is_code) || !b->label)
    return kz_fail(KZ_ERR_INVALID_ARG, "data.valid: its label field differs from data.train's");
  if (a->label_is_code) {
    const kz_column *x = a->label_col, *y = b->label_col;
    int same = x && y && x->n_categories == y->n_categories;
    for (int c = 0; same && c < x->n_categories; ++c)
      same = !strcmp(x->categories[c], y->categories[c]);
    if (!same)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "data.valid: the label classes differ from data.train's; import both from "
                     "one file");
  }
  return KZ_OK;
}

static void table_data(const kz_gbdt_table *t, kz_gbdt_data *d) {
  d->n = t->n;
  d->n_numeric = t->n_numeric;
  d->n_categorical = t->n_categorical;
  d->num = t->num;
  d->cat = t->cat;
  d->n_categories = t->n_categories;
  d->label = t->label;
}

/* Objective auto and num_class from the label: codes with 2 classes ->
 * binary:logistic, more -> multi:softprob, numbers -> reg:squarederror. */
static kz_status resolve_objective(kz_gbdt_params *p, const kz_gbdt_table *t) {
  int classes = t->label_is_code && t->label_col ? t->label_col->n_categories : 0;
  if (p->objective < 0)
    p->objective = classes == 0   ? KZ_GBDT_REG_SQUAREDERROR
                   : classes <= 2 ? KZ_GBDT_BINARY_LOGISTIC
                                  : KZ_GBDT_MULTI_SOFTPROB;
  int is_class = p->objective == KZ_GBDT_BINARY_LOGISTIC || p->objective == KZ_GBDT_MULTI_SOFTPROB;
  if (classes > 0 && !is_class)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.objective: %s needs a numeric label, but '%s' is categorical (%d "
                   "classes)",
                   kz_gbdt_objective_name((kz_gbdt_objective)p->objective),
                   t->label_col->name ? t->label_col->name : "label", classes);
  if (p->objective == KZ_GBDT_MULTI_SOFTPROB) {
    if (p->num_class == 0) p->num_class = classes;
    if (classes > 0 && p->num_class != classes)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.num_class: %d, but the label dictionary has %d classes", p->num_class,
                     classes);
    if (p->num_class < 2)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.num_class: multi:softprob needs num_class >= 2 (a numeric label "
                     "needs it set)");
  } else if (p->objective == KZ_GBDT_BINARY_LOGISTIC && classes > 2) {
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.objective: binary:logistic, but the label has %d classes", classes);
  }
  return KZ_OK;
}

/* Names and classes from the training table into the model. */
static kz_status name_model(kz_gbdt_model *m, const kz_gbdt_table *t) {
  int nf = m->n_numeric + m->n_categorical;
  m->feature_names = calloc((size_t)(nf > 0 ? nf : 1), sizeof(char *));
  if (!m->feature_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  for (int f = 0; f < nf; ++f) {
    const char *name = f < m->n_numeric ? t->num_cols[f].name : t->cat_cols[f - m->n_numeric].name;
    if (!(m->feature_names[f] = dup_str(name)))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  }
  const char *label = t->label_col && t->label_col->name ? t->label_col->name : "label";
  if (!(m->label_name = dup_str(label))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  if (!(m->input_schema = kz_schema_to_input_string(kz_dataset_schema(t->ds))))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: input schema");
  int classes = m->objective == KZ_GBDT_BINARY_LOGISTIC  ? 2
                : m->objective == KZ_GBDT_MULTI_SOFTPROB ? m->num_group
                                                         : 0;
  if (classes > 0) {
    m->class_names = calloc((size_t)classes, sizeof(char *));
    if (!m->class_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    for (int c = 0; c < classes; ++c) {
      char num[16];
      snprintf(num, sizeof num, "%d", c);
      const char *name = t->label_is_code && t->label_col && c < t->label_col->n_categories
                             ? t->label_col->categories[c]
                             : num;
      if (!(m->class_names[c] = dup_str(name)))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    }
  }
  return KZ_OK;
}

/* Default checkpoint cadence (output.checkpoint_every: 0): every this many
 * rounds, and sooner when a round ends this long after the last checkpoint,
 * so that neither many small rounds nor a few long ones lose much work. */
#define GBDT_CKPT_ROUNDS 10
#define GBDT_CKPT_SECONDS 30.0

typedef struct job {
  kz_gbdt_params p;
  const char *train_path, *valid_path, *device;
  kz_run_options ro;
  int64_t checkpoint_every, keep_checkpoints;
  kz_gbdt_table train, valid;
  int has_valid;
  /* train.init_from (gbdt_init.h): the model continued or refreshed, its
   * file's kz64 (in the fingerprint) and rounds; NULL / 0 without one */
  const char *init_from;
  kz_gbdt_model *init;
  uint64_t init_hash;
  int init_rounds;
  int num_round_given, alpha_given;
  /* data-parallel (docs/DISTRIBUTED.md): this rank's place; only rank 0
   * writes the run */
  int rank, world;
  kz_comm *comm;
  kz_gbdt_dist dist;
  float *label_all; /* several ranks: every training label, gathered for the train metrics */
} job;

/* ---- the booster's collectives over the job's communicator (gbdt_dist.h) ---- */

static kz_status dist_sum(void *ctx, double *buf, size_t n) {
  return kz_comm_allreduce(ctx, buf, n, KZ_COMM_F64, KZ_COMM_SUM);
}

static kz_status dist_max(void *ctx, double *buf, size_t n) {
  return kz_comm_allreduce(ctx, buf, n, KZ_COMM_F64, KZ_COMM_MAX);
}

static kz_status dist_gather_rows(void *ctx, const void *mine, int64_t rows, void *all,
                                  size_t row_bytes) {
  kz_comm *c = ctx;
  const int w = kz_comm_size(c);
  int64_t *r = malloc(sizeof(int64_t) * (size_t)w);
  size_t *bytes = malloc(sizeof(size_t) * (size_t)w);
  kz_status st = r && bytes ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  if (st == KZ_OK) st = kz_comm_allgather(c, &rows, r, 1, KZ_COMM_I64);
  for (int i = 0; st == KZ_OK && i < w; ++i) bytes[i] = (size_t)r[i] * row_bytes;
  if (st == KZ_OK) st = kz_comm_allgatherv(c, mine, all, bytes, KZ_COMM_U8);
  free(r);
  free(bytes);
  return st;
}

static kz_status read_config(kz_cfg *cfg, const kz_job_cli *cli, job *j) {
  const kz_cfg_node *model = kz_cfg_section(cfg, "model");
  const char *type;
  KZ_TRY(kz_cfg_get_string(model, "type", NULL, &type));
  if (strcmp(type, "gbdt"))
    return kz_fail(KZ_ERR_INVALID_ARG, "model.type: '%s' is not gbdt", type);
  KZ_TRY(kz_gbdt_params_from_cfg(model, &j->p));
  const kz_cfg_node *data = kz_cfg_section(cfg, "data");
  KZ_TRY(kz_cfg_get_string(data, "train", NULL, &j->train_path));
  KZ_TRY(kz_cfg_get_string(data, "valid", "", &j->valid_path));
  const kz_cfg_node *train = kz_cfg_section(cfg, "train");
  int64_t seed, threads;
  KZ_TRY(kz_cfg_get_int(train, "seed", 0, 0, INT64_MAX, &seed));
  KZ_TRY(kz_cfg_get_string(train, "device", "auto", &j->device));
  KZ_TRY(kz_cfg_get_string(train, "init_from", "", &j->init_from));
  if (!*j->init_from) j->init_from = NULL;
  j->num_round_given = kz_cfg_has(model, "num_round");
  j->alpha_given = kz_cfg_has(model, "quantile_alpha");
  if (j->p.process_update && !j->init_from)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.process_type: update refreshes the trees of an existing model; set "
                   "train.init_from to its model.json");
  KZ_TRY(kz_cfg_get_int(train, "threads", 0, 0, 4096, &threads));
  KZ_TRY(check_device(j->device));
  j->p.seed = (uint64_t)seed;
  if (j->p.nthread == 0) j->p.nthread = (int)threads;
  const kz_cfg_node *out = kz_cfg_section(cfg, "output");
  KZ_TRY(kz_cfg_get_string(out, "runs_dir", "runs", &j->ro.runs_dir));
  KZ_TRY(kz_cfg_get_string(out, "experiment", "default", &j->ro.experiment));
  KZ_TRY(kz_cfg_get_string(out, "run_id", "", &j->ro.run_id));
  KZ_TRY(kz_cfg_get_int(out, "checkpoint_every", 0, 0, INT32_MAX, &j->checkpoint_every));
  KZ_TRY(kz_cfg_get_int(out, "keep_checkpoints", 3, 1, 1 << 20, &j->keep_checkpoints));
  if (!*j->ro.run_id) j->ro.run_id = NULL;
  j->ro.resume = cli ? cli->resume : 0;
  if (j->ro.resume && !j->ro.run_id)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--resume needs output.run_id: the run to continue (set it in the job or with "
                   "--set output.run_id=ID)");
  return KZ_OK;
}

static kz_status open_data(job *j) {
  /* each rank its own rows of the training set, every rank the whole
   * validation set (early stopping reads the same metric everywhere) */
  KZ_TRY(
      kz_gbdt_table_open_part(j->train_path, "train", "data.train", j->rank, j->world, &j->train));
  if (j->train.n == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "data.train: %s has no rows in its train split%s",
                   j->train_path, j->world > 1 ? " for this rank (fewer rows than ranks)" : "");
  if (!j->train.label)
    return kz_fail(KZ_ERR_INVALID_ARG, "data.train: %s has no label field", j->train_path);
  if (*j->valid_path) {
    KZ_TRY(kz_gbdt_table_open(j->valid_path, "valid", "data.valid", &j->valid));
    j->has_valid = 1;
  } else {
    /* The valid split of data.train, when it has one (none: 0 rows). A
     * failure to read it, or a bad label in it, is an error, not "no
     * validation data". */
    kz_gbdt_table v;
    KZ_TRY(kz_gbdt_table_open(j->train_path, "valid", "data.train", &v));
    if (v.n > 0) {
      j->valid = v;
      j->has_valid = 1;
    } else {
      kz_gbdt_table_close(&v);
    }
  }
  for (int c = 0; c < j->train.n_categorical; ++c)
    if (j->train.n_categories[c] > 255)
      return kz_fail(KZ_ERR_UNSUPPORTED,
                     "data.train: categorical column '%s' has %d categories; GBDT supports at "
                     "most 255 (import it as numeric, or --ignore it)",
                     j->train.cat_cols[c].name, j->train.n_categories[c]);
  if (j->has_valid) KZ_TRY(check_same_columns(&j->train, &j->valid));
  if (!j->has_valid && j->p.early_stopping_rounds > 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.early_stopping_rounds: needs validation data (data.valid, or a valid "
                   "split in data.train)");
  return KZ_OK;
}

static kz_status params_json(const job *j, const kz_gbdt_model *m, kz_run *run) {
  char buf[16384];
  const kz_gbdt_params *p = &j->p;
  snprintf(buf, sizeof buf,
           "{\"model_type\": \"gbdt\", \"objective\": \"%s\", \"num_round\": %d, \"eta\": %g, "
           "\"max_depth\": %d, \"max_leaves\": %d, \"grow_policy\": \"%s\", \"max_bin\": %d, "
           "\"lambda\": %g, \"alpha\": %g, \"gamma\": %g, \"min_child_weight\": %g, "
           "\"subsample\": %g, \"colsample_bytree\": %g, \"colsample_bynode\": %g, "
           "\"num_group\": %d, \"n_numeric\": %d, \"n_categorical\": %d, \"train_rows\": %lld, "
           "\"valid_rows\": %lld, \"seed\": %llu}",
           kz_gbdt_objective_name((kz_gbdt_objective)p->objective), p->num_round, p->eta,
           p->max_depth, p->max_leaves,
           p->grow_policy == KZ_GBDT_LOSSGUIDE ? "lossguide" : "depthwise", p->max_bin, p->lambda,
           p->alpha, p->gamma, p->min_child_weight, p->subsample, p->colsample_bytree,
           p->colsample_bynode, m->num_group, m->n_numeric, m->n_categorical,
           (long long)j->train.n_total, (long long)(j->has_valid ? j->valid.n : 0),
           (unsigned long long)p->seed);
  if (j->init_from) { /* continuation or refresh: what it started from */
    json_t *js = json_string(j->init_from);
    char *path = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
    json_decref(js);
    size_t len = strlen(buf);
    if (!path) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(buf + len - 1, sizeof buf - (len - 1),
             ", \"init_from\": %s, \"init_rounds\": %d, \"process_type\": \"%s\", "
             "\"refresh_leaf\": %s}",
             path, j->init_rounds, p->process_update ? "update" : "default",
             p->refresh_leaf ? "true" : "false");
    free(path);
  }
  return kz_run_write_params(run, buf);
}

/* What a resumed run must share with its checkpoint: every parameter that
 * shapes the trees and the data's shape (the base score, checked by the
 * booster, stands for the labels). The thread count and the device only move
 * the last bits (histograms reduced in another order, GPU sums), so they are
 * compared separately and only warned about. */
static char *fingerprint(const job *j, kz_device dev) {
  const kz_gbdt_params *p = &j->p;
  json_t *o = json_object(), *metrics = json_array();
  if (!o || !metrics) {
    json_decref(o);
    json_decref(metrics);
    return NULL;
  }
  for (int i = 0; i < p->n_metrics; ++i)
    json_array_append_new(metrics, json_string(kz_gbdt_metric_name(p->metrics[i])));
  json_object_set_new(o, "model.objective",
                      json_string(kz_gbdt_objective_name((kz_gbdt_objective)p->objective)));
  json_object_set_new(o, "model.num_round", json_integer(p->num_round));
  json_object_set_new(o, "model.eta", json_real(p->eta));
  json_object_set_new(o, "model.max_depth", json_integer(p->max_depth));
  json_object_set_new(o, "model.max_leaves", json_integer(p->max_leaves));
  json_object_set_new(o, "model.grow_policy", json_integer(p->grow_policy));
  json_object_set_new(o, "model.max_bin", json_integer(p->max_bin));
  json_object_set_new(o, "model.lambda", json_real(p->lambda));
  json_object_set_new(o, "model.alpha", json_real(p->alpha));
  json_object_set_new(o, "model.gamma", json_real(p->gamma));
  json_object_set_new(o, "model.min_child_weight", json_real(p->min_child_weight));
  json_object_set_new(o, "model.subsample", json_real(p->subsample));
  json_object_set_new(o, "model.colsample_bytree", json_real(p->colsample_bytree));
  json_object_set_new(o, "model.colsample_bynode", json_real(p->colsample_bynode));
  json_object_set_new(o, "model.max_cat_to_onehot", json_integer(p->max_cat_to_onehot));
  json_object_set_new(o, "model.quantile_alpha", json_real(p->quantile_alpha));
  json_object_set_new(o, "model.num_class", json_integer(p->num_class));
  json_object_set_new(o, "model.eval_metric", metrics);
  json_object_set_new(o, "model.early_stopping_rounds", json_integer(p->early_stopping_rounds));
  json_object_set_new(o, "train.seed", json_integer((json_int_t)p->seed));
  json_object_set_new(o, "data.train rows", json_integer(j->train.n_total));
  json_object_set_new(o, "data.valid rows", json_integer(j->has_valid ? j->valid.n : 0));
  json_object_set_new(o, "data features",
                      json_integer((json_int_t)j->train.n_numeric + j->train.n_categorical));
  json_object_set_new(o, "threads", json_integer(kz_gbdt_threads(p->nthread)));
  /* only when set, so checkpoints written before the key existed resume */
  if (p->exact_histograms) json_object_set_new(o, "model.exact_histograms", json_true());
  if (j->init_from) { /* the model file by content: another one under the same path is refused */
    char hash[24];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)j->init_hash);
    json_object_set_new(o, "train.init_from", json_string(j->init_from));
    json_object_set_new(o, "train.init_from kz64", json_string(hash));
  }
  if (p->process_update) {
    json_object_set_new(o, "model.process_type", json_string("update"));
    json_object_set_new(o, "model.refresh_leaf", json_boolean(p->refresh_leaf));
  }
  char dev_name[32];
  kz_device_format(dev, dev_name, sizeof dev_name);
  json_object_set_new(o, "device", json_string(dev_name));
  char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  return text;
}

static void run_dir_of(const job *j, char *buf, size_t cap) {
  /* kz_run_open's defaults for empty values */
  const char *runs = j->ro.runs_dir && *j->ro.runs_dir ? j->ro.runs_dir : "runs";
  const char *exp = j->ro.experiment && *j->ro.experiment ? j->ro.experiment : "default";
  snprintf(buf, cap, "%s/%s/%s", runs, exp, j->ro.run_id);
}

/* --resume, before the run directory is touched: the run exists and has not
 * finished, its newest valid checkpoint is of this job, and the booster
 * continues from it. *round and *wall_s: where the checkpoint left off. */
static kz_status resume_from_checkpoint(const job *j, const char *fp, booster *b, int quiet,
                                        int *round, double *wall_s) {
  char dir[4096], path[4400];
  run_dir_of(j, dir, sizeof dir);
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return kz_fail(KZ_ERR_NOT_FOUND, "--resume: run directory %s does not exist", dir);
  long pid = 0;
  if (kz_run_owner_state(dir, &pid) == KZ_RUN_OWNER_ALIVE)
    return kz_fail(
        KZ_ERR_INVALID_ARG,
        "--resume: run %s is still being trained by process %ld on this host (%s/run.pid); "
        "stop it first",
        dir, pid, dir);
  /* A finished run has its model: resuming it would redo nothing, so it is
   * refused rather than silently "succeeding" (a failed run may resume). */
  snprintf(path, sizeof path, "%s/summary.json", dir);
  json_error_t jerr;
  json_t *sum = kz_fs_exists(path) ? json_load_file(path, 0, &jerr) : NULL;
  const char *status = json_string_value(json_object_get(sum, "status"));
  int done = status && (!strcmp(status, "finished") || !strcmp(status, "stopped_early"));
  char status_copy[32];
  snprintf(status_copy, sizeof status_copy, "%s", status ? status : "");
  json_decref(sum);
  if (done)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--resume: run %s has already ended (%s says status %s); nothing to resume "
                   "(start a new run with another output.run_id)",
                   dir, path, status_copy);
  char ckpt_dir[4200];
  snprintf(ckpt_dir, sizeof ckpt_dir, "%s/checkpoints", dir);
  kz_gbdt_ckpt ck;
  memset(&ck, 0, sizeof ck);
  kz_status st = kz_gbdt_ckpt_load_newest(ckpt_dir, &ck, path, sizeof path);
  if (st == KZ_ERR_NOT_FOUND)
    return kz_fail(st,
                   "--resume: %s holds no GBDT checkpoint to continue from (the run stopped "
                   "before its first one; see output.checkpoint_every); train it again under "
                   "another output.run_id, or delete %s",
                   ckpt_dir, dir);
  KZ_TRY(st);
  static const char *const soft[] = {"threads", "device", NULL};
  char why[512];
  if (kz_gbdt_ckpt_compare(ck.fingerprint, fp, soft, why, sizeof why)) {
    kz_gbdt_ckpt_free(&ck);
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--resume: %s was written by another job (%s); resume with the run's own "
                   "config (%s/config.yaml)",
                   path, why, dir);
  }
  if (kz_gbdt_ckpt_compare(ck.fingerprint, fp, NULL, why, sizeof why))
    fprintf(stderr,
            "kaizen: warning: %s: %s; the resumed run may differ in the last bits from an "
            "uninterrupted one\n",
            path, why);
  /* the checkpoint holds every row's margins (one process's, or gathered
   * from the ranks): this rank continues from its own rows' */
  if (ck.st.n != j->train.n_total) {
    kz_gbdt_ckpt_free(&ck);
    return kz_fail(KZ_ERR_INVALID_ARG, "--resume: %s holds %lld training rows, the data %lld", path,
                   (long long)ck.st.n, (long long)j->train.n_total);
  }
  ck.st.margin += j->train.row0 * ck.st.K;
  ck.st.n = j->train.n;
  kz_gbdt_model *trees = ck.model;
  ck.model = NULL;
  ck.st.model = NULL;
  st = booster_set_state(b, &ck.st, &trees, path);
  *round = ck.st.round;
  *wall_s = ck.wall_s;
  kz_gbdt_ckpt_free(&ck);
  KZ_TRY(st);
  if (!quiet)
    fprintf(stderr, "[gbdt] resuming %s from %s (round %d of %d)\n", dir, path, *round,
            j->p.num_round);
  return KZ_OK;
}

/* Every rank takes part: with several ranks the margins are gathered in row
 * order, so rank 0 writes the checkpoint one process writes (and any number
 * of ranks can resume from it). */
static kz_status save_checkpoint(const job *j, kz_run *run, const booster *b, const char *fp,
                                 double wall_s) {
  kz_gbdt_booster_state s;
  booster_get_state(b, &s);
  double *all = NULL;
  if (j->world > 1) {
    all = malloc(sizeof(double) * (size_t)j->train.n_total * (size_t)s.K);
    if (!all) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt checkpoint: out of memory");
    kz_status st = dist_gather_rows(j->comm, s.margin, s.n, all, sizeof(double) * (size_t)s.K);
    if (st != KZ_OK) {
      free(all);
      return st;
    }
    s.margin = all;
    s.n = j->train.n_total;
  }
  kz_status st = KZ_OK;
  if (run) { /* the lead rank */
    char dir[4200], path[4400];
    kz_run_path(run, "checkpoints", dir, sizeof dir);
    int created = 0;
    st = kz_fs_ensure_dir(dir, &created);
    kz_gbdt_ckpt_path(dir, s.round, path, sizeof path);
    if (st == KZ_OK) st = kz_gbdt_ckpt_write(path, &s, wall_s, fp);
    if (st == KZ_OK) st = kz_gbdt_ckpt_prune(dir, (int)j->keep_checkpoints);
  }
  free(all);
  return st;
}

/* Several ranks: the training metrics over every rank's rows (margins
 * gathered in row order, labels once), the values one process logs. */
static kz_status train_metrics_all_rows(job *j, const booster *b, double *vals) {
  kz_gbdt_booster_state s;
  booster_get_state(b, &s);
  const int64_t N = j->train.n_total;
  double *margin = malloc(sizeof(double) * (size_t)N * (size_t)s.K);
  kz_status st = margin ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  if (st == KZ_OK && !j->label_all) {
    j->label_all = malloc(sizeof(float) * (size_t)N);
    st = j->label_all
             ? dist_gather_rows(j->comm, j->train.label, j->train.n, j->label_all, sizeof(float))
             : kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  }
  if (st == KZ_OK)
    st = dist_gather_rows(j->comm, s.margin, s.n, margin, sizeof(double) * (size_t)s.K);
  int nm = 0;
  const kz_gbdt_metric *ms = booster_metrics(b, &nm);
  if (st == KZ_OK)
    kz_gbdt_metrics_eval(ms, nm, (kz_gbdt_objective)j->p.objective, j->p.quantile_alpha, s.K, N,
                         margin, j->label_all, vals);
  free(margin);
  return st;
}

/* The world this job runs in: one process, or one rank of a data-parallel
 * job whose booster sums over the world communicator. */
static kz_status join_world(job *j) {
  j->rank = 0;
  j->world = 1;
  if (kz_dist_size() <= 1) return KZ_OK;
  if (!(j->comm = kz_dist_world())) return KZ_ERR_UNSUPPORTED;
  j->rank = kz_comm_rank(j->comm);
  j->world = kz_comm_size(j->comm);
  return KZ_OK;
}

static kz_status train_run(job *j, kz_cfg *cfg, const kz_job_cli *cli) {
  KZ_TRY(read_config(cfg, cli, j));
  KZ_TRY(join_world(j));
  KZ_TRY(open_data(j));
  if (j->world > 1)
    j->dist = (kz_gbdt_dist){.ctx = j->comm,
                             .rank = j->rank,
                             .size = j->world,
                             .row0 = j->train.row0,
                             .n_total = j->train.n_total,
                             .sum = dist_sum,
                             .max = dist_max,
                             .gather_rows = dist_gather_rows};
  const int lead = j->rank == 0; /* writes the run; the other ranks only compute */
  int quiet = (cli && cli->quiet) || !lead, round = 0;
  if (j->init_from) {
    KZ_TRY(kz_gbdt_init_load(j->init_from, &j->init, &j->init_hash));
    KZ_TRY(kz_gbdt_init_params(j->init, j->init_from, j->alpha_given, &j->p));
  }
  kz_status ost = resolve_objective(&j->p, &j->train);
  if (ost != KZ_OK && j->init)
    return kz_fail_context(ost, "train.init_from %s (a %s model)", j->init_from,
                           kz_gbdt_objective_name(j->init->objective));
  KZ_TRY(ost);
  if (j->init) {
    KZ_TRY(kz_gbdt_init_check_table(j->init, j->init_from, &j->train));
    j->init_rounds = j->init->n_trees / j->init->num_group;
  }
  if (j->p.process_update) {
    /* as XGBoost's refresh goes over the model's rounds; a different
     * num_round would drop rounds (XGBoost) or ask for ones that do not
     * exist, so kaizen refreshes them all and says so */
    if (j->num_round_given && j->p.num_round != j->init_rounds)
      fprintf(stderr,
              "kaizen: warning: model.num_round %d is not used: a refresh updates all %d rounds "
              "of %s\n",
              j->p.num_round, j->init_rounds, j->init_from);
    j->p.num_round = j->init_rounds > 0 ? j->init_rounds : 1;
    if (j->world > 1)
      return kz_fail(KZ_ERR_UNSUPPORTED,
                     "model.process_type: update (refresh) runs on one process; data-parallel "
                     "refresh (%d ranks) is not supported yet",
                     j->world);
  }
  kz_gbdt_data td, vd;
  table_data(&j->train, &td);
  table_data(&j->valid, &vd);
  kz_device dev;
  KZ_TRY(pick_device("train.device", j->device, &j->p, j->train.n_categorical, &dev));
  if (j->p.process_update && dev.kind != KZ_DEVICE_CPU)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "model.process_type: update (the refresh updater) is not supported on cuda "
                   "yet; run it on the CPU (train.device: cpu)");
  char dev_name[32];
  kz_device_format(dev, dev_name, sizeof dev_name);
  booster bst, *b = &bst;
  KZ_TRY(booster_create(&j->p, dev, &td, j->has_valid ? &vd : NULL, j->world > 1 ? &j->dist : NULL,
                        &j->init, b));
  double wall0 = 0;
  /* Every check, the metric list included, before the run directory exists
   * (a failure after it would leave a failed run behind). */
  int nm, decide = 0;
  kz_gbdt_metric metrics[KZ_GBDT_MAX_METRICS]; /* a copy: the booster is freed before the end */
  memcpy(metrics, booster_metrics(b, &nm), sizeof metrics);
  kz_gbdt_metric
      again[KZ_GBDT_MAX_METRICS]; /* the booster's list: which one early stopping reads */
  int n2;
  char *fp = fingerprint(j, dev);
  kz_status st = fp ? kz_gbdt_resolve_metrics(&j->p, again, &n2, &decide)
                    : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  if (st == KZ_OK) st = kz_cfg_check_unused(cfg);
  if (st == KZ_OK && j->ro.resume) st = resume_from_checkpoint(j, fp, b, quiet, &round, &wall0);
  /* every rank has checked the run before the lead reopens it (run.pid) */
  if (st == KZ_OK && j->world > 1) st = kz_comm_barrier(j->comm);
  kz_run *run = NULL;
  if (st == KZ_OK && lead) st = kz_run_open(&j->ro, cfg, &run);
  if (st != KZ_OK) {
    booster_free(b);
    free(fp);
    return st;
  }
  if (!quiet && j->init_from && j->p.process_update)
    fprintf(stderr, "[gbdt] refreshing the %d rounds of %s on data.train\n", j->init_rounds,
            j->init_from);
  else if (!quiet && j->init_from)
    fprintf(stderr, "[gbdt] continuing %s (%d rounds) with up to %d new rounds\n", j->init_from,
            j->init_rounds, j->p.num_round);
  char names[2 * KZ_GBDT_MAX_METRICS][40];
  const char *name_ptrs[2 * KZ_GBDT_MAX_METRICS];
  for (int i = 0; i < nm; ++i) {
    snprintf(names[i], sizeof names[i], "train/%s", kz_gbdt_metric_name(metrics[i]));
    snprintf(names[nm + i], sizeof names[nm + i], "valid/%s", kz_gbdt_metric_name(metrics[i]));
  }
  int n_cols = j->has_valid ? 2 * nm : nm;
  for (int i = 0; i < n_cols; ++i) name_ptrs[i] = names[i];
  /* On resume, rows after the checkpoint's round (logged before the kill)
   * are dropped: those rounds run again. */
  if (lead) st = kz_run_metrics_begin(run, name_ptrs, n_cols, j->ro.resume ? round : INT64_MAX);
  /* wall_s goes on from the checkpoint's, so a resumed run's rows read as one run's. */
  double t0 = now_s() - wall0, vals[2 * KZ_GBDT_MAX_METRICS], last_ckpt = now_s();
  int stop = 0;
  int every = j->p.num_round >= 20 ? j->p.num_round / 20 : 1;
  while (st == KZ_OK && !stop) {
    /* Valid metrics every round (early stopping reads them); train metrics,
     * a full pass (AUC a sort) over the larger set, at the progress cadence
     * and the last round: the other rows of metrics.csv leave them empty. */
    int with_train = (round + 1) % every == 0 || round + 1 == j->p.num_round;
    for (int i = 0; i < nm; ++i) vals[i] = NAN;
    st = booster_round(b, with_train && j->world == 1 ? vals : NULL, vals + nm, &stop);
    if (st == KZ_OK && with_train && j->world > 1) st = train_metrics_all_rows(j, b, vals);
    if (st != KZ_OK) break;
    ++round;
    if (lead) st = kz_run_log(run, round, now_s() - t0, vals);
    if (!quiet && (round % every == 0 || stop)) {
      fprintf(stderr, "[gbdt] round %d/%d", round, j->p.num_round);
      for (int i = 0; i < n_cols; ++i)
        if (!isnan(vals[i])) fprintf(stderr, " %s=%.6g", names[i], vals[i]);
      fprintf(stderr, " %.2fs\n", now_s() - t0);
    }
    /* A checkpoint after the row it covers is in metrics.csv. None after the
     * last round: the model and summary follow at once, and a resume always
     * has a round left to run. */
    /* several ranks decide by rounds only: every rank must agree */
    int due = j->checkpoint_every > 0
                  ? round % j->checkpoint_every == 0
                  : round % GBDT_CKPT_ROUNDS == 0 ||
                        (j->world == 1 && now_s() - last_ckpt >= GBDT_CKPT_SECONDS);
    if (st == KZ_OK && !stop && due) {
      st = save_checkpoint(j, run, b, fp, now_s() - t0);
      last_ckpt = now_s();
    }
  }
  free(fp);
  double best_value = NAN;
  int best = booster_best_round(b, &best_value);
  int stopped_early = j->p.early_stopping_rounds > 0 && round < j->p.num_round;
  /* The saved model keeps the rounds up to the best one when early stopping
   * is on (kz_gbdt_rounds_trim), all of them otherwise. */
  int kept = j->p.early_stopping_rounds > 0 && best >= 0 ? best + 1 : round;
  kz_gbdt_model *m = NULL;
  if (st == KZ_OK) st = booster_finish(b, &m);
  booster_free(b);
  char path[4096];
  if (st == KZ_OK) st = name_model(m, &j->train);
  if (!lead) { /* the model is rank 0's to save: every rank holds the same one */
    kz_gbdt_model_free(m);
    return st;
  }
  if (st == KZ_OK) st = params_json(j, m, run);
  if (st == KZ_OK)
    st = kz_gbdt_model_save_json(m, kz_run_path(run, "model.json", path, sizeof path));
  /* Final metrics: the saved model's, i.e. those of the best round when
   * early stopping truncated the ensemble (final_step says which). */
  kz_run_summary s;
  memset(&s, 0, sizeof s);
  s.status = st != KZ_OK ? "failed" : stopped_early ? "stopped_early" : "finished";
  s.model_type = "gbdt";
  s.steps = round;
  s.final_step = kept;
  s.wall_s = now_s() - t0;
  s.device = dev_name;
  s.peak_memory_bytes = kz_run_peak_rss();
  if (st == KZ_OK && j->has_valid) {
    double *margin = malloc(sizeof(double) * (size_t)j->valid.n * (size_t)m->num_group);
    if (!margin) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    if (st == KZ_OK)
      st = kz_gbdt_predict_margin(m, j->valid.n, j->valid.num, j->valid.cat, j->p.nthread, margin);
    double fv[KZ_GBDT_MAX_METRICS];
    if (st == KZ_OK)
      kz_gbdt_metrics_eval(metrics, nm, m->objective, m->quantile_alpha, m->num_group, j->valid.n,
                           margin, j->valid.label, fv);
    for (int i = 0; st == KZ_OK && i < nm && s.n_final < 16; ++i) {
      s.final_names[s.n_final] = names[nm + i];
      s.final_values[s.n_final++] = fv[i];
    }
    free(margin);
    s.best_metric = names[nm + decide];
    s.best_value = best_value;
    s.best_step = best + 1;
  } else if (st == KZ_OK) {
    for (int i = 0; i < nm; ++i) {
      s.final_names[s.n_final] = names[i];
      s.final_values[s.n_final++] = vals[i];
    }
  }
  kz_status fst = kz_run_finish(run, &s);
  if (st == KZ_OK) st = fst;
  if (st == KZ_OK) {
    printf("gbdt");
    for (int i = 0; i < s.n_final; ++i) printf(" %s=%.6g", s.final_names[i], s.final_values[i]);
    if (j->init_from) printf(" init_rounds=%d", j->init_rounds);
    printf(" rounds_kept=%d rounds_run=%d run %s\n", kept, round, kz_run_dir(run));
    fflush(stdout);
  }
  kz_run_close(run);
  kz_gbdt_model_free(m);
  return st;
}

kz_status kz_gbdt_job_train(kz_cfg *cfg, const kz_job_cli *cli) {
  job j;
  memset(&j, 0, sizeof j);
  kz_status st = kz_job_cli_apply(cfg, cli);
  if (st == KZ_OK) st = train_run(&j, cfg, cli);
  kz_gbdt_table_close(&j.train);
  kz_gbdt_table_close(&j.valid);
  free(j.label_all);
  kz_gbdt_model_free(j.init);
  return st;
}
