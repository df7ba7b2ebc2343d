/* Raw text in, answers out (docs/MODELS.md, "Predicting from raw text"):
 * the model's own vocabulary tokenises each text as import did, the encoder
 * runs on chunks of rows, and the logits become what a user asked for:
 * class probabilities, per-word labels with character offsets, an answer
 * span of the context, or a sentence embedding (mlm). `kaizen predict
 * --input`, `kaizen eval --input` and the server share this file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/transformer/tf_internal.h"

struct kz_tf_text {
  kz_tf *m;
  kz_nn_model *embedder; /* mlm */
  kz_wordpiece *tok;     /* no truncation: each task cuts where it must */
  kz_tf_text_options o;
  int n_inputs;
  const char *in_names[2];
  int64_t W; /* tokens a row may have (the data set's width) */
  int64_t chunk;
  kz_wordpiece_encoding e1, e2;
  /* one chunk of model rows */
  int32_t *ids, *types, *lengths;
  int64_t n_units;
  int64_t *unit_row; /* the text row a model row belongs to */
  int32_t *unit_c0;  /* qa: first context position; tokcls: first word */
  int32_t *unit_nc;  /* qa: context tokens; tokcls: words */
  int32_t *unit_off; /* qa: [W][4] byte and char offsets of the context tokens */
  float *zbuf;
  /* results (valid until the next run) */
  float *probs, *emb;
  kz_tf_word *words;
  int32_t *first_piece; /* tokcls: each word's first piece */
  int64_t n_words, cap_words;
  int64_t *word_at; /* per text row: its first word */
  int64_t cap_rows;
};

void kz_tf_text_options_default(kz_tf_text_options *o) {
  o->max_answer_len = 30;
  o->n_best = 20;
  o->stride = -1;
  o->max_text_bytes = 1 << 20;
}

static const char *tok_str(const json_t *t, const char *key, const char *fallback) {
  const char *s = json_string_value(json_object_get(t, key));
  return s ? s : fallback;
}

void kz_tf_text_free(kz_tf_text *t) {
  if (!t) return;
  if (t->embedder) kz_nn_base(t->embedder)->ops->destroy(t->embedder);
  kz_wordpiece_free(t->tok);
  kz_wordpiece_encoding_free(&t->e1);
  kz_wordpiece_encoding_free(&t->e2);
  free(t->ids), free(t->types), free(t->lengths), free(t->unit_row), free(t->unit_c0);
  free(t->unit_nc), free(t->unit_off), free(t->zbuf), free(t->probs), free(t->emb);
  free(t->words), free(t->first_piece), free(t->word_at);
  free(t);
}

kz_status kz_tf_text_open(kz_nn_model *model, const kz_tf_text_options *o, kz_tf_text **out) {
  *out = NULL;
  if (strcmp(kz_nn_base(model)->ops->type, "transformer") != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "text input: the model is a %s, not a transformer",
                   kz_nn_base(model)->ops->type);
  kz_tf *m = (kz_tf *)model;
  KZ_TRY(kz_tf_tokenizer_need(m, "text input"));
  kz_tf_text *t = calloc(1, sizeof *t);
  if (!t) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "text input");
  t->m = m;
  if (o)
    t->o = *o;
  else
    kz_tf_text_options_default(&t->o);
  if (t->o.max_answer_len < 1) t->o.max_answer_len = 1;
  if (t->o.n_best < 1) t->o.n_best = 1;
  t->W = m->data_len;
  t->chunk = kz_tf_eval_chunk(m);
  const json_t *tj = m->tokenizer;
  switch (m->task) {
  case TF_QA:
    t->n_inputs = 2;
    t->in_names[0] = tok_str(tj, "question_column", "question");
    t->in_names[1] = tok_str(tj, "context_column", "context");
    break;
  case TF_TOKCLS:
    t->n_inputs = 1;
    t->in_names[0] = "text"; /* raw text: words are the basic tokenizer's */
    break;
  default:
    t->n_inputs = 1;
    t->in_names[0] = tok_str(tj, "text_column", "text");
  }
  const int64_t C = t->chunk, W = t->W;
  t->ids = malloc((size_t)(C * W) * sizeof(int32_t));
  t->types = malloc((size_t)(C * W) * sizeof(int32_t));
  t->lengths = malloc((size_t)C * sizeof(int32_t));
  t->unit_row = malloc((size_t)C * sizeof(int64_t));
  t->unit_c0 = malloc((size_t)C * sizeof(int32_t));
  t->unit_nc = malloc((size_t)C * sizeof(int32_t));
  t->unit_off = malloc((size_t)(C * W * 4) * sizeof(int32_t));
  kz_status st =
      t->ids && t->types && t->lengths && t->unit_row && t->unit_c0 && t->unit_nc && t->unit_off
          ? KZ_OK
          : kz_fail(KZ_ERR_OUT_OF_MEMORY, "text input");
  if (st == KZ_OK) st = kz_tf_tokenizer_load(m, 0, &t->tok);
  if (st == KZ_OK && m->task == TF_MLM) st = kz_transformer_embedder_of(model, 0, &t->embedder);
  if (st != KZ_OK) {
    kz_tf_text_free(t);
    return st;
  }
  *out = t;
  return KZ_OK;
}

