/* Fused attention cases: the fused [q | k | v] layout (strided rows) and
 * separate tensors; T below, at and past a tile edge (the CPU's default
 * tiles are 64 queries x 128 keys, the GPU's 64 x 32); D 16, 32, 64 and an
 * odd one; key lengths with a full row, a padded one, one above T and an
 * empty one (o zero, lse -inf, no gradient); causal on and off; dropout with
 * a fixed key (the mask is a function of the key, so ref draws the same);
 * the backward with and without accumulate and with each gradient output
 * left out. Every argument is found by name, because the optional ones
 * (lse, lengths) shift the others. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

static int arg_index(const kz_op_case *c, const char *name) {
  for (int i = 0; i < c->nargs; ++i)
    if (!strcmp(c->args[i].name, name)) return i;
  return -1;
}

static kz_tensor *tensor(const kz_op_case *c, kz_tensor *t, const char *name) {
  int i = arg_index(c, name);
  return i < 0 ? NULL : &t[i];
}

static double *host(const kz_op_case *c, kz_host_arg *h, const char *name) {
  int i = arg_index(c, name);
  return i < 0 ? NULL : h[i].f;
}

static kz_attn_opts opts_of(const kz_op_case *c) {
  const kz_fused_attn_params *p = &c->p.fattn;
  return (kz_attn_opts){p->batch, p->heads, p->scale, p->causal, p->dropout_p, p->dropout_key};
}

/* The shape ref sees; its lengths are the host copy. */
static kz_attn_shape shape_of(const kz_op_case *c, kz_host_arg *h) {
  const kz_fused_attn_params *p = &c->p.fattn;
  const kz_arg_spec *x = &c->args[0]; /* qkv or q: [B*T, blocks*H*D] */
  const int64_t hd = x->shape[1] / (p->fused ? 3 : 1);
  int li = arg_index(c, "lengths");
  return (kz_attn_shape){
      .batch = p->batch,
      .heads = p->heads,
      .seq = x->shape[0] / p->batch,
      .head_dim = hd / p->heads,
      .ld_q = x->shape[1],
      .ld_k = x->shape[1],
      .ld_v = x->shape[1],
      .ld_o = hd,
      .scale = p->scale,
      .causal = p->causal,
      .lengths = li < 0 ? NULL : h[li].i,
      .dropout_p = p->dropout_p,
      .dropout_key = p->dropout_key,
  };
}

/* q, k, v as ref sees them (column blocks of qkv in the fused layout). */
static void inputs_of(const kz_op_case *c, kz_host_arg *h, const kz_attn_shape *sh, double **q,
                      double **k, double **v) {
  if (c->p.fattn.fused) {
    double *qkv = host(c, h, "qkv");
    const int64_t hd = sh->heads * sh->head_dim;
    *q = qkv;
    *k = qkv + hd;
    *v = qkv + 2 * hd;
  } else {
    *q = host(c, h, "q");
    *k = host(c, h, "k");
    *v = host(c, h, "v");
  }
}

/* Row 0 full, row 1 padded to about half (empty when `empty`), row 2 above
 * T (counts as T), the rest as drawn (1..T). */
static void fix_lengths(const kz_op_case *c, kz_host_arg *h, bool empty) {
  int li = arg_index(c, "lengths");
  if (li < 0) return;
  int32_t *len = h[li].i;
  const int64_t B = c->p.fattn.batch, T = c->args[0].shape[0] / B;
  len[0] = (int32_t)T;
  if (B > 1) len[1] = empty ? 0 : (int32_t)(T / 2 + 1);
  if (B > 2) len[2] = (int32_t)(T + 3);
}

static void add_lengths(kz_op_case *c) {
  const int64_t B = c->p.fattn.batch, T = c->args[0].shape[0] / B;
  kz_arg_ints(kz_case_arg(c, "lengths", KZ_I32, KZ_ARG_IN, 1, &B), 1, T + 1);
}

