/* Permute: one grid-stride pass over the output in order, so writes
 * coalesce; reads gather with x's strides (they coalesce too when the last
 * dim stays last, as in the attention head split). */
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

struct perm4 {
  int64_t out[4]; /* y's dims */
  int64_t st[4];  /* x's stride for each of y's dims */
};

__global__ void permute_kernel(const float *x, float *y, perm4 p, int64_t total, bool accumulate) {
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t rest = e, src = 0;
    for (int j = 3; j >= 0; --j) {
      src += (rest % p.out[j]) * p.st[j];
      rest /= p.out[j];
    }
    y[e] = accumulate ? y[e] + x[src] : x[src];
  }
}

} // namespace

extern "C" kz_status kz_cuda_permute(kz_stream *s, const float *x, float *y,
                                     const kz_permute_shape *sh, bool accumulate) {
  const char *op = "permute";
  KZ_TRY(kz_cuda_enter(s, op));
  const int block = kz_stream_knob(s, KZ_KNOB_CUDA_ELEMENTWISE_BLOCK);
  KZ_TRY(kz_cuda_check_block(op, "elementwise.block", block));
  perm4 p;
  int64_t xstride[4], total = 1;
  xstride[3] = 1;
  for (int d = 2; d >= 0; --d) xstride[d] = xstride[d + 1] * sh->in[d + 1];
  for (int j = 0; j < 4; ++j) {
    p.out[j] = sh->in[sh->perm[j]];
    p.st[j] = xstride[sh->perm[j]];
    total *= p.out[j];
  }
  if (total == 0) return KZ_OK;
  permute_kernel<<<kz_cuda_grid_for(total, block), block, 0, kz_cuda_stream(s)>>>(x, y, p, total,
                                                                                  accumulate);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}
