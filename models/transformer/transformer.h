/* The BERT-style transformer encoder (docs/MODELS.md, "## transformer"):
 * model.type transformer, tasks mlm, classification, token_classification
 * and qa over text data sets (docs/DATA.md).
 *
 * Besides the nn_model.h interface it exposes its parameters by name, so a
 * checkpoint loader (Hugging Face safetensors) and the PyTorch parity test
 * can copy tensors by name: every parameter tensor is a view of the one
 * parameter block and carries its Hugging Face name without the `bert.`
 * prefix (`embeddings.word_embeddings.weight`,
 * `encoder.layer.0.attention.self.query.weight`, `pooler.dense.weight`,
 * `cls.predictions.bias`, `classifier.weight`, ...). Linear weights are in
 * HF's [out, in] orientation. The query, key and value weights (and biases)
 * of a layer are three adjacent views that together form the fused
 * [3H, H] block the model multiplies with in one GEMM. The MLM decoder is
 * tied to the word embeddings, so it has no tensor of its own
 * (`cls.predictions.decoder.weight` is `embeddings.word_embeddings.weight`,
 * `cls.predictions.decoder.bias` is `cls.predictions.bias` in HF). */
#ifndef KZ_MODELS_TRANSFORMER_TRANSFORMER_H
#define KZ_MODELS_TRANSFORMER_TRANSFORMER_H

#include "models/nn_model.h"

kz_status kz_transformer_create(const kz_cfg_node *model_cfg, kz_dataset *train, kz_device device,
                                kz_nn_model **out);
/* want_params >= 0: fail unless the layout has exactly that many parameters,
 * checked before allocating; out NULL: check only (nn_model.h). */
kz_status kz_transformer_from_meta(const char *meta_json, kz_device device, int64_t want_params,
                                   kz_nn_model **out);

/* The named parameter tensors, in block order: i in [0, count). *view is a
 * view of the parameter block (grads 0) or of the gradient block (grads 1)
 * on the model's device; *name stays valid while the model lives. */
int kz_transformer_param_count_named(const kz_nn_model *m);
kz_status kz_transformer_param_named(const kz_nn_model *m, int i, int grads, const char **name,
                                     kz_tensor *view);
/* The index of a named tensor, or -1. */
int kz_transformer_param_find(const kz_nn_model *m, const char *name);

/* Copies every tensor of src whose name and shape match one of dst's into
 * dst (both transformers: a pre-trained encoder into a fine-tuning model of
 * another task). Tensors of dst that src lacks keep their values (a fresh
 * head); *copied and *kept count them. */
kz_status kz_transformer_copy_matching(kz_nn_model *dst, const kz_nn_model *src, int *copied,
                                       int *kept);

/* One step on explicit inputs (host arrays), for tests and for the batch
 * functions: B rows of T tokens (T <= max_len).
 *  mlm: mask_pos[n_masked] are flat positions b*T + t whose targets are
 *       mask_target[] (the ids already masked in ids[]);
 *  classification: labels[B] (class, or -1 to ignore the row);
 *  token_classification: labels[B*T] (-100 ignored);
 *  qa: labels[B] start and labels2[B] end positions (outside [0, T) ignored).
 * train 1: dropout on, forward + backward (gradients of weight * mean loss
 * are ADDED to the gradient block); train 0: forward and loss only. Labels
 * NULL: forward only (*loss 0). The logits of the last call stay readable
 * through kz_transformer_logits until the next call. */
typedef struct kz_tf_inputs {
  int64_t B, T;
  const int32_t *ids;     /* [B*T] */
  const int32_t *types;   /* [B*T] token type ids, or NULL (all 0) */
  const int32_t *lengths; /* [B] real tokens of each row */
  int64_t n_masked;
  const int32_t *mask_pos, *mask_target; /* mlm */
  const int32_t *labels, *labels2;
} kz_tf_inputs;

