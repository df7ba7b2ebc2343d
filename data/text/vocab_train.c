/* WordPiece vocabulary trainer. Words are counted once, then merges run over
 * the distinct words only, so each round costs the size of the word list,
 * not of the corpus. */
#include "data/text/vocab_train.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs/atomic_file.h"
#include "data/text/basic_tokenizer.h"
#include "data/text/corpus_reader.h"
#include "data/text/utf8.h"
#include "kernels/core/error.h"

/* Interned strings with a hash index: the distinct words while counting,
 * the vocabulary while merging. */
typedef struct strtab {
  char **s;
  int64_t *count;
  int32_t n, cap;
  int32_t *slots;
  size_t mask;
} strtab;

typedef struct word {
  int64_t count;
  int32_t *sym;
  int32_t len;
} word;

struct kz_vocab_trainer {
  kz_vocab_train_options opt;
  kz_basic_tokenizer bt;
  strtab words;
  strtab vocab;
  char scratch[4 * 256 + 8];
};

static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
enum { N_SPECIALS = 5 };

static uint64_t hash_str(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; ++s) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
  return h;
}

static kz_status strtab_rehash(strtab *t, size_t slots) {
  int32_t *p = malloc(slots * sizeof *p);
  if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "vocab: no memory for %zu entries", slots);
  memset(p, 0xff, slots * sizeof *p);
  for (int32_t i = 0; i < t->n; ++i) {
    size_t k = (size_t)hash_str(t->s[i]) & (slots - 1);
    while (p[k] >= 0) k = (k + 1) & (slots - 1);
    p[k] = i;
  }
  free(t->slots);
  t->slots = p;
  t->mask = slots - 1;
  return KZ_OK;
}

/* Index of s, adding it when absent (and add is set); -1 when absent. */
static kz_status strtab_find(strtab *t, const char *s, int add, int32_t *index) {
  if (!t->slots) KZ_TRY(strtab_rehash(t, 1024));
  size_t k = (size_t)hash_str(s) & t->mask;
  while (t->slots[k] >= 0) {
    if (!strcmp(t->s[t->slots[k]], s)) {
      *index = t->slots[k];
      return KZ_OK;
    }
    k = (k + 1) & t->mask;
  }
  *index = -1;
  if (!add) return KZ_OK;
  if (t->n == t->cap) {
    int32_t cap = t->cap ? t->cap * 2 : 1024;
    char **ns = realloc(t->s, (size_t)cap * sizeof *ns);
    if (ns) t->s = ns;
    int64_t *nc = realloc(t->count, (size_t)cap * sizeof *nc);
    if (nc) t->count = nc;
    if (!ns || !nc) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "vocab: no memory for %d strings", cap);
    t->cap = cap;
  }
  char *copy = malloc(strlen(s) + 1);
  if (!copy) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "vocab: no memory");
  strcpy(copy, s);
  t->s[t->n] = copy;
  t->count[t->n] = 0;
  t->slots[k] = t->n;
  *index = t->n++;
  if ((size_t)t->n * 2 > t->mask) KZ_TRY(strtab_rehash(t, (t->mask + 1) * 2));
  return KZ_OK;
}

static void strtab_free(strtab *t) {
  for (int32_t i = 0; i < t->n; ++i) free(t->s[i]);
  free(t->s);
  free(t->count);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

void kz_vocab_train_options_default(kz_vocab_train_options *o) {
  memset(o, 0, sizeof *o);
  o->vocab_size = 30522;
  o->strip_accents = -1;
  o->min_frequency = 2;
  o->max_word_chars = 100;
}

kz_status kz_vocab_trainer_create(const kz_vocab_train_options *o, kz_vocab_trainer **out) {
  *out = NULL;
  kz_vocab_trainer *t = calloc(1, sizeof *t);
  if (!t) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "vocab: no memory for a trainer");
  if (o)
    t->opt = *o;
  else
    kz_vocab_train_options_default(&t->opt);
  if (t->opt.strip_accents < 0) t->opt.strip_accents = t->opt.lowercase;
  if (t->opt.max_word_chars <= 0 || t->opt.max_word_chars > 256) t->opt.max_word_chars = 100;
  if (t->opt.min_frequency < 1) t->opt.min_frequency = 1;
  if (t->opt.vocab_size < N_SPECIALS) {
    free(t);
    return kz_fail(KZ_ERR_INVALID_ARG, "vocab: size %d is smaller than the %d special tokens",
                   o->vocab_size, N_SPECIALS);
  }
  t->bt.lowercase = t->opt.lowercase;
  t->bt.strip_accents = t->opt.strip_accents;
  *out = t;
  return KZ_OK;
}

void kz_vocab_trainer_free(kz_vocab_trainer *t) {
  if (!t) return;
  kz_basic_free(&t->bt);
  strtab_free(&t->words);
  strtab_free(&t->vocab);
  free(t);
}

