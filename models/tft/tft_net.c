/* The TFT network on one batch of windows: forward, quantile loss and
 * backward as a sequence of kernels/ops.h calls (tft_net.h). The host only
 * uploads the batch and reads back losses and forecasts.
 *
 *   static VSN -> cs; four context GRNs (selection, enrichment, h0, c0)
 *   past VSN (k steps) | future VSN (tau steps) -> xi [T*B, d]
 *   LSTM encoder (k steps, from h0, c0) then decoder (tau steps) -> hs
 *   phi = gate(hs, skip xi); theta = GRN(phi, enrichment context)
 *   interpretable attention: decoder queries over all T keys, per-head Q
 *   and K, one V, heads averaged, causal (softmax op: bottom-right aligned,
 *   masked keys skipped, no fill value) -> att
 *   delta = gate(att, skip theta_dec); psi = GRN(delta);
 *   out = gate(psi, skip phi_dec); forecasts = out W^T + b [tau*B, Q]
 *
 * The attention is composed from existing ops (matmul, permute, softmax):
 * averaging the heads' probabilities before the one shared V is a [1, H]
 * matmul over [H, tau*T], so a fused kernel would save little at these
 * sizes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/tft/tft_blocks.h"
#include "models/tft/tft_lora.h"
#include "models/tft/tft_net.h"

typedef struct acts {
  int64_t B;
  kz_tensor s_real, s_cat, past, fut, y, q, ones; /* uploaded inputs, quantiles, 1/H ones */
  kz_tensor past_cat, fut_cat;                    /* i32 codes, "unknown" mapped to card */
  kz_tft_vsn_acts vs, vp, vf;
  kz_tensor cs;                     /* [B, d] static embedding (zeros w/o statics) */
  kz_tensor c_sel, c_enr, c_h, c_c; /* [B, d] */
  kz_tft_grn_acts g_sel, g_enr, g_h, g_c;
  kz_tensor xi, G, hs, cs_all; /* [T*B, d], [T*B, 4d], [T*B, d] x2 */
  kz_tft_gate_acts gl;
  kz_tensor phi;
  kz_tft_grn_acts ge;
  kz_tensor theta;
  kz_tensor Q, K, V, Qp, Kp, Vp, S, A, Abar, Op, O, att;
  kz_tft_gate_acts ga;
  kz_tensor delta;
  kz_tft_grn_acts gp;
  kz_tensor psi;
  kz_tft_gate_acts go;
  kz_tensor out, pred, losses, wq; /* wq: per-element loss weights (b->w) */
  /* gradients */
  kz_tensor d_pred, d_out, d_psi, d_delta, d_att, d_O, d_Op, d_Abar, d_A, d_S, d_Qp, d_Kp, d_Vp;
  kz_tensor d_Q, d_K, d_V, d_theta, d_phi, d_hs, d_G, d_xi, d_dc[2];
  kz_tensor d_cs, d_sel, d_enr, d_h, d_c;
} acts;

struct kz_tft_net {
  kz_tft_dims dm;
  kz_device dev;
  kz_stream *s;
  kz_tensor params, grads;
  int64_t n_params;
  kz_tft_params p;
  kz_tft_names names;
  kz_tft_drop drop;
  kz_tft_lora *lora; /* model.lora's adapters (tft_lora.h), NULL without */
  kz_arena *arena;
  int64_t arena_B;
  acts x;
  float *host; /* staging for uploads and read-backs */
  size_t host_cap;
};

static kz_tensor t3(const kz_tensor *t, int64_t a, int64_t b, int64_t c) {
  return kz_tensor_view(t->data, t->dtype, t->device, 3, a, b, c);
}
static kz_tensor t4(const kz_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d) {
  return kz_tensor_view(t->data, t->dtype, t->device, 4, a, b, c, d);
}
static kz_status zero(kz_stream *s, kz_tensor *t) {
  return kz_fill_bytes(s, t->data, 0, kz_tensor_bytes(t));
}

static int64_t n_past(const kz_tft_dims *dm) {
  return 1 + dm->n_observed + dm->n_known;
}
static int64_t n_past_cat(const kz_tft_dims *dm) {
  return dm->n_observed_cat + dm->n_known_cat;
}

