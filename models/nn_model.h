/* The interface between the trainer (engine/train) and a neural model
 * (models/mlp now; transformer and TFT later). The trainer owns the loop, the
 * optimizer, schedules, checkpoints and logging; the model owns its layers.
 *
 * Parameters live in one contiguous f32 block and gradients in a second block
 * of the same layout (as llm.c does; docs/MODELS.md gives each model's
 * order), so the optimizer, clipping, NaN checks and checkpoints are
 * operations on one range. Both blocks are tensors on the
 * model's device; on the CPU their data pointers are plain host memory.
 *
 * Lifecycle:
 *   create (from the `model` config section + the training data set, which
 *     gives the schema and the statistics the model needs, e.g. feature means)
 *     -> init_params(seed) -> { zero_grads; train_batch ...; optimizer step }*
 *   save / load round-trip everything the model needs to predict: its config,
 *   statistics and parameters (checkpoints store the same meta + params).
 */
#ifndef KZ_MODELS_NN_MODEL_H
#define KZ_MODELS_NN_MODEL_H

#include <stdint.h>

#include "common/config/cfg.h"
#include "data/shard/batch.h"
#include "data/shard/reader.h"
#include "kaizen.h"
#include "kernels/core/backend.h"
#include "kernels/core/tensor.h"
#include "models/metrics.h"

typedef struct kz_nn_model kz_nn_model;

enum { KZ_NN_MAX_METRICS = 8 };

/* Tabular neural models (MLP, linear) read a numeric ±inf as a value, not as
 * missing: it enters the network as ±KZ_NN_INF_Z standard deviations, and the
 * mean and standard deviation of a column are those of its finite values (so
 * the model's statistics stay finite and its file stays loadable). */
#define KZ_NN_INF_Z 10.0

/* The largest parameter block a neural model may have (2^32 floats: 16 GiB,
 * as much again for gradients). Layouts are computed against it before any
 * block is allocated, so a crafted meta (hidden: [1e9, 1e9]) fails with a
 * message instead of overflowing or allocating. */
#define KZ_NN_MAX_PARAMS ((int64_t)1 << 32)

/* Running sums over evaluation batches: the common metric accumulator
 * (models/metrics.h), fed by eval_batch (rows = rows with a label). */
typedef kz_metric_acc kz_nn_eval;

typedef struct kz_nn_metrics {
  int n;
  const char *names[KZ_NN_MAX_METRICS]; /* "logloss", "accuracy", "error" / "rmse", "mae" */
  double values[KZ_NN_MAX_METRICS];
  int higher_is_better[KZ_NN_MAX_METRICS];
} kz_nn_metrics;

/* Options of predict_dataset (all nullable). */
typedef struct kz_nn_predict_opts {
  const char *plot;        /* an SVG of one series' history and its forecast band */
  const char *plot_series; /* which series (by name); NULL: the first */
  int quiet;               /* no notes on stderr */
} kz_nn_predict_opts;

