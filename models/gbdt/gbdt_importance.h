/* Feature importance as XGBoost's Booster.get_score defines it, over every
 * tree of the model:
 *   weight      number of splits on the feature
 *   total_gain  sum of the splits' gain (loss reduction)
 *   gain        total_gain / weight
 *   total_cover sum of the split nodes' cover (hessian sum)
 *   cover       total_cover / weight
 * Features never split on get 0 (XGBoost leaves them out). */
#ifndef KZ_MODELS_GBDT_GBDT_IMPORTANCE_H
#define KZ_MODELS_GBDT_GBDT_IMPORTANCE_H

#include "models/gbdt/gbdt_model.h"

typedef enum kz_gbdt_importance_type {
  KZ_GBDT_IMPORTANCE_WEIGHT,
  KZ_GBDT_IMPORTANCE_GAIN,
  KZ_GBDT_IMPORTANCE_TOTAL_GAIN,
  KZ_GBDT_IMPORTANCE_COVER,
  KZ_GBDT_IMPORTANCE_TOTAL_COVER
} kz_gbdt_importance_type;

/* Returns 0 for an unknown name. */
int kz_gbdt_importance_parse(const char *name, kz_gbdt_importance_type *out);
const char *kz_gbdt_importance_name(kz_gbdt_importance_type t);

/* out[n_numeric + n_categorical]. */
kz_status kz_gbdt_importance(const kz_gbdt_model *m, kz_gbdt_importance_type type, double *out);

#endif
