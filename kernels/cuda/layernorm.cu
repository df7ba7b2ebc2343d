/* LayerNorm over the last dim, forward and backward.
 *
 * Forward and the dx part of backward run one block per row
 * (layernorm.block threads) with block reductions. The mean is removed
 * before squaring (two passes over the row, the second from L1/L2) because
 * E[x^2] - E[x]^2 cancels badly for rows with a large mean.
 *
 * dgamma/dbeta are column sums over rows: chunks of layernorm.bwd_rows rows
 * write partial rows, then column_sum.cuh adds them in chunk order, so the
 * result is deterministic (no float atomics). */
#include "kernels/cuda/column_sum.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

__global__ void fwd_kernel(const float *x, const float *gamma, const float *beta, float *y,
                           float *mean_out, float *rstd_out, int64_t rows, int64_t cols,
                           float eps) {
  __shared__ float red[KZ_WARP];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    float acc = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) acc += xr[c];
    const float mean = kz_block_sum(acc, red) / (float)cols;
    acc = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float d = xr[c] - mean;
      acc += d * d;
    }
    const float var = kz_block_sum(acc, red) / (float)cols;
    const float rstd = 1.0f / sqrtf(var + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
      yr[c] = (xr[c] - mean) * rstd * gamma[c] + beta[c];
    if (threadIdx.x == 0) {
      if (mean_out != nullptr) mean_out[r] = mean;
      if (rstd_out != nullptr) rstd_out[r] = rstd;
    }
  }
}

/* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma. */
__global__ void bwd_dx_kernel(const float *dy, const float *x, const float *gamma,
                              const float *mean, const float *rstd, float *dx, int64_t rows,
                              int64_t cols, bool accumulate) {
  __shared__ float red[2 * KZ_WARP];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *xr = x + r * cols;
    const float *dyr = dy + r * cols;
    float *dxr = dx + r * cols;
    const float mu = mean[r], rs = rstd[r];
    float sg = 0.0f, sgx = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float g = dyr[c] * gamma[c];
      sg += g;
      sgx += g * (xr[c] - mu) * rs;
    }
    const float2 sums = kz_block_sum2(sg, sgx, red);
    const float mg = sums.x / (float)cols, mgx = sums.y / (float)cols;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float xhat = (xr[c] - mu) * rs;
      const float v = rs * (dyr[c] * gamma[c] - mg - xhat * mgx);
      dxr[c] = accumulate ? dxr[c] + v : v;
    }
  }
}

constexpr int kCols = KZ_WARP;
constexpr int kLanes = 8;

/* One block sums a chunk of rows for 32 columns. DIRECT: the chunk is the
 * whole matrix, write (or add into) dgamma/dbeta; otherwise write partial
 * rows: dgamma partials at [chunk, c], dbeta partials `chunks` rows later. */
template <bool DIRECT>
__global__ void __launch_bounds__(kCols *kLanes)
    bwd_param_kernel(const float *dy, const float *x, const float *mean, const float *rstd,
                     float *dgamma_out, float *dbeta_out, int64_t rows, int64_t cols,
                     int64_t rows_per_chunk, int64_t col_tiles, int64_t tiles, bool accumulate) {
  __shared__ float part_g[kLanes][kCols + 1];
  __shared__ float part_b[kLanes][kCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t chunk = t / col_tiles;
    const int64_t c = (t % col_tiles) * kCols + tx;
    const int64_t r0 = chunk * rows_per_chunk;
    const int64_t r1 = min(rows, r0 + rows_per_chunk);
    float ag = 0.0f, ab = 0.0f;
    if (c < cols)
      for (int64_t r = r0 + ty; r < r1; r += kLanes) {
        const float d = dy[r * cols + c];
        ag += d * (x[r * cols + c] - mean[r]) * rstd[r];
        ab += d;
      }
    part_g[ty][tx] = ag;
    part_b[ty][tx] = ab;
    __syncthreads();
    if (ty == 0 && c < cols) {
      float sg = 0.0f, sb = 0.0f;
#pragma unroll
      for (int l = 0; l < kLanes; ++l) {
        sg += part_g[l][tx];
        sb += part_b[l][tx];
      }
      if (DIRECT) {
        if (dgamma_out != nullptr) dgamma_out[c] = accumulate ? dgamma_out[c] + sg : sg;
        if (dbeta_out != nullptr) dbeta_out[c] = accumulate ? dbeta_out[c] + sb : sb;
      } else {
        dgamma_out[chunk * cols + c] = sg;
        dbeta_out[chunk * cols + c] = sb;
      }
    }
    __syncthreads();
  }
}

