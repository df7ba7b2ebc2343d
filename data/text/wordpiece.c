/* WordPiece encoding: special-token splitting, the basic tokenizer, greedy
 * longest-match-first subwords, then [CLS]/[SEP], truncation and padding. */
#include "data/text/wordpiece.h"

#include <stdlib.h>
#include <string.h>

#include "common/hash/sha256.h"
#include "data/text/basic_tokenizer.h"
#include "data/text/utf8.h"
#include "data/text/vocab.h"
#include "kernels/core/error.h"

struct kz_wordpiece {
  kz_vocab vocab;
  kz_wordpiece_options opt;
  kz_wordpiece_specials sp;
  /* Specials matched verbatim in the input, before normalisation, as HF's
   * added-token pass does. */
  int32_t verbatim[5];
  int n_verbatim;
};

typedef struct piece {
  int32_t id;
  uint32_t src_first, src_last; /* source characters covered (inclusive) */
} piece;

typedef struct piece_list {
  piece *p;
  size_t n, cap;
} piece_list;

void kz_wordpiece_options_default(kz_wordpiece_options *o) {
  memset(o, 0, sizeof *o);
  o->lowercase = 1;
  o->strip_accents = -1;
  o->pad = 1;
  o->max_word_chars = 100;
}

static kz_status init(kz_wordpiece *t, const kz_wordpiece_options *options, const char *what) {
  if (options)
    t->opt = *options;
  else
    kz_wordpiece_options_default(&t->opt);
  if (t->opt.strip_accents < 0) t->opt.strip_accents = t->opt.lowercase;
  if (t->opt.max_word_chars <= 0) t->opt.max_word_chars = 100;
  if (t->opt.max_len < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: max_len %d is negative", what, t->opt.max_len);
  const char *names[5] = {"[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"};
  int32_t *slots[5] = {&t->sp.unk, &t->sp.cls, &t->sp.sep, &t->sp.pad, &t->sp.mask};
  for (int i = 0; i < 5; ++i) {
    *slots[i] = kz_vocab_find(&t->vocab, names[i], strlen(names[i]), 0);
    if (*slots[i] < 0 && i < 4)
      return kz_fail(KZ_ERR_FORMAT, "%s: vocabulary has no %s token", what, names[i]);
    if (*slots[i] >= 0) t->verbatim[t->n_verbatim++] = *slots[i];
  }
  return KZ_OK;
}

kz_status kz_wordpiece_load(const char *path, const kz_wordpiece_options *options,
                            kz_wordpiece **out) {
  *out = NULL;
  kz_wordpiece *t = calloc(1, sizeof *t);
  if (!t) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: no memory for a tokenizer", path);
  kz_status st = kz_vocab_load(&t->vocab, path);
  if (st == KZ_OK) st = init(t, options, path);
  if (st != KZ_OK) {
    kz_wordpiece_free(t);
    return st;
  }
  *out = t;
  return KZ_OK;
}

kz_status kz_wordpiece_from_tokens(const char *const *tokens, int32_t n,
                                   const kz_wordpiece_options *options, kz_wordpiece **out) {
  *out = NULL;
  kz_wordpiece *t = calloc(1, sizeof *t);
  if (!t) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tokenizer: no memory");
  kz_status st = kz_vocab_from_strings(&t->vocab, tokens, n, "token list");
  if (st == KZ_OK) st = init(t, options, "token list");
  if (st != KZ_OK) {
    kz_wordpiece_free(t);
    return st;
  }
  *out = t;
  return KZ_OK;
}

void kz_wordpiece_free(kz_wordpiece *t) {
  if (!t) return;
  kz_vocab_free(&t->vocab);
  free(t);
}

int32_t kz_wordpiece_token_id(const kz_wordpiece *t, const char *token) {
  return kz_vocab_find(&t->vocab, token, strlen(token), 0);
}

const char *kz_wordpiece_token_string(const kz_wordpiece *t, int32_t id) {
  return id >= 0 && id < t->vocab.count ? kz_vocab_string(&t->vocab, id) : NULL;
}

int32_t kz_wordpiece_vocab_size(const kz_wordpiece *t) {
  return t->vocab.count;
}

void kz_wordpiece_vocab_sha256(const kz_wordpiece *t, char hex[65]) {
  kz_sha256 c;
  kz_sha256_init(&c);
  for (int32_t id = 0; id < t->vocab.count; ++id) {
    kz_sha256_update(&c, kz_vocab_string(&t->vocab, id), t->vocab.length[id]);
    kz_sha256_update(&c, "\n", 1);
  }
  kz_sha256_final_hex(&c, hex);
}

void kz_tokens_sha256(const char *const *tokens, int32_t n, char hex[65]) {
  kz_sha256 c;
  kz_sha256_init(&c);
  for (int32_t id = 0; id < n; ++id) {
    kz_sha256_update(&c, tokens[id], strlen(tokens[id]));
    kz_sha256_update(&c, "\n", 1);
  }
  kz_sha256_final_hex(&c, hex);
}

void kz_wordpiece_get_specials(const kz_wordpiece *t, kz_wordpiece_specials *out) {
  *out = t->sp;
}

void kz_wordpiece_encoding_free(kz_wordpiece_encoding *e) {
  free(e->ids);
  free(e->type_ids);
  free(e->offsets);
  free(e->char_offsets);
  memset(e, 0, sizeof *e);
}

static kz_status push_piece(piece_list *l, int32_t id, uint32_t first, uint32_t last) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    piece *p = realloc(l->p, cap * sizeof *p);
    if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tokenizer: no memory for %zu tokens", cap);
    l->p = p;
    l->cap = cap;
  }
  l->p[l->n].id = id;
  l->p[l->n].src_first = first;
  l->p[l->n].src_last = last;
  ++l->n;
  return KZ_OK;
}

