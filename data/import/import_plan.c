/* Import, first half: header and flags, the inference pass, the schema. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/import_internal.h"
#include "data/import/limits.h"
#include "data/import/numparse.h"
#include "data/text/utf8.h"
#include "kernels/core/error.h"

/* Everything imported ends up as text in JSON (names and categories in the
 * manifest and model files) or in C strings (raw text), which hold neither
 * invalid UTF-8 nor NUL bytes: json_string() refuses the first and a NUL
 * ends a C string early. Left in, they turned into a lost category (codes
 * then pointing at the wrong string) or a silently cut text. So kaizen reads
 * UTF-8 only, and says where it is not. `what` names the cell ("column 'b'")
 * or the header name ("the name of column 2"). */
static kz_status check_text(const kz_import *im, int64_t line, const char *what, const char *v,
                            size_t len) {
  size_t bad = kz_utf8_check_text((const uint8_t *)v, len);
  if (bad == len) return KZ_OK;
  if (!v[bad])
    return kz_fail(KZ_ERR_FORMAT, "%s:%lld: %s: NUL byte at byte %zu", im->o->input,
                   (long long)line, what, bad + 1);
  return kz_fail(KZ_ERR_FORMAT,
                 "%s:%lld: %s: invalid UTF-8 at byte %zu (0x%02x); kaizen reads "
                 "UTF-8 text only (convert the file, e.g. iconv -f latin1 -t utf-8)",
                 im->o->input, (long long)line, what, bad + 1, (unsigned)(unsigned char)v[bad]);
}

static kz_status check_cell(const kz_import *im, int64_t line, const col_info *ci, const char *v,
                            size_t len) {
  char what[160];
  snprintf(what, sizeof what, "column '%.120s'", ci->name);
  return check_text(im, line, what, v, len);
}

static int find_col(const kz_import *im, const char *name, size_t len) {
  for (int i = 0; i < im->n_cols; ++i)
    if (strlen(im->cols[i].name) == len && !strncmp(im->cols[i].name, name, len)) return i;
  return -1;
}

static kz_status unknown_col(const kz_import *im, const char *flag, const char *name, size_t len) {
  char cols[512] = "";
  size_t used = 0;
  for (int i = 0; i < im->n_cols && used < sizeof cols - 64; ++i)
    used +=
        (size_t)snprintf(cols + used, sizeof cols - used, "%s%s", i ? ", " : "", im->cols[i].name);
  return kz_fail(KZ_ERR_INVALID_ARG,
                 "%s: %s names column '%.*s', which %s does not have (columns: %s)", im->o->input,
                 flag, (int)len, name, im->o->input, cols);
}

typedef kz_status (*col_fn)(kz_import *im, int col, const char *flag);

/* Applies fn to each column named in a comma-separated list. */
static kz_status each_listed(kz_import *im, const char *list, const char *flag, col_fn fn) {
  if (!list) return KZ_OK;
  const char *p = list;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len) {
      int c = find_col(im, p, len);
      if (c < 0) return unknown_col(im, flag, p, len);
      KZ_TRY(fn(im, c, flag));
    }
    p += len + (comma ? 1 : 0);
  }
  return KZ_OK;
}

static kz_status set_role(kz_import *im, int c, col_role role, const char *flag) {
  col_info *ci = &im->cols[c];
  if (ci->role != ROLE_FEATURE && ci->role != role)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: column '%s' is given two roles (%s and another flag)",
                   im->o->input, ci->name, flag);
  ci->role = role;
  return KZ_OK;
}

