/* The vocabulary a transformer carries (docs/MODELS.md, "The vocabulary in
 * the model file"): text import records the tokens and their SHA-256 in the
 * data set's meta; the model copies them, with the casing and the columns
 * the text came from, into its own meta under "tokenizer", so predicting
 * from raw text, serving and export need nothing but the model file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/text/wordpiece.h"
#include "kernels/core/error.h"
#include "models/meta_read.h"
#include "models/transformer/tf_internal.h"

static const char *str_of(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

/* The tokens of a JSON array as C strings (pointers into it); NULL when
 * not an array of non-empty strings. */
static const char **token_list(const json_t *a, int32_t *n) {
  *n = 0;
  if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > (1u << 24)) return NULL;
  size_t count = json_array_size(a);
  const char **t = malloc(count * sizeof *t);
  if (!t) return NULL;
  for (size_t i = 0; i < count; i++) {
    t[i] = json_string_value(json_array_get(a, i));
    if (!t[i] || !*t[i]) {
      free(t);
      return NULL;
    }
  }
  *n = (int32_t)count;
  return t;
}

/* Checks that tokens hash to sha (the meta was not edited in part). */
static kz_status same_hash(const json_t *tokens, const char *sha, const char *where) {
  int32_t n = 0;
  const char **t = token_list(tokens, &n);
  if (!t)
    return kz_fail(KZ_ERR_FORMAT, "%s: the vocabulary is not a list of non-empty token strings",
                   where);
  char hex[65];
  kz_tokens_sha256(t, n, hex);
  free(t);
  if (!sha || strcmp(hex, sha) != 0)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: the vocabulary's tokens hash to sha256 %s, but the file records %s", where,
                   hex, sha ? sha : "none");
  return KZ_OK;
}

kz_status kz_tf_tokenizer_from_data(const json_t *meta, const char *where, json_t **out) {
  *out = NULL;
  const json_t *tokens = json_object_get(meta, "vocab_tokens");
  if (!tokens) return KZ_OK; /* a data set imported before sets kept their vocabulary */
  char what[600];
  snprintf(what, sizeof what, "%s: meta.vocab_tokens", where);
  KZ_TRY(same_hash(tokens, str_of(meta, "vocab_sha256"), what));
  json_t *t = json_object();
  if (!t) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: tokenizer");
  json_object_set_new(t, "vocab", json_deep_copy(tokens));
  json_object_set_new(t, "sha256", json_string(str_of(meta, "vocab_sha256")));
  const char *file = str_of(meta, "vocab");
  json_object_set_new(t, "file", json_string(file ? file : "vocab.txt"));
  json_object_set_new(t, "lowercase",
                      json_boolean(json_is_true(json_object_get(meta, "lowercase"))));
  const json_t *qa = json_object_get(meta, "qa");
  const char *cols[5][2] = {{"text_column", str_of(meta, "text_column")},
                            {"words_column", str_of(meta, "words_column")},
                            {"question_column", str_of(qa, "question_column")},
                            {"context_column", str_of(qa, "context_column")},
                            {"answer_text_column", str_of(qa, "answer_text_column")}};
  for (int i = 0; i < 5; i++)
    if (cols[i][1]) json_object_set_new(t, cols[i][0], json_string(cols[i][1]));
  *out = t;
  return KZ_OK;
}

kz_status kz_tf_tokenizer_check(const json_t *t, int64_t vocab) {
  static const char *const keys[] = {
      "vocab",        "sha256",          "file",           "lowercase",          "text_column",
      "words_column", "question_column", "context_column", "answer_text_column", NULL};
  if (!json_is_object(t)) return kz_meta_bad("transformer", "tokenizer");
  KZ_TRY(kz_meta_known_keys("transformer", (json_t *)t, "tokenizer", keys));
  const json_t *v = json_object_get(t, "vocab");
  if (!json_is_array(v) || (int64_t)json_array_size(v) > vocab)
    return kz_fail(KZ_ERR_FORMAT,
                   "transformer meta: tokenizer.vocab must be a list of at most %lld tokens (the "
                   "model's vocab)",
                   (long long)vocab);
  if (!json_is_string(json_object_get(t, "sha256")) ||
      !json_is_string(json_object_get(t, "file")) ||
      !json_is_boolean(json_object_get(t, "lowercase")))
    return kz_meta_bad("transformer", "tokenizer.sha256 / file / lowercase");
  for (int i = 4; keys[i]; i++) {
    const json_t *c = json_object_get(t, keys[i]);
    if (c && !json_is_string(c)) return kz_meta_bad("transformer", keys[i]);
  }
  return same_hash(v, str_of(t, "sha256"), "transformer meta: tokenizer.vocab");
}

