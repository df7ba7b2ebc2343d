/* Elementwise and column-reduction cases: bias_add (also in place), its
 * backward, the residual add (also in place), GELU in both forms. Inputs of
 * GELU are wide (std 3) so both tails and the curved middle are exercised. */
#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

static int64_t rows_of(const kz_arg_spec *a) {
  return a->ndim == 1 ? 1 : kz_arg_numel(a) / a->shape[a->ndim - 1];
}

/* ---- bias_add ---------------------------------------------------------------- */
static kz_status bias_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_bias_add(s, &t[0], &t[1], c->p.in_place ? &t[0] : &t[2]);
}

static void bias_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *x = &c->args[0];
  kz_ref_bias_add_fwd(h[0].f, h[1].f, c->p.in_place ? h[0].f : h[2].f, rows_of(x),
                      x->shape[x->ndim - 1]);
}

kz_op_case *kz_case_bias_add(kz_op_case_list *l, int64_t rows, int64_t cols, bool in_place) {
  kz_op_case *c = kz_case_new(l, "bias_add", bias_invoke, bias_ref, "bias_add %lldx%lld%s",
                              (long long)rows, (long long)cols, in_place ? " in-place" : "");
  int64_t shape[2] = {rows, cols};
  kz_case_arg(c, "x", KZ_F32, in_place ? KZ_ARG_INOUT : KZ_ARG_IN, 2, shape);
  kz_case_arg(c, "bias", KZ_F32, KZ_ARG_IN, 1, &cols);
  if (!in_place) kz_case_arg(c, "y", KZ_F32, KZ_ARG_OUT, 2, shape);
  c->p.in_place = in_place;
  c->flops = (double)(rows * cols);
  c->bytes = 4.0 * (double)(2 * rows * cols + cols);
  return c;
}

static kz_status bias_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_bias_add_bwd(s, &t[0], &t[1], c->p.accumulate);
}

static void bias_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *dy = &c->args[0];
  kz_ref_bias_add_bwd(h[0].f, h[1].f, rows_of(dy), dy->shape[dy->ndim - 1], c->p.accumulate);
}

kz_op_case *kz_case_bias_add_bwd(kz_op_case_list *l, int64_t rows, int64_t cols, bool acc) {
  kz_op_case *c =
      kz_case_new(l, "bias_add_bwd", bias_bwd_invoke, bias_bwd_ref, "bias_add_bwd %lldx%lld acc=%d",
                  (long long)rows, (long long)cols, acc);
  int64_t shape[2] = {rows, cols};
  kz_case_arg(c, "dy", KZ_F32, KZ_ARG_IN, 2, shape);
  kz_case_arg(c, "dbias", KZ_F32, kz_grad_role(acc), 1, &cols);
  c->p.accumulate = acc;
  c->flops = (double)(rows * cols);
  c->bytes = 4.0 * (double)(rows * cols + cols * (acc ? 2 : 1));
  return c;
}

/* ---- add ------------------------------------------------------------------------ */
static kz_status add_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_add(s, &t[0], &t[1], c->p.in_place ? &t[0] : &t[2]);
}

static void add_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_add(h[0].f, h[1].f, c->p.in_place ? h[0].f : h[2].f, h[0].n);
}

kz_op_case *kz_case_add(kz_op_case_list *l, int64_t n, bool in_place) {
  kz_op_case *c = kz_case_new(l, "add", add_invoke, add_ref, "add %lld%s", (long long)n,
                              in_place ? " in-place" : "");
  kz_case_arg(c, "a", KZ_F32, in_place ? KZ_ARG_INOUT : KZ_ARG_IN, 1, &n);
  kz_case_arg(c, "b", KZ_F32, KZ_ARG_IN, 1, &n);
  if (!in_place) kz_case_arg(c, "y", KZ_F32, KZ_ARG_OUT, 1, &n);
  c->p.in_place = in_place;
  c->flops = (double)n;
  c->bytes = 12.0 * (double)n;
  return c;
}

/* ---- gelu ------------------------------------------------------------------------ */
static const char *approx_name(kz_gelu_approx a) {
  return a == KZ_GELU_TANH ? "tanh" : "erf";
}

static kz_status gelu_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_gelu(s, &t[0], &t[1], c->p.ew.approx);
}

static void gelu_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_gelu_fwd(h[0].f, h[1].f, h[0].n, c->p.ew.approx);
}

kz_op_case *kz_case_gelu(kz_op_case_list *l, int64_t n, kz_gelu_approx approx) {
  kz_op_case *c = kz_case_new(l, "gelu", gelu_invoke, gelu_ref, "gelu %s %lld", approx_name(approx),
                              (long long)n);
  kz_arg_normal(kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, 1, &n), 0, 3);
  kz_case_arg(c, "y", KZ_F32, KZ_ARG_OUT, 1, &n);
  c->p.ew.approx = approx;
  c->flops = 8.0 * (double)n;
  c->bytes = 8.0 * (double)n;
  return c;
}

