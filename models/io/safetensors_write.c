#define _POSIX_C_SOURCE 200809L
/* safetensors writer: the header is built with jansson (names are escaped
 * by it), padded with spaces so the data buffer starts 8-byte aligned (as the
 * reference implementation does), and the tensors are streamed from the
 * caller's memory through one kz_atomic_file: a model's block is never copied
 * and a failed write leaves no file. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs/atomic_file.h"
#include "kernels/core/error.h"
#include "models/io/safetensors.h"

typedef struct entry {
  char *name;
  int rank;
  int64_t shape[KZ_SAFETENSORS_MAX_RANK];
  int64_t numel;
  const float *data;
} entry;

struct kz_safetensors_writer {
  entry *e;
  int64_t n, cap;
  int64_t *slot;  /* open-addressing set of names: entry index + 1, 0 empty */
  int64_t n_slot; /* a power of two, at least 2 n */
  json_t *meta;   /* object, key order as set */
};

kz_status kz_safetensors_writer_new(kz_safetensors_writer **out) {
  *out = calloc(1, sizeof **out);
  if (!*out || !((*out)->meta = json_object())) {
    free(*out);
    *out = NULL;
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "safetensors writer: out of memory");
  }
  return KZ_OK;
}

void kz_safetensors_writer_free(kz_safetensors_writer *w) {
  if (!w) return;
  for (int64_t i = 0; i < w->n; ++i) free(w->e[i].name);
  free(w->e);
  free(w->slot);
  json_decref(w->meta);
  free(w);
}

static kz_status check_name(const char *name, const char *what) {
  if (!name || !*name) return kz_fail(KZ_ERR_INVALID_ARG, "safetensors: empty %s", what);
  if (strlen(name) > KZ_SAFETENSORS_MAX_NAME)
    return kz_fail(KZ_ERR_INVALID_ARG, "safetensors: %s '%.60s...' is longer than %d bytes", what,
                   name, KZ_SAFETENSORS_MAX_NAME);
  json_t *probe = json_string(name); /* NULL for ill-formed UTF-8 */
  if (!probe)
    return kz_fail(KZ_ERR_INVALID_ARG, "safetensors: %s '%.60s' is not valid UTF-8", what, name);
  json_decref(probe);
  return KZ_OK;
}

/* Names are checked for duplicates as they are added; a set keeps that
 * linear for the hundreds of thousands of tensors a fuzzed header can hold. */
static uint64_t name_hash(const char *s) {
  uint64_t h = 0xcbf29ce484222325u;
  for (; *s; ++s) h = (h ^ (unsigned char)*s) * 0x100000001b3u;
  return h;
}

static int64_t *find_slot(const kz_safetensors_writer *w, const char *name) {
  uint64_t mask = (uint64_t)w->n_slot - 1;
  for (uint64_t i = name_hash(name) & mask;; i = (i + 1) & mask)
    if (!w->slot[i] || !strcmp(w->e[w->slot[i] - 1].name, name)) return &w->slot[i];
}

static int grow_set(kz_safetensors_writer *w) {
  int64_t n = w->n_slot ? 2 * w->n_slot : 128;
  int64_t *old = w->slot, old_n = w->n_slot;
  if (!(w->slot = calloc((size_t)n, sizeof *w->slot))) {
    w->slot = old;
    return 0;
  }
  w->n_slot = n;
  for (int64_t i = 0; i < old_n; ++i)
    if (old[i]) *find_slot(w, w->e[old[i] - 1].name) = old[i];
  free(old);
  return 1;
}

