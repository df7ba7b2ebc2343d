/* Text import with token-level targets: NER words + labels and QA question +
 * context + answer (docs/DATA.md, "Token labels and answer spans"). The
 * alignment itself is in text_align.c; this file reads the cells, checks
 * them (naming file and line) and fills the shard fields. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/import_internal.h"
#include "data/import/text_align.h"
#include "data/text/utf8.h"
#include "kernels/core/error.h"

int kz_import_labels_active(const kz_import *im) {
  return im->words_col >= 0 || im->question_col >= 0;
}

static const char *cell(const kz_import *im, int c, size_t *len) {
  *len = kz_rows_field_len(im->src, c);
  return kz_rows_field(im->src, c);
}

static int is_jsonl(const kz_import *im) {
  return !strcmp(kz_rows_format(im->src), "jsonl");
}

static int blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
  return 1;
}

/* Column c as a JSON array: .jsonl keeps these columns as JSON text, and a
 * CSV cell must hold the array's JSON. */
static kz_status get_array(const kz_import *im, int c, int64_t line, json_t **out) {
  *out = NULL;
  size_t len;
  const char *v = cell(im, c, &len);
  const char *name = im->cols[c].name;
  if (!len)
    return kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s' is missing (it must hold a JSON array)",
                   im->o->input, (long long)line, name);
  json_error_t err;
  json_t *j = json_loadb(v, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
  if (!j)
    return kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s' is not a JSON array (%s)", im->o->input,
                   (long long)line, name, err.text);
  if (!json_is_array(j)) {
    json_decref(j);
    return kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s' must be a JSON array", im->o->input,
                   (long long)line, name);
  }
  *out = j;
  return KZ_OK;
}

static kz_status grow(kz_import_labels *L, size_t n) {
  if (n <= (size_t)L->cap) return KZ_OK;
  size_t cap = L->cap ? (size_t)L->cap : 64;
  while (cap < n) cap *= 2;
  if (cap > INT32_MAX) return kz_fail(KZ_ERR_INVALID_ARG, "%zu words in one row is too many", n);
  const char **w = realloc(L->words, cap * sizeof *w);
  if (w) L->words = w;
  size_t *l = realloc(L->lens, cap * sizeof *l);
  if (l) L->lens = l;
  int32_t *lab = realloc(L->labels, cap * sizeof *lab);
  if (lab) L->labels = lab;
  if (!w || !l || !lab) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  L->cap = (int32_t)cap;
  return KZ_OK;
}

/* Fills lab.words / lab.lens from the words array (pointers into it). */
static kz_status read_words(kz_import *im, json_t *arr, int64_t line, int *all_blank) {
  size_t n = json_array_size(arr);
  KZ_TRY(grow(&im->lab, n));
  *all_blank = 1;
  for (size_t i = 0; i < n; ++i) {
    json_t *w = json_array_get(arr, i);
    if (!json_is_string(w))
      return kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s': word %zu is not a string", im->o->input,
                     (long long)line, im->cols[im->words_col].name, i);
    im->lab.words[i] = json_string_value(w);
    im->lab.lens[i] = json_string_length(w);
    if (!blank(im->lab.words[i], im->lab.lens[i])) *all_blank = 0;
  }
  return KZ_OK;
}

/* Fills lab.labels: integers as given (-100 or null: ignored), strings as
 * codes into the sorted dictionary. Pass 1 (collect) builds the dictionary. */
