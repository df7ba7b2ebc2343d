/* Softmax cross-entropy over rows of logits[N, C], one block
 * (cross_entropy.block threads) per row.
 *
 * Kernels cannot return errors, so a target outside [0, C) that is not
 * ignore_index gives a NaN loss (which any loss check catches) instead of
 * KZ_ERR_INVALID_ARG; backward, like ref, it just adds no one-hot term. */
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

/* Row max and sum of exp(l - max), reduced over the block. */
__device__ __forceinline__ float2 row_stats(const float *lr, int64_t classes, float *red) {
  float mx = -INFINITY;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) mx = fmaxf(mx, lr[c]);
  mx = kz_block_max(mx, red);
  float sum = 0.0f;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) sum += expf(lr[c] - mx);
  sum = kz_block_sum(sum, red);
  return make_float2(mx, sum);
}

__global__ void fwd_kernel(const float *logits, const int32_t *targets, float *losses, int64_t rows,
                           int64_t classes, int32_t ignore_index) {
  __shared__ float red[KZ_WARP];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int32_t t = targets[r];
    /* Uniform across the block, so the early exits skip no barrier. */
    if (t == ignore_index) {
      if (threadIdx.x == 0) losses[r] = 0.0f;
      continue;
    }
    if (t < 0 || (int64_t)t >= classes) {
      if (threadIdx.x == 0) losses[r] = __int_as_float(0x7fc00000);
      continue;
    }
    const float *lr = logits + r * classes;
    const float2 st = row_stats(lr, classes, red);
    if (threadIdx.x == 0) losses[r] = st.x + logf(st.y) - lr[t];
  }
}

__global__ void bwd_kernel(const float *logits, const int32_t *targets, const float *dloss,
                           float *dlogits, int64_t rows, int64_t classes, int32_t ignore_index,
                           bool accumulate) {
  __shared__ float red[KZ_WARP];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int32_t t = targets[r];
    float *dr = dlogits + r * classes;
    if (t == ignore_index) {
      if (!accumulate)
        for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) dr[c] = 0.0f;
      continue;
    }
    const float *lr = logits + r * classes;
    const float2 st = row_stats(lr, classes, red);
    const float g = dloss[r], inv = 1.0f / st.y;
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
      const float p = expf(lr[c] - st.x) * inv;
      /* An out-of-range t matches no c: no one-hot term, as in ref. */
      const float v = g * (p - (c == t ? 1.0f : 0.0f));
      dr[c] = accumulate ? dr[c] + v : v;
    }
  }
}

kz_status prepare(kz_stream *s, const char *op, int64_t rows, int64_t classes, int *block) {
  KZ_TRY(kz_cuda_enter(s, op));
  *block = kz_stream_knob(s, KZ_KNOB_CUDA_XENT_BLOCK);
  KZ_TRY(kz_cuda_check_block(op, "cross_entropy.block", *block));
  if (rows < 0 || classes < 0 || (rows > 0 && classes == 0))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: unusable shape [%lld, %lld]", op, (long long)rows,
                   (long long)classes);
  return KZ_OK;
}

} // namespace

extern "C" kz_status kz_cuda_cross_entropy_fwd(kz_stream *s, const float *logits,
                                               const int32_t *targets, float *losses, int64_t rows,
                                               int64_t classes, int32_t ignore_index) {
  const char *op = "cross_entropy";
  int block = 0;
  KZ_TRY(prepare(s, op, rows, classes, &block));
  if (rows == 0) return KZ_OK;
  fwd_kernel<<<kz_cuda_grid_for(rows, 1), block, 0, kz_cuda_stream(s)>>>(
      logits, targets, losses, rows, classes, ignore_index);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

extern "C" kz_status kz_cuda_cross_entropy_bwd(kz_stream *s, const float *logits,
                                               const int32_t *targets, const float *dloss,
                                               float *dlogits, int64_t rows, int64_t classes,
                                               int32_t ignore_index, bool accumulate) {
  const char *op = "cross_entropy_bwd";
  int block = 0;
  KZ_TRY(prepare(s, op, rows, classes, &block));
  if (rows == 0) return KZ_OK;
  bwd_kernel<<<kz_cuda_grid_for(rows, 1), block, 0, kz_cuda_stream(s)>>>(
      logits, targets, dloss, dlogits, rows, classes, ignore_index, accumulate);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}
