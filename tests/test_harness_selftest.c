/* The harness must catch broken ops. Each variant below swaps a real case's
 * invocation (or a gradient case's backward) for a deliberately wrong one;
 * the test passes only if the harness flags every variant with the expected
 * kind of failure and passes the unmodified cases. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/core/error.h"
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
  KZ_TRY(kz_op_gelu_bwd(s, &t[0], &t[1], &t[2], c->p.approx, c->p.accumulate));
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
  kz_ref_gelu_bwd(in[0], dy, din[0], g->dims[0], g->p.approx, false);
  for (int64_t i = 0; i < g->dims[0]; ++i) din[0][i] = -din[0][i];
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
