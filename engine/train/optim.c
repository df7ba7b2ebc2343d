/* Optimizers and gradient helpers (optim.h). */
#include "engine/train/optim.h"

#include <math.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/ops.h"

kz_status kz_optim_init(kz_optim *o, const kz_optim_config *c, kz_device device, int64_t n) {
  memset(o, 0, sizeof *o);
  o->c = *c;
  o->device = device;
  o->n = n;
  o->n_state = c->kind == KZ_OPTIM_ADAMW ? 2 : 1;
  if (c->kind == KZ_OPTIM_SGD && device.kind != KZ_DEVICE_CPU)
    return kz_fail(KZ_ERR_UNSUPPORTED, "train.optimizer: sgd runs on the CPU only for now; use "
                                       "adamw on a GPU");
  KZ_TRY(kz_tensor_alloc(device, KZ_F32, 1, &n, &o->m));
  if (o->n_state == 2) KZ_TRY(kz_tensor_alloc(device, KZ_F32, 1, &n, &o->v));
  return KZ_OK;
}

void kz_optim_free(kz_optim *o) {
  if (o->m.data) kz_tensor_free(&o->m);
  if (o->v.data) kz_tensor_free(&o->v);
  memset(o, 0, sizeof *o);
}

kz_status kz_optim_reset(kz_optim *o, kz_stream *s) {
  o->t = 0;
  KZ_TRY(kz_fill_bytes(s, o->m.data, 0, (size_t)o->n * 4));
  if (o->n_state == 2) KZ_TRY(kz_fill_bytes(s, o->v.data, 0, (size_t)o->n * 4));
  return KZ_OK;
}

/* PyTorch's SGD (dampening 0): g += wd * p; buf = mu * buf + g; p -= lr * buf
 * (the first step sets buf = g, which the zeroed buffer gives with mu * 0). */
static void sgd_cpu(float *restrict p, const float *restrict g, float *restrict buf, int64_t n,
                    float lr, float mu, float wd, float gs) {
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i] * gs + wd * p[i];
    float b = buf[i] = mu * buf[i] + gi;
    p[i] -= lr * b;
  }
}

kz_status kz_optim_step(kz_optim *o, kz_stream *s, kz_tensor *params, const kz_tensor *grads,
                        double lr, double grad_scale) {
  o->t += 1;
  if (o->c.kind == KZ_OPTIM_SGD) {
    sgd_cpu((float *)params->data, (const float *)grads->data, (float *)o->m.data, o->n, (float)lr,
            (float)o->c.momentum, (float)o->c.weight_decay, (float)grad_scale);
    return KZ_OK;
  }
  kz_adamw_hparams hp = {.lr = (float)lr,
                         .beta1 = (float)o->c.beta1,
                         .beta2 = (float)o->c.beta2,
                         .eps = (float)o->c.eps,
                         .weight_decay = (float)o->c.weight_decay,
                         .grad_scale = (float)grad_scale,
                         .step = o->t};
  return kz_op_adamw(s, params, grads, &o->m, &o->v, NULL, &hp);
}

kz_status kz_grad_global_norm(kz_stream *s, const kz_tensor *grads, float *host_scratch,
                              double *norm) {
  int64_t n = kz_tensor_numel(grads);
  const float *g = (const float *)grads->data;
  if (grads->device.kind != KZ_DEVICE_CPU) {
    KZ_TRY(kz_copy_to_host(s, host_scratch, grads->data, (size_t)n * 4));
    KZ_TRY(kz_stream_sync(s));
    g = host_scratch;
  }
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += (double)g[i] * (double)g[i];
  *norm = sqrt(sum);
  return KZ_OK;
}

double kz_clip_scale(double norm, double clip_norm) {
  if (clip_norm <= 0.0 || !(norm > clip_norm)) return 1.0;
  return clip_norm / norm;
}

kz_status kz_grad_poison(kz_stream *s, kz_tensor *grads) {
  float nan = NAN;
  if (grads->device.kind == KZ_DEVICE_CPU) {
    ((float *)grads->data)[0] = nan;
    return KZ_OK;
  }
  return kz_copy_to_device(s, grads->data, &nan, sizeof nan);
}
