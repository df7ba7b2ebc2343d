/* The .kzm neural model file (layout in nn_file.h and docs/FORMATS.md). The
 * whole file is built in memory and written through kz_fs_write_atomic, so a
 * crash never leaves a half-written model under the final name; reading
 * checks every size against the file size before trusting it. */
#include "models/nn_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/fsutil.h"
#include "data/shard/hash64.h"
#include "kernels/core/error.h"

enum { NN_FILE_VERSION = 1 };

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

kz_status kz_nn_file_write(const char *path, const char *meta_json, const float *params,
                           int64_t n_params) {
  if (!path || !meta_json || (n_params > 0 && !params) || n_params < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_nn_file_write: bad arguments");
  size_t meta_len = strlen(meta_json);
  size_t total = 4 + 4 + 8 + meta_len + 8 + (size_t)n_params * 4 + 8;
  unsigned char *buf = malloc(total);
  if (!buf) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory (%zu bytes)", path, total);
  unsigned char *p = buf;
  memcpy(p, KZ_NN_FILE_MAGIC, 4);
  p += 4;
  put_u32(p, NN_FILE_VERSION);
  p += 4;
  put_u64(p, meta_len);
  p += 8;
  memcpy(p, meta_json, meta_len);
  p += meta_len;
  put_u64(p, (uint64_t)n_params);
  p += 8;
  /* Little-endian hosts only (x86-64, aarch64): floats are stored as in memory. */
  if (n_params > 0) memcpy(p, params, (size_t)n_params * 4);
  p += (size_t)n_params * 4;
  kz_hash64 h;
  kz_hash64_init(&h);
  kz_hash64_update(&h, buf, (size_t)(p - buf));
  put_u64(p, kz_hash64_final(&h));
  kz_status st = kz_fs_write_atomic(path, buf, total);
  free(buf);
  return st;
}

kz_status kz_nn_file_read(const char *path, char **meta_json, float **params, int64_t *n_params) {
  unsigned char *buf = NULL;
  size_t len = 0;
  /* The file's own size bounds every length field below. */
  KZ_TRY(kz_fs_read_all(path, "model file", &buf, &len));
  kz_status st = KZ_OK;
  const size_t fixed = 4 + 4 + 8 + 8 + 8;
  if (len < 4 || memcmp(buf, KZ_NN_FILE_MAGIC, 4) != 0) {
    st = kz_fail(KZ_ERR_FORMAT, "%s: not a kaizen neural model file (magic is not KZM1)", path);
    goto done;
  }
  if (len < fixed) {
    st = kz_fail(KZ_ERR_FORMAT, "%s: truncated model file (%zu bytes)", path, len);
    goto done;
  }
  uint32_t version = get_u32(buf + 4);
  if (version != NN_FILE_VERSION) {
    st = kz_fail(KZ_ERR_FORMAT, "%s: model file version %u, this build reads %d", path, version,
                 NN_FILE_VERSION);
    goto done;
  }
  uint64_t meta_len = get_u64(buf + 8);
  if (meta_len > len - fixed) {
    st = kz_fail(KZ_ERR_FORMAT, "%s: truncated model file (meta of %llu bytes does not fit)", path,
                 (unsigned long long)meta_len);
    goto done;
  }
  uint64_t n = get_u64(buf + 16 + meta_len);
  if (n > (len - fixed - meta_len) / 4 || fixed + meta_len + n * 4 != len) {
    st =
        kz_fail(KZ_ERR_FORMAT, "%s: truncated or oversized model file (%llu parameters, %zu bytes)",
                path, (unsigned long long)n, len);
    goto done;
  }
  kz_hash64 h;
  kz_hash64_init(&h);
  kz_hash64_update(&h, buf, len - 8);
  if (kz_hash64_final(&h) != get_u64(buf + len - 8)) {
    st = kz_fail(KZ_ERR_FORMAT, "%s: checksum mismatch (the model file is corrupt)", path);
    goto done;
  }
  char *meta = malloc(meta_len + 1);
  float *p = malloc(n > 0 ? n * 4 : 4);
  if (!meta || !p) {
    free(meta);
    free(p);
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    goto done;
  }
  memcpy(meta, buf + 16, meta_len);
  meta[meta_len] = '\0';
  if (n > 0) memcpy(p, buf + 24 + meta_len, n * 4);
  *meta_json = meta;
  *params = p;
  *n_params = (int64_t)n;
done:
  free(buf);
  return st;
}
