/* What the server tells about itself: KServe v2 server and model metadata
 * (JSON) and the Prometheus metrics (text format, Triton's metric names). */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/schema.h"
#include "engine/predict/predictor.h"
#include "engine/serve/server_internal.h"
#include "kernels/core/error.h"
#include "models/transformer/lora.h"
#include "models/transformer/transformer.h"

static kz_status dump(json_t *j, char **out) {
  *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return *out ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
}

static json_t *tensor(const char *name, kz_datatype t) {
  return json_pack("{s:s, s:s, s:[i]}", "name", name, "datatype", kz_datatype_name(t), "shape", -1);
}

/* The categories a categorical input knows, so clients can see what maps. */
static json_t *categories(const kz_serve_model *m, const char *name) {
  const kz_schema *s = kz_predictor_schema(m->pred);
  int f, c;
  if (!s || !kz_schema_find_column(s, name, &f, &c)) return NULL;
  const kz_column *col = &s->fields[f].columns[c];
  json_t *a = json_array();
  for (int32_t k = 0; a && k < col->n_categories; ++k)
    json_array_append_new(a, json_string(col->categories[k]));
  return a;
}

kz_status kz_server_model_metadata(kz_server *s, const char *name, int64_t version, char **json) {
  if (!s || !name || !json) return kz_fail(KZ_ERR_INVALID_ARG, "model metadata: NULL argument");
  *json = NULL;
  pthread_mutex_lock(&s->mu);
  const kz_serve_model *m = NULL;
  json_t *versions = json_array();
  for (int i = 0; i < s->n_models; ++i) {
    const kz_serve_model *c = s->models[i];
    if (strcmp(c->name, name)) continue;
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)c->version);
    json_array_append_new(versions, json_string(v));
    if (version > 0 ? c->version == version : (!m || c->version > m->version)) m = c;
  }
  if (!m) {
    pthread_mutex_unlock(&s->mu);
    json_decref(versions);
    if (version > 0)
      return kz_fail(KZ_ERR_NOT_FOUND, "model '%s' version %lld is not loaded", name,
                     (long long)version);
    return kz_fail(KZ_ERR_NOT_FOUND, "model '%s' is not loaded", name);
  }
  /* everything read below is fixed once the model is loaded */
  json_t *inputs = json_array(), *outputs = json_array(), *tft = json_object();
  if (m->tft) kz_serve_tft_metadata(m, inputs, outputs, tft);
  for (int k = 0; !m->tft && k < m->n_feat; ++k) {
    json_t *t = tensor(m->feat_names[k], m->feat_type[k]);
    json_t *cats = m->feat_categorical[k] ? categories(m, m->feat_names[k]) : NULL;
    if (t && cats) json_object_set_new(t, "parameters", json_pack("{s:o}", "categories", cats));
    json_array_append_new(inputs, t);
  }
  for (int k = 0; !m->tft && k < m->n_out; ++k) {
    if (!m->text) {
      json_array_append_new(outputs, tensor(m->out_names[k], KZ_TYPE_FP64));
      continue;
    }
    /* a transformer's outputs: [rows] or [rows, cols] (-1: as many words
     * as the request's longest text has) */
    json_t *t = m->out_cols[k] ? json_pack("{s:s, s:s, s:[i, I]}", "name", m->out_names[k],
                                           "datatype", kz_datatype_name(m->out_type[k]), "shape",
                                           -1, (json_int_t)m->out_cols[k])
                               : tensor(m->out_names[k], m->out_type[k]);
    json_array_append_new(outputs, t);
  }
  if (m->text) /* what the texts are read as */
    for (size_t k = 0; k < json_array_size(inputs); ++k)
      json_object_set_new(json_array_get(inputs, k), "parameters",
                          json_pack("{s:s, s:I}", "content",
                                    "text (UTF-8), tokenised by the server", "max_tokens",
                                    (json_int_t)kz_tf_text_max_tokens(m->text)));
  /* the LoRA adapters a request may name (parameters.adapter) */
  json_t *adapters = json_array();
  for (int k = 0; k < m->n_adapters; ++k)
    json_array_append_new(
        adapters, json_pack("{s:s, s:s, s:I}", "name", m->adapters[k].name, "base_fingerprint",
                            kz_transformer_adapter_fingerprint(m->adapters[k].ad), "r",
                            (json_int_t)kz_transformer_adapter_rank(m->adapters[k].ad)));
  char platform[32];
  snprintf(platform, sizeof platform, "kaizen_%s", m->type);
  char ver[24];
  snprintf(ver, sizeof ver, "%lld", (long long)m->version);
  /* the model file's path stays private: clients need not know the layout */
  json_t *j = json_pack(
      "{s:s, s:s, s:o, s:s, s:o, s:o, s:{s:I, s:b, s:I, s:I}}", "name", m->name, "version", ver,
      "versions", versions, "platform", platform, "inputs", inputs, "outputs", outputs,
      "parameters", "max_batch_size", (json_int_t)m->batching.max_batch_size, "dynamic_batching",
      m->batching.dynamic, "max_queue_delay_us", (json_int_t)m->batching.max_queue_delay_us,
      "max_queue_size", (json_int_t)m->batching.max_queue_size);
  /* a TFT's window (encoder_length, horizon, quantiles, time_step) */
  json_object_update(json_object_get(j, "parameters"), tft);
  json_decref(tft);
  if (j && m->text)
    json_object_set_new(j, "adapters", adapters);
  else
    json_decref(adapters);
  pthread_mutex_unlock(&s->mu);
  return dump(j, json);
}

