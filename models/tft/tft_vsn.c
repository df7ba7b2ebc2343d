/* Variable selection network: each variable embedded (real: Linear(1, d);
 * categorical: a table), passed through its own GRN, and the results
 * weighted by a softmax over a GRN of all embeddings (with the static
 * context). Variables are laid out variable-major ([V, rows, d]) so each is
 * a slice; one permute gives the row-major [rows, V * d] the selection GRN
 * and the weighted sum (a batched [1, V] x [V, d] matmul per row) need.
 *
 * First layers through the embeddings. When every variable is real, its
 * embedding e_i = x_i w_i^T + b_i is rank one, so each first layer that reads
 * embeddings is folded into it: the variable's GRN has z1 = x_i u_i^T + c_i
 * with [u_i; W_1 b_i] = [w_i; b_i] W_1^T, and the selection GRN, whose input
 * is the concatenation E = [e_1 .. e_n] = [x_1 .. x_n, 1] Wbig (Wbig
 * [n + 1, n d]: row i holds w_i in block i, row n all the b_i), has
 * z1 = [X, 1] (Wbig W_1^T) and skip = [X, 1] (Wbig W_s^T). The same
 * identities give the backward: with GA = [X, 1]^T dz1, dW_1 += GA^T Wbig,
 * and the embeddings' gradients come from GA W_1 (plus the skip's share).
 * That removes the GEMMs over the n d wide concatenation and each variable's
 * d x d first layer (a quarter of the TFT's FLOPs at hidden 64) and the
 * permute that built the concatenation; the products are the same sums in
 * another order. Categorical variables keep the general path. */
#include <math.h>
#include <stdbool.h>

#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/tft/tft_blocks.h"
#include "models/tft/tft_lora.h"

static const int swap01[3] = {1, 0, 2};

static kz_tensor v3(const kz_tensor *t, int64_t a, int64_t b, int64_t c) {
  return kz_tensor_view(t->data, KZ_F32, t->device, 3, a, b, c);
}

static kz_tensor var_slice(const kz_tensor *t, int64_t i, int64_t rows, int64_t d) {
  float *base = t->data ? (float *)t->data + i * rows * d : NULL;
  return kz_tensor_view(base, KZ_F32, t->device, 2, rows, d);
}

kz_status kz_tft_vsn_alloc(kz_arena *a, const kz_tft_vsn *v, int64_t rows, int64_t B, int64_t d,
                           kz_tft_drop *drop, kz_tft_vsn_acts *x) {
  const int64_t n = v->n;
  x->rows = rows;
  x->B = B;
  KZ_TRY(kz_tft_alloc(a, n * rows, d, &x->E));
  KZ_TRY(kz_tft_alloc(a, rows, n * d, &x->flat));
  KZ_TRY(kz_tft_alloc(a, n * rows, d, &x->Y));
  KZ_TRY(kz_tft_alloc(a, rows, n * d, &x->Et));
  KZ_TRY(kz_tft_alloc(a, rows, n, &x->logits));
  KZ_TRY(kz_tft_alloc(a, rows, n, &x->w));
  for (int64_t i = 0; i < n; i++)
    KZ_TRY(kz_tft_grn_alloc(a, &v->var[i], rows, B, drop, &x->var[i]));
  KZ_TRY(kz_tft_grn_alloc(a, &v->flat, rows, B, drop, &x->sel));
  KZ_TRY(kz_tft_alloc(a, n * rows, d, &x->dE));
  KZ_TRY(kz_tft_alloc(a, rows, n * d, &x->dflat));
  KZ_TRY(kz_tft_alloc(a, n * rows, d, &x->dY));
  KZ_TRY(kz_tft_alloc(a, rows, n * d, &x->dEt));
  KZ_TRY(kz_tft_alloc(a, rows, n, &x->dlogits));
  KZ_TRY(kz_tft_alloc(a, rows, n, &x->dw));
  KZ_TRY(kz_tft_alloc(a, 2 * n, d, &x->P));
  KZ_TRY(kz_tft_alloc(a, n, d, &x->cv));
  KZ_TRY(kz_tft_alloc(a, n + 1, n * d, &x->Wbig));
  KZ_TRY(kz_tft_alloc(a, n + 1, d, &x->Pf));
  KZ_TRY(kz_tft_alloc(a, n + 1, n, &x->Ps));
  KZ_TRY(kz_tft_alloc(a, 1, d, &x->cf));
  KZ_TRY(kz_tft_alloc(a, 1, n, &x->cs));
  KZ_TRY(kz_tft_alloc(a, n + 1, d, &x->GA));
  KZ_TRY(kz_tft_alloc(a, n + 1, n, &x->GS));
  KZ_TRY(kz_tft_alloc(a, n + 1, n * d, &x->dWbig));
  KZ_TRY(kz_tft_alloc(a, 2, d, &x->SR));
  return kz_tft_alloc(a, 2, d, &x->tmp);
}

