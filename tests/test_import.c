/* Import: the shards hold exactly the input's values (NaN where missing,
 * categories by name, text tokenized as the WordPiece API does), for CSV, .txt
 * and .jsonl inputs; bad input fails naming file and line with no output left.
 * usage: test_import roundtrip NAME TMPDIR | test_import bad TMPDIR
 *        | test_import lines TMPDIR */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/import/import.h"
#include "data/shard/iter.h"
#include "data/shard/reader.h"
#include "data/text/wordpiece.h"
#include "tests/test_util.h"

#ifndef KZ_SHARED_DATA
#define KZ_SHARED_DATA "../shared/data"
#endif

/* A deliberately simple CSV splitter (quotes and "" escapes on one line), kept
 * independent of the importer's parser so the two check each other. */
static int split_line(char *line, char **fields, int max) {
  int n = 0;
  char *w = line, *r = line;
  size_t len = strlen(line);
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
  for (;;) {
    if (n == max) return -1;
    fields[n++] = w;
    if (*r == '"') {
      ++r;
      for (;;) {
        if (*r == '"' && r[1] == '"')
          *w++ = '"', r += 2;
        else if (*r == '"') {
          ++r;
          break;
        } else if (!*r)
          return -1;
        else
          *w++ = *r++;
      }
    } else {
      while (*r && *r != ',') *w++ = *r++;
    }
    if (*r == ',') {
      *w++ = '\0';
      ++r;
      continue;
    }
    *w = '\0';
    return n;
  }
}

static int missing(const char *s) {
  return !*s || !strcmp(s, "NA");
}

static int blank(const char *s) {
  for (; *s; ++s)
    if (*s != ' ' && *s != '\t') return 0;
  return 1;
}

