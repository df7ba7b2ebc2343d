/* The GPU booster (models/gbdt/booster_gpu.h) against the CPU booster.
 *
 *   test_gbdt_gpu emulated  runs the GPU driver on the CPU device with host
 *                           emulations of the kernels of kernels/gbdt_device.h
 *                           (same integer arithmetic, same split candidates),
 *                           so the driver's bookkeeping (levels, partitions,
 *                           subtraction, leaf ranges, pruning, margins) is
 *                           checked on every machine; plus the refusals.
 *                           Also: checkpoint -> resume (gbdt_checkpoint.h) of
 *                           both boosters gives the uninterrupted model bit for
 *                           bit.
 *   test_gbdt_gpu gpu       the same problems on cuda:0 with the real kernels,
 *                           and GPU prediction vs the CPU's. Without a GPU it
 *                           prints "skipped: no GPU" and exits 77, after
 *                           checking (in a build without CUDA) that the GPU
 *                           entry points fail with "built without CUDA".
 *
 * What "the same" means: tree structures (features, thresholds = split bins,
 * missing directions) identical, up to the two exceptions of same_model
 * (candidates equal in exact arithmetic), and leaf values within 1e-5
 * relative plus an absolute floor of 1e-6 of the tree's largest |leaf|. The
 * device computes gradients in float from float margins (relative 1e-7 per
 * row, more for |margin| in the tens: the margin's own rounding), and its
 * int64 quantisation adds at most n * max|g| * 2^-60 per row; for a leaf
 * whose gradients nearly cancel that is large relative to the leaf but tiny
 * against the tree's scale, hence the floor. Each problem prints its largest
 * leaf difference as a fraction of that tolerance. Problems 8-10 are the
 * cases where the two used to part: a split of the missing rows alone, an
 * exact tie between different partitions, and confident logistic leaves. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/train/gbdt_checkpoint.h"
#include "kernels/core/backend.h"
#include "kernels/core/error.h"
#include "kernels/core/splitmix64.h"
#include "kernels/gbdt_device.h"
#include "models/gbdt/booster.h"
#include "models/gbdt/booster_gpu.h"
#include "models/gbdt/gbdt_model.h"
#include "tests/test_util.h"

#define SKIP 77
#define HB KZ_GBDT_DEV_HIST_BINS

/* ---- host emulations of kernels/gbdt_device.h --------------------------- */
static kz_status emu_gradients(kz_stream *s, const kz_gbdt_dev_loss *loss, const float *margin,
                               const float *label, const float *weight, int64_t n, float *gh) {
  (void)s;
  const int G = loss->num_group;
  for (int64_t r = 0; r < n; ++r) {
    const float *m = margin + r * G, y = label[r], w = weight ? weight[r] : 1.0f;
    float *o = gh + r * G * 2;
    switch (loss->objective) {
    case KZ_GBDT_DEV_SQUAREDERROR:
      o[0] = (m[0] - y) * w, o[1] = w;
      break;
    case KZ_GBDT_DEV_ABSOLUTEERROR:
      o[0] = (m[0] > y ? 1.0f : (m[0] < y ? -1.0f : 0.0f)) * w, o[1] = w;
      break;
    case KZ_GBDT_DEV_QUANTILE: {
      const float a = (float)loss->quantile_alpha;
      o[0] = (y >= m[0] ? -a : 1.0f - a) * w, o[1] = w;
      break;
    }
    case KZ_GBDT_DEV_LOGISTIC: { /* q = 1 - p without the subtraction */
      const float e = expf(-fabsf(m[0])), d = 1.0f + e;
      const float p = m[0] >= 0.0f ? 1.0f / d : e / d, q = m[0] >= 0.0f ? e / d : 1.0f / d;
      o[0] = (p * (1.0f - y) - q * y) * w, o[1] = fmaxf(p * q, 1e-16f) * w;
      break;
    }
    case KZ_GBDT_DEV_SOFTMAX: { /* the top class's q from the other terms */
      int top = 0;
      for (int k = 1; k < G; ++k)
        if (m[k] > m[top]) top = k;
      float rest = 0.0f;
      for (int k = 0; k < G; ++k)
        if (k != top) rest += expf(m[k] - m[top]);
      const float sum = 1.0f + rest;
      for (int k = 0; k < G; ++k) {
        const float p = k == top ? 1.0f / sum : expf(m[k] - m[top]) / sum;
        const float q = k == top ? rest / sum : 1.0f - p;
        o[2 * k] = (k == (int)y ? -q : p) * w;
        o[2 * k + 1] = fmaxf(2.0f * p * q, 1e-16f) * w;
      }
      break;
    }
    case KZ_GBDT_DEV_POISSON:
      o[0] = (expf(m[0]) - y) * w, o[1] = expf(m[0] + (float)loss->max_delta_step) * w;
      break;
    }
  }
  return KZ_OK;
}

static kz_status emu_quantise(kz_stream *s, const float *gh, int64_t n, int32_t G, float *max_dev,
                              double *scale_dev, int64_t *qgh) {
  (void)s;
  const int cols = 2 * G;
  for (int c = 0; c < cols; ++c) max_dev[c] = 0.0f;
  for (int64_t i = 0; i < n * cols; ++i) {
    float a = fabsf(gh[i]);
    if (!(a <= max_dev[i % cols])) max_dev[i % cols] = a; /* NaN wins, as the bit max */
  }
  for (int c = 0; c < cols; ++c) scale_dev[c] = kz_gbdt_dev_quant_scale(max_dev[c], n);
  for (int64_t i = 0; i < n * cols; ++i) {
    double sc = scale_dev[i % cols];
    qgh[i] = sc > 0 ? (int64_t)llrint((double)gh[i] / sc) : 0;
  }
  return KZ_OK;
}

static kz_status emu_histogram(kz_stream *s, const uint8_t *codes, int64_t n_rows, int32_t nf,
                               const int32_t *rows, int64_t n_node_rows, const int64_t *qgh,
                               int64_t stride, int64_t *hist) {
  (void)s;
  if (!rows && n_node_rows != n_rows)
    return kz_fail(KZ_ERR_INVALID_ARG, "emu histogram: rows NULL needs every row");
  memset(hist, 0, sizeof(int64_t) * (size_t)nf * HB * 2);
  for (int64_t i = 0; i < n_node_rows; ++i) {
    int64_t r = rows ? rows[i] : i;
    if (r < 0 || r >= n_rows)
      return kz_fail(KZ_ERR_INTERNAL, "emu histogram: row %lld", (long long)r);
    for (int f = 0; f < nf; ++f) {
      int b = codes[r * nf + f];
      hist[((int64_t)f * HB + b) * 2] += qgh[r * stride];
      hist[((int64_t)f * HB + b) * 2 + 1] += qgh[r * stride + 1];
    }
  }
  return KZ_OK;
}

static kz_status emu_subtract(kz_stream *s, const int64_t *parent, const int64_t *child,
                              int64_t *out, int32_t nf) {
  (void)s;
  for (int64_t i = 0; i < (int64_t)nf * HB * 2; ++i) out[i] = parent[i] - child[i];
  return KZ_OK;
}