/* [w_i; b_i] as one [2, d] view: Linear(1, d)'s weight and bias sit next to
 * each other in the parameter (and gradient) block. */
static kz_tensor wb(const kz_tensor *w, int64_t d) {
  return kz_tensor_view(w->data, KZ_F32, w->device, 2, 2, d);
}

static kz_tensor row(const kz_tensor *t, int64_t r) {
  return kz_tft_rows(t, r, 1);
}

/* The fold applies when every input is real, the inputs are the rows of one
 * [n, rows] block, each w_i is followed by its b_i, the selection GRN
 * projects its skip (n d != n), and no folded layer has a LoRA adapter. */
static bool rank_one(const kz_tft_vsn *v, const kz_tft_vsn_acts *x, int64_t d) {
  const int64_t n = v->n;
  if (n < 1 || v->n_real != n || v->flat.in != n * d || v->flat.in == v->flat.out) return false;
  /* LoRA adapters on the folded layers would have to be folded too */
  if (kz_tft_lora_runs(&v->flat.fc1_w) || kz_tft_lora_runs(&v->flat.skip_w)) return false;
  for (int64_t i = 0; i < n; i++) {
    if (kz_tft_lora_runs(&v->emb_w[i]) || kz_tft_lora_runs(&v->var[i].fc1_w)) return false;
    if (x->x[i].data != (const float *)x->x[0].data + i * x->rows) return false;
    if (v->emb_b[i].p.data != (const float *)v->emb_w[i].p.data + d ||
        v->emb_b[i].g.data != (const float *)v->emb_w[i].g.data + d)
      return false;
  }
  return true;
}

/* The variables' GRNs and the selection GRN's first layers (see the top). */
static kz_status rank_one_fwd(kz_stream *s, const kz_tft_vsn *v, kz_tft_vsn_acts *x,
                              const kz_tensor *c, int64_t d) {
  const int64_t n = v->n, rows = x->rows;
  kz_tensor X = kz_tensor_view(x->x[0].data, KZ_F32, x->x[0].device, 2, n, rows);
  for (int64_t i = 0; i < n; i++) {
    kz_tensor e = var_slice(&x->E, i, rows, d), y = var_slice(&x->Y, i, rows, d);
    KZ_TRY(kz_tft_linear(s, &x->x[i], &v->emb_w[i], &v->emb_b[i], &e));
    const kz_tft_grn *g = &v->var[i];
    kz_tensor WB = wb(&v->emb_w[i].p, d), Pi = kz_tft_rows(&x->P, 2 * i, 2);
    kz_tensor u = row(&Pi, 0), wb1 = row(&Pi, 1), ci = row(&x->cv, i);
    kz_tensor b1 = kz_tft_view2(&g->fc1_b.p, 1, d);
    KZ_TRY(kz_op_matmul(s, &WB, &g->fc1_w.p, &Pi, false, true, 1.0f, 0.0f));
    KZ_TRY(kz_op_add(s, &wb1, &b1, &ci));
    KZ_TRY(kz_op_matmul(s, &x->x[i], &u, &x->var[i].z1, false, false, 1.0f, 0.0f));
    KZ_TRY(kz_op_bias_add(s, &x->var[i].z1, &ci, &x->var[i].z1));
    KZ_TRY(kz_tft_grn_fwd_z1(s, g, &e, NULL, &y, &x->var[i]));
  }
  /* selection GRN: Wbig, then its first layer and skip through it */
  const kz_tft_grn *f = &v->flat;
  kz_tft_grn_acts *fa = &x->sel;
  KZ_TRY(kz_fill_bytes(s, x->Wbig.data, 0, kz_tensor_bytes(&x->Wbig)));
  kz_tensor wlast = row(&x->Wbig, n);
  for (int64_t i = 0; i < n; i++) {
    kz_tensor wi = kz_tft_view2(&v->emb_w[i].p, 1, d), bi = kz_tft_view2(&v->emb_b[i].p, 1, d);
    kz_tensor wrow = row(&x->Wbig, i);
    KZ_TRY(kz_op_copy_cols(s, &wi, 0, &wrow, i * d, d));
    KZ_TRY(kz_op_copy_cols(s, &bi, 0, &wlast, i * d, d));
  }
  KZ_TRY(kz_op_matmul(s, &x->Wbig, &f->fc1_w.p, &x->Pf, false, true, 1.0f, 0.0f));
  KZ_TRY(kz_op_matmul(s, &x->Wbig, &f->skip_w.p, &x->Ps, false, true, 1.0f, 0.0f));
  kz_tensor pf_last = row(&x->Pf, n), ps_last = row(&x->Ps, n);
  kz_tensor b1 = kz_tft_view2(&f->fc1_b.p, 1, d), bs = kz_tft_view2(&f->skip_b.p, 1, n);
  KZ_TRY(kz_op_add(s, &pf_last, &b1, &x->cf));
  KZ_TRY(kz_op_add(s, &ps_last, &bs, &x->cs));
  kz_tensor pf = kz_tft_rows(&x->Pf, 0, n), ps = kz_tft_rows(&x->Ps, 0, n);
  KZ_TRY(kz_op_matmul(s, &X, &pf, &fa->z1, true, false, 1.0f, 0.0f));
  KZ_TRY(kz_op_bias_add(s, &fa->z1, &x->cf, &fa->z1));
  KZ_TRY(kz_op_matmul(s, &X, &ps, &fa->skip, true, false, 1.0f, 0.0f));
  KZ_TRY(kz_op_bias_add(s, &fa->skip, &x->cs, &fa->skip));
  return kz_tft_grn_fwd_z1(s, f, &fa->skip, c, &x->logits, fa);
}