typedef struct kz_nn_model_ops {
  const char *type; /* "mlp" */
  void (*destroy)(kz_nn_model *m);
  /* Deterministic in seed. */
  kz_status (*init_params)(kz_nn_model *m, uint64_t seed);
  /* Forward + backward on one batch. Gradients are ADDED into the gradient
   * block (the trainer zeroes it per optimizer step, so accumulation over
   * micro-batches is a loop). The gradient is of the MEAN loss over the rows
   * of this batch times `weight` (the trainer passes rows/total_rows when it
   * accumulates). dropout_seed makes dropout masks reproducible. *loss is the
   * mean loss of the batch (before weighting). */
  kz_status (*train_batch)(kz_nn_model *m, const kz_shard_batch *b, double weight,
                           uint64_t dropout_seed, double *loss);
  /* Forward only (dropout off), adding into acc. */
  kz_status (*eval_batch)(kz_nn_model *m, const kz_shard_batch *b, kz_nn_eval *acc);
  /* Metrics from the sums: kz_nn_metrics_fill, the common vocabulary of
   * the task (logloss, accuracy, error / rmse, mae). */
  void (*eval_finish)(const kz_nn_model *m, const kz_nn_eval *acc, kz_nn_metrics *out);
  /* Predictions, rows x kz_nn_model_info.out_width floats: class
   * probabilities (classification) or the value in label units (regression). */
  kz_status (*predict_batch)(kz_nn_model *m, const kz_shard_batch *b, float *out);
  /* Save: a self-contained model file (docs/FORMATS.md), written to a .tmp
   * name and renamed. */
  kz_status (*save)(const kz_nn_model *m, const char *path);
  /* Model description + statistics as a JSON object string (malloc'ed), the
   * "meta" a checkpoint stores beside the parameter block. */
  kz_status (*meta_json)(const kz_nn_model *m, char **out);
  /* Optional (NULL: the model has none). train.init_from with a model of
   * the same type but another layout (a pre-trained encoder for a
   * fine-tuning task): copies what src has of m's parameters into m, whose
   * other parameters keep their fresh initialisation, and writes a note
   * (what was copied, what is new) into note. */
  kz_status (*init_from_model)(kz_nn_model *m, const kz_nn_model *src, char *note, size_t cap);
  /* Optional (NULL for row models): models whose examples span many rows
   * (the TFT's windows over a series) evaluate and predict whole data sets,
   * given by path (they need every split's history). kz_nn_evaluate and
   * `kaizen eval` / `kaizen predict --data` call these when set. */
  kz_status (*eval_dataset)(kz_nn_model *m, const char *data_path, kz_nn_metrics *out);
  kz_status (*predict_dataset)(kz_nn_model *m, const char *data_path, const char *out_path,
                               const kz_nn_predict_opts *opts);
  /* Optional (NULL: the batch's rows). What train_batch's mean loss is a
   * mean over, for the batch and dropout_seed train_batch will get: masked
   * tokens (transformer MLM), windows (TFT). The data-parallel trainer sums
   * it over the ranks so that each rank's mean is weighted as one process
   * weights the global batch's (docs/DISTRIBUTED.md). */
  kz_status (*loss_items)(kz_nn_model *m, const kz_shard_batch *b, uint64_t dropout_seed,
                          int64_t *items);
  /* Optional (NULL: the model computes in fp32 only). train.precision:
   * bf16 1 switches the model's steps to bf16 matmuls and activations
   * (docs/MODELS.md): it allocates base.params_bf16 and fills it from
   * params; 0 frees it and returns to fp32. Call it through
   * kz_nn_set_precision, which names the model in its error. */
  kz_status (*set_precision)(kz_nn_model *m, int bf16);
  /* Optional (NULL: a row is an example whatever data set it comes from).
   * A model whose training rows stand for windows of the series it holds
   * (the TFT) must know which data set a row belongs to: train_source(m,
   * path) makes train_batch and loss_items read rows of the training split
   * of the data set at path (its series loaded on the first call for that
   * path; no window in it is an error); path NULL returns to the job's
   * training data. train.continual switches to its old data around replay
   * and Fisher micro-batches (engine/train/continual.h). */
  kz_status (*train_source)(kz_nn_model *m, const char *path);
} kz_nn_model_ops;

typedef struct kz_nn_model_info {
  const char *task;           /* "classification" or "regression" */
  int out_width;              /* predict_batch columns */
  const char *primary_metric; /* early-stopping default: "accuracy" or "rmse" */
  int primary_higher_is_better;
  double flops_per_row; /* forward + backward, for FLOP/s and % of peak */
  int64_t n_params;
} kz_nn_model_info;

/* A range of the parameter block: count floats from offset. */
typedef struct kz_param_range {
  int64_t offset, count;
} kz_param_range;

/* Enough for LoRA with bias "all" on a 24-layer encoder (six bias ranges a
 * layer, beside the adapters and the head). */
enum { KZ_NN_MAX_RANGES = 256 };

/* Every model struct starts with this header, so the trainer can reach the
 * ops and blocks of any model. */
typedef struct kz_nn_model_base {
  const kz_nn_model_ops *ops;
  kz_nn_model_info info;
  kz_device device;
  kz_tensor params; /* f32 [n_params] */
  kz_tensor grads;  /* f32 [n_params] */
  /* The schema of the training data (kz_schema_to_input_string), kept in the
   * model file so new rows can be mapped by name (data/map/input_map.h);
   * NULL for files written before models carried it. Owned; the model's
   * destroy frees it. */
  char *input_schema;
  /* The trainable parameters: n_trainable ranges, sorted, disjoint, inside
   * the block; n_trainable 0 means the whole block. The optimizer's state,
   * its step, gradient clipping (the norm over these ranges only) and the
   * optimizer state in checkpoints cover only these ranges, so the others
   * (a frozen layer, a LoRA base weight) stay bit-identical through
   * training. Set with kz_nn_set_trainable. */
  int n_trainable;
  kz_param_range trainable[KZ_NN_MAX_RANGES];
  /* train.precision bf16: a bf16 copy of params, same layout, that the
   * model's matmuls read (data NULL in fp32). The master weights stay the
   * f32 params: the optimizer updates them and rewrites this copy in the
   * same pass (kz_op_adamw's params_bf16); anything else that writes params
   * (a restored checkpoint, a rollback) calls kz_nn_refresh_bf16. Owned by
   * the model (ops->set_precision allocates it, destroy frees it). */
  kz_tensor params_bf16;
  /* The data-parallel trainer's "gradient range ready" hook
   * (engine/dist/grad_buckets.h, docs/DISTRIBUTED.md "Overlap"), set for
   * the last backward pass of an optimizer step only, NULL otherwise. A
   * model with layers calls kz_nn_grads_ready after its backward's last
   * write to a range of the gradient block (work enqueued on stream s), so
   * that range is reduced while the backward goes on; a model that never
   * calls it is reduced after its backward. Each range at most once a pass. */
  kz_status (*grad_ready)(void *ctx, kz_stream *s, int64_t offset, int64_t count);
  void *grad_ready_ctx;
} kz_nn_model_base;