static kz_status mark_cat(kz_import *im, int c, const char *flag) {
  if (im->cols[c].forced_num)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: column '%s' is forced both numeric and categorical",
                   im->o->input, im->cols[c].name);
  im->cols[c].forced_cat = 1;
  return KZ_OK;
}
static kz_status mark_num(kz_import *im, int c, const char *flag) {
  if (im->cols[c].forced_cat)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: column '%s' is forced both numeric and categorical",
                   im->o->input, im->cols[c].name);
  im->cols[c].forced_num = 1;
  return KZ_OK;
}
static kz_status mark_ignore(kz_import *im, int c, const char *flag) {
  return set_role(im, c, ROLE_IGNORE, flag);
}
static kz_status mark_static(kz_import *im, int c, const char *flag) {
  return set_role(im, c, ROLE_STATIC, flag);
}
static kz_status mark_known(kz_import *im, int c, const char *flag) {
  return set_role(im, c, ROLE_KNOWN, flag);
}

static kz_status one_col(kz_import *im, const char *name, const char *flag, int *out) {
  *out = -1;
  if (!name) return KZ_OK;
  int c = find_col(im, name, strlen(name));
  if (c < 0) return unknown_col(im, flag, name, strlen(name));
  *out = c;
  return KZ_OK;
}

static kz_status role_col(kz_import *im, const char *name, const char *flag, col_role role,
                          int *out) {
  KZ_TRY(one_col(im, name, flag, out));
  return *out >= 0 ? set_role(im, *out, role, flag) : KZ_OK;
}

/* NER (--words-column, --token-labels-column) or QA (--question-column and
 * the answer columns) on top of text import: which combinations make sense. */
static kz_status target_columns(kz_import *im) {
  const kz_import_options *o = im->o;
  if (o->words_column && o->text_column)
    return kz_fail(KZ_ERR_INVALID_ARG, "--words-column replaces --text-column (the text is the "
                                       "words); give one of them");
  if (o->token_labels_column && !o->words_column)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--token-labels-column needs --words-column (one label per word)");
  if (o->words_column && o->question_column)
    return kz_fail(KZ_ERR_INVALID_ARG, "--words-column (NER) and --question-column (QA) "
                                       "cannot be combined");
  if ((o->answer_start_column || o->answer_text_column) && !o->question_column)
    return kz_fail(KZ_ERR_INVALID_ARG, "the answer columns need --question-column");
  if (!o->answer_start_column != !o->answer_text_column)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--answer-start-column and --answer-text-column go together");
  KZ_TRY(role_col(im, o->words_column, "--words-column", ROLE_WORDS, &im->words_col));
  KZ_TRY(role_col(im, o->token_labels_column, "--token-labels-column", ROLE_TOKEN_LABELS,
                  &im->tlabels_col));
  KZ_TRY(role_col(im, o->question_column, "--question-column", ROLE_QUESTION, &im->question_col));
  KZ_TRY(role_col(im, o->answer_start_column, "--answer-start-column", ROLE_ANSWER_START,
                  &im->astart_col));
  KZ_TRY(role_col(im, o->answer_text_column, "--answer-text-column", ROLE_ANSWER_TEXT,
                  &im->atext_col));
  /* only these columns may hold JSON arrays (a .jsonl row's words and labels;
   * SQuAD-style answer lists); every other column stays scalar-only */
  int arrays[] = {im->words_col, im->tlabels_col, im->astart_col, im->atext_col};
  for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; ++k)
    if (arrays[k] >= 0) kz_rows_keep_json(im->src, arrays[k]);
  return KZ_OK;
}

