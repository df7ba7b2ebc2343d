/* The missing bits of full features (gbdt_missing.h). */
#include "models/gbdt/gbdt_missing.h"

#include <math.h>
#include <string.h>

#include "models/gbdt/rng.h"

int kz_gbdt_missing_needed(const kz_gbdt_cuts *c, int64_t n, const float *num) {
  int nn = c->n_numeric, any_full = 0;
  for (int f = 0; f < nn; ++f) any_full |= kz_gbdt_feature_full(c, f);
  if (!any_full) return 0;
  /* stops at the first NaN: cheap when there are missing values */
  for (int64_t r = 0; r < n; ++r)
    for (int f = 0; f < nn; ++f)
      if (kz_gbdt_feature_full(c, f) && isnan(num[r * nn + f])) return 1;
  return 0;
}

void kz_gbdt_missing_mark(const kz_gbdt_cuts *c, int64_t n, const float *num, int threads,
                          int64_t stride, uint8_t *codes) {
  int nn = c->n_numeric, nf = c->n_features, nb = kz_gbdt_missing_bytes(nf);
  threads = kz_gbdt_threads(threads);
#pragma omp parallel for schedule(static) num_threads(threads) if (n >= KZ_GBDT_PARALLEL_MIN_ROWS)
  for (int64_t r = 0; r < n; ++r) {
    uint8_t *bits = codes + r * stride + nf;
    memset(bits, 0, (size_t)nb);
    for (int f = 0; f < nn; ++f)
      if (kz_gbdt_feature_full(c, f) && isnan(num[r * nn + f]))
        bits[f >> 3] |= (uint8_t)(1u << (f & 7));
  }
}