static kz_status alloc_acts(kz_tft_net *n, kz_arena *a, int64_t B, acts *x) {
  const kz_tft_dims *dm = &n->dm;
  const int64_t d = dm->d, H = dm->heads, dh = d / H, k = dm->k, tau = dm->tau, T = k + tau;
  const int64_t Q = dm->n_quantiles, ns = dm->n_static_real + dm->n_static_cat;
  memset(x, 0, sizeof *x);
  x->B = B;
  kz_tft_drop *D = n->drop.p > 0 ? &n->drop : NULL;
  KZ_TRY(kz_tft_alloc(a, B, dm->n_static_real, &x->s_real));
  int64_t sc[1] = {B * (dm->n_static_cat > 0 ? dm->n_static_cat : 1)};
  KZ_TRY(kz_arena_tensor(a, KZ_I32, 1, sc, &x->s_cat));
  KZ_TRY(kz_tft_alloc(a, n_past(dm) * k, B, &x->past));
  KZ_TRY(kz_tft_alloc(a, dm->n_known * tau, B, &x->fut));
  int64_t npc[1] = {(n_past_cat(dm) > 0 ? n_past_cat(dm) : 1) * k * B};
  int64_t nfc[1] = {(dm->n_known_cat > 0 ? dm->n_known_cat : 1) * tau * B};
  KZ_TRY(kz_arena_tensor(a, KZ_I32, 1, npc, &x->past_cat));
  KZ_TRY(kz_arena_tensor(a, KZ_I32, 1, nfc, &x->fut_cat));
  int64_t ny[1] = {tau * B}, nq[1] = {Q}, nh[2] = {1, H};
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 1, ny, &x->y));
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 1, nq, &x->q));
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 2, nh, &x->ones));
  if (ns > 0) KZ_TRY(kz_tft_vsn_alloc(a, &n->p.vs, B, B, d, D, &x->vs));
  KZ_TRY(kz_tft_vsn_alloc(a, &n->p.vp, k * B, B, d, D, &x->vp));
  KZ_TRY(kz_tft_vsn_alloc(a, &n->p.vf, tau * B, B, d, D, &x->vf));
  kz_tensor *bd[] = {&x->cs,    &x->c_sel, &x->c_enr, &x->c_h, &x->c_c,     &x->d_cs,
                     &x->d_sel, &x->d_enr, &x->d_h,   &x->d_c, &x->d_dc[0], &x->d_dc[1]};
  for (size_t i = 0; i < sizeof bd / sizeof bd[0]; i++) KZ_TRY(kz_tft_alloc(a, B, d, bd[i]));
  KZ_TRY(kz_tft_grn_alloc(a, &n->p.ctx_sel, B, B, D, &x->g_sel));
  KZ_TRY(kz_tft_grn_alloc(a, &n->p.ctx_enr, B, B, D, &x->g_enr));
  KZ_TRY(kz_tft_grn_alloc(a, &n->p.ctx_h, B, B, D, &x->g_h));
  KZ_TRY(kz_tft_grn_alloc(a, &n->p.ctx_c, B, B, D, &x->g_c));
  kz_tensor *td[] = {&x->xi,      &x->hs,    &x->cs_all, &x->phi, &x->theta,
                     &x->d_theta, &x->d_phi, &x->d_hs,   &x->d_xi};
  for (size_t i = 0; i < sizeof td / sizeof td[0]; i++) KZ_TRY(kz_tft_alloc(a, T * B, d, td[i]));
  KZ_TRY(kz_tft_alloc(a, T * B, 4 * d, &x->G));
  KZ_TRY(kz_tft_alloc(a, T * B, 4 * d, &x->d_G));
  KZ_TRY(kz_tft_gate_alloc(a, &n->p.gate_lstm, T * B, D, &x->gl));
  KZ_TRY(kz_tft_grn_alloc(a, &n->p.enrich, T * B, B, D, &x->ge));
  /* attention */
  KZ_TRY(kz_tft_alloc(a, tau * B, H * dh, &x->Q));
  KZ_TRY(kz_tft_alloc(a, T * B, H * dh, &x->K));
  KZ_TRY(kz_tft_alloc(a, T * B, dh, &x->V));
  KZ_TRY(kz_tft_alloc(a, tau * B, H * dh, &x->Qp));
  KZ_TRY(kz_tft_alloc(a, T * B, H * dh, &x->Kp));
  KZ_TRY(kz_tft_alloc(a, T * B, dh, &x->Vp));
  KZ_TRY(kz_tft_alloc(a, B * H * tau, T, &x->S));
  KZ_TRY(kz_tft_alloc(a, B * H * tau, T, &x->A));
  KZ_TRY(kz_tft_alloc(a, B * tau, T, &x->Abar));
  KZ_TRY(kz_tft_alloc(a, B * tau, dh, &x->Op));
  KZ_TRY(kz_tft_alloc(a, tau * B, dh, &x->O));
  KZ_TRY(kz_tft_alloc(a, tau * B, d, &x->att));
  KZ_TRY(kz_tft_gate_alloc(a, &n->p.gate_attn, tau * B, D, &x->ga));
  KZ_TRY(kz_tft_alloc(a, tau * B, d, &x->delta));
  KZ_TRY(kz_tft_grn_alloc(a, &n->p.pos, tau * B, B, D, &x->gp));
  KZ_TRY(kz_tft_alloc(a, tau * B, d, &x->psi));
  KZ_TRY(kz_tft_gate_alloc(a, &n->p.gate_out, tau * B, D, &x->go));
  KZ_TRY(kz_tft_alloc(a, tau * B, d, &x->out));
  KZ_TRY(kz_tft_alloc(a, tau * B, Q, &x->pred));
  KZ_TRY(kz_tft_alloc(a, tau * B, Q, &x->losses));
  KZ_TRY(kz_tft_alloc(a, tau * B, Q, &x->wq));
  KZ_TRY(kz_tft_alloc(a, tau * B, Q, &x->d_pred));
  kz_tensor *dd[] = {&x->d_out, &x->d_psi, &x->d_delta, &x->d_att};
  for (size_t i = 0; i < sizeof dd / sizeof dd[0]; i++) KZ_TRY(kz_tft_alloc(a, tau * B, d, dd[i]));
  KZ_TRY(kz_tft_alloc(a, tau * B, dh, &x->d_O));
  KZ_TRY(kz_tft_alloc(a, B * tau, dh, &x->d_Op));
  KZ_TRY(kz_tft_alloc(a, B * tau, T, &x->d_Abar));
  KZ_TRY(kz_tft_alloc(a, B * H * tau, T, &x->d_A));
  KZ_TRY(kz_tft_alloc(a, B * H * tau, T, &x->d_S));
  KZ_TRY(kz_tft_alloc(a, tau * B, H * dh, &x->d_Qp));
  KZ_TRY(kz_tft_alloc(a, T * B, H * dh, &x->d_Kp));
  KZ_TRY(kz_tft_alloc(a, T * B, dh, &x->d_Vp));
  KZ_TRY(kz_tft_alloc(a, tau * B, H * dh, &x->d_Q));
  KZ_TRY(kz_tft_alloc(a, T * B, H * dh, &x->d_K));
  return kz_tft_alloc(a, T * B, dh, &x->d_V);
}

