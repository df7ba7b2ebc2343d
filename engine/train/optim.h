/* Optimizers over the whole parameter block: AdamW (kz_op_adamw, fp32 master
 * weights) and SGD with momentum. The state (m, v or the momentum buffer)
 * lives beside the block with the same layout, so checkpoints save it as one
 * range each. Gradient helpers: the global norm (with the finiteness check the
 * NaN guard uses) and NaN injection for tests. */
#ifndef KZ_ENGINE_TRAIN_OPTIM_H
#define KZ_ENGINE_TRAIN_OPTIM_H

#include <stdint.h>

#include "kaizen.h"
#include "kernels/core/backend.h"
#include "kernels/core/tensor.h"
#include "models/nn_model.h"

typedef enum kz_optim_kind { KZ_OPTIM_ADAMW = 0, KZ_OPTIM_SGD = 1 } kz_optim_kind;

typedef struct kz_optim_config {
  kz_optim_kind kind;
  double beta1, beta2, eps; /* adamw */
  double momentum;          /* sgd */
  double weight_decay;      /* decoupled (adamw) or L2 added to the gradient (sgd) */
} kz_optim_config;

typedef struct kz_optim {
  kz_optim_config c;
  kz_device device;
  int64_t n;
  int n_state;    /* 2 (adamw: m, v) or 1 (sgd: momentum) */
  kz_tensor m, v; /* on the device; v unused for sgd */
  int64_t t;      /* updates applied (AdamW bias correction) */
  /* train.precision bf16: the model's bf16 copy of the whole parameter
   * block (kz_nn_model_base.params_bf16), rewritten with every update of
   * the ranges stepped; data NULL: none */
  kz_tensor params_bf16;
} kz_optim;

kz_status kz_optim_init(kz_optim *o, const kz_optim_config *c, kz_device device, int64_t n);
void kz_optim_free(kz_optim *o);
/* Zeroes the state and t. */
kz_status kz_optim_reset(kz_optim *o, kz_stream *s);
/* One update: params -= lr * f(grads * grad_scale, state), on the nr
 * ranges r of the blocks only (the trainable ranges; r NULL: the whole
 * block). The state is packed: range after range, o->n floats in all.
 * o->params_bf16, when set, gets the updated ranges rounded to bf16 (AdamW
 * writes them in its pass; SGD casts after its update). */
kz_status kz_optim_step(kz_optim *o, kz_stream *s, kz_tensor *params, const kz_tensor *grads,
                        const kz_param_range *r, int nr, double lr, double grad_scale);

/* sqrt(sum g^2) over the nr ranges r (r NULL: the whole block) in double,
 * in index order (deterministic); NaN or Inf when any of those gradients is
 * not finite. host_scratch: n floats, used when the gradients are on a GPU. */
kz_status kz_grad_global_norm(kz_stream *s, const kz_tensor *grads, const kz_param_range *r, int nr,
                              float *host_scratch, double *norm);
/* The scale that brings the norm down to clip_norm (1 when off or below). */
double kz_clip_scale(double norm, double clip_norm);
/* Writes NaN into the first gradient (testing aid for the NaN guard). */
kz_status kz_grad_poison(kz_stream *s, kz_tensor *grads);

#endif