/* Source span of normalised characters [a, b): min/max because canonical
 * reordering may move a character ahead of its neighbours. */
static void span(const kz_basic_tokenizer *bt, size_t a, size_t b, uint32_t *first,
                 uint32_t *last) {
  uint32_t lo = bt->norm[a].src, hi = lo;
  for (size_t i = a + 1; i < b; ++i) {
    if (bt->norm[i].src < lo) lo = bt->norm[i].src;
    if (bt->norm[i].src > hi) hi = bt->norm[i].src;
  }
  *first = lo;
  *last = hi;
}

typedef struct word_buf {
  char *bytes;
  uint32_t *at; /* at[k]: byte offset of character k; at[count] = total */
  size_t cap;
} word_buf;

/* Greedy longest-match-first over one word; the whole word becomes [UNK]
 * when it is too long or some position has no match, as in BERT. */
static kz_status encode_word(const kz_wordpiece *t, const kz_basic_tokenizer *bt,
                             const kz_text_word *w, word_buf *wb, piece_list *out) {
  uint32_t first, last;
  span(bt, w->first, w->first + w->count, &first, &last);
  if (w->count > (uint32_t)t->opt.max_word_chars) return push_piece(out, t->sp.unk, first, last);
  size_t need = (size_t)w->count * 4 + 1;
  if (need > wb->cap) {
    char *b = realloc(wb->bytes, need);
    if (b) wb->bytes = b;
    uint32_t *a = realloc(wb->at, need * sizeof *a);
    if (a) wb->at = a;
    if (!b || !a) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tokenizer: no memory for a word");
    wb->cap = need;
  }
  uint32_t pos = 0;
  for (uint32_t k = 0; k < w->count; ++k) {
    wb->at[k] = pos;
    pos += (uint32_t)kz_utf8_put(bt->norm[w->first + k].cp, wb->bytes + pos);
  }
  wb->at[w->count] = pos;
  size_t mark = out->n;
  uint32_t start = 0;
  while (start < w->count) {
    int prefix = start > 0;
    int32_t id = -1;
    uint32_t end = w->count;
    for (; end > start; --end) {
      size_t bytes = wb->at[end] - wb->at[start];
      if (bytes + (prefix ? 2 : 0) > t->vocab.max_token_bytes) continue;
      id = kz_vocab_find(&t->vocab, wb->bytes + wb->at[start], bytes, prefix);
      if (id >= 0) break;
    }
    if (id < 0) {
      out->n = mark;
      return push_piece(out, t->sp.unk, first, last);
    }
    uint32_t a, b;
    span(bt, w->first + start, w->first + end, &a, &b);
    KZ_TRY(push_piece(out, id, a, b));
    start = end;
  }
  return KZ_OK;
}

