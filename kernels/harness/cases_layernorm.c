/* layernorm cases: with and without saved statistics, 1..4-D inputs whose
 * rows are not a multiple of any block, inputs with a large mean (a one-pass
 * E[x^2] - E[x]^2 variance in f32 loses digits there), and the backward
 * from statistics that match x. */
#include <stdlib.h>

#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

#define LN_EPS 1e-5f

enum { X, GAMMA, BETA, Y, MEAN, RSTD };

static void dims(const kz_arg_spec *x, int64_t *rows, int64_t *cols) {
  *cols = x->shape[x->ndim - 1];
  *rows = *cols ? kz_arg_numel(x) / *cols : 0;
}

static kz_status fwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_layernorm(s, &t[X], &t[GAMMA], &t[BETA], &t[Y], c->p.norm.stats ? &t[MEAN] : NULL,
                         c->p.norm.stats ? &t[RSTD] : NULL, c->p.norm.eps);
}

static void fwd_ref(const kz_op_case *c, kz_host_arg *h) {
  int64_t rows, cols;
  dims(&c->args[X], &rows, &cols);
  double *mean = c->p.norm.stats ? h[MEAN].f : malloc((size_t)rows * sizeof(double));
  double *rstd = c->p.norm.stats ? h[RSTD].f : malloc((size_t)rows * sizeof(double));
  if (mean && rstd)
    kz_ref_layernorm_fwd(h[X].f, h[GAMMA].f, h[BETA].f, h[Y].f, mean, rstd, rows, cols,
                         c->p.norm.eps);
  if (!c->p.norm.stats) {
    free(mean);
    free(rstd);
  }
}

kz_op_case *kz_case_layernorm(kz_op_case_list *l, int ndim, const int64_t *shape, bool stats,
                              double x_mean) {
  int64_t cols = shape[ndim - 1], rows = 1;
  for (int d = 0; d < ndim - 1; ++d) rows *= shape[d];
  kz_op_case *c =
      kz_case_new(l, "layernorm", fwd_invoke, fwd_ref, "layernorm %lldx%lld d%d%s mean%g",
                  (long long)rows, (long long)cols, ndim, stats ? " stats" : "", x_mean);
  kz_arg_normal(kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, ndim, shape), x_mean, 2);
  kz_arg_normal(kz_case_arg(c, "gamma", KZ_F32, KZ_ARG_IN, 1, &cols), 1, 0.5);
  kz_arg_normal(kz_case_arg(c, "beta", KZ_F32, KZ_ARG_IN, 1, &cols), 0, 0.5);
  kz_case_arg(c, "y", KZ_F32, KZ_ARG_OUT, ndim, shape);
  if (stats) {
    kz_case_arg(c, "mean", KZ_F32, KZ_ARG_OUT, 1, &rows);
    kz_case_arg(c, "rstd", KZ_F32, KZ_ARG_OUT, 1, &rows);
  }
  c->p.norm.stats = stats;
  c->p.norm.eps = LN_EPS;
  c->flops = 8.0 * (double)(rows * cols);
  c->bytes = 4.0 * (double)(2 * rows * cols + 2 * cols + (stats ? 2 * rows : 0));
  return c;
}

enum { B_DY, B_X, B_GAMMA, B_MEAN, B_RSTD, B_DX, B_DGAMMA, B_DBETA };

/* The gradient outputs in drop-bit order: dx, dgamma, dbeta. */
static bool wanted(const kz_op_case *c, int arg) {
  return !(c->p.drop & (1u << (arg - B_DX)));
}

static kz_status bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_layernorm_bwd(s, &t[B_DY], &t[B_X], &t[B_GAMMA], &t[B_MEAN], &t[B_RSTD],
                             wanted(c, B_DX) ? &t[B_DX] : NULL,
                             wanted(c, B_DGAMMA) ? &t[B_DGAMMA] : NULL,
                             wanted(c, B_DBETA) ? &t[B_DBETA] : NULL, c->p.accumulate);
}

static void bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  int64_t rows, cols;
  dims(&c->args[B_X], &rows, &cols);
  kz_ref_layernorm_bwd(h[B_DY].f, h[B_X].f, h[B_GAMMA].f, h[B_MEAN].f, h[B_RSTD].f,
                       wanted(c, B_DX) ? h[B_DX].f : NULL,
                       wanted(c, B_DGAMMA) ? h[B_DGAMMA].f : NULL,
                       wanted(c, B_DBETA) ? h[B_DBETA].f : NULL, rows, cols, c->p.accumulate);
}

