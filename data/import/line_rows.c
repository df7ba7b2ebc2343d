/* .txt and .jsonl row sources (rows.h). Lines are read one at a time, so
 * memory is one line plus one record whatever the file's length. */
#define _POSIX_C_SOURCE 200809L
#include "data/import/line_rows.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/import/limits.h"
#include "kernels/core/error.h"

typedef struct field_buf {
  char *s;
  size_t len, cap;
} field_buf;

struct kz_line_rows {
  char *path;
  FILE *f;
  int jsonl;
  uint64_t size;
  char *line;
  size_t line_cap;
  int64_t line_no, record_line;
  int header_pending;
  int n_fields;
  char **names;           /* column names (jsonl: the first object's keys) */
  field_buf *fields;      /* jsonl values of the current record */
  unsigned char *as_json; /* jsonl: per column, keep the value's JSON text */
  const char *txt;        /* txt: the current line */
  size_t txt_len;
};

static kz_status set_field(kz_line_rows *r, field_buf *b, const char *s, size_t n) {
  if (n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 32;
    while (cap < n + 1) cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", r->path);
    b->s = p, b->cap = cap;
  }
  memcpy(b->s, s, n);
  b->s[n] = '\0';
  b->len = n;
  return KZ_OK;
}

/* Reads one line without its end (LF, CRLF); *eof at the end of the file.
 * A line longer than KZ_IMPORT_MAX_RECORD_BYTES is almost certainly not a
 * record (a binary file, a JSON document that is not line-delimited): it is
 * refused as soon as the cap is passed, so memory stays bounded whatever the
 * file holds (getline would first read all of it). */
static kz_status read_line(kz_line_rows *r, size_t *len, int *eof) {
  size_t n = 0;
  int ch = EOF;
  errno = 0;
  while ((ch = getc_unlocked(r->f)) != EOF) {
    if (n + 2 > r->line_cap) {
      if (n >= KZ_IMPORT_MAX_RECORD_BYTES + 2)
        return kz_fail(KZ_ERR_FORMAT,
                       "%s:%lld: line longer than %zu bytes (64 MiB, the most one "
                       "line may hold)",
                       r->path, (long long)r->line_no + 1, KZ_IMPORT_MAX_RECORD_BYTES);
      size_t cap = r->line_cap ? r->line_cap * 2 : 4096;
      if (cap > KZ_IMPORT_MAX_RECORD_BYTES + 4) cap = KZ_IMPORT_MAX_RECORD_BYTES + 4;
      char *grown = realloc(r->line, cap);
      if (!grown) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", r->path);
      r->line = grown, r->line_cap = cap;
    }
    r->line[n++] = (char)ch;
    if (ch == '\n') break;
  }
  if (ferror(r->f))
    return kz_fail(KZ_ERR_IO, "%s:%lld: read error: %s", r->path, (long long)r->line_no + 1,
                   strerror(errno));
  if (n == 0) {
    *eof = 1;
    return KZ_OK;
  }
  r->line_no++;
  /* the end (\r\n) may take the line just past the cap */
  if (n - (r->line[n - 1] == '\n') - (n > 1 && r->line[n - 2] == '\r') > KZ_IMPORT_MAX_RECORD_BYTES)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: line longer than %zu bytes (64 MiB, the most one line "
                   "may hold)",
                   r->path, (long long)r->line_no, KZ_IMPORT_MAX_RECORD_BYTES);
  const char *nul = memchr(r->line, '\0', n);
  if (nul)
    return kz_fail(KZ_ERR_FORMAT, "%s:%lld: NUL byte at byte %zu of the line (a binary file?)",
                   r->path, (long long)r->line_no, (size_t)(nul - r->line) + 1);
  if (n > 0 && r->line[n - 1] == '\n') n--;
  if (n > 0 && r->line[n - 1] == '\r') n--;
  r->line[n] = '\0';
  /* a UTF-8 byte-order mark on the first line is not data */
  if (r->line_no == 1 && n >= 3 && !memcmp(r->line, "\xEF\xBB\xBF", 3)) {
    memmove(r->line, r->line + 3, (size_t)n - 2);
    n -= 3;
  }
  *len = (size_t)n;
  *eof = 0;
  return KZ_OK;
}

static int is_blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (s[i] != ' ' && s[i] != '\t') return 0;
  return 1;
}

/* Counts the values of a JSON line before jansson builds them (limits.h):
 * each ',' '[' or '{' outside strings starts at most one more value. */
static kz_status check_json_size(const kz_line_rows *r, const char *s, size_t n) {
  size_t values = 0;
  int in_string = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i; /* the escaped character cannot end the string */
      else if (c == '"')
        in_string = 0;
    } else if (c == '"') {
      in_string = 1;
    } else if ((c == ',' || c == '[' || c == '{') && ++values > KZ_IMPORT_MAX_JSON_VALUES) {
      return kz_fail(KZ_ERR_FORMAT,
                     "%s:%lld: more than %d JSON values in one line (arrays and objects "
                     "included); the most a line may hold",
                     r->path, (long long)r->line_no, KZ_IMPORT_MAX_JSON_VALUES);
    }
  }
  return KZ_OK;
}