static kz_status gelu_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_gelu_bwd(s, &t[0], &t[1], &t[2], c->p.ew.approx, c->p.accumulate);
}

static void gelu_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_gelu_bwd(h[0].f, h[1].f, h[2].f, h[0].n, c->p.ew.approx, c->p.accumulate);
}

kz_op_case *kz_case_gelu_bwd(kz_op_case_list *l, int64_t n, kz_gelu_approx approx, bool acc) {
  kz_op_case *c = kz_case_new(l, "gelu_bwd", gelu_bwd_invoke, gelu_bwd_ref,
                              "gelu_bwd %s %lld acc=%d", approx_name(approx), (long long)n, acc);
  kz_arg_normal(kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, 1, &n), 0, 3);
  kz_case_arg(c, "dy", KZ_F32, KZ_ARG_IN, 1, &n);
  kz_case_arg(c, "dx", KZ_F32, kz_grad_role(acc), 1, &n);
  c->p.ew.approx = approx;
  c->p.accumulate = acc;
  c->flops = 12.0 * (double)n;
  c->bytes = 4.0 * (double)n * (acc ? 4 : 3);
  return c;
}

/* ---- bias_gelu (fused) ----------------------------------------------------------- */
static kz_status bias_gelu_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  if (!c->p.unfused) return kz_op_bias_gelu(s, &t[0], &t[1], &t[2], c->p.ew.approx);
  /* The fallback, on any backend: the same stream with the fused slot cleared. */
  kz_backend without = *s->backend;
  without.ops.bias_gelu_fwd = NULL;
  kz_stream s2 = *s;
  s2.backend = &without;
  return kz_op_bias_gelu(&s2, &t[0], &t[1], &t[2], c->p.ew.approx);
}

/* A fused op's reference is the composition of the existing references. */
static void bias_gelu_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *x = &c->args[0];
  kz_ref_bias_add_fwd(h[0].f, h[1].f, h[2].f, rows_of(x), x->shape[x->ndim - 1]);
  kz_ref_gelu_fwd(h[2].f, h[2].f, h[2].n, c->p.ew.approx);
}

kz_op_case *kz_case_bias_gelu(kz_op_case_list *l, int64_t rows, int64_t cols, kz_gelu_approx approx,
                              bool unfused) {
  kz_op_case *c =
      kz_case_new(l, "bias_gelu", bias_gelu_invoke, bias_gelu_ref, "bias_gelu %s %lldx%lld%s",
                  approx_name(approx), (long long)rows, (long long)cols, unfused ? " unfused" : "");
  int64_t shape[2] = {rows, cols};
  kz_arg_normal(kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, 2, shape), 0, 3);
  kz_case_arg(c, "bias", KZ_F32, KZ_ARG_IN, 1, &cols);
  kz_case_arg(c, "y", KZ_F32, KZ_ARG_OUT, 2, shape);
  c->p.ew.approx = approx;
  c->p.unfused = unfused;
  c->flops = 9.0 * (double)(rows * cols);
  c->bytes = 4.0 * (double)(2 * rows * cols + cols);
  return c;
}

void kz_cases_elementwise(kz_op_case_list *l) {
  static const int64_t rc[][2] = {{1, 1}, {37, 129}, {3, 1000}, {128, 33}, {1, 4099}};
  static const int64_t sizes[] = {1, 7, 4773, 3000, 100003};
  int nrc = (int)(sizeof rc / sizeof rc[0]), ns = (int)(sizeof sizes / sizeof sizes[0]);
  for (int i = 0; i < nrc; ++i) kz_case_bias_add(l, rc[i][0], rc[i][1], false);
  kz_case_bias_add(l, 37, 129, true);
  for (int acc = 0; acc < 2; ++acc)
    for (int i = 0; i < nrc; ++i) kz_case_bias_add_bwd(l, rc[i][0], rc[i][1], acc);
  kz_case_bias_add_bwd(l, 1000, 3, false);
  /* narrow layers over many rows: the CPU's row-chunked reduction */
  kz_case_bias_add_bwd(l, 3001, 64, false);
  kz_case_bias_add_bwd(l, 3001, 64, true);
  kz_case_bias_add_bwd(l, 40000, 3, false);
  for (int i = 0; i < ns; ++i) kz_case_add(l, sizes[i], false);
  kz_case_add(l, 4773, true);
  for (int ap = 0; ap < 2; ++ap)
    for (int i = 0; i < ns; ++i) kz_case_gelu(l, sizes[i], (kz_gelu_approx)ap);
  for (int acc = 0; acc < 2; ++acc)
    for (int ap = 0; ap < 2; ++ap)
      for (int i = 0; i < ns; ++i) kz_case_gelu_bwd(l, sizes[i], (kz_gelu_approx)ap, acc);
  for (int unfused = 0; unfused < 2; ++unfused)
    for (int ap = 0; ap < 2; ++ap)
      for (int i = 0; i < nrc; ++i)
        kz_case_bias_gelu(l, rc[i][0], rc[i][1], (kz_gelu_approx)ap, unfused);
}