const char *kz_tf_text_task(const kz_tf_text *t) {
  return kz_tf_task_names[t->m->task];
}
int kz_tf_text_input_count(const kz_tf_text *t) {
  return t->n_inputs;
}
const char *kz_tf_text_input_name(const kz_tf_text *t, int i) {
  return i >= 0 && i < t->n_inputs ? t->in_names[i] : NULL;
}
int kz_tf_text_class_count(const kz_tf_text *t) {
  return t->m->task == TF_CLS || t->m->task == TF_TOKCLS ? t->m->n_classes : 0;
}
const char *kz_tf_text_class_name(const kz_tf_text *t, int k) {
  return k >= 0 && k < kz_tf_text_class_count(t) ? t->m->class_names[k] : NULL;
}
int64_t kz_tf_text_embedding_size(const kz_tf_text *t) {
  return t->m->task == TF_MLM ? t->m->hidden : 0;
}
int64_t kz_tf_text_max_tokens(const kz_tf_text *t) {
  return t->W;
}

/* ---- inputs ---------------------------------------------------------------- */

static kz_status check_cell(const kz_tf_text *t, int64_t row, int i, const char *v, size_t len) {
  if (!v)
    return kz_fail(KZ_ERR_INVALID_ARG, "row %lld: input '%s' is missing", (long long)row,
                   t->in_names[i]);
  if (len == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "row %lld: input '%s' is empty", (long long)row,
                   t->in_names[i]);
  if (len > (size_t)t->o.max_text_bytes)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "row %lld: input '%s' is too long (%zu bytes; at most %d per text)",
                   (long long)row, t->in_names[i], len, t->o.max_text_bytes);
  if (memchr(v, '\0', len))
    return kz_fail(KZ_ERR_INVALID_ARG, "row %lld: input '%s' holds a NUL byte", (long long)row,
                   t->in_names[i]);
  return KZ_OK;
}

/* Word pieces of a cell (no special tokens); at least one. */
static kz_status pieces(const kz_tf_text *t, int64_t row, int i, const char *v, size_t len,
                        kz_wordpiece_encoding *e) {
  KZ_TRY(check_cell(t, row, i, v, len));
  kz_status st = kz_wordpiece_tokenize(t->tok, v, len, e);
  if (st != KZ_OK)
    return kz_fail_context(st, "row %lld: input '%s'", (long long)row, t->in_names[i]);
  if (e->count == 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "row %lld: input '%s' has no tokens (only whitespace or control characters)",
                   (long long)row, t->in_names[i]);
  return KZ_OK;
}

/* Starts model row u: [CLS]; returns the next position. */
static int64_t unit_begin(kz_tf_text *t, int64_t u, int64_t row) {
  t->unit_row[u] = row;
  t->ids[u * t->W] = t->m->sp.cls;
  t->types[u * t->W] = 0;
  return 1;
}

static void put_tok(kz_tf_text *t, int64_t u, int64_t pos, int32_t id, int32_t type) {
  t->ids[u * t->W + pos] = id;
  t->types[u * t->W + pos] = type;
}

/* Runs the chunk's model rows (laid out with stride W) and returns the
 * logits on the host; T is the longest row (qa: W, as in training). */
static kz_status run_units(kz_tf_text *t, int64_t *T_out, const float **z) {
  const int64_t B = t->n_units, W = t->W;
  int64_t T = 1;
  for (int64_t u = 0; u < B; u++) T = t->lengths[u] > T ? t->lengths[u] : T;
  if (t->m->task == TF_QA) T = W;
  /* compact rows from stride W to stride T, padding with [PAD] */
  for (int64_t u = 0; u < B; u++)
    for (int64_t p = 0; p < T; p++) {
      int pad = p >= t->lengths[u];
      t->ids[u * T + p] = pad ? (t->m->sp.pad >= 0 ? t->m->sp.pad : 0) : t->ids[u * W + p];
      t->types[u * T + p] = pad ? 0 : t->types[u * W + p];
    }
  kz_tf_inputs in = {.B = B, .T = T, .ids = t->ids, .types = t->types, .lengths = t->lengths};
  double loss = 0;
  KZ_TRY(kz_tf_run(t->m, &in, 0, 1.0, 0, &loss, NULL));
  *T_out = T;
  return kz_tf_logits_host(t->m, &t->zbuf, z);
}

