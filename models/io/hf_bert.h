/* Hugging Face BERT checkpoints: read a directory (config.json, one
 * .safetensors file, vocab.txt) into a model's named parameters, and write a
 * model back out in the same layout (docs/FORMATS.md, "Hugging Face BERT
 * directories").
 *
 * Names. A model names its parameters as HF's BertModel does, without the
 * "bert." prefix: embeddings.word_embeddings.weight,
 * encoder.layer.{i}.attention.self.query.weight, ..., pooler.dense.weight,
 * cls.predictions.bias, classifier.weight; Linear weights [out, in]. A file's
 * names are normalised before matching (kz_hf_bert_normalize_name): a leading
 * "bert." is dropped and a last component "gamma" / "beta" (old TF-converted
 * checkpoints) reads as "weight" / "bias".
 *
 * Loading (what train.init_from does with a directory):
 *
 *   kz_hf_bert_dir d;
 *   KZ_TRY(kz_hf_bert_dir_open(path, &d));        // config, weights, vocab
 *   ... create the model from d.config, the tokenizer from d.vocab_path ...
 *   kz_hf_slot slots[n];                          // one per parameter view
 *   slots[i] = (kz_hf_slot){name, host_ptr, rank, {dims}, kz_hf_bert_is_head(name),
 *                           is_position_table};  // first_rows
 *   kz_hf_load_report rep;
 *   KZ_TRY(kz_hf_bert_load_weights(d.weights_path, slots, n, &rep));
 *   char note[4096]; kz_hf_load_report_summary(&rep, note, sizeof note);
 *   kz_hf_load_report_free(&rep); kz_hf_bert_dir_free(&d);
 *
 * Exporting: kz_hf_bert_export(dir, &config, tensors, n, &options). */
#ifndef KZ_MODELS_IO_HF_BERT_H
#define KZ_MODELS_IO_HF_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KZ_HF_MAX_RANK 4

/* The config.json keys kaizen uses. Bounds (checked on read): every size
 * >= 1; hidden_size <= 65536 and a multiple of num_attention_heads;
 * num_hidden_layers <= 1024; intermediate_size <= 1048576; vocab_size <=
 * 2^24; max_position_embeddings <= 1048576; type_vocab_size <= 1024;
 * layer_norm_eps finite and in (0, 1); dropouts in [0, 1). */
typedef struct kz_hf_bert_config {
  int64_t vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
      max_position_embeddings, type_vocab_size;
  double layer_norm_eps;
  double hidden_dropout_prob;          /* 0.1 when absent */
  double attention_probs_dropout_prob; /* 0.1 when absent */
  double initializer_range;            /* 0.02 when absent */
  int64_t pad_token_id;                /* 0 when absent; in [0, vocab_size) */
} kz_hf_bert_config;

/* Reads and validates config.json. Required keys: hidden_size,
 * num_hidden_layers, num_attention_heads, intermediate_size,
 * max_position_embeddings, vocab_size, type_vocab_size, layer_norm_eps,
 * hidden_act ("gelu": the exact erf form; the tanh forms are refused).
 * model_type, when present, must be "bert" and position_embedding_type
 * "absolute". Other keys are ignored. Errors name the file and the key. */
kz_status kz_hf_bert_config_read(const char *path, kz_hf_bert_config *out);
/* Defaults for a new config (dropouts 0.1, initializer_range 0.02, eps 1e-12). */
void kz_hf_bert_config_default(kz_hf_bert_config *c);

/* A checkpoint directory, resolved. */
typedef struct kz_hf_bert_dir {
  char *dir;
  char *config_path;  /* dir/config.json */
  char *weights_path; /* dir/model.safetensors, or the directory's one *.safetensors */
  char *vocab_path;   /* dir/vocab.txt */
  int lowercase;      /* tokenizer_config.json do_lower_case; 1 when absent */
  int64_t vocab_lines;
  kz_hf_bert_config config;
} kz_hf_bert_dir;

/* 1 when path is a directory holding config.json (how init_from tells a HF
 * checkpoint from a .kzm file); 0 otherwise. */
int kz_hf_bert_is_dir(const char *path);
/* Resolves and validates dir: config.json as above; model.safetensors, or
 * exactly one *.safetensors file (several, or only pytorch_model.bin, are
 * refused saying why); vocab.txt with at most config.vocab_size tokens (a
 * token id past the embedding rows would read outside them). The weights
 * file is opened and its header validated too. */
kz_status kz_hf_bert_dir_open(const char *dir, kz_hf_bert_dir *out);
void kz_hf_bert_dir_free(kz_hf_bert_dir *d);

/* HF name -> kaizen name (strip "bert.", gamma/beta -> weight/bias). Fails
 * when out (cap bytes) is too small. */
