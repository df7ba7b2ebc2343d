/* Import, second half: convert rows, pick their split, stream them out. */
#define _POSIX_C_SOURCE 200809L
#include "data/import/import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/import_internal.h"
#include "data/import/numparse.h"
#include "data/shard/rng.h"
#include "data/shard/writer.h"
#include "kernels/core/error.h"

enum { KZ_IMPORT_BATCH = 2048 };

void kz_import_options_default(kz_import_options *o) {
  memset(o, 0, sizeof *o);
  o->kind = "tabular";
  o->max_len = 128;
  o->lowercase = 1;
  o->keep_text = 1;
  o->shard_rows = 1000000;
  o->max_categories = 65536;
}

static int is_blank(const char *s, size_t len) {
  for (size_t i = 0; i < len; ++i)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
  return 1;
}

/* Code points of a UTF-8 string: the bytes that do not continue one (the
 * encoder validates the text itself). */
static size_t code_points(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; ++i) n += ((unsigned char)s[i] & 0xC0) != 0x80;
  return n;
}

typedef struct pass2 {
  kz_import *im;
  kz_shard_writer *w;
  kz_shard_batch batch[2]; /* train, valid */
  kz_wordpiece_encoding enc;
  int ids_field, len_field;
} pass2;

static kz_status convert_value(pass2 *p, kz_shard_batch *b, const col_info *ci, const char *v,
                               size_t len, int64_t line) {
  int64_t r = b->rows;
  if (ci->role == ROLE_TIME)
    return kz_import_time_convert(p->im, ci, v, len, line, kz_batch_f64(b, ci->field, r));
  if (ci->numeric) {
    double x = NAN;
    if (!kz_is_missing(v, len) && !kz_parse_number(v, len, &x))
      return kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s': '%.40s' is not a number",
                     p->im->o->input, (long long)line, ci->name, v);
    kz_batch_f32(b, ci->field, r)[ci->index] = (float)x;
    return KZ_OK;
  }
  int32_t code = -1;
  if (ci->ref) { /* --schema-from: the reference's dictionary decides */
    if (!kz_is_missing(v, len) && (code = kz_strset_find(&ci->dict, v, len)) < 0) {
      if (ci->role == ROLE_LABEL)
        return kz_fail(
            KZ_ERR_FORMAT,
            "%s:%lld: column '%s' (the label): class '%.40s' is not one of --schema-from "
            "%s",
            p->im->o->input, (long long)line, ci->name, v, p->im->o->schema_from_name);
      ((col_info *)ci)->unseen++;
      p->im->rep.unseen++;
    }
    kz_batch_i32(b, ci->field, r)[ci->index] = code;
    return KZ_OK;
  }
  if (!kz_is_missing(v, len) && (code = kz_strset_find(&ci->dict, v, len)) < 0)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: column '%s': '%.40s' was not seen in the first pass "
                   "(did the file change?)",
                   p->im->o->input, (long long)line, ci->name, v);
  kz_batch_i32(b, ci->field, r)[ci->index] = code;
  return KZ_OK;
}

