/* Histogram building and the subtraction trick (hist.h). */
#include "models/gbdt/hist.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"

/* Below this many rows a node is summed on one thread: the reduction over
 * per-thread buffers would cost more than it saves. */
#define KZ_GBDT_PARALLEL_ROWS 4096

/* A (g, h) pair as one 128-bit value: one load-add-store per entry instead
 * of two. may_alias: it views kz_gbdt_gh memory; aligned(8): as the struct. */
typedef double kz_gbdt_v2d __attribute__((vector_size(16), aligned(8), may_alias));

#define KZ_GBDT_PREFETCH_ROWS 16

kz_status kz_gbdt_hist_layout_init(kz_gbdt_hist_layout *l, int nf, const int32_t *n_bins,
                                   int compact) {
  memset(l, 0, sizeof *l);
  size_t m = (size_t)(nf > 0 ? nf : 1);
  l->nf = nf;
  l->off = malloc(sizeof(int32_t) * m);
  l->cap = malloc(sizeof(int32_t) * m);
  l->n_bins = malloc(sizeof(int32_t) * m);
  if (!l->off || !l->cap || !l->n_bins) {
    kz_gbdt_hist_layout_free(l);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory for the histogram layout");
  }
  size_t o = 0;
  for (int f = 0; f < nf; ++f) {
    int nb = n_bins ? n_bins[f] : KZ_GBDT_MISSING_BIN;
    int most = compact ? KZ_GBDT_HIST_BINS : KZ_GBDT_MISSING_BIN;
    if (nb > most) nb = most;
    l->n_bins[f] = nb;
    l->off[f] = (int32_t)o;
    l->cap[f] = compact ? nb : KZ_GBDT_MISSING_BIN;
    o += (size_t)l->cap[f] + 1;
  }
  l->len = o;
  l->stride = nf;
  return KZ_OK;
}

void kz_gbdt_hist_layout_free(kz_gbdt_hist_layout *l) {
  free(l->off);
  free(l->cap);
  free(l->n_bins);
  memset(l, 0, sizeof *l);
}

static void hist_rows(const kz_gbdt_hist_layout *l, const uint8_t *restrict codes,
                      const kz_gbdt_gh *restrict gh, const int32_t *restrict rows, int64_t n,
                      kz_gbdt_gh *restrict out) {
  kz_gbdt_v2d *o = (kz_gbdt_v2d *)out;
  int nf = l->nf;
  int64_t stride = l->stride;
  const int32_t *restrict off = l->off, *restrict cap = l->cap;
  for (int64_t i = 0; i < n; ++i) {
    int32_t r = rows[i];
    const uint8_t *c = codes + (int64_t)r * stride;
    if (i + KZ_GBDT_PREFETCH_ROWS < n) {
      /* rows are indices: the hardware prefetcher cannot see them coming */
      int32_t ahead = rows[i + KZ_GBDT_PREFETCH_ROWS];
      __builtin_prefetch(codes + (int64_t)ahead * stride);
      __builtin_prefetch(&gh[ahead]);
    }
    kz_gbdt_v2d v = *(const kz_gbdt_v2d *)&gh[r];
    /* codes are read before any store, so the stores cannot force reloads */
    for (int f = 0; f < nf; ++f) {
      int32_t b = c[f], cp = cap[f];
      o[off[f] + (b < cp ? b : cp)] += v;
    }
  }
}

/* hist_rows for rows with missing bits: a 256-bin feature's missing rows
 * (code 255, bit set) move one entry up, to its missing bin. The bits sit
 * right after the codes, in the same cache line (mostly); a separate loop
 * so that data without such features pays nothing. */
static void hist_rows_miss(const kz_gbdt_hist_layout *l, const uint8_t *restrict codes,
                           const kz_gbdt_gh *restrict gh, const int32_t *restrict rows, int64_t n,
                           kz_gbdt_gh *restrict out) {
  kz_gbdt_v2d *o = (kz_gbdt_v2d *)out;
  int nf = l->nf;
  int64_t stride = l->stride;
  const int32_t *restrict off = l->off, *restrict cap = l->cap;
  for (int64_t i = 0; i < n; ++i) {
    int32_t r = rows[i];
    const uint8_t *c = codes + (int64_t)r * stride, *bits = c + nf;
    if (i + KZ_GBDT_PREFETCH_ROWS < n) {
      int32_t ahead = rows[i + KZ_GBDT_PREFETCH_ROWS];
      __builtin_prefetch(codes + (int64_t)ahead * stride);
      __builtin_prefetch(&gh[ahead]);
    }
    kz_gbdt_v2d v = *(const kz_gbdt_v2d *)&gh[r];
    for (int f = 0; f < nf; ++f) {
      int32_t b = c[f], cp = cap[f];
      int32_t up = (bits[f >> 3] >> (f & 7)) & 1; /* branch-free */
      o[off[f] + (b < cp ? b : cp) + up] += v;
    }
  }
}

kz_status kz_gbdt_hist_index_build(const kz_gbdt_hist_layout *l, const uint8_t *codes, int64_t n,
                                   int threads, uint16_t **out) {
  *out = NULL;
  if (l->len > (size_t)UINT16_MAX + 1) return KZ_OK;
  int nf = l->nf;
  uint16_t *ix = malloc(sizeof(uint16_t) * (size_t)(n > 0 ? n : 1) * (size_t)(nf > 0 ? nf : 1));
  if (!ix)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory for the histogram index of %lld rows",
                   (long long)n);
  int64_t stride = l->stride;
  const int32_t *off = l->off, *cap = l->cap;
  int miss = l->miss;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && n >= 65536)
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t *c = codes + r * stride, *bits = c + nf;
    uint16_t *o = ix + r * nf;
    for (int f = 0; f < nf; ++f) {
      int32_t b = c[f], up = miss ? (bits[f >> 3] >> (f & 7)) & 1 : 0;
      o[f] = (uint16_t)(off[f] + (b < cap[f] ? b : cap[f]) + up);
    }
  }
  *out = ix;
  return KZ_OK;
}

