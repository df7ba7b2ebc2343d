/* kaizen embed: mean-pooled sentence embeddings of a transformer model or a
 * Hugging Face BERT directory, one row per input line (docs/CLI.md,
 * "kaizen embed"). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/text/wordpiece.h"
#include "kernels/core/error.h"
#include "models/io/hf_bert.h"
#include "models/nn_model.h"
#include "models/transformer/transformer.h"
#include "tools/kaizen/commands.h"

static const char usage_text[] =
    "usage: kaizen embed --model M --input texts.txt [--out FILE] [--max-len N]\n"
    "                    [--vocab vocab.txt] [--cased] [--no-normalize] [--batch N]\n\n"
    "Embeds every line of texts.txt: [CLS] line [SEP] through the model's WordPiece\n"
    "vocabulary, the encoder's last hidden states averaged over the real tokens, then\n"
    "divided by their L2 norm. One row per input line (empty lines too), in order.\n"
    "  --model M        a transformer .kzm (any task: its encoder is used) or a Hugging\n"
    "                   Face BERT directory (config.json, model.safetensors, vocab.txt)\n"
    "  --out FILE       CSV (a header e0..eN-1, one row per line), or JSON lines when FILE\n"
    "                   ends in .jsonl ({\"line\": i, \"embedding\": [...]}); written\n"
    "                   atomically (FILE.tmp, then renamed). Default: CSV on stdout\n"
    "  --max-len N      tokens per line, [CLS] and [SEP] included; longer lines are cut\n"
    "                   (default: the model's maximum length)\n"
    "  --vocab FILE     replace the model's vocabulary (needed only for .kzm models trained\n"
    "                   before model files kept theirs; a HF directory has its own)\n"
    "  --cased          do not lowercase (default: the model's casing; with --vocab, uncased)\n"
    "  --no-normalize   write the mean-pooled vectors as they are\n"
    "  --batch N        lines per forward pass (default 32)\n"
    "  -h, --help       this text\n";

static int usage_error(const char *fmt, const char *arg) {
  fputs("kaizen embed: ", stderr);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n\n%s", usage_text);
  return 2;
}

typedef struct lines {
  char **v;
  int64_t n, cap;
} lines;

static kz_status read_lines(const char *path, lines *out) {
  FILE *f = fopen(path, "rb");
  if (!f) return kz_fail(KZ_ERR_IO, "%s: cannot open", path);
  char *buf = NULL;
  size_t cap = 0;
  ssize_t len;
  kz_status st = KZ_OK;
  while ((len = getline(&buf, &cap, f)) >= 0) {
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = 0;
    if (out->n == out->cap) {
      int64_t nc = out->cap ? 2 * out->cap : 256;
      char **nv = realloc(out->v, (size_t)nc * sizeof *nv);
      if (!nv) {
        st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: lines", path);
        break;
      }
      out->v = nv, out->cap = nc;
    }
    if (!(out->v[out->n] = strdup(buf))) {
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: lines", path);
      break;
    }
    out->n++;
  }
  if (st == KZ_OK && ferror(f)) st = kz_fail(KZ_ERR_IO, "%s: read error", path);
  free(buf);
  fclose(f);
  return st;
}

static void lines_free(lines *l) {
  for (int64_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

static void write_row(FILE *f, int jsonl, int64_t line, const float *v, int64_t H) {
  if (jsonl) fprintf(f, "{\"line\": %lld, \"embedding\": [", (long long)line);
  for (int64_t j = 0; j < H; j++) fprintf(f, "%s%.9g", j ? (jsonl ? ", " : ",") : "", v[j]);
  fputs(jsonl ? "]}\n" : "\n", f);
}

typedef struct embed_args {
  const char *model, *input, *out, *vocab;
  int64_t max_len, batch;
  int cased, normalize;
} embed_args;

static kz_status run(const embed_args *a) {
  kz_nn_model *emb = NULL;
  kz_wordpiece *tok = NULL;
  kz_wordpiece_options wo;
  kz_wordpiece_options_default(&wo);
  kz_status st = KZ_OK;
  if (kz_hf_bert_is_dir(a->model)) {
    kz_hf_bert_dir d;
    KZ_TRY(kz_hf_bert_dir_open(a->model, &d));
    wo.lowercase = d.lowercase;
    char note[2048] = "";
    st = kz_transformer_embedder_hf(a->model, a->max_len, &emb, note, sizeof note);
    if (st == KZ_OK) {
      fprintf(stderr, "kaizen embed: %s: %s\n", a->model, note);
      wo.max_len = (int)kz_transformer_max_len(emb);
      wo.pad = 0;
      st = kz_wordpiece_load(a->vocab ? a->vocab : d.vocab_path, &wo, &tok);
    }
    kz_hf_bert_dir_free(&d);
  } else {
    kz_nn_model *m = NULL;
    KZ_TRY(kz_nn_model_load(a->model, (kz_device){KZ_DEVICE_CPU, 0}, &m));
    st = kz_transformer_embedder_of(m, a->max_len, &emb);
    /* the model's own vocabulary and casing unless --vocab replaces them */
    const char **tokens = NULL;
    int32_t n_tokens = 0;
    const int own = st == KZ_OK && !a->vocab && kz_transformer_vocab_sha256(m);
    if (st == KZ_OK && !a->vocab && !own)
      st = kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the model holds no vocabulary (trained before data sets recorded "
                   "theirs): give --vocab, the vocabulary its data set was imported with",
                   a->model);
    if (st == KZ_OK && own) st = kz_transformer_vocab_tokens(m, &tokens, &n_tokens);
    if (st == KZ_OK) {
      wo.lowercase = own && !a->cased ? kz_transformer_vocab_lowercase(m) : !a->cased;
      wo.max_len = (int)(a->max_len > 0 ? a->max_len : kz_transformer_max_len(emb));
      wo.pad = 0;
      st = own ? kz_wordpiece_from_tokens(tokens, n_tokens, &wo, &tok)
               : kz_wordpiece_load(a->vocab, &wo, &tok);
    }
    free(tokens);
    kz_nn_base(m)->ops->destroy(m);
  }
  lines in = {0};
  if (st == KZ_OK) st = read_lines(a->input, &in);
  const int64_t H = emb ? kz_transformer_hidden_size(emb) : 0, B = a->batch;
  const int64_t T = a->max_len > 0 ? a->max_len : emb ? kz_transformer_max_len(emb) : 0;
  int32_t *ids = NULL, *lengths = NULL;
  float *vec = NULL;
  if (st == KZ_OK) {
    ids = calloc((size_t)(B * T), sizeof *ids);
    lengths = calloc((size_t)B, sizeof *lengths);
    vec = calloc((size_t)(B * H), sizeof *vec);
    if (!ids || !lengths || !vec) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "embed: buffers");
  }
  char *tmp = NULL;
  FILE *f = stdout;
  const int jsonl = a->out && ends_with(a->out, ".jsonl");
  if (st == KZ_OK && a->out) {
    tmp = malloc(strlen(a->out) + 5);
    if (!tmp)
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "embed");
    else {
      sprintf(tmp, "%s.tmp", a->out);
      if (!(f = fopen(tmp, "wb"))) st = kz_fail(KZ_ERR_IO, "%s: cannot create", tmp);
    }
  }
  if (st == KZ_OK && !jsonl) {
    for (int64_t j = 0; j < H; j++) fprintf(f, "%se%lld", j ? "," : "", (long long)j);
    fputc('\n', f);
  }
  kz_wordpiece_encoding enc = {0};
  for (int64_t start = 0; st == KZ_OK && start < in.n; start += B) {
    const int64_t nb = in.n - start < B ? in.n - start : B;
    int64_t tb = 1;
    for (int64_t b = 0; b < nb && st == KZ_OK; b++) {
      const char *s = in.v[start + b];
      st = kz_wordpiece_encode(tok, s, strlen(s), &enc);
      if (st != KZ_OK) break;
      lengths[b] = enc.length;
      for (int32_t t = 0; t < enc.length; t++) ids[b * T + t] = enc.ids[t];
      if (enc.length > tb) tb = enc.length;
    }
    if (st != KZ_OK) break;
    /* rows of the batch's longest line: repack [nb, T] as [nb, tb], padding 0
     * (ignored: the lengths mask it out of attention and of the mean) */
    for (int64_t b = 0; b < nb; b++) {
      for (int64_t t = 0; t < tb; t++) ids[b * tb + t] = t < lengths[b] ? ids[b * T + t] : 0;
    }
    st = kz_transformer_embed(emb, ids, lengths, nb, tb, a->normalize, vec);
    for (int64_t b = 0; st == KZ_OK && b < nb; b++) write_row(f, jsonl, start + b, vec + b * H, H);
  }
  kz_wordpiece_encoding_free(&enc);
  if (a->out && f && f != stdout) {
    if (fclose(f) != 0 && st == KZ_OK) st = kz_fail(KZ_ERR_IO, "%s: write error", tmp);
    if (st == KZ_OK && rename(tmp, a->out) != 0)
      st = kz_fail(KZ_ERR_IO, "%s: cannot rename to %s", tmp, a->out);
    if (st != KZ_OK) remove(tmp);
  } else if (f == stdout && fflush(stdout) != 0 && st == KZ_OK) {
    st = kz_fail(KZ_ERR_IO, "stdout: write error");
  }
  free(tmp);
  free(ids);
  free(lengths);
  free(vec);
  lines_free(&in);
  kz_wordpiece_free(tok);
  if (emb) kz_nn_base(emb)->ops->destroy(emb);
  return st;
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

