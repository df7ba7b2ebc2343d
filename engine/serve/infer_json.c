/* KServe v2 JSON bodies <-> requests and responses (infer_json.h). */
#define _POSIX_C_SOURCE 200809L
#include "engine/serve/infer_json.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"

/* Nesting deeper than the dimensions a tensor may have is an error: it
 * also bounds the recursion below whatever the body holds. */
enum { MAX_NEST = KZ_INFER_MAX_DIMS };

void kz_json_request_free(kz_json_request *r) {
  if (!r) return;
  for (int i = 0; r->buffers && i < r->n_buffers; ++i) free(r->buffers[i]);
  free(r->buffers), free(r->inputs), free(r->outputs);
  json_decref(r->root);
  memset(r, 0, sizeof *r);
}

/* Leaves of a (nested) data array; -1 after a failure (message set). */
static int64_t count_leaves(const json_t *a, int depth, const char *name) {
  if (depth > MAX_NEST) {
    kz_fail(KZ_ERR_INVALID_ARG, "input '%s': data nested deeper than %d levels", name, MAX_NEST);
    return -1;
  }
  int64_t n = 0;
  size_t i;
  const json_t *v;
  json_array_foreach(a, i, v) {
    if (json_is_array(v)) {
      int64_t k = count_leaves(v, depth + 1, name);
      if (k < 0) return -1;
      n += k;
    } else {
      n++;
    }
  }
  return n;
}

typedef struct fill {
  const char *name;
  kz_datatype t;
  void *buf;
  int64_t at;
} fill;

static kz_status bad_element(const fill *f, const json_t *v) {
  static const char *const kinds[] = {"an object", "an array", "a string", "an integer",
                                      "a number",  "true",     "false",    "null"};
  int k = json_typeof(v);
  return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': element %lld is %s, not a %s value", f->name,
                 (long long)f->at, k >= 0 && k < 8 ? kinds[k] : "?", kz_datatype_name(f->t));
}

static kz_status put_element(fill *f, const json_t *v) {
  int num = json_is_number(v);
  double x = num ? json_number_value(v) : 0;
  switch (f->t) {
  case KZ_TYPE_FP32:
  case KZ_TYPE_FP64:
    if (!num && !json_is_null(v)) return bad_element(f, v);
    if (num && f->t == KZ_TYPE_FP32 && isfinite(x) && fabs(x) > 3.4028234663852886e38)
      return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': element %lld (%g) is out of the FP32 range",
                     f->name, (long long)f->at, x);
    if (f->t == KZ_TYPE_FP32)
      ((float *)f->buf)[f->at] = num ? (float)x : NAN;
    else
      ((double *)f->buf)[f->at] = num ? x : NAN;
    break;
  case KZ_TYPE_INT32:
  case KZ_TYPE_INT64: {
    if (!json_is_integer(v)) return bad_element(f, v);
    json_int_t i = json_integer_value(v);
    if (f->t == KZ_TYPE_INT32 && (i < INT32_MIN || i > INT32_MAX))
      return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': element %lld is out of the INT32 range",
                     f->name, (long long)f->at);
    if (f->t == KZ_TYPE_INT32)
      ((int32_t *)f->buf)[f->at] = (int32_t)i;
    else
      ((int64_t *)f->buf)[f->at] = (int64_t)i;
    break;
  }
  case KZ_TYPE_BOOL:
    if (!json_is_boolean(v)) return bad_element(f, v);
    ((uint8_t *)f->buf)[f->at] = json_is_true(v);
    break;
  case KZ_TYPE_BYTES:
    if (!json_is_string(v) && !json_is_null(v)) return bad_element(f, v);
    ((const char **)f->buf)[f->at] = json_is_string(v) ? json_string_value(v) : NULL;
    break;
  }
  f->at++;
  return KZ_OK;
}

static kz_status fill_leaves(fill *f, const json_t *a) {
  size_t i;
  const json_t *v;
  json_array_foreach(a, i, v) {
    if (json_is_array(v))
      KZ_TRY(fill_leaves(f, v));
    else
      KZ_TRY(put_element(f, v));
  }
  return KZ_OK;
}

