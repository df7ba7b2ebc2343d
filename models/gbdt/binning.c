/* Quantile cut points and bin codes (binning.h). */
#include "models/gbdt/binning.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/rng.h"

/* Numeric features whose columns are gathered together when binning. */
#define KZ_GBDT_BIN_GROUP 8

/* Sorts v[0..m) (no NaN) ascending with an LSD radix sort on the float bits
 * mapped to unsigned order (negative values flipped whole, positive ones
 * get the sign bit set): three passes of 11 bits, O(m), where qsort's
 * comparisons made binning a visible share of training. -0 sorts before
 * +0; they compare equal, so the cut logic sees one value. tmp: m keys. */
static void sort_floats(float *v, int64_t m, uint32_t *tmp) {
  uint32_t *a = (uint32_t *)v, *b = tmp;
  for (int64_t i = 0; i < m; ++i) {
    uint32_t u = a[i];
    a[i] = u & 0x80000000u ? ~u : u | 0x80000000u;
  }
  for (int pass = 0; pass < 3; ++pass) {
    int shift = 11 * pass;
    int64_t count[2048];
    memset(count, 0, sizeof count);
    for (int64_t i = 0; i < m; ++i) ++count[(a[i] >> shift) & 2047u];
    int64_t sum = 0;
    for (int d = 0; d < 2048; ++d) {
      int64_t c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (int64_t i = 0; i < m; ++i) b[count[(a[i] >> shift) & 2047u]++] = a[i];
    uint32_t *t = a;
    a = b;
    b = t;
  }
  /* three passes: the sorted keys are in tmp (a); back to floats in v */
  uint32_t *out = (uint32_t *)v;
  for (int64_t i = 0; i < m; ++i) {
    uint32_t u = a[i];
    out[i] = u & 0x80000000u ? u & 0x7fffffffu : ~u;
  }
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
  return kz_gbdt_cuts_build_threads(n, n_numeric, num, n_categorical, n_categories, max_bin,
                                    sample_rows, seed, 0, out);
}

kz_status kz_gbdt_cuts_build_threads(int64_t n, int n_numeric, const float *num, int n_categorical,
                                     const int32_t *n_categories, int max_bin, int64_t sample_rows,
                                     uint64_t seed, int threads, kz_gbdt_cuts *out) {
  memset(out, 0, sizeof *out);
  if (max_bin < 2 || max_bin > 256)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: max_bin must be in [2, 256], got %d", max_bin);
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
  /* Features are independent: a group of up to KZ_GBDT_BIN_GROUP per
   * thread at a time, its columns gathered in one pass over the rows (one
   * pass per feature would read every row's cache lines once per feature),
   * each thread with its own buffers: the cuts do not depend on the thread
   * count. */
  int groups = (n_numeric + KZ_GBDT_BIN_GROUP - 1) / KZ_GBDT_BIN_GROUP;
  threads = kz_gbdt_threads(threads);
  if (threads > groups) threads = groups;
  if ((int64_t)m * n_numeric < KZ_GBDT_PARALLEL_MIN_ROWS) threads = 1;
  kz_status st = KZ_OK;
  int oom = 0;
#pragma omp parallel num_threads(threads)
  {
    size_t cap = (size_t)(m > 0 ? m : 1);
    float *v = malloc(sizeof(float) * cap * KZ_GBDT_BIN_GROUP);
    uint32_t *tmp = malloc(sizeof(uint32_t) * cap);
#pragma omp for schedule(dynamic, 1)
    for (int gi = 0; gi < groups; ++gi) {
      if (!v || !tmp) {
#pragma omp atomic write
        oom = 1;
        continue;
      }
      int f0 = gi * KZ_GBDT_BIN_GROUP;
      int ng = n_numeric - f0 < KZ_GBDT_BIN_GROUP ? n_numeric - f0 : KZ_GBDT_BIN_GROUP;
      int64_t k[KZ_GBDT_BIN_GROUP] = {0};
      for (int64_t i = 0; i < m; ++i) {
        const float *row = num + (rows ? rows[i] : i) * n_numeric + f0;
        for (int j = 0; j < ng; ++j)
          if (!isnan(row[j])) v[(size_t)j * cap + (size_t)k[j]++] = row[j];
      }
      for (int j = 0; j < ng; ++j) {
        float *col = v + (size_t)j * cap;
        sort_floats(col, k[j], tmp);
        if (cuts_from_sorted(col, k[j], max_bin, &out->cuts[f0 + j], &out->n_bins[f0 + j]) !=
            KZ_OK) {
#pragma omp atomic write
          oom = 1;
        }
      }
    }
    free(v);
    free(tmp);
  }
  if (oom) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt binning: out of memory");
  free(rows);
  if (st != KZ_OK) kz_gbdt_cuts_free(out);
  return st;
}

uint8_t kz_gbdt_bin_numeric(const kz_gbdt_cuts *c, int f, float x) {
  /* a feature with 256 value bins shares code 255 with its missing values;
   * gbdt_missing.h tells them apart */
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
  kz_gbdt_cuts_apply_stride(c, n, num, cat, threads, c->n_features, codes);
}

void kz_gbdt_cuts_apply_stride(const kz_gbdt_cuts *c, int64_t n, const float *num,
                               const int32_t *cat, int threads, int64_t stride, uint8_t *codes) {
  int nn = c->n_numeric, nf = c->n_features, nc = nf - nn;
  threads = kz_gbdt_threads(threads);
#pragma omp parallel for schedule(static) num_threads(threads) if (n >= KZ_GBDT_PARALLEL_MIN_ROWS)
  for (int64_t r = 0; r < n; ++r) {
    uint8_t *row = codes + r * stride;
    for (int f = 0; f < nn; ++f) row[f] = kz_gbdt_bin_numeric(c, f, num[r * nn + f]);
    for (int j = 0; j < nc; ++j) {
      int32_t v = cat[r * nc + j];
      row[nn + j] = (v < 0 || v >= c->n_bins[nn + j]) ? KZ_GBDT_MISSING_BIN : (uint8_t)v;
    }
  }
}
