/* Linear layers, gated residual networks and gated skip connections as
 * sequences of kernels/ops.h calls (tft_blocks.h). */
#include "models/tft/tft_blocks.h"

#include <math.h>
#include <stdbool.h>

#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/tft/tft_lora.h"

#define LN_EPS 1e-5f /* torch.nn.LayerNorm's default */

kz_status kz_tft_alloc(kz_arena *a, int64_t r, int64_t c, kz_tensor *out) {
  int64_t shape[2] = {r, c > 0 ? c : 1};
  return kz_arena_tensor(a, KZ_F32, 2, shape, out);
}

kz_tensor kz_tft_view2(const kz_tensor *t, int64_t r, int64_t c) {
  return kz_tensor_view(t->data, KZ_F32, t->device, 2, r, c);
}

kz_tensor kz_tft_rows(const kz_tensor *t, int64_t r0, int64_t n) {
  const int64_t c = kz_tensor_cols(t);
  float *base = t->data ? (float *)t->data + r0 * c : NULL;
  return kz_tensor_view(base, KZ_F32, t->device, 2, n, c);
}

kz_status kz_tft_linear(kz_stream *s, const kz_tensor *x, const kz_tft_param *w,
                        const kz_tft_param *b, kz_tensor *y) {
  KZ_TRY(kz_op_matmul(s, x, &w->p, y, false, true, 1.0f, 0.0f));
  KZ_TRY(kz_op_bias_add(s, y, &b->p, y));
  return kz_tft_lora_fwd(s, x, w, y); /* the weight's LoRA adapter, if any */
}

kz_status kz_tft_linear_bwd(kz_stream *s, const kz_tensor *x, const kz_tft_param *w,
                            const kz_tft_param *b, const kz_tensor *dy, kz_tensor *dx) {
  KZ_TRY(kz_op_matmul(s, dy, x, (kz_tensor *)&w->g, true, false, 1.0f, 1.0f));
  KZ_TRY(kz_op_bias_add_bwd(s, dy, (kz_tensor *)&b->g, true));
  if (dx) KZ_TRY(kz_op_matmul(s, dy, &w->p, dx, false, false, 1.0f, 1.0f));
  return kz_tft_lora_bwd(s, x, w, dy, dx);
}

static kz_status zero(kz_stream *s, kz_tensor *t) {
  return kz_fill_bytes(s, t->data, 0, kz_tensor_bytes(t));
}

/* ---- GRN ------------------------------------------------------------------------ */

kz_status kz_tft_grn_alloc(kz_arena *a, const kz_tft_grn *g, int64_t rows, int64_t B,
                           kz_tft_drop *drop, kz_tft_grn_acts *x) {
  x->rows = rows;
  x->B = B;
  x->drop = drop;
  if (drop) {
    KZ_TRY(kz_tft_alloc(a, rows, g->hid, &x->mask));
    KZ_TRY(kz_tft_alloc(a, rows, g->hid, &x->z2d));
    KZ_TRY(kz_tft_alloc(a, rows, g->hid, &x->dd));
  }
  KZ_TRY(kz_tft_alloc(a, rows, g->hid, &x->z1));
  KZ_TRY(kz_tft_alloc(a, rows, g->hid, &x->h1));
  KZ_TRY(kz_tft_alloc(a, rows, g->hid, &x->z2));
  KZ_TRY(kz_tft_alloc(a, rows, 2 * g->out, &x->zg));
  KZ_TRY(kz_tft_alloc(a, rows, g->out, &x->g));
  if (g->in != g->out) KZ_TRY(kz_tft_alloc(a, rows, g->out, &x->skip));
  KZ_TRY(kz_tft_alloc(a, rows, g->out, &x->sum));
  KZ_TRY(kz_tft_alloc(a, rows, 1, &x->mean));
  KZ_TRY(kz_tft_alloc(a, rows, 1, &x->rstd));
  if (g->ctx > 0) {
    KZ_TRY(kz_tft_alloc(a, B, g->hid, &x->cproj));
    KZ_TRY(kz_tft_alloc(a, B, g->hid, &x->dcproj));
  }
  KZ_TRY(kz_tft_alloc(a, 2 * g->out, g->hid, &x->Wc));
  KZ_TRY(kz_tft_alloc(a, 1, 2 * g->out, &x->bc));
  KZ_TRY(kz_tft_alloc(a, 2 * g->out, g->hid, &x->M));
  KZ_TRY(kz_tft_alloc(a, 1, 2 * g->out, &x->sg));
  KZ_TRY(kz_tft_alloc(a, rows, g->out, &x->dsum));
  KZ_TRY(kz_tft_alloc(a, rows, 2 * g->out, &x->dzg));
  KZ_TRY(kz_tft_alloc(a, rows, g->hid, &x->dz2));
  KZ_TRY(kz_tft_alloc(a, rows, g->hid, &x->dh1));
  return kz_tft_alloc(a, rows, g->hid, &x->dz1);
}

