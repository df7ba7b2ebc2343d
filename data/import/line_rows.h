/* Line-oriented row sources (.txt and .jsonl); see rows.h for the rules. */
#ifndef KZ_DATA_IMPORT_LINE_ROWS_H
#define KZ_DATA_IMPORT_LINE_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

typedef struct kz_line_rows kz_line_rows;

kz_status kz_line_rows_open(const char *path, int jsonl, kz_line_rows **out);
void kz_line_rows_close(kz_line_rows *r);
kz_status kz_line_rows_next(kz_line_rows *r, int *eof);
kz_status kz_line_rows_rewind(kz_line_rows *r);
/* jsonl: column i's values come back as their JSON text (rows.h). */
void kz_line_rows_keep_json(kz_line_rows *r, int i);
int kz_line_rows_fields(const kz_line_rows *r);
const char *kz_line_rows_field(const kz_line_rows *r, int i);
size_t kz_line_rows_field_len(const kz_line_rows *r, int i);
int64_t kz_line_rows_line(const kz_line_rows *r);
uint64_t kz_line_rows_size(const kz_line_rows *r);

#endif
