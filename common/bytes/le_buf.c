#include "common/bytes/le_buf.h"

#include <stdlib.h>
#include <string.h>

void kz_le_put(kz_le_buf *b, const void *src, size_t n) {
  if (b->oom || n == 0) return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    unsigned char *q = realloc(b->p, cap);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q, b->cap = cap;
  }
  memcpy(b->p + b->len, src, n);
  b->len += n;
}

void kz_le_put_u64(kz_le_buf *b, uint64_t v) {
  unsigned char t[8];
  for (int i = 0; i < 8; ++i) t[i] = (unsigned char)(v >> (8 * i));
  kz_le_put(b, t, 8);
}

void kz_le_put_u32(kz_le_buf *b, uint32_t v) {
  unsigned char t[4];
  for (int i = 0; i < 4; ++i) t[i] = (unsigned char)(v >> (8 * i));
  kz_le_put(b, t, 4);
}

uint64_t kz_le_get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint32_t kz_le_get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
