/* Quantile cut points and bin codes (binning.h). */
#include "models/gbdt/binning.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/gbdt/rng.h"

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

void kz_gbdt_cuts_free(kz_gbdt_cuts *c) {
  if (!c) return;
  if (c->cuts)
    for (int f = 0; f < c->n_features; ++f) free(c->cuts[f]);
  free(c->cuts);
  free(c->n_bins);
  memset(c, 0, sizeof *c);
}

/* Cuts of one feature from its sorted non-missing sample v[0..m). */
static kz_status cuts_from_sorted(const float *v, int64_t m, int max_bin, float **out,
                                  int32_t *nb) {
  float *cuts = malloc(sizeof(float) * (size_t)(max_bin > 0 ? max_bin : 1));
  if (!cuts) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt binning: out of memory");
  int n = 0;
  int64_t distinct = 0;
  for (int64_t i = 0; i < m; ++i)
    if (i == 0 || v[i] != v[i - 1]) ++distinct;
  if (distinct <= max_bin) {
    /* One bin per distinct value: its upper bound is the next value, so the
     * split threshold between two values is the larger one (as XGBoost). */
    for (int64_t i = 1; i < m; ++i)
      if (v[i] != v[i - 1]) cuts[n++] = v[i];
  } else {
    /* Equal-count quantiles over what is left: after a heavy tied value
     * takes a bin of its own, the remaining bins share the remaining rows. */
    int64_t pos = 0;
    while (pos < m && n < max_bin - 1) {
      int64_t left = max_bin - n;
      int64_t target = pos + (m - pos) / left;
      if (target >= m) break;
      float q = v[target];
      if (q == v[pos]) { /* a tie run: the cut goes just past it */
        int64_t j = target;
        while (j < m && v[j] == v[pos]) ++j;
        if (j >= m) break;
        q = v[j];
      }
      cuts[n++] = q;
      while (pos < m && v[pos] < q) ++pos;
    }
  }
  cuts[n++] = INFINITY; /* the last bin is open above */
  *out = cuts;
  *nb = n;
  return KZ_OK;
}

kz_status kz_gbdt_cuts_build(int64_t n, int n_numeric, const float *num, int n_categorical,
                             const int32_t *n_categories, int max_bin, int64_t sample_rows,
                             uint64_t seed, kz_gbdt_cuts *out) {
  memset(out, 0, sizeof *out);
  if (max_bin < 2 || max_bin > 256)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: max_bin must be in [2, 256], got %d", max_bin);
  if (max_bin > 255) max_bin = 255; /* bin 255 is the missing bin */
  int nf = n_numeric + n_categorical;
  out->n_features = nf;
  out->n_numeric = n_numeric;
  out->n_bins = calloc((size_t)(nf > 0 ? nf : 1), sizeof(int32_t));
  out->cuts = calloc((size_t)(nf > 0 ? nf : 1), sizeof(float *));
  if (!out->n_bins || !out->cuts) {
    kz_gbdt_cuts_free(out);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt binning: out of memory");
  }
  for (int c = 0; c < n_categorical; ++c) {
    if (n_categories[c] > 255) {
      kz_gbdt_cuts_free(out);
      return kz_fail(KZ_ERR_UNSUPPORTED,
                     "gbdt: categorical feature %d has %d categories; at most 255 are supported", c,
                     n_categories[c]);
    }
    out->n_bins[n_numeric + c] = n_categories[c] > 0 ? n_categories[c] : 1;
  }
  if (n_numeric == 0) return KZ_OK;

  /* The sample: all rows, or sample_rows rows drawn without replacement. */
  int64_t m = n;
  int64_t *rows = NULL;
  if (sample_rows > 0 && n > sample_rows) {
    m = sample_rows;
    rows = malloc(sizeof(int64_t) * (size_t)n);
    if (!rows) {
      kz_gbdt_cuts_free(out);
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt binning: out of memory");
    }
    for (int64_t i = 0; i < n; ++i) rows[i] = i;
    kz_gbdt_rng rng;
    kz_gbdt_rng_seed(&rng, seed ^ 0x62696e73ull);
    for (int64_t i = 0; i < m; ++i) { /* partial Fisher-Yates */
      int64_t j = i + (int64_t)(kz_gbdt_rng_next(&rng) % (uint64_t)(n - i));
      int64_t t = rows[i];
      rows[i] = rows[j];
      rows[j] = t;
    }
  }
  float *v = malloc(sizeof(float) * (size_t)(m > 0 ? m : 1));
  if (!v) {
    free(rows);
    kz_gbdt_cuts_free(out);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt binning: out of memory");
  }
  kz_status st = KZ_OK;
  for (int f = 0; f < n_numeric && st == KZ_OK; ++f) {
    int64_t k = 0;
    for (int64_t i = 0; i < m; ++i) {
      float x = num[(rows ? rows[i] : i) * n_numeric + f];
      if (!isnan(x)) v[k++] = x;
    }
    qsort(v, (size_t)k, sizeof(float), cmp_float);
    st = cuts_from_sorted(v, k, max_bin, &out->cuts[f], &out->n_bins[f]);
  }
  free(v);
  free(rows);
  if (st != KZ_OK) kz_gbdt_cuts_free(out);
  return st;
}

uint8_t kz_gbdt_bin_numeric(const kz_gbdt_cuts *c, int f, float x) {
  if (isnan(x)) return KZ_GBDT_MISSING_BIN;
  /* Branchless upper bound (the number of cuts <= x): the bin search is
   * the hot loop of binning, and its branches are unpredictable. */
  const float *cuts = c->cuts[f], *base = cuts;
  int n = c->n_bins[f];
  while (n > 1) {
    int half = n / 2;
    base = base[half] <= x ? base + half : base;
    n -= half;
  }
  int b = (int)(base - cuts) + (*base <= x);
  int last = c->n_bins[f] - 1; /* x = +inf lands in the last bin */
  return (uint8_t)(b < last ? b : last);
}

void kz_gbdt_cuts_apply(const kz_gbdt_cuts *c, int64_t n, const float *num, const int32_t *cat,
                        int threads, uint8_t *codes) {
  int nn = c->n_numeric, nf = c->n_features, nc = nf - nn;
  threads = kz_gbdt_threads(threads);
#pragma omp parallel for schedule(static) num_threads(threads) if (n >= KZ_GBDT_PARALLEL_MIN_ROWS)
  for (int64_t r = 0; r < n; ++r) {
    uint8_t *row = codes + r * nf;
    for (int f = 0; f < nn; ++f) row[f] = kz_gbdt_bin_numeric(c, f, num[r * nn + f]);
    for (int j = 0; j < nc; ++j) {
      int32_t v = cat[r * nc + j];
      row[nn + j] = (v < 0 || v >= c->n_bins[nn + j]) ? KZ_GBDT_MISSING_BIN : (uint8_t)v;
    }
  }
}
