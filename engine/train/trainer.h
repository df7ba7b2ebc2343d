/* The neural trainer: reads the `data`, `train` and `output` sections of a
 * job config (docs/CONFIG.md), then drives any kz_nn_model through
 * optimizer steps with gradient accumulation, clipping, schedules,
 * evaluation, early stopping, checkpoints (resume bit for bit), the NaN
 * guard and run tracking. kz_nn_job_train (trainer.c) is the entry point. */
#ifndef KZ_ENGINE_TRAIN_TRAINER_H
#define KZ_ENGINE_TRAIN_TRAINER_H

#include <stdint.h>

#include "common/config/cfg.h"
#include "engine/train/continual.h"
#include "engine/train/optim.h"
#include "engine/train/schedule.h"
#include "kaizen.h"

typedef struct kz_train_config {
  const char *model_type;
  const char *data_train, *data_valid; /* data_valid NULL: the train set's valid split */
  kz_optim_config optim;
  double lr;
  kz_schedule_kind schedule;
  int64_t warmup_steps, rewarm_steps;
  double min_lr_ratio;
  const char *init_from; /* NULL: none */
  int64_t batch_size, grad_accum, epochs, steps;
  double clip_norm;
  int64_t eval_every, log_every;
  const char *es_metric; /* "auto" or a metric name */
  int64_t es_patience;
  double es_min_delta;
  int64_t nan_max_consecutive;
  double nan_lr_factor;
  int64_t inject_nan_at_step, inject_nan_steps;
  uint64_t seed;
  const char *device; /* the config's; --device overrides */
  int64_t threads;
  int zero1; /* several ranks: optimizer state sharded (ZeRO stage 1, docs/DISTRIBUTED.md) */
  const char *precision;                      /* "fp32" or "bf16" (train.precision) */
  const char *runs_dir, *experiment, *run_id; /* run_id NULL: generated */
  int64_t keep_checkpoints, checkpoint_every;
  kz_continual_config continual; /* train.continual; old_data NULL: off */
} kz_train_config;

/* Reads and range-checks data/train/output (not model). Errors name
 * file:line and the key. */
kz_status kz_train_config_read(kz_cfg *cfg, kz_train_config *c);

#endif
