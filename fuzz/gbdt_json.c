/* libFuzzer harness: the GBDT model file (models/gbdt/gbdt_json.c), then
 * what is done with a model that loads: margins and TreeSHAP over a few rows
 * (the tree walks trust the loader's index and cycle checks), and scoring
 * raw cells through kz_predictor (the input schema and dictionaries).
 * Property: save then load gives a model with bit-identical margins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "models/gbdt/gbdt_json.h"
#include "models/gbdt/gbdt_shap.h"
#include "predict_walk.h"

enum { ROWS = 5 };

/* Rows that take every kind of branch: values below, at and above common
 * thresholds, missing values, and category codes in and out of range. */
static void make_rows(const kz_gbdt_model *m, float **num, int32_t **cat) {
  static const float vals[] = {0.0f, -1.0f, 0.5f, 1e30f, -1e30f, 3.0f, -0.0f};
  size_t nn = (size_t)m->n_numeric, nc = (size_t)m->n_categorical;
  *num = malloc((nn ? nn : 1) * ROWS * sizeof **num);
  *cat = malloc((nc ? nc : 1) * ROWS * sizeof **cat);
  if (!*num || !*cat) abort();
  for (size_t r = 0; r < ROWS; ++r) {
    for (size_t j = 0; j < nn; ++j)
      (*num)[r * nn + j] = (r + j) % 4 == 3 ? __builtin_nanf("") : vals[(r * 3 + j) % 7];
    for (size_t j = 0; j < nc; ++j) {
      int32_t k = m->n_categories ? m->n_categories[j] : 1;
      (*cat)[r * nc + j] = r == 0 ? -1 : (int32_t)((r * 7 + j) % (size_t)(k > 0 ? k : 1));
    }
  }
}

static double *margins(const kz_gbdt_model *m, const float *num, const int32_t *cat) {
  double *out = malloc((size_t)ROWS * (size_t)m->num_group * sizeof *out);
  if (!out) abort();
  if (kz_gbdt_predict_margin(m, ROWS, num, m->n_categorical ? cat : NULL, 1, out) != KZ_OK) {
    free(out);
    return NULL;
  }
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = kz_fuzz_write("model.json", data, size);
  kz_gbdt_model *m = NULL;
  if (!kz_fuzz_ok("load", kz_gbdt_model_load_json(path, &m))) return 0;
  if (kz_gbdt_model_validate(m, "loaded") != KZ_OK)
    kz_fuzz_fail("a model that loaded fails validation: %s", kz_last_error());
  float *num;
  int32_t *cat;
  make_rows(m, &num, &cat);
  double *a = margins(m, num, cat);
  if (a) kz_gbdt_transform(m, ROWS, a);
  size_t nf = (size_t)m->n_numeric + (size_t)m->n_categorical;
  double *phi = malloc(2 * (size_t)m->num_group * (nf + 1) * sizeof *phi);
  if (!phi) abort();
  (void)kz_gbdt_shap(m, 2, num, m->n_categorical ? cat : NULL, 1, phi);
  free(phi);

  /* Round trip through the writer: same margins, to the bit. */
  char rt[512];
  snprintf(rt, sizeof rt, "%s/round-trip.json", kz_fuzz_dir());
  free(a);
  a = margins(m, num, cat);
  if (a && kz_gbdt_model_save_json(m, rt) == KZ_OK) {
    kz_gbdt_model *back = NULL;
    if (kz_gbdt_model_load_json(rt, &back) != KZ_OK)
      kz_fuzz_fail("a saved model does not load back: %s", kz_last_error());
    double *b = margins(back, num, cat);
    if (!b || memcmp(a, b, (size_t)ROWS * (size_t)m->num_group * sizeof *a) != 0)
      kz_fuzz_fail("a saved model loads back with other margins");
    free(b);
    kz_gbdt_model_free(back);
  }
  free(a);
  free(num);
  free(cat);
  kz_gbdt_model_free(m);
  kz_fuzz_predict_walk(path);
  return 0;
}
