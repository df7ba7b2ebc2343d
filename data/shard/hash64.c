/* kz64 processes 32-byte stripes as four independent 64-bit lanes so the
 * multiply latency overlaps and hashing runs near memory speed; a plain
 * byte-at-a-time FNV-1a would make checksum verification the slowest part of
 * opening a data set. */
#include "data/shard/hash64.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/core/splitmix64.h"

#define KZ_P1 0x100000001b3ULL
#define KZ_P2 0x9e3779b97f4a7c15ULL

static inline uint64_t rotl64(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

static inline uint64_t load64le(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

static inline uint64_t lane_step(uint64_t h, uint64_t w) {
  return rotl64(h ^ w, 29) * KZ_P1;
}

void kz_hash64_init(kz_hash64 *h) {
  memset(h, 0, sizeof *h);
  for (int i = 0; i < 4; ++i) h->lane[i] = 0xcbf29ce484222325ULL + (uint64_t)i * KZ_P2;
}

static void stripes(kz_hash64 *h, const unsigned char *p, size_t n_stripes) {
  uint64_t a = h->lane[0], b = h->lane[1], c = h->lane[2], d = h->lane[3];
  for (size_t s = 0; s < n_stripes; ++s, p += 32) {
    a = lane_step(a, load64le(p));
    b = lane_step(b, load64le(p + 8));
    c = lane_step(c, load64le(p + 16));
    d = lane_step(d, load64le(p + 24));
  }
  h->lane[0] = a, h->lane[1] = b, h->lane[2] = c, h->lane[3] = d;
}

void kz_hash64_update(kz_hash64 *h, const void *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  h->total += len;
  if (h->tail_len) {
    size_t take = 32 - h->tail_len < len ? 32 - h->tail_len : len;
    memcpy(h->tail + h->tail_len, p, take);
    h->tail_len += take, p += take, len -= take;
    if (h->tail_len < 32) return;
    stripes(h, h->tail, 1);
    h->tail_len = 0;
  }
  stripes(h, p, len / 32);
  p += len / 32 * 32, len %= 32;
  memcpy(h->tail, p, len);
  h->tail_len = len;
}

uint64_t kz_hash64_final(const kz_hash64 *h) {
  uint64_t x = h->total * KZ_P2;
  for (int i = 0; i < 4; ++i) x = lane_step(x, h->lane[i]);
  for (size_t i = 0; i < h->tail_len; ++i) x = (x ^ h->tail[i]) * KZ_P1;
  /* splitmix64's finaliser spreads the last bytes over every bit */
  return kz_splitmix64_mix(x);
}

kz_status kz_hash64_file(const char *path, uint64_t *out, uint64_t *bytes) {
  FILE *f = fopen(path, "rb");
  if (!f) return kz_fail(KZ_ERR_IO, "%s: cannot open for checksum: %s", path, strerror(errno));
  enum { BUF = 1 << 20 };
  unsigned char *buf = malloc(BUF);
  if (!buf) {
    fclose(f);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: no memory for checksum buffer", path);
  }
  kz_hash64 h;
  kz_hash64_init(&h);
  size_t n;
  while ((n = fread(buf, 1, BUF, f)) > 0) kz_hash64_update(&h, buf, n);
  int bad = ferror(f);
  free(buf);
  fclose(f);
  if (bad) return kz_fail(KZ_ERR_IO, "%s: read error while computing checksum", path);
  *out = kz_hash64_final(&h);
  if (bytes) *bytes = h.total;
  return KZ_OK;
}