static kz_status get_acts(kz_tft_net *n, int64_t B) {
  if (!n->arena || B > n->arena_B) {
    kz_arena *plan = NULL;
    KZ_TRY(kz_arena_plan(n->dev, &plan));
    kz_status st = alloc_acts(n, plan, B, &n->x);
    size_t bytes = kz_arena_planned_bytes(plan);
    kz_arena_destroy(plan);
    KZ_TRY(st);
    if (n->arena) kz_arena_destroy(n->arena);
    n->arena = NULL;
    KZ_TRY(kz_arena_create(n->dev, bytes, &n->arena));
    n->arena_B = B;
  }
  kz_arena_reset(n->arena);
  return alloc_acts(n, n->arena, B, &n->x);
}

static float *stage(kz_tft_net *n, size_t floats) {
  if (floats > n->host_cap) {
    float *p = realloc(n->host, floats * sizeof(float));
    if (!p) return NULL;
    n->host = p;
    n->host_cap = floats;
  }
  return n->host;
}

static kz_status upload(kz_tft_net *n, kz_tensor *t, const void *src, size_t bytes) {
  if (bytes == 0) return KZ_OK;
  return kz_copy_to_device(n->s, t->data, src, bytes);
}

/* The batch onto the device; categorical codes outside [0, card) become
 * the "unknown" row card. */
static kz_status upload_batch(kz_tft_net *n, const kz_tft_batch *b) {
  const kz_tft_dims *dm = &n->dm;
  acts *x = &n->x;
  const int64_t B = b->B;
  KZ_TRY(upload(n, &x->s_real, b->s_real, (size_t)(B * dm->n_static_real) * 4));
  KZ_TRY(upload(n, &x->past, b->past, (size_t)(n_past(dm) * dm->k * B) * 4));
  KZ_TRY(upload(n, &x->fut, b->fut, (size_t)(dm->n_known * dm->tau * B) * 4));
  /* time-varying categoricals: variable-major already; unknown -> card */
  for (int part = 0; part < 2 && n_past_cat(dm) > 0; part++) {
    const int64_t nv = part ? dm->n_known_cat : n_past_cat(dm), steps = part ? dm->tau : dm->k;
    const int32_t *src = part ? b->fut_cat : b->past_cat;
    const int32_t *card = dm->tv_card + (part ? dm->n_observed_cat : 0);
    if (nv == 0) continue;
    if (!src) return kz_fail(KZ_ERR_INVALID_ARG, "tft: the batch has no categorical inputs");
    int32_t *ids = (int32_t *)stage(n, (size_t)(nv * steps * B));
    if (!ids) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: batch");
    for (int64_t v = 0; v < nv; v++)
      for (int64_t r = 0; r < steps * B; r++) {
        const int32_t c = src[v * steps * B + r];
        ids[v * steps * B + r] = c >= 0 && c < card[v] ? c : card[v];
      }
    KZ_TRY(upload(n, part ? &x->fut_cat : &x->past_cat, ids, (size_t)(nv * steps * B) * 4));
    KZ_TRY(kz_stream_sync(n->s)); /* the staging buffer is reused */
  }
  if (dm->n_static_cat > 0) {
    /* variable-major for the embedding op: [n_cat, B] */
    int32_t *ids = (int32_t *)stage(n, (size_t)(B * dm->n_static_cat));
    if (!ids) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: batch");
    for (int64_t j = 0; j < dm->n_static_cat; j++)
      for (int64_t r = 0; r < B; r++) {
        int32_t c = b->s_cat[r * dm->n_static_cat + j];
        ids[j * B + r] = c >= 0 && c < dm->static_card[j] ? c : dm->static_card[j];
      }
    KZ_TRY(upload(n, &x->s_cat, ids, (size_t)(B * dm->n_static_cat) * 4));
    KZ_TRY(kz_stream_sync(n->s)); /* the staging buffer is reused */
  }
  float *h = stage(n, (size_t)(dm->n_quantiles + dm->heads));
  if (!h) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: batch");
  for (int64_t i = 0; i < dm->n_quantiles; i++) h[i] = (float)dm->quantiles[i];
  for (int64_t i = 0; i < dm->heads; i++) h[dm->n_quantiles + i] = 1.0f;
  KZ_TRY(upload(n, &x->q, h, (size_t)dm->n_quantiles * 4));
  KZ_TRY(upload(n, &x->ones, h + dm->n_quantiles, (size_t)dm->heads * 4));
  if (b->y) KZ_TRY(upload(n, &x->y, b->y, (size_t)(dm->tau * B) * 4));
  return kz_stream_sync(n->s);
}

/* The variable inputs of a VSN: slices of the variable-major block. */
static void vsn_inputs(kz_tft_vsn_acts *v, const kz_tensor *block, int64_t nvar,
                       const kz_tensor *cats, int64_t ncat, int64_t rows) {
  for (int64_t i = 0; i < nvar; i++)
    v->x[i] = kz_tensor_view((float *)block->data + i * rows, KZ_F32, block->device, 2, rows, 1);
  for (int64_t j = 0; j < ncat; j++)
    v->x[nvar + j] =
        kz_tensor_view((int32_t *)cats->data + j * rows, KZ_I32, cats->device, 1, rows);
}

