/* kaizen data import --kind K --input FILE.csv|.txt|.jsonl --out DIR [...] */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/import/import.h"
#include "engine/predict/predictor.h"
#include "tools/kaizen/cmd_data.h"
#include "tools/kaizen/commands.h"

static const char usage_text[] =
    "usage: kaizen data import --kind tabular|text|timeseries --input FILE --out DIR\n"
    "                          [options]\n\n"
    "Converts FILE into HDF5 shards plus manifest.json in DIR. FILE.csv: header row,\n"
    "RFC 4180 quoting, missing values empty, NA, NaN, N/A or null. FILE.txt: one text per\n"
    "line, column 'text'. FILE.jsonl: one JSON object per line, columns are the first\n"
    "object's keys, null or an omitted key is missing. A first pass infers the\n"
    "schema (a column whose values all parse as numbers is numeric, else categorical),\n"
    "the second converts. Nothing is left in DIR when the import fails.\n\n"
    "New data for a trained model:\n"
    "  --schema-from SRC      take the fields, column types and category dictionaries\n"
    "                         of SRC (a data set directory or a model file) instead\n"
    "                         of inferring them, so the shards line up with the\n"
    "                         training data (tabular; --kind may be omitted). Columns\n"
    "                         SRC lacks are ignored, values outside a dictionary are\n"
    "                         read as missing (counted), a missing label column\n"
    "                         drops the label\n"
    "Columns:\n"
    "  --label COL            label (tabular, text) or target (timeseries) column\n"
    "  --label-type T         numeric | categorical (default: inferred)\n"
    "  --categorical COLS     comma-separated columns to treat as categorical\n"
    "  --numeric COLS         columns that must be numeric (a non-number is an error)\n"
    "  --ignore COLS          columns to leave out\n"
    "Timeseries (long format, one row per series and time step):\n"
    "  --series-id COL        series identifier (omit for a file holding one series)\n"
    "  --time COL             time: numbers, or ISO 8601 dates / datetimes (stored as\n"
    "                         seconds since 1970 UTC); increasing within each series\n"
    "  --static COLS          per-series covariates\n"
    "  --known COLS           covariates known in the future (calendar, promotions)\n"
    "                         every other column is an observed covariate\n"
    "Text:\n"
    "  --text-column COL      the text to tokenize\n"
    "  --vocab FILE           WordPiece vocab.txt\n"
    "  --max-len N            tokens per row incl. [CLS]/[SEP], padded (default 128)\n"
    "  --cased                keep case and accents (default: uncased)\n"
    "  --keep-empty           keep rows whose text is blank (default: skip them)\n"
    "  --min-chars N          skip text rows of fewer than N characters (code points)\n"
    "  --no-raw-text          do not store the raw text\n"
    "Text targets (docs/DATA.md, \"Token labels and answer spans\"):\n"
    "  --words-column COL     NER: a JSON array of words per row, tokenized word by\n"
    "                         word (replaces --text-column)\n"
    "  --token-labels-column COL  a JSON array with one label per word (strings, kept\n"
    "                         as a sorted dictionary, or integers); the first\n"
    "                         sub-token of a word gets its label, the rest -100\n"
    "  --question-column COL  QA: [CLS] question [SEP] text [SEP]; only the text\n"
    "                         (--text-column, the context) is truncated\n"
    "  --answer-start-column COL  the answer's start in the context, in code points\n"
    "  --answer-text-column COL   the answer's text; empty = no answer (0, 0)\n"
    "Output:\n"
    "  --shard-rows N         rows per shard (default 1000000)\n"
    "  --valid-fraction F     put a share F of rows in the 'valid' split (timeseries:\n"
    "                         the last F of each series' time span)\n"
    "  --seed S               seed of the validation split (default 0)\n"
    "  --compress             deflate level 4 (or --compress-level N)\n"
    "  --max-categories N     distinct values allowed per categorical column (65536)\n"
    "  --overwrite            replace an existing data set in DIR\n"
    "  -h, --help             this text\n"
    "Examples: docs/DATA.md\n";

static int usage_error(const char *why, const char *what) {
  if (what)
    fprintf(stderr, "kaizen data import: %s'%s'\n\n%s", why, what, usage_text);
  else
    fprintf(stderr, "kaizen data import: %s\n\n%s", why, usage_text);
  return 2;
}

static int parse_int(const char *s, long long lo, long long hi, long long *out) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

