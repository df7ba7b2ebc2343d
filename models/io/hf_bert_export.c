/* Writing a model as a Hugging Face BERT directory (hf_bert.h): each file goes
 * through NAME.tmp + rename, config.json last, so a directory with a
 * config.json always holds the rest; on failure every file written is
 * removed, and the directory too when this call made it. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/shard/fsutil.h"
#include "kernels/core/error.h"
#include "models/io/hf_bert.h"
#include "models/io/safetensors.h"

static const char *const architectures[] = {
    "BertModel", "BertForMaskedLM", "BertForSequenceClassification", "BertForTokenClassification",
    "BertForQuestionAnswering"};

enum { N_FILES = 4 };
static const char *const files[N_FILES] = {"vocab.txt", "tokenizer_config.json",
                                           "model.safetensors", "config.json"};

static kz_status write_weights(const char *path, const kz_hf_tensor *t, int64_t n, int prefix) {
  kz_safetensors_writer *w = NULL;
  KZ_TRY(kz_safetensors_writer_new(&w));
  kz_status st = kz_safetensors_writer_set_metadata(w, "format", "pt");
  char name[KZ_SAFETENSORS_MAX_NAME + 8];
  for (int64_t i = 0; st == KZ_OK && i < n; ++i) {
    if (!t[i].name || t[i].rank < 0 || t[i].rank > KZ_HF_MAX_RANK) {
      st =
          kz_fail(KZ_ERR_INVALID_ARG, "%s: tensor %lld: no name or a bad rank", path, (long long)i);
      break;
    }
    /* HF's BertFor* classes keep the encoder under "bert."; heads stay as named */
    int add = prefix && !kz_hf_bert_is_head(t[i].name);
    add = add || (prefix && !strncmp(t[i].name, "pooler.", 7));
    if (strlen(t[i].name) + 5 >= sizeof name) {
      st = kz_fail(KZ_ERR_INVALID_ARG, "%s: tensor name '%.60s...' is too long", path, t[i].name);
      break;
    }
    snprintf(name, sizeof name, "%s%s", add ? "bert." : "", t[i].name);
    st = kz_safetensors_writer_add_f32(w, name, t[i].rank, t[i].shape, t[i].data);
  }
  if (st == KZ_OK) st = kz_safetensors_writer_write(w, path);
  kz_safetensors_writer_free(w);
  return st;
}

static kz_status copy_vocab(const char *from, const char *to) {
  unsigned char *text = NULL;
  size_t len = 0;
  KZ_TRY(kz_fs_read_all(from, "vocabulary", &text, &len));
  kz_status st = kz_fs_write_atomic(to, text, len);
  free(text);
  return st;
}

/* One token a line, LF line ends: the file whose sha256sum is the
 * vocabulary's hash (kz_wordpiece_vocab_sha256). */
static kz_status write_vocab(const char *const *tokens, int32_t n, const char *to) {
  size_t len = 0;
  for (int32_t i = 0; i < n; ++i) len += strlen(tokens[i]) + 1;
  char *text = malloc(len ? len : 1);
  if (!text) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", to);
  size_t at = 0;
  for (int32_t i = 0; i < n; ++i) {
    size_t k = strlen(tokens[i]);
    memcpy(text + at, tokens[i], k);
    at += k;
    text[at++] = '\n';
  }
  kz_status st = kz_fs_write_atomic(to, text, len);
  free(text);
  return st;
}

static kz_status write_tokenizer_config(const char *path, int lowercase) {
  char text[256];
  int n = snprintf(text, sizeof text,
                   "{\n  \"tokenizer_class\": \"BertTokenizer\",\n  \"do_lower_case\": %s,\n"
                   "  \"unk_token\": \"[UNK]\",\n  \"sep_token\": \"[SEP]\",\n"
                   "  \"pad_token\": \"[PAD]\",\n  \"cls_token\": \"[CLS]\",\n"
                   "  \"mask_token\": \"[MASK]\"\n}\n",
                   lowercase ? "true" : "false");
  return kz_fs_write_atomic(path, text, (size_t)n);
}

static kz_status write_all(const char *dir, const kz_hf_bert_config *config,
                           const kz_hf_tensor *tensors, int64_t n,
                           const kz_hf_bert_export_options *o, const char *arch, char **paths,
                           int *written) {
  for (int i = 0; i < N_FILES; ++i)
    if (!(paths[i] = kz_path_join(dir, files[i])))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
  KZ_TRY(o->vocab_path ? copy_vocab(o->vocab_path, paths[0])
                       : write_vocab(o->vocab_tokens, o->n_vocab_tokens, paths[0]));
  *written = 1;
  KZ_TRY(write_tokenizer_config(paths[1], o->lowercase));
  *written = 2;
  KZ_TRY(write_weights(paths[2], tensors, n, strcmp(arch, "BertModel") != 0));
  *written = 3;
  KZ_TRY(kz_hf_bert_config_write(paths[3], config, arch, o->labels, o->n_labels));
  *written = 4;
  return KZ_OK;
}

kz_status kz_hf_bert_export(const char *dir, const kz_hf_bert_config *config,
                            const kz_hf_tensor *tensors, int64_t n_tensors,
                            const kz_hf_bert_export_options *o) {
  if (!dir || !config || !o || (!o->vocab_path && (!o->vocab_tokens || o->n_vocab_tokens < 1)) ||
      n_tensors < 0 || (n_tensors > 0 && !tensors))
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_hf_bert_export: bad arguments");
  const char *arch = o->architecture ? o->architecture : "BertModel";
  int known = 0;
  for (size_t i = 0; i < sizeof architectures / sizeof architectures[0]; ++i)
    known |= !strcmp(arch, architectures[i]);
  if (!known)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: architecture \"%s\" is not BertModel, BertForMaskedLM, "
                   "BertForSequenceClassification, BertForTokenClassification or "
                   "BertForQuestionAnswering",
                   dir, arch);
  struct stat sb;
  if (stat(dir, &sb) == 0) {
    if (!S_ISDIR(sb.st_mode))
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: exists and is not a directory", dir);
    if (!o->overwrite)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s exists; pass --overwrite to replace its files", dir);
  }
  int created = 0;
  KZ_TRY(kz_fs_ensure_dir(dir, &created));
  if (!created) {
    /* replacing: the old config.json goes first, so the directory never reads
     * as a checkpoint of old and new files mixed (it is written last) */
    char *cfg = kz_path_join(dir, "config.json");
    if (!cfg) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
    int gone = remove(cfg) == 0 || !kz_fs_exists(cfg);
    free(cfg);
    if (!gone) return kz_fail(KZ_ERR_IO, "%s: cannot remove the old config.json", dir);
  }
  char *paths[N_FILES] = {0};
  int written = 0;
  kz_status st = write_all(dir, config, tensors, n_tensors, o, arch, paths, &written);
  if (st != KZ_OK) {
    /* the error is set; removing is best effort */
    for (int i = 0; i < written; ++i) remove(paths[i]);
    if (created) rmdir(dir);
  }
  for (int i = 0; i < N_FILES; ++i) free(paths[i]);
  return st;
}
