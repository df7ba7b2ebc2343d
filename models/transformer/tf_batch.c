/* Shard batches in, steps out: the transformer's train_batch, eval_batch and
 * predict_batch. The host builds each step's inputs from the text fields
 * (rows trimmed to the longest row of the batch: padding past it changes
 * nothing but the cost, except for qa whose span softmax covers every
 * position), draws the MLM masks and turns logits into metrics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/rng.h"
#include "kernels/core/error.h"
#include "models/transformer/tf_internal.h"

/* Rows per step in eval and predict: 64, fewer for long rows, so that a
 * layer's attention probabilities stay within 2^24 floats (64 MB). */
int64_t kz_tf_eval_chunk(const kz_tf *m) {
  double rows = (double)(1 << 24) / ((double)m->heads * (double)m->data_len * (double)m->data_len);
  return rows >= 64 ? 64 : rows >= 1 ? (int64_t)rows : 1;
}

/* The mask stream of evaluation: fixed, keyed by the row's global index so
 * a row is masked the same way whatever batch it lands in. */
#define TF_EVAL_MASK_SEED 0x6576616c6d6c6dULL

typedef struct host_in {
  kz_tf_inputs in;
  int32_t *ids, *types, *lengths, *pos, *tgt, *lab, *lab2;
  int64_t *row_of_masked; /* mlm: batch row of each masked position */
} host_in;

static void host_free(host_in *h) {
  free(h->ids), free(h->types), free(h->lengths), free(h->pos), free(h->tgt), free(h->lab),
      free(h->lab2), free(h->row_of_masked);
  memset(h, 0, sizeof *h);
}

static kz_status check_batch(const kz_tf *m, const kz_shard_batch *b, int need_label) {
  struct {
    int f;
    int64_t w;
    const char *name;
  } want[6] = {{m->f_ids, m->data_len, "input_ids"},
               {m->f_len, 1, "length"},
               {m->f_types, m->data_len, "token_type_ids"},
               {need_label ? (m->task == TF_TOKCLS ? m->f_tok : m->f_label) : -1,
                m->task == TF_TOKCLS ? m->data_len : 1, "label"},
               {need_label && m->task == TF_QA ? m->f_astart : -1, 1, "answer_start"},
               {need_label && m->task == TF_QA ? m->f_aend : -1, 1, "answer_end"}};
  for (int i = 0; i < 6; i++) {
    if (want[i].f < 0) continue;
    if (want[i].f >= b->n_fields || b->types[want[i].f] != KZ_FIELD_I32 ||
        b->widths[want[i].f] != want[i].w)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "transformer: batch field %d ('%s') must be int32 of width %lld as in the "
                     "training schema; the data set does not match the model",
                     want[i].f, want[i].name, (long long)want[i].w);
  }
  return KZ_OK;
}

/* Rows [r0, r0+B) of b as step inputs; mlm masks drawn from mask_seed
 * (keyed by batch row, or by global row index when by_row_id). */
