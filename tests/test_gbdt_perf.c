/* Tests of the CPU GBDT's fast paths (docs/GBDT.md, "Algorithm"): each must
 * compute exactly what the plain version computes.
 *   - the flattened predictor (predict_fast.h) against the per-row walk of
 *     the model's arrays, bit for bit, on random trees with NaN, default
 *     directions, categorical splits, several groups and odd row counts;
 *   - compact histograms against the shared 256-entry layout, and split
 *     finding on both;
 *   - radix-sorted binning against a qsort reference, for any thread count;
 *   - missing-only splits (XGBoost's): found, stored with finite thresholds,
 *     and predicted as trained;
 *   - multi-class trees grown concurrently: the same model for 1 and 2
 *     threads;
 *   - tree growth through the histogram index and the codes by column
 *     against growth on the codes alone: the same nodes and row order;
 *   - split searches run in parallel (with colsample_bynode drawing) against
 *     the serial order: the same tree. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/core/splitmix64.h"
#include "models/gbdt/binning.h"
#include "models/gbdt/booster.h"
#include "models/gbdt/grow.h"
#include "models/gbdt/hist.h"
#include "models/gbdt/predict_fast.h"
#include "models/gbdt/split.h"
#include "models/gbdt/tree_build.h"
#include "tests/test_util.h"

static uint64_t rng_state = 12345;
static uint64_t rnd(void) {
  return kz_splitmix64(&rng_state);
}
static double unit(void) {
  return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0);
}

/* A random full-ish tree: node k's children are 2k+1, 2k+2 while depth
 * allows, some nodes cut short into leaves; categorical splits with
 * probability cat_p when the model has categorical features. */
static void random_tree(kz_gbdt_tree *t, int depth, int nn, int nc, double cat_p) {
  int32_t cap = (1 << (depth + 1)) - 1;
  KZ_CHECK_OK(kz_gbdt_tree_alloc(t, cap, cap * 4));
  int32_t n = 1, cv = 0;
  /* breadth-first: node ids in creation order */
  int32_t *lvl = calloc((size_t)cap, sizeof(int32_t));
  for (int32_t k = 0; k < n; ++k) {
    int leaf = lvl[k] >= depth || (k > 0 && unit() < 0.15);
    t->left[k] = t->right[k] = -1;
    t->feature[k] = -1;
    if (leaf) {
      t->leaf_value[k] = (float)(unit() * 2 - 1);
      continue;
    }
    t->left[k] = n;
    t->right[k] = n + 1;
    lvl[n] = lvl[n + 1] = lvl[k] + 1;
    n += 2;
    t->default_left[k] = (uint8_t)(rnd() & 1);
    if (nc > 0 && unit() < cat_p) {
      int f = (int)(rnd() % (uint64_t)nc);
      t->feature[k] = nn + f;
      t->is_categorical[k] = 1;
      t->cat_begin[k] = cv;
      for (int c = 0; c < 5; ++c)
        if (rnd() & 1) t->cat_values[cv++] = c;
      t->cat_count[k] = cv - t->cat_begin[k];
    } else {
      t->feature[k] = (int32_t)(rnd() % (uint64_t)nn);
      t->threshold[k] = (float)(unit() * 2 - 1);
    }
  }
  t->n_nodes = n;
  t->n_cat_values = cv;
  free(lvl);
}

