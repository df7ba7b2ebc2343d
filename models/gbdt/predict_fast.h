/* The CPU predictor's flattened trees (private to models/gbdt). A tree whose
 * splits are all numeric is copied into 16-byte nodes, leaves pointing at
 * themselves, so a block of rows can step through it level by level for the
 * tree's depth without a branch per row: each step is a load of the node, a
 * load of the row's value and a select. Trees with categorical splits keep
 * the model's own arrays (kz_gbdt_tree_predict_row). The sums are the same
 * doubles, in the same order, as the plain walk: bit-identical margins. */
#ifndef KZ_MODELS_GBDT_PREDICT_FAST_H
#define KZ_MODELS_GBDT_PREDICT_FAST_H

#include <stdint.h>

#include "models/gbdt/gbdt_model.h"

typedef struct kz_gbdt_flat_node {
  uint32_t feature; /* low 31 bits: the feature; top bit: default_left */
  float value;      /* threshold; the leaf value on leaves */
  int32_t child[2]; /* left, right */
} kz_gbdt_flat_node;

typedef struct kz_gbdt_flat_tree {
  const kz_gbdt_flat_node *nodes; /* NULL: the tree has categorical splits */
  int32_t depth;                  /* steps from the root to the deepest leaf */
} kz_gbdt_flat_tree;

typedef struct kz_gbdt_flat {
  kz_gbdt_flat_tree *trees; /* per model tree */
  kz_gbdt_flat_node *pool;
} kz_gbdt_flat;

/* Flattens trees[0..n_trees). Returns 0 when out of memory (*f then empty:
 * every tree takes the plain walk). */
int kz_gbdt_flat_build(const kz_gbdt_tree *trees, int32_t n_trees, int n_numeric, kz_gbdt_flat *f);
void kz_gbdt_flat_free(kz_gbdt_flat *f);

/* out[(r0 + j) * stride] += the leaf value of tree t for rows r0 .. r0+n-1
 * (n <= KZ_GBDT_FLAT_BLOCK); ft may be NULL (plain walk). */
#define KZ_GBDT_FLAT_BLOCK 64
void kz_gbdt_flat_add_block(const kz_gbdt_tree *t, const kz_gbdt_flat_tree *ft, int64_t r0, int n,
                            const float *num, const int32_t *cat, int n_numeric, int n_categorical,
                            int64_t stride, double *out);

#endif
