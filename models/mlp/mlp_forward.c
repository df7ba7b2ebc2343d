/* MLP forward, loss, backward, evaluation and prediction on one batch.
 *
 * The forward and backward are a sequence of kernels/ops.h calls on the
 * model's device (CPU or CUDA): standardize and copy_cols assemble the
 * input, matmul, bias_add, leaky_relu (slope 0) or gelu, dropout, then
 * cross_entropy or mse. What comes from or goes back to the batch (field
 * checks, category ids, targets, the loss, metrics, predictions) is the
 * tabular models' shared side (models/nn_tabular.h), so the linear model
 * reads a batch the same way. On the CPU the activations are host memory
 * and nothing is copied. */
#include <stdlib.h>
#include <string.h>

#include "data/shard/rng.h"
#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/mlp/mlp_internal.h"

typedef struct acts {
  int64_t rows;
  kz_tensor x0;                      /* [rows, in_dim] */
  kz_tensor emb;                     /* [rows, max dim] scratch */
  kz_tensor z[KZ_MLP_MAX_LAYERS];    /* pre-activation / logits */
  kz_tensor h[KZ_MLP_MAX_LAYERS];    /* post activation and dropout (hidden only) */
  kz_tensor mask[KZ_MLP_MAX_LAYERS]; /* dropout multipliers (hidden only) */
  kz_tensor da, db;                  /* [rows, max width] backward ping-pong */
} acts;

static kz_status alloc2(kz_arena *a, kz_dtype t, int64_t r, int64_t c, kz_tensor *out) {
  int64_t shape[2] = {r, c > 0 ? c : 1};
  return kz_arena_tensor(a, t, 2, shape, out);
}

/* The MLP's activations (kz_nn_tab_carve). */
static kz_status carve_acts(void *model, kz_arena *a, int64_t rows, void *out) {
  const kz_mlp *m = model;
  acts *x = out;
  memset(x, 0, sizeof(*x));
  x->rows = rows;
  int64_t maxd = 1, maxw = 1;
  for (int64_t j = 0; j < m->tab.n_cat; j++) maxd = m->cat_dim[j] > maxd ? m->cat_dim[j] : maxd;
  for (int l = 0; l <= m->n_layers; l++) maxw = m->width[l] > maxw ? m->width[l] : maxw;
  KZ_TRY(alloc2(a, KZ_F32, rows, m->in_dim, &x->x0));
  KZ_TRY(alloc2(a, KZ_F32, rows, maxd, &x->emb));
  for (int l = 0; l < m->n_layers; l++) {
    KZ_TRY(alloc2(a, KZ_F32, rows, m->width[l + 1], &x->z[l]));
    if (l + 1 < m->n_layers) {
      KZ_TRY(alloc2(a, KZ_F32, rows, m->width[l + 1], &x->h[l]));
      KZ_TRY(alloc2(a, KZ_F32, rows, m->width[l + 1], &x->mask[l]));
    }
  }
  KZ_TRY(alloc2(a, KZ_F32, rows, maxw, &x->da));
  KZ_TRY(alloc2(a, KZ_F32, rows, maxw, &x->db));
  return KZ_OK;
}

/* A view of rows x cols of a [rows, >=cols] scratch tensor, packed. */
static kz_tensor packed(const kz_tensor *t, int64_t rows, int64_t cols) {
  return kz_tensor_view(t->data, t->dtype, t->device, 2, rows, cols);
}

/* The input matrix x0: standardised numeric columns and missing indicators
 * (standardize), then each embedding's columns (embedding into a scratch
 * block, copy_cols into place). */
static kz_status assemble_input(kz_mlp *m, const kz_shard_batch *b, acts *x, kz_nn_tab_batch *tb) {
  KZ_TRY(kz_nn_tab_numeric(&m->tab, b, tb, &x->x0));
  KZ_TRY(kz_nn_tab_ids(&m->tab, b, tb));
  for (int64_t j = 0; j < m->tab.n_cat; j++) {
    int64_t d = m->cat_dim[j];
    kz_tensor tid = kz_nn_tab_ids_col(&m->tab, tb, j);
    kz_tensor e = packed(&x->emb, b->rows, d);
    KZ_TRY(kz_op_embedding(m->tab.stream, &tid, &m->p.emb[j], &e));
    KZ_TRY(kz_op_copy_cols(m->tab.stream, &e, 0, &x->x0, m->emb_col[j], d));
  }
  return KZ_OK;
}