/* Next non-blank line parsed as a JSON object; *obj NULL at the end. */
static kz_status next_object(kz_line_rows *r, json_t **obj) {
  *obj = NULL;
  for (;;) {
    size_t len = 0;
    int eof = 0;
    KZ_TRY(read_line(r, &len, &eof));
    if (eof) return KZ_OK;
    if (is_blank(r->line, len)) continue;
    KZ_TRY(check_json_size(r, r->line, len));
    json_error_t err;
    json_t *v = json_loadb(r->line, len, JSON_REJECT_DUPLICATES, &err);
    if (!v && strstr(err.text, "\\u0000")) /* jansson refuses it unless told otherwise */
      return kz_fail(
          KZ_ERR_FORMAT,
          "%s:%lld: near byte %d: a string holds \\u0000 (a NUL character), which would cut "
          "the value short; kaizen does not import it",
          r->path, (long long)r->line_no, err.position);
    if (!v && strstr(err.text, "unable to decode byte"))
      return kz_fail(KZ_ERR_FORMAT,
                     "%s:%lld: near byte %d: invalid UTF-8 (%s); kaizen reads UTF-8 text only "
                     "(convert the file, e.g. iconv -f latin1 -t utf-8)",
                     r->path, (long long)r->line_no, err.position, err.text);
    if (!v)
      return kz_fail(KZ_ERR_FORMAT, "%s:%lld: column %d: invalid JSON: %s", r->path,
                     (long long)r->line_no, err.column, err.text);
    if (!json_is_object(v)) {
      json_decref(v);
      return kz_fail(KZ_ERR_FORMAT, "%s:%lld: each line must be a JSON object", r->path,
                     (long long)r->line_no);
    }
    r->record_line = r->line_no;
    *obj = v;
    return KZ_OK;
  }
}

static kz_status read_header(kz_line_rows *r) {
  if (!r->jsonl) {
    r->n_fields = 1;
    r->names = calloc(1, sizeof *r->names);
    if (!r->names || !(r->names[0] = strdup("text")))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", r->path);
    return KZ_OK;
  }
  json_t *obj;
  KZ_TRY(next_object(r, &obj));
  if (!obj) return kz_fail(KZ_ERR_FORMAT, "%s: no JSON object in the file", r->path);
  size_t n = json_object_size(obj);
  if (n > KZ_IMPORT_MAX_COLUMNS) {
    json_decref(obj);
    return kz_fail(KZ_ERR_FORMAT, "%s:%lld: the first object has %zu keys; at most %d columns",
                   r->path, (long long)r->record_line, n, KZ_IMPORT_MAX_COLUMNS);
  }
  r->names = calloc(n ? n : 1, sizeof *r->names);
  r->fields = calloc(n ? n : 1, sizeof *r->fields);
  r->as_json = calloc(n ? n : 1, 1);
  kz_status st =
      r->names && r->fields && r->as_json ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  const char *key;
  json_t *val;
  json_object_foreach(obj, key, val) {
    if (st != KZ_OK) break;
    (void)val;
    if (!(r->names[r->n_fields] = strdup(key)))
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", r->path);
    else
      r->n_fields++;
  }
  json_decref(obj);
  if (st == KZ_OK && r->n_fields == 0)
    st = kz_fail(KZ_ERR_FORMAT, "%s:%lld: the first object has no keys", r->path,
                 (long long)r->record_line);
  return st;
}

