/* Text import with NER token labels and QA answer spans: the shards hold what
 * an independent computation from the WordPiece API gives (NER: each word
 * tokenized alone, its label on the first piece; QA: the answer's own pieces
 * found at answer_start..answer_end), what Hugging Face tokenizers gives
 * (expected_hf.txt, from tools/make_text_labels_fixture.py), and bad input
 * fails naming file and line with no output left.
 * usage: test_import_labels ner|qa|hf|bad FIXTURES VOCAB TMPDIR */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/import/import.h"
#include "data/import/text_align.h"
#include "data/shard/reader.h"
#include "data/text/wordpiece.h"
#include "tests/test_util.h"

enum { NER_LEN = 16, QA_LEN = 24 }; /* as in tools/make_text_labels_fixture.py */

static const char *fix, *vocab, *tmp;

typedef struct loaded {
  kz_dataset *ds;
  kz_shard_batch b;
  int64_t rows;
  int ids, len, types, tl, as, ae, text;
} loaded;

static int load(const char *out, loaded *l) {
  memset(l, 0, sizeof *l);
  kz_dataset_options dopt = {NULL, 1};
  KZ_CHECK_OK(kz_dataset_open(out, &dopt, &l->ds));
  if (!l->ds) return 0;
  const kz_schema *s = kz_dataset_schema(l->ds);
  l->rows = kz_dataset_rows(l->ds);
  KZ_CHECK_OK(kz_shard_batch_alloc(s, l->rows, &l->b));
  KZ_CHECK_OK(kz_dataset_read_range(l->ds, 0, l->rows, &l->b, 0));
  l->b.rows = l->rows;
  l->ids = kz_schema_field_index(s, "input_ids");
  l->len = kz_schema_field_index(s, "length");
  l->types = kz_schema_field_index(s, "token_type_ids");
  l->tl = kz_schema_field_index(s, "token_labels");
  l->as = kz_schema_field_index(s, "answer_start");
  l->ae = kz_schema_field_index(s, "answer_end");
  l->text = kz_schema_field_index(s, "text");
  return 1;
}

static void unload(loaded *l) {
  kz_shard_batch_free(&l->b);
  kz_dataset_close(l->ds);
}

static void ner_options(kz_import_options *o, const char *input, const char *out, const char *words,
                        const char *labels) {
  kz_import_options_default(o);
  o->kind = "text", o->input = input, o->out = out, o->overwrite = 1;
  o->words_column = words, o->token_labels_column = labels;
  o->vocab = vocab, o->max_len = NER_LEN;
}

static void qa_options(kz_import_options *o, const char *input, const char *out) {
  kz_import_options_default(o);
  o->kind = "text", o->input = input, o->out = out, o->overwrite = 1;
  o->question_column = "question", o->text_column = "context";
  o->answer_start_column = "answer_start", o->answer_text_column = "answer_text";
  o->vocab = vocab, o->max_len = QA_LEN;
}

