#define _POSIX_C_SOURCE 200809L
#include "data/shard/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/core/error.h"

kz_status kz_fs_ensure_dir(const char *dir, int *created) {
  if (created) *created = 0;
  struct stat sb;
  if (stat(dir, &sb) == 0) {
    if (!S_ISDIR(sb.st_mode)) return kz_fail(KZ_ERR_IO, "%s: exists and is not a directory", dir);
    return KZ_OK;
  }
  if (mkdir(dir, 0777) == 0) {
    if (created) *created = 1;
    return KZ_OK;
  }
  if (errno != ENOENT)
    return kz_fail(KZ_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
  /* missing parents are created too (like mkdir -p); they are left in place
   * if the output later fails, only the output directory itself is removed */
  char *parent = strdup(dir);
  if (!parent) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
  size_t n = strlen(parent);
  while (n > 1 && parent[n - 1] == '/') parent[--n] = '\0';
  char *slash = strrchr(parent, '/');
  kz_status st = KZ_OK;
  if (slash && slash > parent) {
    *slash = '\0';
    st = kz_fs_ensure_dir(parent, NULL);
  }
  free(parent);
  if (st != KZ_OK) return st;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return kz_fail(KZ_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
  if (created) *created = 1;
  return KZ_OK;
}

kz_status kz_fs_check_not_dir(const char *path) {
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: is a directory, not a file", path);
  return KZ_OK;
}

int kz_fs_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

kz_status kz_fs_check_output(const char *flag, const char *out, const char *const *inputs,
                             int n_inputs, int overwrite) {
  struct stat so;
  if (stat(out, &so) != 0) return KZ_OK; /* a new file */
  for (int i = 0; i < n_inputs; ++i)
    if (kz_fs_same_file(out, inputs[i]))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "%s %s is an input of this command (%s); choose another "
                     "file",
                     flag, out, inputs[i]);
  if (S_ISDIR(so.st_mode)) return kz_fail(KZ_ERR_INVALID_ARG, "%s %s is a directory", flag, out);
  if (!overwrite)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s %s exists; pass --overwrite to replace it", flag, out);
  return KZ_OK;
}

int kz_fs_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static kz_status not_regular(const char *path, const char *what, const struct stat *sb) {
  return kz_fail(KZ_ERR_IO, "%s: is %s, not a %s", path,
                 S_ISDIR(sb->st_mode) ? "a directory" : "not a regular file", what);
}

kz_status kz_fs_check_regular(const char *path, const char *what) {
  struct stat sb;
  if (stat(path, &sb) != 0)
    return kz_fail(KZ_ERR_IO, "%s: cannot open %s: %s", path, what, strerror(errno));
  return S_ISREG(sb.st_mode) ? KZ_OK : not_regular(path, what, &sb);
}

kz_status kz_fs_read_all(const char *path, const char *what, unsigned char **data, size_t *len) {
  *data = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return kz_fail(KZ_ERR_IO, "%s: cannot open %s: %s", path, what, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    kz_status st = fstat(fd, &sb) != 0
                       ? kz_fail(KZ_ERR_IO, "%s: cannot stat %s: %s", path, what, strerror(errno))
                       : not_regular(path, what, &sb);
    close(fd);
    return st;
  }
  size_t size = (size_t)sb.st_size;
  unsigned char *buf = malloc(size + 1);
  if (!buf) {
    close(fd);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory reading %s (%zu bytes)", path, what,
                   size);
  }
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got != size) {
    free(buf);
    return kz_fail(KZ_ERR_IO, "%s: short read of %s (%zu of %zu bytes)", path, what, got, size);
  }
  buf[size] = 0;
  *data = buf;
  *len = size;
  return KZ_OK;
}

char *kz_path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}
