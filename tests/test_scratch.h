/* A scratch directory for tests that write files (define _XOPEN_SOURCE 700
 * before any include, for nftw). */
#ifndef KZ_TESTS_TEST_SCRATCH_H
#define KZ_TESTS_TEST_SCRATCH_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static inline int kz_test_remove_one(const char *path, const struct stat *sb, int flag,
                                     struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* Every run starts from an empty scratch directory: what an earlier run left
 * (a directory an export must not find) would change the outcome. */
static inline void kz_test_fresh_dir(const char *dir) {
  nftw(dir, kz_test_remove_one, 16, FTW_DEPTH | FTW_PHYS);
  mkdir(dir, 0777);
}

/* dir/name, in one of 4 rotating buffers (so a call may take two or three). */
static inline const char *kz_test_path(const char *dir, const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

#endif
