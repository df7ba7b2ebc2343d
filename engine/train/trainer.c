/* The neural training loop (trainer.h): kz_nn_job_train.
 *
 * Everything that can be wrong with a job (config keys and types, data paths,
 * the model section, the early-stopping metric, the run to resume) is checked
 * before kz_run_open, so a bad job leaves no run directory behind.
 *
 * Reproducibility: the data order is a function of (seed, epoch), dropout
 * seeds come from a generator whose state is checkpointed, the schedule is a
 * function of the step, and the checkpoint holds the exact position in the
 * epoch (micro-batches consumed) plus the running log sums, so a resumed run
 * computes the same sequence of updates as an uninterrupted one. */
#define _POSIX_C_SOURCE 200809L
#include "engine/train/trainer.h"

#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/shard/fsutil.h"
#include "data/shard/iter.h"
#include "engine/dist/comm.h"
#include "engine/dist/grad_buckets.h"
#include "engine/dist/launch.h"
#include "engine/track/run.h"
#include "engine/track/run_config.h"
#include "engine/train/checkpoint.h"
#include "engine/train/ckpt_adapter.h"
#include "engine/train/ckpt_shards.h"
#include "engine/train/continual.h"
#include "engine/train/eval.h"
#include "engine/train/job.h"
#include "engine/train/labels.h"
#include "engine/train/progress.h"
#include "kernels/core/backend.h"
#include "kernels/core/error.h"
#include "kernels/core/splitmix64.h"
#include "models/adapters.h"
#include "models/io/hf_bert.h"
#include "models/nn_model.h"
#include "models/transformer/transformer.h"

enum { MAX_ROLLBACKS = 20 };

typedef struct trainer {
  kz_train_config c;
  const kz_job_cli *cli;
  kz_device device;
  kz_stream *s;
  kz_dataset *train, *valid;
  kz_nn_model *model;
  kz_nn_model_base *mb;
  char *meta;
  kz_optim opt;
  int n_trainable; /* the job's trainable ranges (kz_nn_model_base) */
  kz_param_range trainable[KZ_NN_MAX_RANGES];
  kz_schedule sched;
  kz_run *run;
  char run_dir[4096], ckpt_dir[4200];
  kz_ckpt_state st, st0; /* current; initial (rollback without a checkpoint) */
  float *params0;        /* initial parameters, same purpose */
  float *host;           /* n floats of host scratch */
  int64_t bpe, total;    /* micro-batches per epoch, optimizer steps in the run */
  kz_shard_iter *it;
  kz_progress prog;
  /* metrics */
  kz_nn_metrics names; /* names and directions of the model's metrics */
  int es_index, es_higher;
  char es_name[64]; /* "valid/accuracy" */
  int n_cols;
  char *cols[2 + KZ_NN_MAX_METRICS];
  kz_nn_metrics last;
  int have_last;
  int stopped_early;
  int64_t inject_done; /* highest step already poisoned: a rollback does not replay it */
  int rollbacks;
  double seg_t0, log_t0;
  int64_t log_samples0, seg_step0;
  char changes[2048]; /* --resume --allow-changes: the keys that differ, "" if none */
  /* data-parallel (docs/DISTRIBUTED.md): rank of world; comm carries host
   * values (losses, row counts), gcomm the gradients (comm on the CPU, NCCL
   * on GPUs); only the lead rank (0) writes the run */
  int rank, world, lead;
  kz_comm *comm, *gcomm;
  int began;     /* the run has begun (every rank; only the lead has t->run) */
  int nccl_only; /* no MPI: comm is a host view of gcomm (NCCL) */
  /* ZeRO-1 (train.zero1 with several ranks): rank r owns parameters
   * [r x chunk, (r + 1) x chunk) of the block; its optimizer state covers the
   * trainable floats there (zr), which are floats [zt0, zt0 + opt.n) of the
   * packed state one process keeps: each rank checkpoints that range as its
   * shard (ckpt_shards.h), which any number of ranks can read back */
  int zero;
  int64_t chunk, zt0, sn_total;
  int nzr;
  kz_param_range zr[KZ_NN_MAX_RANGES];
  /* chunk x world and chunk floats on the training device (host memory on
   * the CPU): the padded block reduce-scattered and all-gathered */
  kz_tensor zpad, zslice;
  kz_continual cont; /* train.continual: replay, EWC, the forgetting metric */
  /* several ranks without ZeRO-1: gradient buckets reduced during the
   * step's last backward pass (grad_buckets.h); off with KZ_DIST_OVERLAP=0 */
  int overlap;
  kz_grad_buckets gb;
  /* without overlap: the stream the model reported its gradients on in the
   * step's last backward (NULL: none), synchronised before reducing them */
  kz_stream *model_stream;
  /* the forgetting metric: the early-stopping metric on the old data's and
   * the new data's held-out rows, before the first step ([0]) and after */
  double old_metric[2], new_metric[2];
  char forget_names[4][96];
  char base_fp[40]; /* LoRA: the frozen base's fingerprint (ckpt_adapter.h), once known */
} trainer;

/* Floats per gradient all-reduce: buckets of 4 Mi floats (16 MiB) keep each
 * message large enough for full bandwidth and bound the scratch MPI needs. */
enum { GRAD_BUCKET = 4 << 20 };

/* Overlap of the gradient all-reduce with the backward pass
 * (docs/DISTRIBUTED.md "Overlap"): on unless KZ_DIST_OVERLAP=0; buckets of
 * KZ_DIST_BUCKET_FLOATS floats (default GRAD_BUCKET), which tests set small
 * so that small models have several. */
static kz_status overlap_init(trainer *t) {
  const char *off = getenv("KZ_DIST_OVERLAP");
  if (t->world <= 1 || t->zero || (off && !strcmp(off, "0"))) return KZ_OK;
  const char *bs = getenv("KZ_DIST_BUCKET_FLOATS");
  char *end = NULL;
  long long bucket = bs ? strtoll(bs, &end, 10) : GRAD_BUCKET;
  if (bs && (*end || bucket < 1))
    return kz_fail(KZ_ERR_INVALID_ARG, "KZ_DIST_BUCKET_FLOATS: '%s' is not a positive count", bs);
  kz_param_range tr[KZ_NN_MAX_RANGES];
  const int ntr = kz_nn_trainable_ranges(t->mb, tr);
  KZ_TRY(kz_grad_buckets_init(&t->gb, t->gcomm, t->mb->grads.data, t->mb->info.n_params, bucket, tr,
                              ntr));
  t->overlap = 1;
  return KZ_OK;
}

static double wall_now(const trainer *t) {
  return t->st.wall_s + (kz_now_s() - t->seg_t0);
}

/* ---- setup, all before the run directory exists ---------------------------------- */

static kz_status open_data(trainer *t) {
  kz_dataset_options o = {.split = "train"};
  kz_status st = kz_dataset_open(t->c.data_train, &o, &t->train);
  if (st != KZ_OK) return kz_fail_context(st, "data.train");
  if (kz_dataset_rows(t->train) == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "data.train: %s has no rows in its \"train\" split",
                   t->c.data_train);
  kz_dataset_options v = {.split = "valid"};
  const char *vpath = t->c.data_valid ? t->c.data_valid : t->c.data_train;
  st = kz_dataset_open(vpath, &v, &t->valid);
  if (st != KZ_OK) return kz_fail_context(st, t->c.data_valid ? "data.valid" : "data.train");
  const char *vsplit = "valid";
  if (kz_dataset_rows(t->valid) == 0) {
    kz_dataset_close(t->valid);
    t->valid = NULL;
    vsplit = NULL;
  }
  /* An explicit validation set without split labels is used whole. */
  if (!t->valid && t->c.data_valid) {
    st = kz_dataset_open(t->c.data_valid, NULL, &t->valid);
    if (st != KZ_OK) return kz_fail_context(st, "data.valid");
    if (kz_dataset_rows(t->valid) == 0)
      return kz_fail(KZ_ERR_INVALID_ARG, "data.valid: %s has no rows", t->c.data_valid);
  }
  /* Every label is read once here, so a bad one fails the job before the
   * run directory exists (labels.h). */
  KZ_TRY(kz_labels_check_dataset(t->train, "data.train", t->c.data_train, "train", NULL));
  if (t->valid)
    KZ_TRY(kz_labels_check_dataset(t->valid, t->c.data_valid ? "data.valid" : "data.train", vpath,
                                   vsplit, kz_dataset_schema(t->train)));
  return KZ_OK;
}

