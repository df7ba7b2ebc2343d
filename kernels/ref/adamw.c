/* Reference AdamW step (decoupled weight decay, bias-corrected moments). */
#include <math.h>

#include "kernels/ref/ref_ops.h"

void kz_ref_adamw(double *params, const double *grads, double *m, double *v, double *params_bf16,
                  int64_t n, const kz_adamw_hparams *hp) {
  double lr = hp->lr, b1 = hp->beta1, b2 = hp->beta2, eps = hp->eps;
  double wd = hp->weight_decay, gs = hp->grad_scale;
  double bc1 = 1.0 - pow(b1, (double)hp->step);
  double bc2 = 1.0 - pow(b2, (double)hp->step);
  for (int64_t i = 0; i < n; i++) {
    double g = grads[i] * gs;
    m[i] = b1 * m[i] + (1.0 - b1) * g;
    v[i] = b2 * v[i] + (1.0 - b2) * g * g;
    double mhat = m[i] / bc1;
    double vhat = v[i] / bc2;
    /* Decay uses the weight before this step's update, as in the paper. */
    params[i] -= lr * (mhat / (sqrt(vhat) + eps) + wd * params[i]);
    if (params_bf16) kz_ref_round_bf16(&params[i], &params_bf16[i], 1);
  }
}
