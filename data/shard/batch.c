#define _POSIX_C_SOURCE 200809L
#include "data/shard/batch.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"

kz_status kz_shard_batch_alloc(const kz_schema *s, int64_t capacity, kz_shard_batch *b) {
  memset(b, 0, sizeof *b);
  b->n_fields = s->n_fields;
  b->capacity = capacity;
  b->data = calloc((size_t)s->n_fields + 1, sizeof *b->data);
  b->types = calloc((size_t)s->n_fields + 1, sizeof *b->types);
  b->widths = calloc((size_t)s->n_fields + 1, sizeof *b->widths);
  b->row_ids = malloc((size_t)(capacity ? capacity : 1) * sizeof *b->row_ids);
  int ok = b->data && b->types && b->widths && b->row_ids;
  for (int32_t f = 0; ok && f < s->n_fields; ++f) {
    b->types[f] = s->fields[f].type;
    b->widths[f] = s->fields[f].width;
    size_t n = (size_t)(capacity ? capacity : 1) * (size_t)s->fields[f].width;
    /* calloc: string slots must start NULL so clear() can free them blindly */
    ok = (b->data[f] = calloc(n, kz_field_type_size(s->fields[f].type))) != NULL;
  }
  if (!ok) {
    kz_shard_batch_free(b);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "cannot allocate a batch of %lld rows",
                   (long long)capacity);
  }
  return KZ_OK;
}

void kz_shard_batch_clear(kz_shard_batch *b) {
  for (int32_t f = 0; f < b->n_fields; ++f) {
    if (b->types[f] != KZ_FIELD_STR || !b->data[f]) continue;
    char **p = (char **)b->data[f];
    int64_t n = b->rows * b->widths[f];
    for (int64_t i = 0; i < n; ++i) {
      free(p[i]);
      p[i] = NULL;
    }
  }
  b->rows = 0;
}

void kz_shard_batch_free(kz_shard_batch *b) {
  if (!b) return;
  if (b->data && b->types) {
    /* strings may sit beyond rows after a failed fill: free the whole buffer */
    b->rows = b->capacity;
    kz_shard_batch_clear(b);
  }
  for (int32_t f = 0; b->data && f < b->n_fields; ++f) free(b->data[f]);
  free(b->data);
  free(b->types);
  free(b->widths);
  free(b->row_ids);
  memset(b, 0, sizeof *b);
}

size_t kz_shard_batch_bytes(const kz_shard_batch *b) {
  size_t n = (size_t)b->capacity * sizeof(int64_t);
  for (int32_t f = 0; f < b->n_fields; ++f)
    n += (size_t)b->capacity * (size_t)b->widths[f] * kz_field_type_size(b->types[f]);
  return n;
}

kz_status kz_shard_batch_copy_rows(kz_shard_batch *dst, int64_t dst_row, const kz_shard_batch *src,
                                   int64_t src_row, int64_t n) {
  for (int32_t f = 0; f < dst->n_fields; ++f) {
    size_t w = (size_t)dst->widths[f], es = kz_field_type_size(dst->types[f]);
    if (dst->types[f] != KZ_FIELD_STR) {
      memcpy((char *)dst->data[f] + (size_t)dst_row * w * es,
             (const char *)src->data[f] + (size_t)src_row * w * es, (size_t)n * w * es);
      continue;
    }
    char **d = kz_batch_str(dst, f, dst_row), **s = kz_batch_str(src, f, src_row);
    for (size_t i = 0; i < (size_t)n * w; ++i) {
      free(d[i]);
      d[i] = s[i] ? strdup(s[i]) : NULL;
      if (s[i] && !d[i]) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory copying strings");
    }
  }
  memcpy(dst->row_ids + dst_row, src->row_ids + src_row, (size_t)n * sizeof(int64_t));
  return KZ_OK;
}

/* Rows ahead whose sources a gather prefetches. */
#define KZ_GATHER_AHEAD 16

kz_status kz_shard_batch_gather(kz_shard_batch *dst, int64_t dst_row, const kz_shard_batch *src,
                                const int64_t *idx, int64_t n) {
  for (int32_t f = 0; f < dst->n_fields; ++f) {
    size_t w = (size_t)dst->widths[f];
    if (dst->types[f] == KZ_FIELD_STR) {
      for (int64_t i = 0; i < n; ++i) {
        char **d = kz_batch_str(dst, f, dst_row + i), **s = kz_batch_str(src, f, idx[i]);
        for (size_t k = 0; k < w; ++k) {
          free(d[k]);
          d[k] = s[k] ? strdup(s[k]) : NULL;
          if (s[k] && !d[k]) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory copying strings");
        }
      }
      continue;
    }
    /* one field at a time: the inner copy has a fixed size per field */
    size_t bytes = w * kz_field_type_size(dst->types[f]);
    char *d = (char *)dst->data[f] + (size_t)dst_row * bytes;
    const char *s = (const char *)src->data[f];
    /* idx is a permutation of a window larger than the caches: each source
     * row is a cache miss, and the prefetcher cannot see them coming */
    for (int64_t i = 0; i < n; ++i) {
      if (i + KZ_GATHER_AHEAD < n) {
        const char *ahead = s + (size_t)idx[i + KZ_GATHER_AHEAD] * bytes;
        __builtin_prefetch(ahead);
        if (bytes > 64) __builtin_prefetch(ahead + bytes - 1);
      }
      memcpy(d + (size_t)i * bytes, s + (size_t)idx[i] * bytes, bytes);
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    if (i + KZ_GATHER_AHEAD < n) __builtin_prefetch(&src->row_ids[idx[i + KZ_GATHER_AHEAD]]);
    dst->row_ids[dst_row + i] = src->row_ids[idx[i]];
  }
  return KZ_OK;
}
