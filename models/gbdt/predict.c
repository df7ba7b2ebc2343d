/* Prediction with a trained ensemble (gbdt_model.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/gbdt_model.h"
#include "models/gbdt/predict_fast.h"
#include "models/gbdt/rng.h"
#include "models/gbdt/tree_build.h"

#define KZ_GBDT_FLAT_MIN_ROWS 32

void kz_gbdt_model_free(kz_gbdt_model *m) {
  if (!m) return;
  free(m->input_schema);
  int nf = m->n_numeric + m->n_categorical;
  if (m->feature_names)
    for (int i = 0; i < nf; ++i) free(m->feature_names[i]);
  free(m->feature_names);
  int n_classes = m->objective == KZ_GBDT_BINARY_LOGISTIC ? 2 : m->num_group;
  if (m->class_names)
    for (int i = 0; i < n_classes; ++i) free(m->class_names[i]);
  free(m->class_names);
  free(m->n_categories);
  free(m->label_name);
  for (int i = 0; i < m->n_trees; ++i) kz_gbdt_tree_free(&m->trees[i]);
  free(m->trees);
  free(m->tree_group);
  free(m);
}

static int in_set(const int32_t *v, int32_t n, int32_t code) {
  int32_t lo = 0, hi = n;
  while (lo < hi) {
    int32_t mid = (lo + hi) / 2;
    if (v[mid] < code)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && v[lo] == code;
}

double kz_gbdt_tree_predict_row(const kz_gbdt_tree *t, const float *num, const int32_t *cat,
                                int n_numeric) {
  return t->leaf_value[kz_gbdt_tree_leaf_row(t, num, cat, n_numeric)];
}

int32_t kz_gbdt_tree_leaf_row(const kz_gbdt_tree *t, const float *num, const int32_t *cat,
                              int n_numeric) {
  int32_t id = 0;
  while (t->left[id] >= 0) {
    int f = t->feature[id];
    int left;
    if (f < n_numeric) {
      float x = num[f];
      left = isnan(x) ? t->default_left[id] : x < t->threshold[id];
    } else {
      int32_t c = cat[f - n_numeric];
      left = c < 0 ? t->default_left[id]
                   : !in_set(t->cat_values + t->cat_begin[id], t->cat_count[id], c);
    }
    id = left ? t->left[id] : t->right[id];
  }
  return id;
}

kz_status kz_gbdt_predict_margin(const kz_gbdt_model *m, int64_t n, const float *num,
                                 const int32_t *cat, int nthread, double *out) {
  if (n < 0 || (n > 0 && ((m->n_numeric > 0 && !num) || (m->n_categorical > 0 && !cat))))
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt predict: missing feature values");
  int K = m->num_group, nn = m->n_numeric, nc = m->n_categorical;
  for (int i = 0; i < m->n_trees; ++i)
    if (m->tree_group[i] < 0 || m->tree_group[i] >= K)
      return kz_fail(KZ_ERR_FORMAT, "gbdt predict: tree %d has group %d of %d", i, m->tree_group[i],
                     K);
  int threads = kz_gbdt_threads(nthread);
  /* Numeric trees are flattened once (predict_fast.h); a block of rows goes
   * through one tree at a time, so the tree stays in L1 while the block's
   * rows (64 x n_numeric floats) stay in L1/L2 across the trees. */
  kz_gbdt_flat flat;
  memset(&flat, 0, sizeof flat);
  /* Flattening costs a pass over every node: a few rows (a single request)
   * walk the model's arrays instead. */
  int have_flat = n >= KZ_GBDT_FLAT_MIN_ROWS && kz_gbdt_flat_build(m->trees, m->n_trees, nn, &flat);
  int64_t blocks = (n + KZ_GBDT_FLAT_BLOCK - 1) / KZ_GBDT_FLAT_BLOCK;
#pragma omp parallel for schedule(static) num_threads(threads) if (n >= KZ_GBDT_PARALLEL_MIN_ROWS)
  for (int64_t bl = 0; bl < blocks; ++bl) {
    int64_t r0 = bl * KZ_GBDT_FLAT_BLOCK, r1 = r0 + KZ_GBDT_FLAT_BLOCK;
    if (r1 > n) r1 = n;
    for (int64_t r = r0; r < r1; ++r)
      for (int k = 0; k < K; ++k) out[r * K + k] = m->base_score[k];
    for (int i = 0; i < m->n_trees; ++i)
      kz_gbdt_flat_add_block(&m->trees[i], have_flat ? &flat.trees[i] : NULL, r0, (int)(r1 - r0),
                             num, cat, nn, nc, K, out + m->tree_group[i]);
  }
  if (have_flat) kz_gbdt_flat_free(&flat);
  return KZ_OK;
}

void kz_gbdt_transform(const kz_gbdt_model *m, int64_t n, double *x) {
  int K = m->num_group;
  for (int64_t r = 0; r < n; ++r) {
    double *o = x + r * K;
    switch (m->objective) {
    case KZ_GBDT_BINARY_LOGISTIC:
      o[0] = 1.0 / (1.0 + exp(-o[0]));
      break;
    case KZ_GBDT_COUNT_POISSON:
      o[0] = exp(o[0]);
      break;
    case KZ_GBDT_MULTI_SOFTPROB: {
      double mx = o[0], s = 0;
      for (int k = 1; k < K; ++k) mx = fmax(mx, o[k]);
      for (int k = 0; k < K; ++k) s += (o[k] = exp(o[k] - mx));
      for (int k = 0; k < K; ++k) o[k] /= s;
      break;
    }
    default:
      break;
    }
  }
}
