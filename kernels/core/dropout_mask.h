/* The dropout mask as an integer test, shared by the fused kernels that
 * redraw it (residual_layernorm on the CPU and on CUDA).
 *
 * kz_dropout_unit(key, i) >= p (ref/mlp.c, the definition) compares
 * u * 2^-53 with p, where u is the top 53 bits of the i-th splitmix64 output.
 * u * 2^-53 is exact and so is p * 2^53, hence the test is exactly
 * u >= ceil(p * 2^53): the same mask bit for bit, without a double per
 * element. */
#ifndef KZ_CORE_DROPOUT_MASK_H
#define KZ_CORE_DROPOUT_MASK_H

#include <math.h>
#include <stdint.h>

#include "kernels/core/splitmix64.h"

/* The smallest kept u for drop probability p in [0, 1). */
static inline uint64_t kz_dropout_threshold(double p) {
  return (uint64_t)ceil(p * 9007199254740992.0);
}

/* Element i of the mask of key is kept (scaled by 1/(1-p)) when this is true. */
KZ_SPLITMIX_FN int kz_dropout_keep(uint64_t key, int64_t i, uint64_t threshold) {
  return (kz_splitmix64_mix(key + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL) >> 11) >= threshold;
}

#endif