kz_status kz_import_header(kz_import *im) {
  const kz_import_options *o = im->o;
  int eof;
  KZ_TRY(kz_rows_next(im->src, &eof));
  if (eof)
    return kz_fail(KZ_ERR_FORMAT, "%s: the file is empty (a header row is required)", o->input);
  im->n_cols = kz_rows_fields(im->src);
  im->cols = calloc((size_t)im->n_cols, sizeof *im->cols);
  if (!im->cols) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  int64_t line = kz_rows_line(im->src);
  /* names go into a hash set: comparing each with all before it took 44 s
   * for 100,000 columns (the readers cap the count at KZ_IMPORT_MAX_COLUMNS) */
  kz_strset names;
  kz_strset_init(&names);
  kz_status st = KZ_OK;
  for (int i = 0; st == KZ_OK && i < im->n_cols; ++i) {
    const char *name = kz_rows_field(im->src, i);
    size_t len = kz_rows_field_len(im->src, i);
    kz_strset_init(&im->cols[i].dict);
    im->cols[i].field = -1;
    char what[64];
    snprintf(what, sizeof what, "the name of column %d", i + 1);
    int32_t id = -1;
    if (!len)
      st = kz_fail(KZ_ERR_FORMAT, "%s:%lld: column %d has an empty name", o->input, (long long)line,
                   i + 1);
    if (st == KZ_OK) st = check_text(im, line, what, name, len);
    if (st == KZ_OK) st = kz_strset_add(&names, name, len, &id);
    if (st == KZ_OK && id != i) /* ids are dense: a name seen before keeps its first column's */
      st = kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%.120s' named twice (columns %d and %d)",
                   o->input, (long long)line, name, id + 1, i + 1);
    if (st == KZ_OK && !(im->cols[i].name = strdup(name)))
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  kz_strset_free(&names);
  KZ_TRY(st);
  int is_ts = !strcmp(o->kind, "timeseries"), is_text = !strcmp(o->kind, "text");
  KZ_TRY(each_listed(im, o->ignore, "--ignore", mark_ignore));
  if (o->schema_from) return kz_import_reference_roles(im);
  KZ_TRY(each_listed(im, o->categorical, "--categorical", mark_cat));
  KZ_TRY(each_listed(im, o->numeric, "--numeric", mark_num));
  KZ_TRY(one_col(im, o->label, is_ts ? "--target" : "--label", &im->label_col));
  if (im->label_col >= 0) {
    KZ_TRY(set_role(im, im->label_col, ROLE_LABEL, "--label"));
    if (o->label_type && !strcmp(o->label_type, "numeric"))
      KZ_TRY(mark_num(im, im->label_col, "--label-type"));
    else if (o->label_type && !strcmp(o->label_type, "categorical"))
      KZ_TRY(mark_cat(im, im->label_col, "--label-type"));
    else if (o->label_type)
      return kz_fail(KZ_ERR_INVALID_ARG, "--label-type must be numeric or categorical, not '%s'",
                     o->label_type);
  }
  if (is_ts) {
    if (!o->time) return kz_fail(KZ_ERR_INVALID_ARG, "timeseries import needs --time COL");
    if (im->label_col < 0)
      return kz_fail(KZ_ERR_INVALID_ARG, "timeseries import needs --label (the target column)");
    KZ_TRY(one_col(im, o->series_id, "--series-id", &im->series_col));
    KZ_TRY(one_col(im, o->time, "--time", &im->time_col));
    if (im->series_col >= 0) {
      KZ_TRY(set_role(im, im->series_col, ROLE_SERIES, "--series-id"));
      im->cols[im->series_col].forced_cat = 1;
    }
    KZ_TRY(set_role(im, im->time_col, ROLE_TIME, "--time"));
    KZ_TRY(mark_num(im, im->time_col, "--time"));
    KZ_TRY(mark_num(im, im->label_col, "--label"));
    KZ_TRY(each_listed(im, o->static_cols, "--static", mark_static));
    KZ_TRY(each_listed(im, o->known, "--known", mark_known));
  } else if (o->series_id || o->time || o->static_cols || o->known) {
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--series-id, --time, --static and --known need --kind timeseries");
  }
  int targets = o->words_column || o->token_labels_column || o->question_column ||
                o->answer_start_column || o->answer_text_column;
  if (is_text) {
    /* a .txt input has exactly one column, so it needs no --text-column */
    const char *text_column = o->text_column;
    if (!text_column && !o->words_column && !strcmp(kz_rows_format(im->src), "txt"))
      text_column = "text";
    if ((!text_column && !o->words_column) || !o->vocab)
      return kz_fail(KZ_ERR_INVALID_ARG, "text import needs --text-column COL (or --words-column "
                                         "COL) and --vocab vocab.txt");
    if (text_column) {
      KZ_TRY(one_col(im, text_column, "--text-column", &im->text_col));
      KZ_TRY(set_role(im, im->text_col, ROLE_TEXT, "--text-column"));
    }
    if (targets) KZ_TRY(target_columns(im));
    /* other columns carry nothing a text model reads */
    for (int i = 0; i < im->n_cols; ++i)
      if (im->cols[i].role == ROLE_FEATURE) im->cols[i].role = ROLE_IGNORE;
  } else if (o->text_column || o->vocab || targets) {
    return kz_fail(KZ_ERR_INVALID_ARG, "--text-column, --vocab, --words-column, "
                                       "--token-labels-column, --question-column and the answer "
                                       "columns need --kind text");
  }
  return KZ_OK;
}

