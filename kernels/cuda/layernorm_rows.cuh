/* Device code shared by layernorm.cu and residual_layernorm.cu: the row
 * statistics of the forward pass, the two row sums of the dx pass, and the
 * deterministic dgamma/dbeta column pass (chunks of layernorm.bwd_rows rows
 * write partial rows, column_sum.cuh adds them in chunk order, no atomics).
 *
 * The backward pieces read the saved input through a SAVED object with
 *   xhat(i, off, c):        the normalised input of element (i, c), off = i * cols
 *   times_xhat(g, i, off, c): g * xhat, in the order the caller always used
 * so each kernel keeps its exact float expression (and bits). */
#ifndef KZ_CUDA_LAYERNORM_ROWS_CUH
#define KZ_CUDA_LAYERNORM_ROWS_CUH

#include "kernels/cuda/column_sum.cuh"
#include "kernels/cuda/common.cuh"

/* Normalises one row src -> dst (dst may be src: each thread touches only
 * its own columns) and stores mean/rstd of row i where asked. The mean is
 * removed before squaring because E[x^2] - E[x]^2 cancels badly for rows
 * with a large mean. Called by every thread of the block. */
__device__ __forceinline__ void kz_ln_normalize_row(const float *src, float *dst,
                                                    const float *gamma, const float *beta,
                                                    int64_t i, int64_t cols, float eps, float *red,
                                                    float *mean_out, float *rstd_out) {
  float acc = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) acc += src[c];
  const float mean = kz_block_sum(acc, red) / (float)cols;
  acc = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float d = src[c] - mean;
    acc += d * d;
  }
  const float rstd = 1.0f / sqrtf(kz_block_sum(acc, red) / (float)cols + eps);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
    dst[c] = (src[c] - mean) * rstd * gamma[c] + beta[c];
  if (threadIdx.x == 0) {
    if (mean_out != nullptr) mean_out[i] = mean;
    if (rstd_out != nullptr) rstd_out[i] = rstd;
  }
}

/* mean(g) and mean(g * xhat) over row i, g = dy * gamma; red holds 2 * KZ_WARP. */
template <class SAVED>
__device__ __forceinline__ float2 kz_ln_dx_means(const SAVED &sv, const float *dy,
                                                 const float *gamma, int64_t i, int64_t cols,
                                                 float *red) {
  const int64_t off = i * cols;
  float sg = 0.0f, sgx = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float g = dy[off + c] * gamma[c];
    sg += g;
    sgx += sv.times_xhat(g, i, off, c);
  }
  const float2 sums = kz_block_sum2(sg, sgx, red);
  return make_float2(sums.x / (float)cols, sums.y / (float)cols);
}

constexpr int KZ_LN_COLS = KZ_WARP;
constexpr int KZ_LN_LANES = 8;

/* One block sums a chunk of rows for 32 columns: dy * xhat and dy. DIRECT:
 * the chunk is the whole matrix, write (or add into) dgamma/dbeta (either
 * may be NULL); otherwise write the chunk's partial rows, dgamma's at
 * [chunk, c] and dbeta's `chunks` rows later. */
template <class SAVED, bool DIRECT>
__global__ void __launch_bounds__(KZ_LN_COLS *KZ_LN_LANES)
    kz_ln_param_kernel(SAVED sv, const float *dy, float *dgamma_out, float *dbeta_out, int64_t rows,
                       int64_t cols, int64_t rows_per_chunk, int64_t col_tiles, int64_t tiles,
                       bool accumulate) {
  __shared__ float part_g[KZ_LN_LANES][KZ_LN_COLS + 1];
  __shared__ float part_b[KZ_LN_LANES][KZ_LN_COLS + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t chunk = t / col_tiles;
    const int64_t c = (t % col_tiles) * KZ_LN_COLS + tx;
    const int64_t r0 = chunk * rows_per_chunk;
    const int64_t r1 = min(rows, r0 + rows_per_chunk);
    float ag = 0.0f, ab = 0.0f;
    if (c < cols)
      for (int64_t i = r0 + ty; i < r1; i += KZ_LN_LANES) {
        const float d = dy[i * cols + c];
        ag += sv.times_xhat(d, i, i * cols, c);
        ab += d;
      }
    part_g[ty][tx] = ag;
    part_b[ty][tx] = ab;
    __syncthreads();
    if (ty == 0 && c < cols) {
      float sg = 0.0f, sb = 0.0f;
#pragma unroll
      for (int l = 0; l < KZ_LN_LANES; ++l) {
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

/* dgamma and/or dbeta (either may be NULL, not both) over rows > 0. */
template <class SAVED>
static kz_status kz_ln_param_grads(kz_stream *s, const SAVED &sv, const float *dy, float *dgamma,
                                   float *dbeta, int64_t rows, int64_t cols, bool accumulate,
                                   const char *op) {
  const int rows_per_chunk = kz_stream_knob(s, KZ_KNOB_CUDA_LAYERNORM_BWD_ROWS);
  if (rows_per_chunk < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: kernel config layernorm.bwd_rows = %d (need >= 1)", op,
                   rows_per_chunk);
  const int64_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  const int64_t col_tiles = (cols + KZ_LN_COLS - 1) / KZ_LN_COLS;
  const int64_t tiles = chunks * col_tiles;
  const unsigned grid = (unsigned)(tiles < KZ_MAX_GRID_BLOCKS ? tiles : KZ_MAX_GRID_BLOCKS);
  const dim3 block(KZ_LN_COLS, KZ_LN_LANES);
  cudaStream_t st = kz_cuda_stream(s);
  if (chunks == 1) {
    kz_ln_param_kernel<SAVED, true><<<grid, block, 0, st>>>(
        sv, dy, dgamma, dbeta, rows, cols, rows_per_chunk, col_tiles, tiles, accumulate);
    KZ_CUDA_CHECK_LAUNCH(op);
    return KZ_OK;
  }
  float *partial = nullptr;
  const size_t plane = (size_t)chunks * (size_t)cols;
  KZ_TRY(kz_cuda_scratch_alloc(s, 2 * plane * sizeof(float), (void **)&partial, op));
  kz_ln_param_kernel<SAVED, false><<<grid, block, 0, st>>>(
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

/* Sums over no rows are zero; without accumulate they must still be written. */
static inline kz_status kz_ln_zero_params(kz_stream *s, float *dgamma, float *dbeta, int64_t cols,
                                          bool accumulate, const char *op) {
  cudaStream_t st = kz_cuda_stream(s);
  if (!accumulate && dgamma != nullptr)
    KZ_CUDA_CHECK(cudaMemsetAsync(dgamma, 0, (size_t)cols * sizeof(float), st), op);
  if (!accumulate && dbeta != nullptr)
    KZ_CUDA_CHECK(cudaMemsetAsync(dbeta, 0, (size_t)cols * sizeof(float), st), op);
  return KZ_OK;
}

#endif
