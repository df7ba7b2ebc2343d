/* MLP forward, loss, backward, evaluation and prediction on one batch.
 *
 * The forward and backward are a sequence of kernels/ops.h calls on the
 * model's device (CPU or CUDA): standardize and copy_cols assemble the
 * input, matmul, bias_add, leaky_relu (slope 0) or gelu, dropout, then
 * cross_entropy or mse. The host only prepares what comes from the batch
 * (category ids, targets; uploaded on a GPU) and reads back per-row losses
 * and logits. On the CPU the activations are host memory and nothing is
 * copied. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/rng.h"
#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/mlp/mlp_internal.h"

typedef struct acts {
  int64_t rows;
  kz_tensor x0;                      /* [rows, in_dim] */
  kz_tensor ids;                     /* i32 [n_cat, rows] (column-major by feature) */
  kz_tensor emb;                     /* [rows, max dim] scratch */
  kz_tensor z[KZ_MLP_MAX_LAYERS];    /* pre-activation / logits */
  kz_tensor h[KZ_MLP_MAX_LAYERS];    /* post activation and dropout (hidden only) */
  kz_tensor mask[KZ_MLP_MAX_LAYERS]; /* dropout multipliers (hidden only) */
  kz_tensor targets;                 /* i32 [rows]: class or -1 (ignored) */
  kz_tensor losses, dloss, ystd;     /* f32 [rows] */
  kz_tensor da, db;                  /* [rows, max width] backward ping-pong */
} acts;

static kz_status alloc2(kz_arena *a, kz_dtype t, int64_t r, int64_t c, kz_tensor *out) {
  int64_t shape[2] = {r, c > 0 ? c : 1};
  return kz_arena_tensor(a, t, 2, shape, out);
}

static kz_status alloc_acts(const kz_mlp *m, kz_arena *a, int64_t rows, acts *x) {
  memset(x, 0, sizeof(*x));
  x->rows = rows;
  int64_t maxd = 1, maxw = 1;
  for (int64_t j = 0; j < m->n_cat; j++) maxd = m->cat_dim[j] > maxd ? m->cat_dim[j] : maxd;
  for (int l = 0; l <= m->n_layers; l++) maxw = m->width[l] > maxw ? m->width[l] : maxw;
  KZ_TRY(alloc2(a, KZ_F32, rows, m->in_dim, &x->x0));
  KZ_TRY(alloc2(a, KZ_I32, m->n_cat > 0 ? m->n_cat : 1, rows, &x->ids));
  KZ_TRY(alloc2(a, KZ_F32, rows, maxd, &x->emb));
  for (int l = 0; l < m->n_layers; l++) {
    KZ_TRY(alloc2(a, KZ_F32, rows, m->width[l + 1], &x->z[l]));
    if (l + 1 < m->n_layers) {
      KZ_TRY(alloc2(a, KZ_F32, rows, m->width[l + 1], &x->h[l]));
      KZ_TRY(alloc2(a, KZ_F32, rows, m->width[l + 1], &x->mask[l]));
    }
  }
  int64_t shape1[1] = {rows};
  KZ_TRY(kz_arena_tensor(a, KZ_I32, 1, shape1, &x->targets));
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 1, shape1, &x->losses));
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 1, shape1, &x->dloss));
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 1, shape1, &x->ystd));
  KZ_TRY(alloc2(a, KZ_F32, rows, maxw, &x->da));
  KZ_TRY(alloc2(a, KZ_F32, rows, maxw, &x->db));
  return KZ_OK;
}

/* Sizes the arena once for the largest batch seen (a planning pass measures
 * it), then carves this batch's activations from it. */
static kz_status get_acts(kz_mlp *m, int64_t rows, acts *x) {
  if (!m->arena || rows > m->arena_rows) {
    kz_arena *plan = NULL;
    KZ_TRY(kz_arena_plan(m->base.device, &plan));
    kz_status st = alloc_acts(m, plan, rows, x);
    size_t bytes = kz_arena_planned_bytes(plan);
    kz_arena_destroy(plan);
    KZ_TRY(st);
    if (m->arena) kz_arena_destroy(m->arena);
    m->arena = NULL;
    KZ_TRY(kz_arena_create(m->base.device, bytes, &m->arena));
    m->arena_rows = rows;
  }
  kz_arena_reset(m->arena);
  return alloc_acts(m, m->arena, rows, x);
}

