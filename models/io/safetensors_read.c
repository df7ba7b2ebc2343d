/* safetensors reader: validates the whole header at open (safetensors.h),
 * then reads one tensor at a time with pread, so a 400 MB checkpoint never
 * sits in memory twice and a model can copy each tensor straight into its
 * parameter block. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/core/error.h"
#include "kernels/core/tensor.h"
#include "models/io/safetensors.h"
#include "models/io/safetensors_internal.h"

typedef struct kz_st_meta {
  char *key, *value;
} kz_st_meta;

struct kz_safetensors {
  char *path;
  int fd;
  uint64_t data_start; /* 8 + header length */
  uint64_t data_len;
  int64_t n;
  kz_safetensors_tensor *t;              /* data order */
  const kz_safetensors_tensor **by_name; /* t sorted by name, for find */
  int64_t n_meta;
  kz_st_meta *meta; /* sorted by key */
};

static kz_status bad(const kz_safetensors *st, const char *fmt, const char *arg) {
  return kz_fail(KZ_ERR_FORMAT, "%s: %s%s", st->path, fmt, arg ? arg : "");
}

/* ---- header text ------------------------------------------------------------ */

static kz_status read_exact(int fd, void *buf, size_t n, uint64_t off) {
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t got = pread(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n, (off_t)off);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return got < 0 ? KZ_ERR_IO : KZ_ERR_FORMAT; /* 0: the file ended */
    p += got, n -= (size_t)got, off += (uint64_t)got;
  }
  return KZ_OK;
}

/* Each ',' '[' or '{' outside strings starts at most one more value. */
static int64_t count_json_values(const char *s, size_t n) {
  int64_t values = 0;
  int in_string = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = 0;
    } else if (c == '"') {
      in_string = 1;
    } else if (c == ',' || c == '[' || c == '{') {
      ++values;
    }
  }
  return values;
}

/* ---- one tensor entry -------------------------------------------------------- */

static kz_status entry_fail(const kz_safetensors *st, const char *name, const char *fmt, ...)
    KZ_PRINTF(3, 4);
static kz_status entry_fail(const kz_safetensors *st, const char *name, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return kz_fail(KZ_ERR_FORMAT, "%s: tensor '%.200s': %s", st->path, name, msg);
}

static kz_status parse_dtype(const kz_safetensors *st, const char *name, json_t *v,
                             kz_st_dtype *out) {
  if (!json_is_string(v)) return entry_fail(st, name, "dtype is not a string");
  const char *s = json_string_value(v);
  for (int d = 0; d < KZ_ST_N_DTYPES; ++d)
    if (!strcmp(s, kz_st_dtype_name((kz_st_dtype)d))) {
      *out = (kz_st_dtype)d;
      return KZ_OK;
    }
  return entry_fail(st, name,
                    "unknown dtype \"%.40s\" (the format's dtypes: BOOL, U8, I8, F8_E5M2, "
                    "F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64)",
                    s);
}

static kz_status parse_shape(const kz_safetensors *st, const char *name, json_t *v,
                             kz_safetensors_tensor *t) {
  if (!json_is_array(v)) return entry_fail(st, name, "shape is not an array");
  size_t rank = json_array_size(v);
  if (rank > KZ_SAFETENSORS_MAX_RANK)
    return entry_fail(st, name, "shape has %zu dimensions, at most %d are supported", rank,
                      KZ_SAFETENSORS_MAX_RANK);
  t->rank = (int)rank;
  int64_t numel = 1;
  for (size_t k = 0; k < rank; ++k) {
    json_t *d = json_array_get(v, k);
    if (!json_is_integer(d) || json_integer_value(d) < 0)
      return entry_fail(st, name, "shape[%zu] is not a non-negative integer", k);
    int64_t dim = (int64_t)json_integer_value(d);
    t->shape[k] = dim;
    if (dim != 0 && numel > INT64_MAX / dim)
      return entry_fail(st, name, "shape overflows: the element count passes 2^63");
    numel *= dim;
  }
  t->numel = numel;
  return KZ_OK;
}