static void describe(char *buf, size_t size, int64_t t, int64_t d, const kz_fused_attn_params *p) {
  snprintf(buf, size, "%lldx%lldx%lldx%lld%s%s%s%s%s", (long long)p->batch, (long long)p->heads,
           (long long)t, (long long)d, p->fused ? " qkv" : " q,k,v", p->causal ? " causal" : "",
           p->lengths ? " lengths" : "", p->dropout_p > 0 ? " dropout" : "",
           p->lse ? "" : " no-lse");
}

/* q, k, v inputs (or qkv), [B*T, H*D] each. */
static void add_inputs(kz_op_case *c, int64_t t, int64_t d) {
  const kz_fused_attn_params *p = &c->p.fattn;
  const int64_t hd = p->heads * d;
  if (p->fused) {
    const int64_t shape[2] = {p->batch * t, 3 * hd};
    kz_case_arg(c, "qkv", KZ_F32, KZ_ARG_IN, 2, shape);
  } else {
    const int64_t shape[2] = {p->batch * t, hd};
    kz_case_arg(c, "q", KZ_F32, KZ_ARG_IN, 2, shape);
    kz_case_arg(c, "k", KZ_F32, KZ_ARG_IN, 2, shape);
    kz_case_arg(c, "v", KZ_F32, KZ_ARG_IN, 2, shape);
  }
}

static double nominal_flops(const kz_fused_attn_params *p, int64_t t, int64_t d, double per) {
  return per * (double)(p->batch * p->heads) * (double)t * (double)t * (double)d *
         (p->causal ? 0.5 : 1.0);
}

/* ---- forward ------------------------------------------------------------------------- */

static kz_status fwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  kz_attn_opts a = opts_of(c);
  kz_tensor *o = tensor(c, t, "o"), *lse = tensor(c, t, "lse");
  const kz_tensor *len = tensor(c, t, "lengths");
  if (c->p.fattn.fused) return kz_op_attention(s, tensor(c, t, "qkv"), o, lse, len, &a);
  return kz_op_attention_sep(s, tensor(c, t, "q"), tensor(c, t, "k"), tensor(c, t, "v"), o, lse,
                             len, &a);
}

static void fwd_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_attn_shape sh = shape_of(c, h);
  double *q, *k, *v;
  inputs_of(c, h, &sh, &q, &k, &v);
  kz_ref_attention_fwd(q, k, v, host(c, h, "o"), host(c, h, "lse"), &sh);
}

/* An empty row has lse = -inf, which the runner counts as non-finite: the
 * empty length is only drawn where lse is not an output. */
static void fwd_fixup(const kz_op_case *c, kz_host_arg *h) {
  fix_lengths(c, h, !c->p.fattn.lse);
}

kz_op_case *kz_case_attention(kz_op_case_list *l, int64_t t, int64_t d,
                              const kz_fused_attn_params *p) {
  char buf[96];
  describe(buf, sizeof buf, t, d, p);
  kz_op_case *c = kz_case_new(l, "attention", fwd_invoke, fwd_ref, "attention %s", buf);
  c->p.fattn = *p;
  add_inputs(c, t, d);
  const int64_t o_shape[2] = {p->batch * t, p->heads * d}, n_lse = p->batch * p->heads * t;
  kz_case_arg(c, "o", KZ_F32, KZ_ARG_OUT, 2, o_shape);
  if (p->lse) kz_case_arg(c, "lse", KZ_F32, KZ_ARG_OUT, 1, &n_lse);
  if (p->lengths) add_lengths(c);
  c->fixup = fwd_fixup;
  c->flops = nominal_flops(p, t, d, 4.0);
  c->bytes = 4.0 * (double)(4 * p->batch * t * p->heads * d + (p->lse ? n_lse : 0));
  c->compute_bound = true;
  return c;
}

/* ---- backward ------------------------------------------------------------------------ */

static const char *const grad_names[3] = {"dq", "dk", "dv"};

static bool wanted(const kz_op_case *c, int g) {
  return !(c->p.drop & (1u << g));
}

