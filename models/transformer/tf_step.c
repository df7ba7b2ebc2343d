/* Transformer forward, loss and backward on one batch of host inputs
 * (kz_transformer_step): a sequence of kernels/ops.h calls on the model's
 * device. The host prepares ids, positions and targets (uploaded) and reads
 * back per-item losses. Residual + dropout + layernorm, the row gather and
 * the loss each sit behind one helper here, and attention behind
 * attention.h, so fused ops replace them in one place each.
 *
 * Precision (docs/MODELS.md, "Mixed precision"). fp32: every activation is
 * an f32 arena buffer of its own per layer. bf16 (base.params_bf16 set):
 * every matmul reads bf16 operands (the weights from the bf16 copy the
 * optimizer keeps, the activations from bf16 copies; f32 accumulation).
 * The ops between the matmuls (bias, attention, GELU, residual +
 * layernorm, losses) stay f32 and write f32 scratch buffers shared by all
 * layers; what a layer keeps for its backward (its input, qkv, the
 * attention output, h1, the FFN's pre- and post-GELU values) is a bf16 cast
 * of that scratch (keep16), and the backward widens it back into the same
 * scratch where an f32 op needs it (load16). Gradients, layernorm and
 * softmax statistics (mean, rstd, lse), the logits and the loss are f32. In
 * fp32 keep16 and load16 do nothing and the f32 buffers are the operands,
 * so that path is the plain one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/rng.h"
#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/transformer/attention.h"
#include "models/transformer/tf_internal.h"

typedef struct layer_acts {
  /* bf16: qkv, ctx, ao, h1, f1, f1a and f2 are the shared f32 scratch
   * buffers, and the *16 tensors the layer's own bf16 copies */
  kz_tensor qkv; /* [N, 3H] */
  tf_attn_saved att;
  kz_tensor ctx;          /* [N, H] attention output, heads merged */
  kz_tensor ao;           /* [N, H] output dense */
  kz_tensor mean1, rstd1; /* LN statistics [N] of the attention sublayer */
  kz_tensor h1;           /* [N, H] */
  kz_tensor f1, f1a;      /* [N, F] before and after GELU */
  kz_tensor f2;           /* [N, H] */
  kz_tensor mean2, rstd2;
  kz_tensor qkv16, ctx16, h1_16, f1_16, f1a16; /* bf16 only */
  tf_lora_saved lora[TF_LORA_NMOD];            /* adapters' saved inputs (tf_lora.c) */
} layer_acts;

typedef struct acts {
  int64_t B, T, N, M; /* rows, tokens per row, tokens, head rows */
  int bf;             /* bf16 matmuls and activations (base.params_bf16 set) */
  kz_tensor ids, pos, types, lengths, hpos, targets, targets2; /* i32 */
  kz_tensor e_sum, e_tmp, e_mean, e_rstd, e_mask;
  kz_tensor x[KZ_TF_MAX_LAYERS + 1];   /* x[l]: input of layer l; x[L]: encoder output */
  kz_tensor x16[KZ_TF_MAX_LAYERS + 1]; /* bf16 only: their bf16 copies */
  layer_acts l[KZ_TF_MAX_LAYERS];
  /* head */
  kz_tensor hg;                    /* [M, H] gathered rows */
  kz_tensor hz, hza, hmask;        /* [M, H] dense, activation, dropout mask */
  kz_tensor hmean, hrstd;          /* [M] */
  kz_tensor hn;                    /* [M, H] mlm transform output */
  kz_tensor logits, dlogits;       /* [M, C] (qa: [N, 2]) */
  kz_tensor qa_logits, qa_dlogits; /* [2, B, T] */
  kz_tensor losses, dloss;         /* [M] (qa: [2B]) */
  /* backward */
  kz_tensor dA, dB, dC, dD, dF1, dF2, dQ3;
  kz_tensor dh1, dh2; /* [M, H] head scratch */
  /* bf16 only: copies of the head's matmul inputs [M, H], and the bf16
   * cast of each output gradient a backward matmul reads */
  kz_tensor hg16, hza16, hn16;
  kz_tensor d16;
  kz_tensor lora_du, lora_dxd; /* adapters' backward scratch [N, r], [N, max(H, F)] */
  /* bf16 with adapters: an adapter's input widened from the bf16 copy its
   * base matmul reads [N, max(H, F)], so forward and backward see the same
   * values (the f32 scratch the layers share has moved on by then) */
  kz_tensor lora_x;
} acts;

static kz_status t1(kz_arena *a, kz_dtype dt, int64_t n, kz_tensor *t) {
  int64_t s[1] = {n > 0 ? n : 1};
  return kz_arena_tensor(a, dt, 1, s, t);
}
static kz_status t2(kz_arena *a, int64_t r, int64_t c, kz_tensor *t) {
  int64_t s[2] = {r > 0 ? r : 1, c > 0 ? c : 1};
  return kz_arena_tensor(a, KZ_F32, 2, s, t);
}
static kz_status h2(kz_arena *a, int64_t r, int64_t c, kz_tensor *t) {
  int64_t s[2] = {r > 0 ? r : 1, c > 0 ? c : 1};
  return kz_arena_tensor(a, KZ_BF16, 2, s, t);
}
static int64_t max64(int64_t a, int64_t b) {
  return a > b ? a : b;
}

static int64_t head_cols(const kz_tf *m) {
  switch (m->task) {
  case TF_MLM:
    return m->vocab;
  case TF_QA:
    return 2;
  default:
    return m->n_classes;
  }
}

static tf_attn_opts attn_opts(const kz_tf *m, int64_t B, int64_t T) {
  tf_attn_opts o = {.batch = B,
                    .tokens = T,
                    .heads = m->heads,
                    .head_dim = m->hidden / m->heads,
                    .scale = (float)(1.0 / sqrt((double)(m->hidden / m->heads)))};
  return o;
}

/* bf16: the f32 scratch every layer shares and the bf16 copies each keeps
 * (in evaluation, with no backward to keep them for, layers share those
 * too: layer l's input and output copies alternate between two buffers). */