static kz_status parse_offsets(const kz_safetensors *st, const char *name, json_t *v,
                               kz_safetensors_tensor *t) {
  if (!json_is_array(v) || json_array_size(v) != 2)
    return entry_fail(st, name, "data_offsets is not an array [begin, end]");
  json_t *b = json_array_get(v, 0), *e = json_array_get(v, 1);
  if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
      json_integer_value(e) < 0)
    return entry_fail(st, name, "data_offsets are not non-negative integers");
  t->begin = (uint64_t)json_integer_value(b);
  t->end = (uint64_t)json_integer_value(e);
  if (t->begin > t->end)
    return entry_fail(st, name, "data_offsets [%llu, %llu] end before they begin",
                      (unsigned long long)t->begin, (unsigned long long)t->end);
  if (t->end > st->data_len)
    return entry_fail(st, name,
                      "data_offsets [%llu, %llu] run past the data buffer (%llu bytes): the file "
                      "is truncated or the offsets are wrong",
                      (unsigned long long)t->begin, (unsigned long long)t->end,
                      (unsigned long long)st->data_len);
  /* numel * size cannot overflow unnoticed: a count past the buffer fails */
  size_t size = kz_st_dtype_size(t->dtype);
  uint64_t need = (uint64_t)t->numel;
  if (need > UINT64_MAX / size || need * size != t->end - t->begin)
    return entry_fail(st, name,
                      "shape %s of %s needs %llu x %zu bytes, data_offsets [%llu, %llu] hold %llu",
                      kz_st_shape_text(t->rank, t->shape).s, kz_st_dtype_name(t->dtype),
                      (unsigned long long)need, size, (unsigned long long)t->begin,
                      (unsigned long long)t->end, (unsigned long long)(t->end - t->begin));
  return KZ_OK;
}

static kz_status parse_entry(const kz_safetensors *st, const char *name, json_t *v,
                             kz_safetensors_tensor *t) {
  if (!*name) return kz_fail(KZ_ERR_FORMAT, "%s: a tensor has an empty name", st->path);
  if (strlen(name) > KZ_SAFETENSORS_MAX_NAME)
    return kz_fail(KZ_ERR_FORMAT, "%s: tensor name '%.60s...' is longer than %d bytes", st->path,
                   name, KZ_SAFETENSORS_MAX_NAME);
  if (!json_is_object(v)) return entry_fail(st, name, "entry is not an object");
  const char *key;
  json_t *val;
  json_object_foreach(v, key, val) {
    if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
      return entry_fail(st, name, "unknown key \"%.60s\" (expected dtype, shape, data_offsets)",
                        key);
  }
  json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
         *off = json_object_get(v, "data_offsets");
  if (!dt || !sh || !off)
    return entry_fail(st, name, "missing %s", !dt ? "dtype" : !sh ? "shape" : "data_offsets");
  KZ_TRY(parse_dtype(st, name, dt, &t->dtype));
  KZ_TRY(parse_shape(st, name, sh, t));
  return parse_offsets(st, name, off, t);
}

static int by_key(const void *a, const void *b) {
  return strcmp(((const kz_st_meta *)a)->key, ((const kz_st_meta *)b)->key);
}

static kz_status parse_metadata(kz_safetensors *st, json_t *m) {
  if (!json_is_object(m)) return bad(st, "__metadata__ is not an object", NULL);
  size_t n = json_object_size(m);
  st->meta = calloc(n ? n : 1, sizeof *st->meta);
  if (!st->meta) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
  const char *key;
  json_t *val;
  json_object_foreach(m, key, val) {
    if (!json_is_string(val))
      return kz_fail(KZ_ERR_FORMAT, "%s: __metadata__ \"%.100s\" is not a string", st->path, key);
    kz_st_meta *e = &st->meta[st->n_meta++]; /* counted first: close frees what was made */
    e->key = strdup(key);
    e->value = strdup(json_string_value(val));
    if (!e->key || !e->value) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
  }
  /* a stable order whatever the parser's hash order */
  qsort(st->meta, (size_t)st->n_meta, sizeof *st->meta, by_key);
  return KZ_OK;
}

/* ---- the buffer is tiled exactly ------------------------------------------------ */

static int by_offset(const void *a, const void *b) {
  const kz_safetensors_tensor *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return strcmp(x->name, y->name);
}

static int by_name(const void *a, const void *b) {
  const kz_safetensors_tensor *const *x = a, *const *y = b;
  return strcmp((*x)->name, (*y)->name);
}

static kz_status check_tiling(kz_safetensors *st) {
  qsort(st->t, (size_t)st->n, sizeof *st->t, by_offset);
  uint64_t at = 0;
  const char *prev = NULL;
  for (int64_t i = 0; i < st->n; ++i) {
    const kz_safetensors_tensor *t = &st->t[i];
    if (t->begin < at)
      return kz_fail(KZ_ERR_FORMAT,
                     "%s: tensor '%.200s': data_offsets [%llu, %llu] overlap tensor '%.200s' "
                     "(ending at %llu)",
                     st->path, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                     prev, (unsigned long long)at);
    if (t->begin > at)
      return kz_fail(KZ_ERR_FORMAT,
                     "%s: tensor '%.200s': bytes %llu..%llu of the data buffer before it belong "
                     "to no tensor (the format allows no gap)",
                     st->path, t->name, (unsigned long long)at, (unsigned long long)t->begin);
    at = t->end;
    prev = t->name;
  }
  if (at != st->data_len)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: the tensors end at byte %llu of the data buffer, the file holds %llu "
                   "(trailing bytes belong to no tensor)",
                   st->path, (unsigned long long)at, (unsigned long long)st->data_len);
  st->by_name = malloc((size_t)(st->n ? st->n : 1) * sizeof *st->by_name);
  if (!st->by_name) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
  for (int64_t i = 0; i < st->n; ++i) st->by_name[i] = &st->t[i];
  qsort(st->by_name, (size_t)st->n, sizeof *st->by_name, by_name);
  return KZ_OK;
}

