/* seqeval-style entity chunking and the token-level F1 (tf_metrics.h). */
#include "models/transformer/tf_metrics.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A tag's kind ('B', 'I' or 'O') and the length/pointer of its type. */
static char tag_of(const char *name, const char **type, size_t *type_len) {
  *type = "", *type_len = 0;
  if (!name || !strcmp(name, "O")) return 'O';
  if ((name[0] == 'B' || name[0] == 'I') && (name[1] == '-' || name[1] == '_')) {
    *type = name + 2, *type_len = strlen(name + 2);
    return name[0];
  }
  *type = name, *type_len = strlen(name);
  return 'I';
}

static int same_type(const char *a, size_t an, const char *b, size_t bn) {
  return an == bn && !memcmp(a, b, an);
}

/* Chunks of codes[0..n) as (start, end) pairs in out (2 per chunk), and the
 * class code of the chunk's first token in its type slot is not needed: two
 * chunks match when start, end and type agree, and the type is read back
 * from the codes at start. Returns the number of chunks. */
static int64_t chunks(const char *const *names, int K, const int32_t *codes, int64_t n,
                      int64_t *out) {
  int64_t cnt = 0, start = -1;
  const char *pt = "";
  size_t pn = 0;
  for (int64_t i = 0; i <= n; i++) {
    const char *t = "";
    size_t tn = 0;
    char k = i < n && codes[i] >= 0 && codes[i] < K ? tag_of(names[codes[i]], &t, &tn) : 'O';
    /* a chunk ends before an O, a B or a change of type */
    if (start >= 0 && (k != 'I' || !same_type(t, tn, pt, pn))) {
      out[2 * cnt] = start, out[2 * cnt + 1] = i - 1, cnt++;
      start = -1;
    }
    if (k != 'O' && start < 0) start = i;
    pt = t, pn = tn;
  }
  return cnt;
}

void kz_tf_ner_count(const char *const *names, int n_classes, const int32_t *gold,
                     const int32_t *pred, int64_t n, int64_t *scratch, kz_tf_ner_counts *c) {
  int64_t *gs = scratch, *ps = scratch + 2 * n;
  int64_t ng = chunks(names, n_classes, gold, n, gs);
  int64_t np = chunks(names, n_classes, pred, n, ps);
  c->ent_gold += ng, c->ent_pred += np;
  /* both lists are sorted by start and do not overlap: merge */
  for (int64_t i = 0, j = 0; i < ng && j < np;) {
    if (gs[2 * i] < ps[2 * j]) {
      i++;
    } else if (gs[2 * i] > ps[2 * j]) {
      j++;
    } else {
      const char *a, *b;
      size_t an, bn;
      tag_of(names[gold[gs[2 * i]]], &a, &an);
      tag_of(names[pred[ps[2 * j]]], &b, &bn);
      if (gs[2 * i + 1] == ps[2 * j + 1] && same_type(a, an, b, bn)) c->ent_tp++;
      i++, j++;
    }
  }
  for (int64_t i = 0; i < n; i++) {
    const char *t;
    size_t tn;
    int g_out = gold[i] < 0 || gold[i] >= n_classes || tag_of(names[gold[i]], &t, &tn) == 'O';
    int p_out = pred[i] < 0 || pred[i] >= n_classes || tag_of(names[pred[i]], &t, &tn) == 'O';
    if (gold[i] == pred[i]) {
      if (!g_out) c->tok_tp++;
    } else {
      if (!p_out) c->tok_fp++;
      if (!g_out) c->tok_fn++;
    }
  }
}

double kz_tf_f1(int64_t tp, int64_t fp, int64_t fn) {
  if (tp + fp + fn == 0) return NAN;
  return 2.0 * (double)tp / (double)(2 * tp + fp + fn);
}

