/* `kaizen predict` and `kaizen eval` for neural models, and the model-file
 * sniffing the CLI dispatches on (job.h). kz_nn_job_train is in trainer.c. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/shard/fsutil.h"
#include "engine/train/job.h"
#include "models/nn_file.h"
#include "models/nn_model.h"

kz_status kz_job_cli_apply(kz_cfg *cfg, const kz_job_cli *cli) {
  if (!cli || !cli->device) return KZ_OK;
  char set_device[160];
  if (snprintf(set_device, sizeof set_device, "train.device=%s", cli->device) >=
      (int)sizeof set_device)
    return kz_fail(KZ_ERR_INVALID_ARG, "--device %.40s...: too long", cli->device);
  return kz_cfg_set(cfg, set_device);
}

const char *kz_model_file_kind(const char *path) {
  if (kz_fs_check_not_dir(path) != KZ_OK) return NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    kz_fail(KZ_ERR_IO, "%s: cannot open model file", path);
    return NULL;
  }
  char magic[4] = {0};
  size_t got = fread(magic, 1, 4, f);
  fclose(f);
  if (got == 4 && !memcmp(magic, KZ_NN_FILE_MAGIC, 4)) return "kzm";
  json_error_t err;
  json_t *j = json_load_file(path, 0, &err);
  int gbdt = json_is_object(j) && json_object_get(j, "kaizen_gbdt") != NULL;
  json_decref(j);
  if (gbdt) return "gbdt";
  kz_fail(KZ_ERR_FORMAT,
          "%s: not a kaizen model file (neither a KZM1 neural model nor a JSON object with "
          "\"kaizen_gbdt\")",
          path);
  return NULL;
}
