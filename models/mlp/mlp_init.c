/* Parameter initialisation, deterministic in the seed: every tensor draws
 * from its own splitmix64 stream keyed by (seed, tensor index), so the values
 * do not depend on thread count or on the order tensors are visited. */
#include <math.h>
#include <stdlib.h>

#include "data/shard/rng.h"
#include "kernels/core/error.h"
#include "models/mlp/mlp_internal.h"

/* Box-Muller on two uniforms; (0, 1] for the log keeps it finite. */
static double normal(uint64_t *state) {
  double u1 = 1.0 - kz_rng_unit(state);
  double u2 = kz_rng_unit(state);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void fill_normal(float *p, int64_t n, double std, uint64_t seed, uint64_t tensor) {
  uint64_t state = kz_rng_key(seed, tensor, 0x6d6c70);
  for (int64_t i = 0; i < n; i++) p[i] = (float)(std * normal(&state));
}

kz_status kz_mlp_init_params(kz_nn_model *model, uint64_t seed) {
  kz_mlp *m = (kz_mlp *)model;
  float *p = (float *)m->base.params.data;
  uint64_t tensor = 0;
  /* Embeddings: N(0, 1) as nn.Embedding does; the missing row included. */
  for (int64_t j = 0; j < m->n_cat; j++, tensor++)
    fill_normal(p + m->emb_off[j], ((int64_t)m->cat_card[j] + 1) * m->cat_dim[j], 1.0, seed,
                tensor);
  for (int l = 0; l < m->n_layers; l++, tensor++) {
    double fan_in = (double)m->width[l], fan_out = (double)m->width[l + 1];
    /* He (Kaiming normal, fan_in) suits relu/gelu; Xavier (Glorot normal)
     * keeps forward and backward variance balanced. */
    double std = m->init == KZ_MLP_INIT_HE ? sqrt(2.0 / fan_in) : sqrt(2.0 / (fan_in + fan_out));
    fill_normal(p + m->w_off[l], m->width[l] * m->width[l + 1], std, seed, tensor);
    for (int64_t i = 0; i < m->width[l + 1]; i++) p[m->b_off[l] + i] = 0.0f;
  }
  return KZ_OK;
}
