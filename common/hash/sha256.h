/* SHA-256 (FIPS 180-4), for content hashes that must mean the same thing
 * everywhere (a vocabulary's identity across a data set, a model file and a
 * Hugging Face checkpoint; `sha256sum` reproduces them). */
#ifndef KZ_COMMON_HASH_SHA256_H
#define KZ_COMMON_HASH_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct kz_sha256 {
  uint32_t h[8];
  uint64_t bytes;
  uint8_t block[64];
  size_t used;
} kz_sha256;

void kz_sha256_init(kz_sha256 *c);
void kz_sha256_update(kz_sha256 *c, const void *data, size_t len);
void kz_sha256_final(kz_sha256 *c, uint8_t digest[32]);
/* The digest as 64 lowercase hex digits and a NUL. */
void kz_sha256_final_hex(kz_sha256 *c, char hex[65]);

#endif
