/* Bias gradient: dbias[c] (+)= sum_r dy[r, c].
 *
 * Pass 1 splits the rows into chunks of bias_add.bwd_rows; each block sums
 * one chunk for 32 columns (a warp reads 128 contiguous bytes per row) and
 * writes one partial row. Pass 2 (column_sum.cuh) adds the partials in chunk
 * order. No float atomics anywhere, so results are deterministic. When one
 * chunk covers all rows, pass 1 writes dbias directly. */
#include "kernels/cuda/column_sum.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

constexpr int kCols = KZ_WARP; /* columns per block: one per lane */
constexpr int kLanes = 8;      /* row lanes per block */

template <bool DIRECT>
__global__ void __launch_bounds__(kCols *kLanes)
    partial_kernel(const float *dy, float *out, int64_t rows, int64_t cols, int64_t rows_per_chunk,
                   int64_t col_tiles, int64_t tiles, bool accumulate) {
  __shared__ float part[kLanes][kCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t chunk = t / col_tiles;
    const int64_t c = (t % col_tiles) * kCols + tx;
    const int64_t r0 = chunk * rows_per_chunk;
    const int64_t r1 = min(rows, r0 + rows_per_chunk);
    float acc = 0.0f;
    if (c < cols)
      for (int64_t r = r0 + ty; r < r1; r += kLanes) acc += dy[r * cols + c];
    part[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && c < cols) {
      float sum = 0.0f;
#pragma unroll
      for (int l = 0; l < kLanes; ++l) sum += part[l][tx];
      if (DIRECT)
        out[c] = accumulate ? out[c] + sum : sum;
      else
        out[chunk * cols + c] = sum;
    }
    __syncthreads();
  }
}

} // namespace

extern "C" kz_status kz_cuda_bias_add_bwd(kz_stream *s, const float *dy, float *dbias, int64_t rows,
                                          int64_t cols, bool accumulate) {
  const char *op = "bias_add_bwd";
  KZ_TRY(kz_cuda_enter(s, op));
  const int rows_per_chunk = kz_stream_knob(s, KZ_KNOB_CUDA_BIAS_BWD_ROWS);
  if (rows_per_chunk < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: kernel config bias_add.bwd_rows = %d (need >= 1)", op,
                   rows_per_chunk);
  if (rows < 0 || cols < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: negative shape [%lld, %lld]", op, (long long)rows,
                   (long long)cols);
  if (cols == 0) return KZ_OK;
  cudaStream_t st = kz_cuda_stream(s);
  if (rows == 0) {
    /* An empty sum is zero; accumulating zero leaves dbias as it is. */
    if (!accumulate) KZ_CUDA_CHECK(cudaMemsetAsync(dbias, 0, (size_t)cols * sizeof(float), st), op);
    return KZ_OK;
  }
  const int64_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  const int64_t col_tiles = (cols + kCols - 1) / kCols;
  const int64_t tiles = chunks * col_tiles;
  const unsigned grid = (unsigned)(tiles < KZ_MAX_GRID_BLOCKS ? tiles : KZ_MAX_GRID_BLOCKS);
  const dim3 block(kCols, kLanes);
  if (chunks == 1) {
    partial_kernel<true><<<grid, block, 0, st>>>(dy, dbias, rows, cols, rows_per_chunk, col_tiles,
                                                 tiles, accumulate);
    KZ_CUDA_CHECK_LAUNCH(op);
    return KZ_OK;
  }
  float *partial = NULL;
  KZ_TRY(kz_cuda_scratch_alloc(s, (size_t)chunks * (size_t)cols * sizeof(float), (void **)&partial,
                               op));
  partial_kernel<false><<<grid, block, 0, st>>>(dy, partial, rows, cols, rows_per_chunk, col_tiles,
                                                tiles, accumulate);
  cudaError_t e = cudaGetLastError();
  kz_status status = KZ_OK;
  if (e != cudaSuccess)
    status = kz_fail(KZ_ERR_DEVICE, "%s: %s", op, cudaGetErrorString(e));
  else
    status = kz_column_sum(s, partial, dbias, chunks, cols, accumulate, op);
  kz_cuda_scratch_free(s, partial);
  return status;
}
