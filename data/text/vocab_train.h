/* WordPiece vocabulary training (BERT style): special tokens, every character
 * seen (bare and as a "##" continuation), then merges of adjacent pieces
 * ranked by freq(ab) / (freq(a) * freq(b)) until the requested size. */
#ifndef KZ_DATA_TEXT_VOCAB_TRAIN_H
#define KZ_DATA_TEXT_VOCAB_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kz_vocab_trainer kz_vocab_trainer;

typedef struct kz_vocab_train_options {
  int32_t vocab_size;     /* target size, specials included (default 30522) */
  int lowercase;          /* normalise as an uncased tokenizer would (default 0) */
  int strip_accents;      /* -1: same as lowercase */
  int32_t min_frequency;  /* pairs seen fewer times are never merged (default 2) */
  int32_t max_word_chars; /* longer words are skipped, as they encode to [UNK] (100) */
} kz_vocab_train_options;

void kz_vocab_train_options_default(kz_vocab_train_options *o);

kz_status kz_vocab_trainer_create(const kz_vocab_train_options *o, kz_vocab_trainer **out);
/* Adds one text (a line or a document) to the word counts. */
kz_status kz_vocab_trainer_add(kz_vocab_trainer *t, const char *text, size_t len);
/* Runs the merges and writes the vocabulary, one token a line, to path.tmp,
 * then renames it to path; on failure no file is left at path. */
kz_status kz_vocab_trainer_write(kz_vocab_trainer *t, const char *path);
/* Tokens after training (valid until the trainer is freed). */
int32_t kz_vocab_trainer_size(const kz_vocab_trainer *t);
int64_t kz_vocab_trainer_distinct_words(const kz_vocab_trainer *t);
const char *kz_vocab_trainer_token(const kz_vocab_trainer *t, int32_t id);
void kz_vocab_trainer_free(kz_vocab_trainer *t);

/* Feeds a corpus file: plain text (one text a line) or, with column set, the
 * named column of a CSV file with a header row (RFC 4180 quoting). */
kz_status kz_vocab_trainer_add_file(kz_vocab_trainer *t, const char *path, const char *column);

#ifdef __cplusplus
}
#endif
#endif