static size_t elem_size(kz_datatype t) {
  switch (t) {
  case KZ_TYPE_BOOL:
    return 1;
  case KZ_TYPE_INT32:
  case KZ_TYPE_FP32:
    return 4;
  case KZ_TYPE_BYTES:
    return sizeof(const char *);
  default:
    return 8;
  }
}

static kz_status parse_tensor(const json_t *j, int i, kz_infer_tensor *t, void **buf) {
  if (!json_is_object(j))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "inputs[%d]: expected an object {name, datatype, shape, data}", i);
  const json_t *name = json_object_get(j, "name"), *dt = json_object_get(j, "datatype");
  const json_t *shape = json_object_get(j, "shape"), *data = json_object_get(j, "data");
  if (!json_is_string(name))
    return kz_fail(KZ_ERR_INVALID_ARG, "inputs[%d]: 'name' must be a string", i);
  t->name = json_string_value(name);
  if (!json_is_string(dt) || !kz_datatype_parse(json_string_value(dt), &t->datatype))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "input '%s': 'datatype' must be one of BOOL, INT32, INT64, FP32, FP64, BYTES",
                   t->name);
  size_t nd = json_array_size(shape);
  if (!json_is_array(shape) || nd < 1 || nd > KZ_INFER_MAX_DIMS)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': 'shape' must be an array of 1 to %d sizes",
                   t->name, KZ_INFER_MAX_DIMS);
  if (!json_is_array(data))
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': 'data' must be an array (flat or nested)",
                   t->name);
  int64_t have = count_leaves(data, 1, t->name);
  if (have < 0) return KZ_ERR_INVALID_ARG;
  /* the product is compared with what the data holds, never allocated from */
  int64_t want = 1;
  int overflow = 0;
  t->ndim = (int)nd;
  for (size_t d = 0; d < nd; ++d) {
    const json_t *v = json_array_get(shape, d);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': shape[%zu] must be a non-negative integer",
                     t->name, d);
    t->shape[d] = (int64_t)json_integer_value(v);
    if (!overflow && __builtin_mul_overflow(want, t->shape[d], &want)) overflow = 1;
  }
  if (overflow)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': the shape holds too many elements (over 2^63)",
                   t->name);
  if (want != have)
    return kz_fail(KZ_ERR_INVALID_ARG, "input '%s': the shape holds %lld elements, 'data' has %lld",
                   t->name, (long long)want, (long long)have);
  *buf = malloc((size_t)(have ? have : 1) * elem_size(t->datatype));
  if (!*buf) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory for input '%s'", t->name);
  fill f = {t->name, t->datatype, *buf, 0};
  KZ_TRY(fill_leaves(&f, data));
  t->data = *buf;
  return KZ_OK;
}

/* A raw column: every cell the text the JSON-lines reader gives it. */
static kz_status parse_column(const char *key, const json_t *col, kz_infer_tensor *t, void **buf,
                              void **texts) {
  if (!json_is_array(col))
    return kz_fail(KZ_ERR_INVALID_ARG, "columns: '%s' must be an array of values", key);
  size_t n = json_array_size(col), bytes = 0;
  char num[64];
  size_t i;
  const json_t *v;
  json_array_foreach(col, i, v) {
    if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) bytes += sizeof num;
    if (json_is_array(v) || json_is_object(v))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "columns: '%s'[%zu] is an %s; a cell is a number, a string or null", key, i,
                     json_is_array(v) ? "array" : "object");
  }
  const char **cells = malloc((n ? n : 1) * sizeof *cells);
  char *text = malloc(bytes ? bytes : 1);
  if (!cells || !text) {
    free(cells), free(text);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory for column '%s'", key);
  }
  size_t at = 0;
  json_array_foreach(col, i, v) {
    cells[i] = NULL;
    if (json_is_string(v)) {
      cells[i] = json_string_value(v);
      continue;
    }
    if (json_is_null(v)) continue;
    if (json_is_integer(v))
      snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v)) /* 17 digits: parses back to the same double */
      snprintf(num, sizeof num, "%.17g", json_real_value(v));
    else
      snprintf(num, sizeof num, "%s", json_is_true(v) ? "true" : "false");
    size_t len = strlen(num) + 1;
    memcpy(text + at, num, len);
    cells[i] = text + at;
    at += len;
  }
  t->name = key;
  t->datatype = KZ_TYPE_BYTES;
  t->ndim = 1;
  t->shape[0] = (int64_t)n;
  t->data = cells;
  *buf = cells;
  *texts = text;
  return KZ_OK;
}