/* [X, 1]^T dz for dz [rows, m] into out [n + 1, m]. */
static kz_status xa_t(kz_stream *s, const kz_tensor *X, const kz_tensor *dz, kz_tensor *out,
                      int64_t n) {
  kz_tensor top = kz_tft_rows(out, 0, n), last = row(out, n);
  KZ_TRY(kz_op_matmul(s, X, dz, &top, false, false, 1.0f, 0.0f));
  return kz_op_bias_add_bwd(s, dz, &last, false);
}

static kz_status rank_one_bwd_sel(kz_stream *s, const kz_tft_vsn *v, kz_tft_vsn_acts *x,
                                  kz_tensor *dc, int64_t d) {
  const int64_t n = v->n, rows = x->rows;
  const kz_tft_grn *f = &v->flat;
  kz_tft_grn_acts *fa = &x->sel;
  kz_tensor X = kz_tensor_view(x->x[0].data, KZ_F32, x->x[0].device, 2, n, rows);
  KZ_TRY(kz_tft_grn_bwd_z1(s, f, fa, &x->dlogits, dc));
  KZ_TRY(xa_t(s, &X, &fa->dz1, &x->GA, n));
  KZ_TRY(xa_t(s, &X, &fa->dsum, &x->GS, n));
  KZ_TRY(kz_op_matmul(s, &x->GA, &x->Wbig, (kz_tensor *)&f->fc1_w.g, true, false, 1.0f, 1.0f));
  KZ_TRY(kz_op_matmul(s, &x->GS, &x->Wbig, (kz_tensor *)&f->skip_w.g, true, false, 1.0f, 1.0f));
  kz_tensor ga_last = row(&x->GA, n), gs_last = row(&x->GS, n);
  kz_tensor db1 = kz_tft_view2(&f->fc1_b.g, 1, d), dbs = kz_tft_view2(&f->skip_b.g, 1, n);
  KZ_TRY(kz_op_add(s, &db1, &ga_last, &db1));
  KZ_TRY(kz_op_add(s, &dbs, &gs_last, &dbs));
  /* d Wbig = [X, 1]^T dE = GA W_1 + GS W_s; block i of rows i and n are
   * d w_i and d b_i */
  KZ_TRY(kz_op_matmul(s, &x->GA, &f->fc1_w.p, &x->dWbig, false, false, 1.0f, 0.0f));
  KZ_TRY(kz_op_matmul(s, &x->GS, &f->skip_w.p, &x->dWbig, false, false, 1.0f, 1.0f));
  kz_tensor dlast = row(&x->dWbig, n), t0 = row(&x->tmp, 0), t1 = row(&x->tmp, 1);
  for (int64_t i = 0; i < n; i++) {
    kz_tensor drow = row(&x->dWbig, i), dWB = wb(&v->emb_w[i].g, d);
    KZ_TRY(kz_op_copy_cols(s, &drow, i * d, &t0, 0, d));
    KZ_TRY(kz_op_copy_cols(s, &dlast, i * d, &t1, 0, d));
    KZ_TRY(kz_op_add(s, &dWB, &x->tmp, &dWB));
  }
  return KZ_OK;
}