/* The same sums through the index: the entry numbers are ready, so the
 * loop is a load of the number and one 16-byte add per (row, feature). */
static void hist_rows_index(const kz_gbdt_hist_layout *l, const kz_gbdt_gh *restrict gh,
                            const int32_t *restrict rows, int64_t n, kz_gbdt_gh *restrict out) {
  kz_gbdt_v2d *o = (kz_gbdt_v2d *)out;
  int nf = l->nf;
  const uint16_t *restrict index = l->index;
  for (int64_t i = 0; i < n; ++i) {
    int32_t r = rows[i];
    const uint16_t *e = index + (int64_t)r * nf;
    if (i + KZ_GBDT_PREFETCH_ROWS < n) {
      int32_t ahead = rows[i + KZ_GBDT_PREFETCH_ROWS];
      const char *next = (const char *)(index + (int64_t)ahead * nf);
      __builtin_prefetch(next);
      /* a row of entries may straddle two cache lines */
      __builtin_prefetch(next + sizeof(uint16_t) * (size_t)nf - 1);
      __builtin_prefetch(&gh[ahead]);
    }
    kz_gbdt_v2d v = *(const kz_gbdt_v2d *)&gh[r];
    /* by fours: the loop overhead (counter, compare, branch) was half the
     * instructions of an entry's add */
    int f = 0;
    for (; f + 4 <= nf; f += 4) {
      uint16_t e0 = e[f], e1 = e[f + 1], e2 = e[f + 2], e3 = e[f + 3];
      o[e0] += v;
      o[e1] += v;
      o[e2] += v;
      o[e3] += v;
    }
    for (; f < nf; ++f) o[e[f]] += v;
  }
}

static void hist_sum_rows(const kz_gbdt_hist_layout *l, const uint8_t *codes, const kz_gbdt_gh *gh,
                          const int32_t *rows, int64_t n, kz_gbdt_gh *out) {
  if (l->index)
    hist_rows_index(l, gh, rows, n, out);
  else if (l->miss)
    hist_rows_miss(l, codes, gh, rows, n, out);
  else
    hist_rows(l, codes, gh, rows, n, out);
}

static void hist_zero(const kz_gbdt_hist_layout *l, kz_gbdt_gh *h) {
  for (int f = 0; f < l->nf; ++f) {
    kz_gbdt_gh *hf = h + l->off[f];
    memset(hf, 0, sizeof *hf * (size_t)l->n_bins[f]);
    hf[l->cap[f]] = (kz_gbdt_gh){0, 0};
  }
}

void kz_gbdt_hist_build_layout(const kz_gbdt_hist_layout *l, const uint8_t *codes,
                               const kz_gbdt_gh *gh, const int32_t *rows, int64_t n, int threads,
                               kz_gbdt_gh *scratch, kz_gbdt_gh *out) {
  size_t len = l->len;
  if (threads <= 1 || n < KZ_GBDT_PARALLEL_ROWS) {
    hist_zero(l, out);
    hist_sum_rows(l, codes, gh, rows, n, out);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    kz_gbdt_gh *mine = scratch + (size_t)t * len;
    hist_zero(l, mine);
    int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
    hist_sum_rows(l, codes, gh, rows + lo, hi - lo, mine);
#pragma omp barrier
    /* Reduce: each thread owns some features, summed in thread order. */
#pragma omp for schedule(static)
    for (int f = 0; f < l->nf; ++f) {
      int nb = l->n_bins[f];
      for (int b = 0; b <= nb; ++b) {
        size_t e = (size_t)l->off[f] + (size_t)(b < nb ? b : l->cap[f]);
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

void kz_gbdt_hist_subtract_layout(const kz_gbdt_hist_layout *l, const kz_gbdt_gh *parent,
                                  const kz_gbdt_gh *child, kz_gbdt_gh *out) {
  for (int f = 0; f < l->nf; ++f) {
    int nb = l->n_bins[f];
    for (int b = 0; b <= nb; ++b) {
      size_t e = (size_t)l->off[f] + (size_t)(b < nb ? b : l->cap[f]);
      out[e].g = parent[e].g - child[e].g;
      out[e].h = parent[e].h - child[e].h;
    }
  }
}

/* The shared layout through a temporary layout description. */
void kz_gbdt_hist_build(const uint8_t *codes, int nf, const int32_t *n_bins, const kz_gbdt_gh *gh,
                        const int32_t *rows, int64_t n, int threads, kz_gbdt_gh *scratch,
                        kz_gbdt_gh *out) {
  kz_gbdt_hist_layout l;
  if (kz_gbdt_hist_layout_init(&l, nf, n_bins, 0) != KZ_OK) return;
  kz_gbdt_hist_build_layout(&l, codes, gh, rows, n, threads, scratch, out);
  kz_gbdt_hist_layout_free(&l);
}

void kz_gbdt_hist_subtract(const kz_gbdt_gh *parent, const kz_gbdt_gh *child, int nf,
                           const int32_t *n_bins, kz_gbdt_gh *out) {
  kz_gbdt_hist_layout l;
  if (kz_gbdt_hist_layout_init(&l, nf, n_bins, 0) != KZ_OK) return;
  kz_gbdt_hist_subtract_layout(&l, parent, child, out);
  kz_gbdt_hist_layout_free(&l);
}
