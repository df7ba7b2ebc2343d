/* GBDT booster tests (docs/GBDT.md).
 *   test_gbdt unit                 binning, split gain, histograms, determinism,
 *                                  objectives, growth limits, bad configs
 *   test_gbdt job TMP DATA         kz_gbdt_job_train/predict/eval end to end
 *   test_gbdt parity DATA OBJ METRIC PYSCRIPT
 *                                  kaizen vs XGBoost hist on the same split
 *                                  (exit 77 when python3-xgboost is missing) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/config/cfg.h"
#include "engine/predict/predict_job.h"
#include "engine/train/gbdt_data.h"
#include "engine/train/job.h"
#include "kernels/core/error.h"
#include "models/gbdt/binning.h"
#include "models/gbdt/booster.h"
#include "models/gbdt/gbdt_missing.h"
#include "models/gbdt/hist.h"
#include "models/gbdt/metrics.h"
#include "models/gbdt/split.h"
#include "tests/test_util.h"

/* ---- binning ------------------------------------------------------------- */

static void test_binning(void) {
  /* Few distinct values: one bin each, the threshold being the next value. */
  float v[10] = {1, 1, 1, 2, 2, 3, NAN, 4, 5, 5};
  kz_gbdt_cuts c;
  KZ_CHECK_OK(kz_gbdt_cuts_build(10, 1, v, 0, NULL, 256, 0, 1, &c));
  KZ_CHECK(c.n_bins[0] == 5);
  KZ_CHECK(c.cuts[0][0] == 2 && c.cuts[0][3] == 5 && isinf(c.cuts[0][4]));
  KZ_CHECK(kz_gbdt_bin_numeric(&c, 0, 1) == 0);
  KZ_CHECK(kz_gbdt_bin_numeric(&c, 0, 0.5f) == 0);
  KZ_CHECK(kz_gbdt_bin_numeric(&c, 0, 2) == 1);
  KZ_CHECK(kz_gbdt_bin_numeric(&c, 0, 4.5f) == 3);
  KZ_CHECK(kz_gbdt_bin_numeric(&c, 0, 5) == 4);
  KZ_CHECK(kz_gbdt_bin_numeric(&c, 0, 1e9f) == 4);
  KZ_CHECK(kz_gbdt_bin_numeric(&c, 0, NAN) == KZ_GBDT_MISSING_BIN);
  kz_gbdt_cuts_free(&c);

  /* Many distinct values: equal-count quantiles. */
  float *u = malloc(sizeof(float) * 1000);
  for (int i = 0; i < 1000; ++i) u[i] = (float)((i * 7919) % 1000); /* a permutation */
  KZ_CHECK_OK(kz_gbdt_cuts_build(1000, 1, u, 0, NULL, 4, 0, 1, &c));
  KZ_CHECK(c.n_bins[0] == 4);
  KZ_CHECK(c.cuts[0][0] == 250 && c.cuts[0][1] == 500 && c.cuts[0][2] == 750);
  int count[4] = {0};
  for (int i = 0; i < 1000; ++i) count[kz_gbdt_bin_numeric(&c, 0, u[i])]++;
  KZ_CHECK(count[0] == 250 && count[1] == 250 && count[2] == 250 && count[3] == 250);
  kz_gbdt_cuts_free(&c);

  /* Ties: a value holding 90% of the rows gets a bin of its own and the other
   * bins share the rest, rather than every quantile collapsing onto it. */
  for (int i = 0; i < 1000; ++i) u[i] = i < 900 ? 0.0f : (float)(i - 899);
  KZ_CHECK_OK(kz_gbdt_cuts_build(1000, 1, u, 0, NULL, 4, 0, 1, &c));
  KZ_CHECK(c.n_bins[0] == 4);
  KZ_CHECK(c.cuts[0][0] == 1.0f);
  KZ_CHECK(kz_gbdt_bin_numeric(&c, 0, 0) == 0 && kz_gbdt_bin_numeric(&c, 0, 1) == 1);
  KZ_CHECK(kz_gbdt_bin_numeric(&c, 0, 100) == 3);
  kz_gbdt_cuts_free(&c);

  /* Sampling keeps cut points inside the data's range; a column of NaNs has
   * one (empty) value bin. */
  for (int i = 0; i < 1000; ++i) u[i] = i % 3 ? (float)i : NAN;
  KZ_CHECK_OK(kz_gbdt_cuts_build(1000, 1, u, 0, NULL, 16, 100, 7, &c));
  KZ_CHECK(c.n_bins[0] >= 2 && c.n_bins[0] <= 16);
  for (int b = 0; b + 1 < c.n_bins[0]; ++b) KZ_CHECK(c.cuts[0][b] > 0 && c.cuts[0][b] < 1000);
  kz_gbdt_cuts_free(&c);
  for (int i = 0; i < 10; ++i) u[i] = NAN;
  KZ_CHECK_OK(kz_gbdt_cuts_build(10, 1, u, 0, NULL, 16, 0, 7, &c));
  KZ_CHECK(c.n_bins[0] == 1);
  kz_gbdt_cuts_free(&c);

  /* Categorical: codes are bins; -1 and codes past the dictionary are missing. */
  int32_t nc = 3, cats[4] = {0, 2, -1, 5};
  uint8_t codes[4];
  KZ_CHECK_OK(kz_gbdt_cuts_build(4, 0, NULL, 1, &nc, 256, 0, 1, &c));
  kz_gbdt_cuts_apply(&c, 4, NULL, cats, 1, codes);
  KZ_CHECK(codes[0] == 0 && codes[1] == 2 && codes[2] == 255 && codes[3] == 255);
  kz_gbdt_cuts_free(&c);
  nc = 300;
  KZ_CHECK_FAILS(kz_gbdt_cuts_build(4, 0, NULL, 1, &nc, 256, 0, 1, &c), KZ_ERR_UNSUPPORTED,
                 "300 categories");
  free(u);
}

/* ---- split gain ------------------------------------------------------------ */

static double ref_gain(double g, double h, double lambda, double alpha) {
  double t = fabs(g) > alpha ? (g > 0 ? g - alpha : g + alpha) : 0;
  return t * t / (h + lambda);
}

