/* The dropout mask of fused attention, one definition for ref, CPU and CUDA.
 *
 * Element (i, j) of head h of batch row b is kept when a hash of
 * (key, b, h, i, j) is at or above a threshold derived from p; kept
 * probabilities are scaled by 1/(1-p). Nothing is stored: the forward and
 * the backward (and every backend) recompute the same bit from the same
 * five numbers, so the mask never costs T x T memory.
 *
 * The hash is two-level so that the per-element cost stays small in the
 * inner loops: a 64-bit row seed from splitmix64's finaliser over (key, b,
 * h, i), computed once per query row, then a 32-bit finaliser over (row
 * seed, j) per element (32-bit multiplies vectorise on AVX2 and are native
 * on GPUs). The threshold is an integer, so the comparison is exact on every
 * backend; p is resolved to 2^-32. */
#ifndef KZ_CORE_ATTN_DROPOUT_H
#define KZ_CORE_ATTN_DROPOUT_H

#include <stdint.h>

#include "kernels/core/splitmix64.h"

#define KZ_ATTN_GOLDEN64 0x9e3779b97f4a7c15ULL
#define KZ_ATTN_GOLDEN32 0x9e3779b9u

/* The seed of query row i of head h of batch row b. */
KZ_SPLITMIX_FN uint64_t kz_attn_dropout_row(uint64_t key, int64_t b, int64_t h, int64_t i) {
  uint64_t z = kz_splitmix64_mix(key + KZ_ATTN_GOLDEN64 * (uint64_t)(b + 1));
  z = kz_splitmix64_mix(z + KZ_ATTN_GOLDEN64 * (uint64_t)(h + 1));
  return kz_splitmix64_mix(z + KZ_ATTN_GOLDEN64 * (uint64_t)(i + 1));
}

/* 32 uniform bits for key j of a row. */
KZ_SPLITMIX_FN uint32_t kz_attn_dropout_bits(uint64_t row, uint32_t j) {
  uint32_t x = (uint32_t)row + j * KZ_ATTN_GOLDEN32;
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x += (uint32_t)(row >> 32);
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

/* The threshold for drop probability p in [0, 1): an element is kept when
 * its bits are >= the threshold, which happens with probability 1 - p up to
 * 2^-32. */
KZ_SPLITMIX_FN uint32_t kz_attn_dropout_threshold(double p) {
  if (!(p > 0.0)) return 0u;
  double t = p * 4294967296.0;
  return t >= 4294967295.0 ? 4294967295u : (uint32_t)t;
}

/* The factor a kept probability is multiplied by, identical on every backend. */
KZ_SPLITMIX_FN float kz_attn_dropout_scale(double p) {
  return (float)(1.0 / (1.0 - p));
}

#endif
