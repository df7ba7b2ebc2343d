/* Attention softmax over rows of x[B, H, T, S], one block (softmax.block
 * threads) per row.
 *
 * Both masks of kz_softmax_shape allow a prefix of the keys, so a row only
 * needs its limit: keys [0, limit) are live, the rest are written as zeros
 * (forward) or get no gradient (backward). A row with limit <= 0 is zeros.
 * A NaN among a row's live logits makes its live outputs NaN, as the
 * reference's: a diverging score must show, not pass for a masked row. */
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

struct row_geom {
  int64_t heads, queries, keys;
  bool causal;
  const int32_t *lengths;
};

__device__ __forceinline__ int64_t live_keys(const row_geom &g, int64_t row) {
  int64_t limit = g.keys;
  if (g.lengths != nullptr) {
    const int64_t len = g.lengths[row / (g.heads * g.queries)];
    limit = min(limit, len);
  }
  if (g.causal) {
    const int64_t t = row % g.queries;
    limit = min(limit, t + (g.keys - g.queries) + 1);
  }
  return max(limit, (int64_t)0);
}

/* The larger of a and b, NaN when either is (fmaxf would drop the NaN). */
__device__ __forceinline__ float max_nan(float a, float b) {
  return (a != a || a > b) ? a : b;
}

__device__ __forceinline__ float block_max_nan(float v, float *shared) {
  const int lane = threadIdx.x % KZ_WARP, warp = threadIdx.x / KZ_WARP;
  const int warps = blockDim.x / KZ_WARP;
  for (int o = KZ_WARP / 2; o > 0; o >>= 1) v = max_nan(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : -INFINITY;
  for (int o = KZ_WARP / 2; o > 0; o >>= 1) v = max_nan(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();
  return v;
}

__global__ void fwd_kernel(const float *x, float *y, int64_t rows, row_geom g, float scale) {
  __shared__ float red[KZ_WARP];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *xr = x + r * g.keys;
    float *yr = y + r * g.keys;
    const int64_t live = live_keys(g, r);
    float mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < live; j += blockDim.x) mx = max_nan(mx, scale * xr[j]);
    mx = block_max_nan(mx, red);
    /* All live logits at -inf (or none live): a zero row rather than NaN.
     * A NaN max is not empty: exp(NaN) spreads it over the live keys. */
    const bool empty = live == 0 || mx == -INFINITY;
    float sum = 0.0f;
    if (!empty)
      for (int64_t j = threadIdx.x; j < live; j += blockDim.x) sum += expf(scale * xr[j] - mx);
    sum = kz_block_sum(sum, red);
    const float inv = empty ? 0.0f : 1.0f / sum;
    for (int64_t j = threadIdx.x; j < g.keys; j += blockDim.x)
      yr[j] = j < live && !empty ? expf(scale * xr[j] - mx) * inv : 0.0f;
  }
}

/* dx = scale * y * (dy - sum_j dy_j y_j), over the live keys. */
__global__ void bwd_kernel(const float *y, const float *dy, float *dx, int64_t rows, row_geom g,
                           float scale, bool accumulate) {
  __shared__ float red[KZ_WARP];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *yr = y + r * g.keys;
    const float *dyr = dy + r * g.keys;
    float *dxr = dx + r * g.keys;
    const int64_t live = live_keys(g, r);
    float dot = 0.0f;
    for (int64_t j = threadIdx.x; j < live; j += blockDim.x) dot += dyr[j] * yr[j];
    dot = kz_block_sum(dot, red);
    for (int64_t j = threadIdx.x; j < g.keys; j += blockDim.x) {
      const float v = j < live ? scale * yr[j] * (dyr[j] - dot) : 0.0f;
      dxr[j] = accumulate ? dxr[j] + v : v;
    }
  }
}

kz_status prepare(kz_stream *s, const kz_softmax_shape *sh, const char *op, int *block,
                  int64_t *rows, row_geom *g) {
  KZ_TRY(kz_cuda_enter(s, op));
  *block = kz_stream_knob(s, KZ_KNOB_CUDA_SOFTMAX_BLOCK);
  KZ_TRY(kz_cuda_check_block(op, "softmax.block", *block));
  if (sh == nullptr) return kz_fail(KZ_ERR_INVALID_ARG, "%s: no shape", op);
  if (sh->batch < 0 || sh->heads < 0 || sh->queries < 0 || sh->keys < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: negative shape [%lld, %lld, %lld, %lld]", op,
                   (long long)sh->batch, (long long)sh->heads, (long long)sh->queries,
                   (long long)sh->keys);
  *rows = sh->batch * sh->heads * sh->queries;
  *g = row_geom{sh->heads, sh->queries, sh->keys, sh->causal, sh->lengths};
  return KZ_OK;
}

} // namespace

extern "C" kz_status kz_cuda_softmax_fwd(kz_stream *s, const float *x, float *y,
                                         const kz_softmax_shape *sh) {
  const char *op = "softmax";
  int block = 0;
  int64_t rows = 0;
  row_geom g = {};
  KZ_TRY(prepare(s, sh, op, &block, &rows, &g));
  if (rows == 0 || g.keys == 0) return KZ_OK;
  fwd_kernel<<<kz_cuda_grid_for(rows, 1), block, 0, kz_cuda_stream(s)>>>(x, y, rows, g, sh->scale);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

extern "C" kz_status kz_cuda_softmax_bwd(kz_stream *s, const float *y, const float *dy, float *dx,
                                         const kz_softmax_shape *sh, bool accumulate) {
  const char *op = "softmax_bwd";
  int block = 0;
  int64_t rows = 0;
  row_geom g = {};
  KZ_TRY(prepare(s, sh, op, &block, &rows, &g));
  if (rows == 0 || g.keys == 0) return KZ_OK;
  bwd_kernel<<<kz_cuda_grid_for(rows, 1), block, 0, kz_cuda_stream(s)>>>(y, dy, dx, rows, g,
                                                                         sh->scale, accumulate);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}
