/* The linear model (linear.h): logits = W^T x + b over a feature vector built
 * per row from the tabular fields:
 *   [ standardised numerics (missing -> 0) | missing indicators (one per
 *     numeric column) | one-hot of each categorical column, with one extra
 *     slot per column for missing or unseen codes ].
 * Classification uses softmax cross-entropy over the label's categories;
 * regression fits the standardised label with mean squared error and reports
 * rmse / mae in label units.
 *
 * Every sum runs in double in a fixed order on one thread: the model is tiny,
 * and this makes training bit-for-bit reproducible, which the trainer's
 * resume tests rely on. It runs on the CPU whatever device is asked for (its
 * base.device says so), since its cost is reading the batch, not arithmetic. */
#define _POSIX_C_SOURCE 200809L
#include "models/linear/linear.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/backend.h"
#include "kernels/core/error.h"
#include "kernels/core/splitmix64.h"
#include "models/nn_file.h"

typedef struct linear {
  kz_nn_model_base base; /* must be first (nn_model.h) */
  int classification;
  int64_t n_out;                 /* classes, or 1 */
  int f_num, f_cat, f_label;     /* field indices in the batch; -1 if absent */
  int64_t n_num, n_cat;          /* columns */
  int32_t *cat_card;             /* categories per categorical column */
  int64_t *cat_off;              /* first one-hot slot of each column */
  double *mean, *std;            /* numeric standardisation */
  double label_mean, label_std;  /* regression target standardisation */
  int64_t d;                     /* feature width */
  char **names;                  /* n_out output names (prediction columns) */
  char **num_names, **cat_names; /* column names, kept for the meta */
  char *label_name;
  double *x;      /* scratch: one row's features */
  double *logits; /* scratch: n_out */
} linear;

static void linear_destroy(kz_nn_model *mm) {
  linear *m = (linear *)mm;
  if (!m) return;
  free(m->base.input_schema);
  kz_tensor_free(&m->base.params);
  kz_tensor_free(&m->base.grads);
  for (int64_t i = 0; m->names && i < m->n_out; ++i) free(m->names[i]);
  for (int64_t i = 0; m->num_names && i < m->n_num; ++i) free(m->num_names[i]);
  for (int64_t i = 0; m->cat_names && i < m->n_cat; ++i) free(m->cat_names[i]);
  free(m->names), free(m->num_names), free(m->cat_names), free(m->label_name);
  free(m->cat_card), free(m->cat_off), free(m->mean), free(m->std), free(m->x), free(m->logits);
  free(m);
}

static kz_status linear_init_params(kz_nn_model *mm, uint64_t seed) {
  linear *m = (linear *)mm;
  float *w = (float *)m->base.params.data;
  uint64_t s = seed ^ 0x6c696e656172ULL;
  /* Small symmetric weights break ties between classes; the bias starts at 0. */
  const int64_t nw = m->d * m->n_out;
  for (int64_t i = 0; i < nw; ++i) {
    double u = kz_splitmix64_unit(&s);
    w[i] = (float)((u * 2.0 - 1.0) * 0.01);
  }
  for (int64_t k = 0; k < m->n_out; ++k) w[nw + k] = 0.0f;
  return KZ_OK;
}

/* Features of row r into m->x. */
static void features(linear *m, const kz_shard_batch *b, int64_t r) {
  double *x = m->x;
  memset(x, 0, (size_t)m->d * sizeof *x);
  if (m->n_num) {
    const float *v = kz_batch_f32(b, m->f_num, r);
    for (int64_t j = 0; j < m->n_num; ++j) {
      if (isnan(v[j]))
        x[m->n_num + j] = 1.0;
      else if (isinf(v[j]))
        x[j] = copysign(KZ_NN_INF_Z, v[j]);
      else
        x[j] = ((double)v[j] - m->mean[j]) / m->std[j];
    }
  }
  if (m->n_cat) {
    const int32_t *c = kz_batch_i32(b, m->f_cat, r);
    for (int64_t j = 0; j < m->n_cat; ++j) {
      int32_t code = c[j];
      int64_t slot = (code >= 0 && code < m->cat_card[j]) ? code : m->cat_card[j];
      x[m->cat_off[j] + slot] = 1.0;
    }
  }
}