static kz_status build(const kz_tf *m, const kz_shard_batch *b, int64_t r0, int64_t B, int labels,
                       uint64_t mask_seed, int by_row_id, host_in *h) {
  memset(h, 0, sizeof *h);
  const int64_t W = m->data_len;
  int64_t T = 1;
  h->lengths = malloc((size_t)B * sizeof(int32_t));
  if (!h->lengths) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: batch");
  for (int64_t r = 0; r < B; r++) {
    int32_t len = *kz_batch_i32(b, m->f_len, r0 + r);
    if (len < 0 || len > W)
      return kz_fail(KZ_ERR_INVALID_ARG, "transformer: row %lld: length %d outside [0, %lld]",
                     (long long)(r0 + r), (int)len, (long long)W);
    h->lengths[r] = len;
    T = len > T ? len : T;
  }
  if (m->task == TF_QA) T = W;
  const int64_t N = B * T;
  h->ids = malloc((size_t)N * sizeof(int32_t));
  h->types = m->f_types >= 0 ? malloc((size_t)N * sizeof(int32_t)) : NULL;
  if (!h->ids || (m->f_types >= 0 && !h->types))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: batch");
  for (int64_t r = 0; r < B; r++) {
    memcpy(h->ids + r * T, kz_batch_i32(b, m->f_ids, r0 + r), (size_t)T * sizeof(int32_t));
    if (h->types)
      memcpy(h->types + r * T, kz_batch_i32(b, m->f_types, r0 + r), (size_t)T * sizeof(int32_t));
  }
  h->in = (kz_tf_inputs){.B = B, .T = T, .ids = h->ids, .types = h->types, .lengths = h->lengths};
  if (!labels) return KZ_OK;
  switch (m->task) {
  case TF_MLM: {
    /* BERT's masking: each real token other than [CLS], [SEP] and [PAD] is
     * chosen with mask_prob; a chosen one becomes [MASK] (80%), a random
     * token (10%) or stays (10%), and is predicted. */
    h->pos = malloc((size_t)N * sizeof(int32_t));
    h->tgt = malloc((size_t)N * sizeof(int32_t));
    h->row_of_masked = malloc((size_t)N * sizeof(int64_t));
    if (!h->pos || !h->tgt || !h->row_of_masked)
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: batch");
    int64_t M = 0;
    for (int64_t r = 0; r < B; r++) {
      uint64_t idx =
          by_row_id && b->row_ids ? (uint64_t)b->row_ids[r0 + r] : (uint64_t)(r + b->rank_offset);
      uint64_t state = kz_rng_key(mask_seed, idx, 0x6d6c6dULL);
      for (int64_t t = 0; t < h->lengths[r]; t++) {
        int32_t id = h->ids[r * T + t];
        if (id == m->sp.cls || id == m->sp.sep || id == m->sp.pad) continue;
        if (kz_rng_unit(&state) >= m->mask_prob) continue;
        double u = kz_rng_unit(&state);
        int32_t rnd = (int32_t)kz_rng_below(&state, (uint64_t)m->vocab);
        h->pos[M] = (int32_t)(r * T + t);
        h->tgt[M] = id;
        h->row_of_masked[M] = r;
        M++;
        h->ids[r * T + t] = u < 0.8 ? m->sp.mask : u < 0.9 ? rnd : id;
      }
    }
    h->in.n_masked = M;
    h->in.mask_pos = h->pos;
    h->in.mask_target = h->tgt;
    return KZ_OK;
  }
  case TF_CLS:
    h->lab = malloc((size_t)B * sizeof(int32_t));
    if (!h->lab) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: batch");
    for (int64_t r = 0; r < B; r++) h->lab[r] = *kz_batch_i32(b, m->f_label, r0 + r);
    h->in.labels = h->lab;
    return KZ_OK;
  case TF_TOKCLS:
    h->lab = malloc((size_t)N * sizeof(int32_t));
    if (!h->lab) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: batch");
    for (int64_t r = 0; r < B; r++)
      memcpy(h->lab + r * T, kz_batch_i32(b, m->f_tok, r0 + r), (size_t)T * sizeof(int32_t));
    h->in.labels = h->lab;
    return KZ_OK;
  case TF_QA:
    h->lab = malloc((size_t)B * sizeof(int32_t));
    h->lab2 = malloc((size_t)B * sizeof(int32_t));
    if (!h->lab || !h->lab2) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: batch");
    for (int64_t r = 0; r < B; r++) {
      h->lab[r] = *kz_batch_i32(b, m->f_astart, r0 + r);
      h->lab2[r] = *kz_batch_i32(b, m->f_aend, r0 + r);
    }
    h->in.labels = h->lab;
    h->in.labels2 = h->lab2;
    return KZ_OK;
  }
  return KZ_OK;
}

kz_status kz_tf_train_batch(kz_nn_model *model, const kz_shard_batch *b, double weight,
                            uint64_t dropout_seed, double *loss) {
  kz_tf *m = (kz_tf *)model;
  *loss = 0.0;
  KZ_TRY(check_batch(m, b, 1));
  if (b->rows == 0) return KZ_OK;
  host_in h;
  kz_status st = build(m, b, 0, b->rows, 1, kz_rng_key(dropout_seed, 1, 0x6d61736bULL), 0, &h);
  if (st == KZ_OK) st = kz_tf_run(m, &h.in, 1, weight, dropout_seed, loss, NULL);
  host_free(&h);
  return st;
}