static kz_status pick_metric(trainer *t) {
  kz_nn_eval zero;
  memset(&zero, 0, sizeof zero);
  t->mb->ops->eval_finish(t->model, &zero, &t->names);
  const char *want =
      strcmp(t->c.es_metric, "auto") == 0 ? t->mb->info.primary_metric : t->c.es_metric;
  /* The common vocabulary's spelling: "valid/accuracy" or "accuracy", and
   * the aliases of kz_metric_parse ("loss": logloss or rmse). */
  int cls = !strcmp(t->mb->info.task, "classification");
  int id = kz_metric_parse(want, cls ? KZ_TASK_CLASSIFICATION : KZ_TASK_REGRESSION);
  t->es_index = -1;
  for (int i = 0; id >= 0 && i < t->names.n; ++i)
    if (!strcmp(t->names.names[i], kz_metric_name((kz_metric_id)id))) t->es_index = i;
  /* a model's own metric (the TFT's q_risk_p50), by its exact name */
  const char *bare = !strncmp(want, "valid/", 6) ? want + 6 : want;
  for (int i = 0; t->es_index < 0 && i < t->names.n; ++i)
    if (!strcmp(t->names.names[i], bare)) t->es_index = i;
  if (t->es_index < 0) {
    char list[256] = "";
    for (int i = 0; i < t->names.n; ++i)
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
               t->names.names[i]);
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "train.early_stopping.metric: '%s' is not a metric of model '%s' (%s)", want,
                   t->mb->ops->type, list);
  }
  snprintf(t->es_name, sizeof t->es_name, "valid/%s", t->names.names[t->es_index]);
  t->es_higher = t->names.higher_is_better[t->es_index];
  if (t->c.es_patience > 0 && !t->valid)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "train.early_stopping.patience: needs validation data, "
                   "and %s has no \"valid\" split (set data.valid)",
                   t->c.data_train);
  return KZ_OK;
}

/* Replaces the model by one rebuilt from meta when the two differ. */
static kz_status adopt_meta(trainer *t, const char *meta) {
  if (t->meta && !strcmp(t->meta, meta)) return KZ_OK;
  kz_nn_model *m = NULL;
  KZ_TRY(kz_nn_model_from_meta(meta, t->device, &m));
  t->mb->ops->destroy(t->model);
  t->model = m;
  t->mb = kz_nn_base(m);
  KZ_TRY(kz_nn_set_trainable(t->mb, t->trainable, t->n_trainable));
  free(t->meta);
  t->meta = NULL;
  return kz_nn_model_meta(t->model, &t->meta);
}

/* train.init_from naming a Hugging Face BERT directory: the transformer is
 * built from its config.json and loads its weights by name
 * (kz_transformer_create_hf). */
static kz_status create_from_hf(trainer *t, kz_cfg *cfg) {
  const kz_cfg_node *mc = kz_cfg_section(cfg, "model");
  const char *type = "";
  KZ_TRY(kz_cfg_get_string(mc, "type", "", &type));
  if (strcmp(type, "transformer") != 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "train.init_from: %s is a Hugging Face BERT checkpoint, which only a "
                   "model.type transformer job can start from (this job's is '%s')",
                   t->c.init_from, type);
  char note[4096] = "";
  kz_status st = kz_transformer_create_hf(mc, t->train, t->c.init_from, t->c.seed, t->device,
                                          &t->model, note, sizeof note);
  if (st != KZ_OK) return kz_fail_context(st, "train.init_from: %s", t->c.init_from);
  if (!(t->cli && t->cli->quiet) && note[0])
    fprintf(stderr, "kaizen: train.init_from %s: %s\n", t->c.init_from, note);
  t->mb = kz_nn_base(t->model);
  t->n_trainable = t->mb->n_trainable;
  memcpy(t->trainable, t->mb->trainable, sizeof t->trainable);
  return kz_nn_model_meta(t->model, &t->meta);
}

static kz_status create_model(trainer *t, kz_cfg *cfg) {
  if (t->c.init_from && kz_hf_bert_is_dir(t->c.init_from)) return create_from_hf(t, cfg);
  KZ_TRY(kz_nn_model_create(kz_cfg_section(cfg, "model"), t->train, t->device, &t->model));
  t->mb = kz_nn_base(t->model);
  /* The trainable ranges are the job's (model.freeze_layers), not the
   * file's: a model loaded below or rebuilt from a checkpoint's meta gets
   * them again (same layout, so the same ranges). */
  t->n_trainable = t->mb->n_trainable;
  memcpy(t->trainable, t->mb->trainable, sizeof t->trainable);
  if (t->c.init_from) {
    /* Continued training: the file's model (statistics included) replaces the
     * fresh one; the config's model section must still describe it. */
    kz_nn_model *m = NULL;
    kz_status st = kz_nn_model_load(t->c.init_from, t->device, &m);
    if (st != KZ_OK) return kz_fail_context(st, "train.init_from");
    const int same_type = !strcmp(kz_nn_base(m)->ops->type, t->mb->ops->type);
    if (same_type && t->mb->ops->init_from_model) {
      /* the job's model, freshly initialised, takes what the file has of it
       * (a pre-trained encoder under a new head); a note says what */
      char note[512] = "";
      st = t->mb->ops->init_params(t->model, t->c.seed);
      if (st == KZ_OK) st = t->mb->ops->init_from_model(t->model, m, note, sizeof note);
      kz_nn_base(m)->ops->destroy(m);
      if (st != KZ_OK) return kz_fail_context(st, "train.init_from: %s", t->c.init_from);
      if (!(t->cli && t->cli->quiet) && note[0])
        fprintf(stderr, "kaizen: train.init_from %s: %s\n", t->c.init_from, note);
      /* the model may have a new layout (the TFT's tables grow with new
       * categories): its ranges, set when it was built, are the job's */
      t->n_trainable = t->mb->n_trainable;
      memcpy(t->trainable, t->mb->trainable, sizeof t->trainable);
      return kz_nn_model_meta(t->model, &t->meta);
    }
    if (!same_type || kz_nn_base(m)->info.n_params != t->mb->info.n_params) {
      kz_nn_base(m)->ops->destroy(m);
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "train.init_from: %s is a different model (type or size) than the job's",
                     t->c.init_from);
    }
    /* a file written before models kept their input schema takes the
     * training data's */
    if (!kz_nn_base(m)->input_schema) {
      kz_nn_base(m)->input_schema = t->mb->input_schema;
      t->mb->input_schema = NULL;
    }
    t->mb->ops->destroy(t->model);
    t->model = m;
    t->mb = kz_nn_base(m);
    KZ_TRY(kz_nn_set_trainable(t->mb, t->trainable, t->n_trainable));
  }
  return kz_nn_model_meta(t->model, &t->meta);
}

/* A resumed run continues the computation the run's config.yaml describes:
 * a different train.lr or batch_size would silently make it another run.
 * With --allow-changes the old config is kept before the run is reopened. */
static kz_status check_resume_config(trainer *t, const kz_cfg *cfg) {
  int n = 0;
  KZ_TRY(kz_run_config_diff(t->run_dir, cfg, kz_run_config_free_keys, t->changes, sizeof t->changes,
                            &n));
  if (n == 0 || t->cli->allow_changes) return KZ_OK;
  return kz_fail(KZ_ERR_INVALID_ARG,
                 "--resume: %d config key%s differ%s from %s/config.yaml: %s; resume with the "
                 "run's values, or pass --allow-changes to continue with the new ones (the old "
                 "config is kept in the run)",
                 n, n == 1 ? "" : "s", n == 1 ? "s" : "", t->run_dir, t->changes);
}

