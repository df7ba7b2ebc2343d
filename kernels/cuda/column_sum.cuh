/* Second pass of the deterministic column reductions (bias and layernorm
 * backward): the first pass leaves one partial row per chunk of rows, this
 * one adds the partials of each column in chunk order. Fixed order, no
 * atomics: the same input always gives the same bits. */
#ifndef KZ_CUDA_COLUMN_SUM_CUH
#define KZ_CUDA_COLUMN_SUM_CUH

#include "kernels/cuda/common.cuh"

#define KZ_COLUMN_SUM_BLOCK 256

/* out[c] (+)= sum_k partial[k * cols + c], k < chunks. Templated so that a
 * translation unit that does not use it emits nothing. */
template <bool ACCUMULATE>
__global__ void kz_column_sum_kernel(const float *partial, float *out, int64_t chunks,
                                     int64_t cols) {
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < cols;
       c += (int64_t)gridDim.x * blockDim.x) {
    float acc = 0.0f;
    for (int64_t k = 0; k < chunks; ++k) acc += partial[k * cols + c];
    out[c] = ACCUMULATE ? out[c] + acc : acc;
  }
}

static inline kz_status kz_column_sum(const kz_stream *s, const float *partial, float *out,
                                      int64_t chunks, int64_t cols, bool accumulate,
                                      const char *op) {
  const unsigned grid = kz_cuda_grid_for(cols, KZ_COLUMN_SUM_BLOCK);
  if (accumulate)
    kz_column_sum_kernel<true>
        <<<grid, KZ_COLUMN_SUM_BLOCK, 0, kz_cuda_stream(s)>>>(partial, out, chunks, cols);
  else
    kz_column_sum_kernel<false>
        <<<grid, KZ_COLUMN_SUM_BLOCK, 0, kz_cuda_stream(s)>>>(partial, out, chunks, cols);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

#endif
