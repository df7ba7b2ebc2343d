#define _POSIX_C_SOURCE 200809L
#include "data/import/csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/import/limits.h"
#include "kernels/core/error.h"

enum { KZ_CSV_BUF = 1 << 20 };

struct kz_csv {
  char *path;
  FILE *f;
  uint64_t size;
  unsigned char *buf;
  size_t pos, len;
  int at_eof;
  int64_t line, record_line;
  char *rec; /* fields back to back, each NUL-terminated */
  size_t rec_len, rec_cap;
  size_t *off;
  int n_fields, off_cap;
};

kz_status kz_csv_open(const char *path, kz_csv **out) {
  *out = NULL;
  kz_csv *c = calloc(1, sizeof *c);
  if (!c) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  c->path = strdup(path);
  c->buf = malloc(KZ_CSV_BUF);
  c->rec_cap = 4096;
  c->rec = malloc(c->rec_cap);
  c->off_cap = 64;
  c->off = malloc((size_t)c->off_cap * sizeof *c->off);
  if (!c->path || !c->buf || !c->rec || !c->off) {
    kz_csv_close(c);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  c->f = fopen(path, "rb");
  if (!c->f) {
    kz_status st = kz_fail(KZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    kz_csv_close(c);
    return st;
  }
  struct stat sb;
  if (fstat(fileno(c->f), &sb) == 0) c->size = (uint64_t)sb.st_size;
  kz_status st = kz_csv_rewind(c);
  if (st != KZ_OK) {
    kz_csv_close(c);
    return st;
  }
  *out = c;
  return KZ_OK;
}

void kz_csv_close(kz_csv *c) {
  if (!c) return;
  if (c->f) fclose(c->f);
  free(c->path), free(c->buf), free(c->rec), free(c->off);
  free(c);
}

static int refill(kz_csv *c) {
  if (c->at_eof) return 0;
  c->len = fread(c->buf, 1, KZ_CSV_BUF, c->f);
  c->pos = 0;
  if (c->len == 0) c->at_eof = 1;
  return c->len > 0;
}

kz_status kz_csv_rewind(kz_csv *c) {
  if (fseek(c->f, 0, SEEK_SET) != 0)
    return kz_fail(KZ_ERR_IO, "%s: cannot rewind: %s", c->path, strerror(errno));
  c->at_eof = 0;
  c->pos = c->len = 0;
  c->line = 1;
  refill(c);
  if (c->len >= 3 && c->buf[0] == 0xEF && c->buf[1] == 0xBB && c->buf[2] == 0xBF) c->pos = 3;
  return KZ_OK;
}

static inline int peek(kz_csv *c) {
  if (c->pos == c->len && !refill(c)) return -1;
  return c->buf[c->pos];
}

static kz_status grow_rec(kz_csv *c, size_t need) {
  if (c->rec_len + need <= c->rec_cap) return KZ_OK;
  /* the record holds one NUL per field besides the file's bytes, so the cap
   * on the buffer is a little above the cap on the record */
  size_t limit = KZ_IMPORT_MAX_RECORD_BYTES + (size_t)KZ_IMPORT_MAX_COLUMNS + 2;
  if (c->rec_len + need > limit)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: record longer than %zu bytes (64 MiB, the most one record may hold; "
                   "an unclosed quote or a file that is not CSV?)",
                   c->path, (long long)c->record_line, KZ_IMPORT_MAX_RECORD_BYTES);
  size_t cap = c->rec_cap * 2;
  while (cap < c->rec_len + need) cap *= 2;
  if (cap > limit) cap = limit;
  char *r = realloc(c->rec, cap);
  if (!r)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s:%lld: record too large", c->path,
                   (long long)c->record_line);
  c->rec = r, c->rec_cap = cap;
  return KZ_OK;
}

static kz_status start_field(kz_csv *c) {
  if (c->n_fields >= KZ_IMPORT_MAX_COLUMNS)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: more than %d fields in one record (the most a file may have)", c->path,
                   (long long)c->record_line, KZ_IMPORT_MAX_COLUMNS);
  if (c->n_fields == c->off_cap) {
    size_t *o = realloc(c->off, (size_t)c->off_cap * 2 * sizeof *o);
    if (!o) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", c->path);
    c->off = o, c->off_cap *= 2;
  }
  c->off[c->n_fields++] = c->rec_len;
  return KZ_OK;
}

