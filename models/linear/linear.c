/* The linear model (linear.h, linear_internal.h): logits = W^T x + b, with
 * softmax cross-entropy over the label's categories (classification) or
 * mean squared error on the standardised label (regression; predictions and
 * rmse / mae in label units).
 *
 * The forward and backward are a sequence of kernels/ops.h calls on the
 * model's device (CPU or CUDA), with the batch side shared with the MLP
 * (models/nn_tabular.h): standardize writes the numerics and missing
 * indicators, matmul multiplies them by their rows of W, then each
 * categorical column adds its weights and bias_add the bias; the loss is
 * cross_entropy or mse. The one-hot block of the features is never built:
 * a one-hot row times W is the row of W at the hot slot, so that block's
 * product is one embedding lookup per column (the column's rows of W as the
 * table, the category id as the index), and its gradient is embedding_bwd,
 * a scatter-add of dlogits into the same rows. This costs rows x n_out per
 * column instead of rows x (categories + 1) x n_out, however many
 * categories a column has. The CPU ops are deterministic, so training is
 * bit-for-bit reproducible there (the trainer's resume tests rely on it). */
#define _POSIX_C_SOURCE 200809L
#include "models/linear/linear.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/core/splitmix64.h"
#include "kernels/ops.h"
#include "models/linear/linear_internal.h"
#include "models/nn_file.h"

#define KZ_LINEAR_OOM kz_fail(KZ_ERR_OUT_OF_MEMORY, "linear model: out of memory")

static void free_names(char **v, int64_t n) {
  for (int64_t i = 0; v && i < n; ++i) free(v[i]);
  free(v);
}

void kz_linear_free(kz_linear *m) {
  if (!m) return;
  free(m->base.input_schema);
  kz_tensor_free(&m->base.params);
  kz_tensor_free(&m->base.grads);
  free_names(m->names, m->tab.n_out);
  free_names(m->num_names, m->tab.n_num);
  free_names(m->cat_names, m->tab.n_cat);
  free(m->label_name);
  free(m->p.w_cat), free(m->g.w_cat);
  free(m->cat_off), free(m->mean), free(m->std), free(m->miss);
  kz_nn_tab_free(&m->tab);
  free(m);
}

static void linear_destroy(kz_nn_model *mm) {
  kz_linear_free((kz_linear *)mm);
}

static kz_status linear_init_params(kz_nn_model *mm, uint64_t seed) {
  kz_linear *m = (kz_linear *)mm;
  /* drawn on the host, in block order, then copied to a GPU */
  const int64_t n = m->base.info.n_params, nw = m->d * m->tab.n_out;
  const int on_host = m->base.device.kind == KZ_DEVICE_CPU;
  float *w = on_host ? (float *)m->base.params.data : malloc((size_t)n * sizeof(float));
  if (!w) return KZ_LINEAR_OOM;
  uint64_t s = seed ^ 0x6c696e656172ULL;
  /* Small symmetric weights break ties between classes; the bias starts at 0. */
  for (int64_t i = 0; i < nw; ++i) {
    double u = kz_splitmix64_unit(&s);
    w[i] = (float)((u * 2.0 - 1.0) * 0.01);
  }
  for (int64_t k = nw; k < n; ++k) w[k] = 0.0f;
  if (on_host) return KZ_OK;
  kz_status st = kz_copy_to_device(m->tab.stream, m->base.params.data, w, (size_t)n * 4);
  if (st == KZ_OK) st = kz_stream_sync(m->tab.stream);
  free(w);
  return st;
}

/* ---- forward and backward -------------------------------------------------- */

typedef struct acts {
  kz_tensor x; /* [rows, 2 * n_num]: standardised numerics and indicators */
  kz_tensor z; /* [rows, n_out]: logits */
  kz_tensor e; /* [rows, n_out]: one column's lookup */
  kz_tensor dz;
} acts;

/* The linear model's activations (kz_nn_tab_carve). */
static kz_status carve_acts(void *model, kz_arena *a, int64_t rows, void *out) {
  const kz_linear *m = model;
  acts *x = out;
  int64_t xs[2] = {rows, m->tab.n_num > 0 ? 2 * m->tab.n_num : 1}, zs[2] = {rows, m->tab.n_out};
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 2, xs, &x->x));
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 2, zs, &x->z));
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 2, zs, &x->e));
  return kz_arena_tensor(a, KZ_F32, 2, zs, &x->dz);
}