kz_status check_shape(const char *op, int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0 || (rows > 0 && cols == 0))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: unusable shape [%lld, %lld]", op, (long long)rows,
                   (long long)cols);
  return KZ_OK;
}

kz_status param_grads(kz_stream *s, const float *dy, const float *x, const float *mean,
                      const float *rstd, float *dgamma, float *dbeta, int64_t rows, int64_t cols,
                      bool accumulate, const char *op) {
  const int rows_per_chunk = kz_stream_knob(s, KZ_KNOB_CUDA_LAYERNORM_BWD_ROWS);
  if (rows_per_chunk < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: kernel config layernorm.bwd_rows = %d (need >= 1)", op,
                   rows_per_chunk);
  const int64_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  const int64_t col_tiles = (cols + kCols - 1) / kCols;
  const int64_t tiles = chunks * col_tiles;
  const unsigned grid = (unsigned)(tiles < KZ_MAX_GRID_BLOCKS ? tiles : KZ_MAX_GRID_BLOCKS);
  const dim3 block(kCols, kLanes);
  cudaStream_t st = kz_cuda_stream(s);
  if (chunks == 1) {
    bwd_param_kernel<true><<<grid, block, 0, st>>>(dy, x, mean, rstd, dgamma, dbeta, rows, cols,
                                                   rows_per_chunk, col_tiles, tiles, accumulate);
    KZ_CUDA_CHECK_LAUNCH(op);
    return KZ_OK;
  }
  float *partial = nullptr;
  const size_t plane = (size_t)chunks * (size_t)cols;
  KZ_TRY(kz_cuda_scratch_alloc(s, 2 * plane * sizeof(float), (void **)&partial, op));
  bwd_param_kernel<false><<<grid, block, 0, st>>>(dy, x, mean, rstd, partial, partial + plane, rows,
                                                  cols, rows_per_chunk, col_tiles, tiles,
                                                  accumulate);
  kz_status status = KZ_OK;
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) status = kz_fail(KZ_ERR_DEVICE, "%s: %s", op, cudaGetErrorString(e));
  if (status == KZ_OK && dgamma != nullptr)
    status = kz_column_sum(s, partial, dgamma, chunks, cols, accumulate, op);
  if (status == KZ_OK && dbeta != nullptr)
    status = kz_column_sum(s, partial + plane, dbeta, chunks, cols, accumulate, op);
  kz_cuda_scratch_free(s, partial);
  return status;
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
  cudaStream_t st = kz_cuda_stream(s);
  if (rows == 0) {
    /* Sums over no rows are zero; without accumulate they must still be written. */
    if (!accumulate) {
      if (dgamma != nullptr)
        KZ_CUDA_CHECK(cudaMemsetAsync(dgamma, 0, (size_t)cols * sizeof(float), st), op);
      if (dbeta != nullptr)
        KZ_CUDA_CHECK(cudaMemsetAsync(dbeta, 0, (size_t)cols * sizeof(float), st), op);
    }
    return KZ_OK;
  }
  if (dx != nullptr) {
    bwd_dx_kernel<<<kz_cuda_grid_for(rows, 1), block, 0, st>>>(dy, x, gamma, mean, rstd, dx, rows,
                                                               cols, accumulate);
    KZ_CUDA_CHECK_LAUNCH(op);
  }
  if (dgamma == nullptr && dbeta == nullptr) return KZ_OK;
  return param_grads(s, dy, x, mean, rstd, dgamma, dbeta, rows, cols, accumulate, op);
}