static kz_status forward(kz_mlp *m, const kz_shard_batch *b, acts *x, kz_nn_tab_batch *tb,
                         int train, uint64_t dropout_seed) {
  KZ_TRY(assemble_input(m, b, x, tb));
  kz_stream *s = m->tab.stream;
  const kz_tensor *input = &x->x0;
  for (int l = 0; l < m->n_layers; l++) {
    KZ_TRY(kz_op_matmul(s, input, &m->p.w[l], &x->z[l], false, true, 1.0f, 0.0f));
    KZ_TRY(kz_op_bias_add(s, &x->z[l], &m->p.b[l], &x->z[l]));
    if (l + 1 == m->n_layers) break;
    if (m->activation == KZ_MLP_GELU)
      KZ_TRY(kz_op_gelu(s, &x->z[l], &x->h[l], KZ_GELU_ERF));
    else
      KZ_TRY(kz_op_leaky_relu(s, &x->z[l], &x->h[l], 0.0f));
    if (train && m->dropout > 0.0) {
      /* Inverted dropout with a counter-based mask keyed by (seed, layer):
       * the mask depends only on (dropout_seed, layer, position). */
      uint64_t key = kz_rng_key(dropout_seed, (uint64_t)l, 0x64726f70ULL);
      KZ_TRY(kz_op_dropout(s, &x->h[l], &x->h[l], &x->mask[l], m->dropout, key));
    }
    input = &x->h[l];
  }
  return KZ_OK;
}

/* The gradient view g of the count floats at offset off when any of them
 * is trainable, else NULL: not wanted. */
static kz_tensor *wanted(const kz_mlp *m, kz_tensor *g, int64_t off) {
  return kz_nn_is_trainable(&m->base, off, kz_tensor_numel(g)) ? g : NULL;
}

/* The backward from the loss to every trainable tensor. The gradients of a
 * frozen tensor (model.freeze_layers, or any range left out of the
 * trainable ones) are not wanted: NULL for bias_add_bwd and embedding_bwd,
 * and the dW matmul is not run. The input gradient dx of a layer is
 * computed only when something below it is trainable (an embedding, or a
 * layer), so the backward stops above a frozen bottom of the network. */
static kz_status backward(kz_mlp *m, acts *x, kz_nn_tab_batch *tb, double weight) {
  kz_stream *s = m->tab.stream;
  const int64_t rows = x->rows;
  const int L = m->n_layers;
  kz_tensor *gw[KZ_MLP_MAX_LAYERS], *gb[KZ_MLP_MAX_LAYERS];
  for (int l = 0; l < L; l++) {
    gw[l] = wanted(m, &m->g.w[l], m->w_off[l]);
    gb[l] = wanted(m, &m->g.b[l], m->b_off[l]);
  }
  /* lowest: the lowest layer whose dx is wanted (L when none is) */
  int lowest = L;
  for (int64_t j = 0; j < m->tab.n_cat; j++)
    if (wanted(m, &m->g.emb[j], m->emb_off[j])) lowest = 0;
  for (int l = 1; l < L && lowest == L; l++)
    if (gw[l - 1] || gb[l - 1]) lowest = l;

  kz_tensor dz = packed(&x->da, rows, m->width[L]);
  KZ_TRY(kz_nn_tab_loss_bwd(&m->tab, tb, &x->z[L - 1], weight, &dz));
  for (int l = L - 1; l >= 0; l--) {
    const int64_t fi = m->width[l];
    const kz_tensor *input = l == 0 ? &x->x0 : &x->h[l - 1];
    if (gw[l]) KZ_TRY(kz_op_matmul(s, &dz, input, gw[l], true, false, 1.0f, 1.0f));
    KZ_TRY(kz_op_bias_add_bwd(s, &dz, gb[l], true));
    /* layer l's weights and bias (adjacent) are final: the data-parallel
     * trainer may start reducing them (nn_model.h) */
    KZ_TRY(
        kz_nn_grads_ready(&m->base, s, m->w_off[l], m->b_off[l] + m->width[l + 1] - m->w_off[l]));
    if (l < lowest) break;
    kz_tensor dx = packed(&x->db, rows, fi);
    KZ_TRY(kz_op_matmul(s, &dz, &m->p.w[l], &dx, false, false, 1.0f, 0.0f));
    if (l == 0) break;
    /* through dropout (in place), then the activation of layer l-1, into da */
    if (m->dropout > 0.0) KZ_TRY(kz_op_dropout_bwd(s, &dx, &x->mask[l - 1], &dx, false));
    dz = packed(&x->da, rows, fi);
    if (m->activation == KZ_MLP_GELU)
      KZ_TRY(kz_op_gelu_bwd(s, &x->z[l - 1], &dx, &dz, KZ_GELU_ERF, false));
    else
      KZ_TRY(kz_op_leaky_relu_bwd(s, &x->z[l - 1], &dx, &dz, 0.0f, false));
  }
  if (lowest > 0) return KZ_OK;
  /* embeddings: each column block of dx0 into a packed block, then its
   * scatter-add into the table */
  kz_tensor dx0 = packed(&x->db, rows, m->in_dim);
  for (int64_t j = 0; j < m->tab.n_cat; j++) {
    kz_tensor *ge = wanted(m, &m->g.emb[j], m->emb_off[j]);
    if (!ge) continue;
    int64_t d = m->cat_dim[j];
    kz_tensor e = packed(&x->emb, rows, d);
    KZ_TRY(kz_op_copy_cols(s, &dx0, m->emb_col[j], &e, 0, d));
    kz_tensor tid = kz_nn_tab_ids_col(&m->tab, tb, j);
    KZ_TRY(kz_op_embedding_bwd(s, &tid, &e, ge, true));
    KZ_TRY(kz_nn_grads_ready(&m->base, s, m->emb_off[j], kz_tensor_numel(ge)));
  }
  return KZ_OK;
}

