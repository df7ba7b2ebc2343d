/* Reading the trainer's config sections (trainer.h). Every key goes through
 * a typed getter, so the effective config records defaults and unknown keys
 * are caught by kz_cfg_check_unused. */
#include <math.h>
#include <string.h>

#include "engine/train/trainer.h"
#include "kernels/core/error.h"

static const char *const optimizers[] = {"adamw", "sgd", NULL};
static const char *const schedules[] = {"constant", "linear", "cosine", NULL};
static const char *const precisions[] = {"fp32", "bf16", NULL};

static const char *empty_to_null(const char *s) {
  return s && *s ? s : NULL;
}

static kz_status read_train(kz_cfg *cfg, kz_train_config *c) {
  const kz_cfg_node *t = kz_cfg_section(cfg, "train");
  int k;
  KZ_TRY(kz_cfg_get_enum(t, "optimizer", optimizers, 0, &k));
  c->optim.kind = (kz_optim_kind)k;
  KZ_TRY(kz_cfg_get_double(t, "lr", 1e-3, 0.0, 1e3, &c->lr));
  char where[512];
  if (!(c->lr > 0.0)) {
    kz_cfg_key_where(t, "lr", where, sizeof where);
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: train.lr: must be > 0, got %g", where, c->lr);
  }
  KZ_TRY(kz_cfg_get_double(t, "weight_decay", 0.0, 0.0, 1e3, &c->optim.weight_decay));
  KZ_TRY(kz_cfg_get_double(t, "beta1", 0.9, 0.0, 0.999999, &c->optim.beta1));
  KZ_TRY(kz_cfg_get_double(t, "beta2", 0.999, 0.0, 0.99999999, &c->optim.beta2));
  KZ_TRY(kz_cfg_get_double(t, "eps", 1e-8, 1e-30, 1.0, &c->optim.eps));
  KZ_TRY(kz_cfg_get_double(t, "momentum", 0.9, 0.0, 0.999999, &c->optim.momentum));
  KZ_TRY(kz_cfg_get_enum(t, "schedule", schedules, 0, &k));
  c->schedule = (kz_schedule_kind)k;
  KZ_TRY(kz_cfg_get_int(t, "warmup_steps", 0, 0, INT64_MAX / 4, &c->warmup_steps));
  KZ_TRY(kz_cfg_get_double(t, "min_lr_ratio", 0.0, 0.0, 1.0, &c->min_lr_ratio));
  KZ_TRY(kz_cfg_get_int(t, "rewarm_steps", 0, 0, INT64_MAX / 4, &c->rewarm_steps));
  KZ_TRY(kz_cfg_get_string(t, "init_from", "", &c->init_from));
  c->init_from = empty_to_null(c->init_from);
  KZ_TRY(kz_cfg_get_int(t, "batch_size", 256, 1, 1 << 24, &c->batch_size));
  KZ_TRY(kz_cfg_get_int(t, "grad_accum", 1, 1, 1 << 16, &c->grad_accum));
  KZ_TRY(kz_cfg_get_int(t, "epochs", 10, 1, 1 << 30, &c->epochs));
  KZ_TRY(kz_cfg_get_int(t, "steps", 0, 0, INT64_MAX / 4, &c->steps));
  KZ_TRY(kz_cfg_get_double(t, "clip_norm", 0.0, 0.0, 1e30, &c->clip_norm));
  KZ_TRY(kz_cfg_get_int(t, "eval_every", 0, 0, INT64_MAX / 4, &c->eval_every));
  KZ_TRY(kz_cfg_get_int(t, "log_every", 50, 1, INT64_MAX / 4, &c->log_every));
  const kz_cfg_node *es = kz_cfg_map(t, "early_stopping");
  KZ_TRY(kz_cfg_get_string(es, "metric", "auto", &c->es_metric));
  KZ_TRY(kz_cfg_get_int(es, "patience", 0, 0, 1 << 30, &c->es_patience));
  KZ_TRY(kz_cfg_get_double(es, "min_delta", 0.0, 0.0, 1e30, &c->es_min_delta));
  const kz_cfg_node *ng = kz_cfg_map(t, "nan_guard");
  KZ_TRY(kz_cfg_get_int(ng, "max_consecutive", 3, 1, 1 << 20, &c->nan_max_consecutive));
  KZ_TRY(kz_cfg_get_double(ng, "lr_factor", 0.5, 1e-6, 1.0, &c->nan_lr_factor));
  KZ_TRY(kz_cfg_get_int(t, "inject_nan_at_step", -1, -1, INT64_MAX / 4, &c->inject_nan_at_step));
  KZ_TRY(kz_cfg_get_int(t, "inject_nan_steps", 1, 1, 1 << 20, &c->inject_nan_steps));
  int64_t seed;
  KZ_TRY(kz_cfg_get_int(t, "seed", 0, 0, INT64_MAX, &seed));
  c->seed = (uint64_t)seed;
  /* bf16 needs a model that can (kz_nn_set_precision, checked once the
   * model exists) */
  KZ_TRY(kz_cfg_get_enum(t, "precision", precisions, 0, &k));
  c->precision = precisions[k];
  KZ_TRY(kz_cfg_get_string(t, "device", "auto", &c->device));
  KZ_TRY(kz_cfg_get_int(t, "threads", 0, 0, 4096, &c->threads));
  KZ_TRY(kz_cfg_get_bool(t, "zero1", 0, &c->zero1));
  KZ_TRY(kz_continual_config_read(t, c->init_from != NULL, &c->continual));
  return KZ_OK;
}

kz_status kz_train_config_read(kz_cfg *cfg, kz_train_config *c) {
  memset(c, 0, sizeof *c);
  const kz_cfg_node *model = kz_cfg_section(cfg, "model");
  KZ_TRY(kz_cfg_get_string(model, "type", NULL, &c->model_type));
  const kz_cfg_node *data = kz_cfg_section(cfg, "data");
  KZ_TRY(kz_cfg_get_string(data, "train", NULL, &c->data_train));
  KZ_TRY(kz_cfg_get_string(data, "valid", "", &c->data_valid));
  c->data_valid = empty_to_null(c->data_valid);
  KZ_TRY(read_train(cfg, c));
  const kz_cfg_node *o = kz_cfg_section(cfg, "output");
  KZ_TRY(kz_cfg_get_string(o, "runs_dir", "runs", &c->runs_dir));
  KZ_TRY(kz_cfg_get_string(o, "experiment", "default", &c->experiment));
  KZ_TRY(kz_cfg_get_string(o, "run_id", "", &c->run_id));
  c->run_id = empty_to_null(c->run_id);
  KZ_TRY(kz_cfg_get_int(o, "keep_checkpoints", 3, 1, 1 << 20, &c->keep_checkpoints));
  KZ_TRY(kz_cfg_get_int(o, "checkpoint_every", 0, 0, INT64_MAX / 4, &c->checkpoint_every));
  return KZ_OK;
}