static kz_status alloc_layers_bf16(const kz_tf *m, kz_arena *a, int train, acts *x) {
  const int64_t N = x->N, H = m->hidden, F = m->ffn;
  tf_attn_opts ao = attn_opts(m, x->B, x->T);
  kz_tensor xf[2], s3, sc, sh, sf;
  KZ_TRY(t2(a, N, H, &xf[0]));
  KZ_TRY(t2(a, N, H, &xf[1]));
  KZ_TRY(t2(a, N, 3 * H, &s3));
  KZ_TRY(t2(a, N, H, &sc));
  KZ_TRY(t2(a, N, H, &sh));
  KZ_TRY(t2(a, N, max64(F, H), &sf));
  /* the dense outputs reuse the buffer of their matmul's f32 input, dead
   * once its bf16 copy is kept: ao the attention output's, f2 (N*H
   * floats) the FFN activation's */
  kz_tensor f2 = kz_tensor_view(sf.data, KZ_F32, sf.device, 2, N, H);
  sf = kz_tensor_view(sf.data, KZ_F32, sf.device, 2, N, F);
  if (m->lora.enabled) KZ_TRY(t2(a, N, max64(F, H), &x->lora_x));
  for (int64_t l = 0; l <= m->layers; l++) {
    x->x[l] = xf[l % 2];
    if (train || l < 2)
      KZ_TRY(h2(a, N, H, &x->x16[l]));
    else
      x->x16[l] = x->x16[l % 2];
  }
  for (int64_t l = 0; l < m->layers; l++) {
    layer_acts *L = &x->l[l];
    L->qkv = s3, L->ctx = sc, L->ao = sc, L->h1 = sh, L->f1 = sf, L->f1a = sf, L->f2 = f2;
    if (train) KZ_TRY(tf_attention_alloc(a, &ao, &L->att));
    KZ_TRY(t1(a, KZ_F32, N, &L->mean1));
    KZ_TRY(t1(a, KZ_F32, N, &L->rstd1));
    KZ_TRY(t1(a, KZ_F32, N, &L->mean2));
    KZ_TRY(t1(a, KZ_F32, N, &L->rstd2));
    for (int k = 0; k < TF_LORA_NMOD; k++) KZ_TRY(kz_tf_lora_alloc(m, a, N, k, train, &L->lora[k]));
    if (!train && l > 0) {
      const layer_acts *K = &x->l[0];
      L->qkv16 = K->qkv16, L->ctx16 = K->ctx16, L->h1_16 = K->h1_16;
      L->f1_16 = K->f1_16, L->f1a16 = K->f1a16;
      continue;
    }
    KZ_TRY(h2(a, N, 3 * H, &L->qkv16));
    KZ_TRY(h2(a, N, H, &L->ctx16));
    KZ_TRY(h2(a, N, H, &L->h1_16));
    KZ_TRY(h2(a, N, F, &L->f1_16));
    KZ_TRY(h2(a, N, F, &L->f1a16));
  }
  return KZ_OK;
}

static kz_status alloc_acts(const kz_tf *m, kz_arena *a, int64_t B, int64_t T, int64_t M, int train,
                            int bf, acts *x) {
  memset(x, 0, sizeof *x);
  const int64_t N = B * T, H = m->hidden, F = m->ffn, C = head_cols(m);
  const int drop = train && m->dropout > 0.0;
  x->B = B, x->T = T, x->N = N, x->M = M, x->bf = bf;
  KZ_TRY(t1(a, KZ_I32, N, &x->ids));
  KZ_TRY(t1(a, KZ_I32, N, &x->pos));
  KZ_TRY(t1(a, KZ_I32, N, &x->types));
  KZ_TRY(t1(a, KZ_I32, B, &x->lengths));
  KZ_TRY(t1(a, KZ_I32, M, &x->hpos));
  KZ_TRY(t1(a, KZ_I32, M, &x->targets));
  KZ_TRY(t1(a, KZ_I32, B, &x->targets2));
  KZ_TRY(t2(a, N, H, &x->e_sum));
  KZ_TRY(t2(a, N, H, &x->e_tmp));
  KZ_TRY(t1(a, KZ_F32, N, &x->e_mean));
  KZ_TRY(t1(a, KZ_F32, N, &x->e_rstd));
  if (drop) KZ_TRY(t2(a, N, H, &x->e_mask));
  tf_attn_opts ao = attn_opts(m, B, T);
  if (bf) KZ_TRY(alloc_layers_bf16(m, a, train, x));
  for (int64_t l = 0; !bf && l <= m->layers; l++) KZ_TRY(t2(a, N, H, &x->x[l]));
  for (int64_t l = 0; !bf && l < m->layers; l++) {
    layer_acts *L = &x->l[l];
    KZ_TRY(t2(a, N, 3 * H, &L->qkv));
    if (train) KZ_TRY(tf_attention_alloc(a, &ao, &L->att));
    KZ_TRY(t2(a, N, H, &L->ctx));
    KZ_TRY(t2(a, N, H, &L->ao));
    KZ_TRY(t1(a, KZ_F32, N, &L->mean1));
    KZ_TRY(t1(a, KZ_F32, N, &L->rstd1));
    KZ_TRY(t2(a, N, H, &L->h1));
    KZ_TRY(t2(a, N, F, &L->f1));
    KZ_TRY(t2(a, N, F, &L->f1a));
    KZ_TRY(t2(a, N, H, &L->f2));
    KZ_TRY(t1(a, KZ_F32, N, &L->mean2));
    KZ_TRY(t1(a, KZ_F32, N, &L->rstd2));
    for (int k = 0; k < TF_LORA_NMOD; k++) KZ_TRY(kz_tf_lora_alloc(m, a, N, k, train, &L->lora[k]));
  }
  KZ_TRY(t2(a, M, H, &x->hg));
  KZ_TRY(t2(a, M, H, &x->hz));
  KZ_TRY(t2(a, M, H, &x->hza));
  KZ_TRY(t2(a, M, H, &x->hmask));
  KZ_TRY(t1(a, KZ_F32, M, &x->hmean));
  KZ_TRY(t1(a, KZ_F32, M, &x->hrstd));
  KZ_TRY(t2(a, M, H, &x->hn));
  if (bf) {
    KZ_TRY(h2(a, M, H, &x->hg16));
    KZ_TRY(h2(a, M, H, &x->hza16));
    KZ_TRY(h2(a, M, H, &x->hn16));
  }
  KZ_TRY(t2(a, M, C, &x->logits));
  KZ_TRY(t2(a, M, C, &x->dlogits));
  if (m->task == TF_QA) {
    int64_t s3[3] = {2, B, T};
    KZ_TRY(kz_arena_tensor(a, KZ_F32, 3, s3, &x->qa_logits));
    KZ_TRY(kz_arena_tensor(a, KZ_F32, 3, s3, &x->qa_dlogits));
  }
  KZ_TRY(t1(a, KZ_F32, m->task == TF_QA ? 2 * B : M, &x->losses));
  KZ_TRY(t1(a, KZ_F32, m->task == TF_QA ? 2 * B : M, &x->dloss));
  if (!train) return KZ_OK;
  KZ_TRY(t2(a, N, H, &x->dA));
  KZ_TRY(t2(a, N, H, &x->dB));
  KZ_TRY(t2(a, N, H, &x->dC));
  KZ_TRY(t2(a, N, H, &x->dD));
  KZ_TRY(t2(a, N, F, &x->dF1));
  KZ_TRY(t2(a, N, F, &x->dF2));
  KZ_TRY(t2(a, N, 3 * H, &x->dQ3));
  KZ_TRY(t2(a, M, H, &x->dh1));
  KZ_TRY(t2(a, M, H, &x->dh2));
  if (m->lora.enabled) {
    KZ_TRY(t2(a, N, m->lora.r, &x->lora_du));
    if (m->lora.dropout > 0.0) KZ_TRY(t2(a, N, F > H ? F : H, &x->lora_dxd));
  }
  /* the largest output gradient a layer's backward matmul reads, [N, 3H]
   * or [N, F], and at least one row of the head's (linear_bwd goes through
   * a larger one in blocks of rows) */
  if (bf) KZ_TRY(t1(a, KZ_BF16, max64(N * max64(3 * H, F), max64(C, H)), &x->d16));
  return KZ_OK;
}