static kz_status setup(trainer *t, kz_cfg *cfg) {
  KZ_TRY(kz_train_config_read(cfg, &t->c));
  KZ_TRY(kz_device_parse(t->c.device, &t->device));
  if (t->c.threads > 0) omp_set_num_threads((int)t->c.threads);
  if (t->cli && t->cli->resume && !t->c.run_id)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--resume needs output.run_id: the run to continue (set it in the job or with "
                   "--set output.run_id=ID)");
  KZ_TRY(open_data(t));
  KZ_TRY(kz_continual_open(&t->cont, &t->c.continual, kz_dataset_schema(t->train), t->c.batch_size,
                           t->c.seed));
  KZ_TRY(create_model(t, cfg));
  /* a model without bf16 fails here, before the run directory exists */
  kz_status pst = kz_nn_set_precision(t->model, t->c.precision);
  if (pst != KZ_OK) {
    char where[512];
    kz_cfg_key_where(kz_cfg_section(cfg, "train"), "precision", where, sizeof where);
    return kz_fail_context(pst, "%s", where);
  }
  /* A window model (the TFT) reads a training row as a window of the series
   * it holds: replay and the Fisher read the old data's rows after it has
   * loaded the old series (train_source); one without that cannot take
   * them. Its forgetting metric (whole-data-set evaluation) works anyway. */
  if (!kz_continual_supported(t->model) &&
      (t->c.continual.replay > 0.0 || t->c.continual.ewc_lambda > 0.0))
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "train.continual: replay and ewc_lambda need a model trained on rows or one "
                   "that reads windows of the old data; model '%s' trains on windows of its own "
                   "series only (set both to 0 to measure forgetting only)",
                   t->mb->ops->type);
  KZ_TRY(kz_continual_attach(&t->cont, t->model));
  KZ_TRY(pick_metric(t));
  KZ_TRY(kz_cfg_check_unused(cfg));
  if (t->c.run_id) {
    snprintf(t->run_dir, sizeof t->run_dir, "%s/%s/%s", t->c.runs_dir, t->c.experiment,
             t->c.run_id);
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/checkpoints", t->run_dir);
    struct stat sb;
    int exists = stat(t->run_dir, &sb) == 0;
    if (t->cli && t->cli->resume && !exists)
      return kz_fail(KZ_ERR_NOT_FOUND, "--resume: run directory %s does not exist", t->run_dir);
    if (!(t->cli && t->cli->resume) && exists)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "output.run_id: %s already exists; pass --resume to continue it or choose "
                     "another run_id",
                     t->run_dir);
  }
  if (t->cli && t->cli->resume) KZ_TRY(check_resume_config(t, cfg));
  return KZ_OK;
}

/* ---- state <-> device ------------------------------------------------------------ */

static kz_status restore(trainer *t, const kz_ckpt_data *d) {
  /* the file holds one process's packed state, or (n_state 0) names the
   * shards that do (ckpt_shards.h); a ZeRO-1 rank takes its part */
  const int64_t full = t->zero ? t->sn_total : t->opt.n, first = t->zero ? t->zt0 : 0;
  const int sharded = d->n_state == 0;
  if (d->n != t->mb->info.n_params || (!sharded && d->n_state != t->opt.n_state) ||
      d->st.optim_kind != (int)t->c.optim.kind || d->state_n != full)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the checkpoint's parameter count, trainable count or optimizer differs "
                   "from the job's",
                   t->ckpt_dir);
  if (d->params_n != d->n) /* an adapter run's: the base stays as loaded */
    KZ_TRY(kz_ckpt_adapter_restore(t->model, t->s, d, t->ckpt_dir, t->base_fp));
  else
    KZ_TRY(kz_copy_to_device(t->s, t->mb->params.data, d->params, (size_t)d->n * 4));
  const size_t sbytes = (size_t)t->opt.n * 4;
  float *part = NULL;
  if (sharded) {
    part = malloc(sbytes * (size_t)t->opt.n_state + 4);
    if (!part) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "resume: out of memory");
    kz_status st =
        kz_ckpt_shards_read(t->ckpt_dir, d->st.step, full, t->opt.n_state, first, t->opt.n, part);
    if (st != KZ_OK) free(part);
    KZ_TRY(st);
  }
  const float *m = sharded ? part : d->state + first;
  const float *v = sharded ? part + t->opt.n : d->state + d->state_n + first;
  kz_status st = kz_copy_to_device(t->s, t->opt.m.data, m, sbytes);
  if (st == KZ_OK && t->opt.n_state == 2) st = kz_copy_to_device(t->s, t->opt.v.data, v, sbytes);
  if (st == KZ_OK) st = kz_stream_sync(t->s);
  free(part);
  KZ_TRY(st);
  t->opt.t = d->st.optim_t;
  t->st = d->st;
  /* A run killed after its early-stopping decision stays stopped. */
  t->stopped_early = t->c.es_patience > 0 && t->st.bad_evals >= t->c.es_patience;
  return KZ_OK;
}

/* ZeRO-1 (docs/DISTRIBUTED.md, "Sharded checkpoints"): every rank writes
 * the optimizer state it owns; rank 0 learns each shard's range, size and
 * checksum, writes the manifest and last the .kzc (parameters, no state
 * block), which commits the checkpoint. */
static kz_status write_checkpoint(trainer *t, int sharded);

static kz_status save_shards(trainer *t) {
  const int ns = t->opt.n_state;
  const size_t sbytes = (size_t)t->opt.n * 4;
  float *mine = malloc(sbytes * (size_t)ns + 4);
  int64_t *all = malloc(sizeof(int64_t) * 4 * (size_t)t->world);
  kz_ckpt_shard_info *info = malloc(sizeof *info * (size_t)t->world);
  kz_ckpt_shard_info me;
  int created = 0;
  kz_status st =
      mine && all && info ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "checkpoint: out of memory");
  if (st == KZ_OK) st = kz_copy_to_host(t->s, mine, t->opt.m.data, sbytes);
  if (st == KZ_OK && ns == 2) st = kz_copy_to_host(t->s, mine + t->opt.n, t->opt.v.data, sbytes);
  if (st == KZ_OK) st = kz_stream_sync(t->s);
  if (st == KZ_OK) st = kz_fs_ensure_dir(t->ckpt_dir, &created);
  const float *state[2] = {mine, mine ? mine + t->opt.n : NULL};
  if (st == KZ_OK)
    st = kz_ckpt_shard_write(t->ckpt_dir, t->st.step, t->rank, t->world, t->sn_total, t->zt0,
                             t->opt.n, state, ns, &me);
  int64_t v[4] = {me.first, me.count, (int64_t)me.bytes, (int64_t)me.hash};
  if (st == KZ_OK) st = kz_comm_allgather(t->comm, v, all, 4, KZ_COMM_I64);
  for (int r = 0; st == KZ_OK && r < t->world; ++r)
    info[r] = (kz_ckpt_shard_info){all[4 * r], all[4 * r + 1], (uint64_t)all[4 * r + 2],
                                   (uint64_t)all[4 * r + 3]};
  if (st == KZ_OK && t->lead)
    st = kz_ckpt_manifest_write(t->ckpt_dir, t->st.step, t->world, t->sn_total, ns, info);
  if (st == KZ_OK && t->lead) st = write_checkpoint(t, 1);
  free(mine), free(all), free(info);
  return st;
}

/* The lead rank writes; the others wait for it, so a rollback or resume on
 * any rank reads the same, complete checkpoint. */
static kz_status save_checkpoint(trainer *t) {
  KZ_TRY(t->zero ? save_shards(t) : t->lead ? write_checkpoint(t, 0) : KZ_OK);
  return t->world > 1 ? kz_comm_barrier(t->comm) : KZ_OK;
}

/* sharded: the optimizer state is in the ranks' shards (save_shards), the
 * .kzc holds no state block; else it holds the optimizer's own. */
