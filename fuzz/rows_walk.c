#include "rows_walk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/numparse.h"
#include "data/import/rows.h"
#include "data/import/timeparse.h"
#include "data/shard/hash64.h"
#include "fuzz_util.h"

/* The value parsers, with their own promises: a number reads back exactly as
 * strtod reads it, and a date prints and parses back to the same instant. */
static void check_cell(const char *s, size_t len) {
  (void)kz_is_missing(s, len);
  double v;
  if (kz_parse_number(s, len, &v)) {
    char *copy = kz_fuzz_strndup((const uint8_t *)s, len);
    double w = strtod(copy, NULL);
    free(copy);
    if (memcmp(&v, &w, sizeof v) != 0)
      kz_fuzz_fail("kz_parse_number(\"%.*s\") = %.17g, strtod gives %.17g", (int)len, s, v, w);
  }
  const char *why = NULL;
  double t;
  int f = kz_parse_time(s, len, &t, &why);
  if (f == KZ_TIME_DATE) {
    char buf[64];
    kz_format_time(t, KZ_TIME_DATE, buf, sizeof buf);
    double back;
    if (kz_parse_time(buf, strlen(buf), &back, &why) != KZ_TIME_DATE || back != t)
      kz_fuzz_fail("date \"%.*s\" printed as \"%s\" does not read back", (int)len, s, buf);
  }
}

/* One pass: the number of records and a hash of every field, so the two
 * passes can be compared without keeping the records. */
static void one_pass(kz_rows *r, int keep_json, int check, int64_t *n_out, uint64_t *hash_out) {
  kz_hash64 h;
  kz_hash64_init(&h);
  int64_t n = 0, last_line = 0;
  for (;;) {
    int eof = 0;
    if (kz_rows_next(r, &eof) != KZ_OK) {
      n = -1 - n; /* an error, after n records: the same in both passes */
      break;
    }
    if (eof) break;
    if (n == 0 && keep_json)
      for (int i = 1; i < kz_rows_fields(r); i += 2) kz_rows_keep_json(r, i);
    int64_t line = kz_rows_line(r);
    if (line < last_line || line < 1)
      kz_fuzz_fail("record %lld starts on line %lld, after line %lld", (long long)n,
                   (long long)line, (long long)last_line);
    last_line = line;
    int nf = kz_rows_fields(r);
    if (nf < 0) kz_fuzz_fail("record %lld has %d fields", (long long)n, nf);
    kz_hash64_update(&h, &nf, sizeof nf);
    for (int i = 0; i < nf; ++i) {
      const char *s = kz_rows_field(r, i);
      size_t len = kz_rows_field_len(r, i);
      if (!s || s[len] != '\0')
        kz_fuzz_fail("record %lld field %d is not NUL-terminated at its length %zu", (long long)n,
                     i, len);
      kz_hash64_update(&h, &len, sizeof len);
      kz_hash64_update(&h, s, len);
      if (check) check_cell(s, len);
    }
    ++n;
  }
  *n_out = n;
  *hash_out = kz_hash64_final(&h);
}

void kz_fuzz_rows_walk(const char *path, int keep_json) {
  kz_rows *r = NULL;
  if (kz_rows_open(path, &r) != KZ_OK) return;
  (void)kz_rows_size(r);
  (void)kz_rows_format(r);
  int64_t n1, n2;
  uint64_t h1, h2;
  one_pass(r, keep_json, 1, &n1, &h1);
  if (kz_rows_rewind(r) == KZ_OK) {
    one_pass(r, 0, 0, &n2, &h2);
    if (n1 != n2 || h1 != h2)
      kz_fuzz_fail("the second pass differs: %lld records (hash %016llx), then %lld (%016llx)",
                   (long long)n1, (unsigned long long)h1, (long long)n2, (unsigned long long)h2);
  }
  kz_rows_close(r);
}