static kz_status read_labels(kz_import *im, json_t *arr, size_t n_words, int64_t line,
                             int collect) {
  const kz_import_options *o = im->o;
  const char *name = im->cols[im->tlabels_col].name;
  size_t n = json_array_size(arr);
  if (n != n_words)
    return kz_fail(KZ_ERR_FORMAT, "%s:%lld: %zu words in '%s' but %zu labels in '%s'", o->input,
                   (long long)line, n_words, im->cols[im->words_col].name, n, name);
  for (size_t i = 0; i < n; ++i) {
    json_t *v = json_array_get(arr, i);
    int32_t *dst = &im->lab.labels[i];
    if (json_is_null(v)) {
      *dst = KZ_IGNORE_LABEL;
      continue;
    }
    int is_str = json_is_string(v);
    if (!is_str && !json_is_integer(v))
      return kz_fail(KZ_ERR_FORMAT,
                     "%s:%lld: column '%s': label %zu is neither a string nor an "
                     "integer",
                     o->input, (long long)line, name, i);
    if (im->tlabel_strings < 0) im->tlabel_strings = is_str;
    if (im->tlabel_strings != is_str)
      return kz_fail(KZ_ERR_FORMAT,
                     "%s:%lld: column '%s': label %zu is %s, but earlier labels are %s", o->input,
                     (long long)line, name, i, is_str ? "a string" : "an integer",
                     is_str ? "integers" : "strings");
    if (!is_str) {
      json_int_t x = json_integer_value(v);
      if (x != KZ_IGNORE_LABEL && (x < 0 || x > INT32_MAX))
        return kz_fail(KZ_ERR_FORMAT,
                       "%s:%lld: column '%s': label %zu is %lld; integer labels must be in "
                       "[0, 2^31) or -100 (ignored)",
                       o->input, (long long)line, name, i, (long long)x);
      *dst = (int32_t)x;
      continue;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (collect) {
      int32_t id;
      KZ_TRY(kz_strset_add(&im->tlabel_dict, s, len, &id));
      if (im->tlabel_dict.count > o->max_categories)
        return kz_fail(KZ_ERR_FORMAT,
                       "%s:%lld: column '%s' has more than %d distinct labels (--max-categories)",
                       o->input, (long long)line, name, (int)o->max_categories);
      *dst = id;
    } else if ((*dst = kz_strset_find(&im->tlabel_dict, s, len)) < 0) {
      return kz_fail(KZ_ERR_FORMAT,
                     "%s:%lld: column '%s': label '%.40s' was not seen in the first pass "
                     "(did the file change?)",
                     o->input, (long long)line, name, s);
    }
  }
  return KZ_OK;
}

/* Words (and labels) of the current row into lab; *out_words holds them. */
static kz_status read_ner(kz_import *im, int64_t line, int collect, json_t **words,
                          int *all_blank) {
  json_t *labels = NULL;
  KZ_TRY(get_array(im, im->words_col, line, words));
  kz_status st = read_words(im, *words, line, all_blank);
  size_t n = json_array_size(*words);
  if (st == KZ_OK && im->tlabels_col >= 0) st = get_array(im, im->tlabels_col, line, &labels);
  if (st == KZ_OK && im->tlabels_col >= 0) st = read_labels(im, labels, n, line, collect);
  if (st == KZ_OK && im->tlabels_col < 0)
    for (size_t i = 0; i < n; ++i) im->lab.labels[i] = KZ_IGNORE_LABEL;
  json_decref(labels);
  return st;
}

/* The answer column's one value: .jsonl holds JSON (a scalar, or a list whose
 * first element counts, as in SQuAD's answers), CSV the raw text. *out is
 * NULL when missing; the caller frees it. */
static kz_status answer_value(const kz_import *im, int c, int64_t line, json_t **out) {
  *out = NULL;
  size_t len;
  const char *v = cell(im, c, &len);
  if (!len) return KZ_OK;
  if (!is_jsonl(im)) {
    *out = json_stringn(v, len);
    return *out ? KZ_OK
                : kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s' is not valid UTF-8", im->o->input,
                          (long long)line, im->cols[c].name);
  }
  json_error_t err;
  json_t *j = json_loadb(v, len, JSON_DECODE_ANY, &err);
  if (!j)
    return kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s': %s", im->o->input, (long long)line,
                   im->cols[c].name, err.text);
  if (json_is_array(j)) {
    json_t *first = json_array_get(j, 0);
    if (first) json_incref(first);
    json_decref(j);
    j = first;
  }
  if (j && (json_is_array(j) || json_is_object(j))) {
    json_decref(j);
    return kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s' holds a nested array or an object",
                   im->o->input, (long long)line, im->cols[c].name);
  }
  if (j && json_is_null(j)) json_decref(j), j = NULL;
  *out = j;
  return KZ_OK;
}

