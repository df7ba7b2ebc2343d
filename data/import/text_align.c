/* NER label alignment and QA answer spans (text_align.h). */
#include "data/import/text_align.h"

#include "kernels/core/error.h"

kz_status kz_align_words(const kz_wordpiece *tok, const char *const *words, const size_t *lens,
                         const int32_t *labels, int32_t n_words, int32_t max_len,
                         kz_wordpiece_encoding *scratch, int32_t *ids, int32_t *token_labels,
                         kz_ner_result *res) {
  if (max_len < 2)
    return kz_fail(KZ_ERR_INVALID_ARG, "max_len %d leaves no room for [CLS] and [SEP]",
                   (int)max_len);
  kz_wordpiece_specials sp;
  kz_wordpiece_get_specials(tok, &sp);
  res->length = res->words_dropped = res->tokens_dropped = 0;
  int32_t pos = 0, last = max_len - 1; /* the final [SEP] goes at or before `last` */
  ids[pos] = sp.cls, token_labels[pos++] = KZ_IGNORE_LABEL;
  for (int32_t w = 0; w < n_words; ++w) {
    /* Each word alone, as HF does for pre-split input: its pieces never merge
     * with a neighbour's, and punctuation inside it still splits. */
    KZ_TRY(kz_wordpiece_tokenize(tok, words[w], lens[w], scratch));
    int32_t n = scratch->count;
    int32_t fit = last - pos < n ? last - pos : n;
    if (fit > 0) {
      ids[pos] = scratch->ids[0];
      token_labels[pos++] = labels[w];
      for (int32_t k = 1; k < fit; ++k)
        ids[pos] = scratch->ids[k], token_labels[pos++] = KZ_IGNORE_LABEL;
    } else if (labels[w] != KZ_IGNORE_LABEL) {
      res->words_dropped++; /* an empty word, or nothing left of the budget */
    }
    res->tokens_dropped += n - (fit > 0 ? fit : 0);
  }
  ids[pos] = sp.sep, token_labels[pos++] = KZ_IGNORE_LABEL;
  res->length = pos;
  for (; pos < max_len; ++pos) ids[pos] = sp.pad, token_labels[pos] = KZ_IGNORE_LABEL;
  return KZ_OK;
}

kz_status kz_qa_encode(const kz_wordpiece *tok, const char *question, size_t q_len,
                       const char *context, size_t c_len, int has_answer, size_t ans_begin,
                       size_t ans_end, int32_t max_len, kz_wordpiece_encoding *q_enc,
                       kz_wordpiece_encoding *c_enc, int32_t *ids, int32_t *type_ids,
                       kz_qa_result *res) {
  kz_wordpiece_specials sp;
  kz_wordpiece_get_specials(tok, &sp);
  res->length = res->start = res->end = res->answer_lost = res->context_dropped = 0;
  KZ_TRY(kz_wordpiece_tokenize(tok, question, q_len, q_enc));
  KZ_TRY(kz_wordpiece_tokenize(tok, context, c_len, c_enc));
  int64_t nq = q_enc->count, nc = c_enc->count, total = nq + nc + 3;
  if (total > max_len) {
    /* only_second: the question stays whole; like HF, refuse when that
     * would leave no context token at all */
    int64_t to_remove = total - max_len;
    if (nc <= to_remove)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "the question's %lld tokens leave no room for the context in max_len %d",
                     (long long)nq, (int)max_len);
    res->context_dropped = (int32_t)to_remove;
    nc -= to_remove;
  }
  int32_t pos = 0;
  ids[pos] = sp.cls, type_ids[pos++] = 0;
  for (int64_t k = 0; k < nq; ++k) ids[pos] = q_enc->ids[k], type_ids[pos++] = 0;
  ids[pos] = sp.sep, type_ids[pos++] = 0;
  int32_t c0 = pos;
  for (int64_t k = 0; k < nc; ++k) ids[pos] = c_enc->ids[k], type_ids[pos++] = 1;
  ids[pos] = sp.sep, type_ids[pos++] = 1;
  res->length = pos;
  for (; pos < max_len; ++pos) ids[pos] = sp.pad, type_ids[pos] = 0;
  if (!has_answer) return KZ_OK;
  /* HF's course recipe (offsets are context bytes here, which order the same
   * way as its code-point offsets): (0, 0) unless the kept context covers the
   * whole answer; else the last token starting at or before the answer's
   * start and the first token ending at or after its end. */
  const int32_t *off = c_enc->offsets;
  if (nc == 0 || (size_t)off[0] > ans_begin || (size_t)off[2 * (nc - 1) + 1] < ans_end) {
    res->answer_lost = 1;
    return KZ_OK;
  }
  int64_t i = 0;
  while (i < nc && (size_t)off[2 * i] <= ans_begin) ++i;
  res->start = c0 + (int32_t)i - 1;
  i = nc - 1;
  while (i >= 0 && (size_t)off[2 * i + 1] >= ans_end) --i;
  res->end = c0 + (int32_t)i + 1;
  return KZ_OK;
}

int kz_utf8_cp_to_byte(const char *s, size_t len, int64_t cp, size_t *byte) {
  if (cp < 0) return 0;
  size_t b = 0;
  for (int64_t seen = 0; seen < cp; ++seen) {
    if (b >= len) return 0;
    ++b; /* past the lead byte, then its continuation bytes */
    while (b < len && ((unsigned char)s[b] & 0xC0) == 0x80) ++b;
  }
  *byte = b;
  return 1;
}
