/* Entity- and token-level scores of token classification (tf_metrics.h),
 * against counts worked out by hand with seqeval's default chunking rules. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/transformer/tf_metrics.h"

static int failures;
#define CHECK(c)                                                                                   \
  do {                                                                                             \
    if (!(c)) fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c), failures++;                  \
  } while (0)

/* classes: 0 B-LOC, 1 B-PER, 2 I-LOC, 3 I-PER, 4 O (sorted, as the import codes strings) */
static const char *const bio[] = {"B-LOC", "B-PER", "I-LOC", "I-PER", "O"};

static kz_tf_ner_counts run(const char *const *names, int k, const int32_t *g, const int32_t *p,
                            int64_t n) {
  int64_t scratch[64];
  kz_tf_ner_counts c;
  memset(&c, 0, sizeof c);
  kz_tf_ner_count(names, k, g, p, n, scratch, &c);
  return c;
}

int main(void) {
  {
    /* gold: [PER Emma Woodhouse] O [LOC Highbury]; pred gets PER right and
     * LOC one word too long */
    int32_t g[] = {1, 3, 4, 0, 4}, p[] = {1, 3, 4, 0, 2};
    kz_tf_ner_counts c = run(bio, 5, g, p, 5);
    CHECK(c.ent_gold == 2 && c.ent_pred == 2 && c.ent_tp == 1);
    CHECK(c.tok_tp == 3 && c.tok_fp == 1 && c.tok_fn == 0);
    CHECK(fabs(kz_tf_f1(c.ent_tp, c.ent_pred - c.ent_tp, c.ent_gold - c.ent_tp) - 0.5) < 1e-12);
    CHECK(fabs(kz_tf_f1(c.tok_tp, c.tok_fp, c.tok_fn) - 6.0 / 7.0) < 1e-12);
  }
  {
    /* an I after O starts an entity (non-strict), a change of type splits
     * one, and B after B starts a new one */
    int32_t g[] = {4, 3, 3, 2, 0, 0}, p[] = {1, 3, 3, 2, 0, 2};
    kz_tf_ner_counts c = run(bio, 5, g, p, 6);
    /* gold: PER[1,2] LOC[3,3] LOC[4,4] LOC[5,5]; pred: PER[0,2] LOC[3,3] LOC[4,5] */
    CHECK(c.ent_gold == 4 && c.ent_pred == 3 && c.ent_tp == 1);
    CHECK(c.tok_tp == 4 && c.tok_fp == 2 && c.tok_fn == 1);
  }
  {
    /* same span, other type: not a match */
    int32_t g[] = {1, 3}, p[] = {0, 2};
    kz_tf_ner_counts c = run(bio, 5, g, p, 2);
    CHECK(c.ent_gold == 1 && c.ent_pred == 1 && c.ent_tp == 0);
    CHECK(c.tok_tp == 0 && c.tok_fp == 2 && c.tok_fn == 2);
  }
  {
    /* IO tags: a name without a B-/I- prefix; consecutive tokens are one entity */
    static const char *const io[] = {"O", "PER"};
    int32_t g[] = {1, 1, 0, 1}, p[] = {1, 1, 0, 0};
    kz_tf_ner_counts c = run(io, 2, g, p, 4);
    CHECK(c.ent_gold == 2 && c.ent_pred == 1 && c.ent_tp == 1);
  }
  {
    /* nothing to find and nothing found: F1 undefined */
    int32_t g[] = {4, 4}, p[] = {4, 4};
    kz_tf_ner_counts c = run(bio, 5, g, p, 2);
    CHECK(c.ent_gold == 0 && c.ent_pred == 0 && isnan(kz_tf_f1(0, 0, 0)));
    CHECK(c.tok_tp == 0 && c.tok_fp == 0 && c.tok_fn == 0);
  }
  /* QA span F1: overlap of [5,8] and [7,9]: 2 tokens, p 2/4, r 2/3 -> 4/7 */
  CHECK(fabs(kz_tf_span_f1(5, 8, 7, 9) - 4.0 / 7.0) < 1e-12);
  CHECK(kz_tf_span_f1(5, 8, 5, 8) == 1 && kz_tf_span_f1(5, 6, 7, 9) == 0);
  CHECK(kz_tf_span_f1(0, 0, 0, 0) == 1 && kz_tf_span_f1(0, 0, 3, 4) == 0 &&
        kz_tf_span_f1(3, 4, 0, 0) == 0);
  {
    /* QA decoding over [CLS] q q [SEP] c c c [SEP]: the best pair (1, 2) lies in the
     * question, (6, 7) would end on the final [SEP]; the answer is the best span
     * inside the context, (4, 5) */
    const int32_t types[] = {0, 0, 0, 0, 1, 1, 1, 1};
    const float s[] = {0, 9, 0, 0, 2, 1, 3, 0}, e[] = {0, 0, 9, 0, 0, 2, 0, 5};
    int64_t bs, be;
    kz_tf_best_span(s, e, types, 8, 30, &bs, &be);
    CHECK(bs == 4 && be == 5);
    /* without types only [CLS] and the final [SEP] are excluded */
    kz_tf_best_span(s, e, NULL, 8, 30, &bs, &be);
    CHECK(bs == 1 && be == 2);
    /* end before start is never taken: (6, 5) would score 5 */
    kz_tf_best_span(s, e, types, 8, 30, &bs, &be);
    CHECK(!(bs == 6 && be == 5));
    /* the maximum answer length: with 1 only single tokens, best s + e = (5, 5) or (6, 6) */
    kz_tf_best_span(s, e, types, 8, 1, &bs, &be);
    CHECK(bs == 5 && be == 5);
    /* [CLS] beating every context span is "no answer", (0, 0) */
    const float s0[] = {20, 9, 0, 0, 2, 1, 3, 0}, e0[] = {20, 0, 9, 0, 0, 2, 0, 5};
    kz_tf_best_span(s0, e0, types, 8, 30, &bs, &be);
    CHECK(bs == 0 && be == 0);
    /* a row of length 8 padded to 10: positions past the length never count */
    const int32_t tp[] = {0, 0, 0, 0, 1, 1, 1, 1, 0, 0};
    const float sp[] = {0, 0, 0, 0, 1, 0, 0, 0, 50, 50}, ep[] = {0, 0, 0, 0, 1, 0, 0, 0, 50, 50};
    kz_tf_best_span(sp, ep, tp, 8, 30, &bs, &be);
    CHECK(bs == 4 && be == 4);
  }
  /* SQuAD's answer-text scores: normalisation, then exact match and word F1 */
#define EM(a, b) kz_tf_text_em(a, strlen(a), b, strlen(b))
#define F1(a, b) kz_tf_text_f1(a, strlen(a), b, strlen(b))
  CHECK(EM("The Bath.", "bath") == 1 && EM("  an   Apple ", "apple") == 1);
  CHECK(EM("don't", "dont") == 1 && EM("Bath", "Bristol") == 0);
  CHECK(EM("theatre", "atre") == 0); /* articles only as whole words */
  CHECK(F1("", "") == 1 && F1("a", "the") == 1 && F1("x", "") == 0 && F1("", "x") == 0);
  /* pred "in bath city" vs gold "bath": 1 common, p 1/3, r 1 -> 0.5 */
  CHECK(fabs(F1("in Bath, city", "the bath") - 0.5) < 1e-12);
  /* multisets: "a a b" (articles gone: nothing) vs "x x y": "x x y" and "x y" -> p 1, r 2/3 */
  CHECK(fabs(F1("x y", "x x y") - 0.8) < 1e-12);
  CHECK(fabs(F1("x x y", "x y") - 0.8) < 1e-12);
  CHECK(EM("Caf\xc3\xa9!", "caf\xc3\xa9") == 1); /* UTF-8 kept, ASCII lower-cased */
  if (failures) return 1;
  printf("tf_metrics: ok\n");
  return 0;
}
