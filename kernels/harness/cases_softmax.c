/* Attention softmax cases: no mask, key lengths (including a zero length,
 * whose rows must come out all zero), causal (square and with more keys than
 * queries, the KV-cache shape), both together, and the backward from a valid
 * softmax output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

static kz_softmax_shape shape_of(const kz_op_case *c, const kz_host_arg *h) {
  const kz_arg_spec *x = &c->args[0];
  return (kz_softmax_shape){x->shape[0],
                            x->shape[1],
                            x->shape[2],
                            x->shape[3],
                            c->p.attn.scale,
                            c->p.attn.causal,
                            c->p.attn.lengths ? h[c->nargs - 1].i : NULL};
}

static const kz_tensor *lengths_of(const kz_op_case *c, kz_tensor *t) {
  return c->p.attn.lengths ? &t[c->nargs - 1] : NULL;
}

/* One full row, one empty row (B >= 2), the rest random in [1, S]. */
static void fix_lengths(const kz_op_case *c, kz_host_arg *h) {
  if (!c->p.attn.lengths) return;
  int32_t *len = h[c->nargs - 1].i;
  int64_t b = c->args[0].shape[0], keys = c->args[0].shape[3];
  if (b == 1) {
    len[0] = (int32_t)(keys > 1 ? keys / 2 : 1);
    return;
  }
  len[0] = (int32_t)keys;
  len[1] = 0;
}

static kz_status fwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_softmax(s, &t[0], &t[1], lengths_of(c, t), c->p.attn.scale, c->p.attn.causal);
}

static void fwd_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_softmax_shape sh = shape_of(c, h);
  kz_ref_softmax_fwd(h[0].f, h[1].f, &sh);
}

static void describe(char *buf, size_t size, const int64_t *bhts, float scale, bool causal,
                     bool lengths) {
  snprintf(buf, size, "%lldx%lldx%lldx%lld scale%g%s%s", (long long)bhts[0], (long long)bhts[1],
           (long long)bhts[2], (long long)bhts[3], scale, causal ? " causal" : "",
           lengths ? " lengths" : "");
}

static void add_args(kz_op_case *c, const char *in, const char *out, const int64_t *bhts) {
  kz_arg_normal(kz_case_arg(c, in, KZ_F32, KZ_ARG_IN, 4, bhts), 0, 3);
  kz_case_arg(c, out, KZ_F32, KZ_ARG_OUT, 4, bhts);
}

static void add_lengths(kz_op_case *c, const int64_t *bhts) {
  kz_arg_ints(kz_case_arg(c, "lengths", KZ_I32, KZ_ARG_IN, 1, bhts), 1, bhts[3] + 1);
}

kz_op_case *kz_case_softmax(kz_op_case_list *l, const int64_t *bhts, float scale, bool causal,
                            bool lengths) {
  char d[96];
  describe(d, sizeof d, bhts, scale, causal, lengths);
  kz_op_case *c = kz_case_new(l, "softmax", fwd_invoke, fwd_ref, "softmax %s", d);
  add_args(c, "x", "y", bhts);
  if (lengths) add_lengths(c, bhts);
  c->fixup = fix_lengths;
  c->p.attn.scale = scale;
  c->p.attn.causal = causal;
  c->p.attn.lengths = lengths;
  double n = (double)(bhts[0] * bhts[1] * bhts[2] * bhts[3]);
  c->flops = 5.0 * n;
  c->bytes = 8.0 * n;
  return c;
}

static kz_status bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_softmax_bwd(s, &t[0], &t[1], &t[2], lengths_of(c, t), c->p.attn.scale,
                           c->p.attn.causal, c->p.accumulate);
}

static void bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_softmax_shape sh = shape_of(c, h);
  kz_ref_softmax_bwd(h[0].f, h[1].f, h[2].f, &sh, c->p.accumulate);
}

/* y must be what the forward produces (zeros on masked keys), or the
 * backward's result on masked keys would be a matter of convention. */
static void bwd_fixup(const kz_op_case *c, kz_host_arg *h) {
  fix_lengths(c, h);
  size_t bytes = (size_t)h[0].n * sizeof(double);
  double *x = malloc(bytes ? bytes : 1);
  if (!x) return;
  memcpy(x, h[0].f, bytes);
  kz_softmax_shape sh = shape_of(c, h);
  kz_ref_softmax_fwd(x, h[0].f, &sh);
  free(x);
}

kz_op_case *kz_case_softmax_bwd(kz_op_case_list *l, const int64_t *bhts, float scale, bool causal,
                                bool lengths, bool acc) {
  char d[96];
  describe(d, sizeof d, bhts, scale, causal, lengths);
  kz_op_case *c =
      kz_case_new(l, "softmax_bwd", bwd_invoke, bwd_ref, "softmax_bwd %s acc=%d", d, acc);
  kz_arg_normal(kz_case_arg(c, "y", KZ_F32, KZ_ARG_IN, 4, bhts), 0, 3);
  kz_case_arg(c, "dy", KZ_F32, KZ_ARG_IN, 4, bhts);
  kz_case_arg(c, "dx", KZ_F32, kz_grad_role(acc), 4, bhts);
  if (lengths) add_lengths(c, bhts);
  c->fixup = bwd_fixup;
  c->p.attn.scale = scale;
  c->p.attn.causal = causal;
  c->p.attn.lengths = lengths;
  c->p.accumulate = acc;
  double n = (double)(bhts[0] * bhts[1] * bhts[2] * bhts[3]);
  c->flops = 4.0 * n;
  c->bytes = 4.0 * n * (acc ? 4 : 3);
  return c;
}

typedef struct softmax_variant {
  int64_t bhts[4];
  float scale;
  bool causal, lengths;
} softmax_variant;

static const softmax_variant variants[] = {
    {{1, 1, 1, 1}, 1.0f, false, false},     {{2, 3, 5, 7}, 1.0f, false, false},
    {{4, 8, 33, 47}, 0.125f, false, false}, {{1, 2, 3, 1000}, 1.0f, false, false},
    {{3, 2, 9, 37}, 0.25f, false, true},    {{1, 1, 4, 129}, 1.0f, false, true},
    {{2, 2, 16, 16}, 0.125f, true, false},  {{2, 2, 7, 19}, 1.0f, true, false},
    {{3, 2, 11, 130}, 0.5f, true, true},    {{2, 1, 1, 1}, 1.0f, false, true},
};

void kz_cases_softmax(kz_op_case_list *l) {
  int n = (int)(sizeof variants / sizeof variants[0]);
  for (int i = 0; i < n; ++i)
    kz_case_softmax(l, variants[i].bhts, variants[i].scale, variants[i].causal,
                    variants[i].lengths);
  for (int acc = 0; acc < 2; ++acc)
    for (int i = 0; i < n; ++i)
      kz_case_softmax_bwd(l, variants[i].bhts, variants[i].scale, variants[i].causal,
                          variants[i].lengths, acc);
}