/* Sizes the arena for the largest (rows, tokens, head rows) seen so far
 * with backward buffers (a planning pass measures it), then carves this
 * call's activations from it. */
static kz_status get_acts(kz_tf *m, int64_t B, int64_t T, int64_t M, int train, acts *x) {
  (void)T; /* planned at max_len tokens, so any T <= max_len fits */
  const int bf = m->base.params_bf16.data != NULL;
  if (!m->arena || B > m->cap_rows || M > m->cap_masked || (train && !m->cap_train) ||
      bf != m->cap_bf16) {
    int64_t cb = B > m->cap_rows ? B : m->cap_rows;
    int64_t ct = m->max_len;
    /* head rows: B (classification), every token (token_classification,
     * qa), or the masked tokens (mlm), which vary per batch: a quarter more
     * than asked keeps re-planning rare without sizing the [M, vocab] logits
     * for every token */
    int64_t cm = m->task == TF_CLS ? cb : m->task == TF_MLM ? M + M / 4 : cb * ct;
    cm = cm > m->cap_masked ? cm : m->cap_masked;
    kz_arena *plan = NULL;
    KZ_TRY(kz_arena_plan(m->base.device, &plan));
    /* evaluation-only models (predict, eval) never pay for the backward's
     * buffers; the first training step re-plans */
    const int ptrain = train || m->cap_train;
    kz_status st = alloc_acts(m, plan, cb, ct, cm, ptrain, bf, x);
    size_t bytes = kz_arena_planned_bytes(plan);
    kz_arena_destroy(plan);
    KZ_TRY(st);
    if (m->arena) kz_arena_destroy(m->arena);
    m->arena = NULL;
    KZ_TRY(kz_arena_create(m->base.device, bytes, &m->arena));
    m->cap_rows = cb, m->cap_tokens = cb * ct, m->cap_masked = cm, m->cap_train = ptrain;
    m->cap_bf16 = bf;
  }
  kz_arena_reset(m->arena);
  return alloc_acts(m, m->arena, B, T, M, train, bf, x);
}

static kz_status upload(kz_tf *m, kz_tensor *t, const void *host, size_t bytes) {
  if (bytes == 0) return KZ_OK;
  return kz_copy_to_device(m->stream, t->data, host, bytes);
}

static void *stage(kz_tf *m, size_t bytes) {
  if (bytes > m->stage_cap) {
    void *p = realloc(m->stage, bytes);
    if (!p) return NULL;
    m->stage = p;
    m->stage_cap = bytes;
  }
  return m->stage;
}

static kz_tensor rows_of(const kz_tensor *t, int64_t r, int64_t c) {
  return kz_tensor_view(t->data, t->dtype, t->device, 2, r, c);
}

static uint64_t drop_key(uint64_t seed, int64_t layer, int site) {
  return kz_rng_key(seed, (uint64_t)layer * 8u + (uint64_t)site, 0x7466ULL);
}

/* ---- helpers that fused ops replace --------------------------------------- */

/* out = layernorm(resid + dropout(branch)) (the fused op; the dropout mask
 * is a function of key, redrawn by the backward). out must stay unchanged
 * until resid_ln_bwd ran: the backward rebuilds the normalised input from
 * it. */
static kz_status resid_ln_fwd(kz_tf *m, const kz_tensor *branch, const kz_tensor *resid,
                              const kz_tensor *g, const kz_tensor *b, kz_tensor *out,
                              kz_tensor *mean, kz_tensor *rstd, int train, uint64_t key) {
  return kz_op_residual_layernorm(m->stream, resid, branch, g, b, out, mean, rstd,
                                  train ? m->dropout : 0.0, key, (float)m->ln_eps);
}

/* From dout: dsum (the residual's gradient, written) and *dbranch, the
 * branch's gradient (dsum itself without dropout, else spare, written);
 * dgamma and dbeta added. */
static kz_status resid_ln_bwd(kz_tf *m, const kz_tensor *dout, const kz_tensor *out,
                              const kz_tensor *g, const kz_tensor *b, const kz_tensor *rstd,
                              uint64_t key, kz_tensor *dg, kz_tensor *db, kz_tensor *dsum,
                              kz_tensor *spare, kz_tensor **dbranch) {
  const int drop = m->dropout > 0.0;
  *dbranch = drop ? spare : dsum;
  return kz_op_residual_layernorm_bwd(m->stream, dout, out, NULL, g, b, NULL, rstd, dsum,
                                      drop ? spare : NULL, kz_tf_wants_grad(m, dg) ? dg : NULL,
                                      kz_tf_wants_grad(m, db) ? db : NULL, m->dropout, key,
                                      (float)m->ln_eps, false);
}

/* ---- precision ---------------------------------------------------------------- */

/* The weight a matmul reads: w itself, or in bf16 its view in the bf16
 * copy of the parameter block (same offset, same shape). */
static kz_tensor weight(const kz_tf *m, const acts *x, const kz_tensor *w) {
  if (!x->bf) return *w;
  const int64_t off = (const float *)w->data - (const float *)m->base.params.data;
  return kz_tensor_view((uint16_t *)m->base.params_bf16.data + off, KZ_BF16, w->device, 2,
                        w->shape[0], w->shape[1]);
}

/* The matmul operand of an activation: f itself, or its bf16 copy h. */
static const kz_tensor *operand(const acts *x, const kz_tensor *f, const kz_tensor *h) {
  return x->bf ? h : f;
}

/* bf16: h = bf16(f), the copy the matmuls and the backward read. */
static kz_status keep16(kz_tf *m, const acts *x, const kz_tensor *f, kz_tensor *h) {
  return x->bf ? kz_op_cast(m->stream, f, h) : KZ_OK;
}

/* bf16: f = f32(h), a kept copy widened for an f32 op (exact). */
static kz_status load16(kz_tf *m, const acts *x, const kz_tensor *h, kz_tensor *f) {
  return x->bf ? kz_op_cast(m->stream, h, f) : KZ_OK;
}

/* The input an adapter of module k reads: f itself in fp32; in bf16 the
 * kept copy h widened into x->lora_x (only when the module has an
 * adapter that runs). */
static kz_status adapter_in(kz_tf *m, const acts *x, int k, const kz_tensor *f, const kz_tensor *h,
                            kz_tensor *out) {
  *out = *f;
  if (!x->bf || !m->lora.enabled || m->lora_merged || !(m->lora.targets & (1u << k))) return KZ_OK;
  *out = kz_tensor_view(x->lora_x.data, KZ_F32, h->device, 2, kz_tensor_rows(h), kz_tensor_cols(h));
  return kz_op_cast(m->stream, h, out);
}

