/* The harness must catch broken ops. Each variant below swaps a real case's
 * invocation (or a gradient case's backward) for a deliberately wrong one;
 * the test passes only if the harness flags every variant with the expected
 * kind of failure and passes the unmodified cases. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/harness/case_build.h"
#include "kernels/harness/grad_check.h"
#include "kernels/harness/op_case.h"
#include "kernels/ops.h"
#include "kernels/ref/ref_ops.h"
#include "tests/test_util.h"

static int64_t n_of(const kz_tensor *t) {
  return kz_tensor_numel(t);
}

/* add: y = a + b, broken in several ways (CPU device: data is host memory). */
static kz_status add_shifted_up(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  const float *a = t[0].data, *b = t[1].data;
  float *y = t[2].data;
  for (int64_t i = 0; i < n_of(&t[0]); ++i) y[i + 1] = a[i] + b[i]; /* one past the end */
  return KZ_OK;
}

static kz_status add_shifted_down(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  const float *a = t[0].data, *b = t[1].data;
  float *y = t[2].data;
  for (int64_t i = 0; i < n_of(&t[0]); ++i) y[i - 1] = a[i] + b[i]; /* one before the start */
  return KZ_OK;
}

static kz_status add_skips_last(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  const float *a = t[0].data, *b = t[1].data;
  float *y = t[2].data;
  for (int64_t i = 0; i + 1 < n_of(&t[0]); ++i) y[i] = a[i] + b[i];
  return KZ_OK;
}

static kz_status add_one_wrong(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  const float *a = t[0].data, *b = t[1].data;
  float *y = t[2].data;
  for (int64_t i = 0; i < n_of(&t[0]); ++i) y[i] = a[i] + b[i];
  y[n_of(&t[0]) / 2] *= 1.01f; /* a 1% error in one element of thousands */
  return KZ_OK;
}

static kz_status add_makes_nan(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  const float *a = t[0].data, *b = t[1].data;
  float *y = t[2].data;
  volatile float zero = 0.0f;
  for (int64_t i = 0; i < n_of(&t[0]); ++i) y[i] = a[i] + b[i];
  y[n_of(&t[0]) / 3] = zero / zero;
  return KZ_OK;
}

static kz_status add_clobbers_input(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  float *a = t[0].data;
  const float *b = t[1].data;
  float *y = t[2].data;
  for (int64_t i = 0; i < n_of(&t[0]); ++i) y[i] = a[i] + b[i];
  a[0] = 0.0f; /* scratch use of an input */
  return KZ_OK;
}

/* gelu_bwd with a sign error in the derivative. */
static kz_status gelu_bwd_sign(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  KZ_TRY(kz_op_gelu_bwd(s, &t[0], &t[1], &t[2], c->p.ew.approx, c->p.accumulate));
  float *dx = t[2].data;
  for (int64_t i = 0; i < n_of(&t[2]); ++i) dx[i] = -dx[i];
  return KZ_OK;
}

/* bias_add_bwd that overwrites when asked to accumulate. */
static kz_status bias_bwd_ignores_acc(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_bias_add_bwd(s, &t[0], &t[1], false);
}

/* Reference gelu backward with the sign flipped, for the gradient check. */
static void gelu_grad_sign(const kz_grad_case *g, double *const *in, const double *dy,
                           double *const *din) {
  kz_ref_gelu_bwd(in[0], dy, din[0], g->dims[0], g->p.ew.approx, false);
  for (int64_t i = 0; i < g->dims[0]; ++i) din[0][i] = -din[0][i];
}

/* ---- the widest cases planned ------------------------------------------------
 * A synthetic op of the fused attention backward's shape: six f32 inputs
 * (q, k, v, o, dO, lse), two i32 masks, three outputs (dq, dk, dv), all
 * elementwise so the test needs no real attention. Run on the CPU device,
 * where tensors are host memory. */
enum { WIDE_N = 257 };

static void wide_eval(const double *q, const double *k, const double *v, const double *o,
                      const double *dO, const double *lse, const int32_t *m1, const int32_t *m2,
                      int64_t i, double out[3]) {
  out[0] = m1[i] ? q[i] * dO[i] + lse[i] : 0.0;
  out[1] = m2[i] ? k[i] - o[i] * dO[i] : 0.0;
  out[2] = (m1[i] && m2[i]) ? v[i] * lse[i] : v[i];
}

static kz_status wide_invoke_impl(kz_tensor *t, bool skip_dv) {
  double a[6][WIDE_N];
  for (int k = 0; k < 6; ++k)
    for (int64_t i = 0; i < WIDE_N; ++i) a[k][i] = ((const float *)t[k].data)[i];
  const int32_t *m1 = t[6].data, *m2 = t[7].data;
  for (int64_t i = 0; i < WIDE_N; ++i) {
    double out[3];
    wide_eval(a[0], a[1], a[2], a[3], a[4], a[5], m1, m2, i, out);
    for (int k = 0; k < 3; ++k)
      if (!(skip_dv && k == 2)) ((float *)t[8 + k].data)[i] = (float)out[k];
  }
  return KZ_OK;
}