static void forward_row(linear *m, const float *w) {
  const int64_t k_n = m->n_out;
  const float *bias = w + m->d * k_n;
  for (int64_t k = 0; k < k_n; ++k) m->logits[k] = bias[k];
  for (int64_t j = 0; j < m->d; ++j) {
    double xj = m->x[j];
    if (xj == 0.0) continue;
    const float *wj = w + j * k_n;
    for (int64_t k = 0; k < k_n; ++k) m->logits[k] += xj * wj[k];
  }
}

/* Softmax of m->logits in place; returns log-sum-exp. */
static double softmax_inplace(double *z, int64_t n) {
  double mx = z[0];
  for (int64_t k = 1; k < n; ++k) mx = z[k] > mx ? z[k] : mx;
  double s = 0.0;
  for (int64_t k = 0; k < n; ++k) s += exp(z[k] - mx);
  double lse = mx + log(s);
  for (int64_t k = 0; k < n; ++k) z[k] = exp(z[k] - lse);
  return lse;
}

/* Label of row r: class code (classification) or the raw value; 0 if missing. */
static int row_label(const linear *m, const kz_shard_batch *b, int64_t r, int32_t *cls, double *y) {
  if (m->f_label < 0) return 0;
  if (m->classification) {
    int32_t c = *kz_batch_i32(b, m->f_label, r);
    if (c < 0 || c >= m->n_out) return 0;
    *cls = c;
    return 1;
  }
  float v = *kz_batch_f32(b, m->f_label, r);
  if (isnan(v)) return 0;
  *y = v;
  return 1;
}

static kz_status check_batch(const linear *m, const kz_shard_batch *b, int need_label) {
  if (m->n_num && (m->f_num >= b->n_fields || b->widths[m->f_num] != m->n_num ||
                   b->types[m->f_num] != KZ_FIELD_F32))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "linear model: the data's numeric field does not match the model (%lld columns)",
                   (long long)m->n_num);
  if (m->n_cat && (m->f_cat >= b->n_fields || b->widths[m->f_cat] != m->n_cat ||
                   b->types[m->f_cat] != KZ_FIELD_I32))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "linear model: the data's categorical field does not match the model (%lld "
                   "columns)",
                   (long long)m->n_cat);
  if (need_label && (m->f_label < 0 || m->f_label >= b->n_fields ||
                     b->types[m->f_label] != (m->classification ? KZ_FIELD_I32 : KZ_FIELD_F32)))
    return kz_fail(KZ_ERR_INVALID_ARG, "linear model: the data has no matching label field");
  return KZ_OK;
}

static kz_status linear_train_batch(kz_nn_model *mm, const kz_shard_batch *b, double weight,
                                    uint64_t dropout_seed, double *loss) {
  linear *m = (linear *)mm;
  KZ_TRY(check_batch(m, b, 1));
  const float *w = (const float *)m->base.params.data;
  float *g = (float *)m->base.grads.data;
  const int64_t k_n = m->n_out;
  int64_t n_valid = 0;
  for (int64_t r = 0; r < b->rows; ++r) {
    int32_t c;
    double y;
    n_valid += row_label(m, b, r, &c, &y);
  }
  double total = 0.0;
  if (n_valid == 0) {
    *loss = 0.0;
    return KZ_OK;
  }
  const double scale = weight / (double)n_valid;
  float *gb = g + m->d * k_n;
  for (int64_t r = 0; r < b->rows; ++r) {
    int32_t c = 0;
    double y = 0.0;
    if (!row_label(m, b, r, &c, &y)) continue;
    features(m, b, r);
    forward_row(m, w);
    /* dlogits overwrite logits. */
    if (m->classification) {
      double zc = m->logits[c];
      double lse = softmax_inplace(m->logits, k_n);
      total += lse - zc;
      m->logits[c] -= 1.0;
    } else {
      double t = (y - m->label_mean) / m->label_std;
      double e = m->logits[0] - t;
      total += e * e;
      m->logits[0] = 2.0 * e;
    }
    for (int64_t k = 0; k < k_n; ++k) gb[k] += (float)(scale * m->logits[k]);
    for (int64_t j = 0; j < m->d; ++j) {
      double xj = m->x[j];
      if (xj == 0.0) continue;
      float *gj = g + j * k_n;
      for (int64_t k = 0; k < k_n; ++k) gj[k] += (float)(scale * xj * m->logits[k]);
    }
  }
  *loss = total / (double)n_valid;
  return KZ_OK;
}