static kz_status parse_columns(const json_t *cols, kz_json_request *out) {
  size_t n = json_object_size(cols);
  out->inputs = calloc(n ? n : 1, sizeof *out->inputs);
  /* two buffers a column: its cells at [i], their text at [n + i] */
  out->buffers = calloc(2 * (n ? n : 1), sizeof *out->buffers);
  if (!out->inputs || !out->buffers) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  out->n_buffers = (int)(2 * n);
  const char *key;
  json_t *v;
  size_t i = 0;
  json_object_foreach((json_t *)cols, key, v) {
    KZ_TRY(parse_column(key, v, &out->inputs[i], &out->buffers[i], &out->buffers[n + i]));
    ++i;
  }
  out->req.n_inputs = (int)n;
  out->req.ignore_unknown_inputs = 1;
  return KZ_OK;
}

static kz_status parse_outputs(const json_t *outs, kz_json_request *out) {
  if (!outs) return KZ_OK;
  if (!json_is_array(outs))
    return kz_fail(KZ_ERR_INVALID_ARG, "'outputs' must be an array of {\"name\": ...}");
  size_t n = json_array_size(outs);
  out->outputs = calloc(n ? n : 1, sizeof *out->outputs);
  if (!out->outputs) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (size_t i = 0; i < n; ++i) {
    const json_t *name = json_object_get(json_array_get(outs, i), "name");
    if (!json_is_string(name))
      return kz_fail(KZ_ERR_INVALID_ARG, "outputs[%zu]: expected {\"name\": \"...\"}", i);
    out->outputs[i] = json_string_value(name);
  }
  out->req.n_outputs = (int)n;
  out->req.outputs = out->outputs;
  return KZ_OK;
}

static kz_status parse(const char *body, size_t len, kz_json_request *out) {
  json_error_t err;
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
  if (!root)
    return kz_fail(KZ_ERR_INVALID_ARG, "malformed JSON at line %d, column %d: %s", err.line,
                   err.column, err.text);
  out->root = root;
  if (!json_is_object(root)) return kz_fail(KZ_ERR_INVALID_ARG, "the body must be a JSON object");
  const json_t *id = json_object_get(root, "id");
  if (id && !json_is_string(id)) return kz_fail(KZ_ERR_INVALID_ARG, "'id' must be a string");
  out->req.id = id ? json_string_value(id) : NULL;
  const json_t *inputs = json_object_get(root, "inputs"), *cols = json_object_get(root, "columns");
  if (!!inputs == !!cols)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "the body needs 'inputs' (tensors) or 'columns' (raw columns), not %s",
                   inputs ? "both" : "neither");
  KZ_TRY(parse_outputs(json_object_get(root, "outputs"), out));
  /* KServe v2's request parameters: "adapter" picks a LoRA adapter */
  const json_t *params = json_object_get(root, "parameters");
  if (params && !json_is_object(params))
    return kz_fail(KZ_ERR_INVALID_ARG, "'parameters' must be an object");
  const json_t *adapter = json_object_get(params, "adapter");
  if (adapter && !json_is_string(adapter) && !json_is_null(adapter))
    return kz_fail(KZ_ERR_INVALID_ARG, "parameters.adapter must be a string (an adapter's name)");
  out->req.adapter = json_string_value(adapter);
  if (cols) {
    if (!json_is_object(cols))
      return kz_fail(KZ_ERR_INVALID_ARG, "'columns' must be an object of name: [values]");
    return parse_columns(cols, out);
  }
  if (!json_is_array(inputs) || json_array_size(inputs) == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "'inputs' must be a non-empty array of tensors");
  size_t n = json_array_size(inputs);
  out->inputs = calloc(n, sizeof *out->inputs);
  out->buffers = calloc(n, sizeof *out->buffers);
  if (!out->inputs || !out->buffers) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  out->req.n_inputs = out->n_buffers = (int)n;
  for (size_t i = 0; i < n; ++i)
    KZ_TRY(parse_tensor(json_array_get(inputs, i), (int)i, &out->inputs[i], &out->buffers[i]));
  return KZ_OK;
}