static double emu_score(double g, double h, const kz_gbdt_dev_split_params *p) {
  double d = h + p->lambda;
  if (d <= 0) return 0;
  double t = g > p->alpha ? g - p->alpha : g < -p->alpha ? g + p->alpha : 0.0;
  return t * t / d;
}

/* Scores one candidate like split.c's consider(): kept when strictly better. */
static void emu_consider(int64_t lg, int64_t lh, int bin, int dl, int64_t tg, int64_t th,
                         const double *scale, double parent, const kz_gbdt_dev_split_params *p,
                         kz_gbdt_dev_split *r) {
  double HL = lh * scale[1], HR = (th - lh) * scale[1];
  if (HL < p->min_child_weight || HR < p->min_child_weight) return;
  double gain = emu_score(lg * scale[0], HL, p) + emu_score((tg - lg) * scale[0], HR, p) - parent;
  if (!(gain > 1e-6 && gain >= p->gamma)) return;
  if (r->found && !(gain > r->gain)) return;
  r->gain = gain, r->left_g = lg, r->left_h = lh, r->bin = bin, r->default_left = dl;
  r->found = 1;
}

/* split.c's scan_numeric on the integer sums: missing right by rising bin
 * (the last value bin too when there are missing rows), then missing left
 * by falling bin down to -1. */
static kz_status emu_evaluate(kz_stream *s, const int64_t *hist, int32_t n_nodes, int32_t nf,
                              const int32_t *n_bins, const uint8_t *mask, const double *scale,
                              const kz_gbdt_dev_split_params *p, kz_gbdt_dev_split *per_feature,
                              kz_gbdt_dev_split *best) {
  (void)s;
  for (int node = 0; node < n_nodes; ++node) {
    kz_gbdt_dev_split nb_best = {0};
    nb_best.feature = nb_best.bin = -1;
    for (int f = 0; f < nf; ++f) {
      const int64_t *h = hist + ((int64_t)node * nf + f) * HB * 2;
      int64_t tg = 0, th = 0;
      for (int b = 0; b < HB; ++b) tg += h[2 * b], th += h[2 * b + 1];
      int64_t mg = h[2 * (HB - 1)], mh = h[2 * (HB - 1) + 1];
      kz_gbdt_dev_split r = {0};
      r.total_g = tg, r.total_h = th, r.feature = r.bin = -1;
      int nbin = n_bins[f] < HB - 1 ? n_bins[f] : HB - 1;
      int enabled = !mask || mask[f], has_missing = mh > 0 || mg != 0;
      double parent = emu_score(tg * scale[0], th * scale[1], p);
      int64_t cg = 0, ch = 0;
      for (int b = 0; enabled && b < (has_missing ? nbin : nbin - 1); ++b) {
        cg += h[2 * b], ch += h[2 * b + 1];
        emu_consider(cg, ch, b, 0, tg, th, scale, parent, p, &r);
      }
      int64_t rg = 0, rh = 0; /* value bins above b */
      for (int b = nbin - 2; enabled && has_missing && b >= -1; --b) {
        rg += h[2 * (b + 1)], rh += h[2 * (b + 1) + 1];
        emu_consider(tg - rg, th - rh, b, 1, tg, th, scale, parent, p, &r);
      }
      if (r.found) r.feature = f;
      if (per_feature) per_feature[(int64_t)node * nf + f] = r;
      if (f == 0) nb_best = r;
      if (r.found && (!nb_best.found || r.gain > nb_best.gain)) nb_best = r;
    }
    if (!nb_best.found) {
      nb_best.gain = 0, nb_best.left_g = nb_best.left_h = 0;
      nb_best.feature = nb_best.bin = -1, nb_best.default_left = 0;
    }
    best[node] = nb_best;
  }
  return KZ_OK;
}

static kz_status emu_partition(kz_stream *s, const uint8_t *codes, int32_t nf, const int32_t *rows,
                               int64_t n, int32_t feature, int32_t bin, int32_t default_left,
                               int32_t *out_rows, int64_t *n_left_dev) {
  (void)s;
  if (n > 0 && out_rows < rows + n && rows < out_rows + n)
    return kz_fail(KZ_ERR_INVALID_ARG, "emu partition: out_rows overlaps rows");
  int64_t nl = 0, pos = 0;
  for (int pass = 0; pass < 2; ++pass) { /* left rows in order, then right rows in order */
    for (int64_t i = 0; i < n; ++i) {
      uint8_t c = codes[(int64_t)rows[i] * nf + feature];
      int left = c == KZ_GBDT_DEV_MISSING_BIN ? default_left : c <= bin;
      if (left == (pass == 0)) out_rows[pos++] = rows[i];
    }
    if (pass == 0) nl = pos;
  }
  *n_left_dev = nl;
  return KZ_OK;
}

static kz_status emu_predict(kz_stream *s, const kz_gbdt_dev_forest *fo, const float *x, int64_t n,
                             int32_t nf, double *out) {
  (void)s;
  const int G = fo->num_group;
  for (int64_t r = 0; r < n; ++r) {
    for (int k = 0; k < G; ++k) out[r * G + k] = fo->base_score ? fo->base_score[k] : 0.0;
    for (int t = 0; t < fo->n_trees; ++t) {
      int32_t base = fo->tree_offset[t], node = 0, steps = 0;
      int32_t nn = fo->tree_offset[t + 1] - base;
      while (fo->left[base + node] >= 0 && steps++ <= nn) {
        int32_t i = base + node, f = fo->feature[i];
        if (f < 0 || f >= nf) return kz_fail(KZ_ERR_INTERNAL, "emu predict: feature %d", f);
        float v = x[r * nf + f];
        int left = isnan(v) ? fo->default_left[i] : v < fo->threshold[i];
        node = left ? fo->left[i] : fo->right[i];
      }
      out[r * G + fo->tree_group[t]] += fo->leaf_value[base + node];
    }
  }
  return KZ_OK;
}

static const kz_gbdt_gpu_kernels emu_kernels = {emu_gradients, emu_quantise, emu_histogram,
                                                emu_subtract,  emu_evaluate, emu_partition,
                                                emu_predict};

/* ---- problems ------------------------------------------------------------- */
static uint64_t rng_state = 2024;
static double unit(void) {
  return kz_splitmix64_unit(&rng_state);
}

typedef struct problem {
  const char *name;
  /* exact ties: equal gains in exact arithmetic for different splits (see
   * train_and_compare) */
  int ties;
  /* what the first tree's root must be, on both boosters (so the case the
   * problem is about really happens): ROOT_ANY, ROOT_MISSING_ONLY (feature
   * 0's missing rows alone one way), ROOT_TIE (feature 0, x < 3, missing
   * right: split.c's first of the tied candidates) */
  int root;
  kz_gbdt_params p;
  kz_gbdt_data train, valid;
  float *num, *label, *vnum, *vlabel;
} problem;

#define NF 7
enum { ROOT_ANY, ROOT_MISSING_ONLY, ROOT_TIE };

/* Features: uniform, one with 5 distinct values, two with 8% missing, one
 * constant (never split on). The label follows a few of them plus noise. */