/* Checks the batch, carves the activations and runs the forward. */
static kz_status run_forward(kz_mlp *m, const kz_shard_batch *b, int need_label, acts *x,
                             kz_nn_tab_batch *tb, int train, uint64_t dropout_seed) {
  KZ_TRY(kz_nn_tab_check_batch(&m->tab, b, need_label));
  if (b->rows == 0) return KZ_OK;
  KZ_TRY(kz_nn_tab_acts(&m->tab, b->rows, carve_acts, m, x, tb));
  return forward(m, b, x, tb, train, dropout_seed);
}

kz_status kz_mlp_train_batch(kz_nn_model *model, const kz_shard_batch *b, double weight,
                             uint64_t dropout_seed, double *loss) {
  kz_mlp *m = (kz_mlp *)model;
  *loss = 0.0;
  acts x;
  kz_nn_tab_batch tb;
  KZ_TRY(run_forward(m, b, 1, &x, &tb, 1, dropout_seed));
  if (b->rows == 0) return KZ_OK;
  KZ_TRY(kz_nn_tab_targets(&m->tab, b, &tb));
  KZ_TRY(kz_nn_tab_loss(&m->tab, &tb, &x.z[m->n_layers - 1], loss));
  KZ_TRY(backward(m, &x, &tb, weight));
  /* the trainer reads the gradients on its own stream (non-blocking on
   * CUDA): the backward pass must have written them, as the transformer's
   * and the TFT's steps also wait for theirs */
  return kz_stream_sync(m->tab.stream);
}

kz_status kz_mlp_eval_batch(kz_nn_model *model, const kz_shard_batch *b, kz_nn_eval *acc) {
  kz_mlp *m = (kz_mlp *)model;
  acts x;
  kz_nn_tab_batch tb;
  KZ_TRY(run_forward(m, b, 1, &x, &tb, 0, 0));
  if (b->rows == 0) return KZ_OK;
  return kz_nn_tab_eval(&m->tab, b, &x.z[m->n_layers - 1], acc);
}

void kz_mlp_eval_finish(const kz_nn_model *model, const kz_nn_eval *acc, kz_nn_metrics *out) {
  kz_nn_metrics_fill(acc, ((const kz_mlp *)model)->tab.classification, out);
}

kz_status kz_mlp_predict_batch(kz_nn_model *model, const kz_shard_batch *b, float *out) {
  kz_mlp *m = (kz_mlp *)model;
  acts x;
  kz_nn_tab_batch tb;
  KZ_TRY(run_forward(m, b, 0, &x, &tb, 0, 0));
  if (b->rows == 0) return KZ_OK;
  return kz_nn_tab_predict(&m->tab, b, &x.z[m->n_layers - 1], out);
}
