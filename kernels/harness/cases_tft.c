/* Cases of the TFT's ops: the LSTM cell and its backward (every optional
 * gradient left out in turn, a last step without an incoming dc), the GLU
 * and its backward, the quantile loss and its backward (unlabelled rows,
 * exact ties between prediction and target). Awkward sizes: one row, one
 * unit, widths that are not multiples of a vector. */
#include <math.h>
#include <stdlib.h>

#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

/* ---- lstm_cell: gates [R, 4H], c_prev [R, H] -> h, c ------------------------ */
static kz_status lstm_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  (void)c;
  return kz_op_lstm_cell(s, &t[0], &t[1], &t[2], &t[3]);
}

static void lstm_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_lstm_cell_fwd(h[0].f, h[1].f, h[2].f, h[3].f, c->args[1].shape[0], c->args[1].shape[1]);
}

kz_op_case *kz_case_lstm_cell(kz_op_case_list *l, int64_t rows, int64_t hidden) {
  kz_op_case *c = kz_case_new(l, "lstm_cell", lstm_invoke, lstm_ref, "lstm_cell %lldx%lld",
                              (long long)rows, (long long)hidden);
  int64_t gs[2] = {rows, 4 * hidden}, hs[2] = {rows, hidden};
  kz_arg_normal(kz_case_arg(c, "gates", KZ_F32, KZ_ARG_IN, 2, gs), 0, 2);
  kz_case_arg(c, "c_prev", KZ_F32, KZ_ARG_IN, 2, hs);
  kz_case_arg(c, "h", KZ_F32, KZ_ARG_OUT, 2, hs);
  kz_case_arg(c, "c", KZ_F32, KZ_ARG_OUT, 2, hs);
  c->flops = 12.0 * (double)(rows * hidden);
  c->bytes = 28.0 * (double)(rows * hidden);
  return c;
}

/* args: gates, c_prev, c, dh, dc, dgates, dc_prev. p.drop bit 0: dgates
 * NULL, bit 1: dc_prev NULL (outputs left out, as layernorm_bwd's), bit 2:
 * dc passed as NULL (the last step, nothing flows into c). A left-out
 * argument stays in the case as an input the runner checks is untouched. */
enum { L_GATES, L_CPREV, L_C, L_DH, L_DC, L_DGATES, L_DCPREV };

static kz_tensor *opt_arg(const kz_op_case *c, kz_tensor *t, int arg, unsigned bit) {
  return c->p.drop & bit ? NULL : &t[arg];
}

static kz_status lstm_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_lstm_cell_bwd(s, &t[L_GATES], &t[L_CPREV], &t[L_C], &t[L_DH], opt_arg(c, t, L_DC, 4),
                             opt_arg(c, t, L_DGATES, 1), opt_arg(c, t, L_DCPREV, 2),
                             c->p.accumulate);
}

static void lstm_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  unsigned d = c->p.drop;
  kz_ref_lstm_cell_bwd(h[L_GATES].f, h[L_CPREV].f, h[L_C].f, h[L_DH].f, d & 4 ? NULL : h[L_DC].f,
                       d & 1 ? NULL : h[L_DGATES].f, d & 2 ? NULL : h[L_DCPREV].f,
                       c->args[L_CPREV].shape[0], c->args[L_CPREV].shape[1], c->p.accumulate);
}

/* c as the forward makes it from the gates and c_prev */
static void lstm_saved_c(const kz_op_case *c, kz_host_arg *h) {
  double *hh = malloc((size_t)(h[L_C].n > 0 ? h[L_C].n : 1) * sizeof(double));
  if (!hh) return;
  kz_ref_lstm_cell_fwd(h[L_GATES].f, h[L_CPREV].f, hh, h[L_C].f, c->args[L_CPREV].shape[0],
                       c->args[L_CPREV].shape[1]);
  free(hh);
}

