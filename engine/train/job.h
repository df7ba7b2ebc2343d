/* What `kaizen train` hands to a model family: the neural trainer
 * (engine/train/trainer.c) and the GBDT job (engine/train/gbdt_job.c);
 * tools/kaizen dispatches on model.type. Prediction and evaluation of every
 * family go through engine/predict (predict_job.h). */
#ifndef KZ_ENGINE_TRAIN_JOB_H
#define KZ_ENGINE_TRAIN_JOB_H

#include <stdio.h>

#include "common/config/cfg.h"
#include "kaizen.h"

typedef struct kz_job_cli {
  int resume;         /* --resume: continue the newest valid checkpoint of the run */
  const char *device; /* --device, overrides train.device (kz_job_cli_apply); NULL: the config's */
  int quiet;          /* --quiet: no progress lines */
  int allow_changes;  /* --allow-changes: resume even though config keys differ from the
                         run's config.yaml (engine/track/run_config.h); recorded in the run */
} kz_job_cli;

/* Model files: "kzm" (neural, binary: the KZM1 magic) or "gbdt" (a JSON
 * document: its loader then parses and checks it, reporting the JSON line,
 * column and byte of a malformed one); NULL if neither, or not a regular
 * file (the error says why). */
const char *kz_model_file_kind(const char *path);

/* cfg has been loaded and --set applied; the callee reads every section it
 * needs, calls kz_cfg_check_unused BEFORE creating the run directory, trains,
 * evaluates on the validation data and prints one final line
 *   "<model.type> <metric>=<value> ... run <dir>"
 * on stdout. */
kz_status kz_nn_job_train(kz_cfg *cfg, const kz_job_cli *cli);
/* Writes the CLI's overrides (--device) into cfg as train.device, so the job
 * reads one value and the run's config.yaml records what ran. Both train
 * entry points call it first. */
kz_status kz_job_cli_apply(kz_cfg *cfg, const kz_job_cli *cli);
kz_status kz_gbdt_job_train(kz_cfg *cfg, const kz_job_cli *cli);

#endif