kz_status kz_transformer_step(kz_nn_model *m, const kz_tf_inputs *in, int train, double weight,
                              uint64_t dropout_seed, double *loss);
/* The last step's logits on the model's device: mlm [n_masked, vocab],
 * classification [B, classes], token_classification [B*T, classes],
 * qa [2, B, T] (start logits, then end logits). */
kz_status kz_transformer_logits(const kz_nn_model *m, kz_tensor *out);

/* ---- Hugging Face checkpoints and sentence embeddings (tf_hf.c) ---------- */

/* train.init_from with a Hugging Face BERT directory (docs/MODELS.md): the
 * model's sizes come from dir/config.json (layers, hidden, heads, ffn,
 * type_vocab and vocab of the job's model section must be unset or agree);
 * layernorm_eps, dropout, attention_dropout and init_std are the
 * checkpoint's unless the job sets them; max_len (the data set's rows unless
 * set) may be shorter than the checkpoint's position table. The data set must
 * have been imported with the checkpoint's vocab.txt (same size and special
 * ids, same casing). Parameters are initialised from seed, then loaded by
 * name (kz_transformer_load_hf); note gets what was loaded and dropped. */
kz_status kz_transformer_create_hf(const kz_cfg_node *model_cfg, kz_dataset *train, const char *dir,
                                   uint64_t seed, kz_device device, kz_nn_model **out, char *note,
                                   size_t cap);

/* Loads a Hugging Face BERT safetensors file into m by name
 * (kz_hf_bert_load_weights): encoder tensors required, heads optional (left
 * as they are when absent or of another shape), the position table may be
 * longer than m's max_len (its first rows). note (cap bytes, may be NULL)
 * gets the one-line load summary. */
kz_status kz_transformer_load_hf(kz_nn_model *m, const char *weights_path, char *note, size_t cap);

/* An encoder for `kaizen embed`, on the CPU: built from a Hugging Face BERT
 * directory (its config and weights; max_len <= 0: the config's
 * max_position_embeddings), or from a transformer of any task (its encoder
 * copied; max_len <= 0: the model's). */
kz_status kz_transformer_embedder_hf(const char *dir, int64_t max_len, kz_nn_model **out,
                                     char *note, size_t cap);
kz_status kz_transformer_embedder_of(const kz_nn_model *src, int64_t max_len, kz_nn_model **out);
int64_t kz_transformer_hidden_size(const kz_nn_model *m);
int64_t kz_transformer_max_len(const kz_nn_model *m);
/* B rows of T token ids (lengths[b] real tokens each, the rest ignored):
 * out[B, hidden] = the mean of the last layer's hidden states over the real
 * tokens, divided by its L2 norm (max(norm, 1e-12)) when normalize is 1. */
kz_status kz_transformer_embed(kz_nn_model *embedder, const int32_t *ids, const int32_t *lengths,
                               int64_t B, int64_t T, int normalize, float *out);

/* ---- the vocabulary in the model file (tf_vocab.c) ---------------------- */

/* The SHA-256 of the model's vocabulary (kz_wordpiece_vocab_sha256), or NULL
 * for a model trained before data sets recorded their vocabulary. */
const char *kz_transformer_vocab_sha256(const kz_nn_model *m);
/* 1 uncased, 0 cased, -1 no vocabulary. */
int kz_transformer_vocab_lowercase(const kz_nn_model *m);
/* The tokens in id order (*tokens malloc'ed, pointing into the model: free
 * the array only); KZ_ERR_UNSUPPORTED without a vocabulary. */
kz_status kz_transformer_vocab_tokens(const kz_nn_model *m, const char ***tokens, int32_t *n);

/* A column the model's text was imported from, by tokenizer key
 * ("text_column", "question_column", "context_column", "answer_text_column",
 * "words_column"); NULL when not recorded. */
const char *kz_transformer_text_column(const kz_nn_model *m, const char *key);
/* classification: the label column of the training data; NULL otherwise. */
const char *kz_transformer_label_column(const kz_nn_model *m);