static int to_int(const json_t *v, long long *x) {
  if (json_is_integer(v)) {
    *x = (long long)json_integer_value(v);
    return 1;
  }
  if (!json_is_string(v)) return 0;
  const char *s = json_string_value(v);
  char *end;
  *x = strtoll(s, &end, 10);
  while (*end == ' ') ++end;
  return *s && !*end;
}

/* The answer's byte span in the context; *has 0 when the row has no answer
 * (no answer text). answer_start counts code points, as Python str indices
 * (SQuAD, HF datasets) do. */
static kz_status read_answer(kz_import *im, int64_t line, const char *ctx, size_t ctx_len, int *has,
                             size_t *b0, size_t *b1) {
  const kz_import_options *o = im->o;
  const char *sname = im->cols[im->astart_col].name, *tname = im->cols[im->atext_col].name;
  const char *cname = im->cols[im->text_col].name;
  json_t *text = NULL, *start = NULL;
  *has = 0;
  kz_status st = answer_value(im, im->atext_col, line, &text);
  if (st == KZ_OK && text && !json_is_string(text))
    st = kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s' must be a string", o->input, (long long)line,
                 tname);
  const char *a = st == KZ_OK && text ? json_string_value(text) : "";
  size_t a_len = st == KZ_OK && text ? json_string_length(text) : 0;
  if (st == KZ_OK && a_len) st = answer_value(im, im->astart_col, line, &start);
  long long cp = 0;
  if (st == KZ_OK && a_len) {
    size_t bad = kz_utf8_validate((const uint8_t *)ctx, ctx_len);
    if (!start)
      st = kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s' is missing but '%s' holds an answer",
                   o->input, (long long)line, sname, tname);
    else if (!to_int(start, &cp) || cp < 0)
      st = kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: column '%s' must be a non-negative integer (a code-point offset)",
                   o->input, (long long)line, sname);
    else if (bad != ctx_len)
      st = kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: column '%s' is not valid UTF-8 at byte %zu (answer offsets count "
                   "code points)",
                   o->input, (long long)line, cname, bad);
    else if (!kz_utf8_cp_to_byte(ctx, ctx_len, cp, b0))
      st = kz_fail(KZ_ERR_FORMAT, "%s:%lld: %s %lld is past the end of column '%s'", o->input,
                   (long long)line, sname, cp, cname);
    else if (a_len > ctx_len - *b0 || memcmp(ctx + *b0, a, a_len))
      st = kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: the answer '%.40s' is not at code point %lld of column '%s' (found "
                   "'%.*s')",
                   o->input, (long long)line, a, cp, cname,
                   (int)(ctx_len - *b0 < a_len ? ctx_len - *b0 : (a_len < 40 ? a_len : 40)),
                   ctx + *b0);
    else
      *has = 1, *b1 = *b0 + a_len;
  }
  json_decref(text);
  json_decref(start);
  return st;
}

kz_status kz_import_labels_check(kz_import *im, int64_t line) {
  if (im->words_col >= 0) {
    json_t *words = NULL;
    int all_blank = 1;
    kz_status st = read_ner(im, line, 1, &words, &all_blank);
    json_decref(words);
    im->blank_rows += st == KZ_OK && all_blank;
    return st;
  }
  if (im->astart_col < 0) return KZ_OK;
  size_t ctx_len, b0, b1;
  const char *ctx = cell(im, im->text_col, &ctx_len);
  int has;
  return read_answer(im, line, ctx, ctx_len, &has, &b0, &b1);
}

