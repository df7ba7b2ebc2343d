/* KServe v2 inference bodies in JSON (docs/SERVING.md, "Requests") <->
 * kz_infer_request / kz_infer_response. Two request forms:
 *   tensors:     {"id": "..", "inputs": [{"name", "datatype", "shape", "data"}],
 *                 "outputs": [{"name": ".."}]}  data flat or nested row-major;
 *                 null is a missing value (FP32/FP64/BYTES)
 *   raw columns: {"columns": {"carat": [0.3, null], "cut": ["Ideal", "Good"]}}
 *                 numbers, category strings and null, each cell turned into the
 *                 text `kaizen predict --input x.jsonl` gives it; columns the
 *                 model does not read are ignored, as predict ignores them.
 * The parser never trusts a shape: it counts the data first and allocates
 * only for elements that are there. */
#ifndef KZ_ENGINE_SERVE_INFER_JSON_H
#define KZ_ENGINE_SERVE_INFER_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

typedef struct kz_json_request {
  kz_infer_request req; /* points into the storage below */
  kz_infer_tensor *inputs;
  void **buffers; /* what the inputs point to */
  int n_buffers;
  const char **outputs;
  void *root; /* the parsed document (json_t), which owns the strings */
} kz_json_request;

/* Parses body (len bytes, need not be NUL-terminated) as a request for model /
 * version. Fails with KZ_ERR_INVALID_ARG and a message naming the member at
 * fault; *out then holds nothing to free. */
kz_status kz_json_request_parse(const char *body, size_t len, const char *model, int64_t version,
                                kz_json_request *out);
void kz_json_request_free(kz_json_request *r);

/* {"model_name", "model_version", "id", "outputs": [{"name", "datatype",
 * "shape", "data"}]}; NULL when out of memory. free() it. */
char *kz_json_response_body(const kz_infer_response *r);
/* {"error": msg}; free() it. */
char *kz_json_error_body(const char *msg);
/* The HTTP status a failure maps to: 400 invalid/format, 404 not found, 503
 * unavailable, 500 otherwise. */
int kz_http_status_of(kz_status st);

#endif
