/* Elementwise launches of the model ops (mlp.cu, tft.cu): body(i) for i in
 * [0, n), grid-stride, one element a thread, elementwise.block threads a
 * block. Templated on the body, so a translation unit only gets the
 * instances it uses (its bodies live in its anonymous namespace). */
#ifndef KZ_CUDA_EACH_CUH
#define KZ_CUDA_EACH_CUH

#include "kernels/cuda/common.cuh"

template <class F> __global__ void kz_cuda_each_kernel(F body, int64_t n) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) body(i);
}

/* Runs body(i) for i in [0, n) on the stream; name is the op in messages. */
template <class F> kz_status kz_cuda_each(kz_stream *s, const char *name, int64_t n, F body) {
  KZ_TRY(kz_cuda_enter(s, name));
  if (n <= 0) return KZ_OK;
  const int block = kz_stream_knob(s, KZ_KNOB_CUDA_ELEMENTWISE_BLOCK);
  KZ_TRY(kz_cuda_check_block(name, "elementwise.block", block));
  kz_cuda_each_kernel<<<kz_cuda_grid_for(n, block), block, 0, kz_cuda_stream(s)>>>(body, n);
  KZ_CUDA_CHECK_LAUNCH(name);
  return KZ_OK;
}

#endif