/* y = x @ w^T + b (a Linear in HF's [out, in] layout); in is operand(). */
static kz_status linear(kz_tf *m, const acts *x, const kz_tensor *in, const kz_tensor *w,
                        const kz_tensor *b, kz_tensor *y) {
  kz_tensor wt = weight(m, x, w);
  KZ_TRY(kz_op_matmul(m->stream, in, &wt, y, false, true, 1.0f, 0.0f));
  return kz_op_bias_add(m->stream, y, b, y);
}

/* dw += dy^T in, db += colsum(dy), dx = dy w (dx NULL: not wanted); a
 * frozen weight or bias (a LoRA base weight) gets no gradient work. In
 * bf16 the two products read dy rounded to bf16 (x->d16), accumulating
 * into the f32 gradients; the bias gradient sums the f32 dy. d16 holds the
 * layers' largest dy; a larger one (the MLM decoder's [masked rows,
 * vocab]) goes through in blocks of rows, which changes nothing but the
 * order dw's sums are taken in (dx's rows are independent). */
static kz_status linear_bwd(kz_tf *m, const acts *x, const kz_tensor *dy, const kz_tensor *in,
                            const kz_tensor *w, kz_tensor *dw, kz_tensor *db, kz_tensor *dx) {
  kz_tensor wt = weight(m, x, w);
  if (!x->bf) {
    if (kz_tf_wants_grad(m, dw))
      KZ_TRY(kz_op_matmul(m->stream, dy, in, dw, true, false, 1.0f, 1.0f));
    if (kz_tf_wants_grad(m, db)) KZ_TRY(kz_op_bias_add_bwd(m->stream, dy, db, true));
    return dx ? kz_op_matmul(m->stream, dy, &wt, dx, false, false, 1.0f, 0.0f) : KZ_OK;
  }
  const int want_w = kz_tf_wants_grad(m, dw);
  if (kz_tf_wants_grad(m, db)) KZ_TRY(kz_op_bias_add_bwd(m->stream, dy, db, true));
  if (!want_w && !dx) return KZ_OK;
  const int64_t rows = kz_tensor_rows(dy), cols = kz_tensor_cols(dy), k = kz_tensor_cols(in);
  const int64_t per = kz_tensor_numel(&x->d16) / (cols > 0 ? cols : 1);
  if (per < 1) return kz_fail(KZ_ERR_INTERNAL, "transformer: bf16 gradient buffer too small");
  for (int64_t r = 0; r < rows; r += per) {
    const int64_t n = rows - r < per ? rows - r : per;
    kz_tensor d = kz_tensor_view((float *)dy->data + r * cols, KZ_F32, dy->device, 2, n, cols);
    kz_tensor g = kz_tensor_view(x->d16.data, KZ_BF16, dy->device, 2, n, cols);
    kz_tensor a = kz_tensor_view((uint16_t *)in->data + r * k, KZ_BF16, in->device, 2, n, k);
    KZ_TRY(kz_op_cast(m->stream, &d, &g));
    if (want_w) KZ_TRY(kz_op_matmul(m->stream, &g, &a, dw, true, false, 1.0f, 1.0f));
    if (!dx) continue;
    const int64_t c = kz_tensor_cols(dx);
    kz_tensor o = kz_tensor_view((float *)dx->data + r * c, KZ_F32, dx->device, 2, n, c);
    KZ_TRY(kz_op_matmul(m->stream, &g, &wt, &o, false, false, 1.0f, 0.0f));
  }
  return KZ_OK;
}

/* rows[i] = x[pos[i]] (the MLM gather of masked positions, the [CLS] rows). */
static kz_status gather_rows(kz_tf *m, const kz_tensor *pos, const kz_tensor *x, kz_tensor *rows) {
  return kz_op_gather_rows(m->stream, x, pos, rows);
}

/* dx = 0, then dx[pos[i]] += drows[i]. */
static kz_status gather_rows_bwd(kz_tf *m, const kz_tensor *pos, const kz_tensor *drows,
                                 kz_tensor *dx) {
  return kz_op_gather_rows_bwd(m->stream, pos, drows, dx, false);
}

/* ---- forward -------------------------------------------------------------- */

static kz_status embed_fwd(kz_tf *m, acts *x, int train, uint64_t seed) {
  const int64_t N = x->N, H = m->hidden;
  kz_tensor e = rows_of(&x->e_sum, N, H), t = rows_of(&x->e_tmp, N, H);
  KZ_TRY(kz_op_embedding(m->stream, &x->ids, &m->p.wte, &e));
  KZ_TRY(kz_op_embedding(m->stream, &x->pos, &m->p.wpe, &t));
  KZ_TRY(kz_op_add(m->stream, &e, &t, &e));
  KZ_TRY(kz_op_embedding(m->stream, &x->types, &m->p.wtt, &t));
  KZ_TRY(kz_op_add(m->stream, &e, &t, &e));
  KZ_TRY(kz_op_layernorm(m->stream, &e, &m->p.eln_g, &m->p.eln_b, &x->x[0], &x->e_mean, &x->e_rstd,
                         (float)m->ln_eps));
  if (train && m->dropout > 0.0)
    KZ_TRY(
        kz_op_dropout(m->stream, &x->x[0], &x->x[0], &x->e_mask, m->dropout, drop_key(seed, 0, 0)));
  return keep16(m, x, &x->x[0], &x->x16[0]);
}

