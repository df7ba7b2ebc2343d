/* Cases of the transformer encoder's ops.
 *
 * residual_layernorm: rows that fill no block (C = 3, 129, 1000) and one
 * row of 1024, p = 0 (no mask drawn), 0.1 and 0.5, with and without the
 * saved sum r and statistics, y in place of x. Its backward from y (gammas
 * kept away from 0, some negative) and from r, with each gradient output left
 * out in turn, dx in place of dy, with and without accumulate; the inputs
 * are those a forward pass would have saved for random x and h.
 * gather_rows: repeated indices (the backward sums them) and rows never
 * gathered (a non-accumulating backward zeroes them).
 * qa_span_loss: lengths from 1 to T, targets anywhere inside them. */
#include <stdlib.h>
#include <string.h>

#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

#define RLN_EPS 1e-5f

static uint64_t rln_key(double p) {
  return 0x7f4a7c15deadbeefULL ^ (uint64_t)(p * 1000.0);
}

static void rows_cols(const kz_arg_spec *a, int64_t *rows, int64_t *cols) {
  *cols = a->shape[a->ndim - 1];
  *rows = *cols ? kz_arg_numel(a) / *cols : 0;
}

/* ---- residual_layernorm ------------------------------------------------------ */
enum { F_X, F_H, F_GAMMA, F_BETA, F_Y, F_R, F_MEAN, F_RSTD };

static kz_status rln_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  kz_tensor *y = c->p.in_place ? &t[F_X] : &t[F_Y];
  kz_tensor *mean = c->p.norm.stats ? &t[F_MEAN] : NULL,
            *rstd = c->p.norm.stats ? &t[F_RSTD] : NULL;
  if (c->p.tf.save_r)
    return kz_op_residual_layernorm_r(s, &t[F_X], &t[F_H], &t[F_GAMMA], &t[F_BETA], y, &t[F_R],
                                      mean, rstd, c->p.tf.dropout_p, c->p.tf.key, c->p.norm.eps);
  return kz_op_residual_layernorm(s, &t[F_X], &t[F_H], &t[F_GAMMA], &t[F_BETA], y, mean, rstd,
                                  c->p.tf.dropout_p, c->p.tf.key, c->p.norm.eps);
}

static void rln_ref(const kz_op_case *c, kz_host_arg *h) {
  int64_t rows, cols;
  rows_cols(&c->args[F_X], &rows, &cols);
  kz_ref_residual_layernorm_fwd(
      h[F_X].f, h[F_H].f, h[F_GAMMA].f, h[F_BETA].f, c->p.in_place ? h[F_X].f : h[F_Y].f,
      c->p.tf.save_r ? h[F_R].f : NULL, c->p.norm.stats ? h[F_MEAN].f : NULL,
      c->p.norm.stats ? h[F_RSTD].f : NULL, rows, cols, c->p.tf.dropout_p, c->p.tf.key,
      c->p.norm.eps);
}

kz_op_case *kz_case_residual_layernorm(kz_op_case_list *l, int64_t rows, int64_t cols, double p,
                                       bool save_r, bool stats, bool in_place) {
  kz_op_case *c =
      kz_case_new(l, "residual_layernorm", rln_invoke, rln_ref,
                  "residual_layernorm %lldx%lld p%g%s%s%s", (long long)rows, (long long)cols, p,
                  save_r ? " r" : "", stats ? " stats" : "", in_place ? " in-place" : "");
  int64_t shape[2] = {rows, cols};
  /* Unused slots stay in the table as inputs the runner checks are untouched. */
  kz_arg_normal(kz_case_arg(c, "x", KZ_F32, in_place ? KZ_ARG_INOUT : KZ_ARG_IN, 2, shape), 0.5,
                1.5);
  kz_case_arg(c, "h", KZ_F32, KZ_ARG_IN, 2, shape);
  kz_arg_normal(kz_case_arg(c, "gamma", KZ_F32, KZ_ARG_IN, 1, &cols), 1, 0.5);
  kz_arg_normal(kz_case_arg(c, "beta", KZ_F32, KZ_ARG_IN, 1, &cols), 0, 0.5);
  kz_case_arg(c, "y", KZ_F32, in_place ? KZ_ARG_IN : KZ_ARG_OUT, 2, shape);
  kz_case_arg(c, "r", KZ_F32, save_r ? KZ_ARG_OUT : KZ_ARG_IN, 2, shape);
  kz_case_arg(c, "mean", KZ_F32, stats ? KZ_ARG_OUT : KZ_ARG_IN, 1, &rows);
  kz_case_arg(c, "rstd", KZ_F32, stats ? KZ_ARG_OUT : KZ_ARG_IN, 1, &rows);
  c->p.tf.dropout_p = p;
  c->p.tf.key = rln_key(p);
  c->p.tf.save_r = save_r;
  c->p.norm.stats = stats;
  c->p.norm.eps = RLN_EPS;
  c->p.in_place = in_place;
  c->flops = 12.0 * (double)(rows * cols);
  c->bytes = 4.0 * (double)((save_r ? 4 : 3) * rows * cols + 2 * cols + (stats ? 2 * rows : 0));
  return c;
}

