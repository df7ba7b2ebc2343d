/* kz_transformer_create: reads the `model` section and resolves the text
 * schema (field positions, vocabulary size and special ids, label classes)
 * of the training data (docs/MODELS.md, "## transformer"). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "data/text/wordpiece.h"
#include "kernels/core/error.h"
#include "models/io/hf_bert.h"
#include "models/transformer/tf_internal.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static kz_status read_config(kz_tf *m, const kz_cfg_node *cfg, int64_t *vocab_cfg,
                             int64_t *max_len_cfg) {
  int task = 0;
  KZ_TRY(kz_cfg_get_enum(cfg, "task", kz_tf_task_names, 0, &task));
  m->task = (tf_task)task;
  KZ_TRY(kz_cfg_get_int(cfg, "layers", 4, 1, KZ_TF_MAX_LAYERS, &m->layers));
  KZ_TRY(kz_cfg_get_int(cfg, "hidden", 256, 1, 1 << 16, &m->hidden));
  KZ_TRY(kz_cfg_get_int(cfg, "heads", 4, 1, 1 << 10, &m->heads));
  KZ_TRY(kz_cfg_get_int(cfg, "ffn", 4 * m->hidden, 1, 1 << 18, &m->ffn));
  KZ_TRY(kz_cfg_get_int(cfg, "max_len", 0, 0, 1 << 16, max_len_cfg));
  KZ_TRY(kz_cfg_get_int(cfg, "vocab", 0, 0, 1 << 24, vocab_cfg));
  KZ_TRY(kz_cfg_get_int(cfg, "type_vocab", 2, 1, 1024, &m->type_vocab));
  KZ_TRY(kz_cfg_get_double(cfg, "dropout", 0.1, 0.0, 0.95, &m->dropout));
  KZ_TRY(kz_cfg_get_double(cfg, "attention_dropout", 0.1, 0.0, 0.95, &m->attn_dropout));
  KZ_TRY(kz_cfg_get_double(cfg, "init_std", 0.02, 0.0, 10.0, &m->init_std));
  KZ_TRY(kz_cfg_get_double(cfg, "layernorm_eps", 1e-12, 0.0, 1.0, &m->ln_eps));
  KZ_TRY(kz_cfg_get_double(cfg, "mask_prob", 0.15, 0.0, 1.0, &m->mask_prob));
  KZ_TRY(kz_tf_lora_read_cfg(cfg, &m->lora));
  if (m->hidden % m->heads != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "model.hidden: %lld is not a multiple of model.heads (%lld)",
                   (long long)m->hidden, (long long)m->heads);
  return KZ_OK;
}

static int32_t special(json_t *sp, const char *key) {
  json_t *v = json_object_get(sp, key);
  return json_is_integer(v) ? (int32_t)json_integer_value(v) : -1;
}

static kz_status need_field(const kz_schema *s, const char *name, kz_field_type t, int64_t width,
                            int required, const char *where, int *out) {
  *out = kz_schema_field_index(s, name);
  if (*out < 0) {
    if (!required) return KZ_OK;
    return kz_fail(KZ_ERR_INVALID_ARG, "transformer: %s: the data set has no '%s' field", where,
                   name);
  }
  const kz_field *f = &s->fields[*out];
  if (f->type != t || (width > 0 && f->width != width))
    return kz_fail(KZ_ERR_INVALID_ARG, "transformer: %s: field '%s' is %s of width %lld, need %s",
                   where, name, kz_field_type_name(f->type), (long long)f->width,
                   kz_field_type_name(t));
  return KZ_OK;
}

static kz_status copy_classes(kz_tf *m, int n, const char *const *names) {
  m->class_names = calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
  if (!m->class_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: schema");
  m->n_classes = n;
  for (int k = 0; k < n; k++)
    if (!(m->class_names[k] = dup_str(names[k])))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: schema");
  return KZ_OK;
}

static kz_status read_schema(kz_tf *m, const kz_schema *s, const char *where, int64_t vocab_cfg,
                             int64_t max_len_cfg) {
  if (strcmp(s->kind, "text") != 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "transformer: %s: data set kind is '%s', need 'text' (kaizen data import "
                   "--kind text)",
                   where, s->kind);
  m->n_fields = s->n_fields;
  KZ_TRY(kz_tf_tokenizer_from_data(s->meta, where, &m->tokenizer));
  KZ_TRY(need_field(s, "input_ids", KZ_FIELD_I32, 0, 1, where, &m->f_ids));
  m->data_len = s->fields[m->f_ids].width;
  KZ_TRY(need_field(s, "length", KZ_FIELD_I32, 1, 1, where, &m->f_len));
  KZ_TRY(need_field(s, "token_type_ids", KZ_FIELD_I32, m->data_len, 0, where, &m->f_types));
  m->f_label = m->f_tok = m->f_astart = m->f_aend = -1;
  json_t *vs = json_object_get(s->meta, "vocab_size");
  int64_t data_vocab = json_is_integer(vs) ? (int64_t)json_integer_value(vs) : 0;
  if (data_vocab <= 0 && vocab_cfg <= 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "transformer: %s: the data set's meta has no vocab_size; set model.vocab",
                   where);
  if (vocab_cfg > 0 && vocab_cfg < data_vocab)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.vocab: %lld is smaller than the data set's vocabulary (%lld)",
                   (long long)vocab_cfg, (long long)data_vocab);
  m->vocab = vocab_cfg > 0 ? vocab_cfg : data_vocab;
  if (max_len_cfg > 0 && max_len_cfg < m->data_len)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.max_len: %lld is shorter than the data set's rows (%lld tokens)",
                   (long long)max_len_cfg, (long long)m->data_len);
  m->max_len = max_len_cfg > 0 ? max_len_cfg : m->data_len;
  json_t *sp = json_object_get(s->meta, "special_ids");
  m->sp = (tf_specials){special(sp, "pad"), special(sp, "unk"), special(sp, "cls"),
                        special(sp, "sep"), special(sp, "mask")};
  switch (m->task) {
  case TF_MLM:
    if (m->sp.mask < 0 || m->sp.mask >= m->vocab)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "transformer: mlm: %s: the data set's meta names no [MASK] id "
                     "(special_ids.mask); import it again with a vocabulary holding [MASK]",
                     where);
    return KZ_OK;
  case TF_CLS: {
    KZ_TRY(need_field(s, "label", KZ_FIELD_I32, 1, 1, where, &m->f_label));
    const kz_field *lf = &s->fields[m->f_label];
    if (lf->n_columns < 1 || lf->columns[0].n_categories < 2)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "transformer: classification: %s: the label has fewer than 2 classes", where);
    if (!(m->label_name = dup_str(lf->columns[0].name)))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: schema");
    return copy_classes(m, lf->columns[0].n_categories,
                        (const char *const *)lf->columns[0].categories);
  }
  case TF_TOKCLS: {
    KZ_TRY(need_field(s, "token_labels", KZ_FIELD_I32, m->data_len, 1, where, &m->f_tok));
    json_t *names = json_object_get(json_object_get(s->meta, "token_labels"), "names");
    if (!json_is_array(names) || json_array_size(names) < 2)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "transformer: token_classification: %s: meta.token_labels.names lists no "
                     "label strings (integer labels are not supported yet)",
                     where);
    int n = (int)json_array_size(names);
    const char **tmp = calloc((size_t)n, sizeof *tmp);
    if (!tmp) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: schema");
    for (int k = 0; k < n; k++) {
      tmp[k] = json_string_value(json_array_get(names, (size_t)k));
      if (!tmp[k]) tmp[k] = "?";
    }
    kz_status st = copy_classes(m, n, tmp);
    free(tmp);
    if (st == KZ_OK && !(m->label_name = dup_str("token_labels")))
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: schema");
    return st;
  }
  case TF_QA:
    KZ_TRY(need_field(s, "answer_start", KZ_FIELD_I32, 1, 1, where, &m->f_astart));
    return need_field(s, "answer_end", KZ_FIELD_I32, 1, 1, where, &m->f_aend);
  }
  return KZ_OK;
}

kz_status kz_transformer_create(const kz_cfg_node *model_cfg, kz_dataset *train, kz_device device,
                                kz_nn_model **out) {
  *out = NULL;
  kz_tf *m = calloc(1, sizeof(*m));
  if (!m) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: model");
  int64_t vocab_cfg = 0, max_len_cfg = 0;
  kz_status st = read_config(m, model_cfg, &vocab_cfg, &max_len_cfg);
  if (st == KZ_OK)
    st = read_schema(m, kz_dataset_schema(train), kz_dataset_path(train), vocab_cfg, max_len_cfg);
  if (st == KZ_OK) st = kz_tf_finish_layout(m, device, -1, 1);
  if (st != KZ_OK) {
    kz_tf_free(m);
    return st;
  }
  *out = (kz_nn_model *)m;
  return KZ_OK;
}

/* ---- train.init_from: a Hugging Face BERT directory ---------------------- */