static void test_split_gain(void) {
  /* One numeric feature, 4 value bins and a missing bin. */
  kz_gbdt_gh hist[KZ_GBDT_HIST_BINS];
  memset(hist, 0, sizeof hist);
  double g[4] = {-3.0, -1.5, 2.0, 4.0}, h[4] = {2.0, 1.0, 3.0, 2.5};
  for (int b = 0; b < 4; ++b) hist[b] = (kz_gbdt_gh){g[b], h[b]};
  hist[KZ_GBDT_MISSING_BIN] = (kz_gbdt_gh){3.0, 1.5};
  float cut_vals[4] = {1, 2, 3, INFINITY};
  float *cuts_arr[1] = {cut_vals};
  int32_t nb[1] = {4};
  kz_gbdt_cuts cuts = {1, 1, nb, cuts_arr};
  double lambdas[2] = {1.0, 0.0}, alphas[2] = {0.0, 0.7};
  for (int t = 0; t < 2; ++t) {
    kz_gbdt_split_params sp = {lambdas[t], alphas[t], 0.5, 4};
    double G = 3.0, H = 1.5;
    for (int b = 0; b < 4; ++b) G += g[b], H += h[b];
    /* brute force in double */
    double best = -1;
    int best_bin = -1, best_left = -1;
    for (int dl = 1; dl >= 0; --dl)
      for (int b = 0; b < 3; ++b) {
        double gl = dl ? 3.0 : 0, hl = dl ? 1.5 : 0;
        for (int k = 0; k <= b; ++k) gl += g[k], hl += h[k];
        if (hl < 0.5 || H - hl < 0.5) continue;
        double gain = ref_gain(gl, hl, sp.lambda, sp.alpha) +
                      ref_gain(G - gl, H - hl, sp.lambda, sp.alpha) -
                      ref_gain(G, H, sp.lambda, sp.alpha);
        if (gain > best + 1e-12) best = gain, best_bin = b, best_left = dl;
      }
    kz_gbdt_split s;
    int32_t feat = 0;
    kz_gbdt_find_split(hist, &cuts, &feat, 1, &sp, G, H, &s);
    KZ_CHECK(s.feature == 0);
    KZ_CHECK(fabs(s.gain - best) < 1e-9);
    KZ_CHECK(s.bin == best_bin);
    KZ_CHECK(s.default_left == best_left);
    KZ_CHECK(fabs(kz_gbdt_calc_gain(&sp, G, H) - ref_gain(G, H, sp.lambda, sp.alpha)) < 1e-12);
    /* min_child_weight above every candidate's smaller side: no split */
    sp.min_child_weight = 100;
    kz_gbdt_find_split(hist, &cuts, &feat, 1, &sp, G, H, &s);
    KZ_CHECK(s.feature == -1);
  }
}

/* ---- max_bin 256 ----------------------------------------------------------- */

/* XGBoost's max_bin: up to max_bin value bins, missing values apart. A
 * feature with 256 distinct values (0..255) and missing values gets 256
 * value bins; its histogram keeps value 255 and the missing rows apart; and
 * a one-split tree picks the partition a brute-force search over the raw
 * values picks, for a label step at every one of the 256 boundaries (the
 * last one: all values vs the missing rows). With 255 bins two values would
 * share a bin and one of the boundaries could not be split on. */
#define MB_N 5440
static double mb_gain(double g, double h, double lambda) {
  return g * g / (h + lambda);
}

