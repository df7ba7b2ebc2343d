/* Token-level targets for text import (docs/DATA.md, "Token labels and answer
 * spans"), independent of files and shards so they can be tested alone:
 *  - NER: pre-split words encoded as Hugging Face's is_split_into_words=True
 *    does (each word through the basic tokenizer and WordPiece on its own),
 *    the word's label on its first sub-token, -100 on every other position;
 *  - QA: [CLS] question [SEP] context [SEP] with only the context truncated
 *    (HF's only_second) and the answer's byte span mapped to token positions,
 *    (0, 0) when the answer is not inside the kept context. */
#ifndef KZ_DATA_IMPORT_TEXT_ALIGN_H
#define KZ_DATA_IMPORT_TEXT_ALIGN_H

#include <stddef.h>
#include <stdint.h>

#include "data/text/wordpiece.h"
#include "kaizen.h"

#define KZ_IGNORE_LABEL (-100)

typedef struct kz_ner_result {
  int32_t length;         /* real tokens, [CLS] and [SEP] included */
  int32_t words_dropped;  /* labelled words with no token left (truncated or empty) */
  int32_t tokens_dropped; /* word pieces cut by truncation */
} kz_ner_result;

/* words[i] (lens[i] bytes) with labels[i] (KZ_IGNORE_LABEL allowed). Writes
 * max_len ids (padded with [PAD]) and max_len token labels. scratch is a
 * reusable encoding. */
kz_status kz_align_words(const kz_wordpiece *tok, const char *const *words, const size_t *lens,
                         const int32_t *labels, int32_t n_words, int32_t max_len,
                         kz_wordpiece_encoding *scratch, int32_t *ids, int32_t *token_labels,
                         kz_ner_result *res);

typedef struct kz_qa_result {
  int32_t length;          /* real tokens */
  int32_t start, end;      /* answer token positions; 0, 0 when none or lost */
  int32_t answer_lost;     /* 1: an answer was given but truncated away */
  int32_t context_dropped; /* context tokens cut by truncation */
} kz_qa_result;

/* The answer is context bytes [ans_begin, ans_end); has_answer 0 for none.
 * Writes max_len ids and token type ids (0 for [CLS] q [SEP], 1 for the
 * context and its [SEP], 0 for padding). Fails with KZ_ERR_INVALID_ARG when
 * the question leaves no room for a context token, as HF does. */
kz_status kz_qa_encode(const kz_wordpiece *tok, const char *question, size_t q_len,
                       const char *context, size_t c_len, int has_answer, size_t ans_begin,
                       size_t ans_end, int32_t max_len, kz_wordpiece_encoding *q_enc,
                       kz_wordpiece_encoding *c_enc, int32_t *ids, int32_t *type_ids,
                       kz_qa_result *res);

/* Byte offset of code point `cp` in valid UTF-8 s (cp == number of code points
 * gives len). Returns 0 when s has fewer code points. */
int kz_utf8_cp_to_byte(const char *s, size_t len, int64_t cp, size_t *byte);

#endif