static kz_status forward(kz_linear *m, const kz_shard_batch *b, acts *x, kz_nn_tab_batch *tb) {
  kz_stream *s = m->tab.stream;
  if (m->tab.n_num > 0) {
    KZ_TRY(kz_nn_tab_numeric(&m->tab, b, tb, &x->x));
    KZ_TRY(kz_op_matmul(s, &x->x, &m->p.w_num, &x->z, false, false, 1.0f, 0.0f));
  } else {
    KZ_TRY(kz_fill_bytes(s, x->z.data, 0, kz_tensor_bytes(&x->z)));
  }
  KZ_TRY(kz_nn_tab_ids(&m->tab, b, tb));
  for (int64_t j = 0; j < m->tab.n_cat; j++) {
    kz_tensor ids = kz_nn_tab_ids_col(&m->tab, tb, j);
    KZ_TRY(kz_op_embedding(s, &ids, &m->p.w_cat[j], &x->e));
    KZ_TRY(kz_op_add(s, &x->z, &x->e, &x->z));
  }
  return kz_op_bias_add(s, &x->z, &m->p.b, &x->z);
}

/* The gradient view g of the count floats at offset off when any of them
 * is trainable, else NULL: not wanted. */
static kz_tensor *wanted(const kz_linear *m, kz_tensor *g) {
  int64_t off = (int64_t)((const float *)g->data - (const float *)m->base.grads.data);
  return kz_nn_is_trainable(&m->base, off, kz_tensor_numel(g)) ? g : NULL;
}

/* Gradients are added into the block; a frozen tensor's are not wanted. */
static kz_status backward(kz_linear *m, acts *x, kz_nn_tab_batch *tb, double weight) {
  kz_stream *s = m->tab.stream;
  KZ_TRY(kz_nn_tab_loss_bwd(&m->tab, tb, &x->z, weight, &x->dz));
  kz_tensor *gw = m->tab.n_num > 0 ? wanted(m, &m->g.w_num) : NULL;
  if (gw) KZ_TRY(kz_op_matmul(s, &x->x, &x->dz, gw, true, false, 1.0f, 1.0f));
  KZ_TRY(kz_op_bias_add_bwd(s, &x->dz, wanted(m, &m->g.b), true));
  for (int64_t j = 0; j < m->tab.n_cat; j++) {
    kz_tensor ids = kz_nn_tab_ids_col(&m->tab, tb, j);
    KZ_TRY(kz_op_embedding_bwd(s, &ids, &x->dz, wanted(m, &m->g.w_cat[j]), true));
  }
  return KZ_OK;
}

/* Checks the batch, carves the activations and runs the forward. */
static kz_status run_forward(kz_linear *m, const kz_shard_batch *b, int need_label, acts *x,
                             kz_nn_tab_batch *tb) {
  KZ_TRY(kz_nn_tab_check_batch(&m->tab, b, need_label));
  if (b->rows == 0) return KZ_OK;
  KZ_TRY(kz_nn_tab_acts(&m->tab, b->rows, carve_acts, m, x, tb));
  return forward(m, b, x, tb);
}

static kz_status linear_train_batch(kz_nn_model *mm, const kz_shard_batch *b, double weight,
                                    uint64_t dropout_seed, double *loss) {
  kz_linear *m = (kz_linear *)mm;
  (void)dropout_seed; /* no dropout */
  *loss = 0.0;
  acts x;
  kz_nn_tab_batch tb;
  KZ_TRY(run_forward(m, b, 1, &x, &tb));
  if (b->rows == 0) return KZ_OK;
  KZ_TRY(kz_nn_tab_targets(&m->tab, b, &tb));
  if (tb.valid == 0) return KZ_OK; /* nothing to learn from: no gradient */
  KZ_TRY(kz_nn_tab_loss(&m->tab, &tb, &x.z, loss));
  return backward(m, &x, &tb, weight);
}

static kz_status linear_eval_batch(kz_nn_model *mm, const kz_shard_batch *b, kz_nn_eval *acc) {
  kz_linear *m = (kz_linear *)mm;
  acts x;
  kz_nn_tab_batch tb;
  KZ_TRY(run_forward(m, b, 1, &x, &tb));
  if (b->rows == 0) return KZ_OK;
  return kz_nn_tab_eval(&m->tab, b, &x.z, acc);
}

static void linear_eval_finish(const kz_nn_model *mm, const kz_nn_eval *acc, kz_nn_metrics *out) {
  kz_nn_metrics_fill(acc, ((const kz_linear *)mm)->tab.classification, out);
}