/* softmax of z[0..n) at k, and the argmax */
static int32_t argmax_prob(const float *z, int64_t n, float *prob) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (z[i] > z[best]) best = i;
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += exp((double)z[i] - z[best]);
  *prob = (float)(1.0 / s);
  return (int32_t)best;
}

/* ---- classification and mlm ------------------------------------------------- */

static kz_status flush_cls(kz_tf_text *t, kz_tf_text_row *rows) {
  if (!t->n_units) return KZ_OK;
  const int64_t K = t->m->n_classes;
  if (t->m->task == TF_MLM) {
    const int64_t H = t->m->hidden;
    int64_t T = 1;
    for (int64_t u = 0; u < t->n_units; u++) T = t->lengths[u] > T ? t->lengths[u] : T;
    for (int64_t u = 0; u < t->n_units; u++)
      for (int64_t p = 0; p < T; p++)
        t->ids[u * T + p] = p < t->lengths[u]   ? t->ids[u * t->W + p]
                            : t->m->sp.pad >= 0 ? t->m->sp.pad
                                                : 0;
    KZ_TRY(kz_transformer_embed(t->embedder, t->ids, t->lengths, t->n_units, T, 1,
                                t->emb + t->unit_row[0] * H));
    for (int64_t u = 0; u < t->n_units; u++)
      rows[t->unit_row[u]].embedding = t->emb + t->unit_row[u] * H;
    t->n_units = 0;
    return KZ_OK;
  }
  int64_t T;
  const float *z;
  KZ_TRY(run_units(t, &T, &z));
  for (int64_t u = 0; u < t->n_units; u++) {
    float *p = t->probs + t->unit_row[u] * K;
    const float *zr = z + u * K;
    float top;
    int32_t best = argmax_prob(zr, K, &top);
    double s = 0;
    for (int64_t c = 0; c < K; c++) s += exp((double)zr[c] - zr[best]);
    for (int64_t c = 0; c < K; c++) p[c] = (float)(exp((double)zr[c] - zr[best]) / s);
    rows[t->unit_row[u]].label = best;
    rows[t->unit_row[u]].probs = p;
  }
  t->n_units = 0;
  return KZ_OK;
}

static kz_status run_cls(kz_tf_text *t, int64_t n, int64_t row0, const char *const *cells,
                         const size_t *lens, kz_tf_text_row *rows) {
  for (int64_t r = 0; r < n; r++) {
    KZ_TRY(pieces(t, row0 + r, 0, cells[r], lens[r], &t->e1));
    /* [CLS] text [SEP], the text cut to W - 2 pieces as import cuts it */
    int64_t u = t->n_units++, pos = unit_begin(t, u, r);
    int64_t keep = t->e1.count < t->W - 2 ? t->e1.count : t->W - 2;
    for (int64_t k = 0; k < keep; k++) put_tok(t, u, pos++, t->e1.ids[k], 0);
    put_tok(t, u, pos++, t->m->sp.sep, 0);
    t->lengths[u] = (int32_t)pos;
    rows[r].truncated = (int32_t)(t->e1.count - keep);
    if (t->n_units == t->chunk) KZ_TRY(flush_cls(t, rows));
  }
  return flush_cls(t, rows);
}

/* ---- token classification ---------------------------------------------------- */

static kz_status grow_words(kz_tf_text *t, int64_t need) {
  if (need <= t->cap_words) return KZ_OK;
  int64_t cap = t->cap_words ? t->cap_words * 2 : 256;
  while (cap < need) cap *= 2;
  kz_tf_word *w = realloc(t->words, (size_t)cap * sizeof *w);
  if (w) t->words = w;
  int32_t *f = realloc(t->first_piece, (size_t)cap * sizeof *f);
  if (f) t->first_piece = f;
  if (!w || !f) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "text input: words");
  t->cap_words = cap;
  return KZ_OK;
}

static kz_status flush_tok(kz_tf_text *t) {
  if (!t->n_units) return KZ_OK;
  const int64_t K = t->m->n_classes;
  int64_t T;
  const float *z;
  KZ_TRY(run_units(t, &T, &z));
  for (int64_t u = 0; u < t->n_units; u++)
    for (int32_t w = t->unit_c0[u]; w < t->unit_c0[u] + t->unit_nc[u]; w++) {
      kz_tf_word *wd = &t->words[w];
      int64_t p = 1 + t->first_piece[w];    /* after [CLS] */
      if (p >= t->lengths[u] - 1) continue; /* truncated away: no label */
      wd->label = argmax_prob(z + (u * T + p) * K, K, &wd->prob);
    }
  t->n_units = 0;
  return KZ_OK;
}

