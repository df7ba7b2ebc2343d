/* Reference GEMM: the textbook triple loop per batch entry, accumulated in
 * double so that its own rounding error is far below any backend's. */
#include "kernels/ref/ref_ops.h"

/* Element (i, p) of op(A), honouring the transpose flag and row stride. */
static double op_at(const double *x, bool trans, int64_t ld, int64_t row, int64_t col) {
  return trans ? x[col * ld + row] : x[row * ld + col];
}

void kz_ref_gemm_run(const kz_ref_gemm *g) {
  for (int64_t b = 0; b < g->batch; b++) {
    const double *a = g->a + b * g->stride_a;
    const double *bm = g->b + b * g->stride_b;
    double *c = g->c + b * g->stride_c;
    for (int64_t i = 0; i < g->m; i++) {
      for (int64_t j = 0; j < g->n; j++) {
        double acc = 0.0;
        for (int64_t p = 0; p < g->k; p++)
          acc += op_at(a, g->trans_a, g->lda, i, p) * op_at(bm, g->trans_b, g->ldb, p, j);
        double *out = &c[i * g->ldc + j];
        /* beta == 0 must not read C: it may hold NaN, and 0 * NaN is NaN. */
        *out = g->beta == 0.0 ? g->alpha * acc : g->alpha * acc + g->beta * *out;
      }
    }
  }
}