static kz_wordpiece *load_tok(void) {
  kz_wordpiece_options wo;
  kz_wordpiece_options_default(&wo);
  kz_wordpiece *tok = NULL;
  KZ_CHECK_OK(kz_wordpiece_load(vocab, &wo, &tok));
  return tok;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  KZ_CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

/* NER: every row against words tokenized one by one through the public API. */
static void ner(void) {
  char input[512], out[512];
  snprintf(input, sizeof input, "%s/ner.jsonl", fix);
  snprintf(out, sizeof out, "%s/labels_ner", tmp);
  kz_import_options o;
  ner_options(&o, input, out, "tokens", "ner_tags");
  kz_import_report rep;
  KZ_CHECK_OK(kz_import_file(&o, &rep));
  KZ_CHECK(rep.rows_read == 5 && rep.skipped_empty == 1 && rep.rows_train == 4);
  loaded l;
  if (!load(out, &l)) return;
  KZ_CHECK(l.rows == 4 && l.tl >= 0 && l.types < 0 && l.as < 0);
  /* the label dictionary: distinct strings, sorted */
  json_error_t err;
  json_t *rows = json_array(), *all = json_array();
  FILE *f = fopen(input, "rb");
  char *line = NULL;
  size_t cap = 0;
  while (f && getline(&line, &cap, f) > 0) {
    json_t *r = json_loads(line, 0, &err);
    KZ_CHECK(r != NULL);
    if (r) json_array_append_new(rows, r);
  }
  if (f) fclose(f);
  free(line);
  const char *names[64];
  int n_names = 0;
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(r, "ner_tags"), k, v) {
      int seen = !json_is_string(v);
      for (int j = 0; j < n_names && !seen; ++j) seen = !strcmp(names[j], json_string_value(v));
      if (!seen && n_names < 64) names[n_names++] = json_string_value(v);
    }
  }
  qsort(names, (size_t)n_names, sizeof names[0], cmp_str);
  const json_t *tl_meta = json_object_get(kz_dataset_schema(l.ds)->meta, "token_labels");
  const json_t *stored = json_object_get(tl_meta, "names");
  KZ_CHECK((int)json_array_size(stored) == n_names);
  for (int j = 0; j < n_names && j < (int)json_array_size(stored); ++j)
    KZ_CHECK(!strcmp(json_string_value(json_array_get(stored, (size_t)j)), names[j]));

  kz_wordpiece *tok = load_tok();
  kz_wordpiece_encoding enc = {0};
  kz_wordpiece_specials sp;
  kz_wordpiece_get_specials(tok, &sp);
  int64_t row = 0, dropped = 0;
  json_array_foreach(rows, i, r) {
    json_t *words = json_object_get(r, "tokens"), *tags = json_object_get(r, "ner_tags");
    if (!json_array_size(words)) continue; /* skipped as blank */
    int32_t want_ids[NER_LEN], want_tl[NER_LEN], n = 0;
    char joined[1024] = "";
    want_ids[n] = sp.cls, want_tl[n++] = -100;
    size_t k;
    json_t *w;
    json_array_foreach(words, k, w) {
      KZ_CHECK_OK(kz_wordpiece_tokenize(tok, json_string_value(w), json_string_length(w), &enc));
      json_t *tag = json_array_get(tags, k);
      int32_t code = -100;
      for (int j = 0; j < n_names; ++j)
        if (json_is_string(tag) && !strcmp(names[j], json_string_value(tag))) code = j;
      if ((!enc.count || n == NER_LEN - 1) && code != -100) ++dropped;
      for (int32_t p = 0; p < enc.count && n < NER_LEN - 1; ++p)
        want_ids[n] = enc.ids[p], want_tl[n++] = p ? -100 : code;
      snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", k ? " " : "",
               json_string_value(w));
    }
    want_ids[n] = sp.sep, want_tl[n++] = -100;
    KZ_CHECK(*kz_batch_i32(&l.b, l.len, row) == n);
    for (int32_t p = n; p < NER_LEN; ++p) want_ids[p] = sp.pad, want_tl[p] = -100;
    KZ_CHECK(!memcmp(kz_batch_i32(&l.b, l.ids, row), want_ids, sizeof want_ids));
    KZ_CHECK(!memcmp(kz_batch_i32(&l.b, l.tl, row), want_tl, sizeof want_tl));
    KZ_CHECK(!strcmp(*kz_batch_str(&l.b, l.text, row), joined));
    ++row;
  }
  KZ_CHECK(row == 4);
  KZ_CHECK(rep.label_words_dropped == dropped && dropped >= 3); /* "", U+200B, truncation */
  /* row 2 spot checks by hand: "josé" -> one piece labelled B-PER (code 3),
   * "unaffable" -> 3 pieces, only the first labelled O (code 6) */
  const int32_t *tl = kz_batch_i32(&l.b, l.tl, 1);
  KZ_CHECK(tl[1] == 3 && tl[8] == 6 && tl[9] == -100 && tl[10] == -100);
  unload(&l);

  /* integer labels are kept as given, -100 included; no dictionary */
  snprintf(input, sizeof input, "%s/ner_ints.jsonl", fix);
  snprintf(out, sizeof out, "%s/labels_ner_ints", tmp);
  ner_options(&o, input, out, "tokens", "tags");
  KZ_CHECK_OK(kz_import_file(&o, &rep));
  if (load(out, &l)) {
    const json_t *m = json_object_get(kz_dataset_schema(l.ds)->meta, "token_labels");
    KZ_CHECK(json_is_null(json_object_get(m, "names")));
    const int32_t *t0 = kz_batch_i32(&l.b, l.tl, 0), *t1 = kz_batch_i32(&l.b, l.tl, 1);
    KZ_CHECK(t0[0] == -100 && t0[1] == 3 && t0[2] == 0 && t0[3] == 0 && t0[4] == -100);
    KZ_CHECK(t1[1] == -100 && t1[2] == 1);
    unload(&l);
  }
  /* words without labels: ids only, no token_labels field (a labels array
   * in a column no option names would be refused, as any array is) */
  snprintf(input, sizeof input, "%s/words_only.jsonl", tmp);
  write_text(input, "{\"tokens\": [\"Paris\", \"is\", \"nice\"], \"n\": 1}\n"
                    "{\"tokens\": [\"Ünïcode\", \"rocks\"], \"n\": 2}\n");
  snprintf(out, sizeof out, "%s/labels_words_only", tmp);
  ner_options(&o, input, out, "tokens", NULL);
  KZ_CHECK_OK(kz_import_file(&o, &rep));
  if (load(out, &l)) {
    KZ_CHECK(l.tl < 0 && l.rows == 2 && *kz_batch_i32(&l.b, l.len, 0) == 5);
    unload(&l);
  }
  /* max_len 2 keeps only [CLS] [SEP]: every labelled word is dropped */
  const char *words[] = {"Paris", "is"};
  size_t lens[] = {5, 2};
  int32_t labels[] = {1, -100}, ids[2], tls[2];
  kz_ner_result res;
  KZ_CHECK_OK(kz_align_words(tok, words, lens, labels, 2, 2, &enc, ids, tls, &res));
  KZ_CHECK(ids[0] == sp.cls && ids[1] == sp.sep && res.length == 2 && res.words_dropped == 1);
  KZ_CHECK(res.tokens_dropped == 2 && tls[0] == -100 && tls[1] == -100);
  kz_wordpiece_encoding_free(&enc);
  kz_wordpiece_free(tok);
  json_decref(rows);
  json_decref(all);
}