static kz_status wide_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return wide_invoke_impl(t, false);
}

/* Forgets the last output: the runner must look at argument 11 of 11. */
static kz_status wide_forgets_dv(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return wide_invoke_impl(t, true);
}

static void wide_ref(const kz_op_case *c, kz_host_arg *h) {
  for (int64_t i = 0; i < WIDE_N; ++i) {
    double out[3];
    wide_eval(h[0].f, h[1].f, h[2].f, h[3].f, h[4].f, h[5].f, h[6].i, h[7].i, i, out);
    for (int k = 0; k < 3; ++k) h[8 + k].f[i] = out[k];
  }
}

static kz_op_case wide_case(void) {
  kz_op_case_list l = {0};
  kz_op_case *c =
      kz_case_new(&l, "add", wide_invoke, wide_ref, "synthetic attention_bwd %d", (int)WIDE_N);
  static const char *const names[] = {"q", "k", "v", "o", "dO", "lse"};
  const int64_t n = WIDE_N;
  for (int k = 0; k < 6; ++k) kz_case_arg(c, names[k], KZ_F32, KZ_ARG_IN, 1, &n);
  kz_arg_ints(kz_case_arg(c, "padding_mask", KZ_I32, KZ_ARG_IN, 1, &n), 0, 2);
  kz_arg_ints(kz_case_arg(c, "causal_mask", KZ_I32, KZ_ARG_IN, 1, &n), 0, 2);
  static const char *const outs[] = {"dq", "dk", "dv"};
  for (int k = 0; k < 3; ++k) kz_case_arg(c, outs[k], KZ_F32, KZ_ARG_OUT, 1, &n)->tol = 1e-12;
  kz_op_case copy = *c;
  kz_op_case_list_free(&l);
  return copy;
}

/* A six-input gradient case of the LSTM cell's shape:
 * y = sigmoid(x)*tanh(h) + c*w_x + w_h*b (elementwise). */
static double sig(double z) {
  return 1.0 / (1.0 + exp(-z));
}

static void lstm_like_fwd(const kz_grad_case *g, double *const *in, double *out) {
  for (int64_t i = 0; i < g->nout; ++i)
    out[i] = sig(in[0][i]) * tanh(in[1][i]) + in[2][i] * in[3][i] + in[4][i] * in[5][i];
}

static void lstm_like_bwd(const kz_grad_case *g, double *const *in, const double *dy,
                          double *const *din) {
  for (int64_t i = 0; i < g->nout; ++i) {
    double s = sig(in[0][i]), t = tanh(in[1][i]);
    din[0][i] = dy[i] * s * (1 - s) * t;
    din[1][i] = dy[i] * s * (1 - t * t);
    din[2][i] = dy[i] * in[3][i];
    din[3][i] = dy[i] * in[2][i];
    din[4][i] = dy[i] * in[5][i];
    din[5][i] = dy[i] * in[4][i];
  }
}

/* Forgets the sixth input's gradient: the check must look at input 6 of 6. */
static void lstm_like_bwd_no_b(const kz_grad_case *g, double *const *in, const double *dy,
                               double *const *din) {
  lstm_like_bwd(g, in, dy, din);
  for (int64_t i = 0; i < g->nout; ++i) din[5][i] = 0.0;
}

static void wide_grad(void) {
  kz_grad_case g;
  memset(&g, 0, sizeof g);
  g.op = "synthetic";
  snprintf(g.name, sizeof g.name, "lstm-like 6 inputs");
  static const char *const names[] = {"x", "h", "c", "w_x", "w_h", "b"};
  g.ninputs = KZ_GRAD_LSTM_INPUTS;
  for (int k = 0; k < KZ_GRAD_LSTM_INPUTS; ++k) g.in[k] = (kz_grad_input){names[k], 24, true, 0, 1};
  g.nout = 24;
  g.fwd = lstm_like_fwd;
  g.bwd = lstm_like_bwd;
  kz_grad_result r;
  kz_grad_case_run(&g, 7, &r);
  printf("%-4s %-40s -> %s\n", r.passed ? "ok" : "BAD", "six-input gradient (correct)",
         r.passed ? "pass" : r.message);
  KZ_CHECK(r.passed);
  g.bwd = lstm_like_bwd_no_b;
  kz_grad_case_run(&g, 7, &r);
  printf("%-4s %-40s -> %s\n", !r.passed ? "ok" : "BAD", "six-input gradient missing db",
         r.passed ? "pass" : r.message);
  KZ_CHECK(!r.passed && strstr(r.message, "db"));
}

