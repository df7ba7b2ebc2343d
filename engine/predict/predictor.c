/* kz_predictor: a loaded model of any family plus the map from named columns
 * to its input layout (include/kaizen.h, predictor.h). */
#define _POSIX_C_SOURCE 200809L
#include "engine/predict/predictor.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/map/input_map.h"
#include "data/shard/reader.h"
#include "engine/train/job.h"
#include "kernels/core/error.h"
#include "models/adapters.h"
#include "models/gbdt/booster_gpu.h"
#include "models/gbdt/gbdt_json.h"

enum { CHUNK = 1024 };
/* Neural models always run on blocks of this many rows (the tail padded):
 * BLAS picks its kernels, and so its order of summation, by the matrix
 * sizes, so a row's prediction would otherwise depend on how many rows
 * came with it (a file's last chunk, a small request). */
enum { NN_BLOCK = 4096 };

struct kz_predictor {
  char *path;
  kz_nn_model *nn;
  kz_gbdt_model *gbdt;
  kz_device gbdt_device;
  int has_schema;
  kz_schema schema;
  int n_out;
  char **out_names;
  /* GBDT: where each feature sits in the layout */
  int *feat_field, *feat_col;
  float *num;
  int32_t *cat;
  double *margin;
  float *nn_out;
  int64_t cap; /* rows the scratch buffers hold */
  /* the public row API */
  kz_input_map *map;
  int n_columns;
  kz_shard_batch batch;
  int batch_ready;
  kz_shard_batch block; /* neural: NN_BLOCK rows, padded */
  int block_ready;
};

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static char *prefixed(const char *prefix, const char *s) {
  size_t n = strlen(prefix) + strlen(s) + 1;
  char *d = malloc(n);
  if (d) snprintf(d, n, "%s%s", prefix, s);
  return d;
}

void kz_predictor_close(kz_predictor *p) {
  if (!p) return;
  if (p->nn) kz_nn_base(p->nn)->ops->destroy(p->nn);
  kz_gbdt_model_free(p->gbdt);
  kz_schema_free(&p->schema);
  for (int k = 0; p->out_names && k < p->n_out; ++k) free(p->out_names[k]);
  free(p->out_names);
  free(p->feat_field), free(p->feat_col);
  free(p->num), free(p->cat), free(p->margin), free(p->nn_out);
  kz_input_map_free(p->map);
  kz_shard_batch_free(&p->batch);
  kz_shard_batch_free(&p->block);
  free(p->path);
  free(p);
}

/* Neural: the meta's output_names, "p_" prefixed for class probabilities. */
static kz_status nn_outputs(kz_predictor *p) {
  const kz_nn_model_base *mb = kz_nn_base_c(p->nn);
  p->n_out = mb->info.out_width;
  p->out_names = calloc((size_t)p->n_out, sizeof *p->out_names);
  if (!p->out_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  char *meta = NULL;
  json_t *root = NULL, *names = NULL;
  if (mb->ops->meta_json(p->nn, &meta) == KZ_OK) {
    json_error_t err;
    root = json_loads(meta, 0, &err);
    names = json_object_get(root, "output_names");
    if (!json_is_array(names) || (int)json_array_size(names) != p->n_out) names = NULL;
  }
  int cls = !strcmp(mb->info.task, "classification");
  kz_status st = KZ_OK;
  for (int k = 0; st == KZ_OK && k < p->n_out; ++k) {
    const char *n = names ? json_string_value(json_array_get(names, (size_t)k)) : NULL;
    char fallback[32];
    snprintf(fallback, sizeof fallback, "pred_%d", k);
    p->out_names[k] = n ? prefixed(cls ? "p_" : "", n) : dup_str(fallback);
    if (!p->out_names[k]) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  json_decref(root);
  free(meta);
  return st;
}

/* GBDT: one probability per class for softprob (p_<class>), the positive
 * class's for logistic, else the label's name. */
static kz_status gbdt_outputs(kz_predictor *p) {
  const kz_gbdt_model *m = p->gbdt;
  p->n_out = m->num_group;
  p->out_names = calloc((size_t)p->n_out, sizeof *p->out_names);
  if (!p->out_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int k = 0; k < p->n_out; ++k) {
    if (m->objective == KZ_GBDT_MULTI_SOFTPROB)
      p->out_names[k] = prefixed("p_", m->class_names ? m->class_names[k] : "?");
    else if (m->objective == KZ_GBDT_BINARY_LOGISTIC)
      p->out_names[k] = prefixed("p_", m->class_names ? m->class_names[1] : "1");
    else
      p->out_names[k] = dup_str(m->label_name ? m->label_name : "prediction");
    if (!p->out_names[k]) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  return KZ_OK;
}

/* GBDT features located in the layout by name; a legacy data set's schema
 * must also agree on dictionary sizes. */
static kz_status gbdt_locate(kz_predictor *p) {
  const kz_gbdt_model *m = p->gbdt;
  int nf = m->n_numeric + m->n_categorical;
  free(p->feat_field), free(p->feat_col);
  p->feat_field = calloc((size_t)(nf ? nf : 1), sizeof(int));
  p->feat_col = calloc((size_t)(nf ? nf : 1), sizeof(int));
  if (!p->feat_field || !p->feat_col) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int f = 0; f < nf; ++f) {
    const char *name = m->feature_names[f];
    int numeric = f < m->n_numeric, fi, ci;
    if (!kz_schema_find_column(&p->schema, name, &fi, &ci) ||
        (p->schema.fields[fi].type == KZ_FIELD_F32) != numeric ||
        (p->schema.fields[fi].type != KZ_FIELD_F32 && p->schema.fields[fi].type != KZ_FIELD_I32))
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: no %s column '%s' (a feature of the model)", p->path,
                     numeric ? "numeric" : "categorical", name);
    int32_t have = p->schema.fields[fi].columns[ci].n_categories;
    if (!numeric && have != m->n_categories[f - m->n_numeric])
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "%s: column '%s' has %d categories, the model was trained with %d", p->path,
                     name, have, m->n_categories[f - m->n_numeric]);
    p->feat_field[f] = fi, p->feat_col[f] = ci;
  }
  return KZ_OK;
}