double kz_tf_span_f1(int64_t ps, int64_t pe, int64_t gs, int64_t ge) {
  if ((ps == 0 && pe == 0) || (gs == 0 && ge == 0)) return ps == gs && pe == ge;
  int64_t lo = ps > gs ? ps : gs, hi = pe < ge ? pe : ge;
  if (hi < lo || pe < ps || ge < gs) return 0;
  double ov = (double)(hi - lo + 1), p = ov / (double)(pe - ps + 1), r = ov / (double)(ge - gs + 1);
  return 2 * p * r / (p + r);
}

void kz_tf_best_span(const float *s, const float *e, const int32_t *types, int64_t len,
                     int64_t max_answer, int64_t *bs, int64_t *be) {
  double best = len > 0 ? (double)s[0] + e[0] : 0;
  *bs = *be = 0;
  /* spans over the question or [SEP] are not answers: the question names the
   * people of the context, so a start there is a real (and seen) mistake */
  for (int64_t i = 1; i < len - 1; i++) {
    if (types && types[i] != 1) continue;
    for (int64_t j = i; j < len - 1 && j < i + max_answer; j++) {
      if (types && types[j] != 1) break;
      if ((double)s[i] + e[j] > best) best = (double)s[i] + e[j], *bs = i, *be = j;
    }
  }
}

/* ---- answer text (SQuAD's normalisation) ----------------------------------- */

typedef struct norm_words {
  char *buf;
  int n;
  char **w; /* n words, NUL-terminated, in buf */
} norm_words;

static int is_article(const char *w) {
  return !strcmp(w, "a") || !strcmp(w, "an") || !strcmp(w, "the");
}

/* Lower-cased, punctuation removed (not replaced: "don't" -> "dont"), split
 * at whitespace, articles dropped. Returns 0 when out of memory. */
static int normalise(const char *s, size_t len, norm_words *out) {
  out->n = 0;
  out->buf = malloc(len + 1);
  out->w = malloc((len / 2 + 1) * sizeof *out->w);
  if (!out->buf || !out->w) return 0;
  size_t k = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 128 && ispunct(c)) continue;
    out->buf[k++] = c < 128 ? (char)tolower(c) : (char)c;
  }
  out->buf[k] = '\0';
  for (char *p = out->buf; *p;) {
    while (*p && isspace((unsigned char)*p)) *p++ = '\0';
    if (!*p) break;
    char *w = p;
    while (*p && !isspace((unsigned char)*p)) p++;
    if (*p) *p++ = '\0';
    if (!is_article(w)) out->w[out->n++] = w;
  }
  return 1;
}

static void norm_free(norm_words *w) {
  free(w->buf), free(w->w);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

double kz_tf_text_em(const char *pred, size_t pred_len, const char *gold, size_t gold_len) {
  norm_words p = {0}, g = {0};
  double em = NAN;
  if (normalise(pred, pred_len, &p) && normalise(gold, gold_len, &g)) {
    em = p.n == g.n;
    for (int i = 0; em == 1 && i < p.n; i++) em = !strcmp(p.w[i], g.w[i]);
  }
  norm_free(&p), norm_free(&g);
  return em;
}

double kz_tf_text_f1(const char *pred, size_t pred_len, const char *gold, size_t gold_len) {
  norm_words p = {0}, g = {0};
  double f1 = NAN;
  if (normalise(pred, pred_len, &p) && normalise(gold, gold_len, &g)) {
    if (p.n == 0 || g.n == 0) {
      f1 = p.n == g.n;
    } else {
      /* multiset intersection: both sorted, then merged */
      qsort(p.w, (size_t)p.n, sizeof *p.w, cmp_str);
      qsort(g.w, (size_t)g.n, sizeof *g.w, cmp_str);
      int i = 0, j = 0, common = 0;
      while (i < p.n && j < g.n) {
        int c = strcmp(p.w[i], g.w[j]);
        if (c == 0)
          common++, i++, j++;
        else if (c < 0)
          i++;
        else
          j++;
      }
      double prec = (double)common / p.n, rec = (double)common / g.n;
      f1 = common ? 2 * prec * rec / (prec + rec) : 0;
    }
  }
  norm_free(&p), norm_free(&g);
  return f1;
}
