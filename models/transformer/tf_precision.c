/* train.precision for the transformer (nn_model.h's set_precision): bf16
 * keeps a bf16 copy of the parameter block that the step's matmuls read
 * (tf_step.c); the f32 block stays the master copy. */
#include "kernels/core/error.h"
#include "models/transformer/tf_internal.h"

kz_status kz_tf_set_precision(kz_nn_model *model, int bf16) {
  kz_tf *m = (kz_tf *)model;
  kz_nn_model_base *b = &m->base;
  if (!bf16) {
    kz_tensor_free(&b->params_bf16);
    return KZ_OK;
  }
  if (!b->params_bf16.data) {
    int64_t n = b->info.n_params;
    KZ_TRY(kz_tensor_alloc(b->device, KZ_BF16, 1, &n, &b->params_bf16));
  }
  KZ_TRY(kz_nn_refresh_bf16(b, m->stream));
  return kz_stream_sync(m->stream);
}