static kz_status layer_fwd(kz_tf *m, acts *x, int64_t l, int train, uint64_t seed) {
  const tf_layer_params *P = &m->p.layer[l];
  layer_acts *L = &x->l[l];
  tf_attn_opts ao = attn_opts(m, x->B, x->T);
  ao.dropout = train ? m->attn_dropout : 0.0;
  ao.key = drop_key(seed, l + 1, 1);
  KZ_TRY(linear(m, x, operand(x, &x->x[l], &x->x16[l]), &P->qkv_w, &P->qkv_b, &L->qkv));
  /* LoRA adapters, each after its base Linear (in bf16 on the input as the
   * base matmul read it: adapter_in) */
  kz_tensor ain;
  for (int k = TF_LORA_Q; k <= TF_LORA_V; k++) {
    KZ_TRY(adapter_in(m, x, k, &x->x[l], &x->x16[l], &ain));
    KZ_TRY(kz_tf_lora_fwd(m, l, k, &ain, &L->qkv, k * m->hidden, &L->lora[k], train, seed));
  }
  /* bf16: the attention reads qkv as rounded to bf16, the values its
   * backward will recompute the probabilities from */
  KZ_TRY(keep16(m, x, &L->qkv, &L->qkv16));
  KZ_TRY(load16(m, x, &L->qkv16, &L->qkv));
  /* lse only where the backward will run (alloc_acts carved it) */
  tf_attn_saved *sv = L->att.lse.data ? &L->att : NULL;
  KZ_TRY(tf_attention_fwd(m->stream, &L->qkv, &L->ctx, sv, &x->lengths, &ao));
  KZ_TRY(keep16(m, x, &L->ctx, &L->ctx16));
  KZ_TRY(linear(m, x, operand(x, &L->ctx, &L->ctx16), &P->ao_w, &P->ao_b, &L->ao));
  KZ_TRY(adapter_in(m, x, TF_LORA_AO, &L->ctx, &L->ctx16, &ain));
  KZ_TRY(kz_tf_lora_fwd(m, l, TF_LORA_AO, &ain, &L->ao, 0, &L->lora[TF_LORA_AO], train, seed));
  KZ_TRY(resid_ln_fwd(m, &L->ao, &x->x[l], &P->ln1_g, &P->ln1_b, &L->h1, &L->mean1, &L->rstd1,
                      train, drop_key(seed, l + 1, 2)));
  KZ_TRY(keep16(m, x, &L->h1, &L->h1_16));
  KZ_TRY(linear(m, x, operand(x, &L->h1, &L->h1_16), &P->fi_w, &P->fi_b, &L->f1));
  KZ_TRY(adapter_in(m, x, TF_LORA_FI, &L->h1, &L->h1_16, &ain));
  KZ_TRY(kz_tf_lora_fwd(m, l, TF_LORA_FI, &ain, &L->f1, 0, &L->lora[TF_LORA_FI], train, seed));
  KZ_TRY(keep16(m, x, &L->f1, &L->f1_16));
  /* bf16: f1a is f1's buffer, GELU in place */
  KZ_TRY(kz_op_gelu(m->stream, &L->f1, &L->f1a, KZ_GELU_ERF));
  KZ_TRY(keep16(m, x, &L->f1a, &L->f1a16));
  KZ_TRY(linear(m, x, operand(x, &L->f1a, &L->f1a16), &P->fo_w, &P->fo_b, &L->f2));
  KZ_TRY(adapter_in(m, x, TF_LORA_FO, &L->f1a, &L->f1a16, &ain));
  KZ_TRY(kz_tf_lora_fwd(m, l, TF_LORA_FO, &ain, &L->f2, 0, &L->lora[TF_LORA_FO], train, seed));
  KZ_TRY(resid_ln_fwd(m, &L->f2, &L->h1, &P->ln2_g, &P->ln2_b, &x->x[l + 1], &L->mean2, &L->rstd2,
                      train, drop_key(seed, l + 1, 3)));
  return keep16(m, x, &x->x[l + 1], &x->x16[l + 1]);
}

/* The task's head up to the logits. */
static kz_status head_fwd(kz_tf *m, acts *x, int train, uint64_t seed) {
  const kz_tensor *xl = &x->x[m->layers];
  const int64_t M = x->M, H = m->hidden;
  switch (m->task) {
  case TF_MLM:
    if (M == 0) return KZ_OK;
    KZ_TRY(gather_rows(m, &x->hpos, xl, &x->hg));
    KZ_TRY(keep16(m, x, &x->hg, &x->hg16));
    KZ_TRY(linear(m, x, operand(x, &x->hg, &x->hg16), &m->p.mlm_w, &m->p.mlm_b, &x->hz));
    KZ_TRY(kz_op_gelu(m->stream, &x->hz, &x->hza, KZ_GELU_ERF));
    KZ_TRY(kz_op_layernorm(m->stream, &x->hza, &m->p.mlm_ln_g, &m->p.mlm_ln_b, &x->hn, &x->hmean,
                           &x->hrstd, (float)m->ln_eps));
    KZ_TRY(keep16(m, x, &x->hn, &x->hn16));
    /* the decoder is the word embedding matrix, tied */
    return linear(m, x, operand(x, &x->hn, &x->hn16), &m->p.wte, &m->p.mlm_bias, &x->logits);
  case TF_CLS:
    KZ_TRY(gather_rows(m, &x->hpos, xl, &x->hg));
    KZ_TRY(keep16(m, x, &x->hg, &x->hg16));
    KZ_TRY(linear(m, x, operand(x, &x->hg, &x->hg16), &m->p.pool_w, &m->p.pool_b, &x->hz));
    KZ_TRY(kz_op_tanh(m->stream, &x->hz, &x->hza, 1.0f));
    if (train && m->dropout > 0.0)
      KZ_TRY(
          kz_op_dropout(m->stream, &x->hza, &x->hza, &x->hmask, m->dropout, drop_key(seed, 0, 4)));
    KZ_TRY(keep16(m, x, &x->hza, &x->hza16));
    return linear(m, x, operand(x, &x->hza, &x->hza16), &m->p.out_w, &m->p.out_b, &x->logits);
  case TF_TOKCLS: {
    const kz_tensor *in = operand(x, xl, &x->x16[m->layers]);
    kz_tensor hza = rows_of(&x->hza, M, H), hza16 = rows_of(&x->hza16, M, H);
    if (train && m->dropout > 0.0) {
      KZ_TRY(kz_op_dropout(m->stream, xl, &hza, &x->hmask, m->dropout, drop_key(seed, 0, 4)));
      KZ_TRY(keep16(m, x, &hza, &hza16));
      in = operand(x, &hza, &hza16);
    }
    return linear(m, x, in, &m->p.out_w, &m->p.out_b, &x->logits);
  }
  case TF_QA: {
    static const int perm[3] = {2, 0, 1}; /* [B, T, 2] -> [2, B, T] */
    KZ_TRY(linear(m, x, operand(x, xl, &x->x16[m->layers]), &m->p.out_w, &m->p.out_b, &x->logits));
    kz_tensor l3;
    int64_t s3[3] = {x->B, x->T, 2};
    KZ_TRY(kz_tensor_reshape(&x->logits, 3, s3, &l3));
    return kz_op_permute(m->stream, &l3, &x->qa_logits, perm);
  }
  }
  return KZ_OK;
}

/* Per-item cross-entropy: rows of logits against targets (-1 ignored). For
 * qa the start logits against targets and the end logits against targets2,
 * B rows of T classes each. */
static kz_status loss_fwd(kz_tf *m, acts *x) {
  if (m->task != TF_QA) {
    if (x->M == 0) return KZ_OK;
    return kz_op_cross_entropy(m->stream, &x->logits, &x->targets, &x->losses, -1);
  }
  for (int k = 0; k < 2; k++) {
    kz_tensor lg, ls;
    KZ_TRY(kz_tensor_slice(&x->qa_logits, k, 1, &lg));
    int64_t s2[2] = {x->B, x->T};
    KZ_TRY(kz_tensor_reshape(&lg, 2, s2, &lg));
    ls = kz_tensor_view((float *)x->losses.data + k * x->B, KZ_F32, m->base.device, 1, x->B);
    kz_tensor tg =
        kz_tensor_view(k ? x->targets2.data : x->targets.data, KZ_I32, m->base.device, 1, x->B);
    KZ_TRY(kz_op_cross_entropy(m->stream, &lg, &tg, &ls, -1));
  }
  return KZ_OK;
}

/* ---- backward ------------------------------------------------------------- */

/* The gradients from first to last (adjacent in the layout) are final: the
 * data-parallel trainer may start reducing them (nn_model.h). A layer's
 * (and its LoRA adapters') after its backward; the head's after head_bwd,
 * except that MLM's decoder is the word embedding (tied), which the
 * embeddings' backward adds to. */
