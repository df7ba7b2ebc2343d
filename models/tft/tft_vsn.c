/* Variable selection network: each variable embedded (real: Linear(1, d);
 * categorical: a table), passed through its own GRN, and the results
 * weighted by a softmax over a GRN of all embeddings (with the static
 * context). Variables are laid out variable-major ([V, rows, d]) so each is
 * a slice; one permute gives the row-major [rows, V * d] the selection GRN
 * and the weighted sum (a batched [1, V] x [V, d] matmul per row) need. */
#include <math.h>

#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/tft/tft_blocks.h"

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
  return kz_tft_alloc(a, rows, n, &x->dw);
}

kz_status kz_tft_vsn_fwd(kz_stream *s, const kz_tft_vsn *v, kz_tft_vsn_acts *x, const kz_tensor *c,
                         kz_tensor *out) {
  const int64_t n = v->n, rows = x->rows, d = kz_tensor_cols(out);
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
  kz_tensor Y3 = v3(&x->Y, n, rows, d), Et3 = v3(&x->Et, rows, n, d);
  KZ_TRY(kz_op_permute(s, &Y3, &Et3, swap01));
  KZ_TRY(kz_tft_grn_fwd(s, &v->flat, &x->flat, c, &x->logits, &x->sel));
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
