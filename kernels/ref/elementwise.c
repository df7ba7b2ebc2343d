/* Reference elementwise ops: bias add, residual add, GELU and ELU with their
 * exact derivatives, and bf16 rounding. */
#include <math.h>
#include <string.h>

#include "kernels/ref/ref_ops.h"

/* sqrt(2 / pi) and the cubic coefficient of the tanh approximation. */
#define KZ_REF_GELU_K 0.7978845608028654
#define KZ_REF_GELU_A 0.044715
/* 1 / sqrt(2) and 1 / sqrt(2 pi), for the erf form and the normal pdf. */
#define KZ_REF_INV_SQRT2 0.7071067811865476
#define KZ_REF_INV_SQRT_2PI 0.3989422804014327

void kz_ref_bias_add_fwd(const double *x, const double *bias, double *y, int64_t rows,
                         int64_t cols) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) y[r * cols + c] = x[r * cols + c] + bias[c];
}

void kz_ref_bias_add_bwd(const double *dy, double *dbias, int64_t rows, int64_t cols,
                         bool accumulate) {
  for (int64_t c = 0; c < cols; c++) {
    double sum = 0.0;
    for (int64_t r = 0; r < rows; r++) sum += dy[r * cols + c];
    dbias[c] = accumulate ? dbias[c] + sum : sum;
  }
}

void kz_ref_add(const double *a, const double *b, double *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

double kz_ref_gelu(double x, kz_gelu_approx approx) {
  if (approx == KZ_GELU_TANH) {
    double u = KZ_REF_GELU_K * (x + KZ_REF_GELU_A * x * x * x);
    return 0.5 * x * (1.0 + tanh(u));
  }
  return 0.5 * x * (1.0 + erf(x * KZ_REF_INV_SQRT2));
}

double kz_ref_gelu_grad(double x, kz_gelu_approx approx) {
  if (approx == KZ_GELU_TANH) {
    double u = KZ_REF_GELU_K * (x + KZ_REF_GELU_A * x * x * x);
    double t = tanh(u);
    double du = KZ_REF_GELU_K * (1.0 + 3.0 * KZ_REF_GELU_A * x * x);
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du;
  }
  /* d/dx [x Phi(x)] = Phi(x) + x phi(x). */
  double cdf = 0.5 * (1.0 + erf(x * KZ_REF_INV_SQRT2));
  double pdf = KZ_REF_INV_SQRT_2PI * exp(-0.5 * x * x);
  return cdf + x * pdf;
}

void kz_ref_gelu_fwd(const double *x, double *y, int64_t n, kz_gelu_approx approx) {
  for (int64_t i = 0; i < n; i++) y[i] = kz_ref_gelu(x[i], approx);
}

void kz_ref_gelu_bwd(const double *x, const double *dy, double *dx, int64_t n,
                     kz_gelu_approx approx, bool accumulate) {
  for (int64_t i = 0; i < n; i++) {
    double g = dy[i] * kz_ref_gelu_grad(x[i], approx);
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

/* ELU (Clevert et al. 2016). expm1 keeps the relative accuracy of the small
 * negative outputs that exp(x) - 1 would cancel away. */
double kz_ref_elu(double x, double alpha) {
  return x > 0 ? x : alpha * expm1(x);
}

double kz_ref_elu_grad(double x, double alpha) {
  return x > 0 ? 1.0 : alpha * exp(x);
}

/* tanh(scale x): the transformer pooler's activation (scale 1). */
double kz_ref_tanh(double x, double scale) {
  return tanh(scale * x);
}

double kz_ref_tanh_grad(double x, double scale) {
  double t = tanh(scale * x);
  return scale * (1.0 - t * t);
}

/* Goes through float first because that is what every backend holds before
 * it narrows to bf16; rounding double straight to bf16 could differ from
 * float-then-bf16 (double rounding) and make the oracle disagree with them. */
static double round_one_bf16(double value) {
  float f = (float)value;
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    bits = (bits | 0x00400000u) & 0xffff0000u; /* quiet NaN, sign and payload top kept */
  } else {
    uint32_t lsb = (bits >> 16) & 1u;
    bits = (bits + 0x7fffu + lsb) & 0xffff0000u; /* ties go to the even neighbour */
  }
  memcpy(&f, &bits, sizeof f);
  return (double)f;
}

void kz_ref_round_bf16(const double *x, double *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = round_one_bf16(x[i]);
}
