/* Streaming CSV reader (RFC 4180): quoted fields with "" escapes and line
 * breaks inside quotes, LF, CRLF or CR line ends, a UTF-8 byte-order mark,
 * blank lines skipped. Memory is one read buffer plus the current record. */
#ifndef KZ_DATA_IMPORT_CSV_H
#define KZ_DATA_IMPORT_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

typedef struct kz_csv kz_csv;

kz_status kz_csv_open(const char *path, kz_csv **out);
void kz_csv_close(kz_csv *c);
/* Reads the next record; *eof = 1 (and no record) at the end of the file.
 * Errors name the file and line. */
kz_status kz_csv_next(kz_csv *c, int *eof);
/* Back to the first byte (for the second pass). */
kz_status kz_csv_rewind(kz_csv *c);

int kz_csv_fields(const kz_csv *c);
/* NUL-terminated, unescaped; valid until the next kz_csv_next. */
const char *kz_csv_field(const kz_csv *c, int i);
size_t kz_csv_field_len(const kz_csv *c, int i);
/* Line on which the current record starts (1-based). */
int64_t kz_csv_line(const kz_csv *c);
const char *kz_csv_path(const kz_csv *c);
/* File size in bytes. */
uint64_t kz_csv_size(const kz_csv *c);

#endif
