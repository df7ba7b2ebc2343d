/* Metrics (metrics.h): the common table and accumulator of models/metrics.h,
 * fed with the predictions each objective makes. */
#include "models/gbdt/metrics.h"

#include <math.h>
#include <stdlib.h>

const char *kz_gbdt_metric_name(kz_gbdt_metric m) {
  return kz_metric_name(m);
}

int kz_gbdt_metric_parse(const char *name) {
  int m = kz_metric_parse(name, 0);
  return m;
}

int kz_gbdt_metric_higher_is_better(kz_gbdt_metric m) {
  return kz_metric_higher_is_better(m);
}

int kz_gbdt_metric_fits(kz_gbdt_metric m, kz_gbdt_objective o) {
  int binary = o == KZ_GBDT_BINARY_LOGISTIC, multi = o == KZ_GBDT_MULTI_SOFTPROB;
  switch (m) {
  case KZ_METRIC_RMSE:
  case KZ_METRIC_MAE:
    return !multi;
  case KZ_METRIC_LOGLOSS:
  case KZ_METRIC_ERROR:
  case KZ_METRIC_ACCURACY:
    return binary || multi;
  case KZ_METRIC_AUC:
    return binary;
  case KZ_METRIC_QUANTILE:
    return o == KZ_GBDT_REG_QUANTILE;
  case KZ_METRIC_POISSON_NLOGLIK:
    return o == KZ_GBDT_COUNT_POISSON;
  default:
    return 0;
  }
}

kz_gbdt_metric kz_gbdt_default_metric(kz_gbdt_objective o) {
  switch (o) {
  case KZ_GBDT_REG_ABSOLUTEERROR:
    return KZ_METRIC_MAE;
  case KZ_GBDT_REG_QUANTILE:
    return KZ_METRIC_QUANTILE;
  case KZ_GBDT_BINARY_LOGISTIC:
  case KZ_GBDT_MULTI_SOFTPROB:
    return KZ_METRIC_LOGLOSS;
  case KZ_GBDT_COUNT_POISSON:
    return KZ_METRIC_POISSON_NLOGLIK;
  default:
    return KZ_METRIC_RMSE;
  }
}

int kz_gbdt_eval_metrics(kz_gbdt_objective o, kz_gbdt_metric *out) {
  int cls = o == KZ_GBDT_BINARY_LOGISTIC || o == KZ_GBDT_MULTI_SOFTPROB;
  int n = kz_metric_common(cls ? KZ_TASK_CLASSIFICATION : KZ_TASK_REGRESSION, out);
  if (o == KZ_GBDT_BINARY_LOGISTIC) out[n++] = KZ_METRIC_AUC;
  if (o == KZ_GBDT_REG_QUANTILE) out[n++] = KZ_METRIC_QUANTILE;
  if (o == KZ_GBDT_COUNT_POISSON) out[n++] = KZ_METRIC_POISSON_NLOGLIK;
  return n;
}

double kz_gbdt_auc(int64_t n, const double *p, const float *label) {
  return kz_metric_auc(n, p, label);
}

static double sigmoid(double m) {
  return 1.0 / (1.0 + exp(-m));
}

void kz_gbdt_metrics_eval(const kz_gbdt_metric *ms, int n_metrics, kz_gbdt_objective o,
                          double quantile_alpha, int num_group, int64_t n, const double *margin,
                          const float *label, double *out) {
  unsigned want = 0;
  for (int i = 0; i < n_metrics; ++i) want |= 1u << ms[i];
  kz_metric_acc a;
  kz_metric_acc_init(&a, want, quantile_alpha);
  const int K = num_group;
  if (want & ~(1u << KZ_METRIC_AUC)) {
    for (int64_t r = 0; r < n; ++r) {
      const double *mr = margin + r * K;
      double y = label[r];
      if (o == KZ_GBDT_MULTI_SOFTPROB)
        kz_metric_add_logits(&a, K, mr, (int)y);
      else if (o == KZ_GBDT_BINARY_LOGISTIC)
        kz_metric_add_binary(&a, sigmoid(mr[0]), y);
      else /* regression metrics see predictions: e^m for poisson */
        kz_metric_add_value(&a, o == KZ_GBDT_COUNT_POISSON ? exp(mr[0]) : mr[0], y);
    }
  }
  for (int i = 0; i < n_metrics; ++i) {
    if (n <= 0)
      out[i] = NAN;
    else if (ms[i] == KZ_METRIC_AUC) /* the margin is monotone in the probability */
      out[i] = kz_metric_auc(n, margin, label);
    else
      out[i] = kz_metric_value(&a, ms[i]);
  }
}

double kz_gbdt_metric_eval(kz_gbdt_metric m, kz_gbdt_objective o, double quantile_alpha,
                           int num_group, int64_t n, const double *margin, const float *label) {
  double v;
  kz_gbdt_metrics_eval(&m, 1, o, quantile_alpha, num_group, n, margin, label, &v);
  return v;
}