enum { B_DY, B_SAVED, B_GAMMA, B_BETA, B_MEAN, B_RSTD, B_DX, B_DH, B_DGAMMA, B_DBETA };

/* Gradient outputs in drop-bit order: dx, dh, dgamma, dbeta. */
static bool rln_wanted(const kz_op_case *c, int arg) {
  return !(c->p.drop & (1u << (arg - B_DX)));
}

/* The arguments the contract does not read go in as NULL: mean from y, y
 * and beta from r. */
static kz_status rln_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  const bool from_r = c->p.tf.save_r;
  kz_tensor *dx = c->p.in_place ? &t[B_DY] : &t[B_DX];
  return kz_op_residual_layernorm_bwd(
      s, &t[B_DY], from_r ? NULL : &t[B_SAVED], from_r ? &t[B_SAVED] : NULL, &t[B_GAMMA],
      from_r ? NULL : &t[B_BETA], from_r ? &t[B_MEAN] : NULL, &t[B_RSTD],
      rln_wanted(c, B_DX) ? dx : NULL, rln_wanted(c, B_DH) ? &t[B_DH] : NULL,
      rln_wanted(c, B_DGAMMA) ? &t[B_DGAMMA] : NULL, rln_wanted(c, B_DBETA) ? &t[B_DBETA] : NULL,
      c->p.tf.dropout_p, c->p.tf.key, c->p.norm.eps, c->p.accumulate);
}

static void rln_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  int64_t rows, cols;
  rows_cols(&c->args[B_DY], &rows, &cols);
  const bool from_r = c->p.tf.save_r;
  double *dx = c->p.in_place ? h[B_DY].f : h[B_DX].f;
  kz_ref_residual_layernorm_bwd(
      h[B_DY].f, from_r ? NULL : h[B_SAVED].f, from_r ? h[B_SAVED].f : NULL, h[B_GAMMA].f,
      from_r ? NULL : h[B_BETA].f, from_r ? h[B_MEAN].f : NULL, h[B_RSTD].f,
      rln_wanted(c, B_DX) ? dx : NULL, rln_wanted(c, B_DH) ? h[B_DH].f : NULL,
      rln_wanted(c, B_DGAMMA) ? h[B_DGAMMA].f : NULL, rln_wanted(c, B_DBETA) ? h[B_DBETA].f : NULL,
      rows, cols, c->p.tf.dropout_p, c->p.tf.key, c->p.accumulate);
}

/* The saved tensors of a forward pass: the random `saved` values play r (its
 * statistics go to mean/rstd); from y they are replaced by layernorm(r).
 * Every third gamma is negative and none is near 0 (y-mode divides by it). */
static void rln_bwd_fixup(const kz_op_case *c, kz_host_arg *h) {
  int64_t rows, cols;
  rows_cols(&c->args[B_DY], &rows, &cols);
  for (int64_t i = 0; i < cols; i += 3) h[B_GAMMA].f[i] = -h[B_GAMMA].f[i];
  double *y = malloc((size_t)(rows * cols > 0 ? rows * cols : 1) * sizeof *y);
  if (!y) return;
  kz_ref_layernorm_fwd(h[B_SAVED].f, h[B_GAMMA].f, h[B_BETA].f, y, h[B_MEAN].f, h[B_RSTD].f, rows,
                       cols, RLN_EPS);
  if (!c->p.tf.save_r) memcpy(h[B_SAVED].f, y, (size_t)(rows * cols) * sizeof *y);
  free(y);
}

