/* Self-attention through the fused op (attention.h). */
#include "models/transformer/attention.h"

#include <string.h>

#include "kernels/core/error.h"
#include "kernels/ops.h"

kz_status tf_attention_alloc(kz_arena *a, const tf_attn_opts *o, tf_attn_saved *sv) {
  memset(sv, 0, sizeof *sv);
  int64_t n[1] = {o->batch * o->heads * o->tokens};
  return kz_arena_tensor(a, KZ_F32, 1, n, &sv->lse);
}

static kz_attn_opts fused(const tf_attn_opts *op) {
  kz_attn_opts a = {.batch = op->batch,
                    .heads = op->heads,
                    .scale = op->scale,
                    .causal = false,
                    .dropout_p = op->dropout,
                    .dropout_key = op->key};
  return a;
}

kz_status tf_attention_fwd(kz_stream *s, const kz_tensor *qkv, kz_tensor *o, tf_attn_saved *sv,
                           const kz_tensor *lengths, const tf_attn_opts *op) {
  kz_attn_opts a = fused(op);
  return kz_op_attention(s, qkv, o, sv ? &sv->lse : NULL, lengths, &a);
}

kz_status tf_attention_bwd(kz_stream *s, const kz_tensor *qkv, const kz_tensor *o,
                           const kz_tensor *dout, const tf_attn_saved *sv, const kz_tensor *lengths,
                           const tf_attn_opts *op, kz_tensor *dqkv) {
  kz_attn_opts a = fused(op);
  return kz_op_attention_bwd(s, qkv, o, dout, &sv->lse, lengths, dqkv, &a, false);
}
