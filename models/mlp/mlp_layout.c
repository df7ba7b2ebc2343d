/* MLP parameter layout, blocks and teardown (shared by create and from_meta). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/mlp/mlp_internal.h"

static void mlp_destroy(kz_nn_model *model) {
  kz_mlp_free((kz_mlp *)model);
}

const kz_nn_model_ops kz_mlp_ops = {
    .type = "mlp",
    .destroy = mlp_destroy,
    .init_params = kz_mlp_init_params,
    .train_batch = kz_mlp_train_batch,
    .eval_batch = kz_mlp_eval_batch,
    .eval_finish = kz_mlp_eval_finish,
    .predict_batch = kz_mlp_predict_batch,
    .save = kz_mlp_save,
    .meta_json = kz_mlp_meta_json,
};

int64_t kz_mlp_auto_embedding_dim(int32_t categories) {
  /* The fastai rule of thumb, capped at 16 for small tabular models. */
  double d = ceil(1.6 * pow((double)(categories > 1 ? categories : 1), 0.56));
  return d < 16.0 ? (int64_t)d : 16;
}

static void free_names(char **names, int64_t n) {
  if (!names) return;
  for (int64_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

void kz_mlp_free(kz_mlp *m) {
  if (!m) return;
  free(m->base.input_schema);
  kz_tensor_free(&m->base.params);
  kz_tensor_free(&m->base.grads);
  kz_nn_tab_free(&m->tab);
  free_names(m->num_names, m->tab.n_num);
  free_names(m->cat_names, m->tab.n_cat);
  free_names(m->class_names, m->n_classes);
  free(m->num_mean);
  free(m->num_std);
  free(m->miss_index);
  free(m->cat_dim);
  free(m->label_name);
  kz_mlp_tensors_free(&m->p);
  kz_mlp_tensors_free(&m->g);
  free(m->emb_off);
  free(m->emb_col);
  free(m);
}

/* off += a * b unless that passes KZ_NN_MAX_PARAMS (every term is >= 0 and
 * the bound is far below 2^53, so the double comparison is exact enough and
 * the int64 arithmetic never overflows). */
static int add_params(int64_t *off, int64_t a, int64_t b) {
  if ((double)a * (double)b + (double)*off > (double)KZ_NN_MAX_PARAMS) return 0;
  *off += a * b;
  return 1;
}

kz_status kz_mlp_finish_layout(kz_mlp *m, kz_device device, int64_t want_params, int allocate) {
  m->base.ops = &kz_mlp_ops;
  m->base.device = device;
  m->tab.who = "mlp";
  m->tab.classification = m->task == KZ_MLP_CLASSIFICATION;
  m->tab.n_out = m->tab.classification ? m->n_classes : 1;

  m->emb_off = calloc((size_t)(m->tab.n_cat ? m->tab.n_cat : 1), sizeof(int64_t));
  m->emb_col = calloc((size_t)(m->tab.n_cat ? m->tab.n_cat : 1), sizeof(int64_t));
  if (!m->emb_off || !m->emb_col) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: layout");

  int64_t off = 0, col = m->tab.n_num + m->n_miss;
  int fits = 1;
  for (int64_t j = 0; fits && j < m->tab.n_cat; j++) {
    m->emb_off[j] = off;
    m->emb_col[j] = col;
    fits = add_params(&off, (int64_t)m->tab.cat_card[j] + 1, m->cat_dim[j]) &&
           add_params(&col, 1, m->cat_dim[j]);
  }
  m->in_dim = col;
  if (m->in_dim == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "mlp: the data set has no numeric or categorical feature");

  m->n_layers = m->n_hidden + 1;
  m->width[0] = m->in_dim;
  for (int l = 0; l < m->n_hidden; l++) m->width[l + 1] = m->hidden[l];
  m->width[m->n_layers] = m->task == KZ_MLP_CLASSIFICATION ? m->n_classes : 1;

  double flops = 0;
  for (int l = 0; fits && l < m->n_layers; l++) {
    m->w_off[l] = off;
    fits = add_params(&off, m->width[l], m->width[l + 1]);
    m->b_off[l] = off;
    fits = fits && add_params(&off, 1, m->width[l + 1]);
    flops += 2.0 * (double)m->width[l] * (double)m->width[l + 1];
  }
  if (!fits)
    return kz_fail(KZ_ERR_FORMAT,
                   "mlp: the layout (hidden, embeddings) needs more than %lld "
                   "parameters",
                   (long long)KZ_NN_MAX_PARAMS);
  if (want_params >= 0 && off != want_params)
    return kz_fail(KZ_ERR_FORMAT,
                   "mlp meta: the layout (config.hidden, embeddings) needs %lld parameters, the "
                   "file holds %lld",
                   (long long)off, (long long)want_params);

  kz_nn_model_info *info = &m->base.info;
  info->task = m->task == KZ_MLP_CLASSIFICATION ? "classification" : "regression";
  info->out_width = (int)m->width[m->n_layers];
  info->primary_metric = m->task == KZ_MLP_CLASSIFICATION ? "accuracy" : "rmse";
  info->primary_higher_is_better = m->task == KZ_MLP_CLASSIFICATION;
  /* forward 2*in*out per layer; backward twice that (dx and dW) */
  info->flops_per_row = 3.0 * flops;
  info->n_params = off;

  /* trainable ranges: the block minus the frozen layers' W and b (which are
   * adjacent, so one gap per frozen layer) */
  if (m->n_freeze > 0) {
    kz_param_range r[KZ_MLP_MAX_LAYERS + 1];
    int nr = 0;
    int64_t at = 0;
    for (int l = 0; l < m->n_layers; l++) {
      int frozen = 0;
      for (int k = 0; k < m->n_freeze; k++) frozen |= m->freeze[k] == l;
      if (!frozen) continue;
      if (m->w_off[l] > at) r[nr++] = (kz_param_range){at, m->w_off[l] - at};
      at = m->b_off[l] + m->width[l + 1];
    }
    if (off > at) r[nr++] = (kz_param_range){at, off - at};
    if (nr == 0)
      return kz_fail(KZ_ERR_INVALID_ARG, "model.freeze_layers: every parameter is frozen");
    KZ_TRY(kz_nn_set_trainable(&m->base, r, nr));
  }
  if (!allocate) return KZ_OK;

  int64_t shape[1] = {off};
  KZ_TRY(kz_tensor_alloc(device, KZ_F32, 1, shape, &m->base.params));
  KZ_TRY(kz_tensor_alloc(device, KZ_F32, 1, shape, &m->base.grads));
  KZ_TRY(kz_nn_tab_open(&m->tab, device, m->num_mean, m->num_std, m->miss_index));
  KZ_TRY(kz_fill_bytes(m->tab.stream, m->base.params.data, 0, (size_t)off * sizeof(float)));
  KZ_TRY(kz_fill_bytes(m->tab.stream, m->base.grads.data, 0, (size_t)off * sizeof(float)));
  KZ_TRY(kz_mlp_tensors_make(m, (float *)m->base.params.data, device, &m->p));
  KZ_TRY(kz_mlp_tensors_make(m, (float *)m->base.grads.data, device, &m->g));

  return KZ_OK;
}

kz_status kz_mlp_tensors_make(const kz_mlp *m, float *base, kz_device device, kz_mlp_tensors *out) {
  memset(out, 0, sizeof *out);
  out->emb = calloc((size_t)(m->tab.n_cat ? m->tab.n_cat : 1), sizeof(kz_tensor));
  if (!out->emb) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: layout");
  for (int64_t j = 0; j < m->tab.n_cat; j++)
    out->emb[j] = kz_tensor_view(base + m->emb_off[j], KZ_F32, device, 2,
                                 (int64_t)m->tab.cat_card[j] + 1, m->cat_dim[j]);
  for (int l = 0; l < m->n_layers; l++) {
    out->w[l] = kz_tensor_view(base + m->w_off[l], KZ_F32, device, 2, m->width[l + 1], m->width[l]);
    out->b[l] = kz_tensor_view(base + m->b_off[l], KZ_F32, device, 1, m->width[l + 1]);
  }
  return KZ_OK;
}

void kz_mlp_tensors_free(kz_mlp_tensors *t) {
  free(t->emb);
  t->emb = NULL;
}
