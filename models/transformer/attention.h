/* Multi-head self-attention over a fused qkv buffer, behind one function
 * pair so the model does not care how it is computed: the fused op
 * kz_op_attention (tiled, online softmax). Per layer the forward keeps only
 * the log-sum-exp of each query row [B, nh, T]; the backward recomputes the
 * probabilities from qkv, the output o and lse, and regenerates the dropout
 * mask from its key, so no [B, nh, T, T] buffer exists anywhere.
 *
 * qkv: [B*T, 3H] (per token: the H query values, then key, then value; head
 * h owns columns h*D .. h*D+D-1 of each); o: [B*T, H], heads merged the
 * same way; lengths: i32 [B] on the device (keys at or past a row's length
 * are masked; padded queries still attend, as in Hugging Face BERT). */
#ifndef KZ_MODELS_TRANSFORMER_ATTENTION_H
#define KZ_MODELS_TRANSFORMER_ATTENTION_H

#include "kernels/core/arena.h"
#include "kernels/core/backend.h"

typedef struct tf_attn_opts {
  int64_t batch, tokens, heads, head_dim; /* B, T, nh, D */
  float scale;                            /* 1/sqrt(D) */
  double dropout;                         /* on the probabilities, training only */
  uint64_t key;                           /* dropout stream */
} tf_attn_opts;

/* What the forward keeps for the backward (one per layer), besides qkv and
 * o, which the model keeps anyway. */
typedef struct tf_attn_saved {
  kz_tensor lse; /* [B*nh*T] log-sum-exp of each query row's scaled scores */
} tf_attn_saved;

/* Carves sv from a. */
kz_status tf_attention_alloc(kz_arena *a, const tf_attn_opts *o, tf_attn_saved *sv);

/* lse NULL (inference): sv may be NULL. */
kz_status tf_attention_fwd(kz_stream *s, const kz_tensor *qkv, kz_tensor *o, tf_attn_saved *sv,
                           const kz_tensor *lengths, const tf_attn_opts *op);
/* dqkv = d(loss)/d(qkv), written (not accumulated); qkv and o as the
 * forward left them, op with the forward's dropout and key. */
kz_status tf_attention_bwd(kz_stream *s, const kz_tensor *qkv, const kz_tensor *o,
                           const kz_tensor *dout, const tf_attn_saved *sv, const kz_tensor *lengths,
                           const tf_attn_opts *op, kz_tensor *dqkv);

#endif
