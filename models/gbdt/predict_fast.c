/* Flattened numeric trees and block traversal (predict_fast.h). */
#include "models/gbdt/predict_fast.h"

#include <stdlib.h>
#include <string.h>

#include "models/gbdt/tree_build.h"

#define KZ_GBDT_FLAT_LANES 16

/* The depth of a well-formed tree; -1 when it is not one (a child out of
 * range, or more nodes visited than it has: a cycle), or has a categorical
 * split, or splits on a feature outside the numeric ones. */
static int32_t numeric_depth(const kz_gbdt_tree *t, int n_numeric, int32_t *queue, int32_t *level) {
  int32_t n = t->n_nodes, head = 0, tail = 0, depth = 0;
  if (n < 1) return -1;
  queue[tail++] = 0;
  level[0] = 0;
  while (head < tail) {
    int32_t id = queue[head++], l = t->left[id], r = t->right[id];
    if (level[id] > depth) depth = level[id];
    if (l < 0 && r < 0) continue;
    if (l < 0 || r < 0 || l >= n || r >= n || tail + 2 > n || t->is_categorical[id] ||
        t->feature[id] < 0 || t->feature[id] >= n_numeric)
      return -1;
    level[l] = level[r] = level[id] + 1;
    queue[tail++] = l;
    queue[tail++] = r;
  }
  return depth;
}

int kz_gbdt_flat_build(const kz_gbdt_tree *trees, int32_t n_trees, int n_numeric, kz_gbdt_flat *f) {
  memset(f, 0, sizeof *f);
  int64_t total = 0;
  int32_t most = 1;
  for (int32_t i = 0; i < n_trees; ++i) {
    total += trees[i].n_nodes > 0 ? trees[i].n_nodes : 0;
    if (trees[i].n_nodes > most) most = trees[i].n_nodes;
  }
  f->trees = calloc((size_t)(n_trees > 0 ? n_trees : 1), sizeof *f->trees);
  f->pool = malloc(sizeof *f->pool * (size_t)(total > 0 ? total : 1));
  int32_t *queue = malloc(sizeof(int32_t) * (size_t)most);
  int32_t *level = malloc(sizeof(int32_t) * (size_t)most);
  if (!f->trees || !f->pool || !queue || !level) {
    free(queue);
    free(level);
    kz_gbdt_flat_free(f);
    return 0;
  }
  int64_t o = 0;
  for (int32_t i = 0; i < n_trees; ++i) {
    const kz_gbdt_tree *t = &trees[i];
    int32_t depth = n_numeric > 0 ? numeric_depth(t, n_numeric, queue, level) : -1;
    if (depth < 0) continue; /* the plain walk */
    kz_gbdt_flat_node *nodes = f->pool + o;
    for (int32_t k = 0; k < t->n_nodes; ++k) {
      kz_gbdt_flat_node *q = &nodes[k];
      if (t->left[k] < 0) { /* a leaf: both ways lead back to itself */
        *q = (kz_gbdt_flat_node){0, t->leaf_value[k], {k, k}};
      } else {
        uint32_t dl = t->default_left[k] ? 0x80000000u : 0u;
        *q = (kz_gbdt_flat_node){
            (uint32_t)t->feature[k] | dl, t->threshold[k], {t->left[k], t->right[k]}};
      }
    }
    f->trees[i].nodes = nodes;
    f->trees[i].depth = depth;
    o += t->n_nodes;
  }
  free(queue);
  free(level);
  return 1;
}

void kz_gbdt_flat_free(kz_gbdt_flat *f) {
  free(f->trees);
  free(f->pool);
  memset(f, 0, sizeof *f);
}

void kz_gbdt_flat_add_block(const kz_gbdt_tree *t, const kz_gbdt_flat_tree *ft, int64_t r0, int n,
                            const float *num, const int32_t *cat, int n_numeric, int n_categorical,
                            int64_t stride, double *out) {
  if (!ft || !ft->nodes) {
    for (int j = 0; j < n; ++j) {
      int64_t r = r0 + j;
      double a = 0;
      a += kz_gbdt_tree_predict_row(t, n_numeric ? num + r * n_numeric : NULL,
                                    n_categorical ? cat + r * n_categorical : NULL, n_numeric);
      out[r * stride] += a;
    }
    return;
  }
  const kz_gbdt_flat_node *nodes = ft->nodes;
  int32_t depth = ft->depth;
  /* Eight rows at a time, each stepping down for the tree's depth (a row at
   * its leaf stays there): eight independent load chains in registers hide
   * one another's latency, and no branch depends on the data. */
  for (int j0 = 0; j0 < n; j0 += KZ_GBDT_FLAT_LANES) {
    int lanes = n - j0 < KZ_GBDT_FLAT_LANES ? n - j0 : KZ_GBDT_FLAT_LANES;
    const float *x[KZ_GBDT_FLAT_LANES];
    int32_t id[KZ_GBDT_FLAT_LANES];
    for (int j = 0; j < KZ_GBDT_FLAT_LANES; ++j) {
      /* missing lanes of the last group repeat its first row */
      x[j] = num + (r0 + j0 + (j < lanes ? j : 0)) * n_numeric;
      id[j] = 0;
    }
    for (int32_t d = 0; d < depth; ++d)
      for (int j = 0; j < KZ_GBDT_FLAT_LANES; ++j) {
        const kz_gbdt_flat_node *q = &nodes[id[j]];
        uint32_t fdl = q->feature;
        float v = x[j][fdl & 0x7fffffffu];
        /* NaN compares false: it goes left only when default_left; the
         * child is picked by indexing, not by a branch */
        int left = (v < q->value) | ((v != v) & (int)(fdl >> 31));
        id[j] = q->child[left ^ 1];
      }
    for (int j = 0; j < lanes; ++j) {
      double a = 0; /* as the plain walk sums: 0 + leaf, then into the margin */
      a += nodes[id[j]].value;
      out[(r0 + j0 + j) * stride] += a;
    }
  }
}
