/* Limits on what one import input may hold (SECURITY.md, "Limits"). Input
 * files are untrusted: without these a single cell or header line could make
 * kaizen allocate gigabytes, run for minutes, or write a manifest as large as
 * the file. Each limit fails with a message naming the file (and line). */
#ifndef KZ_DATA_IMPORT_LIMITS_H
#define KZ_DATA_IMPORT_LIMITS_H

#include <stddef.h>

/* One CSV record, or one .txt / .jsonl line, in bytes. */
#define KZ_IMPORT_MAX_RECORD_BYTES ((size_t)64 << 20)
/* Columns of a file (CSV fields per record, JSON keys of the first object). */
#define KZ_IMPORT_MAX_COLUMNS 100000
/* JSON values (array elements and object members) in one .jsonl line:
 * jansson spends about 40 bytes on each, so a 64 MiB line of "1,1,1,..."
 * would take over a gigabyte; 1,000,000 keeps it near 50 MB. */
#define KZ_IMPORT_MAX_JSON_VALUES 1000000
/* One category string: categories live in every shard's schema, in the
 * manifest and in model files, so a long one is copied many times over. */
#define KZ_IMPORT_MAX_CATEGORY_BYTES 4096

#endif
