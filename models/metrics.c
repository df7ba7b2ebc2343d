/* The metric table and accumulator (metrics.h). */
#include "models/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { CLS = KZ_TASK_CLASSIFICATION, REG = KZ_TASK_REGRESSION };

static const kz_metric_info k_table[KZ_METRIC_COUNT] = {
    [KZ_METRIC_RMSE] = {"rmse", 0, REG, "root mean squared error of the prediction"},
    [KZ_METRIC_MAE] = {"mae", 0, REG, "mean absolute error of the prediction"},
    [KZ_METRIC_LOGLOSS] = {"logloss", 0, CLS,
                           "mean cross-entropy -log p(true class), p clipped to [1e-16, 1-1e-16]"},
    [KZ_METRIC_AUC] = {"auc", 1, CLS, "area under the ROC curve (binary), ties counted half"},
    [KZ_METRIC_ERROR] = {"error", 0, CLS, "share of rows whose most probable class is wrong"},
    [KZ_METRIC_ACCURACY] = {"accuracy", 1, CLS, "share of rows whose most probable class is right"},
    [KZ_METRIC_QUANTILE] = {"quantile", 0, REG, "mean pinball loss at quantile_alpha"},
    [KZ_METRIC_POISSON_NLOGLIK] = {"poisson-nloglik", 0, REG,
                                   "mean negative Poisson log-likelihood"},
};

static const double k_eps = 1e-16;

const kz_metric_info *kz_metric_get(kz_metric_id m) {
  return (m >= 0 && m < KZ_METRIC_COUNT) ? &k_table[m] : NULL;
}

const char *kz_metric_name(kz_metric_id m) {
  return (m >= 0 && m < KZ_METRIC_COUNT) ? k_table[m].name : "?";
}

int kz_metric_higher_is_better(kz_metric_id m) {
  return (m >= 0 && m < KZ_METRIC_COUNT) ? k_table[m].higher_is_better : 0;
}

int kz_metric_parse(const char *name, int task) {
  if (!strncmp(name, "valid/", 6))
    name += 6;
  else if (!strncmp(name, "train/", 6))
    name += 6;
  for (int i = 0; i < KZ_METRIC_COUNT; ++i)
    if (!strcmp(name, k_table[i].name)) return i;
  if (!strcmp(name, "mlogloss")) return KZ_METRIC_LOGLOSS;
  if (!strcmp(name, "merror")) return KZ_METRIC_ERROR;
  if (!strcmp(name, "loss") && task == KZ_TASK_CLASSIFICATION) return KZ_METRIC_LOGLOSS;
  if (!strcmp(name, "loss") && task == KZ_TASK_REGRESSION) return KZ_METRIC_RMSE;
  return -1;
}

int kz_metric_common(kz_metric_task task, kz_metric_id *out) {
  if (task == KZ_TASK_CLASSIFICATION) {
    out[0] = KZ_METRIC_LOGLOSS;
    out[1] = KZ_METRIC_ACCURACY;
    out[2] = KZ_METRIC_ERROR;
    return 3;
  }
  out[0] = KZ_METRIC_RMSE;
  out[1] = KZ_METRIC_MAE;
  return 2;
}

void kz_metric_acc_init(kz_metric_acc *a, unsigned want, double quantile_alpha) {
  memset(a, 0, sizeof *a);
  a->skip = want ? ~want : 0u;
  a->quantile_alpha = quantile_alpha;
}

void kz_metric_acc_merge(kz_metric_acc *a, const kz_metric_acc *b) {
  a->rows += b->rows;
  for (int i = 0; i < KZ_METRIC_COUNT; ++i) a->sum[i] += b->sum[i];
}

static int wants(const kz_metric_acc *a, kz_metric_id m) {
  return !((a->skip >> m) & 1u);
}

/* One classified row: the true class's probability, whether the arg-max is it. */
static void add_class(kz_metric_acc *a, double p_true, int right) {
  a->rows += 1;
  if (wants(a, KZ_METRIC_LOGLOSS))
    a->sum[KZ_METRIC_LOGLOSS] -= log(fmin(fmax(p_true, k_eps), 1 - k_eps));
  a->sum[KZ_METRIC_ACCURACY] += right;
  a->sum[KZ_METRIC_ERROR] += !right;
}

void kz_metric_add_logits(kz_metric_acc *a, int K, const double *z, int label) {
  double mx = z[0], s = 0;
  int arg = 0;
  for (int k = 1; k < K; ++k)
    if (z[k] > mx) mx = z[k], arg = k;
  double p = 0;
  if (wants(a, KZ_METRIC_LOGLOSS)) {
    for (int k = 0; k < K; ++k) s += exp(z[k] - mx);
    p = exp(z[label] - mx) / s;
  }
  add_class(a, p, arg == label);
}

void kz_metric_add_binary(kz_metric_acc *a, double p, double label) {
  /* Labels may be fractional (binary:logistic accepts [0, 1]). */
  a->rows += 1;
  if (wants(a, KZ_METRIC_LOGLOSS)) {
    double c = fmin(fmax(p, k_eps), 1 - k_eps);
    a->sum[KZ_METRIC_LOGLOSS] -= label * log(c) + (1 - label) * log(1 - c);
  }
  int right = (p > 0.5) == (label > 0.5);
  a->sum[KZ_METRIC_ACCURACY] += right;
  a->sum[KZ_METRIC_ERROR] += !right;
  double e = p - label;
  a->sum[KZ_METRIC_RMSE] += e * e;
  a->sum[KZ_METRIC_MAE] += fabs(e);
}

void kz_metric_add_value(kz_metric_acc *a, double pred, double y) {
  a->rows += 1;
  double e = pred - y;
  a->sum[KZ_METRIC_RMSE] += e * e;
  a->sum[KZ_METRIC_MAE] += fabs(e);
  if (wants(a, KZ_METRIC_QUANTILE)) {
    double d = y - pred;
    a->sum[KZ_METRIC_QUANTILE] += d >= 0 ? a->quantile_alpha * d : (a->quantile_alpha - 1) * d;
  }
  if (wants(a, KZ_METRIC_POISSON_NLOGLIK))
    a->sum[KZ_METRIC_POISSON_NLOGLIK] += pred - y * log(fmax(pred, k_eps)) + lgamma(y + 1);
}

double kz_metric_value(const kz_metric_acc *a, kz_metric_id m) {
  if (a->rows <= 0 || m == KZ_METRIC_AUC || m < 0 || m >= KZ_METRIC_COUNT) return NAN;
  double mean = a->sum[m] / (double)a->rows;
  return m == KZ_METRIC_RMSE ? sqrt(mean) : mean;
}

typedef struct scored {
  double p;
  float y;
} scored;

static int cmp_scored(const void *a, const void *b) {
  double x = ((const scored *)a)->p, y = ((const scored *)b)->p;
  return (x > y) - (x < y);
}

double kz_metric_auc(int64_t n, const double *score, const float *label) {
  scored *s = malloc(sizeof(scored) * (size_t)(n > 0 ? n : 1));
  if (!s) return NAN;
  for (int64_t i = 0; i < n; ++i) s[i] = (scored){score[i], label[i]};
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
