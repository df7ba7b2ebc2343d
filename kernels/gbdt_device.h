/* GPU kernels of the histogram GBDT booster, callable from C (docs/GBDT.md).
 *
 * Every pointer named *_dev (and every array argument unless said otherwise)
 * is device memory of the stream's device; every function is asynchronous
 * with respect to the host and returns launch errors, not the kernels'
 * completion (kz_stream_sync for that). In a build without CUDA each function
 * returns KZ_ERR_UNSUPPORTED, "built without CUDA".
 *
 * Layout (the same as models/gbdt/gbdt_bins.h, which this layer must not
 * include; tests/test_gbdt_cuda.c checks that the constants agree):
 *   codes    uint8 row-major [n_rows x n_features]; value bins 0 .. n_bins[f]-1,
 *            KZ_GBDT_DEV_MISSING_BIN for a missing value;
 *   gh       float pairs (g, h) row-major [n_rows x num_group x 2];
 *   qgh      int64 pairs, the quantised gh, same layout;
 *   hist     int64 [n_features x KZ_GBDT_DEV_HIST_BINS x 2] (sum q_g, sum q_h)
 *            per node; the missing bin is the last entry of each feature.
 *
 * Determinism: gradients are quantised to integers with a per-round scale
 * (one per output group and component), so every histogram is a sum of
 * integers and the same input gives the same bits however the atomics are
 * ordered. Dequantised value = integer * scale; the scale is a power of two
 * fine enough that the int64 sums keep a row's gradient to about 2^-60 of
 * n * max|g| (kz_gbdt_dev_quant_scale). */
#ifndef KZ_GBDT_DEVICE_H
#define KZ_GBDT_DEVICE_H

#include <math.h>
#include <stdint.h>

#include "kaizen.h"
#include "kernels/core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KZ_GBDT_DEV_MISSING_BIN 255
#define KZ_GBDT_DEV_HIST_BINS 256
/* The quantised values of all rows together stay below 2^61 + n/2 in
 * absolute sum, so no node sum, sibling difference or split total can
 * overflow int64. */
#define KZ_GBDT_DEV_QUANT_BITS 61

#ifdef __CUDACC__
#define KZ_GBDT_DEV_FN static inline __host__ __device__
#else
#define KZ_GBDT_DEV_FN static inline
#endif

/* The quantisation step of a column of n rows whose largest |value| is max:
 * with max = f * 2^e (0.5 <= f < 1, frexp) and 2^c the smallest power of two
 * >= n, scale = 2^(e + c - KZ_GBDT_DEV_QUANT_BITS). n * max <= 2^(e + c), so
 * the rows' |q| = |value| / scale sum to at most 2^61 (+ n/2 from rounding).
 * A power of two makes value / scale exact: only the rounding to an integer
 * loses anything, at most scale / 2 < n * max * 2^-60 per row (for 4,000
 * rows 3.5e-15 of max, where the float value itself carries 6e-8 of its own
 * size). 0 for max 0; a non-finite max comes back as it is (the round must
 * fail). */
KZ_GBDT_DEV_FN double kz_gbdt_dev_quant_scale(float max, int64_t n) {
  const double m = (double)max;
  if (m != m || m == (double)INFINITY) return m;
  if (!(m > 0.0)) return 0.0;
  int e = 0;
  (void)frexp(m, &e);
  int c = 0;
  while (c < 62 && ((int64_t)1 << c) < n) ++c;
  return ldexp(1.0, e + c - KZ_GBDT_DEV_QUANT_BITS);
}

/* Same order and meaning as kz_gbdt_objective (models/gbdt/gbdt_model.h). */
typedef enum kz_gbdt_dev_objective {
  KZ_GBDT_DEV_SQUAREDERROR,
  KZ_GBDT_DEV_ABSOLUTEERROR,
  KZ_GBDT_DEV_QUANTILE,
  KZ_GBDT_DEV_LOGISTIC,
  KZ_GBDT_DEV_SOFTMAX,
  KZ_GBDT_DEV_POISSON
} kz_gbdt_dev_objective;