static kz_status add_vector(kz_schema *s, const char *name, int64_t width, int *f) {
  return kz_schema_add_field(s, name, KZ_FIELD_I32, width, 0, NULL, f);
}

kz_status kz_import_labels_schema(kz_import *im) {
  const kz_import_options *o = im->o;
  kz_schema *s = &im->schema;
  kz_import_labels *L = &im->lab;
  L->types_field = L->tlabels_field = L->astart_field = L->aend_field = -1;
  L->ids_field = kz_schema_field_index(s, "input_ids");
  L->len_field = kz_schema_field_index(s, "length");
  for (int k = 0; k < 2; ++k) memset(&L->enc[k], 0, sizeof L->enc[k]);
  KZ_TRY(grow(L, (size_t)o->max_len));
  if (im->question_col >= 0) {
    KZ_TRY(add_vector(s, "token_type_ids", o->max_len, &L->types_field));
    json_t *qa = json_object();
    json_object_set_new(qa, "question_column", json_string(im->cols[im->question_col].name));
    json_object_set_new(qa, "context_column", json_string(im->cols[im->text_col].name));
    if (im->astart_col >= 0) {
      json_object_set_new(qa, "answer_start_column", json_string(im->cols[im->astart_col].name));
      json_object_set_new(qa, "answer_text_column", json_string(im->cols[im->atext_col].name));
    }
    json_object_set_new(qa, "truncation", json_string("only_second"));
    json_object_set_new(s->meta, "qa", qa);
  }
  if (im->astart_col >= 0) {
    KZ_TRY(add_vector(s, "answer_start", 1, &L->astart_field));
    KZ_TRY(add_vector(s, "answer_end", 1, &L->aend_field));
  }
  if (im->words_col >= 0)
    json_object_set_new(s->meta, "words_column", json_string(im->cols[im->words_col].name));
  if (im->tlabels_col >= 0) {
    KZ_TRY(add_vector(s, "token_labels", o->max_len, &L->tlabels_field));
    json_t *tl = json_object(), *names = json_null();
    if (im->tlabel_strings == 1) {
      /* sorted like categorical labels, so codes do not depend on row order */
      KZ_TRY(kz_strset_sort(&im->tlabel_dict, NULL));
      names = json_array();
      for (int32_t k = 0; k < im->tlabel_dict.count; ++k)
        json_array_append_new(names, json_string(im->tlabel_dict.keys[k]));
    }
    json_object_set_new(tl, "column", json_string(im->cols[im->tlabels_col].name));
    json_object_set_new(tl, "names", names);
    json_object_set_new(tl, "ignore_index", json_integer(KZ_IGNORE_LABEL));
    json_object_set_new(tl, "alignment", json_string("first_subtoken"));
    json_object_set_new(s->meta, "token_labels", tl);
  }
  return KZ_OK;
}

static kz_status set_text(kz_import *im, kz_shard_batch *b, const char *s, size_t len) {
  int tc = im->text_col >= 0 ? im->text_col : im->words_col;
  int f = im->cols[tc].field;
  if (f < 0 || !im->o->keep_text) return KZ_OK;
  char **slot = kz_batch_str(b, f, b->rows);
  free(*slot);
  if (!(*slot = malloc(len + 1))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  memcpy(*slot, s, len);
  (*slot)[len] = '\0';
  return KZ_OK;
}

/* The words joined by single spaces: the stored raw text of an NER row. */
static kz_status join_words(kz_import_labels *L, size_t n, size_t *len) {
  size_t total = 1;
  for (size_t i = 0; i < n; ++i) total += L->lens[i] + 1;
  if (total > L->joined_cap) {
    char *p = realloc(L->joined, total);
    if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    L->joined = p, L->joined_cap = total;
  }
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i) L->joined[at++] = ' ';
    memcpy(L->joined + at, L->words[i], L->lens[i]);
    at += L->lens[i];
  }
  L->joined[at] = '\0';
  *len = at;
  return KZ_OK;
}

