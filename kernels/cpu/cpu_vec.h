/* Row helpers shared by the CPU row-wise kernels (norm, softmax, cross entropy).
 *
 * The build compiles in strict ISO C without -ffast-math, so the compiler may
 * neither reassociate a float reduction nor call a vector exp. These helpers
 * therefore keep KZ_CPU_LANES independent partial results (a lane-wise loop
 * the vectoriser maps onto SIMD registers; it also shortens the rounding
 * chains) and use a polynomial exp made of plain arithmetic. */
#ifndef KZ_CPU_VEC_H
#define KZ_CPU_VEC_H

#include <stdint.h>
#include <string.h>

#define KZ_CPU_LANES 16

/* Pairwise fold of the lane partials into one value. */
static inline float kz_cpu_fold_sum(float *acc) {
  for (int w = KZ_CPU_LANES / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

static inline float kz_cpu_sum(const float *x, int64_t n) {
  float acc[KZ_CPU_LANES] = {0};
  int64_t i = 0;
  for (; i + KZ_CPU_LANES <= n; i += KZ_CPU_LANES)
    for (int l = 0; l < KZ_CPU_LANES; ++l) acc[l] += x[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += x[i];
  return kz_cpu_fold_sum(acc);
}

static inline float kz_cpu_dot(const float *x, const float *y, int64_t n) {
  float acc[KZ_CPU_LANES] = {0};
  int64_t i = 0;
  for (; i + KZ_CPU_LANES <= n; i += KZ_CPU_LANES)
    for (int l = 0; l < KZ_CPU_LANES; ++l) acc[l] += x[i + l] * y[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += x[i] * y[i];
  return kz_cpu_fold_sum(acc);
}

/* Maximum of scale * x[0..n), n >= 1. */
static inline float kz_cpu_max_scaled(const float *x, int64_t n, float scale) {
  float acc[KZ_CPU_LANES];
  for (int l = 0; l < KZ_CPU_LANES; ++l) acc[l] = scale * x[0];
  int64_t i = 0;
  for (; i + KZ_CPU_LANES <= n; i += KZ_CPU_LANES)
    for (int l = 0; l < KZ_CPU_LANES; ++l) {
      const float v = scale * x[i + l];
      acc[l] = v > acc[l] ? v : acc[l];
    }
  for (int l = 0; i < n; ++i, ++l) {
    const float v = scale * x[i];
    acc[l] = v > acc[l] ? v : acc[l];
  }
  float m = acc[0];
  for (int l = 1; l < KZ_CPU_LANES; ++l) m = acc[l] > m ? acc[l] : m;
  return m;
}

/* exp(x) for x <= 0 (the argument after subtracting a row maximum), to about
 * one float ulp: 2^k * p(r) with r = x - k ln2 in [-ln2/2, ln2/2] and p the
 * degree-7 Taylor polynomial (truncation error below 6e-9). Results at or
 * below -87 flush to 0; NaN stays NaN (without an undefined NaN-to-int conversion). The range test
 * works on the bits with integer masks: a float comparison may trap under the default
 * -ftrapping-math, and the compiler then refuses to vectorise the select. */
static inline float kz_cpu_exp_nonpos(float x) {
  uint32_t ux;
  memcpy(&ux, &x, sizeof ux);
  /* -87 (0xc2ae0000) down to -inf (0xff800000); negative NaNs lie above. */
  const uint32_t under = (uint32_t)(ux >= 0xc2ae0000u) & (uint32_t)(ux <= 0xff800000u);
  const uint32_t keep = under - 1u; /* all ones unless under */
  /* A NaN (of either sign) goes through the arithmetic as 0, whose
   * conversion to int below is defined (NaN's is not), and is put back as
   * NaN at the end. */
  const uint32_t is_nan = 0u - (uint32_t)((ux & 0x7fffffffu) > 0x7f800000u);
  const uint32_t uc = ((ux & keep) | (0xc2ae0000u & ~keep)) & ~is_nan;
  float xc; /* x clamped to -87, which keeps 2^k a normal float */
  memcpy(&xc, &uc, sizeof xc);
  const float t = xc * 1.44269504088896341f;
  const int32_t k = (int32_t)(t - 0.5f); /* round to nearest for t <= 0 */
  const float kf = (float)k;
  /* ln 2 split so that kf * hi is exact. */
  const float r = (xc - kf * 0.693145751953125f) - kf * 1.428606765330187e-06f;
  float p = 1.0f / 5040.0f + r * (1.0f / 40320.0f);
  p = 1.0f / 720.0f + r * p;
  p = 1.0f / 120.0f + r * p;
  p = 1.0f / 24.0f + r * p;
  p = 1.0f / 6.0f + r * p;
  p = 0.5f + r * p;
  p = 1.0f + r * p;
  p = 1.0f + r * p;
  const uint32_t bits = ((uint32_t)(k + 127) << 23) & keep; /* 2^k, or 0 when under */
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  const float y = p * scale;
  uint32_t uy;
  memcpy(&uy, &y, sizeof uy);
  uy |= is_nan & 0x7fc00000u; /* a quiet NaN whatever y's bits were */
  float out;
  memcpy(&out, &uy, sizeof out);
  return out;
}

static inline int64_t kz_cpu_grain(int knob) {
  return knob > 0 ? knob : 1;
}

#endif
