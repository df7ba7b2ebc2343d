#define _POSIX_C_SOURCE 200809L
#include "data/import/strset.h"

#include <stdlib.h>
#include <string.h>

#include "data/shard/hash64.h"
#include "kernels/core/error.h"

void kz_strset_init(kz_strset *s) {
  memset(s, 0, sizeof *s);
}

void kz_strset_free(kz_strset *s) {
  for (int32_t i = 0; i < s->count; ++i) free(s->keys[i]);
  free(s->keys), free(s->hashes), free(s->slots);
  memset(s, 0, sizeof *s);
}

static void reindex(kz_strset *s) {
  for (size_t i = 0; i <= s->mask; ++i) s->slots[i] = -1;
  for (int32_t id = 0; id < s->count; ++id) {
    size_t k = (size_t)s->hashes[id] & s->mask;
    while (s->slots[k] >= 0) k = (k + 1) & s->mask;
    s->slots[k] = id;
  }
}

static kz_status grow(kz_strset *s) {
  int32_t cap = s->cap ? s->cap * 2 : 64;
  char **keys = realloc(s->keys, (size_t)cap * sizeof *keys);
  if (keys) s->keys = keys;
  uint64_t *hashes = keys ? realloc(s->hashes, (size_t)cap * sizeof *hashes) : NULL;
  if (hashes) s->hashes = hashes;
  int32_t *slots = hashes ? malloc((size_t)cap * 2 * sizeof *slots) : NULL;
  if (!slots) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory growing a dictionary");
  free(s->slots);
  s->slots = slots;
  s->cap = cap;
  s->mask = (size_t)cap * 2 - 1; /* load factor at most one half */
  reindex(s);
  return KZ_OK;
}

int32_t kz_strset_find(const kz_strset *s, const char *str, size_t len) {
  if (!s->count) return -1;
  uint64_t h = kz_fnv1a(str, len);
  for (size_t k = (size_t)h & s->mask; s->slots[k] >= 0; k = (k + 1) & s->mask) {
    int32_t id = s->slots[k];
    if (s->hashes[id] == h && !strncmp(s->keys[id], str, len) && s->keys[id][len] == '\0')
      return id;
  }
  return -1;
}

kz_status kz_strset_add(kz_strset *s, const char *str, size_t len, int32_t *id) {
  int32_t found = kz_strset_find(s, str, len);
  if (found >= 0) {
    *id = found;
    return KZ_OK;
  }
  if (s->count == s->cap) KZ_TRY(grow(s));
  char *copy = malloc(len + 1);
  if (!copy) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  memcpy(copy, str, len);
  copy[len] = '\0';
  int32_t n = s->count++;
  s->keys[n] = copy;
  s->hashes[n] = kz_fnv1a(str, len);
  size_t k = (size_t)s->hashes[n] & s->mask;
  while (s->slots[k] >= 0) k = (k + 1) & s->mask;
  s->slots[k] = n;
  *id = n;
  return KZ_OK;
}

static const kz_strset *sort_ctx; /* qsort has no context argument in C11 */

static int cmp_ids(const void *a, const void *b) {
  return strcmp(sort_ctx->keys[*(const int32_t *)a], sort_ctx->keys[*(const int32_t *)b]);
}

kz_status kz_strset_sort(kz_strset *s, int32_t **old_to_new) {
  int32_t n = s->count;
  int32_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
  int32_t *map = malloc((size_t)(n ? n : 1) * sizeof *map);
  char **keys = malloc((size_t)(n ? n : 1) * sizeof *keys);
  uint64_t *hashes = malloc((size_t)(n ? n : 1) * sizeof *hashes);
  if (!order || !map || !keys || !hashes) {
    free(order), free(map), free(keys), free(hashes);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory sorting a dictionary");
  }
  for (int32_t i = 0; i < n; ++i) order[i] = i;
  sort_ctx = s; /* import runs on one thread */
  qsort(order, (size_t)n, sizeof *order, cmp_ids);
  for (int32_t i = 0; i < n; ++i) {
    keys[i] = s->keys[order[i]];
    hashes[i] = s->hashes[order[i]];
    map[order[i]] = i;
  }
  memcpy(s->keys, keys, (size_t)n * sizeof *keys);
  memcpy(s->hashes, hashes, (size_t)n * sizeof *hashes);
  if (n) reindex(s);
  free(order), free(keys), free(hashes);
  if (old_to_new)
    *old_to_new = map;
  else
    free(map);
  return KZ_OK;
}
