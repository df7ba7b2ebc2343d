/* libFuzzer harness: a KServe v2 request body (engine/serve/infer_json.c) as
 * `POST /v2/models/m/infer` receives it, then what the server does with a
 * body that parses: the request is checked and converted against a real
 * model (the diamonds GBDT of the gbdt_json corpus, served by an in-process
 * kz_server), run, and its response written as JSON.
 * Properties: a parsed tensor holds exactly the elements its shape says,
 * each BYTES element NULL or a NUL-terminated string; a failure always says
 * why; an answered request has one value per row for every output, and its
 * JSON parses back with the same values. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/serve/infer_json.h"
#include "fuzz_util.h"

static kz_server *server(void) {
  static kz_server *s;
  if (s) return s;
  kz_server_options o;
  kz_server_options_default(&o);
  o.batching.max_batch_size = 64;
  o.device = "cpu";
  if (kz_server_new(&o, &s) != KZ_OK || kz_server_load(s, "m", 1, KZ_FUZZ_MODEL, NULL) != KZ_OK)
    kz_fuzz_fail("cannot serve %s: %s", KZ_FUZZ_MODEL, kz_last_error());
  return s;
}

static void check_parsed(const kz_json_request *jr) {
  for (int i = 0; i < jr->req.n_inputs; ++i) {
    const kz_infer_tensor *t = &jr->req.inputs[i];
    if (!t->name || t->ndim < 1 || t->ndim > KZ_INFER_MAX_DIMS || !t->data)
      kz_fuzz_fail("input %d: no name, data or a bad rank %d", i, t->ndim);
    int64_t n = 1;
    for (int d = 0; d < t->ndim; ++d) {
      if (t->shape[d] < 0 || __builtin_mul_overflow(n, t->shape[d], &n))
        kz_fuzz_fail("input '%s': shape[%d] = %lld accepted", t->name, d, (long long)t->shape[d]);
    }
    /* touching every element: ASan reports a buffer shorter than the shape */
    volatile size_t sink = 0;
    for (int64_t k = 0; k < n; ++k) {
      if (t->datatype == KZ_TYPE_BYTES) {
        const char *s = ((const char *const *)t->data)[k];
        sink += s ? strlen(s) : 0;
      } else if (t->datatype == KZ_TYPE_BOOL) {
        sink += ((const uint8_t *)t->data)[k];
      } else if (t->datatype == KZ_TYPE_FP32 || t->datatype == KZ_TYPE_INT32) {
        sink += ((const uint32_t *)t->data)[k] & 1;
      } else {
        sink += ((const uint64_t *)t->data)[k] & 1;
      }
    }
    (void)sink;
  }
}

static void check_answer(const kz_infer_response *r) {
  int n_out = kz_infer_response_output_count(r);
  if (n_out < 1) kz_fuzz_fail("an answered request has no output");
  char *body = kz_json_response_body(r);
  if (!body) kz_fuzz_fail("no response body");
  json_error_t err;
  json_t *j = json_loads(body, 0, &err);
  json_t *outs = json_object_get(j, "outputs");
  if ((int)json_array_size(outs) != n_out)
    kz_fuzz_fail("the response JSON does not parse back: %s", body);
  for (int k = 0; k < n_out; ++k) {
    kz_infer_tensor t;
    if (kz_infer_response_output(r, k, &t) != KZ_OK) kz_fuzz_fail("output %d missing", k);
    json_t *data = json_object_get(json_array_get(outs, (size_t)k), "data");
    if ((int64_t)json_array_size(data) != t.shape[0]) kz_fuzz_fail("output %d: rows differ", k);
    for (int64_t i = 0; i < t.shape[0]; ++i) {
      double want = ((const double *)t.data)[i];
      json_t *v = json_array_get(data, (size_t)i);
      if (json_is_null(v) ? isfinite(want) : json_number_value(v) != want)
        kz_fuzz_fail("output %d row %lld: %.17g written as something else", k, (long long)i, want);
    }
  }
  json_decref(j);
  free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kz_server *s = server();
  kz_json_request jr;
  kz_status st = kz_json_request_parse((const char *)data, size, "m", 0, &jr);
  if (st != KZ_OK) {
    if (!kz_last_error()[0]) kz_fuzz_fail("a body was refused without a message");
    return 0;
  }
  check_parsed(&jr);
  kz_infer_response *resp = NULL;
  st = kz_server_infer(s, &jr.req, &resp);
  kz_json_request_free(&jr);
  if (!kz_fuzz_ok("infer", st)) {
    if (!kz_last_error()[0]) kz_fuzz_fail("a request failed without a message");
    return 0;
  }
  check_answer(resp);
  kz_infer_response_free(resp);
  return 0;
}