static kz_status bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  kz_attn_opts a = opts_of(c);
  const kz_tensor *o = tensor(c, t, "o"), *dout = tensor(c, t, "dout");
  const kz_tensor *lse = tensor(c, t, "lse"), *len = tensor(c, t, "lengths");
  if (c->p.fattn.fused)
    return kz_op_attention_bwd(s, tensor(c, t, "qkv"), o, dout, lse, len,
                               c->p.drop ? NULL : tensor(c, t, "dqkv"), &a, c->p.accumulate);
  kz_tensor *g[3];
  for (int i = 0; i < 3; ++i) g[i] = wanted(c, i) ? tensor(c, t, grad_names[i]) : NULL;
  return kz_op_attention_sep_bwd(s, tensor(c, t, "q"), tensor(c, t, "k"), tensor(c, t, "v"), o,
                                 dout, lse, len, g[0], g[1], g[2], &a, c->p.accumulate);
}

static void bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_attn_shape sh = shape_of(c, h);
  double *q, *k, *v, *g[3];
  inputs_of(c, h, &sh, &q, &k, &v);
  if (c->p.fattn.fused) {
    if (c->p.drop) return; /* nothing wanted: dqkv is an input */
    double *dqkv = host(c, h, "dqkv");
    const int64_t hd = sh.heads * sh.head_dim;
    g[0] = dqkv;
    g[1] = dqkv + hd;
    g[2] = dqkv + 2 * hd;
  } else {
    for (int i = 0; i < 3; ++i) g[i] = wanted(c, i) ? host(c, h, grad_names[i]) : NULL;
  }
  kz_ref_attention_bwd(q, k, v, host(c, h, "dout"), g[0], g[1], g[2], &sh, c->p.accumulate);
}

/* o and lse as the forward makes them for these inputs. */
static void bwd_fixup(const kz_op_case *c, kz_host_arg *h) {
  fix_lengths(c, h, true);
  kz_attn_shape sh = shape_of(c, h);
  double *q, *k, *v;
  inputs_of(c, h, &sh, &q, &k, &v);
  kz_ref_attention_fwd(q, k, v, host(c, h, "o"), host(c, h, "lse"), &sh);
}

kz_op_case *kz_case_attention_bwd(kz_op_case_list *l, int64_t t, int64_t d,
                                  const kz_fused_attn_params *p, bool acc, unsigned drop) {
  static const char *const drop_names[] = {"",       " no-dq",    " no-dk",    " no-dq,dk",
                                           " no-dv", " no-dq,dv", " no-dk,dv", " nothing wanted"};
  char buf[96];
  describe(buf, sizeof buf, t, d, p);
  kz_op_case *c = kz_case_new(l, "attention_bwd", bwd_invoke, bwd_ref, "attention_bwd %s acc=%d%s",
                              buf, acc, drop_names[drop & 7]);
  c->p.fattn = *p;
  c->p.fattn.lse = true;
  c->p.accumulate = acc;
  c->p.drop = p->fused && drop ? 7 : drop & 7;
  add_inputs(c, t, d);
  const int64_t o_shape[2] = {p->batch * t, p->heads * d}, n_lse = p->batch * p->heads * t;
  kz_case_arg(c, "o", KZ_F32, KZ_ARG_IN, 2, o_shape);
  kz_case_arg(c, "dout", KZ_F32, KZ_ARG_IN, 2, o_shape);
  kz_case_arg(c, "lse", KZ_F32, KZ_ARG_IN, 1, &n_lse);
  if (p->lengths) add_lengths(c);
  if (p->fused) {
    kz_case_arg(c, "dqkv", KZ_F32, c->p.drop ? KZ_ARG_IN : kz_grad_role(acc), 2, c->args[0].shape);
  } else {
    for (int i = 0; i < 3; ++i)
      kz_case_arg(c, grad_names[i], KZ_F32, wanted(c, i) ? kz_grad_role(acc) : KZ_ARG_IN, 2,
                  o_shape);
  }
  c->fixup = bwd_fixup;
  c->flops = nominal_flops(p, t, d, 10.0);
  c->bytes = 4.0 * (double)(8 * p->batch * t * p->heads * d + n_lse);
  c->compute_bound = true;
  return c;
}

/* ---- the table ----------------------------------------------------------------------- */