static kz_status grow_series(kz_import *im, int32_t id) {
  if (id < im->n_series_cap) return KZ_OK;
  int32_t cap = im->n_series_cap ? im->n_series_cap * 2 : 64;
  while (cap <= id) cap *= 2;
  double *a = realloc(im->tmin, (size_t)cap * sizeof *a);
  if (a) im->tmin = a;
  double *b = a ? realloc(im->tmax, (size_t)cap * sizeof *b) : NULL;
  if (!b) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  im->tmax = b;
  for (int32_t i = im->n_series_cap; i < cap; ++i) im->tmin[i] = INFINITY, im->tmax[i] = -INFINITY;
  im->n_series_cap = cap;
  return KZ_OK;
}

kz_status kz_import_pass1(kz_import *im) {
  const kz_import_options *o = im->o;
  int eof;
  for (;;) {
    KZ_TRY(kz_rows_next(im->src, &eof));
    if (eof) break;
    int64_t line = kz_rows_line(im->src);
    if (kz_rows_fields(im->src) != im->n_cols)
      return kz_fail(KZ_ERR_FORMAT, "%s:%lld: %d fields, but the header has %d", o->input,
                     (long long)line, kz_rows_fields(im->src), im->n_cols);
    im->rep.rows_read++;
    if (im->text_col >= 0) {
      const char *tx = kz_rows_field(im->src, im->text_col);
      size_t n = kz_rows_field_len(im->src, im->text_col), k = 0;
      while (k < n && (tx[k] == ' ' || tx[k] == '\t' || tx[k] == '\r' || tx[k] == '\n')) ++k;
      im->blank_rows += k == n;
    }
    if (kz_import_labels_active(im)) KZ_TRY(kz_import_labels_check(im, line));
    int32_t series = 0;
    double t = 0;
    for (int i = 0; i < im->n_cols; ++i) {
      col_info *ci = &im->cols[i];
      const char *v = kz_rows_field(im->src, i);
      size_t len = kz_rows_field_len(im->src, i);
      /* text, words, answers and ignored columns: only that they are text */
      if (ci->role >= ROLE_TEXT) {
        KZ_TRY(check_cell(im, line, ci, v, len));
        continue;
      }
      if (kz_is_missing(v, len)) {
        ci->n_missing++;
        if (ci->role == ROLE_SERIES || ci->role == ROLE_TIME)
          return kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s': the %s is missing", o->input,
                         (long long)line, ci->name, ci->role == ROLE_TIME ? "time" : "series id");
        continue;
      }
      if (ci->role == ROLE_TIME) { /* a number, date or datetime; never a category */
        KZ_TRY(check_cell(im, line, ci, v, len));
        KZ_TRY(kz_import_time_parse(im, ci, v, len, line, &t));
        continue;
      }
      double x = 0;
      int num = ci->forced_cat ? 0 : kz_parse_number(v, len, &x);
      if (num && kz_number_overflows_f32(num, x) && !ci->n_oor++) {
        /* an error only if the column ends up numeric (decided after the pass) */
        ci->first_oor_line = line;
        snprintf(ci->oor_example, sizeof ci->oor_example, "%.40s", v);
      }
      if (!num) { /* numbers are ASCII; anything else may become a category */
        KZ_TRY(check_cell(im, line, ci, v, len));
        if (len > KZ_IMPORT_MAX_CATEGORY_BYTES && !ci->ref)
          return kz_fail(KZ_ERR_FORMAT,
                         "%s:%lld: column '%s': a value of %zu bytes is too long for a category "
                         "(at most %d bytes); import long text with --kind text, or drop the "
                         "column with --ignore",
                         o->input, (long long)line, ci->name, len, KZ_IMPORT_MAX_CATEGORY_BYTES);
        if (ci->forced_num)
          return kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s': '%.40s' is not a number", o->input,
                         (long long)line, ci->name, v);
        if (!ci->n_nonnum++) {
          ci->first_nonnum_line = line;
          snprintf(ci->nonnum_example, sizeof ci->nonnum_example, "%.40s", v);
        }
      }
      if (ci->dict_overflow || ci->forced_num || ci->ref) continue;
      int32_t id;
      KZ_TRY(kz_strset_add(&ci->dict, v, len, &id));
      if (ci->role == ROLE_SERIES)
        series = id;
      else if (ci->dict.count > o->max_categories) {
        ci->dict_overflow = 1; /* too many to be a category: keep memory bounded */
        kz_strset_free(&ci->dict);
      }
    }
    /* after the row: the series id may come after a static column */
    for (int i = 0; i < im->n_cols; ++i)
      if (im->cols[i].role == ROLE_STATIC)
        KZ_TRY(kz_import_static_check(im, &im->cols[i], series, kz_rows_field(im->src, i),
                                      kz_rows_field_len(im->src, i), line));
    if (im->time_col >= 0) {
      KZ_TRY(grow_series(im, series));
      KZ_TRY(kz_import_time_order(im, series, t, line));
      if (t < im->tmin[series]) im->tmin[series] = t;
      if (t > im->tmax[series]) im->tmax[series] = t;
    }
  }
  if (im->rep.rows_read == 0)
    return kz_fail(KZ_ERR_FORMAT, "%s: no data rows after the header", o->input);
  for (int i = 0; i < im->n_cols; ++i) {
    col_info *ci = &im->cols[i];
    if (ci->role >= ROLE_TEXT) continue;
    ci->numeric = ci->forced_num || (!ci->forced_cat && ci->n_nonnum == 0);
    if (!ci->numeric && ci->dict_overflow)
      return kz_fail(KZ_ERR_FORMAT,
                     "%s: column '%s' is not numeric (line %lld: '%s') and has more than %d "
                     "distinct values; drop it with --ignore or raise --max-categories",
                     o->input, ci->name, (long long)ci->first_nonnum_line, ci->nonnum_example,
                     (int)o->max_categories);
    if (ci->numeric && ci->n_oor && ci->role != ROLE_TIME)
      return kz_fail(KZ_ERR_FORMAT,
                     "%s:%lld: column '%s': '%s' is out of the float32 range (about ±3.4e38; "
                     "%lld such value%s); scale the column, or import it with --categorical",
                     o->input, (long long)ci->first_oor_line, ci->name, ci->oor_example,
                     (long long)ci->n_oor, ci->n_oor == 1 ? "" : "s");
  }
  return kz_import_static_finish(im);
}