static void fill(float *x, float *y, int64_t n, kz_gbdt_objective obj, int classes) {
  for (int64_t r = 0; r < n; ++r) {
    float *row = x + r * NF;
    for (int f = 0; f < NF; ++f) row[f] = (float)(unit() * 4.0 - 2.0);
    row[2] = (float)floor(unit() * 5.0);
    row[6] = 1.5f;
    if (unit() < 0.08) row[1] = NAN;
    if (unit() < 0.08) row[4] = NAN;
    double z = 1.2 * row[0] + (isnan(row[1]) ? 0.8 : row[1] * row[1] - 1.0) + 0.5 * row[2] -
               (row[3] > 0.3 ? 1.0 : 0.0) + 0.3 * (unit() - 0.5);
    switch (obj) {
    case KZ_GBDT_BINARY_LOGISTIC:
      y[r] = row[0] > 0.0f ? 1.0f : 0.0f;
      break;
    case KZ_GBDT_MULTI_SOFTPROB:
      y[r] = (float)((int)floor(fabs(z) * 1.3 + unit()) % classes);
      break;
    case KZ_GBDT_COUNT_POISSON:
      y[r] = (float)floor(exp(0.4 * z) * unit() * 2.0);
      break;
    default:
      y[r] = (float)(3.0 * z + 10.0);
    }
  }
}

/* The label is whether feature 0 is missing, plus a step in feature 1: the
 * best root split sends the missing rows alone one way (split.c's
 * candidates "every value left" and "every value right"). With 2048 rows and
 * labels in halves the first round's sums are exact on both boosters, so
 * both keep the first of the two mirrored candidates; later rounds may
 * mirror it (same_model). */
static void fill_missing_only(float *x, float *y, int64_t n) {
  for (int64_t r = 0; r < n; ++r) {
    float *row = x + r * NF;
    for (int f = 0; f < NF; ++f) row[f] = (float)(unit() * 4.0 - 2.0);
    if (unit() < 0.3) row[0] = NAN;
    y[r] = (isnan(row[0]) ? 1.0f : 0.0f) + (row[1] > 0.5f ? 0.5f : 0.0f);
  }
}

/* An exact tie between different partitions. Feature 0 takes the values
 * 0, 1, 2, 3 (8 rows each, labels 0, 1, 2, 0) or is missing (32 rows, label
 * 0); the rest is constant. Bins 0 and 3 hold the same sums, so "x < 3,
 * missing right" ({0,1,2} | {3,missing}) and "x < 1, missing left"
 * ({0,missing} | {1,2,3}) have the same children's sums in swapped order:
 * bit-equal gains, the largest of all candidates. split.c's forward scan
 * meets x < 3 first and keeps it. Every sum is a small dyadic number, exact
 * in double and in the quantised integers. */
static void fill_tie(float *x, float *y, int64_t n) {
  static const float label_of[5] = {0.0f, 1.0f, 2.0f, 0.0f, 0.0f};
  for (int64_t r = 0; r < n; ++r) {
    float *row = x + r * NF;
    int grp = (int)(r % 8); /* 0..3: value grp, 4..7: missing */
    for (int f = 1; f < NF; ++f) row[f] = 1.5f;
    row[0] = grp < 4 ? (float)grp : NAN;
    y[r] = label_of[grp < 4 ? grp : 4];
  }
}

/* Separable: the label is the sign of feature 0, no noise. With
 * eta 1 the margins grow to tens within a few rounds, so most rows have
 * gradients e^-m far below the round's largest, and the leaves that hold
 * them are where quantisation loses relative precision. */
static void fill_separable(float *x, float *y, int64_t n) {
  for (int64_t r = 0; r < n; ++r) {
    float *row = x + r * NF;
    for (int f = 0; f < NF; ++f) row[f] = (float)(unit() * 4.0 - 2.0);
    y[r] = row[0] > 0.0f ? 1.0f : 0.0f;
  }
}

static void problem_make(problem *pr, const char *name, kz_gbdt_objective obj, int classes,
                         int64_t n, int64_t nv) {
  memset(pr, 0, sizeof *pr);
  pr->name = name;
  kz_gbdt_params_default(&pr->p);
  pr->p.objective = obj;
  pr->p.num_class = obj == KZ_GBDT_MULTI_SOFTPROB ? classes : 0;
  pr->p.num_round = 8;
  pr->p.max_depth = 4;
  pr->p.nthread = 1;
  pr->p.max_bin = 255; /* the GPU booster runs max_bin 256 as 255 (docs/GBDT.md) */
  pr->num = malloc(sizeof(float) * n * NF), pr->label = malloc(sizeof(float) * n);
  pr->vnum = malloc(sizeof(float) * nv * NF), pr->vlabel = malloc(sizeof(float) * nv);
  if (!pr->num || !pr->label || !pr->vnum || !pr->vlabel) exit(1);
  fill(pr->num, pr->label, n, obj, classes);
  fill(pr->vnum, pr->vlabel, nv, obj, classes);
  pr->train = (kz_gbdt_data){n, NF, 0, pr->num, NULL, NULL, pr->label};
  pr->valid = (kz_gbdt_data){nv, NF, 0, pr->vnum, NULL, NULL, pr->vlabel};
}

static void problem_free(problem *pr) {
  free(pr->num), free(pr->label), free(pr->vnum), free(pr->vlabel);
}

/* ---- comparisons ---------------------------------------------------------- */
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double worst_leaf_rel; /* the largest leaf difference seen, / (|cpu| + floor) */
static double worst_leaf_tol; /* the largest leaf difference / its tolerance, per comparison */

/* Whether any training row reaching node `id` of t lacks feature f. */
static int node_sees_missing(const kz_gbdt_tree *t, int32_t id, const kz_gbdt_data *d) {
  int f = t->feature[id];
  for (int64_t r = 0; r < d->n; ++r) {
    const float *x = d->num + r * d->n_numeric;
    int32_t i = 0;
    while (i != id && t->left[i] >= 0) {
      float v = x[t->feature[i]];
      i = (isnan(v) ? t->default_left[i] : v < t->threshold[i]) ? t->left[i] : t->right[i];
    }
    if (i == id && isnan(x[f])) return 1;
  }
  return 0;
}

/* Whether node i of t splits the missing rows off alone: every value right
 * and missing left (bin -1, threshold -FLT_MAX) gives side 1, every value
 * left and missing right (the last bin, FLT_MAX) side 0; otherwise -1. */
static int missing_only_side(const kz_gbdt_tree *t, int32_t i) {
  if (t->threshold[i] == -FLT_MAX && t->default_left[i]) return 1;
  if (t->threshold[i] == FLT_MAX && !t->default_left[i]) return 0;
  return -1;
}

static int mirrored_splits; /* missing-only splits matched with their mirror */