/* Variable i's GRN from dY_i: its first layer through the embedding, then
 * the embedding's own gradient from the skip path. */
static kz_status rank_one_bwd_var(kz_stream *s, const kz_tft_vsn *v, kz_tft_vsn_acts *x, int64_t i,
                                  const kz_tensor *dy, int64_t d) {
  const kz_tft_grn *g = &v->var[i];
  kz_tft_grn_acts *ga = &x->var[i];
  KZ_TRY(kz_tft_grn_bwd_z1(s, g, ga, dy, NULL));
  /* SR = [x_i, 1]^T dz1 */
  kz_tensor s0 = row(&x->SR, 0), s1 = row(&x->SR, 1);
  KZ_TRY(kz_op_matmul(s, &x->x[i], &ga->dz1, &s0, true, false, 1.0f, 0.0f));
  KZ_TRY(kz_op_bias_add_bwd(s, &ga->dz1, &s1, false));
  kz_tensor WB = wb(&v->emb_w[i].p, d), dWB = wb(&v->emb_w[i].g, d);
  kz_tensor db1 = kz_tft_view2(&g->fc1_b.g, 1, d);
  KZ_TRY(kz_op_matmul(s, &x->SR, &WB, (kz_tensor *)&g->fc1_w.g, true, false, 1.0f, 1.0f));
  KZ_TRY(kz_op_add(s, &db1, &s1, &db1));
  KZ_TRY(kz_op_matmul(s, &x->SR, &g->fc1_w.p, &dWB, false, false, 1.0f, 1.0f));
  return kz_tft_linear_bwd(s, &x->x[i], &v->emb_w[i], &v->emb_b[i], &ga->dsum, NULL);
}

static kz_status select_sum(kz_stream *s, kz_tft_vsn_acts *x, kz_tensor *out, int64_t n,
                            int64_t rows, int64_t d);

kz_status kz_tft_vsn_fwd(kz_stream *s, const kz_tft_vsn *v, kz_tft_vsn_acts *x, const kz_tensor *c,
                         kz_tensor *out) {
  const int64_t n = v->n, rows = x->rows, d = kz_tensor_cols(out);
  kz_tensor Y3 = v3(&x->Y, n, rows, d), Et3 = v3(&x->Et, rows, n, d);
  if (rank_one(v, x, d)) {
    KZ_TRY(rank_one_fwd(s, v, x, c, d));
    KZ_TRY(kz_op_permute(s, &Y3, &Et3, swap01));
    return select_sum(s, x, out, n, rows, d);
  }
  for (int64_t i = 0; i < n; i++) {
    kz_tensor e = var_slice(&x->E, i, rows, d);
    if (i < v->n_real)
      KZ_TRY(kz_tft_linear(s, &x->x[i], &v->emb_w[i], &v->emb_b[i], &e));
    else
      KZ_TRY(kz_op_embedding(s, &x->x[i], &v->emb_w[i].p, &e));
  }
  kz_tensor E3 = v3(&x->E, n, rows, d), flat3 = v3(&x->flat, rows, n, d);
  KZ_TRY(kz_op_permute(s, &E3, &flat3, swap01));
  for (int64_t i = 0; i < n; i++) {
    kz_tensor e = var_slice(&x->E, i, rows, d), y = var_slice(&x->Y, i, rows, d);
    KZ_TRY(kz_tft_grn_fwd(s, &v->var[i], &e, NULL, &y, &x->var[i]));
  }
  KZ_TRY(kz_op_permute(s, &Y3, &Et3, swap01));
  KZ_TRY(kz_tft_grn_fwd(s, &v->flat, &x->flat, c, &x->logits, &x->sel));
  return select_sum(s, x, out, n, rows, d);
}