/* ---- schema ------------------------------------------------------------------ */

static kz_status add_group(kz_import *im, const char *field, col_role role, int numeric) {
  const char **names = calloc((size_t)im->n_cols + 1, sizeof *names);
  int *which = calloc((size_t)im->n_cols + 1, sizeof *which);
  if (!names || !which) {
    free(names), free(which);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  int n = 0;
  for (int i = 0; i < im->n_cols; ++i)
    if (im->cols[i].role == role && im->cols[i].numeric == numeric)
      which[n] = i, names[n++] = im->cols[i].name;
  kz_status st = KZ_OK;
  int f = -1;
  if (n)
    st = kz_schema_add_field(&im->schema, field, numeric ? KZ_FIELD_F32 : KZ_FIELD_I32, n, n, names,
                             &f);
  for (int k = 0; st == KZ_OK && k < n; ++k) {
    col_info *ci = &im->cols[which[k]];
    ci->field = f, ci->index = k;
    if (numeric) continue;
    st = kz_strset_sort(&ci->dict, NULL);
    if (st == KZ_OK)
      st = kz_schema_set_categories(&im->schema, f, k, ci->dict.count,
                                    (const char *const *)ci->dict.keys);
  }
  free(names), free(which);
  return st;
}

static kz_status add_label(kz_import *im, const char *field) {
  col_info *ci = &im->cols[im->label_col];
  const char *name = ci->name;
  KZ_TRY(kz_schema_add_field(&im->schema, field, ci->numeric ? KZ_FIELD_F32 : KZ_FIELD_I32, 1, 1,
                             &name, &ci->field));
  ci->index = 0;
  KZ_TRY(kz_schema_set_label(&im->schema, name));
  if (ci->numeric) return KZ_OK;
  KZ_TRY(kz_strset_sort(&ci->dict, NULL));
  return kz_schema_set_categories(&im->schema, ci->field, 0, ci->dict.count,
                                  (const char *const *)ci->dict.keys);
}

static kz_status timeseries_schema(kz_import *im) {
  const kz_import_options *o = im->o;
  kz_schema *s = &im->schema;
  const char *series_name = im->series_col >= 0 ? im->cols[im->series_col].name : "series";
  int f;
  KZ_TRY(kz_schema_add_field(s, "series_id", KZ_FIELD_I32, 1, 1, &series_name, &f));
  int32_t *map = NULL, n_series = 1;
  if (im->series_col >= 0) {
    col_info *ci = &im->cols[im->series_col];
    ci->field = f, ci->index = 0;
    KZ_TRY(kz_strset_sort(&ci->dict, &map));
    n_series = ci->dict.count;
    kz_status st = kz_schema_set_categories(s, f, 0, n_series, (const char *const *)ci->dict.keys);
    if (st != KZ_OK) {
      free(map);
      return st;
    }
  } else {
    const char *one = "all";
    KZ_TRY(kz_schema_set_categories(s, f, 0, 1, &one));
  }
  /* the last valid_fraction of each series' time span becomes validation */
  im->cutoff = malloc((size_t)n_series * sizeof *im->cutoff);
  if (!im->cutoff) {
    free(map);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  for (int32_t old = 0; old < n_series; ++old) {
    int32_t id = map ? map[old] : 0;
    im->cutoff[id] = im->tmin[old] + (1.0 - o->valid_fraction) * (im->tmax[old] - im->tmin[old]);
  }
  free(map);
  kz_import_time_meta(im);
  const char *time_name = im->cols[im->time_col].name;
  KZ_TRY(kz_schema_add_field(s, "time", KZ_FIELD_F64, 1, 1, &time_name,
                             &im->cols[im->time_col].field));
  KZ_TRY(add_label(im, "target"));
  KZ_TRY(add_group(im, "static_num", ROLE_STATIC, 1));
  KZ_TRY(add_group(im, "static_cat", ROLE_STATIC, 0));
  KZ_TRY(add_group(im, "known_num", ROLE_KNOWN, 1));
  KZ_TRY(add_group(im, "known_cat", ROLE_KNOWN, 0));
  KZ_TRY(add_group(im, "observed_num", ROLE_FEATURE, 1));
  return add_group(im, "observed_cat", ROLE_FEATURE, 0);
}

static kz_status text_schema(kz_import *im) {
  const kz_import_options *o = im->o;
  kz_wordpiece_options wo;
  kz_wordpiece_options_default(&wo);
  wo.lowercase = o->lowercase;
  wo.max_len = o->max_len;
  wo.pad = 1;
  KZ_TRY(kz_wordpiece_load(o->vocab, &wo, &im->tok));
  kz_schema *s = &im->schema;
  int f;
  KZ_TRY(kz_schema_add_field(s, "input_ids", KZ_FIELD_I32, o->max_len, 0, NULL, &f));
  KZ_TRY(kz_schema_add_field(s, "length", KZ_FIELD_I32, 1, 0, NULL, &f));
  if (im->label_col >= 0) KZ_TRY(add_label(im, "label"));
  if (kz_import_labels_active(im)) KZ_TRY(kz_import_labels_schema(im));
  if (o->keep_text) {
    int tc = im->text_col >= 0 ? im->text_col : im->words_col;
    const char *name = im->cols[tc].name;
    KZ_TRY(kz_schema_add_field(s, "text", KZ_FIELD_STR, 1, 1, &name, &im->cols[tc].field));
  }
  const char *slash = strrchr(o->vocab, '/');
  json_object_set_new(s->meta, "vocab", json_string(slash ? slash + 1 : o->vocab));
  json_object_set_new(s->meta, "vocab_size", json_integer(kz_wordpiece_vocab_size(im->tok)));
  /* the vocabulary itself travels with the data (and from there into the
   * model file), so tokenising new text never depends on finding the file */
  char sha[65];
  kz_wordpiece_vocab_sha256(im->tok, sha);
  json_object_set_new(s->meta, "vocab_sha256", json_string(sha));
  json_t *tokens = json_array();
  for (int32_t id = 0; id < kz_wordpiece_vocab_size(im->tok); ++id)
    json_array_append_new(tokens, json_string(kz_wordpiece_token_string(im->tok, id)));
  json_object_set_new(s->meta, "vocab_tokens", tokens);
  if (im->text_col >= 0)
    json_object_set_new(s->meta, "text_column", json_string(im->cols[im->text_col].name));
  /* the special ids a model needs ([MASK] for MLM, [PAD] for its
   * embedding row), -1 when the vocabulary lacks one */
  kz_wordpiece_specials sp;
  kz_wordpiece_get_specials(im->tok, &sp);
  json_t *ids = json_object();
  json_object_set_new(ids, "pad", json_integer(sp.pad));
  json_object_set_new(ids, "unk", json_integer(sp.unk));
  json_object_set_new(ids, "cls", json_integer(sp.cls));
  json_object_set_new(ids, "sep", json_integer(sp.sep));
  json_object_set_new(ids, "mask", json_integer(sp.mask));
  json_object_set_new(s->meta, "special_ids", ids);
  json_object_set_new(s->meta, "max_len", json_integer(o->max_len));
  json_object_set_new(s->meta, "lowercase", json_boolean(o->lowercase));
  json_object_set_new(s->meta, "blank_rows", json_integer(im->blank_rows));
  json_object_set_new(s->meta, "blank_rows_kept", json_boolean(o->keep_empty));
  if (o->min_chars > 0) json_object_set_new(s->meta, "min_chars", json_integer(o->min_chars));
  return KZ_OK;
}

kz_status kz_import_build_schema(kz_import *im) {
  const kz_import_options *o = im->o;
  if (o->schema_from)
    KZ_TRY(kz_import_reference_schema(im));
  else
    KZ_TRY(kz_schema_init(&im->schema, o->kind));
  const char *slash = strrchr(o->input, '/');
  json_object_set_new(im->schema.meta, "source", json_string(slash ? slash + 1 : o->input));
  if (o->valid_fraction > 0) {
    json_object_set_new(im->schema.meta, "valid_fraction", json_real(o->valid_fraction));
    json_object_set_new(im->schema.meta, "seed", json_integer((json_int_t)o->seed));
  }
  if (o->schema_from) return KZ_OK;
  if (!strcmp(o->kind, "timeseries")) return timeseries_schema(im);
  if (!strcmp(o->kind, "text")) return text_schema(im);
  KZ_TRY(add_group(im, "numeric", ROLE_FEATURE, 1));
  KZ_TRY(add_group(im, "categorical", ROLE_FEATURE, 0));
  if (im->label_col >= 0) KZ_TRY(add_label(im, "label"));
  if (im->schema.n_fields == (im->label_col >= 0))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: no feature columns left to import", o->input);
  return KZ_OK;
}
