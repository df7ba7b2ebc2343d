/* CPU bf16 <-> f32 casts. Same rounding as kz_f32_to_bf16 (nearest, ties to
 * even; NaN stays a quiet NaN), written inline and branch-free so the loops
 * vectorise. */
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

static int64_t elementwise_grain(const kz_stream *s) {
  int g = kz_stream_knob(s, KZ_KNOB_CPU_ELEMENTWISE_GRAIN);
  return g < 1 ? 1 : g;
}

static inline uint16_t f32_to_bf16(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  /* Rounding could carry a NaN's payload into the exponent or drop it to
   * zero (an infinity); setting the quiet bit keeps it a NaN. */
  uint32_t nan = (bits >> 16) | 0x0040u;
  return (uint16_t)((bits & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

static inline float bf16_to_f32(uint16_t x) {
  uint32_t bits = (uint32_t)x << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

kz_status kz_cpu_cast_f32_to_bf16(kz_stream *s, const float *x, uint16_t *y, int64_t n) {
  int64_t grain = elementwise_grain(s);
#pragma omp parallel for simd schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) y[i] = f32_to_bf16(x[i]);
  return KZ_OK;
}

kz_status kz_cpu_cast_bf16_to_f32(kz_stream *s, const uint16_t *x, float *y, int64_t n) {
  int64_t grain = elementwise_grain(s);
#pragma omp parallel for simd schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) y[i] = bf16_to_f32(x[i]);
  return KZ_OK;
}
