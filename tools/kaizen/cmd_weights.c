/* kaizen weights inspect: what a safetensors file or a Hugging Face BERT
 * directory holds, validated the way train.init_from reads it
 * (docs/CLI.md, "kaizen weights"; formats in docs/FORMATS.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/io/hf_bert.h"
#include "models/io/safetensors.h"
#include "tools/kaizen/commands.h"

static const char usage_text[] =
    "usage: kaizen weights inspect PATH [--check]\n\n"
    "PATH is a .safetensors file or a Hugging Face BERT directory (config.json,\n"
    "model.safetensors, vocab.txt). Prints the config and every tensor: its name as kaizen\n"
    "reads it (\"bert.\" dropped, gamma/beta as weight/bias), dtype and shape. The header,\n"
    "config and vocabulary are validated first; any fault is an error naming the file.\n"
    "  --check      also read every F32/F16/BF16 tensor and count NaN and infinite values\n"
    "               (exit 1 if there are any)\n"
    "  -h, --help   this text\n";

static int usage_error(const char *fmt, const char *arg) {
  fputs("kaizen weights: ", stderr);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n\n%s", usage_text);
  return 2;
}

static void print_config(const kz_hf_bert_dir *d) {
  const kz_hf_bert_config *c = &d->config;
  printf("%s: BERT, %lld layers, hidden %lld, %lld heads, ffn %lld, vocab %lld, "
         "max positions %lld, token types %lld, layer_norm_eps %g\n",
         d->config_path, (long long)c->num_hidden_layers, (long long)c->hidden_size,
         (long long)c->num_attention_heads, (long long)c->intermediate_size,
         (long long)c->vocab_size, (long long)c->max_position_embeddings,
         (long long)c->type_vocab_size, c->layer_norm_eps);
  printf("%s: %lld tokens, %s\n", d->vocab_path, (long long)d->vocab_lines,
         d->lowercase ? "uncased" : "cased");
}

/* Counts non-finite values of tensor i; -1 on a read error (printed). */
static int64_t count_bad(kz_safetensors *st, int64_t i) {
  const kz_safetensors_tensor *t = kz_safetensors_tensor_at(st, i);
  float *v = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
  if (!v) {
    kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory for tensor '%s'", kz_safetensors_path(st),
            t->name);
    kz_cli_fail("weights inspect");
    return -1;
  }
  int64_t bad = 0;
  if (kz_safetensors_read_f32(st, i, v, t->numel) != KZ_OK) {
    kz_cli_fail("weights inspect");
    bad = -1;
  } else {
    for (int64_t k = 0; k < t->numel; ++k) bad += !isfinite(v[k]);
  }
  free(v);
  return bad;
}

static int list(const char *path, int check) {
  kz_safetensors *st = NULL;
  if (kz_safetensors_open(path, &st) != KZ_OK) return kz_cli_fail("weights inspect");
  int64_t n = kz_safetensors_count(st);
  uint64_t bytes = n ? kz_safetensors_tensor_at(st, n - 1)->end : 0;
  printf("%s: %lld tensors, %llu bytes of data\n", path, (long long)n, (unsigned long long)bytes);
  for (int64_t i = 0; i < kz_safetensors_metadata_count(st); ++i) {
    const char *k, *v;
    kz_safetensors_metadata_at(st, i, &k, &v);
    printf("metadata %.200s: %.200s%s\n", k, v, strlen(v) > 200 ? "..." : "");
  }
  int rc = 0;
  int64_t n_bad = 0;
  for (int64_t i = 0; i < n && rc == 0; ++i) {
    const kz_safetensors_tensor *t = kz_safetensors_tensor_at(st, i);
    char norm[KZ_SAFETENSORS_MAX_NAME + 8], shape[128] = "[";
    if (kz_hf_bert_normalize_name(t->name, norm, sizeof norm) != KZ_OK) {
      rc = kz_cli_fail("weights inspect");
      break;
    }
    for (int k = 0; k < t->rank; ++k)
      snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", k ? ", " : "",
               (long long)t->shape[k]);
    snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "]");
    printf("  %-56s %-7s %s", norm, kz_st_dtype_name(t->dtype), shape);
    if (strcmp(norm, t->name)) printf(" (file: %s)", t->name);
    if (check && kz_st_dtype_reads_as_f32(t->dtype)) {
      int64_t bad = count_bad(st, i);
      if (bad < 0) rc = 1;
      if (bad > 0) printf(" %lld non-finite values", (long long)bad);
      n_bad += bad > 0 ? bad : 0;
    }
    printf("\n");
  }
  kz_safetensors_close(st);
  if (rc == 0 && check) {
    if (n_bad) {
      fprintf(stderr, "kaizen: weights inspect: %s: %lld NaN or infinite values\n", path,
              (long long)n_bad);
      rc = 1;
    } else {
      printf("every float tensor read back, all values finite\n");
    }
  }
  return rc;
}

int kz_cmd_weights(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(usage_text, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "inspect")) return usage_error("unknown subcommand '%s'", argv[1]);
  const char *path = NULL;
  int check = 0;
  for (int i = 2; i < argc; ++i) {
    if (!strcmp(argv[i], "--check"))
      check = 1;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage_text, stdout);
      return 0;
    } else if (argv[i][0] == '-' && argv[i][1])
      return usage_error("unknown option '%s'", argv[i]);
    else if (path)
      return usage_error("one PATH only ('%s' is a second)", argv[i]);
    else
      path = argv[i];
  }
  if (!path) return usage_error("%s needs a PATH", "inspect");
  if (!kz_hf_bert_is_dir(path)) return list(path, check);
  kz_hf_bert_dir d;
  if (kz_hf_bert_dir_open(path, &d) != KZ_OK) return kz_cli_fail("weights inspect");
  print_config(&d);
  int rc = list(d.weights_path, check);
  kz_hf_bert_dir_free(&d);
  return rc;
}
