/* Transformer parameter layout: one walk over the named tensors gives their
 * names, offsets and shapes (the loader's list) and the struct views the
 * model code uses, so the two can never disagree. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/transformer/tf_internal.h"

const char *const kz_tf_task_names[] = {"mlm", "classification", "token_classification", "qa",
                                        NULL};

static void tf_destroy(kz_nn_model *model) {
  kz_tf_free((kz_tf *)model);
}

const kz_nn_model_ops kz_tf_ops = {
    .type = "transformer",
    .destroy = tf_destroy,
    .init_params = kz_tf_init_params,
    .train_batch = kz_tf_train_batch,
    .eval_batch = kz_tf_eval_batch,
    .eval_finish = kz_tf_eval_finish,
    .predict_batch = kz_tf_predict_batch,
    .save = kz_tf_save,
    .meta_json = kz_tf_meta_json,
    .init_from_model = kz_tf_init_from_model,
    .loss_items = kz_tf_loss_items,
    .set_precision = kz_tf_set_precision,
};

kz_status kz_tf_init_from_model(kz_nn_model *model, const kz_nn_model *src, char *note,
                                size_t cap) {
  const kz_tf *d = (const kz_tf *)model, *s = (const kz_tf *)src;
  if (d->hidden != s->hidden || d->layers != s->layers || d->heads != s->heads ||
      d->ffn != s->ffn || d->vocab != s->vocab)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "the file's encoder (layers %lld, hidden %lld, heads %lld, ffn %lld, vocab "
                   "%lld) is not the job's (%lld, %lld, %lld, %lld, %lld)",
                   (long long)s->layers, (long long)s->hidden, (long long)s->heads,
                   (long long)s->ffn, (long long)s->vocab, (long long)d->layers,
                   (long long)d->hidden, (long long)d->heads, (long long)d->ffn,
                   (long long)d->vocab);
  /* same sizes but another vocabulary would map every id to a wrong row */
  const char *hd = kz_transformer_vocab_sha256(model), *hs = kz_transformer_vocab_sha256(src);
  if (hd && hs && strcmp(hd, hs) != 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "the file's vocabulary (sha256 %s) is not the data set's (sha256 %s): import "
                   "the data with the vocabulary the file was trained with",
                   hs, hd);
  if (s->lora.enabled && !s->lora_merged && !d->lora.enabled) {
    /* a LoRA model into a job without adapters: the weights it computes
     * with, adapters folded in */
    kz_nn_model *plain = NULL;
    KZ_TRY(kz_tf_lora_folded(s, &plain));
    kz_status st = kz_tf_init_from_model(model, plain, note, cap);
    kz_nn_base(plain)->ops->destroy(plain);
    return st;
  }
  int copied = 0, kept = 0;
  KZ_TRY(kz_transformer_copy_matching(model, src, &copied, &kept));
  snprintf(note, cap,
           "%d tensors copied from the %s model, %d initialised fresh (the %s head), the file's "
           "other tensors dropped",
           copied, kz_tf_task_names[s->task], kept, kz_tf_task_names[d->task]);
  return KZ_OK;
}

void kz_tf_free(kz_tf *m) {
  if (!m) return;
  free(m->base.input_schema);
  kz_tensor_free(&m->base.params);
  kz_tensor_free(&m->base.grads);
  kz_tensor_free(&m->base.params_bf16);
  if (m->arena) kz_arena_destroy(m->arena);
  if (m->stream) kz_stream_destroy(m->stream);
  free(m->stage);
  for (int k = 0; m->class_names && k < m->n_classes; k++) free(m->class_names[k]);
  free(m->class_names);
  free(m->label_name);
  json_decref(m->tokenizer);
  free(m->named);
  free(m->confusion);
  free(m->lora_saved);
  free(m);
}

/* The walk: put() assigns the next offset to a tensor, records its name
 * (names != NULL) and sets its view (views != NULL). */