/* A view of rows x cols of a [rows, >=cols] scratch tensor, packed. */
static kz_tensor packed(const kz_tensor *t, int64_t rows, int64_t cols) {
  return kz_tensor_view(t->data, t->dtype, t->device, 2, rows, cols);
}

static kz_status check_batch(const kz_mlp *m, const kz_shard_batch *b, int need_label) {
  struct {
    int f;
    kz_field_type t;
    int64_t w;
    const char *name;
  } want[3] = {{m->f_num, KZ_FIELD_F32, m->n_num, "numeric"},
               {m->f_cat, KZ_FIELD_I32, m->n_cat, "categorical"},
               {need_label ? m->f_label : -1,
                m->task == KZ_MLP_CLASSIFICATION ? KZ_FIELD_I32 : KZ_FIELD_F32, 1, "label"}};
  for (int i = 0; i < 3; i++) {
    if (want[i].f < 0) continue;
    if (want[i].f >= b->n_fields || b->types[want[i].f] != want[i].t ||
        b->widths[want[i].f] != want[i].w)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "mlp: batch field %d ('%s') must be %s of width %lld as in the training "
                     "schema; the data set does not match the model",
                     want[i].f, want[i].name, kz_field_type_name(want[i].t), (long long)want[i].w);
  }
  return KZ_OK;
}

/* Host memory for bytes of host-side data: the tensor's own memory on the
 * CPU (so the CPU path copies nothing), the model's staging buffer on a GPU
 * (uploaded with put, read back with get). */
static void *host_side(kz_mlp *m, const kz_tensor *t, size_t bytes) {
  if (m->base.device.kind == KZ_DEVICE_CPU) return t->data;
  if (bytes > m->stage_cap) {
    void *p = realloc(m->stage, bytes);
    if (!p) return NULL;
    m->stage = p;
    m->stage_cap = bytes;
  }
  return m->stage;
}

static kz_status put(kz_mlp *m, kz_tensor *t, const void *host, size_t bytes) {
  if (m->base.device.kind == KZ_DEVICE_CPU) return KZ_OK;
  return kz_copy_to_device(m->stream, t->data, host, bytes);
}

/* The tensor's first bytes on the host (synchronised): its memory on the
 * CPU, the staging buffer after a copy on a GPU. */
static kz_status get(kz_mlp *m, const kz_tensor *t, size_t bytes, const void **out) {
  if (m->base.device.kind == KZ_DEVICE_CPU) {
    *out = t->data;
    return KZ_OK;
  }
  void *h = host_side(m, t, bytes);
  if (!h) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: out of memory");
  KZ_TRY(kz_copy_to_host(m->stream, h, t->data, bytes));
  KZ_TRY(kz_stream_sync(m->stream));
  *out = h;
  return KZ_OK;
}

#define KZ_MLP_OOM kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: out of memory")

/* The input matrix x0: standardised numeric columns and missing indicators
 * (standardize), then each embedding's columns (embedding into a scratch
 * block, copy_cols into place). The raw numeric field and the category ids
 * are the batch's host data, uploaded on a GPU. */