static void round_trip(const char *name, const char *tmp) {
  char input[512], out[512];
  snprintf(input, sizeof input, "%s/%s.csv", KZ_SHARED_DATA, name);
  snprintf(out, sizeof out, "%s/rt_%s", tmp, name);
  kz_import_options o;
  kz_import_options_default(&o);
  o.input = input, o.out = out, o.overwrite = 1, o.shard_rows = 5000;
  int text = 0;
  if (!strcmp(name, "diamonds"))
    o.label = "price";
  else if (!strcmp(name, "pima2"))
    o.label = "diabetes";
  else if (!strcmp(name, "txhousing")) {
    o.kind = "timeseries", o.series_id = "city", o.time = "date", o.label = "sales";
    o.known = "year,month";
  } else if (!strcmp(name, "austen")) {
    o.kind = "text", o.text_column = "text", o.label = "book", o.max_len = 48, o.lowercase = 0;
    o.vocab = KZ_WORDPIECE_FIXTURES "/vocab_austen_cased.txt";
    text = 1;
  }
  kz_import_report rep;
  KZ_CHECK_OK(kz_import_file(&o, &rep));
  kz_dataset *ds;
  kz_dataset_options dopt = {NULL, 1};
  KZ_CHECK_OK(kz_dataset_open(out, &dopt, &ds));
  if (!ds) return;
  const kz_schema *s = kz_dataset_schema(ds);
  int64_t rows = kz_dataset_rows(ds);
  KZ_CHECK(rows == rep.rows_read - rep.skipped_empty);
  kz_shard_batch b;
  KZ_CHECK_OK(kz_shard_batch_alloc(s, rows, &b));
  KZ_CHECK_OK(kz_dataset_read_range(ds, 0, rows, &b, 0));
  b.rows = rows;

  kz_wordpiece *tok = NULL;
  kz_wordpiece_encoding enc = {0};
  if (text) {
    kz_wordpiece_options wo;
    kz_wordpiece_options_default(&wo);
    wo.lowercase = 0, wo.max_len = 48, wo.pad = 1;
    KZ_CHECK_OK(kz_wordpiece_load(o.vocab, &wo, &tok));
  }
  FILE *f = fopen(input, "rb");
  KZ_CHECK(f != NULL);
  char *line = NULL, *fields[64], *header[64];
  char *hline = NULL;
  size_t cap = 0, hcap = 0;
  if (!f || getline(&hline, &hcap, f) < 0) return;
  if (hline[0] == '\xef') memmove(hline, hline + 3, strlen(hline) - 2);
  int nh = split_line(hline, header, 64);
  int fld[64], col[64];
  for (int i = 0; i < nh; ++i)
    if (!kz_schema_find_column(s, header[i], &fld[i], &col[i])) {
      fld[i] = -1;
      fprintf(stderr, "%s: CSV column '%s' is not in the schema\n", name, header[i]);
      KZ_CHECK(0); /* a dropped column would otherwise pass unchecked */
    }
  int ids_f = kz_schema_field_index(s, "input_ids"), len_f = kz_schema_field_index(s, "length");
  int64_t r = 0, mismatches = 0, nan_checked = 0;
  while (getline(&line, &cap, f) > 0) {
    int n = split_line(line, fields, 64);
    KZ_CHECK(n == nh);
    if (n != nh) break;
    if (text && blank(fields[0])) continue; /* the importer skips blank texts */
    if (r >= rows) {
      ++mismatches;
      break;
    }
    for (int i = 0; i < nh; ++i) {
      if (fld[i] < 0) continue;
      const kz_field *fd = &s->fields[fld[i]];
      const char *v = fields[i];
      int bad = 0;
      if (fd->type == KZ_FIELD_F32) {
        float got = kz_batch_f32(&b, fld[i], r)[col[i]];
        if (missing(v))
          bad = !isnan(got), ++nan_checked;
        else {
          float want = (float)strtod(v, NULL);
          bad = memcmp(&want, &got, sizeof got) != 0;
        }
      } else if (fd->type == KZ_FIELD_F64) {
        bad = kz_batch_f64(&b, fld[i], r)[col[i]] != strtod(v, NULL);
      } else if (fd->type == KZ_FIELD_I32) {
        int32_t code = kz_batch_i32(&b, fld[i], r)[col[i]];
        const kz_column *c = &fd->columns[col[i]];
        if (missing(v))
          bad = code != -1;
        else
          bad = code < 0 || code >= c->n_categories || strcmp(c->categories[code], v);
      } else {
        bad = strcmp(*kz_batch_str(&b, fld[i], r), v) != 0;
        KZ_CHECK_OK(kz_wordpiece_encode(tok, v, strlen(v), &enc));
        bad |= enc.count != 48 || enc.length != *kz_batch_i32(&b, len_f, r) ||
               memcmp(enc.ids, kz_batch_i32(&b, ids_f, r), 48 * sizeof(int32_t)) != 0;
      }
      if (bad && mismatches++ < 5)
        fprintf(stderr, "%s row %lld column %s: CSV '%s' differs\n", name, (long long)r, header[i],
                v);
    }
    ++r;
  }
  KZ_CHECK(mismatches == 0);
  KZ_CHECK(r == rows);
  if (!strcmp(name, "pima2") || !strcmp(name, "txhousing")) KZ_CHECK(nan_checked > 100);
  if (text) { /* shuffled, prefetched reads give the same rows, strings included */
    int tf = kz_schema_field_index(s, "text");
    kz_shard_iter_options io;
    kz_shard_iter_options_default(&io);
    io.shuffle = 1, io.seed = 3, io.window_rows = 1000, io.batch_size = 333;
    kz_shard_iter *it;
    KZ_CHECK_OK(kz_shard_iter_open(ds, &io, &it));
    const kz_shard_batch *ib;
    int64_t seen = 0, bad = 0;
    while (it && kz_shard_iter_next(it, &ib) == KZ_OK && ib)
      for (int64_t i = 0; i < ib->rows; ++i, ++seen) {
        int64_t g = ib->row_ids[i];
        bad += strcmp(*kz_batch_str(ib, tf, i), *kz_batch_str(&b, tf, g)) != 0 ||
               memcmp(kz_batch_i32(ib, ids_f, i), kz_batch_i32(&b, ids_f, g), 48 * 4) != 0;
      }
    kz_shard_iter_close(it);
    KZ_CHECK(seen == rows && bad == 0);
  }
  printf("%s: %lld rows compared, %lld missing values checked\n", name, (long long)r,
         (long long)nan_checked);
  free(line), free(hline);
  fclose(f);
  kz_wordpiece_encoding_free(&enc);
  kz_wordpiece_free(tok);
  kz_shard_batch_free(&b);
  kz_dataset_close(ds);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (f) fputs(text, f), fclose(f);
}

static void expect_bad(const char *tmp, const char *csv, const char *label, const char *label_type,
                       const char *needle) {
  char input[512], out[512], want[600];
  snprintf(input, sizeof input, "%s/bad.csv", tmp);
  snprintf(out, sizeof out, "%s/bad_out", tmp);
  write_text(input, csv);
  kz_import_options o;
  kz_import_options_default(&o);
  o.input = input, o.out = out, o.label = label, o.label_type = label_type, o.shard_rows = 2;
  snprintf(want, sizeof want, "bad.csv%s", needle);
  KZ_CHECK_FAILS(kz_import_file(&o, NULL), KZ_ERR_FORMAT, want);
  struct stat sb;
  KZ_CHECK(stat(out, &sb) != 0); /* no output directory, so no file either */
}