static kz_status write_checkpoint(trainer *t, int sharded) {
  const int64_t n = t->mb->info.n_params;
  const int64_t sn = sharded ? t->sn_total : t->opt.n; /* sn: trainable floats */
  const int ns = sharded ? 0 : t->opt.n_state;
  float *host = malloc((size_t)(n + sn * ns) * 4);
  if (!host) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "checkpoint: out of memory");
  kz_status st = kz_copy_to_host(t->s, host, t->mb->params.data, (size_t)n * 4);
  if (st == KZ_OK && ns > 0) st = kz_copy_to_host(t->s, host + n, t->opt.m.data, (size_t)sn * 4);
  if (st == KZ_OK && ns == 2)
    st = kz_copy_to_host(t->s, host + n + sn, t->opt.v.data, (size_t)sn * 4);
  if (st == KZ_OK) st = kz_stream_sync(t->s);
  kz_ckpt_state cs = t->st;
  cs.optim_t = t->opt.t;
  cs.wall_s = wall_now(t);
  cs.state_n = sn;
  cs.params_n = 0, cs.base_fingerprint[0] = '\0';
  /* an adapter run stores its trainable tensors only (ckpt_adapter.h) */
  if (st == KZ_OK && kz_ckpt_adapter_only(t->model))
    st = kz_ckpt_adapter_pack(t->model, host, &cs, t->base_fp);
  const int64_t pn = cs.params_n > 0 ? cs.params_n : n;
  if (pn != n) memmove(host + pn, host + n, (size_t)(sn * ns) * 4);
  const float *state[2] = {host + pn, host + pn + sn};
  char path[4300];
  kz_ckpt_path(t->ckpt_dir, cs.step, path, sizeof path);
  int created = 0;
  if (st == KZ_OK) st = kz_fs_ensure_dir(t->ckpt_dir, &created);
  if (st == KZ_OK) st = kz_ckpt_write(path, &cs, t->meta, host, state, ns, n);
  free(host);
  if (st == KZ_OK) st = kz_ckpt_prune(t->ckpt_dir, (int)t->c.keep_checkpoints, t->st.best_step);
  /* the shards of pruned (or interrupted) sharded checkpoints */
  if (st == KZ_OK) st = kz_ckpt_shards_prune(t->ckpt_dir);
  return st;
}

/* ---- data ------------------------------------------------------------------------- */

static kz_status open_epoch(trainer *t) {
  kz_shard_iter_options o;
  kz_shard_iter_options_default(&o);
  o.batch_size = t->c.batch_size;
  o.shuffle = 1;
  o.seed = t->c.seed;
  o.epoch = t->st.epoch;
  /* several ranks: batch k of every rank together is the global batch k
   * one process with batch_size x ranks would read (iter.h, stripes) */
  o.rank = t->rank;
  o.world = t->world;
  o.stripe_rows = t->world > 1 ? t->c.batch_size : 0;
  KZ_TRY(kz_shard_iter_open(t->train, &o, &t->it));
  /* Resume mid-epoch: replay the iterator to the recorded position. */
  for (int64_t i = 0; i < t->st.batch_in_epoch; ++i) {
    const kz_shard_batch *b = NULL;
    KZ_TRY(kz_shard_iter_next(t->it, &b));
    if (!b && t->world > 1) break; /* this rank's part of the last global batch is empty */
    if (!b)
      return kz_fail(KZ_ERR_INTERNAL, "resume: epoch %lld ended before batch %lld",
                     (long long)t->st.epoch, (long long)t->st.batch_in_epoch);
  }
  return KZ_OK;
}

static void close_epoch(trainer *t) {
  if (t->it) kz_shard_iter_close(t->it);
  t->it = NULL;
}

/* ---- logging, evaluation ------------------------------------------------------------ */

static void event(trainer *t, const char *kind, const char *detail) {
  char json[512], text[512];
  snprintf(json, sizeof json, "{\"event\":\"%s\",\"step\":%lld,\"detail\":\"%s\"}", kind,
           (long long)t->st.step, detail);
  snprintf(text, sizeof text, "kaizen: step %lld: %s: %s", (long long)t->st.step, kind, detail);
  kz_progress_event(&t->prog, json, text);
}

static kz_status evaluate(trainer *t, kz_nn_metrics *out) {
  return kz_nn_evaluate(t->model, t->valid, t->c.batch_size, out);
}

static kz_status log_row(trainer *t, double train_loss, double lr, const kz_nn_metrics *ev) {
  if (!t->run) return KZ_OK; /* not the lead rank */
  double v[2 + KZ_NN_MAX_METRICS];
  for (int i = 0; i < t->n_cols; ++i) v[i] = NAN;
  v[0] = train_loss;
  v[1] = lr;
  for (int i = 0; ev && i < ev->n && 2 + i < t->n_cols; ++i) v[2 + i] = ev->values[i];
  return kz_run_log(t->run, t->st.step, wall_now(t), v);
}

/* Evaluation + best model + early stopping. */
static kz_status eval_step(trainer *t, kz_nn_metrics *ev) {
  KZ_TRY(evaluate(t, ev));
  t->last = *ev;
  t->have_last = 1;
  double v = ev->values[t->es_index];
  double best = t->st.best_value;
  int better = isnan(best)    ? isfinite(v)
               : t->es_higher ? v > best + t->c.es_min_delta
                              : v < best - t->c.es_min_delta;
  if (better) {
    t->st.best_value = v;
    t->st.best_step = t->st.step;
    t->st.bad_evals = 0;
    char path[4200];
    if (t->run)
      KZ_TRY(kz_nn_model_save(t->model, kz_run_path(t->run, "best.kzm", path, sizeof path)));
  } else {
    t->st.bad_evals += 1;
    if (t->c.es_patience > 0 && t->st.bad_evals >= t->c.es_patience) t->stopped_early = 1;
  }
  char detail[256];
  snprintf(detail, sizeof detail, "%s=%.6g (best %.6g at step %lld)", t->es_name, v,
           t->st.best_value, (long long)t->st.best_step);
  event(t, "eval", detail);
  return KZ_OK;
}

/* The early-stopping metric on the old data's held-out rows and on the
 * new data's (NaN without validation rows), at the start (when 0) or the end
 * (1) of the run; a no-op without train.continual. */
static kz_status forgetting_metrics(trainer *t, int when) {
  if (!t->cont.old_valid) return KZ_OK;
  kz_nn_metrics m;
  kz_status st = kz_nn_evaluate(t->model, t->cont.old_valid, t->c.batch_size, &m);
  if (st != KZ_OK) return kz_fail_context(st, "train.continual.old_data");
  t->old_metric[when] = m.values[t->es_index];
  t->new_metric[when] = NAN;
  if (t->valid) {
    KZ_TRY(evaluate(t, &m));
    t->new_metric[when] = m.values[t->es_index];
  }
  const char *metric = t->names.names[t->es_index];
  const char *tag = when ? "after" : "before";
  snprintf(t->forget_names[2 * when], sizeof t->forget_names[0], "old_%s/%s", tag, metric);
  snprintf(t->forget_names[2 * when + 1], sizeof t->forget_names[0], "new_%s/%s", tag, metric);
  return KZ_OK;
}

static void forgetting_event(trainer *t, int when) {
  if (!t->cont.old_valid || !t->run) return;
  char detail[256];
  snprintf(detail, sizeof detail, "%s %s=%.6g on the old data, %.6g on the new",
           when ? "after training" : "before training", t->names.names[t->es_index],
           t->old_metric[when], t->new_metric[when]);
  event(t, "continual", detail);
}

/* ---- NaN guard ----------------------------------------------------------------------- */

static kz_status rollback(trainer *t) {
  double mult = t->st.lr_mult * t->c.nan_lr_factor;
  if (++t->rollbacks > MAX_ROLLBACKS)
    return kz_fail(KZ_ERR_INTERNAL,
                   "training diverged: %d rollbacks after non-finite steps; lower train.lr",
                   MAX_ROLLBACKS);
  close_epoch(t);
  kz_continual_rewind(&t->cont);
  kz_ckpt_data d;
  char detail[256];
  if (t->began &&
      kz_ckpt_load_newest(t->ckpt_dir, &d, t->prog.mode == KZ_PROGRESS_QUIET) == KZ_OK) {
    kz_status st = restore(t, &d);
    kz_ckpt_data_free(&d);
    KZ_TRY(st);
  } else {
    /* No checkpoint yet: the start of the run is the last good state. */
    KZ_TRY(
        kz_copy_to_device(t->s, t->mb->params.data, t->params0, (size_t)t->mb->info.n_params * 4));
    KZ_TRY(kz_optim_reset(&t->opt, t->s));
    t->st = t->st0;
  }
  KZ_TRY(kz_nn_refresh_bf16(t->mb, t->s));
  KZ_TRY(kz_stream_sync(t->s));
  t->st.lr_mult = mult;
  t->st.nan_streak = 0;
  snprintf(detail, sizeof detail, "rolled back to step %lld, lr multiplier now %g",
           (long long)t->st.step, mult);
  event(t, "rollback", detail);
  return KZ_OK;
}