static kz_status run_tok(kz_tf_text *t, int64_t n, int64_t row0, const char *const *cells,
                         const size_t *lens, kz_tf_text_row *rows) {
  t->n_words = 0;
  for (int64_t r = 0; r < n; r++) {
    kz_wordpiece_encoding *e = &t->e1;
    KZ_TRY(pieces(t, row0 + r, 0, cells[r], lens[r], e));
    /* a word is a piece without the "##" prefix and the pieces after it */
    int64_t first = t->n_words;
    KZ_TRY(grow_words(t, t->n_words + e->count));
    for (int32_t k = 0; k < e->count; k++) {
      const char *s = kz_wordpiece_token_string(t->tok, e->ids[k]);
      int cont = k > 0 && s && !strncmp(s, "##", 2);
      if (!cont) {
        kz_tf_word *w = &t->words[t->n_words];
        t->first_piece[t->n_words++] = k;
        *w = (kz_tf_word){.start = e->char_offsets[2 * k],
                          .byte_start = e->offsets[2 * k],
                          .label = -1,
                          .prob = 0};
      }
      kz_tf_word *w = &t->words[t->n_words - 1];
      w->end = e->char_offsets[2 * k + 1];
      w->byte_end = e->offsets[2 * k + 1];
    }
    t->word_at[r] = first;
    rows[r].n_words = (int32_t)(t->n_words - first);
    int64_t u = t->n_units++, pos = unit_begin(t, u, r);
    int64_t keep = e->count < t->W - 2 ? e->count : t->W - 2;
    for (int64_t k = 0; k < keep; k++) put_tok(t, u, pos++, e->ids[k], 0);
    put_tok(t, u, pos++, t->m->sp.sep, 0);
    t->lengths[u] = (int32_t)pos;
    t->unit_c0[u] = (int32_t)first;
    t->unit_nc[u] = (int32_t)(t->n_words - first);
    rows[r].truncated = (int32_t)(e->count - keep);
    if (t->n_units == t->chunk) KZ_TRY(flush_tok(t));
  }
  KZ_TRY(flush_tok(t));
  for (int64_t r = 0; r < n; r++) rows[r].words = t->words + t->word_at[r];
  return KZ_OK;
}

/* ---- qa ---------------------------------------------------------------------- */

/* The n best indices of z[0..n) (descending), into best[]; returns how many. */
static int top_n(const float *z, int64_t n, int k, int32_t *best) {
  int have = 0;
  for (int64_t i = 0; i < n; i++) {
    int at;
    if (have < k) {
      at = have++;
    } else {
      if (z[i] <= z[best[k - 1]]) continue;
      at = k - 1;
    }
    while (at > 0 && z[best[at - 1]] < z[i]) best[at] = best[at - 1], at--;
    best[at] = (int32_t)i;
  }
  return have;
}

static double log_sum_exp(const float *z, int64_t n) {
  double mx = -INFINITY, s = 0;
  for (int64_t i = 0; i < n; i++) mx = z[i] > mx ? z[i] : mx;
  for (int64_t i = 0; i < n; i++) s += exp((double)z[i] - mx);
  return mx + log(s);
}

static kz_status flush_qa(kz_tf_text *t, kz_tf_text_row *rows) {
  if (!t->n_units) return KZ_OK;
  int64_t T;
  const float *z;
  KZ_TRY(run_units(t, &T, &z));
  const int64_t B = t->n_units;
  int32_t *bs = malloc(2 * (size_t)t->o.n_best * sizeof(int32_t));
  if (!bs) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "text input: qa");
  int32_t *be = bs + t->o.n_best;
  for (int64_t u = 0; u < B; u++) {
    /* start and end are softmaxed over the window's context tokens only:
     * an answer never lies in the question or on a special token */
    const int32_t c0 = t->unit_c0[u], nc = t->unit_nc[u];
    const float *zs = z + u * T + c0, *ze = z + (B + u) * T + c0;
    const double ls = log_sum_exp(zs, nc), le = log_sum_exp(ze, nc);
    int ns = top_n(zs, nc, t->o.n_best, bs), ne = top_n(ze, nc, t->o.n_best, be);
    kz_tf_text_row *row = &rows[t->unit_row[u]];
    row->windows++;
    for (int i = 0; i < ns; i++)
      for (int j = 0; j < ne; j++) {
        int32_t s = bs[i], e = be[j];
        if (e < s || e - s + 1 > t->o.max_answer_len) continue;
        double score = exp((double)zs[s] - ls + (double)ze[e] - le);
        if (row->has_answer && score <= row->score) continue;
        const int32_t *off = t->unit_off + (u * t->W) * 4;
        row->has_answer = 1;
        row->score = score;
        row->byte_start = off[4 * s], row->byte_end = off[4 * e + 1];
        row->start = off[4 * s + 2], row->end = off[4 * e + 3];
      }
  }
  free(bs);
  t->n_units = 0;
  return KZ_OK;
}

