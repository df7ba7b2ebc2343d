/* One metric vocabulary for every model family (docs/RUNS.md, "Metrics").
 *
 * The table in metrics.c names each metric, says whether higher is better and
 * how it is computed from predictions and labels. Models feed rows into an
 * accumulator (one pass, every wanted metric at once) and read the values
 * back; the neural models (mlp, linear) and the GBDT use the same functions,
 * so `valid/logloss` means the same number whichever family logged it.
 *
 * Classification: logloss (mean cross-entropy, natural log, the true class's
 * probability clipped to [1e-16, 1 - 1e-16]), accuracy, error (1 - accuracy),
 * auc (binary only; needs all scores, kz_metric_auc). Regression: rmse, mae
 * in label units. GBDT-only: quantile (pinball loss), poisson-nloglik. */
#ifndef KZ_MODELS_METRICS_H
#define KZ_MODELS_METRICS_H

#include <stdint.h>

typedef enum kz_metric_id {
  KZ_METRIC_RMSE,
  KZ_METRIC_MAE,
  KZ_METRIC_LOGLOSS,
  KZ_METRIC_AUC,
  KZ_METRIC_ERROR,
  KZ_METRIC_ACCURACY,
  KZ_METRIC_QUANTILE,
  KZ_METRIC_POISSON_NLOGLIK,
  KZ_METRIC_COUNT
} kz_metric_id;

typedef enum kz_metric_task { KZ_TASK_CLASSIFICATION = 1, KZ_TASK_REGRESSION = 2 } kz_metric_task;

typedef struct kz_metric_info {
  const char *name;
  int higher_is_better;
  int tasks; /* kz_metric_task bits it is defined for */
  const char *definition;
} kz_metric_info;

const kz_metric_info *kz_metric_get(kz_metric_id m);
const char *kz_metric_name(kz_metric_id m);
int kz_metric_higher_is_better(kz_metric_id m);

/* A metric named in a config: a split prefix ("valid/", "train/") is
 * dropped, and the aliases mlogloss -> logloss, merror -> error and (neural
 * models' old early-stopping name) loss -> logloss for classification, rmse
 * for regression (task 0: loss is unknown) are accepted. -1 if unknown. */
int kz_metric_parse(const char *name, int task);

/* The metrics every family reports for a task, in this order: logloss,
 * accuracy, error (classification); rmse, mae (regression). Returns the
 * count (at most 3). */
int kz_metric_common(kz_metric_task task, kz_metric_id *out);

/* Running sums over rows. All zero (memset) is a valid empty accumulator
 * that computes every metric (quantile at alpha 0). */
typedef struct kz_metric_acc {
  int64_t rows;
  double sum[KZ_METRIC_COUNT];
  unsigned skip; /* bit m: do not compute the costly part of metric m */
  double quantile_alpha;
} kz_metric_acc;

/* want: bits (1u << m) of the metrics to compute; 0 means every metric. */
void kz_metric_acc_init(kz_metric_acc *a, unsigned want, double quantile_alpha);
void kz_metric_acc_merge(kz_metric_acc *a, const kz_metric_acc *b);
/* A classification row from K class scores (logits / margins; softmax is
 * applied) and the true class. */
void kz_metric_add_logits(kz_metric_acc *a, int K, const double *z, int label);
/* A binary row from the positive class's probability p and the 0/1 label;
 * rmse and mae, if wanted, are of p (XGBoost's convention). */
void kz_metric_add_binary(kz_metric_acc *a, double p, double label);
/* A regression row: the prediction and the label, in label units. */
void kz_metric_add_value(kz_metric_acc *a, double pred, double label);
/* The metric's value (NaN without rows, and for AUC). */
double kz_metric_value(const kz_metric_acc *a, kz_metric_id m);

/* Area under the ROC curve of scores for 0/1 labels, tied scores counted
 * half; NaN with one class only. */
double kz_metric_auc(int64_t n, const double *score, const float *label);

#endif
