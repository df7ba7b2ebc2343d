/* Validation and dispatch of the fused attention op (ops.h). Both layouts,
 * the fused [q | k | v] projection and separate tensors, become one
 * kz_attn_shape with row strides, so the backends see a single case. */
#include <math.h>
#include <stdio.h>

#include "kernels/core/error.h"
#include "kernels/ops_internal.h"

#define DESCRIBE kz_ops_describe

static kz_status check_opts(const char *op, const kz_attn_opts *a) {
  if (!a) return kz_fail(KZ_ERR_INVALID_ARG, "%s: options (kz_attn_opts) are missing", op);
  if (a->batch < 1 || a->heads < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: batch %lld and heads %lld must be at least 1", op,
                   (long long)a->batch, (long long)a->heads);
  if (!isfinite(a->scale))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: scale must be finite, got %g", op, a->scale);
  if (!(a->dropout_p >= 0.0 && a->dropout_p < 1.0))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: dropout_p = %g, expected 0 <= p < 1", op, a->dropout_p);
  return KZ_OK;
}

/* A token-major activation: f32 with `cols` columns and B*T rows. */
static kz_status check_rows(kz_stream *s, const char *op, const char *arg, const kz_tensor *t,
                            int64_t rows, int64_t cols, const char *what) {
  KZ_TRY(kz_ops_check(s, op, arg, t, KZ_F32));
  if (kz_tensor_cols(t) != cols || kz_tensor_numel(t) != rows * cols)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s %s must be [%lld, %lld] (%s)", op, arg, DESCRIBE(t),
                   (long long)rows, (long long)cols, what);
  return KZ_OK;
}

/* The shape from the q-like input x holding `blocks` column blocks of H*D
 * (3 for the fused projection, 1 for a separate q). */
