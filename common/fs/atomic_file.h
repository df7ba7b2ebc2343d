/* The one way kaizen writes an output file: write NAME.tmp, fsync it, rename
 * it over NAME, fsync the directory. A reader (or a crash) therefore sees the
 * old file or the complete new one, never a half-written file under the final
 * name, and a failed write leaves nothing behind: the .tmp is removed. It is
 * in common/ because every layer that writes files (the job-config parser,
 * data, models, engine, the CLI) must reach it. */
#ifndef KZ_COMMON_FS_ATOMIC_FILE_H
#define KZ_COMMON_FS_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "kaizen.h"

/* An output in progress: write through f, then kz_atomic_file_finish. */
typedef struct kz_atomic_file {
  FILE *f;
  char *tmp;  /* path + ".tmp" */
  char *path; /* the final name */
} kz_atomic_file;

/* Creates path.tmp (truncating a leftover of a killed write). On failure
 * nothing is open and *a needs no finish. */
kz_status kz_atomic_file_open(kz_atomic_file *a, const char *path);

/* Ends the output. When st is KZ_OK and every write and the close succeeded,
 * commits (kz_fs_commit) and returns KZ_OK; otherwise removes the .tmp and
 * returns st, or the write error when st was KZ_OK. Always frees *a. */
kz_status kz_atomic_file_finish(kz_atomic_file *a, kz_status st);

/* fsync the file, rename tmp -> final, fsync the directory holding it. For
 * writers that produce the .tmp themselves (HDF5 shards). */
kz_status kz_fs_commit(const char *tmp_path, const char *final_path);
/* fsync a directory, so an unlink or rename in it is durable. */
kz_status kz_fs_sync_dir(const char *dir);
/* Writes len bytes to path through a kz_atomic_file. */
kz_status kz_fs_write_atomic(const char *path, const void *data, size_t len);

#endif
