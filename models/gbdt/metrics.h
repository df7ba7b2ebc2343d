/* The GBDT's metrics: the common vocabulary of models/metrics.h (one table,
 * one accumulator for every model family), fitted to XGBoost's objectives.
 * XGBoost's mlogloss and merror are the common logloss and error (accepted
 * as aliases in eval_metric). */
#ifndef KZ_MODELS_GBDT_METRICS_H
#define KZ_MODELS_GBDT_METRICS_H

#include <stdint.h>

#include "models/gbdt/gbdt_model.h"
#include "models/metrics.h"

typedef kz_metric_id kz_gbdt_metric;

/* The old enumerators, now names of the common metrics. */
#define KZ_GBDT_M_RMSE KZ_METRIC_RMSE
#define KZ_GBDT_M_MAE KZ_METRIC_MAE
#define KZ_GBDT_M_LOGLOSS KZ_METRIC_LOGLOSS
#define KZ_GBDT_M_AUC KZ_METRIC_AUC
#define KZ_GBDT_M_ERROR KZ_METRIC_ERROR
#define KZ_GBDT_M_ACCURACY KZ_METRIC_ACCURACY
#define KZ_GBDT_M_MLOGLOSS KZ_METRIC_LOGLOSS  /* XGBoost's name for multi-class */
#define KZ_GBDT_M_MERROR KZ_METRIC_ERROR      /* idem */
#define KZ_GBDT_M_QUANTILE KZ_METRIC_QUANTILE /* pinball loss at quantile_alpha */
#define KZ_GBDT_M_POISSON_NLOGLIK KZ_METRIC_POISSON_NLOGLIK
#define KZ_GBDT_M_COUNT KZ_METRIC_COUNT

const char *kz_gbdt_metric_name(kz_gbdt_metric m);
int kz_gbdt_metric_parse(const char *name); /* -1 if unknown; aliases as kz_metric_parse */
int kz_gbdt_metric_higher_is_better(kz_gbdt_metric m);
/* Whether the metric makes sense for the objective (e.g. auc needs binary). */
int kz_gbdt_metric_fits(kz_gbdt_metric m, kz_gbdt_objective o);
kz_gbdt_metric kz_gbdt_default_metric(kz_gbdt_objective o);
/* The metrics every GBDT run logs and `kaizen eval` reports for an
 * objective: the common ones of its task (logloss, accuracy, error /
 * rmse, mae), then auc (binary) or the objective's own (quantile,
 * poisson-nloglik). Returns the count. */
int kz_gbdt_eval_metrics(kz_gbdt_objective o, kz_gbdt_metric *out);

/* The metric over n rows: margin[n x num_group] (raw), label[n]. */
double kz_gbdt_metric_eval(kz_gbdt_metric m, kz_gbdt_objective o, double quantile_alpha,
                           int num_group, int64_t n, const double *margin, const float *label);
/* Several metrics in one pass over the rows: out[i] = metric ms[i]. */
void kz_gbdt_metrics_eval(const kz_gbdt_metric *ms, int n_metrics, kz_gbdt_objective o,
                          double quantile_alpha, int num_group, int64_t n, const double *margin,
                          const float *label, double *out);

/* Area under the ROC curve of scores p for 0/1 labels, ties counted half. */
double kz_gbdt_auc(int64_t n, const double *p, const float *label);

#endif