static kz_status linear_eval_batch(kz_nn_model *mm, const kz_shard_batch *b, kz_nn_eval *acc) {
  linear *m = (linear *)mm;
  KZ_TRY(check_batch(m, b, 1));
  const float *w = (const float *)m->base.params.data;
  for (int64_t r = 0; r < b->rows; ++r) {
    int32_t c = 0;
    double y = 0.0;
    if (!row_label(m, b, r, &c, &y)) continue;
    features(m, b, r);
    forward_row(m, w);
    if (m->classification)
      kz_metric_add_logits(acc, (int)m->n_out, m->logits, c);
    else
      kz_metric_add_value(acc, m->logits[0] * m->label_std + m->label_mean, y);
  }
  return KZ_OK;
}

static void linear_eval_finish(const kz_nn_model *mm, const kz_nn_eval *acc, kz_nn_metrics *out) {
  kz_nn_metrics_fill(acc, ((const linear *)mm)->classification, out);
}

static kz_status linear_predict_batch(kz_nn_model *mm, const kz_shard_batch *b, float *out) {
  linear *m = (linear *)mm;
  KZ_TRY(check_batch(m, b, 0));
  const float *w = (const float *)m->base.params.data;
  for (int64_t r = 0; r < b->rows; ++r) {
    features(m, b, r);
    forward_row(m, w);
    float *o = out + r * m->n_out;
    if (m->classification) {
      softmax_inplace(m->logits, m->n_out);
      for (int64_t k = 0; k < m->n_out; ++k) o[k] = (float)m->logits[k];
    } else {
      o[0] = (float)(m->logits[0] * m->label_std + m->label_mean);
    }
  }
  return KZ_OK;
}

/* ---- meta JSON ------------------------------------------------------------ */

static json_t *str_array(char **v, int64_t n) {
  json_t *a = json_array();
  for (int64_t i = 0; a && i < n; ++i) json_array_append_new(a, json_string(v[i]));
  return a;
}

static kz_status linear_meta_json(const kz_nn_model *mm, char **out) {
  const linear *m = (const linear *)mm;
  json_t *o = json_object();
  json_t *mean = json_array(), *std = json_array(), *card = json_array();
  if (!o || !mean || !std || !card) {
    json_decref(o), json_decref(mean), json_decref(std), json_decref(card);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "linear model: out of memory");
  }
  for (int64_t j = 0; j < m->n_num; ++j) {
    json_array_append_new(mean, json_real(m->mean[j]));
    json_array_append_new(std, json_real(m->std[j]));
  }
  for (int64_t j = 0; j < m->n_cat; ++j) json_array_append_new(card, json_integer(m->cat_card[j]));
  json_object_set_new(o, "type", json_string("linear"));
  json_object_set_new(o, "task", json_string(m->classification ? "classification" : "regression"));
  json_object_set_new(o, "n_out", json_integer(m->n_out));
  json_object_set_new(o, "output_names", str_array(m->names, m->n_out));
  json_object_set_new(o, "label", json_string(m->label_name ? m->label_name : ""));
  json_object_set_new(o, "field_numeric", json_integer(m->f_num));
  json_object_set_new(o, "field_categorical", json_integer(m->f_cat));
  json_object_set_new(o, "field_label", json_integer(m->f_label));
  json_object_set_new(o, "numeric_names", str_array(m->num_names, m->n_num));
  json_object_set_new(o, "numeric_mean", mean);
  json_object_set_new(o, "numeric_std", std);
  json_object_set_new(o, "categorical_names", str_array(m->cat_names, m->n_cat));
  json_object_set_new(o, "categorical_cardinality", card);
  json_object_set_new(o, "label_mean", json_real(m->label_mean));
  json_object_set_new(o, "label_std", json_real(m->label_std));
  /* Sorted keys and full-precision reals: the same model gives the same bytes. */
  char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
  json_decref(o);
  if (!s) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "linear model: out of memory");
  *out = s;
  return KZ_OK;
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
    .meta_json = linear_meta_json,
};