/* The per-window context projection [B, hid] added to every step: rows are
 * time-major, so [rows, hid] is [rows / B, B * hid] and the context is a bias. */
static kz_tensor per_step(const kz_tensor *t, int64_t B) {
  const int64_t cols = kz_tensor_cols(t);
  return kz_tensor_view(t->data, KZ_F32, t->device, 2, kz_tensor_rows(t) / B, B * cols);
}

static kz_tensor flat(const kz_tensor *t) {
  return kz_tensor_view(t->data, KZ_F32, t->device, 1, kz_tensor_numel(t));
}

static int dropping(const kz_tft_drop *d) {
  return d && d->active && d->p > 0;
}

/* The GLU's input: x itself, or x dropped into xd (its mask saved). */
static kz_status drop_in(kz_stream *s, kz_tft_drop *d, const kz_tensor *x, kz_tensor *xd,
                         kz_tensor *mask, const kz_tensor **out) {
  *out = x;
  if (!dropping(d)) return KZ_OK;
  KZ_TRY(kz_op_dropout(s, x, xd, mask, d->p, d->key + 0x9e3779b97f4a7c15ULL * ++d->counter));
  *out = xd;
  return KZ_OK;
}

/* y = LN(skip + g), saving the sum and the statistics: the fused residual
 * layernorm (p = 0) reads both inputs once instead of an add's pass and a
 * layernorm's. Its backward adds dr into dskip (the skip path, NULL: not
 * wanted) and writes dr into dsum (zeroed first: the one accumulate flag
 * also covers the parameters' gradients, which must add). */
static kz_status add_norm(kz_stream *s, const kz_tensor *skip, const kz_tensor *g,
                          const kz_tft_param *w, const kz_tft_param *b, kz_tensor *y,
                          kz_tensor *sum, const kz_tensor *mean, const kz_tensor *rstd) {
  kz_tensor m = flat(mean), r = flat(rstd);
  return kz_op_residual_layernorm_r(s, skip, g, &w->p, &b->p, y, sum, &m, &r, 0.0, 0, LN_EPS);
}

static kz_status add_norm_bwd(kz_stream *s, const kz_tensor *dy, const kz_tensor *sum,
                              const kz_tft_param *w, const kz_tft_param *b, const kz_tensor *mean,
                              const kz_tensor *rstd, kz_tensor *dskip, kz_tensor *dsum) {
  kz_tensor m = flat(mean), r = flat(rstd);
  KZ_TRY(zero(s, dsum));
  return kz_op_residual_layernorm_bwd(s, dy, NULL, sum, &w->p, NULL, &m, &r, dskip, dsum,
                                      (kz_tensor *)&w->g, (kz_tensor *)&b->g, 0.0, 0, LN_EPS, true);
}

/* Without dropout between them (and without LoRA adapters running on them), a
 * GRN's second layer and gate run as one composed layer (composed_bwd). */