static void test_max_bin_256(void) {
  float *x = malloc(sizeof(float) * MB_N), *y = malloc(sizeof(float) * MB_N);
  uint8_t *codes = malloc(2 * MB_N); /* a row: its code, then its missing bits */
  kz_gbdt_gh *gh = malloc(sizeof(kz_gbdt_gh) * MB_N);
  int32_t *rows = malloc(sizeof(int32_t) * MB_N);
  int64_t n_miss = 0;
  for (int64_t r = 0; r < MB_N; ++r) {
    x[r] = r % 17 == 3 ? NAN : (float)((r * 37) % 256);
    n_miss += isnan(x[r]);
    gh[r] = (kz_gbdt_gh){(double)((r * 7919) % 1000) / 500.0 - 1.0, 0.5 + (double)(r % 5) / 4.0};
    rows[r] = (int32_t)r;
  }
  kz_gbdt_cuts c, c255;
  KZ_CHECK_OK(kz_gbdt_cuts_build(MB_N, 1, x, 0, NULL, 256, 0, 1, &c));
  KZ_CHECK_OK(kz_gbdt_cuts_build(MB_N, 1, x, 0, NULL, 255, 0, 1, &c255));
  KZ_CHECK(c255.n_bins[0] == 255); /* one bin fewer than values: two values share one */
  KZ_CHECK(c.n_bins[0] == 256 && kz_gbdt_feature_full(&c, 0));
  for (int b = 0; b < 255; ++b) KZ_CHECK(c.cuts[0][b] == (float)(b + 1));
  KZ_CHECK(isinf(c.cuts[0][255]));
  KZ_CHECK(kz_gbdt_missing_needed(&c, MB_N, x) && kz_gbdt_missing_bytes(1) == 1);
  kz_gbdt_cuts_apply_stride(&c, MB_N, x, NULL, 1, 2, codes);
  kz_gbdt_missing_mark(&c, MB_N, x, 1, 2, codes);
  int64_t code255 = 0;
  for (int64_t r = 0; r < MB_N; ++r) {
    code255 += codes[2 * r] == 255;
    KZ_CHECK(kz_gbdt_missing_has(codes + 2 * r + 1, 0) == isnan(x[r]));
  }
  KZ_CHECK(code255 > n_miss); /* value 255 and missing share the code */

  /* histogram: every value bin and the missing bin against the raw values */
  kz_gbdt_hist_layout l;
  KZ_CHECK_OK(kz_gbdt_hist_layout_init(&l, 1, c.n_bins, 1));
  l.stride = 2;
  l.miss = 1;
  KZ_CHECK(l.len == 257);
  kz_gbdt_gh *h1 = calloc(l.len, sizeof *h1), *h2 = calloc(l.len, sizeof *h2),
             *scratch = calloc(l.len * 2, sizeof *scratch);
  kz_gbdt_hist_build_layout(&l, codes, gh, rows, MB_N, 1, NULL, h1);
  kz_gbdt_hist_build_layout(&l, codes, gh, rows, MB_N, 2, scratch, h2);
  double worst = 0, mass_255 = 0;
  for (int b = 0; b <= 256; ++b) {
    double g = 0, h = 0;
    for (int64_t r = 0; r < MB_N; ++r)
      if (b == 256 ? isnan(x[r]) : x[r] == (float)b) g += gh[r].g, h += gh[r].h;
    worst = fmax(worst, fabs(h1[b].g - g) + fabs(h1[b].h - h));
    worst = fmax(worst, fabs(h2[b].g - g) + fabs(h2[b].h - h));
    if (b == 255) mass_255 = h;
  }
  KZ_CHECK(worst < 1e-9);
  KZ_CHECK(mass_255 > 5 && h1[256].h > 100); /* both bins have rows */
  /* through the index (value 255 and missing apart by the bit): the same sums */
  uint16_t *index = NULL;
  KZ_CHECK_OK(kz_gbdt_hist_index_build(&l, codes, MB_N, 2, &index));
  KZ_CHECK(index != NULL);
  l.index = index;
  kz_gbdt_gh *h3 = calloc(l.len, sizeof *h3);
  kz_gbdt_hist_build_layout(&l, codes, gh, rows, MB_N, 1, NULL, h3);
  KZ_CHECK(memcmp(h1, h3, sizeof *h1 * l.len) == 0);
  kz_gbdt_hist_build_layout(&l, codes, gh, rows, MB_N, 2, scratch, h3);
  KZ_CHECK(memcmp(h2, h3, sizeof *h2 * l.len) == 0);
  free(h3);
  free(index);
  free(h1);
  free(h2);
  free(scratch);
  kz_gbdt_hist_layout_free(&l);

  /* one split, a label step before value k (k = 256: values vs missing) */
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  p.num_round = 1;
  p.max_depth = 1;
  p.eta = 1.0;
  p.nthread = 1;
  int mismatches = 0;
  for (int k = 1; k <= 256; ++k) {
    for (int64_t r = 0; r < MB_N; ++r)
      y[r] = isnan(x[r]) ? (k == 256 ? 3.0f : 0.8f)
                         : (x[r] >= (float)k ? 1.0f : 0.0f) + 0.001f * (float)((int)x[r] % 7);
    kz_gbdt_data d = {MB_N, 1, 0, x, NULL, NULL, y};
    kz_gbdt_model *m = NULL;
    KZ_CHECK_OK(kz_gbdt_train(&p, &d, NULL, &m));
    if (!m || m->n_trees != 1 || m->trees[0].feature[0] != 0) {
      ++mismatches;
      kz_gbdt_model_free(m);
      continue;
    }
    /* reference: every threshold t (x < t left; t = 0 or 256: all values
     * one side) with the missing rows on either side, on float sums */
    double base = m->base_score[0], lambda = p.lambda;
    double sv_g[257] = {0}, sv_h[257] = {0}, mg = 0, mh = 0, G = 0, H = 0;
    for (int64_t r = 0; r < MB_N; ++r) {
      double g = base - y[r];
      G += g, H += 1;
      if (isnan(x[r]))
        mg += g, mh += 1;
      else
        sv_g[(int)x[r] + 1] += g, sv_h[(int)x[r] + 1] += 1; /* prefix sums below */
    }
    for (int b = 1; b <= 256; ++b) sv_g[b] += sv_g[b - 1], sv_h[b] += sv_h[b - 1];
    double best = -1;
    int best_t = -1, best_dl = 0;
    for (int t = 0; t <= 256; ++t)
      for (int dl = 0; dl <= 1; ++dl) {
        double gl = sv_g[t] + (dl ? mg : 0), hl = sv_h[t] + (dl ? mh : 0);
        if (hl < 1 || H - hl < 1) continue; /* min_child_weight 1 */
        double gain =
            mb_gain(gl, hl, lambda) + mb_gain(G - gl, H - hl, lambda) - mb_gain(G, H, lambda);
        if (gain > best + 1e-9) best = gain, best_t = t, best_dl = dl;
      }
    /* the model's partition must be the reference's on every row */
    const kz_gbdt_tree *t = &m->trees[0];
    int differ = 0;
    for (int64_t r = 0; r < MB_N; ++r) {
      int model_left = isnan(x[r]) ? t->default_left[0] : x[r] < t->threshold[0];
      int ref_left = isnan(x[r]) ? best_dl : x[r] < (float)best_t;
      differ += model_left != ref_left;
    }
    if (differ || fabs(t->gain[0] - best) > 1e-4 * best) {
      fprintf(stderr,
              "max_bin 256, step at %d: model x < %g (missing %s, gain %g) vs reference x < %d "
              "(%s, %g)\n",
              k, t->threshold[0], t->default_left[0] ? "left" : "right", t->gain[0], best_t,
              best_dl ? "left" : "right", best);
      ++mismatches;
    }
    /* the step itself is where the reference splits */
    KZ_CHECK(k == 256 ? (best_t == 0 || best_t == 256) : best_t == k);
    kz_gbdt_model_free(m);
  }
  KZ_CHECK(mismatches == 0);

  /* the booster's binned traversal (missing bits) agrees with the float
   * traversal of the finished model on a deeper model */
  for (int64_t r = 0; r < MB_N; ++r)
    y[r] = isnan(x[r]) ? 2.0f : (float)((int)x[r] % 11) * 0.1f + (x[r] >= 255 ? 5.0f : 0.0f);
  kz_gbdt_data d = {MB_N, 1, 0, x, NULL, NULL, y};
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  p.num_round = 4;
  p.max_depth = 4;
  p.nthread = 2;
  kz_gbdt_booster *bo = NULL;
  KZ_CHECK_OK(kz_gbdt_booster_create(&p, &d, NULL, &bo));
  double tm[8] = {0}, vm[8];
  int stop = 0;
  while (bo && !stop) KZ_CHECK_OK(kz_gbdt_booster_round(bo, tm, vm, &stop));
  kz_gbdt_model *m = NULL;
  if (bo) KZ_CHECK_OK(kz_gbdt_booster_finish(bo, &m));
  double *pred = malloc(sizeof(double) * MB_N);
  if (m && kz_gbdt_predict_margin(m, MB_N, x, NULL, 1, pred) == KZ_OK) {
    double se = 0;
    for (int64_t r = 0; r < MB_N; ++r) se += (pred[r] - y[r]) * (pred[r] - y[r]);
    double rmse = sqrt(se / MB_N);
    KZ_CHECK(fabs(rmse - tm[0]) < 1e-5);
    KZ_CHECK(rmse < 0.5); /* value 255 (+5) and missing (2) are learnt apart */
  } else {
    KZ_CHECK(0);
  }
  free(pred);
  kz_gbdt_model_free(m);
  kz_gbdt_cuts_free(&c);
  kz_gbdt_cuts_free(&c255);
  free(x);
  free(y);
  free(codes);
  free(gh);
  free(rows);
}

/* Many 256-bin features with missing values (their bits span two bytes of
 * each row): every split of a depth-4 tree has the gain a brute-force
 * search over the raw values' bins finds among the rows reaching it. */
