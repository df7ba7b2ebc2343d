/* Gradient histograms: per (feature, bin) sums of gradient and hessian in
 * double, KZ_GBDT_HIST_BINS entries per feature (gbdt_bins.h layout). */
#ifndef KZ_MODELS_GBDT_HIST_H
#define KZ_MODELS_GBDT_HIST_H

#include <stdint.h>

#include "models/gbdt/gbdt_bins.h"

typedef struct kz_gbdt_gh {
  double g, h;
} kz_gbdt_gh;

/* out[nf x 256] = sums over rows[0..n) of gh[row] at codes[row x nf]. Only
 * the bins in use are written: value bins 0 .. n_bins[f]-1 and the missing
 * bin (n_bins NULL: all 256); other entries are left as they were, and no
 * reader looks at them. Large nodes are split into row blocks, one per
 * thread, each summing into its own slice of scratch[threads x nf x 256],
 * then reduced in thread order (so a fixed thread count gives bit-identical
 * sums). threads <= 1 never starts an OpenMP team (scratch may be NULL). */
void kz_gbdt_hist_build(const uint8_t *codes, int nf, const int32_t *n_bins, const kz_gbdt_gh *gh,
                        const int32_t *rows, int64_t n, int threads, kz_gbdt_gh *scratch,
                        kz_gbdt_gh *out);

/* out = parent - child over the bins in use (the sibling's histogram); out
 * may be parent. */
void kz_gbdt_hist_subtract(const kz_gbdt_gh *parent, const kz_gbdt_gh *child, int nf,
                           const int32_t *n_bins, kz_gbdt_gh *out);

#endif