static bool composed(const kz_tft_grn *g, const kz_tft_grn_acts *x) {
  return !dropping(x->drop) && !kz_tft_lora_runs(&g->fc2_w) && !kz_tft_lora_runs(&g->gate_w);
}

kz_status kz_tft_grn_fwd(kz_stream *s, const kz_tft_grn *g, const kz_tensor *a, const kz_tensor *c,
                         kz_tensor *y, kz_tft_grn_acts *x) {
  x->a = *a;
  KZ_TRY(kz_tft_linear(s, a, &g->fc1_w, &g->fc1_b, &x->z1));
  const kz_tensor *skip = a;
  if (g->in != g->out) {
    KZ_TRY(kz_tft_linear(s, a, &g->skip_w, &g->skip_b, &x->skip));
    skip = &x->skip;
  }
  return kz_tft_grn_fwd_z1(s, g, skip, c, y, x);
}

kz_status kz_tft_grn_fwd_z1(kz_stream *s, const kz_tft_grn *g, const kz_tensor *skip,
                            const kz_tensor *c, kz_tensor *y, kz_tft_grn_acts *x) {
  if (g->ctx > 0) {
    x->c = *c;
    KZ_TRY(kz_op_matmul(s, c, &g->ctx_w.p, &x->cproj, false, true, 1.0f, 0.0f));
    KZ_TRY(kz_tft_lora_fwd(s, c, &g->ctx_w, &x->cproj));
    kz_tensor z = per_step(&x->z1, x->B), cp = flat(&x->cproj);
    KZ_TRY(kz_op_bias_add(s, &z, &cp, &z));
  }
  KZ_TRY(kz_op_elu(s, &x->z1, &x->h1, 1.0f));
  if (!composed(g, x)) {
    const kz_tensor *gin;
    KZ_TRY(kz_tft_linear(s, &x->h1, &g->fc2_w, &g->fc2_b, &x->z2));
    KZ_TRY(drop_in(s, x->drop, &x->z2, &x->z2d, &x->mask, &gin));
    KZ_TRY(kz_tft_linear(s, gin, &g->gate_w, &g->gate_b, &x->zg));
  } else {
    /* nothing between the two layers: one [2 out, hid] layer instead */
    kz_tensor b2 = kz_tft_view2(&g->fc2_b.p, g->hid, 1), bc = kz_tft_view2(&x->bc, 2 * g->out, 1);
    kz_tensor bg = kz_tft_view2(&g->gate_b.p, 1, 2 * g->out);
    KZ_TRY(kz_op_matmul(s, &g->gate_w.p, &g->fc2_w.p, &x->Wc, false, false, 1.0f, 0.0f));
    KZ_TRY(kz_op_matmul(s, &g->gate_w.p, &b2, &bc, false, false, 1.0f, 0.0f));
    KZ_TRY(kz_op_add(s, &x->bc, &bg, &x->bc));
    KZ_TRY(kz_op_matmul(s, &x->h1, &x->Wc, &x->zg, false, true, 1.0f, 0.0f));
    KZ_TRY(kz_op_bias_add(s, &x->zg, &x->bc, &x->zg));
  }
  KZ_TRY(kz_op_glu(s, &x->zg, &x->g));
  return add_norm(s, skip, &x->g, &g->norm_w, &g->norm_b, y, &x->sum, &x->mean, &x->rstd);
}

static kz_status grn_bwd_core(kz_stream *s, const kz_tft_grn *g, kz_tft_grn_acts *x,
                              const kz_tensor *dy, kz_tensor *dskip, kz_tensor *dc);

kz_status kz_tft_grn_bwd(kz_stream *s, const kz_tft_grn *g, kz_tft_grn_acts *x, const kz_tensor *dy,
                         kz_tensor *da, kz_tensor *dc) {
  KZ_TRY(grn_bwd_core(s, g, x, dy, g->in == g->out ? da : NULL, dc));
  if (g->in != g->out) KZ_TRY(kz_tft_linear_bwd(s, &x->a, &g->skip_w, &g->skip_b, &x->dsum, da));
  return kz_tft_linear_bwd(s, &x->a, &g->fc1_w, &g->fc1_b, &x->dz1, da);
}