static void test_predict(int nn, int nc, int K, int n_trees, double cat_p, int64_t rows) {
  kz_gbdt_model *m = calloc(1, sizeof *m);
  m->objective = K > 1 ? KZ_GBDT_MULTI_SOFTPROB : KZ_GBDT_REG_SQUAREDERROR;
  m->num_group = K;
  m->n_numeric = nn;
  m->n_categorical = nc;
  for (int k = 0; k < K; ++k) m->base_score[k] = 0.25 * k - 0.1;
  m->n_trees = n_trees;
  m->trees = calloc((size_t)n_trees, sizeof *m->trees);
  m->tree_group = calloc((size_t)n_trees, sizeof(int32_t));
  for (int i = 0; i < n_trees; ++i) {
    random_tree(&m->trees[i], 1 + (int)(rnd() % 7), nn, nc, cat_p);
    m->tree_group[i] = i % K;
  }
  float *num = malloc(sizeof(float) * (size_t)(rows * (nn ? nn : 1)));
  int32_t *cat = malloc(sizeof(int32_t) * (size_t)(rows * (nc ? nc : 1)));
  for (int64_t i = 0; i < rows * nn; ++i) {
    double u = unit();
    /* NaN, values equal to thresholds' range ends and ordinary values */
    num[i] = u < 0.1 ? NAN : u < 0.12 ? -INFINITY : (float)(unit() * 2.2 - 1.1);
  }
  for (int64_t i = 0; i < rows * nc; ++i) cat[i] = (int32_t)(rnd() % 7) - 1;
  double *fast = malloc(sizeof(double) * (size_t)(rows * K));
  KZ_CHECK_OK(kz_gbdt_predict_margin(m, rows, num, nc ? cat : NULL, 2, fast));
  int64_t bad = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int k = 0; k < K; ++k) {
      double ref = m->base_score[k];
      for (int i = 0; i < n_trees; ++i) {
        if (m->tree_group[i] != k) continue;
        double a = 0;
        a += kz_gbdt_tree_predict_row(&m->trees[i], num + r * nn, nc ? cat + r * nc : NULL, nn);
        ref += a;
      }
      /* bit for bit: the same doubles summed in the same order */
      if (memcmp(&ref, &fast[r * K + k], sizeof ref) != 0) ++bad;
    }
  KZ_CHECK(bad == 0);
  if (bad)
    fprintf(stderr, "  predict nn=%d nc=%d K=%d: %lld of %lld margins differ\n", nn, nc, K,
            (long long)bad, (long long)(rows * K));
  free(fast);
  free(num);
  free(cat);
  kz_gbdt_model_free(m);
}

/* ---- histograms ------------------------------------------------------------ */

