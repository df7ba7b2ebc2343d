/* Missing values of features that use all 256 uint8 codes as value bins.
 * A feature with at most 255 value bins marks a missing value with code
 * KZ_GBDT_MISSING_BIN (gbdt_bins.h). max_bin 256 (XGBoost's meaning: up to
 * 256 value bins, missing not a bin) can give a numeric feature 256 value
 * bins; then code 255 is its last value bin and, where the row's missing
 * bit says so, a missing value. The bits ride in the code rows themselves:
 * when needed, a row is n_features codes then kz_gbdt_missing_bytes() bytes
 * of bits (bit f of the row's bit bytes: feature f), so reading them costs
 * no cache line beyond the codes' (28 features: a 32-byte row). Only such
 * "full" features ever have a bit set, and only where their code is 255. */
#ifndef KZ_MODELS_GBDT_GBDT_MISSING_H
#define KZ_MODELS_GBDT_GBDT_MISSING_H

#include <stdint.h>

#include "kaizen.h"
#include "models/gbdt/binning.h"

/* Whether feature f of cuts uses every code as a value bin. */
static inline int kz_gbdt_feature_full(const kz_gbdt_cuts *c, int f) {
  return f < c->n_numeric && c->n_bins[f] > KZ_GBDT_MISSING_BIN;
}

/* Bytes of missing bits after a row's codes. */
static inline int kz_gbdt_missing_bytes(int n_features) {
  return (n_features + 7) / 8;
}

/* Whether some full feature of c has a NaN among n rows of num[n x
 * n_numeric]: only then are the bits needed (so data needing at most 255
 * bins keeps the plain nf-byte rows). */
int kz_gbdt_missing_needed(const kz_gbdt_cuts *c, int64_t n, const float *num);

/* Writes every row's bit bytes at codes[r * stride + n_features ..] (stride
 * >= n_features + kz_gbdt_missing_bytes(n_features)); threads: 0 = OpenMP's
 * default. */
void kz_gbdt_missing_mark(const kz_gbdt_cuts *c, int64_t n, const float *num, int threads,
                          int64_t stride, uint8_t *codes);

/* Feature f's bit in a row's bit bytes. */
static inline int kz_gbdt_missing_has(const uint8_t *bits, int f) {
  return (bits[f >> 3] >> (f & 7)) & 1;
}

#endif