static kz_status attn_shape(kz_stream *s, const char *op, const kz_attn_opts *a, const kz_tensor *x,
                            const char *xname, int blocks, const kz_tensor *lengths,
                            kz_attn_shape *sh) {
  KZ_TRY(check_opts(op, a));
  KZ_TRY(kz_ops_check(s, op, xname, x, KZ_F32));
  const int64_t cols = kz_tensor_cols(x), rows = kz_tensor_numel(x) / (cols > 0 ? cols : 1);
  if (x->ndim < 2 || cols == 0 || cols % (blocks * a->heads) != 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: %s %s must be [B*T, %s*H*D] with H = %lld heads and D >= 1 (its columns "
                   "are not a multiple of %lld)",
                   op, xname, DESCRIBE(x), blocks == 3 ? "3" : "1", (long long)a->heads,
                   (long long)(blocks * a->heads));
  if (rows % a->batch != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s %s has %lld rows, not a multiple of batch %lld", op,
                   xname, DESCRIBE(x), (long long)rows, (long long)a->batch);
  const int64_t D = cols / (blocks * a->heads);
  if (lengths) {
    KZ_TRY(kz_ops_check(s, op, "lengths", lengths, KZ_I32));
    KZ_TRY(kz_ops_check_numel(op, "lengths", lengths, a->batch, "one per batch row"));
  }
  *sh = (kz_attn_shape){
      .batch = a->batch,
      .heads = a->heads,
      .seq = rows / a->batch,
      .head_dim = D,
      .ld_q = cols,
      .ld_k = cols,
      .ld_v = cols,
      .ld_o = a->heads * D,
      .scale = a->scale,
      .causal = a->causal,
      .lengths = lengths ? lengths->data : NULL,
      .dropout_p = a->dropout_p,
      .dropout_key = a->dropout_key,
  };
  return KZ_OK;
}

static kz_status check_lse(kz_stream *s, const char *op, const kz_tensor *lse,
                           const kz_attn_shape *sh) {
  KZ_TRY(kz_ops_check(s, op, "lse", lse, KZ_F32));
  return kz_ops_check_numel(op, "lse", lse, sh->batch * sh->heads * sh->seq,
                            "one per (batch, head, query)");
}

static kz_status unsupported(const kz_stream *s, const char *op) {
  return kz_fail(KZ_ERR_UNSUPPORTED, "%s: not implemented by the %s backend", op, s->backend->name);
}

static kz_status run_fwd(kz_stream *s, const char *op, const float *q, const float *k,
                         const float *v, kz_tensor *o, kz_tensor *lse, const kz_attn_shape *sh) {
  const int64_t bt = sh->batch * sh->seq, hd = sh->heads * sh->head_dim;
  KZ_TRY(check_rows(s, op, "o", o, bt, hd, "B*T tokens, H*D"));
  if (lse) KZ_TRY(check_lse(s, op, lse, sh));
  if (sh->seq == 0) return KZ_OK;
  if (!s->backend->ops.attention_fwd) return unsupported(s, op);
  return s->backend->ops.attention_fwd(s, q, k, v, o->data, lse ? lse->data : NULL, sh);
}

static kz_status check_saved(kz_stream *s, const char *op, const kz_tensor *o,
                             const kz_tensor *dout, const kz_tensor *lse, const kz_attn_shape *sh) {
  const int64_t bt = sh->batch * sh->seq, hd = sh->heads * sh->head_dim;
  KZ_TRY(check_rows(s, op, "o", o, bt, hd, "the forward's output"));
  KZ_TRY(check_rows(s, op, "dout", dout, bt, hd, "the gradient of o"));
  if (!lse)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: lse is missing (the backward needs the forward's lse)",
                   op);
  return check_lse(s, op, lse, sh);
}

kz_status kz_op_attention(kz_stream *s, const kz_tensor *qkv, kz_tensor *o, kz_tensor *lse,
                          const kz_tensor *lengths, const kz_attn_opts *a) {
  const char *op = "attention";
  kz_attn_shape sh;
  KZ_TRY(attn_shape(s, op, a, qkv, "qkv", 3, lengths, &sh));
  const float *q = qkv->data;
  const int64_t hd = sh.heads * sh.head_dim;
  return run_fwd(s, op, q, q ? q + hd : NULL, q ? q + 2 * hd : NULL, o, lse, &sh);
}

kz_status kz_op_attention_bwd(kz_stream *s, const kz_tensor *qkv, const kz_tensor *o,
                              const kz_tensor *dout, const kz_tensor *lse, const kz_tensor *lengths,
                              kz_tensor *dqkv, const kz_attn_opts *a, bool accumulate) {
  const char *op = "attention_bwd";
  kz_attn_shape sh;
  KZ_TRY(attn_shape(s, op, a, qkv, "qkv", 3, lengths, &sh));
  KZ_TRY(check_saved(s, op, o, dout, lse, &sh));
  if (!dqkv) return KZ_OK; /* not wanted */
  KZ_TRY(check_rows(s, op, "dqkv", dqkv, sh.batch * sh.seq, sh.ld_q, "the shape of qkv"));
  if (sh.seq == 0) return KZ_OK;
  if (!s->backend->ops.attention_bwd) return unsupported(s, op);
  const float *q = qkv->data;
  float *dq = dqkv->data;
  const int64_t hd = sh.heads * sh.head_dim;
  return s->backend->ops.attention_bwd(s, q, q + hd, q + 2 * hd, o->data, dout->data, lse->data, dq,
                                       dq + hd, dq + 2 * hd, &sh, accumulate);
}

kz_status kz_op_attention_sep(kz_stream *s, const kz_tensor *q, const kz_tensor *k,
                              const kz_tensor *v, kz_tensor *o, kz_tensor *lse,
                              const kz_tensor *lengths, const kz_attn_opts *a) {
  const char *op = "attention";
  kz_attn_shape sh;
  KZ_TRY(attn_shape(s, op, a, q, "q", 1, lengths, &sh));
  const int64_t bt = sh.batch * sh.seq;
  KZ_TRY(check_rows(s, op, "k", k, bt, sh.ld_q, "the shape of q"));
  KZ_TRY(check_rows(s, op, "v", v, bt, sh.ld_q, "the shape of q"));
  return run_fwd(s, op, q->data, k->data, v->data, o, lse, &sh);
}

kz_status kz_op_attention_sep_bwd(kz_stream *s, const kz_tensor *q, const kz_tensor *k,
                                  const kz_tensor *v, const kz_tensor *o, const kz_tensor *dout,
                                  const kz_tensor *lse, const kz_tensor *lengths, kz_tensor *dq,
                                  kz_tensor *dk, kz_tensor *dv, const kz_attn_opts *a,
                                  bool accumulate) {
  const char *op = "attention_bwd";
  kz_attn_shape sh;
  KZ_TRY(attn_shape(s, op, a, q, "q", 1, lengths, &sh));
  const int64_t bt = sh.batch * sh.seq;
  KZ_TRY(check_rows(s, op, "k", k, bt, sh.ld_q, "the shape of q"));
  KZ_TRY(check_rows(s, op, "v", v, bt, sh.ld_q, "the shape of q"));
  KZ_TRY(check_saved(s, op, o, dout, lse, &sh));
  if (!dq && !dk && !dv) return KZ_OK; /* nothing wanted */
  if (dq) KZ_TRY(check_rows(s, op, "dq", dq, bt, sh.ld_q, "the shape of q"));
  if (dk) KZ_TRY(check_rows(s, op, "dk", dk, bt, sh.ld_q, "the shape of q"));
  if (dv) KZ_TRY(check_rows(s, op, "dv", dv, bt, sh.ld_q, "the shape of q"));
  if (sh.seq == 0) return KZ_OK;
  if (!s->backend->ops.attention_bwd) return unsupported(s, op);
  return s->backend->ops.attention_bwd(s, q->data, k->data, v->data, o->data, dout->data, lse->data,
                                       dq ? dq->data : NULL, dk ? dk->data : NULL,
                                       dv ? dv->data : NULL, &sh, accumulate);
}
