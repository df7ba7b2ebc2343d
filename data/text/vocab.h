/* A WordPiece vocabulary: token strings in file order (line n is id n),
 * with a hash index from string to id. Internal to data/text. */
#ifndef KZ_DATA_TEXT_VOCAB_H
#define KZ_DATA_TEXT_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

typedef struct kz_vocab {
  char *pool;       /* every token, NUL-terminated, back to back */
  size_t *offset;   /* offset[id] into pool */
  uint32_t *length; /* length[id] in bytes */
  int32_t count;
  int32_t *slots; /* open-addressing hash table of ids, -1 = empty */
  size_t slot_mask;
  uint32_t max_token_bytes;
} kz_vocab;

/* Reads vocab.txt: one token per line (a trailing CR is dropped), id = line
 * number from 0. Fails, naming the file and line, on a missing or empty file,
 * an empty line, a duplicate token or invalid UTF-8. */
kz_status kz_vocab_load(kz_vocab *v, const char *path);
/* Builds a vocabulary from n strings (used by the trainer and tests). */
kz_status kz_vocab_from_strings(kz_vocab *v, const char *const *tokens, int32_t n,
                                const char *what);
void kz_vocab_free(kz_vocab *v);

/* Id of the token made of the bytes (prefix ? "##" : "") + s[0..len), or -1. */
int32_t kz_vocab_find(const kz_vocab *v, const char *s, size_t len, int prefix);
static inline const char *kz_vocab_string(const kz_vocab *v, int32_t id) {
  return v->pool + v->offset[id];
}

#endif