/* Subtree ia of a (the GPU's) against subtree ib of b (the CPU's). */
static int same_subtree(const kz_gbdt_tree *a, int32_t ia, const kz_gbdt_tree *b, int32_t ib,
                        double scale, const kz_gbdt_data *train, const char *what, int t) {
  if ((a->left[ia] < 0) != (b->left[ib] < 0)) {
    fprintf(stderr, "%s: tree %d: GPU node %d is %s, the CPU's node %d %s\n", what, t, ia,
            a->left[ia] < 0 ? "a leaf" : "a split", ib, b->left[ib] < 0 ? "a leaf" : "a split");
    return 0;
  }
  if (b->left[ib] < 0) {
    double d = fabs((double)a->leaf_value[ia] - b->leaf_value[ib]);
    double floor_ = 1e-6 * scale, tol = 1e-5 * fabs(b->leaf_value[ib]) + floor_;
    double rel = d / (fabs(b->leaf_value[ib]) + floor_ + 1e-300);
    if (rel > worst_leaf_rel) worst_leaf_rel = rel;
    if (d / tol > worst_leaf_tol) worst_leaf_tol = d / tol;
    if (!(d <= tol)) {
      fprintf(stderr, "%s: tree %d leaf %d: %.9g vs the CPU's %.9g (tolerance %.3g)\n", what, t, ib,
              a->leaf_value[ia], b->leaf_value[ib], tol);
      return 0;
    }
    return 1;
  }
  int same_feature = a->feature[ia] == b->feature[ib];
  if (same_feature && a->threshold[ia] == b->threshold[ib] &&
      (a->default_left[ia] == b->default_left[ib] || !node_sees_missing(b, ib, train)))
    return same_subtree(a, a->left[ia], b, b->left[ib], scale, train, what, t) &&
           same_subtree(a, a->right[ia], b, b->right[ib], scale, train, what, t);
  int sa = missing_only_side(a, ia), sb = missing_only_side(b, ib);
  if (same_feature && sa >= 0 && sb >= 0 && sa != sb) {
    ++mirrored_splits;
    return same_subtree(a, a->left[ia], b, b->right[ib], scale, train, what, t) &&
           same_subtree(a, a->right[ia], b, b->left[ib], scale, train, what, t);
  }
  fprintf(stderr,
          "%s: tree %d node %d: feature %d < %.9g (missing %s) vs the CPU's %d < %.9g (%s)\n", what,
          t, ib, a->feature[ia], a->threshold[ia], a->default_left[ia] ? "left" : "right",
          b->feature[ib], b->threshold[ib], b->default_left[ib] ? "left" : "right");
  return 0;
}

/* Same trees: the same splits (features, thresholds, missing directions),
 * leaves within 1e-5 relative + 1e-6 of the tree's largest |leaf|. Two
 * splits count as the same although they differ, both for the same reason:
 * candidates whose sums are equal in exact arithmetic, where the device's
 * exact integer sums keep split.c's first and the CPU's double sums may let
 * rounding pick a later one.
 *  - A node no training row with a missing value reached may send missing
 *    values either way: the device, whose missing bin is exactly 0, sends
 *    them right; the CPU's histogram subtraction can leave ~1e-16 in that
 *    empty bin and then also scans missing left over the same sums.
 *  - A split of the missing rows off alone may come mirrored: "every value
 *    left, missing right" and "missing left, every value right" are the same
 *    partition with the children swapped (the subtrees are compared swapped).
 * train is the data that decides the first. */
static int same_model(const kz_gbdt_model *g, const kz_gbdt_model *c, const kz_gbdt_data *train,
                      const char *what) {
  if (g->n_trees != c->n_trees || g->num_group != c->num_group) {
    fprintf(stderr, "%s: %d trees / %d groups vs the CPU's %d / %d\n", what, g->n_trees,
            g->num_group, c->n_trees, c->num_group);
    return 0;
  }
  for (int k = 0; k < c->num_group; ++k)
    if (g->base_score[k] != c->base_score[k]) {
      fprintf(stderr, "%s: base_score[%d] %.17g vs %.17g\n", what, k, g->base_score[k],
              c->base_score[k]);
      return 0;
    }
  for (int t = 0; t < c->n_trees; ++t) {
    const kz_gbdt_tree *a = &g->trees[t], *b = &c->trees[t];
    if (a->n_nodes != b->n_nodes || g->tree_group[t] != c->tree_group[t]) {
      fprintf(stderr, "%s: tree %d has %d nodes (group %d), the CPU's %d (group %d)\n", what, t,
              a->n_nodes, g->tree_group[t], b->n_nodes, c->tree_group[t]);
      return 0;
    }
    double scale = 0;
    for (int i = 0; i < b->n_nodes; ++i)
      if (b->left[i] < 0 && fabs(b->leaf_value[i]) > scale) scale = fabs(b->leaf_value[i]);
    if (!same_subtree(a, 0, b, 0, scale, train, what, t)) return 0;
  }
  return 1;
}

static const kz_gbdt_gpu_options emu_opts = {{KZ_DEVICE_CPU, 0}, &emu_kernels};

/* Trains pr on the CPU and through opts; the models must agree, and the
 * booster's own valid margins must give the metrics the CPU reports. */
