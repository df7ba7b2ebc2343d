/* References of the MLP's ops: leaky ReLU, dropout, the MSE loss, the
 * standardisation of numeric inputs with missing indicators and the copy of
 * a block of columns (the embeddings into the input matrix and back). */
#include <math.h>

#include "kernels/core/splitmix64.h"
#include "kernels/ref/ref_ops.h"

double kz_ref_leaky_relu(double x, double slope) {
  return x > 0 ? x : slope * x;
}

double kz_ref_leaky_relu_grad(double x, double slope) {
  return x > 0 ? 1.0 : slope;
}

/* Element i uses output i+1 of the splitmix64 stream that starts at key
 * (the state after i+1 golden-ratio steps), so it needs no sequential pass. */
double kz_dropout_unit(uint64_t key, int64_t i) {
  uint64_t st = key + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
  return kz_splitmix64_unit(&st);
}

void kz_ref_dropout_fwd(const double *x, double *y, double *mask, int64_t n, double p,
                        uint64_t key) {
  for (int64_t i = 0; i < n; i++) {
    mask[i] = kz_dropout_unit(key, i) >= p ? 1.0 / (1.0 - p) : 0.0;
    y[i] = x[i] * mask[i];
  }
}

void kz_ref_dropout_bwd(const double *dy, const double *mask, double *dx, int64_t n,
                        bool accumulate) {
  for (int64_t i = 0; i < n; i++) dx[i] = (accumulate ? dx[i] : 0.0) + dy[i] * mask[i];
}

void kz_ref_mse_fwd(const double *pred, const double *target, double *losses, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double d = pred[i] - target[i];
    losses[i] = isnan(target[i]) ? 0.0 : d * d;
  }
}

void kz_ref_mse_bwd(const double *pred, const double *target, double *dpred, int64_t n,
                    double scale, bool accumulate) {
  for (int64_t i = 0; i < n; i++) {
    double g = isnan(target[i]) ? 0.0 : 2.0 * scale * (pred[i] - target[i]);
    dpred[i] = (accumulate ? dpred[i] : 0.0) + g;
  }
}

void kz_ref_standardize(const double *v, const double *mean, const double *std, const int32_t *miss,
                        double *x, int64_t rows, int64_t cols, int64_t x_cols, double inf_z) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t i = 0; i < cols; i++) {
      double a = v[r * cols + i];
      double *row = x + r * x_cols;
      row[i] = isnan(a) ? 0.0 : isinf(a) ? copysign(inf_z, a) : (a - mean[i]) / std[i];
      if (miss[i] >= 0) row[cols + miss[i]] = isnan(a) ? 1.0 : 0.0;
    }
}

void kz_ref_copy_cols(const double *src, int64_t src_ld, double *dst, int64_t dst_ld, int64_t rows,
                      int64_t cols) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[r * dst_ld + c] = src[r * src_ld + c];
}