static kz_status open_gbdt(kz_predictor *p, const char *device) {
  KZ_TRY(kz_gbdt_model_load_json(p->path, &p->gbdt));
  const char *spec = device ? device : "auto";
  p->gbdt_device = (kz_device){KZ_DEVICE_CPU, 0};
  /* auto stays on the CPU: the GPU predictor is opt-in (gbdt_job.c says why) */
  if (strcmp(spec, "auto") && strcmp(spec, "cpu")) {
    kz_status st = kz_device_parse(spec, &p->gbdt_device);
    if (st == KZ_ERR_INVALID_ARG) return kz_fail_context(st, "--device");
    kz_gbdt_gpu_options o = {p->gbdt_device, NULL};
    if (st == KZ_OK) st = kz_gbdt_gpu_check_device(&o);
    if (st != KZ_OK) {
      char why[256];
      snprintf(why, sizeof why, "%s", kz_last_error());
      return kz_fail(KZ_ERR_UNSUPPORTED, "--device: %s; GBDT can run on the CPU (cpu or auto)",
                     why);
    }
  }
  KZ_TRY(gbdt_outputs(p));
  if (!p->gbdt->input_schema) return KZ_OK;
  char where[4200];
  snprintf(where, sizeof where, "%s: input_schema", p->path);
  KZ_TRY(kz_schema_from_string(p->gbdt->input_schema, where, &p->schema));
  p->has_schema = 1;
  return gbdt_locate(p);
}

static kz_status open_nn(kz_predictor *p, const char *device) {
  kz_device dev;
  KZ_TRY(kz_device_parse(device ? device : "auto", &dev));
  KZ_TRY(kz_nn_model_load(p->path, dev, &p->nn));
  /* a LoRA model predicts with its adapters merged: no extra latency */
  if (kz_adapters_has(p->nn)) KZ_TRY(kz_adapters_merge(p->nn, 1));
  KZ_TRY(nn_outputs(p));
  if (!kz_nn_base(p->nn)->input_schema) return KZ_OK;
  KZ_TRY(kz_nn_model_input_schema(p->nn, &p->schema));
  p->has_schema = 1;
  return KZ_OK;
}

