/* Histogram building and the subtraction trick (hist.h). */
#include "models/gbdt/hist.h"

#include <omp.h>
#include <string.h>

/* Below this many rows a node is summed on one thread: the reduction over
 * per-thread buffers would cost more than it saves. */
#define KZ_GBDT_PARALLEL_ROWS 4096

/* A (g, h) pair as one 128-bit value: one load-add-store per entry instead
 * of two. may_alias: it views kz_gbdt_gh memory; aligned(8): as the struct. */
typedef double kz_gbdt_v2d __attribute__((vector_size(16), aligned(8), may_alias));

#define KZ_GBDT_PREFETCH_ROWS 16

static void hist_rows(const uint8_t *restrict codes, int nf, const kz_gbdt_gh *restrict gh,
                      const int32_t *restrict rows, int64_t n, kz_gbdt_gh *restrict out) {
  kz_gbdt_v2d *o = (kz_gbdt_v2d *)out;
  for (int64_t i = 0; i < n; ++i) {
    int32_t r = rows[i];
    const uint8_t *c = codes + (int64_t)r * nf;
    if (i + KZ_GBDT_PREFETCH_ROWS < n) {
      /* rows are indices: the hardware prefetcher cannot see them coming */
      int32_t ahead = rows[i + KZ_GBDT_PREFETCH_ROWS];
      __builtin_prefetch(codes + (int64_t)ahead * nf);
      __builtin_prefetch(&gh[ahead]);
    }
    kz_gbdt_v2d v = *(const kz_gbdt_v2d *)&gh[r];
    /* codes are read before any store, so the stores cannot force reloads */
    for (int f = 0; f < nf; ++f) {
      unsigned b = c[f];
      o[(size_t)f * KZ_GBDT_HIST_BINS + b] += v;
    }
  }
}

/* Only the bins a feature uses are touched: value bins 0 .. n_bins[f]-1 and
 * the missing bin (many features have far fewer than 255 values). */
static inline int used_bins(const int32_t *n_bins, int f) {
  return n_bins ? n_bins[f] : KZ_GBDT_MISSING_BIN;
}

static void hist_zero(kz_gbdt_gh *h, int nf, const int32_t *n_bins) {
  for (int f = 0; f < nf; ++f) {
    kz_gbdt_gh *hf = h + (size_t)f * KZ_GBDT_HIST_BINS;
    memset(hf, 0, sizeof *hf * (size_t)used_bins(n_bins, f));
    hf[KZ_GBDT_MISSING_BIN] = (kz_gbdt_gh){0, 0};
  }
}

void kz_gbdt_hist_build(const uint8_t *codes, int nf, const int32_t *n_bins, const kz_gbdt_gh *gh,
                        const int32_t *rows, int64_t n, int threads, kz_gbdt_gh *scratch,
                        kz_gbdt_gh *out) {
  size_t len = (size_t)nf * KZ_GBDT_HIST_BINS;
  if (threads <= 1 || n < KZ_GBDT_PARALLEL_ROWS) {
    hist_zero(out, nf, n_bins);
    hist_rows(codes, nf, gh, rows, n, out);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    kz_gbdt_gh *mine = scratch + (size_t)t * len;
    hist_zero(mine, nf, n_bins);
    int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
    hist_rows(codes, nf, gh, rows + lo, hi - lo, mine);
#pragma omp barrier
    /* Reduce: each thread owns some features, summed in thread order. */
#pragma omp for schedule(static)
    for (int f = 0; f < nf; ++f) {
      int nb = used_bins(n_bins, f);
      for (int b = 0; b <= nb; ++b) {
        size_t e = (size_t)f * KZ_GBDT_HIST_BINS + (size_t)(b < nb ? b : KZ_GBDT_MISSING_BIN);
        double g = 0, h = 0;
        for (int k = 0; k < nt; ++k) {
          g += scratch[(size_t)k * len + e].g;
          h += scratch[(size_t)k * len + e].h;
        }
        out[e].g = g;
        out[e].h = h;
      }
    }
  }
}

void kz_gbdt_hist_subtract(const kz_gbdt_gh *parent, const kz_gbdt_gh *child, int nf,
                           const int32_t *n_bins, kz_gbdt_gh *out) {
  for (int f = 0; f < nf; ++f) {
    int nb = used_bins(n_bins, f);
    size_t base = (size_t)f * KZ_GBDT_HIST_BINS;
    for (int b = 0; b <= nb; ++b) {
      size_t e = base + (size_t)(b < nb ? b : KZ_GBDT_MISSING_BIN);
      out[e].g = parent[e].g - child[e].g;
      out[e].h = parent[e].h - child[e].h;
    }
  }
}
