/* WordPiece tokenizer compatible with Hugging Face's BertTokenizerFast given a
 * vocab.txt: same token ids, token type ids and character offsets (see
 * docs/TOKENIZER.md for the behaviour, options and the parity test).
 *
 *   kz_wordpiece *tok;
 *   kz_wordpiece_options o;
 *   kz_wordpiece_options_default(&o);   // uncased, max_len 0 (no limit)
 *   KZ_TRY(kz_wordpiece_load("vocab.txt", &o, &tok));
 *   kz_wordpiece_encoding enc = {0};
 *   KZ_TRY(kz_wordpiece_encode(tok, text, strlen(text), &enc));
 *   ... enc.ids[0 .. enc.count), enc.length real tokens ...
 *   kz_wordpiece_encoding_free(&enc);
 *   kz_wordpiece_free(tok);
 *
 * A handle is read-only after loading and may be shared by threads; each
 * thread needs its own encoding. */
#ifndef KZ_DATA_TEXT_WORDPIECE_H
#define KZ_DATA_TEXT_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kz_wordpiece kz_wordpiece;

typedef struct kz_wordpiece_options {
  int lowercase;           /* 1 for uncased vocabularies (default 1) */
  int strip_accents;       /* -1: same as lowercase (HF's default), 0: keep, 1: strip */
  int max_len;             /* > 0: truncate (specials included) to this many tokens */
  int pad;                 /* with max_len: pad with [PAD] up to max_len (default 1) */
  int max_word_chars;      /* longer words become [UNK] (default 100, as HF) */
  int reject_invalid_utf8; /* 1: fail naming the byte offset; 0 (default):
                              ill-formed bytes become U+FFFD, which cleanup drops */
} kz_wordpiece_options;

void kz_wordpiece_options_default(kz_wordpiece_options *options);

/* Output of an encode call. Zero-initialise it; encode grows its arrays and
 * kz_wordpiece_encoding_free releases them, so one encoding can be reused. */
typedef struct kz_wordpiece_encoding {
  int32_t *ids;
  int32_t *type_ids;     /* 0 for [CLS] A [SEP], 1 for B [SEP]; 0 for padding */
  int32_t *offsets;      /* byte offsets into the input: start = [2i], end = [2i+1] */
  int32_t *char_offsets; /* the same in code points (HF's offsets for Python str) */
  int32_t count;         /* entries filled: length, or max_len when padded */
  int32_t length;        /* real tokens (the attention length); the rest is [PAD] */
  int32_t truncated;     /* tokens dropped by truncation */
  int32_t capacity;
} kz_wordpiece_encoding;

/* Special tokens, [CLS] and [SEP] and their offsets are (0, 0), as in HF. */
kz_status kz_wordpiece_load(const char *vocab_path, const kz_wordpiece_options *options,
                            kz_wordpiece **out);
/* Same, from an in-memory token list (id = position). */
kz_status kz_wordpiece_from_tokens(const char *const *tokens, int32_t n,
                                   const kz_wordpiece_options *options, kz_wordpiece **out);
void kz_wordpiece_free(kz_wordpiece *tok);

/* [CLS] text [SEP], truncated and padded per the options. */
kz_status kz_wordpiece_encode(const kz_wordpiece *tok, const char *text, size_t len,
                              kz_wordpiece_encoding *out);
/* [CLS] a [SEP] b [SEP]; truncation follows HF's longest_first (see
 * docs/TOKENIZER.md). Offsets of b's tokens are into b. */
kz_status kz_wordpiece_encode_pair(const kz_wordpiece *tok, const char *a, size_t a_len,
                                   const char *b, size_t b_len, kz_wordpiece_encoding *out);
/* Word pieces only: no special tokens, no truncation or padding. */
kz_status kz_wordpiece_tokenize(const kz_wordpiece *tok, const char *text, size_t len,
                                kz_wordpiece_encoding *out);
void kz_wordpiece_encoding_free(kz_wordpiece_encoding *enc);

/* Id of a token string, or -1. */
int32_t kz_wordpiece_token_id(const kz_wordpiece *tok, const char *token);
/* The token of an id, or NULL when out of range. */
const char *kz_wordpiece_token_string(const kz_wordpiece *tok, int32_t id);
int32_t kz_wordpiece_vocab_size(const kz_wordpiece *tok);
/* The vocabulary's identity: SHA-256 of every token followed by "\n", in id
 * order, as 64 hex digits (what `sha256sum vocab.txt` prints for a file with
 * LF line ends; a CRLF file hashes as its LF form). */
void kz_wordpiece_vocab_sha256(const kz_wordpiece *tok, char hex[65]);
/* The same over n token strings. */
void kz_tokens_sha256(const char *const *tokens, int32_t n, char hex[65]);
/* Ids of the special tokens ([MASK] may be -1: it is optional). */
typedef struct kz_wordpiece_specials {
  int32_t unk, cls, sep, pad, mask;
} kz_wordpiece_specials;
void kz_wordpiece_get_specials(const kz_wordpiece *tok, kz_wordpiece_specials *out);

#ifdef __cplusplus
}
#endif
#endif
