/* Vectorisable sigmoid, tanh and expm1 for the CPU kernels of the TFT's
 * activations (ELU, GLU, the LSTM cell).
 *
 * glibc's expf, expm1f and tanhf are scalar calls (about 3 to 10 ns each),
 * and the LSTM cell alone evaluates five of them per element at every one of
 * the T sequential steps, so they dominated the TFT's training step on the
 * CPU. These functions are plain arithmetic on one exponential of a
 * non-positive argument (kz_cpu_exp_nonpos and kz_cpu_expm1_nonpos below),
 * which GCC maps onto SIMD lanes under `omp simd`; branches are integer-mask
 * selects, as in fast_math.h.
 *
 * Accuracy (tests/test_fast_math.c, against the double formulas): expm1 and
 * tanh within 4 float ulps of the result; sigmoid and 1 - sigmoid likewise,
 * each formed without subtracting from one (so sigmoid of a large negative
 * argument keeps its relative accuracy, unlike 1 - 1/(1 + e)), down to the
 * flush of exp below -87 (results under 2^-125 may be 0). */
#ifndef KZ_CPU_FAST_ACT_H
#define KZ_CPU_FAST_ACT_H

#include <stdint.h>
#include <string.h>

#include "kernels/cpu/cpu_vec.h"

static inline uint32_t kz_fa_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static inline float kz_fa_float(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* expm1(x) for x <= 0: with x = k ln2 + r (r in [-ln2/2, ln2/2]),
 * expm1(x) = 2^k q(r) + (2^k - 1), q(r) = expm1(r) by its degree-8 Taylor
 * polynomial (truncation below 3e-9 relative). For k = 0 that is q(r)
 * itself, so small arguments keep their relative accuracy; for k <= -1 the
 * result lies below -0.29 and 2^k - 1 is exact. At or below -87 the result
 * is -1; NaN stays NaN. */
static inline float kz_cpu_expm1_nonpos(float x) {
  const uint32_t ux = kz_fa_bits(x);
  const uint32_t under = (uint32_t)(ux >= 0xc2ae0000u) & (uint32_t)(ux <= 0xff800000u);
  const uint32_t keep = under - 1u;
  const uint32_t is_nan = 0u - (uint32_t)((ux & 0x7fffffffu) > 0x7f800000u);
  const float xc = kz_fa_float(((ux & keep) | (0xc2ae0000u & ~keep)) & ~is_nan);
  const float t = xc * 1.44269504088896341f;
  const int32_t k = (int32_t)(t - 0.5f); /* round to nearest for t <= 0 */
  const float kf = (float)k;
  const float r = (xc - kf * 0.693145751953125f) - kf * 1.428606765330187e-06f;
  float p = 1.0f / 5040.0f + r * (1.0f / 40320.0f);
  p = 1.0f / 720.0f + r * p;
  p = 1.0f / 120.0f + r * p;
  p = 1.0f / 24.0f + r * p;
  p = 1.0f / 6.0f + r * p;
  p = 0.5f + r * p;
  const float q = r + (r * r) * p;
  const float scale = kz_fa_float(((uint32_t)(k + 127) << 23) & keep); /* 2^k, 0 when under */
  const float y = scale * q + (scale - 1.0f);
  return kz_fa_float(kz_fa_bits(y) | (is_nan & 0x7fc00000u));
}

/* All ones where x's sign bit is clear (x >= +0, or a positive NaN). */
static inline uint32_t kz_fa_nonneg(float x) {
  return (kz_fa_bits(x) >> 31) - 1u;
}

static inline float kz_fa_select(uint32_t mask, float a, float b) {
  return kz_fa_float((kz_fa_bits(a) & mask) | (kz_fa_bits(b) & ~mask));
}

static inline float kz_fa_neg_abs(float x) {
  return kz_fa_float(kz_fa_bits(x) | 0x80000000u);
}

/* sigmoid(x) and (om, nullable) 1 - sigmoid(x) = sigmoid(-x), both from
 * e = exp(-|x|): 1/(1 + e) on one side of zero, e/(1 + e) on the other. */
static inline float kz_fast_sigmoid2(float x, float *om) {
  const float e = kz_cpu_exp_nonpos(kz_fa_neg_abs(x));
  const float big = 1.0f / (1.0f + e), small = e * big;
  const uint32_t pos = kz_fa_nonneg(x);
  *om = kz_fa_select(pos, small, big);
  return kz_fa_select(pos, big, small);
}

static inline float kz_fast_sigmoid(float x) {
  float om;
  return kz_fast_sigmoid2(x, &om);
}

/* tanh(x) = sign(x) * -m / (2 + m), m = expm1(-2|x|): no cancellation near
 * zero, exactly +-1 once m rounds to -1. */
static inline float kz_fast_tanh(float x) {
  const float m = kz_cpu_expm1_nonpos(2.0f * kz_fa_neg_abs(x));
  const float t = -m / (2.0f + m);
  return kz_fa_float(kz_fa_bits(t) | (kz_fa_bits(x) & 0x80000000u));
}

#endif