/* Writes m as a Hugging Face BERT directory (kz_hf_bert_export): config.json
 * from its sizes, model.safetensors with its tensors by name, architecture by
 * task (BertForMaskedLM, BertForSequenceClassification with id2label from the
 * classes, BertForTokenClassification, BertForQuestionAnswering), vocab.txt
 * from vocab_path when given, else from the model's own vocabulary (an error
 * for a model without one), lowercase (-1: the model's casing, uncased
 * without a vocabulary) into tokenizer_config.json. */
kz_status kz_transformer_export_hf(const kz_nn_model *m, const char *dir, const char *vocab_path,
                                   int lowercase, int overwrite);

/* ---- predicting from raw text (tf_text.c) -------------------------------- */

typedef struct kz_tf_text kz_tf_text;

typedef struct kz_tf_text_options {
  int max_answer_len; /* qa: the longest answer in tokens (default 30) */
  int n_best;         /* qa: start and end candidates per window (default 20) */
  int stride;         /* qa: context tokens two windows share (-1: 128), at most half a window */
  int max_text_bytes; /* a longer text is refused (default 1 MiB) */
} kz_tf_text_options;
void kz_tf_text_options_default(kz_tf_text_options *o);

/* A word of token_classification: the pieces from one without "##" up to
 * the next such, i.e. a word of BERT's basic tokenizer. */
typedef struct kz_tf_word {
  int64_t start, end;           /* code points of the text, [start, end) */
  int64_t byte_start, byte_end; /* the same in bytes */
  int32_t label;                /* class index; -1 when truncation cut it off */
  float prob;                   /* the label's probability */
} kz_tf_word;

/* One text's result; pointers stay valid until the next run or free. */
typedef struct kz_tf_text_row {
  int32_t truncated; /* tokens cut off (classification, token_classification, mlm) */
  int32_t label;     /* classification: the most probable class */
  const float *probs;
  int32_t n_words; /* token_classification */
  const kz_tf_word *words;
  int has_answer;               /* qa: 0 only when no span fits max_answer_len */
  int64_t start, end;           /* qa: the answer's code points in the context, [start, end) */
  int64_t byte_start, byte_end; /* ... and bytes */
  double score;                 /* qa: p(start) * p(end), each softmaxed over its window */
  int32_t windows;              /* qa: windows the context was split into */
  const float *embedding;       /* mlm: the L2-normalised mean of the last hidden states */
} kz_tf_text_row;

/* The model must carry a vocabulary (KZ_ERR_UNSUPPORTED naming the fix
 * otherwise). The model stays the caller's and must outlive the handle. */
kz_status kz_tf_text_open(kz_nn_model *m, const kz_tf_text_options *o, kz_tf_text **out);
void kz_tf_text_free(kz_tf_text *t);
const char *kz_tf_text_task(const kz_tf_text *t);
/* The text inputs: qa question and context (the import's column names),
 * token_classification "text", others the import's text column. */
int kz_tf_text_input_count(const kz_tf_text *t);
const char *kz_tf_text_input_name(const kz_tf_text *t, int i);
int kz_tf_text_class_count(const kz_tf_text *t);
const char *kz_tf_text_class_name(const kz_tf_text *t, int k);
int64_t kz_tf_text_embedding_size(const kz_tf_text *t); /* mlm; 0 otherwise */
int64_t kz_tf_text_max_tokens(const kz_tf_text *t);
/* n texts: cells[r * inputs + i] (lens[...] bytes each, UTF-8). A missing,
 * empty, overlong, NUL-holding or ill-formed text, or one with no tokens,
 * fails the call with KZ_ERR_INVALID_ARG naming "row <row0 + r>" and the
 * input. */
kz_status kz_tf_text_run(kz_tf_text *t, int64_t n, int64_t row0, const char *const *cells,
                         const size_t *lens, kz_tf_text_row *rows);

#endif
