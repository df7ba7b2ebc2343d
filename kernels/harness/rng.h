/* Deterministic random numbers for the harness: splitmix64, which is small,
 * seeds well from any 64-bit value and is plenty for test inputs. The stream
 * depends only on the seed, so a printed seed reproduces a case exactly. */
#ifndef KZ_HARNESS_RNG_H
#define KZ_HARNESS_RNG_H

#include <math.h>
#include <stdint.h>

#include "kernels/core/splitmix64.h"

typedef struct kz_rng {
  uint64_t state;
} kz_rng;

static inline uint64_t kz_rng_next(kz_rng *r) {
  return kz_splitmix64(&r->state);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double kz_rng_uniform(kz_rng *r) {
  return kz_splitmix64_unit(&r->state);
}

/* Standard normal by Box-Muller; 1 - u keeps the logarithm finite. */
static inline double kz_rng_normal(kz_rng *r) {
  double u = 1.0 - kz_rng_uniform(r), v = kz_rng_uniform(r);
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Integer in [lo, hi). */
static inline int64_t kz_rng_int(kz_rng *r, int64_t lo, int64_t hi) {
  return hi <= lo ? lo : lo + (int64_t)(kz_rng_next(r) % (uint64_t)(hi - lo));
}

#endif