#define MB_TREE_N 20000
#define MB_TREE_NF 12
static void test_max_bin_256_tree(void) {
  float *x = malloc(sizeof(float) * MB_TREE_N * MB_TREE_NF), *y = malloc(sizeof(float) * MB_TREE_N);
  uint64_t s = 7;
  for (int64_t r = 0; r < MB_TREE_N; ++r) {
    double acc = 0;
    for (int f = 0; f < MB_TREE_NF; ++f) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      float v = (float)((double)(s >> 11) / 9007199254740992.0);
      if ((s >> 5) % 100 < 8) v = NAN;
      x[r * MB_TREE_NF + f] = v;
      acc += isnan(v) ? (f % 3 == 0 ? 1.0 : -0.7) : (f % 2 ? 3.0 * v * v : sin(9.0 * v));
    }
    y[r] = (float)acc;
  }
  kz_gbdt_data d = {MB_TREE_N, MB_TREE_NF, 0, x, NULL, NULL, y};
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  p.num_round = 1;
  p.max_depth = 4;
  p.eta = 1.0;
  p.nthread = 2;
  kz_gbdt_model *m = NULL;
  kz_gbdt_cuts c;
  KZ_CHECK_OK(kz_gbdt_train(&p, &d, NULL, &m));
  KZ_CHECK_OK(kz_gbdt_cuts_build(MB_TREE_N, MB_TREE_NF, x, 0, NULL, 256, 0, 1, &c));
  for (int f = 0; f < MB_TREE_NF; ++f) KZ_CHECK(c.n_bins[f] == 256);
  static double hg[MB_TREE_NF][257], hh[MB_TREE_NF][257]; /* bin 256: missing */
  int checked = 0, bad = 0;
  for (int i = 0; m && i < m->trees[0].n_nodes; ++i) {
    const kz_gbdt_tree *t = &m->trees[0];
    if (t->feature[i] < 0) continue;
    memset(hg, 0, sizeof hg);
    memset(hh, 0, sizeof hh);
    double G = 0, H = 0;
    for (int64_t r = 0; r < MB_TREE_N; ++r) {
      const float *row = x + r * MB_TREE_NF;
      int id = 0;
      while (id != i && t->feature[id] >= 0) {
        float v = row[t->feature[id]];
        id = (isnan(v) ? t->default_left[id] : v < t->threshold[id]) ? t->left[id] : t->right[id];
      }
      if (id != i) continue;
      double g = m->base_score[0] - y[r];
      G += g, H += 1;
      for (int f = 0; f < MB_TREE_NF; ++f) {
        int b = isnan(row[f]) ? 256 : kz_gbdt_bin_numeric(&c, f, row[f]);
        hg[f][b] += g, hh[f][b] += 1;
      }
    }
    double best = 0;
    for (int f = 0; f < MB_TREE_NF; ++f) {
      double cg = 0, ch = 0;
      for (int b = -1; b < 256; ++b) { /* values <= b left, missing either side */
        if (b >= 0) cg += hg[f][b], ch += hh[f][b];
        for (int dl = 0; dl <= 1; ++dl) {
          double gl = cg + (dl ? hg[f][256] : 0), hl = ch + (dl ? hh[f][256] : 0);
          if (hl < 1 || H - hl < 1) continue;
          double gain = mb_gain(gl, hl, 1.0) + mb_gain(G - gl, H - hl, 1.0) - mb_gain(G, H, 1.0);
          best = fmax(best, gain);
        }
      }
    }
    ++checked;
    if (!(fabs(t->gain[i] - best) <= 1e-4 * best)) {
      fprintf(stderr, "max_bin 256 tree: node %d gain %g, brute force %g\n", i, t->gain[i], best);
      ++bad;
    }
  }
  KZ_CHECK(checked == 15 && bad == 0);
  kz_gbdt_model_free(m);
  kz_gbdt_cuts_free(&c);
  free(x);
  free(y);
}

/* ---- histograms -------------------------------------------------------------- */

static void test_hist(void) {
  const int nf = 5;
  const int64_t n = 40000; /* above the parallel threshold */
  uint8_t *codes = malloc((size_t)n * nf);
  kz_gbdt_gh *gh = malloc(sizeof(kz_gbdt_gh) * (size_t)n);
  int32_t *all = malloc(sizeof(int32_t) * (size_t)n), *left = malloc(sizeof(int32_t) * (size_t)n),
          *right = malloc(sizeof(int32_t) * (size_t)n);
  size_t len = (size_t)nf * KZ_GBDT_HIST_BINS;
  kz_gbdt_gh *hp = malloc(sizeof(kz_gbdt_gh) * len), *hl = malloc(sizeof(kz_gbdt_gh) * len),
             *hr = malloc(sizeof(kz_gbdt_gh) * len), *hs = malloc(sizeof(kz_gbdt_gh) * len),
             *scratch = malloc(sizeof(kz_gbdt_gh) * len * 4);
  uint64_t s = 12345;
  int64_t nl = 0, nr = 0;
  int32_t used[5] = {39, 39, 39, 39, 39}; /* value bins 0..38, 39 -> missing */
  for (int64_t r = 0; r < n; ++r) {
    for (int f = 0; f < nf; ++f) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      int v = (int)((s >> 33) % 40);
      codes[r * nf + f] = v == 39 ? KZ_GBDT_MISSING_BIN : (uint8_t)v;
    }
    gh[r] =
        (kz_gbdt_gh){(double)((s >> 20) % 1000) / 500.0 - 1.0, (double)((s >> 40) % 100) / 99.0};
    all[r] = (int32_t)r;
    if (codes[r * nf] < 10)
      left[nl++] = (int32_t)r;
    else
      right[nr++] = (int32_t)r;
  }
  kz_gbdt_hist_build(codes, nf, used, gh, all, n, 4, scratch, hp);
  kz_gbdt_hist_build(codes, nf, used, gh, all, n, 1, scratch, hs); /* serial */
  kz_gbdt_hist_build(codes, nf, used, gh, left, nl, 2, scratch, hl);
  kz_gbdt_hist_build(codes, nf, used, gh, right, nr, 1, scratch, hr);
  double worst = 0, worst_par = 0;
  kz_gbdt_hist_subtract(hp, hl, nf, used, hp); /* in place, as the grower does */
  kz_gbdt_gh *hp2 = malloc(sizeof(kz_gbdt_gh) * len);
  kz_gbdt_hist_build(codes, nf, used, gh, all, n, 4, scratch, hp2);
  for (size_t e = 0; e < len; ++e) {
    size_t b = e % KZ_GBDT_HIST_BINS;
    if (b >= 39 && b != KZ_GBDT_MISSING_BIN) continue; /* bins no feature uses: not written */
    worst = fmax(worst, fabs(hp[e].g - hr[e].g) + fabs(hp[e].h - hr[e].h));
    worst_par = fmax(worst_par, fabs(hp2[e].g - hs[e].g) + fabs(hp2[e].h - hs[e].h));
  }
  KZ_CHECK(worst < 1e-9);
  KZ_CHECK(worst_par < 1e-9);
  /* the right child has rows: its histogram is not trivially zero */
  double mass = 0;
  for (int f = 0; f < nf; ++f) {
    for (int b = 0; b < 39; ++b) mass += hr[f * KZ_GBDT_HIST_BINS + b].h;
    mass += hr[f * KZ_GBDT_HIST_BINS + KZ_GBDT_MISSING_BIN].h;
  }
  KZ_CHECK(mass > 1000);
  free(hp2);
  free(codes);
  free(gh);
  free(all);
  free(left);
  free(right);
  free(hp);
  free(hl);
  free(hr);
  free(hs);
  free(scratch);
}

