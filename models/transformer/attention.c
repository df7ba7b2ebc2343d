/* Self-attention from existing ops (attention.h). Heads are split with one
 * permute ([B, T, 3nh, D] -> [B, 3nh, T, D]); then, per batch row b, the
 * query, key and value heads of b are three contiguous [nh, T, D] blocks,
 * so the score and context products are batched matmuls over the heads. */
#include "models/transformer/attention.h"

#include <string.h>

#include "kernels/core/error.h"
#include "kernels/ops.h"

static const int k_split[4] = {0, 2, 1, 3}; /* [B,T,X,D] <-> [B,X,T,D] */

static kz_status t4(kz_arena *a, int64_t d0, int64_t d1, int64_t d2, int64_t d3, kz_tensor *t) {
  int64_t shape[4] = {d0, d1, d2, d3};
  return kz_arena_tensor(a, KZ_F32, 4, shape, t);
}

kz_status tf_attention_alloc(kz_arena *a, const tf_attn_opts *o, int with_dropout,
                             tf_attn_saved *sv) {
  const int64_t B = o->batch, T = o->tokens, nh = o->heads, D = o->head_dim;
  memset(sv, 0, sizeof *sv);
  KZ_TRY(t4(a, B, 3 * nh, T, D, &sv->heads));
  KZ_TRY(t4(a, B, nh, T, T, &sv->probs));
  if (!with_dropout) {
    sv->probs_d = sv->probs;
    return KZ_OK;
  }
  KZ_TRY(t4(a, B, nh, T, T, &sv->probs_d));
  return t4(a, B, nh, T, T, &sv->mask);
}

kz_status tf_attention_scratch(kz_arena *a, const tf_attn_opts *o, tf_attn_scratch *sc) {
  const int64_t B = o->batch, T = o->tokens, nh = o->heads, D = o->head_dim;
  KZ_TRY(t4(a, B, nh, T, T, &sc->scores));
  KZ_TRY(t4(a, B, nh, T, T, &sc->dprobs));
  KZ_TRY(t4(a, B, nh, T, D, &sc->ctx));
  return t4(a, B, 3 * nh, T, D, &sc->dheads);
}

/* Batch row b of a [B, X, ...] tensor as [X, ...] (a view). */
static kz_status row(const kz_tensor *t, int64_t b, kz_tensor *out) {
  kz_tensor one;
  KZ_TRY(kz_tensor_slice(t, b, 1, &one));
  int64_t shape[3] = {t->shape[1], t->shape[2], t->shape[3]};
  return kz_tensor_reshape(&one, 3, shape, out);
}

/* Heads [h0, h0+nh) of row b of the split qkv: [nh, T, D]. */
static kz_status part(const kz_tensor *heads, int64_t b, int64_t h0, int64_t nh, kz_tensor *out) {
  kz_tensor r;
  KZ_TRY(row(heads, b, &r));
  return kz_tensor_slice(&r, h0, nh, out);
}

/* A [B*T, C] matrix as [B, T, C/D, D]. */
static kz_status as4(const kz_tensor *x, const tf_attn_opts *o, kz_tensor *out) {
  int64_t shape[4] = {o->batch, o->tokens, kz_tensor_cols(x) / o->head_dim, o->head_dim};
  return kz_tensor_reshape(x, 4, shape, out);
}