static kz_status linear_predict_batch(kz_nn_model *mm, const kz_shard_batch *b, float *out) {
  kz_linear *m = (kz_linear *)mm;
  acts x;
  kz_nn_tab_batch tb;
  KZ_TRY(run_forward(m, b, 0, &x, &tb));
  if (b->rows == 0) return KZ_OK;
  return kz_nn_tab_predict(&m->tab, b, &x.z, out);
}

static kz_status linear_save(const kz_nn_model *mm, const char *path) {
  return kz_nn_model_save(mm, path);
}

static const kz_nn_model_ops linear_ops = {
    .type = "linear",
    .destroy = linear_destroy,
    .init_params = linear_init_params,
    .train_batch = linear_train_batch,
    .eval_batch = linear_eval_batch,
    .eval_finish = linear_eval_finish,
    .predict_batch = linear_predict_batch,
    .save = linear_save,
    .meta_json = kz_linear_meta_json,
};

/* ---- layout ------------------------------------------------------------------ */

static kz_status make_views(const kz_linear *m, float *base, kz_linear_tensors *t) {
  const kz_device dev = m->base.device;
  const int64_t k = m->tab.n_out;
  t->w_cat = calloc((size_t)m->tab.n_cat + 1, sizeof *t->w_cat);
  if (!t->w_cat) return KZ_LINEAR_OOM;
  t->w_num = kz_tensor_view(base, KZ_F32, dev, 2, 2 * m->tab.n_num, k);
  for (int64_t j = 0; j < m->tab.n_cat; j++)
    t->w_cat[j] = kz_tensor_view(base + m->cat_off[j] * k, KZ_F32, dev, 2,
                                 (int64_t)m->tab.cat_card[j] + 1, k);
  t->b = kz_tensor_view(base + m->d * k, KZ_F32, dev, 1, k);
  return KZ_OK;
}

kz_status kz_linear_finish_layout(kz_linear *m, kz_device device, int64_t want_params,
                                  int allocate) {
  m->tab.who = "linear model";
  m->d = 2 * m->tab.n_num;
  m->cat_off = calloc((size_t)m->tab.n_cat + 1, sizeof *m->cat_off);
  m->miss = calloc((size_t)m->tab.n_num + 1, sizeof *m->miss);
  if (!m->cat_off || !m->miss) return KZ_LINEAR_OOM;
  for (int64_t j = 0; j < m->tab.n_num; ++j) m->miss[j] = (int)j;
  for (int64_t j = 0; j < m->tab.n_cat; ++j) {
    m->cat_off[j] = m->d;
    m->d += (int64_t)m->tab.cat_card[j] + 1;
  }
  if (m->d == 0) return kz_fail(KZ_ERR_INVALID_ARG, "linear model: the data set has no features");
  const int64_t k_n = m->tab.n_out;
  /* d <= n_cat * 2^24 and n_out <= 2^20: the product fits a double exactly
   * enough to compare, and is only formed in int64 below the bound */
  if (((double)m->d + 1) * (double)k_n > (double)KZ_NN_MAX_PARAMS)
    return kz_fail(KZ_ERR_FORMAT,
                   "linear model: %lld features x %lld outputs is more than %lld "
                   "parameters",
                   (long long)m->d, (long long)k_n, (long long)KZ_NN_MAX_PARAMS);
  int64_t n = m->d * k_n + k_n;
  if (want_params >= 0 && n != want_params)
    return kz_fail(KZ_ERR_FORMAT,
                   "linear model meta: the layout (features, n_out) needs %lld parameters, the "
                   "file holds %lld",
                   (long long)n, (long long)want_params);
  if (!allocate) return KZ_OK;
  m->base.ops = &linear_ops;
  m->base.device = device;
  kz_nn_model_info *info = &m->base.info;
  info->task = m->tab.classification ? "classification" : "regression";
  info->out_width = (int)k_n;
  info->primary_metric = m->tab.classification ? "accuracy" : "rmse";
  info->primary_higher_is_better = m->tab.classification;
  /* Dense-equivalent: 2 flops per weight forward, 4 backward. */
  info->flops_per_row = 6.0 * (double)m->d * (double)k_n;
  info->n_params = n;
  KZ_TRY(kz_tensor_alloc(device, KZ_F32, 1, &n, &m->base.params));
  KZ_TRY(kz_tensor_alloc(device, KZ_F32, 1, &n, &m->base.grads));
  KZ_TRY(kz_nn_tab_open(&m->tab, device, m->mean, m->std, m->miss));
  KZ_TRY(kz_fill_bytes(m->tab.stream, m->base.params.data, 0, (size_t)n * 4));
  KZ_TRY(kz_fill_bytes(m->tab.stream, m->base.grads.data, 0, (size_t)n * 4));
  KZ_TRY(kz_stream_sync(m->tab.stream));
  KZ_TRY(make_views(m, m->base.params.data, &m->p));
  return make_views(m, m->base.grads.data, &m->g);
}