static void train_and_compare(problem *pr, const kz_gbdt_gpu_options *opts, const char *where) {
  char what[160];
  snprintf(what, sizeof what, "%s (%s)", pr->name, where);
  kz_gbdt_model *cpu = NULL, *gpu = NULL;
  double t0 = now_s();
  KZ_CHECK_OK(kz_gbdt_train(&pr->p, &pr->train, &pr->valid, &cpu));
  double t_cpu = now_s() - t0;
  if (opts->kernels == NULL) { /* timing on the real device, for the record */
    kz_gbdt_model *timed = NULL;
    t0 = now_s();
    KZ_CHECK_OK(kz_gbdt_gpu_train(&pr->p, &pr->train, &pr->valid, opts, &timed));
    printf("%s: %lld rows, %d rounds: cpu (1 thread) %.3f s, %s %.3f s\n", pr->name,
           (long long)pr->train.n, pr->p.num_round, t_cpu, where, now_s() - t0);
    kz_gbdt_model_free(timed);
  }
  kz_gbdt_gpu_booster *b = NULL;
  KZ_CHECK_OK(kz_gbdt_gpu_booster_create(&pr->p, &pr->train, &pr->valid, opts, &b));
  kz_gbdt_booster *cb = NULL;
  KZ_CHECK_OK(kz_gbdt_booster_create(&pr->p, &pr->train, &pr->valid, &cb));
  if (!cpu || !b || !cb) {
    kz_gbdt_model_free(cpu);
    kz_gbdt_gpu_booster_free(b);
    kz_gbdt_booster_free(cb);
    return;
  }
  int stop = 0, cstop = 0, rounds = 0;
  double tm[KZ_GBDT_MAX_METRICS], vm[KZ_GBDT_MAX_METRICS], ctm[KZ_GBDT_MAX_METRICS],
      cvm[KZ_GBDT_MAX_METRICS], first = NAN;
  while (!stop) {
    kz_status st = kz_gbdt_gpu_booster_round(b, tm, vm, &stop);
    KZ_CHECK_OK(st);
    KZ_CHECK_OK(kz_gbdt_booster_round(cb, ctm, cvm, &cstop));
    if (st != KZ_OK) break;
    KZ_CHECK(stop == cstop);
    if (rounds == 0) first = ctm[0];
    /* metrics from margins that agree to ~1e-6: 1e-4 relative is loose
     * enough for rounding and tight enough to catch a missed update */
    if (!pr->ties && (fabs(tm[0] - ctm[0]) > 1e-4 * fabs(ctm[0]) + 1e-7 ||
                      fabs(vm[0] - cvm[0]) > 1e-4 * fabs(cvm[0]) + 1e-7)) {
      fprintf(stderr, "%s: round %d: metrics train %.9g valid %.9g vs the CPU's %.9g %.9g\n", what,
              rounds, tm[0], vm[0], ctm[0], cvm[0]);
      KZ_CHECK(0);
    }
    ++rounds;
  }
  KZ_CHECK(rounds == pr->p.num_round || pr->p.early_stopping_rounds > 0);
  kz_gbdt_booster_free(cb);
  if (kz_gbdt_gpu_booster_finish(b, &gpu) == KZ_OK && gpu) {
    if (!pr->ties) {
      worst_leaf_tol = 0, mirrored_splits = 0;
      KZ_CHECK(same_model(gpu, cpu, &pr->train, what));
      printf("%s: same trees (%d mirrored missing-only splits), largest leaf difference %.3g of "
             "its tolerance\n",
             what, mirrored_splits, worst_leaf_tol);
    } else {
      /* multi:softprob starts from equal margins: every row's gradient is
       * 1/3 or -2/3 with one hessian, so different splits with mirrored
       * counts have exactly equal gains. The device's exact integer sums
       * keep the first candidate (split.c's rule); the CPU's double sums
       * pick by rounding noise, and the trees part ways. Checked instead:
       * the first round's roots, and the final train loss within 5% of the
       * CPU's improvement over the run (a wrong update would lose far more). */
      for (int k = 0; k < gpu->num_group && k < gpu->n_trees; ++k)
        KZ_CHECK(gpu->trees[k].feature[0] == cpu->trees[k].feature[0] &&
                 gpu->trees[k].threshold[0] == cpu->trees[k].threshold[0]);
      double gain = first - ctm[0];
      if (!(gain > 0 && fabs(tm[0] - ctm[0]) <= 0.05 * gain)) {
        fprintf(stderr, "%s: final train loss %.9g vs the CPU's %.9g (CPU gained %.3g)\n", what,
                tm[0], ctm[0], gain);
        KZ_CHECK(0);
      }
    }
    KZ_CHECK(gpu->best_iteration == cpu->best_iteration);
    for (int side = 0; side < 2; ++side) {
      const kz_gbdt_tree *r0 = &(side ? cpu : gpu)->trees[0];
      if (pr->root == ROOT_MISSING_ONLY)
        KZ_CHECK(r0->n_nodes > 1 && r0->feature[0] == 0 && missing_only_side(r0, 0) >= 0);
      if (pr->root == ROOT_TIE)
        KZ_CHECK(r0->n_nodes > 1 && r0->feature[0] == 0 && r0->threshold[0] > 2.0f &&
                 r0->threshold[0] <= 3.0f && !r0->default_left[0]);
    }
    /* a model of stumps-only would make the comparison vacuous */
    int splits = 0;
    for (int t = 0; t < gpu->n_trees; ++t) splits += gpu->trees[t].n_nodes / 2;
    KZ_CHECK(splits >= gpu->n_trees);
  }
  kz_gbdt_model_free(cpu);
  kz_gbdt_model_free(gpu);
}

/* The problems of both modes; make(i) fills the i-th, 0 when past the end. */
static int make_problem(int i, problem *pr) {
  switch (i) {
  case 0:
    problem_make(pr, "reg:squarederror", KZ_GBDT_REG_SQUAREDERROR, 0, 4000, 1000);
    return 1;
  case 1: /* regularisation and gamma pruning, few bins, deeper */
    problem_make(pr, "squarederror+alpha+gamma", KZ_GBDT_REG_SQUAREDERROR, 0, 3000, 700);
    pr->p.alpha = 0.5, pr->p.lambda = 2.0, pr->p.min_child_weight = 20.0;
    pr->p.gamma = 40.0, pr->p.max_bin = 32, pr->p.max_depth = 6;
    return 1;
  case 2: /* max_leaves cuts a level short */
    problem_make(pr, "squarederror+max_leaves", KZ_GBDT_REG_SQUAREDERROR, 0, 3000, 500);
    pr->p.max_depth = 5, pr->p.max_leaves = 9;
    return 1;
  case 3:
    problem_make(pr, "binary:logistic+early_stopping", KZ_GBDT_BINARY_LOGISTIC, 0, 4000, 1000);
    pr->p.num_round = 40, pr->p.early_stopping_rounds = 3, pr->p.eta = 0.5;
    return 1;
  case 4:
    problem_make(pr, "multi:softprob", KZ_GBDT_MULTI_SOFTPROB, 3, 3000, 800);
    pr->ties = 1;
    return 1;
  case 5:
    problem_make(pr, "count:poisson", KZ_GBDT_COUNT_POISSON, 0, 3000, 800);
    pr->p.eta = 0.2;
    return 1;
  case 6: /* leaves refit to the residuals' median on the host */
    problem_make(pr, "reg:absoluteerror", KZ_GBDT_REG_ABSOLUTEERROR, 0, 2500, 500);
    return 1;
  case 7: /* many blocks per histogram and partition, 255 bins, deeper */
    problem_make(pr, "squarederror 60k rows", KZ_GBDT_REG_SQUAREDERROR, 0, 60000, 5000);
    pr->p.max_depth = 7, pr->p.num_round = 5, pr->p.max_bin = 255;
    return 1;
  case 8: /* the missing rows split off alone */
    problem_make(pr, "missing-only split", KZ_GBDT_REG_SQUAREDERROR, 0, 2048, 512);
    fill_missing_only(pr->num, pr->label, pr->train.n);
    fill_missing_only(pr->vnum, pr->vlabel, pr->valid.n);
    pr->p.max_depth = 3, pr->p.num_round = 4;
    pr->root = ROOT_MISSING_ONLY;
    return 1;
  case 9: /* an exact tie: the CPU's scan order decides */
    problem_make(pr, "symmetric tie", KZ_GBDT_REG_SQUAREDERROR, 0, 64, 64);
    fill_tie(pr->num, pr->label, pr->train.n);
    fill_tie(pr->vnum, pr->vlabel, pr->valid.n);
    pr->p.max_depth = 2, pr->p.num_round = 3;
    pr->root = ROOT_TIE;
    return 1;
  case 10: /* confident logistic leaves: gradients spanning many decades */
    problem_make(pr, "confident logistic", KZ_GBDT_BINARY_LOGISTIC, 0, 4000, 1000);
    fill_separable(pr->num, pr->label, pr->train.n);
    fill_separable(pr->vnum, pr->vlabel, pr->valid.n);
    pr->p.eta = 1.0, pr->p.num_round = 30, pr->p.max_depth = 3;
    return 1;
  default:
    return 0;
  }
}

