/* Quantile binning of the training features into uint8 codes (gbdt_bins.h).
 * Numeric features get cut points from the training data; categorical
 * features use their category code as the bin. */
#ifndef KZ_MODELS_GBDT_BINNING_H
#define KZ_MODELS_GBDT_BINNING_H

#include <stdint.h>

#include "kaizen.h"
#include "models/gbdt/gbdt_bins.h"

/* The booster's sample size for cut points (the GPU booster must use the
 * same to get the same cuts): exact quantiles of all rows up to this many,
 * of a seeded sample above. The radix sort in binning.c keeps all rows of
 * data sets this size well under a second, and cuts from every row follow
 * the data as XGBoost's sketch over all rows does. */
#define KZ_GBDT_SKETCH_ROWS 4194304

typedef struct kz_gbdt_cuts {
  int32_t n_features, n_numeric;
  int32_t *n_bins; /* value bins per feature (the missing bin not counted), <= 256 */
  float **cuts;    /* numeric: n_bins[f] upper bounds, the last +inf; categorical: NULL */
} kz_gbdt_cuts;

/* Cut points for n rows of num[n x n_numeric]: exact quantiles of at most
 * sample_rows rows (chosen from seed when n is larger), at most max_bin
 * (<= 256, as XGBoost: missing values are not a bin) value bins; a feature
 * with few distinct values gets one bin per value. A numeric feature with
 * 256 value bins shares code 255 between its last bin and missing values
 * (gbdt_missing.h); callers that cannot tell them apart pass max_bin <= 255.
 * Categorical features get n_categories[c] bins (error above 255). */
kz_status kz_gbdt_cuts_build(int64_t n, int n_numeric, const float *num, int n_categorical,
                             const int32_t *n_categories, int max_bin, int64_t sample_rows,
                             uint64_t seed, kz_gbdt_cuts *out);
/* The same with a thread count (0: OpenMP's default); the cuts do not
 * depend on it. */
kz_status kz_gbdt_cuts_build_threads(int64_t n, int n_numeric, const float *num, int n_categorical,
                                     const int32_t *n_categories, int max_bin, int64_t sample_rows,
                                     uint64_t seed, int threads, kz_gbdt_cuts *out);
void kz_gbdt_cuts_free(kz_gbdt_cuts *c);

/* The bin of a numeric value: the first cut above x; NaN -> missing bin
 * (the same code as value bin 255 of a 256-bin feature). */
uint8_t kz_gbdt_bin_numeric(const kz_gbdt_cuts *c, int f, float x);

/* codes[n x n_features] for the rows (threads: 0 = OpenMP default). Category
 * codes outside the dictionary (or -1) become the missing bin. */
void kz_gbdt_cuts_apply(const kz_gbdt_cuts *c, int64_t n, const float *num, const int32_t *cat,
                        int threads, uint8_t *codes);
/* The same with rows stride bytes apart (>= n_features; the bytes past the
 * codes are left alone: gbdt_missing.h puts its bits there). */
void kz_gbdt_cuts_apply_stride(const kz_gbdt_cuts *c, int64_t n, const float *num,
                               const int32_t *cat, int threads, int64_t stride, uint8_t *codes);

#endif