/* ---- create from the training data ------------------------------------------- */

static char *dup_or_empty(const char *s) {
  return strdup(s ? s : "");
}

static kz_status create_from_schema(kz_linear *m, kz_dataset *train, kz_device device) {
  const kz_schema *s = kz_dataset_schema(train);
  kz_nn_tab *t = &m->tab;
  t->who = "linear model";
  if (strcmp(s->kind, "tabular") != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the linear model needs a tabular data set, not %s",
                   kz_dataset_path(train), s->kind);
  t->f_num = kz_schema_field_index(s, "numeric");
  t->f_cat = kz_schema_field_index(s, "categorical");
  t->f_label = kz_schema_field_index(s, "label");
  if (t->f_label < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the data set has no label field",
                   kz_dataset_path(train));
  const kz_field *lf = &s->fields[t->f_label];
  t->classification = lf->type == KZ_FIELD_I32;
  m->label_name = dup_or_empty(lf->n_columns ? lf->columns[0].name : "label");
  if (t->classification) {
    int32_t k = lf->n_columns ? lf->columns[0].n_categories : 0;
    if (k < 2)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: a class label needs at least 2 categories, has %d",
                     kz_dataset_path(train), (int)k);
    t->n_out = k;
  } else {
    t->n_out = 1;
  }
  m->names = calloc((size_t)t->n_out, sizeof *m->names);
  if (!m->names || !m->label_name) return KZ_LINEAR_OOM;
  for (int64_t k = 0; k < t->n_out; ++k)
    if (!(m->names[k] =
              dup_or_empty(t->classification ? lf->columns[0].categories[k] : m->label_name)))
      return KZ_LINEAR_OOM;
  if (t->f_num >= 0) {
    const kz_field *f = &s->fields[t->f_num];
    t->n_num = f->width;
    m->num_names = calloc((size_t)t->n_num + 1, sizeof *m->num_names);
    if (!m->num_names) return KZ_LINEAR_OOM;
    for (int64_t j = 0; j < t->n_num; ++j)
      if (!(m->num_names[j] = dup_or_empty(f->n_columns ? f->columns[j].name : "")))
        return KZ_LINEAR_OOM;
  }
  if (t->f_cat >= 0) {
    const kz_field *f = &s->fields[t->f_cat];
    t->n_cat = f->width;
    t->cat_card = calloc((size_t)t->n_cat + 1, sizeof *t->cat_card);
    m->cat_names = calloc((size_t)t->n_cat + 1, sizeof *m->cat_names);
    if (!t->cat_card || !m->cat_names) return KZ_LINEAR_OOM;
    for (int64_t j = 0; j < t->n_cat; ++j) {
      t->cat_card[j] = f->n_columns ? f->columns[j].n_categories : 0;
      if (!(m->cat_names[j] = dup_or_empty(f->n_columns ? f->columns[j].name : "")))
        return KZ_LINEAR_OOM;
    }
  }
  m->mean = calloc((size_t)t->n_num + 1, sizeof *m->mean);
  m->std = calloc((size_t)t->n_num + 1, sizeof *m->std);
  if (!m->mean || !m->std) return KZ_LINEAR_OOM;
  KZ_TRY(kz_nn_tab_stats(t, train, m->mean, m->std, NULL));
  return kz_linear_finish_layout(m, device, -1, 1);
}

kz_status kz_linear_create(const kz_cfg_node *model_cfg, kz_dataset *train, kz_device device,
                           kz_nn_model **out) {
  (void)model_cfg; /* no options of its own: the trainer's weight_decay regularises it */
  kz_linear *m = calloc(1, sizeof *m);
  if (!m) return KZ_LINEAR_OOM;
  m->tab.f_num = m->tab.f_cat = m->tab.f_label = -1;
  kz_status st = create_from_schema(m, train, device);
  if (st != KZ_OK) {
    kz_linear_free(m);
    return st;
  }
  *out = (kz_nn_model *)m;
  return KZ_OK;
}
