/* Streaming shard writer. Rows are appended in batches of any size; each
 * split rolls over to a new shard every shard_rows rows. Memory is bounded by
 * one chunk of rows per split. Shards are written as NAME.tmp and renamed
 * when complete; manifest.json is written last, the same way. On any failure
 * (or kz_shard_writer_abort) every file this writer made is removed.
 *
 *   kz_shard_writer *w;
 *   KZ_TRY(kz_shard_writer_open("out/", &schema, &opts, &w));
 *   while (...) if ((st = kz_shard_writer_append(w, split, &batch)) != KZ_OK) goto fail;
 *   st = kz_shard_writer_finish(w);   // frees w, success or not
 * fail:
 *   kz_shard_writer_abort(w);          // frees w */
#ifndef KZ_DATA_SHARD_WRITER_H
#define KZ_DATA_SHARD_WRITER_H

#include "data/shard/batch.h"
#include "data/shard/schema.h"

typedef struct kz_shard_writer kz_shard_writer;

typedef struct kz_shard_writer_options {
  int64_t shard_rows;        /* rows per shard (default 1,000,000) */
  int64_t chunk_rows;        /* HDF5 chunk rows; 0: about 1 MiB of row data */
  int compress;              /* deflate level 1..9, 0 = none */
  int n_splits;              /* default 1 */
  const char *const *splits; /* split names (default {"train"}) */
  int overwrite;             /* replace an existing manifest.json in the directory */
} kz_shard_writer_options;

void kz_shard_writer_options_default(kz_shard_writer_options *o);
/* Creates dir if needed; fails if it already holds a manifest (unless overwrite). */
kz_status kz_shard_writer_open(const char *dir, const kz_schema *schema,
                               const kz_shard_writer_options *options, kz_shard_writer **out);
kz_status kz_shard_writer_append(kz_shard_writer *w, int split, const kz_shard_batch *batch);
/* Rows appended so far to a split. */
int64_t kz_shard_writer_rows(const kz_shard_writer *w, int split);
/* Flushes, closes the last shards, writes manifest.json; frees w. On failure
 * it removes everything it wrote. */
kz_status kz_shard_writer_finish(kz_shard_writer *w);
/* Removes every file written so far and frees w (NULL is fine). */
void kz_shard_writer_abort(kz_shard_writer *w);

#endif
