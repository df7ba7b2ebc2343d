/* Gradient histograms: per (feature, bin) sums of gradient and hessian in
 * double. Two layouts:
 *   - the shared one (gbdt_bins.h): KZ_GBDT_HIST_BINS entries per feature,
 *     the missing bin at 255 (kz_gbdt_hist_build / _subtract below);
 *   - the CPU booster's compact one (kz_gbdt_hist_layout): each feature
 *     takes n_bins[f] + 1 entries, its value bins then its missing bin, so a
 *     16-value feature costs 17 entries instead of 256: histograms shrink,
 *     and features no longer sit 4 KiB apart on the same L1 cache sets. */
#ifndef KZ_MODELS_GBDT_HIST_H
#define KZ_MODELS_GBDT_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"
#include "models/gbdt/gbdt_bins.h"

typedef struct kz_gbdt_gh {
  double g, h;
} kz_gbdt_gh;

/* Where feature f's bins live: value bin b (< n_bins[f]) at entry
 * off[f] + b, the missing bin at off[f] + cap[f]; a code c lands at
 * off[f] + min(c, cap[f]) (value codes are < n_bins[f] <= cap[f]), plus 1
 * where the row's missing bit for f is set (miss): a feature with 256 value
 * bins (compact layout only) has cap 256, so its code 255 is value bin 255
 * unless the bit marks the row missing (gbdt_missing.h). */
typedef struct kz_gbdt_hist_layout {
  int nf;
  size_t len;      /* entries per histogram */
  int32_t *off;    /* [nf] */
  int32_t *cap;    /* [nf]: n_bins[f] (compact) or KZ_GBDT_MISSING_BIN */
  int32_t *n_bins; /* [nf]: value bins in use */
  /* rows of codes are stride bytes apart (init: nf); miss 1: each row's
   * missing bits follow its nf codes (gbdt_missing.h; init: 0). Set by the
   * user of the layout. */
  int64_t stride;
  int miss;
  /* index (optional; kz_gbdt_hist_index_build): each row's nf entry numbers,
   * rows nf entries apart. Builds read it instead of codes and bits: one
   * 2-byte load per (row, feature) instead of the code, the bit and the
   * feature's offset and cap. Set by the user of the layout. */
  const uint16_t *index;
} kz_gbdt_hist_layout;

/* compact 0: the shared 256-entry layout (n_bins NULL: all 255 bins; more
 * than 255 value bins do not fit it and are cut to 255). compact 1: up to
 * 256 value bins per feature. */
kz_status kz_gbdt_hist_layout_init(kz_gbdt_hist_layout *l, int nf, const int32_t *n_bins,
                                   int compact);
void kz_gbdt_hist_layout_free(kz_gbdt_hist_layout *l);

/* The row-major index of codes[n x l->stride] for l->index: entry
 * off[f] + min(code, cap[f]) (+ 1 where l->miss and the row's bit for f is
 * set), the entry the builds add the row to. *out = NULL (and KZ_OK) when
 * the layout has more entries than uint16 numbers; the caller frees *out. */
kz_status kz_gbdt_hist_index_build(const kz_gbdt_hist_layout *l, const uint8_t *codes, int64_t n,
                                   int threads, uint16_t **out);

/* out[l->len] = sums over rows[0..n) of gh[row] at codes[row x nf]. Only
 * the entries of value bins and missing bins are written. Large nodes are
 * split into row blocks, one per thread, each summing into its own slice of
 * scratch[threads x len], then reduced in thread order (so a fixed thread
 * count gives bit-identical sums). threads <= 1 never starts an OpenMP team
 * (scratch may be NULL). */
void kz_gbdt_hist_build_layout(const kz_gbdt_hist_layout *l, const uint8_t *codes,
                               const kz_gbdt_gh *gh, const int32_t *rows, int64_t n, int threads,
                               kz_gbdt_gh *scratch, kz_gbdt_gh *out);
/* out = parent - child over the written entries; out may be parent. */
void kz_gbdt_hist_subtract_layout(const kz_gbdt_hist_layout *l, const kz_gbdt_gh *parent,
                                  const kz_gbdt_gh *child, kz_gbdt_gh *out);

/* The same in the shared layout (out[nf x 256]); n_bins NULL: all 256.
 * They describe the layout in a small allocation; if that fails, out is
 * left unwritten (the booster uses the _layout versions, set up once). */
void kz_gbdt_hist_build(const uint8_t *codes, int nf, const int32_t *n_bins, const kz_gbdt_gh *gh,
                        const int32_t *rows, int64_t n, int threads, kz_gbdt_gh *scratch,
                        kz_gbdt_gh *out);
void kz_gbdt_hist_subtract(const kz_gbdt_gh *parent, const kz_gbdt_gh *child, int nf,
                           const int32_t *n_bins, kz_gbdt_gh *out);

#endif
