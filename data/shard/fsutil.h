/* File-system helpers of the data layer and everything above it. The
 * "write NAME.tmp, fsync, rename" protocol itself (kz_fs_commit,
 * kz_fs_write_atomic, kz_atomic_file) is in common/fs/atomic_file.h, included
 * here so users of this header keep getting it. */
#ifndef KZ_DATA_SHARD_FSUTIL_H
#define KZ_DATA_SHARD_FSUTIL_H

#include <stddef.h>

#include "common/fs/atomic_file.h"
#include "kaizen.h"

/* mkdir -p for one level; *created is set to 1 when this call made it. */
kz_status kz_fs_ensure_dir(const char *dir, int *created);
int kz_fs_exists(const char *path);
/* KZ_OK when path is a regular file (after symlinks); else an error naming
 * it and `what` it should be ("model file"): a directory or a device opens
 * with fopen and reports a nonsense size (LONG_MAX for some directories). */
kz_status kz_fs_check_regular(const char *path, const char *what);
/* Reads a whole regular file into *data (malloc'ed, len bytes plus a NUL the
 * length does not count); the size comes from the opened file itself. */
kz_status kz_fs_read_all(const char *path, const char *what, unsigned char **data, size_t *len);
/* For an input that must be a file: a directory is an error saying so (a
 * directory opens, then reads as empty, which would read as "the file is
 * empty"). A path that does not exist passes: the caller's open reports it. */
kz_status kz_fs_check_not_dir(const char *path);
/* Before writing an output file (flag: the option naming it, "--out"):
 * refuses when out is one of the inputs (the same file, by device and inode,
 * whatever the spelling; NULL entries are skipped), when it is a directory,
 * and when it exists and overwrite is 0. Call it before reading anything
 * large, so a refused command costs nothing. */
kz_status kz_fs_check_output(const char *flag, const char *out, const char *const *inputs,
                             int n_inputs, int overwrite);
/* 1 when both paths exist and are the same file or directory (device and
 * inode), however spelt. */
int kz_fs_same_file(const char *a, const char *b);
/* snprintf into a heap string ("%s/%s"); NULL when out of memory. */
char *kz_path_join(const char *dir, const char *name);

#endif
