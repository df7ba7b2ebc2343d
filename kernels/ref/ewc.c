/* Reference EWC penalty and its gradient, in double. */
#include "kernels/ref/ref_ops.h"

double kz_ref_ewc_penalty(const double *params, const double *anchor, const double *fisher,
                          int64_t n, double lambda) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = params[i] - anchor[i];
    sum += fisher[i] * d * d;
  }
  return 0.5 * lambda * sum;
}

void kz_ref_ewc_grad(const double *params, const double *anchor, const double *fisher,
                     double *grads, int64_t n, double lambda) {
  for (int64_t i = 0; i < n; ++i) grads[i] += lambda * fisher[i] * (params[i] - anchor[i]);
}