static kz_status assemble_input(kz_mlp *m, const kz_shard_batch *b, acts *x) {
  const int64_t rows = b->rows;
  if (m->n_num > 0) {
    kz_tensor v =
        kz_tensor_view(kz_batch_f32(b, m->f_num, 0), KZ_F32, m->base.device, 2, rows, m->n_num);
    if (m->base.device.kind != KZ_DEVICE_CPU) {
      /* the batch is host memory: the numeric block goes up into da, which
       * is [rows, >= in_dim] and free until the backward */
      v = packed(&x->da, rows, m->n_num);
      if (kz_tensor_numel(&v) > kz_tensor_numel(&x->da)) return kz_fail(KZ_ERR_INTERNAL, "mlp: da");
      KZ_TRY(kz_copy_to_device(m->stream, v.data, kz_batch_f32(b, m->f_num, 0),
                               (size_t)(rows * m->n_num) * sizeof(float)));
    }
    kz_tensor mean = kz_tensor_view(m->d_mean.data, KZ_U8, m->base.device, 1, 8 * m->n_num);
    kz_tensor sd = kz_tensor_view(m->d_std.data, KZ_U8, m->base.device, 1, 8 * m->n_num);
    kz_tensor miss = kz_tensor_view(m->d_miss.data, KZ_I32, m->base.device, 1, m->n_num);
    KZ_TRY(kz_op_standardize(m->stream, &v, &mean, &sd, &miss, &x->x0, KZ_NN_INF_Z));
  }
  if (m->n_cat == 0) return KZ_OK;
  int32_t *ids = host_side(m, &x->ids, (size_t)(m->n_cat * rows) * sizeof(int32_t));
  if (!ids) return KZ_MLP_OOM;
  for (int64_t j = 0; j < m->n_cat; j++) {
    int32_t card = m->cat_card[j];
    for (int64_t r = 0; r < rows; r++) {
      int32_t c = kz_batch_i32(b, m->f_cat, r)[j];
      ids[j * rows + r] = c >= 0 && c < card ? c : card; /* missing and unseen share the last row */
    }
  }
  KZ_TRY(put(m, &x->ids, ids, (size_t)(m->n_cat * rows) * sizeof(int32_t)));
  for (int64_t j = 0; j < m->n_cat; j++) {
    int64_t d = m->cat_dim[j];
    kz_tensor tid =
        kz_tensor_view((int32_t *)x->ids.data + j * rows, KZ_I32, m->base.device, 1, rows);
    kz_tensor e = packed(&x->emb, rows, d);
    KZ_TRY(kz_op_embedding(m->stream, &tid, &m->p.emb[j], &e));
    KZ_TRY(kz_op_copy_cols(m->stream, &e, 0, &x->x0, m->emb_col[j], d));
  }
  return KZ_OK;
}

static kz_status forward(kz_mlp *m, const kz_shard_batch *b, acts *x, int train,
                         uint64_t dropout_seed) {
  KZ_TRY(assemble_input(m, b, x));
  const kz_tensor *input = &x->x0;
  for (int l = 0; l < m->n_layers; l++) {
    KZ_TRY(kz_op_matmul(m->stream, input, &m->p.w[l], &x->z[l], false, true, 1.0f, 0.0f));
    KZ_TRY(kz_op_bias_add(m->stream, &x->z[l], &m->p.b[l], &x->z[l]));
    if (l + 1 == m->n_layers) break;
    if (m->activation == KZ_MLP_GELU)
      KZ_TRY(kz_op_gelu(m->stream, &x->z[l], &x->h[l], KZ_GELU_ERF));
    else
      KZ_TRY(kz_op_leaky_relu(m->stream, &x->z[l], &x->h[l], 0.0f));
    if (train && m->dropout > 0.0) {
      /* Inverted dropout with a counter-based mask keyed by (seed, layer):
       * the mask depends only on (dropout_seed, layer, position). */
      uint64_t key = kz_rng_key(dropout_seed, (uint64_t)l, 0x64726f70ULL);
      KZ_TRY(kz_op_dropout(m->stream, &x->h[l], &x->h[l], &x->mask[l], m->dropout, key));
    }
    input = &x->h[l];
  }
  return KZ_OK;
}

/* Fills targets / ystd from the labels (host data, uploaded on a GPU);
 * returns the count of usable rows in *valid. */
static kz_status prepare_targets(kz_mlp *m, const kz_shard_batch *b, acts *x, int64_t *valid) {
  int64_t n = 0;
  const int cls = m->task == KZ_MLP_CLASSIFICATION;
  kz_tensor *t = cls ? &x->targets : &x->ystd;
  void *h = host_side(m, t, (size_t)b->rows * 4);
  if (!h) return KZ_MLP_OOM;
  for (int64_t r = 0; r < b->rows; r++) {
    if (cls) {
      int32_t c = *kz_batch_i32(b, m->f_label, r);
      int ok = c >= 0 && c < m->n_classes;
      ((int32_t *)h)[r] = ok ? c : -1;
      n += ok;
    } else {
      float y = *kz_batch_f32(b, m->f_label, r);
      ((float *)h)[r] = isnan(y) ? NAN : (float)(((double)y - m->label_mean) / m->label_std);
      n += !isnan(y);
    }
  }
  *valid = n;
  return put(m, t, h, (size_t)b->rows * 4);
}