/* ---- synthetic training ------------------------------------------------------ */

typedef struct synth {
  int64_t n;
  float *num, *label;
  int32_t *cat, n_cat[1];
  kz_gbdt_data d;
} synth;

/* 4 numeric features (one with 10% missing) + 1 categorical of 10 codes. */
static void synth_make(synth *s, int64_t n, int kind, uint64_t seed) {
  s->n = n;
  s->num = malloc(sizeof(float) * (size_t)n * 4);
  s->label = malloc(sizeof(float) * (size_t)n);
  s->cat = malloc(sizeof(int32_t) * (size_t)n);
  s->n_cat[0] = 10;
  uint64_t st = seed;
  for (int64_t r = 0; r < n; ++r) {
    float x[4];
    for (int f = 0; f < 4; ++f) {
      st = st * 6364136223846793005ull + 1442695040888963407ull;
      x[f] = (float)((st >> 11) % 100000) / 100000.0f;
    }
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    int32_t c = (int32_t)((st >> 33) % 10);
    double noise = (double)((st >> 13) % 1000) / 1000.0 - 0.5;
    int in_set = c == 2 || c == 5 || c == 7;
    double y = 3 * x[0] + (x[1] > 0.5 ? 2 : 0) + (in_set ? 1.5 : 0) + 0.3 * noise;
    if (kind == 1) y = y > 3.0;                     /* binary */
    if (kind == 2) y = y < 2 ? 0 : y < 3.5 ? 1 : 2; /* 3 classes */
    if (kind == 3) y = floor(exp(0.3 * y));         /* counts */
    if (kind == 4) y = in_set;                      /* categorical only */
    if ((st >> 7) % 10 == 0) x[2] = NAN;
    memcpy(s->num + r * 4, x, sizeof x);
    s->cat[r] = c;
    s->label[r] = (float)y;
  }
  s->d = (kz_gbdt_data){n, 4, 1, s->num, s->cat, s->n_cat, s->label};
}

static void synth_free(synth *s) {
  free(s->num);
  free(s->label);
  free(s->cat);
}

static int trees_equal(const kz_gbdt_model *a, const kz_gbdt_model *b) {
  if (a->n_trees != b->n_trees) return 0;
  for (int i = 0; i < a->n_trees; ++i) {
    const kz_gbdt_tree *x = &a->trees[i], *y = &b->trees[i];
    size_t n = (size_t)x->n_nodes;
    if (x->n_nodes != y->n_nodes || memcmp(x->feature, y->feature, n * 4) ||
        memcmp(x->threshold, y->threshold, n * 4) || memcmp(x->leaf_value, y->leaf_value, n * 4) ||
        memcmp(x->left, y->left, n * 4) || memcmp(x->default_left, y->default_left, n))
      return 0;
  }
  return 1;
}

static double model_metric(const kz_gbdt_model *m, const synth *s, kz_gbdt_metric met) {
  double *mg = malloc(sizeof(double) * (size_t)s->n * (size_t)m->num_group);
  kz_status st = kz_gbdt_predict_margin(m, s->n, s->num, s->cat, 0, mg);
  double v = st == KZ_OK ? kz_gbdt_metric_eval(met, m->objective, m->quantile_alpha, m->num_group,
                                               s->n, mg, s->label)
                         : NAN;
  free(mg);
  return v;
}

static int max_depth_of(const kz_gbdt_tree *t, int id) {
  if (t->left[id] < 0) return 0;
  int a = max_depth_of(t, t->left[id]), b = max_depth_of(t, t->right[id]);
  return 1 + (a > b ? a : b);
}

static void test_training(void) {
  synth tr, va;
  synth_make(&tr, 6000, 0, 1);
  synth_make(&va, 2000, 0, 2);
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  p.num_round = 40;
  p.eta = 0.2;
  p.subsample = 0.8;
  p.colsample_bytree = 0.8;
  p.colsample_bynode = 0.8;
  p.seed = 42;
  p.nthread = 2;
  kz_gbdt_model *a = NULL, *b = NULL, *c = NULL;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, &va.d, &a));
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, &va.d, &b));
  p.seed = 43;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, &va.d, &c));
  if (a && b && c) {
    KZ_CHECK(trees_equal(a, b));  /* same seed: identical model */
    KZ_CHECK(!trees_equal(a, c)); /* the seed drives the sampling */
    KZ_CHECK(a->n_trees == 40);
    double rmse = model_metric(a, &va, KZ_GBDT_M_RMSE);
    /* label std is about 1.3; the noise floor 0.3/sqrt(12) ~ 0.09 */
    KZ_CHECK(rmse < 0.25);
    fprintf(stderr, "squarederror valid rmse %.4f\n", rmse);
  }
  kz_gbdt_model_free(a);
  kz_gbdt_model_free(b);
  kz_gbdt_model_free(c);

  /* The booster's own train metric (binned traversal) equals the metric of
   * the finished model's float traversal: bins and thresholds agree. */
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  p.num_round = 5;
  kz_gbdt_booster *bo;
  KZ_CHECK_OK(kz_gbdt_booster_create(&p, &tr.d, NULL, &bo));
  double tm[8], vm[8];
  int stop = 0;
  while (!stop) KZ_CHECK_OK(kz_gbdt_booster_round(bo, tm, vm, &stop));
  KZ_CHECK(isnan(vm[0]));
  kz_gbdt_model *m;
  KZ_CHECK_OK(kz_gbdt_booster_finish(bo, &m));
  KZ_CHECK(fabs(model_metric(m, &tr, KZ_GBDT_M_RMSE) - tm[0]) < 1e-5);
  kz_gbdt_model_free(m);

  /* Growth limits: depthwise max_depth, lossguide max_leaves. */
  p.max_depth = 3;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, NULL, &m));
  for (int i = 0; i < m->n_trees; ++i) KZ_CHECK(max_depth_of(&m->trees[i], 0) <= 3);
  KZ_CHECK(max_depth_of(&m->trees[0], 0) == 3);
  kz_gbdt_model_free(m);
  p.grow_policy = KZ_GBDT_LOSSGUIDE;
  p.max_depth = 0;
  p.max_leaves = 7;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, NULL, &m));
  for (int i = 0; i < m->n_trees; ++i) KZ_CHECK(m->trees[i].n_nodes == 13); /* 7 leaves */
  kz_gbdt_model_free(m);
  /* gamma prunes: a huge gamma leaves single-leaf trees */
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  p.num_round = 2;
  p.gamma = 1e9;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, NULL, &m));
  KZ_CHECK(m->trees[0].n_nodes == 1);
  kz_gbdt_model_free(m);

  /* Early stopping: keeps best_iteration + 1 rounds. */
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  p.num_round = 500;
  p.eta = 0.5;
  p.max_depth = 8;
  p.min_child_weight = 0;
  p.lambda = 0;
  p.early_stopping_rounds = 5;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, &va.d, &m));
  KZ_CHECK(m->best_iteration >= 0 && m->best_iteration < 200);
  KZ_CHECK(m->n_trees == m->best_iteration + 1);
  kz_gbdt_model_free(m);
  synth_free(&tr);
  synth_free(&va);
}

