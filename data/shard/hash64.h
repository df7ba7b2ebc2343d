/* kz64: the 64-bit checksum of shard files recorded in manifest.json (the
 * algorithm is specified in docs/FORMATS.md so other tools can recompute it). */
#ifndef KZ_DATA_SHARD_HASH64_H
#define KZ_DATA_SHARD_HASH64_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

typedef struct kz_hash64 {
  uint64_t lane[4];
  uint64_t total;         /* bytes consumed */
  unsigned char tail[32]; /* bytes waiting for a full 32-byte stripe */
  size_t tail_len;
} kz_hash64;

void kz_hash64_init(kz_hash64 *h);
void kz_hash64_update(kz_hash64 *h, const void *data, size_t len);
uint64_t kz_hash64_final(const kz_hash64 *h);

/* Checksum of a whole file; errors name the file. */
kz_status kz_hash64_file(const char *path, uint64_t *out, uint64_t *bytes);

/* FNV-1a over a short string, for hash tables (not for files). */
static inline uint64_t kz_fnv1a(const void *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

#endif
