#include "fuzz_util.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/shard/hash64.h"
#include "kaizen.h"

static char scratch[64];

/* Removes the scratch directory and whatever a parser may have left in it
 * (a parser leaving files is checked by the tests, not here). */
static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      if (unlink(path) != 0) remove_tree(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

void kz_fuzz_remove(const char *dir) {
  remove_tree(dir);
}

static void cleanup(void) {
  if (scratch[0]) remove_tree(scratch);
}

const char *kz_fuzz_dir(void) {
  if (!scratch[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/kz-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
      perror("kz_fuzz_dir: mkdtemp");
      abort();
    }
    atexit(cleanup);
  }
  return scratch;
}

const char *kz_fuzz_write(const char *name, const uint8_t *data, size_t size) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", kz_fuzz_dir(), name);
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror(path);
    abort();
  }
  return path;
}

char *kz_fuzz_strndup(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) abort();
  if (size) memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

uint8_t *kz_fuzz_fix_checksum(const uint8_t *data, size_t size) {
  if (size < 8) return NULL;
  uint8_t *copy = malloc(size);
  if (!copy) abort();
  memcpy(copy, data, size);
  kz_hash64 h;
  kz_hash64_init(&h);
  kz_hash64_update(&h, copy, size - 8);
  uint64_t sum = kz_hash64_final(&h);
  for (int i = 0; i < 8; ++i) copy[size - 8 + i] = (uint8_t)(sum >> (8 * i)); /* little-endian */
  /* KZ_FUZZ_SAVE_FIXED=FILE keeps the input as the parser saw it: a crash
   * input turned into a file the kaizen CLI reads (tests/bad_inputs/fuzz). */
  const char *keep = getenv("KZ_FUZZ_SAVE_FIXED");
  FILE *f = keep ? fopen(keep, "wb") : NULL;
  if (f) {
    fwrite(copy, 1, size, f);
    fclose(f);
  }
  return copy;
}

int kz_fuzz_ok(const char *what, int status) {
  static int verbose = -1;
  if (verbose < 0) verbose = getenv("KZ_FUZZ_VERBOSE") != NULL;
  if (verbose) fprintf(stderr, "kz_fuzz: %s: %s\n", what, status == KZ_OK ? "ok" : kz_last_error());
  return status == KZ_OK;
}

void kz_fuzz_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("kz_fuzz: property violated: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}