static const int split_heads[4] = {1, 2, 0, 3}; /* [T, B, H, dh] -> [B, H, T, dh] */
static const int swap01[3] = {1, 0, 2};

static kz_status forward(kz_tft_net *n) {
  const kz_tft_dims *dm = &n->dm;
  const kz_tft_params *p = &n->p;
  acts *x = &n->x;
  kz_stream *s = n->s;
  const int64_t B = x->B, d = dm->d, H = dm->heads, dh = d / H, k = dm->k, tau = dm->tau;
  const int64_t T = k + tau, ns = dm->n_static_real + dm->n_static_cat;
  /* static covariates -> contexts */
  if (ns > 0) {
    for (int64_t i = 0; i < dm->n_static_real; i++)
      x->vs.x[i] =
          kz_tensor_view((float *)x->s_real.data + i * B, KZ_F32, x->s_real.device, 2, B, 1);
    for (int64_t j = 0; j < dm->n_static_cat; j++)
      x->vs.x[dm->n_static_real + j] =
          kz_tensor_view((int32_t *)x->s_cat.data + j * B, KZ_I32, x->s_cat.device, 1, B);
    KZ_TRY(kz_tft_vsn_fwd(s, &p->vs, &x->vs, NULL, &x->cs));
  } else {
    KZ_TRY(zero(s, &x->cs));
  }
  KZ_TRY(kz_tft_grn_fwd(s, &p->ctx_sel, &x->cs, NULL, &x->c_sel, &x->g_sel));
  KZ_TRY(kz_tft_grn_fwd(s, &p->ctx_enr, &x->cs, NULL, &x->c_enr, &x->g_enr));
  KZ_TRY(kz_tft_grn_fwd(s, &p->ctx_h, &x->cs, NULL, &x->c_h, &x->g_h));
  KZ_TRY(kz_tft_grn_fwd(s, &p->ctx_c, &x->cs, NULL, &x->c_c, &x->g_c));
  /* variable selection, encoder rows then decoder rows of xi */
  vsn_inputs(&x->vp, &x->past, n_past(dm), &x->past_cat, n_past_cat(dm), k * B);
  vsn_inputs(&x->vf, &x->fut, dm->n_known, &x->fut_cat, dm->n_known_cat, tau * B);
  kz_tensor xi_enc = kz_tft_rows(&x->xi, 0, k * B), xi_dec = kz_tft_rows(&x->xi, k * B, tau * B);
  KZ_TRY(kz_tft_vsn_fwd(s, &p->vp, &x->vp, &x->c_sel, &xi_enc));
  KZ_TRY(kz_tft_vsn_fwd(s, &p->vf, &x->vf, &x->c_sel, &xi_dec));
  /* LSTM encoder + decoder: input projections for all steps, then one
   * h W_h^T GEMM and one fused cell per step */
  kz_tensor g_enc = kz_tft_rows(&x->G, 0, k * B), g_dec = kz_tft_rows(&x->G, k * B, tau * B);
  KZ_TRY(kz_tft_linear(s, &xi_enc, &p->enc.wx, &p->enc.b, &g_enc));
  KZ_TRY(kz_tft_linear(s, &xi_dec, &p->dec.wx, &p->dec.b, &g_dec));
  for (int64_t t = 0; t < T; t++) {
    const kz_tft_lstm *l = t < k ? &p->enc : &p->dec;
    kz_tensor g = kz_tft_rows(&x->G, t * B, B), h = kz_tft_rows(&x->hs, t * B, B);
    kz_tensor c = kz_tft_rows(&x->cs_all, t * B, B);
    kz_tensor hp = t ? kz_tft_rows(&x->hs, (t - 1) * B, B) : x->c_h;
    kz_tensor cp = t ? kz_tft_rows(&x->cs_all, (t - 1) * B, B) : x->c_c;
    KZ_TRY(kz_op_matmul(s, &hp, &l->wh.p, &g, false, true, 1.0f, 1.0f));
    KZ_TRY(kz_tft_lora_fwd(s, &hp, &l->wh, &g));
    KZ_TRY(kz_op_lstm_cell(s, &g, &cp, &h, &c));
  }
  KZ_TRY(kz_tft_gate_fwd(s, &p->gate_lstm, &x->hs, &x->xi, &x->phi, &x->gl));
  KZ_TRY(kz_tft_grn_fwd(s, &p->enrich, &x->phi, &x->c_enr, &x->theta, &x->ge));
  /* interpretable multi-head attention */
  kz_tensor th_dec = kz_tft_rows(&x->theta, k * B, tau * B);
  KZ_TRY(kz_tft_linear(s, &th_dec, &p->wq, &p->bq, &x->Q));
  KZ_TRY(kz_tft_linear(s, &x->theta, &p->wk, &p->bk, &x->K));
  KZ_TRY(kz_tft_linear(s, &x->theta, &p->wv, &p->bv, &x->V));
  kz_tensor q4 = t4(&x->Q, tau, B, H, dh), qp4 = t4(&x->Qp, B, H, tau, dh);
  kz_tensor k4 = t4(&x->K, T, B, H, dh), kp4 = t4(&x->Kp, B, H, T, dh);
  kz_tensor v3 = t3(&x->V, T, B, dh), vp3 = t3(&x->Vp, B, T, dh);
  KZ_TRY(kz_op_permute(s, &q4, &qp4, split_heads));
  KZ_TRY(kz_op_permute(s, &k4, &kp4, split_heads));
  KZ_TRY(kz_op_permute(s, &v3, &vp3, swap01));
  kz_tensor qb = t3(&x->Qp, B * H, tau, dh), kb = t3(&x->Kp, B * H, T, dh);
  kz_tensor sb = t3(&x->S, B * H, tau, T);
  KZ_TRY(kz_op_matmul(s, &qb, &kb, &sb, false, true, 1.0f, 0.0f));
  kz_tensor s4 = t4(&x->S, B, H, tau, T), a4 = t4(&x->A, B, H, tau, T);
  KZ_TRY(kz_op_softmax(s, &s4, &a4, NULL, (float)(1.0 / sqrt((double)dh)), true));
  kz_tensor ah = t3(&x->A, B, H, tau * T), abar1 = t3(&x->Abar, B, 1, tau * T);
  KZ_TRY(kz_op_matmul(s, &x->ones, &ah, &abar1, false, false, (float)(1.0 / (double)H), 0.0f));
  kz_tensor abar = t3(&x->Abar, B, tau, T), op3 = t3(&x->Op, B, tau, dh);
  KZ_TRY(kz_op_matmul(s, &abar, &vp3, &op3, false, false, 1.0f, 0.0f));
  kz_tensor o3 = t3(&x->O, tau, B, dh);
  KZ_TRY(kz_op_permute(s, &op3, &o3, swap01));
  KZ_TRY(kz_tft_linear(s, &x->O, &p->wo, &p->bo, &x->att));
  KZ_TRY(kz_tft_gate_fwd(s, &p->gate_attn, &x->att, &th_dec, &x->delta, &x->ga));
  KZ_TRY(kz_tft_grn_fwd(s, &p->pos, &x->delta, NULL, &x->psi, &x->gp));
  kz_tensor phi_dec = kz_tft_rows(&x->phi, k * B, tau * B);
  KZ_TRY(kz_tft_gate_fwd(s, &p->gate_out, &x->psi, &phi_dec, &x->out, &x->go));
  KZ_TRY(kz_tft_linear(s, &x->out, &p->head_w, &p->head_b, &x->pred));
  return KZ_OK;
}