/* QA: an answer's own word pieces sit at answer_start..answer_end, token
 * types mark the context, lost and missing answers are 0, 0. The same rows
 * as CSV give the same shards. */
static void check_qa(const char *out, const kz_import_report *rep) {
  KZ_CHECK(rep->rows_read == 6 && rep->answers_lost == 1 && rep->unanswerable == 1);
  KZ_CHECK(rep->rows_truncated == 1);
  loaded l;
  if (!load(out, &l)) return;
  KZ_CHECK(l.rows == 6 && l.types >= 0 && l.as >= 0 && l.ae >= 0 && l.tl < 0);
  kz_wordpiece *tok = load_tok();
  kz_wordpiece_encoding enc = {0};
  kz_wordpiece_specials sp;
  kz_wordpiece_get_specials(tok, &sp);
  /* answers in file order; NULL where none or truncated away (row 5) */
  static const char *const answers[] = {
      "Zürich", "Ångström-Ørsted in 1868.", "photosynthesis", NULL, NULL, "ünïque"};
  for (int64_t r = 0; r < l.rows; ++r) {
    const int32_t *ids = kz_batch_i32(&l.b, l.ids, r), *ty = kz_batch_i32(&l.b, l.types, r);
    int32_t len = *kz_batch_i32(&l.b, l.len, r);
    int32_t s = *kz_batch_i32(&l.b, l.as, r), e = *kz_batch_i32(&l.b, l.ae, r);
    int sep1 = -1;
    for (int32_t p = 0; p < QA_LEN && sep1 < 0; ++p)
      if (ids[p] == sp.sep) sep1 = p;
    KZ_CHECK(ids[0] == sp.cls && sep1 > 0 && ids[len - 1] == sp.sep);
    for (int32_t p = 0; p < QA_LEN; ++p) KZ_CHECK(ty[p] == (p > sep1 && p < len));
    for (int32_t p = len; p < QA_LEN; ++p) KZ_CHECK(ids[p] == sp.pad);
    if (!answers[r]) {
      KZ_CHECK(s == 0 && e == 0);
      continue;
    }
    KZ_CHECK_OK(kz_wordpiece_tokenize(tok, answers[r], strlen(answers[r]), &enc));
    KZ_CHECK(s > sep1 && e >= s && e < len - 1 && e - s + 1 == enc.count);
    if (s > sep1 && e - s + 1 == enc.count)
      KZ_CHECK(!memcmp(ids + s, enc.ids, (size_t)enc.count * sizeof *ids));
  }
  /* the second "ünïque" (answer_start points past the first) */
  KZ_CHECK(*kz_batch_i32(&l.b, l.as, 5) == 14);
  KZ_CHECK(!strcmp(*kz_batch_str(&l.b, l.text, 3), "No answer here."));
  kz_wordpiece_encoding_free(&enc);
  kz_wordpiece_free(tok);
  unload(&l);
}

