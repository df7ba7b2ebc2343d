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
                        const kz_param_range *r, int nr, double lr, double grad_scale) {
  const kz_param_range whole = {0, kz_tensor_numel(params)};
  if (!r) r = &whole, nr = 1;
  o->t += 1;
  kz_adamw_hparams hp = {.lr = (float)lr,
                         .beta1 = (float)o->c.beta1,
                         .beta2 = (float)o->c.beta2,
                         .eps = (float)o->c.eps,
                         .weight_decay = (float)o->c.weight_decay,
                         .grad_scale = (float)grad_scale,
                         .step = o->t};
  int64_t at = 0; /* offset in the packed state */
  for (int i = 0; i < nr; ++i) {
    const int64_t off = r[i].offset, c = r[i].count;
    if (at > o->n - c)
      return kz_fail(KZ_ERR_INTERNAL, "optimizer: the ranges hold more than its %lld floats",
                     (long long)o->n);
    float *p = (float *)params->data + off, *m = (float *)o->m.data + at;
    const float *g = (const float *)grads->data + off;
    kz_tensor tb = {0};
    if (o->params_bf16.data)
      tb = kz_tensor_view((uint16_t *)o->params_bf16.data + off, KZ_BF16, o->params_bf16.device, 1,
                          c);
    if (o->c.kind == KZ_OPTIM_SGD) {
      sgd_cpu(p, g, m, c, (float)lr, (float)o->c.momentum, (float)o->c.weight_decay,
              (float)grad_scale);
      if (tb.data) {
        kz_tensor tp = kz_tensor_view(p, KZ_F32, params->device, 1, c);
        KZ_TRY(kz_op_cast(s, &tp, &tb));
      }
    } else {
      /* each element's update depends on its own p, g, m, v only, so a
       * range at a time is bitwise the whole-block update */
      kz_tensor tp = kz_tensor_view(p, KZ_F32, params->device, 1, c);
      kz_tensor tg = kz_tensor_view((void *)g, KZ_F32, grads->device, 1, c);
      kz_tensor tm = kz_tensor_view(m, KZ_F32, o->m.device, 1, c);
      kz_tensor tv = kz_tensor_view((float *)o->v.data + at, KZ_F32, o->v.device, 1, c);
      KZ_TRY(kz_op_adamw(s, &tp, &tg, &tm, &tv, tb.data ? &tb : NULL, &hp));
    }
    at += c;
  }
  return KZ_OK;
}

kz_status kz_grad_global_norm(kz_stream *s, const kz_tensor *grads, const kz_param_range *r, int nr,
                              float *host_scratch, double *norm) {
  const kz_param_range whole = {0, kz_tensor_numel(grads)};
  if (!r) r = &whole, nr = 1;
  double sum = 0.0;
  for (int i = 0; i < nr; ++i) {
    const float *g = (const float *)grads->data + r[i].offset;
    const int64_t n = r[i].count;
    if (grads->device.kind != KZ_DEVICE_CPU) {
      KZ_TRY(kz_copy_to_host(s, host_scratch, g, (size_t)n * 4));
      KZ_TRY(kz_stream_sync(s));
      g = host_scratch;
    }
    for (int64_t j = 0; j < n; ++j) sum += (double)g[j] * (double)g[j];
  }
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