/* A size key of the job's model section must be unset or agree with the
 * checkpoint's config.json; the model takes the checkpoint's. */
static kz_status agree_int(const kz_cfg_node *cfg, const char *key, int64_t job, int64_t ckpt,
                           const char *hf_key, const char *dir, int64_t *out) {
  if (kz_cfg_has(cfg, key) && job != ckpt)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.%s: %lld, but the checkpoint %s has %s %lld (leave model.%s unset: "
                   "the checkpoint's config.json gives it)",
                   key, (long long)job, dir, hf_key, (long long)ckpt, key);
  *out = ckpt;
  return KZ_OK;
}

/* A data set imported before sets recorded their vocabulary: the model
 * takes the checkpoint's vocab.txt (same_vocab checked what it could). */
static kz_status adopt_vocab(kz_tf *m, const kz_schema *s, const char *data_path,
                             const kz_wordpiece *tok, const char *sha, const char *file) {
  json_t *meta = json_deep_copy(s->meta), *tokens = json_array();
  if (!meta || !tokens) {
    json_decref(meta), json_decref(tokens);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: vocabulary");
  }
  for (int32_t id = 0; id < kz_wordpiece_vocab_size(tok); id++)
    json_array_append_new(tokens, json_string(kz_wordpiece_token_string(tok, id)));
  json_object_set_new(meta, "vocab_tokens", tokens);
  json_object_set_new(meta, "vocab_sha256", json_string(sha));
  json_object_set_new(meta, "vocab", json_string(file));
  kz_status st = kz_tf_tokenizer_from_data(meta, data_path, &m->tokenizer);
  json_decref(meta);
  return st;
}

