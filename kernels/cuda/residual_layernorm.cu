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
#include "kernels/cuda/column_sum.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

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
    float acc = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float v = x[off + c] + h[off + c] * m.at(off + c);
      sr[c] = v;
      acc += v;
    }
    const float mean = kz_block_sum(acc, red) / (float)cols;
    acc = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float d = sr[c] - mean;
      acc += d * d;
    }
    const float rstd = 1.0f / sqrtf(kz_block_sum(acc, red) / (float)cols + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
      y[off + c] = (sr[c] - mean) * rstd * gamma[c] + beta[c];
    if (threadIdx.x == 0) {
      if (mean_out != nullptr) mean_out[i] = mean;
      if (rstd_out != nullptr) rstd_out[i] = rstd;
    }
  }
}

/* The normalised input of element (i, c): from r with mean/rstd, or from y. */
struct saved_rows {
  const float *y, *r, *gamma, *beta, *mean, *rstd;
  template <bool FROM_R>
  __device__ __forceinline__ float xhat(int64_t i, int64_t off, int64_t c) const {
    if (FROM_R) return (r[off + c] - mean[i]) * rstd[i];
    return (y[off + c] - beta[c]) / gamma[c];
  }
};

/* dr = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma; dx (+)= dr,
 * dh (+)= dr * mask. dy is read in full (the block sum) before any write. */
template <bool FROM_R>
__global__ void bwd_rows_kernel(saved_rows sv, const float *dy, float *dx, float *dh, int64_t rows,
                                int64_t cols, mask_rule m, bool accumulate) {
  __shared__ float red[2 * KZ_WARP];
  for (int64_t i = blockIdx.x; i < rows; i += gridDim.x) {
    const int64_t off = i * cols;
    float sg = 0.0f, sgx = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float g = dy[off + c] * sv.gamma[c];
      sg += g;
      sgx += g * sv.xhat<FROM_R>(i, off, c);
    }
    const float2 sums = kz_block_sum2(sg, sgx, red);
    const float mg = sums.x / (float)cols, mgx = sums.y / (float)cols, rs = sv.rstd[i];
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float d = rs * (dy[off + c] * sv.gamma[c] - mg - sv.xhat<FROM_R>(i, off, c) * mgx);
      if (dx != nullptr) dx[off + c] = accumulate ? dx[off + c] + d : d;
      if (dh != nullptr) {
        const float dd = d * m.at(off + c);
        dh[off + c] = accumulate ? dh[off + c] + dd : dd;
      }
    }
  }
}

constexpr int kCols = KZ_WARP;
constexpr int kLanes = 8;

/* One block sums a chunk of rows for 32 columns: dy * xhat and dy. DIRECT:
 * the chunk is the whole matrix, write (or add into) dgamma/dbeta (either
 * may be NULL); otherwise write the chunk's partial rows, dgamma's at
 * [chunk, c] and dbeta's `chunks` rows later. */
template <bool FROM_R, bool DIRECT>
__global__ void __launch_bounds__(kCols *kLanes)
    bwd_param_kernel(saved_rows sv, const float *dy, float *dgamma_out, float *dbeta_out,
                     int64_t rows, int64_t cols, int64_t rows_per_chunk, int64_t col_tiles,
                     int64_t tiles, bool accumulate) {
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
      for (int64_t i = r0 + ty; i < r1; i += kLanes) {
        const float d = dy[i * cols + c];
        ag += d * sv.xhat<FROM_R>(i, i * cols, c);
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

template <bool FROM_R>
kz_status param_grads(kz_stream *s, const saved_rows &sv, const float *dy, float *dgamma,
                      float *dbeta, int64_t rows, int64_t cols, bool accumulate, const char *op) {
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
    bwd_param_kernel<FROM_R, true><<<grid, block, 0, st>>>(
        sv, dy, dgamma, dbeta, rows, cols, rows_per_chunk, col_tiles, tiles, accumulate);
    KZ_CUDA_CHECK_LAUNCH(op);
    return KZ_OK;
  }
  float *partial = nullptr;
  const size_t plane = (size_t)chunks * (size_t)cols;
  KZ_TRY(kz_cuda_scratch_alloc(s, 2 * plane * sizeof(float), (void **)&partial, op));
  bwd_param_kernel<FROM_R, false><<<grid, block, 0, st>>>(
      sv, dy, partial, partial + plane, rows, cols, rows_per_chunk, col_tiles, tiles, accumulate);
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

template <bool FROM_R>
kz_status backward(kz_stream *s, const saved_rows &sv, const float *dy, float *dx, float *dh,
                   float *dgamma, float *dbeta, int64_t rows, int64_t cols, const mask_rule &m,
                   int block, bool accumulate, const char *op) {
  if (dgamma != nullptr || dbeta != nullptr)
    KZ_TRY(param_grads<FROM_R>(s, sv, dy, dgamma, dbeta, rows, cols, accumulate, op));
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
  if (rows == 0) {
    /* Sums over no rows are zero; without accumulate they must still be written. */
    cudaStream_t st = kz_cuda_stream(s);
    if (!accumulate && dgamma != nullptr)
      KZ_CUDA_CHECK(cudaMemsetAsync(dgamma, 0, (size_t)cols * sizeof(float), st), op);
    if (!accumulate && dbeta != nullptr)
      KZ_CUDA_CHECK(cudaMemsetAsync(dbeta, 0, (size_t)cols * sizeof(float), st), op);
    return KZ_OK;
  }
  const saved_rows sv{y, r, gamma, beta, mean, rstd};
  const mask_rule m = rule_of(p, key);
  if (r != nullptr)
    return backward<true>(s, sv, dy, dx, dh, dgamma, dbeta, rows, cols, m, block, accumulate, op);
  return backward<false>(s, sv, dy, dx, dh, dgamma, dbeta, rows, cols, m, block, accumulate, op);
}
