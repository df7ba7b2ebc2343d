/* Split gain and the per-feature scans (split.h). */
#include "models/gbdt/split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* XGBoost's kRtEps: a split must reduce the loss by more than this. */
#define KZ_GBDT_MIN_GAIN 1e-6

static double threshold_l1(double g, double alpha) {
  if (g > alpha) return g - alpha;
  if (g < -alpha) return g + alpha;
  return 0.0;
}

double kz_gbdt_calc_gain(const kz_gbdt_split_params *p, double g, double h) {
  if (h + p->lambda <= 0) return 0.0;
  double t = threshold_l1(g, p->alpha);
  return t * t / (h + p->lambda);
}

double kz_gbdt_calc_weight(const kz_gbdt_split_params *p, double g, double h) {
  if (h + p->lambda <= 0) return 0.0;
  return -threshold_l1(g, p->alpha) / (h + p->lambda);
}

/* Scores a candidate; replaces *best when strictly better. */
static int consider(const kz_gbdt_split_params *p, double parent_gain, double gl, double hl,
                    double g, double h, kz_gbdt_split *cand, kz_gbdt_split *best) {
  double gr = g - gl, hr = h - hl;
  if (hl < p->min_child_weight || hr < p->min_child_weight) return 0;
  double gain = kz_gbdt_calc_gain(p, gl, hl) + kz_gbdt_calc_gain(p, gr, hr) - parent_gain;
  if (!(gain > KZ_GBDT_MIN_GAIN) || (best->feature >= 0 && !(gain > best->gain))) return 0;
  *best = *cand;
  best->gain = gain;
  best->gl = gl;
  best->hl = hl;
  best->gr = gr;
  best->hr = hr;
  return 1;
}

/* XGBoost's order (hist evaluate_splits): a forward scan over every value
 * bin with the missing rows on the right (the last bin included: all values
 * left, the missing rows alone right), then, only when the node has missing
 * rows, a backward scan with them on the left (down to bin -1: the missing
 * rows alone left). A later candidate must be strictly better, so ties keep
 * the earlier one, and a node without missing rows sends them right. */
static void scan_numeric(const kz_gbdt_gh *hf, kz_gbdt_gh miss, int f, int nb,
                         const kz_gbdt_split_params *p, double pg, double g, double h,
                         kz_gbdt_split *best) {
  int has_missing = miss.h > 0 || miss.g != 0;
  kz_gbdt_split cand;
  memset(&cand, 0, sizeof cand);
  cand.feature = f;
  double cg = 0, ch = 0;
  int last = has_missing ? nb : nb - 1; /* all-left only splits off missing rows */
  cand.default_left = 0;
  for (int b = 0; b < last; ++b) {
    cg += hf[b].g;
    ch += hf[b].h;
    cand.bin = b;
    consider(p, pg, cg, ch, g, h, &cand, best);
  }
  if (!has_missing) return;
  /* backward: right = bins > b, left = the rest with the missing rows */
  double rg = 0, rh = 0;
  cand.default_left = 1;
  for (int b = nb - 2; b >= -1; --b) {
    rg += hf[b + 1].g;
    rh += hf[b + 1].h;
    cand.bin = b;
    consider(p, pg, g - rg, h - rh, g, h, &cand, best);
  }
}

typedef struct cat_key {
  double score;
  int bin;
} cat_key;

static int cmp_cat(const void *a, const void *b) {
  const cat_key *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? -1 : 1;
  return x->bin - y->bin;
}

/* Categorical: cand's mask holds the bins going right; gl/hl the left sums. */
static void scan_categorical(const kz_gbdt_gh *hf, kz_gbdt_gh miss, int f, int nb,
                             const kz_gbdt_split_params *p, double pg, double g, double h,
                             kz_gbdt_split *best) {
  int has_missing = miss.h > 0 || miss.g != 0;
  kz_gbdt_split cand;
  memset(&cand, 0, sizeof cand);
  cand.feature = f;
  cand.is_cat = 1;
  if (nb <= p->max_cat_to_onehot) {
    for (int c = 0; c < nb; ++c) {
      if (hf[c].h <= 0 && hf[c].g == 0) continue;
      memset(cand.cat_mask, 0, sizeof cand.cat_mask);
      cand.cat_mask[c >> 6] |= 1ull << (c & 63);
      double rg = hf[c].g, rh = hf[c].h;
      cand.default_left = 1;
      consider(p, pg, g - rg, h - rh, g, h, &cand, best);
      if (has_missing) {
        cand.default_left = 0;
        consider(p, pg, g - rg - miss.g, h - rh - miss.h, g, h, &cand, best);
      }
    }
    return;
  }
  /* Partition: order the present categories by their leaf weight and try
   * every prefix of that order as the set going right. */
  cat_key keys[KZ_GBDT_HIST_BINS];
  int m = 0;
  for (int c = 0; c < nb; ++c)
    if (hf[c].h > 0) keys[m++] = (cat_key){hf[c].g / (hf[c].h + p->lambda), c};
  qsort(keys, (size_t)m, sizeof keys[0], cmp_cat);
  memset(cand.cat_mask, 0, sizeof cand.cat_mask);
  double rg = 0, rh = 0;
  for (int k = 0; k + 1 < m; ++k) {
    int c = keys[k].bin;
    cand.cat_mask[c >> 6] |= 1ull << (c & 63);
    rg += hf[c].g;
    rh += hf[c].h;
    cand.default_left = 1;
    consider(p, pg, g - rg, h - rh, g, h, &cand, best);
    if (has_missing) {
      cand.default_left = 0;
      consider(p, pg, g - rg - miss.g, h - rh - miss.h, g, h, &cand, best);
    }
  }
}

/* Feature f's value bins start at hist + off(f), its missing bin at
 * hist + off(f) + miss(f): the shared layout when l is NULL. */
static void find_split(const kz_gbdt_gh *hist, const kz_gbdt_hist_layout *l,
                       const kz_gbdt_cuts *cuts, const int32_t *features, int n_features,
                       const kz_gbdt_split_params *p, double g, double h, kz_gbdt_split *best) {
  memset(best, 0, sizeof *best);
  best->feature = -1;
  double pg = kz_gbdt_calc_gain(p, g, h);
  for (int i = 0; i < n_features; ++i) {
    int f = features[i];
    const kz_gbdt_gh *hf = hist + (l ? (size_t)l->off[f] : (size_t)f * KZ_GBDT_HIST_BINS);
    kz_gbdt_gh miss = hf[l ? l->cap[f] : KZ_GBDT_MISSING_BIN];
    if (f < cuts->n_numeric)
      scan_numeric(hf, miss, f, cuts->n_bins[f], p, pg, g, h, best);
    else
      scan_categorical(hf, miss, f, cuts->n_bins[f], p, pg, g, h, best);
  }
}

void kz_gbdt_find_split(const kz_gbdt_gh *hist, const kz_gbdt_cuts *cuts, const int32_t *features,
                        int n_features, const kz_gbdt_split_params *p, double g, double h,
                        kz_gbdt_split *best) {
  find_split(hist, NULL, cuts, features, n_features, p, g, h, best);
}

void kz_gbdt_find_split_layout(const kz_gbdt_gh *hist, const kz_gbdt_hist_layout *l,
                               const kz_gbdt_cuts *cuts, const int32_t *features, int n_features,
                               const kz_gbdt_split_params *p, double g, double h,
                               kz_gbdt_split *best) {
  find_split(hist, l, cuts, features, n_features, p, g, h, best);
}