kz_status kz_line_rows_open(const char *path, int jsonl, kz_line_rows **out) {
  *out = NULL;
  kz_line_rows *r = calloc(1, sizeof *r);
  if (!r || !(r->path = strdup(path))) {
    free(r);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  r->jsonl = jsonl;
  kz_status st = KZ_OK;
  if (!(r->f = fopen(path, "rb")))
    st = kz_fail(KZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (st == KZ_OK && fstat(fileno(r->f), &sb) == 0) r->size = (uint64_t)sb.st_size;
  if (st == KZ_OK) st = read_header(r);
  if (st == KZ_OK) st = kz_line_rows_rewind(r);
  if (st != KZ_OK) {
    kz_line_rows_close(r);
    return st;
  }
  *out = r;
  return KZ_OK;
}

void kz_line_rows_close(kz_line_rows *r) {
  if (!r) return;
  if (r->f) fclose(r->f);
  for (int i = 0; i < r->n_fields; ++i) {
    free(r->names[i]);
    if (r->fields) free(r->fields[i].s);
  }
  free(r->names);
  free(r->fields);
  free(r->as_json);
  free(r->line);
  free(r->path);
  free(r);
}

kz_status kz_line_rows_rewind(kz_line_rows *r) {
  if (fseek(r->f, 0, SEEK_SET) != 0)
    return kz_fail(KZ_ERR_IO, "%s: cannot rewind: %s", r->path, strerror(errno));
  r->line_no = r->record_line = 0;
  r->header_pending = 1;
  return KZ_OK;
}

static int find_column(const kz_line_rows *r, const char *key) {
  for (int i = 0; i < r->n_fields; ++i)
    if (!strcmp(r->names[i], key)) return i;
  return -1;
}

static kz_status scalar_text(kz_line_rows *r, field_buf *b, const char *key, json_t *v) {
  char num[64];
  switch (json_typeof(v)) {
  case JSON_STRING:
    return set_field(r, b, json_string_value(v), json_string_length(v));
  case JSON_INTEGER:
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return set_field(r, b, num, strlen(num));
  case JSON_REAL:
    /* 17 significant digits: the double parses back to the same bits */
    snprintf(num, sizeof num, "%.17g", json_real_value(v));
    return set_field(r, b, num, strlen(num));
  case JSON_TRUE:
    return set_field(r, b, "true", 4);
  case JSON_FALSE:
    return set_field(r, b, "false", 5);
  case JSON_NULL:
    return set_field(r, b, "", 0); /* missing */
  default:
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: key '%s' holds an array or object; only scalar values import", r->path,
                   (long long)r->record_line, key);
  }
}

/* The value as compact JSON (arrays, strings quoted); null stays missing. */
static kz_status json_text(kz_line_rows *r, field_buf *b, json_t *v) {
  if (json_is_null(v)) return set_field(r, b, "", 0);
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!s) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", r->path);
  kz_status st = set_field(r, b, s, strlen(s));
  free(s);
  return st;
}

static kz_status next_jsonl(kz_line_rows *r, int *eof) {
  json_t *obj;
  KZ_TRY(next_object(r, &obj));
  if (!obj) {
    *eof = 1;
    return KZ_OK;
  }
  /* keys the object omits read as empty, i.e. missing */
  kz_status st = KZ_OK;
  for (int i = 0; st == KZ_OK && i < r->n_fields; ++i) st = set_field(r, &r->fields[i], "", 0);
  const char *key;
  json_t *val;
  json_object_foreach(obj, key, val) {
    if (st != KZ_OK) break;
    int c = find_column(r, key);
    if (c < 0) {
      st = kz_fail(KZ_ERR_FORMAT, "%s:%lld: key '%s' is not among the first object's keys", r->path,
                   (long long)r->record_line, key);
      break;
    }
    if (r->as_json[c])
      st = json_text(r, &r->fields[c], val);
    else
      st = scalar_text(r, &r->fields[c], key, val);
    if (st != KZ_OK) break;
  }
  json_decref(obj);
  *eof = 0;
  return st;
}

kz_status kz_line_rows_next(kz_line_rows *r, int *eof) {
  *eof = 0;
  if (r->header_pending) {
    r->header_pending = 0;
    r->record_line = 1;
    return KZ_OK;
  }
  if (r->jsonl) return next_jsonl(r, eof);
  size_t len = 0;
  KZ_TRY(read_line(r, &len, eof));
  r->record_line = r->line_no;
  /* a file with CR-only line ends would otherwise be one long row */
  const char *cr = *eof ? NULL : memchr(r->line, '\r', len);
  if (cr)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: carriage return (CR) at byte %zu inside the line; .txt lines end "
                   "with LF or CRLF (convert CR-only line ends, e.g. with tr '\\r' '\\n')",
                   r->path, (long long)r->line_no, (size_t)(cr - r->line) + 1);
  r->txt = r->line;
  r->txt_len = len;
  return KZ_OK;
}

void kz_line_rows_keep_json(kz_line_rows *r, int i) {
  if (r->jsonl && i >= 0 && i < r->n_fields) r->as_json[i] = 1;
}

int kz_line_rows_fields(const kz_line_rows *r) {
  return r->n_fields;
}

/* The header is the current record until the first line is read. */
static int on_header(const kz_line_rows *r) {
  return r->line_no == 0;
}

const char *kz_line_rows_field(const kz_line_rows *r, int i) {
  if (on_header(r)) return r->names[i];
  return r->jsonl ? r->fields[i].s : r->txt;
}

size_t kz_line_rows_field_len(const kz_line_rows *r, int i) {
  if (on_header(r)) return strlen(r->names[i]);
  return r->jsonl ? r->fields[i].len : r->txt_len;
}

int64_t kz_line_rows_line(const kz_line_rows *r) {
  return r->record_line;
}
uint64_t kz_line_rows_size(const kz_line_rows *r) {
  return r->size;
}
