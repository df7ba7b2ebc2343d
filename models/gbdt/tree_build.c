/* Grower nodes -> model trees (tree_build.h). */
#include "models/gbdt/tree_build.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"

void kz_gbdt_tree_free(kz_gbdt_tree *t) {
  if (!t) return;
  free(t->left);
  free(t->right);
  free(t->feature);
  free(t->threshold);
  free(t->default_left);
  free(t->is_categorical);
  free(t->cat_begin);
  free(t->cat_count);
  free(t->cat_values);
  free(t->leaf_value);
  free(t->gain);
  free(t->cover);
  memset(t, 0, sizeof *t);
}

kz_status kz_gbdt_tree_alloc(kz_gbdt_tree *t, int32_t n, int32_t n_cat_values) {
  memset(t, 0, sizeof *t);
  size_t m = (size_t)(n > 0 ? n : 1);
  t->n_nodes = n;
  t->left = malloc(sizeof(int32_t) * m);
  t->right = malloc(sizeof(int32_t) * m);
  t->feature = malloc(sizeof(int32_t) * m);
  t->threshold = calloc(m, sizeof(float));
  t->default_left = calloc(m, 1);
  t->is_categorical = calloc(m, 1);
  t->cat_begin = calloc(m, sizeof(int32_t));
  t->cat_count = calloc(m, sizeof(int32_t));
  t->cat_values = calloc((size_t)(n_cat_values > 0 ? n_cat_values : 1), sizeof(int32_t));
  t->n_cat_values = n_cat_values;
  t->leaf_value = calloc(m, sizeof(float));
  t->gain = calloc(m, sizeof(float));
  t->cover = calloc(m, sizeof(float));
  if (!t->left || !t->right || !t->feature || !t->threshold || !t->default_left ||
      !t->is_categorical || !t->cat_begin || !t->cat_count || !t->cat_values || !t->leaf_value ||
      !t->gain || !t->cover) {
    kz_gbdt_tree_free(t);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory for a tree of %d nodes", n);
  }
  for (int32_t i = 0; i < n; ++i) t->left[i] = t->right[i] = t->feature[i] = -1;
  return KZ_OK;
}

static int popcount_mask(const uint64_t *m) {
  int c = 0;
  for (int i = 0; i < 4; ++i) c += __builtin_popcountll(m[i]);
  return c;
}

kz_status kz_gbdt_tree_from_bnodes(const kz_gbdt_bnode *nodes, int32_t n_nodes, const double *leaf,
                                   const kz_gbdt_cuts *cuts, kz_gbdt_tree *out) {
  /* Breadth-first order of the reachable nodes. */
  int32_t *order = malloc(sizeof(int32_t) * (size_t)(n_nodes > 0 ? n_nodes : 1));
  int32_t *new_id = malloc(sizeof(int32_t) * (size_t)(n_nodes > 0 ? n_nodes : 1));
  if (!order || !new_id) {
    free(order);
    free(new_id);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  }
  int32_t n = 0, n_cat = 0;
  order[n++] = 0;
  for (int32_t i = 0; i < n; ++i) {
    const kz_gbdt_bnode *nd = &nodes[order[i]];
    new_id[order[i]] = i;
    if (nd->split.feature < 0) continue;
    if (nd->split.is_cat) n_cat += popcount_mask(nd->split.cat_mask);
    order[n++] = nd->left;
    order[n++] = nd->right;
  }
  kz_status st = kz_gbdt_tree_alloc(out, n, n_cat);
  if (st != KZ_OK) {
    free(order);
    free(new_id);
    return st;
  }
  int32_t cv = 0;
  for (int32_t i = 0; i < n; ++i) {
    const kz_gbdt_bnode *nd = &nodes[order[i]];
    out->cover[i] = (float)nd->h;
    if (nd->split.feature < 0) {
      out->leaf_value[i] = (float)leaf[order[i]];
      continue;
    }
    int f = nd->split.feature;
    out->feature[i] = f;
    out->left[i] = new_id[nd->left];
    out->right[i] = new_id[nd->right];
    out->default_left[i] = (uint8_t)nd->split.default_left;
    out->gain[i] = (float)nd->split.gain;
    if (nd->split.is_cat) {
      out->is_categorical[i] = 1;
      out->cat_begin[i] = cv;
      for (int c = 0; c < KZ_GBDT_MISSING_BIN; ++c)
        if (kz_gbdt_mask_has(nd->split.cat_mask, c)) out->cat_values[cv++] = c;
      out->cat_count[i] = cv - out->cat_begin[i];
    } else {
      /* Missing-only splits (as XGBoost): bin -1 sends every value right,
       * the last bin every value left; the model needs finite thresholds,
       * so these are -FLT_MAX / FLT_MAX (only infinite values would land
       * differently from their training bins). */
      int b = nd->split.bin;
      float thr = b < 0 ? -FLT_MAX : cuts->cuts[f][b];
      out->threshold[i] = isinf(thr) ? (thr > 0 ? FLT_MAX : -FLT_MAX) : thr;
    }
  }
  free(order);
  free(new_id);
  return KZ_OK;
}