typedef struct walker {
  int64_t off;
  int n;
  int overflow;
  tf_named *names;
  float *base;
  kz_device device;
} walker;

static void put(walker *w, kz_tensor *view, int is_matrix, int is_gamma, int ndim, int64_t d0,
                int64_t d1, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

static void put(walker *w, kz_tensor *view, int is_matrix, int is_gamma, int ndim, int64_t d0,
                int64_t d1, const char *fmt, ...) {
  int64_t numel = ndim == 2 ? d0 * d1 : d0;
  if ((double)w->off + (double)d0 * (double)(ndim == 2 ? d1 : 1) > (double)KZ_NN_MAX_PARAMS)
    w->overflow = 1;
  if (w->names) {
    tf_named *t = &w->names[w->n];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->offset = w->off;
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim == 2 ? d1 : 0;
    t->is_matrix = is_matrix;
    t->is_ln_gamma = is_gamma;
  }
  if (view && w->base) {
    if (ndim == 2)
      *view = kz_tensor_view(w->base + w->off, KZ_F32, w->device, 2, d0, d1);
    else
      *view = kz_tensor_view(w->base + w->off, KZ_F32, w->device, 1, d0);
  }
  w->n++;
  if (!w->overflow) w->off += numel;
}

/* A fused view over count adjacent tensors that start at the view first. */
static void widen(kz_tensor *fused, const kz_tensor *first, int ndim, int64_t d0, int64_t d1) {
  if (!first->data) return;
  *fused = ndim == 2 ? kz_tensor_view(first->data, KZ_F32, first->device, 2, d0, d1)
                     : kz_tensor_view(first->data, KZ_F32, first->device, 1, d0);
}

static void walk(const kz_tf *m, walker *w, tf_params *p) {
  const int64_t H = m->hidden, F = m->ffn, V = m->vocab;
  tf_params dummy;
  if (!p) p = &dummy;
  memset(p, 0, sizeof *p);
  put(w, &p->wte, 1, 0, 2, V, H, "embeddings.word_embeddings.weight");
  put(w, &p->wpe, 1, 0, 2, m->max_len, H, "embeddings.position_embeddings.weight");
  put(w, &p->wtt, 1, 0, 2, m->type_vocab, H, "embeddings.token_type_embeddings.weight");
  put(w, &p->eln_g, 0, 1, 1, H, 0, "embeddings.LayerNorm.weight");
  put(w, &p->eln_b, 0, 0, 1, H, 0, "embeddings.LayerNorm.bias");
  for (int64_t l = 0; l < m->layers && l < KZ_TF_MAX_LAYERS; l++) {
    tf_layer_params *L = &p->layer[l];
    const long long i = (long long)l;
    kz_tensor q, qb;
    memset(&q, 0, sizeof q);
    memset(&qb, 0, sizeof qb);
    put(w, &q, 1, 0, 2, H, H, "encoder.layer.%lld.attention.self.query.weight", i);
    put(w, NULL, 1, 0, 2, H, H, "encoder.layer.%lld.attention.self.key.weight", i);
    put(w, NULL, 1, 0, 2, H, H, "encoder.layer.%lld.attention.self.value.weight", i);
    put(w, &qb, 0, 0, 1, H, 0, "encoder.layer.%lld.attention.self.query.bias", i);
    put(w, NULL, 0, 0, 1, H, 0, "encoder.layer.%lld.attention.self.key.bias", i);
    put(w, NULL, 0, 0, 1, H, 0, "encoder.layer.%lld.attention.self.value.bias", i);
    widen(&L->qkv_w, &q, 2, 3 * H, H);
    widen(&L->qkv_b, &qb, 1, 3 * H, 0);
    put(w, &L->ao_w, 1, 0, 2, H, H, "encoder.layer.%lld.attention.output.dense.weight", i);
    put(w, &L->ao_b, 0, 0, 1, H, 0, "encoder.layer.%lld.attention.output.dense.bias", i);
    put(w, &L->ln1_g, 0, 1, 1, H, 0, "encoder.layer.%lld.attention.output.LayerNorm.weight", i);
    put(w, &L->ln1_b, 0, 0, 1, H, 0, "encoder.layer.%lld.attention.output.LayerNorm.bias", i);
    put(w, &L->fi_w, 1, 0, 2, F, H, "encoder.layer.%lld.intermediate.dense.weight", i);
    put(w, &L->fi_b, 0, 0, 1, F, 0, "encoder.layer.%lld.intermediate.dense.bias", i);
    put(w, &L->fo_w, 1, 0, 2, H, F, "encoder.layer.%lld.output.dense.weight", i);
    put(w, &L->fo_b, 0, 0, 1, H, 0, "encoder.layer.%lld.output.dense.bias", i);
    put(w, &L->ln2_g, 0, 1, 1, H, 0, "encoder.layer.%lld.output.LayerNorm.weight", i);
    put(w, &L->ln2_b, 0, 0, 1, H, 0, "encoder.layer.%lld.output.LayerNorm.bias", i);
  }
  switch (m->task) {
  case TF_MLM:
    put(w, &p->mlm_w, 1, 0, 2, H, H, "cls.predictions.transform.dense.weight");
    put(w, &p->mlm_b, 0, 0, 1, H, 0, "cls.predictions.transform.dense.bias");
    put(w, &p->mlm_ln_g, 0, 1, 1, H, 0, "cls.predictions.transform.LayerNorm.weight");
    put(w, &p->mlm_ln_b, 0, 0, 1, H, 0, "cls.predictions.transform.LayerNorm.bias");
    put(w, &p->mlm_bias, 0, 0, 1, V, 0, "cls.predictions.bias");
    break;
  case TF_CLS:
    put(w, &p->pool_w, 1, 0, 2, H, H, "pooler.dense.weight");
    put(w, &p->pool_b, 0, 0, 1, H, 0, "pooler.dense.bias");
    put(w, &p->out_w, 1, 0, 2, m->n_classes, H, "classifier.weight");
    put(w, &p->out_b, 0, 0, 1, m->n_classes, 0, "classifier.bias");
    break;
  case TF_TOKCLS:
    put(w, &p->out_w, 1, 0, 2, m->n_classes, H, "classifier.weight");
    put(w, &p->out_b, 0, 0, 1, m->n_classes, 0, "classifier.bias");
    break;
  case TF_QA:
    put(w, &p->out_w, 1, 0, 2, 2, H, "qa_outputs.weight");
    put(w, &p->out_b, 0, 0, 1, 2, 0, "qa_outputs.bias");
    break;
  }
  /* LoRA adapters last, so a model without them keeps its layout */
  for (int64_t l = 0; m->lora.enabled && l < m->layers && l < KZ_TF_MAX_LAYERS; l++)
    for (int k = 0; k < TF_LORA_NMOD; k++) {
      if (!(m->lora.targets & (1u << k))) continue;
      const int64_t in = kz_tf_lora_in(m, k), out = kz_tf_lora_out(m, k), r = m->lora.r;
      const char *path = kz_tf_lora_module_path[k];
      int at = w->n;
      put(w, &p->lora_a[l][k], 0, 0, 2, r, in, "encoder.layer.%lld.%s.lora_A.weight", (long long)l,
          path);
      if (w->names) w->names[at].lora = 1;
      put(w, &p->lora_b[l][k], 0, 0, 2, out, r, "encoder.layer.%lld.%s.lora_B.weight", (long long)l,
          path);
      if (w->names) w->names[at + 1].lora = 2;
    }
}

void kz_tf_views(const kz_tf *m, float *base, kz_device device, tf_params *out) {
  walker w = {.base = base, .device = device};
  walk(m, &w, out);
}

kz_status kz_tf_finish_layout(kz_tf *m, kz_device device, int64_t want_params, int allocate) {
  m->base.ops = &kz_tf_ops;
  m->base.device = device;
  if (m->layers < 1 || m->layers > KZ_TF_MAX_LAYERS)
    return kz_fail(KZ_ERR_FORMAT, "transformer: layers %lld outside [1, %d]", (long long)m->layers,
                   KZ_TF_MAX_LAYERS);
  if (m->hidden < 1 || m->heads < 1 || m->hidden % m->heads != 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "transformer: hidden (%lld) must be a positive multiple of heads (%lld)",
                   (long long)m->hidden, (long long)m->heads);
  if (m->ffn < 1 || m->max_len < 2 || m->vocab < 5 || m->type_vocab < 1)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "transformer: ffn (%lld), max_len (%lld), vocab (%lld) or type_vocab (%lld) is "
                   "too small",
                   (long long)m->ffn, (long long)m->max_len, (long long)m->vocab,
                   (long long)m->type_vocab);
  if ((m->task == TF_CLS || m->task == TF_TOKCLS) && m->n_classes < 2)
    return kz_fail(KZ_ERR_INVALID_ARG, "transformer: %s needs at least 2 classes, the data has %d",
                   kz_tf_task_names[m->task], m->n_classes);
  /* every dimension is bounded before any product is formed */
  const int64_t lim = (int64_t)1 << 24;
  if (m->hidden > lim || m->ffn > lim || m->vocab > lim || m->max_len > lim || m->heads > lim ||
      m->type_vocab > 1024 || m->n_classes > lim)
    return kz_fail(KZ_ERR_FORMAT, "transformer: a dimension exceeds %lld", (long long)lim);
  walker count = {0};
  walk(m, &count, NULL);
  if (count.overflow)
    return kz_fail(KZ_ERR_FORMAT, "transformer: the layout needs more than %lld parameters",
                   (long long)KZ_NN_MAX_PARAMS);
  const int64_t n = count.off;
  if (want_params >= 0 && n != want_params)
    return kz_fail(KZ_ERR_FORMAT,
                   "transformer meta: the layout (layers, hidden, ffn, vocab, max_len, head) needs "
                   "%lld parameters, the file holds %lld",
                   (long long)n, (long long)want_params);
  m->n_named = count.n;
  free(m->named);
  m->named = calloc((size_t)count.n, sizeof *m->named);
  if (!m->named) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: layout");
  walker names = {.names = m->named};
  walk(m, &names, NULL);

  kz_nn_model_info *info = &m->base.info;
  info->task = kz_tf_task_names[m->task];
  info->n_params = n;
  switch (m->task) {
  case TF_MLM:
    info->out_width = 1;
    info->primary_metric = "logloss";
    info->primary_higher_is_better = 0;
    break;
  case TF_CLS:
    info->out_width = m->n_classes;
    info->primary_metric = "accuracy";
    info->primary_higher_is_better = 1;
    break;
  case TF_TOKCLS:
    info->out_width = (int)m->data_len;
    info->primary_metric = "accuracy";
    info->primary_higher_is_better = 1;
    break;
  case TF_QA:
    info->out_width = 2;
    info->primary_metric = "logloss";
    info->primary_higher_is_better = 0;
    break;
  }
  /* Model FLOPs of a row of data_len tokens, forward + backward (3x the
   * forward): the GEMMs of every layer and the attention products; the MLM
   * vocabulary GEMM runs on the masked share of the tokens only. */
  {
    const double T = (double)m->data_len, H = (double)m->hidden, F = (double)m->ffn;
    double fwd = m->layers * (2.0 * T * H * (3.0 * H + H + 2.0 * F) + 4.0 * T * T * H);
    if (m->task == TF_MLM)
      fwd += 2.0 * m->mask_prob * T * H * (H + (double)m->vocab);
    else if (m->task == TF_CLS)
      fwd += 2.0 * H * (H + m->n_classes);
    else
      fwd += 2.0 * T * H * (m->task == TF_QA ? 2 : m->n_classes);
    info->flops_per_row = 3.0 * fwd;
  }
  if (m->task == TF_CLS) {
    m->confusion = calloc((size_t)m->n_classes * (size_t)m->n_classes, sizeof(int64_t));
    if (!m->confusion) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "transformer: layout");
  }
  if (!allocate) return KZ_OK;

  int64_t shape[1] = {n};
  KZ_TRY(kz_tensor_alloc(device, KZ_F32, 1, shape, &m->base.params));
  KZ_TRY(kz_tensor_alloc(device, KZ_F32, 1, shape, &m->base.grads));
  KZ_TRY(kz_stream_create(device, &m->stream));
  KZ_TRY(kz_fill_bytes(m->stream, m->base.params.data, 0, (size_t)n * sizeof(float)));
  KZ_TRY(kz_fill_bytes(m->stream, m->base.grads.data, 0, (size_t)n * sizeof(float)));
  KZ_TRY(kz_stream_sync(m->stream));
  kz_tf_views(m, (float *)m->base.params.data, device, &m->p);
  kz_tf_views(m, (float *)m->base.grads.data, device, &m->g);
  return kz_tf_lora_finish(m);
}