kz_status kz_server_metadata(kz_server *s, char **json) {
  if (!s || !json) return kz_fail(KZ_ERR_INVALID_ARG, "server metadata: NULL argument");
  json_t *models = json_array();
  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < s->n_models; ++i) {
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)s->models[i]->version);
    json_array_append_new(models, json_pack("{s:s, s:s, s:s}", "name", s->models[i]->name,
                                            "version", v, "state", "READY"));
  }
  pthread_mutex_unlock(&s->mu);
  return dump(json_pack("{s:s, s:s, s:[], s:o}", "name", "kaizen", "version", kz_version(),
                        "extensions", "models", models),
              json);
}

/* ---- metrics ----------------------------------------------------------------- */

typedef struct text {
  char *s;
  size_t len, cap;
  int oom;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...) {
  if (t->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->oom = 1;
      return;
    }
    if (t->s && t->len + (size_t)n < t->cap) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = t->cap ? t->cap * 2 : 4096;
    while (cap < t->len + (size_t)n + 1) cap *= 2;
    char *g = realloc(t->s, cap);
    if (!g) {
      t->oom = 1;
      return;
    }
    t->s = g, t->cap = cap;
  }
}

typedef struct snap {
  char name[KZ_SERVE_NAME_MAX + 1];
  int64_t version, pending;
  kz_serve_metrics m;
} snap;

enum {
  M_SUCCESS,
  M_FAILURE,
  M_COUNT,
  M_EXEC,
  M_REQ_US,
  M_QUEUE_US,
  M_COMPUTE_US,
  M_PENDING,
  M_UNSEEN,
  M_N
};

static const struct {
  const char *name, *type, *help;
} families[M_N] = {
    {"nv_inference_request_success", "counter", "Number of successful inference requests"},
    {"nv_inference_request_failure", "counter", "Number of failed inference requests, by reason"},
    {"nv_inference_count", "counter", "Number of inferences (rows) performed"},
    {"nv_inference_exec_count", "counter", "Number of model executions (batches) performed"},
    {"nv_inference_request_duration_us", "counter",
     "Cumulative inference request duration in microseconds (queue and compute included)"},
    {"nv_inference_queue_duration_us", "counter",
     "Cumulative inference queuing duration in microseconds"},
    {"nv_inference_compute_infer_duration_us", "counter",
     "Cumulative compute inference duration in microseconds (the whole batch a request ran in)"},
    {"nv_inference_pending_request_count", "gauge",
     "Instantaneous number of requests waiting in the model's queue"},
    {"kaizen_unseen_category_count", "counter",
     "Category values mapped to missing because the model never saw them"},
};

static uint64_t value(const snap *x, int f) {
  switch (f) {
  case M_SUCCESS:
    return x->m.success;
  case M_COUNT:
    return x->m.inference_count;
  case M_EXEC:
    return x->m.exec_count;
  case M_REQ_US:
    return x->m.request_us;
  case M_QUEUE_US:
    return x->m.queue_us;
  case M_COMPUTE_US:
    return x->m.compute_us;
  case M_PENDING:
    return (uint64_t)x->pending;
  case M_UNSEEN:
    return (uint64_t)x->m.unseen;
  }
  return 0;
}

kz_status kz_server_metrics(kz_server *s, char **out) {
  if (!s || !out) return kz_fail(KZ_ERR_INVALID_ARG, "metrics: NULL argument");
  *out = NULL;
  pthread_mutex_lock(&s->mu);
  int n = s->n_models;
  snap *x = calloc((size_t)(n ? n : 1), sizeof *x);
  for (int i = 0; x && i < n; ++i) {
    kz_serve_model *m = s->models[i];
    snprintf(x[i].name, sizeof x[i].name, "%s", m->name);
    x[i].version = m->version;
    pthread_mutex_lock(&m->mu);
    x[i].m = m->metrics;
    x[i].pending = m->queued;
    pthread_mutex_unlock(&m->mu);
  }
  pthread_mutex_unlock(&s->mu);
  if (!x) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  static const char *const reasons[KZ_FAIL_REASONS] = {"REJECTED", "BACKEND", "OTHER"};
  text t = {0};
  for (int f = 0; f < M_N; ++f) {
    add(&t, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help, families[f].name,
        families[f].type);
    for (int i = 0; i < n; ++i) {
      if (f == M_FAILURE) {
        for (int r = 0; r < KZ_FAIL_REASONS; ++r)
          add(&t, "%s{model=\"%s\",version=\"%lld\",reason=\"%s\"} %llu\n", families[f].name,
              x[i].name, (long long)x[i].version, reasons[r],
              (unsigned long long)x[i].m.failure[r]);
        continue;
      }
      add(&t, "%s{model=\"%s\",version=\"%lld\"} %llu\n", families[f].name, x[i].name,
          (long long)x[i].version, (unsigned long long)value(&x[i], f));
    }
  }
  free(x);
  if (t.oom || !t.s) {
    free(t.s);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory for the metrics");
  }
  *out = t.s;
  return KZ_OK;
}