kz_status kz_predictor_open(const char *model_path, const char *device, kz_predictor **out) {
  if (!model_path || !out) return kz_fail(KZ_ERR_INVALID_ARG, "kz_predictor_open: NULL argument");
  *out = NULL;
  const char *kind = kz_model_file_kind(model_path);
  if (!kind) return KZ_ERR_FORMAT;
  kz_predictor *p = calloc(1, sizeof *p);
  if (!p || !(p->path = dup_str(model_path))) {
    free(p);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  kz_status st = !strcmp(kind, "gbdt") ? open_gbdt(p, device) : open_nn(p, device);
  if (st != KZ_OK) {
    kz_predictor_close(p);
    return st;
  }
  *out = p;
  return KZ_OK;
}

const kz_schema *kz_predictor_schema(const kz_predictor *p) {
  return p->has_schema ? &p->schema : NULL;
}

kz_status kz_predictor_adopt_schema(kz_predictor *p, const kz_schema *s) {
  if (p->has_schema)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the model has its own input schema", p->path);
  KZ_TRY(kz_schema_copy(s, &p->schema));
  p->has_schema = 1;
  return p->gbdt ? gbdt_locate(p) : KZ_OK;
}

int kz_predictor_output_count(const kz_predictor *p) {
  return p->n_out;
}
const char *kz_predictor_output_name(const kz_predictor *p, int k) {
  return k >= 0 && k < p->n_out ? p->out_names[k] : NULL;
}
kz_nn_model *kz_predictor_nn(kz_predictor *p) {
  return p->nn;
}
kz_status kz_predictor_use_adapter(kz_predictor *p, const char *dir, char *note, size_t cap) {
  if (!p->nn)
    return kz_fail(KZ_ERR_INVALID_ARG, "--adapter: %s is not a transformer or TFT model", p->path);
  kz_status st = kz_adapters_apply(&p->nn, dir, note, cap);
  return st == KZ_OK ? KZ_OK : kz_fail_context(st, "--adapter %s onto %s", dir, p->path);
}
const kz_gbdt_model *kz_predictor_gbdt(const kz_predictor *p) {
  return p->gbdt;
}
const char *kz_predictor_path(const kz_predictor *p) {
  return p->path;
}
const char *kz_predictor_type(const kz_predictor *p) {
  return p->nn ? kz_nn_base_c(p->nn)->ops->type : "gbdt";
}

static kz_status reserve(kz_predictor *p, int64_t rows) {
  if (rows <= p->cap) return KZ_OK;
  int64_t cap = rows < NN_BLOCK ? NN_BLOCK : rows;
  size_t n = (size_t)cap;
  free(p->num), free(p->cat), free(p->margin), free(p->nn_out);
  p->cap = 0;
  p->num = p->gbdt ? malloc(n * (size_t)(p->gbdt->n_numeric + 1) * sizeof(float)) : NULL;
  p->cat = p->gbdt ? malloc(n * (size_t)(p->gbdt->n_categorical + 1) * sizeof(int32_t)) : NULL;
  p->margin = malloc(n * (size_t)p->n_out * sizeof(double));
  p->nn_out = p->nn ? malloc(n * (size_t)p->n_out * sizeof(float)) : NULL;
  if ((p->gbdt && (!p->num || !p->cat)) || !p->margin || (p->nn && !p->nn_out))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory for %lld rows", p->path,
                   (long long)rows);
  p->cap = cap;
  return KZ_OK;
}

kz_status kz_predictor_gbdt_margins(kz_predictor *p, const kz_shard_batch *b, double *margin) {
  const kz_gbdt_model *m = p->gbdt;
  if (!m) return kz_fail(KZ_ERR_INVALID_ARG, "%s: not a GBDT model", p->path);
  if (!p->has_schema) return kz_fail(KZ_ERR_INVALID_ARG, "%s: no input schema", p->path);
  KZ_TRY(reserve(p, b->rows));
  int64_t n = b->rows;
  int nn = m->n_numeric, nc = m->n_categorical;
  for (int f = 0; f < nn + nc; ++f) {
    int fi = p->feat_field[f], ci = p->feat_col[f];
    if (f < nn)
      for (int64_t r = 0; r < n; ++r) p->num[r * nn + f] = kz_batch_f32(b, fi, r)[ci];
    else
      for (int64_t r = 0; r < n; ++r) p->cat[r * nc + f - nn] = kz_batch_i32(b, fi, r)[ci];
  }
  if (p->gbdt_device.kind == KZ_DEVICE_CUDA) {
    kz_gbdt_gpu_options o = {p->gbdt_device, NULL};
    return kz_gbdt_predict_margin_gpu(m, n, p->num, p->cat, &o, margin);
  }
  return kz_gbdt_predict_margin(m, n, p->num, p->cat, 0, margin);
}

