/* BERT's "basic tokenizer": UTF-8 decoding, text cleanup, CJK spacing,
 * accent stripping, lower-casing and the split into words at whitespace and
 * punctuation, keeping every character's link to the original text so token
 * offsets can be reported. Internal to data/text (the WordPiece encoder and
 * the vocabulary trainer share it). */
#ifndef KZ_DATA_TEXT_BASIC_TOKENIZER_H
#define KZ_DATA_TEXT_BASIC_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

/* One character of the original text. */
typedef struct kz_text_src_char {
  uint32_t cp;         /* U+FFFD for an ill-formed byte sequence */
  uint32_t byte_start; /* its bytes in the input: [byte_start, byte_end) */
  uint32_t byte_end;
} kz_text_src_char;

/* One character of the normalised text, pointing back to its source. */
typedef struct kz_text_norm_char {
  uint32_t cp;
  uint32_t src; /* index into the source characters */
} kz_text_norm_char;

typedef struct kz_text_word {
  uint32_t first, count; /* a run of normalised characters */
} kz_text_word;

typedef struct kz_basic_tokenizer {
  int lowercase;
  int strip_accents;
  int reject_invalid_utf8;
  kz_text_src_char *src;
  size_t n_src, cap_src;
  kz_text_norm_char *norm;
  size_t n_norm, cap_norm;
  kz_text_word *words;
  size_t n_words, cap_words;
} kz_basic_tokenizer;

/* Decodes text into bt->src (replacing), or fails naming the byte offset of
 * the first ill-formed sequence when reject_invalid_utf8 is set. Clears the
 * normalised characters and words. */
kz_status kz_basic_decode(kz_basic_tokenizer *bt, const char *text, size_t len);
/* Normalises source characters [from, to) and appends their words. */
kz_status kz_basic_split(kz_basic_tokenizer *bt, size_t from, size_t to);
void kz_basic_free(kz_basic_tokenizer *bt);

#endif