/* ---- open ------------------------------------------------------------------------ */

static kz_status parse_header(kz_safetensors *st, const char *text, size_t n) {
  if (n == 0 || text[0] != '{')
    return bad(st, "the header does not start with '{' (not a safetensors file?)", NULL);
  if (count_json_values(text, n) > KZ_SAFETENSORS_MAX_JSON_VALUES)
    return kz_fail(KZ_ERR_FORMAT, "%s: the header holds more than %d JSON values", st->path,
                   KZ_SAFETENSORS_MAX_JSON_VALUES);
  json_error_t err;
  json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &err);
  if (!root)
    return kz_fail(KZ_ERR_FORMAT, "%s: the header is not valid JSON (line %d, column %d): %s",
                   st->path, err.line, err.column, err.text);
  kz_status s = KZ_OK;
  size_t cap = json_object_size(root);
  st->t = calloc(cap ? cap : 1, sizeof *st->t);
  if (!st->t) s = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
  const char *key;
  json_t *val;
  json_object_foreach(root, key, val) {
    if (s != KZ_OK) break;
    if (!strcmp(key, "__metadata__")) {
      s = parse_metadata(st, val);
      continue;
    }
    kz_safetensors_tensor *t = &st->t[st->n];
    s = parse_entry(st, key, val, t);
    if (s == KZ_OK && !(t->name = strdup(key)))
      s = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
    if (s == KZ_OK) ++st->n;
  }
  json_decref(root);

  return s == KZ_OK ? check_tiling(st) : s;
}

static kz_status open_file(kz_safetensors *st) {
  st->fd = open(st->path, O_RDONLY);
  if (st->fd < 0)
    return kz_fail(KZ_ERR_IO, "%s: cannot open safetensors file: %s", st->path, strerror(errno));
  struct stat sb;
  if (fstat(st->fd, &sb) != 0)
    return kz_fail(KZ_ERR_IO, "%s: cannot stat: %s", st->path, strerror(errno));
  if (!S_ISREG(sb.st_mode))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: is %s, not a safetensors file", st->path,
                   S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file");
  uint64_t size = (uint64_t)sb.st_size;
  unsigned char len8[8];
  if (size < 8 || read_exact(st->fd, len8, 8, 0) != KZ_OK)
    return kz_fail(KZ_ERR_FORMAT, "%s: truncated: %llu bytes, no 8-byte header length", st->path,
                   (unsigned long long)size);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | len8[i];
  if (hlen > size - 8)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: the header length %llu runs past the end of the file (%llu bytes): "
                   "truncated or not a safetensors file",
                   st->path, (unsigned long long)hlen, (unsigned long long)size);
  if (hlen > KZ_SAFETENSORS_MAX_HEADER)
    return kz_fail(KZ_ERR_FORMAT, "%s: the header is %llu bytes, more than the %llu accepted",
                   st->path, (unsigned long long)hlen,
                   (unsigned long long)KZ_SAFETENSORS_MAX_HEADER);
  st->data_start = 8 + hlen;
  st->data_len = size - st->data_start;
  char *text = malloc(hlen ? hlen : 1);
  if (!text) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
  kz_status s = read_exact(st->fd, text, hlen, 8);
  if (s != KZ_OK)
    s = kz_fail(s, "%s: cannot read the header: %s", st->path,
                s == KZ_ERR_IO ? strerror(errno) : "the file ended");
  else
    s = parse_header(st, text, hlen);
  free(text);
  return s;
}