static inline kz_status kz_nn_grads_ready(kz_nn_model_base *b, kz_stream *s, int64_t offset,
                                          int64_t count) {
  return b->grad_ready ? b->grad_ready(b->grad_ready_ctx, s, offset, count) : KZ_OK;
}

static inline kz_nn_model_base *kz_nn_base(kz_nn_model *m) {
  return (kz_nn_model_base *)m;
}
static inline const kz_nn_model_base *kz_nn_base_c(const kz_nn_model *m) {
  return (const kz_nn_model_base *)m;
}

/* Marks ranges trainable (everything else frozen); n 0 restores "all".
 * Ranges must be sorted, disjoint, non-empty and inside the block; adjacent
 * ones are merged. */
kz_status kz_nn_set_trainable(kz_nn_model_base *b, const kz_param_range *r, int n);
/* The trainable ranges (the whole block as one range when nothing is
 * frozen) into out[KZ_NN_MAX_RANGES]; returns their number. */
int kz_nn_trainable_ranges(const kz_nn_model_base *b, kz_param_range *out);
/* Floats in the trainable ranges. */
int64_t kz_nn_trainable_count(const kz_nn_model_base *b);
/* Whether any of count floats from offset is trainable: models pass NULL
 * ("not wanted") for the gradient of a tensor that is not, so a frozen
 * layer costs no gradient work. */
int kz_nn_is_trainable(const kz_nn_model_base *b, int64_t offset, int64_t count);

/* A host copy of the parameter block when it lives on a GPU (malloc'ed
 * into *out, the caller frees it); *out NULL on the CPU, where
 * params.data is host memory already. */
kz_status kz_nn_params_host(const kz_nn_model_base *b, float **out);

/* train.precision for m: "fp32" (always possible) or "bf16" (models with
 * ops->set_precision; others fail with KZ_ERR_UNSUPPORTED naming the model
 * type). */
kz_status kz_nn_set_precision(kz_nn_model *m, const char *precision);
/* params_bf16 = bf16(params) on stream s (nothing when params_bf16 is
 * unset): after params were written other than by the optimizer. */
kz_status kz_nn_refresh_bf16(kz_nn_model_base *b, kz_stream *s);

/* Factory by model.type: reads the `model` section (unknown keys are left for
 * kz_cfg_check_unused to report). train gives schema and statistics. */
kz_status kz_nn_model_create(const kz_cfg_node *model_cfg, kz_dataset *train, kz_device device,
                             kz_nn_model **out);
/* The common metrics of the task (models/metrics.h) from the sums, in
 * kz_metric_common's order, names without a split prefix. */
void kz_nn_metrics_fill(const kz_nn_eval *acc, int classification, kz_nn_metrics *out);
/* The i-th neural model type ("mlp", "linear", "transformer"); NULL past the last. For
 * lists of every model.type a job may name. */
const char *kz_nn_model_type_name(int i);
/* Loads a model file written by ops->save (any neural type). */
kz_status kz_nn_model_load(const char *path, kz_device device, kz_nn_model **out);
/* The meta a model file and a checkpoint store: ops->meta_json plus the
 * input schema ("input_schema"). */
kz_status kz_nn_model_meta(const kz_nn_model *m, char **out);
/* A self-contained model file: kz_nn_model_meta + the parameter block,
 * written to a .tmp name and renamed. */
kz_status kz_nn_model_save(const kz_nn_model *m, const char *path);
/* The schema of the data the model was trained on; KZ_ERR_NOT_FOUND when
 * the file predates input schemas. */
kz_status kz_nn_model_input_schema(const kz_nn_model *m, kz_schema *out);
/* Rebuilds a model from meta_json (checkpoint resume); parameters are then
 * copied into the block by the caller. */
kz_status kz_nn_model_from_meta(const char *meta_json, kz_device device, kz_nn_model **out);
/* The same, for a meta that came with a parameter block of want_params
 * floats (a model file, a checkpoint): the layout's size is compared with it
 * before anything is allocated. With out NULL only the check runs (nothing is
 * allocated): the meta is well formed and describes want_params parameters. */
kz_status kz_nn_model_from_meta_sized(const char *meta_json, kz_device device, int64_t want_params,
                                      kz_nn_model **out);

#endif
