/* A Hugging Face BERT checkpoint directory: find its files and validate them
 * before a model is built from it. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/shard/fsutil.h"
#include "kernels/core/error.h"
#include "models/io/hf_bert.h"
#include "models/io/hf_bert_internal.h"
#include "models/io/safetensors.h"

int kz_hf_bert_is_dir(const char *path) {
  struct stat sb;
  if (!path || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) return 0;
  char *cfg = kz_path_join(path, "config.json");
  int yes = cfg && kz_fs_exists(cfg);
  free(cfg);
  return yes;
}

void kz_hf_bert_dir_free(kz_hf_bert_dir *d) {
  if (!d) return;
  free(d->dir), free(d->config_path), free(d->weights_path), free(d->vocab_path);
  memset(d, 0, sizeof *d);
}

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), m = strlen(tail);
  return n >= m && !strcmp(s + n - m, tail);
}

/* model.safetensors, else the one *.safetensors file of dir. */
static kz_status find_weights(kz_hf_bert_dir *d) {
  char *main_file = kz_path_join(d->dir, "model.safetensors");
  if (!main_file) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", d->dir);
  if (kz_fs_exists(main_file)) {
    d->weights_path = main_file;
    return KZ_OK;
  }
  free(main_file);
  DIR *dir = opendir(d->dir);
  if (!dir) return kz_fail(KZ_ERR_IO, "%s: cannot list the directory", d->dir);
  char first[256] = "", second[256] = "";
  int n = 0, has_bin = 0;
  for (struct dirent *e; (e = readdir(dir));) {
    if (ends_with(e->d_name, ".safetensors")) {
      /* keep the two smallest names, so the message does not depend on readdir's order */
      if (n == 0 || strcmp(e->d_name, first) < 0) {
        snprintf(second, sizeof second, "%s", first);
        snprintf(first, sizeof first, "%s", e->d_name);
      } else if (n == 1 || strcmp(e->d_name, second) < 0) {
        snprintf(second, sizeof second, "%s", e->d_name);
      }
      ++n;
    }
    if (!strcmp(e->d_name, "pytorch_model.bin") || !strcmp(e->d_name, "tf_model.h5")) has_bin = 1;
  }
  closedir(dir);
  if (n == 0)
    return kz_fail(KZ_ERR_NOT_FOUND, "%s: no model.safetensors (nor any .safetensors file)%s",
                   d->dir,
                   has_bin ? "; kaizen does not read pytorch_model.bin / tf_model.h5 (pickled or "
                             "HDF5 weights): save the model with safe_serialization=True"
                           : "");
  if (n > 1)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "%s: %d .safetensors files (%s, %s, ...) and no model.safetensors; sharded "
                   "checkpoints are not supported",
                   d->dir, n, first, second);
  d->weights_path = kz_path_join(d->dir, first);
  return d->weights_path ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", d->dir);
}

/* Tokens of vocab.txt (lines; a last line without newline counts), streamed:
 * the file's size is not trusted to be small. */
static kz_status count_vocab(kz_hf_bert_dir *d) {
  KZ_TRY(kz_fs_check_regular(d->vocab_path, "vocab.txt"));
  FILE *f = fopen(d->vocab_path, "rb");
  if (!f) return kz_fail(KZ_ERR_IO, "%s: cannot open vocab.txt", d->vocab_path);
  int64_t lines = 0;
  int last = '\n';
  char buf[1 << 16];
  for (size_t got; (got = fread(buf, 1, sizeof buf, f)) > 0;) {
    for (size_t i = 0; i < got; ++i) lines += buf[i] == '\n';
    last = buf[got - 1];
    if (lines > d->config.vocab_size) break; /* already too many */
  }
  int err = ferror(f);
  fclose(f);
  if (err) return kz_fail(KZ_ERR_IO, "%s: read error", d->vocab_path);
  if (last != '\n') ++lines;
  d->vocab_lines = lines;
  if (lines == 0) return kz_fail(KZ_ERR_FORMAT, "%s: empty vocabulary", d->vocab_path);
  if (lines > d->config.vocab_size)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: %s%lld tokens, more than config.json's vocab_size %lld (their ids would "
                   "index past the word embeddings)",
                   d->vocab_path, lines > d->config.vocab_size + 1 ? "over " : "",
                   (long long)(lines > d->config.vocab_size + 1 ? d->config.vocab_size : lines),
                   (long long)d->config.vocab_size);
  return KZ_OK;
}

/* tokenizer_config.json's do_lower_case, when the file is there. */
static kz_status read_lowercase(kz_hf_bert_dir *d) {
  d->lowercase = 1; /* BertTokenizer's default */
  char *path = kz_path_join(d->dir, "tokenizer_config.json");
  if (!path) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", d->dir);
  kz_status st = KZ_OK;
  if (kz_fs_exists(path)) {
    unsigned char *text = NULL;
    size_t len = 0;
    st = kz_hf_read_small(path, "tokenizer_config.json", KZ_HF_JSON_MAX_BYTES, &text, &len);
    json_error_t err;
    json_t *o = st == KZ_OK ? json_loadb((const char *)text, len, 0, &err) : NULL;
    if (st == KZ_OK && !json_is_object(o))
      st = kz_fail(KZ_ERR_FORMAT, "%s: not a JSON object", path);
    json_t *v = o ? json_object_get(o, "do_lower_case") : NULL;
    if (st == KZ_OK && v && !json_is_boolean(v))
      st = kz_fail(KZ_ERR_FORMAT, "%s: \"do_lower_case\" is not true or false", path);
    if (st == KZ_OK && v) d->lowercase = json_is_true(v);
    json_decref(o);
    free(text);
  }
  free(path);
  return st;
}

static kz_status open_dir(kz_hf_bert_dir *d) {
  struct stat sb;
  if (stat(d->dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return kz_fail(KZ_ERR_NOT_FOUND, "%s: not a directory (a Hugging Face checkpoint is one)",
                   d->dir);
  d->config_path = kz_path_join(d->dir, "config.json");
  d->vocab_path = kz_path_join(d->dir, "vocab.txt");
  if (!d->config_path || !d->vocab_path)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", d->dir);
  if (!kz_fs_exists(d->config_path))
    return kz_fail(KZ_ERR_NOT_FOUND, "%s: no config.json (not a Hugging Face checkpoint)", d->dir);
  KZ_TRY(kz_hf_bert_config_read(d->config_path, &d->config));
  KZ_TRY(find_weights(d));
  if (!kz_fs_exists(d->vocab_path))
    return kz_fail(KZ_ERR_NOT_FOUND, "%s: no vocab.txt (the WordPiece vocabulary)", d->dir);
  KZ_TRY(count_vocab(d));
  KZ_TRY(read_lowercase(d));
  kz_safetensors *st = NULL;
  KZ_TRY(kz_safetensors_open(d->weights_path, &st)); /* the header, validated now */
  kz_safetensors_close(st);
  return KZ_OK;
}

kz_status kz_hf_bert_dir_open(const char *dir, kz_hf_bert_dir *out) {
  memset(out, 0, sizeof *out);
  if (!dir) return kz_fail(KZ_ERR_INVALID_ARG, "kz_hf_bert_dir_open: no directory");
  if (!(out->dir = strdup(dir))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
  kz_status st = open_dir(out);
  if (st != KZ_OK) kz_hf_bert_dir_free(out);
  return st;
}