static kz_status encode_text(pass2 *p, kz_shard_batch *b, const col_info *ci, const char *v,
                             size_t len, int64_t line) {
  kz_status st = kz_wordpiece_encode(p->im->tok, v, len, &p->enc);
  if (st != KZ_OK)
    return kz_fail_context(st, "%s:%lld: column '%s'", p->im->o->input, (long long)line, ci->name);
  int64_t r = b->rows;
  int32_t *ids = kz_batch_i32(b, p->ids_field, r);
  int32_t n = p->enc.count < p->im->o->max_len ? p->enc.count : p->im->o->max_len;
  memcpy(ids, p->enc.ids, (size_t)n * sizeof *ids);
  kz_wordpiece_specials sp;
  kz_wordpiece_get_specials(p->im->tok, &sp);
  for (int32_t i = n; i < p->im->o->max_len; ++i) ids[i] = sp.pad;
  *kz_batch_i32(b, p->len_field, r) = p->enc.length;
  p->im->rep.rows_truncated += p->enc.truncated > 0;
  if (ci->field >= 0 && p->im->o->keep_text) {
    char **slot = kz_batch_str(b, ci->field, r);
    free(*slot);
    if (!(*slot = malloc(len + 1))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(*slot, v, len);
    (*slot)[len] = '\0';
  }
  return KZ_OK;
}

static int pick_split(const kz_import *im, int64_t row, const kz_shard_batch *b) {
  const kz_import_options *o = im->o;
  if (o->valid_fraction <= 0) return 0;
  if (im->time_col >= 0) { /* time-based: validation is each series' most recent stretch */
    int32_t sid = *kz_batch_i32(b, im->series_field, b->rows);
    return *kz_batch_f64(b, im->cols[im->time_col].field, b->rows) > im->cutoff[sid];
  }
  uint64_t state = kz_rng_key(o->seed, (uint64_t)row, 0x7a11dULL);
  return kz_rng_unit(&state) < o->valid_fraction;
}

static kz_status flush_batch(pass2 *p, int split) {
  if (!p->batch[split].rows) return KZ_OK;
  KZ_TRY(kz_shard_writer_append(p->w, split, &p->batch[split]));
  kz_shard_batch_clear(&p->batch[split]);
  return KZ_OK;
}

static kz_status run_pass2(pass2 *p) {
  kz_import *im = p->im;
  KZ_TRY(kz_rows_rewind(im->src));
  int eof;
  KZ_TRY(kz_rows_next(im->src, &eof)); /* header */
  /* rows are converted into a scratch row of batch 0 first, then moved if
   * they belong to the other split; this keeps one conversion path */
  for (int64_t row = 0;; ++row) {
    KZ_TRY(kz_rows_next(im->src, &eof));
    if (eof) break;
    int64_t line = kz_rows_line(im->src);
    if (kz_rows_fields(im->src) != im->n_cols)
      return kz_fail(KZ_ERR_FORMAT, "%s:%lld: %d fields, but the header has %d (the file changed?)",
                     im->o->input, (long long)line, kz_rows_fields(im->src), im->n_cols);
    kz_shard_batch *b = &p->batch[0];
    int targets = kz_import_labels_active(im);
    if (im->text_col >= 0 && !im->o->keep_empty &&
        is_blank(kz_rows_field(im->src, im->text_col), kz_rows_field_len(im->src, im->text_col))) {
      im->rep.skipped_empty++;
      continue;
    }
    if (im->text_col >= 0 && im->o->min_chars > 0 &&
        code_points(kz_rows_field(im->src, im->text_col),
                    kz_rows_field_len(im->src, im->text_col)) < (size_t)im->o->min_chars) {
      im->rep.skipped_short++;
      continue;
    }
    if (targets) {
      int skip;
      KZ_TRY(kz_import_labels_row(im, b, line, &skip));
      if (skip) {
        im->rep.skipped_empty++;
        continue;
      }
    }
    if (im->series_col < 0 && im->time_col >= 0) *kz_batch_i32(b, im->series_field, b->rows) = 0;
    for (int i = 0; i < im->n_cols; ++i) {
      const col_info *ci = &im->cols[i];
      if (ci->role == ROLE_IGNORE || (targets && ci->role >= ROLE_TEXT)) continue;
      const char *v = kz_rows_field(im->src, i);
      size_t len = kz_rows_field_len(im->src, i);
      if (ci->role == ROLE_TEXT)
        KZ_TRY(encode_text(p, b, ci, v, len, line));
      else
        KZ_TRY(convert_value(p, b, ci, v, len, line));
    }
    b->row_ids[b->rows] = row;
    int split = pick_split(im, row, b);
    if (split) {
      kz_shard_batch *vb = &p->batch[1];
      KZ_TRY(kz_shard_batch_copy_rows(vb, vb->rows, b, b->rows, 1));
      vb->rows++;
      im->rep.rows_valid++;
      if (vb->rows == vb->capacity) KZ_TRY(flush_batch(p, 1));
    } else {
      b->rows++;
      im->rep.rows_train++;
      if (b->rows == b->capacity) KZ_TRY(flush_batch(p, 0));
    }
  }
  KZ_TRY(flush_batch(p, 0));
  return flush_batch(p, 1);
}

static void free_import(kz_import *im) {
  for (int i = 0; im->cols && i < im->n_cols; ++i) {
    free(im->cols[i].name);
    kz_strset_free(&im->cols[i].dict);
    kz_import_static_free(&im->cols[i]);
  }
  free(im->cols);
  free(im->tmin), free(im->tmax), free(im->cutoff);
  kz_import_time_free(im);
  kz_strset_free(&im->tlabel_dict);
  kz_import_labels_free(im);
  kz_schema_free(&im->schema);
  kz_wordpiece_free(im->tok);
  kz_rows_close(im->src);
}

kz_status kz_import_file(const kz_import_options *o, kz_import_report *report) {
  if (report) memset(report, 0, sizeof *report);
  if (!o->input || !o->out)
    return kz_fail(KZ_ERR_INVALID_ARG, "import needs an input file and an output directory");
  if (!o->kind ||
      (strcmp(o->kind, "tabular") && strcmp(o->kind, "text") && strcmp(o->kind, "timeseries")))
    return kz_fail(KZ_ERR_INVALID_ARG, "--kind must be tabular, text or timeseries, not '%s'",
                   o->kind ? o->kind : "");
  if (!(o->valid_fraction >= 0 && o->valid_fraction < 1))
    return kz_fail(KZ_ERR_INVALID_ARG, "--valid-fraction must be in [0, 1), not %g",
                   o->valid_fraction);
  if (o->max_categories < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "--max-categories must be positive");
  if (!strcmp(o->kind, "text") && (o->max_len < 2 || o->max_len > 1 << 20))
    return kz_fail(KZ_ERR_INVALID_ARG, "--max-len must be in [2, 1048576], not %d", o->max_len);
  if (o->min_chars < 0 || o->min_chars > 1 << 20)
    return kz_fail(KZ_ERR_INVALID_ARG, "--min-chars must be in [0, 1048576], not %d", o->min_chars);
  if (o->min_chars > 0 && (strcmp(o->kind, "text") || o->words_column || o->question_column))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--min-chars filters plain text rows (--kind text with --text-column); it "
                   "would drop NER or QA rows or tabular rows silently");
  kz_import im = {0};
  im.o = o;
  im.series_col = im.time_col = im.text_col = im.label_col = -1;
  im.words_col = im.tlabels_col = im.question_col = im.astart_col = im.atext_col = -1;
  im.tlabel_strings = -1;
  im.time_format = -1;
  kz_strset_init(&im.tlabel_dict);
  im.series_field = -1;
  kz_status st = kz_rows_open(o->input, &im.src);
  if (st == KZ_OK) st = kz_import_header(&im);
  if (st == KZ_OK) st = kz_import_pass1(&im);
  if (st == KZ_OK) st = kz_import_build_schema(&im);
  if (st == KZ_OK) im.series_field = kz_schema_field_index(&im.schema, "series_id");

  pass2 p = {0};
  p.im = &im;
  p.ids_field = st == KZ_OK ? kz_schema_field_index(&im.schema, "input_ids") : -1;
  p.len_field = st == KZ_OK ? kz_schema_field_index(&im.schema, "length") : -1;
  if (st == KZ_OK) st = kz_shard_batch_alloc(&im.schema, KZ_IMPORT_BATCH, &p.batch[0]);
  if (st == KZ_OK) st = kz_shard_batch_alloc(&im.schema, KZ_IMPORT_BATCH, &p.batch[1]);
  if (st == KZ_OK) {
    kz_shard_writer_options wo;
    kz_shard_writer_options_default(&wo);
    static const char *const splits[] = {"train", "valid"};
    wo.shard_rows = o->shard_rows > 0 ? o->shard_rows : 1000000;
    wo.compress = o->compress;
    wo.splits = splits;
    wo.n_splits = o->valid_fraction > 0 ? 2 : 1;
    wo.overwrite = o->overwrite;
    st = kz_shard_writer_open(o->out, &im.schema, &wo, &p.w);
  }
  if (st == KZ_OK) st = run_pass2(&p);
  if (st == KZ_OK && im.rep.rows_train + im.rep.rows_valid == 0)
    st = kz_fail(KZ_ERR_FORMAT, "%s: every row was skipped as empty; nothing to import", o->input);
  if (st == KZ_OK) {
    st = kz_shard_writer_finish(p.w);
    p.w = NULL;
  }
  kz_shard_writer_abort(p.w);
  kz_shard_batch_free(&p.batch[0]);
  kz_shard_batch_free(&p.batch[1]);
  kz_wordpiece_encoding_free(&p.enc);
  im.rep.input_bytes = im.src ? kz_rows_size(im.src) : 0;
  for (int i = 0; i < im.n_cols; ++i)
    if (im.cols && im.cols[i].unseen) {
      char one[128];
      snprintf(one, sizeof one, "%s: %lld", im.cols[i].name, (long long)im.cols[i].unseen);
      size_t used = strlen(im.rep.unseen_columns);
      if (used + strlen(one) + 3 < sizeof im.rep.unseen_columns)
        snprintf(im.rep.unseen_columns + used, sizeof im.rep.unseen_columns - used, "%s%s",
                 used ? ", " : "", one);
    }
  if (report) *report = im.rep;
  free_import(&im);
  return st;
}
