/* libFuzzer harness: the neural model file (.kzm: models/nn_file.c for the
 * container, nn_registry.c and the model's meta reader for what is inside),
 * then scoring raw cells through kz_predictor. The checksum is fixed up
 * first (fuzz_util.h) so mutations reach the sizes, the meta JSON and the
 * parameters. Properties: a model that loads saves and loads back with the
 * same meta and bit-identical parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "models/nn_model.h"
#include "predict_walk.h"

static const kz_device cpu = {KZ_DEVICE_CPU, 0};

static void destroy(kz_nn_model *m) {
  if (m) kz_nn_base(m)->ops->destroy(m);
}

static void round_trip(kz_nn_model *m) {
  char rt[512];
  snprintf(rt, sizeof rt, "%s/round-trip.kzm", kz_fuzz_dir());
  if (kz_nn_model_save(m, rt) != KZ_OK) return;
  kz_nn_model *back = NULL;
  if (kz_nn_model_load(rt, cpu, &back) != KZ_OK)
    kz_fuzz_fail("a saved model does not load back: %s", kz_last_error());
  char *meta_a = NULL, *meta_b = NULL;
  if (kz_nn_model_meta(m, &meta_a) == KZ_OK && kz_nn_model_meta(back, &meta_b) == KZ_OK &&
      strcmp(meta_a, meta_b) != 0)
    kz_fuzz_fail("a saved model loads back with another meta:\n  %s\n  %s", meta_a, meta_b);
  const kz_nn_model_base *a = kz_nn_base_c(m), *b = kz_nn_base_c(back);
  if (a->info.n_params != b->info.n_params ||
      memcmp(a->params.data, b->params.data, (size_t)a->info.n_params * sizeof(float)) != 0)
    kz_fuzz_fail("a saved model loads back with other parameters");
  free(meta_a);
  free(meta_b);
  destroy(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *fixed = kz_fuzz_fix_checksum(data, size);
  const char *path = kz_fuzz_write("model.kzm", fixed ? fixed : data, size);
  free(fixed);
  kz_nn_model *m = NULL;
  if (!kz_fuzz_ok("load", kz_nn_model_load(path, cpu, &m))) return 0;
  kz_schema s;
  if (kz_nn_model_input_schema(m, &s) == KZ_OK) kz_schema_free(&s);
  round_trip(m);
  destroy(m);
  /* kz_fuzz_write's path buffer was reused by nothing since; score the
   * original file as `kaizen predict` would. */
  kz_fuzz_predict_walk(path);
  return 0;
}
