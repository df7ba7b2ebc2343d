/* CSV import: the shards hold exactly the CSV's values (NaN where missing,
 * categories by name, text tokenized as the WordPiece API does), and bad CSV
 * fails naming file and line with no output left behind.
 * usage: test_import roundtrip NAME TMPDIR | test_import bad TMPDIR */
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
#include "test_util.h"

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
  KZ_CHECK_OK(kz_import_csv(&o, &rep));
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
    if (!kz_schema_find_column(s, header[i], &fld[i], &col[i])) fld[i] = -1;
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
  KZ_CHECK_FAILS(kz_import_csv(&o, NULL), KZ_ERR_FORMAT, want);
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
  } else {
    fprintf(stderr, "usage: test_import roundtrip NAME TMPDIR | test_import bad TMPDIR\n");
    return 2;
  }
  return KZ_TEST_RESULT();
}
