/* Multi-head self-attention over a fused qkv buffer, behind one function
 * pair so the model does not care how it is computed. Today it is a
 * sequence of existing ops (permute to split heads, batched matmul,
 * softmax with the padding lengths, dropout, matmul, permute back), which
 * keeps the probabilities [B, heads, T, T] for the backward; a fused
 * attention op (tiled, online softmax, saving only the log-sum-exp) replaces
 * the bodies of these two functions and nothing else.
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

/* What the forward keeps for the backward (one per layer). */
typedef struct tf_attn_saved {
  kz_tensor heads;   /* [B, 3nh, T, D]: qkv with the heads split */
  kz_tensor probs;   /* [B, nh, T, T] softmax output */
  kz_tensor probs_d; /* [B, nh, T, T] after dropout (== probs without) */
  kz_tensor mask;    /* [B, nh, T, T] dropout multipliers (dropout > 0 only) */
} tf_attn_saved;

/* Scratch shared by every layer. */
typedef struct tf_attn_scratch {
  kz_tensor scores; /* [B, nh, T, T] */
  kz_tensor dprobs; /* [B, nh, T, T] */
  kz_tensor ctx;    /* [B, nh, T, D] (forward: context; backward: its gradient) */
  kz_tensor dheads; /* [B, 3nh, T, D] */
} tf_attn_scratch;

/* Carves sv (with_dropout: probs_d and mask of their own) and sc from a. */
kz_status tf_attention_alloc(kz_arena *a, const tf_attn_opts *o, int with_dropout,
                             tf_attn_saved *sv);
kz_status tf_attention_scratch(kz_arena *a, const tf_attn_opts *o, tf_attn_scratch *sc);

kz_status tf_attention_fwd(kz_stream *s, const kz_tensor *qkv, kz_tensor *o, tf_attn_saved *sv,
                           tf_attn_scratch *sc, const kz_tensor *lengths, const tf_attn_opts *op);
/* dqkv = d(loss)/d(qkv), written (not accumulated). */
kz_status tf_attention_bwd(kz_stream *s, const kz_tensor *dout, const tf_attn_saved *sv,
                           tf_attn_scratch *sc, const kz_tensor *lengths, const tf_attn_opts *op,
                           kz_tensor *dqkv);

#endif