static void qa(void) {
  char input[512], out[512];
  snprintf(input, sizeof input, "%s/qa.jsonl", fix);
  snprintf(out, sizeof out, "%s/labels_qa", tmp);
  kz_import_options o;
  qa_options(&o, input, out);
  kz_import_report rep;
  KZ_CHECK_OK(kz_import_file(&o, &rep));
  check_qa(out, &rep);
  /* CSV: answer cells are plain text, not JSON */
  FILE *f = fopen(input, "rb");
  char *line = NULL, csv[512];
  size_t cap = 0;
  snprintf(csv, sizeof csv, "%s/qa.csv", tmp);
  FILE *w = fopen(csv, "wb");
  KZ_CHECK(f && w);
  if (!f || !w) return;
  fputs("question,context,answer_start,answer_text\n", w);
  while (getline(&line, &cap, f) > 0) {
    json_error_t err;
    json_t *r = json_loads(line, 0, &err), *v[4];
    const char *keys[] = {"question", "context", "answer_start", "answer_text"};
    for (int k = 0; k < 4; ++k) {
      v[k] = json_object_get(r, keys[k]);
      if (json_is_array(v[k])) v[k] = json_array_get(v[k], 0);
      fputs(k ? "," : "", w);
      if (json_is_integer(v[k]))
        fprintf(w, "%lld", (long long)json_integer_value(v[k]));
      else if (json_is_string(v[k])) /* no quotes or commas in these fixtures' answers */
        fprintf(w, "\"%s\"", json_string_value(v[k]));
    }
    fputc('\n', w);
    json_decref(r);
  }
  free(line);
  fclose(f);
  fclose(w);
  snprintf(out, sizeof out, "%s/labels_qa_csv", tmp);
  qa_options(&o, csv, out);
  KZ_CHECK_OK(kz_import_file(&o, &rep));
  check_qa(out, &rep);
}

/* Every imported row against Hugging Face's ids, labels, types and spans. */
static void hf(void) {
  char path[512], out[3][512];
  snprintf(path, sizeof path, "%s/expected_hf.txt", fix);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "skipped: %s not found\n", path);
    exit(77);
  }
  kz_import_options o;
  char in[3][512];
  snprintf(in[0], sizeof in[0], "%s/ner.jsonl", fix);
  snprintf(in[1], sizeof in[1], "%s/ner_ints.jsonl", fix);
  snprintf(in[2], sizeof in[2], "%s/qa.jsonl", fix);
  for (int k = 0; k < 3; ++k) snprintf(out[k], sizeof out[k], "%s/labels_hf_%d", tmp, k);
  ner_options(&o, in[0], out[0], "tokens", "ner_tags");
  KZ_CHECK_OK(kz_import_file(&o, NULL));
  ner_options(&o, in[1], out[1], "tokens", "tags");
  KZ_CHECK_OK(kz_import_file(&o, NULL));
  qa_options(&o, in[2], out[2]);
  KZ_CHECK_OK(kz_import_file(&o, NULL));
  loaded l[3];
  for (int k = 0; k < 3; ++k)
    if (!load(out[k], &l[k])) return;
  char *line = NULL;
  size_t cap = 0;
  int set = 0, compared = 0;
  int64_t row = 0;
  while (getline(&line, &cap, f) > 0) {
    if (line[0] == '#') continue;
    int is_qa = !strncmp(line, "qa ", 3);
    if (is_qa && set < 2) set = 2, row = 0;
    if (!is_qa && set == 0 && row == l[0].rows) set = 1, row = 0;
    loaded *d = &l[set];
    KZ_CHECK(row < d->rows);
    if (row >= d->rows) break;
    int width = is_qa ? QA_LEN : NER_LEN;
    char *p = line + (is_qa ? 3 : 4);
    const int32_t *ids = kz_batch_i32(&d->b, d->ids, row);
    const int32_t *second = kz_batch_i32(&d->b, is_qa ? d->types : d->tl, row);
    int bad = 0;
    for (int j = 0; j < width; ++j) bad |= strtol(p, &p, 10) != ids[j];
    while (*p == ' ' || *p == '|') ++p;
    for (int j = 0; j < width; ++j) bad |= strtol(p, &p, 10) != second[j];
    if (is_qa) {
      while (*p == ' ' || *p == '|') ++p;
      bad |= strtol(p, &p, 10) != *kz_batch_i32(&d->b, d->as, row);
      bad |= strtol(p, &p, 10) != *kz_batch_i32(&d->b, d->ae, row);
    }
    if (bad) fprintf(stderr, "HF mismatch: set %d row %lld: %s", set, (long long)row, line);
    KZ_CHECK(!bad);
    ++row, ++compared;
  }
  KZ_CHECK(compared == l[0].rows + l[1].rows + l[2].rows && compared == 12);
  free(line);
  fclose(f);
  for (int k = 0; k < 3; ++k) unload(&l[k]);
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Writes text as bad.jsonl (or .csv), imports it as NER or QA, expects a
 * failure whose message holds needle (after the file name) and no output. */
