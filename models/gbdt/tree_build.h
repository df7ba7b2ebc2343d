/* Trees of the model (gbdt_model.h): conversion from the grower's nodes,
 * freeing, and the prediction of one row. */
#ifndef KZ_MODELS_GBDT_TREE_BUILD_H
#define KZ_MODELS_GBDT_TREE_BUILD_H

#include "models/gbdt/binning.h"
#include "models/gbdt/gbdt_model.h"
#include "models/gbdt/grow.h"

/* The reachable nodes renumbered breadth-first from the root; thresholds
 * from the cut points; leaf[i] the value of grower node i. */
kz_status kz_gbdt_tree_from_bnodes(const kz_gbdt_bnode *nodes, int32_t n_nodes, const double *leaf,
                                   const kz_gbdt_cuts *cuts, kz_gbdt_tree *out);
/* Allocates every array for n nodes (zeroed, children -1). */
kz_status kz_gbdt_tree_alloc(kz_gbdt_tree *t, int32_t n_nodes, int32_t n_cat_values);
void kz_gbdt_tree_free(kz_gbdt_tree *t);

/* The leaf value one row reaches; num[n_numeric] then cat[] of the row. */
double kz_gbdt_tree_predict_row(const kz_gbdt_tree *t, const float *num, const int32_t *cat,
                                int n_numeric);
/* The leaf (node index) that row reaches. */
int32_t kz_gbdt_tree_leaf_row(const kz_gbdt_tree *t, const float *num, const int32_t *cat,
                              int n_numeric);

#endif