static int match_verbatim(const kz_wordpiece *t, const char *text, size_t len, size_t at,
                          int32_t *id) {
  size_t best = 0;
  for (int i = 0; i < t->n_verbatim; ++i) {
    int32_t v = t->verbatim[i];
    size_t n = t->vocab.length[v];
    if (n > best && at + n <= len && !memcmp(text + at, kz_vocab_string(&t->vocab, v), n)) {
      best = n;
      *id = v;
    }
  }
  return (int)best;
}

static kz_status words_to_pieces(const kz_wordpiece *t, kz_basic_tokenizer *bt, size_t w0,
                                 piece_list *out) {
  word_buf wb = {0};
  kz_status st = KZ_OK;
  for (size_t i = w0; i < bt->n_words && st == KZ_OK; ++i)
    st = encode_word(t, bt, &bt->words[i], &wb, out);
  free(wb.bytes);
  free(wb.at);
  return st;
}

/* Tokenises one text into pieces (no [CLS]/[SEP]); bt keeps its source
 * characters for offset conversion. */
static kz_status sequence(const kz_wordpiece *t, kz_basic_tokenizer *bt, const char *text,
                          size_t len, piece_list *out) {
  if (!text && len) return kz_fail(KZ_ERR_INVALID_ARG, "tokenizer: text is NULL");
  bt->lowercase = t->opt.lowercase;
  bt->strip_accents = t->opt.strip_accents;
  bt->reject_invalid_utf8 = t->opt.reject_invalid_utf8;
  KZ_TRY(kz_basic_decode(bt, text ? text : "", len));
  size_t seg = 0;
  for (size_t i = 0; i < bt->n_src; ++i) {
    int32_t id = -1;
    int n;
    /* '[' never occurs inside a multi-byte or ill-formed sequence, so a
     * special token always starts and ends on source characters. */
    if (bt->src[i].cp != '[' || !(n = match_verbatim(t, text, len, bt->src[i].byte_start, &id)))
      continue;
    size_t w0 = bt->n_words;
    KZ_TRY(kz_basic_split(bt, seg, i));
    KZ_TRY(words_to_pieces(t, bt, w0, out));
    KZ_TRY(push_piece(out, id, (uint32_t)i, (uint32_t)(i + (size_t)n - 1)));
    seg = i + (size_t)n;
    i = seg - 1;
  }
  size_t w0 = bt->n_words;
  KZ_TRY(kz_basic_split(bt, seg, bt->n_src));
  return words_to_pieces(t, bt, w0, out);
}

static kz_status reserve(kz_wordpiece_encoding *e, size_t n) {
  if (n > INT32_MAX / 2) return kz_fail(KZ_ERR_INVALID_ARG, "tokenizer: %zu tokens is too many", n);
  if ((int32_t)n <= e->capacity) return KZ_OK;
  size_t cap = e->capacity > 0 ? (size_t)e->capacity : 64;
  while (cap < n) cap *= 2;
  int32_t *ids = realloc(e->ids, cap * sizeof *ids);
  if (ids) e->ids = ids;
  int32_t *types = realloc(e->type_ids, cap * sizeof *types);
  if (types) e->type_ids = types;
  int32_t *offs = realloc(e->offsets, 2 * cap * sizeof *offs);
  if (offs) e->offsets = offs;
  int32_t *coffs = realloc(e->char_offsets, 2 * cap * sizeof *coffs);
  if (coffs) e->char_offsets = coffs;
  if (!ids || !types || !offs || !coffs)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tokenizer: no memory for %zu tokens", cap);
  e->capacity = (int32_t)cap;
  return KZ_OK;
}

static void put(kz_wordpiece_encoding *e, int32_t id, int32_t type, int32_t bs, int32_t be,
                int32_t cs, int32_t ce) {
  int32_t i = e->count++;
  e->ids[i] = id;
  e->type_ids[i] = type;
  e->offsets[2 * i] = bs;
  e->offsets[2 * i + 1] = be;
  e->char_offsets[2 * i] = cs;
  e->char_offsets[2 * i + 1] = ce;
}

