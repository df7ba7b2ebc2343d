/* vocab.txt loading and lookup. Lookups hash the "##" prefix and the word
 * bytes without concatenating them, because WordPiece probes many substrings
 * of every word. */
#include "data/text/vocab.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/text/utf8.h"
#include "kernels/core/error.h"

static uint64_t hash_bytes(uint64_t h, const char *s, size_t len) {
  for (size_t i = 0; i < len; ++i) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
  return h;
}

static uint64_t hash_token(const char *s, size_t len, int prefix) {
  uint64_t h = 0xcbf29ce484222325ull;
  if (prefix) h = hash_bytes(h, "##", 2);
  return hash_bytes(h, s, len);
}

int32_t kz_vocab_find(const kz_vocab *v, const char *s, size_t len, int prefix) {
  size_t full = len + (prefix ? 2 : 0);
  if (full > v->max_token_bytes) return -1;
  size_t slot = (size_t)hash_token(s, len, prefix) & v->slot_mask;
  for (;;) {
    int32_t id = v->slots[slot];
    if (id < 0) return -1;
    if (v->length[id] == full) {
      const char *t = kz_vocab_string(v, id);
      if ((!prefix || (t[0] == '#' && t[1] == '#')) && !memcmp(t + (prefix ? 2 : 0), s, len))
        return id;
    }
    slot = (slot + 1) & v->slot_mask;
  }
}

void kz_vocab_free(kz_vocab *v) {
  free(v->pool);
  free(v->offset);
  free(v->length);
  free(v->slots);
  memset(v, 0, sizeof *v);
}

/* Indexes tokens 0..count-1 already in pool/offset/length. `line_base` turns
 * an id into the line number quoted in a duplicate error. */
static kz_status build_index(kz_vocab *v, const char *what, int line_base) {
  size_t slots = 16;
  while (slots < (size_t)v->count * 2) slots <<= 1;
  v->slots = malloc(slots * sizeof *v->slots);
  if (!v->slots) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: no memory for the token index", what);
  memset(v->slots, 0xff, slots * sizeof *v->slots);
  v->slot_mask = slots - 1;
  v->max_token_bytes = 0;
  for (int32_t id = 0; id < v->count; ++id) {
    const char *t = kz_vocab_string(v, id);
    if (v->length[id] > v->max_token_bytes) v->max_token_bytes = v->length[id];
    size_t slot = (size_t)hash_token(t, v->length[id], 0) & v->slot_mask;
    while (v->slots[slot] >= 0) {
      int32_t other = v->slots[slot];
      if (v->length[other] == v->length[id] && !memcmp(kz_vocab_string(v, other), t, v->length[id]))
        return kz_fail(KZ_ERR_FORMAT, "%s:%d: duplicate token \"%s\" (first on line %d)", what,
                       id + line_base, t, other + line_base);
      slot = (slot + 1) & v->slot_mask;
    }
    v->slots[slot] = id;
  }
  return KZ_OK;
}

static kz_status read_file(const char *path, char **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return kz_fail(KZ_ERR_IO, "%s: cannot open vocabulary: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    cap *= 2;
    char *grown = realloc(buf, cap + 1);
    if (!grown) {
      free(buf);
      buf = NULL;
    } else {
      buf = grown;
    }
  }
  int failed = ferror(f);
  fclose(f);
  if (!buf) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: no memory to read the vocabulary", path);
  if (failed) {
    free(buf);
    return kz_fail(KZ_ERR_IO, "%s: read error", path);
  }
  buf[n] = '\0';
  *data = buf;
  *size = n;
  return KZ_OK;
}

static kz_status parse(kz_vocab *v, const char *path, char *data, size_t size) {
  if (size == 0) return kz_fail(KZ_ERR_FORMAT, "%s: vocabulary is empty", path);
  int32_t lines = 0;
  for (size_t i = 0; i < size; ++i) lines += data[i] == '\n';
  if (data[size - 1] != '\n') ++lines;
  v->offset = malloc((size_t)lines * sizeof *v->offset);
  v->length = malloc((size_t)lines * sizeof *v->length);
  if (!v->offset || !v->length)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: no memory for %d tokens", path, lines);
  size_t pos = 0;
  for (int32_t id = 0; id < lines; ++id) {
    size_t end = pos;
    while (end < size && data[end] != '\n') ++end;
    size_t len = end - pos;
    if (len && data[pos + len - 1] == '\r') --len; /* files written on Windows */
    if (len == 0) return kz_fail(KZ_ERR_FORMAT, "%s:%d: empty token", path, id + 1);
    size_t bad = kz_utf8_validate((const uint8_t *)data + pos, len);
    if (bad < len)
      return kz_fail(KZ_ERR_FORMAT, "%s:%d: invalid UTF-8 at byte %zu of the line", path, id + 1,
                     bad + 1);
    for (size_t k = 0; k < len; ++k)
      if (data[pos + k] == '\0')
        return kz_fail(KZ_ERR_FORMAT, "%s:%d: NUL byte in token", path, id + 1);
    data[pos + len] = '\0';
    v->offset[id] = pos;
    v->length[id] = (uint32_t)len;
    pos = end + 1;
  }
  v->pool = data;
  v->count = lines;
  return build_index(v, path, 1);
}

kz_status kz_vocab_load(kz_vocab *v, const char *path) {
  memset(v, 0, sizeof *v);
  char *data = NULL;
  size_t size = 0;
  KZ_TRY(read_file(path, &data, &size));
  kz_status st = parse(v, path, data, size);
  if (st != KZ_OK) {
    if (!v->pool) free(data);
    kz_vocab_free(v);
  }
  return st;
}

kz_status kz_vocab_from_strings(kz_vocab *v, const char *const *tokens, int32_t n,
                                const char *what) {
  memset(v, 0, sizeof *v);
  size_t total = 0;
  for (int32_t i = 0; i < n; ++i) total += strlen(tokens[i]) + 1;
  v->pool = malloc(total ? total : 1);
  v->offset = malloc((size_t)(n ? n : 1) * sizeof *v->offset);
  v->length = malloc((size_t)(n ? n : 1) * sizeof *v->length);
  if (!v->pool || !v->offset || !v->length) {
    kz_vocab_free(v);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: no memory for %d tokens", what, n);
  }
  size_t pos = 0;
  for (int32_t i = 0; i < n; ++i) {
    size_t len = strlen(tokens[i]);
    memcpy(v->pool + pos, tokens[i], len + 1);
    v->offset[i] = pos;
    v->length[i] = (uint32_t)len;
    pos += len + 1;
  }
  v->count = n;
  kz_status st = build_index(v, what, 0);
  if (st != KZ_OK) kz_vocab_free(v);
  return st;
}
