/* Hugging Face BERT checkpoints and the transformer (docs/MODELS.md,
 * "Initialising from a Hugging Face checkpoint"): loading a directory's
 * weights by name, building a model from its config.json, and the sentence
 * embedder `kaizen embed` runs.
 *
 * The embedder is a token_classification model whose "classes" are the
 * hidden units and whose head is the identity: its logits are then the last
 * layer's hidden states, exactly (a GEMM by an identity matrix with a zero
 * bias adds nothing), so embedding needs no code path of its own in the
 * step functions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/io/hf_bert.h"
#include "models/transformer/tf_internal.h"

/* Copies n floats between the parameter block and host memory. */
static kz_status params_to_device(kz_tf *m, const float *host) {
  if (m->base.device.kind == KZ_DEVICE_CPU) return KZ_OK;
  kz_stream *s = NULL;
  KZ_TRY(kz_stream_create(m->base.device, &s));
  kz_status st = kz_copy_to_device(s, m->base.params.data, host,
                                   (size_t)m->base.info.n_params * sizeof(float));
  if (st == KZ_OK) st = kz_stream_sync(s);
  kz_stream_destroy(s);
  return st;
}

/* heads 0: the model's head tensors get no slot (the embedder's identity
 * head is no checkpoint's concern) */
static kz_status load_hf(kz_nn_model *model, const char *weights_path, int heads, char *note,
                         size_t cap) {
  kz_tf *m = (kz_tf *)model;
  float *host = NULL;
  KZ_TRY(kz_nn_params_host(&m->base, &host));
  float *base = host ? host : (float *)m->base.params.data;
  kz_hf_slot *slots = calloc((size_t)m->n_named, sizeof *slots);
  if (!slots) {
    free(host);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: checkpoint slots");
  }
  int n = 0;
  for (int i = 0; i < m->n_named; i++) {
    const tf_named *t = &m->named[i];
    if (!heads && kz_hf_bert_is_head(t->name)) continue;
    if (t->lora) continue; /* adapters come from PEFT files (tf_lora_peft.c) */
    kz_hf_slot *sl = &slots[n++];
    *sl = (kz_hf_slot){.name = t->name,
                       .data = base + t->offset,
                       .rank = t->ndim,
                       .optional = kz_hf_bert_is_head(t->name),
                       .first_rows = !strcmp(t->name, "embeddings.position_embeddings.weight")};
    for (int d = 0; d < t->ndim; d++) sl->shape[d] = t->shape[d];
  }
  kz_hf_load_report rep;
  memset(&rep, 0, sizeof rep);
  kz_status st = kz_hf_bert_load_weights(weights_path, slots, n, &rep);
  if (st == KZ_OK && note) kz_hf_load_report_summary(&rep, note, cap);
  kz_hf_load_report_free(&rep);
  free(slots);
  if (st == KZ_OK && host) st = params_to_device(m, host);
  free(host);
  return st;
}

kz_status kz_transformer_load_hf(kz_nn_model *model, const char *weights_path, char *note,
                                 size_t cap) {
  return load_hf(model, weights_path, 1, note, cap);
}

/* ---- embedder ----------------------------------------------------------- */

static kz_status embedder_new(int64_t layers, int64_t hidden, int64_t heads, int64_t ffn,
                              int64_t max_len, int64_t vocab, int64_t type_vocab, double eps,
                              kz_tf **out) {
  *out = NULL;
  kz_tf *m = calloc(1, sizeof *m);
  if (!m) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "embedder");
  m->task = TF_TOKCLS;
  m->layers = layers, m->hidden = hidden, m->heads = heads, m->ffn = ffn;
  m->max_len = max_len, m->vocab = vocab, m->type_vocab = type_vocab;
  m->ln_eps = eps;
  m->init_std = 0.02;
  m->sp = (tf_specials){-1, -1, -1, -1, -1};
  m->n_fields = 2, m->f_ids = 0, m->f_len = 1;
  m->f_types = m->f_label = m->f_tok = m->f_astart = m->f_aend = -1;
  m->data_len = max_len;
  m->n_classes = (int)hidden;
  m->class_names = calloc((size_t)hidden, sizeof(char *));
  kz_status st = m->class_names ? kz_tf_finish_layout(m, (kz_device){KZ_DEVICE_CPU, 0}, -1, 1)
                                : kz_fail(KZ_ERR_OUT_OF_MEMORY, "embedder");
  if (st != KZ_OK) {
    kz_tf_free(m);
    return st;
  }
  *out = m;
  return KZ_OK;
}

/* The head: identity weight [H, H], zero bias. */
static void identity_head(kz_tf *m) {
  float *w = m->p.out_w.data, *b = m->p.out_b.data;
  const int64_t H = m->hidden;
  memset(w, 0, (size_t)(H * H) * sizeof(float));
  for (int64_t i = 0; i < H; i++) w[i * H + i] = 1.0f;
  memset(b, 0, (size_t)H * sizeof(float));
}