static kz_status grads_ready(kz_tf *m, const kz_tensor *first, const kz_tensor *last) {
  if (!m->base.grad_ready || !first->data || !last->data) return KZ_OK;
  const float *g0 = m->base.grads.data;
  const int64_t a = (const float *)first->data - g0;
  const int64_t z = (const float *)last->data - g0 + kz_tensor_numel(last);
  return kz_nn_grads_ready(&m->base, m->stream, a, z - a);
}

static kz_status head_grads_ready(kz_tf *m) {
  switch (m->task) {
  case TF_MLM:
    return grads_ready(m, &m->g.mlm_w, &m->g.mlm_bias);
  case TF_CLS:
    return grads_ready(m, &m->g.pool_w, &m->g.out_b);
  default:
    return grads_ready(m, &m->g.out_w, &m->g.out_b);
  }
}

/* dlogits from the per-item loss weights (dloss), then through the head
 * into dxl [N, H] (written). */
static kz_status head_bwd(kz_tf *m, acts *x, kz_tensor *dxl) {
  const int64_t M = x->M, H = m->hidden;
  if (m->task == TF_QA) {
    static const int perm[3] = {2, 0, 1};
    for (int k = 0; k < 2; k++) {
      kz_tensor lg, dlg, dl;
      int64_t s2[2] = {x->B, x->T};
      KZ_TRY(kz_tensor_slice(&x->qa_logits, k, 1, &lg));
      KZ_TRY(kz_tensor_reshape(&lg, 2, s2, &lg));
      KZ_TRY(kz_tensor_slice(&x->qa_dlogits, k, 1, &dlg));
      KZ_TRY(kz_tensor_reshape(&dlg, 2, s2, &dlg));
      dl = kz_tensor_view((float *)x->dloss.data + k * x->B, KZ_F32, m->base.device, 1, x->B);
      kz_tensor tg =
          kz_tensor_view(k ? x->targets2.data : x->targets.data, KZ_I32, m->base.device, 1, x->B);
      KZ_TRY(kz_op_cross_entropy_bwd(m->stream, &lg, &tg, &dl, &dlg, -1, false));
    }
    kz_tensor d3;
    int64_t s3[3] = {x->B, x->T, 2};
    KZ_TRY(kz_tensor_reshape(&x->dlogits, 3, s3, &d3));
    KZ_TRY(kz_op_permute_bwd(m->stream, &x->qa_dlogits, &d3, perm, false));
    return linear_bwd(m, x, &x->dlogits, operand(x, &x->x[m->layers], &x->x16[m->layers]),
                      &m->p.out_w, &m->g.out_w, &m->g.out_b, dxl);
  }
  if (M == 0) return kz_fill_bytes(m->stream, dxl->data, 0, kz_tensor_bytes(dxl));
  KZ_TRY(kz_op_cross_entropy_bwd(m->stream, &x->logits, &x->targets, &x->dloss, &x->dlogits, -1,
                                 false));
  switch (m->task) {
  case TF_MLM:
    KZ_TRY(linear_bwd(m, x, &x->dlogits, operand(x, &x->hn, &x->hn16), &m->p.wte, &m->g.wte,
                      &m->g.mlm_bias, &x->dh1));
    KZ_TRY(kz_fill_bytes(m->stream, x->dh2.data, 0, kz_tensor_bytes(&x->dh2)));
    KZ_TRY(kz_op_layernorm_bwd(m->stream, &x->dh1, &x->hza, &m->p.mlm_ln_g, &x->hmean, &x->hrstd,
                               &x->dh2, kz_tf_wants_grad(m, &m->g.mlm_ln_g) ? &m->g.mlm_ln_g : NULL,
                               kz_tf_wants_grad(m, &m->g.mlm_ln_b) ? &m->g.mlm_ln_b : NULL, true));
    KZ_TRY(kz_op_gelu_bwd(m->stream, &x->hz, &x->dh2, &x->dh1, KZ_GELU_ERF, false));
    KZ_TRY(linear_bwd(m, x, &x->dh1, operand(x, &x->hg, &x->hg16), &m->p.mlm_w, &m->g.mlm_w,
                      &m->g.mlm_b, &x->dh2));
    return gather_rows_bwd(m, &x->hpos, &x->dh2, dxl);
  case TF_CLS:
    KZ_TRY(linear_bwd(m, x, &x->dlogits, operand(x, &x->hza, &x->hza16), &m->p.out_w, &m->g.out_w,
                      &m->g.out_b, &x->dh1));
    if (m->dropout > 0.0) KZ_TRY(kz_op_dropout_bwd(m->stream, &x->dh1, &x->hmask, &x->dh1, false));
    KZ_TRY(kz_op_tanh_bwd(m->stream, &x->hz, &x->dh1, &x->dh2, 1.0f, false));
    KZ_TRY(linear_bwd(m, x, &x->dh2, operand(x, &x->hg, &x->hg16), &m->p.pool_w, &m->g.pool_w,
                      &m->g.pool_b, &x->dh1));
    return gather_rows_bwd(m, &x->hpos, &x->dh1, dxl);
  case TF_TOKCLS: {
    const int drop = m->dropout > 0.0;
    kz_tensor hza = rows_of(&x->hza, M, H), hza16 = rows_of(&x->hza16, M, H);
    const kz_tensor *in =
        drop ? operand(x, &hza, &hza16) : operand(x, &x->x[m->layers], &x->x16[m->layers]);
    KZ_TRY(linear_bwd(m, x, &x->dlogits, in, &m->p.out_w, &m->g.out_w, &m->g.out_b, dxl));
    if (drop) KZ_TRY(kz_op_dropout_bwd(m->stream, dxl, &x->hmask, dxl, false));
    return KZ_OK;
  }
  default:
    return KZ_OK;
  }
}

