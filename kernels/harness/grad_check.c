/* Runs gradient cases: analytic backward of ref vs central differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/harness/grad_check.h"
#include "kernels/harness/rng.h"

static double loss(const kz_grad_case *g, double *const *in, const double *w, double *out) {
  g->fwd(g, in, out);
  double l = 0;
  for (int64_t i = 0; i < g->nout; ++i) l += w[i] * out[i];
  return l;
}

static double norm2(const double *x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i] * x[i];
  return sqrt(s);
}

/* Compares one input's analytic gradient with finite differences. */
static void check_input(const kz_grad_case *g, int k, double *const *in, const double *w,
                        double *out, const double *an, double *fd, kz_grad_result *r) {
  const kz_grad_input *gi = &g->in[k];
  for (int64_t j = 0; j < gi->n; ++j) {
    double v = in[k][j];
    in[k][j] = v + KZ_GRAD_STEP;
    double lp = loss(g, in, w, out);
    in[k][j] = v - KZ_GRAD_STEP;
    double lm = loss(g, in, w, out);
    in[k][j] = v;
    fd[j] = (lp - lm) / (2 * KZ_GRAD_STEP);
  }
  double diff = 0, worst = -1;
  int64_t at = 0;
  bool finite = true;
  for (int64_t j = 0; j < gi->n; ++j) {
    double d = an[j] - fd[j];
    if (!isfinite(an[j])) finite = false;
    diff += d * d;
    if (fabs(d) > worst) {
      worst = fabs(d);
      at = j;
    }
  }
  double scale = fmax(fmax(norm2(an, gi->n), norm2(fd, gi->n)), 1e-12);
  double rel = finite ? sqrt(diff) / scale : INFINITY;
  if (rel > r->worst_rel) r->worst_rel = rel;
  if (rel > KZ_GRAD_TOL) {
    r->passed = false;
    size_t used = strlen(r->message);
    snprintf(r->message + used, sizeof r->message - used,
             "%sd%s: relative error %.3g > %.0e (worst element %lld: analytic %.9g, numeric %.9g)",
             used ? "; " : "", gi->name, rel, KZ_GRAD_TOL, (long long)at, an[at], fd[at]);
  }
}

void kz_grad_case_run(const kz_grad_case *g, uint64_t seed, kz_grad_result *r) {
  memset(r, 0, sizeof *r);
  r->passed = true;
  kz_rng rng = {seed};
  double *in[KZ_GRAD_MAX_INPUTS] = {0}, *din[KZ_GRAD_MAX_INPUTS] = {0};
  double *w = malloc((size_t)(g->nout > 0 ? g->nout : 1) * sizeof *w);
  double *out = malloc((size_t)(g->nout > 0 ? g->nout : 1) * sizeof *out);
  double *fd = NULL;
  int64_t most = 1;
  bool ok = w && out;
  for (int k = 0; k < g->ninputs && ok; ++k) {
    size_t n = (size_t)(g->in[k].n > 0 ? g->in[k].n : 1);
    in[k] = malloc(n * sizeof(double));
    ok = in[k] != NULL;
    if (ok)
      for (int64_t j = 0; j < g->in[k].n; ++j)
        in[k][j] = g->in[k].mean + g->in[k].std * kz_rng_normal(&rng);
    if (ok && g->in[k].differentiable) {
      din[k] = calloc(n, sizeof(double));
      ok = din[k] != NULL;
    }
    if (g->in[k].n > most) most = g->in[k].n;
  }
  if (ok) ok = (fd = malloc((size_t)most * sizeof *fd)) != NULL;
  if (!ok) {
    r->passed = false;
    snprintf(r->message, sizeof r->message, "out of host memory");
  } else {
    for (int64_t i = 0; i < g->nout; ++i) w[i] = kz_rng_normal(&rng);
    g->bwd(g, in, w, din);
    for (int k = 0; k < g->ninputs; ++k)
      if (g->in[k].differentiable) check_input(g, k, in, w, out, din[k], fd, r);
  }
  for (int k = 0; k < KZ_GRAD_MAX_INPUTS; ++k) {
    free(in[k]);
    free(din[k]);
  }
  free(w);
  free(out);
  free(fd);
}

kz_status kz_harness_grad(const char *op, uint64_t base_seed, bool verbose, FILE *out,
                          kz_suite_counts *counts) {
  bool known = !op;
  for (int i = 0; i < kz_grad_op_count(); ++i) known = known || !strcmp(op, kz_grad_op_at(i));
  if (!known)
    return kz_fail(KZ_ERR_NOT_FOUND, "no gradient check for op '%s' (ops with one: see --help)",
                   op);
  kz_grad_list list;
  KZ_TRY(kz_grad_cases_build(&list));
  for (int i = 0; i < kz_grad_op_count(); ++i) {
    const char *name = kz_grad_op_at(i);
    if (op && strcmp(op, name)) continue;
    int total = 0, failed = 0;
    double worst = 0;
    for (int c = 0; c < list.count; ++c) {
      const kz_grad_case *g = &list.items[c];
      if (strcmp(g->op, name)) continue;
      ++total;
      kz_grad_result r;
      uint64_t seed = kz_case_seed(base_seed, g->name);
      kz_grad_case_run(g, seed, &r);
      if (r.worst_rel > worst) worst = r.worst_rel;
      if (!r.passed) {
        ++failed;
        fprintf(out, "    FAIL %s: %s (case seed 0x%016llx)\n", g->name, r.message,
                (unsigned long long)seed);
      } else if (verbose) {
        fprintf(out, "    ok   %s (relative error %.2g)\n", g->name, r.worst_rel);
      }
    }
    counts->passed += total - failed;
    counts->failed += failed;
    fprintf(out, "  %-14s %3d cases  %s  (worst relative error %.2g, bound %.0e)\n", name, total,
            failed ? "FAIL" : "pass", worst, KZ_GRAD_TOL);
  }
  kz_grad_list_free(&list);
  return KZ_OK;
}
