/* Fused AdamW step: one read of params/grads/m/v and one write of
 * params/m/v (and the bf16 copy) per element, adamw.block threads per block.
 *
 * The bias corrections depend only on the step, so the host computes them
 * once in double instead of every thread calling powf. */
#include <math.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

struct adamw_coeffs {
  float lr, beta1, beta2, eps, weight_decay, grad_scale;
  float inv_bc1, inv_bc2; /* 1 / (1 - beta^step) */
};

__global__ void adamw_kernel(float *params, const float *grads, float *m, float *v,
                             uint16_t *params_bf16, int64_t n, adamw_coeffs k) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const float g = grads[i] * k.grad_scale;
    const float mi = k.beta1 * m[i] + (1.0f - k.beta1) * g;
    const float vi = k.beta2 * v[i] + (1.0f - k.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float mhat = mi * k.inv_bc1, vhat = vi * k.inv_bc2;
    float p = params[i];
    /* Decoupled decay acts on the pre-step weight, as in the paper. */
    p -= k.lr * (mhat / (sqrtf(vhat) + k.eps) + k.weight_decay * p);
    params[i] = p;
    if (params_bf16 != nullptr) params_bf16[i] = kz_f32_to_bf16_bits(p);
  }
}

} // namespace

extern "C" kz_status kz_cuda_adamw(kz_stream *s, float *params, const float *grads, float *m,
                                   float *v, uint16_t *params_bf16, int64_t n,
                                   const kz_adamw_hparams *hp) {
  const char *op = "adamw";
  KZ_TRY(kz_cuda_enter(s, op));
  const int block = kz_stream_knob(s, KZ_KNOB_CUDA_ADAMW_BLOCK);
  KZ_TRY(kz_cuda_check_block(op, "adamw.block", block));
  if (hp == nullptr) return kz_fail(KZ_ERR_INVALID_ARG, "%s: no hyperparameters", op);
  if (hp->step < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: step %lld (steps count from 1)", op,
                   (long long)hp->step);
  if (n < 0) return kz_fail(KZ_ERR_INVALID_ARG, "%s: negative size %lld", op, (long long)n);
  if (n == 0) return KZ_OK;
  const double bc1 = 1.0 - pow((double)hp->beta1, (double)hp->step);
  const double bc2 = 1.0 - pow((double)hp->beta2, (double)hp->step);
  if (!(bc1 > 0.0) || !(bc2 > 0.0))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: beta1 %g / beta2 %g give no bias correction", op,
                   (double)hp->beta1, (double)hp->beta2);
  const adamw_coeffs k = {hp->lr,           hp->beta1,      hp->beta2,          hp->eps,
                          hp->weight_decay, hp->grad_scale, (float)(1.0 / bc1), (float)(1.0 / bc2)};
  adamw_kernel<<<kz_cuda_grid_for(n, block), block, 0, kz_cuda_stream(s)>>>(params, grads, m, v,
                                                                            params_bf16, n, k);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}