kz_op_case *kz_case_residual_layernorm_bwd(kz_op_case_list *l, int64_t rows, int64_t cols, double p,
                                           bool save_r, bool acc, unsigned drop, bool in_place) {
  static const char *const names[] = {"dx", "dh", "dgamma", "dbeta"};
  char dropped[48] = "";
  if ((drop & 15) == 15)
    snprintf(dropped, sizeof dropped, " nothing wanted");
  else
    for (int k = 0; k < 4; ++k)
      if (drop & (1u << k)) {
        size_t used = strlen(dropped);
        snprintf(dropped + used, sizeof dropped - used, " no-%s", names[k]);
      }
  kz_op_case *c =
      kz_case_new(l, "residual_layernorm_bwd", rln_bwd_invoke, rln_bwd_ref,
                  "residual_layernorm_bwd %lldx%lld p%g from-%s acc=%d%s%s", (long long)rows,
                  (long long)cols, p, save_r ? "r" : "y", acc, in_place ? " dx=dy" : "", dropped);
  int64_t shape[2] = {rows, cols};
  c->p.drop = drop;
  const bool dx_out = rln_wanted(c, B_DX) && in_place;
  kz_case_arg(c, "dy", KZ_F32, dx_out ? kz_grad_role(true) : KZ_ARG_IN, 2, shape);
  kz_arg_normal(kz_case_arg(c, save_r ? "r" : "y", KZ_F32, KZ_ARG_IN, 2, shape), 0.5, 1.5);
  kz_arg_uniform(kz_case_arg(c, "gamma", KZ_F32, KZ_ARG_IN, 1, &cols), 0.5, 1.5);
  kz_arg_normal(kz_case_arg(c, "beta", KZ_F32, KZ_ARG_IN, 1, &cols), 0, 0.5);
  kz_case_arg(c, "mean", KZ_F32, KZ_ARG_IN, 1, &rows);
  kz_case_arg(c, "rstd", KZ_F32, KZ_ARG_IN, 1, &rows);
  kz_case_arg(c, "dx", KZ_F32, rln_wanted(c, B_DX) && !in_place ? kz_grad_role(acc) : KZ_ARG_IN, 2,
              shape);
  kz_case_arg(c, "dh", KZ_F32, rln_wanted(c, B_DH) ? kz_grad_role(acc) : KZ_ARG_IN, 2, shape);
  kz_case_arg(c, "dgamma", KZ_F32, rln_wanted(c, B_DGAMMA) ? kz_grad_role(acc) : KZ_ARG_IN, 1,
              &cols);
  kz_case_arg(c, "dbeta", KZ_F32, rln_wanted(c, B_DBETA) ? kz_grad_role(acc) : KZ_ARG_IN, 1, &cols);
  c->fixup = rln_bwd_fixup;
  c->p.tf.dropout_p = p;
  c->p.tf.key = rln_key(p);
  c->p.tf.save_r = save_r;
  c->p.norm.eps = RLN_EPS;
  c->p.accumulate = acc;
  c->p.in_place = in_place;
  c->flops = 16.0 * (double)(rows * cols);
  c->bytes = 4.0 * (double)(4 * rows * cols + 2 * rows + 4 * cols);
  return c;
}

/* ---- gather_rows ---------------------------------------------------------------- */
static kz_status gather_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  (void)c;
  return kz_op_gather_rows(s, &t[0], &t[1], &t[2]);
}

static void gather_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *x = &c->args[0];
  kz_ref_gather_rows_fwd(h[0].f, h[1].i, h[2].f, h[1].n, x->shape[0], x->shape[1]);
}

kz_op_case *kz_case_gather_rows(kz_op_case_list *l, int64_t n, int64_t dim, int64_t m) {
  kz_op_case *c =
      kz_case_new(l, "gather_rows", gather_invoke, gather_ref, "gather_rows n%lld d%lld m%lld",
                  (long long)n, (long long)dim, (long long)m);
  int64_t xs[2] = {n, dim}, os[2] = {m, dim};
  kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, 2, xs);
  kz_arg_ints(kz_case_arg(c, "idx", KZ_I32, KZ_ARG_IN, 1, &m), 0, n);
  kz_case_arg(c, "out", KZ_F32, KZ_ARG_OUT, 2, os);
  c->bytes = 4.0 * (double)m + 8.0 * (double)(m * dim);
  return c;
}