kz_status tf_attention_fwd(kz_stream *s, const kz_tensor *qkv, kz_tensor *o, tf_attn_saved *sv,
                           tf_attn_scratch *sc, const kz_tensor *lengths, const tf_attn_opts *op) {
  const int64_t nh = op->heads;
  kz_tensor q4, o4;
  KZ_TRY(as4(qkv, op, &q4));
  KZ_TRY(kz_op_permute(s, &q4, &sv->heads, k_split));
  for (int64_t b = 0; b < op->batch; b++) {
    kz_tensor q, k, sb;
    KZ_TRY(part(&sv->heads, b, 0, nh, &q));
    KZ_TRY(part(&sv->heads, b, nh, nh, &k));
    KZ_TRY(row(&sc->scores, b, &sb));
    KZ_TRY(kz_op_matmul(s, &q, &k, &sb, false, true, 1.0f, 0.0f));
  }
  KZ_TRY(kz_op_softmax(s, &sc->scores, &sv->probs, lengths, op->scale, false));
  if (op->dropout > 0.0)
    KZ_TRY(kz_op_dropout(s, &sv->probs, &sv->probs_d, &sv->mask, op->dropout, op->key));
  for (int64_t b = 0; b < op->batch; b++) {
    kz_tensor v, pb, cb;
    KZ_TRY(part(&sv->heads, b, 2 * nh, nh, &v));
    KZ_TRY(row(&sv->probs_d, b, &pb));
    KZ_TRY(row(&sc->ctx, b, &cb));
    KZ_TRY(kz_op_matmul(s, &pb, &v, &cb, false, false, 1.0f, 0.0f));
  }
  KZ_TRY(as4(o, op, &o4));
  return kz_op_permute_bwd(s, &sc->ctx, &o4, k_split, false);
}

kz_status tf_attention_bwd(kz_stream *s, const kz_tensor *dout, const tf_attn_saved *sv,
                           tf_attn_scratch *sc, const kz_tensor *lengths, const tf_attn_opts *op,
                           kz_tensor *dqkv) {
  const int64_t nh = op->heads;
  kz_tensor d4, dq4;
  KZ_TRY(as4(dout, op, &d4));
  KZ_TRY(kz_op_permute(s, &d4, &sc->ctx, k_split)); /* dctx [B, nh, T, D] */
  for (int64_t b = 0; b < op->batch; b++) {
    kz_tensor v, dv, pb, dpb, dcb;
    KZ_TRY(part(&sv->heads, b, 2 * nh, nh, &v));
    KZ_TRY(part(&sc->dheads, b, 2 * nh, nh, &dv));
    KZ_TRY(row(&sv->probs_d, b, &pb));
    KZ_TRY(row(&sc->dprobs, b, &dpb));
    KZ_TRY(row(&sc->ctx, b, &dcb));
    KZ_TRY(kz_op_matmul(s, &dcb, &v, &dpb, false, true, 1.0f, 0.0f)); /* dP = dC V^T */
    KZ_TRY(kz_op_matmul(s, &pb, &dcb, &dv, true, false, 1.0f, 0.0f)); /* dV = P^T dC */
  }
  if (op->dropout > 0.0) KZ_TRY(kz_op_dropout_bwd(s, &sc->dprobs, &sv->mask, &sc->dprobs, false));
  /* the scores are free now: they take the gradient of the scores */
  KZ_TRY(
      kz_op_softmax_bwd(s, &sv->probs, &sc->dprobs, &sc->scores, lengths, op->scale, false, false));
  for (int64_t b = 0; b < op->batch; b++) {
    kz_tensor q, k, dq, dk, dsb;
    KZ_TRY(part(&sv->heads, b, 0, nh, &q));
    KZ_TRY(part(&sv->heads, b, nh, nh, &k));
    KZ_TRY(part(&sc->dheads, b, 0, nh, &dq));
    KZ_TRY(part(&sc->dheads, b, nh, nh, &dk));
    KZ_TRY(row(&sc->scores, b, &dsb));
    KZ_TRY(kz_op_matmul(s, &dsb, &k, &dq, false, false, 1.0f, 0.0f)); /* dQ = dS K */
    KZ_TRY(kz_op_matmul(s, &dsb, &q, &dk, true, false, 1.0f, 0.0f));  /* dK = dS^T Q */
  }
  KZ_TRY(as4(dqkv, op, &dq4));
  return kz_op_permute_bwd(s, &sc->dheads, &dq4, k_split, false);
}
