/* Exact TreeSHAP on the CPU (docs/GBDT.md, "Importance and SHAP"): the
 * path-dependent algorithm of Lundberg, Erion and Lee (2018), which computes
 * Shapley values of the conditional expectation E[f(x) | x_S] estimated by
 * following both children of a split on an unknown feature, weighted by the
 * children's training cover.
 *
 * Per row and output group the contributions of every feature plus a last
 * "bias" column (base_score plus each tree's expected value) sum to the
 * row's margin, as XGBoost's pred_contribs. */
#ifndef KZ_MODELS_GBDT_GBDT_SHAP_H
#define KZ_MODELS_GBDT_GBDT_SHAP_H

#include <stdint.h>

#include "models/gbdt/gbdt_model.h"

/* num[n x n_numeric], cat[n x n_categorical] (NULL when n_categorical is 0),
 * as kz_gbdt_predict_margin. out[n x num_group x (n_features + 1)]: row r,
 * group g, feature j at out[(r * num_group + g) * (n_features + 1) + j], the
 * bias at j = n_features. nthread 0: all cores. */
kz_status kz_gbdt_shap(const kz_gbdt_model *m, int64_t n, const float *num, const int32_t *cat,
                       int nthread, double *out);

/* The share of a node's cover that went to `child`, the weight of that
 * branch when the split feature is unknown (0.5 if the node has no cover). */
double kz_gbdt_cover_fraction(const kz_gbdt_tree *t, int32_t node, int32_t child);

/* The child a row takes at internal node `node` (split rules of gbdt_model.h). */
int32_t kz_gbdt_node_next(const kz_gbdt_model *m, const kz_gbdt_tree *t, int32_t node,
                          const float *num_row, const int32_t *cat_row);

#endif