static void bad_inputs(const char *tmp) {
  /* the bad row comes after several shards' worth of good ones */
  expect_bad(tmp, "a,b,c\n1,2,3\n4,5,6\n7,8,9\n1,2,3\n4,5\n", NULL, NULL,
             ":6: 2 fields, but the header has 3");
  expect_bad(tmp, "a,b,y\n1,2,3\n4,5,6\n7,8,9\n1,2,3\n4,5,six\n", "y", "numeric",
             ":6: column 'y': 'six' is not a number");
  expect_bad(tmp, "a,b,a\n1,2,3\n", NULL, NULL, ":1: column 'a' named twice (columns 1 and 3)");
  expect_bad(tmp, "a,b\n1,\"2\n", NULL, NULL, ":2: quoted field never closed");
  expect_bad(tmp, "", NULL, NULL, ": the file is empty");
}

static kz_dataset *import_and_open(kz_import_options *o, kz_shard_batch *b) {
  kz_import_report rep;
  KZ_CHECK_OK(kz_import_file(o, &rep));
  kz_dataset *ds = NULL;
  kz_dataset_options dopt = {NULL, 1};
  KZ_CHECK_OK(kz_dataset_open(o->out, &dopt, &ds));
  if (!ds) return NULL;
  int64_t rows = kz_dataset_rows(ds);
  KZ_CHECK_OK(kz_shard_batch_alloc(kz_dataset_schema(ds), rows, b));
  KZ_CHECK_OK(kz_dataset_read_range(ds, 0, rows, b, 0));
  b->rows = rows;
  return ds;
}

/* .jsonl: numbers (integer, real, exact doubles), null and omitted keys as
 * missing, strings and booleans as categories; .txt: one text per line. */
static void line_inputs(const char *tmp) {
  char input[512], out[512];
  snprintf(input, sizeof input, "%s/rows.jsonl", tmp);
  snprintf(out, sizeof out, "%s/rows_jsonl", tmp);
  write_text(input, "{\"x\": 1.25, \"n\": 7, \"c\": \"red\", \"ok\": true, \"y\": 0.1}\n"
                    "\n"
                    "{\"x\": null, \"n\": -3, \"c\": \"blue\", \"ok\": false, \"y\": 2}\r\n"
                    "{\"y\": 3.5e-3, \"c\": \"red\"}\n");
  kz_import_options o;
  kz_import_options_default(&o);
  o.input = input, o.out = out, o.label = "y", o.overwrite = 1;
  kz_shard_batch b;
  kz_dataset *ds = import_and_open(&o, &b);
  if (!ds) return;
  const kz_schema *s = kz_dataset_schema(ds);
  KZ_CHECK(b.rows == 3);
  int fx, cx, fn, cn, fc, cc, fo, co, fy, cy;
  KZ_CHECK(kz_schema_find_column(s, "x", &fx, &cx) && kz_schema_find_column(s, "n", &fn, &cn) &&
           kz_schema_find_column(s, "c", &fc, &cc) && kz_schema_find_column(s, "ok", &fo, &co) &&
           kz_schema_find_column(s, "y", &fy, &cy));
  KZ_CHECK(kz_batch_f32(&b, fx, 0)[cx] == 1.25f && isnan(kz_batch_f32(&b, fx, 1)[cx]) &&
           isnan(kz_batch_f32(&b, fx, 2)[cx]));
  KZ_CHECK(kz_batch_f32(&b, fn, 0)[cn] == 7.0f && kz_batch_f32(&b, fn, 1)[cn] == -3.0f &&
           isnan(kz_batch_f32(&b, fn, 2)[cn]));
  KZ_CHECK(kz_batch_f32(&b, fy, 0)[cy] == 0.1f && kz_batch_f32(&b, fy, 2)[cy] == 3.5e-3f);
  const kz_column *cat = &s->fields[fc].columns[cc];
  KZ_CHECK(!strcmp(cat->categories[kz_batch_i32(&b, fc, 0)[cc]], "red") &&
           !strcmp(cat->categories[kz_batch_i32(&b, fc, 1)[cc]], "blue") &&
           !strcmp(cat->categories[kz_batch_i32(&b, fc, 2)[cc]], "red"));
  const kz_column *okc = &s->fields[fo].columns[co];
  KZ_CHECK(!strcmp(okc->categories[kz_batch_i32(&b, fo, 0)[co]], "true") &&
           kz_batch_i32(&b, fo, 2)[co] == -1);
  kz_shard_batch_free(&b);
  kz_dataset_close(ds);

  snprintf(input, sizeof input, "%s/lines.txt", tmp);
  snprintf(out, sizeof out, "%s/lines_txt", tmp);
  const char *texts[] = {"It is a truth universally acknowledged,", "  ", "caf\xc3\xa9 au lait"};
  write_text(input,
             "\xEF\xBB\xBFIt is a truth universally acknowledged,\r\n  \ncaf\xc3\xa9 au lait");
  kz_import_options_default(&o);
  o.kind = "text", o.input = input, o.out = out, o.overwrite = 1, o.max_len = 16;
  o.vocab = KZ_WORDPIECE_FIXTURES "/vocab_austen_cased.txt";
  ds = import_and_open(&o, &b);
  if (!ds) return;
  s = kz_dataset_schema(ds);
  KZ_CHECK(b.rows == 2); /* the blank line is skipped */
  int tf = kz_schema_field_index(s, "text"), ids_f = kz_schema_field_index(s, "input_ids");
  kz_wordpiece *tok;
  kz_wordpiece_options wo;
  kz_wordpiece_options_default(&wo);
  wo.max_len = 16, wo.pad = 1;
  KZ_CHECK_OK(kz_wordpiece_load(o.vocab, &wo, &tok));
  kz_wordpiece_encoding enc = {0};
  for (int r = 0; r < 2 && tf >= 0; ++r) {
    const char *want = texts[r ? 2 : 0];
    KZ_CHECK(!strcmp(*kz_batch_str(&b, tf, r), want));
    KZ_CHECK_OK(kz_wordpiece_encode(tok, want, strlen(want), &enc));
    KZ_CHECK(!memcmp(enc.ids, kz_batch_i32(&b, ids_f, r), 16 * sizeof(int32_t)));
  }
  kz_wordpiece_encoding_free(&enc);
  kz_wordpiece_free(tok);
  kz_shard_batch_free(&b);
  kz_dataset_close(ds);
}