static void expect_bad(int is_qa, const char *ext, const char *text, const char *needle) {
  char input[512], out[512], want[600];
  snprintf(input, sizeof input, "%s/bad.%s", tmp, ext);
  snprintf(out, sizeof out, "%s/labels_bad_out", tmp);
  write_text(input, text);
  kz_import_options o;
  if (is_qa)
    qa_options(&o, input, out);
  else
    ner_options(&o, input, out, "w", "t");
  o.overwrite = 0, o.shard_rows = 1;
  snprintf(want, sizeof want, "bad.%s%s", ext, needle);
  KZ_CHECK_FAILS(kz_import_file(&o, NULL), KZ_ERR_FORMAT, want);
  KZ_CHECK(!exists(out));
}

static void bad(void) {
  const char *ok = "{\"w\": [\"a\", \"b\"], \"t\": [\"O\", \"O\"], \"x\": 1}\n";
  char buf[512];
  snprintf(buf, sizeof buf, "%s{\"w\": [\"a\"], \"t\": [\"O\", \"O\"], \"x\": 2}\n", ok);
  expect_bad(0, "jsonl", buf, ":2: 1 words in 'w' but 2 labels in 't'");
  snprintf(buf, sizeof buf, "%s{\"w\": [\"a\", 3], \"t\": [\"O\", \"O\"], \"x\": 2}\n", ok);
  expect_bad(0, "jsonl", buf, ":2: column 'w': word 1 is not a string");
  snprintf(buf, sizeof buf, "%s{\"w\": \"a b\", \"t\": [\"O\", \"O\"], \"x\": 2}\n", ok);
  expect_bad(0, "jsonl", buf, ":2: column 'w' must be a JSON array");
  snprintf(buf, sizeof buf, "%s{\"t\": [\"O\"], \"x\": 2}\n", ok);
  expect_bad(0, "jsonl", buf, ":2: column 'w' is missing");
  snprintf(buf, sizeof buf, "%s{\"w\": [\"a\"], \"t\": [1], \"x\": 2}\n", ok);
  expect_bad(0, "jsonl", buf, ":2: column 't': label 0 is an integer, but earlier labels are");
  snprintf(buf, sizeof buf, "%s{\"w\": [\"a\"], \"t\": [1.5], \"x\": 2}\n", ok);
  expect_bad(0, "jsonl", buf, ":2: column 't': label 0 is neither a string nor an integer");
  expect_bad(0, "jsonl", "{\"w\": [\"a\"], \"t\": [-3]}\n", ":1: column 't': label 0 is -3");
  /* arrays stay refused outside the named columns */
  snprintf(buf, sizeof buf, "%s{\"w\": [\"a\"], \"t\": [\"O\"], \"x\": [2]}\n", ok);
  expect_bad(0, "jsonl", buf, ":2: key 'x' holds an array");
  expect_bad(0, "csv", "w,t\n\"[\"\"a\"\"]\",\"[\"\"O\"\"]\"\nplain,\"[\"\"O\"\"]\"\n",
             ":3: column 'w' is not a JSON array");

  const char *qa_ok = "{\"question\": \"Q?\", \"context\": \"Zürich is big.\", "
                      "\"answer_start\": 0, \"answer_text\": \"Zürich\"}\n";
  snprintf(buf, sizeof buf,
           "%s{\"question\": \"Q?\", \"context\": \"Zürich is big.\", \"answer_start\": 1, "
           "\"answer_text\": \"Zürich\"}\n",
           qa_ok);
  expect_bad(1, "jsonl", buf, ":2: the answer 'Zürich' is not at code point 1 of column 'context'");
  /* answer_start counts code points: "big" is at byte 11 but code point 10 */
  expect_bad(1, "jsonl",
             "{\"question\": \"Q?\", \"context\": \"Zürich is big.\", \"answer_start\": 11, "
             "\"answer_text\": \"big\"}\n",
             ":1: the answer 'big' is not at code point 11");
  expect_bad(1, "jsonl",
             "{\"question\": \"Q?\", \"context\": \"short\", \"answer_start\": 99, "
             "\"answer_text\": \"x\"}\n",
             ":1: answer_start 99 is past the end of column 'context'");
  expect_bad(1, "jsonl",
             "{\"question\": \"Q?\", \"context\": \"short\", \"answer_start\": null, "
             "\"answer_text\": \"short\"}\n",
             ":1: column 'answer_start' is missing but 'answer_text' holds an answer");
  expect_bad(1, "jsonl",
             "{\"question\": \"Q?\", \"context\": \"short\", \"answer_start\": -1, "
             "\"answer_text\": \"short\"}\n",
             ":1: column 'answer_start' must be a non-negative integer");
  expect_bad(1, "csv", "question,context,answer_start,answer_text\nQ?,big city,3,city\n",
             ":2: the answer 'city' is not at code point 3");
  /* a question that leaves no room for the context (max_len 24) */
  snprintf(buf, sizeof buf,
           "%s{\"question\": \"one two three four five six seven eight nine ten eleven twelve "
           "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty x y\", "
           "\"context\": \"a b\", \"answer_start\": 0, \"answer_text\": \"a\"}\n",
           qa_ok);
  char in[512], out[512];
  snprintf(in, sizeof in, "%s/long_q.jsonl", tmp);
  snprintf(out, sizeof out, "%s/labels_long_q", tmp);
  write_text(in, buf);
  kz_import_options o;
  qa_options(&o, in, out);
  o.overwrite = 0;
  KZ_CHECK_FAILS(
      kz_import_file(&o, NULL), KZ_ERR_INVALID_ARG,
      "long_q.jsonl:2: columns 'question' and 'context': the question's 22 tokens leave no room");
  KZ_CHECK(!exists(out));

  /* flag combinations */
  snprintf(in, sizeof in, "%s/flags.jsonl", tmp);
  write_text(in, ok);
  ner_options(&o, in, out, NULL, "t");
  o.text_column = "x";
  KZ_CHECK_FAILS(kz_import_file(&o, NULL), KZ_ERR_INVALID_ARG, "--token-labels-column needs");
  ner_options(&o, in, out, "w", "t");
  o.text_column = "x";
  KZ_CHECK_FAILS(kz_import_file(&o, NULL), KZ_ERR_INVALID_ARG, "--words-column replaces");
  ner_options(&o, in, out, "w", "nope");
  KZ_CHECK_FAILS(kz_import_file(&o, NULL), KZ_ERR_INVALID_ARG, "names column 'nope'");
  ner_options(&o, in, out, "w", "t");
  o.kind = "tabular";
  KZ_CHECK_FAILS(kz_import_file(&o, NULL), KZ_ERR_INVALID_ARG, "need --kind text");
  ner_options(&o, in, out, "w", "w");
  KZ_CHECK_FAILS(kz_import_file(&o, NULL), KZ_ERR_INVALID_ARG, "two roles");
  KZ_CHECK(!exists(out));
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: test_import_labels ner|qa|hf|bad FIXTURES VOCAB TMPDIR\n");
    return 2;
  }
  fix = argv[2], vocab = argv[3], tmp = argv[4];
  mkdir(tmp, 0755);
  if (!strcmp(argv[1], "ner"))
    ner();
  else if (!strcmp(argv[1], "qa"))
    qa();
  else if (!strcmp(argv[1], "hf"))
    hf();
  else if (!strcmp(argv[1], "bad"))
    bad();
  else
    return 2;
  return KZ_TEST_RESULT();
}
