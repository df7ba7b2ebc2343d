/* Histogram building and the subtraction trick (hist.h). */
#include "models/gbdt/hist.h"

#include <omp.h>
#include <string.h>

/* Below this many rows a node is summed on one thread: the reduction over
 * per-thread buffers would cost more than it saves. */
#define KZ_GBDT_PARALLEL_ROWS 4096

static void hist_rows(const uint8_t *codes, int nf, const kz_gbdt_gh *gh, const int32_t *rows,
                      int64_t n, kz_gbdt_gh *out) {
  for (int64_t i = 0; i < n; ++i) {
    int32_t r = rows[i];
    const uint8_t *c = codes + (int64_t)r * nf;
    double g = gh[r].g, h = gh[r].h;
    kz_gbdt_gh *o = out;
    for (int f = 0; f < nf; ++f, o += KZ_GBDT_HIST_BINS) {
      o[c[f]].g += g;
      o[c[f]].h += h;
    }
  }
}

void kz_gbdt_hist_build(const uint8_t *codes, int nf, const kz_gbdt_gh *gh, const int32_t *rows,
                        int64_t n, int threads, kz_gbdt_gh *scratch, kz_gbdt_gh *out) {
  size_t len = (size_t)nf * KZ_GBDT_HIST_BINS;
  if (threads <= 1 || n < KZ_GBDT_PARALLEL_ROWS) {
    memset(out, 0, len * sizeof *out);
    hist_rows(codes, nf, gh, rows, n, out);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    kz_gbdt_gh *mine = scratch + (size_t)t * len;
    memset(mine, 0, len * sizeof *mine);
    int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
    hist_rows(codes, nf, gh, rows + lo, hi - lo, mine);
#pragma omp barrier
    /* Reduce: each thread owns a slice of entries, summed in thread order. */
#pragma omp for schedule(static)
    for (size_t e = 0; e < len; ++e) {
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

void kz_gbdt_hist_subtract(const kz_gbdt_gh *parent, const kz_gbdt_gh *child, int nf,
                           kz_gbdt_gh *out) {
  size_t len = (size_t)nf * KZ_GBDT_HIST_BINS;
  for (size_t e = 0; e < len; ++e) {
    out[e].g = parent[e].g - child[e].g;
    out[e].h = parent[e].h - child[e].h;
  }
}