kz_status kz_vocab_trainer_add(kz_vocab_trainer *t, const char *text, size_t len) {
  KZ_TRY(kz_basic_decode(&t->bt, text, len));
  KZ_TRY(kz_basic_split(&t->bt, 0, t->bt.n_src));
  for (size_t w = 0; w < t->bt.n_words; ++w) {
    const kz_text_word *wd = &t->bt.words[w];
    /* Too-long words encode to [UNK] whatever the vocabulary holds. */
    if (wd->count > (uint32_t)t->opt.max_word_chars) continue;
    size_t pos = 0;
    for (uint32_t k = 0; k < wd->count; ++k)
      pos += (size_t)kz_utf8_put(t->bt.norm[wd->first + k].cp, t->scratch + pos);
    t->scratch[pos] = '\0';
    int32_t id;
    KZ_TRY(strtab_find(&t->words, t->scratch, 1, &id));
    t->words.count[id] += 1;
  }
  return KZ_OK;
}

static kz_status add_file_text(void *user, const char *text, size_t len) {
  return kz_vocab_trainer_add(user, text, len);
}

kz_status kz_vocab_trainer_add_file(kz_vocab_trainer *t, const char *path, const char *column) {
  return kz_corpus_read(path, column, add_file_text, t);
}

/* ---- merging ------------------------------------------------------------------ */

typedef struct pair_slot {
  uint64_t key; /* (a << 32 | b) + 1; 0 = empty */
  int64_t count;
} pair_slot;

typedef struct pair_table {
  pair_slot *slot;
  size_t mask, used;
} pair_table;

static kz_status pairs_reset(pair_table *p, size_t need) {
  size_t size = 1024;
  while (size < need * 2) size <<= 1;
  if (size != p->mask + 1 || !p->slot) {
    free(p->slot);
    p->slot = calloc(size, sizeof *p->slot);
    if (!p->slot) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "vocab: no memory for pair counts");
    p->mask = size - 1;
  } else {
    memset(p->slot, 0, size * sizeof *p->slot);
  }
  p->used = 0;
  return KZ_OK;
}

static void pairs_add(pair_table *p, int32_t a, int32_t b, int64_t n) {
  uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
  size_t k = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & p->mask;
  while (p->slot[k].key && p->slot[k].key != key) k = (k + 1) & p->mask;
  if (!p->slot[k].key) {
    p->slot[k].key = key;
    ++p->used;
  }
  p->slot[k].count += n;
}

/* Symbol for the i-th character of a word: bare first, "##" after. */
static kz_status char_symbol(strtab *v, const char *ch, size_t len, int cont, int32_t *id) {
  char tmp[8] = "##";
  memcpy(tmp + (cont ? 2 : 0), ch, len);
  tmp[len + (cont ? 2 : 0)] = '\0';
  return strtab_find(v, tmp, 1, id);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Vocabulary start: specials, then every character bare and as "##c", in
 * byte order so the result does not depend on the corpus order. */
static kz_status seed_alphabet(kz_vocab_trainer *t) {
  for (int i = 0; i < N_SPECIALS; ++i) {
    int32_t id;
    KZ_TRY(strtab_find(&t->vocab, specials[i], 1, &id));
  }
  strtab chars = {0};
  kz_status st = KZ_OK;
  for (int32_t w = 0; w < t->words.n && st == KZ_OK; ++w) {
    const uint8_t *s = (const uint8_t *)t->words.s[w];
    size_t len = strlen(t->words.s[w]), pos = 0;
    while (pos < len && st == KZ_OK) {
      size_t start = pos;
      uint32_t cp;
      char one[8];
      kz_utf8_next(s, len, &pos, &cp);
      memcpy(one, s + start, pos - start);
      one[pos - start] = '\0';
      int32_t id;
      st = strtab_find(&chars, one, 1, &id);
    }
  }
  if (st == KZ_OK && chars.n) qsort(chars.s, (size_t)chars.n, sizeof *chars.s, cmp_str);
  for (int cont = 0; cont < 2 && st == KZ_OK; ++cont)
    for (int32_t i = 0; i < chars.n && st == KZ_OK; ++i) {
      int32_t id;
      st = char_symbol(&t->vocab, chars.s[i], strlen(chars.s[i]), cont, &id);
    }
  strtab_free(&chars);
  return st;
}

static kz_status split_words(kz_vocab_trainer *t, word *words) {
  for (int32_t w = 0; w < t->words.n; ++w) {
    const uint8_t *s = (const uint8_t *)t->words.s[w];
    size_t len = strlen(t->words.s[w]), pos = 0;
    words[w].count = t->words.count[w];
    words[w].sym = malloc((len + 1) * sizeof *words[w].sym);
    if (!words[w].sym) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "vocab: no memory for words");
    words[w].len = 0;
    while (pos < len) {
      size_t start = pos;
      uint32_t cp;
      kz_utf8_next(s, len, &pos, &cp);
      KZ_TRY(char_symbol(&t->vocab, (const char *)s + start, pos - start, start > 0,
                         &words[w].sym[words[w].len++]));
    }
  }
  return KZ_OK;
}

