/* The neural model factory: dispatch on model.type (create) or on the meta
 * "type" (load, from_meta). Adding a model type is one row in `types`. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/schema.h"
#include "kernels/core/backend.h"
#include "kernels/core/error.h"
#include "models/linear/linear.h"
#include "models/mlp/mlp.h"
#include "models/nn_file.h"
#include "models/nn_model.h"
#include "models/tft/tft_model.h"
#include "models/transformer/transformer.h"

typedef struct nn_type {
  const char *name;
  kz_status (*create)(const kz_cfg_node *, kz_dataset *, kz_device, kz_nn_model **);
  kz_status (*from_meta)(const char *, kz_device, int64_t, kz_nn_model **);
} nn_type;

static const nn_type types[] = {
    {"mlp", kz_mlp_create, kz_mlp_from_meta},
    {"linear", kz_linear_create, kz_linear_from_meta},
    {"transformer", kz_transformer_create, kz_transformer_from_meta},
    {"tft", kz_tft_create, kz_tft_from_meta},
};
enum { N_TYPES = sizeof(types) / sizeof(types[0]) };

const char *kz_nn_model_type_name(int i) {
  return i >= 0 && i < N_TYPES ? types[i].name : NULL;
}

static const nn_type *find_type(const char *name) {
  for (int i = 0; i < N_TYPES; i++)
    if (strcmp(types[i].name, name) == 0) return &types[i];
  return NULL;
}

void kz_nn_metrics_fill(const kz_nn_eval *acc, int classification, kz_nn_metrics *out) {
  kz_metric_id ids[KZ_NN_MAX_METRICS];
  memset(out, 0, sizeof *out);
  out->n = kz_metric_common(classification ? KZ_TASK_CLASSIFICATION : KZ_TASK_REGRESSION, ids);
  for (int i = 0; i < out->n; ++i) {
    out->names[i] = kz_metric_name(ids[i]);
    out->values[i] = kz_metric_value(acc, ids[i]);
    out->higher_is_better[i] = kz_metric_higher_is_better(ids[i]);
  }
}

kz_status kz_nn_model_create(const kz_cfg_node *model_cfg, kz_dataset *train, kz_device device,
                             kz_nn_model **out) {
  *out = NULL;
  const char *name = NULL;
  KZ_TRY(kz_cfg_get_string(model_cfg, "type", NULL, &name));
  const nn_type *t = find_type(name);
  if (!t)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.type: '%s' is not a neural model (mlp, linear, transformer, tft)", name);
  KZ_TRY(t->create(model_cfg, train, device, out));
  kz_nn_model_base *b = kz_nn_base(*out);
  if (!(b->input_schema = kz_schema_to_input_string(kz_dataset_schema(train)))) {
    b->ops->destroy(*out);
    *out = NULL;
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "model: input schema");
  }
  return KZ_OK;
}

kz_status kz_nn_model_meta(const kz_nn_model *m, char **out) {
  *out = NULL;
  const kz_nn_model_base *b = kz_nn_base_c(m);
  char *meta = NULL;
  KZ_TRY(b->ops->meta_json(m, &meta));
  if (!b->input_schema) {
    *out = meta;
    return KZ_OK;
  }
  json_error_t err;
  json_t *root = json_loads(meta, 0, &err), *schema = json_loads(b->input_schema, 0, &err);
  free(meta);
  if (root && schema) {
    json_object_set_new(root, "input_schema", schema);
    schema = NULL;
    *out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
  }
  json_decref(root);
  json_decref(schema);
  return *out ? KZ_OK : kz_fail(KZ_ERR_INTERNAL, "model meta: cannot add the input schema");
}

kz_status kz_nn_model_save(const kz_nn_model *m, const char *path) {
  char *meta = NULL;
  KZ_TRY(kz_nn_model_meta(m, &meta));
  const kz_nn_model_base *b = kz_nn_base_c(m);
  /* A model file is a contract: what is written must load back. The loader
   * reads the parameters bit for bit whatever their values, so the meta
   * (statistics, dictionaries, shapes) is what could fail; it is rebuilt
   * here exactly as kz_nn_model_load will, before anything is written. */
  kz_nn_model *check = NULL;
  kz_status st = kz_nn_model_from_meta(meta, (kz_device){KZ_DEVICE_CPU, 0}, &check);
  if (st == KZ_OK && kz_nn_base(check)->info.n_params != b->info.n_params)
    st = kz_fail(KZ_ERR_INTERNAL, "its meta describes %lld parameters, the model has %lld",
                 (long long)kz_nn_base(check)->info.n_params, (long long)b->info.n_params);
  if (check) kz_nn_base(check)->ops->destroy(check);
  if (st != KZ_OK) {
    free(meta);
    return kz_fail_context(st, "%s: not written, it could not be loaded back", path);
  }
  float *host = NULL;
  st = kz_nn_params_host(b, &host);
  if (st == KZ_OK)
    st =
        kz_nn_file_write(path, meta, host ? host : (const float *)b->params.data, b->info.n_params);
  free(host);
  free(meta);
  return st;
}

