/* Shared state of the two import passes. Internal to data/import. */
#ifndef KZ_DATA_IMPORT_INTERNAL_H
#define KZ_DATA_IMPORT_INTERNAL_H

#include "data/import/import.h"
#include "data/import/rows.h"
#include "data/import/strset.h"
#include "data/import/timeparse.h"
#include "data/shard/batch.h"
#include "data/shard/schema.h"
#include "data/text/wordpiece.h"

typedef enum col_role {
  ROLE_FEATURE, /* tabular feature, or timeseries observed covariate */
  ROLE_LABEL,   /* label / target */
  ROLE_SERIES,
  ROLE_TIME,
  ROLE_STATIC,
  ROLE_KNOWN,
  /* roles from ROLE_TEXT on are not feature values: pass 1 infers nothing
   * about them and pass 2 does not convert them one by one */
  ROLE_TEXT, /* the text (QA: the context) */
  ROLE_WORDS,
  ROLE_TOKEN_LABELS,
  ROLE_QUESTION,
  ROLE_ANSWER_START,
  ROLE_ANSWER_TEXT,
  ROLE_IGNORE
} col_role;

/* Scratch and destinations of the NER / QA targets (import_labels.c). */
typedef struct kz_import_labels {
  int ids_field, len_field, types_field, tlabels_field, astart_field, aend_field;
  kz_wordpiece_encoding enc[2];
  const char **words;
  size_t *lens;
  int32_t *labels;
  int32_t cap;
  char *joined; /* NER: the words joined by spaces (the stored text) */
  size_t joined_cap;
} kz_import_labels;

typedef struct col_info {
  char *name;
  col_role role;
  int forced_num, forced_cat;
  int numeric; /* the decision after pass 1 */
  int64_t n_missing, n_nonnum, first_nonnum_line;
  char nonnum_example[48];
  int64_t n_oor, first_oor_line; /* numbers a float32 cannot hold (1e999, 3.5e38) */
  char oor_example[48];
  kz_strset dict;
  int dict_overflow;
  int field, index; /* destination in the schema */
  int ref;          /* --schema-from: type and dictionary come from the reference */
  int64_t unseen;   /* --schema-from: values outside its dictionary */
  /* --static: each series' first value and its line (import_static.c);
   * the first row that spells the same number differently */
  char **static_first;
  int64_t *static_line;
  int32_t static_cap;
  int64_t static_spelling_line;
  int32_t static_spelling_series;
} col_info;

typedef struct kz_import {
  const kz_import_options *o;
  kz_rows *src;
  int n_cols;
  col_info *cols;
  int series_col, time_col, text_col, label_col;
  int words_col, tlabels_col, question_col, astart_col, atext_col; /* -1: not given */
  int tlabel_strings; /* NER labels: -1 not seen yet, 0 integers, 1 strings (tlabel_dict) */
  kz_strset tlabel_dict;
  kz_import_labels lab;
  int series_field;   /* schema field of series ids (timeseries) */
  int64_t blank_rows; /* text rows whose text is blank (pass 1) */
  /* timeseries: time range per series (by pre-sort dictionary id), then the
   * validation cut-off per series (by sorted id) */
  double *tmin, *tmax;
  int32_t n_series_cap;
  double *cutoff;
  /* timeseries: the time column's format (kz_time_format, -1 before the first
   * row), the line and value that set it; per series (pre-sort id) the line
   * of its latest time (import_time.c); the steps between consecutive times */
  int time_format;
  int64_t time_format_line;
  char time_format_value[48];
  char time_value[48]; /* the current row's, for messages */
  int64_t *tline;
  int32_t tline_cap;
  kz_time_steps steps;
  kz_schema schema;
  kz_wordpiece *tok;
  kz_import_report rep;
} kz_import;

kz_status kz_import_header(kz_import *im);
/* --schema-from (import_reference.c): roles and types of the columns from the
 * reference schema (after the header), then the schema itself and the
 * dictionaries (instead of inferring them). */
kz_status kz_import_reference_roles(kz_import *im);
kz_status kz_import_reference_schema(kz_import *im);
kz_status kz_import_pass1(kz_import *im);
kz_status kz_import_build_schema(kz_import *im);
kz_status kz_import_pass2(kz_import *im);

/* --static columns (import_static.c). Pass 1: checks the row's value of
 * static column ci against the series' first one. After pass 1 (numeric
 * decided): rejects categorical ones whose series spelled a number two ways. */
kz_status kz_import_static_check(kz_import *im, col_info *ci, int32_t series, const char *v,
                                 size_t len, int64_t line);
kz_status kz_import_static_finish(const kz_import *im);
void kz_import_static_free(col_info *ci);

/* The time column (import_time.c). Pass 1: parses a row's time (number,
 * date or datetime; one format per file), then, once the row's series is
 * known, checks that it comes after the series' previous time (no duplicates,
 * increasing within each series) and counts the step. Schema: the time meta.
 * Pass 2: the stored value. */
kz_status kz_import_time_parse(kz_import *im, const col_info *ci, const char *v, size_t len,
                               int64_t line, double *t);
kz_status kz_import_time_order(kz_import *im, int32_t series, double t, int64_t line);
void kz_import_time_meta(kz_import *im);
kz_status kz_import_time_convert(const kz_import *im, const col_info *ci, const char *v, size_t len,
                                 int64_t line, double *t);
void kz_import_time_free(kz_import *im);

/* NER / QA (import_labels.c). Active when --words-column or --question-column is given. */
int kz_import_labels_active(const kz_import *im);
/* Pass 1: checks a row's arrays, labels and answer; collects string labels. */
kz_status kz_import_labels_check(kz_import *im, int64_t line);
/* Adds token_type_ids / token_labels / answer fields and their meta. */
kz_status kz_import_labels_schema(kz_import *im);
/* Pass 2: fills row b->rows of b; *skip when the row has no text. */
kz_status kz_import_labels_row(kz_import *im, kz_shard_batch *b, int64_t line, int *skip);
void kz_import_labels_free(kz_import *im);

#endif