static kz_status gather_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_gather_rows_bwd(s, &t[0], &t[1], &t[2], c->p.accumulate);
}

static void gather_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *dx = &c->args[2];
  kz_ref_gather_rows_bwd(h[0].i, h[1].f, h[2].f, h[0].n, dx->shape[0], dx->shape[1],
                         c->p.accumulate);
}

kz_op_case *kz_case_gather_rows_bwd(kz_op_case_list *l, int64_t n, int64_t dim, int64_t m,
                                    bool acc) {
  kz_op_case *c = kz_case_new(l, "gather_rows_bwd", gather_bwd_invoke, gather_bwd_ref,
                              "gather_rows_bwd n%lld d%lld m%lld acc=%d", (long long)n,
                              (long long)dim, (long long)m, acc);
  int64_t xs[2] = {n, dim}, os[2] = {m, dim};
  kz_arg_ints(kz_case_arg(c, "idx", KZ_I32, KZ_ARG_IN, 1, &m), 0, n);
  kz_case_arg(c, "dout", KZ_F32, KZ_ARG_IN, 2, os);
  kz_case_arg(c, "dx", KZ_F32, kz_grad_role(acc), 2, xs);
  c->p.accumulate = acc;
  c->flops = (double)(m * dim);
  c->bytes = 4.0 * (double)m + 4.0 * (double)(m * dim) + 4.0 * (double)(n * dim) * (acc ? 2 : 1);
  return c;
}

/* ---- qa_span_loss: logits, lengths, starts, ends, then losses / dloss, dlogits ---- */
/* Lengths drawn in [1, T] with the first sequence at T and the last at 1;
 * targets wrapped into them. */
static void qa_fixup(const kz_op_case *c, kz_host_arg *h) {
  const int64_t batch = h[1].n;
  const int64_t seq = batch ? kz_arg_numel(&c->args[0]) / 2 / batch : 0;
  for (int64_t b = 0; b < batch; ++b) {
    if (b == 0) h[1].i[b] = (int32_t)seq;
    if (b == batch - 1 && b > 0) h[1].i[b] = 1;
    h[2].i[b] %= h[1].i[b];
    h[3].i[b] %= h[1].i[b];
  }
}

static int64_t qa_seq(const kz_op_case *c) {
  const int64_t batch = c->args[1].shape[0];
  return batch ? kz_arg_numel(&c->args[0]) / 2 / batch : 0;
}

static kz_status qa_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  (void)c;
  return kz_op_qa_span_loss(s, &t[0], &t[1], &t[2], &t[3], &t[4]);
}

static void qa_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_qa_span_loss_fwd(h[0].f, h[1].i, h[2].i, h[3].i, h[4].f, h[1].n, qa_seq(c));
}

/* logits, lengths, starts and ends (shared by both directions). */
static void qa_args(kz_op_case *c, int64_t batch, int64_t seq, int ndim) {
  int64_t l2[2] = {batch * seq, 2}, l3[3] = {batch, seq, 2};
  kz_arg_normal(kz_case_arg(c, "logits", KZ_F32, KZ_ARG_IN, ndim, ndim == 3 ? l3 : l2), 0, 2);
  kz_arg_ints(kz_case_arg(c, "lengths", KZ_I32, KZ_ARG_IN, 1, &batch), 1, seq + 1);
  kz_arg_ints(kz_case_arg(c, "starts", KZ_I32, KZ_ARG_IN, 1, &batch), 0, seq);
  kz_arg_ints(kz_case_arg(c, "ends", KZ_I32, KZ_ARG_IN, 1, &batch), 0, seq);
  c->fixup = qa_fixup;
}

kz_op_case *kz_case_qa_span_loss(kz_op_case_list *l, int64_t batch, int64_t seq, int ndim) {
  kz_op_case *c = kz_case_new(l, "qa_span_loss", qa_invoke, qa_ref, "qa_span_loss %lldx%lld d%d",
                              (long long)batch, (long long)seq, ndim);
  qa_args(c, batch, seq, ndim);
  kz_case_arg(c, "losses", KZ_F32, KZ_ARG_OUT, 1, &batch);
  c->flops = 8.0 * (double)(batch * seq);
  c->bytes = 8.0 * (double)(batch * seq) + 16.0 * (double)batch;
  return c;
}

