/* kaizen data vocab --input FILE [--column NAME] --size N --out vocab.txt */
#include "tools/kaizen/cmd_data_vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/text/vocab_train.h"
#include "tools/kaizen/commands.h"

static const char usage_text[] =
    "usage: kaizen data vocab --input corpus.txt|corpus.csv [--column NAME] --size N\n"
    "                         --out vocab.txt [--lowercase] [--min-frequency N]\n\n"
    "Trains a WordPiece vocabulary (BERT style): [PAD] [UNK] [CLS] [SEP] [MASK], every\n"
    "character seen (bare and as ##c), then merges scored freq(ab)/(freq(a)*freq(b)).\n"
    "  --input FILE          plain text (one text a line) or CSV with a header row\n"
    "  --column NAME         the CSV column holding the text (required for CSV)\n"
    "  --size N              vocabulary size, special tokens included\n"
    "  --out FILE            written as FILE.tmp, renamed when complete\n"
    "  --lowercase           uncased: lower-case and strip accents first\n"
    "  --min-frequency N     never merge pairs seen fewer than N times (default 2)\n"
    "See docs/TOKENIZER.md.\n";

static int usage_error(const char *why, const char *what) {
  fprintf(stderr, "kaizen data vocab: %s%s\n\n%s", why, what ? what : "", usage_text);
  return 2;
}

static int parse_count(const char *s, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v <= 0 || v > 10000000) return 0;
  *out = v;
  return 1;
}

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

int kz_cmd_data_vocab(int argc, char **argv) {
  const char *input = NULL, *column = NULL, *out = NULL;
  long size = 0, min_freq = 2;
  int lowercase = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_text, stdout);
      return 0;
    }
    if (!strcmp(a, "--lowercase")) {
      lowercase = 1;
      continue;
    }
    int takes = !strcmp(a, "--input") || !strcmp(a, "--column") || !strcmp(a, "--size") ||
                !strcmp(a, "--out") || !strcmp(a, "--min-frequency");
    if (!takes) return usage_error("unknown option ", a);
    if (i + 1 >= argc) return usage_error("missing value for ", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--input"))
      input = v;
    else if (!strcmp(a, "--column"))
      column = v;
    else if (!strcmp(a, "--out"))
      out = v;
    else if (!strcmp(a, "--size") && !parse_count(v, &size))
      return usage_error("--size needs a positive integer, got ", v);
    else if (!strcmp(a, "--min-frequency") && !parse_count(v, &min_freq))
      return usage_error("--min-frequency needs a positive integer, got ", v);
  }
  if (!input) return usage_error("--input is required", NULL);
  if (!out) return usage_error("--out is required", NULL);
  if (!size) return usage_error("--size is required", NULL);
  if (!column && has_suffix(input, ".csv"))
    return usage_error("--column is required for a CSV input: ", input);

  kz_vocab_train_options o;
  kz_vocab_train_options_default(&o);
  o.vocab_size = (int32_t)size;
  o.lowercase = lowercase;
  o.min_frequency = (int32_t)min_freq;
  kz_vocab_trainer *t = NULL;
  if (kz_vocab_trainer_create(&o, &t) != KZ_OK) return kz_cli_fail("data vocab");
  int rc = 0;
  if (kz_vocab_trainer_add_file(t, input, column) != KZ_OK)
    rc = kz_cli_fail("data vocab");
  else if (kz_vocab_trainer_write(t, out) != KZ_OK)
    rc = kz_cli_fail("data vocab");
  else
    printf("wrote %s: %d tokens from %lld distinct words\n", out, kz_vocab_trainer_size(t),
           (long long)kz_vocab_trainer_distinct_words(t));
  kz_vocab_trainer_free(t);
  return rc;
}
