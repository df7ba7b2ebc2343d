/* Small shared helpers of the CPU booster: a deterministic RNG (splitmix64,
 * so a seed gives the same model on every machine) and the thread count. */
#ifndef KZ_MODELS_GBDT_RNG_H
#define KZ_MODELS_GBDT_RNG_H

#include <omp.h>
#include <stdint.h>

#include "kernels/core/splitmix64.h"

typedef struct kz_gbdt_rng {
  uint64_t s;
} kz_gbdt_rng;

static inline void kz_gbdt_rng_seed(kz_gbdt_rng *r, uint64_t seed) {
  r->s = seed;
}

static inline uint64_t kz_gbdt_rng_next(kz_gbdt_rng *r) {
  return kz_splitmix64(&r->s);
}

/* Uniform in [0, 1). */
static inline double kz_gbdt_rng_uniform(kz_gbdt_rng *r) {
  return kz_splitmix64_unit(&r->s);
}

/* Row loops shorter than this run on one thread: waking a team costs more
 * than it saves, and on a busy machine spinning threads stall each other. */
#define KZ_GBDT_PARALLEL_MIN_ROWS 8192

/* 0 (or less) means every core OpenMP would use. */
static inline int kz_gbdt_threads(int requested) {
  return requested > 0 ? requested : omp_get_max_threads();
}

#endif
