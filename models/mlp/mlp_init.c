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
  /* drawn on the host (one stream per tensor, in order), then copied to a GPU */
  const int on_host = m->base.device.kind == KZ_DEVICE_CPU;
  const int64_t n = m->base.info.n_params;
  float *p = on_host ? (float *)m->base.params.data : malloc((size_t)(n > 0 ? n : 1) * 4);
  if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: init");
  kz_mlp_tensors t;
  kz_status st = kz_mlp_tensors_make(m, p, (kz_device){KZ_DEVICE_CPU, 0}, &t);
  if (st != KZ_OK) {
    if (!on_host) free(p);
    return st;
  }
  uint64_t tensor = 0;
  /* Embeddings: N(0, 1) as nn.Embedding does; the missing row included. */
  for (int64_t j = 0; j < m->tab.n_cat; j++, tensor++)
    fill_normal(t.emb[j].data, kz_tensor_numel(&t.emb[j]), 1.0, seed, tensor);
  for (int l = 0; l < m->n_layers; l++, tensor++) {
    double fan_in = (double)m->width[l], fan_out = (double)m->width[l + 1];
    /* He (Kaiming normal, fan_in) suits relu/gelu; Xavier (Glorot normal)
     * keeps forward and backward variance balanced. */
    double std = m->init == KZ_MLP_INIT_HE ? sqrt(2.0 / fan_in) : sqrt(2.0 / (fan_in + fan_out));
    fill_normal(t.w[l].data, kz_tensor_numel(&t.w[l]), std, seed, tensor);
    float *b = t.b[l].data;
    for (int64_t i = 0; i < kz_tensor_numel(&t.b[l]); i++) b[i] = 0.0f;
  }
  kz_mlp_tensors_free(&t);
  if (on_host) return KZ_OK;
  st = kz_copy_to_device(m->tab.stream, m->base.params.data, p, (size_t)n * 4);
  if (st == KZ_OK) st = kz_stream_sync(m->tab.stream);
  free(p);
  return st;
}