static void check_refusals(const kz_gbdt_gpu_options *o) {
  problem pr;
  problem_make(&pr, "refusals", KZ_GBDT_REG_SQUAREDERROR, 0, 200, 50);
  kz_gbdt_gpu_booster *b = NULL;
  kz_gbdt_params p = pr.p;
  p.grow_policy = KZ_GBDT_LOSSGUIDE;
  KZ_CHECK_FAILS(kz_gbdt_gpu_booster_create(&p, &pr.train, NULL, o, &b), KZ_ERR_UNSUPPORTED,
                 "grow_policy lossguide");
  p = pr.p, p.subsample = 0.5;
  KZ_CHECK_FAILS(kz_gbdt_gpu_booster_create(&p, &pr.train, NULL, o, &b), KZ_ERR_UNSUPPORTED,
                 "model.subsample");
  p = pr.p, p.colsample_bytree = 0.5;
  KZ_CHECK_FAILS(kz_gbdt_gpu_check_params(&p, 0), KZ_ERR_UNSUPPORTED, "model.colsample_bytree");
  p = pr.p, p.colsample_bynode = 0.5;
  KZ_CHECK_FAILS(kz_gbdt_gpu_check_params(&p, 0), KZ_ERR_UNSUPPORTED, "model.colsample_bynode");
  KZ_CHECK_OK(kz_gbdt_gpu_check_params(&pr.p, 0));
  /* categorical data: training refused; a CPU model with categorical
   * splits is refused by GPU prediction, naming the tree and node */
  int64_t n = pr.train.n;
  int32_t *cat = malloc(sizeof(int32_t) * n), ncat[1] = {4};
  for (int64_t r = 0; r < n; ++r) {
    cat[r] = (int32_t)(unit() * 4.0);
    pr.label[r] = cat[r] == 2 ? 5.0f : -1.0f;
  }
  kz_gbdt_data cd = {n, NF, 1, pr.num, cat, ncat, pr.label};
  KZ_CHECK_FAILS(kz_gbdt_gpu_booster_create(&pr.p, &cd, NULL, o, &b), KZ_ERR_UNSUPPORTED,
                 "categorical");
  kz_gbdt_model *m = NULL;
  KZ_CHECK_OK(kz_gbdt_train(&pr.p, &cd, NULL, &m));
  double *out = malloc(sizeof(double) * n);
  if (m)
    KZ_CHECK_FAILS(kz_gbdt_predict_margin_gpu(m, n, pr.num, cat, o, out), KZ_ERR_UNSUPPORTED,
                   "categorical feature");
  KZ_CHECK(b == NULL);
  kz_gbdt_model_free(m);
  free(out), free(cat);
  problem_free(&pr);
}

/* GPU prediction of a CPU-trained model vs the CPU's, 1e-6 relative (the
 * kernel sums float leaves in double in tree order, as the CPU does). */
static void check_predict(const kz_gbdt_gpu_options *o, const char *where) {
  for (int i = 0; i < 5; i += 4) { /* one single-output, one multi-class */
    problem pr;
    make_problem(i, &pr);
    pr.p.num_round = 12;
    kz_gbdt_model *m = NULL;
    KZ_CHECK_OK(kz_gbdt_train(&pr.p, &pr.train, NULL, &m));
    if (!m) continue;
    int64_t n = pr.valid.n, K = m->num_group;
    double *a = malloc(sizeof(double) * n * K), *c = malloc(sizeof(double) * n * K);
    for (int64_t j = 0; j < n * K; ++j) a[j] = NAN;
    KZ_CHECK_OK(kz_gbdt_predict_margin_gpu(m, n, pr.vnum, NULL, o, a));
    KZ_CHECK_OK(kz_gbdt_predict_margin(m, n, pr.vnum, NULL, 1, c));
    int bad = 0;
    for (int64_t j = 0; j < n * K; ++j)
      if (!(fabs(a[j] - c[j]) <= 1e-6 * fabs(c[j]) + 1e-12) && bad++ < 3)
        fprintf(stderr, "predict %s (%s): output %lld: %.17g vs the CPU's %.17g\n", pr.name, where,
                (long long)j, a[j], c[j]);
    KZ_CHECK(bad == 0);
    /* zero rows is fine and touches nothing */
    KZ_CHECK_OK(kz_gbdt_predict_margin_gpu(m, 0, pr.vnum, NULL, o, a));
    free(a), free(c);
    kz_gbdt_model_free(m);
    problem_free(&pr);
  }
}

/* Same trees, bit for bit. */
static int same_bits(const kz_gbdt_model *a, const kz_gbdt_model *b) {
  if (a->n_trees != b->n_trees || a->best_iteration != b->best_iteration) return 0;
  for (int i = 0; i < a->n_trees; ++i) {
    const kz_gbdt_tree *x = &a->trees[i], *y = &b->trees[i];
    size_t n = (size_t)x->n_nodes;
    if (x->n_nodes != y->n_nodes || a->tree_group[i] != b->tree_group[i] ||
        memcmp(x->left, y->left, 4 * n) || memcmp(x->right, y->right, 4 * n) ||
        memcmp(x->feature, y->feature, 4 * n) || memcmp(x->threshold, y->threshold, 4 * n) ||
        memcmp(x->default_left, y->default_left, n) ||
        memcmp(x->leaf_value, y->leaf_value, 4 * n) || memcmp(x->gain, y->gain, 4 * n) ||
        memcmp(x->cover, y->cover, 4 * n))
      return 0;
  }
  return 1;
}

/* One booster (gpu: the driver through opts, else the CPU's) trained
 * straight through, and again stopped after `at` rounds, written to a
 * checkpoint file, read back into a fresh booster and finished: the models
 * must be the same to the bit (the margins, the early-stopping bookkeeping
 * and the trees carry over; the GPU booster has no random stream). */
