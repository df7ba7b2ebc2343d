/* Booster parameters from the `model` section (booster.h), XGBoost's names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/booster.h"
#include "models/gbdt/objective.h"

void kz_gbdt_params_default(kz_gbdt_params *p) {
  memset(p, 0, sizeof *p);
  p->objective = -1;
  p->num_round = 100;
  p->eta = 0.3;
  p->max_depth = 6;
  p->max_leaves = 0;
  p->grow_policy = KZ_GBDT_DEPTHWISE;
  p->max_bin = 256;
  p->lambda = 1.0;
  p->alpha = 0.0;
  p->gamma = 0.0;
  p->min_child_weight = 1.0;
  p->subsample = 1.0;
  p->colsample_bytree = 1.0;
  p->colsample_bynode = 1.0;
  p->max_cat_to_onehot = 4;
  p->quantile_alpha = 0.5;
  p->refresh_leaf = 1;
}

/* eval_metric: a list (`[auc, logloss]`), one name, or names separated by
 * commas ("auc,logloss"). The last one drives early stopping, as in XGBoost. */
static kz_status add_metric(const kz_cfg_node *model, const char *name, size_t len,
                            kz_gbdt_params *p) {
  char path[64];
  snprintf(path, sizeof path, "line %d", kz_cfg_line(model));
  while (len && *name == ' ') ++name, --len;
  while (len && name[len - 1] == ' ') --len;
  char buf[32];
  if (len == 0 || len >= sizeof buf)
    return kz_fail(KZ_ERR_INVALID_ARG, "model.eval_metric (%s): empty or over-long metric name",
                   path);
  memcpy(buf, name, len);
  buf[len] = 0;
  int m = kz_gbdt_metric_parse(buf);
  if (m < 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.eval_metric (%s): unknown metric '%s' (logloss, accuracy, error, auc, "
                   "rmse, mae, quantile, poisson-nloglik; mlogloss and merror are read as "
                   "logloss and error)",
                   path, buf);
  if (p->n_metrics == KZ_GBDT_MAX_METRICS)
    return kz_fail(KZ_ERR_INVALID_ARG, "model.eval_metric (%s): at most %d metrics", path,
                   KZ_GBDT_MAX_METRICS);
  p->metrics[p->n_metrics++] = (kz_gbdt_metric)m;
  return KZ_OK;
}

static kz_status read_metrics(const kz_cfg_node *model, kz_gbdt_params *p) {
  static const char *const def[] = {"auto"};
  const char *names[KZ_GBDT_MAX_METRICS];
  int n = 0;
  KZ_TRY(kz_cfg_get_string_list(model, "eval_metric", def, 1, KZ_GBDT_MAX_METRICS, names, &n));
  p->n_metrics = 0;
  if (n == 1 && (!strcmp(names[0], "auto") || !*names[0])) return KZ_OK;
  for (int i = 0; i < n; ++i) {
    const char *c = names[i];
    for (;;) {
      const char *e = strchr(c, ',');
      size_t len = e ? (size_t)(e - c) : strlen(c);
      KZ_TRY(add_metric(model, c, len, p));
      if (!e) break;
      c = e + 1;
    }
  }
  return KZ_OK;
}

kz_status kz_gbdt_params_from_cfg(const kz_cfg_node *model, kz_gbdt_params *p) {
  kz_gbdt_params_default(p);
  static const char *const objectives[] = {
      "reg:squarederror", "reg:absoluteerror", "reg:quantile", "binary:logistic",
      "multi:softprob",   "count:poisson",     "auto",         NULL};
  static const char *const policies[] = {"depthwise", "lossguide", NULL};
  int obj, pol;
  int64_t v;
  KZ_TRY(kz_cfg_get_enum(model, "objective", objectives, 6, &obj));
  p->objective = obj == 6 ? -1 : obj;
  KZ_TRY(kz_cfg_get_int(model, "num_round", 100, 1, 1000000, &v));
  p->num_round = (int)v;
  KZ_TRY(kz_cfg_get_double(model, "eta", 0.3, 1e-6, 1.0, &p->eta));
  KZ_TRY(kz_cfg_get_int(model, "max_depth", 6, 0, 30, &v));
  p->max_depth = (int)v;
  KZ_TRY(kz_cfg_get_int(model, "max_leaves", 0, 0, 1 << 20, &v));
  p->max_leaves = (int)v;
  KZ_TRY(kz_cfg_get_enum(model, "grow_policy", policies, 0, &pol));
  p->grow_policy = (kz_gbdt_grow_policy)pol;
  KZ_TRY(kz_cfg_get_int(model, "max_bin", 256, 2, 256, &v));
  p->max_bin = (int)v;
  KZ_TRY(kz_cfg_get_double(model, "lambda", 1.0, 0.0, 1e30, &p->lambda));
  KZ_TRY(kz_cfg_get_double(model, "alpha", 0.0, 0.0, 1e30, &p->alpha));
  KZ_TRY(kz_cfg_get_double(model, "gamma", 0.0, 0.0, 1e30, &p->gamma));
  KZ_TRY(kz_cfg_get_double(model, "min_child_weight", 1.0, 0.0, 1e30, &p->min_child_weight));
  KZ_TRY(kz_cfg_get_double(model, "subsample", 1.0, 1e-6, 1.0, &p->subsample));
  KZ_TRY(kz_cfg_get_double(model, "colsample_bytree", 1.0, 1e-6, 1.0, &p->colsample_bytree));
  KZ_TRY(kz_cfg_get_double(model, "colsample_bynode", 1.0, 1e-6, 1.0, &p->colsample_bynode));
  KZ_TRY(kz_cfg_get_int(model, "max_cat_to_onehot", 4, 1, 255, &v));
  p->max_cat_to_onehot = (int)v;
  KZ_TRY(kz_cfg_get_double(model, "quantile_alpha", 0.5, 1e-6, 1.0 - 1e-6, &p->quantile_alpha));
  KZ_TRY(kz_cfg_get_int(model, "num_class", 0, 0, 256, &v));
  p->num_class = (int)v;
  KZ_TRY(read_metrics(model, p));
  KZ_TRY(kz_cfg_get_int(model, "early_stopping_rounds", 0, 0, 1000000, &v));
  p->early_stopping_rounds = (int)v;
  KZ_TRY(kz_cfg_get_int(model, "nthread", 0, 0, 4096, &v));
  p->nthread = (int)v;
  int exact = 0;
  KZ_TRY(kz_cfg_get_bool(model, "exact_histograms", 0, &exact));
  p->exact_histograms = exact;
  /* XGBoost's names for updating an existing model's trees (refresh.h) */
  static const char *const process_types[] = {"default", "update", NULL};
  int pt;
  const char *updater;
  KZ_TRY(kz_cfg_get_enum(model, "process_type", process_types, 0, &pt));
  KZ_TRY(kz_cfg_get_string(model, "updater", "", &updater));
  KZ_TRY(kz_cfg_get_bool(model, "refresh_leaf", 1, &p->refresh_leaf));
  p->process_update = pt == 1;
  if (p->process_update && strcmp(updater, "refresh"))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.updater: process_type: update needs updater: refresh (the one updater "
                   "of existing trees kaizen has), got '%s'",
                   updater);
  if (!p->process_update && *updater)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.updater: '%s' is read only with process_type: update (updater: "
                   "refresh); new trees always grow with the histogram method",
                   updater);
  return kz_gbdt_params_check(p);
}

kz_status kz_gbdt_params_check(const kz_gbdt_params *p) {
  if (p->grow_policy == KZ_GBDT_DEPTHWISE && p->max_depth == 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.max_depth: 0 (unlimited) needs grow_policy lossguide with max_leaves");
  if (p->grow_policy == KZ_GBDT_LOSSGUIDE && p->max_depth == 0 && p->max_leaves == 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.max_leaves: lossguide with max_depth 0 needs max_leaves > 0");
  if (p->num_round < 1 || !(p->eta > 0) || p->max_bin < 2 || p->max_bin > 256 || p->lambda < 0 ||
      p->alpha < 0 || p->gamma < 0 || p->min_child_weight < 0 || !(p->subsample > 0) ||
      p->subsample > 1 || !(p->colsample_bytree > 0) || p->colsample_bytree > 1 ||
      !(p->colsample_bynode > 0) || p->colsample_bynode > 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: a booster parameter is out of range");
  if (p->objective == KZ_GBDT_MULTI_SOFTPROB && p->num_class == 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "model.num_class: multi:softprob needs at least 2 classes");
  return KZ_OK;
}