static void test_compact_hist(void) {
  enum { nf = 5 };
  int64_t n = 20000;
  int32_t nb[nf] = {16, 1, 255, 3, 40};
  uint8_t *codes = malloc((size_t)n * nf);
  kz_gbdt_gh *gh = malloc(sizeof(kz_gbdt_gh) * (size_t)n);
  int32_t *rows = malloc(sizeof(int32_t) * (size_t)n);
  int64_t m = 0;
  for (int64_t r = 0; r < n; ++r) {
    for (int f = 0; f < nf; ++f)
      codes[r * nf + f] = unit() < 0.05 ? KZ_GBDT_MISSING_BIN : (uint8_t)(rnd() % (uint64_t)nb[f]);
    gh[r] = (kz_gbdt_gh){unit() * 2 - 1, unit()};
    if (rnd() % 3) rows[m++] = (int32_t)r;
  }
  kz_gbdt_hist_layout l;
  KZ_CHECK_OK(kz_gbdt_hist_layout_init(&l, nf, nb, 1));
  size_t want = 0;
  for (int f = 0; f < nf; ++f) want += (size_t)nb[f] + 1;
  KZ_CHECK(l.len == want);
  size_t wide = (size_t)nf * KZ_GBDT_HIST_BINS;
  kz_gbdt_gh *hw = calloc(wide, sizeof *hw), *hc = calloc(l.len, sizeof *hc),
             *hc2 = calloc(l.len, sizeof *hc2), *scratch = calloc(l.len * 2, sizeof *scratch),
             *sw = calloc(wide * 2, sizeof *sw), *hw2 = calloc(wide, sizeof *hw2);
  for (int threads = 1; threads <= 2; ++threads) {
    kz_gbdt_hist_build(codes, nf, nb, gh, rows, m, threads, sw, hw);
    kz_gbdt_hist_build_layout(&l, codes, gh, rows, m, threads, scratch, hc);
    /* the index path adds the same values in the same order: the same bits */
    uint16_t *index = NULL;
    KZ_CHECK_OK(kz_gbdt_hist_index_build(&l, codes, n, threads, &index));
    KZ_CHECK(index != NULL);
    l.index = index;
    kz_gbdt_hist_build_layout(&l, codes, gh, rows, m, threads, scratch, hc2);
    l.index = NULL;
    free(index);
    KZ_CHECK(memcmp(hc, hc2, sizeof *hc * l.len) == 0);
    int same = 1;
    for (int f = 0; f < nf; ++f)
      for (int b = 0; b <= nb[f]; ++b) {
        const kz_gbdt_gh *x = &hw[f * KZ_GBDT_HIST_BINS + (b < nb[f] ? b : KZ_GBDT_MISSING_BIN)];
        const kz_gbdt_gh *y = &hc[l.off[f] + b];
        if (memcmp(x, y, sizeof *x) != 0) same = 0;
      }
    KZ_CHECK(same);
    /* subtraction: parent (all rows) - child (the sampled rows) */
    int32_t *all = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t r = 0; r < n; ++r) all[r] = (int32_t)r;
    kz_gbdt_hist_build(codes, nf, nb, gh, all, n, threads, sw, hw2);
    kz_gbdt_hist_build_layout(&l, codes, gh, all, n, threads, scratch, hc2);
    kz_gbdt_hist_subtract(hw2, hw, nf, nb, hw2);
    kz_gbdt_hist_subtract_layout(&l, hc2, hc, hc2);
    same = 1;
    for (int f = 0; f < nf; ++f)
      for (int b = 0; b <= nb[f]; ++b)
        if (memcmp(&hw2[f * KZ_GBDT_HIST_BINS + (b < nb[f] ? b : KZ_GBDT_MISSING_BIN)],
                   &hc2[l.off[f] + b], sizeof(kz_gbdt_gh)) != 0)
          same = 0;
    KZ_CHECK(same);
    free(all);
    /* split finding reads both layouts alike */
    float *cv[nf];
    for (int f = 0; f < nf; ++f) {
      cv[f] = malloc(sizeof(float) * (size_t)nb[f]);
      for (int b = 0; b < nb[f]; ++b) cv[f][b] = b + 1 < nb[f] ? (float)b : INFINITY;
    }
    kz_gbdt_cuts cuts = {nf, nf, nb, cv};
    int32_t feats[nf] = {0, 1, 2, 3, 4};
    double G = 0, H = 0;
    for (int64_t i = 0; i < m; ++i) G += gh[rows[i]].g, H += gh[rows[i]].h;
    kz_gbdt_split_params sp = {1.0, 0.0, 1.0, 4};
    kz_gbdt_split s1, s2;
    kz_gbdt_find_split(hw, &cuts, feats, nf, &sp, G, H, &s1);
    kz_gbdt_find_split_layout(hc, &l, &cuts, feats, nf, &sp, G, H, &s2);
    KZ_CHECK(s1.feature >= 0 && s1.feature == s2.feature && s1.bin == s2.bin &&
             s1.default_left == s2.default_left && s1.gain == s2.gain);
    for (int f = 0; f < nf; ++f) free(cv[f]);
  }
  kz_gbdt_hist_layout_free(&l);
  /* past 65536 entries uint16 numbers cannot name them: no index, the code path */
  int32_t wide_bins[300];
  for (int f = 0; f < 300; ++f) wide_bins[f] = 256;
  KZ_CHECK_OK(kz_gbdt_hist_layout_init(&l, 300, wide_bins, 1));
  KZ_CHECK(l.len == 300 * 257);
  uint16_t *none = (uint16_t *)&l;
  KZ_CHECK_OK(kz_gbdt_hist_index_build(&l, codes, 1, 1, &none));
  KZ_CHECK(none == NULL);
  kz_gbdt_hist_layout_free(&l);
  free(hw);
  free(hw2);
  free(hc);
  free(hc2);
  free(scratch);
  free(sw);
  free(codes);
  free(gh);
  free(rows);
}