/* The saved statistics a forward pass would have produced for this x. */
static void bwd_fixup(const kz_op_case *c, kz_host_arg *h) {
  int64_t rows, cols;
  dims(&c->args[B_X], &rows, &cols);
  double *y = malloc((size_t)(rows * cols) * sizeof *y);
  double *beta = calloc((size_t)cols, sizeof *beta);
  if (y && beta)
    kz_ref_layernorm_fwd(h[B_X].f, h[B_GAMMA].f, beta, y, h[B_MEAN].f, h[B_RSTD].f, rows, cols,
                         LN_EPS);
  free(y);
  free(beta);
}

kz_op_case *kz_case_layernorm_bwd(kz_op_case_list *l, int64_t rows, int64_t cols, bool acc) {
  return kz_case_layernorm_bwd_drop(l, rows, cols, acc, 0);
}

kz_op_case *kz_case_layernorm_bwd_drop(kz_op_case_list *l, int64_t rows, int64_t cols, bool acc,
                                       unsigned drop) {
  static const char *const drop_names[] = {
      "",          " no-dx",       " no-dgamma",       " no-dx,dgamma",
      " no-dbeta", " no-dx,dbeta", " no-dgamma,dbeta", " nothing wanted"};
  kz_op_case *c =
      kz_case_new(l, "layernorm_bwd", bwd_invoke, bwd_ref, "layernorm_bwd %lldx%lld acc=%d%s",
                  (long long)rows, (long long)cols, acc, drop_names[drop & 7]);
  int64_t shape[2] = {rows, cols};
  kz_case_arg(c, "dy", KZ_F32, KZ_ARG_IN, 2, shape);
  kz_arg_normal(kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, 2, shape), 0.5, 2);
  kz_arg_normal(kz_case_arg(c, "gamma", KZ_F32, KZ_ARG_IN, 1, &cols), 1, 0.5);
  kz_case_arg(c, "mean", KZ_F32, KZ_ARG_IN, 1, &rows);
  kz_case_arg(c, "rstd", KZ_F32, KZ_ARG_IN, 1, &rows);
  c->p.drop = drop;
  kz_case_arg(c, "dx", KZ_F32, wanted(c, B_DX) ? kz_grad_role(acc) : KZ_ARG_IN, 2, shape);
  kz_case_arg(c, "dgamma", KZ_F32, wanted(c, B_DGAMMA) ? kz_grad_role(acc) : KZ_ARG_IN, 1, &cols);
  kz_case_arg(c, "dbeta", KZ_F32, wanted(c, B_DBETA) ? kz_grad_role(acc) : KZ_ARG_IN, 1, &cols);
  c->fixup = bwd_fixup;
  c->p.accumulate = acc;
  c->p.norm.eps = LN_EPS;
  c->flops = 12.0 * (double)(rows * cols);
  c->bytes = 4.0 * (double)(3 * rows * cols + 2 * rows + 3 * cols);
  return c;
}

void kz_cases_layernorm(kz_op_case_list *l) {
  static const int64_t s1[] = {1, 1}, s2[] = {37, 129}, s3[] = {3, 1000}, s4[] = {2, 3, 768},
                       s5[] = {4, 8, 33, 47}, s6[] = {5, 3};
  kz_case_layernorm(l, 2, s1, true, 0);
  kz_case_layernorm(l, 2, s2, true, 0.5);
  kz_case_layernorm(l, 2, s2, false, 0.5);
  kz_case_layernorm(l, 2, s3, true, 0.5);
  kz_case_layernorm(l, 3, s4, true, 0.5);
  kz_case_layernorm(l, 4, s5, false, 0.5);
  kz_case_layernorm(l, 2, s6, true, 0.5);
  kz_case_layernorm(l, 2, s2, true, 30);
  static const int64_t rc[][2] = {{1, 1}, {37, 129}, {3, 1000}, {1056, 47}, {6, 768}, {5, 3}};
  for (int acc = 0; acc < 2; ++acc)
    for (size_t i = 0; i < sizeof rc / sizeof rc[0]; ++i)
      kz_case_layernorm_bwd(l, rc[i][0], rc[i][1], acc);
  /* Optional outputs: each gradient output left out (NULL) in turn, and all
   * of them; the others must still match ref and the left-out buffer must
   * stay untouched. 1056 rows span several CPU chunks and CUDA tiles. */
  for (int acc = 0; acc < 2; ++acc)
    for (unsigned drop = 1; drop <= 7; drop = drop == 4 ? 7 : drop << 1)
      kz_case_layernorm_bwd_drop(l, 1056, 47, acc, drop);
}
