/* Metrics (metrics.h). */
#include "models/gbdt/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_names[KZ_GBDT_M_COUNT] = {
    "rmse", "mae", "logloss", "auc", "error", "mlogloss", "merror", "quantile", "poisson-nloglik"};

const char *kz_gbdt_metric_name(kz_gbdt_metric m) {
  return (m >= 0 && m < KZ_GBDT_M_COUNT) ? k_names[m] : "?";
}

int kz_gbdt_metric_parse(const char *name) {
  for (int i = 0; i < KZ_GBDT_M_COUNT; ++i)
    if (!strcmp(name, k_names[i])) return i;
  return -1;
}

int kz_gbdt_metric_higher_is_better(kz_gbdt_metric m) {
  return m == KZ_GBDT_M_AUC;
}

int kz_gbdt_metric_fits(kz_gbdt_metric m, kz_gbdt_objective o) {
  int binary = o == KZ_GBDT_BINARY_LOGISTIC, multi = o == KZ_GBDT_MULTI_SOFTPROB;
  switch (m) {
  case KZ_GBDT_M_RMSE:
  case KZ_GBDT_M_MAE:
    return !multi;
  case KZ_GBDT_M_LOGLOSS:
  case KZ_GBDT_M_AUC:
  case KZ_GBDT_M_ERROR:
    return binary;
  case KZ_GBDT_M_MLOGLOSS:
  case KZ_GBDT_M_MERROR:
    return multi;
  case KZ_GBDT_M_QUANTILE:
    return o == KZ_GBDT_REG_QUANTILE;
  case KZ_GBDT_M_POISSON_NLOGLIK:
    return o == KZ_GBDT_COUNT_POISSON;
  default:
    return 0;
  }
}

kz_gbdt_metric kz_gbdt_default_metric(kz_gbdt_objective o) {
  switch (o) {
  case KZ_GBDT_REG_ABSOLUTEERROR:
    return KZ_GBDT_M_MAE;
  case KZ_GBDT_REG_QUANTILE:
    return KZ_GBDT_M_QUANTILE;
  case KZ_GBDT_BINARY_LOGISTIC:
    return KZ_GBDT_M_LOGLOSS;
  case KZ_GBDT_MULTI_SOFTPROB:
    return KZ_GBDT_M_MLOGLOSS;
  case KZ_GBDT_COUNT_POISSON:
    return KZ_GBDT_M_POISSON_NLOGLIK;
  default:
    return KZ_GBDT_M_RMSE;
  }
}

int kz_gbdt_eval_metrics(kz_gbdt_objective o, kz_gbdt_metric *out) {
  int n = 0;
  switch (o) {
  case KZ_GBDT_BINARY_LOGISTIC:
    out[n++] = KZ_GBDT_M_LOGLOSS;
    out[n++] = KZ_GBDT_M_AUC;
    out[n++] = KZ_GBDT_M_ERROR;
    break;
  case KZ_GBDT_MULTI_SOFTPROB:
    out[n++] = KZ_GBDT_M_MLOGLOSS;
    out[n++] = KZ_GBDT_M_MERROR;
    break;
  case KZ_GBDT_REG_QUANTILE:
    out[n++] = KZ_GBDT_M_QUANTILE;
    out[n++] = KZ_GBDT_M_MAE;
    break;
  case KZ_GBDT_COUNT_POISSON:
    out[n++] = KZ_GBDT_M_POISSON_NLOGLIK;
    out[n++] = KZ_GBDT_M_RMSE;
    break;
  default:
    out[n++] = KZ_GBDT_M_RMSE;
    out[n++] = KZ_GBDT_M_MAE;
    break;
  }
  return n;
}

typedef struct scored {
  double p;
  float y;
} scored;

static int cmp_scored(const void *a, const void *b) {
  double x = ((const scored *)a)->p, y = ((const scored *)b)->p;
  return (x > y) - (x < y);
}

double kz_gbdt_auc(int64_t n, const double *p, const float *label) {
  scored *s = malloc(sizeof(scored) * (size_t)(n > 0 ? n : 1));
  if (!s) return NAN;
  for (int64_t i = 0; i < n; ++i) s[i] = (scored){p[i], label[i]};
  qsort(s, (size_t)n, sizeof *s, cmp_scored);
  /* Sum of positive ranks, tied groups sharing their average rank. */
  double pos = 0, rank_sum = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    double grp_pos = 0;
    while (j < n && s[j].p == s[i].p) grp_pos += s[j++].y;
    double avg_rank = 0.5 * (double)(i + 1 + j); /* ranks i+1 .. j */
    rank_sum += grp_pos * avg_rank;
    pos += grp_pos;
    i = j;
  }
  free(s);
  double neg = (double)n - pos;
  if (pos <= 0 || neg <= 0) return NAN;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

static double sigmoid(double m) {
  return 1.0 / (1.0 + exp(-m));
}

double kz_gbdt_metric_eval(kz_gbdt_metric m, kz_gbdt_objective o, double quantile_alpha,
                           int num_group, int64_t n, const double *margin, const float *label) {
  if (n <= 0) return NAN;
  const double eps = 1e-16;
  double acc = 0;
  int K = num_group;
  if (m == KZ_GBDT_M_AUC) {
    double *p = malloc(sizeof(double) * (size_t)n);
    if (!p) return NAN;
    for (int64_t r = 0; r < n; ++r) p[r] = margin[r]; /* monotone in the margin */
    double auc = kz_gbdt_auc(n, p, label);
    free(p);
    return auc;
  }
  for (int64_t r = 0; r < n; ++r) {
    double y = label[r];
    const double *mr = margin + r * K;
    /* Regression metrics see predictions: exp for poisson, probabilities
     * for logistic (as XGBoost's rmse on binary:logistic). */
    double pred = o == KZ_GBDT_COUNT_POISSON     ? exp(mr[0])
                  : o == KZ_GBDT_BINARY_LOGISTIC ? sigmoid(mr[0])
                                                 : mr[0];
    switch (m) {
    case KZ_GBDT_M_RMSE:
      acc += (pred - y) * (pred - y);
      break;
    case KZ_GBDT_M_MAE:
      acc += fabs(pred - y);
      break;
    case KZ_GBDT_M_QUANTILE: {
      double d = y - pred;
      acc += d >= 0 ? quantile_alpha * d : (quantile_alpha - 1) * d;
      break;
    }
    case KZ_GBDT_M_POISSON_NLOGLIK:
      acc += pred - y * log(fmax(pred, eps)) + lgamma(y + 1);
      break;
    case KZ_GBDT_M_LOGLOSS: {
      double p = fmin(fmax(sigmoid(mr[0]), eps), 1 - eps);
      acc -= y * log(p) + (1 - y) * log(1 - p);
      break;
    }
    case KZ_GBDT_M_ERROR:
      acc += (sigmoid(mr[0]) > 0.5) != (y > 0.5);
      break;
    case KZ_GBDT_M_MLOGLOSS:
    case KZ_GBDT_M_MERROR: {
      double mx = mr[0], s = 0;
      int arg = 0;
      for (int k = 1; k < K; ++k)
        if (mr[k] > mx) mx = mr[k], arg = k;
      for (int k = 0; k < K; ++k) s += exp(mr[k] - mx);
      int c = (int)y;
      if (m == KZ_GBDT_M_MERROR)
        acc += arg != c;
      else
        acc -= log(fmax(exp(mr[c] - mx) / s, eps));
      break;
    }
    default:
      break;
    }
  }
  acc /= (double)n;
  return m == KZ_GBDT_M_RMSE ? sqrt(acc) : acc;
}
