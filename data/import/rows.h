/* Row sources for import: one interface over the three input formats, so the
 * two import passes do not care where rows come from.
 *   .csv            RFC 4180 with a header row (csv.h)
 *   .txt            one row per line, a single column named "text"
 *   .jsonl/.ndjson  one JSON object per line; the columns are the first
 *                   object's keys, later objects may omit keys (missing) but
 *                   not add new ones; values must be scalars, except in
 *                   columns passed to kz_rows_keep_json
 * Every source yields its column names as the first record, as a CSV header
 * would, and again after a rewind. */
#ifndef KZ_DATA_IMPORT_ROWS_H
#define KZ_DATA_IMPORT_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

typedef struct kz_rows kz_rows;

/* The format follows the file name's extension; anything else is read as CSV. */
kz_status kz_rows_open(const char *path, kz_rows **out);
void kz_rows_close(kz_rows *r);
/* Next record (the header first); *eof = 1 and no record at the end. */
kz_status kz_rows_next(kz_rows *r, int *eof);
kz_status kz_rows_rewind(kz_rows *r);
/* .jsonl: column i's values (arrays included) come back as their compact JSON
 * text (a string quoted and escaped, null as empty = missing). Call after
 * open, before the first data row. No effect on CSV and .txt, whose fields
 * are always the raw cell text. */
void kz_rows_keep_json(kz_rows *r, int i);
int kz_rows_fields(const kz_rows *r);
/* NUL-terminated; valid until the next kz_rows_next. */
const char *kz_rows_field(const kz_rows *r, int i);
size_t kz_rows_field_len(const kz_rows *r, int i);
/* 1-based line on which the current record starts. */
int64_t kz_rows_line(const kz_rows *r);
uint64_t kz_rows_size(const kz_rows *r);
/* "csv", "txt" or "jsonl". */
const char *kz_rows_format(const kz_rows *r);

#endif
