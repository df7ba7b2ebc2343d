/* The BERT basic tokenizer, in the order Hugging Face's fast tokenizer applies
 * it (clean, CJK spacing, NFD + drop Mn, lowercase, then split), since that
 * order decides the offsets we must reproduce. */
#include "data/text/basic_tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "data/text/unicode.h"
#include "data/text/utf8.h"
#include "kernels/core/error.h"

static kz_status grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return KZ_OK;
  size_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tokenizer: no memory for %zu characters", need);
  *p = q;
  *cap = n;
  return KZ_OK;
}

void kz_basic_free(kz_basic_tokenizer *bt) {
  free(bt->src);
  free(bt->norm);
  free(bt->words);
  bt->src = NULL;
  bt->norm = NULL;
  bt->words = NULL;
  bt->n_src = bt->cap_src = bt->n_norm = bt->cap_norm = bt->n_words = bt->cap_words = 0;
}

kz_status kz_basic_decode(kz_basic_tokenizer *bt, const char *text, size_t len) {
  if (len > UINT32_MAX - 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "tokenizer: text of %zu bytes is too long", len);
  bt->n_src = bt->n_norm = bt->n_words = 0;
  /* One character per byte at most. */
  KZ_TRY(grow((void **)&bt->src, &bt->cap_src, len + 1, sizeof *bt->src));
  const uint8_t *s = (const uint8_t *)text;
  size_t pos = 0;
  while (pos < len) {
    size_t start = pos;
    uint32_t cp;
    if (!kz_utf8_next(s, len, &pos, &cp) && bt->reject_invalid_utf8)
      return kz_fail(KZ_ERR_INVALID_ARG, "tokenizer: invalid UTF-8 at byte offset %zu", start);
    kz_text_src_char *c = &bt->src[bt->n_src++];
    c->cp = cp;
    c->byte_start = (uint32_t)start;
    c->byte_end = (uint32_t)pos;
  }
  return KZ_OK;
}

static kz_status push_norm(kz_basic_tokenizer *bt, uint32_t cp, uint32_t src) {
  KZ_TRY(grow((void **)&bt->norm, &bt->cap_norm, bt->n_norm + 1, sizeof *bt->norm));
  bt->norm[bt->n_norm].cp = cp;
  bt->norm[bt->n_norm].src = src;
  ++bt->n_norm;
  return KZ_OK;
}

/* Canonical reordering of what survived accent stripping. Dropped marks of
 * class 0 still end a reorderable run (`barrier`), as they would in NFD. */
static void reorder(kz_text_norm_char *c, const uint8_t *barrier, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (!kz_uc_combining_class(c[i].cp)) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < n && !barrier[j] && kz_uc_combining_class(c[j].cp)) ++j;
    /* Insertion sort keeps equal classes in order, as NFD requires. */
    for (size_t a = i + 1; a < j; ++a) {
      kz_text_norm_char x = c[a];
      int cls = kz_uc_combining_class(x.cp);
      size_t b = a;
      while (b > i && kz_uc_combining_class(c[b - 1].cp) > cls) {
        c[b] = c[b - 1];
        --b;
      }
      c[b] = x;
    }
    i = j;
  }
}

/* Appends the cleaned (and CJK-spaced) form of one source character. */
static kz_status clean_char(kz_basic_tokenizer *bt, uint32_t cp, uint32_t src) {
  if (cp == 0 || cp == KZ_UTF8_REPLACEMENT || kz_uc_is_control(cp)) return KZ_OK;
  if (kz_uc_is_whitespace(cp)) return push_norm(bt, ' ', src);
  if (kz_uc_is_cjk(cp)) {
    KZ_TRY(push_norm(bt, ' ', src));
    KZ_TRY(push_norm(bt, cp, src));
    return push_norm(bt, ' ', src);
  }
  return push_norm(bt, cp, src);
}