/* One round: count pairs and symbols, pick the best score, apply it.
 * Returns 0 in *merged when no pair is frequent enough. */
static kz_status merge_round(kz_vocab_trainer *t, word *words, pair_table *pairs,
                             int64_t **sym_freq, int32_t *sym_cap, int *merged) {
  *merged = 0;
  if (t->vocab.n > *sym_cap) {
    int32_t cap = t->vocab.n * 2;
    int64_t *f = realloc(*sym_freq, (size_t)cap * sizeof *f);
    if (!f) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "vocab: no memory");
    *sym_freq = f;
    *sym_cap = cap;
  }
  memset(*sym_freq, 0, (size_t)t->vocab.n * sizeof **sym_freq);
  size_t n_pairs = 0;
  for (int32_t w = 0; w < t->words.n; ++w) n_pairs += (size_t)words[w].len;
  KZ_TRY(pairs_reset(pairs, n_pairs));
  for (int32_t w = 0; w < t->words.n; ++w) {
    for (int32_t i = 0; i < words[w].len; ++i) {
      (*sym_freq)[words[w].sym[i]] += words[w].count;
      if (i + 1 < words[w].len)
        pairs_add(pairs, words[w].sym[i], words[w].sym[i + 1], words[w].count);
    }
  }
  double best = -1.0;
  int32_t ba = -1, bb = -1;
  int64_t best_count = 0;
  for (size_t k = 0; k <= pairs->mask; ++k) {
    const pair_slot *s = &pairs->slot[k];
    if (!s->key || s->count < t->opt.min_frequency) continue;
    int32_t a = (int32_t)((s->key - 1) >> 32), b = (int32_t)((s->key - 1) & 0xffffffffu);
    double score = (double)s->count / ((double)(*sym_freq)[a] * (double)(*sym_freq)[b]);
    /* Ties: the more frequent pair, then the smaller ids, so runs repeat. */
    if (score > best ||
        (score == best &&
         (s->count > best_count || (s->count == best_count && (a < ba || (a == ba && b < bb)))))) {
      best = score;
      ba = a;
      bb = b;
      best_count = s->count;
    }
  }
  if (ba < 0) return KZ_OK;
  const char *sa = t->vocab.s[ba], *sb = t->vocab.s[bb];
  size_t la = strlen(sa), lb = strlen(sb) - 2; /* b always carries "##" */
  char *joined = malloc(la + lb + 1);
  if (!joined) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "vocab: no memory");
  memcpy(joined, sa, la);
  memcpy(joined + la, sb + 2, lb + 1);
  int32_t id;
  kz_status st = strtab_find(&t->vocab, joined, 1, &id);
  free(joined);
  KZ_TRY(st);
  for (int32_t w = 0; w < t->words.n; ++w) {
    int32_t o = 0;
    for (int32_t i = 0; i < words[w].len; ++i) {
      if (i + 1 < words[w].len && words[w].sym[i] == ba && words[w].sym[i + 1] == bb) {
        words[w].sym[o++] = id;
        ++i;
      } else {
        words[w].sym[o++] = words[w].sym[i];
      }
    }
    words[w].len = o;
  }
  *merged = 1;
  return KZ_OK;
}

static kz_status train(kz_vocab_trainer *t) {
  if (t->vocab.n) return KZ_OK; /* already trained */
  KZ_TRY(seed_alphabet(t));
  word *words = calloc((size_t)t->words.n + 1, sizeof *words);
  if (!words) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "vocab: no memory for words");
  kz_status st = split_words(t, words);
  pair_table pairs = {0};
  int64_t *sym_freq = NULL;
  int32_t sym_cap = 0;
  int merged = 1;
  while (st == KZ_OK && merged && t->vocab.n < t->opt.vocab_size)
    st = merge_round(t, words, &pairs, &sym_freq, &sym_cap, &merged);
  for (int32_t w = 0; w < t->words.n; ++w) free(words[w].sym);
  free(words);
  free(pairs.slot);
  free(sym_freq);
  return st;
}

int32_t kz_vocab_trainer_size(const kz_vocab_trainer *t) {
  return t->vocab.n;
}

int64_t kz_vocab_trainer_distinct_words(const kz_vocab_trainer *t) {
  return t->words.n;
}

const char *kz_vocab_trainer_token(const kz_vocab_trainer *t, int32_t id) {
  return id >= 0 && id < t->vocab.n ? t->vocab.s[id] : NULL;
}

kz_status kz_vocab_trainer_write(kz_vocab_trainer *t, const char *path) {
  if (!t->words.n) return kz_fail(KZ_ERR_INVALID_ARG, "vocab: the corpus has no words");
  KZ_TRY(train(t));
  kz_atomic_file out;
  KZ_TRY(kz_atomic_file_open(&out, path));
  int ok = 1;
  for (int32_t i = 0; i < t->vocab.n && ok; ++i)
    ok = fputs(t->vocab.s[i], out.f) >= 0 && fputc('\n', out.f) != EOF;
  return kz_atomic_file_finish(&out, KZ_OK); /* a failed put sets the error flag it checks */
}