static void test_objectives(void) {
  /* binary */
  synth tr, va;
  synth_make(&tr, 5000, 1, 3);
  synth_make(&va, 2000, 1, 4);
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_BINARY_LOGISTIC;
  p.num_round = 30;
  kz_gbdt_model *m;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, &va.d, &m));
  double auc = model_metric(m, &va, KZ_GBDT_M_AUC);
  fprintf(stderr, "binary valid auc %.4f\n", auc);
  KZ_CHECK(auc > 0.97);
  kz_gbdt_model_free(m);
  synth_free(&tr);
  synth_free(&va);

  /* multiclass: one tree per class per round */
  synth_make(&tr, 5000, 2, 5);
  synth_make(&va, 2000, 2, 6);
  p.objective = KZ_GBDT_MULTI_SOFTPROB;
  p.num_class = 3;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, &va.d, &m));
  KZ_CHECK(m->n_trees == 90 && m->num_group == 3 && m->tree_group[4] == 1);
  double merr = model_metric(m, &va, KZ_GBDT_M_MERROR);
  fprintf(stderr, "softprob valid merror %.4f\n", merr);
  KZ_CHECK(merr < 0.1);
  kz_gbdt_model_free(m);
  synth_free(&tr);
  synth_free(&va);

  /* quantile: about alpha of the rows lie below the prediction */
  synth_make(&tr, 5000, 0, 7);
  p.objective = KZ_GBDT_REG_QUANTILE;
  p.quantile_alpha = 0.9;
  p.num_round = 60;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, NULL, &m));
  double *mg = malloc(sizeof(double) * 5000);
  KZ_CHECK_OK(kz_gbdt_predict_margin(m, 5000, tr.num, tr.cat, 0, mg));
  int below = 0;
  for (int i = 0; i < 5000; ++i) below += tr.label[i] <= mg[i];
  fprintf(stderr, "quantile 0.9 coverage %.3f\n", below / 5000.0);
  KZ_CHECK(below > 0.85 * 5000 && below < 0.95 * 5000);
  kz_gbdt_model_free(m);
  /* absoluteerror: MAE well below the label's spread */
  p.objective = KZ_GBDT_REG_ABSOLUTEERROR;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, NULL, &m));
  KZ_CHECK(model_metric(m, &tr, KZ_GBDT_M_MAE) < 0.2);
  kz_gbdt_model_free(m);
  free(mg);
  synth_free(&tr);

  /* poisson */
  synth_make(&tr, 5000, 3, 8);
  p.objective = KZ_GBDT_COUNT_POISSON;
  p.num_round = 60;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, NULL, &m));
  double base_rmse = 0, mean = 0;
  for (int i = 0; i < 5000; ++i) mean += tr.label[i] / 5000.0;
  for (int i = 0; i < 5000; ++i) base_rmse += (tr.label[i] - mean) * (tr.label[i] - mean) / 5000.0;
  KZ_CHECK(model_metric(m, &tr, KZ_GBDT_M_RMSE) < 0.8 * sqrt(base_rmse));
  kz_gbdt_model_free(m);
  synth_free(&tr);

  /* categorical partition: the first split isolates codes {2, 5, 7} */
  synth_make(&tr, 3000, 4, 9);
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  p.num_round = 1;
  KZ_CHECK_OK(kz_gbdt_train(&p, &tr.d, NULL, &m));
  const kz_gbdt_tree *t = &m->trees[0];
  KZ_CHECK(t->feature[0] == 4 && t->is_categorical[0]);
  int32_t want[3] = {2, 5, 7}, other[7] = {0, 1, 3, 4, 6, 8, 9};
  int ok_set = t->cat_count[0] == 3 && !memcmp(t->cat_values + t->cat_begin[0], want, 12);
  int ok_comp = t->cat_count[0] == 7 && !memcmp(t->cat_values + t->cat_begin[0], other, 28);
  KZ_CHECK(ok_set || ok_comp);
  kz_gbdt_model_free(m);
  synth_free(&tr);
}

/* ---- bad configs --------------------------------------------------------------- */

static kz_status params_from_yaml(const char *yaml, kz_gbdt_params *p) {
  kz_cfg *cfg;
  KZ_TRY(kz_cfg_load_string(yaml, "job.yaml", &cfg));
  kz_status st = kz_gbdt_params_from_cfg(kz_cfg_section(cfg, "model"), p);
  kz_cfg_free(cfg);
  return st;
}

static void test_bad_config(void) {
  kz_gbdt_params p;
  KZ_CHECK_OK(
      params_from_yaml("model:\n  type: gbdt\n  eta: 0.1\n  eval_metric: auc,logloss\n", &p));
  KZ_CHECK(p.eta == 0.1 && p.n_metrics == 2 && p.metrics[1] == KZ_GBDT_M_LOGLOSS);
  KZ_CHECK(p.objective == -1 && p.num_round == 100 && p.max_depth == 6);
  KZ_CHECK_OK(params_from_yaml("model:\n  eval_metric: [rmse, mae]\n", &p));
  KZ_CHECK(p.n_metrics == 2 && p.metrics[0] == KZ_GBDT_M_RMSE && p.metrics[1] == KZ_GBDT_M_MAE);
  KZ_CHECK_FAILS(params_from_yaml("model:\n  eval_metric: [rmse, {a: 1}]\n", &p), KZ_ERR_FORMAT,
                 "job.yaml:2: model.eval_metric");
  /* the getters' errors name file, line and key */
  KZ_CHECK_FAILS(params_from_yaml("model:\n  eta: -1\n", &p), KZ_ERR_FORMAT,
                 "job.yaml:2: model.eta");
  KZ_CHECK_FAILS(params_from_yaml("model:\n  objective: reg:foo\n", &p), KZ_ERR_FORMAT,
                 "objective");
  KZ_CHECK_FAILS(params_from_yaml("model:\n  eval_metric: accurracy\n", &p), KZ_ERR_INVALID_ARG,
                 "unknown metric 'accurracy'");
  /* the common vocabulary, with XGBoost's multi-class names as aliases */
  KZ_CHECK_OK(params_from_yaml("model:\n  eval_metric: [accuracy, mlogloss, merror]\n", &p));
  KZ_CHECK(p.n_metrics == 3 && p.metrics[0] == KZ_METRIC_ACCURACY &&
           p.metrics[1] == KZ_METRIC_LOGLOSS && p.metrics[2] == KZ_METRIC_ERROR);
  KZ_CHECK_FAILS(params_from_yaml("model:\n  max_depth: 0\n", &p), KZ_ERR_INVALID_ARG, "max_depth");
  KZ_CHECK_FAILS(params_from_yaml("model:\n  max_bin: 1000\n", &p), KZ_ERR_FORMAT, "max_bin");
  KZ_CHECK_FAILS(params_from_yaml("model:\n  subsample: 0\n", &p), KZ_ERR_FORMAT, "subsample");
  KZ_CHECK_FAILS(params_from_yaml("model:\n  grow_policy: best\n", &p), KZ_ERR_FORMAT,
                 "grow_policy");
  /* a metric that does not fit the objective, and bad labels */
  synth tr;
  synth_make(&tr, 100, 0, 1);
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  p.n_metrics = 1;
  p.metrics[0] = KZ_GBDT_M_AUC;
  kz_gbdt_booster *b = NULL;
  KZ_CHECK_FAILS(kz_gbdt_booster_create(&p, &tr.d, NULL, &b), KZ_ERR_INVALID_ARG,
                 "auc does not apply");
  p.n_metrics = 0;
  p.objective = KZ_GBDT_BINARY_LOGISTIC;
  KZ_CHECK_FAILS(kz_gbdt_booster_create(&p, &tr.d, NULL, &b), KZ_ERR_INVALID_ARG, "row 0");
  tr.label[3] = NAN;
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  KZ_CHECK_FAILS(kz_gbdt_booster_create(&p, &tr.d, NULL, &b), KZ_ERR_INVALID_ARG,
                 "row 3: the label is missing");
  synth_free(&tr);
}