/* The regression output [rows, 1] as [rows], the shape of ystd. */
static kz_tensor column(const kz_tensor *t, int64_t rows) {
  return kz_tensor_view(t->data, KZ_F32, t->device, 1, rows);
}

/* Mean loss over the usable rows (cross-entropy, or MSE on the standardised
 * label); per-row losses land in x->losses (0 for ignored rows) and are
 * summed on the host in row order, in double. */
static kz_status compute_loss(kz_mlp *m, acts *x, int64_t valid, double *loss) {
  const int64_t rows = x->rows;
  if (m->task == KZ_MLP_CLASSIFICATION) {
    KZ_TRY(kz_op_cross_entropy(m->stream, &x->z[m->n_layers - 1], &x->targets, &x->losses, -1));
  } else {
    kz_tensor p = column(&x->z[m->n_layers - 1], rows);
    KZ_TRY(kz_op_mse(m->stream, &p, &x->ystd, &x->losses));
  }
  const float *ls = NULL;
  KZ_TRY(get(m, &x->losses, (size_t)rows * 4, (const void **)&ls));
  double sum = 0;
  for (int64_t r = 0; r < rows; r++) sum += ls[r];
  *loss = valid > 0 ? sum / (double)valid : 0.0;
  return KZ_OK;
}

static kz_status backward(kz_mlp *m, acts *x, int64_t valid, double weight) {
  const int64_t rows = x->rows;
  const int L = m->n_layers;
  double scale = valid > 0 ? weight / (double)valid : 0.0;
  kz_tensor dz = packed(&x->da, rows, m->width[L]);
  if (m->task == KZ_MLP_CLASSIFICATION) {
    float *dl = host_side(m, &x->dloss, (size_t)rows * 4);
    if (!dl) return KZ_MLP_OOM;
    for (int64_t r = 0; r < rows; r++) dl[r] = (float)scale;
    KZ_TRY(put(m, &x->dloss, dl, (size_t)rows * 4));
    KZ_TRY(
        kz_op_cross_entropy_bwd(m->stream, &x->z[L - 1], &x->targets, &x->dloss, &dz, -1, false));
  } else {
    kz_tensor p = column(&x->z[L - 1], rows), d = column(&dz, rows);
    KZ_TRY(kz_op_mse_bwd(m->stream, &p, &x->ystd, &d, scale, false));
  }
  for (int l = L - 1; l >= 0; l--) {
    const int64_t fi = m->width[l];
    const kz_tensor *input = l == 0 ? &x->x0 : &x->h[l - 1];
    KZ_TRY(kz_op_matmul(m->stream, &dz, input, &m->g.w[l], true, false, 1.0f, 1.0f));
    KZ_TRY(kz_op_bias_add_bwd(m->stream, &dz, &m->g.b[l], true));
    if (l == 0 && m->n_cat == 0) break;
    kz_tensor dx = packed(&x->db, rows, fi);
    KZ_TRY(kz_op_matmul(m->stream, &dz, &m->p.w[l], &dx, false, false, 1.0f, 0.0f));
    if (l == 0) break;
    /* through dropout (in place), then the activation of layer l-1, into da */
    if (m->dropout > 0.0) KZ_TRY(kz_op_dropout_bwd(m->stream, &dx, &x->mask[l - 1], &dx, false));
    dz = packed(&x->da, rows, fi);
    if (m->activation == KZ_MLP_GELU)
      KZ_TRY(kz_op_gelu_bwd(m->stream, &x->z[l - 1], &dx, &dz, KZ_GELU_ERF, false));
    else
      KZ_TRY(kz_op_leaky_relu_bwd(m->stream, &x->z[l - 1], &dx, &dz, 0.0f, false));
  }
  /* embeddings: each column block of dx0 into a packed block, then its
   * scatter-add into the table */
  kz_tensor dx0 = packed(&x->db, rows, m->in_dim);
  for (int64_t j = 0; j < m->n_cat; j++) {
    int64_t d = m->cat_dim[j];
    kz_tensor e = packed(&x->emb, rows, d);
    KZ_TRY(kz_op_copy_cols(m->stream, &dx0, m->emb_col[j], &e, 0, d));
    kz_tensor tid =
        kz_tensor_view((int32_t *)x->ids.data + j * rows, KZ_I32, m->base.device, 1, rows);
    KZ_TRY(kz_op_embedding_bwd(m->stream, &tid, &e, &m->g.emb[j], true));
  }
  return KZ_OK;
}

