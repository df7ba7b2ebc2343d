/* Private layout of the transformer encoder (docs/MODELS.md, "## transformer").
 *
 * Parameters in one block, in the order tf_layout.c walks them: embeddings
 * (word [V,H], position [P,H], token type [2,H], LayerNorm), then per layer
 * query/key/value weights (three [H,H], adjacent: the fused [3H,H]) and
 * biases (adjacent: [3H]), attention output dense and LayerNorm,
 * intermediate dense [F,H], output dense [H,F] and LayerNorm, then the
 * task's head. Activations come from an arena sized per (rows, tokens). */
#ifndef KZ_MODELS_TRANSFORMER_TF_INTERNAL_H
#define KZ_MODELS_TRANSFORMER_TF_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "data/text/wordpiece.h"
#include "kernels/core/arena.h"
#include "kernels/core/backend.h"
#include "models/transformer/tf_lora.h"
#include "models/transformer/tf_metrics.h"
#include "models/transformer/transformer.h"

enum { KZ_TF_MAX_LAYERS = 64 };

typedef enum { TF_MLM = 0, TF_CLS = 1, TF_TOKCLS = 2, TF_QA = 3 } tf_task;
extern const char *const kz_tf_task_names[]; /* "mlm", ... NULL-terminated */

typedef struct tf_layer_params {
  kz_tensor qkv_w; /* [3H, H]: query rows, then key, then value */
  kz_tensor qkv_b; /* [3H] */
  kz_tensor ao_w, ao_b, ln1_g, ln1_b;
  kz_tensor fi_w, fi_b; /* [F, H], [F] */
  kz_tensor fo_w, fo_b; /* [H, F], [H] */
  kz_tensor ln2_g, ln2_b;
} tf_layer_params;

typedef struct tf_params {
  kz_tensor wte, wpe, wtt, eln_g, eln_b;
  tf_layer_params layer[KZ_TF_MAX_LAYERS];
  /* heads; a tensor of the other tasks stays zeroed (data NULL) */
  kz_tensor mlm_w, mlm_b, mlm_ln_g, mlm_ln_b, mlm_bias; /* mlm */
  kz_tensor pool_w, pool_b;                             /* classification */
  kz_tensor out_w, out_b; /* classifier (classification, token_classification), qa_outputs */
  /* LoRA adapters (tf_lora.h), after the head; data NULL where none */
  kz_tensor lora_a[KZ_TF_MAX_LAYERS][TF_LORA_NMOD], lora_b[KZ_TF_MAX_LAYERS][TF_LORA_NMOD];
} tf_params;

typedef struct tf_named {
  char name[96];
  int64_t offset;
  int ndim;
  int64_t shape[2];
  int is_matrix; /* a Linear or embedding weight: initialised N(0, init_std) */
  int is_ln_gamma;
  int lora; /* 1: a LoRA A (Kaiming-uniform), 2: a LoRA B (zero) */
} tf_named;

/* Special token ids of the data set's vocabulary (-1 when unknown). */
typedef struct tf_specials {
  int32_t pad, unk, cls, sep, mask;
} tf_specials;

typedef struct kz_tf {
  kz_nn_model_base base; /* must stay first (nn_model.h) */

  /* configuration */
  tf_task task;
  int64_t layers, hidden, heads, ffn, max_len, vocab, type_vocab;
  double dropout, attn_dropout, init_std, ln_eps, mask_prob;
  tf_specials sp;
  tf_lora_cfg lora;  /* model.lora; lora.enabled 0: no adapters */
  int lora_merged;   /* the adapters are folded into the base weights (tf_lora.c) */
  float *lora_saved; /* while merged: the adapted base weights as they were (host) */

  /* schema: field indices in the batch (-1 when absent) */
  int n_fields;
  int f_ids, f_len, f_types, f_label, f_tok, f_astart, f_aend;
  int64_t data_len; /* width of input_ids in the data set */
  int n_classes;    /* classification, token_classification */
  char **class_names;
  char *label_name;
  /* the vocabulary and how text was imported (tf_vocab.c); NULL for a
   * model trained before data sets recorded their vocabulary */
  json_t *tokenizer;

  /* layout */
  int n_named;
  tf_named *named;
  tf_params p, g; /* views of base.params and base.grads */

  /* run state */
  kz_stream *stream;
  kz_arena *arena;
  int64_t cap_rows, cap_tokens, cap_masked; /* what the arena was sized for */
  int cap_train;                            /* ... and whether with backward buffers */
  int cap_bf16;                             /* ... and for which precision */
  void *stage;
  size_t stage_cap;
  kz_tensor logits; /* last step's logits (an arena view) */
  /* classification eval: confusion counts [n_classes * n_classes] (true,
   * predicted), reset when an evaluation starts (acc->rows == 0) */
  int64_t *confusion;
  /* token_classification eval: entity and token counts, reset likewise */
  kz_tf_ner_counts ner;
  double qa_f1;                  /* qa eval: summed span-overlap F1 of the rows, reset likewise */
  double qa_text_em, qa_text_f1; /* ... and SQuAD's text scores (with a vocabulary) */
} kz_tf;

/* tf_layout.c */
kz_status kz_tf_finish_layout(kz_tf *m, kz_device device, int64_t want_params, int allocate);
void kz_tf_free(kz_tf *m);
/* Views of the named tensors at base (n_params floats on device). */
void kz_tf_views(const kz_tf *m, float *base, kz_device device, tf_params *out);

