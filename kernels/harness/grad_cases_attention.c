/* Gradient cases of fused attention: the ref backward (which differentiates
 * the materialised softmax chain) against finite differences of the ref
 * forward, for q, k and v, with the padding mask (one empty batch row, one
 * padded), causal masking and dropout. Dropout uses a fixed key, so the mask
 * is a constant of the function being differentiated. dims = {B, H, T, D};
 * p.fattn.fused takes one [B*T, 3*H*D] input instead of three. */
#include <stdio.h>

#include "kernels/harness/grad_check.h"
#include "kernels/ref/ref_ops.h"

static kz_attn_shape shape_of(const kz_grad_case *g) {
  const int64_t hd = g->dims[1] * g->dims[3], ld = g->p.fattn.fused ? 3 * hd : hd;
  return (kz_attn_shape){
      .batch = g->dims[0],
      .heads = g->dims[1],
      .seq = g->dims[2],
      .head_dim = g->dims[3],
      .ld_q = ld,
      .ld_k = ld,
      .ld_v = ld,
      .ld_o = hd,
      .scale = g->p.fattn.scale,
      .causal = g->p.fattn.causal,
      .lengths = g->p.fattn.lengths ? g->ints : NULL,
      .dropout_p = g->p.fattn.dropout_p,
      .dropout_key = g->p.fattn.dropout_key,
  };
}

/* The three operands: separate inputs, or column blocks of one. */
static void operands(const kz_grad_case *g, double *const *in, double **q, double **k, double **v) {
  if (g->p.fattn.fused) {
    const int64_t hd = g->dims[1] * g->dims[3];
    *q = in[0];
    *k = in[0] + hd;
    *v = in[0] + 2 * hd;
  } else {
    *q = in[0];
    *k = in[1];
    *v = in[2];
  }
}

static void attn_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_attn_shape sh = shape_of(g);
  double *q, *k, *v;
  operands(g, in, &q, &k, &v);
  kz_ref_attention_fwd(q, k, v, out, NULL, &sh);
}

static void attn_bwd(const kz_grad_case *g, double *const *in, const double *dout,
                     double *const *din) {
  kz_attn_shape sh = shape_of(g);
  double *q, *k, *v, *dq, *dk, *dv;
  operands(g, in, &q, &k, &v);
  operands(g, din, &dq, &dk, &dv);
  kz_ref_attention_bwd(q, k, v, dout, dq, dk, dv, &sh, false);
}

static void add(kz_grad_list *l, int64_t b, int64_t h, int64_t t, int64_t d, bool causal,
                bool lengths, double dropout, bool fused) {
  char name[KZ_CASE_NAME_LEN];
  snprintf(name, sizeof name, "attention %lldx%lldx%lldx%lld%s%s%s%s", (long long)b, (long long)h,
           (long long)t, (long long)d, fused ? " qkv" : "", causal ? " causal" : "",
           lengths ? " lengths" : "", dropout > 0 ? " dropout" : "");
  kz_grad_case *g = kz_grad_case_push(l, "attention", attn_fwd, attn_bwd, name);
  g->dims[0] = b;
  g->dims[1] = h;
  g->dims[2] = t;
  g->dims[3] = d;
  g->p.fattn = (kz_fused_attn_params){.batch = b,
                                      .heads = h,
                                      .scale = 0.6f,
                                      .causal = causal,
                                      .dropout_p = dropout,
                                      .dropout_key = 0x0ddba11c0ffee001ULL,
                                      .fused = fused,
                                      .lengths = lengths};
  /* Row 0 full, row 1 empty (no gradient at all), row 2 padded. */
  for (int64_t i = 0; i < b && i < KZ_GRAD_MAX_INTS; ++i)
    g->ints[i] = (int32_t)(i == 0 ? t : i == 1 ? 0 : t / 2 + 1);
  const int64_t n = b * t * h * d;
  if (fused) {
    kz_grad_case_input(g, "qkv", 3 * n, true, 0, 1);
  } else {
    kz_grad_case_input(g, "q", n, true, 0, 1);
    kz_grad_case_input(g, "k", n, true, 0, 1);
    kz_grad_case_input(g, "v", n, true, 0, 1);
  }
  g->nout = n;
}

void kz_grad_cases_attention(kz_grad_list *l) {
  add(l, 1, 2, 5, 3, false, false, 0, false);
  add(l, 3, 2, 5, 4, false, true, 0, false);
  add(l, 2, 1, 6, 3, true, false, 0, false);
  add(l, 3, 1, 5, 2, true, true, 0, true);
  add(l, 2, 2, 6, 3, false, false, 0.3, false);
  add(l, 3, 1, 5, 3, true, true, 0.5, false);
}