/* ---- the named-tensor API (transformer.h) -------------------------------- */

int kz_transformer_param_count_named(const kz_nn_model *model) {
  const kz_tf *m = (const kz_tf *)model;
  return m->n_named;
}

kz_status kz_transformer_param_named(const kz_nn_model *model, int i, int grads, const char **name,
                                     kz_tensor *view) {
  const kz_tf *m = (const kz_tf *)model;
  if (strcmp(m->base.ops->type, "transformer") != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "not a transformer model");
  if (i < 0 || i >= m->n_named)
    return kz_fail(KZ_ERR_INVALID_ARG, "transformer: tensor %d of %d", i, m->n_named);
  const tf_named *t = &m->named[i];
  float *base = (float *)(grads ? m->base.grads.data : m->base.params.data) + t->offset;
  if (name) *name = t->name;
  if (view)
    *view = t->ndim == 2 ? kz_tensor_view(base, KZ_F32, m->base.device, 2, t->shape[0], t->shape[1])
                         : kz_tensor_view(base, KZ_F32, m->base.device, 1, t->shape[0]);
  return KZ_OK;
}

int kz_transformer_param_find(const kz_nn_model *model, const char *name) {
  const kz_tf *m = (const kz_tf *)model;
  for (int i = 0; i < m->n_named; i++)
    if (!strcmp(m->named[i].name, name)) return i;
  return -1;
}