static kz_status backward(kz_tft_net *n, double scale, bool weighted) {
  const kz_tft_dims *dm = &n->dm;
  const kz_tft_params *p = &n->p;
  acts *x = &n->x;
  kz_stream *s = n->s;
  const int64_t B = x->B, d = dm->d, H = dm->heads, dh = d / H, k = dm->k, tau = dm->tau;
  const int64_t T = k + tau, ns = dm->n_static_real + dm->n_static_cat;
  (void)d;
  kz_tensor yt = kz_tensor_view(x->y.data, KZ_F32, x->y.device, 1, tau * B);
  KZ_TRY(kz_op_quantile_loss_bwd(s, &x->pred, &yt, &x->q, &x->d_pred, scale, false));
  /* per-window weights: dropout's backward is the elementwise product */
  if (weighted) KZ_TRY(kz_op_dropout_bwd(s, &x->d_pred, &x->wq, &x->d_pred, false));
  kz_tensor *zs[] = {&x->d_out, &x->d_psi, &x->d_delta, &x->d_att, &x->d_O,   &x->d_theta,
                     &x->d_phi, &x->d_hs,  &x->d_xi,    &x->d_cs,  &x->d_sel, &x->d_enr,
                     &x->d_h,   &x->d_c,   &x->d_Q,     &x->d_K,   &x->d_V};
  for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++) KZ_TRY(zero(s, zs[i]));
  KZ_TRY(kz_tft_linear_bwd(s, &x->out, &p->head_w, &p->head_b, &x->d_pred, &x->d_out));
  kz_tensor dphi_dec = kz_tft_rows(&x->d_phi, k * B, tau * B);
  KZ_TRY(kz_tft_gate_bwd(s, &p->gate_out, &x->go, &x->d_out, &x->d_psi, &dphi_dec));
  KZ_TRY(kz_tft_grn_bwd(s, &p->pos, &x->gp, &x->d_psi, &x->d_delta, NULL));
  kz_tensor dth_dec = kz_tft_rows(&x->d_theta, k * B, tau * B);
  KZ_TRY(kz_tft_gate_bwd(s, &p->gate_attn, &x->ga, &x->d_delta, &x->d_att, &dth_dec));
  /* attention */
  KZ_TRY(kz_tft_linear_bwd(s, &x->O, &p->wo, &p->bo, &x->d_att, &x->d_O));
  kz_tensor dO3 = t3(&x->d_O, tau, B, dh), dOp3 = t3(&x->d_Op, B, tau, dh);
  KZ_TRY(kz_op_permute_bwd(s, &dO3, &dOp3, swap01, false));
  kz_tensor vp3 = t3(&x->Vp, B, T, dh), dvp3 = t3(&x->d_Vp, B, T, dh);
  kz_tensor abar = t3(&x->Abar, B, tau, T), dabar = t3(&x->d_Abar, B, tau, T);
  KZ_TRY(kz_op_matmul(s, &dOp3, &vp3, &dabar, false, true, 1.0f, 0.0f));
  KZ_TRY(kz_op_matmul(s, &abar, &dOp3, &dvp3, true, false, 1.0f, 0.0f));
  kz_tensor dabar1 = t3(&x->d_Abar, B, 1, tau * T), dah = t3(&x->d_A, B, H, tau * T);
  KZ_TRY(kz_op_matmul(s, &x->ones, &dabar1, &dah, true, false, (float)(1.0 / (double)H), 0.0f));
  kz_tensor a4 = t4(&x->A, B, H, tau, T), da4 = t4(&x->d_A, B, H, tau, T);
  kz_tensor ds4 = t4(&x->d_S, B, H, tau, T);
  KZ_TRY(kz_op_softmax_bwd(s, &a4, &da4, &ds4, NULL, (float)(1.0 / sqrt((double)dh)), true, false));
  kz_tensor qb = t3(&x->Qp, B * H, tau, dh), kb = t3(&x->Kp, B * H, T, dh);
  kz_tensor dsb = t3(&x->d_S, B * H, tau, T);
  kz_tensor dqb = t3(&x->d_Qp, B * H, tau, dh), dkb = t3(&x->d_Kp, B * H, T, dh);
  KZ_TRY(kz_op_matmul(s, &dsb, &kb, &dqb, false, false, 1.0f, 0.0f));
  KZ_TRY(kz_op_matmul(s, &dsb, &qb, &dkb, true, false, 1.0f, 0.0f));
  kz_tensor dqp4 = t4(&x->d_Qp, B, H, tau, dh), dq4 = t4(&x->d_Q, tau, B, H, dh);
  kz_tensor dkp4 = t4(&x->d_Kp, B, H, T, dh), dk4 = t4(&x->d_K, T, B, H, dh);
  kz_tensor dv3 = t3(&x->d_V, T, B, dh);
  KZ_TRY(kz_op_permute_bwd(s, &dqp4, &dq4, split_heads, false));
  KZ_TRY(kz_op_permute_bwd(s, &dkp4, &dk4, split_heads, false));
  KZ_TRY(kz_op_permute_bwd(s, &dvp3, &dv3, swap01, false));
  kz_tensor th_dec = kz_tft_rows(&x->theta, k * B, tau * B);
  KZ_TRY(kz_tft_linear_bwd(s, &th_dec, &p->wq, &p->bq, &x->d_Q, &dth_dec));
  KZ_TRY(kz_tft_linear_bwd(s, &x->theta, &p->wk, &p->bk, &x->d_K, &x->d_theta));
  KZ_TRY(kz_tft_linear_bwd(s, &x->theta, &p->wv, &p->bv, &x->d_V, &x->d_theta));
  /* enrichment, LSTM gate */
  KZ_TRY(kz_tft_grn_bwd(s, &p->enrich, &x->ge, &x->d_theta, &x->d_phi, &x->d_enr));
  KZ_TRY(kz_tft_gate_bwd(s, &p->gate_lstm, &x->gl, &x->d_phi, &x->d_hs, &x->d_xi));
  /* LSTM through time */
  for (int64_t t = T - 1; t >= 0; t--) {
    const kz_tft_lstm *l = t < k ? &p->enc : &p->dec;
    kz_tensor g = kz_tft_rows(&x->G, t * B, B), dg = kz_tft_rows(&x->d_G, t * B, B);
    kz_tensor c = kz_tft_rows(&x->cs_all, t * B, B), dh_t = kz_tft_rows(&x->d_hs, t * B, B);
    kz_tensor cp = t ? kz_tft_rows(&x->cs_all, (t - 1) * B, B) : x->c_c;
    kz_tensor *dc_in = t == T - 1 ? NULL : &x->d_dc[t % 2];
    kz_tensor *dc_out = t ? &x->d_dc[(t + 1) % 2] : &x->d_c;
    KZ_TRY(kz_op_lstm_cell_bwd(s, &g, &cp, &c, &dh_t, dc_in, &dg, dc_out, false));
    kz_tensor dhp = t ? kz_tft_rows(&x->d_hs, (t - 1) * B, B) : x->d_h;
    KZ_TRY(kz_op_matmul(s, &dg, &l->wh.p, &dhp, false, false, 1.0f, 1.0f));
    if (l->wh.lora) { /* the adapter's share of dh_{t-1} is needed at this step */
      kz_tensor hp = t ? kz_tft_rows(&x->hs, (t - 1) * B, B) : x->c_h;
      KZ_TRY(kz_tft_lora_bwd(s, &hp, &l->wh, &dg, &dhp));
    }
  }
  /* the recurrent weights' gradients, sum_t dG_t^T h_{t-1}, as three GEMMs
   * over all steps (h_{-1} is the static context c_h) */
  kz_tensor dg0 = kz_tft_rows(&x->d_G, 0, B);
  KZ_TRY(kz_op_matmul(s, &dg0, &x->c_h, (kz_tensor *)&p->enc.wh.g, true, false, 1.0f, 1.0f));
  if (k > 1) {
    kz_tensor dg1 = kz_tft_rows(&x->d_G, B, (k - 1) * B), h1 = kz_tft_rows(&x->hs, 0, (k - 1) * B);
    KZ_TRY(kz_op_matmul(s, &dg1, &h1, (kz_tensor *)&p->enc.wh.g, true, false, 1.0f, 1.0f));
  }
  kz_tensor dgd = kz_tft_rows(&x->d_G, k * B, tau * B);
  kz_tensor hd = kz_tft_rows(&x->hs, (k - 1) * B, tau * B);
  KZ_TRY(kz_op_matmul(s, &dgd, &hd, (kz_tensor *)&p->dec.wh.g, true, false, 1.0f, 1.0f));
  kz_tensor xi_enc = kz_tft_rows(&x->xi, 0, k * B), xi_dec = kz_tft_rows(&x->xi, k * B, tau * B);
  kz_tensor dxi_enc = kz_tft_rows(&x->d_xi, 0, k * B);
  kz_tensor dxi_dec = kz_tft_rows(&x->d_xi, k * B, tau * B);
  kz_tensor dg_enc = kz_tft_rows(&x->d_G, 0, k * B), dg_dec = kz_tft_rows(&x->d_G, k * B, tau * B);
  KZ_TRY(kz_tft_linear_bwd(s, &xi_enc, &p->enc.wx, &p->enc.b, &dg_enc, &dxi_enc));
  KZ_TRY(kz_tft_linear_bwd(s, &xi_dec, &p->dec.wx, &p->dec.b, &dg_dec, &dxi_dec));
  /* variable selection */
  KZ_TRY(kz_tft_vsn_bwd(s, &p->vp, &x->vp, &dxi_enc, &x->d_sel));
  KZ_TRY(kz_tft_vsn_bwd(s, &p->vf, &x->vf, &dxi_dec, &x->d_sel));
  /* contexts -> static embedding */
  KZ_TRY(kz_tft_grn_bwd(s, &p->ctx_sel, &x->g_sel, &x->d_sel, &x->d_cs, NULL));
  KZ_TRY(kz_tft_grn_bwd(s, &p->ctx_enr, &x->g_enr, &x->d_enr, &x->d_cs, NULL));
  KZ_TRY(kz_tft_grn_bwd(s, &p->ctx_h, &x->g_h, &x->d_h, &x->d_cs, NULL));
  KZ_TRY(kz_tft_grn_bwd(s, &p->ctx_c, &x->g_c, &x->d_c, &x->d_cs, NULL));
  if (ns > 0) KZ_TRY(kz_tft_vsn_bwd(s, &p->vs, &x->vs, &x->d_cs, NULL));
  return KZ_OK;
}

