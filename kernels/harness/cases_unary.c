/* Cases of the unary elementwise ops (the U rows of op_list.h), generated:
 * an op added to the list gets parity cases for its forward and backward
 * (with and without accumulate, awkward sizes), a gradient case and a bench
 * shape without any code here. Inputs are wide (std 3) so both tails and the
 * middle of the function are exercised. */
#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

#define UNARY_INFO(name, param, value, grad, cpu, cuda, ...)                                       \
  {#name,        #name "_bwd",       value,          kz_ref_##name, kz_ref_##name##_grad,          \
   kz_op_##name, kz_op_##name##_bwd, KZ_OP_HAS(grad)},

/* The trailing sentinel keeps the array non-empty whatever the list holds. */
static const kz_unary_info unaries[] = {KZ_OP_LIST(KZ_OP_SKIP_X, UNARY_INFO){.name = NULL}};

int kz_unary_count(void) {
  return (int)(sizeof unaries / sizeof unaries[0]) - 1;
}

const kz_unary_info *kz_unary_at(int i) {
  return i >= 0 && i < kz_unary_count() ? &unaries[i] : NULL;
}

static const kz_unary_info *info_of(const kz_op_case *c) {
  for (int i = 0; i < kz_unary_count(); ++i)
    if (c->op == unaries[i].name || c->op == unaries[i].bwd_name) return &unaries[i];
  return NULL;
}

static kz_status fwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return info_of(c)->fwd(s, &t[0], &t[1], c->p.ew.param);
}

static void fwd_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_unary_info *u = info_of(c);
  for (int64_t i = 0; i < h[0].n; ++i) h[1].f[i] = u->ref(h[0].f[i], c->p.ew.param);
}

kz_op_case *kz_case_unary(kz_op_case_list *l, const kz_unary_info *u, int64_t n, float param) {
  kz_op_case *c =
      kz_case_new(l, u->name, fwd_invoke, fwd_ref, "%s %lld p%g", u->name, (long long)n, param);
  kz_arg_normal(kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, 1, &n), 0, 3);
  kz_case_arg(c, "y", KZ_F32, KZ_ARG_OUT, 1, &n);
  c->p.ew.param = param;
  c->flops = 8.0 * (double)n;
  c->bytes = 8.0 * (double)n;
  return c;
}

static kz_status bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return info_of(c)->bwd(s, &t[0], &t[1], &t[2], c->p.ew.param, c->p.accumulate);
}

static void bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_unary_info *u = info_of(c);
  for (int64_t i = 0; i < h[0].n; ++i) {
    double g = h[1].f[i] * u->grad(h[0].f[i], c->p.ew.param);
    h[2].f[i] = c->p.accumulate ? h[2].f[i] + g : g;
  }
}

kz_op_case *kz_case_unary_bwd(kz_op_case_list *l, const kz_unary_info *u, int64_t n, float param,
                              bool acc) {
  kz_op_case *c = kz_case_new(l, u->bwd_name, bwd_invoke, bwd_ref, "%s %lld p%g acc=%d",
                              u->bwd_name, (long long)n, param, acc);
  kz_arg_normal(kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, 1, &n), 0, 3);
  kz_case_arg(c, "dy", KZ_F32, KZ_ARG_IN, 1, &n);
  kz_case_arg(c, "dx", KZ_F32, kz_grad_role(acc), 1, &n);
  c->p.ew.param = param;
  c->p.accumulate = acc;
  c->flops = 12.0 * (double)n;
  c->bytes = 4.0 * (double)n * (acc ? 4 : 3);
  return c;
}

void kz_cases_unary(kz_op_case_list *l) {
  static const int64_t sizes[] = {1, 7, 4773, 3000, 100003};
  int ns = (int)(sizeof sizes / sizeof sizes[0]);
  for (int k = 0; k < kz_unary_count(); ++k) {
    const kz_unary_info *u = &unaries[k];
    /* The typical parameter everywhere, twice it once: a kernel that ignores
     * its parameter cannot pass both. */
    for (int i = 0; i < ns; ++i) kz_case_unary(l, u, sizes[i], (float)u->value);
    kz_case_unary(l, u, 4773, (float)(2 * u->value));
    for (int acc = 0; acc < 2; ++acc)
      for (int i = 0; i < ns; ++i) kz_case_unary_bwd(l, u, sizes[i], (float)u->value, acc);
    kz_case_unary_bwd(l, u, 4773, (float)(2 * u->value), false);
  }
}
