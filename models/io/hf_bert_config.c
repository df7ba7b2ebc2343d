/* Hugging Face BERT config.json: read with bounds (the file is untrusted and
 * its sizes decide allocations), and write for export. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs/atomic_file.h"
#include "data/shard/fsutil.h"
#include "kernels/core/error.h"
#include "models/io/hf_bert.h"
#include "models/io/hf_bert_internal.h"

kz_status kz_hf_read_small(const char *path, const char *what, size_t max, unsigned char **text,
                           size_t *len) {
  struct stat sb;
  KZ_TRY(kz_fs_check_regular(path, what));
  if (stat(path, &sb) == 0 && (uint64_t)sb.st_size > (uint64_t)max)
    return kz_fail(KZ_ERR_FORMAT, "%s: %lld bytes; a %s holds at most %zu", path,
                   (long long)sb.st_size, what, max);
  KZ_TRY(kz_fs_read_all(path, what, text, len));
  if (*len > max) { /* it grew since */
    free(*text);
    *text = NULL;
    return kz_fail(KZ_ERR_FORMAT, "%s: %zu bytes; a %s holds at most %zu", path, *len, what, max);
  }
  return KZ_OK;
}

void kz_hf_bert_config_default(kz_hf_bert_config *c) {
  memset(c, 0, sizeof *c);
  c->layer_norm_eps = 1e-12;
  c->hidden_dropout_prob = 0.1;
  c->attention_probs_dropout_prob = 0.1;
  c->initializer_range = 0.02;
}

static kz_status get_int(const char *path, json_t *root, const char *key, int64_t lo, int64_t hi,
                         int required, int64_t *out) {
  json_t *v = json_object_get(root, key);
  if (!v) {
    if (required) return kz_fail(KZ_ERR_FORMAT, "%s: missing key \"%s\"", path, key);
    return KZ_OK;
  }
  if (!json_is_integer(v)) return kz_fail(KZ_ERR_FORMAT, "%s: \"%s\" is not an integer", path, key);
  json_int_t x = json_integer_value(v);
  if (x < lo || x > hi)
    return kz_fail(KZ_ERR_FORMAT, "%s: \"%s\": %lld is outside [%lld, %lld]", path, key,
                   (long long)x, (long long)lo, (long long)hi);
  *out = (int64_t)x;
  return KZ_OK;
}

/* lo < x < hi, or lo <= x < hi with closed_lo */
static kz_status get_real(const char *path, json_t *root, const char *key, double lo, int closed_lo,
                          double hi, int required, double *out) {
  json_t *v = json_object_get(root, key);
  if (!v) {
    if (required) return kz_fail(KZ_ERR_FORMAT, "%s: missing key \"%s\"", path, key);
    return KZ_OK;
  }
  if (!json_is_number(v)) return kz_fail(KZ_ERR_FORMAT, "%s: \"%s\" is not a number", path, key);
  double x = json_number_value(v);
  if (!isfinite(x) || x >= hi || (closed_lo ? x < lo : x <= lo))
    return kz_fail(KZ_ERR_FORMAT, "%s: \"%s\": %g is outside %c%g, %g)", path, key, x,
                   closed_lo ? '[' : '(', lo, hi);
  *out = x;
  return KZ_OK;
}

static kz_status expect_string(const char *path, json_t *root, const char *key, const char *want,
                               int required, const char *why) {
  json_t *v = json_object_get(root, key);
  if (!v && !required) return KZ_OK;
  if (!v) return kz_fail(KZ_ERR_FORMAT, "%s: missing key \"%s\"", path, key);
  if (!json_is_string(v) || strcmp(json_string_value(v), want))
    return kz_fail(KZ_ERR_UNSUPPORTED, "%s: \"%s\" is %s%.60s%s; kaizen reads \"%s\" only%s", path,
                   key, json_is_string(v) ? "\"" : "",
                   json_is_string(v) ? json_string_value(v) : "not a string",
                   json_is_string(v) ? "\"" : "", want, why);
  return KZ_OK;
}

