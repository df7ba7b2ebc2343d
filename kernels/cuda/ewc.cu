/* The EWC penalty gradient: a grid-stride pass over four arrays, as memory
 * bound as AdamW (adamw.block threads per block). */
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

__global__ void ewc_grad_kernel(const float *params, const float *anchor, const float *fisher,
                                float *grads, int64_t n, float lambda) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    grads[i] += lambda * fisher[i] * (params[i] - anchor[i]);
}

} // namespace

extern "C" kz_status kz_cuda_ewc_grad(kz_stream *s, const float *params, const float *anchor,
                                      const float *fisher, float *grads, int64_t n, float lambda) {
  const char *op = "ewc_grad";
  KZ_TRY(kz_cuda_enter(s, op));
  const int block = kz_stream_knob(s, KZ_KNOB_CUDA_ADAMW_BLOCK);
  KZ_TRY(kz_cuda_check_block(op, "adamw.block", block));
  if (n < 0) return kz_fail(KZ_ERR_INVALID_ARG, "%s: negative size %lld", op, (long long)n);
  if (n == 0) return KZ_OK;
  ewc_grad_kernel<<<kz_cuda_grid_for(n, block), block, 0, kz_cuda_stream(s)>>>(
      params, anchor, fisher, grads, n, lambda);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}