/* tf_precision.c: ops->set_precision (base.params_bf16 on or off) */
kz_status kz_tf_set_precision(kz_nn_model *model, int bf16);

/* tf_init.c */
kz_status kz_tf_init_params(kz_nn_model *model, uint64_t seed);

/* tf_step.c */
kz_status kz_tf_run(kz_tf *m, const kz_tf_inputs *in, int train, double weight,
                    uint64_t dropout_seed, double *loss, float *row_loss);

/* tf_batch.c */
/* What train_batch's mean loss is over (kz_nn_model_ops.loss_items): MLM
 * the tokens its masking draws for (b, dropout_seed), classification the
 * labelled rows, NER the labelled tokens, QA the rows with an answer. */
kz_status kz_tf_loss_items(kz_nn_model *model, const kz_shard_batch *b, uint64_t dropout_seed,
                           int64_t *items);
kz_status kz_tf_train_batch(kz_nn_model *model, const kz_shard_batch *b, double weight,
                            uint64_t dropout_seed, double *loss);
kz_status kz_tf_eval_batch(kz_nn_model *model, const kz_shard_batch *b, kz_nn_eval *acc);
void kz_tf_eval_finish(const kz_nn_model *model, const kz_nn_eval *acc, kz_nn_metrics *out);
kz_status kz_tf_predict_batch(kz_nn_model *model, const kz_shard_batch *b, float *out);
/* Rows per forward pass in evaluation and prediction (attention memory). */
int64_t kz_tf_eval_chunk(const kz_tf *m);
/* The last step's logits on the host: the tensor itself on the CPU, else a
 * copy into *buf (grown; the caller frees it). */
kz_status kz_tf_logits_host(kz_tf *m, float **buf, const float **out);

/* tf_meta.c */
kz_status kz_tf_meta_json(const kz_nn_model *model, char **out);
kz_status kz_tf_save(const kz_nn_model *model, const char *path);

/* tf_vocab.c */
/* The tokenizer object of a data set's meta; *out NULL when the data set
 * records no vocabulary. */
kz_status kz_tf_tokenizer_from_data(const json_t *meta, const char *where, json_t **out);
/* Validates a model meta's "tokenizer" (keys, types, tokens <= vocab, hash). */
kz_status kz_tf_tokenizer_check(const json_t *t, int64_t vocab);
/* KZ_ERR_UNSUPPORTED naming `what` when the model has no vocabulary. */
kz_status kz_tf_tokenizer_need(const kz_tf *m, const char *what);
/* A WordPiece tokenizer over the model's vocabulary and casing (invalid
 * UTF-8 rejected, truncation at max_len when > 0, no padding). */
kz_status kz_tf_tokenizer_load(const kz_tf *m, int max_len, kz_wordpiece **out);

/* Token spans back to text for the qa text metrics: pieces joined with a
 * space, "##" pieces glued to the one before (a, b: the two spans). */
typedef struct kz_tf_detok {
  char *a, *b;
  size_t a_len, b_len, a_cap, b_cap;
} kz_tf_detok;
kz_status kz_tf_detok_spans(kz_tf_detok *d, const char *const *vocab, int32_t n_vocab,
                            const int32_t *ids, int64_t as, int64_t ae, int64_t bs, int64_t be);
void kz_tf_detok_free(kz_tf_detok *d);

/* tf_layout.c: train.init_from a transformer of another task */
kz_status kz_tf_init_from_model(kz_nn_model *model, const kz_nn_model *src, char *note, size_t cap);

/* tf_lora.c: adapter sizes, trainable ranges, the adapter's forward and
 * backward around a Linear of layer l (module k, output columns from col of
 * y), merge */
int64_t kz_tf_lora_in(const kz_tf *m, int k);
int64_t kz_tf_lora_out(const kz_tf *m, int k);
kz_status kz_tf_lora_finish(kz_tf *m);
kz_status kz_tf_lora_alloc(const kz_tf *m, kz_arena *a, int64_t N, int k, int train,
                           tf_lora_saved *sv);
kz_status kz_tf_lora_fwd(kz_tf *m, int64_t l, int k, const kz_tensor *x, kz_tensor *y, int64_t col,
                         tf_lora_saved *sv, int train, uint64_t seed);
kz_status kz_tf_lora_bwd(kz_tf *m, int64_t l, int k, const kz_tensor *x, const kz_tensor *dy,
                         int64_t col, const tf_lora_saved *sv, kz_tensor *dx, kz_tensor *du,
                         kz_tensor *dxd);
/* A new model without adapters whose weights are m's with the adapters
 * folded in (W + scale B A): what `kaizen export --format safetensors`
 * writes of a LoRA model. */
kz_status kz_tf_lora_folded(const kz_tf *m, kz_nn_model **out);
/* The base weight block an adapter of module k of layer l updates: [out, in]. */
kz_tensor kz_tf_lora_base_weight(const kz_tf *m, int64_t l, int k);
/* Whether the gradient of a tensor (a view of the gradient block) is wanted. */
int kz_tf_wants_grad(const kz_tf *m, const kz_tensor *grad_view);
struct json_t;
struct json_t *kz_tf_lora_to_json(const kz_tf *m);
kz_status kz_tf_lora_from_json(kz_tf *m, struct json_t *o);

extern const kz_nn_model_ops kz_tf_ops;

#endif
