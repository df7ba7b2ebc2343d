/* Objective functions (objective.h). */
#include "models/gbdt/objective.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/rng.h"

/* XGBoost's max_delta_step for count:poisson: it damps the hessian. */
#define KZ_GBDT_POISSON_MAX_DELTA 0.7

kz_status kz_gbdt_check_labels(kz_gbdt_objective o, int num_class, int64_t n, const float *label,
                               const char *where) {
  for (int64_t r = 0; r < n; ++r) {
    float y = label[r];
    if (!isfinite(y))
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: row %lld: the label is missing or not finite", where,
                     (long long)r);
    if (o == KZ_GBDT_BINARY_LOGISTIC && (y < 0 || y > 1))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "%s: row %lld: binary:logistic needs labels in [0, 1], got %g", where,
                     (long long)r, (double)y);
    if (o == KZ_GBDT_MULTI_SOFTPROB && (y < 0 || y >= num_class || y != floorf(y)))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "%s: row %lld: multi:softprob needs class codes 0..%d, got %g", where,
                     (long long)r, num_class - 1, (double)y);
    if (o == KZ_GBDT_COUNT_POISSON && y < 0)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: row %lld: count:poisson needs labels >= 0, got %g",
                     where, (long long)r, (double)y);
  }
  return KZ_OK;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double kz_gbdt_quantile(double *v, int64_t n, double level) {
  if (n <= 0) return 0.0;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  double pos = level * (double)(n - 1);
  int64_t i = (int64_t)floor(pos);
  if (i >= n - 1) return v[n - 1];
  double t = pos - (double)i;
  return v[i] + t * (v[i + 1] - v[i]);
}

void kz_gbdt_base_score(kz_gbdt_objective o, double alpha, int num_class, int64_t n,
                        const float *label, double *base) {
  for (int k = 0; k < num_class; ++k) base[k] = 0.0;
  if (n <= 0 || o == KZ_GBDT_MULTI_SOFTPROB) return;
  if (o == KZ_GBDT_REG_ABSOLUTEERROR || o == KZ_GBDT_REG_QUANTILE) {
    double *v = malloc(sizeof(double) * (size_t)n);
    if (!v) return; /* 0 is a valid, if slower, start */
    for (int64_t r = 0; r < n; ++r) v[r] = label[r];
    base[0] = kz_gbdt_quantile(v, n, o == KZ_GBDT_REG_QUANTILE ? alpha : 0.5);
    free(v);
    return;
  }
  double mean = 0;
  for (int64_t r = 0; r < n; ++r) mean += label[r];
  mean /= (double)n;
  if (o == KZ_GBDT_BINARY_LOGISTIC) {
    double p = fmin(fmax(mean, 1e-6), 1 - 1e-6);
    base[0] = log(p / (1 - p));
  } else if (o == KZ_GBDT_COUNT_POISSON) {
    base[0] = log(fmax(mean, 1e-6));
  } else {
    base[0] = mean;
  }
}

void kz_gbdt_gradients(kz_gbdt_objective o, double alpha, int num_class, int64_t n,
                       const double *margin, const float *label, int threads, kz_gbdt_gh *gh) {
  int K = num_class;
  threads = kz_gbdt_threads(threads);
#pragma omp parallel for schedule(static) num_threads(threads) if (n >= KZ_GBDT_PARALLEL_MIN_ROWS)
  for (int64_t r = 0; r < n; ++r) {
    double y = label[r];
    const double *m = margin + r * K;
    switch (o) {
    case KZ_GBDT_REG_SQUAREDERROR:
      gh[r] = (kz_gbdt_gh){m[0] - y, 1.0};
      break;
    case KZ_GBDT_REG_ABSOLUTEERROR:
      gh[r] = (kz_gbdt_gh){(m[0] > y) - (m[0] < y), 1.0};
      break;
    case KZ_GBDT_REG_QUANTILE:
      gh[r] = (kz_gbdt_gh){y - m[0] >= 0 ? -alpha : 1.0 - alpha, 1.0};
      break;
    case KZ_GBDT_BINARY_LOGISTIC: {
      double p = 1.0 / (1.0 + exp(-m[0]));
      gh[r] = (kz_gbdt_gh){p - y, fmax(p * (1 - p), 1e-16)};
      break;
    }
    case KZ_GBDT_COUNT_POISSON:
      gh[r] = (kz_gbdt_gh){exp(m[0]) - y, exp(m[0] + KZ_GBDT_POISSON_MAX_DELTA)};
      break;
    case KZ_GBDT_MULTI_SOFTPROB: {
      double e[256], mx = m[0], s = 0; /* num_group <= 256 */
      for (int k = 1; k < K; ++k) mx = fmax(mx, m[k]);
      for (int k = 0; k < K; ++k) s += (e[k] = exp(m[k] - mx));
      for (int k = 0; k < K; ++k) {
        double p = e[k] / s;
        /* XGBoost's hessian for softmax carries the factor 2. */
        gh[(int64_t)k * n + r] =
            (kz_gbdt_gh){p - (k == (int)y ? 1.0 : 0.0), fmax(2.0 * p * (1 - p), 1e-16)};
      }
      break;
    }
    }
  }
}

int kz_gbdt_objective_refits_leaves(kz_gbdt_objective o, double quantile_alpha, double *level) {
  if (o == KZ_GBDT_REG_ABSOLUTEERROR) {
    *level = 0.5;
    return 1;
  }
  if (o == KZ_GBDT_REG_QUANTILE) {
    *level = quantile_alpha;
    return 1;
  }
  return 0;
}