kz_status kz_tft_grn_bwd_z1(kz_stream *s, const kz_tft_grn *g, kz_tft_grn_acts *x,
                            const kz_tensor *dy, kz_tensor *dc) {
  return grn_bwd_core(s, g, x, dy, NULL, dc);
}

/* The backward of the composed layer zg = h1 Wc^T + bc: with M = dzg^T h1
 * and sg = sum_rows dzg, z2 = h1 W_2^T + b_2 gives dW_g = M W_2^T + sg b_2^T,
 * db_g = sg, dW_2 = W_g^T M, db_2 = W_g^T sg; dh1 = dzg Wc (overwritten). */
static kz_status composed_bwd(kz_stream *s, const kz_tft_grn *g, kz_tft_grn_acts *x) {
  const int64_t o2 = 2 * g->out, hid = g->hid;
  kz_tensor sgc = kz_tft_view2(&x->sg, o2, 1), b2r = kz_tft_view2(&g->fc2_b.p, 1, hid);
  kz_tensor db2 = kz_tft_view2(&g->fc2_b.g, hid, 1), dbg = kz_tft_view2(&g->gate_b.g, 1, o2);
  kz_tensor *dWg = (kz_tensor *)&g->gate_w.g, *dW2 = (kz_tensor *)&g->fc2_w.g;
  KZ_TRY(kz_op_matmul(s, &x->dzg, &x->h1, &x->M, true, false, 1.0f, 0.0f));
  KZ_TRY(kz_op_bias_add_bwd(s, &x->dzg, &x->sg, false));
  KZ_TRY(kz_op_matmul(s, &x->M, &g->fc2_w.p, dWg, false, true, 1.0f, 1.0f));
  KZ_TRY(kz_op_matmul(s, &sgc, &b2r, dWg, false, false, 1.0f, 1.0f));
  KZ_TRY(kz_op_add(s, &dbg, &x->sg, &dbg));
  KZ_TRY(kz_op_matmul(s, &g->gate_w.p, &x->M, dW2, true, false, 1.0f, 1.0f));
  KZ_TRY(kz_op_matmul(s, &g->gate_w.p, &sgc, &db2, true, false, 1.0f, 1.0f));
  return kz_op_matmul(s, &x->dzg, &x->Wc, &x->dh1, false, false, 1.0f, 0.0f);
}

/* Everything but the first layer and the skip projection; dskip (nullable)
 * receives the skip input's gradient when the skip is the identity. */
static kz_status grn_bwd_core(kz_stream *s, const kz_tft_grn *g, kz_tft_grn_acts *x,
                              const kz_tensor *dy, kz_tensor *dskip, kz_tensor *dc) {
  KZ_TRY(add_norm_bwd(s, dy, &x->sum, &g->norm_w, &g->norm_b, &x->mean, &x->rstd, dskip, &x->dsum));
  KZ_TRY(kz_op_glu_bwd(s, &x->zg, &x->dsum, &x->dzg, false));
  if (!composed(g, x)) {
    KZ_TRY(zero(s, &x->dz2));
    if (dropping(x->drop)) {
      KZ_TRY(kz_tft_linear_bwd(s, &x->z2d, &g->gate_w, &g->gate_b, &x->dzg, &x->dz2));
      KZ_TRY(kz_op_dropout_bwd(s, &x->dz2, &x->mask, &x->dz2, false));
    } else {
      KZ_TRY(kz_tft_linear_bwd(s, &x->z2, &g->gate_w, &g->gate_b, &x->dzg, &x->dz2));
    }
    KZ_TRY(zero(s, &x->dh1));
    KZ_TRY(kz_tft_linear_bwd(s, &x->h1, &g->fc2_w, &g->fc2_b, &x->dz2, &x->dh1));
  } else {
    KZ_TRY(composed_bwd(s, g, x));
  }
  KZ_TRY(kz_op_elu_bwd(s, &x->z1, &x->dh1, &x->dz1, 1.0f, false));
  if (g->ctx > 0) {
    kz_tensor dz = per_step(&x->dz1, x->B), dcp = flat(&x->dcproj);
    KZ_TRY(kz_op_bias_add_bwd(s, &dz, &dcp, false));
    KZ_TRY(kz_op_matmul(s, &x->dcproj, &x->c, (kz_tensor *)&g->ctx_w.g, true, false, 1.0f, 1.0f));
    if (dc) KZ_TRY(kz_op_matmul(s, &x->dcproj, &g->ctx_w.p, dc, false, false, 1.0f, 1.0f));
    KZ_TRY(kz_tft_lora_bwd(s, &x->c, &g->ctx_w, &x->dcproj, dc));
  }
  return KZ_OK;
}