typedef struct kz_gbdt_dev_loss {
  kz_gbdt_dev_objective objective;
  int32_t num_group;     /* classes for softmax, else 1 */
  double quantile_alpha; /* reg:quantile, in (0, 1) */
  double max_delta_step; /* count:poisson hessian exp(margin + max_delta_step); XGBoost: 0.7 */
} kz_gbdt_dev_loss;

/* Per row r and group k, with margin m = margin[r, k], label y, weight w
 * (1 when weight is NULL), as XGBoost:
 *   squarederror  g = (m - y) w,                       h = w
 *   absoluteerror g = sign(m - y) w,                   h = w
 *   quantile      g = (y >= m ? -alpha : 1 - alpha) w, h = w
 *   logistic      p = sigmoid(m), g = (p - y) w,       h = max(p (1 - p), 1e-16) w
 *   softmax       p = softmax(m[r, :])_k, g = (p - [y == k]) w, h = max(2 p (1 - p), 1e-16) w
 *                 (y is the class index as a float)
 *   poisson       g = (exp(m) - y) w,                  h = exp(m + max_delta_step) w
 * Logistic and softmax never form 1 - p by subtraction where p is near 1:
 * with e = exp(-|m|), p and q = 1 - p are 1 / (1 + e) and e / (1 + e) (in
 * the order the sign of m gives), g = p (1 - y) - q y; softmax takes q of
 * the largest class from the sum of the other classes' terms. So a confident
 * row keeps g = -e^-m to float precision (relative 1e-7) out to |m| ~ 87,
 * where plain float arithmetic would give 0 beyond |m| ~ 17.
 * margin [n x num_group], label [n], weight [n] or NULL, gh [n x num_group x 2]. */
kz_status kz_gbdt_dev_gradients(kz_stream *s, const kz_gbdt_dev_loss *loss, const float *margin,
                                const float *label, const float *weight, int64_t n, float *gh);

/* Quantises gh [n x num_group x 2] into qgh (same layout) with one scale per
 * group and component: max_dev[k*2 + c] = max over rows of |gh[r, k, c]|,
 * scale_dev[k*2 + c] = kz_gbdt_dev_quant_scale(max_dev[k*2 + c], n) and
 * qgh = round-half-even(gh / scale) (0 where the scale is 0). max_dev and
 * scale_dev hold num_group * 2 values each. Non-finite gradients fail the
 * round: the scale becomes non-finite, which the host checks. */
kz_status kz_gbdt_dev_quantise(kz_stream *s, const float *gh, int64_t n, int32_t num_group,
                               float *max_dev, double *scale_dev, int64_t *qgh);

/* Histogram of one node: hist[f, b] = sum over the node's rows r with
 * codes[r, f] == b of (qgh[r*qgh_stride], qgh[r*qgh_stride + 1]). rows lists
 * the node's row indices (any order, each in 0 .. n_rows-1; others are
 * skipped, never read), or is NULL for all rows
 * 0 .. n_rows-1 (the root). For output group k of a multi-class model pass
 * qgh + 2k and qgh_stride = 2 * num_group. hist is overwritten. */
kz_status kz_gbdt_dev_histogram(kz_stream *s, const uint8_t *codes, int64_t n_rows,
                                int32_t n_features, const int32_t *rows, int64_t n_node_rows,
                                const int64_t *qgh, int64_t qgh_stride, int64_t *hist);

/* out = parent - child, n_features * KZ_GBDT_DEV_HIST_BINS * 2 entries: the
 * sibling's histogram without a pass over its rows. out may alias either. */
kz_status kz_gbdt_dev_hist_subtract(kz_stream *s, const int64_t *parent, const int64_t *child,
                                    int64_t *out, int32_t n_features);

typedef struct kz_gbdt_dev_split_params {
  double lambda;           /* L2 on leaf weights (reg_lambda) */
  double alpha;            /* L1 on leaf weights (reg_alpha) */
  double min_child_weight; /* minimum hessian sum of each child */
  double gamma;            /* min_split_loss: a split must reduce the loss by at least this */
} kz_gbdt_dev_split_params;

/* The best split of a feature or a node. Sums are quantised integers; times
 * the group's scale they are the gradient and hessian sums. */