kz_status kz_safetensors_open(const char *path, kz_safetensors **out) {
  *out = NULL;
  if (!path) return kz_fail(KZ_ERR_INVALID_ARG, "kz_safetensors_open: no path");
  kz_safetensors *st = calloc(1, sizeof *st);
  if (!st || !(st->path = strdup(path))) {
    free(st);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  st->fd = -1;
  kz_status s = open_file(st);
  if (s != KZ_OK) {
    kz_safetensors_close(st);
    return s;
  }
  *out = st;
  return KZ_OK;
}

void kz_safetensors_close(kz_safetensors *st) {
  if (!st) return;
  if (st->fd >= 0) close(st->fd);
  for (int64_t i = 0; i < st->n; ++i) free((char *)st->t[i].name);
  for (int64_t i = 0; i < st->n_meta; ++i) free(st->meta[i].key), free(st->meta[i].value);
  free(st->t);
  free(st->by_name);
  free(st->meta);
  free(st->path);
  free(st);
}

/* ---- queries ----------------------------------------------------------------------- */

const char *kz_safetensors_path(const kz_safetensors *st) {
  return st->path;
}
int64_t kz_safetensors_count(const kz_safetensors *st) {
  return st->n;
}
const kz_safetensors_tensor *kz_safetensors_tensor_at(const kz_safetensors *st, int64_t i) {
  return i >= 0 && i < st->n ? &st->t[i] : NULL;
}

int64_t kz_safetensors_find(const kz_safetensors *st, const char *name) {
  int64_t lo = 0, hi = st->n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    int c = strcmp(st->by_name[mid]->name, name);
    if (c == 0) return st->by_name[mid] - st->t;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

int64_t kz_safetensors_metadata_count(const kz_safetensors *st) {
  return st->n_meta;
}
void kz_safetensors_metadata_at(const kz_safetensors *st, int64_t i, const char **key,
                                const char **value) {
  *key = i >= 0 && i < st->n_meta ? st->meta[i].key : NULL;
  *value = i >= 0 && i < st->n_meta ? st->meta[i].value : NULL;
}
const char *kz_safetensors_metadata_get(const kz_safetensors *st, const char *key) {
  kz_st_meta want = {(char *)key, NULL};
  const kz_st_meta *e =
      st->n_meta ? bsearch(&want, st->meta, (size_t)st->n_meta, sizeof *st->meta, by_key) : NULL;
  return e ? e->value : NULL;
}

/* ---- data ---------------------------------------------------------------------------- */

kz_status kz_safetensors_read_f32_range(kz_safetensors *st, int64_t i, int64_t first, int64_t count,
                                        float *dst) {
  const kz_safetensors_tensor *t = kz_safetensors_tensor_at(st, i);
  if (!t) return kz_fail(KZ_ERR_INVALID_ARG, "%s: no tensor number %lld", st->path, (long long)i);
  if (first < 0 || count < 0 || first > t->numel || count > t->numel - first)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: tensor '%.200s' has %lld elements, not [%lld, %lld + %lld)", st->path,
                   t->name, (long long)t->numel, (long long)first, (long long)first,
                   (long long)count);
  if (!kz_st_dtype_reads_as_f32(t->dtype))
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "%s: tensor '%.200s' is %s; only F32, F16 and BF16 tensors can be read as "
                   "float32",
                   st->path, t->name, kz_st_dtype_name(t->dtype));
  if (count > 0 && !dst) return kz_fail(KZ_ERR_INVALID_ARG, "%s: no buffer", st->path);
  size_t size = kz_st_dtype_size(t->dtype);
  uint64_t off = st->data_start + t->begin + (uint64_t)first * size;
  kz_status s = KZ_OK;
  if (t->dtype == KZ_ST_F32) {
    s = read_exact(st->fd, dst, (size_t)count * 4, off);
  } else {
    enum { CHUNK = 1 << 15 };
    uint16_t buf[CHUNK];
    for (int64_t k = 0; k < count && s == KZ_OK; k += CHUNK) {
      size_t m = (size_t)(count - k < CHUNK ? count - k : CHUNK);
      s = read_exact(st->fd, buf, m * 2, off + (uint64_t)k * 2);
      for (size_t j = 0; s == KZ_OK && j < m; ++j)
        dst[k + (int64_t)j] =
            t->dtype == KZ_ST_BF16 ? kz_bf16_to_f32(buf[j]) : kz_f16_to_f32(buf[j]);
    }
  }
  if (s != KZ_OK)
    return kz_fail(s, "%s: tensor '%.200s': %s", st->path, t->name,
                   s == KZ_ERR_IO
                       ? strerror(errno)
                       : "the file ended before its data (changed since it was opened?)");
  return KZ_OK;
}

kz_status kz_safetensors_read_f32(kz_safetensors *st, int64_t i, float *dst, int64_t dst_count) {
  const kz_safetensors_tensor *t = kz_safetensors_tensor_at(st, i);
  if (!t) return kz_fail(KZ_ERR_INVALID_ARG, "%s: no tensor number %lld", st->path, (long long)i);
  if (dst_count != t->numel)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: tensor '%.200s' has %lld elements, the buffer %lld",
                   st->path, t->name, (long long)t->numel, (long long)dst_count);
  return kz_safetensors_read_f32_range(st, i, 0, t->numel, dst);
}
