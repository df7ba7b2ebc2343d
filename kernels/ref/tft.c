/* References of the Temporal Fusion Transformer's ops: the LSTM cell fused
 * over its four gates (the GEMMs that make the pre-activations stay GEMMs),
 * the gated linear unit and the quantile (pinball) loss. */
#include <math.h>

#include "kernels/ref/ref_ops.h"

static double sigm(double x) {
  return 1.0 / (1.0 + exp(-x));
}

/* Gate order i, f, g, o in blocks of `hidden` columns, as PyTorch's LSTM. */
void kz_ref_lstm_cell_fwd(const double *gates, const double *c_prev, double *h, double *c,
                          int64_t rows, int64_t hidden) {
  for (int64_t r = 0; r < rows; r++) {
    const double *g = gates + r * 4 * hidden;
    for (int64_t j = 0; j < hidden; j++) {
      double ig = sigm(g[j]), fg = sigm(g[hidden + j]);
      double gg = tanh(g[2 * hidden + j]), og = sigm(g[3 * hidden + j]);
      double cn = fg * c_prev[r * hidden + j] + ig * gg;
      c[r * hidden + j] = cn;
      h[r * hidden + j] = og * tanh(cn);
    }
  }
}

void kz_ref_lstm_cell_bwd(const double *gates, const double *c_prev, const double *c,
                          const double *dh, const double *dc, double *dgates, double *dc_prev,
                          int64_t rows, int64_t hidden, bool accumulate) {
  for (int64_t r = 0; r < rows; r++) {
    const double *g = gates + r * 4 * hidden;
    double *dg = dgates ? dgates + r * 4 * hidden : NULL;
    for (int64_t j = 0; j < hidden; j++) {
      const int64_t k = r * hidden + j;
      double ig = sigm(g[j]), fg = sigm(g[hidden + j]);
      double gg = tanh(g[2 * hidden + j]), og = sigm(g[3 * hidden + j]);
      double tc = tanh(c[k]);
      double dct = (dc ? dc[k] : 0.0) + dh[k] * og * (1.0 - tc * tc);
      double d[4] = {dct * gg * ig * (1.0 - ig), dct * c_prev[k] * fg * (1.0 - fg),
                     dct * ig * (1.0 - gg * gg), dh[k] * tc * og * (1.0 - og)};
      for (int q = 0; q < 4 && dgates; q++)
        dg[q * hidden + j] = (accumulate ? dg[q * hidden + j] : 0.0) + d[q];
      if (dc_prev) dc_prev[k] = (accumulate ? dc_prev[k] : 0.0) + dct * fg;
    }
  }
}

void kz_ref_glu_fwd(const double *x, double *y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < cols; j++)
      y[r * cols + j] = x[r * 2 * cols + j] * sigm(x[r * 2 * cols + cols + j]);
}

void kz_ref_glu_bwd(const double *x, const double *dy, double *dx, int64_t rows, int64_t cols,
                    bool accumulate) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < cols; j++) {
      double a = x[r * 2 * cols + j], sb = sigm(x[r * 2 * cols + cols + j]);
      double g = dy[r * cols + j];
      double *da = dx + r * 2 * cols + j, *db = da + cols;
      *da = (accumulate ? *da : 0.0) + g * sb;
      *db = (accumulate ? *db : 0.0) + g * a * sb * (1.0 - sb);
    }
}

void kz_ref_quantile_loss_fwd(const double *pred, const double *target, const double *quantiles,
                              double *losses, int64_t rows, int64_t nq) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < nq; j++) {
      double e = target[r] - pred[r * nq + j], q = quantiles[j];
      losses[r * nq + j] = isnan(target[r]) ? 0.0 : fmax(q * e, (q - 1.0) * e);
    }
}

/* At e == 0 both branches of the max meet: the mean of their slopes, as
 * torch.maximum splits the gradient of a tie. */
void kz_ref_quantile_loss_bwd(const double *pred, const double *target, const double *quantiles,
                              double *dpred, int64_t rows, int64_t nq, double scale,
                              bool accumulate) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < nq; j++) {
      double e = target[r] - pred[r * nq + j], q = quantiles[j];
      double g = isnan(target[r]) ? 0.0 : e > 0 ? -q : e < 0 ? 1.0 - q : 0.5 - q;
      double *d = dpred + r * nq + j;
      *d = (accumulate ? *d : 0.0) + scale * g;
    }
}
