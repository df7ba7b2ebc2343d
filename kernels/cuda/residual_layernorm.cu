/* Fused residual + dropout + layernorm (the post-LN output of a BERT
 * sublayer), forward and backward, on the layernorm knobs (layernorm.block
 * threads per row, layernorm.bwd_rows rows per dgamma/dbeta chunk).
 *
 * Forward: one block per row draws the mask from (key, flat index) with
 * core/dropout_mask.h's exact integer test (the CPU's and ref's mask bit for
 * bit), writes the sum r (or, when r is not kept, into y), takes mean and
 * variance over the row in two passes and normalises in place. Each thread
 * touches only its own columns, so y may alias x or h.
 *
 * Backward: dgamma/dbeta first (chunks of rows write partial rows that
 * column_sum.cuh adds in chunk order: deterministic, no atomics), then one
 * block per row forms dr and writes dx and dh (dh through the redrawn mask).
 * Running the column pass first lets dx or dh alias dy. xhat comes from the
 * saved r, or from y as (y - beta) / gamma (ops.h). */
#include "kernels/core/dropout_mask.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/layernorm_rows.cuh"

namespace {

struct mask_rule {
  uint64_t key, threshold;
  float keep; /* 1/(1-p) */
  bool on;    /* p > 0 */
  __device__ __forceinline__ float at(int64_t i) const {
    return !on || kz_dropout_keep(key, i, threshold) ? keep : 0.0f;
  }
};

mask_rule rule_of(double p, uint64_t key) {
  return mask_rule{key, kz_dropout_threshold(p), (float)(1.0 / (1.0 - p)), p > 0.0};
}

__global__ void fwd_kernel(const float *x, const float *h, const float *gamma, const float *beta,
                           float *y, float *r, float *mean_out, float *rstd_out, int64_t rows,
                           int64_t cols, mask_rule m, float eps) {
  __shared__ float red[KZ_WARP];
  for (int64_t i = blockIdx.x; i < rows; i += gridDim.x) {
    const int64_t off = i * cols;
    float *sr = (r != nullptr ? r : y) + off;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
      sr[c] = x[off + c] + h[off + c] * m.at(off + c);
    kz_ln_normalize_row(sr, y + off, gamma, beta, i, cols, eps, red, mean_out, rstd_out);
  }
}

/* The normalised input of element (i, c): from r with mean/rstd, or from y
 * (layernorm_rows.cuh). */
template <bool FROM_R> struct saved_rows {
  const float *y, *r, *gamma, *beta, *mean, *rstd;
  __device__ __forceinline__ float xhat(int64_t i, int64_t off, int64_t c) const {
    if (FROM_R) return (r[off + c] - mean[i]) * rstd[i];
    return (y[off + c] - beta[c]) / gamma[c];
  }
  __device__ __forceinline__ float times_xhat(float g, int64_t i, int64_t off, int64_t c) const {
    return g * xhat(i, off, c);
  }
};

/* dr = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma; dx (+)= dr,
 * dh (+)= dr * mask. dy is read in full (the block sum) before any write. */
template <bool FROM_R>
__global__ void bwd_rows_kernel(saved_rows<FROM_R> sv, const float *dy, float *dx, float *dh,
                                int64_t rows, int64_t cols, mask_rule m, bool accumulate) {
  __shared__ float red[2 * KZ_WARP];
  for (int64_t i = blockIdx.x; i < rows; i += gridDim.x) {
    const int64_t off = i * cols;
    const float2 mg = kz_ln_dx_means(sv, dy, sv.gamma, i, cols, red);
    const float rs = sv.rstd[i];
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float d = rs * (dy[off + c] * sv.gamma[c] - mg.x - sv.xhat(i, off, c) * mg.y);
      if (dx != nullptr) dx[off + c] = accumulate ? dx[off + c] + d : d;
      if (dh != nullptr) {
        const float dd = d * m.at(off + c);
        dh[off + c] = accumulate ? dh[off + c] + dd : dd;
      }
    }
  }
}

template <bool FROM_R>
kz_status backward(kz_stream *s, const saved_rows<FROM_R> &sv, const float *dy, float *dx,
                   float *dh, float *dgamma, float *dbeta, int64_t rows, int64_t cols,
                   const mask_rule &m, int block, bool accumulate, const char *op) {
  if (dgamma != nullptr || dbeta != nullptr)
    KZ_TRY(kz_ln_param_grads(s, sv, dy, dgamma, dbeta, rows, cols, accumulate, op));
  if (dx == nullptr && dh == nullptr) return KZ_OK;
  bwd_rows_kernel<FROM_R><<<kz_cuda_grid_for(rows, 1), block, 0, kz_cuda_stream(s)>>>(
      sv, dy, dx, dh, rows, cols, m, accumulate);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

kz_status prepare(kz_stream *s, const char *op, int64_t rows, int64_t cols, double p, int *block) {
  KZ_TRY(kz_cuda_enter(s, op));
  *block = kz_stream_knob(s, KZ_KNOB_CUDA_LAYERNORM_BLOCK);
  KZ_TRY(kz_cuda_check_block(op, "layernorm.block", *block));
  if (rows < 0 || cols < 0 || (rows > 0 && cols == 0))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: unusable shape [%lld, %lld]", op, (long long)rows,
                   (long long)cols);
  if (!(p >= 0.0 && p < 1.0))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: dropout p = %g, expected 0 <= p < 1", op, p);
  return KZ_OK;
}

} // namespace

extern "C" kz_status kz_cuda_residual_layernorm_fwd(kz_stream *s, const float *x, const float *h,
                                                    const float *gamma, const float *beta, float *y,
                                                    float *r, float *mean, float *rstd,
                                                    int64_t rows, int64_t cols, double p,
                                                    uint64_t key, float eps) {
  const char *op = "residual_layernorm";
  int block = 0;
  KZ_TRY(prepare(s, op, rows, cols, p, &block));
  if (rows == 0) return KZ_OK;
  fwd_kernel<<<kz_cuda_grid_for(rows, 1), block, 0, kz_cuda_stream(s)>>>(
      x, h, gamma, beta, y, r, mean, rstd, rows, cols, rule_of(p, key), eps);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

extern "C" kz_status kz_cuda_residual_layernorm_bwd(
    kz_stream *s, const float *dy, const float *y, const float *r, const float *gamma,
    const float *beta, const float *mean, const float *rstd, float *dx, float *dh, float *dgamma,
    float *dbeta, int64_t rows, int64_t cols, double p, uint64_t key, bool accumulate) {
  const char *op = "residual_layernorm_bwd";
  int block = 0;
  KZ_TRY(prepare(s, op, rows, cols, p, &block));
  if (cols == 0) return KZ_OK;
  if (rows == 0) return kz_ln_zero_params(s, dgamma, dbeta, cols, accumulate, op);
  const mask_rule m = rule_of(p, key);
  if (r != nullptr)
    return backward<true>(s, saved_rows<true>{y, r, gamma, beta, mean, rstd}, dy, dx, dh, dgamma,
                          dbeta, rows, cols, m, block, accumulate, op);
  return backward<false>(s, saved_rows<false>{y, r, gamma, beta, mean, rstd}, dy, dx, dh, dgamma,
                         dbeta, rows, cols, m, block, accumulate, op);
}
