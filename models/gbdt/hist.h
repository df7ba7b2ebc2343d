/* Gradient histograms: per (feature, bin) sums of gradient and hessian in
 * double, KZ_GBDT_HIST_BINS entries per feature (gbdt_bins.h layout). */
#ifndef KZ_MODELS_GBDT_HIST_H
#define KZ_MODELS_GBDT_HIST_H

#include <stdint.h>

#include "models/gbdt/gbdt_bins.h"

typedef struct kz_gbdt_gh {
  double g, h;
} kz_gbdt_gh;

/* out[nf x 256] = sums over rows[0..n) of gh[row] at codes[row x nf]. Large
 * nodes are split into row blocks, one per thread, each summing into its own
 * slice of scratch[threads x nf x 256], then reduced in thread order (so a
 * fixed thread count gives bit-identical sums). */
void kz_gbdt_hist_build(const uint8_t *codes, int nf, const kz_gbdt_gh *gh, const int32_t *rows,
                        int64_t n, int threads, kz_gbdt_gh *scratch, kz_gbdt_gh *out);

/* out = parent - child, entry by entry (the sibling's histogram); out may be parent. */
void kz_gbdt_hist_subtract(const kz_gbdt_gh *parent, const kz_gbdt_gh *child, int nf,
                           kz_gbdt_gh *out);

#endif
