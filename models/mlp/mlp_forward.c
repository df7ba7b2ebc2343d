/* MLP forward, loss, backward, evaluation and prediction on one batch.
 *
 * GEMMs, bias, GELU, cross-entropy and embeddings go through kernels/ops.h.
 * ReLU, dropout, the missing-value handling, the MSE loss and the scatter of
 * embedding rows into the input matrix are host loops for now: the model
 * runs on the CPU device only (mlp_layout.c rejects others). */
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

static kz_tensor param(const kz_mlp *m, const kz_tensor *block, int64_t off, int64_t r, int64_t c) {
  return kz_tensor_view((float *)block->data + off, KZ_F32, m->base.device, 2, r, c);
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

static kz_status forward(kz_mlp *m, const kz_shard_batch *b, acts *x, int train,
                         uint64_t dropout_seed) {
  const int64_t rows = b->rows, in = m->in_dim;
  float *x0 = (float *)x->x0.data;
  for (int64_t r = 0; r < rows; r++) {
    float *row = x0 + r * in;
    const float *v = m->n_num ? kz_batch_f32(b, m->f_num, r) : NULL;
    for (int64_t i = 0; i < m->n_num; i++) {
      int missing = isnan(v[i]);
      row[i] = missing       ? 0.0f
               : isinf(v[i]) ? (float)copysign(KZ_NN_INF_Z, v[i])
                             : (float)(((double)v[i] - m->num_mean[i]) / m->num_std[i]);
      if (m->miss_index[i] >= 0) row[m->n_num + m->miss_index[i]] = missing ? 1.0f : 0.0f;
    }
  }
  for (int64_t j = 0; j < m->n_cat; j++) {
    int32_t *ids = (int32_t *)x->ids.data + j * rows;
    int32_t card = m->cat_card[j];
    for (int64_t r = 0; r < rows; r++) {
      int32_t c = kz_batch_i32(b, m->f_cat, r)[j];
      ids[r] = c >= 0 && c < card ? c : card; /* missing and unseen share the last row */
    }
    int64_t d = m->cat_dim[j];
    kz_tensor tid = kz_tensor_view(ids, KZ_I32, m->base.device, 1, rows);
    kz_tensor table = param(m, &m->base.params, m->emb_off[j], (int64_t)card + 1, d);
    kz_tensor e = packed(&x->emb, rows, d);
    KZ_TRY(kz_op_embedding(m->stream, &tid, &table, &e));
    const float *ed = (const float *)e.data;
    for (int64_t r = 0; r < rows; r++)
      memcpy(x0 + r * in + m->emb_col[j], ed + r * d, (size_t)d * sizeof(float));
  }

  const kz_tensor *input = &x->x0;
  for (int l = 0; l < m->n_layers; l++) {
    int64_t fi = m->width[l], fo = m->width[l + 1];
    kz_tensor w = param(m, &m->base.params, m->w_off[l], fo, fi);
    kz_tensor bias =
        kz_tensor_view((float *)m->base.params.data + m->b_off[l], KZ_F32, m->base.device, 1, fo);
    KZ_TRY(kz_op_matmul(m->stream, input, &w, &x->z[l], false, true, 1.0f, 0.0f));
    KZ_TRY(kz_op_bias_add(m->stream, &x->z[l], &bias, &x->z[l]));
    if (l + 1 == m->n_layers) break;
    int64_t n = rows * fo;
    float *z = (float *)x->z[l].data, *h = (float *)x->h[l].data;
    if (m->activation == KZ_MLP_GELU) {
      KZ_TRY(kz_op_gelu(m->stream, &x->z[l], &x->h[l], KZ_GELU_ERF));
    } else {
      for (int64_t i = 0; i < n; i++) h[i] = z[i] > 0.0f ? z[i] : 0.0f;
    }
    if (train && m->dropout > 0.0) {
      /* Inverted dropout with a counter-based mask: element i of layer l
       * uses output i+1 of the splitmix64 stream keyed by (seed, l), so the
       * mask depends only on (dropout_seed, layer, position). */
      float *mk = (float *)x->mask[l].data;
      uint64_t key = kz_rng_key(dropout_seed, (uint64_t)l, 0x64726f70ULL);
      float keep_scale = (float)(1.0 / (1.0 - m->dropout));
      for (int64_t i = 0; i < n; i++) {
        uint64_t st = key + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
        double u = kz_splitmix64_unit(&st);
        mk[i] = u >= m->dropout ? keep_scale : 0.0f;
        h[i] *= mk[i];
      }
    }
    input = &x->h[l];
  }
  return KZ_OK;
}

/* Fills targets / ystd from the labels; returns the count of usable rows. */
static int64_t prepare_targets(const kz_mlp *m, const kz_shard_batch *b, acts *x) {
  int64_t valid = 0;
  for (int64_t r = 0; r < b->rows; r++) {
    if (m->task == KZ_MLP_CLASSIFICATION) {
      int32_t c = *kz_batch_i32(b, m->f_label, r);
      int ok = c >= 0 && c < m->n_classes;
      ((int32_t *)x->targets.data)[r] = ok ? c : -1;
      valid += ok;
    } else {
      float y = *kz_batch_f32(b, m->f_label, r);
      ((float *)x->ystd.data)[r] =
          isnan(y) ? NAN : (float)(((double)y - m->label_mean) / m->label_std);
      valid += !isnan(y);
    }
  }
  return valid;
}

/* Mean loss over the usable rows (cross-entropy, or MSE on the standardised
 * label); per-row losses land in x->losses (0 for ignored rows). */
static kz_status compute_loss(kz_mlp *m, acts *x, int64_t valid, double *loss) {
  const int64_t rows = x->rows;
  float *ls = (float *)x->losses.data;
  if (m->task == KZ_MLP_CLASSIFICATION) {
    KZ_TRY(kz_op_cross_entropy(m->stream, &x->z[m->n_layers - 1], &x->targets, &x->losses, -1));
  } else {
    const float *p = (const float *)x->z[m->n_layers - 1].data, *y = (const float *)x->ystd.data;
    for (int64_t r = 0; r < rows; r++) ls[r] = isnan(y[r]) ? 0.0f : (p[r] - y[r]) * (p[r] - y[r]);
  }
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
    float *dl = (float *)x->dloss.data;
    for (int64_t r = 0; r < rows; r++) dl[r] = (float)scale;
    KZ_TRY(
        kz_op_cross_entropy_bwd(m->stream, &x->z[L - 1], &x->targets, &x->dloss, &dz, -1, false));
  } else {
    const float *p = (const float *)x->z[L - 1].data, *y = (const float *)x->ystd.data;
    float *d = (float *)dz.data;
    for (int64_t r = 0; r < rows; r++)
      d[r] = isnan(y[r]) ? 0.0f : (float)(2.0 * scale * ((double)p[r] - (double)y[r]));
  }
  for (int l = L - 1; l >= 0; l--) {
    int64_t fi = m->width[l], fo = m->width[l + 1];
    const kz_tensor *input = l == 0 ? &x->x0 : &x->h[l - 1];
    kz_tensor gw = param(m, &m->base.grads, m->w_off[l], fo, fi);
    kz_tensor gb =
        kz_tensor_view((float *)m->base.grads.data + m->b_off[l], KZ_F32, m->base.device, 1, fo);
    KZ_TRY(kz_op_matmul(m->stream, &dz, input, &gw, true, false, 1.0f, 1.0f));
    KZ_TRY(kz_op_bias_add_bwd(m->stream, &dz, &gb, true));
    if (l == 0 && m->n_cat == 0) break;
    kz_tensor w = param(m, &m->base.params, m->w_off[l], fo, fi);
    kz_tensor dx = packed(&x->db, rows, fi);
    KZ_TRY(kz_op_matmul(m->stream, &dz, &w, &dx, false, false, 1.0f, 0.0f));
    if (l == 0) break;
    /* through dropout, then the activation of layer l-1, into da */
    float *d = (float *)dx.data;
    int64_t n = rows * fi;
    if (m->dropout > 0.0) {
      const float *mk = (const float *)x->mask[l - 1].data;
      for (int64_t i = 0; i < n; i++) d[i] *= mk[i];
    }
    dz = packed(&x->da, rows, fi);
    if (m->activation == KZ_MLP_GELU) {
      KZ_TRY(kz_op_gelu_bwd(m->stream, &x->z[l - 1], &dx, &dz, KZ_GELU_ERF, false));
    } else {
      const float *z = (const float *)x->z[l - 1].data;
      float *o = (float *)dz.data;
      for (int64_t i = 0; i < n; i++) o[i] = z[i] > 0.0f ? d[i] : 0.0f;
    }
  }
  /* embeddings: gather each column block of dx0 and scatter-add into its table */
  const float *dx0 = (const float *)x->db.data;
  for (int64_t j = 0; j < m->n_cat; j++) {
    int64_t d = m->cat_dim[j];
    kz_tensor e = packed(&x->emb, rows, d);
    float *ed = (float *)e.data;
    for (int64_t r = 0; r < rows; r++)
      memcpy(ed + r * d, dx0 + r * m->in_dim + m->emb_col[j], (size_t)d * sizeof(float));
    kz_tensor tid =
        kz_tensor_view((int32_t *)x->ids.data + j * rows, KZ_I32, m->base.device, 1, rows);
    kz_tensor gt = param(m, &m->base.grads, m->emb_off[j], (int64_t)m->cat_card[j] + 1, d);
    KZ_TRY(kz_op_embedding_bwd(m->stream, &tid, &e, &gt, true));
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
  int64_t valid = prepare_targets(m, b, &x);
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
  prepare_targets(m, b, &x);
  const float *z = (const float *)x.z[m->n_layers - 1].data;
  const int64_t k = m->width[m->n_layers];
  double *zr = NULL;
  if (m->task == KZ_MLP_CLASSIFICATION && !(zr = malloc(sizeof(double) * (size_t)k)))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: out of memory");
  for (int64_t r = 0; r < b->rows; r++) {
    if (m->task == KZ_MLP_CLASSIFICATION) {
      int32_t t = ((const int32_t *)x.targets.data)[r];
      if (t < 0) continue;
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
  const float *z = (const float *)x.z[m->n_layers - 1].data;
  const int64_t k = m->width[m->n_layers];
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