kz_status kz_tft_net_set_dropout(kz_tft_net *n, double p) {
  if (!(p >= 0 && p < 1)) return kz_fail(KZ_ERR_INVALID_ARG, "tft: dropout %g not in [0, 1)", p);
  if ((p > 0) != (n->drop.p > 0)) n->arena_B = 0; /* masks come or go: allocate again */
  n->drop.p = p;
  return KZ_OK;
}

kz_status kz_tft_net_step(kz_tft_net *n, const kz_tft_batch *b, bool train, double weight,
                          double *loss, int64_t *labelled, float *pred) {
  const kz_tft_dims *dm = &n->dm;
  *loss = 0.0;
  *labelled = 0;
  if (b->B <= 0) return KZ_OK;
  if (train && !b->y) return kz_fail(KZ_ERR_INVALID_ARG, "tft: training needs targets");
  n->drop.active = train;
  n->drop.key = b->dropout_key;
  n->drop.counter = 0;
  KZ_TRY(get_acts(n, b->B));
  KZ_TRY(upload_batch(n, b));
  KZ_TRY(forward(n));
  acts *x = &n->x;
  const int64_t np = dm->tau * b->B * dm->n_quantiles;
  if (b->y) {
    kz_tensor yt = kz_tensor_view(x->y.data, KZ_F32, x->y.device, 1, dm->tau * b->B);
    KZ_TRY(kz_op_quantile_loss(n->s, &x->pred, &yt, &x->q, &x->losses));
    float *h = stage(n, (size_t)np);
    if (!h) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: losses");
    KZ_TRY(kz_copy_to_host(n->s, h, x->losses.data, (size_t)np * 4));
    KZ_TRY(kz_stream_sync(n->s));
    double sum = 0.0, wcnt = 0.0;
    int64_t cnt = 0;
    const int64_t B = b->B, Q = dm->n_quantiles;
    for (int64_t i = 0; i < dm->tau * B; i++)
      if (!isnan(b->y[i])) {
        cnt += Q;
        wcnt += (double)Q * (b->w ? b->w[i % B] : 1.0);
      }
    for (int64_t i = 0; i < np; i++) sum += h[i] * (b->w ? b->w[(i / Q) % B] : 1.0);
    *labelled = cnt;
    *loss = wcnt > 0 ? sum / wcnt : 0.0;
    if (train && b->w) { /* the weights per element, [tau * B, Q] */
      for (int64_t i = 0; i < np; i++) h[i] = b->w[(i / Q) % B];
      KZ_TRY(upload(n, &x->wq, h, (size_t)np * 4));
      KZ_TRY(kz_stream_sync(n->s)); /* the staging buffer is reused */
    }
    if (train) KZ_TRY(backward(n, wcnt > 0 ? weight / wcnt : 0.0, b->w != NULL));
  }
  if (pred) {
    KZ_TRY(kz_copy_to_host(n->s, pred, x->pred.data, (size_t)np * 4));
    KZ_TRY(kz_stream_sync(n->s));
  }
  return kz_stream_sync(n->s);
}