/* ---- binning ---------------------------------------------------------------- */

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static void test_radix_binning(void) {
  int64_t n = 30000;
  enum { nf = 4 };
  float *x = malloc(sizeof(float) * (size_t)n * nf);
  for (int64_t r = 0; r < n; ++r) {
    x[r * nf + 0] = (float)(unit() * 2e6 - 1e6);                 /* wide, signed */
    x[r * nf + 1] = unit() < 0.3 ? 0.0f : (float)(unit() - 0.5); /* heavy tie at 0 */
    if (unit() < 0.05) x[r * nf + 1] = -0.0f;
    x[r * nf + 2] = unit() < 0.1 ? NAN : (float)(rnd() % 40) - 20; /* few values */
    x[r * nf + 3] = unit() < 0.01 ? -INFINITY : unit() < 0.01 ? INFINITY : (float)unit();
  }
  kz_gbdt_cuts c1, c2;
  KZ_CHECK_OK(kz_gbdt_cuts_build_threads(n, nf, x, 0, NULL, 256, 0, 1, 1, &c1));
  KZ_CHECK_OK(kz_gbdt_cuts_build_threads(n, nf, x, 0, NULL, 256, 0, 1, 2, &c2));
  /* reference: every cut is a value of the column (or +inf last), strictly
   * increasing, and bins are equal-count up to ties: check the sorted column
   * against the cut ranks */
  float *v = malloc(sizeof(float) * (size_t)n);
  for (int f = 0; f < nf; ++f) {
    KZ_CHECK(c1.n_bins[f] == c2.n_bins[f]);
    KZ_CHECK(memcmp(c1.cuts[f], c2.cuts[f], sizeof(float) * (size_t)c1.n_bins[f]) == 0);
    int64_t k = 0;
    for (int64_t r = 0; r < n; ++r)
      if (!isnan(x[r * nf + f])) v[k++] = x[r * nf + f];
    qsort(v, (size_t)k, sizeof(float), cmp_float);
    int nb = c1.n_bins[f];
    KZ_CHECK(nb >= 2 && nb <= 256 && isinf(c1.cuts[f][nb - 1]));
    for (int b = 0; b + 1 < nb; ++b) {
      KZ_CHECK(b == 0 || c1.cuts[f][b] > c1.cuts[f][b - 1]);
      float *hit = bsearch(&c1.cuts[f][b], v, (size_t)k, sizeof(float), cmp_float);
      KZ_CHECK(hit != NULL);
    }
  }
  /* the few-values column gets one bin per value */
  KZ_CHECK(c1.n_bins[2] == 40);
  for (int b = 0; b + 1 < 40; ++b) KZ_CHECK(c1.cuts[2][b] == (float)(b - 19));
  /* the wide column: max_bin 256 means 256 value bins (as XGBoost), about
   * n / 256 rows per bin */
  int64_t most = 0, cnt[256] = {0};
  for (int64_t r = 0; r < n; ++r) ++cnt[kz_gbdt_bin_numeric(&c1, 0, x[r * nf])];
  for (int b = 0; b < c1.n_bins[0]; ++b) most = cnt[b] > most ? cnt[b] : most;
  KZ_CHECK(c1.n_bins[0] == 256 && most < 2 * n / 256);
  free(v);
  free(x);
  kz_gbdt_cuts_free(&c1);
  kz_gbdt_cuts_free(&c2);
}

/* ---- training ---------------------------------------------------------------- */

/* The label is whether x0 is missing: only a missing-only split captures
 * it. The split must be stored with a finite threshold and predict the
 * training rows as grown. */
