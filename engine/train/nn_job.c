/* `kaizen predict` and `kaizen eval` for neural models, and the model-file
 * sniffing the CLI dispatches on (job.h). kz_nn_job_train is in trainer.c. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/fsutil.h"
#include "engine/train/job.h"
#include "kernels/core/error.h"
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
  if (kz_fs_check_regular(path, "model file") != KZ_OK) return NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    kz_fail(KZ_ERR_IO, "%s: cannot open model file", path);
    return NULL;
  }
  /* The magic, or the first non-blank byte of a JSON document: a GBDT model
   * is a JSON object, and leaving the parse to its loader makes a truncated
   * or malformed file report the JSON line, column and byte at fault rather
   * than "not a model file" (and parses a large model once, not twice). */
  unsigned char head[4] = {0};
  size_t got = fread(head, 1, 4, f);
  int c = got > 0 ? head[0] : EOF;
  size_t i = 0;
  while (c == ' ' || c == '\t' || c == '\n' || c == '\r') c = ++i < got ? head[i] : getc(f);
  fclose(f);
  if (got == 4 && !memcmp(head, KZ_NN_FILE_MAGIC, 4)) return "kzm";
  if (c == '{') return "gbdt";
  kz_fail(KZ_ERR_FORMAT,
          "%s: not a kaizen model file (neither a KZM1 neural model nor a JSON object with "
          "\"kaizen_gbdt\")",
          path);
  return NULL;
}