/* ---- the job --------------------------------------------------------------- */

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static kz_status run_job(const char *yaml) {
  kz_cfg *cfg;
  KZ_TRY(kz_cfg_load_string(yaml, "job.yaml", &cfg));
  kz_job_cli cli = {.quiet = 1};
  kz_status st = kz_gbdt_job_train(cfg, &cli);
  kz_cfg_free(cfg);
  return st;
}

static int test_job(const char *tmp, const char *data) {
  char yaml[4096], path[4096];
  const char *fmt = "model:\n  type: gbdt\n  num_round: 20\n  eta: 0.2\n%s"
                    "data:\n  train: %s\ntrain:\n  seed: 3\n  threads: 2\n"
                    "output:\n  runs_dir: %s\n  experiment: gbdt\n  run_id: %s\n";
  snprintf(yaml, sizeof yaml, fmt, "  eval_metric: logloss,auc\n  early_stopping_rounds: 50\n",
           data, tmp, "ok");
  kz_status st = run_job(yaml);
  KZ_CHECK_OK(st);
  if (st != KZ_OK) return KZ_TEST_RESULT();
  const char *files[] = {"model.json", "metrics.csv", "summary.json", "config.yaml", "params.json"};
  for (int i = 0; i < 5; ++i) {
    snprintf(path, sizeof path, "%s/gbdt/ok/%s", tmp, files[i]);
    KZ_CHECK(exists(path));
  }
  /* metrics.csv: header + 20 rounds */
  snprintf(path, sizeof path, "%s/gbdt/ok/metrics.csv", tmp);
  FILE *f = fopen(path, "r");
  int lines = 0;
  char line[1024];
  if (f) {
    while (fgets(line, sizeof line, f)) ++lines;
    fclose(f);
  }
  KZ_CHECK(lines == 21);

  /* predict and eval on the whole data set */
  char model[4096], out[4096];
  snprintf(model, sizeof model, "%s/gbdt/ok/model.json", tmp);
  snprintf(out, sizeof out, "%s/pred.csv", tmp);
  kz_predict_request req = {.model = model, .data = data, .out = out, .quiet = 1};
  KZ_CHECK_OK(kz_predict_job(&req));
  f = fopen(out, "r");
  lines = 0;
  int header_ok = 0;
  if (f) {
    if (fgets(line, sizeof line, f)) header_ok = !strcmp(line, "row,p_pos\n");
    lines = 1;
    while (fgets(line, sizeof line, f)) {
      const char *comma = strchr(line, ',');
      double v = comma ? atof(comma + 1) : -1;
      KZ_CHECK(v > 0 && v < 1 && atoi(line) == lines - 1);
      ++lines;
    }
    fclose(f);
  }
  KZ_CHECK(header_ok);
  KZ_CHECK(lines == 769);
  char buf[4096] = {0};
  FILE *mem = fmemopen(buf, sizeof buf - 1, "w");
  KZ_CHECK_OK(kz_eval_job(&(kz_predict_request){.model = model, .data = data, .quiet = 1}, mem));
  fclose(mem);
  KZ_CHECK(strstr(buf, "auc 0.") && strstr(buf, "logloss 0."));
  mem = fmemopen(buf, sizeof buf - 1, "w");
  KZ_CHECK_OK(
      kz_eval_job(&(kz_predict_request){.model = model, .data = data, .json = 1, .quiet = 1}, mem));
  fclose(mem);
  KZ_CHECK(strstr(buf, "\"type\":\"gbdt\",\"rows\":768,\"logloss\":"));

  /* bad configs: the error names the key, and no run directory appears */
  struct {
    const char *extra, *id, *needle;
  } bad[] = {
      {"  etaa: 0.1\n", "bad1", "model.etaa"},
      {"  objective: reg:squarederror\n", "bad2", "needs a numeric label"},
      {"  eval_metric: poisson-nloglik\n", "bad3", "poisson-nloglik does not apply"},
      {"  num_class: 5\n  objective: multi:softprob\n", "bad4", "num_class"},
      {"  max_bin: 0\n", "bad5", "max_bin"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    snprintf(yaml, sizeof yaml, fmt, bad[i].extra, data, tmp, bad[i].id);
    st = run_job(yaml);
    KZ_CHECK(st != KZ_OK && strstr(kz_last_error(), bad[i].needle));
    if (st == KZ_OK || !strstr(kz_last_error(), bad[i].needle))
      fprintf(stderr, "bad config %zu: got %s\n", i, kz_last_error());
    snprintf(path, sizeof path, "%s/gbdt/%s", tmp, bad[i].id);
    KZ_CHECK(!exists(path));
  }
  snprintf(yaml, sizeof yaml, fmt, "", "/nonexistent/data", tmp, "bad6");
  KZ_CHECK(run_job(yaml) != KZ_OK && strstr(kz_last_error(), "data.train"));
  snprintf(path, sizeof path, "%s/gbdt/bad6", tmp);
  KZ_CHECK(!exists(path));
  req.device = "cuda:99";
  req.overwrite = 1;
  KZ_CHECK_FAILS(kz_predict_job(&req), KZ_ERR_UNSUPPORTED, "CPU");
  return KZ_TEST_RESULT();
}

/* ---- XGBoost parity ------------------------------------------------------------ */

/* Reads "key": value from a one-line JSON object. */
static int json_number(const char *s, const char *key, double *v) {
  char pat[128];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = strstr(s, pat);
  if (!p) return 0;
  *v = atof(p + strlen(pat));
  return 1;
}

static int test_parity(const char *data, const char *objective, const char *metric,
                       const char *script) {
  kz_gbdt_table tr, va;
  KZ_CHECK_OK(kz_gbdt_table_open(data, "train", "train", &tr));
  KZ_CHECK_OK(kz_gbdt_table_open(data, "valid", "valid", &va));
  if (kz_test_failures) return KZ_TEST_RESULT();
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  p.objective = !strcmp(objective, "binary:logistic")  ? KZ_GBDT_BINARY_LOGISTIC
                : !strcmp(objective, "multi:softprob") ? KZ_GBDT_MULTI_SOFTPROB
                                                       : KZ_GBDT_REG_SQUAREDERROR;
  p.num_class = tr.label_col ? tr.label_col->n_categories : 0;
  p.num_round = 100;
  p.eta = 0.1;
  p.nthread = 2;
  kz_gbdt_data td = {tr.n,   tr.n_numeric,    tr.n_categorical, tr.num,
                     tr.cat, tr.n_categories, tr.label};
  kz_gbdt_data vd = {va.n,   va.n_numeric,    va.n_categorical, va.num,
                     va.cat, va.n_categories, va.label};
  kz_gbdt_model *m = NULL;
  KZ_CHECK_OK(kz_gbdt_train(&p, &td, &vd, &m));
  if (!m) return KZ_TEST_RESULT();
  double *mg = malloc(sizeof(double) * (size_t)va.n * (size_t)m->num_group);
  KZ_CHECK_OK(kz_gbdt_predict_margin(m, va.n, va.num, va.cat, 2, mg));
  kz_gbdt_metric met = !strcmp(metric, "auc")      ? KZ_GBDT_M_AUC
                       : !strcmp(metric, "merror") ? KZ_GBDT_M_MERROR
                                                   : KZ_GBDT_M_RMSE;
  double ours = kz_gbdt_metric_eval(met, m->objective, 0.5, m->num_group, va.n, mg, va.label);
  free(mg);
  kz_gbdt_model_free(m);
  kz_gbdt_table_close(&tr);
  kz_gbdt_table_close(&va);

  char cmd[8192], out[4096] = {0};
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 %s --data %s --objective %s --metric %s --rounds 100 --eta 0.1 "
           "--max-depth 6 --max-bin 256 --nthread 2",
           script, data, objective, metric);
  FILE *pp = popen(cmd, "r");
  if (!pp) {
    fprintf(stderr, "cannot run %s\n", cmd);
    return 1;
  }
  size_t got = fread(out, 1, sizeof out - 1, pp);
  out[got] = 0;
  int rc = pclose(pp);
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
    fprintf(stderr, "skipped: python3-xgboost is not installed\n");
    return 77;
  }
  double ref;
  char key[64];
  snprintf(key, sizeof key, "valid-%s", metric);
  if (rc != 0 || !json_number(out, key, &ref)) {
    fprintf(stderr, "reference failed (rc %d): %s\n", rc, out);
    return 1;
  }
  fprintf(stderr, "%s %s: kaizen %.5f xgboost %.5f\n", data, metric, ours, ref);
  if (met == KZ_GBDT_M_AUC)
    KZ_CHECK(ours >= ref - 0.005); /* within half a point, or better */
  else if (met == KZ_GBDT_M_MERROR)
    KZ_CHECK(ours <= ref + 0.005);
  else
    KZ_CHECK(ours <= ref * 1.02); /* RMSE within 2% */
  return KZ_TEST_RESULT();
}

