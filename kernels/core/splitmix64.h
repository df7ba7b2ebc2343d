/* splitmix64, the project's one 64-bit generator. It lives here, in the
 * lowest layer, so that the harness, the data layer's shuffles, model
 * initialisation, the trainer's dropout seeds and the booster all draw from
 * the same definition: a trained model and a shuffled epoch must come out bit
 * for bit the same whichever layer asks for numbers. The stream depends only
 * on the starting state, so a printed seed reproduces a run on any machine. */
#ifndef KZ_CORE_SPLITMIX64_H
#define KZ_CORE_SPLITMIX64_H

#include <stdint.h>

/* The same definition runs in CUDA kernels (dropout masks drawn on the GPU
 * must be the CPU's bit for bit). */
#ifdef __CUDACC__
#define KZ_SPLITMIX_FN static inline __host__ __device__
#else
#define KZ_SPLITMIX_FN static inline
#endif

/* The finaliser alone: spreads every input bit over all 64 output bits (also
 * used to finish hashes). */
KZ_SPLITMIX_FN uint64_t kz_splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Advances *state by the golden-ratio increment and returns the mixed value. */
KZ_SPLITMIX_FN uint64_t kz_splitmix64(uint64_t *state) {
  return kz_splitmix64_mix(*state += 0x9e3779b97f4a7c15ULL);
}

/* Uniform double in [0, 1) from the top 53 bits of the next value. */
KZ_SPLITMIX_FN double kz_splitmix64_unit(uint64_t *state) {
  return (double)(kz_splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
