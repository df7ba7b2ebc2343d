/* Entity- and token-level scores of token classification over BIO labels
 * (seqeval's default, non-strict chunking), counted row by row so that an
 * evaluation can sum them over batches. */
#ifndef KZ_MODELS_TRANSFORMER_TF_METRICS_H
#define KZ_MODELS_TRANSFORMER_TF_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct kz_tf_ner_counts {
  int64_t ent_tp, ent_pred, ent_gold; /* entities: exact (type, start, end) matches */
  int64_t tok_tp, tok_fp, tok_fn;     /* tokens of a class other than "O" */
} kz_tf_ner_counts;

/* Adds one row: gold[i] and pred[i] are class codes (0..n_classes-1) of the
 * row's words in order (a word's label is its first sub-token's). Class
 * names "B-X" / "I-X" are BIO tags of type X, "O" is outside; any other name
 * is a type of its own whose consecutive tokens form one entity (IO tags).
 * scratch holds 4 * n int64 values. */
void kz_tf_ner_count(const char *const *names, int n_classes, const int32_t *gold,
                     const int32_t *pred, int64_t n, int64_t *scratch, kz_tf_ner_counts *c);

/* F1 = 2TP / (2TP + FP + FN); NaN when nothing was predicted or true. */
double kz_tf_f1(int64_t tp, int64_t fp, int64_t fn);

/* QA: overlap F1 of a predicted and a gold inclusive token span (SQuAD's
 * F1 over the span's token positions); a (0, 0) span is "no answer" and
 * scores 1 only against (0, 0). */
double kz_tf_span_f1(int64_t ps, int64_t pe, int64_t gs, int64_t ge);

/* QA: the answer span of one row of start and end logits s, e over its len
 * tokens ([CLS] question [SEP] context [SEP]): the best s[i] + e[j] over the
 * spans i <= j < i + max_answer that lie inside the context (token type 1,
 * the final [SEP] excluded), as Hugging Face's question-answering
 * post-processing, or (0, 0), "no answer", when [CLS]'s s[0] + e[0] beats
 * them all. Without types (NULL) every position but [CLS] and the final
 * [SEP] counts as context. */
void kz_tf_best_span(const float *s, const float *e, const int32_t *types, int64_t len,
                     int64_t max_answer, int64_t *bs, int64_t *be);

/* QA on answer text, as SQuAD's evaluation script scores it: both strings
 * normalised (lower-cased, ASCII punctuation removed, the articles a / an /
 * the dropped, whitespace collapsed), then exact match (0 or 1) and the F1
 * of their word multisets (1 when both are empty, 0 when one is). */
double kz_tf_text_em(const char *pred, size_t pred_len, const char *gold, size_t gold_len);
double kz_tf_text_f1(const char *pred, size_t pred_len, const char *gold, size_t gold_len);

#endif
