/* Dispatch from the row-source interface to the CSV or line readers. */
#include "data/import/rows.h"

#include <stdlib.h>
#include <string.h>

#include "data/import/csv.h"
#include "data/import/line_rows.h"
#include "data/shard/fsutil.h"
#include "kernels/core/error.h"

struct kz_rows {
  kz_csv *csv; /* exactly one of csv and lines is set */
  kz_line_rows *lines;
  const char *format;
};

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  if (n < k) return 0;
  for (size_t i = 0; i < k; ++i) {
    char c = s[n - k + i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != suffix[i]) return 0;
  }
  return 1;
}

kz_status kz_rows_open(const char *path, kz_rows **out) {
  *out = NULL;
  KZ_TRY(kz_fs_check_not_dir(path));
  kz_rows *r = calloc(1, sizeof *r);
  if (!r) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  kz_status st;
  if (has_suffix(path, ".txt")) {
    r->format = "txt";
    st = kz_line_rows_open(path, 0, &r->lines);
  } else if (has_suffix(path, ".jsonl") || has_suffix(path, ".ndjson")) {
    r->format = "jsonl";
    st = kz_line_rows_open(path, 1, &r->lines);
  } else {
    r->format = "csv";
    st = kz_csv_open(path, &r->csv);
  }
  if (st != KZ_OK) {
    free(r);
    return st;
  }
  *out = r;
  return KZ_OK;
}

void kz_rows_close(kz_rows *r) {
  if (!r) return;
  kz_csv_close(r->csv);
  kz_line_rows_close(r->lines);
  free(r);
}

kz_status kz_rows_next(kz_rows *r, int *eof) {
  return r->csv ? kz_csv_next(r->csv, eof) : kz_line_rows_next(r->lines, eof);
}
kz_status kz_rows_rewind(kz_rows *r) {
  return r->csv ? kz_csv_rewind(r->csv) : kz_line_rows_rewind(r->lines);
}
void kz_rows_keep_json(kz_rows *r, int i) {
  if (r->lines) kz_line_rows_keep_json(r->lines, i);
}
int kz_rows_fields(const kz_rows *r) {
  return r->csv ? kz_csv_fields(r->csv) : kz_line_rows_fields(r->lines);
}
const char *kz_rows_field(const kz_rows *r, int i) {
  return r->csv ? kz_csv_field(r->csv, i) : kz_line_rows_field(r->lines, i);
}
size_t kz_rows_field_len(const kz_rows *r, int i) {
  return r->csv ? kz_csv_field_len(r->csv, i) : kz_line_rows_field_len(r->lines, i);
}
int64_t kz_rows_line(const kz_rows *r) {
  return r->csv ? kz_csv_line(r->csv) : kz_line_rows_line(r->lines);
}
uint64_t kz_rows_size(const kz_rows *r) {
  return r->csv ? kz_csv_size(r->csv) : kz_line_rows_size(r->lines);
}
const char *kz_rows_format(const kz_rows *r) {
  return r->format;
}