/* Sizes, blocks and info once the column layout is known. The size is
 * checked before anything large is allocated: against KZ_NN_MAX_PARAMS, and
 * against want_params when >= 0 (a file's block); allocate 0 stops there. */
static kz_status linear_finish_layout(linear *m, int64_t want_params, int allocate) {
  m->d = 2 * m->n_num;
  m->cat_off = calloc((size_t)m->n_cat + 1, sizeof *m->cat_off);
  if (!m->cat_off) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "linear model: out of memory");
  for (int64_t j = 0; j < m->n_cat; ++j) {
    m->cat_off[j] = m->d;
    m->d += (int64_t)m->cat_card[j] + 1;
  }
  if (m->d == 0) return kz_fail(KZ_ERR_INVALID_ARG, "linear model: the data set has no features");
  /* d <= n_cat * 2^24 and n_out <= 2^20: the product fits a double exactly
   * enough to compare, and is only formed in int64 below the bound */
  if (((double)m->d + 1) * (double)m->n_out > (double)KZ_NN_MAX_PARAMS)
    return kz_fail(KZ_ERR_FORMAT,
                   "linear model: %lld features x %lld outputs is more than %lld "
                   "parameters",
                   (long long)m->d, (long long)m->n_out, (long long)KZ_NN_MAX_PARAMS);
  int64_t n = m->d * m->n_out + m->n_out;
  if (want_params >= 0 && n != want_params)
    return kz_fail(KZ_ERR_FORMAT,
                   "linear model meta: the layout (features, n_out) needs %lld parameters, the "
                   "file holds %lld",
                   (long long)n, (long long)want_params);
  if (!allocate) return KZ_OK;
  m->x = calloc((size_t)m->d, sizeof *m->x);
  m->logits = calloc((size_t)m->n_out, sizeof *m->logits);
  if (!m->x || !m->logits) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "linear model: out of memory");
  kz_device cpu = {KZ_DEVICE_CPU, 0};
  m->base.ops = &linear_ops;
  m->base.device = cpu;
  KZ_TRY(kz_tensor_alloc(cpu, KZ_F32, 1, &n, &m->base.params));
  KZ_TRY(kz_tensor_alloc(cpu, KZ_F32, 1, &n, &m->base.grads));
  memset(m->base.params.data, 0, (size_t)n * 4);
  memset(m->base.grads.data, 0, (size_t)n * 4);
  kz_nn_model_info *info = &m->base.info;
  info->task = m->classification ? "classification" : "regression";
  info->out_width = (int)m->n_out;
  info->primary_metric = m->classification ? "accuracy" : "rmse";
  info->primary_higher_is_better = m->classification;
  /* Dense-equivalent: 2 flops per weight forward, 4 backward. */
  info->flops_per_row = 6.0 * (double)m->d * (double)m->n_out;
  info->n_params = n;
  return KZ_OK;
}

static char *dup_or_empty(const char *s) {
  return strdup(s ? s : "");
}

/* Mean and standard deviation of every numeric column (and a regression
 * label) over the training rows, in storage order. */