/* dA holds the gradient of layer l's output; on return, of its input. */
static kz_status layer_bwd(kz_tf *m, acts *x, int64_t l, uint64_t seed) {
  const tf_layer_params *P = &m->p.layer[l];
  tf_layer_params *G = &m->g.layer[l];
  layer_acts *L = &x->l[l];
  tf_attn_opts ao = attn_opts(m, x->B, x->T);
  ao.dropout = m->attn_dropout;
  ao.key = drop_key(seed, l + 1, 1);
  kz_tensor *dbr = NULL;
  /* output LayerNorm: dB = d(r2) (also the residual's gradient into h1) */
  KZ_TRY(load16(m, x, &x->x16[l + 1], &x->x[l + 1]));
  KZ_TRY(resid_ln_bwd(m, &x->dA, &x->x[l + 1], &P->ln2_g, &P->ln2_b, &L->rstd2,
                      drop_key(seed, l + 1, 3), &G->ln2_g, &G->ln2_b, &x->dB, &x->dC, &dbr));
  KZ_TRY(
      linear_bwd(m, x, dbr, operand(x, &L->f1a, &L->f1a16), &P->fo_w, &G->fo_w, &G->fo_b, &x->dF1));
  kz_tensor ain;
  KZ_TRY(adapter_in(m, x, TF_LORA_FO, &L->f1a, &L->f1a16, &ain));
  KZ_TRY(kz_tf_lora_bwd(m, l, TF_LORA_FO, &ain, dbr, 0, &L->lora[TF_LORA_FO], &x->dF1, &x->lora_du,
                        &x->lora_dxd));
  KZ_TRY(load16(m, x, &L->f1_16, &L->f1));
  KZ_TRY(kz_op_gelu_bwd(m->stream, &L->f1, &x->dF1, &x->dF2, KZ_GELU_ERF, false));
  KZ_TRY(linear_bwd(m, x, &x->dF2, operand(x, &L->h1, &L->h1_16), &P->fi_w, &G->fi_w, &G->fi_b,
                    &x->dD));
  KZ_TRY(adapter_in(m, x, TF_LORA_FI, &L->h1, &L->h1_16, &ain));
  KZ_TRY(kz_tf_lora_bwd(m, l, TF_LORA_FI, &ain, &x->dF2, 0, &L->lora[TF_LORA_FI], &x->dD,
                        &x->lora_du, &x->lora_dxd));
  KZ_TRY(kz_op_add(m->stream, &x->dD, &x->dB, &x->dD)); /* d(h1) */
  /* attention LayerNorm: dB = d(r1) (the residual's gradient into x[l]) */
  KZ_TRY(load16(m, x, &L->h1_16, &L->h1));
  KZ_TRY(resid_ln_bwd(m, &x->dD, &L->h1, &P->ln1_g, &P->ln1_b, &L->rstd1, drop_key(seed, l + 1, 2),
                      &G->ln1_g, &G->ln1_b, &x->dB, &x->dC, &dbr));
  KZ_TRY(
      linear_bwd(m, x, dbr, operand(x, &L->ctx, &L->ctx16), &P->ao_w, &G->ao_w, &G->ao_b, &x->dD));
  KZ_TRY(adapter_in(m, x, TF_LORA_AO, &L->ctx, &L->ctx16, &ain));
  KZ_TRY(kz_tf_lora_bwd(m, l, TF_LORA_AO, &ain, dbr, 0, &L->lora[TF_LORA_AO], &x->dD, &x->lora_du,
                        &x->lora_dxd));
  KZ_TRY(load16(m, x, &L->qkv16, &L->qkv));
  KZ_TRY(load16(m, x, &L->ctx16, &L->ctx));
  KZ_TRY(tf_attention_bwd(m->stream, &L->qkv, &L->ctx, &x->dD, &L->att, &x->lengths, &ao, &x->dQ3));
  KZ_TRY(linear_bwd(m, x, &x->dQ3, operand(x, &x->x[l], &x->x16[l]), &P->qkv_w, &G->qkv_w,
                    &G->qkv_b, &x->dA));
  for (int k = TF_LORA_Q; k <= TF_LORA_V; k++) {
    KZ_TRY(adapter_in(m, x, k, &x->x[l], &x->x16[l], &ain));
    KZ_TRY(kz_tf_lora_bwd(m, l, k, &ain, &x->dQ3, k * m->hidden, &L->lora[k], &x->dA, &x->lora_du,
                          &x->lora_dxd));
  }
  return kz_op_add(m->stream, &x->dA, &x->dB, &x->dA);
}

/* The word embeddings' [PAD] row gets no gradient from [PAD] tokens (HF's
 * nn.Embedding padding_idx; it matters where padded positions are in the
 * loss, as qa's span softmax is): their rows of the gradient are zeroed,
 * run by run of the host ids, after the position and type scatters and
 * before the word scatter. */
static kz_status embed_bwd(kz_tf *m, acts *x, const int32_t *ids) {
  const int64_t H = m->hidden;
  /* frozen embeddings (LoRA): nothing below them to differentiate */
  if (!kz_tf_wants_grad(m, &m->g.wte) && !kz_tf_wants_grad(m, &m->g.wpe) &&
      !kz_tf_wants_grad(m, &m->g.wtt) && !kz_tf_wants_grad(m, &m->g.eln_g) &&
      !kz_tf_wants_grad(m, &m->g.eln_b))
    return KZ_OK;
  if (m->dropout > 0.0) KZ_TRY(kz_op_dropout_bwd(m->stream, &x->dA, &x->e_mask, &x->dA, false));
  KZ_TRY(kz_fill_bytes(m->stream, x->dB.data, 0, kz_tensor_bytes(&x->dB)));
  KZ_TRY(kz_op_layernorm_bwd(m->stream, &x->dA, &x->e_sum, &m->p.eln_g, &x->e_mean, &x->e_rstd,
                             &x->dB, &m->g.eln_g, &m->g.eln_b, true));
  KZ_TRY(kz_op_embedding_bwd(m->stream, &x->pos, &x->dB, &m->g.wpe, true));
  KZ_TRY(kz_op_embedding_bwd(m->stream, &x->types, &x->dB, &m->g.wtt, true));
  for (int64_t i = 0; m->sp.pad >= 0 && i < x->N;) {
    if (ids[i] != m->sp.pad) {
      i++;
      continue;
    }
    int64_t j = i;
    while (j < x->N && ids[j] == m->sp.pad) j++;
    KZ_TRY(kz_fill_bytes(m->stream, (float *)x->dB.data + i * H, 0,
                         (size_t)((j - i) * H) * sizeof(float)));
    i = j;
  }
  return kz_op_embedding_bwd(m->stream, &x->ids, &x->dB, &m->g.wte, true);
}

/* ---- one step --------------------------------------------------------------- */

static kz_status check_inputs(const kz_tf *m, const kz_tf_inputs *in) {
  if (in->B < 1 || in->T < 1 || in->T > m->max_len)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "transformer: %lld rows of %lld tokens (the model takes 1 to %lld tokens)",
                   (long long)in->B, (long long)in->T, (long long)m->max_len);
  for (int64_t b = 0; b < in->B; b++)
    if (in->lengths[b] < 0 || in->lengths[b] > in->T)
      return kz_fail(KZ_ERR_INVALID_ARG, "transformer: row %lld has length %d, outside [0, %lld]",
                     (long long)b, (int)in->lengths[b], (long long)in->T);
  for (int64_t i = 0; i < in->B * in->T; i++) {
    if (in->ids[i] < 0 || in->ids[i] >= m->vocab)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "transformer: token id %d at row %lld, position %lld is outside the "
                     "vocabulary of %lld",
                     (int)in->ids[i], (long long)(i / in->T), (long long)(i % in->T),
                     (long long)m->vocab);
    if (in->types && (in->types[i] < 0 || in->types[i] >= m->type_vocab))
      return kz_fail(KZ_ERR_INVALID_ARG, "transformer: token type %d outside [0, %lld)",
                     (int)in->types[i], (long long)m->type_vocab);
  }
  return KZ_OK;
}

