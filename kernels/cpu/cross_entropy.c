/* Softmax cross entropy on the CPU: one row of class logits per example. */
#include <math.h>

#include "kernels/core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/cpu_vec.h"

/* Targets are checked before anything is written, so a bad batch leaves the
 * outputs untouched. */
static kz_status check_targets(const int32_t *targets, int64_t rows, int64_t classes,
                               int32_t ignore_index) {
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t t = targets[r];
    if (t != ignore_index && (t < 0 || t >= classes))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "cross_entropy: target %d of row %lld is outside [0, %lld)", (int)t,
                     (long long)r, (long long)classes);
  }
  return KZ_OK;
}

static kz_status check_shape(int64_t rows, int64_t classes) {
  if (rows < 0 || classes < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "cross_entropy: negative shape [%lld, %lld]",
                   (long long)rows, (long long)classes);
  return KZ_OK;
}

/* Row maximum and sum of exp(logit - max). */
static void row_stats(const float *z, int64_t classes, float *mx_out, float *sum_out) {
  const float mx = kz_cpu_max_scaled(z, classes, 1.0f);
  float acc[KZ_CPU_LANES] = {0};
  int64_t i = 0;
  for (; i + KZ_CPU_LANES <= classes; i += KZ_CPU_LANES)
    for (int l = 0; l < KZ_CPU_LANES; ++l) acc[l] += kz_cpu_exp_nonpos(z[i + l] - mx);
  for (int l = 0; i < classes; ++i, ++l) acc[l] += kz_cpu_exp_nonpos(z[i] - mx);
  *mx_out = mx;
  *sum_out = kz_cpu_fold_sum(acc);
}

kz_status kz_cpu_cross_entropy_fwd(kz_stream *s, const float *logits, const int32_t *targets,
                                   float *losses, int64_t rows, int64_t classes,
                                   int32_t ignore_index) {
  KZ_TRY(check_shape(rows, classes));
  KZ_TRY(check_targets(targets, rows, classes, ignore_index));
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));

#pragma omp parallel for schedule(static, grain) if (rows > grain)
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t t = targets[r];
    if (t == ignore_index) {
      losses[r] = 0.0f;
      continue;
    }
    const float *z = logits + r * classes;
    float mx, sum;
    row_stats(z, classes, &mx, &sum);
    /* log-sum-exp minus the target logit, relative to the maximum. */
    losses[r] = logf(sum) - (z[t] - mx);
  }
  return KZ_OK;
}

kz_status kz_cpu_cross_entropy_bwd(kz_stream *s, const float *logits, const int32_t *targets,
                                   const float *dloss, float *dlogits, int64_t rows,
                                   int64_t classes, int32_t ignore_index, bool accumulate) {
  KZ_TRY(check_shape(rows, classes));
  KZ_TRY(check_targets(targets, rows, classes, ignore_index));
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));

#pragma omp parallel for schedule(static, grain) if (rows > grain)
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t t = targets[r];
    float *d = dlogits + r * classes;
    if (t == ignore_index) {
      if (!accumulate)
        for (int64_t c = 0; c < classes; ++c) d[c] = 0.0f;
      continue;
    }
    const float *z = logits + r * classes;
    float mx, sum;
    row_stats(z, classes, &mx, &sum);
    const float g = dloss[r], gs = g / sum;
    if (accumulate)
      for (int64_t c = 0; c < classes; ++c) d[c] += gs * kz_cpu_exp_nonpos(z[c] - mx);
    else
      for (int64_t c = 0; c < classes; ++c) d[c] = gs * kz_cpu_exp_nonpos(z[c] - mx);
    d[t] -= g;
  }
  return KZ_OK;
}