/* Early stopping on a small, noisy training set that a fast learner
 * overfits: training stops early_stopping_rounds after the best valid round
 * (the first minimum of the last metric), and the model keeps the trees up
 * to it, whose valid metric is the best one recorded. */
static void test_early_stopping(void) {
  synth tr, va;
  synth_make(&tr, 300, 1, 11);
  synth_make(&va, 3000, 1, 12);
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  p.objective = KZ_GBDT_BINARY_LOGISTIC;
  p.num_round = 200;
  p.eta = 0.8;
  p.max_depth = 6;
  p.min_child_weight = 0.01;
  p.early_stopping_rounds = 3;
  p.n_metrics = 2;
  p.metrics[0] = KZ_GBDT_M_AUC;
  p.metrics[1] = KZ_GBDT_M_LOGLOSS; /* the last one decides */
  kz_gbdt_booster *bo = NULL;
  KZ_CHECK_OK(kz_gbdt_booster_create(&p, &tr.d, &va.d, &bo));
  if (!bo) return;
  double seen[200], tm[8], vm[8];
  int rounds = 0, stop = 0;
  while (!stop && rounds < 200) {
    KZ_CHECK_OK(kz_gbdt_booster_round(bo, tm, vm, &stop));
    seen[rounds++] = vm[1];
  }
  int best = 0;
  for (int i = 1; i < rounds; ++i)
    if (seen[i] < seen[best]) best = i;
  double best_value = 0;
  KZ_CHECK(rounds < 200 && rounds == best + 1 + 3);
  KZ_CHECK(kz_gbdt_booster_best_round(bo, &best_value) == best && best_value == seen[best]);
  kz_gbdt_model *m = NULL;
  KZ_CHECK_OK(kz_gbdt_booster_finish(bo, &m));
  if (m) {
    KZ_CHECK(m->n_trees == best + 1 && m->best_iteration == best);
    KZ_CHECK(fabs(model_metric(m, &va, KZ_GBDT_M_LOGLOSS) - seen[best]) < 1e-6);
    fprintf(stderr, "early stopping: best round %d of %d, valid logloss %.4f\n", best, rounds,
            seen[best]);
  }
  kz_gbdt_model_free(m);
  synth_free(&tr);
  synth_free(&va);
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "unit")) {
    test_binning();
    test_split_gain();
    test_hist();
    test_max_bin_256();
    test_max_bin_256_tree();
    test_training();
    test_early_stopping();
    test_objectives();
    test_bad_config();
    return KZ_TEST_RESULT();
  }
  if (argc == 4 && !strcmp(argv[1], "job")) return test_job(argv[2], argv[3]);
  if (argc == 6 && !strcmp(argv[1], "parity"))
    return test_parity(argv[2], argv[3], argv[4], argv[5]);
  fprintf(stderr, "usage: test_gbdt unit | job TMP DATA | parity DATA OBJECTIVE METRIC SCRIPT\n");
  return 2;
}