/* The data set must be tokenised with the checkpoint's vocabulary: the same
 * tokens (by SHA-256) when the data set records them, else at least the same
 * size and special token ids. */
static kz_status same_vocab(kz_tf *m, const kz_schema *s, const char *data_path,
                            const kz_hf_bert_dir *d) {
  json_t *vs = json_object_get(s->meta, "vocab_size"), *vn = json_object_get(s->meta, "vocab");
  json_t *lc = json_object_get(s->meta, "lowercase");
  const int64_t data_vocab = json_is_integer(vs) ? (int64_t)json_integer_value(vs) : -1;
  const char *data_name = json_is_string(vn) ? json_string_value(vn) : "(unrecorded)";
  kz_wordpiece_options o;
  kz_wordpiece_options_default(&o);
  kz_wordpiece *tok = NULL;
  KZ_TRY(kz_wordpiece_load(d->vocab_path, &o, &tok));
  kz_wordpiece_specials sp;
  kz_wordpiece_get_specials(tok, &sp);
  char sha[65];
  kz_wordpiece_vocab_sha256(tok, sha);
  json_t *dsha = json_object_get(s->meta, "vocab_sha256");
  if (json_is_string(dsha) && strcmp(json_string_value(dsha), sha) != 0) {
    kz_wordpiece_free(tok);
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "train.init_from: the data set %s was tokenised with %s (sha256 %s), the "
                   "checkpoint has %s (sha256 %s): import the data again with --vocab %s",
                   data_path, data_name, json_string_value(dsha), d->vocab_path, sha,
                   d->vocab_path);
  }
  kz_status ad = m->tokenizer ? KZ_OK : adopt_vocab(m, s, data_path, tok, sha, "vocab.txt");
  kz_wordpiece_free(tok);
  KZ_TRY(ad);
  const int same = data_vocab == d->vocab_lines && m->sp.pad == sp.pad && m->sp.unk == sp.unk &&
                   m->sp.cls == sp.cls && m->sp.sep == sp.sep && m->sp.mask == sp.mask;
  if (!same)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "train.init_from: the data set %s was tokenised with %s (%lld tokens; [PAD] "
                   "%d, [UNK] %d, [CLS] %d, [SEP] %d, [MASK] %d), not with the checkpoint's "
                   "%s (%lld tokens; %d, %d, %d, %d, %d): import it again with --vocab %s",
                   data_path, data_name, (long long)data_vocab, m->sp.pad, m->sp.unk, m->sp.cls,
                   m->sp.sep, m->sp.mask, d->vocab_path, (long long)d->vocab_lines, sp.pad, sp.unk,
                   sp.cls, sp.sep, sp.mask, d->vocab_path);
  if (json_is_boolean(lc) && json_is_true(lc) != (d->lowercase != 0))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "train.init_from: the data set %s was imported %s, the checkpoint %s is %s "
                   "(tokenizer_config.json do_lower_case): import it again %s",
                   data_path, json_is_true(lc) ? "lowercased" : "cased", d->dir,
                   d->lowercase ? "uncased" : "cased",
                   d->lowercase ? "lowercased (the default)" : "with --cased");
  return KZ_OK;
}