/* Appends bytes of an unquoted run up to a delimiter; returns the delimiter
 * (',', '\n', '\r', '"' or -1). The fast path copies whole spans. */
static int copy_plain(kz_csv *c, kz_status *st) {
  for (;;) {
    if (c->pos == c->len && !refill(c)) return -1;
    const unsigned char *p = c->buf + c->pos, *end = c->buf + c->len, *q = p;
    while (q < end && *q != ',' && *q != '\n' && *q != '\r' && *q != '"') ++q;
    size_t n = (size_t)(q - p);
    if (n) {
      if ((*st = grow_rec(c, n + 1)) != KZ_OK) return -1;
      memcpy(c->rec + c->rec_len, p, n);
      c->rec_len += n;
      c->pos += n;
    }
    if (q < end) return *q;
  }
}

static kz_status put(kz_csv *c, char ch) {
  KZ_TRY(grow_rec(c, 2));
  c->rec[c->rec_len++] = ch;
  return KZ_OK;
}

kz_status kz_csv_next(kz_csv *c, int *eof) {
  *eof = 0;
  c->n_fields = 0;
  c->rec_len = 0;
  int ch;
  /* skip blank lines */
  while ((ch = peek(c)) == '\n' || ch == '\r') {
    c->pos++;
    if (ch == '\r' && peek(c) == '\n') c->pos++;
    c->line++;
  }
  if (ch < 0) {
    *eof = 1;
    return KZ_OK;
  }
  c->record_line = c->line;
  kz_status st = KZ_OK;
  for (;;) { /* one field per iteration */
    KZ_TRY(start_field(c));
    ch = peek(c);
    if (ch == '"') {
      c->pos++;
      int64_t open_line = c->line;
      for (;;) {
        ch = peek(c);
        if (ch < 0)
          return kz_fail(KZ_ERR_FORMAT,
                         "%s:%lld: quoted field never closed (end of file on line %lld)", c->path,
                         (long long)open_line, (long long)c->line);
        c->pos++;
        if (ch == '"') {
          if (peek(c) == '"') {
            c->pos++;
            KZ_TRY(put(c, '"'));
            continue;
          }
          break;
        }
        if (ch == '\n' || (ch == '\r' && peek(c) != '\n')) c->line++;
        KZ_TRY(put(c, (char)ch));
      }
      ch = peek(c);
      if (ch != ',' && ch != '\n' && ch != '\r' && ch >= 0)
        return kz_fail(KZ_ERR_FORMAT, "%s:%lld: field %d: unexpected '%c' after a closing quote",
                       c->path, (long long)c->line, c->n_fields, ch);
    } else {
      /* a quote inside an unquoted field is kept as a literal character */
      while ((ch = copy_plain(c, &st)) == '"') {
        c->pos++;
        KZ_TRY(put(c, '"'));
      }
      if (st != KZ_OK) return st;
    }
    KZ_TRY(grow_rec(c, 1));
    c->rec[c->rec_len++] = '\0';
    if (ch == ',') {
      c->pos++;
      continue;
    }
    if (ch == '\r') {
      c->pos++;
      if (peek(c) == '\n') c->pos++;
    } else if (ch == '\n')
      c->pos++;
    if (ch >= 0) c->line++;
    return KZ_OK;
  }
}

int kz_csv_fields(const kz_csv *c) {
  return c->n_fields;
}
const char *kz_csv_field(const kz_csv *c, int i) {
  return c->rec + c->off[i];
}
size_t kz_csv_field_len(const kz_csv *c, int i) {
  size_t end = i + 1 < c->n_fields ? c->off[i + 1] : c->rec_len;
  return end - c->off[i] - 1;
}
int64_t kz_csv_line(const kz_csv *c) {
  return c->record_line;
}
const char *kz_csv_path(const kz_csv *c) {
  return c->path;
}
uint64_t kz_csv_size(const kz_csv *c) {
  return c->size;
}