static kz_status run_qa(kz_tf_text *t, int64_t n, int64_t row0, const char *const *cells,
                        const size_t *lens, kz_tf_text_row *rows) {
  const int64_t W = t->W;
  for (int64_t r = 0; r < n; r++) {
    kz_wordpiece_encoding *q = &t->e1, *c = &t->e2;
    KZ_TRY(pieces(t, row0 + r, 0, cells[2 * r], lens[2 * r], q));
    KZ_TRY(pieces(t, row0 + r, 1, cells[2 * r + 1], lens[2 * r + 1], c));
    /* [CLS] question [SEP] window [SEP]: the question whole, as import keeps it */
    const int64_t room = W - q->count - 3;
    if (room < 1)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "row %lld: input '%s' has %d tokens, which leave no room for the context "
                     "in the model's %lld",
                     (long long)(row0 + r), t->in_names[0], (int)q->count, (long long)W);
    /* long contexts: windows of `room` tokens, each sharing `stride` tokens
     * with the one before (HF's doc_stride) */
    int64_t stride = t->o.stride >= 0 ? t->o.stride : 128;
    if (stride > room / 2) stride = room / 2;
    for (int64_t c_start = 0;;) {
      int64_t c_end = c_start + room < c->count ? c_start + room : c->count;
      int64_t u = t->n_units++, pos = unit_begin(t, u, r);
      for (int32_t k = 0; k < q->count; k++) put_tok(t, u, pos++, q->ids[k], 0);
      put_tok(t, u, pos++, t->m->sp.sep, 0);
      t->unit_c0[u] = (int32_t)pos;
      t->unit_nc[u] = (int32_t)(c_end - c_start);
      int32_t *off = t->unit_off + (u * W) * 4;
      for (int64_t k = c_start; k < c_end; k++) {
        int64_t i = k - c_start;
        off[4 * i] = c->offsets[2 * k], off[4 * i + 1] = c->offsets[2 * k + 1];
        off[4 * i + 2] = c->char_offsets[2 * k], off[4 * i + 3] = c->char_offsets[2 * k + 1];
        put_tok(t, u, pos++, c->ids[k], 1);
      }
      put_tok(t, u, pos++, t->m->sp.sep, 1);
      t->lengths[u] = (int32_t)pos;
      if (t->n_units == t->chunk) KZ_TRY(flush_qa(t, rows));
      if (c_end >= c->count) break;
      c_start = c_end - stride;
    }
  }
  return flush_qa(t, rows);
}

kz_status kz_tf_text_run(kz_tf_text *t, int64_t n, int64_t row0, const char *const *cells,
                         const size_t *lens, kz_tf_text_row *rows) {
  if (n < 0 || (n > 0 && (!cells || !lens || !rows)))
    return kz_fail(KZ_ERR_INVALID_ARG, "text input: bad arguments");
  memset(rows, 0, (size_t)n * sizeof *rows);
  if (n > t->cap_rows) {
    const int64_t K = t->m->n_classes > 0 ? t->m->n_classes : 1;
    const int64_t H = t->m->task == TF_MLM ? t->m->hidden : 1;
    free(t->probs), free(t->emb), free(t->word_at);
    t->cap_rows = 0;
    t->probs = malloc((size_t)(n * K) * sizeof(float));
    t->emb = malloc((size_t)(n * H) * sizeof(float));
    t->word_at = malloc((size_t)n * sizeof(int64_t));
    if (!t->probs || !t->emb || !t->word_at)
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "text input: %lld rows", (long long)n);
    t->cap_rows = n;
  }
  t->n_units = 0;
  kz_status st;
  switch (t->m->task) {
  case TF_QA:
    st = run_qa(t, n, row0, cells, lens, rows);
    break;
  case TF_TOKCLS:
    st = run_tok(t, n, row0, cells, lens, rows);
    break;
  default:
    st = run_cls(t, n, row0, cells, lens, rows);
  }
  t->n_units = 0;
  return st;
}