/* ---- one optimizer step ----------------------------------------------------------------- */

/* ZeRO-1: every rank's updated chunk to every rank, over gcomm (MPI on the
 * CPU, NCCL on device buffers on GPUs). The blocking collectives read their
 * input once t->s has written it, and t->s copies their output after. With
 * train.precision bf16 the optimizer rewrote the bf16 copy of this rank's
 * chunk only: the whole copy is refreshed from the gathered block. */
static kz_status zero_gather_params(trainer *t) {
  const int64_t n = t->mb->info.n_params, lo = t->rank * t->chunk;
  float *p = t->mb->params.data, *zpad = t->zpad.data, *zslice = t->zslice.data;
  KZ_TRY(kz_fill_bytes(t->s, zslice, 0, (size_t)t->chunk * 4));
  if (lo < n)
    KZ_TRY(kz_copy_on_device(t->s, zslice, p + lo,
                             (size_t)(n - lo < t->chunk ? n - lo : t->chunk) * 4));
  KZ_TRY(kz_stream_sync(t->s));
  KZ_TRY(kz_comm_allgather(t->gcomm, zslice, zpad, (size_t)t->chunk, KZ_COMM_F32));
  KZ_TRY(kz_copy_on_device(t->s, p, zpad, (size_t)n * 4));
  KZ_TRY(kz_nn_refresh_bf16(t->mb, t->s));
  return kz_stream_sync(t->s);
}

/* ZeRO-1 setup: this rank's chunk, the trainable ranges in it, and where
 * its state sits in the packed state of one process. */
static void zero_plan(trainer *t, const kz_param_range *tr, int ntr) {
  const int64_t n = t->mb->info.n_params;
  t->chunk = (n + t->world - 1) / t->world;
  const int64_t lo = t->rank * t->chunk, hi = lo + t->chunk < n ? lo + t->chunk : n;
  t->nzr = 0;
  t->zt0 = 0;
  t->sn_total = 0;
  for (int i = 0; i < ntr; ++i) {
    const int64_t a = tr[i].offset, z = tr[i].offset + tr[i].count;
    t->sn_total += tr[i].count;
    t->zt0 += (lo < z ? lo : z) > a ? (lo < z ? lo : z) - a : 0; /* trainable floats before lo */
    const int64_t x = a > lo ? a : lo, y = z < hi ? z : hi;
    if (x < y) t->zr[t->nzr++] = (kz_param_range){x, y - x};
  }
}

/* Several ranks: each rank's gradients (already scaled by its rows over the
 * global batch) are summed in buckets, and so are the loss sums and rows,
 * so every rank then takes the step one process takes on the global batch. */
/* Without overlap (ZeRO-1, KZ_DIST_OVERLAP=0) the hook only notes the
 * stream the model's backward runs on: on GPUs it may still be writing
 * gradients there when train_batch returns. */
static kz_status note_stream(void *ctx, kz_stream *s, int64_t offset, int64_t count) {
  ((trainer *)ctx)->model_stream = s;
  return KZ_OK;
}

static kz_status reduce_step(trainer *t, double *loss_sum, int64_t *rows) {
  const int64_t n = t->mb->info.n_params;
  float *g = t->mb->grads.data;
  KZ_TRY(kz_stream_sync(t->s)); /* the backward pass has written them */
  if (t->model_stream) KZ_TRY(kz_stream_sync(t->model_stream));
  t->model_stream = NULL;
  if (t->zero) {
    /* each rank receives the sum of its own chunk only */
    const int64_t lo = t->rank * t->chunk,
                  cnt = n - lo < t->chunk ? (lo < n ? n - lo : 0) : t->chunk;
    float *zpad = t->zpad.data, *zslice = t->zslice.data;
    KZ_TRY(kz_copy_on_device(t->s, zpad, g, (size_t)n * 4));
    KZ_TRY(kz_fill_bytes(t->s, zpad + n, 0, (size_t)(t->chunk * t->world - n) * 4));
    KZ_TRY(kz_stream_sync(t->s));
    KZ_TRY(
        kz_comm_reduce_scatter(t->gcomm, zpad, zslice, (size_t)t->chunk, KZ_COMM_F32, KZ_COMM_SUM));
    if (cnt > 0) KZ_TRY(kz_copy_on_device(t->s, g + lo, zslice, (size_t)cnt * 4));
    KZ_TRY(kz_stream_sync(t->s));
  }
  /* buckets started during the backward pass, the rest now; all complete
   * (on GPUs: t->s waits for them) */
  if (t->overlap) KZ_TRY(kz_grad_buckets_finish(&t->gb, t->s, t->s));
  for (int64_t off = 0; !t->zero && !t->overlap && off < n; off += GRAD_BUCKET)
    KZ_TRY(kz_comm_allreduce(t->gcomm, g + off,
                             (size_t)(n - off < GRAD_BUCKET ? n - off : GRAD_BUCKET), KZ_COMM_F32,
                             KZ_COMM_SUM));
  double v[2] = {*loss_sum, (double)*rows};
  KZ_TRY(kz_comm_allreduce(t->comm, v, 2, KZ_COMM_F64, KZ_COMM_SUM));
  *loss_sum = v[0];
  *rows = (int64_t)v[1];
  return KZ_OK;
}

