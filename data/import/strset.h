/* A set of distinct strings with dense ids: the category dictionaries built
 * during import. Open addressing on FNV-1a hashes. */
#ifndef KZ_DATA_IMPORT_STRSET_H
#define KZ_DATA_IMPORT_STRSET_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

typedef struct kz_strset {
  char **keys;
  uint64_t *hashes;
  int32_t count, cap;
  int32_t *slots; /* ids, -1 = empty */
  size_t mask;
} kz_strset;

void kz_strset_init(kz_strset *s);
void kz_strset_free(kz_strset *s);
/* Id of the string, inserting it when new. */
kz_status kz_strset_add(kz_strset *s, const char *str, size_t len, int32_t *id);
/* Id or -1. */
int32_t kz_strset_find(const kz_strset *s, const char *str, size_t len);
/* Renumbers ids in byte order of the strings; old_to_new[old] = new when not NULL
 * (count entries, caller frees). */
kz_status kz_strset_sort(kz_strset *s, int32_t **old_to_new);

#endif