static void expect_bad_jsonl(const char *tmp, const char *text, const char *needle) {
  char input[512], out[512], want[600];
  snprintf(input, sizeof input, "%s/bad.jsonl", tmp);
  snprintf(out, sizeof out, "%s/bad_jsonl_out", tmp);
  write_text(input, text);
  kz_import_options o;
  kz_import_options_default(&o);
  o.input = input, o.out = out, o.shard_rows = 1;
  snprintf(want, sizeof want, "bad.jsonl%s", needle);
  KZ_CHECK_FAILS(kz_import_file(&o, NULL), KZ_ERR_FORMAT, want);
  struct stat sb;
  KZ_CHECK(stat(out, &sb) != 0);
}

static void bad_line_inputs(const char *tmp) {
  expect_bad_jsonl(tmp, "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3, \"b\": 4}\n",
                   ":3: key 'b' is not among the first object's keys");
  expect_bad_jsonl(tmp, "{\"a\": 1}\n{\"a\": [1, 2]}\n", ":2: key 'a' holds an array");
  expect_bad_jsonl(tmp, "{\"a\": 1}\n{\"a\": 2\n", ":2: column");
  expect_bad_jsonl(tmp, "{\"a\": 1}\n[1, 2]\n", ":2: each line must be a JSON object");
  expect_bad_jsonl(tmp, "{\"a\": 1, \"a\": 2}\n", ":1: column");
  expect_bad_jsonl(tmp, "\n\n", ": no JSON object in the file");
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "roundtrip")) {
    struct stat sb;
    if (stat(KZ_SHARED_DATA, &sb) != 0) {
      fprintf(stderr, "skipped: %s not found\n", KZ_SHARED_DATA);
      return 77;
    }
    round_trip(argv[2], argv[3]);
  } else if (argc == 3 && !strcmp(argv[1], "bad")) {
    bad_inputs(argv[2]);
    bad_line_inputs(argv[2]);
  } else if (argc == 3 && !strcmp(argv[1], "lines")) {
    line_inputs(argv[2]);
  } else {
    fprintf(stderr, "usage: test_import roundtrip NAME TMPDIR | bad TMPDIR | lines TMPDIR\n");
    return 2;
  }
  return KZ_TEST_RESULT();
}
