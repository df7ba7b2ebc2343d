/* Layer normalisation on the CPU: rows in parallel, statistics two-pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/cpu_vec.h"

/* The dgamma/dbeta reduction splits rows into at most this many chunks; the
 * split depends on rows alone, so results are bit-identical for any thread
 * count. */
#define LN_MAX_CHUNKS 64

kz_status kz_cpu_layernorm_fwd(kz_stream *s, const float *x, const float *gamma, const float *beta,
                               float *y, float *mean, float *rstd, int64_t rows, int64_t cols,
                               float eps) {
  if (rows < 0 || cols < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "layernorm: negative shape [%lld, %lld]", (long long)rows,
                   (long long)cols);
  if (rows == 0) return KZ_OK;
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));
  const float inv_cols = cols > 0 ? 1.0f / (float)cols : 0.0f;

#pragma omp parallel for schedule(static, grain) if (rows > grain)
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    const float mu = kz_cpu_sum(xr, cols) * inv_cols;
    /* Second pass over deviations: no cancellation, unlike E[x^2] - mu^2. */
    float acc[KZ_CPU_LANES] = {0};
    int64_t i = 0;
    for (; i + KZ_CPU_LANES <= cols; i += KZ_CPU_LANES)
      for (int l = 0; l < KZ_CPU_LANES; ++l) {
        const float d = xr[i + l] - mu;
        acc[l] += d * d;
      }
    for (int l = 0; i < cols; ++i, ++l) {
      const float d = xr[i] - mu;
      acc[l] += d * d;
    }
    const float var = kz_cpu_fold_sum(acc) * inv_cols;
    const float rs = 1.0f / sqrtf(var + eps);
    for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - mu) * rs * gamma[c] + beta[c];
    if (mean) mean[r] = mu;
    if (rstd) rstd[r] = rs;
  }
  return KZ_OK;
}

/* dx for one row; adds dy * xhat and dy into the chunk's dgamma/dbeta partials.
 * dx NULL: not wanted; pg NULL: neither dgamma nor dbeta is wanted. */
static void ln_bwd_row(const float *dy, const float *x, const float *gamma, float mu, float rs,
                       float *dx, float *pg, float *pb, int64_t cols, bool accumulate) {
  if (pg)
    for (int64_t c = 0; c < cols; ++c) {
      pg[c] += dy[c] * ((x[c] - mu) * rs);
      pb[c] += dy[c];
    }
  if (!dx) return;
  float acc_g[KZ_CPU_LANES] = {0}, acc_gx[KZ_CPU_LANES] = {0};
  int64_t i = 0;
  for (; i + KZ_CPU_LANES <= cols; i += KZ_CPU_LANES)
    for (int l = 0; l < KZ_CPU_LANES; ++l) {
      const float g = dy[i + l] * gamma[i + l];
      acc_g[l] += g;
      acc_gx[l] += g * ((x[i + l] - mu) * rs);
    }
  for (int l = 0; i < cols; ++i, ++l) {
    const float g = dy[i] * gamma[i];
    acc_g[l] += g;
    acc_gx[l] += g * ((x[i] - mu) * rs);
  }
  const float inv_cols = 1.0f / (float)cols;
  const float mean_g = kz_cpu_fold_sum(acc_g) * inv_cols;
  const float mean_gx = kz_cpu_fold_sum(acc_gx) * inv_cols;
  for (int64_t c = 0; c < cols; ++c) {
    const float xhat = (x[c] - mu) * rs;
    const float d = rs * (dy[c] * gamma[c] - mean_g - xhat * mean_gx);
    dx[c] = accumulate ? dx[c] + d : d;
  }
}

kz_status kz_cpu_layernorm_bwd(kz_stream *s, const float *dy, const float *x, const float *gamma,
                               const float *mean, const float *rstd, float *dx, float *dgamma,
                               float *dbeta, int64_t rows, int64_t cols, bool accumulate) {
  if (rows < 0 || cols < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "layernorm_bwd: negative shape [%lld, %lld]",
                   (long long)rows, (long long)cols);
  if (cols == 0) return KZ_OK;
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));
  int64_t chunk_rows = (rows + LN_MAX_CHUNKS - 1) / LN_MAX_CHUNKS;
  if (chunk_rows < grain) chunk_rows = grain;
  const int64_t chunks = rows > 0 ? (rows + chunk_rows - 1) / chunk_rows : 0;
  /* NULL gradient outputs are not wanted; without dgamma and dbeta there are
   * no partials to keep. */
  const bool params = dgamma || dbeta;

  /* Partials: chunk i owns rows [i*chunk_rows, ...) and two rows of cols. */
  float *part = chunks > 0 && params ? calloc((size_t)(chunks * 2 * cols), sizeof(float)) : NULL;
  if (chunks > 0 && params && !part)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "layernorm_bwd: %lld partial rows of %lld floats",
                   (long long)(chunks * 2), (long long)cols);

#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t ch = 0; ch < chunks; ++ch) {
      float *pg = params ? part + ch * 2 * cols : NULL, *pb = params ? pg + cols : NULL;
      const int64_t end = (ch + 1) * chunk_rows < rows ? (ch + 1) * chunk_rows : rows;
      for (int64_t r = ch * chunk_rows; r < end; ++r)
        ln_bwd_row(dy + r * cols, x + r * cols, gamma, mean[r], rstd[r], dx ? dx + r * cols : NULL,
                   pg, pb, cols, accumulate);
    }
    /* Combine partials in chunk order, columns in parallel: fixed order, no atomics. */
#pragma omp for schedule(static)
    for (int64_t c0 = 0; c0 < (params ? cols : 0); c0 += 256) {
      const int64_t c1 = c0 + 256 < cols ? c0 + 256 : cols;
      if (!accumulate)
        for (int64_t c = c0; c < c1; ++c) {
          if (dgamma) dgamma[c] = 0.0f;
          if (dbeta) dbeta[c] = 0.0f;
        }
      for (int64_t ch = 0; ch < chunks; ++ch) {
        const float *pg = part + ch * 2 * cols, *pb = pg + cols;
        for (int64_t c = c0; c < c1; ++c) {
          if (dgamma) dgamma[c] += pg[c];
          if (dbeta) dbeta[c] += pb[c];
        }
      }
    }
  }
  free(part);
  return KZ_OK;
}
