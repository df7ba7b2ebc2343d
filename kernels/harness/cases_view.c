/* Permute cases: every rank from 1 to 4, the attention head split and merge,
 * time-major swaps, size-1 and empty dims, and the backward (the inverse
 * permutation) with and without accumulate. */
#include <stdio.h>
#include <string.h>

#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

/* The 4-D form the backends see, as the wrapper builds it. */
static kz_permute_shape padded(int ndim, const int64_t *shape, const int *perm) {
  kz_permute_shape sh;
  const int pad = KZ_MAX_DIMS - ndim;
  for (int d = 0; d < KZ_MAX_DIMS; ++d) {
    sh.in[d] = d < pad ? 1 : shape[d - pad];
    sh.perm[d] = d < pad ? d : perm[d - pad] + pad;
  }
  return sh;
}

static kz_status permute_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  if (c->p.view.backward)
    return kz_op_permute_bwd(s, &t[0], &t[1], c->p.view.perm, c->p.accumulate);
  return kz_op_permute(s, &t[0], &t[1], c->p.view.perm);
}

static void permute_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *x = &c->args[0];
  int perm[KZ_MAX_DIMS];
  memcpy(perm, c->p.view.perm, sizeof perm);
  if (c->p.view.backward) /* dy -> dx runs the inverse permutation */
    for (int j = 0; j < x->ndim; ++j) perm[c->p.view.perm[j]] = j;
  kz_permute_shape sh = padded(x->ndim, x->shape, perm);
  kz_ref_permute(h[0].f, h[1].f, &sh, c->p.accumulate);
}

kz_op_case *kz_case_permute(kz_op_case_list *l, int ndim, const int64_t *shape, const int *perm,
                            bool bwd, bool acc) {
  char dims[64] = "", order[16] = "";
  int64_t pshape[KZ_MAX_DIMS], n = 1;
  for (int d = 0; d < ndim; ++d) {
    size_t k = strlen(dims);
    snprintf(dims + k, sizeof dims - k, "%s%lld", d ? "x" : "", (long long)shape[d]);
    order[d] = (char)('0' + perm[d]);
    pshape[d] = shape[perm[d]];
    n *= shape[d];
  }
  kz_op_case *c =
      kz_case_new(l, "permute", permute_invoke, permute_ref, "permute%s%s p%s%s",
                  bwd ? " bwd " : " ", dims, order, bwd ? (acc ? " acc=1" : " acc=0") : "");
  memcpy(c->p.view.perm, perm, (size_t)ndim * sizeof *perm);
  c->p.view.backward = bwd;
  c->p.accumulate = bwd && acc;
  if (bwd) {
    kz_case_arg(c, "dy", KZ_F32, KZ_ARG_IN, ndim, pshape);
    kz_case_arg(c, "dx", KZ_F32, kz_grad_role(acc), ndim, shape);
  } else {
    kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, ndim, shape);
    kz_case_arg(c, "y", KZ_F32, KZ_ARG_OUT, ndim, pshape);
  }
  c->flops = c->p.accumulate ? (double)n : 0;
  c->bytes = 4.0 * (double)n * (c->p.accumulate ? 3 : 2);
  return c;
}

void kz_cases_view(kz_op_case_list *l) {
  static const struct {
    int ndim;
    int64_t shape[KZ_MAX_DIMS];
    int perm[KZ_MAX_DIMS];
  } cases[] = {
      {1, {17}, {0}},                   /* identity: a copy */
      {2, {1, 1}, {1, 0}},              /* one element */
      {2, {37, 129}, {1, 0}},           /* transpose */
      {3, {5, 7, 33}, {1, 0, 2}},       /* [B,T,D] -> [T,B,D]: time-major */
      {3, {4, 9, 6}, {2, 0, 1}},        /* a rotation: the last dim moves */
      {4, {2, 7, 3, 16}, {0, 2, 1, 3}}, /* head split [B,T,H,D] -> [B,H,T,D] */
      {4, {2, 3, 7, 16}, {0, 2, 1, 3}}, /* head merge (its own inverse) */
      {4, {3, 5, 1, 4}, {3, 1, 0, 2}},  /* a size-1 dim and a general order */
      {4, {2, 3, 4, 5}, {3, 2, 1, 0}},  /* full reversal */
      {3, {2, 0, 3}, {2, 1, 0}},        /* empty */
  };
  const int n = (int)(sizeof cases / sizeof cases[0]);
  for (int i = 0; i < n; ++i)
    kz_case_permute(l, cases[i].ndim, cases[i].shape, cases[i].perm, false, false);
  for (int acc = 0; acc < 2; ++acc)
    for (int i = 0; i < n; ++i)
      kz_case_permute(l, cases[i].ndim, cases[i].shape, cases[i].perm, true, acc);
}
