#define _POSIX_C_SOURCE 200809L
#include "common/fs/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/core/error.h"

static kz_status fsync_path(const char *path, int directory) {
  int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return kz_fail(KZ_ERR_IO, "%s: cannot open to sync: %s", path, strerror(errno));
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  /* Some file systems refuse fsync on directories; the rename is still atomic. */
  if (rc != 0 && !(directory && (err == EINVAL || err == EBADF)))
    return kz_fail(KZ_ERR_IO, "%s: fsync failed: %s", path, strerror(err));
  return KZ_OK;
}

kz_status kz_fs_sync_dir(const char *dir) {
  return fsync_path(dir, 1);
}

kz_status kz_fs_commit(const char *tmp_path, const char *final_path) {
  KZ_TRY(fsync_path(tmp_path, 0));
  if (rename(tmp_path, final_path) != 0)
    return kz_fail(KZ_ERR_IO, "%s: cannot rename to %s: %s", tmp_path, final_path, strerror(errno));
  char *copy = strdup(final_path);
  if (!copy) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", final_path);
  kz_status st = fsync_path(dirname(copy), 1);
  free(copy);
  return st;
}

kz_status kz_atomic_file_open(kz_atomic_file *a, const char *path) {
  memset(a, 0, sizeof *a);
  if (!path) return kz_fail(KZ_ERR_INVALID_ARG, "output file: no path");
  size_t n = strlen(path);
  a->tmp = malloc(n + 5);
  a->path = strdup(path);
  if (!a->tmp || !a->path) {
    free(a->tmp), free(a->path);
    memset(a, 0, sizeof *a);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  memcpy(a->tmp, path, n);
  memcpy(a->tmp + n, ".tmp", 5);
  if (!(a->f = fopen(a->tmp, "wb"))) {
    kz_status st = kz_fail(KZ_ERR_IO, "%s: cannot create: %s", a->tmp, strerror(errno));
    free(a->tmp), free(a->path);
    memset(a, 0, sizeof *a);
    return st;
  }
  /* finish reports errno only when a write or the close set it */
  errno = 0;
  return KZ_OK;
}

kz_status kz_atomic_file_finish(kz_atomic_file *a, kz_status st) {
  if (!a->f) return st;
  int ok = !ferror(a->f);
  ok = (fclose(a->f) == 0) && ok;
  int e = errno; /* why it failed (ENOSPC on a full disk) */
  if (st == KZ_OK && !ok)
    st = kz_fail(KZ_ERR_IO, "%s: write failed%s%s", a->tmp, e ? ": " : "", e ? strerror(e) : "");
  if (st == KZ_OK) st = kz_fs_commit(a->tmp, a->path);
  if (st != KZ_OK) remove(a->tmp); /* no partial output under any name */
  free(a->tmp), free(a->path);
  memset(a, 0, sizeof *a);
  return st;
}

kz_status kz_fs_write_atomic(const char *path, const void *data, size_t len) {
  kz_atomic_file a;
  KZ_TRY(kz_atomic_file_open(&a, path));
  fwrite(data, 1, len, a.f); /* a short write sets the error flag finish checks */
  return kz_atomic_file_finish(&a, KZ_OK);
}