int kz_cmd_data_import(int argc, char **argv) {
  kz_import_options o;
  kz_import_options_default(&o);
  o.kind = NULL;
  static const struct {
    const char *flag;
    size_t offset;
  } strs[] = {
      {"--kind", offsetof(kz_import_options, kind)},
      {"--input", offsetof(kz_import_options, input)},
      {"--out", offsetof(kz_import_options, out)},
      {"--label", offsetof(kz_import_options, label)},
      {"--target", offsetof(kz_import_options, label)},
      {"--label-type", offsetof(kz_import_options, label_type)},
      {"--categorical", offsetof(kz_import_options, categorical)},
      {"--numeric", offsetof(kz_import_options, numeric)},
      {"--ignore", offsetof(kz_import_options, ignore)},
      {"--series-id", offsetof(kz_import_options, series_id)},
      {"--time", offsetof(kz_import_options, time)},
      {"--static", offsetof(kz_import_options, static_cols)},
      {"--known", offsetof(kz_import_options, known)},
      {"--text-column", offsetof(kz_import_options, text_column)},
      {"--vocab", offsetof(kz_import_options, vocab)},
      {"--words-column", offsetof(kz_import_options, words_column)},
      {"--token-labels-column", offsetof(kz_import_options, token_labels_column)},
      {"--question-column", offsetof(kz_import_options, question_column)},
      {"--answer-start-column", offsetof(kz_import_options, answer_start_column)},
      {"--answer-text-column", offsetof(kz_import_options, answer_text_column)},
      {"--schema-from", offsetof(kz_import_options, schema_from_name)},
  };
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_text, stdout);
      return 0;
    }
    if (!strcmp(a, "--cased")) {
      o.lowercase = 0;
      continue;
    }
    if (!strcmp(a, "--keep-empty")) {
      o.keep_empty = 1;
      continue;
    }
    if (!strcmp(a, "--no-raw-text")) {
      o.keep_text = 0;
      continue;
    }
    if (!strcmp(a, "--compress")) {
      o.compress = 4;
      continue;
    }
    if (!strcmp(a, "--overwrite")) {
      o.overwrite = 1;
      continue;
    }
    int matched = 0;
    for (size_t k = 0; k < sizeof strs / sizeof strs[0]; ++k) {
      if (strcmp(a, strs[k].flag)) continue;
      if (i + 1 >= argc) return usage_error("missing value for ", a);
      *(const char **)((char *)&o + strs[k].offset) = argv[++i];
      matched = 1;
    }
    if (matched) continue;
    int numeric = !strcmp(a, "--shard-rows") || !strcmp(a, "--valid-fraction") ||
                  !strcmp(a, "--seed") || !strcmp(a, "--max-len") ||
                  !strcmp(a, "--compress-level") || !strcmp(a, "--max-categories") ||
                  !strcmp(a, "--min-chars");
    if (!numeric) return usage_error("unknown option ", a);
    if (i + 1 >= argc) return usage_error("missing value for ", a);
    const char *v = argv[++i];
    long long n;
    if (!strcmp(a, "--valid-fraction")) {
      char *end;
      o.valid_fraction = strtod(v, &end);
      if (!*v || *end || !(o.valid_fraction >= 0 && o.valid_fraction < 1))
        return usage_error("--valid-fraction needs a number in [0, 1), got ", v);
    } else if (!strcmp(a, "--shard-rows")) {
      if (!parse_int(v, 1, (long long)1 << 40, &n))
        return usage_error("--shard-rows needs a positive integer, got ", v);
      o.shard_rows = n;
    } else if (!strcmp(a, "--seed")) {
      if (!parse_int(v, 0, (long long)1 << 62, &n))
        return usage_error("--seed needs a non-negative integer, got ", v);
      o.seed = (uint64_t)n;
    } else if (!strcmp(a, "--max-len")) {
      if (!parse_int(v, 2, 1 << 20, &n))
        return usage_error("--max-len needs an integer >= 2, got ", v);
      o.max_len = (int)n;
    } else if (!strcmp(a, "--min-chars")) {
      if (!parse_int(v, 0, 1 << 20, &n))
        return usage_error("--min-chars needs an integer in [0, 1048576], got ", v);
      o.min_chars = (int)n;
    } else if (!strcmp(a, "--compress-level")) {
      if (!parse_int(v, 0, 9, &n)) return usage_error("--compress-level needs 0..9, got ", v);
      o.compress = (int)n;
    } else {
      if (!parse_int(v, 1, 1 << 30, &n))
        return usage_error("--max-categories needs a positive integer, got ", v);
      o.max_categories = (int32_t)n;
    }
  }
  if (!o.kind && !o.schema_from_name) return usage_error("--kind is required", NULL);
  if (!o.input) return usage_error("--input is required", NULL);
  if (!o.out) return usage_error("--out is required", NULL);
  kz_schema ref;
  memset(&ref, 0, sizeof ref);
  if (o.schema_from_name) {
    if (kz_schema_from_source(o.schema_from_name, &ref) != KZ_OK)
      return kz_cli_fail("data import --schema-from");
    if (!o.kind) o.kind = ref.kind;
    o.schema_from = &ref;
  }

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  kz_import_report rep;
  kz_status st = kz_import_file(&o, &rep);
  char ref_label[256];
  snprintf(ref_label, sizeof ref_label, "%s", ref.label ? ref.label : "");
  kz_schema_free(&ref);
  if (st != KZ_OK) return kz_cli_fail("data import");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  printf("imported %s -> %s: %lld rows (train %lld, valid %lld", o.input, o.out,
         (long long)rep.rows_read, (long long)rep.rows_train, (long long)rep.rows_valid);
  if (rep.skipped_empty) printf(", %lld blank texts skipped", (long long)rep.skipped_empty);
  if (rep.skipped_short)
    printf(", %lld texts shorter than %d characters skipped", (long long)rep.skipped_short,
           o.min_chars);
  if (rep.rows_truncated) printf(", %lld truncated to --max-len", (long long)rep.rows_truncated);
  if (rep.label_words_dropped)
    printf(", %lld labelled words lost to truncation", (long long)rep.label_words_dropped);
  if (o.answer_start_column)
    printf(", %lld answers truncated away and %lld unanswerable rows stored as 0,0",
           (long long)rep.answers_lost, (long long)rep.unanswerable);
  printf(") in %.3f s, %.1f MB/s of input\n", sec,
         sec > 0 ? (double)rep.input_bytes / 1e6 / sec : 0.0);
  if (*rep.ignored_columns)
    fprintf(stderr, "kaizen data import: columns --schema-from does not name (ignored): %s\n",
            rep.ignored_columns);
  if (rep.label_dropped)
    fprintf(stderr, "kaizen data import: no label column '%s'; the data set has no label\n",
            ref_label);
  if (rep.unseen)
    fprintf(stderr,
            "kaizen data import: %lld category values outside the --schema-from dictionaries "
            "were read as missing (%s)\n",
            (long long)rep.unseen, rep.unseen_columns);
  return 0;
}
