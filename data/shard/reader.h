/* Opens a kaizen data set (a directory or manifest.json, or one shard file),
 * validates every shard before use (format, version, kind, schema, dataset
 * shapes and types, rows; checksums on request) and reads rows by range or
 * by global row index. Every error names the file and the dataset.
 *
 * Global rows are numbered across the selected shards in manifest order. A
 * kz_dataset is not thread-safe; the iterator (iter.h) reads through its own
 * handles on its prefetch thread. */
#ifndef KZ_DATA_SHARD_READER_H
#define KZ_DATA_SHARD_READER_H

#include "data/shard/batch.h"
#include "data/shard/schema.h"

typedef struct kz_dataset kz_dataset;

typedef struct kz_dataset_options {
  const char *split;    /* only shards of this split ("train", "valid"); NULL: all */
  int verify_checksums; /* recompute each shard's kz64 and compare with the manifest */
} kz_dataset_options;

typedef struct kz_shard_info {
  const char *path, *split;
  int64_t rows, first_row; /* first_row: global index of its row 0 */
  uint64_t checksum;       /* 0 when opened without a manifest */
} kz_shard_info;

kz_status kz_dataset_open(const char *path, const kz_dataset_options *options, kz_dataset **out);
void kz_dataset_close(kz_dataset *ds);
const kz_schema *kz_dataset_schema(const kz_dataset *ds);
int64_t kz_dataset_rows(const kz_dataset *ds);
int kz_dataset_shard_count(const kz_dataset *ds);
void kz_dataset_shard_info(const kz_dataset *ds, int shard, kz_shard_info *info);
/* Where the data set came from (manifest or file path). */
const char *kz_dataset_path(const kz_dataset *ds);

/* Reads n rows of a batch at dst_row from global rows rows[0..n) (any order,
 * repeats allowed): random access for evaluation. */
kz_status kz_dataset_read_rows(kz_dataset *ds, const int64_t *rows, int64_t n, kz_shard_batch *dst,
                               int64_t dst_row);
/* Reads global rows [first, first+n) into dst at dst_row. */
kz_status kz_dataset_read_range(kz_dataset *ds, int64_t first, int64_t n, kz_shard_batch *dst,
                                int64_t dst_row);

/* Lower level, for the iterator: an open shard file on the calling thread. */
typedef struct kz_shard_cursor kz_shard_cursor;
kz_status kz_shard_cursor_create(const kz_dataset *ds, kz_shard_cursor **out);
void kz_shard_cursor_free(kz_shard_cursor *c);
/* Reads rows [row0, row0+n) of one shard into dst at dst_row. */
kz_status kz_shard_cursor_read(kz_shard_cursor *c, int shard, int64_t row0, int64_t n,
                               kz_shard_batch *dst, int64_t dst_row);
/* Frees what the HDF5 library keeps for the calling thread after a failed
 * call (its error stack, which it would leak at thread exit). Reading
 * threads call it before they end. */
void kz_shard_thread_end(void);
/* The shard holding a global row (binary search). */
int kz_dataset_shard_of_row(const kz_dataset *ds, int64_t row);

#endif
