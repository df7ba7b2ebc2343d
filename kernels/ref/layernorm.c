/* Reference layer normalisation over the last dimension (biased variance). */
#include <math.h>

#include "kernels/ref/ref_ops.h"

void kz_ref_layernorm_fwd(const double *x, const double *gamma, const double *beta, double *y,
                          double *mean, double *rstd, int64_t rows, int64_t cols, double eps) {
  for (int64_t r = 0; r < rows; r++) {
    const double *xr = x + r * cols;
    double mu = 0.0;
    for (int64_t c = 0; c < cols; c++) mu += xr[c];
    mu /= (double)cols;
    /* Two passes: the one-pass E[x^2] - mu^2 cancels badly for large means. */
    double var = 0.0;
    for (int64_t c = 0; c < cols; c++) var += (xr[c] - mu) * (xr[c] - mu);
    var /= (double)cols;
    double rs = 1.0 / sqrt(var + eps);
    for (int64_t c = 0; c < cols; c++) y[r * cols + c] = (xr[c] - mu) * rs * gamma[c] + beta[c];
    if (mean) mean[r] = mu;
    if (rstd) rstd[r] = rs;
  }
}

/* With xhat = (x - mean) * rstd and g = dy * gamma, the exact derivative is
 *   dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)),
 * since mean and rstd themselves depend on every x of the row. */
void kz_ref_layernorm_bwd(const double *dy, const double *x, const double *gamma,
                          const double *mean, const double *rstd, double *dx, double *dgamma,
                          double *dbeta, int64_t rows, int64_t cols, bool accumulate) {
  /* NULL outputs are not wanted (frozen gamma/beta, an input without grad). */
  if (!accumulate) {
    for (int64_t c = 0; c < cols; c++) {
      if (dgamma) dgamma[c] = 0.0;
      if (dbeta) dbeta[c] = 0.0;
    }
  }
  for (int64_t r = 0; r < rows; r++) {
    const double *xr = x + r * cols;
    const double *dyr = dy + r * cols;
    double mu = mean[r], rs = rstd[r];
    double mean_g = 0.0, mean_gx = 0.0;
    for (int64_t c = 0; c < cols; c++) {
      double xhat = (xr[c] - mu) * rs;
      double g = dyr[c] * gamma[c];
      mean_g += g;
      mean_gx += g * xhat;
      if (dgamma) dgamma[c] += dyr[c] * xhat;
      if (dbeta) dbeta[c] += dyr[c];
    }
    if (!dx) continue;
    mean_g /= (double)cols;
    mean_gx /= (double)cols;
    for (int64_t c = 0; c < cols; c++) {
      double xhat = (xr[c] - mu) * rs;
      double d = rs * (dyr[c] * gamma[c] - mean_g - xhat * mean_gx);
      dx[r * cols + c] = accumulate ? dx[r * cols + c] + d : d;
    }
  }
}
