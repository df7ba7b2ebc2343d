/* Evaluation metrics (XGBoost's names), computed from margins. */
#ifndef KZ_MODELS_GBDT_METRICS_H
#define KZ_MODELS_GBDT_METRICS_H

#include <stdint.h>

#include "models/gbdt/gbdt_model.h"

typedef enum kz_gbdt_metric {
  KZ_GBDT_M_RMSE,
  KZ_GBDT_M_MAE,
  KZ_GBDT_M_LOGLOSS,
  KZ_GBDT_M_AUC,
  KZ_GBDT_M_ERROR,
  KZ_GBDT_M_MLOGLOSS,
  KZ_GBDT_M_MERROR,
  KZ_GBDT_M_QUANTILE, /* pinball loss at quantile_alpha */
  KZ_GBDT_M_POISSON_NLOGLIK,
  KZ_GBDT_M_COUNT
} kz_gbdt_metric;

const char *kz_gbdt_metric_name(kz_gbdt_metric m);
int kz_gbdt_metric_parse(const char *name); /* -1 if unknown */
int kz_gbdt_metric_higher_is_better(kz_gbdt_metric m);
/* Whether the metric makes sense for the objective (e.g. auc needs binary). */
int kz_gbdt_metric_fits(kz_gbdt_metric m, kz_gbdt_objective o);
kz_gbdt_metric kz_gbdt_default_metric(kz_gbdt_objective o);
/* The metrics `kaizen eval` reports for an objective; returns the count. */
int kz_gbdt_eval_metrics(kz_gbdt_objective o, kz_gbdt_metric *out);

/* The metric over n rows: margin[n x num_group] (raw), label[n]. */
double kz_gbdt_metric_eval(kz_gbdt_metric m, kz_gbdt_objective o, double quantile_alpha,
                           int num_group, int64_t n, const double *margin, const float *label);

/* Area under the ROC curve of scores p for 0/1 labels, ties counted half. */
double kz_gbdt_auc(int64_t n, const double *p, const float *label);

#endif