static kz_status train_step(trainer *t, int *epoch_end, int *skipped) {
  const kz_nn_model_ops *ops = t->mb->ops;
  const int64_t n = t->mb->info.n_params;
  KZ_TRY(kz_fill_bytes(t->s, t->mb->grads.data, 0, (size_t)n * 4));
  /* the global batch: per-rank batch x ranks x accumulation */
  const double nominal = (double)(t->c.batch_size * t->c.grad_accum * t->world);
  int64_t rows = 0;
  double loss_sum = 0.0;
  *epoch_end = 0;
  for (int64_t a = 0; a < t->c.grad_accum; ++a) {
    const kz_shard_batch *b = NULL;
    const int replay = kz_continual_pick_replay(&t->cont, &t->st.rng);
    if (replay) {
      KZ_TRY(kz_continual_next(&t->cont, &t->st.replay_epoch, &t->st.replay_batch, &b));
      /* a window model reads the row against the old data's series */
      KZ_TRY(kz_continual_use_old(&t->cont, t->model, 1));
    } else {
      if (!t->it) KZ_TRY(open_epoch(t));
      KZ_TRY(kz_shard_iter_next(t->it, &b));
      if (!b && t->world == 1)
        return kz_fail(KZ_ERR_INTERNAL, "epoch %lld ended early", (long long)t->st.epoch);
    }
    uint64_t dseed = kz_splitmix64(&t->st.rng);
    double loss = 0.0, w = b ? (double)b->rows / nominal : 0.0, share = b ? (double)b->rows : 0.0;
    if (t->world > 1 && ops->loss_items) {
      /* a model whose batch loss is a mean over items (masked tokens,
       * windows): this rank's mean weighs its items' share of the global
       * micro-batch's, so the ranks' sum is one process's gradient */
      int64_t items = 0;
      if (b) KZ_TRY(ops->loss_items(t->model, b, dseed, &items));
      double v[2] = {(double)items, b ? (double)b->rows : 0.0};
      KZ_TRY(kz_comm_allreduce(t->comm, v, 2, KZ_COMM_F64, KZ_COMM_SUM));
      share = v[0] > 0 ? v[1] * (double)items / v[0] : 0.0;
      w = share / nominal;
    }
    /* the step's last backward pass: its finished gradient buckets start
     * reducing while it goes on (grad_buckets.h) */
    const int last = a == t->c.grad_accum - 1 || (!replay && t->st.batch_in_epoch + 1 == t->bpe);
    if (t->overlap && last) {
      kz_grad_buckets_arm(&t->gb);
      t->mb->grad_ready = kz_grad_buckets_ready;
      t->mb->grad_ready_ctx = &t->gb;
    } else if (t->world > 1 && last) {
      t->model_stream = NULL;
      t->mb->grad_ready = note_stream;
      t->mb->grad_ready_ctx = t;
    }
    /* a rank whose part of the epoch's last global batch is empty adds
     * nothing but still takes part in the step's collectives */
    kz_status bst = b ? ops->train_batch(t->model, b, w, dseed, &loss) : KZ_OK;
    t->mb->grad_ready = NULL;
    KZ_TRY(bst);
    if (b) loss_sum += loss * share;
    if (b) rows += b->rows;
    if (replay) KZ_TRY(kz_continual_use_old(&t->cont, t->model, 0));
    if (replay) continue; /* old data: the new data's epoch does not advance */
    if (++t->st.batch_in_epoch == t->bpe) {
      close_epoch(t);
      t->st.epoch += 1;
      t->st.batch_in_epoch = 0;
      *epoch_end = 1;
      break;
    }
  }
  if (t->world > 1) KZ_TRY(reduce_step(t, &loss_sum, &rows));
  const int64_t step_no = t->st.step + 1;
  if (t->c.inject_nan_at_step >= 0 && step_no > t->inject_done &&
      step_no >= t->c.inject_nan_at_step &&
      step_no < t->c.inject_nan_at_step + t->c.inject_nan_steps) {
    KZ_TRY(kz_grad_poison(t->s, &t->mb->grads));
    t->inject_done = step_no;
  }
  /* A short last group of an epoch is rescaled to a mean over its own rows. */
  const double gs = rows > 0 ? nominal / (double)rows : 1.0;
  /* the EWC term joins the gradient before clipping; 1/gs undoes the
   * rescaling above, which is for the data term only */
  KZ_TRY(kz_continual_apply_ewc(&t->cont, t->s, &t->mb->params, &t->mb->grads, 1.0 / gs));
  double norm = 0.0;
  kz_param_range tr[KZ_NN_MAX_RANGES];
  const int ntr = kz_nn_trainable_ranges(t->mb, tr);
  if (t->zero) { /* the norm of every rank's chunk */
    KZ_TRY(kz_grad_global_norm(t->s, &t->mb->grads, t->zr, t->nzr, t->host, &norm));
    norm *= norm;
    KZ_TRY(kz_comm_allreduce(t->comm, &norm, 1, KZ_COMM_F64, KZ_COMM_SUM));
    norm = sqrt(norm);
  } else {
    KZ_TRY(kz_grad_global_norm(t->s, &t->mb->grads, tr, ntr, t->host, &norm));
  }
  norm *= gs;
  const double loss = rows > 0 ? loss_sum / (double)rows : 0.0;
  const double lr = kz_schedule_lr(&t->sched, t->st.step) * t->st.lr_mult;
  *skipped = !(isfinite(loss) && isfinite(norm));
  if (!*skipped) {
    KZ_TRY(kz_optim_step(&t->opt, t->s, &t->mb->params, &t->mb->grads, t->zero ? t->zr : tr,
                         t->zero ? t->nzr : ntr, lr, gs * kz_clip_scale(norm, t->c.clip_norm)));
    /* the model's next step runs on its own stream (non-blocking on CUDA):
     * the updated weights (and their bf16 copy) must be there first */
    KZ_TRY(kz_stream_sync(t->s));
    if (t->zero) KZ_TRY(zero_gather_params(t));
    t->st.nan_streak = 0;
    t->st.log_loss_sum += loss;
    t->st.log_count += 1;
  } else {
    t->st.nan_streak += 1;
  }
  t->st.step = step_no;
  t->st.samples += rows;
  return KZ_OK;
}

/* ---- the run ------------------------------------------------------------------------------ */

static kz_status write_params(trainer *t) {
  json_error_t err;
  json_t *o = json_object();
  json_t *meta = json_loads(t->meta, 0, &err);
  char dev[64];
  kz_device_format(t->mb->device, dev, sizeof dev);
  json_object_set_new(o, "model_type", json_string(t->mb->ops->type));
  json_object_set_new(o, "n_params", json_integer(t->mb->info.n_params));
  json_object_set_new(o, "model_meta", meta ? meta : json_null());
  json_object_set_new(o, "data_train", json_string(t->c.data_train));
  json_object_set_new(o, "data_valid", json_string(t->valid ? kz_dataset_path(t->valid) : ""));
  json_object_set_new(o, "train_rows", json_integer(kz_dataset_rows(t->train)));
  json_object_set_new(o, "valid_rows", json_integer(t->valid ? kz_dataset_rows(t->valid) : 0));
  json_object_set_new(o, "seed", json_integer((json_int_t)t->c.seed));
  json_object_set_new(o, "device", json_string(dev));
  json_object_set_new(o, "steps", json_integer(t->total));
  char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(o);
  if (!s) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "params.json: out of memory");
  kz_status st = kz_run_write_params(t->run, s);
  free(s);
  return st;
}

static kz_status begin_run(trainer *t, kz_cfg *cfg, int resumed) {
  kz_run_options ro = {.runs_dir = t->c.runs_dir,
                       .experiment = t->c.experiment,
                       .run_id = t->c.run_id,
                       .resume = t->cli && t->cli->resume};
  KZ_TRY(kz_run_open(&ro, cfg, &t->run));
  snprintf(t->run_dir, sizeof t->run_dir, "%s", kz_run_dir(t->run));
  snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/checkpoints", t->run_dir);
  KZ_TRY(write_params(t));
  t->n_cols = 2 + (t->valid ? t->names.n : 0);
  t->cols[0] = strdup("train/loss");
  t->cols[1] = strdup("lr");
  for (int i = 2; i < t->n_cols; ++i) {
    char name[128];
    snprintf(name, sizeof name, "valid/%s", t->names.names[i - 2]);
    t->cols[i] = strdup(name);
  }
  for (int i = 0; i < t->n_cols; ++i)
    if (!t->cols[i]) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  return kz_run_metrics_begin(t->run, (const char *const *)t->cols, t->n_cols,
                              resumed ? t->st.step : INT64_MAX);
}

static kz_status train_loop(trainer *t) {
  while (t->st.step < t->total && !t->stopped_early) {
    int epoch_end = 0, skipped = 0;
    KZ_TRY(train_step(t, &epoch_end, &skipped));
    const int64_t step = t->st.step;
    const double lr = kz_schedule_lr(&t->sched, step - 1) * t->st.lr_mult;
    if (skipped) {
      char detail[200];
      snprintf(detail, sizeof detail, "non-finite loss or gradient, update skipped (%lld in a row)",
               (long long)t->st.nan_streak);
      event(t, "nan_skip", detail);
      if (t->st.nan_streak >= t->c.nan_max_consecutive) {
        KZ_TRY(rollback(t));
        continue;
      }
    }
    const int last = step == t->total;
    const int do_log = step % t->c.log_every == 0 || last;
    const int do_eval =
        t->valid && ((t->c.eval_every > 0 ? step % t->c.eval_every == 0 : epoch_end) || last);
    double train_loss = NAN;
    if (do_log && t->st.log_count > 0) {
      train_loss = t->st.log_loss_sum / (double)t->st.log_count;
      double now = kz_now_s();
      double dt = now - t->log_t0;
      double sps = dt > 0 ? (double)(t->st.samples - t->log_samples0) / dt : 0.0;
      double per_step = (now - t->seg_t0) / (double)(step - t->seg_step0);
      double eta = step > t->seg_step0 ? per_step * (double)(t->total - step) : -1.0;
      kz_progress_step(&t->prog, step, t->total, train_loss, lr, sps, eta);
      t->log_t0 = now;
      t->log_samples0 = t->st.samples;
      t->st.log_loss_sum = 0.0;
      t->st.log_count = 0;
    }
    kz_nn_metrics ev;
    if (do_eval) KZ_TRY(eval_step(t, &ev));
    if (do_log || do_eval) KZ_TRY(log_row(t, train_loss, do_log ? lr : NAN, do_eval ? &ev : NULL));
    const int do_ckpt = t->c.checkpoint_every > 0 ? step % t->c.checkpoint_every == 0 : do_eval;
    if (do_ckpt) KZ_TRY(save_checkpoint(t));
  }
  return KZ_OK;
}

