/* Import of CSV, text-line and JSON-lines files into kaizen shards (docs/DATA.md): a first pass
 * infers the schema (numbers vs categories, missing values, dictionaries), a second converts rows
 * and streams them to the shard writer. Memory is constant in the number of rows (it grows with the
 * number of distinct categories). Any failure leaves no output file behind. */
#ifndef KZ_DATA_IMPORT_IMPORT_H
#define KZ_DATA_IMPORT_IMPORT_H

#include <stdint.h>

#include "data/shard/schema.h"
#include "kaizen.h"

typedef struct kz_import_options {
  const char *kind;        /* "tabular", "text" or "timeseries" */
  const char *input;       /* .csv with a header row, .txt or .jsonl (rows.h) */
  const char *out;         /* output directory */
  const char *label;       /* label / target column */
  const char *label_type;  /* NULL (infer), "numeric" or "categorical" */
  const char *categorical; /* comma-separated columns forced categorical */
  const char *numeric;     /* comma-separated columns forced numeric */
  const char *ignore;      /* comma-separated columns to drop */
  /* timeseries */
  const char *series_id; /* NULL: the file is one series */
  const char *time;
  const char *static_cols, *known; /* other feature columns are observed */
  /* text */
  const char *text_column, *vocab;
  int max_len;    /* tokens per row, [CLS] and [SEP] included (default 128) */
  int lowercase;  /* 1 uncased (default), 0 cased */
  int keep_empty; /* keep rows whose text is empty or blank (default: skip) */
  /* skip rows whose text has fewer code points (0: keep all); with
   * --text-column only, so NER words and QA contexts are never dropped */
  int min_chars;
  int keep_text; /* store the raw text (default 1) */
  /* text targets (docs/DATA.md, "Token labels and answer spans"): NER from
   * pre-split words with one label per word, QA from question + context with
   * an answer given as a code-point offset and its text */
  const char *words_column, *token_labels_column;
  const char *question_column, *answer_start_column, *answer_text_column;
  /* output */
  int64_t shard_rows;    /* default 1,000,000 */
  double valid_fraction; /* 0: no validation split */
  uint64_t seed;
  int compress;           /* deflate level, 0 = none */
  int overwrite;          /* replace an existing data set in out */
  int32_t max_categories; /* per column (default 65536) */
  /* --schema-from: import with this schema's fields, column types and
   * category dictionaries instead of inferring them, so that new data lines
   * up with the data a model was trained on (tabular only). Columns it does
   * not name are ignored; values outside a dictionary become missing and are
   * counted; a missing label column drops the label field. schema_from_name
   * is recorded in the meta. */
  const kz_schema *schema_from;
  const char *schema_from_name;
} kz_import_options;

typedef struct kz_import_report {
  int64_t rows_read; /* data rows in the input */
  int64_t rows_train, rows_valid;
  int64_t skipped_empty;       /* text rows skipped as empty */
  int64_t skipped_short;       /* text rows skipped by --min-chars */
  int64_t rows_truncated;      /* text rows that lost tokens to --max-len */
  int64_t label_words_dropped; /* NER: labelled words with no token left */
  int64_t answers_lost;        /* QA: answers truncated away, stored as 0, 0 */
  int64_t unanswerable;        /* QA: rows without an answer, stored as 0, 0 */
  uint64_t input_bytes;
  /* --schema-from: values outside the dictionaries, read as missing */
  int64_t unseen;
  char unseen_columns[256];  /* "color: 3, cut: 1" (truncated) */
  char ignored_columns[256]; /* columns of the file the schema does not name */
  int label_dropped;         /* the file had no label column */
} kz_import_report;

void kz_import_options_default(kz_import_options *o);
kz_status kz_import_file(const kz_import_options *o, kz_import_report *report);

#endif