static kz_status ner_row(kz_import *im, kz_shard_batch *b, int64_t line, int *skip) {
  kz_import_labels *L = &im->lab;
  const kz_import_options *o = im->o;
  json_t *words = NULL;
  int all_blank = 1;
  kz_status st = read_ner(im, line, 0, &words, &all_blank);
  size_t n = json_array_size(words);
  *skip = st == KZ_OK && all_blank && !o->keep_empty;
  if (st != KZ_OK || *skip) {
    json_decref(words);
    return st;
  }
  /* the labels land in the shard, or in scratch when only words are given */
  int32_t *tl = L->tlabels_field >= 0 ? kz_batch_i32(b, L->tlabels_field, b->rows) : NULL;
  int32_t *scratch = NULL;
  if (!tl && !(tl = scratch = malloc((size_t)o->max_len * sizeof *tl)))
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  kz_ner_result res;
  if (st == KZ_OK)
    st = kz_align_words(im->tok, L->words, L->lens, L->labels, (int32_t)n, o->max_len, &L->enc[0],
                        kz_batch_i32(b, L->ids_field, b->rows), tl, &res);
  if (st != KZ_OK)
    st = kz_fail_context(st, "%s:%lld: column '%s'", o->input, (long long)line,
                         im->cols[im->words_col].name);
  size_t len = 0;
  if (st == KZ_OK) {
    *kz_batch_i32(b, L->len_field, b->rows) = res.length;
    im->rep.rows_truncated += res.tokens_dropped > 0;
    im->rep.label_words_dropped += res.words_dropped;
    st = join_words(L, n, &len);
  }
  if (st == KZ_OK) st = set_text(im, b, L->joined, len);
  free(scratch);
  json_decref(words);
  return st;
}

static kz_status qa_row(kz_import *im, kz_shard_batch *b, int64_t line) {
  kz_import_labels *L = &im->lab;
  const kz_import_options *o = im->o;
  size_t q_len, c_len, b0 = 0, b1 = 0;
  const char *q = cell(im, im->question_col, &q_len);
  const char *c = cell(im, im->text_col, &c_len);
  int has = 0;
  if (im->astart_col >= 0) KZ_TRY(read_answer(im, line, c, c_len, &has, &b0, &b1));
  kz_qa_result res;
  kz_status st = kz_qa_encode(im->tok, q, q_len, c, c_len, has, b0, b1, o->max_len, &L->enc[0],
                              &L->enc[1], kz_batch_i32(b, L->ids_field, b->rows),
                              kz_batch_i32(b, L->types_field, b->rows), &res);
  if (st != KZ_OK)
    return kz_fail_context(st, "%s:%lld: columns '%s' and '%s'", o->input, (long long)line,
                           im->cols[im->question_col].name, im->cols[im->text_col].name);
  *kz_batch_i32(b, L->len_field, b->rows) = res.length;
  im->rep.rows_truncated += res.context_dropped > 0;
  if (L->astart_field >= 0) {
    *kz_batch_i32(b, L->astart_field, b->rows) = res.start;
    *kz_batch_i32(b, L->aend_field, b->rows) = res.end;
    im->rep.answers_lost += res.answer_lost;
    im->rep.unanswerable += !has;
  }
  return set_text(im, b, c, c_len);
}

kz_status kz_import_labels_row(kz_import *im, kz_shard_batch *b, int64_t line, int *skip) {
  *skip = 0;
  if (im->words_col >= 0) return ner_row(im, b, line, skip);
  return qa_row(im, b, line);
}

void kz_import_labels_free(kz_import *im) {
  kz_import_labels *L = &im->lab;
  kz_wordpiece_encoding_free(&L->enc[0]);
  kz_wordpiece_encoding_free(&L->enc[1]);
  free(L->words);
  free(L->lens);
  free(L->labels);
  free(L->joined);
  memset(L, 0, sizeof *L);
}