int kz_cmd_embed(int argc, char **argv) {
  embed_args a = {.batch = 32, .normalize = 1};
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
      fputs(usage_text, stdout);
      return 0;
    }
    int has_value = !strcmp(o, "--model") || !strcmp(o, "--input") || !strcmp(o, "--out") ||
                    !strcmp(o, "--vocab") || !strcmp(o, "--max-len") || !strcmp(o, "--batch");
    if (has_value && i + 1 >= argc) return usage_error("%s needs a value", o);
    if (!strcmp(o, "--model"))
      a.model = argv[++i];
    else if (!strcmp(o, "--input"))
      a.input = argv[++i];
    else if (!strcmp(o, "--out"))
      a.out = argv[++i];
    else if (!strcmp(o, "--vocab"))
      a.vocab = argv[++i];
    else if (!strcmp(o, "--max-len")) {
      if (!parse_int(argv[++i], 2, 1 << 16, &a.max_len))
        return usage_error("--max-len: '%s' is not an integer in [2, 65536]", argv[i]);
    } else if (!strcmp(o, "--batch")) {
      if (!parse_int(argv[++i], 1, 4096, &a.batch))
        return usage_error("--batch: '%s' is not an integer in [1, 4096]", argv[i]);
    } else if (!strcmp(o, "--cased"))
      a.cased = 1;
    else if (!strcmp(o, "--no-normalize"))
      a.normalize = 0;
    else
      return usage_error("unknown option '%s'", o);
  }
  if (!a.model) return usage_error("%s", "--model is required");
  if (!a.input) return usage_error("%s", "--input is required");
  return run(&a) == KZ_OK ? 0 : kz_cli_fail("embed");
}
