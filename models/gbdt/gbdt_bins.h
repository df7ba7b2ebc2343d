/* Quantised features for histogram boosting (docs/GBDT.md), the layout the
 * CPU booster and the CUDA kernels share.
 *   codes: uint8, row-major [n_rows x n_features], features in model order
 *          (numeric then categorical). Value bins are 0 .. n_bins[f]-1,
 *          ordered by value (numeric) or the category code (categorical);
 *          KZ_GBDT_MISSING_BIN marks a missing value. So max_bin <= 255
 *          value bins + the missing bin.
 *   numeric bin b holds values in [cuts[f][b-1], cuts[f][b]) (cuts[f][-1] =
 *          -inf); a split "bin <= b goes left" is the threshold cuts[f][b].
 *   histograms: per (feature, bin) the sums of gradient and hessian, as
 *          KZ_GBDT_HIST_BINS entries per feature, the missing bin last. */
#ifndef KZ_MODELS_GBDT_GBDT_BINS_H
#define KZ_MODELS_GBDT_GBDT_BINS_H

#include <stdint.h>

#define KZ_GBDT_MISSING_BIN 255
#define KZ_GBDT_HIST_BINS 256

#endif