static void put_pieces(kz_wordpiece_encoding *e, const kz_basic_tokenizer *bt, const piece_list *l,
                       size_t n, int32_t type) {
  for (size_t i = 0; i < n; ++i) {
    const piece *p = &l->p[i];
    put(e, p->id, type, (int32_t)bt->src[p->src_first].byte_start,
        (int32_t)bt->src[p->src_last].byte_end, (int32_t)p->src_first, (int32_t)p->src_last + 1);
  }
}

/* Shared tail of every encode call. b and lb are NULL for a single text. */
static kz_status assemble(const kz_wordpiece *t, int specials, const kz_basic_tokenizer *ba,
                          const piece_list *la, const kz_basic_tokenizer *bb, const piece_list *lb,
                          kz_wordpiece_encoding *e) {
  size_t na = la->n, nb = lb ? lb->n : 0;
  size_t n_special = specials ? (lb ? 3 : 2) : 0;
  size_t max_len = specials ? (size_t)t->opt.max_len : 0;
  e->count = e->length = e->truncated = 0;
  if (max_len) {
    if (max_len < n_special)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "tokenizer: max_len %zu is shorter than the %zu special tokens", max_len,
                     n_special);
    size_t budget = max_len - n_special;
    if (!lb) {
      if (na > budget) na = budget;
    } else if (na + nb > budget) {
      /* HF's longest_first: a sequence shorter than its half of the budget
       * is kept whole, the other gets the rest; when both are longer they
       * split the budget, the longer one (b on a tie) taking the odd token. */
      if (na > nb) {
        size_t keep_b = budget > na ? budget - na : 0;
        if (keep_b < budget / 2) keep_b = budget / 2;
        if (keep_b > nb) keep_b = nb;
        nb = keep_b;
        na = budget - nb;
      } else {
        size_t keep_a = budget > nb ? budget - nb : 0;
        if (keep_a < budget / 2) keep_a = budget / 2;
        if (keep_a > na) keep_a = na;
        na = keep_a;
        nb = budget - na;
      }
    }
  }
  e->truncated = (int32_t)((la->n - na) + (lb ? lb->n - nb : 0));
  size_t total = na + nb + n_special;
  size_t filled = max_len && t->opt.pad && total < max_len ? max_len : total;
  KZ_TRY(reserve(e, filled));
  if (specials) put(e, t->sp.cls, 0, 0, 0, 0, 0);
  put_pieces(e, ba, la, na, 0);
  if (specials) put(e, t->sp.sep, 0, 0, 0, 0, 0);
  if (lb) {
    put_pieces(e, bb, lb, nb, 1);
    put(e, t->sp.sep, 1, 0, 0, 0, 0);
  }
  e->length = e->count;
  while ((size_t)e->count < filled) put(e, t->sp.pad, 0, 0, 0, 0, 0);
  return KZ_OK;
}

static kz_status encode(const kz_wordpiece *t, int specials, const char *a, size_t a_len,
                        const char *b, size_t b_len, int pair, kz_wordpiece_encoding *e) {
  kz_basic_tokenizer ba = {0}, bb = {0};
  piece_list la = {0}, lb = {0};
  kz_status st = sequence(t, &ba, a, a_len, &la);
  if (st == KZ_OK && pair) st = sequence(t, &bb, b, b_len, &lb);
  if (st == KZ_OK) st = assemble(t, specials, &ba, &la, pair ? &bb : NULL, pair ? &lb : NULL, e);
  kz_basic_free(&ba);
  kz_basic_free(&bb);
  free(la.p);
  free(lb.p);
  return st;
}

kz_status kz_wordpiece_encode(const kz_wordpiece *t, const char *text, size_t len,
                              kz_wordpiece_encoding *out) {
  return encode(t, 1, text, len, NULL, 0, 0, out);
}

kz_status kz_wordpiece_encode_pair(const kz_wordpiece *t, const char *a, size_t a_len,
                                   const char *b, size_t b_len, kz_wordpiece_encoding *out) {
  return encode(t, 1, a, a_len, b, b_len, 1, out);
}

kz_status kz_wordpiece_tokenize(const kz_wordpiece *t, const char *text, size_t len,
                                kz_wordpiece_encoding *out) {
  return encode(t, 0, text, len, NULL, 0, 0, out);
}