kz_status kz_mlp_train_batch(kz_nn_model *model, const kz_shard_batch *b, double weight,
                             uint64_t dropout_seed, double *loss) {
  kz_mlp *m = (kz_mlp *)model;
  *loss = 0.0;
  KZ_TRY(check_batch(m, b, 1));
  if (b->rows == 0) return KZ_OK;
  acts x;
  KZ_TRY(get_acts(m, b->rows, &x));
  KZ_TRY(forward(m, b, &x, 1, dropout_seed));
  int64_t valid = 0;
  KZ_TRY(prepare_targets(m, b, &x, &valid));
  KZ_TRY(compute_loss(m, &x, valid, loss));
  return backward(m, &x, valid, weight);
}

kz_status kz_mlp_eval_batch(kz_nn_model *model, const kz_shard_batch *b, kz_nn_eval *acc) {
  kz_mlp *m = (kz_mlp *)model;
  KZ_TRY(check_batch(m, b, 1));
  if (b->rows == 0) return KZ_OK;
  acts x;
  KZ_TRY(get_acts(m, b->rows, &x));
  KZ_TRY(forward(m, b, &x, 0, 0));
  const int64_t k = m->width[m->n_layers];
  const float *z = NULL;
  KZ_TRY(get(m, &x.z[m->n_layers - 1], (size_t)(b->rows * k) * sizeof(float), (const void **)&z));
  double *zr = NULL;
  if (m->task == KZ_MLP_CLASSIFICATION && !(zr = malloc(sizeof(double) * (size_t)k)))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: out of memory");
  for (int64_t r = 0; r < b->rows; r++) {
    if (m->task == KZ_MLP_CLASSIFICATION) {
      int32_t t = *kz_batch_i32(b, m->f_label, r);
      if (t < 0 || t >= m->n_classes) continue;
      for (int64_t c = 0; c < k; c++) zr[c] = z[r * k + c];
      kz_metric_add_logits(acc, (int)k, zr, t);
    } else {
      float y = *kz_batch_f32(b, m->f_label, r);
      if (isnan(y)) continue;
      kz_metric_add_value(acc, (double)z[r] * m->label_std + m->label_mean, (double)y);
    }
  }
  free(zr);
  return KZ_OK;
}

void kz_mlp_eval_finish(const kz_nn_model *model, const kz_nn_eval *acc, kz_nn_metrics *out) {
  const kz_mlp *m = (const kz_mlp *)model;
  kz_nn_metrics_fill(acc, m->task == KZ_MLP_CLASSIFICATION, out);
}

kz_status kz_mlp_predict_batch(kz_nn_model *model, const kz_shard_batch *b, float *out) {
  kz_mlp *m = (kz_mlp *)model;
  KZ_TRY(check_batch(m, b, 0));
  if (b->rows == 0) return KZ_OK;
  acts x;
  KZ_TRY(get_acts(m, b->rows, &x));
  KZ_TRY(forward(m, b, &x, 0, 0));
  const int64_t k = m->width[m->n_layers];
  const float *z = NULL;
  KZ_TRY(get(m, &x.z[m->n_layers - 1], (size_t)(b->rows * k) * sizeof(float), (const void **)&z));
  for (int64_t r = 0; r < b->rows; r++) {
    if (m->task == KZ_MLP_REGRESSION) {
      out[r] = (float)((double)z[r] * m->label_std + m->label_mean);
      continue;
    }
    double mx = z[r * k], s = 0;
    for (int64_t c = 1; c < k; c++) mx = z[r * k + c] > mx ? z[r * k + c] : mx;
    for (int64_t c = 0; c < k; c++) s += exp((double)z[r * k + c] - mx);
    for (int64_t c = 0; c < k; c++) out[r * k + c] = (float)(exp((double)z[r * k + c] - mx) / s);
  }
  return KZ_OK;
}