static kz_status finish(trainer *t) {
  char path[4200];
  if (t->run)
    KZ_TRY(kz_nn_model_save(t->model, kz_run_path(t->run, "model.kzm", path, sizeof path)));
  /* a LoRA run also leaves its adapter alone, in PEFT's layout, with the
   * base's fingerprint (docs/MODELS.md, "LoRA adapters") */
  if (t->run && kz_adapters_has(t->model))
    KZ_TRY(kz_adapters_export_peft(t->model, kz_run_path(t->run, "adapter", path, sizeof path),
                                   t->c.init_from ? t->c.init_from : "", 1));
  if (t->valid && !t->have_last) {
    KZ_TRY(evaluate(t, &t->last));
    t->have_last = 1;
  }
  KZ_TRY(forgetting_metrics(t, 1));
  forgetting_event(t, 1);
  if (t->overlap) {
    char detail[200];
    snprintf(detail, sizeof detail,
             "gradient all-reduce in %d bucket(s) of up to %lld floats; %lld of %lld started "
             "during the backward pass",
             t->gb.nb, (long long)t->gb.bucket, (long long)t->gb.early, (long long)t->gb.started);
    event(t, "overlap", detail);
  }
  kz_progress_finish(&t->prog);
  if (!t->run) return KZ_OK; /* the lead rank writes the summary */
  kz_run_summary s;
  memset(&s, 0, sizeof s);
  char dev[64];
  kz_device_format(t->mb->device, dev, sizeof dev);
  char names[KZ_NN_MAX_METRICS][96];
  s.status = t->stopped_early ? "stopped_early" : "finished";
  s.model_type = t->mb->ops->type;
  s.steps = t->st.step;
  s.final_step = t->have_last ? t->st.step : 0; /* model.kzm: the last step's model */
  s.wall_s = wall_now(t);
  for (int i = 0; t->have_last && i < t->last.n && i < KZ_NN_MAX_METRICS; ++i) {
    snprintf(names[i], sizeof names[i], "valid/%s", t->last.names[i]);
    s.final_names[s.n_final] = names[i];
    s.final_values[s.n_final++] = t->last.values[i];
  }
  for (int w = 0; t->cont.old_valid && w < 2; ++w) {
    s.final_names[s.n_final] = t->forget_names[2 * w];
    s.final_values[s.n_final++] = t->old_metric[w];
    if (isnan(t->new_metric[w])) continue;
    s.final_names[s.n_final] = t->forget_names[2 * w + 1];
    s.final_values[s.n_final++] = t->new_metric[w];
  }
  if (!isnan(t->st.best_value)) {
    s.best_metric = t->es_name;
    s.best_value = t->st.best_value;
    s.best_step = t->st.best_step;
  }
  s.peak_memory_bytes = kz_run_peak_rss();
  s.device = dev;
  KZ_TRY(kz_run_finish(t->run, &s));
  printf("%s", t->mb->ops->type);
  if (t->have_last)
    for (int i = 0; i < t->last.n; ++i)
      printf(" valid/%s=%.6g", t->last.names[i], t->last.values[i]);
  else
    printf(" steps=%lld", (long long)t->st.step);
  printf(" run %s\n", t->run_dir);
  fflush(stdout);
  return KZ_OK;
}

/* One process, or one rank of a data-parallel job: host values go over the
 * world communicator, gradients over it on the CPU and over NCCL on GPUs
 * (one GPU per rank: the local rank's). */
static kz_status join_world(trainer *t) {
  t->rank = 0, t->world = 1, t->lead = 1;
  if (kz_dist_size() <= 1) return KZ_OK;
  t->rank = kz_dist_rank();
  t->world = kz_dist_size();
  t->lead = t->rank == 0;
  if (kz_dist_environment()->mpi) {
    if (!(t->comm = kz_dist_world())) return KZ_ERR_UNSUPPORTED;
    t->gcomm = t->comm;
  }
  return KZ_OK;
}

/* Ranks without MPI (KZ_RANK or Slurm alone, docs/DISTRIBUTED.md): GPUs only;
 * the NCCL id through the rendezvous, and the few host values through a
 * view of the same NCCL communicator. */
static kz_status nccl_only_world(trainer *t) {
  if (t->world <= 1 || t->comm) return KZ_OK;
  if (t->device.kind == KZ_DEVICE_CPU)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "rank %d of %d (launcher %s): CPU training on several ranks needs an MPI "
                   "launcher (mpirun, or srun --mpi=pmix); without one only GPUs (NCCL) can train",
                   t->rank, t->world, kz_dist_environment()->launcher);
  KZ_TRY(kz_comm_nccl_create(NULL, kz_dist_rendezvous(), t->rank, t->world, t->device.index,
                             &t->gcomm));
  KZ_TRY(kz_comm_nccl_host_view(t->gcomm, &t->comm));
  t->nccl_only = 1;
  return KZ_OK;
}

static kz_status gpu_comm(trainer *t) {
  if (t->world <= 1 || t->device.kind == KZ_DEVICE_CPU || t->gcomm != t->comm) return KZ_OK;
  KZ_TRY(kz_comm_nccl_create(t->comm, NULL, t->rank, t->world, t->device.index, &t->gcomm));
  return KZ_OK;
}

