/* What the tabular neural models (models/mlp, models/linear) share about a
 * batch: where its fields are and what they hold, the numeric statistics on
 * the model's device, the host staging that feeds a GPU, the activation
 * arena, the targets and the loss (cross_entropy or mse), and the metrics and
 * predictions read back from the logits. Each model embeds one kz_nn_tab and
 * keeps only its own layers; the code here runs the same ops and the same
 * host steps for both, so a batch is checked, scored and predicted one way.
 *
 * On the CPU the model's tensors are host memory and nothing is copied; on a
 * GPU what the host prepares goes up through the staging buffer and what it
 * reads comes back through it. */
#ifndef KZ_MODELS_NN_TABULAR_H
#define KZ_MODELS_NN_TABULAR_H

#include <stdint.h>

#include "kernels/core/arena.h"
#include "kernels/core/backend.h"
#include "models/nn_model.h"

typedef struct kz_nn_tab {
  const char *who;              /* "mlp", "linear model": the prefix of messages */
  int f_num, f_cat, f_label;    /* field indices in the batch; -1 when absent */
  int64_t n_num, n_cat;         /* columns of the numeric and categorical fields */
  int32_t *cat_card;            /* n_cat: categories of each column (owned) */
  int classification;           /* class codes (i32 label) or values (f32 label) */
  int64_t n_out;                /* classes, or 1 */
  double label_mean, label_std; /* regression target scaling; 0 and 1 for classes */

  /* set by kz_nn_tab_open */
  kz_device device;
  kz_stream *stream;
  kz_tensor d_mean, d_std, d_miss; /* the standardize op's statistics */
  void *stage;                     /* host staging on a GPU */
  size_t stage_cap;
  kz_arena *arena;
  int64_t arena_rows; /* batch rows the arena was sized for */
} kz_nn_tab;

/* The per-batch tensors of the loss, carved from the arena. */
typedef struct kz_nn_tab_batch {
  int64_t rows, valid;              /* valid: rows with a usable label */
  kz_tensor ids;                    /* i32 [n_cat, rows]: category ids, column after column */
  kz_tensor targets;                /* i32 [rows]: class or -1 (ignored) */
  kz_tensor ystd;                   /* f32 [rows]: standardised label or NaN (ignored) */
  kz_tensor losses, dloss, numeric; /* f32 [rows]; numeric: [rows, n_num] upload space */
} kz_nn_tab_batch;

/* The stream on device and the statistics where kz_op_standardize reads
 * them: mean and std (n_num doubles) and each column's missing-indicator
 * position after the n_num standardised columns, or -1 (miss). */
kz_status kz_nn_tab_open(kz_nn_tab *t, kz_device device, const double *mean, const double *std,
                         const int *miss);
/* Frees what open made and cat_card. */
void kz_nn_tab_free(kz_nn_tab *t);

/* The batch has the fields of the training schema (the label only with
 * need_label); the message names the field. */
kz_status kz_nn_tab_check_batch(const kz_nn_tab *t, const kz_shard_batch *b, int need_label);

/* The model's activations for a batch of rows: carve (called with the model
 * and its activations struct) takes every tensor it needs from the arena,
 * which is sized once by a planning pass for the largest batch seen and reset
 * for each batch; the loss tensors in tb come from the same arena. */
typedef kz_status (*kz_nn_tab_carve)(void *model, kz_arena *a, int64_t rows, void *acts);
kz_status kz_nn_tab_acts(kz_nn_tab *t, int64_t rows, kz_nn_tab_carve carve, void *model, void *acts,
                         kz_nn_tab_batch *tb);

/* The numeric field of b standardised into columns 0..n_num-1 of x and the
 * missing indicators after them (kz_op_standardize). */
kz_status kz_nn_tab_numeric(kz_nn_tab *t, const kz_shard_batch *b, kz_nn_tab_batch *tb,
                            kz_tensor *x);
/* tb->ids from the categorical field: a code outside the dictionary
 * (missing, unseen) becomes the column's last id, cat_card[j]. */
kz_status kz_nn_tab_ids(kz_nn_tab *t, const kz_shard_batch *b, kz_nn_tab_batch *tb);
/* Column j of tb->ids: i32 [rows]. */
kz_tensor kz_nn_tab_ids_col(const kz_nn_tab *t, const kz_nn_tab_batch *tb, int64_t j);

/* Targets from the label (tb->targets or tb->ystd) and tb->valid. */
kz_status kz_nn_tab_targets(kz_nn_tab *t, const kz_shard_batch *b, kz_nn_tab_batch *tb);
/* The mean loss over the valid rows of logits [rows, n_out]: per-row losses
 * (0 for ignored rows) from cross_entropy or mse on the standardised label,
 * summed on the host in row order, in double. */
kz_status kz_nn_tab_loss(kz_nn_tab *t, kz_nn_tab_batch *tb, const kz_tensor *logits, double *loss);
/* dlogits = the gradient of weight * (mean loss) (written, not added). */
kz_status kz_nn_tab_loss_bwd(kz_nn_tab *t, kz_nn_tab_batch *tb, const kz_tensor *logits,
                             double weight, kz_tensor *dlogits);

/* Reads the logits [rows, n_out] back and adds the labelled rows to acc
 * (logits, or values in label units). */
kz_status kz_nn_tab_eval(kz_nn_tab *t, const kz_shard_batch *b, const kz_tensor *logits,
                         kz_nn_eval *acc);
/* Reads the logits back into out: class probabilities (softmax in double)
 * or values in label units. */
kz_status kz_nn_tab_predict(kz_nn_tab *t, const kz_shard_batch *b, const kz_tensor *logits,
                            float *out);

/* Statistics over the training split in one streaming pass in double
 * (Welford): each numeric column's mean and population standard deviation
 * over its finite values (1 for a constant column), its count of missing
 * values (miss_count, may be NULL), and a regression label's mean and
 * standard deviation into t (0 and 1 for classes). Fails when the split
 * has no rows, or a regression label is missing everywhere. */
kz_status kz_nn_tab_stats(kz_nn_tab *t, kz_dataset *train, double *mean, double *std,
                          int64_t *miss_count);

#endif