typedef struct kz_gbdt_dev_split {
  double gain;              /* loss reduction; 0 when not found */
  int64_t left_g, left_h;   /* sums of the left child */
  int64_t total_g, total_h; /* sums of the node (every row, missing included) */
  int32_t feature;          /* -1 when not found */
  int32_t bin;              /* value bins <= bin go left: -1 .. n_bins-1 */
  int32_t default_left;     /* 1: missing rows go left */
  int32_t found;            /* 1 when a split passes every constraint */
} kz_gbdt_dev_split;

/* Split search over n_nodes histograms laid out one after another, with the
 * candidates and the order of the CPU booster (models/gbdt/split.c,
 * XGBoost's). With G, H the dequantised sums, T(G) = sign(G) max(|G| -
 * alpha, 0) and score(G, H) = T(G)^2 / (H + lambda) (0 when H + lambda <=
 * 0), a candidate (bin b, missing rows left or right) has gain score(L) +
 * score(R) - score(node) and is valid when both children have H >=
 * min_child_weight, gain > 1e-6 and gain >= gamma. With nb = min(n_bins[f],
 * 255) and "the node has missing rows" meaning a non-zero missing bin, the
 * candidates of a feature in order are
 *   1. missing right, b = 0 .. nb-2, and b = nb-1 (every value left, the
 *      missing rows alone right) when the node has missing rows;
 *   2. only when it has: missing left, b = nb-2 down to -1 (b = -1: the
 *      missing rows alone left, every value right).
 * The first candidate of the largest gain wins (so a node without missing
 * rows sends them right, and among equal gains missing left takes the
 * highest bin), and across features the lowest index. Pass gamma = 0 and
 * prune afterwards for XGBoost's post-pruning instead.
 * feature_mask (n_features bytes, device, or NULL for all) leaves out
 * features whose byte is 0. scale_dev points to the group's two scales
 * (kz_gbdt_dev_quantise). per_feature [n_nodes x n_features] (may be NULL)
 * and best [n_nodes]. */
kz_status kz_gbdt_dev_evaluate_splits(kz_stream *s, const int64_t *hist, int32_t n_nodes,
                                      int32_t n_features, const int32_t *n_bins,
                                      const uint8_t *feature_mask, const double *scale_dev,
                                      const kz_gbdt_dev_split_params *params,
                                      kz_gbdt_dev_split *per_feature, kz_gbdt_dev_split *best);

/* Stable partition of a node's row list by the split (feature, bin in
 * -1 .. 254, default_left): out_rows gets the rows going left (code <= bin,
 * or missing with default_left) in their input order, then those going right
 * in their input order; n_left_dev (one int64, device) the count of left
 * rows. out_rows must not overlap rows. */
kz_status kz_gbdt_dev_partition(kz_stream *s, const uint8_t *codes, int32_t n_features,
                                const int32_t *rows, int64_t n, int32_t feature, int32_t bin,
                                int32_t default_left, int32_t *out_rows, int64_t *n_left_dev);

/* A forest as flat arrays (device memory), the trees one after another.
 * Tree t owns nodes tree_offset[t] .. tree_offset[t+1]-1 and its root is the
 * first; left/right are node indices within the tree (-1 on leaves). Numeric
 * splits only: x < threshold -> left, NaN -> default_left ? left : right. */
typedef struct kz_gbdt_dev_forest {
  int32_t n_trees;
  int32_t num_group;
  const int32_t *tree_offset; /* n_trees + 1 */
  const int32_t *tree_group;  /* n_trees, each < num_group */
  const int32_t *feature;     /* -1 on leaves */
  const float *threshold;
  const int32_t *left, *right;
  const uint8_t *default_left;
  const float *leaf_value;
  const double *base_score; /* num_group, or NULL for 0 */
} kz_gbdt_dev_forest;

/* out[r, k] = base_score[k] + sum of the leaf values reached by row r in the
 * trees of group k, summed in double. x [n x n_features] f32, NaN = missing;
 * out [n x num_group]. A tree whose walk does not end within its node count
 * (a malformed cycle) or names a feature >= n_features makes out NaN; a
 * tree_group outside 0 .. num_group-1 makes every output of the row NaN. */
kz_status kz_gbdt_dev_predict(kz_stream *s, const kz_gbdt_dev_forest *forest, const float *x,
                              int64_t n, int32_t n_features, double *out);

#ifdef __cplusplus
}
#endif
#endif
