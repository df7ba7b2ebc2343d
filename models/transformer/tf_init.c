/* Parameter initialisation as Hugging Face's BertPreTrainedModel does it:
 * Linear and embedding weights N(0, init_std), biases 0, LayerNorm gamma 1
 * and beta 0, the [PAD] row of the word embeddings 0; LoRA A Kaiming-uniform
 * and B 0, as PEFT. Deterministic in the
 * seed: every tensor draws from its own splitmix64 stream keyed by (seed,
 * tensor index), whatever the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/rng.h"
#include "kernels/core/error.h"
#include "models/transformer/tf_internal.h"

/* Box-Muller on two uniforms; (0, 1] for the log keeps it finite. */
static double normal(uint64_t *state) {
  double u1 = 1.0 - kz_rng_unit(state);
  double u2 = kz_rng_unit(state);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

kz_status kz_tf_init_params(kz_nn_model *model, uint64_t seed) {
  kz_tf *m = (kz_tf *)model;
  const int on_host = m->base.device.kind == KZ_DEVICE_CPU;
  const int64_t n = m->base.info.n_params;
  float *p = on_host ? (float *)m->base.params.data : malloc((size_t)(n > 0 ? n : 1) * 4);
  if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: init");
  for (int i = 0; i < m->n_named; i++) {
    const tf_named *t = &m->named[i];
    int64_t numel = t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
    float *x = p + t->offset;
    if (t->lora == 1) {
      /* PEFT's lora_A: kaiming_uniform_(a = sqrt(5)), bound 1 / sqrt(fan_in) */
      uint64_t state = kz_rng_key(seed, (uint64_t)i, 0x6c6f7261ULL);
      const double bound = 1.0 / sqrt((double)t->shape[1]);
      for (int64_t k = 0; k < numel; k++) x[k] = (float)(bound * (2.0 * kz_rng_unit(&state) - 1.0));
    } else if (t->is_matrix) {
      uint64_t state = kz_rng_key(seed, (uint64_t)i, 0x626572ULL);
      for (int64_t k = 0; k < numel; k++) x[k] = (float)(m->init_std * normal(&state));
    } else {
      float v = t->is_ln_gamma ? 1.0f : 0.0f;
      for (int64_t k = 0; k < numel; k++) x[k] = v;
    }
  }
  if (m->sp.pad >= 0 && m->sp.pad < m->vocab)
    memset(p + m->named[0].offset + (int64_t)m->sp.pad * m->hidden, 0,
           (size_t)m->hidden * sizeof(float));
  if (on_host) return KZ_OK;
  kz_status st = kz_copy_to_device(m->stream, m->base.params.data, p, (size_t)n * 4);
  if (st == KZ_OK) st = kz_stream_sync(m->stream);
  free(p);
  return st;
}
