/* train.precision for neural models (nn_model.h): the switch and the bf16
 * weight copy's refresh. */
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/nn_model.h"

kz_status kz_nn_set_precision(kz_nn_model *m, const char *precision) {
  kz_nn_model_base *b = kz_nn_base(m);
  const int bf16 = !strcmp(precision, "bf16");
  if (!bf16 && strcmp(precision, "fp32") != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "train.precision: '%s' is not a precision (fp32 or bf16)",
                   precision);
  if (!b->ops->set_precision) {
    if (!bf16) return KZ_OK;
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "train.precision: bf16: model.type %s trains in fp32 only (bf16 is the "
                   "transformer's); use fp32",
                   b->ops->type);
  }
  return b->ops->set_precision(m, bf16);
}

kz_status kz_nn_refresh_bf16(kz_nn_model_base *b, kz_stream *s) {
  if (!b->params_bf16.data) return KZ_OK;
  return kz_op_cast(s, &b->params, &b->params_bf16);
}