kz_status kz_predictor_batch(kz_predictor *p, const kz_shard_batch *b, double *out) {
  if (!p->has_schema)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the model file carries no input schema", p->path);
  KZ_TRY(reserve(p, b->rows));
  if (p->gbdt) {
    KZ_TRY(kz_predictor_gbdt_margins(p, b, out));
    kz_gbdt_transform(p->gbdt, b->rows, out);
    return KZ_OK;
  }
  const kz_nn_model_base *mb = kz_nn_base(p->nn);
  if (!p->block_ready) {
    KZ_TRY(kz_shard_batch_alloc(&p->schema, NN_BLOCK, &p->block));
    p->block_ready = 1;
  }
  for (int64_t r0 = 0; r0 < b->rows; r0 += NN_BLOCK) {
    int64_t n = b->rows - r0 < NN_BLOCK ? b->rows - r0 : NN_BLOCK;
    /* rows past n keep earlier blocks' values (zeros at first): any finite
     * filler will do, rows do not mix */
    p->block.rows = 0;
    KZ_TRY(kz_shard_batch_copy_rows(&p->block, 0, b, r0, n));
    p->block.rows = NN_BLOCK;
    KZ_TRY(mb->ops->predict_batch(p->nn, &p->block, p->nn_out));
    for (int64_t i = 0; i < n * p->n_out; ++i) out[r0 * p->n_out + i] = p->nn_out[i];
  }
  return KZ_OK;
}

/* ---- rows by name (the public API) ---------------------------------------- */

kz_status kz_predictor_set_columns(kz_predictor *p, int n, const char *const *names) {
  if (!p || n < 0 || (n > 0 && !names))
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_predictor_set_columns: bad arguments");
  if (!p->has_schema)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "%s: the model file carries no input schema (written before model files "
                   "kept one); retrain it to score rows by column name",
                   p->path);
  kz_input_map_free(p->map);
  p->map = NULL;
  p->n_columns = n;
  KZ_TRY(kz_input_map_for_columns(&p->schema, n, names, KZ_LABEL_OPTIONAL, "request", &p->map));
  if (!p->batch_ready) {
    KZ_TRY(kz_shard_batch_alloc(&p->schema, CHUNK, &p->batch));
    p->batch_ready = 1;
  }
  return KZ_OK;
}

kz_status kz_predictor_predict(kz_predictor *p, int64_t n_rows, const char *const *cells,
                               double *out) {
  if (!p || n_rows < 0 || (n_rows > 0 && (!cells || !out)))
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_predictor_predict: bad arguments");
  if (!p->map)
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_predictor_predict: call kz_predictor_set_columns first");
  for (int64_t r0 = 0; r0 < n_rows; r0 += CHUNK) {
    int64_t n = n_rows - r0 < CHUNK ? n_rows - r0 : CHUNK;
    kz_shard_batch_clear(&p->batch);
    for (int64_t r = 0; r < n; ++r) {
      kz_status st = kz_input_map_row(p->map, cells + (r0 + r) * p->n_columns, NULL, 0, &p->batch);
      if (st != KZ_OK) return kz_fail_context(st, "record %lld", (long long)(r0 + r));
    }
    KZ_TRY(kz_predictor_batch(p, &p->batch, out + r0 * p->n_out));
  }
  return KZ_OK;
}

int64_t kz_predictor_unseen(const kz_predictor *p) {
  return p && p->map ? kz_input_map_unseen(p->map) : 0;
}

kz_status kz_schema_from_source(const char *path, kz_schema *out) {
  memset(out, 0, sizeof *out);
  struct stat sb;
  if (stat(path, &sb) != 0) return kz_fail(KZ_ERR_IO, "%s: %s", path, strerror(errno));
  const char *dot = strrchr(path, '.');
  int model = !S_ISDIR(sb.st_mode) && dot && (!strcmp(dot, ".kzm") || !strcmp(dot, ".json")) &&
              !strstr(path, "manifest.json");
  if (!model) {
    kz_dataset *ds = NULL;
    KZ_TRY(kz_dataset_open(path, NULL, &ds));
    kz_status st = kz_schema_copy(kz_dataset_schema(ds), out);
    kz_dataset_close(ds);
    return st;
  }
  kz_predictor *p = NULL;
  KZ_TRY(kz_predictor_open(path, "cpu", &p));
  kz_status st = p->has_schema ? kz_schema_copy(&p->schema, out)
                               : kz_fail(KZ_ERR_UNSUPPORTED,
                                         "%s: the model file carries no input schema (written "
                                         "before model files kept one)",
                                         path);
  kz_predictor_close(p);
  return st;
}