/* ---- gated skip connection --------------------------------------------------------- */

kz_status kz_tft_gate_alloc(kz_arena *a, const kz_tft_gate *g, int64_t rows, kz_tft_drop *drop,
                            kz_tft_gate_acts *x) {
  x->rows = rows;
  x->drop = drop;
  if (drop) {
    KZ_TRY(kz_tft_alloc(a, rows, g->in, &x->mask));
    KZ_TRY(kz_tft_alloc(a, rows, g->in, &x->xd));
    KZ_TRY(kz_tft_alloc(a, rows, g->in, &x->dd));
  }
  KZ_TRY(kz_tft_alloc(a, rows, 2 * g->out, &x->zg));
  KZ_TRY(kz_tft_alloc(a, rows, g->out, &x->g));
  KZ_TRY(kz_tft_alloc(a, rows, g->out, &x->sum));
  KZ_TRY(kz_tft_alloc(a, rows, 1, &x->mean));
  KZ_TRY(kz_tft_alloc(a, rows, 1, &x->rstd));
  KZ_TRY(kz_tft_alloc(a, rows, g->out, &x->dsum));
  return kz_tft_alloc(a, rows, 2 * g->out, &x->dzg);
}

kz_status kz_tft_gate_fwd(kz_stream *s, const kz_tft_gate *g, const kz_tensor *x,
                          const kz_tensor *skip, kz_tensor *y, kz_tft_gate_acts *a) {
  a->x = *x;
  const kz_tensor *gin;
  KZ_TRY(drop_in(s, a->drop, x, &a->xd, &a->mask, &gin));
  KZ_TRY(kz_tft_linear(s, gin, &g->gate_w, &g->gate_b, &a->zg));
  KZ_TRY(kz_op_glu(s, &a->zg, &a->g));
  return add_norm(s, skip, &a->g, &g->norm_w, &g->norm_b, y, &a->sum, &a->mean, &a->rstd);
}

kz_status kz_tft_gate_bwd(kz_stream *s, const kz_tft_gate *g, kz_tft_gate_acts *a,
                          const kz_tensor *dy, kz_tensor *dx, kz_tensor *dskip) {
  KZ_TRY(add_norm_bwd(s, dy, &a->sum, &g->norm_w, &g->norm_b, &a->mean, &a->rstd, dskip, &a->dsum));
  KZ_TRY(kz_op_glu_bwd(s, &a->zg, &a->dsum, &a->dzg, false));
  if (!dropping(a->drop)) return kz_tft_linear_bwd(s, &a->x, &g->gate_w, &g->gate_b, &a->dzg, dx);
  /* dx gets the masked gradient of the dropped input, added */
  KZ_TRY(zero(s, &a->dd));
  KZ_TRY(kz_tft_linear_bwd(s, &a->xd, &g->gate_w, &g->gate_b, &a->dzg, &a->dd));
  return dx ? kz_op_dropout_bwd(s, &a->dd, &a->mask, dx, true) : KZ_OK;
}