kz_status kz_safetensors_writer_add_f32(kz_safetensors_writer *w, const char *name, int rank,
                                        const int64_t *shape, const float *data) {
  KZ_TRY(check_name(name, "tensor name"));
  if (!strcmp(name, "__metadata__"))
    return kz_fail(KZ_ERR_INVALID_ARG, "safetensors: '__metadata__' cannot name a tensor");
  if (rank < 0 || rank > KZ_SAFETENSORS_MAX_RANK || (rank > 0 && !shape))
    return kz_fail(KZ_ERR_INVALID_ARG, "safetensors: tensor '%.200s': rank %d is not in [0, %d]",
                   name, rank, KZ_SAFETENSORS_MAX_RANK);
  int64_t numel = 1;
  for (int k = 0; k < rank; ++k) {
    if (shape[k] < 0 || (shape[k] > 0 && numel > (INT64_MAX / 4) / shape[k]))
      return kz_fail(KZ_ERR_INVALID_ARG, "safetensors: tensor '%.200s': bad shape", name);
    numel *= shape[k];
  }
  if (numel > 0 && !data)
    return kz_fail(KZ_ERR_INVALID_ARG, "safetensors: tensor '%.200s': no data", name);
  if (2 * (w->n + 1) > w->n_slot && !grow_set(w))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "safetensors writer: out of memory");
  int64_t *slot = find_slot(w, name);
  if (*slot) return kz_fail(KZ_ERR_INVALID_ARG, "safetensors: tensor '%.200s' added twice", name);
  if (w->n == w->cap) {
    int64_t cap = w->cap ? 2 * w->cap : 64;
    entry *e = realloc(w->e, (size_t)cap * sizeof *e);
    if (!e) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "safetensors writer: out of memory");
    w->e = e, w->cap = cap;
  }
  entry *e = &w->e[w->n];
  memset(e, 0, sizeof *e);
  if (!(e->name = strdup(name)))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "safetensors writer: out of memory");
  e->rank = rank;
  for (int k = 0; k < rank; ++k) e->shape[k] = shape[k];
  e->numel = numel;
  e->data = data;
  *slot = ++w->n;
  return KZ_OK;
}

kz_status kz_safetensors_writer_set_metadata(kz_safetensors_writer *w, const char *key,
                                             const char *value) {
  KZ_TRY(check_name(key, "metadata key"));
  json_t *v = value ? json_string(value) : NULL;
  if (!v)
    return kz_fail(KZ_ERR_INVALID_ARG, "safetensors: metadata '%.60s': value is not valid UTF-8",
                   key);
  if (json_object_set_new(w->meta, key, v) != 0)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "safetensors writer: out of memory");
  return KZ_OK;
}

/* The header text, padded with spaces so 8 + its length is a multiple of 8. */
static char *header_text(const kz_safetensors_writer *w, size_t *len) {
  json_t *root = json_object();
  int ok = root != NULL;
  if (ok && json_object_size(w->meta) > 0) ok = !json_object_set(root, "__metadata__", w->meta);
  int64_t at = 0;
  for (int64_t i = 0; ok && i < w->n; ++i) {
    const entry *e = &w->e[i];
    json_t *o = json_object(), *shape = json_array(), *off = json_array();
    ok = o && shape && off;
    for (int k = 0; ok && k < e->rank; ++k)
      ok = !json_array_append_new(shape, json_integer(e->shape[k]));
    ok = ok && !json_array_append_new(off, json_integer(at)) &&
         !json_array_append_new(off, json_integer(at + e->numel * 4));
    at += e->numel * 4;
    ok = ok && !json_object_set_new(o, "dtype", json_string("F32")) &&
         !json_object_set(o, "shape", shape) && !json_object_set(o, "data_offsets", off) &&
         !json_object_set(root, e->name, o);
    json_decref(o), json_decref(shape), json_decref(off);
  }
  char *text = ok ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  if (!text) return NULL;
  size_t n = strlen(text), padded = n + (8 - (8 + n) % 8) % 8;
  char *out = realloc(text, padded + 1);
  if (!out) {
    free(text);
    return NULL;
  }
  memset(out + n, ' ', padded - n);
  out[padded] = '\0';
  *len = padded;
  return out;
}

kz_status kz_safetensors_writer_write(kz_safetensors_writer *w, const char *path) {
  size_t hlen = 0;
  char *header = header_text(w, &hlen);
  if (!header) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory building the header", path);
  kz_atomic_file a;
  kz_status st = kz_atomic_file_open(&a, path);
  if (st != KZ_OK) {
    free(header);
    return st;
  }
  unsigned char len8[8];
  for (int i = 0; i < 8; ++i) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
  fwrite(len8, 1, 8, a.f); /* a short write sets the error flag finish checks */
  fwrite(header, 1, hlen, a.f);
  /* little-endian hosts only: floats go out as they are in memory */
  for (int64_t i = 0; i < w->n; ++i)
    if (w->e[i].numel > 0) fwrite(w->e[i].data, 4, (size_t)w->e[i].numel, a.f);
  free(header);
  return kz_atomic_file_finish(&a, KZ_OK);
}