static kz_status scan_statistics(linear *m, kz_dataset *train) {
  const int64_t rows = kz_dataset_rows(train), chunk = 4096;
  double *sum = calloc((size_t)m->n_num + 1, sizeof *sum);
  double *sq = calloc((size_t)m->n_num + 1, sizeof *sq);
  int64_t *cnt = calloc((size_t)m->n_num + 1, sizeof *cnt);
  kz_shard_batch b;
  memset(&b, 0, sizeof b);
  kz_status st = (!sum || !sq || !cnt) ? kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory") : KZ_OK;
  if (st == KZ_OK) st = kz_shard_batch_alloc(kz_dataset_schema(train), chunk, &b);
  double lsum = 0, lsq = 0;
  int64_t lcnt = 0;
  for (int64_t r0 = 0; st == KZ_OK && r0 < rows; r0 += chunk) {
    int64_t n = rows - r0 < chunk ? rows - r0 : chunk;
    kz_shard_batch_clear(&b);
    st = kz_dataset_read_range(train, r0, n, &b, 0);
    if (st != KZ_OK) break;
    b.rows = n;
    for (int64_t r = 0; r < n; ++r) {
      if (m->n_num) {
        const float *v = kz_batch_f32(&b, m->f_num, r);
        for (int64_t j = 0; j < m->n_num; ++j)
          if (isfinite(v[j])) sum[j] += v[j], sq[j] += (double)v[j] * v[j], cnt[j]++;
      }
      if (!m->classification) {
        float y = *kz_batch_f32(&b, m->f_label, r);
        if (!isnan(y)) lsum += y, lsq += (double)y * y, lcnt++;
      }
    }
  }
  for (int64_t j = 0; st == KZ_OK && j < m->n_num; ++j) {
    double mu = cnt[j] ? sum[j] / (double)cnt[j] : 0.0;
    double var = cnt[j] ? sq[j] / (double)cnt[j] - mu * mu : 0.0;
    m->mean[j] = mu;
    m->std[j] = var > 1e-24 ? sqrt(var) : 1.0; /* constant columns stay 0 after centring */
  }
  if (st == KZ_OK && !m->classification) {
    double mu = lcnt ? lsum / (double)lcnt : 0.0;
    double var = lcnt ? lsq / (double)lcnt - mu * mu : 0.0;
    m->label_mean = mu;
    m->label_std = var > 1e-24 ? sqrt(var) : 1.0;
  }
  kz_shard_batch_free(&b);
  free(sum), free(sq), free(cnt);
  return st;
}

static kz_status create_from_schema(linear *m, kz_dataset *train) {
  const kz_schema *s = kz_dataset_schema(train);
  if (strcmp(s->kind, "tabular") != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the linear model needs a tabular data set, not %s",
                   kz_dataset_path(train), s->kind);
  m->f_num = kz_schema_field_index(s, "numeric");
  m->f_cat = kz_schema_field_index(s, "categorical");
  m->f_label = kz_schema_field_index(s, "label");
  if (m->f_label < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the data set has no label field",
                   kz_dataset_path(train));
  const kz_field *lf = &s->fields[m->f_label];
  m->classification = lf->type == KZ_FIELD_I32;
  m->label_mean = 0.0, m->label_std = 1.0; /* identity unless regression sets them */
  m->label_name = dup_or_empty(lf->n_columns ? lf->columns[0].name : "label");
  if (m->classification) {
    int32_t k = lf->n_columns ? lf->columns[0].n_categories : 0;
    if (k < 2)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: a class label needs at least 2 categories, has %d",
                     kz_dataset_path(train), (int)k);
    m->n_out = k;
  } else {
    m->n_out = 1;
  }
  m->names = calloc((size_t)m->n_out, sizeof *m->names);
  if (!m->names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int64_t k = 0; k < m->n_out; ++k)
    m->names[k] = dup_or_empty(m->classification ? lf->columns[0].categories[k] : m->label_name);
  if (m->f_num >= 0) {
    const kz_field *f = &s->fields[m->f_num];
    m->n_num = f->width;
    m->mean = calloc((size_t)m->n_num + 1, sizeof *m->mean);
    m->std = calloc((size_t)m->n_num + 1, sizeof *m->std);
    m->num_names = calloc((size_t)m->n_num + 1, sizeof *m->num_names);
    if (!m->mean || !m->std || !m->num_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t j = 0; j < m->n_num; ++j)
      m->num_names[j] = dup_or_empty(f->n_columns ? f->columns[j].name : "");
  }
  if (m->f_cat >= 0) {
    const kz_field *f = &s->fields[m->f_cat];
    m->n_cat = f->width;
    m->cat_card = calloc((size_t)m->n_cat + 1, sizeof *m->cat_card);
    m->cat_names = calloc((size_t)m->n_cat + 1, sizeof *m->cat_names);
    if (!m->cat_card || !m->cat_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t j = 0; j < m->n_cat; ++j) {
      m->cat_card[j] = f->n_columns ? f->columns[j].n_categories : 0;
      m->cat_names[j] = dup_or_empty(f->n_columns ? f->columns[j].name : "");
    }
  }
  KZ_TRY(scan_statistics(m, train));
  return linear_finish_layout(m, -1, 1);
}

