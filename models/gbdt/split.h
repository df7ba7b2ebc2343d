/* Split finding on a node's histogram: XGBoost's regularised gain with L1
 * (alpha), L2 (lambda) and min_child_weight, a learned default direction for
 * missing values, and categorical splits (one-vs-rest for small
 * dictionaries, gradient-ordered partitions otherwise, as LightGBM). */
#ifndef KZ_MODELS_GBDT_SPLIT_H
#define KZ_MODELS_GBDT_SPLIT_H

#include <stdint.h>

#include "models/gbdt/binning.h"
#include "models/gbdt/hist.h"

typedef struct kz_gbdt_split_params {
  double lambda, alpha, min_child_weight;
  int max_cat_to_onehot;
} kz_gbdt_split_params;

typedef struct kz_gbdt_split {
  int feature; /* -1: no valid split */
  double gain; /* loss reduction: gain(L) + gain(R) - gain(parent) */
  int bin;     /* numeric: value bins <= bin go left */
  int is_cat;  /* categorical: bins in cat_mask go right */
  uint64_t cat_mask[4];
  int default_left; /* where the missing bin goes */
  double gl, hl, gr, hr;
} kz_gbdt_split;

/* sign(G) * max(|G| - alpha, 0)^2 / (H + lambda): the node's score. */
double kz_gbdt_calc_gain(const kz_gbdt_split_params *p, double g, double h);
/* The optimal leaf weight -sign(G) * max(|G| - alpha, 0) / (H + lambda). */
double kz_gbdt_calc_weight(const kz_gbdt_split_params *p, double g, double h);

/* The best split of a node with totals (g, h) over features[0..n_features)
 * of hist (nf x 256 entries). Ties keep the earlier feature / bin, and
 * "missing left" is preferred when both directions score the same. */
void kz_gbdt_find_split(const kz_gbdt_gh *hist, const kz_gbdt_cuts *cuts, const int32_t *features,
                        int n_features, const kz_gbdt_split_params *p, double g, double h,
                        kz_gbdt_split *best);

/* The same on a histogram in layout l (hist.h). */
void kz_gbdt_find_split_layout(const kz_gbdt_gh *hist, const kz_gbdt_hist_layout *l,
                               const kz_gbdt_cuts *cuts, const int32_t *features, int n_features,
                               const kz_gbdt_split_params *p, double g, double h,
                               kz_gbdt_split *best);

static inline int kz_gbdt_mask_has(const uint64_t *mask, int bin) {
  return (int)((mask[bin >> 6] >> (bin & 63)) & 1u);
}

#endif
