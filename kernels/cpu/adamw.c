/* CPU AdamW step on fp32 master weights, optionally writing a bf16 copy of
 * the updated weights in the same pass (one read of the parameters instead
 * of a separate cast). */
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

static int64_t elementwise_grain(const kz_stream *s) {
  int g = kz_stream_knob(s, KZ_KNOB_CPU_ELEMENTWISE_GRAIN);
  return g < 1 ? 1 : g;
}

/* Same rounding as kz_f32_to_bf16; inline so the update loop vectorises. */
static inline uint16_t f32_to_bf16(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  uint32_t nan = (bits >> 16) | 0x0040u;
  return (uint16_t)((bits & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

kz_status kz_cpu_adamw(kz_stream *s, float *restrict params, const float *restrict grads,
                       float *restrict m, float *restrict v, uint16_t *restrict params_bf16,
                       int64_t n, const kz_adamw_hparams *hp) {
  int64_t grain = elementwise_grain(s);
  const float lr = hp->lr, b1 = hp->beta1, b2 = hp->beta2, eps = hp->eps;
  const float wd = hp->weight_decay, gs = hp->grad_scale;
  /* The bias corrections are per step, not per element: take them in double
   * once, where beta^step for large steps keeps its digits. */
  const float inv_bc1 = (float)(1.0 / (1.0 - pow((double)b1, (double)hp->step)));
  const float inv_bc2 = (float)(1.0 / (1.0 - pow((double)b2, (double)hp->step)));
  /* Two loops rather than a test inside one, so both bodies stay branch-free. */
  if (params_bf16) {
#pragma omp parallel for schedule(static, grain) if (n > grain)
    for (int64_t i = 0; i < n; i++) {
      float g = grads[i] * gs;
      float mi = m[i] = b1 * m[i] + (1.0f - b1) * g;
      float vi = v[i] = b2 * v[i] + (1.0f - b2) * g * g;
      float p = params[i];
      p -= lr * ((mi * inv_bc1) / (sqrtf(vi * inv_bc2) + eps) + wd * p);
      params[i] = p;
      params_bf16[i] = f32_to_bf16(p);
    }
  } else {
#pragma omp parallel for schedule(static, grain) if (n > grain)
    for (int64_t i = 0; i < n; i++) {
      float g = grads[i] * gs;
      float mi = m[i] = b1 * m[i] + (1.0f - b1) * g;
      float vi = v[i] = b2 * v[i] + (1.0f - b2) * g * g;
      float p = params[i];
      params[i] = p - lr * ((mi * inv_bc1) / (sqrtf(vi * inv_bc2) + eps) + wd * p);
    }
  }
  return KZ_OK;
}