static kz_status qa_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_qa_span_loss_bwd(s, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], c->p.accumulate);
}

static void qa_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_qa_span_loss_bwd(h[0].f, h[1].i, h[2].i, h[3].i, h[4].f, h[5].f, h[1].n, qa_seq(c),
                          c->p.accumulate);
}

kz_op_case *kz_case_qa_span_loss_bwd(kz_op_case_list *l, int64_t batch, int64_t seq, bool acc) {
  kz_op_case *c =
      kz_case_new(l, "qa_span_loss_bwd", qa_bwd_invoke, qa_bwd_ref,
                  "qa_span_loss_bwd %lldx%lld acc=%d", (long long)batch, (long long)seq, acc);
  qa_args(c, batch, seq, 2);
  kz_case_arg(c, "dloss", KZ_F32, KZ_ARG_IN, 1, &batch);
  int64_t shape[2] = {batch * seq, 2};
  kz_case_arg(c, "dlogits", KZ_F32, kz_grad_role(acc), 2, shape);
  c->p.accumulate = acc;
  c->flops = 10.0 * (double)(batch * seq);
  c->bytes = 8.0 * (double)(batch * seq) * (acc ? 3 : 2) + 20.0 * (double)batch;
  return c;
}

void kz_cases_transformer(kz_op_case_list *l) {
  static const int64_t rc[][2] = {{1, 1}, {37, 129}, {3, 1000}, {1, 1024}, {6, 768}, {5, 3}};
  static const double ps[] = {0.0, 0.1, 0.5};
  const int nrc = (int)(sizeof rc / sizeof rc[0]);
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < nrc; ++i)
      kz_case_residual_layernorm(l, rc[i][0], rc[i][1], ps[k], false, true, false);
  kz_case_residual_layernorm(l, 37, 129, 0.1, true, true, false);
  kz_case_residual_layernorm(l, 37, 129, 0.1, false, false, false);
  kz_case_residual_layernorm(l, 37, 129, 0.1, true, false, true);
  kz_case_residual_layernorm(l, 6, 768, 0.1, false, true, true);
  for (int from_r = 0; from_r < 2; ++from_r)
    for (int acc = 0; acc < 2; ++acc)
      for (int i = 0; i < nrc; ++i)
        kz_case_residual_layernorm_bwd(l, rc[i][0], rc[i][1], 0.1, from_r, acc, 0, false);
  kz_case_residual_layernorm_bwd(l, 37, 129, 0.0, false, false, 0, false);
  kz_case_residual_layernorm_bwd(l, 37, 129, 0.5, true, true, 0, false);
  /* dx in place of dy; each gradient output left out in turn, and all of
   * them (1056 rows span several CPU chunks and CUDA row chunks). */
  for (int acc = 0; acc < 2; ++acc)
    kz_case_residual_layernorm_bwd(l, 37, 129, 0.1, false, acc, 0, true);
  for (int acc = 0; acc < 2; ++acc)
    for (unsigned drop = 1; drop <= 15; drop = drop == 8 ? 15 : drop << 1)
      kz_case_residual_layernorm_bwd(l, 1056, 47, 0.1, drop & 1, acc, drop, false);

  static const int64_t nd[][3] = {
      {1, 1, 1}, {50, 33, 7}, {512, 129, 77}, {300, 1024, 45}, {7, 64, 300}};
  const int nnd = (int)(sizeof nd / sizeof nd[0]);
  for (int i = 0; i < nnd; ++i) kz_case_gather_rows(l, nd[i][0], nd[i][1], nd[i][2]);
  for (int acc = 0; acc < 2; ++acc)
    for (int i = 0; i < nnd; ++i) kz_case_gather_rows_bwd(l, nd[i][0], nd[i][1], nd[i][2], acc);

  static const int64_t bt[][2] = {{1, 1}, {3, 7}, {16, 128}, {4, 384}, {2, 512}};
  const int nbt = (int)(sizeof bt / sizeof bt[0]);
  for (int i = 0; i < nbt; ++i) kz_case_qa_span_loss(l, bt[i][0], bt[i][1], 2);
  kz_case_qa_span_loss(l, 5, 33, 3);
  for (int acc = 0; acc < 2; ++acc)
    for (int i = 0; i < nbt; ++i) kz_case_qa_span_loss_bwd(l, bt[i][0], bt[i][1], acc);
}