kz_op_case *kz_case_lstm_cell_bwd(kz_op_case_list *l, int64_t rows, int64_t hidden, bool acc,
                                  unsigned drop) {
  static const char *const what[] = {"",       " no-dgates",       " no-dc_prev",       " none",
                                     " no-dc", " no-dc no-dgates", " no-dc no-dc_prev", " nothing"};
  kz_op_case *c = kz_case_new(l, "lstm_cell_bwd", lstm_bwd_invoke, lstm_bwd_ref,
                              "lstm_cell_bwd %lldx%lld acc=%d%s", (long long)rows,
                              (long long)hidden, acc, what[drop & 7]);
  int64_t gs[2] = {rows, 4 * hidden}, hs[2] = {rows, hidden};
  kz_arg_normal(kz_case_arg(c, "gates", KZ_F32, KZ_ARG_IN, 2, gs), 0, 2);
  kz_case_arg(c, "c_prev", KZ_F32, KZ_ARG_IN, 2, hs);
  kz_case_arg(c, "c", KZ_F32, KZ_ARG_IN, 2, hs);
  kz_case_arg(c, "dh", KZ_F32, KZ_ARG_IN, 2, hs);
  kz_case_arg(c, "dc", KZ_F32, KZ_ARG_IN, 2, hs);
  kz_case_arg(c, "dgates", KZ_F32, drop & 1 ? KZ_ARG_IN : kz_grad_role(acc), 2, gs);
  kz_case_arg(c, "dc_prev", KZ_F32, drop & 2 ? KZ_ARG_IN : kz_grad_role(acc), 2, hs);
  c->fixup = lstm_saved_c;
  c->p.accumulate = acc;
  c->p.drop = drop;
  c->flops = 20.0 * (double)(rows * hidden);
  c->bytes = 4.0 * (double)(rows * hidden) * (11 + (acc ? 5 : 0));
  return c;
}

/* ---- glu: x [R, 2C] -> y [R, C] ---------------------------------------------- */
static kz_status glu_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  (void)c;
  return kz_op_glu(s, &t[0], &t[1]);
}

static void glu_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_glu_fwd(h[0].f, h[1].f, c->args[1].shape[0], c->args[1].shape[1]);
}

kz_op_case *kz_case_glu(kz_op_case_list *l, int64_t rows, int64_t cols) {
  kz_op_case *c =
      kz_case_new(l, "glu", glu_invoke, glu_ref, "glu %lldx%lld", (long long)rows, (long long)cols);
  int64_t xs[2] = {rows, 2 * cols}, ys[2] = {rows, cols};
  kz_arg_normal(kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, 2, xs), 0, 2);
  kz_case_arg(c, "y", KZ_F32, KZ_ARG_OUT, 2, ys);
  c->flops = 4.0 * (double)(rows * cols);
  c->bytes = 12.0 * (double)(rows * cols);
  return c;
}

static kz_status glu_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_glu_bwd(s, &t[0], &t[1], &t[2], c->p.accumulate);
}

static void glu_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_glu_bwd(h[0].f, h[1].f, h[2].f, c->args[1].shape[0], c->args[1].shape[1], c->p.accumulate);
}

kz_op_case *kz_case_glu_bwd(kz_op_case_list *l, int64_t rows, int64_t cols, bool acc) {
  kz_op_case *c = kz_case_new(l, "glu_bwd", glu_bwd_invoke, glu_bwd_ref, "glu_bwd %lldx%lld acc=%d",
                              (long long)rows, (long long)cols, acc);
  int64_t xs[2] = {rows, 2 * cols}, ys[2] = {rows, cols};
  kz_arg_normal(kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, 2, xs), 0, 2);
  kz_case_arg(c, "dy", KZ_F32, KZ_ARG_IN, 2, ys);
  kz_case_arg(c, "dx", KZ_F32, kz_grad_role(acc), 2, xs);
  c->p.accumulate = acc;
  c->flops = 6.0 * (double)(rows * cols);
  c->bytes = 4.0 * (double)(rows * cols) * (acc ? 7 : 5);
  return c;
}

/* ---- quantile_loss: pred [R, Q], target [R], quantiles [Q] -------------------- */
/* Every fifth target unlabelled; every fourth row's first prediction equals
 * its target exactly (the tie of the two slopes). */
static void qloss_inputs(const kz_op_case *c, kz_host_arg *h) {
  const int64_t rows = c->args[0].shape[0], nq = c->args[0].shape[1];
  for (int64_t r = 0; r < rows; r++) {
    if (r % 5 == 2) h[1].f[r] = NAN;
    if (r % 4 == 1) h[0].f[r * nq] = h[1].f[r];
  }
}

static kz_status qloss_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  (void)c;
  return kz_op_quantile_loss(s, &t[0], &t[1], &t[2], &t[3]);
}