kz_status kz_transformer_copy_matching(kz_nn_model *dst, const kz_nn_model *src, int *copied,
                                       int *kept) {
  kz_tf *d = (kz_tf *)dst;
  const kz_tf *s = (const kz_tf *)src;
  *copied = *kept = 0;
  if (strcmp(s->base.ops->type, "transformer") || strcmp(d->base.ops->type, "transformer"))
    return kz_fail(KZ_ERR_INVALID_ARG, "copy_matching: both models must be transformers");
  float *host = NULL;
  KZ_TRY(kz_nn_params_host(&s->base, &host));
  const float *sp = host ? host : (const float *)s->base.params.data;
  kz_status st = KZ_OK;
  for (int i = 0; st == KZ_OK && i < d->n_named; i++) {
    const tf_named *t = &d->named[i];
    int j = kz_transformer_param_find(src, t->name);
    if (j < 0 || s->named[j].ndim != t->ndim || s->named[j].shape[0] != t->shape[0] ||
        s->named[j].shape[1] != t->shape[1]) {
      ++*kept;
      continue;
    }
    int64_t numel = t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
    st = kz_copy_to_device(d->stream, (float *)d->base.params.data + t->offset,
                           sp + s->named[j].offset, (size_t)numel * sizeof(float));
    ++*copied;
  }
  if (st == KZ_OK) st = kz_stream_sync(d->stream);
  free(host);
  return st;
}
