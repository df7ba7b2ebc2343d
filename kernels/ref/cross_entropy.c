/* Reference softmax cross-entropy with an ignore index. */
#include <math.h>

#include "kernels/ref/ref_ops.h"

/* Shifted by the row maximum so exp never overflows. */
static double row_logsumexp(const double *z, int64_t classes) {
  double mx = -INFINITY;
  for (int64_t c = 0; c < classes; c++)
    if (z[c] > mx) mx = z[c];
  double sum = 0.0;
  for (int64_t c = 0; c < classes; c++) sum += exp(z[c] - mx);
  return mx + log(sum);
}

bool kz_ref_cross_entropy_fwd(const double *logits, const int32_t *targets, double *losses,
                              int64_t rows, int64_t classes, int32_t ignore_index) {
  for (int64_t r = 0; r < rows; r++) {
    int32_t t = targets[r];
    if (t == ignore_index) {
      losses[r] = 0.0;
      continue;
    }
    if (t < 0 || t >= classes) return false;
    const double *z = logits + r * classes;
    losses[r] = row_logsumexp(z, classes) - z[t];
  }
  return true;
}

/* An out-of-range target (already refused by the forward pass) contributes
 * no one-hot term instead of writing outside the row. */
void kz_ref_cross_entropy_bwd(const double *logits, const int32_t *targets, const double *dloss,
                              double *dlogits, int64_t rows, int64_t classes, int32_t ignore_index,
                              bool accumulate) {
  for (int64_t r = 0; r < rows; r++) {
    const double *z = logits + r * classes;
    double *dz = dlogits + r * classes;
    int32_t t = targets[r];
    bool ignored = t == ignore_index;
    double lse = ignored ? 0.0 : row_logsumexp(z, classes);
    for (int64_t c = 0; c < classes; c++) {
      double d = 0.0;
      if (!ignored) d = dloss[r] * (exp(z[c] - lse) - (c == t ? 1.0 : 0.0));
      dz[c] = accumulate ? dz[c] + d : d;
    }
  }
}