static void test_missing_only_split(void) {
  int64_t n = 4000;
  float *x = malloc(sizeof(float) * (size_t)n * 2), *y = malloc(sizeof(float) * (size_t)n);
  for (int64_t r = 0; r < n; ++r) {
    int miss = unit() < 0.3;
    x[r * 2] = miss ? NAN : (float)unit();
    x[r * 2 + 1] = (float)unit();
    y[r] = miss ? 5.0f : 0.0f;
  }
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  p.num_round = 1;
  p.max_depth = 1;
  p.eta = 1.0;
  p.lambda = 0;
  p.nthread = 1;
  kz_gbdt_data d = {n, 2, 0, x, NULL, NULL, y};
  kz_gbdt_model *m = NULL;
  KZ_CHECK_OK(kz_gbdt_train(&p, &d, NULL, &m));
  if (m) {
    const kz_gbdt_tree *t = &m->trees[0];
    KZ_CHECK(t->n_nodes == 3 && t->feature[0] == 0);
    KZ_CHECK(isfinite(t->threshold[0]) && fabsf(t->threshold[0]) == FLT_MAX);
    double *mg = malloc(sizeof(double) * (size_t)n);
    KZ_CHECK_OK(kz_gbdt_predict_margin(m, n, x, NULL, 1, mg));
    double worst = 0;
    for (int64_t r = 0; r < n; ++r) worst = fmax(worst, fabs(mg[r] - y[r]));
    KZ_CHECK(worst < 1e-5);
    free(mg);
    kz_gbdt_model_free(m);
  }
  free(x);
  free(y);
}

static int same_model(const kz_gbdt_model *a, const kz_gbdt_model *b) {
  if (a->n_trees != b->n_trees) return 0;
  for (int i = 0; i < a->n_trees; ++i) {
    const kz_gbdt_tree *x = &a->trees[i], *y = &b->trees[i];
    size_t n = (size_t)x->n_nodes;
    if (x->n_nodes != y->n_nodes || a->tree_group[i] != b->tree_group[i] ||
        memcmp(x->left, y->left, n * 4) || memcmp(x->feature, y->feature, n * 4) ||
        memcmp(x->threshold, y->threshold, n * 4) || memcmp(x->leaf_value, y->leaf_value, n * 4) ||
        memcmp(x->default_left, y->default_left, n))
      return 0;
  }
  return 1;
}

static void test_class_parallel(void) {
  int64_t n = 3000;
  int K = 5;
  float *x = malloc(sizeof(float) * (size_t)n * 3), *y = malloc(sizeof(float) * (size_t)n);
  for (int64_t r = 0; r < n; ++r) {
    for (int j = 0; j < 3; ++j) x[r * 3 + j] = unit() < 0.05 ? NAN : (float)unit();
    double s = (isnan(x[r * 3]) ? 0.5 : x[r * 3]) * K + 0.3 * unit();
    int c = (int)s;
    y[r] = (float)(c < K ? c : K - 1);
  }
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_MULTI_SOFTPROB;
  p.num_class = K;
  p.num_round = 8;
  p.max_depth = 4;
  p.subsample = 0.8;
  p.colsample_bynode = 0.7;
  kz_gbdt_data d = {n, 3, 0, x, NULL, NULL, y};
  kz_gbdt_model *m1 = NULL, *m2 = NULL, *m2b = NULL;
  p.nthread = 1;
  KZ_CHECK_OK(kz_gbdt_train(&p, &d, NULL, &m1));
  p.nthread = 2;
  KZ_CHECK_OK(kz_gbdt_train(&p, &d, NULL, &m2));
  KZ_CHECK_OK(kz_gbdt_train(&p, &d, NULL, &m2b));
  if (m1 && m2 && m2b) {
    KZ_CHECK(m1->n_trees == p.num_round * K);
    KZ_CHECK(same_model(m1, m2));
    KZ_CHECK(same_model(m2, m2b));
  }
  kz_gbdt_model_free(m1);
  kz_gbdt_model_free(m2);
  kz_gbdt_model_free(m2b);
  free(x);
  free(y);
}

