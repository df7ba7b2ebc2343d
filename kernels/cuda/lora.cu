/* The LoRA op on CUDA: the products of kernels/core/lora_gemms.h on
 * kz_cuda_gemm (cuBLAS, or the tiled kernel under matmul.impl 1), all on
 * the stream, so nothing synchronises between them. */
#include "kernels/core/lora_gemms.h"
#include "kernels/cuda/cuda_ops.h"

extern "C" kz_status kz_cuda_lora_fwd(kz_stream *s, const float *x, const float *a, const float *b,
                                      float *u, float *y, int64_t rows, int64_t in, int64_t rank,
                                      int64_t out, int64_t ldy, float scale) {
  return kz_lora_fwd_gemms(kz_cuda_gemm, s, x, a, b, u, y, rows, in, rank, out, ldy, scale);
}

extern "C" kz_status kz_cuda_lora_bwd(kz_stream *s, const float *x, const float *a, const float *b,
                                      const float *u, const float *dy, float *du, float *dx,
                                      float *da, float *db, int64_t rows, int64_t in, int64_t rank,
                                      int64_t out, int64_t ldy, float scale, bool accumulate) {
  return kz_lora_bwd_gemms(kz_cuda_gemm, s, x, a, b, u, dy, du, dx, da, db, rows, in, rank, out,
                           ldy, scale, accumulate);
}
