/* A growable byte buffer with little-endian integer writers and readers: the
 * binary checkpoint formats (.kzc, .kzg) are built in memory with it, then
 * written in one atomic file. An allocation failure is sticky (oom) so that a
 * writer checks once at the end instead of after every put. */
#ifndef KZ_COMMON_BYTES_LE_BUF_H
#define KZ_COMMON_BYTES_LE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct kz_le_buf {
  unsigned char *p;
  size_t len, cap;
  int oom;
} kz_le_buf;

void kz_le_put(kz_le_buf *b, const void *src, size_t n);
void kz_le_put_u64(kz_le_buf *b, uint64_t v);
void kz_le_put_u32(kz_le_buf *b, uint32_t v);
uint64_t kz_le_get_u64(const unsigned char *p);
uint32_t kz_le_get_u32(const unsigned char *p);

#endif