kz_status kz_tf_loss_items(kz_nn_model *model, const kz_shard_batch *b, uint64_t dropout_seed,
                           int64_t *items) {
  kz_tf *m = (kz_tf *)model;
  *items = 0;
  if (b->rows == 0) return KZ_OK;
  KZ_TRY(check_batch(m, b, 1));
  /* the inputs train_batch builds (the same masking), counted as kz_tf_run
   * counts what its mean loss is over */
  host_in h;
  kz_status st = build(m, b, 0, b->rows, 1, kz_rng_key(dropout_seed, 1, 0x6d61736bULL), 0, &h);
  if (st == KZ_OK) {
    const int64_t B = h.in.B, N = B * h.in.T;
    if (m->task == TF_MLM) {
      *items = h.in.n_masked;
    } else if (m->task == TF_CLS || m->task == TF_TOKCLS) {
      const int64_t n = m->task == TF_CLS ? B : N;
      for (int64_t i = 0; i < n; i++) *items += h.lab[i] >= 0 && h.lab[i] < m->n_classes;
    } else { /* QA: the mean of the start and end losses; the rows with a start */
      for (int64_t i = 0; i < B; i++) *items += h.lab[i] >= 0 && h.lab[i] < h.in.T;
    }
  }
  host_free(&h);
  return st;
}

/* The last step's logits as host floats (the tensor itself on the CPU). */
kz_status kz_tf_logits_host(kz_tf *m, float **buf, const float **out) {
  size_t bytes = kz_tensor_bytes(&m->logits);
  if (m->base.device.kind == KZ_DEVICE_CPU) {
    *out = m->logits.data;
    return KZ_OK;
  }
  float *p = realloc(*buf, bytes ? bytes : 4);
  if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: logits");
  *buf = p;
  KZ_TRY(kz_copy_to_host(m->stream, p, m->logits.data, bytes));
  KZ_TRY(kz_stream_sync(m->stream));
  *out = p;
  return KZ_OK;
}

static int64_t argmax(const float *z, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (z[i] > z[best]) best = i;
  return best;
}

/* QA span decoding (kz_tf_best_span): answers of at most 30 tokens (HF's
 * max_answer_length) inside the context. */
enum { TF_QA_MAX_ANSWER = 30 };
/* One chunk of B rows from r0 through the forward pass with the evaluation
 * masking (no backward), as evaluation and prediction both need it: the host
 * inputs into *h, the per-row items (resized) and the logits on the host in
 * *z. On failure *h is freed. */
static kz_status forward_chunk(kz_tf *m, const kz_shard_batch *b, int64_t r0, int64_t B, int labels,
                               const char *what, host_in *h, float **items, float **buf,
                               const float **z) {
  double loss = 0;
  kz_status st = build(m, b, r0, B, labels, TF_EVAL_MASK_SEED, 1, h);
  const int64_t N = st == KZ_OK ? B * h->in.T : 0;
  float *it = st == KZ_OK ? realloc(*items, (size_t)(N + 2 * B + 1) * sizeof(float)) : NULL;
  if (st == KZ_OK && !it) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: %s", what);
  if (it) *items = it;
  if (st == KZ_OK) st = kz_tf_run(m, &h->in, 0, 1.0, 0, &loss, *items);
  if (st == KZ_OK) st = kz_tf_logits_host(m, buf, z);
  if (st != KZ_OK) host_free(h);
  return st;
}

