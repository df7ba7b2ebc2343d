/* Shared state of the two import passes. Internal to data/import. */
#ifndef KZ_DATA_IMPORT_INTERNAL_H
#define KZ_DATA_IMPORT_INTERNAL_H

#include "data/import/import.h"
#include "data/import/rows.h"
#include "data/import/strset.h"
#include "data/shard/schema.h"
#include "data/text/wordpiece.h"

typedef enum col_role {
  ROLE_FEATURE, /* tabular feature, or timeseries observed covariate */
  ROLE_LABEL,   /* label / target */
  ROLE_SERIES,
  ROLE_TIME,
  ROLE_STATIC,
  ROLE_KNOWN,
  ROLE_TEXT,
  ROLE_IGNORE
} col_role;

typedef struct col_info {
  char *name;
  col_role role;
  int forced_num, forced_cat;
  int numeric; /* the decision after pass 1 */
  int64_t n_missing, n_nonnum, first_nonnum_line;
  char nonnum_example[48];
  kz_strset dict;
  int dict_overflow;
  int field, index; /* destination in the schema */
} col_info;

typedef struct kz_import {
  const kz_import_options *o;
  kz_rows *src;
  int n_cols;
  col_info *cols;
  int series_col, time_col, text_col, label_col;
  int series_field;   /* schema field of series ids (timeseries) */
  int64_t blank_rows; /* text rows whose text is blank (pass 1) */
  /* timeseries: time range per series (by pre-sort dictionary id), then the
   * validation cut-off per series (by sorted id) */
  double *tmin, *tmax;
  int32_t n_series_cap;
  double *cutoff;
  kz_schema schema;
  kz_wordpiece *tok;
  kz_import_report rep;
} kz_import;

kz_status kz_import_header(kz_import *im);
kz_status kz_import_pass1(kz_import *im);
kz_status kz_import_build_schema(kz_import *im);
kz_status kz_import_pass2(kz_import *im);

#endif
