/* Continual training (train.continual, docs/CONFIG.md): a job that starts
 * from an earlier model (train.init_from) and goes on with new data while
 * keeping what the old data taught it.
 *
 *  - replay: a fraction of the micro-batches is drawn from the old data's
 *    train split instead of the new data (the draw comes from the checkpointed
 *    generator and the replay position is checkpointed, so resume stays exact);
 *  - EWC: the gradient of (lambda/2) * sum F_i (theta_i - theta*_i)^2 is added
 *    to every step, theta* being the starting weights and F the diagonal of the
 *    empirical Fisher, the mean squared gradient over fisher_batches
 *    micro-batches of fisher_batch_size old rows at theta* (size 1, the
 *    default, is the per-example Fisher of the EWC paper; for a window
 *    model, micro-batches without a window are not examples and are
 *    passed over);
 *  - forgetting: the early-stopping metric on the old data's held-out split
 *    and on the new one, before the first step and after the last, goes into
 *    the run's summary (old_before/..., old_after/..., new_before/...,
 *    new_after/...), so `kaizen runs compare` shows it. */
#ifndef KZ_ENGINE_TRAIN_CONTINUAL_H
#define KZ_ENGINE_TRAIN_CONTINUAL_H

#include <stdint.h>

#include "common/config/cfg.h"
#include "data/shard/iter.h"
#include "data/shard/reader.h"
#include "kaizen.h"
#include "kernels/core/backend.h"
#include "kernels/core/tensor.h"
#include "models/nn_model.h"

typedef struct kz_continual_config {
  const char *old_data;      /* NULL: continual training is off */
  double replay;             /* share of micro-batches from the old data, [0, 0.95] */
  double ewc_lambda;         /* 0: no EWC */
  int64_t fisher_batches;    /* micro-batches averaged into F */
  int64_t fisher_batch_size; /* rows per Fisher micro-batch; 1: per-example gradients */
} kz_continual_config;

/* Reads train.continual (absent: off). Needs train.init_from when present. */
kz_status kz_continual_config_read(const kz_cfg_node *train, int has_init_from,
                                   kz_continual_config *c);

typedef struct kz_continual {
  kz_continual_config c;
  kz_dataset *old_train; /* replay and Fisher source */
  kz_dataset *old_valid; /* the held-out old data for the forgetting metric */
  int64_t old_bpe;       /* micro-batches per epoch of old_train */
  int64_t batch_size;
  uint64_t seed;
  int rank, world;          /* data-parallel: replay micro-batches dealt as the new data's */
  kz_shard_iter *it;        /* replay iterator; NULL between epochs */
  int it_done;              /* it has handed out its last batch */
  kz_tensor anchor, fisher; /* on the model's device (EWC only) */
  double fisher_mean;
} kz_continual;

/* Opens the old data set (its train split, and its valid split or, without
 * one, the whole set for the forgetting metric), checked against the new
 * training set's schema. */
kz_status kz_continual_open(kz_continual *k, const kz_continual_config *c, const kz_schema *train,
                            int64_t batch_size, uint64_t seed);
void kz_continual_close(kz_continual *k);
/* Several ranks (docs/DISTRIBUTED.md): replay micro-batch k of every rank
 * together is micro-batch k of one process with batch_size x world rows
 * (stripes of batch_size rows, as the new data's), and the old data's epoch
 * is counted in such global micro-batches. A rank whose stripe of the
 * epoch's last one is empty gets NULL from kz_continual_next. */
void kz_continual_set_world(kz_continual *k, int rank, int world);

/* For a model whose training rows are windows of the series it holds
 * (kz_nn_model_ops.train_source, the TFT): loads the old data's series into
 * it when replay or EWC will read them, so a bad old data set fails before
 * the run begins. A no-op for other models. */
kz_status kz_continual_attach(kz_continual *k, kz_nn_model *m);
/* Whether m can take replay and EWC: a model trained on rows, or one with
 * train_source. */
int kz_continual_supported(const kz_nn_model *m);
/* Points m's training rows at the old data (old 1) or back at the job's
 * (0); a no-op for models trained on rows. */
kz_status kz_continual_use_old(kz_continual *k, kz_nn_model *m, int old);

/* EWC setup at the starting weights: anchor = params, F from the old data.
 * Uses the model's gradient block (left zeroed) and n floats of host scratch. */
kz_status kz_continual_fisher(kz_continual *k, kz_nn_model *m, kz_stream *s, float *host);

/* Drops the replay iterator: the next kz_continual_next reopens it at the
 * position it is given (after a resume or a NaN rollback). */
void kz_continual_rewind(kz_continual *k);

/* Whether the next micro-batch comes from the old data: one draw from rng. */
int kz_continual_pick_replay(const kz_continual *k, uint64_t *rng);
/* The next replay micro-batch; *epoch and *batch_in_epoch are the replay
 * position (checkpointed), advanced here; the iterator is reopened (and
 * fast-forwarded after a resume) as needed. */
kz_status kz_continual_next(kz_continual *k, int64_t *epoch, int64_t *batch_in_epoch,
                            const kz_shard_batch **b);

/* grads += (lambda * scale) * F * (params - anchor); a no-op without EWC. */
kz_status kz_continual_apply_ewc(kz_continual *k, kz_stream *s, const kz_tensor *params,
                                 kz_tensor *grads, double scale);

#endif