kz_status kz_tf_eval_batch(kz_nn_model *model, const kz_shard_batch *b, kz_nn_eval *acc) {
  kz_tf *m = (kz_tf *)model;
  KZ_TRY(check_batch(m, b, 1));
  if (acc->rows == 0 && m->confusion)
    memset(m->confusion, 0, (size_t)m->n_classes * (size_t)m->n_classes * sizeof(int64_t));
  if (acc->rows == 0)
    memset(&m->ner, 0, sizeof m->ner), m->qa_f1 = m->qa_text_em = m->qa_text_f1 = 0;
  /* qa: the answers' text from the model's vocabulary, when it has one */
  const char **vocab = NULL;
  int32_t n_vocab = 0;
  if (m->task == TF_QA && m->tokenizer)
    KZ_TRY(kz_transformer_vocab_tokens(model, &vocab, &n_vocab));
  kz_tf_detok dt = {0};
  kz_status st = KZ_OK;
  int32_t *words = NULL; /* token_classification: gold and predicted codes of a row's words */
  int64_t *scratch = NULL;
  float *buf = NULL, *items = NULL;
  double *zr = NULL;
  const int64_t C = m->n_classes > 2 ? m->n_classes : 2;
  if (!(zr = malloc((size_t)C * sizeof(double)))) {
    free(vocab);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: eval");
  }
  const int64_t chunk = kz_tf_eval_chunk(m);
  for (int64_t r0 = 0; st == KZ_OK && r0 < b->rows; r0 += chunk) {
    int64_t B = b->rows - r0 < chunk ? b->rows - r0 : chunk;
    host_in h;
    const float *z = NULL;
    st = forward_chunk(m, b, r0, B, 1, "eval", &h, &items, &buf, &z);
    if (st != KZ_OK) break;
    const int64_t T = h.in.T;
    switch (m->task) {
    case TF_MLM:
      /* sum[logloss] holds the summed token losses, rows the masked tokens */
      for (int64_t i = 0; i < h.in.n_masked; i++) acc->sum[KZ_METRIC_LOGLOSS] += items[i];
      acc->rows += h.in.n_masked;
      break;
    case TF_CLS:
      for (int64_t r = 0; r < B; r++) {
        int32_t t = h.lab[r];
        if (t < 0 || t >= m->n_classes) continue;
        for (int64_t c = 0; c < m->n_classes; c++) zr[c] = z[r * m->n_classes + c];
        kz_metric_add_logits(acc, m->n_classes, zr, t);
        int64_t p = argmax(z + r * m->n_classes, m->n_classes);
        m->confusion[(int64_t)t * m->n_classes + p]++;
      }
      break;
    case TF_TOKCLS: {
      int32_t *w = realloc(words, (size_t)(2 * T) * sizeof(int32_t));
      int64_t *s = w ? realloc(scratch, (size_t)(4 * T) * sizeof(int64_t)) : NULL;
      if (w) words = w;
      if (s) scratch = s;
      if (!w || !s) {
        st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: eval");
        break;
      }
      for (int64_t r = 0; r < B; r++) {
        /* the labelled positions are the words' first sub-tokens, in order */
        int64_t nw = 0;
        for (int64_t i = r * T; i < (r + 1) * T; i++) {
          int32_t t = h.lab[i];
          if (t < 0 || t >= m->n_classes) continue;
          for (int64_t c = 0; c < m->n_classes; c++) zr[c] = z[i * m->n_classes + c];
          kz_metric_add_logits(acc, m->n_classes, zr, t);
          words[nw] = t;
          words[T + nw] = (int32_t)argmax(z + i * m->n_classes, m->n_classes);
          nw++;
        }
        kz_tf_ner_count((const char *const *)m->class_names, m->n_classes, words, words + T, nw,
                        scratch, &m->ner);
      }
      break;
    }
    case TF_QA:
      /* sum[logloss]: the rows' mean span losses, sum[accuracy]: exact
       * matches of the decoded span */
      for (int64_t r = 0; r < B; r++) {
        if (h.lab[r] < 0 || h.lab[r] >= T || h.lab2[r] < 0 || h.lab2[r] >= T) continue;
        int64_t bs, be;
        kz_tf_best_span(z + r * T, z + (B + r) * T, h.types ? h.types + r * T : NULL, h.lengths[r],
                        TF_QA_MAX_ANSWER, &bs, &be);
        acc->sum[KZ_METRIC_LOGLOSS] += 0.5 * ((double)items[r] + items[B + r]);
        acc->sum[KZ_METRIC_ACCURACY] += bs == h.lab[r] && be == h.lab2[r];
        m->qa_f1 += kz_tf_span_f1(bs, be, h.lab[r], h.lab2[r]);
        if (vocab) {
          const int32_t *ids = h.ids + r * T;
          st = kz_tf_detok_spans(&dt, vocab, n_vocab, ids, bs, be, h.lab[r], h.lab2[r]);
          if (st != KZ_OK) break;
          m->qa_text_em += kz_tf_text_em(dt.a, dt.a_len, dt.b, dt.b_len);
          m->qa_text_f1 += kz_tf_text_f1(dt.a, dt.a_len, dt.b, dt.b_len);
        }
        acc->rows++;
      }
      break;
    }
    host_free(&h);
  }
  free(buf);
  free(items);
  free(zr);
  free(words);
  free(scratch);
  free(vocab);
  kz_tf_detok_free(&dt);
  return st;
}