static kz_status normalize(kz_basic_tokenizer *bt, size_t from, size_t to) {
  size_t base = bt->n_norm;
  for (size_t i = from; i < to; ++i) KZ_TRY(clean_char(bt, bt->src[i].cp, (uint32_t)i));
  if (bt->strip_accents) {
    /* Decompose into a scratch copy, dropping non-spacing marks. */
    size_t n = bt->n_norm - base;
    kz_text_norm_char *tmp = malloc((n * KZ_UC_MAX_EXPANSION + 1) * sizeof *tmp);
    uint8_t *barrier = malloc(n * KZ_UC_MAX_EXPANSION + 1);
    if (!tmp || !barrier) {
      free(tmp);
      free(barrier);
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tokenizer: no memory to normalise %zu characters", n);
    }
    size_t m = 0;
    int pending_barrier = 0;
    for (size_t i = base; i < bt->n_norm; ++i) {
      uint32_t parts[KZ_UC_MAX_EXPANSION];
      int k = kz_uc_decompose(bt->norm[i].cp, parts);
      for (int p = 0; p < k; ++p) {
        if (kz_uc_is_mark_nonspacing(parts[p])) {
          if (!kz_uc_combining_class(parts[p])) pending_barrier = 1;
          continue;
        }
        tmp[m].cp = parts[p];
        tmp[m].src = bt->norm[i].src;
        barrier[m++] = (uint8_t)pending_barrier;
        pending_barrier = 0;
      }
    }
    reorder(tmp, barrier, m);
    bt->n_norm = base;
    kz_status st = grow((void **)&bt->norm, &bt->cap_norm, base + m, sizeof *bt->norm);
    if (st == KZ_OK && m) memcpy(bt->norm + base, tmp, m * sizeof *tmp);
    bt->n_norm = st == KZ_OK ? base + m : base;
    free(tmp);
    free(barrier);
    KZ_TRY(st);
  }
  if (bt->lowercase) {
    /* Lowercasing rarely expands (only U+0130 today), so expand in place
     * only when it happens. */
    for (size_t i = base; i < bt->n_norm; ++i) {
      uint32_t low[KZ_UC_MAX_EXPANSION];
      int k = kz_uc_lower(bt->norm[i].cp, low);
      bt->norm[i].cp = low[0];
      if (k == 1) continue;
      KZ_TRY(grow((void **)&bt->norm, &bt->cap_norm, bt->n_norm + (size_t)k - 1, sizeof *bt->norm));
      memmove(bt->norm + i + k, bt->norm + i + 1, (bt->n_norm - i - 1) * sizeof *bt->norm);
      for (int p = 1; p < k; ++p) {
        bt->norm[i + p].cp = low[p];
        bt->norm[i + p].src = bt->norm[i].src;
      }
      bt->n_norm += (size_t)k - 1;
      i += (size_t)k - 1;
    }
  }
  return KZ_OK;
}

static kz_status push_word(kz_basic_tokenizer *bt, size_t first, size_t end) {
  if (end <= first) return KZ_OK;
  KZ_TRY(grow((void **)&bt->words, &bt->cap_words, bt->n_words + 1, sizeof *bt->words));
  bt->words[bt->n_words].first = (uint32_t)first;
  bt->words[bt->n_words].count = (uint32_t)(end - first);
  ++bt->n_words;
  return KZ_OK;
}

kz_status kz_basic_split(kz_basic_tokenizer *bt, size_t from, size_t to) {
  size_t base = bt->n_norm;
  KZ_TRY(normalize(bt, from, to));
  size_t start = base;
  for (size_t i = base; i < bt->n_norm; ++i) {
    uint32_t cp = bt->norm[i].cp;
    if (kz_uc_is_whitespace(cp)) {
      KZ_TRY(push_word(bt, start, i));
      start = i + 1;
    } else if (kz_uc_is_punct(cp)) {
      KZ_TRY(push_word(bt, start, i));
      KZ_TRY(push_word(bt, i, i + 1));
      start = i + 1;
    }
  }
  return push_word(bt, start, bt->n_norm);
}
