/* The row-source walk shared by the CSV and JSON-lines harnesses. */
#ifndef KZ_FUZZ_ROWS_WALK_H
#define KZ_FUZZ_ROWS_WALK_H

/* Opens path with kz_rows_open (the extension picks the format), reads every
 * record, rewinds and reads them all again as import's second pass does, and
 * checks what import relies on: fields NUL-terminated at their length, line
 * numbers that never go back, and the same records in both passes. Each
 * field also goes through the value parsers import applies to cells
 * (missing, number, time). keep_json: the .jsonl columns kept as JSON. */
void kz_fuzz_rows_walk(const char *path, int keep_json);

#endif
