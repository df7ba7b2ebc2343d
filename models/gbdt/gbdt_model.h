/* A trained GBDT ensemble in memory (docs/GBDT.md). Written by the booster
 * (models/gbdt/train*), read by prediction, the JSON model file, the XGBoost
 * exporter, importance and TreeSHAP.
 *
 * Features are the tabular shard's columns in schema order: the numeric ones
 * first (f32, NaN = missing), then the categorical ones (i32 codes, -1 =
 * missing). Split rules, as XGBoost's:
 *   numeric:     x < threshold -> left, else right
 *   categorical: code in the node's category set -> right, else left
 *   missing:     default_left ? left : right
 * Leaf values already include the learning rate. The raw prediction (margin)
 * of a row for output group k is base_score[k] + the sum of the leaf values of
 * the trees whose tree_group is k. */
#ifndef KZ_MODELS_GBDT_GBDT_MODEL_H
#define KZ_MODELS_GBDT_GBDT_MODEL_H

#include <stdint.h>

#include "kaizen.h"

typedef enum kz_gbdt_objective {
  KZ_GBDT_REG_SQUAREDERROR,
  KZ_GBDT_REG_ABSOLUTEERROR,
  KZ_GBDT_REG_QUANTILE,
  KZ_GBDT_BINARY_LOGISTIC,
  KZ_GBDT_MULTI_SOFTPROB,
  KZ_GBDT_COUNT_POISSON
} kz_gbdt_objective;

/* The deepest tree a model may hold (root at depth 0): the loader and
 * kz_gbdt_model_validate refuse deeper ones, and lossguide growth with
 * max_depth 0 ("unlimited") stops there. TreeSHAP keeps a path of
 * O(depth^2) entries per thread and recurses once per level, so the bound
 * keeps both small (17 MB, well inside a thread's stack) whatever the file
 * says; XGBoost-style trees are rarely deeper than a few dozen levels. */
#define KZ_GBDT_MAX_DEPTH 1024

typedef struct kz_gbdt_tree {
  int32_t n_nodes;       /* node 0 is the root */
  int32_t *left, *right; /* child indices; -1 on leaves */
  int32_t *feature;      /* split feature; -1 on leaves */
  float *threshold;      /* numeric splits */
  uint8_t *default_left;
  uint8_t *is_categorical;
  /* categorical splits: the categories going right are
   * cat_values[cat_begin[n] .. cat_begin[n] + cat_count[n]) (sorted codes) */
  int32_t *cat_begin, *cat_count;
  int32_t *cat_values;
  int32_t n_cat_values;
  float *leaf_value; /* leaves: the value (eta included); internal nodes: 0 */
  float *gain;       /* internal nodes: the split's loss reduction */
  float *cover;      /* every node: the hessian sum of its training rows */
} kz_gbdt_tree;

typedef struct kz_gbdt_model {
  kz_gbdt_objective objective;
  double quantile_alpha;  /* reg:quantile */
  int32_t num_group;      /* 1, or the number of classes for multi:softprob */
  double base_score[256]; /* margin per group; num_group <= 256 */
  int32_t n_numeric, n_categorical;
  char **feature_names;  /* n_numeric + n_categorical */
  int32_t *n_categories; /* per categorical feature (dictionary size) */
  char **class_names;    /* classification: num_group (binary: 2) names, else NULL */
  char *label_name;
  int32_t n_trees;
  kz_gbdt_tree *trees;
  int32_t *tree_group;    /* per tree */
  int32_t best_iteration; /* rounds kept after early stopping; -1 if none */
  /* The schema of the training data as compact JSON (kz_schema_to_input_string):
   * names, types, category dictionaries and label classes, so that new rows
   * can be mapped by name (data/map/input_map.h). NULL in files written
   * before models kept it. */
  char *input_schema;
} kz_gbdt_model;

void kz_gbdt_model_free(kz_gbdt_model *m);

/* Raw margins for n rows: num[n x n_numeric] and cat[n x n_categorical] row-
 * major (cat may be NULL when n_categorical is 0). out[n x num_group]. */
kz_status kz_gbdt_predict_margin(const kz_gbdt_model *m, int64_t n, const float *num,
                                 const int32_t *cat, int nthread, double *out);
/* Margins through the objective's link: probabilities (logistic, softmax),
 * exp for count:poisson, identity otherwise. */
void kz_gbdt_transform(const kz_gbdt_model *m, int64_t n, double *margin_inout);

#endif