kz_status kz_hf_bert_normalize_name(const char *name, char *out, size_t cap);
/* 1 for a task head (pooler.*, cls.*, classifier.*, qa_outputs.*: anything
 * outside embeddings.* and encoder.*), which a checkpoint may lack or hold in
 * another shape: such a slot should be optional. */
int kz_hf_bert_is_head(const char *name);

/* One parameter of the model: where its values go and the shape it has. */
typedef struct kz_hf_slot {
  const char *name; /* kaizen / HF name without "bert." */
  float *data;      /* host memory of numel(shape) floats */
  int rank;
  int64_t shape[KZ_HF_MAX_RANK];
  int optional; /* 1: missing or of another shape -> left as is, listed */
  /* 1: the file's tensor may have more rows (dim 0) than the slot, the other
   * dims equal; its first shape[0] rows are loaded and the note says so. For
   * embeddings.position_embeddings.weight when the model's max_len is below
   * the checkpoint's max_position_embeddings. */
  int first_rows;
} kz_hf_slot;

/* What a load did. Names are normalised ones. */
typedef struct kz_hf_load_report {
  int64_t loaded;
  char **fresh;   /* optional slots left as they were (absent or other shape) */
  char **why;     /* per fresh slot: "absent" or "shape [2, 384] in the file" */
  char **cut;     /* first_rows slots loaded in part: "name (first 128 of 512 rows)" */
  char **dropped; /* file tensors the model has no slot for */
  char **ignored; /* buffers and tied copies: embeddings.position_ids, ... */
  int64_t n_fresh, n_dropped, n_ignored, n_cut;
} kz_hf_load_report;

/* Copies every file tensor whose normalised name has a slot into that slot,
 * converting F16 / BF16 to f32. Everything is validated before the first
 * copy, so a validation failure writes no slot. Fails (naming the file and the
 * tensor) on: a required slot the file lacks or holds in another shape, a
 * matched tensor that is not F32/F16/BF16, two file tensors normalising to
 * one name, two slots of one name (an I/O error while copying, after all
 * that, may leave some slots written). Tensors without a slot are dropped and
 * listed, except known buffers and tied copies (embeddings.position_ids,
 * embeddings.token_type_ids, cls.predictions.decoder.weight/bias), which are
 * listed as ignored. report may be NULL. */
kz_status kz_hf_bert_load_weights(const char *safetensors_path, const kz_hf_slot *slots,
                                  int64_t n_slots, kz_hf_load_report *report);
void kz_hf_load_report_free(kz_hf_load_report *r);
/* One line for a log: "loaded 101 tensors; in part: embeddings.position_embeddings.weight
 * (first 128 of 512 rows); left as initialised: classifier.weight (absent), ...;
 * dropped (...): pooler.dense.weight, ...; ignored (...): ...". Lists past cap
 * are cut with "...". */
void kz_hf_load_report_summary(const kz_hf_load_report *r, char *buf, size_t cap);

/* ---- export ------------------------------------------------------------------ */

typedef struct kz_hf_tensor {
  const char *name; /* kaizen / HF name without "bert." */
  const float *data;
  int rank;
  int64_t shape[KZ_HF_MAX_RANK];
} kz_hf_tensor;

typedef struct kz_hf_bert_export_options {
  /* config.json "architectures": "BertModel" (default; names as given),
   * or BertForMaskedLM, BertForSequenceClassification,
   * BertForTokenClassification, BertForQuestionAnswering: then embeddings.*,
   * encoder.* and pooler.* are written as bert.* (HF's layout for those
   * classes). */
  const char *architecture;
  const char *vocab_path;          /* copied to dir/vocab.txt, or NULL: */
  const char *const *vocab_tokens; /* ... these written as vocab.txt */
  int32_t n_vocab_tokens;
  int lowercase;             /* tokenizer_config.json do_lower_case */
  const char *const *labels; /* id2label / label2id (num_labels), or NULL */
  int n_labels;
  int overwrite; /* replace the files of an existing directory */
} kz_hf_bert_export_options;

/* Writes dir/vocab.txt, tokenizer_config.json, model.safetensors (metadata
 * {"format": "pt"}, which transformers requires; tensors in the given order)
 * and config.json, last, each through NAME.tmp + rename. Shapes are the
 * caller's (the model is the authority); they are not checked against the
 * config. An existing dir needs overwrite; its config.json is removed before
 * anything is written, so old and new files never pass for one checkpoint.
 * On failure the files written are removed, and dir when this call made it. */
kz_status kz_hf_bert_export(const char *dir, const kz_hf_bert_config *config,
                            const kz_hf_tensor *tensors, int64_t n_tensors,
                            const kz_hf_bert_export_options *options);
/* Writes config.json for config (architectures, model_type "bert",
 * hidden_act "gelu", labels as in options when given). */
kz_status kz_hf_bert_config_write(const char *path, const kz_hf_bert_config *config,
                                  const char *architecture, const char *const *labels,
                                  int n_labels);

#ifdef __cplusplus
}
#endif
#endif