kz_status kz_transformer_embedder_hf(const char *dir, int64_t max_len, kz_nn_model **out,
                                     char *note, size_t cap) {
  *out = NULL;
  kz_hf_bert_dir d;
  KZ_TRY(kz_hf_bert_dir_open(dir, &d));
  const kz_hf_bert_config *c = &d.config;
  if (max_len <= 0) max_len = c->max_position_embeddings;
  kz_status st = KZ_OK;
  if (max_len > c->max_position_embeddings)
    st = kz_fail(KZ_ERR_INVALID_ARG, "--max-len %lld: the checkpoint %s has %lld positions",
                 (long long)max_len, dir, (long long)c->max_position_embeddings);
  if (c->num_hidden_layers > KZ_TF_MAX_LAYERS && st == KZ_OK)
    st = kz_fail(KZ_ERR_INVALID_ARG, "%s: %lld layers (kaizen takes at most %d)", dir,
                 (long long)c->num_hidden_layers, KZ_TF_MAX_LAYERS);
  kz_tf *m = NULL;
  if (st == KZ_OK)
    st = embedder_new(c->num_hidden_layers, c->hidden_size, c->num_attention_heads,
                      c->intermediate_size, max_len, c->vocab_size, c->type_vocab_size,
                      c->layer_norm_eps, &m);
  if (st == KZ_OK) st = load_hf((kz_nn_model *)m, d.weights_path, 0, note, cap);
  kz_hf_bert_dir_free(&d);
  if (st != KZ_OK) {
    kz_tf_free(m);
    return st;
  }
  identity_head(m);
  *out = (kz_nn_model *)m;
  return KZ_OK;
}

kz_status kz_transformer_embedder_of(const kz_nn_model *src, int64_t max_len, kz_nn_model **out) {
  *out = NULL;
  if (strcmp(kz_nn_base_c(src)->ops->type, "transformer") != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "embed: the model is a %s, not a transformer",
                   kz_nn_base_c(src)->ops->type);
  const kz_tf *s = (const kz_tf *)src;
  if (s->lora.enabled && !s->lora_merged) {
    /* the encoder a LoRA model computes with: its adapters folded in */
    kz_nn_model *plain = NULL;
    KZ_TRY(kz_tf_lora_folded(s, &plain));
    kz_status st = kz_transformer_embedder_of(plain, max_len, out);
    kz_nn_base(plain)->ops->destroy(plain);
    return st;
  }
  if (max_len <= 0) max_len = s->max_len;
  if (max_len > s->max_len)
    return kz_fail(KZ_ERR_INVALID_ARG, "--max-len %lld: the model takes at most %lld tokens",
                   (long long)max_len, (long long)s->max_len);
  kz_tf *m = NULL;
  /* the embedder's position table has the source's rows, so names and
   * shapes match and every encoder tensor copies */
  KZ_TRY(embedder_new(s->layers, s->hidden, s->heads, s->ffn, s->max_len, s->vocab, s->type_vocab,
                      s->ln_eps, &m));
  m->sp = s->sp;
  int copied = 0, kept = 0;
  kz_status st = kz_transformer_copy_matching((kz_nn_model *)m, src, &copied, &kept);
  if (st != KZ_OK) {
    kz_tf_free(m);
    return st;
  }
  identity_head(m);
  *out = (kz_nn_model *)m;
  return KZ_OK;
}

int64_t kz_transformer_hidden_size(const kz_nn_model *m) {
  return ((const kz_tf *)m)->hidden;
}

int64_t kz_transformer_max_len(const kz_nn_model *m) {
  return ((const kz_tf *)m)->max_len;
}

kz_status kz_transformer_embed(kz_nn_model *model, const int32_t *ids, const int32_t *lengths,
                               int64_t B, int64_t T, int normalize, float *out) {
  kz_tf *m = (kz_tf *)model;
  const int64_t H = m->hidden;
  kz_tf_inputs in = {.B = B, .T = T, .ids = ids, .lengths = lengths};
  double loss = 0;
  KZ_TRY(kz_tf_run(m, &in, 0, 1.0, 0, &loss, NULL));
  const float *h = m->logits.data; /* [B*T, H] on the CPU */
  double *acc = malloc((size_t)H * sizeof(double));
  if (!acc) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "embed");
  for (int64_t b = 0; b < B; b++) {
    memset(acc, 0, (size_t)H * sizeof(double));
    const int64_t n = lengths[b];
    for (int64_t t = 0; t < n; t++)
      for (int64_t j = 0; j < H; j++) acc[j] += h[(b * T + t) * H + j];
    double norm = 0;
    for (int64_t j = 0; j < H; j++) {
      acc[j] /= (double)(n > 0 ? n : 1);
      norm += acc[j] * acc[j];
    }
    /* sentence-transformers' Normalize: x / max(||x||, 1e-12) */
    const double scale = normalize ? 1.0 / fmax(sqrt(norm), 1e-12) : 1.0;
    for (int64_t j = 0; j < H; j++) out[b * H + j] = (float)(acc[j] * scale);
  }
  free(acc);
  return KZ_OK;
}