kz_status kz_linear_create(const kz_cfg_node *model_cfg, kz_dataset *train, kz_device device,
                           kz_nn_model **out) {
  (void)model_cfg; /* no options of its own: the trainer's weight_decay regularises it */
  (void)device;
  linear *m = calloc(1, sizeof *m);
  if (!m) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "linear model: out of memory");
  kz_status st = create_from_schema(m, train);
  if (st != KZ_OK) {
    linear_destroy((kz_nn_model *)m);
    return st;
  }
  *out = (kz_nn_model *)m;
  return KZ_OK;
}

/* ---- from meta -------------------------------------------------------------- */

static kz_status meta_strings(json_t *o, const char *key, int64_t n, char ***out) {
  json_t *a = json_object_get(o, key);
  if (!json_is_array(a) || (int64_t)json_array_size(a) != n)
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: '%s' must be an array of %lld strings", key,
                   (long long)n);
  char **v = calloc((size_t)n + 1, sizeof *v);
  if (!v) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  *out = v;
  for (int64_t i = 0; i < n; ++i) {
    const char *s = json_string_value(json_array_get(a, (size_t)i));
    if (!s)
      return kz_fail(KZ_ERR_FORMAT, "linear model meta: '%s'[%lld] is not a string", key,
                     (long long)i);
    v[i] = strdup(s);
    if (!v[i]) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  return KZ_OK;
}

static kz_status meta_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: '%s' must be an integer in [%lld, %lld]", key,
                   (long long)lo, (long long)hi);
  *out = json_integer_value(v);
  return KZ_OK;
}

static kz_status meta_doubles(json_t *o, const char *key, int64_t n, double *out) {
  json_t *a = json_object_get(o, key);
  if (!json_is_array(a) || (int64_t)json_array_size(a) != n)
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: '%s' must be an array of %lld numbers", key,
                   (long long)n);
  for (int64_t i = 0; i < n; ++i) {
    json_t *v = json_array_get(a, (size_t)i);
    if (!json_is_number(v))
      return kz_fail(KZ_ERR_FORMAT, "linear model meta: '%s'[%lld] is not a number", key,
                     (long long)i);
    out[i] = json_number_value(v);
  }
  return KZ_OK;
}

