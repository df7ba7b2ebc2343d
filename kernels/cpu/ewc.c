/* The EWC penalty gradient on the CPU: one streaming pass over four arrays. */
#include "kernels/cpu/cpu_ops.h"

kz_status kz_cpu_ewc_grad(kz_stream *s, const float *params, const float *anchor,
                          const float *fisher, float *grads, int64_t n, float lambda) {
  int64_t grain = kz_stream_knob(s, KZ_KNOB_CPU_ELEMENTWISE_GRAIN);
  if (grain < 1) grain = 1;
#pragma omp parallel for simd schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) grads[i] += lambda * fisher[i] * (params[i] - anchor[i]);
  return KZ_OK;
}