/* ---- export ------------------------------------------------------------- */

static const char *const tf_architectures[] = {"BertForMaskedLM", "BertForSequenceClassification",
                                               "BertForTokenClassification",
                                               "BertForQuestionAnswering"};

kz_status kz_transformer_export_hf(const kz_nn_model *model, const char *dir,
                                   const char *vocab_path, int lowercase, int overwrite) {
  const kz_tf *m = (const kz_tf *)model;
  if (strcmp(kz_nn_base_c(model)->ops->type, "transformer") != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "export: the model is a %s, not a transformer",
                   kz_nn_base_c(model)->ops->type);
  if (m->lora.enabled) {
    /* Hugging Face gets plain BERT weights: the adapters folded in */
    kz_nn_model *plain = NULL;
    KZ_TRY(kz_tf_lora_folded(m, &plain));
    kz_status st = kz_transformer_export_hf(plain, dir, vocab_path, lowercase, overwrite);
    kz_nn_base(plain)->ops->destroy(plain);
    return st;
  }
  kz_hf_bert_config c;
  kz_hf_bert_config_default(&c);
  c.vocab_size = m->vocab, c.hidden_size = m->hidden, c.num_hidden_layers = m->layers;
  c.num_attention_heads = m->heads, c.intermediate_size = m->ffn;
  c.max_position_embeddings = m->max_len, c.type_vocab_size = m->type_vocab;
  c.layer_norm_eps = m->ln_eps, c.hidden_dropout_prob = m->dropout;
  c.attention_probs_dropout_prob = m->attn_dropout, c.initializer_range = m->init_std;
  c.pad_token_id = m->sp.pad >= 0 ? m->sp.pad : 0;
  float *host = NULL;
  KZ_TRY(kz_nn_params_host(&m->base, &host));
  const float *base = host ? host : (const float *)m->base.params.data;
  kz_hf_tensor *t = calloc((size_t)m->n_named, sizeof *t);
  if (!t) {
    free(host);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "export");
  }
  for (int i = 0; i < m->n_named; i++) {
    const tf_named *n = &m->named[i];
    t[i] = (kz_hf_tensor){.name = n->name, .data = base + n->offset, .rank = n->ndim};
    for (int d = 0; d < n->ndim; d++) t[i].shape[d] = n->shape[d];
  }
  /* a --vocab that is not the model's would export a checkpoint whose ids
   * mean other tokens */
  const char *own = kz_transformer_vocab_sha256(model);
  if (vocab_path && own) {
    kz_wordpiece_options wo;
    kz_wordpiece_options_default(&wo);
    kz_wordpiece *tok = NULL;
    kz_status vs = kz_wordpiece_load(vocab_path, &wo, &tok);
    char sha[65] = "";
    if (vs == KZ_OK) kz_wordpiece_vocab_sha256(tok, sha);
    kz_wordpiece_free(tok);
    if (vs == KZ_OK && strcmp(sha, own) != 0)
      vs = kz_fail(KZ_ERR_INVALID_ARG,
                   "export: --vocab %s (sha256 %s) is not the model's vocabulary (sha256 %s); "
                   "leave --vocab out to write the model's own",
                   vocab_path, sha, own);
    if (vs != KZ_OK) {
      free(t);
      free(host);
      return vs;
    }
  }
  const int with_labels = m->task == TF_CLS || m->task == TF_TOKCLS;
  const char **tokens = NULL;
  int32_t n_tokens = 0;
  kz_status vs = vocab_path ? KZ_OK : kz_transformer_vocab_tokens(model, &tokens, &n_tokens);
  if (vs != KZ_OK) {
    free(t);
    free(host);
    return kz_fail(vs, "export: the model holds no vocabulary (trained before data sets recorded "
                       "theirs): give --vocab, the vocab.txt its data set was imported with");
  }
  if (lowercase < 0) lowercase = kz_transformer_vocab_lowercase(model) != 0;
  kz_hf_bert_export_options o = {.architecture = tf_architectures[m->task],
                                 .vocab_path = vocab_path,
                                 .vocab_tokens = tokens,
                                 .n_vocab_tokens = n_tokens,
                                 .lowercase = lowercase,
                                 .labels = with_labels ? (const char *const *)m->class_names : NULL,
                                 .n_labels = with_labels ? m->n_classes : 0,
                                 .overwrite = overwrite};
  kz_status st = kz_hf_bert_export(dir, &c, t, m->n_named, &o);
  free(tokens);
  free(t);
  free(host);
  return st;
}