static kz_status from_json(linear *m, json_t *o, int64_t want_params, int allocate) {
  const char *type = json_string_value(json_object_get(o, "type"));
  const char *task = json_string_value(json_object_get(o, "task"));
  if (!type || strcmp(type, "linear") != 0)
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: type is not \"linear\"");
  if (!task || (strcmp(task, "classification") && strcmp(task, "regression")))
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: task must be classification or regression");
  m->classification = !strcmp(task, "classification");
  int64_t v = -1;
  KZ_TRY(meta_int(o, "n_out", 1, 1 << 20, &m->n_out));
  KZ_TRY(meta_int(o, "field_numeric", -1, 1 << 10, &v));
  m->f_num = (int)v;
  KZ_TRY(meta_int(o, "field_categorical", -1, 1 << 10, &v));
  m->f_cat = (int)v;
  KZ_TRY(meta_int(o, "field_label", -1, 1 << 10, &v));
  m->f_label = (int)v;
  KZ_TRY(meta_strings(o, "output_names", m->n_out, &m->names));
  const char *label = json_string_value(json_object_get(o, "label"));
  m->label_name = dup_or_empty(label);
  json_t *nn = json_object_get(o, "numeric_names");
  json_t *cn = json_object_get(o, "categorical_names");
  m->n_num = json_is_array(nn) ? (int64_t)json_array_size(nn) : 0;
  m->n_cat = json_is_array(cn) ? (int64_t)json_array_size(cn) : 0;
  KZ_TRY(meta_strings(o, "numeric_names", m->n_num, &m->num_names));
  KZ_TRY(meta_strings(o, "categorical_names", m->n_cat, &m->cat_names));
  m->mean = calloc((size_t)m->n_num + 1, sizeof *m->mean);
  m->std = calloc((size_t)m->n_num + 1, sizeof *m->std);
  m->cat_card = calloc((size_t)m->n_cat + 1, sizeof *m->cat_card);
  double *card = calloc((size_t)m->n_cat + 1, sizeof *card);
  if (!m->mean || !m->std || !m->cat_card || !card) {
    free(card);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  kz_status st = meta_doubles(o, "numeric_mean", m->n_num, m->mean);
  if (st == KZ_OK) st = meta_doubles(o, "numeric_std", m->n_num, m->std);
  if (st == KZ_OK) st = meta_doubles(o, "categorical_cardinality", m->n_cat, card);
  for (int64_t j = 0; st == KZ_OK && j < m->n_cat; ++j) {
    if (card[j] < 0 || card[j] > (1 << 24))
      st = kz_fail(KZ_ERR_FORMAT, "linear model meta: bad categorical cardinality");
    m->cat_card[j] = (int32_t)card[j];
  }
  free(card);
  KZ_TRY(st);
  for (int64_t j = 0; j < m->n_num; ++j)
    if (!(isfinite(m->mean[j]) && isfinite(m->std[j]) && m->std[j] > 0))
      return kz_fail(KZ_ERR_FORMAT,
                     "linear model meta: numeric_mean[%lld] / numeric_std[%lld] must be finite, "
                     "std > 0",
                     (long long)j, (long long)j);
  json_t *lm = json_object_get(o, "label_mean"), *ls = json_object_get(o, "label_std");
  if (!json_is_number(lm) || !json_is_number(ls) || !isfinite(json_number_value(lm)) ||
      !isfinite(json_number_value(ls)) || !(json_number_value(ls) > 0))
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: label_mean / label_std missing or invalid");
  m->label_mean = json_number_value(lm);
  m->label_std = json_number_value(ls);
  return linear_finish_layout(m, want_params, allocate);
}

kz_status kz_linear_from_meta(const char *meta_json, kz_device device, int64_t want_params,
                              kz_nn_model **out) {
  (void)device;
  if (out) *out = NULL;
  json_error_t err;
  json_t *o = json_loads(meta_json, JSON_REJECT_DUPLICATES, &err);
  if (!json_is_object(o)) {
    json_decref(o);
    return kz_fail(KZ_ERR_FORMAT, "linear model meta: not a JSON object (%s)", err.text);
  }
  linear *m = calloc(1, sizeof *m);
  kz_status st = m ? from_json(m, o, want_params, out != NULL)
                   : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  json_decref(o);
  if (st != KZ_OK || !out) {
    linear_destroy((kz_nn_model *)m);
    return st;
  }
  *out = (kz_nn_model *)m;
  return KZ_OK;
}
