#define _POSIX_C_SOURCE 200809L
#include "common/fs/numbered_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"

static int cmp_desc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* The number of name = prefix digits suffix, or -1. */
static int64_t number_of(const char *name, const char *prefix, const char *suffix) {
  size_t lp = strlen(prefix), ls = strlen(suffix), ln = strlen(name);
  if (ln <= lp + ls || strncmp(name, prefix, lp) || strcmp(name + ln - ls, suffix)) return -1;
  int64_t v = 0;
  for (size_t i = lp; i < ln - ls; ++i) {
    if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

kz_status kz_fs_list_numbered(const char *dir, const char *prefix, const char *suffix,
                              int64_t **nums, int *n) {
  *nums = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT) return KZ_OK;
    return kz_fail(KZ_ERR_IO, "%s: cannot list checkpoints: %s", dir, strerror(errno));
  }
  int cap = 0;
  struct dirent *e;
  kz_status st = KZ_OK;
  while (st == KZ_OK && (e = readdir(d)) != NULL) {
    int64_t v = number_of(e->d_name, prefix, suffix);
    if (v < 0) continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 16;
      int64_t *q = realloc(*nums, (size_t)cap * sizeof *q);
      if (!q) {
        st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
        break;
      }
      *nums = q;
    }
    (*nums)[(*n)++] = v;
  }
  closedir(d);
  if (*n > 1) qsort(*nums, (size_t)*n, sizeof **nums, cmp_desc);
  return st;
}
