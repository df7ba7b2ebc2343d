/* Reference of the LoRA op: the low-rank update of a Linear, written as the
 * plain sums it stands for, in double. The backward differentiates
 * y = base + scale (x A^T) B^T directly through u = x A^T. */
#include "kernels/ref/ref_ops.h"

void kz_ref_lora_fwd(const double *x, const double *a, const double *b, double *u, double *y,
                     int64_t rows, int64_t in, int64_t rank, int64_t out, int64_t ldy,
                     double scale) {
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t j = 0; j < rank; j++) {
      double s = 0;
      for (int64_t k = 0; k < in; k++) s += x[r * in + k] * a[j * in + k];
      u[r * rank + j] = s;
    }
    for (int64_t o = 0; o < out; o++) {
      double s = 0;
      for (int64_t j = 0; j < rank; j++) s += u[r * rank + j] * b[o * rank + j];
      y[r * ldy + o] += scale * s;
    }
  }
}

void kz_ref_lora_bwd(const double *x, const double *a, const double *b, const double *u,
                     const double *dy, double *du, double *dx, double *da, double *db, int64_t rows,
                     int64_t in, int64_t rank, int64_t out, int64_t ldy, double scale,
                     bool accumulate) {
  /* du[r, j] = scale sum_o dy[r, o] b[o, j] */
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < rank; j++) {
      double s = 0;
      for (int64_t o = 0; o < out; o++) s += dy[r * ldy + o] * b[o * rank + j];
      du[r * rank + j] = scale * s;
    }
  if (db)
    for (int64_t o = 0; o < out; o++)
      for (int64_t j = 0; j < rank; j++) {
        double s = 0;
        for (int64_t r = 0; r < rows; r++) s += dy[r * ldy + o] * u[r * rank + j];
        db[o * rank + j] = (accumulate ? db[o * rank + j] : 0.0) + scale * s;
      }
  if (da)
    for (int64_t j = 0; j < rank; j++)
      for (int64_t k = 0; k < in; k++) {
        double s = 0;
        for (int64_t r = 0; r < rows; r++) s += du[r * rank + j] * x[r * in + k];
        da[j * in + k] = (accumulate ? da[j * in + k] : 0.0) + s;
      }
  if (dx)
    for (int64_t r = 0; r < rows; r++)
      for (int64_t k = 0; k < in; k++) {
        double s = 0;
        for (int64_t j = 0; j < rank; j++) s += du[r * rank + j] * a[j * in + k];
        dx[r * in + k] = (accumulate ? dx[r * in + k] : 0.0) + s;
      }
}