static kz_status read_config(const char *path, json_t *root, kz_hf_bert_config *c) {
  if (!json_is_object(root)) return kz_fail(KZ_ERR_FORMAT, "%s: not a JSON object", path);
  KZ_TRY(expect_string(path, root, "model_type", "bert", 0, " (a BERT checkpoint)"));
  KZ_TRY(expect_string(path, root, "hidden_act", "gelu", 1,
                       " (the exact erf GELU; gelu_new and gelu_pytorch_tanh are another "
                       "function)"));
  KZ_TRY(expect_string(path, root, "position_embedding_type", "absolute", 0, ""));
  KZ_TRY(get_int(path, root, "hidden_size", 1, 65536, 1, &c->hidden_size));
  KZ_TRY(get_int(path, root, "num_hidden_layers", 1, 1024, 1, &c->num_hidden_layers));
  KZ_TRY(get_int(path, root, "num_attention_heads", 1, c->hidden_size, 1, &c->num_attention_heads));
  if (c->hidden_size % c->num_attention_heads != 0)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: \"hidden_size\" %lld is not a multiple of \"num_attention_heads\" %lld",
                   path, (long long)c->hidden_size, (long long)c->num_attention_heads);
  KZ_TRY(get_int(path, root, "intermediate_size", 1, 1 << 20, 1, &c->intermediate_size));
  KZ_TRY(
      get_int(path, root, "max_position_embeddings", 1, 1 << 20, 1, &c->max_position_embeddings));
  KZ_TRY(get_int(path, root, "vocab_size", 1, 1 << 24, 1, &c->vocab_size));
  KZ_TRY(get_int(path, root, "type_vocab_size", 1, 1024, 1, &c->type_vocab_size));
  KZ_TRY(get_int(path, root, "pad_token_id", 0, c->vocab_size - 1, 0, &c->pad_token_id));
  KZ_TRY(get_real(path, root, "layer_norm_eps", 0, 0, 1, 1, &c->layer_norm_eps));
  KZ_TRY(get_real(path, root, "hidden_dropout_prob", 0, 1, 1, 0, &c->hidden_dropout_prob));
  KZ_TRY(get_real(path, root, "attention_probs_dropout_prob", 0, 1, 1, 0,
                  &c->attention_probs_dropout_prob));
  KZ_TRY(get_real(path, root, "initializer_range", 0, 0, 1e3, 0, &c->initializer_range));
  return KZ_OK;
}

kz_status kz_hf_bert_config_read(const char *path, kz_hf_bert_config *out) {
  unsigned char *text = NULL;
  size_t len = 0;
  KZ_TRY(kz_hf_read_small(path, "config.json", KZ_HF_JSON_MAX_BYTES, &text, &len));
  json_error_t err;
  json_t *root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &err);
  free(text);
  if (!root)
    return kz_fail(KZ_ERR_FORMAT, "%s: not valid JSON (line %d, column %d): %s", path, err.line,
                   err.column, err.text);
  kz_hf_bert_config c;
  kz_hf_bert_config_default(&c);
  kz_status st = read_config(path, root, &c);
  json_decref(root);
  if (st == KZ_OK) *out = c;
  return st;
}

kz_status kz_hf_bert_config_write(const char *path, const kz_hf_bert_config *c,
                                  const char *architecture, const char *const *labels,
                                  int n_labels) {
  json_t *o = json_object(), *arch = json_array();
  int ok = o && arch &&
           !json_array_append_new(arch, json_string(architecture ? architecture : "BertModel"));
  ok = ok && !json_object_set_new(o, "architectures", arch);
  if (!ok) json_decref(arch);
#define SET(k, v) ok = ok && !json_object_set_new(o, k, v)
  SET("model_type", json_string("bert"));
  SET("hidden_size", json_integer(c->hidden_size));
  SET("num_hidden_layers", json_integer(c->num_hidden_layers));
  SET("num_attention_heads", json_integer(c->num_attention_heads));
  SET("intermediate_size", json_integer(c->intermediate_size));
  SET("hidden_act", json_string("gelu"));
  SET("hidden_dropout_prob", json_real(c->hidden_dropout_prob));
  SET("attention_probs_dropout_prob", json_real(c->attention_probs_dropout_prob));
  SET("max_position_embeddings", json_integer(c->max_position_embeddings));
  SET("type_vocab_size", json_integer(c->type_vocab_size));
  SET("vocab_size", json_integer(c->vocab_size));
  SET("layer_norm_eps", json_real(c->layer_norm_eps));
  SET("initializer_range", json_real(c->initializer_range));
  SET("pad_token_id", json_integer(c->pad_token_id));
  SET("position_embedding_type", json_string("absolute"));
  if (labels && n_labels > 0) {
    json_t *id2label = json_object(), *label2id = json_object();
    SET("id2label", id2label);
    SET("label2id", label2id);
    for (int i = 0; ok && i < n_labels; ++i) {
      char key[24];
      snprintf(key, sizeof key, "%d", i);
      json_t *s = json_string(labels[i] ? labels[i] : "");
      ok = s && !json_object_set_new(id2label, key, s) &&
           !json_object_set_new(label2id, labels[i] ? labels[i] : "", json_integer(i));
    }
  }
#undef SET
  char *text =
      ok ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;
  json_decref(o);
  if (!text) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: cannot build config.json", path);
  size_t n = strlen(text);
  kz_atomic_file a;
  kz_status st = kz_atomic_file_open(&a, path);
  if (st == KZ_OK) {
    fwrite(text, 1, n, a.f);
    fputc('\n', a.f);
    st = kz_atomic_file_finish(&a, KZ_OK);
  }
  free(text);
  return st;
}