/* Softmax over the selection logits, then the weighted sum of the
 * variables' GRN outputs. */
static kz_status select_sum(kz_stream *s, kz_tft_vsn_acts *x, kz_tensor *out, int64_t n,
                            int64_t rows, int64_t d) {
  kz_tensor Et3 = v3(&x->Et, rows, n, d);
  kz_tensor l4 = kz_tensor_view(x->logits.data, KZ_F32, x->logits.device, 4, rows, 1, 1, n);
  kz_tensor w4 = kz_tensor_view(x->w.data, KZ_F32, x->w.device, 4, rows, 1, 1, n);
  KZ_TRY(kz_op_softmax(s, &l4, &w4, NULL, 1.0f, false));
  kz_tensor w3 = v3(&x->w, rows, 1, n), o3 = v3(out, rows, 1, d);
  return kz_op_matmul(s, &w3, &Et3, &o3, false, false, 1.0f, 0.0f);
}

kz_status kz_tft_vsn_bwd(kz_stream *s, const kz_tft_vsn *v, kz_tft_vsn_acts *x,
                         const kz_tensor *dout, kz_tensor *dc) {
  const int64_t n = v->n, rows = x->rows, d = kz_tensor_cols(dout);
  kz_tensor do3 = v3(dout, rows, 1, d), Et3 = v3(&x->Et, rows, n, d), w3 = v3(&x->w, rows, 1, n);
  kz_tensor dw3 = v3(&x->dw, rows, 1, n), dEt3 = v3(&x->dEt, rows, n, d);
  KZ_TRY(kz_op_matmul(s, &do3, &Et3, &dw3, false, true, 1.0f, 0.0f));
  KZ_TRY(kz_op_matmul(s, &w3, &do3, &dEt3, true, false, 1.0f, 0.0f));
  kz_tensor w4 = kz_tensor_view(x->w.data, KZ_F32, x->w.device, 4, rows, 1, 1, n);
  kz_tensor dw4 = kz_tensor_view(x->dw.data, KZ_F32, x->dw.device, 4, rows, 1, 1, n);
  kz_tensor dl4 = kz_tensor_view(x->dlogits.data, KZ_F32, x->dlogits.device, 4, rows, 1, 1, n);
  KZ_TRY(kz_op_softmax_bwd(s, &w4, &dw4, &dl4, NULL, 1.0f, false, false));
  if (rank_one(v, x, d)) {
    kz_tensor dY3 = v3(&x->dY, n, rows, d);
    KZ_TRY(rank_one_bwd_sel(s, v, x, dc, d));
    KZ_TRY(kz_op_permute_bwd(s, &dEt3, &dY3, swap01, false));
    for (int64_t i = 0; i < n; i++) {
      kz_tensor dy = var_slice(&x->dY, i, rows, d);
      KZ_TRY(rank_one_bwd_var(s, v, x, i, &dy, d));
    }
    return KZ_OK;
  }
  KZ_TRY(kz_fill_bytes(s, x->dflat.data, 0, kz_tensor_bytes(&x->dflat)));
  KZ_TRY(kz_tft_grn_bwd(s, &v->flat, &x->sel, &x->dlogits, &x->dflat, dc));
  kz_tensor dY3 = v3(&x->dY, n, rows, d), dE3 = v3(&x->dE, n, rows, d);
  kz_tensor dflat3 = v3(&x->dflat, rows, n, d);
  KZ_TRY(kz_op_permute_bwd(s, &dEt3, &dY3, swap01, false));
  KZ_TRY(kz_op_permute_bwd(s, &dflat3, &dE3, swap01, false));
  for (int64_t i = 0; i < n; i++) {
    kz_tensor dy = var_slice(&x->dY, i, rows, d), de = var_slice(&x->dE, i, rows, d);
    KZ_TRY(kz_tft_grn_bwd(s, &v->var[i], &x->var[i], &dy, &de, NULL));
    if (i < v->n_real)
      KZ_TRY(kz_tft_linear_bwd(s, &x->x[i], &v->emb_w[i], &v->emb_b[i], &de, NULL));
    else
      KZ_TRY(kz_op_embedding_bwd(s, &x->x[i], &de, (kz_tensor *)&v->emb_w[i].g, true));
  }
  return KZ_OK;
}