void kz_tf_eval_finish(const kz_nn_model *model, const kz_nn_eval *acc, kz_nn_metrics *out) {
  const kz_tf *m = (const kz_tf *)model;
  memset(out, 0, sizeof *out);
  const double n = (double)acc->rows;
  switch (m->task) {
  case TF_MLM: {
    double ll = n > 0 ? acc->sum[KZ_METRIC_LOGLOSS] / n : NAN;
    out->n = 2;
    out->names[0] = "logloss", out->values[0] = ll, out->higher_is_better[0] = 0;
    out->names[1] = "perplexity", out->values[1] = exp(ll), out->higher_is_better[1] = 0;
    return;
  }
  case TF_QA:
    out->n = 2;
    out->names[0] = "logloss";
    out->values[0] = n > 0 ? acc->sum[KZ_METRIC_LOGLOSS] / n : NAN;
    out->names[1] = "exact_match";
    out->values[1] = n > 0 ? acc->sum[KZ_METRIC_ACCURACY] / n : NAN;
    out->higher_is_better[1] = 1;
    out->n = 3;
    out->names[2] = "span_f1";
    out->values[2] = n > 0 ? m->qa_f1 / n : NAN;
    out->higher_is_better[2] = 1;
    if (m->tokenizer) { /* SQuAD-style, on the answers' word pieces joined back */
      out->n = 5;
      out->names[3] = "text_exact_match";
      out->values[3] = n > 0 ? m->qa_text_em / n : NAN;
      out->names[4] = "text_f1";
      out->values[4] = n > 0 ? m->qa_text_f1 / n : NAN;
      out->higher_is_better[3] = out->higher_is_better[4] = 1;
    }
    return;
  default:
    kz_nn_metrics_fill(acc, 1, out);
    break;
  }
  if (m->task == TF_TOKCLS) {
    /* seqeval-style entity scores over the words, then token-level F1 over
     * the classes other than O */
    const kz_tf_ner_counts *c = &m->ner;
    const char *nm[4] = {"entity_f1", "entity_precision", "entity_recall", "token_f1"};
    double v[4] = {kz_tf_f1(c->ent_tp, c->ent_pred - c->ent_tp, c->ent_gold - c->ent_tp),
                   c->ent_pred ? (double)c->ent_tp / (double)c->ent_pred : NAN,
                   c->ent_gold ? (double)c->ent_tp / (double)c->ent_gold : NAN,
                   kz_tf_f1(c->tok_tp, c->tok_fp, c->tok_fn)};
    for (int k = 0; k < 4 && out->n < KZ_NN_MAX_METRICS; k++) {
      int i = out->n++;
      out->names[i] = nm[k], out->values[i] = v[k], out->higher_is_better[i] = 1;
    }
    return;
  }
  if (m->task != TF_CLS || !m->confusion) return;
  /* macro-F1 over the classes that occur (as truth or prediction) */
  double f1 = 0;
  int used = 0;
  const int K = m->n_classes;
  for (int k = 0; k < K; k++) {
    int64_t tp = m->confusion[(int64_t)k * K + k], fp = 0, fn = 0;
    for (int j = 0; j < K; j++)
      if (j != k) fp += m->confusion[(int64_t)j * K + k], fn += m->confusion[(int64_t)k * K + j];
    if (tp + fp + fn == 0) continue;
    f1 += 2.0 * (double)tp / (double)(2 * tp + fp + fn);
    used++;
  }
  int i = out->n++;
  out->names[i] = "macro_f1";
  out->values[i] = used ? f1 / used : NAN;
  out->higher_is_better[i] = 1;
}