kz_status kz_transformer_create_hf(const kz_cfg_node *model_cfg, kz_dataset *train, const char *dir,
                                   uint64_t seed, kz_device device, kz_nn_model **out, char *note,
                                   size_t cap) {
  *out = NULL;
  kz_hf_bert_dir d;
  KZ_TRY(kz_hf_bert_dir_open(dir, &d));
  const kz_hf_bert_config *c = &d.config;
  kz_tf *m = calloc(1, sizeof(*m));
  kz_status st = m ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: model");
  int64_t vocab_cfg = 0, max_len_cfg = 0;
  if (st == KZ_OK) st = read_config(m, model_cfg, &vocab_cfg, &max_len_cfg);
  if (st == KZ_OK)
    st = agree_int(model_cfg, "layers", m->layers, c->num_hidden_layers, "num_hidden_layers", dir,
                   &m->layers);
  if (st == KZ_OK)
    st = agree_int(model_cfg, "hidden", m->hidden, c->hidden_size, "hidden_size", dir, &m->hidden);
  if (st == KZ_OK)
    st = agree_int(model_cfg, "heads", m->heads, c->num_attention_heads, "num_attention_heads", dir,
                   &m->heads);
  if (st == KZ_OK)
    st = agree_int(model_cfg, "ffn", m->ffn, c->intermediate_size, "intermediate_size", dir,
                   &m->ffn);
  if (st == KZ_OK)
    st = agree_int(model_cfg, "type_vocab", m->type_vocab, c->type_vocab_size, "type_vocab_size",
                   dir, &m->type_vocab);
  if (st == KZ_OK)
    st = agree_int(model_cfg, "vocab", vocab_cfg, c->vocab_size, "vocab_size", dir, &vocab_cfg);
  if (st == KZ_OK && m->layers > KZ_TF_MAX_LAYERS)
    st = kz_fail(KZ_ERR_INVALID_ARG, "train.init_from: %s has %lld layers (at most %d)", dir,
                 (long long)m->layers, KZ_TF_MAX_LAYERS);
  /* layernorm_eps and the dropouts: the checkpoint's unless the job sets them */
  if (st == KZ_OK) {
    if (!kz_cfg_has(model_cfg, "layernorm_eps")) m->ln_eps = c->layer_norm_eps;
    if (!kz_cfg_has(model_cfg, "dropout")) m->dropout = c->hidden_dropout_prob;
    if (!kz_cfg_has(model_cfg, "attention_dropout"))
      m->attn_dropout = c->attention_probs_dropout_prob;
    if (!kz_cfg_has(model_cfg, "init_std")) m->init_std = c->initializer_range;
  }
  if (st == KZ_OK)
    st = read_schema(m, kz_dataset_schema(train), kz_dataset_path(train), vocab_cfg, max_len_cfg);
  if (st == KZ_OK && m->max_len > c->max_position_embeddings)
    st = kz_fail(KZ_ERR_INVALID_ARG,
                 "model.max_len: %lld is longer than the checkpoint %s's position table (%lld)",
                 (long long)m->max_len, dir, (long long)c->max_position_embeddings);
  if (st == KZ_OK) st = same_vocab(m, kz_dataset_schema(train), kz_dataset_path(train), &d);
  if (st == KZ_OK) st = kz_tf_finish_layout(m, device, -1, 1);
  if (st == KZ_OK) st = kz_tf_init_params((kz_nn_model *)m, seed);
  if (st == KZ_OK) st = kz_transformer_load_hf((kz_nn_model *)m, d.weights_path, note, cap);
  kz_hf_bert_dir_free(&d);
  if (st != KZ_OK) {
    kz_tf_free(m);
    return st;
  }
  *out = (kz_nn_model *)m;
  return KZ_OK;
}
