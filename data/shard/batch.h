/* A block of rows in memory: one row-major buffer [capacity, width] per
 * schema field. String fields hold malloc'd char * the batch owns. */
#ifndef KZ_DATA_SHARD_BATCH_H
#define KZ_DATA_SHARD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "data/shard/schema.h"

typedef struct kz_shard_batch {
  int64_t rows, capacity;
  int32_t n_fields;
  void **data;          /* data[f]: capacity * width values of the field's type */
  kz_field_type *types; /* per field */
  int64_t *widths;      /* per field */
  int64_t *row_ids;     /* global row index of each row (filled by readers) */
  /* data-parallel stripes (iter.h): rows of the global batch before this
   * rank's part; 0 otherwise. Keys per-row random draws (MLM masks) so a
   * rank draws what one process draws for the same rows. */
  int64_t rank_offset;
} kz_shard_batch;

kz_status kz_shard_batch_alloc(const kz_schema *s, int64_t capacity, kz_shard_batch *b);
/* Frees owned strings and sets rows to 0. */
void kz_shard_batch_clear(kz_shard_batch *b);
void kz_shard_batch_free(kz_shard_batch *b);
/* Bytes the batch buffers occupy (strings excluded). */
size_t kz_shard_batch_bytes(const kz_shard_batch *b);

/* Typed views of row r of field f. */
static inline float *kz_batch_f32(const kz_shard_batch *b, int f, int64_t r) {
  return (float *)b->data[f] + r * b->widths[f];
}
static inline int32_t *kz_batch_i32(const kz_shard_batch *b, int f, int64_t r) {
  return (int32_t *)b->data[f] + r * b->widths[f];
}
static inline double *kz_batch_f64(const kz_shard_batch *b, int f, int64_t r) {
  return (double *)b->data[f] + r * b->widths[f];
}
static inline char **kz_batch_str(const kz_shard_batch *b, int f, int64_t r) {
  return (char **)b->data[f] + r * b->widths[f];
}

/* Copies rows [src_row, src_row+n) of src into dst at dst_row (strings are
 * duplicated). Both batches must have the same schema. */
kz_status kz_shard_batch_copy_rows(kz_shard_batch *dst, int64_t dst_row, const kz_shard_batch *src,
                                   int64_t src_row, int64_t n);

/* dst rows [dst_row, dst_row+n) = src rows idx[0..n) (strings duplicated). */
kz_status kz_shard_batch_gather(kz_shard_batch *dst, int64_t dst_row, const kz_shard_batch *src,
                                const int64_t *idx, int64_t n);

#endif