static void qloss_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_quantile_loss_fwd(h[0].f, h[1].f, h[2].f, h[3].f, c->args[0].shape[0],
                           c->args[0].shape[1]);
}

static kz_op_case *qloss_args(kz_op_case *c, int64_t rows, int64_t nq, kz_arg_role out_role,
                              const char *out) {
  int64_t ps[2] = {rows, nq};
  kz_case_arg(c, "pred", KZ_F32, KZ_ARG_IN, 2, ps);
  kz_case_arg(c, "target", KZ_F32, KZ_ARG_IN, 1, &rows);
  kz_arg_uniform(kz_case_arg(c, "quantiles", KZ_F32, KZ_ARG_IN, 1, &nq), 0.02, 0.98);
  kz_case_arg(c, out, KZ_F32, out_role, 2, ps);
  c->fixup = qloss_inputs;
  return c;
}

kz_op_case *kz_case_quantile_loss(kz_op_case_list *l, int64_t rows, int64_t nq) {
  kz_op_case *c = kz_case_new(l, "quantile_loss", qloss_invoke, qloss_ref,
                              "quantile_loss %lldx%lld", (long long)rows, (long long)nq);
  qloss_args(c, rows, nq, KZ_ARG_OUT, "losses");
  c->flops = 4.0 * (double)(rows * nq);
  c->bytes = 4.0 * (double)(2 * rows * nq + rows + nq);
  return c;
}

static kz_status qloss_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_quantile_loss_bwd(s, &t[0], &t[1], &t[2], &t[3], c->p.tab.scale, c->p.accumulate);
}

static void qloss_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_quantile_loss_bwd(h[0].f, h[1].f, h[2].f, h[3].f, c->args[0].shape[0], c->args[0].shape[1],
                           c->p.tab.scale, c->p.accumulate);
}

kz_op_case *kz_case_quantile_loss_bwd(kz_op_case_list *l, int64_t rows, int64_t nq, double scale,
                                      bool acc) {
  kz_op_case *c = kz_case_new(l, "quantile_loss_bwd", qloss_bwd_invoke, qloss_bwd_ref,
                              "quantile_loss_bwd %lldx%lld scale%g acc=%d", (long long)rows,
                              (long long)nq, scale, acc);
  qloss_args(c, rows, nq, kz_grad_role(acc), "dpred");
  c->p.tab.scale = scale;
  c->p.accumulate = acc;
  c->flops = 3.0 * (double)(rows * nq);
  c->bytes = 4.0 * (double)(rows * nq * (acc ? 3 : 2) + rows + nq);
  return c;
}

void kz_cases_tft(kz_op_case_list *l) {
  static const int64_t shapes[][2] = {{1, 1}, {3, 5}, {64, 16}, {37, 33}, {257, 7}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
    const int64_t r = shapes[i][0], h = shapes[i][1];
    kz_case_lstm_cell(l, r, h);
    kz_case_lstm_cell_bwd(l, r, h, i % 2 == 1, 0);
    kz_case_glu(l, r, h);
    kz_case_glu_bwd(l, r, h, i % 2 == 0);
    kz_case_quantile_loss(l, r, i % 3 + 1);
    kz_case_quantile_loss_bwd(l, r, i % 3 + 1, 1.0 / (double)(3 * r), i % 2 == 1);
  }
  for (int acc = 0; acc < 2; ++acc)
    for (unsigned drop = 1; drop <= 7; ++drop) kz_case_lstm_cell_bwd(l, 29, 12, acc, drop);
  kz_case_quantile_loss(l, 1000, 3);
  kz_case_quantile_loss_bwd(l, 1000, 9, 0.001, false);
}

/* Bench: the TFT's shapes (batch 64, hidden 64, encoder 168 + horizon 24
 * rows for the GRN gates; one LSTM step of the batch; 3 quantiles). */
void kz_bench_cases_tft(kz_op_case_list *l) {
  kz_case_lstm_cell(l, 64, 64);
  kz_case_lstm_cell_bwd(l, 64, 64, true, 0);
  kz_case_glu(l, 64 * 192, 64);
  kz_case_glu_bwd(l, 64 * 192, 64, true);
  kz_case_quantile_loss(l, 64 * 24, 3);
  kz_case_quantile_loss_bwd(l, 64 * 24, 3, 1.0 / (64 * 24 * 3), false);
}