static void check_resume(problem *pr, const kz_gbdt_gpu_options *opts, int gpu, int at) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/kz_test_gbdt_resume_%ld.kzg", (long)getpid());
  kz_gbdt_model *straight = NULL, *resumed = NULL;
  if (gpu)
    KZ_CHECK_OK(kz_gbdt_gpu_train(&pr->p, &pr->train, &pr->valid, opts, &straight));
  else
    KZ_CHECK_OK(kz_gbdt_train(&pr->p, &pr->train, &pr->valid, &straight));
  kz_gbdt_gpu_booster *g = NULL;
  kz_gbdt_booster *c = NULL;
  kz_gbdt_booster_state s;
  int stop = 0;
  if (gpu)
    KZ_CHECK_OK(kz_gbdt_gpu_booster_create(&pr->p, &pr->train, &pr->valid, opts, &g));
  else
    KZ_CHECK_OK(kz_gbdt_booster_create(&pr->p, &pr->train, &pr->valid, &c));
  for (int r = 0; r < at && !stop && (g || c); ++r)
    KZ_CHECK_OK(gpu ? kz_gbdt_gpu_booster_round(g, NULL, NULL, &stop)
                    : kz_gbdt_booster_round(c, NULL, NULL, &stop));
  KZ_CHECK(!stop);
  if (g) kz_gbdt_gpu_booster_get_state(g, &s);
  if (c) kz_gbdt_booster_get_state(c, &s);
  if (g || c) KZ_CHECK_OK(kz_gbdt_ckpt_write(path, &s, 1.5, "{\"model.eta\": 0.3}"));
  kz_gbdt_gpu_booster_free(g);
  kz_gbdt_booster_free(c);
  g = NULL, c = NULL;
  kz_gbdt_ckpt ck;
  memset(&ck, 0, sizeof ck);
  KZ_CHECK_OK(kz_gbdt_ckpt_read(path, &ck));
  remove(path);
  KZ_CHECK(ck.st.round == at && ck.wall_s == 1.5);
  if (gpu)
    KZ_CHECK_OK(kz_gbdt_gpu_booster_create(&pr->p, &pr->train, &pr->valid, opts, &g));
  else
    KZ_CHECK_OK(kz_gbdt_booster_create(&pr->p, &pr->train, &pr->valid, &c));
  kz_gbdt_model *trees = ck.model;
  ck.model = NULL;
  if (g) KZ_CHECK_OK(kz_gbdt_gpu_booster_set_state(g, &ck.st, &trees, "resume"));
  if (c) KZ_CHECK_OK(kz_gbdt_booster_set_state(c, &ck.st, &trees, "resume"));
  kz_gbdt_ckpt_free(&ck);
  stop = 0;
  while (!stop && (g || c)) {
    kz_status st = gpu ? kz_gbdt_gpu_booster_round(g, NULL, NULL, &stop)
                       : kz_gbdt_booster_round(c, NULL, NULL, &stop);
    KZ_CHECK_OK(st);
    if (st != KZ_OK) break;
  }
  if (g) KZ_CHECK_OK(kz_gbdt_gpu_booster_finish(g, &resumed));
  if (c) KZ_CHECK_OK(kz_gbdt_booster_finish(c, &resumed));
  KZ_CHECK(straight && resumed && same_bits(straight, resumed));
  if (straight && resumed && !same_bits(straight, resumed))
    fprintf(stderr, "%s: the %s booster resumed at round %d differs from a straight run\n",
            pr->name, gpu ? "GPU" : "CPU", at);
  kz_gbdt_model_free(straight);
  kz_gbdt_model_free(resumed);
}

/* Continuation (train.init_from): a booster trained `at` rounds, its model
 * handed to a fresh booster (kz_*_init_from) that runs the remaining
 * rounds, must give the straight run's model to the bit: the margins start
 * from the model's predictions, which equal the training margins because
 * the leaves added to them are the stored floats. No sampling (a continued
 * run draws from a fresh stream). */
static void check_continue(problem *pr, const kz_gbdt_gpu_options *opts, int gpu, int at) {
  kz_gbdt_params p = pr->p;
  kz_gbdt_model *straight = NULL, *first = NULL, *cont = NULL;
  const int total = p.num_round;
  if (gpu)
    KZ_CHECK_OK(kz_gbdt_gpu_train(&p, &pr->train, &pr->valid, opts, &straight));
  else
    KZ_CHECK_OK(kz_gbdt_train(&p, &pr->train, &pr->valid, &straight));
  p.num_round = at;
  if (gpu)
    KZ_CHECK_OK(kz_gbdt_gpu_train(&p, &pr->train, &pr->valid, opts, &first));
  else
    KZ_CHECK_OK(kz_gbdt_train(&p, &pr->train, &pr->valid, &first));
  p.num_round = total - at;
  kz_gbdt_gpu_booster *g = NULL;
  kz_gbdt_booster *c = NULL;
  if (gpu)
    KZ_CHECK_OK(kz_gbdt_gpu_booster_create(&p, &pr->train, &pr->valid, opts, &g));
  else
    KZ_CHECK_OK(kz_gbdt_booster_create(&p, &pr->train, &pr->valid, &c));
  if (g) KZ_CHECK_OK(kz_gbdt_gpu_booster_init_from(g, &first, "init"));
  if (c) KZ_CHECK_OK(kz_gbdt_booster_init_from(c, &first, "init"));
  KZ_CHECK(first == NULL);
  int stop = 0;
  while (!stop && (g || c)) {
    kz_status st = gpu ? kz_gbdt_gpu_booster_round(g, NULL, NULL, &stop)
                       : kz_gbdt_booster_round(c, NULL, NULL, &stop);
    KZ_CHECK_OK(st);
    if (st != KZ_OK) break;
  }
  if (g) KZ_CHECK_OK(kz_gbdt_gpu_booster_finish(g, &cont));
  if (c) KZ_CHECK_OK(kz_gbdt_booster_finish(c, &cont));
  KZ_CHECK(straight && cont && same_bits(straight, cont));
  if (straight && cont && !same_bits(straight, cont))
    fprintf(stderr, "%s: the %s booster continued after round %d differs from a straight run\n",
            pr->name, gpu ? "GPU" : "CPU", at);
  /* a model of another objective is refused, naming both */
  p.objective = KZ_GBDT_REG_SQUAREDERROR;
  kz_gbdt_model *reg = NULL;
  KZ_CHECK_OK(kz_gbdt_train(&p, &pr->train, NULL, &reg));
  p.objective = pr->p.objective;
  c = NULL;
  KZ_CHECK_OK(kz_gbdt_booster_create(&p, &pr->train, NULL, &c));
  if (c && reg)
    KZ_CHECK_FAILS(kz_gbdt_booster_init_from(c, &reg, "init"), KZ_ERR_INVALID_ARG,
                   "init: a reg:squarederror model with 1 output groups; the job trains");
  KZ_CHECK(reg == NULL);
  kz_gbdt_booster_free(c);
  kz_gbdt_model_free(straight);
  kz_gbdt_model_free(cont);
}

/* Mean multi:softprob log loss of model m on d's rows. */
static double softprob_logloss(const kz_gbdt_model *m, const kz_gbdt_data *d) {
  const int K = m->num_group;
  double *mg = malloc(sizeof(double) * (size_t)d->n * K), loss = 0;
  if (!mg || kz_gbdt_predict_margin(m, d->n, d->num, NULL, 1, mg) != KZ_OK) {
    free(mg);
    return NAN;
  }
  for (int64_t r = 0; r < d->n; ++r) {
    const double *z = mg + r * K;
    double mx = z[0], sum = 0;
    for (int k = 1; k < K; ++k) mx = fmax(mx, z[k]);
    for (int k = 0; k < K; ++k) sum += exp(z[k] - mx);
    loss += log(sum) + mx - z[(int)d->label[r]];
  }
  free(mg);
  return loss / (double)d->n;
}

/* The real kernels (g) against their emulation (e): the same integer sums up
 * to the gradients' float rounding (device and glibc expf differ by an ulp),
 * so the same trees as same_model means them. Where exact ties are possible
 * (pr->ties: multi:softprob) an ulp can flip a near-tie, so there: the first
 * round's trees the same (their gradients, 1/3 and -2/3 from equal margins,
 * are exact on both), and the final train log loss within 1% of the
 * emulation's (a flipped near-tie moves it by far less; a wrong kernel by
 * far more). */