static kz_status run_job(trainer *t, kz_cfg *cfg) {
  KZ_TRY(join_world(t));
  if (t->world > 1 && kz_dist_environment()->local_rank > 0) {
    /* each rank its own GPU: the job's cuda device becomes the local rank's */
    kz_train_config c;
    KZ_TRY(kz_train_config_read(cfg, &c));
    kz_device d;
    KZ_TRY(kz_device_parse(t->cli && t->cli->device ? t->cli->device : c.device, &d));
    if (d.kind != KZ_DEVICE_CPU) {
      char set[64];
      snprintf(set, sizeof set, "train.device=cuda:%d", kz_dist_environment()->local_rank);
      KZ_TRY(kz_cfg_set(cfg, set));
    }
  }
  KZ_TRY(setup(t, cfg));
  /* EWC's Fisher (fisher_batch_size rows a micro-batch, whatever the
   * batch size) and the forgetting metric are computed whole on every
   * rank, so they are one process's; replay deals the old data's
   * micro-batches to the ranks as the new data's (continual.h) */
  kz_continual_set_world(&t->cont, t->rank, t->world);
  KZ_TRY(nccl_only_world(t));
  /* no rank looks for the run directory after the lead has created it */
  if (t->world > 1) KZ_TRY(kz_comm_barrier(t->comm));
  /* The device the model's blocks live on (the one asked for) runs the step. */
  t->device = t->mb->device;
  KZ_TRY(gpu_comm(t));
  const int64_t n = t->mb->info.n_params;
  KZ_TRY(kz_stream_create(t->device, &t->s));
  /* the optimizer's state covers the trainable ranges only (ZeRO-1: those
   * in this rank's chunk) */
  if (t->c.zero1 && t->world > 1) {
    kz_param_range tr[KZ_NN_MAX_RANGES];
    const int ntr = kz_nn_trainable_ranges(t->mb, tr);
    t->zero = 1;
    zero_plan(t, tr, ntr);
    const int64_t padded = t->chunk * t->world;
    KZ_TRY(kz_tensor_alloc(t->device, KZ_F32, 1, &padded, &t->zpad));
    KZ_TRY(kz_tensor_alloc(t->device, KZ_F32, 1, &t->chunk, &t->zslice));
  }
  int64_t zn = 0;
  for (int i = 0; i < t->nzr; ++i) zn += t->zr[i].count;
  KZ_TRY(
      kz_optim_init(&t->opt, &t->c.optim, t->device, t->zero ? zn : kz_nn_trainable_count(t->mb)));
  KZ_TRY(kz_optim_reset(&t->opt, t->s));
  if (kz_adapters_has(t->model) && !(t->cli && t->cli->quiet)) {
    const int64_t tc = kz_nn_trainable_count(t->mb);
    fprintf(stderr,
            "kaizen: LoRA: %lld of %lld parameters trainable (%.3f%%); optimizer state %.3f MiB "
            "(%.3f MiB when training all)\n",
            (long long)tc, (long long)n, 100.0 * (double)tc / (double)n,
            (double)(t->opt.n_state * tc * 4) / 1048576.0,
            (double)(t->opt.n_state * n * 4) / 1048576.0);
  }
  t->host = malloc((size_t)n * 4);
  t->params0 = malloc((size_t)n * 4);
  if (!t->host || !t->params0) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  /* micro-batches per epoch: global ones (per-rank batch x ranks rows) */
  const int64_t rows = kz_dataset_rows(t->train), gbatch = t->c.batch_size * t->world;
  t->bpe = (rows + gbatch - 1) / gbatch;
  const int64_t spe = (t->bpe + t->c.grad_accum - 1) / t->c.grad_accum;
  t->total = t->c.steps > 0 ? t->c.steps : t->c.epochs * spe;
  /* with replay an epoch of the new data takes more steps: the old data's
   * micro-batches come on top */
  if (t->c.steps <= 0 && t->cont.old_train && t->c.continual.replay > 0.0)
    t->total = (int64_t)ceil((double)t->total / (1.0 - t->c.continual.replay));
  t->sched = (kz_schedule){.kind = t->c.schedule,
                           .lr = t->c.lr,
                           .warmup = t->c.init_from ? t->c.rewarm_steps : t->c.warmup_steps,
                           .total = t->total,
                           .min_lr_ratio = t->c.min_lr_ratio};
  if (!t->c.init_from) KZ_TRY(t->mb->ops->init_params(t->model, t->c.seed));
  t->st = (kz_ckpt_state){.lr_mult = 1.0,
                          .rng = t->c.seed ^ 0x5eed5eed5eed5eedULL,
                          .best_value = NAN,
                          .best_step = -1,
                          .optim_kind = (int)t->c.optim.kind};
  t->st0 = t->st;
  KZ_TRY(kz_copy_to_host(t->s, t->params0, t->mb->params.data, (size_t)n * 4));
  KZ_TRY(kz_stream_sync(t->s));
  /* Continual training measures and anchors at the starting weights, also
   * when resuming (before the checkpoint's weights replace them), so a
   * resumed run has the same Fisher and the same "before" metrics. */
  KZ_TRY(kz_nn_refresh_bf16(t->mb, t->s)); /* bf16: the copy the Fisher's steps read */
  KZ_TRY(kz_continual_fisher(&t->cont, t->model, t->s, t->host));
  KZ_TRY(forgetting_metrics(t, 0));
  int resumed = 0;
  if (t->cli && t->cli->resume) {
    kz_ckpt_data d;
    kz_status st = kz_ckpt_load_newest(t->ckpt_dir, &d, 0);
    /* an adapter-only checkpoint fills the job's own model (its base from
     * train.init_from), so that model must be the checkpoint's */
    if (st == KZ_OK && d.params_n != d.n && strcmp(t->meta, d.meta)) {
      st = kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the checkpoint holds only adapter tensors for another model than the "
                   "job's (the model section or train.init_from changed)",
                   t->ckpt_dir);
      kz_ckpt_data_free(&d);
      return st;
    }
    if (st == KZ_OK) {
      st = adopt_meta(t, d.meta);
      if (st == KZ_OK) st = restore(t, &d);
      kz_ckpt_data_free(&d);
      KZ_TRY(st);
      resumed = 1;
    } else if (st == KZ_ERR_NOT_FOUND) {
      fprintf(stderr, "kaizen: warning: %s; starting the run from step 0\n", kz_last_error());
    } else {
      return st;
    }
  }
  /* the parameters are final now (initialised, loaded or resumed; a
   * resumed model may be a new one, adopt_meta): bf16 copies them once,
   * then the optimizer keeps the copy current */
  KZ_TRY(kz_nn_set_precision(t->model, t->c.precision));
  t->opt.params_bf16 = t->mb->params_bf16;
  KZ_TRY(overlap_init(t)); /* on the final model's gradient block */
  if (t->changes[0] && t->lead) KZ_TRY(kz_run_config_keep_old(t->run_dir, t->st.step));
  if (t->lead) KZ_TRY(begin_run(t, cfg, resumed));
  if (t->world > 1) { /* the run (and checkpoint) directory the lead created or reopened */
    KZ_TRY(kz_comm_broadcast(t->comm, t->run_dir, sizeof t->run_dir, KZ_COMM_U8, 0));
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/checkpoints", t->run_dir);
  }
  t->began = 1;
  kz_progress_init(&t->prog, (t->cli && t->cli->quiet) || !t->lead, t->s,
                   t->mb->info.flops_per_row);
  forgetting_event(t, 0);
  if (t->cont.fisher.data) {
    char detail[200];
    snprintf(detail, sizeof detail,
             "EWC lambda %g, diagonal Fisher from %lld old micro-batches, mean %.4g",
             t->c.continual.ewc_lambda, (long long)t->c.continual.fisher_batches,
             t->cont.fisher_mean);
    event(t, "continual", detail);
  }
  t->seg_t0 = t->log_t0 = kz_now_s();
  t->log_samples0 = t->st.samples;
  t->seg_step0 = t->st.step;
  if (resumed) {
    /* values may hold quotes, so the JSON event names the kept file only */
    char detail[200];
    int len = snprintf(detail, sizeof detail, "resumed from checkpoint at step %lld",
                       (long long)t->st.step);
    if (t->changes[0] && len > 0 && (size_t)len < sizeof detail)
      snprintf(detail + len, sizeof detail - (size_t)len,
               " with config changes (--allow-changes; the old config is "
               "config.before-step-%lld.yaml)",
               (long long)t->st.step);
    event(t, "resume", detail);
  }
  /* A failure in the loop or while saving the final model leaves a run
   * marked failed, not one that looks as if it were still running. */
  kz_status st = train_loop(t);
  if (st == KZ_OK) st = finish(t);
  if (st != KZ_OK) {
    kz_progress_finish(&t->prog);
    kz_run_summary s = {.status = "failed", .model_type = t->mb->ops->type, .steps = t->st.step};
    s.wall_s = wall_now(t);
    s.peak_memory_bytes = kz_run_peak_rss();
    kz_status err = st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", kz_last_error());
    if (t->run) kz_run_finish(t->run, &s);
    return kz_fail(err, "%s", msg);
  }
  return KZ_OK;
}

kz_status kz_nn_job_train(kz_cfg *cfg, const kz_job_cli *cli) {
  trainer *t = calloc(1, sizeof *t);
  if (!t) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  t->cli = cli;
  kz_status st = kz_job_cli_apply(cfg, cli);
  if (st == KZ_OK) st = run_job(t, cfg);
  close_epoch(t);
  kz_continual_close(&t->cont);
  kz_grad_buckets_free(&t->gb);
  if (t->run) kz_run_close(t->run);
  if (t->opt.m.data) kz_optim_free(&t->opt);
  if (t->model) t->mb->ops->destroy(t->model);
  /* MPI's world belongs to launch.c; the NCCL communicator (and, without
   * MPI, its host view) are the trainer's */
  if (t->nccl_only) kz_comm_destroy(t->comm);
  if (t->gcomm && t->gcomm != t->comm) kz_comm_destroy(t->gcomm);
  if (t->s) kz_stream_destroy(t->s);
  if (t->train) kz_dataset_close(t->train);
  if (t->valid) kz_dataset_close(t->valid);
  for (int i = 0; i < 2 + KZ_NN_MAX_METRICS; ++i) free(t->cols[i]);
  free(t->meta), free(t->host), free(t->params0);
  kz_tensor_free(&t->zpad), kz_tensor_free(&t->zslice);
  free(t);
  return st;
}