kz_status kz_json_request_parse(const char *body, size_t len, const char *model, int64_t version,
                                kz_json_request *out) {
  memset(out, 0, sizeof *out);
  if (!body && len) return kz_fail(KZ_ERR_INVALID_ARG, "no body");
  kz_status st = parse(body ? body : "", len, out);
  if (st != KZ_OK) {
    kz_json_request_free(out);
    return st;
  }
  out->req.model = model;
  out->req.version = version;
  out->req.inputs = out->inputs;
  return KZ_OK;
}

/* ---- responses ------------------------------------------------------------------ */

char *kz_json_response_body(const kz_infer_response *r) {
  char ver[24];
  snprintf(ver, sizeof ver, "%lld", (long long)kz_infer_response_version(r));
  json_t *outs = json_array();
  json_t *j = json_pack("{s:s, s:s, s:o}", "model_name", kz_infer_response_model(r),
                        "model_version", ver, "outputs", outs);
  if (!j) return NULL;
  if (*kz_infer_response_id(r)) json_object_set_new(j, "id", json_string(kz_infer_response_id(r)));
  for (int k = 0; k < kz_infer_response_output_count(r); ++k) {
    kz_infer_tensor t;
    if (kz_infer_response_output(r, k, &t) != KZ_OK) continue;
    json_t *data = json_array(), *shape = json_array();
    int64_t n = 1;
    for (int d = 0; d < t.ndim; ++d) {
      json_array_append_new(shape, json_integer(t.shape[d]));
      n *= t.shape[d];
    }
    /* data flat, row-major; JSON has no NaN: a model that produced one says
     * so as null, as a missing text is */
    for (int64_t i = 0; i < n; ++i) {
      json_t *v;
      if (t.datatype == KZ_TYPE_BYTES) {
        const char *s = ((const char *const *)t.data)[i];
        v = s ? json_string(s) : json_null();
      } else if (t.datatype == KZ_TYPE_INT64) {
        v = json_integer(((const int64_t *)t.data)[i]);
      } else {
        double x = ((const double *)t.data)[i];
        v = isfinite(x) ? json_real(x) : json_null();
      }
      json_array_append_new(data, v ? v : json_null());
    }
    json_array_append_new(outs,
                          json_pack("{s:s, s:s, s:o, s:o}", "name", t.name, "datatype",
                                    kz_datatype_name(t.datatype), "shape", shape, "data", data));
  }
  char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(j);
  return s;
}

char *kz_json_error_body(const char *msg) {
  json_t *j = json_pack("{s:s}", "error", msg ? msg : "error");
  if (!j) { /* msg was not valid UTF-8 */
    j = json_pack("{s:s}", "error", "error (message not valid UTF-8)");
  }
  char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return s;
}

int kz_http_status_of(kz_status st) {
  switch (st) {
  case KZ_OK:
    return 200;
  case KZ_ERR_INVALID_ARG:
  case KZ_ERR_FORMAT:
    return 400;
  case KZ_ERR_NOT_FOUND:
    return 404;
  case KZ_ERR_UNAVAILABLE:
    return 503;
  default:
    return 500;
  }
}