static void real_vs_emulated(const problem *pr, const kz_gbdt_model *g, const kz_gbdt_model *e) {
  const char *what = "cuda:0 vs emulated kernels";
  if (!pr->ties) {
    KZ_CHECK(same_model(g, e, &pr->train, what));
    return;
  }
  KZ_CHECK(g->n_trees == e->n_trees && g->num_group == e->num_group);
  for (int t = 0; t < e->num_group && t < g->n_trees && t < e->n_trees; ++t) {
    double scale = 0;
    const kz_gbdt_tree *b = &e->trees[t];
    for (int i = 0; i < b->n_nodes; ++i)
      if (b->left[i] < 0 && fabs(b->leaf_value[i]) > scale) scale = fabs(b->leaf_value[i]);
    KZ_CHECK(g->trees[t].n_nodes == b->n_nodes &&
             same_subtree(&g->trees[t], 0, b, 0, scale, &pr->train, what, t));
  }
  double lg = softprob_logloss(g, &pr->train), le = softprob_logloss(e, &pr->train);
  if (!(fabs(lg - le) <= 0.01 * le)) {
    fprintf(stderr, "%s (%s): final train log loss %.9g vs %.9g\n", pr->name, what, lg, le);
    KZ_CHECK(0);
  }
}

static int run_emulated(void) {
  problem pr;
  for (int i = 0; make_problem(i, &pr); ++i) {
    train_and_compare(&pr, &emu_opts, "emulated kernels");
    if (pr.ties) { /* the GPU mode's comparison, run here on two emulated runs */
      kz_gbdt_model *a = NULL, *b = NULL;
      KZ_CHECK_OK(kz_gbdt_gpu_train(&pr.p, &pr.train, &pr.valid, &emu_opts, &a));
      KZ_CHECK_OK(kz_gbdt_gpu_train(&pr.p, &pr.train, &pr.valid, &emu_opts, &b));
      if (a && b) {
        real_vs_emulated(&pr, a, b);
        KZ_CHECK(same_bits(a, b));
      }
      kz_gbdt_model_free(a);
      kz_gbdt_model_free(b);
    }
    problem_free(&pr);
  }
  fprintf(stderr, "largest leaf difference: %.3g of (|leaf| + 1e-6 tree scale)\n", worst_leaf_rel);
  /* checkpoint -> resume, both boosters: with early stopping (it must not
   * fire before the checkpoint), and the CPU's with row and feature sampling
   * on 2 threads, classes grown in parallel */
  problem_make(&pr, "resume", KZ_GBDT_BINARY_LOGISTIC, 0, 4000, 1000);
  pr.p.num_round = 30;
  pr.p.early_stopping_rounds = 3;
  check_resume(&pr, &emu_opts, 1, 4);
  check_resume(&pr, &emu_opts, 0, 4);
  pr.p.early_stopping_rounds = 0;
  check_continue(&pr, &emu_opts, 1, 7);
  check_continue(&pr, &emu_opts, 0, 7);
  problem_free(&pr);
  problem_make(&pr, "resume multi", KZ_GBDT_MULTI_SOFTPROB, 3, 4000, 1000);
  pr.p.subsample = 0.7;
  pr.p.colsample_bynode = 0.6;
  pr.p.nthread = 2;
  check_resume(&pr, &emu_opts, 0, 3);
  problem_free(&pr);
  check_refusals(&emu_opts);
  check_predict(&emu_opts, "emulated kernels");
  /* the CUDA kernels need a CUDA device, whatever the build */
  kz_gbdt_gpu_options cpu_dev = {{KZ_DEVICE_CPU, 0}, NULL};
  KZ_CHECK(kz_gbdt_gpu_check_device(&cpu_dev) != KZ_OK);
  int r = KZ_TEST_RESULT();
  if (r == 0) printf("gbdt gpu driver (emulated kernels): ok\n");
  return r;
}

static int run_gpu(void) {
  const kz_gbdt_gpu_options cuda = {{KZ_DEVICE_CUDA, 0}, NULL};
  if (!kz_backend_cuda()) {
    problem pr;
    make_problem(0, &pr);
    kz_gbdt_gpu_booster *b = NULL;
    KZ_CHECK_FAILS(kz_gbdt_gpu_booster_create(&pr.p, &pr.train, NULL, &cuda, &b),
                   KZ_ERR_UNSUPPORTED, "built without CUDA");
    kz_gbdt_model *m = NULL;
    KZ_CHECK_FAILS(kz_gbdt_gpu_train(&pr.p, &pr.train, NULL, &cuda, &m), KZ_ERR_UNSUPPORTED,
                   "built without CUDA");
    KZ_CHECK(b == NULL && m == NULL);
    KZ_CHECK_OK(kz_gbdt_train(&pr.p, &pr.train, NULL, &m));
    double out[4];
    if (m)
      KZ_CHECK_FAILS(kz_gbdt_predict_margin_gpu(m, 4, pr.num, NULL, &cuda, out), KZ_ERR_UNSUPPORTED,
                     "built without CUDA");
    KZ_CHECK_FAILS(kz_gbdt_dev_partition(NULL, NULL, 1, NULL, 0, 0, 0, 0, NULL, NULL),
                   KZ_ERR_UNSUPPORTED, "built without CUDA");
    kz_gbdt_model_free(m);
    problem_free(&pr);
    if (kz_test_failures) return KZ_TEST_RESULT();
  }
  if (kz_cuda_device_count() < 1) {
    printf("skipped: no GPU\n");
    return SKIP;
  }
  problem pr;
  for (int i = 0; make_problem(i, &pr); ++i) {
    train_and_compare(&pr, &cuda, "cuda:0");
    kz_gbdt_model *g = NULL, *e = NULL, *again = NULL;
    KZ_CHECK_OK(kz_gbdt_gpu_train(&pr.p, &pr.train, &pr.valid, &cuda, &g));
    KZ_CHECK_OK(kz_gbdt_gpu_train(&pr.p, &pr.train, &pr.valid, &emu_opts, &e));
    if (g && e) real_vs_emulated(&pr, g, e);
    /* integer sums in any atomic order: a second run is the same to the bit */
    KZ_CHECK_OK(kz_gbdt_gpu_train(&pr.p, &pr.train, &pr.valid, &cuda, &again));
    if (g && again && !same_bits(g, again)) {
      fprintf(stderr, "%s: two runs on cuda:0 differ\n", pr.name);
      KZ_CHECK(0);
    }
    kz_gbdt_model_free(g);
    kz_gbdt_model_free(e);
    kz_gbdt_model_free(again);
    problem_free(&pr);
  }
  fprintf(stderr, "largest leaf difference: %.3g of (|leaf| + 1e-6 tree scale)\n", worst_leaf_rel);
  problem_make(&pr, "continue", KZ_GBDT_BINARY_LOGISTIC, 0, 4000, 1000);
  pr.p.num_round = 30;
  check_continue(&pr, &cuda, 1, 7);
  problem_free(&pr);
  check_refusals(&cuda);
  check_predict(&cuda, "cuda:0");
  int r = KZ_TEST_RESULT();
  if (r == 0) printf("gbdt gpu booster on cuda:0: ok\n");
  return r;
}

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "emulated") && strcmp(argv[1], "gpu"))) {
    fprintf(stderr, "usage: %s emulated|gpu\n", argv[0]);
    return 2;
  }
  return strcmp(argv[1], "gpu") ? run_emulated() : run_gpu();
}
