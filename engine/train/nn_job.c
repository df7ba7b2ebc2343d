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
#include "engine/train/eval.h"
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

/* Loads the model on the device named by spec (NULL: auto). */
static kz_status load_model(const char *model, const char *device, kz_nn_model **out) {
  kz_device dev;
  KZ_TRY(kz_device_parse(device ? device : "auto", &dev));
  return kz_nn_model_load(model, dev, out);
}

static kz_status open_data(const char *data, const char *split, kz_dataset **out) {
  kz_dataset_options o = {.split = split};
  kz_status st = kz_dataset_open(data, &o, out);
  if (st != KZ_OK) return st;
  if (kz_dataset_rows(*out) == 0) {
    kz_dataset_close(*out);
    *out = NULL;
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the data set has no rows%s%s", data,
                   split ? " in split " : "", split ? split : "");
  }
  return KZ_OK;
}

/* Column names of the predictions: the meta's "output_names" (class names or
 * the label), "p_" prefixed for class probabilities; pred_<k> otherwise. */
static void write_header(FILE *f, const kz_nn_model *m) {
  const kz_nn_model_base *mb = kz_nn_base_c(m);
  char *meta = NULL;
  json_t *names = NULL, *root = NULL;
  if (mb->ops->meta_json(m, &meta) == KZ_OK) {
    json_error_t err;
    root = json_loads(meta, 0, &err);
    names = json_object_get(root, "output_names");
    if (!json_is_array(names) || (int)json_array_size(names) != mb->info.out_width) names = NULL;
  }
  int cls = !strcmp(mb->info.task, "classification");
  fprintf(f, "row");
  for (int k = 0; k < mb->info.out_width; ++k) {
    const char *n = names ? json_string_value(json_array_get(names, (size_t)k)) : NULL;
    if (n && cls)
      fprintf(f, ",p_%s", n);
    else if (n)
      fprintf(f, ",%s", n);
    else
      fprintf(f, ",pred_%d", k);
  }
  fputc('\n', f);
  json_decref(root);
  free(meta);
}

static kz_status predict_all(kz_nn_model *m, kz_dataset *ds, FILE *f) {
  const kz_nn_model_base *mb = kz_nn_base(m);
  const int64_t rows = kz_dataset_rows(ds), chunk = 4096, w = mb->info.out_width;
  float *out = malloc((size_t)(chunk * w) * sizeof *out);
  kz_shard_batch b;
  memset(&b, 0, sizeof b);
  kz_status st = out ? kz_shard_batch_alloc(kz_dataset_schema(ds), chunk, &b)
                     : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  write_header(f, m);
  for (int64_t r0 = 0; st == KZ_OK && r0 < rows; r0 += chunk) {
    int64_t n = rows - r0 < chunk ? rows - r0 : chunk;
    kz_shard_batch_clear(&b);
    st = kz_dataset_read_range(ds, r0, n, &b, 0);
    b.rows = n;
    if (st == KZ_OK) st = mb->ops->predict_batch(m, &b, out);
    for (int64_t r = 0; st == KZ_OK && r < n; ++r) {
      fprintf(f, "%lld", (long long)(r0 + r));
      for (int64_t k = 0; k < w; ++k) fprintf(f, ",%.9g", out[r * w + k]);
      fputc('\n', f);
    }
  }
  kz_shard_batch_free(&b);
  free(out);
  return st;
}

kz_status kz_nn_job_predict(const char *model, const char *data, const char *split, const char *out,
                            const char *device) {
  kz_nn_model *m = NULL;
  kz_dataset *ds = NULL;
  KZ_TRY(load_model(model, device, &m));
  kz_status st = open_data(data, split, &ds);
  char *tmp = malloc(strlen(out) + 5);
  FILE *f = NULL;
  if (st == KZ_OK && !tmp) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  if (st == KZ_OK) {
    sprintf(tmp, "%s.tmp", out);
    f = fopen(tmp, "w");
    if (!f) st = kz_fail(KZ_ERR_IO, "%s: cannot create", tmp);
  }
  if (st == KZ_OK) st = predict_all(m, ds, f);
  if (f && fclose(f) != 0 && st == KZ_OK) st = kz_fail(KZ_ERR_IO, "%s: write failed", tmp);
  if (st == KZ_OK)
    st = kz_fs_commit(tmp, out);
  else if (f)
    remove(tmp); /* bad input leaves no partial output */
  free(tmp);
  if (ds) kz_dataset_close(ds);
  kz_nn_base(m)->ops->destroy(m);
  return st;
}

kz_status kz_nn_job_eval(const char *model, const char *data, const char *split, const char *device,
                         int json, FILE *out) {
  kz_nn_model *m = NULL;
  kz_dataset *ds = NULL;
  KZ_TRY(load_model(model, device, &m));
  kz_nn_metrics mt;
  kz_status st = open_data(data, split, &ds);
  if (st == KZ_OK) st = kz_nn_evaluate(m, ds, 4096, &mt);
  if (st == KZ_OK) {
    if (json) {
      fprintf(out, "{\"model\":\"%s\",\"rows\":%lld", kz_nn_base(m)->ops->type,
              (long long)kz_dataset_rows(ds));
      for (int i = 0; i < mt.n; ++i)
        if (isfinite(mt.values[i]))
          fprintf(out, ",\"%s\":%.9g", mt.names[i], mt.values[i]);
        else
          fprintf(out, ",\"%s\":null", mt.names[i]);
      fprintf(out, "}\n");
    } else {
      for (int i = 0; i < mt.n; ++i) fprintf(out, "%s %.9g\n", mt.names[i], mt.values[i]);
    }
  }
  if (ds) kz_dataset_close(ds);
  kz_nn_base(m)->ops->destroy(m);
  return st;
}
