/* CPU ops of the MLP: leaky ReLU, dropout, the MSE loss, standardisation of
 * numeric inputs and the column-block copy. Each element is computed exactly
 * as the model's former host loops did (same float/double steps), so
 * moving them into ops changed no result bit. */
#include <math.h>
#include <omp.h>

#include "kernels/core/splitmix64.h"
#include "kernels/cpu/cpu_ops.h"

static int64_t grain_of(const kz_stream *s) {
  int g = kz_stream_knob(s, KZ_KNOB_CPU_ELEMENTWISE_GRAIN);
  return g < 1 ? 1 : g;
}

/* slope 0 writes +0 for x <= 0 (and NaN), not slope * x = -0 or NaN: ReLU. */
kz_status kz_cpu_leaky_relu_fwd(kz_stream *s, const float *x, float *y, int64_t n, float slope) {
  int64_t grain = grain_of(s);
  if (slope == 0.0f) {
#pragma omp parallel for simd schedule(static, grain) if (n > grain)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  } else {
#pragma omp parallel for simd schedule(static, grain) if (n > grain)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
  }
  return KZ_OK;
}

kz_status kz_cpu_leaky_relu_bwd(kz_stream *s, const float *x, const float *dy, float *dx, int64_t n,
                                float slope, bool accumulate) {
  int64_t grain = grain_of(s);
#pragma omp parallel for simd schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) {
    float g = x[i] > 0.0f ? dy[i] : slope == 0.0f ? 0.0f : slope * dy[i];
    dx[i] = accumulate ? dx[i] + g : g;
  }
  return KZ_OK;
}

kz_status kz_cpu_dropout_fwd(kz_stream *s, const float *x, float *y, float *mask, int64_t n,
                             double p, uint64_t key) {
  int64_t grain = grain_of(s);
  const float keep_scale = (float)(1.0 / (1.0 - p));
#pragma omp parallel for schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) {
    uint64_t st = key + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
    mask[i] = kz_splitmix64_unit(&st) >= p ? keep_scale : 0.0f;
    y[i] = x[i] * mask[i];
  }
  return KZ_OK;
}

kz_status kz_cpu_dropout_bwd(kz_stream *s, const float *dy, const float *mask, float *dx, int64_t n,
                             bool accumulate) {
  int64_t grain = grain_of(s);
#pragma omp parallel for simd schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) dx[i] = accumulate ? dx[i] + dy[i] * mask[i] : dy[i] * mask[i];
  return KZ_OK;
}

kz_status kz_cpu_mse_fwd(kz_stream *s, const float *pred, const float *target, float *losses,
                         int64_t n) {
  int64_t grain = grain_of(s);
#pragma omp parallel for schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++)
    losses[i] = isnan(target[i]) ? 0.0f : (pred[i] - target[i]) * (pred[i] - target[i]);
  return KZ_OK;
}

kz_status kz_cpu_mse_bwd(kz_stream *s, const float *pred, const float *target, float *dpred,
                         int64_t n, double scale, bool accumulate) {
  int64_t grain = grain_of(s);
#pragma omp parallel for schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) {
    float g =
        isnan(target[i]) ? 0.0f : (float)(2.0 * scale * ((double)pred[i] - (double)target[i]));
    dpred[i] = accumulate ? dpred[i] + g : g;
  }
  return KZ_OK;
}

kz_status kz_cpu_standardize_fwd(kz_stream *s, const float *v, const double *mean,
                                 const double *std, const int32_t *miss, float *x, int64_t rows,
                                 int64_t cols, int64_t x_cols, double inf_z) {
  int64_t chunk = cols > 0 && grain_of(s) / cols > 0 ? grain_of(s) / cols : 1;
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++) {
    const float *vr = v + r * cols;
    float *row = x + r * x_cols;
    for (int64_t i = 0; i < cols; i++) {
      int missing = isnan(vr[i]);
      row[i] = missing        ? 0.0f
               : isinf(vr[i]) ? (float)copysign(inf_z, vr[i])
                              : (float)(((double)vr[i] - mean[i]) / std[i]);
      if (miss[i] >= 0) row[cols + miss[i]] = missing ? 1.0f : 0.0f;
    }
  }
  return KZ_OK;
}

kz_status kz_cpu_copy_cols(kz_stream *s, const float *src, int64_t src_ld, float *dst,
                           int64_t dst_ld, int64_t rows, int64_t cols) {
  int64_t chunk = cols > 0 && grain_of(s) / cols > 0 ? grain_of(s) / cols : 1;
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[r * dst_ld + c] = src[r * src_ld + c];
  return KZ_OK;
}