kz_status kz_tf_tokenizer_need(const kz_tf *m, const char *what) {
  if (m->tokenizer) return KZ_OK;
  return kz_fail(KZ_ERR_UNSUPPORTED,
                 "%s: the model holds no vocabulary (it was trained on a data set imported "
                 "before data sets recorded theirs); import the data again with --vocab and "
                 "retrain, or use --data with shards",
                 what);
}

kz_status kz_tf_tokenizer_load(const kz_tf *m, int max_len, kz_wordpiece **out) {
  *out = NULL;
  int32_t n = 0;
  const char **t = token_list(json_object_get(m->tokenizer, "vocab"), &n);
  if (!t) return kz_fail(KZ_ERR_FORMAT, "transformer: the model's vocabulary is unreadable");
  kz_wordpiece_options o;
  kz_wordpiece_options_default(&o);
  o.lowercase = json_is_true(json_object_get(m->tokenizer, "lowercase"));
  o.max_len = max_len;
  o.pad = 0;
  o.reject_invalid_utf8 = 1;
  kz_status st = kz_wordpiece_from_tokens(t, n, &o, out);
  free(t);
  return st;
}

/* ---- the public side (transformer.h) ------------------------------------- */

const char *kz_transformer_vocab_sha256(const kz_nn_model *model) {
  const kz_tf *m = (const kz_tf *)model;
  return m->tokenizer ? str_of(m->tokenizer, "sha256") : NULL;
}

int kz_transformer_vocab_lowercase(const kz_nn_model *model) {
  const kz_tf *m = (const kz_tf *)model;
  return m->tokenizer ? json_is_true(json_object_get(m->tokenizer, "lowercase")) : -1;
}

kz_status kz_transformer_vocab_tokens(const kz_nn_model *model, const char ***tokens, int32_t *n) {
  const kz_tf *m = (const kz_tf *)model;
  *tokens = NULL, *n = 0;
  KZ_TRY(kz_tf_tokenizer_need(m, "the model file"));
  if (!(*tokens = token_list(json_object_get(m->tokenizer, "vocab"), n)))
    return kz_fail(KZ_ERR_FORMAT, "transformer: the model's vocabulary is unreadable");
  return KZ_OK;
}

const char *kz_transformer_text_column(const kz_nn_model *model, const char *key) {
  const kz_tf *m = (const kz_tf *)model;
  return m->tokenizer ? str_of(m->tokenizer, key) : NULL;
}

/* ---- token spans back to text (qa evaluation on shards) ------------------ */

static kz_status detok(const char *const *vocab, int32_t n_vocab, const int32_t *ids, int64_t s,
                       int64_t e, char **buf, size_t *len, size_t *cap) {
  *len = 0;
  for (int64_t i = s; i <= e; i++) {
    const char *t = ids[i] >= 0 && ids[i] < n_vocab ? vocab[ids[i]] : "";
    int glue = !strncmp(t, "##", 2);
    if (glue) t += 2;
    size_t k = strlen(t), need = *len + k + 2;
    if (need > *cap) {
      size_t c = *cap ? *cap * 2 : 256;
      while (c < need) c *= 2;
      char *p = realloc(*buf, c);
      if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: answer text");
      *buf = p, *cap = c;
    }
    if (*len && !glue) (*buf)[(*len)++] = ' ';
    memcpy(*buf + *len, t, k);
    *len += k;
  }
  if (!*buf) {
    *buf = malloc(1);
    if (!*buf) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: answer text");
    *cap = 1;
  }
  (*buf)[*len] = '\0';
  return KZ_OK;
}

kz_status kz_tf_detok_spans(kz_tf_detok *d, const char *const *vocab, int32_t n_vocab,
                            const int32_t *ids, int64_t as, int64_t ae, int64_t bs, int64_t be) {
  KZ_TRY(detok(vocab, n_vocab, ids, as, ae, &d->a, &d->a_len, &d->a_cap));
  return detok(vocab, n_vocab, ids, bs, be, &d->b, &d->b_len, &d->b_cap);
}

void kz_tf_detok_free(kz_tf_detok *d) {
  free(d->a), free(d->b);
  memset(d, 0, sizeof *d);
}

const char *kz_transformer_label_column(const kz_nn_model *model) {
  const kz_tf *m = (const kz_tf *)model;
  return m->task == TF_CLS ? m->label_name : NULL;
}