static const kz_op_case *find_case(const kz_op_case_list *l, const char *name) {
  for (int i = 0; i < l->count; ++i)
    if (!strcmp(l->items[i].name, name)) return &l->items[i];
  fprintf(stderr, "selftest: no case named '%s'\n", name);
  return NULL;
}

/* Runs `base` with `invoke` swapped in; expects exactly the `want` flag set
 * (0: expects a pass). */
static void expect(const kz_op_case *base, kz_case_invoke_fn invoke, unsigned want,
                   const char *what, kz_stream *s) {
  if (!base) {
    ++kz_test_failures;
    return;
  }
  kz_op_case c = *base;
  if (invoke) c.invoke = invoke;
  kz_case_result r;
  kz_op_case_run(&c, s, kz_case_seed(1234, c.name), &r);
  bool ok = want ? (r.failures & want) != 0 : r.failures == 0 && !r.skipped;
  printf("%-4s %-40s -> %s\n", ok ? "ok" : "BAD", what, r.failures ? r.message : "pass");
  if (!ok) ++kz_test_failures;
}

int main(void) {
  kz_op_case_list list;
  KZ_CHECK_OK(kz_op_cases_build(&list));
  kz_stream *s = NULL;
  KZ_CHECK_OK(kz_stream_create((kz_device){KZ_DEVICE_CPU, 0}, &s));
  if (kz_test_failures) return KZ_TEST_RESULT();

  const kz_op_case *add = find_case(&list, "add 4773");
  expect(add, NULL, 0, "add (correct)", s);
  expect(add, add_shifted_up, KZ_CASE_FAIL_GUARD, "add writing one past the end", s);
  expect(add, add_shifted_down, KZ_CASE_FAIL_GUARD, "add writing one before the start", s);
  expect(add, add_skips_last, KZ_CASE_FAIL_UNWRITTEN, "add leaving the last element", s);
  expect(add, add_one_wrong, KZ_CASE_FAIL_NMSE, "add with one element 1% off", s);
  expect(add, add_makes_nan, KZ_CASE_FAIL_NONFINITE, "add producing a NaN", s);
  expect(add, add_clobbers_input, KZ_CASE_FAIL_INPUT, "add modifying an input", s);

  const kz_op_case *gb = find_case(&list, "gelu_bwd erf 4773 acc=0");
  expect(gb, NULL, 0, "gelu_bwd (correct)", s);
  expect(gb, gelu_bwd_sign, KZ_CASE_FAIL_NMSE, "gelu_bwd with a sign error", s);
  const kz_op_case *bb = find_case(&list, "bias_add_bwd 37x129 acc=1");
  expect(bb, NULL, 0, "bias_add_bwd accumulate (correct)", s);
  expect(bb, bias_bwd_ignores_acc, KZ_CASE_FAIL_NMSE, "bias_add_bwd ignoring accumulate", s);

  /* The widest shapes planned: 6 inputs + 2 masks -> 3 outputs, 6 gradients. */
  KZ_CHECK(KZ_CASE_MAX_ARGS >= KZ_CASE_ATTENTION_BWD_ARGS);
  kz_op_case wide = wide_case();
  KZ_CHECK(wide.nargs == KZ_CASE_ATTENTION_BWD_ARGS);
  expect(&wide, NULL, 0, "6-in/2-mask/3-out case (correct)", s);
  expect(&wide, wide_forgets_dv, KZ_CASE_FAIL_UNWRITTEN, "6-in/3-out case leaving dv", s);
  wide_grad();

  kz_grad_list grads;
  KZ_CHECK_OK(kz_grad_cases_build(&grads));
  const kz_grad_case *gg = NULL;
  for (int i = 0; i < grads.count; ++i)
    if (!strcmp(grads.items[i].name, "gelu erf 64")) gg = &grads.items[i];
  KZ_CHECK(gg != NULL);
  if (gg) {
    kz_grad_result r;
    kz_grad_case_run(gg, 99, &r);
    printf("%-4s %-40s -> %s\n", r.passed ? "ok" : "BAD", "gelu gradient (correct)",
           r.passed ? "pass" : r.message);
    KZ_CHECK(r.passed);
    kz_grad_case broken = *gg;
    broken.bwd = gelu_grad_sign;
    kz_grad_case_run(&broken, 99, &r);
    printf("%-4s %-40s -> %s\n", !r.passed ? "ok" : "BAD", "gelu gradient with a sign error",
           r.passed ? "pass" : r.message);
    KZ_CHECK(!r.passed);
  }
  kz_grad_list_free(&grads);
  kz_stream_destroy(s);
  kz_op_case_list_free(&list);
  return KZ_TEST_RESULT();
}