static void test_grower_fast_paths(void) {
  /* enough rows for the parallel partition; a 256-bin feature with missing
   * values (bits), a 10-value one with missing values, a 256-bin one
   * without, and a categorical one with unknown categories */
  int64_t n = 70000;
  enum { nn = 3, nc = 1 };
  float *num = malloc(sizeof(float) * (size_t)n * nn);
  int32_t *cat = malloc(sizeof(int32_t) * (size_t)n), n_cat[1] = {12};
  kz_gbdt_gh *gh = malloc(sizeof(kz_gbdt_gh) * (size_t)n);
  for (int64_t r = 0; r < n; ++r) {
    float *x = num + r * nn;
    x[0] = unit() < 0.03 ? NAN : (float)unit();
    x[1] = unit() < 0.05 ? NAN : (float)(rnd() % 10);
    x[2] = (float)(unit() * 4 - 2);
    cat[r] = (int32_t)(rnd() % 13) - 1;
    double s = (isnan(x[0]) ? 0.8 : x[0]) + 0.2 * (isnan(x[1]) ? 3 : x[1]) * (x[2] > 0) +
               (cat[r] % 3 == 0 ? 0.7 : 0) + 0.3 * unit();
    gh[r] = (kz_gbdt_gh){0.5 - s, 0.1 + 0.2 * unit()};
  }
  kz_gbdt_cuts c;
  KZ_CHECK_OK(kz_gbdt_cuts_build(n, nn, num, nc, n_cat, 256, 0, 1, &c));
  KZ_CHECK(kz_gbdt_feature_full(&c, 0) && kz_gbdt_feature_full(&c, 2));
  KZ_CHECK(kz_gbdt_missing_needed(&c, n, num));
  int nf = c.n_features;
  int64_t stride = nf + kz_gbdt_missing_bytes(nf);
  uint8_t *codes = calloc((size_t)n, (size_t)stride), *cols = NULL;
  kz_gbdt_cuts_apply_stride(&c, n, num, cat, 2, stride, codes);
  kz_gbdt_missing_mark(&c, n, num, 2, stride, codes);
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  p.max_depth = 7;
  p.min_child_weight = 0.5;
  int32_t *rows_a = malloc(sizeof(int32_t) * (size_t)n),
          *rows_b = malloc(sizeof(int32_t) * (size_t)n);
  for (int64_t r = 0; r < n; ++r) rows_a[r] = rows_b[r] = (int32_t)r;
  kz_gbdt_grower a, b;
  KZ_CHECK_OK(kz_gbdt_grower_init(&a, &p, &c, codes, stride, 1, n, 2));
  KZ_CHECK_OK(kz_gbdt_grower_init(&b, &p, &c, codes, stride, 1, n, 2));
  uint16_t *index = NULL;
  KZ_CHECK_OK(kz_gbdt_hist_index_build(&b.layout, codes, n, 2, &index));
  KZ_CHECK_OK(kz_gbdt_columns_build(codes, n, nf, stride, 2, &cols));
  b.layout.index = index;
  b.cols = cols;
  b.n_rows = n;
  kz_gbdt_rng ra, rb;
  kz_gbdt_rng_seed(&ra, 3);
  kz_gbdt_rng_seed(&rb, 3);
  KZ_CHECK_OK(kz_gbdt_grow(&a, gh, rows_a, n, &ra));
  KZ_CHECK_OK(kz_gbdt_grow(&b, gh, rows_b, n, &rb));
  int same = a.n_nodes == b.n_nodes && a.n_nodes > 63, kinds = 0;
  for (int32_t i = 0; same && i < a.n_nodes; ++i) {
    const kz_gbdt_bnode *x = &a.nodes[i], *y = &b.nodes[i];
    same = x->left == y->left && x->right == y->right && x->begin == y->begin && x->end == y->end &&
           !memcmp(&x->g, &y->g, sizeof x->g) && !memcmp(&x->h, &y->h, sizeof x->h) &&
           x->split.feature == y->split.feature && x->split.bin == y->split.bin &&
           x->split.default_left == y->split.default_left;
    if (x->split.feature >= 0) kinds |= 1 << x->split.feature;
  }
  KZ_CHECK(same);
  KZ_CHECK(kinds == 15); /* every kind of feature was split on */
  KZ_CHECK(memcmp(rows_a, rows_b, sizeof(int32_t) * (size_t)n) == 0);
  kz_gbdt_grower_free(&a);
  kz_gbdt_grower_free(&b);
  kz_gbdt_cuts_free(&c);
  free(index);
  free(cols);
  free(codes);
  free(rows_a);
  free(rows_b);
  free(num);
  free(cat);
  free(gh);
}

