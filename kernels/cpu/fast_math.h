/* Vectorisable erf-form GELU and its derivative for the CPU kernels.
 *
 * glibc's erfcf is a scalar call (about 10 ns per element), so the erf GELU
 * used to run at a few percent of memory bandwidth. Here the normal CDF
 * Phi(x) = 0.5 erfc(-x / sqrt2) is built from plain arithmetic that GCC maps
 * onto SIMD lanes under `omp simd`:
 *
 *   |x| < 1:   Phi(x) = 0.5 + x P(x^2)                   (P: degree 5)
 *   |x| >= 1:  q = Phi(-|x|) = exp(-x^2/2) u R(u),  u = 4 / (4 + |x|)
 *                                                        (R: degree 7)
 *              Phi(x) = q for x < 0, 1 - q for x > 0.
 *
 * Both polynomials (regenerate with tools/fit_gelu_erf.py --emit) are
 * weighted least-squares fits of relative error (made
 * for this file by iterated reweighting, which approaches minimax): P fits
 * erf(x/sqrt2) / (2x) on [0, 1] to 7e-10, and R fits Phi(-t) exp(t^2/2) / u
 * on t in [1, 14] to 2e-8. The substitution u = 4/(4+t) maps the tail onto a
 * bounded interval where a short polynomial with small coefficients suffices
 * (no cancellation in Horner's scheme); it costs one division. The tail is
 * written with exp(-x^2/2) as a factor so the derivative Phi + x phi reuses
 * the same exponential, and for x < -1 its rounding error scales the whole
 * (small) result instead of being added to it.
 *
 * Error against the double formula over [-12, 12], checked by
 * tests/test_fast_math.c: within 2e-7 |value| + 1e-7 for both functions.
 * The code uses no fma and the build does not contract (ISO C mode), so
 * every SIMD width gives bitwise the same result as the scalar loop.
 *
 * Branches are expressed as integer-mask selects: under the default
 * -ftrapping-math GCC will not if-convert a float comparison, and a select
 * built from a comparison on the bit pattern vectorises. */
#ifndef KZ_CPU_FAST_MATH_H
#define KZ_CPU_FAST_MATH_H

#include <stdint.h>
#include <string.h>

#include "kernels/cpu/cpu_vec.h"

/* Function multiversioning for the elementwise loops: the library is built
 * for baseline x86-64 (SSE2), and the resolver picks the widest clone the
 * running CPU supports, so the binary still runs everywhere. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define KZ_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef KZ_CPU_CLONES
#define KZ_CPU_CLONES
#endif

#define KZ_FM_INV_SQRT_2PI 0.398942280401432678f

static inline uint32_t kz_fm_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static inline float kz_fm_float(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* mask is all ones or all zeros: picks a where set, b elsewhere. */
static inline float kz_fm_select(uint32_t mask, float a, float b) {
  return kz_fm_float((kz_fm_bits(a) & mask) | (kz_fm_bits(b) & ~mask));
}

/* Phi(x), the standard normal CDF; *gauss receives exp(-x^2/2) for the
 * derivative. NaN propagates; exp flushes to 0 beyond |x| ~ 13.2, where Phi
 * is below the smallest normal float. */
static inline float kz_fm_norm_cdf(float x, float *gauss) {
  const uint32_t ux = kz_fm_bits(x);
  const float t = kz_fm_float(ux & 0x7fffffffu);
  const float s = x * x;
  const float e = kz_cpu_exp_nonpos(-0.5f * s);

  /* Centre: odd series in x, so 0.5 + x P(x^2) has no error at x = 0. */
  float p = -7.654436558e-06f;
  p = 1.134870035e-04f + s * p;
  p = -1.186330570e-03f + s * p;
  p = 9.973323904e-03f + s * p;
  p = -6.649035960e-02f + s * p;
  p = 3.989422917e-01f + s * p;
  const float centre = 0.5f + x * p;

  /* Tail: q = Phi(-t) = e u R(u). */
  const float u = 4.0f / (4.0f + t);
  float r = -4.640804231e-02f;
  r = 1.081826985e-01f + u * r;
  r = -2.097230591e-02f + u * r;
  r = 9.129190445e-02f + u * r;
  r = 7.396102697e-02f + u * r;
  r = 9.450864792e-02f + u * r;
  r = 9.966836125e-02f + u * r;
  r = 9.973666072e-02f + u * r;
  const float q = e * (u * r);

  /* Integer masks: negative x (sign bit), and |x| < 1 (bits of 1.0f; NaN's
   * bits lie above every finite value, so NaN takes the tail path). */
  const uint32_t neg = (uint32_t)0 - (ux >> 31);
  const uint32_t small = (uint32_t)0 - (uint32_t)(kz_fm_bits(t) < 0x3f800000u);
  const float tail = kz_fm_select(neg, q, 1.0f - q);
  *gauss = e;
  return kz_fm_select(small, centre, tail);
}

/* GELU, erf form: x Phi(x). */
static inline float kz_fast_gelu_erf(float x) {
  float e;
  return x * kz_fm_norm_cdf(x, &e);
}

/* d/dx [x Phi(x)] = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi). */
static inline float kz_fast_gelu_erf_grad(float x) {
  float e;
  const float cdf = kz_fm_norm_cdf(x, &e);
  return cdf + x * (KZ_FM_INV_SQRT_2PI * e);
}

#endif
