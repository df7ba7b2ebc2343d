/* Export of a kaizen GBDT model as an XGBoost JSON model (the schema of
 * XGBoost 1.7's Booster.save_model), loadable with Booster.load_model and
 * giving the same margins (docs/GBDT.md, "XGBoost export"): numeric and
 * categorical splits (split_type 1 with the category lists), default
 * directions, gain (loss_changes) and cover (sum_hessian).
 *
 * XGBoost keeps one scalar base_score, given in the objective's output space;
 * kaizen keeps a margin per group. The export therefore sets base_score to
 * the value whose margin is 0 and, when some group's base margin is not 0,
 * prepends one single-leaf tree per group holding it. reg:quantile has no
 * XGBoost 1.7 objective and is refused. Writes PATH.tmp, then renames. */
#ifndef KZ_MODELS_GBDT_GBDT_XGB_EXPORT_H
#define KZ_MODELS_GBDT_GBDT_XGB_EXPORT_H

#include "models/gbdt/gbdt_model.h"

kz_status kz_gbdt_export_xgboost_json(const kz_gbdt_model *m, const char *path);

#endif