/* Below 4,096 rows histograms and partitions are serial for any thread
 * count, so 1 and 2 threads differ only in the split searches. */
static void test_parallel_search(void) {
  int64_t n = 3000;
  enum { nf = 6 };
  float *num = malloc(sizeof(float) * (size_t)n * nf);
  kz_gbdt_gh *gh = malloc(sizeof(kz_gbdt_gh) * (size_t)n);
  for (int64_t r = 0; r < n; ++r) {
    float *x = num + r * nf;
    for (int f = 0; f < nf; ++f) x[f] = unit() < 0.04 ? NAN : (float)unit();
    double s =
        (isnan(x[0]) ? 0.3 : x[0]) * (isnan(x[1]) ? 0.5 : x[1]) + (x[2] > 0.6) + 0.2 * unit();
    gh[r] = (kz_gbdt_gh){0.7 - s, 0.25};
  }
  kz_gbdt_cuts c;
  KZ_CHECK_OK(kz_gbdt_cuts_build(n, nf, num, 0, NULL, 64, 0, 1, &c));
  uint8_t *codes = malloc((size_t)n * nf);
  kz_gbdt_cuts_apply(&c, n, num, NULL, 1, codes);
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  p.max_depth = 6;
  p.colsample_bynode = 0.6;
  p.min_child_weight = 0.1;
  kz_gbdt_grower g1, g2;
  KZ_CHECK_OK(kz_gbdt_grower_init(&g1, &p, &c, codes, nf, 0, n, 1));
  KZ_CHECK_OK(kz_gbdt_grower_init(&g2, &p, &c, codes, nf, 0, n, 2));
  int32_t *r1 = malloc(sizeof(int32_t) * (size_t)n), *r2 = malloc(sizeof(int32_t) * (size_t)n);
  for (int tree = 0; tree < 3; ++tree) {
    for (int64_t r = 0; r < n; ++r) r1[r] = r2[r] = (int32_t)r;
    kz_gbdt_rng a, b;
    kz_gbdt_rng_seed(&a, 100 + (uint64_t)tree);
    kz_gbdt_rng_seed(&b, 100 + (uint64_t)tree);
    KZ_CHECK_OK(kz_gbdt_grow(&g1, gh, r1, n, &a));
    KZ_CHECK_OK(kz_gbdt_grow(&g2, gh, r2, n, &b));
    int same = g1.n_nodes == g2.n_nodes && g1.n_nodes > 15;
    for (int32_t i = 0; same && i < g1.n_nodes; ++i)
      same = g1.nodes[i].split.feature == g2.nodes[i].split.feature &&
             g1.nodes[i].split.bin == g2.nodes[i].split.bin &&
             g1.nodes[i].split.gain == g2.nodes[i].split.gain && g1.nodes[i].end == g2.nodes[i].end;
    KZ_CHECK(same);
    KZ_CHECK(kz_gbdt_rng_next(&a) == kz_gbdt_rng_next(&b)); /* the same draws were taken */
  }
  kz_gbdt_grower_free(&g1);
  kz_gbdt_grower_free(&g2);
  kz_gbdt_cuts_free(&c);
  free(codes);
  free(r1);
  free(r2);
  free(num);
  free(gh);
}

int main(void) {
  test_predict(6, 0, 1, 40, 0, 1001);  /* numeric only: every tree flattened */
  test_predict(5, 2, 3, 60, 0.3, 777); /* mixed: categorical trees take the plain walk */
  test_predict(1, 0, 1, 10, 0, 64);    /* one feature, one exact block */
  test_predict(0, 3, 2, 12, 1.0, 130); /* categorical only */
  test_predict(8, 0, 1, 25, 0, 20000); /* enough rows for the parallel path */
  test_predict(4, 1, 2, 30, 0.2, 5);   /* a few rows: no flattening, the plain walk */
  test_compact_hist();
  test_radix_binning();
  test_missing_only_split();
  test_class_parallel();
  test_grower_fast_paths();
  test_parallel_search();
  return KZ_TEST_RESULT();
}