kz_status kz_tft_net_create(const kz_tft_dims *dm, kz_device dev, kz_tft_net **out) {
  *out = NULL;
  if (dm->d < 1 || dm->heads < 1 || dm->d % dm->heads != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "tft: hidden size %lld must be a multiple of heads %lld",
                   (long long)dm->d, (long long)dm->heads);
  if (dm->k < 1 || dm->tau < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "tft: encoder length and horizon must be >= 1");
  if (dm->n_known < 1)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "tft: the decoder needs at least one known-future input (--known columns or "
                   "model.calendar)");
  if (n_past(dm) + n_past_cat(dm) > KZ_TFT_MAX_VARS ||
      dm->n_static_real + dm->n_static_cat > KZ_TFT_MAX_VARS)
    return kz_fail(KZ_ERR_INVALID_ARG, "tft: more than %d inputs in one group", KZ_TFT_MAX_VARS);
  if (dm->n_quantiles < 1 || dm->n_quantiles > KZ_TFT_MAX_QUANTILES)
    return kz_fail(KZ_ERR_INVALID_ARG, "tft: 1 to %d quantiles", KZ_TFT_MAX_QUANTILES);
  kz_tft_net *n = calloc(1, sizeof *n);
  if (!n) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: network");
  n->dm = *dm;
  n->dev = dev;
  int64_t np = 0;
  kz_status st = kz_tft_layout(dm, NULL, NULL, dev, NULL, &np, &n->names);
  const int64_t base_np = np;
  int64_t n_lora = 0; /* the adapters of model.lora follow the base tensors */
  if (st == KZ_OK) st = kz_tft_lora_numel(dm, &n_lora);
  np += n_lora;
  n->n_params = np;
  int64_t shape[1] = {np};
  if (st == KZ_OK) st = kz_tensor_alloc(dev, KZ_F32, 1, shape, &n->params);
  if (st == KZ_OK) st = kz_tensor_alloc(dev, KZ_F32, 1, shape, &n->grads);
  if (st == KZ_OK) st = kz_stream_create(dev, &n->s);
  if (st == KZ_OK) st = kz_fill_bytes(n->s, n->params.data, 0, (size_t)np * 4);
  if (st == KZ_OK) st = kz_fill_bytes(n->s, n->grads.data, 0, (size_t)np * 4);
  if (st == KZ_OK) st = kz_tft_layout(dm, n->params.data, n->grads.data, dev, &n->p, &np, NULL);
  if (st == KZ_OK)
    st = kz_tft_lora_attach(dm, &n->p, &n->params, &n->grads, base_np, dev, &n->names, &n->lora);
  if (st == KZ_OK) st = kz_stream_sync(n->s);
  if (st != KZ_OK) {
    kz_tft_net_destroy(n);
    return st;
  }
  *out = n;
  return KZ_OK;
}