typedef struct attn_shape_case {
  int64_t b, h, t, d;
} attn_shape_case;

static kz_fused_attn_params params(const attn_shape_case *s, bool fused, bool causal, bool lengths,
                                   double dropout, bool lse) {
  return (kz_fused_attn_params){.batch = s->b,
                                .heads = s->h,
                                .scale = (float)(1.0 / sqrt((double)s->d)),
                                .causal = causal,
                                .dropout_p = dropout,
                                .dropout_key = 0x5eedfacecafe0123ULL + (uint64_t)s->t,
                                .fused = fused,
                                .lse = lse,
                                .lengths = lengths};
}

void kz_cases_attention(kz_op_case_list *l) {
  static const attn_shape_case shapes[] = {
      {1, 1, 1, 16},   /* one token */
      {2, 2, 7, 16},   /* under a tile */
      {3, 2, 33, 32},  /* GPU tile + 1 */
      {3, 2, 130, 64}, /* CPU query tile x 2 + 2, key tile + 2 */
      {2, 1, 200, 24}, /* odd D */
  };
  const int n = (int)(sizeof shapes / sizeof shapes[0]);
  for (int i = 0; i < n; ++i) {
    const attn_shape_case *s = &shapes[i];
    kz_fused_attn_params p;
    p = params(s, true, false, false, 0, true);
    kz_case_attention(l, s->t, s->d, &p);
    p = params(s, true, false, true, 0, true);
    kz_case_attention(l, s->t, s->d, &p);
    p = params(s, false, true, true, 0, false); /* with an empty row */
    kz_case_attention(l, s->t, s->d, &p);
    p = params(s, true, true, true, 0.2, true);
    kz_case_attention(l, s->t, s->d, &p);
    p = params(s, false, false, false, 0.5, true);
    kz_case_attention(l, s->t, s->d, &p);
  }
  /* A scale other than 1/sqrt(D). */
  kz_fused_attn_params p = params(&shapes[2], false, false, false, 0, true);
  p.scale = 0.7f;
  kz_case_attention(l, shapes[2].t, shapes[2].d, &p);

  for (int acc = 0; acc < 2; ++acc)
    for (int i = 0; i < n; ++i) {
      const attn_shape_case *s = &shapes[i];
      p = params(s, true, false, false, 0, true);
      kz_case_attention_bwd(l, s->t, s->d, &p, acc, 0);
      p = params(s, true, true, true, 0, true);
      kz_case_attention_bwd(l, s->t, s->d, &p, acc, 0);
      p = params(s, false, false, true, 0.2, true);
      kz_case_attention_bwd(l, s->t, s->d, &p, acc, 0);
      p = params(s, false, true, true, 0.5, true);
      kz_case_attention_bwd(l, s->t, s->d, &p, acc, 0);
    }
  /* Each gradient output left out in turn, then all three. */
  for (int acc = 0; acc < 2; ++acc) {
    p = params(&shapes[3], false, true, true, 0.2, true);
    for (unsigned drop = 1; drop <= 7; drop = drop == 4 ? 7 : drop << 1)
      kz_case_attention_bwd(l, shapes[3].t, shapes[3].d, &p, acc, drop);
  }
  p = params(&shapes[2], true, false, true, 0, true);
  kz_case_attention_bwd(l, shapes[2].t, shapes[2].d, &p, false, 7);
}

/* BERT-ish: batch 16, 4 heads of 64 (hidden 256), T 128 and 512, in the
 * fused projection layout the encoder uses. No padding mask: random lengths
 * would skip work the nominal FLOP count includes. */
void kz_bench_cases_attention(kz_op_case_list *l) {
  static const attn_shape_case shapes[] = {{16, 4, 128, 64}, {16, 4, 512, 64}};
  for (int i = 0; i < 2; ++i) {
    kz_fused_attn_params p = params(&shapes[i], true, false, false, 0, true);
    kz_case_attention(l, shapes[i].t, shapes[i].d, &p);
    kz_case_attention_bwd(l, shapes[i].t, shapes[i].d, &p, false, 0);
  }
}