kz_status kz_tf_predict_batch(kz_nn_model *model, const kz_shard_batch *b, float *out) {
  kz_tf *m = (kz_tf *)model;
  KZ_TRY(check_batch(m, b, 0));
  kz_status st = KZ_OK;
  float *buf = NULL, *items = NULL;
  const int64_t W = m->base.info.out_width;
  const int64_t chunk = kz_tf_eval_chunk(m);
  for (int64_t r0 = 0; st == KZ_OK && r0 < b->rows; r0 += chunk) {
    int64_t B = b->rows - r0 < chunk ? b->rows - r0 : chunk;
    host_in h;
    /* mlm predicts the loss of the evaluation masking: it needs "labels",
     * which are the tokens themselves */
    const float *z = NULL;
    st = forward_chunk(m, b, r0, B, m->task == TF_MLM, "predict", &h, &items, &buf, &z);
    if (st != KZ_OK) break;
    const int64_t T = h.in.T;
    float *o = out + r0 * W;
    switch (m->task) {
    case TF_MLM:
      for (int64_t r = 0; r < B; r++) o[r] = 0.0f;
      {
        int64_t *cnt = calloc((size_t)B, sizeof(int64_t));
        double *sum = calloc((size_t)B, sizeof(double));
        if (!cnt || !sum) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: predict");
        for (int64_t i = 0; st == KZ_OK && i < h.in.n_masked; i++)
          sum[h.row_of_masked[i]] += items[i], cnt[h.row_of_masked[i]]++;
        for (int64_t r = 0; st == KZ_OK && r < B; r++)
          o[r] = cnt[r] ? (float)(sum[r] / (double)cnt[r]) : NAN;
        free(cnt);
        free(sum);
      }
      break;
    case TF_CLS: {
      const int64_t K = m->n_classes;
      for (int64_t r = 0; r < B; r++) {
        const float *zr = z + r * K;
        double mx = zr[argmax(zr, K)], s = 0;
        for (int64_t c = 0; c < K; c++) s += exp((double)zr[c] - mx);
        for (int64_t c = 0; c < K; c++) o[r * K + c] = (float)(exp((double)zr[c] - mx) / s);
      }
      break;
    }
    case TF_TOKCLS:
      for (int64_t r = 0; r < B; r++)
        for (int64_t t = 0; t < W; t++)
          o[r * W + t] = t < h.lengths[r] && t < T
                             ? (float)argmax(z + (r * T + t) * m->n_classes, m->n_classes)
                             : -1.0f;
      break;
    case TF_QA:
      for (int64_t r = 0; r < B; r++) {
        int64_t bs, be;
        kz_tf_best_span(z + r * T, z + (B + r) * T, h.types ? h.types + r * T : NULL, h.lengths[r],
                        TF_QA_MAX_ANSWER, &bs, &be);
        o[r * 2] = (float)bs, o[r * 2 + 1] = (float)be;
      }
      break;
    }
    host_free(&h);
  }
  free(buf);
  free(items);
  return st;
}

/* ---- the explicit-input API (transformer.h) -------------------------------- */

kz_status kz_transformer_step(kz_nn_model *model, const kz_tf_inputs *in, int train, double weight,
                              uint64_t dropout_seed, double *loss) {
  kz_tf *m = (kz_tf *)model;
  if (strcmp(m->base.ops->type, "transformer") != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "not a transformer model");
  return kz_tf_run(m, in, train, weight, dropout_seed, loss, NULL);
}

kz_status kz_transformer_logits(const kz_nn_model *model, kz_tensor *out) {
  const kz_tf *m = (const kz_tf *)model;
  if (!m->logits.data) return kz_fail(KZ_ERR_INVALID_ARG, "transformer: no step has run");
  *out = m->logits;
  return KZ_OK;
}
