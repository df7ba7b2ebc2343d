/* The data layer's random numbers, all from kernels/core/splitmix64.h. Shuffles are keyed
 * by (seed, epoch, block) so any rank can recompute any other rank's order
 * without communicating. */
#ifndef KZ_DATA_SHARD_RNG_H
#define KZ_DATA_SHARD_RNG_H

#include <stdint.h>

#include "kernels/core/splitmix64.h"

/* A stream key from several integers, so (seed, epoch, 7) and (seed, epoch+1, 7)
 * give unrelated streams. */
static inline uint64_t kz_rng_key(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t s = a;
  uint64_t k = kz_splitmix64(&s);
  s = k ^ b;
  k = kz_splitmix64(&s);
  s = k ^ c;
  return kz_splitmix64(&s);
}

/* Uniform in [0, n) without modulo bias worth caring about for n < 2^32
 * (Lemire's multiply-shift). */
static inline uint64_t kz_rng_below(uint64_t *state, uint64_t n) {
  return (uint64_t)(((unsigned __int128)kz_splitmix64(state) * n) >> 64);
}

/* Uniform double in [0, 1). */
static inline double kz_rng_unit(uint64_t *state) {
  return kz_splitmix64_unit(state);
}

#endif
