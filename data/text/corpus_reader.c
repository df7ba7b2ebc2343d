/* Streaming corpus reader: memory grows with the longest record, not with
 * the file. CSV follows RFC 4180 (quoted fields may hold commas, doubled
 * quotes and newlines). */
#include "data/text/corpus_reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"

typedef struct buf {
  char *p;
  size_t n, cap;
} buf;

static int buf_push(buf *b, char c) {
  if (b->n + 1 >= b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    char *q = realloc(b->p, cap);
    if (!q) return 0;
    b->p = q;
    b->cap = cap;
  }
  b->p[b->n++] = c;
  b->p[b->n] = '\0';
  return 1;
}

static kz_status read_lines(FILE *f, const char *path, kz_corpus_fn fn, void *user) {
  buf line = {0};
  kz_status st = KZ_OK;
  int c;
  long line_no = 1;
  while (st == KZ_OK) {
    line.n = 0;
    while ((c = getc(f)) != EOF && c != '\n') {
      if (!buf_push(&line, (char)c)) {
        st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s:%ld: no memory for the line", path, line_no);
        break;
      }
    }
    if (st != KZ_OK || (c == EOF && line.n == 0)) break;
    size_t n = line.n;
    if (n && line.p[n - 1] == '\r') --n;
    st = fn(user, line.p ? line.p : "", n);
    ++line_no;
    if (c == EOF) break;
  }
  free(line.p);
  return st;
}

/* Reads one CSV record into fields (each NUL-terminated inside b, starts in
 * *starts). Returns 1 on a record, 0 at end of file, -1 on error. */
static int read_record(FILE *f, const char *path, long *line_no, buf *b, size_t **starts,
                       size_t *n_fields, size_t *cap_fields) {
  b->n = 0;
  *n_fields = 0;
  int c = getc(f);
  if (c == EOF) return 0;
  long first_line = *line_no;
  for (;;) {
    if (*n_fields == *cap_fields) {
      size_t cap = *cap_fields ? *cap_fields * 2 : 16;
      size_t *s = realloc(*starts, cap * sizeof *s);
      if (!s) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: no memory", path), -1;
      *starts = s;
      *cap_fields = cap;
    }
    (*starts)[(*n_fields)++] = b->n;
    if (c == '"') {
      for (;;) {
        c = getc(f);
        if (c == EOF) {
          kz_fail(KZ_ERR_FORMAT, "%s:%ld: quoted field never closed", path, first_line);
          return -1;
        }
        if (c == '"') {
          c = getc(f);
          if (c != '"') break;
        }
        if (c == '\n') ++*line_no;
        if (!buf_push(b, (char)c)) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: no memory", path), -1;
      }
    } else {
      while (c != ',' && c != '\n' && c != EOF) {
        if (!buf_push(b, (char)c)) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: no memory", path), -1;
        c = getc(f);
      }
    }
    if (b->n && b->p[b->n - 1] == '\r' && (c == '\n' || c == EOF)) --b->n;
    if (!buf_push(b, '\0')) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: no memory", path), -1;
    if (c == ',') {
      c = getc(f);
      continue;
    }
    if (c == '\n') ++*line_no;
    if (c == '\n' || c == EOF) return 1;
    if (c == '\r') {
      c = getc(f);
      if (c == '\n') {
        ++*line_no;
        return 1;
      }
    }
    kz_fail(KZ_ERR_FORMAT, "%s:%ld: unexpected character after a quoted field", path, *line_no);
    return -1;
  }
}

static kz_status read_csv(FILE *f, const char *path, const char *column, kz_corpus_fn fn,
                          void *user) {
  buf b = {0};
  size_t *starts = NULL, n_fields = 0, cap_fields = 0;
  long line_no = 1;
  kz_status st = KZ_OK;
  int r = read_record(f, path, &line_no, &b, &starts, &n_fields, &cap_fields);
  size_t col = 0, header_fields = n_fields;
  if (r <= 0) {
    st = r < 0 ? KZ_ERR_FORMAT : kz_fail(KZ_ERR_FORMAT, "%s: empty CSV file (no header)", path);
  } else {
    for (col = 0; col < n_fields && strcmp(b.p + starts[col], column); ++col) {
    }
    if (col == n_fields) st = kz_fail(KZ_ERR_NOT_FOUND, "%s:1: no column \"%s\"", path, column);
  }
  while (st == KZ_OK) {
    long record_line = line_no;
    r = read_record(f, path, &line_no, &b, &starts, &n_fields, &cap_fields);
    if (r == 0) break;
    if (r < 0) {
      st = KZ_ERR_FORMAT;
      break;
    }
    if (n_fields == 1 && b.p[starts[0]] == '\0') continue; /* blank line */
    if (n_fields != header_fields) {
      st = kz_fail(KZ_ERR_FORMAT, "%s:%ld: %zu fields, the header has %zu", path, record_line,
                   n_fields, header_fields);
      break;
    }
    const char *text = b.p + starts[col];
    st = fn(user, text, strlen(text));
  }
  free(b.p);
  free(starts);
  return st;
}

kz_status kz_corpus_read(const char *path, const char *column, kz_corpus_fn fn, void *user) {
  FILE *f = fopen(path, "rb");
  if (!f) return kz_fail(KZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  kz_status st = column ? read_csv(f, path, column, fn, user) : read_lines(f, path, fn, user);
  if (st == KZ_OK && ferror(f)) st = kz_fail(KZ_ERR_IO, "%s: read error", path);
  fclose(f);
  return st;
}