kz_status kz_tf_run(kz_tf *m, const kz_tf_inputs *in, int train, double weight,
                    uint64_t dropout_seed, double *loss, float *item_loss) {
  *loss = 0.0;
  KZ_TRY(check_inputs(m, in));
  if (train && m->lora_merged)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "transformer: the LoRA adapters are merged into the base weights; unmerge "
                   "them before training");
  const int64_t B = in->B, T = in->T, N = B * T;
  const int has_labels = m->task == TF_MLM ? in->mask_pos != NULL : in->labels != NULL;
  int64_t M = m->task == TF_MLM ? in->n_masked : m->task == TF_CLS ? B : N;
  if (m->task == TF_MLM && M > N)
    return kz_fail(KZ_ERR_INVALID_ARG, "transformer: %lld masked positions in %lld tokens",
                   (long long)M, (long long)N);
  acts x;
  KZ_TRY(get_acts(m, B, T, M, train && has_labels, &x));
  /* host side: ids, positions, types, lengths, head positions, targets */
  const size_t i4 = sizeof(int32_t);
  int32_t *h = stage(m, (size_t)(2 * N + 4 * B + 2 * M + 8) * i4);
  if (!h) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: staging");
  KZ_TRY(upload(m, &x.ids, in->ids, (size_t)N * i4));
  for (int64_t i = 0; i < N; i++) h[i] = (int32_t)(i % T);
  KZ_TRY(upload(m, &x.pos, h, (size_t)N * i4));
  for (int64_t i = 0; i < N; i++) h[i] = in->types ? in->types[i] : 0;
  KZ_TRY(upload(m, &x.types, h, (size_t)N * i4));
  KZ_TRY(upload(m, &x.lengths, in->lengths, (size_t)B * i4));
  int64_t valid = 0, vqa[2] = {0, 0};
  if (m->task == TF_MLM) {
    for (int64_t i = 0; i < M; i++)
      if (in->mask_pos[i] < 0 || in->mask_pos[i] >= N || in->mask_target[i] < 0 ||
          in->mask_target[i] >= m->vocab)
        return kz_fail(KZ_ERR_INVALID_ARG, "transformer: masked position %lld is invalid",
                       (long long)i);
    KZ_TRY(upload(m, &x.hpos, in->mask_pos, (size_t)M * i4));
    KZ_TRY(upload(m, &x.targets, in->mask_target, (size_t)M * i4));
    valid = M;
  } else if (m->task == TF_CLS) {
    for (int64_t b = 0; b < B; b++) h[b] = (int32_t)(b * T);
    KZ_TRY(upload(m, &x.hpos, h, (size_t)B * i4));
    for (int64_t b = 0; b < B; b++) {
      int32_t c = has_labels ? in->labels[b] : -1;
      h[b] = c >= 0 && c < m->n_classes ? c : -1;
      valid += h[b] >= 0;
    }
    KZ_TRY(upload(m, &x.targets, h, (size_t)B * i4));
  } else if (m->task == TF_TOKCLS) {
    for (int64_t i = 0; i < N; i++) {
      int32_t c = has_labels ? in->labels[i] : -1;
      h[i] = c >= 0 && c < m->n_classes ? c : -1;
      valid += h[i] >= 0;
    }
    KZ_TRY(upload(m, &x.targets, h, (size_t)N * i4));
  } else {
    for (int k = 0; k < 2; k++) {
      const int32_t *src = k ? in->labels2 : in->labels;
      int64_t v = 0;
      for (int64_t b = 0; b < B; b++) {
        int32_t p = has_labels && src ? src[b] : -1;
        h[b] = p >= 0 && p < T ? p : -1;
        v += h[b] >= 0;
      }
      KZ_TRY(upload(m, k ? &x.targets2 : &x.targets, h, (size_t)B * i4));
      vqa[k] = v;
      valid = v > valid ? v : valid;
    }
  }
  const int dropout_on = train;
  KZ_TRY(embed_fwd(m, &x, dropout_on, dropout_seed));
  for (int64_t l = 0; l < m->layers; l++) KZ_TRY(layer_fwd(m, &x, l, dropout_on, dropout_seed));
  KZ_TRY(head_fwd(m, &x, dropout_on, dropout_seed));
  m->logits = m->task == TF_QA ? x.qa_logits : rows_of(&x.logits, M, head_cols(m));
  if (!has_labels) return kz_stream_sync(m->stream);
  KZ_TRY(loss_fwd(m, &x));
  /* per-item losses back on the host, summed in double in item order */
  const int64_t items = m->task == TF_QA ? 2 * B : M;
  float *ls = stage(m, (size_t)(items > 0 ? items : 1) * sizeof(float));
  if (!ls) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: staging");
  if (items > 0)
    KZ_TRY(kz_copy_to_host(m->stream, ls, x.losses.data, (size_t)items * sizeof(float)));
  KZ_TRY(kz_stream_sync(m->stream));
  double sum = 0;
  if (m->task == TF_QA) {
    /* HF: the mean of the start and the end cross-entropies, each averaged
     * over the rows whose position is inside the sequence */
    double s0 = 0, s1 = 0;
    for (int64_t b = 0; b < B; b++) s0 += ls[b], s1 += ls[B + b];
    sum = 0.5 * ((vqa[0] ? s0 / (double)vqa[0] : 0.0) + (vqa[1] ? s1 / (double)vqa[1] : 0.0));
  } else {
    for (int64_t i = 0; i < items; i++) sum += ls[i];
  }
  if (item_loss)
    for (int64_t i = 0; i < items; i++) item_loss[i] = ls[i];
  *loss = m->task == TF_QA ? sum : valid > 0 ? sum / (double)valid : 0.0;
  if (!train || valid == 0) return KZ_OK;
  /* backward: every item's loss gradient is weight / valid (qa: each of the
   * two losses is averaged, then the two halved) */
  float *dl = stage(m, (size_t)(items > 0 ? items : 1) * sizeof(float));
  if (!dl) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: staging");
  if (m->task == TF_QA) {
    for (int64_t i = 0; i < items; i++) {
      int64_t v = vqa[i >= B];
      dl[i] = v > 0 ? (float)(0.5 * weight / (double)v) : 0.0f;
    }
  } else {
    for (int64_t i = 0; i < items; i++) dl[i] = (float)(weight / (double)valid);
  }
  KZ_TRY(upload(m, &x.dloss, dl, (size_t)items * sizeof(float)));
  KZ_TRY(head_bwd(m, &x, &x.dA));
  KZ_TRY(head_grads_ready(m));
  for (int64_t l = m->layers - 1; l >= 0; l--) {
    KZ_TRY(layer_bwd(m, &x, l, dropout_seed));
    KZ_TRY(grads_ready(m, &m->g.layer[l].qkv_w, &m->g.layer[l].ln2_b));
    /* its LoRA adapters (A then B, at the top of the block, layer by
     * layer), so that LoRA's buckets start as the layers finish too */
    for (int k = 0; k < TF_LORA_NMOD; k++)
      KZ_TRY(grads_ready(m, &m->g.lora_a[l][k], &m->g.lora_b[l][k]));
  }
  KZ_TRY(embed_bwd(m, &x, in->ids));
  return kz_stream_sync(m->stream);
}
