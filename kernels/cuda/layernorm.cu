/* LayerNorm over the last dim, forward and backward.
 *
 * Forward and the dx part of backward run one block per row
 * (layernorm.block threads) with block reductions. The mean is removed
 * before squaring (two passes over the row, the second from L1/L2) because
 * E[x^2] - E[x]^2 cancels badly for rows with a large mean.
 *
 * dgamma/dbeta are column sums over rows: chunks of layernorm.bwd_rows rows
 * write partial rows, then column_sum.cuh adds them in chunk order, so the
 * result is deterministic (no float atomics). The row and column code is
 * shared with residual_layernorm.cu through layernorm_rows.cuh. */
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/layernorm_rows.cuh"

namespace {

__global__ void fwd_kernel(const float *x, const float *gamma, const float *beta, float *y,
                           float *mean_out, float *rstd_out, int64_t rows, int64_t cols,
                           float eps) {
  __shared__ float red[KZ_WARP];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x)
    kz_ln_normalize_row(x + r * cols, y + r * cols, gamma, beta, r, cols, eps, red, mean_out,
                        rstd_out);
}

/* The saved input x with its row mean and rstd (layernorm_rows.cuh). */
struct saved_x {
  const float *x, *mean, *rstd;
  __device__ __forceinline__ float xhat(int64_t i, int64_t off, int64_t c) const {
    return (x[off + c] - mean[i]) * rstd[i];
  }
  __device__ __forceinline__ float times_xhat(float g, int64_t i, int64_t off, int64_t c) const {
    return g * (x[off + c] - mean[i]) * rstd[i];
  }
};

/* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma. */
__global__ void bwd_dx_kernel(saved_x sv, const float *dy, const float *gamma, float *dx,
                              int64_t rows, int64_t cols, bool accumulate) {
  __shared__ float red[2 * KZ_WARP];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t off = r * cols;
    const float2 m = kz_ln_dx_means(sv, dy, gamma, r, cols, red);
    const float rs = sv.rstd[r];
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float v = rs * (dy[off + c] * gamma[c] - m.x - sv.xhat(r, off, c) * m.y);
      dx[off + c] = accumulate ? dx[off + c] + v : v;
    }
  }
}

kz_status check_shape(const char *op, int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0 || (rows > 0 && cols == 0))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: unusable shape [%lld, %lld]", op, (long long)rows,
                   (long long)cols);
  return KZ_OK;
}

} // namespace

extern "C" kz_status kz_cuda_layernorm_fwd(kz_stream *s, const float *x, const float *gamma,
                                           const float *beta, float *y, float *mean, float *rstd,
                                           int64_t rows, int64_t cols, float eps) {
  const char *op = "layernorm";
  KZ_TRY(kz_cuda_enter(s, op));
  const int block = kz_stream_knob(s, KZ_KNOB_CUDA_LAYERNORM_BLOCK);
  KZ_TRY(kz_cuda_check_block(op, "layernorm.block", block));
  KZ_TRY(check_shape(op, rows, cols));
  if (rows == 0) return KZ_OK;
  fwd_kernel<<<kz_cuda_grid_for(rows, 1), block, 0, kz_cuda_stream(s)>>>(x, gamma, beta, y, mean,
                                                                         rstd, rows, cols, eps);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

/* dgamma and dbeta may be NULL (frozen parameters); so may dx (input that
 * needs no gradient). */
extern "C" kz_status kz_cuda_layernorm_bwd(kz_stream *s, const float *dy, const float *x,
                                           const float *gamma, const float *mean, const float *rstd,
                                           float *dx, float *dgamma, float *dbeta, int64_t rows,
                                           int64_t cols, bool accumulate) {
  const char *op = "layernorm_bwd";
  KZ_TRY(kz_cuda_enter(s, op));
  const int block = kz_stream_knob(s, KZ_KNOB_CUDA_LAYERNORM_BLOCK);
  KZ_TRY(kz_cuda_check_block(op, "layernorm.block", block));
  KZ_TRY(check_shape(op, rows, cols));
  if (cols == 0) return KZ_OK;
  if (rows == 0) return kz_ln_zero_params(s, dgamma, dbeta, cols, accumulate, op);
  const saved_x sv{x, mean, rstd};
  if (dx != nullptr) {
    bwd_dx_kernel<<<kz_cuda_grid_for(rows, 1), block, 0, kz_cuda_stream(s)>>>(
        sv, dy, gamma, dx, rows, cols, accumulate);
    KZ_CUDA_CHECK_LAUNCH(op);
  }
  if (dgamma == nullptr && dbeta == nullptr) return KZ_OK;
  return kz_ln_param_grads(s, sv, dy, dgamma, dbeta, rows, cols, accumulate, op);
}