kz_status kz_nn_model_input_schema(const kz_nn_model *m, kz_schema *out) {
  const kz_nn_model_base *b = kz_nn_base_c(m);
  if (!b->input_schema)
    return kz_fail(KZ_ERR_NOT_FOUND, "the model file carries no input schema (it was written "
                                     "before model files kept one); retrain it to score raw files");
  return kz_schema_from_string(b->input_schema, "model input_schema", out);
}

kz_status kz_nn_model_from_meta(const char *meta_json, kz_device device, kz_nn_model **out) {
  return kz_nn_model_from_meta_sized(meta_json, device, -1, out);
}

kz_status kz_nn_model_from_meta_sized(const char *meta_json, kz_device device, int64_t want_params,
                                      kz_nn_model **out) {
  kz_nn_model *m = NULL;
  if (out) *out = NULL;
  json_error_t jerr;
  json_t *root = json_loads(meta_json, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return kz_fail(KZ_ERR_FORMAT, "model meta: invalid JSON at line %d: %s", jerr.line, jerr.text);
  json_t *type = json_object_get(root, "type");
  kz_status st;
  const nn_type *t = json_is_string(type) ? find_type(json_string_value(type)) : NULL;
  if (!json_is_string(type))
    st = kz_fail(KZ_ERR_FORMAT, "model meta: no \"type\" string");
  else if (!t)
    st = kz_fail(KZ_ERR_UNSUPPORTED,
                 "model meta: unknown model type '%s' (mlp, linear, transformer, tft)",
                 json_string_value(type));
  else
    st = t->from_meta(meta_json, device, want_params, out ? &m : NULL);
  json_t *schema = json_object_get(root, "input_schema");
  if (st == KZ_OK && schema) {
    kz_schema check;
    char *text = json_is_object(schema) ? json_dumps(schema, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    st = text ? kz_schema_from_string(text, "model meta: input_schema", &check)
              : kz_fail(KZ_ERR_FORMAT, "model meta: input_schema is not an object");
    if (st == KZ_OK) kz_schema_free(&check);
    if (st == KZ_OK && m)
      kz_nn_base(m)->input_schema = text;
    else
      free(text);
  }
  json_decref(root);
  if (st != KZ_OK) {
    if (m) kz_nn_base(m)->ops->destroy(m);
    return st;
  }
  if (out) *out = m;
  return KZ_OK;
}

kz_status kz_nn_model_load(const char *path, kz_device device, kz_nn_model **out) {
  *out = NULL;
  char *meta = NULL;
  float *params = NULL;
  int64_t n = 0;
  KZ_TRY(kz_nn_file_read(path, &meta, &params, &n));
  kz_nn_model *m = NULL;
  /* Sized: the meta's layout is checked against the block the file holds
   * before the model allocates anything, so a meta claiming a huge network
   * costs nothing. */
  kz_status st = kz_nn_model_from_meta_sized(meta, device, n, &m);
  if (st != KZ_OK) {
    st = kz_fail_context(st, "%s", path);
  } else {
    kz_stream *s = NULL;
    st = kz_stream_create(kz_nn_base(m)->device, &s);
    if (st == KZ_OK)
      st = kz_copy_to_device(s, kz_nn_base(m)->params.data, params, (size_t)n * sizeof(float));
    if (st == KZ_OK) st = kz_stream_sync(s);
    if (s) kz_stream_destroy(s);
  }
  free(meta);
  free(params);
  if (st != KZ_OK) {
    if (m) kz_nn_base(m)->ops->destroy(m);
    return st;
  }
  *out = m;
  return KZ_OK;
}

kz_status kz_nn_set_trainable(kz_nn_model_base *b, const kz_param_range *r, int n) {
  const int64_t total = b->info.n_params;
  if (n < 0 || n > KZ_NN_MAX_RANGES)
    return kz_fail(KZ_ERR_INVALID_ARG, "trainable ranges: %d, expected 0 to %d", n,
                   KZ_NN_MAX_RANGES);
  int64_t end = 0;
  int k = 0;
  kz_param_range out[KZ_NN_MAX_RANGES];
  for (int i = 0; i < n; ++i) {
    if (r[i].count <= 0 || r[i].offset < end || r[i].offset > total - r[i].count)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "trainable range %d: [%lld, +%lld) is empty, out of order, overlapping or "
                     "outside the block of %lld parameters",
                     i, (long long)r[i].offset, (long long)r[i].count, (long long)total);
    /* merged, so that an unfrozen neighbour costs no extra optimizer call */
    if (k > 0 && out[k - 1].offset + out[k - 1].count == r[i].offset)
      out[k - 1].count += r[i].count;
    else
      out[k++] = r[i];
    end = r[i].offset + r[i].count;
  }
  /* one range covering everything is the default, stored as such */
  if (k == 1 && out[0].offset == 0 && out[0].count == total) k = 0;
  b->n_trainable = k;
  for (int i = 0; i < k; ++i) b->trainable[i] = out[i];
  return KZ_OK;
}

int kz_nn_trainable_ranges(const kz_nn_model_base *b, kz_param_range *out) {
  if (b->n_trainable == 0) {
    out[0] = (kz_param_range){0, b->info.n_params};
    return 1;
  }
  for (int i = 0; i < b->n_trainable; ++i) out[i] = b->trainable[i];
  return b->n_trainable;
}

int kz_nn_is_trainable(const kz_nn_model_base *b, int64_t offset, int64_t count) {
  if (b->n_trainable == 0) return count > 0;
  for (int i = 0; i < b->n_trainable; ++i)
    if (b->trainable[i].offset < offset + count &&
        offset < b->trainable[i].offset + b->trainable[i].count)
      return 1;
  return 0;
}

int64_t kz_nn_trainable_count(const kz_nn_model_base *b) {
  kz_param_range r[KZ_NN_MAX_RANGES];
  int n = kz_nn_trainable_ranges(b, r);
  int64_t c = 0;
  for (int i = 0; i < n; ++i) c += r[i].count;
  return c;
}

kz_status kz_nn_params_host(const kz_nn_model_base *b, float **out) {
  *out = NULL;
  if (b->device.kind == KZ_DEVICE_CPU) return KZ_OK;
  const int64_t n = b->info.n_params;
  float *h = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  if (!h) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "model parameters: out of memory");
  kz_stream *s = NULL;
  kz_status st = kz_stream_create(b->device, &s);
  if (st == KZ_OK) st = kz_copy_to_host(s, h, b->params.data, (size_t)n * sizeof(float));
  if (st == KZ_OK) st = kz_stream_sync(s);
  if (s) kz_stream_destroy(s);
  if (st != KZ_OK) {
    free(h);
    return st;
  }
  *out = h;
  return KZ_OK;
}