void kz_tft_net_destroy(kz_tft_net *n) {
  if (!n) return;
  if (n->arena) kz_arena_destroy(n->arena);
  if (n->params.data) kz_tensor_free(&n->params);
  if (n->grads.data) kz_tensor_free(&n->grads);
  if (n->s) kz_stream_destroy(n->s);
  kz_tft_names_free(&n->names);
  kz_tft_lora_free(n->lora);
  free(n->host);
  free(n);
}

int64_t kz_tft_net_n_params(const kz_tft_net *n) {
  return n->n_params;
}
kz_tensor *kz_tft_net_params(kz_tft_net *n) {
  return &n->params;
}
kz_tensor *kz_tft_net_grads(kz_tft_net *n) {
  return &n->grads;
}
const kz_tft_names *kz_tft_net_names(const kz_tft_net *n) {
  return &n->names;
}
kz_stream *kz_tft_net_stream(kz_tft_net *n) {
  return n->s;
}
kz_tft_lora *kz_tft_net_lora(kz_tft_net *n) {
  return n->lora;
}

kz_status kz_tft_net_interpret(kz_tft_net *n, double *w_static, double *w_past, double *w_fut,
                               double *attn) {
  const kz_tft_dims *dm = &n->dm;
  acts *x = &n->x;
  if (!n->arena) return kz_fail(KZ_ERR_INVALID_ARG, "tft: no batch has been run");
  const int64_t B = x->B, T = dm->k + dm->tau;
  struct {
    double *out;
    const kz_tensor *w;
    int64_t rows, nv;
  } g[3] = {{w_static, &x->vs.w, B, dm->n_static_real + dm->n_static_cat},
            {w_past, &x->vp.w, dm->k * B, n_past(dm) + n_past_cat(dm)},
            {w_fut, &x->vf.w, dm->tau * B, dm->n_known + dm->n_known_cat}};
  for (int i = 0; i < 3; i++) {
    if (!g[i].out || g[i].nv == 0) continue;
    const int64_t cnt = g[i].rows * g[i].nv;
    float *h = stage(n, (size_t)cnt);
    if (!h) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: interpret");
    KZ_TRY(kz_copy_to_host(n->s, h, g[i].w->data, (size_t)cnt * 4));
    KZ_TRY(kz_stream_sync(n->s));
    for (int64_t v = 0; v < g[i].nv; v++) g[i].out[v] = 0.0;
    for (int64_t r = 0; r < g[i].rows; r++)
      for (int64_t v = 0; v < g[i].nv; v++) g[i].out[v] += h[r * g[i].nv + v] / (double)g[i].rows;
  }
  if (attn) {
    const int64_t cnt = B * dm->tau * T;
    float *h = stage(n, (size_t)cnt);
    if (!h) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: interpret");
    KZ_TRY(kz_copy_to_host(n->s, h, x->Abar.data, (size_t)cnt * 4));
    KZ_TRY(kz_stream_sync(n->s));
    for (int64_t i = 0; i < dm->tau * T; i++) attn[i] = 0.0;
    for (int64_t b = 0; b < B; b++)
      for (int64_t i = 0; i < dm->tau * T; i++) attn[i] += h[b * dm->tau * T + i] / (double)B;
  }
  return KZ_OK;
}
