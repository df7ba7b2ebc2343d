/* The shared batch side of the tabular neural models (nn_tabular.h). */
#include "models/nn_tabular.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/ops.h"

static int on_cpu(const kz_nn_tab *t) {
  return t->device.kind == KZ_DEVICE_CPU;
}

/* Host memory for bytes of what the host prepares or reads: the tensor's
 * own memory on the CPU (so the CPU path copies nothing), the staging buffer
 * on a GPU (uploaded with put, read back with get). */
static void *host_side(kz_nn_tab *t, const kz_tensor *x, size_t bytes) {
  if (on_cpu(t)) return x->data;
  if (bytes > t->stage_cap) {
    void *p = realloc(t->stage, bytes);
    if (!p) return NULL;
    t->stage = p;
    t->stage_cap = bytes;
  }
  return t->stage;
}

static kz_status put(kz_nn_tab *t, kz_tensor *x, const void *host, size_t bytes) {
  if (on_cpu(t)) return KZ_OK;
  return kz_copy_to_device(t->stream, x->data, host, bytes);
}

/* The tensor's first bytes on the host, synchronised. */
static kz_status get(kz_nn_tab *t, const kz_tensor *x, size_t bytes, const void **out) {
  if (on_cpu(t)) {
    *out = x->data;
    return KZ_OK;
  }
  void *h = host_side(t, x, bytes);
  if (!h) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", t->who);
  KZ_TRY(kz_copy_to_host(t->stream, h, x->data, bytes));
  KZ_TRY(kz_stream_sync(t->stream));
  *out = h;
  return KZ_OK;
}

kz_status kz_nn_tab_open(kz_nn_tab *t, kz_device device, const double *mean, const double *std,
                         const int *miss) {
  t->device = device;
  KZ_TRY(kz_stream_create(device, &t->stream));
  int64_t nb = 8 * (t->n_num > 0 ? t->n_num : 1), nm = t->n_num > 0 ? t->n_num : 1;
  KZ_TRY(kz_tensor_alloc(device, KZ_U8, 1, &nb, &t->d_mean));
  KZ_TRY(kz_tensor_alloc(device, KZ_U8, 1, &nb, &t->d_std));
  KZ_TRY(kz_tensor_alloc(device, KZ_I32, 1, &nm, &t->d_miss));
  if (t->n_num == 0) return KZ_OK;
  int32_t *m32 = malloc((size_t)t->n_num * sizeof(int32_t));
  if (!m32) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", t->who);
  for (int64_t i = 0; i < t->n_num; i++) m32[i] = miss[i];
  kz_status st = kz_copy_to_device(t->stream, t->d_mean.data, mean, (size_t)nb);
  if (st == KZ_OK) st = kz_copy_to_device(t->stream, t->d_std.data, std, (size_t)nb);
  if (st == KZ_OK)
    st = kz_copy_to_device(t->stream, t->d_miss.data, m32, (size_t)nm * sizeof(int32_t));
  if (st == KZ_OK) st = kz_stream_sync(t->stream);
  free(m32);
  return st;
}

void kz_nn_tab_free(kz_nn_tab *t) {
  if (t->arena) kz_arena_destroy(t->arena);
  if (t->d_mean.data) kz_tensor_free(&t->d_mean);
  if (t->d_std.data) kz_tensor_free(&t->d_std);
  if (t->d_miss.data) kz_tensor_free(&t->d_miss);
  if (t->stream) kz_stream_destroy(t->stream);
  free(t->stage);
  free(t->cat_card);
  t->arena = NULL, t->stream = NULL, t->stage = NULL, t->cat_card = NULL;
}

kz_status kz_nn_tab_check_batch(const kz_nn_tab *t, const kz_shard_batch *b, int need_label) {
  struct {
    int f;
    kz_field_type type;
    int64_t w;
    const char *name;
  } want[3] = {
      {t->f_num, KZ_FIELD_F32, t->n_num, "numeric"},
      {t->f_cat, KZ_FIELD_I32, t->n_cat, "categorical"},
      {need_label ? t->f_label : -1, t->classification ? KZ_FIELD_I32 : KZ_FIELD_F32, 1, "label"}};
  for (int i = 0; i < 3; i++) {
    if (want[i].f < 0) continue;
    if (want[i].f >= b->n_fields || b->types[want[i].f] != want[i].type ||
        b->widths[want[i].f] != want[i].w)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "%s: batch field %d ('%s') must be %s of width %lld as in the training "
                     "schema; the data set does not match the model",
                     t->who, want[i].f, want[i].name, kz_field_type_name(want[i].type),
                     (long long)want[i].w);
  }
  if (need_label && t->f_label < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the model has no label field", t->who);
  return KZ_OK;
}

static kz_status carve_batch(const kz_nn_tab *t, kz_arena *a, int64_t rows, kz_nn_tab_batch *tb) {
  memset(tb, 0, sizeof *tb);
  tb->rows = rows;
  int64_t one[1] = {rows}, ids[2] = {t->n_cat > 0 ? t->n_cat : 1, rows};
  int64_t num[2] = {rows, t->n_num > 0 ? t->n_num : 1};
  KZ_TRY(kz_arena_tensor(a, KZ_I32, 2, ids, &tb->ids));
  KZ_TRY(kz_arena_tensor(a, KZ_I32, 1, one, &tb->targets));
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 1, one, &tb->ystd));
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 1, one, &tb->losses));
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 1, one, &tb->dloss));
  /* the raw numeric block goes up here on a GPU; the CPU reads the batch */
  if (!on_cpu(t)) KZ_TRY(kz_arena_tensor(a, KZ_F32, 2, num, &tb->numeric));
  return KZ_OK;
}

kz_status kz_nn_tab_acts(kz_nn_tab *t, int64_t rows, kz_nn_tab_carve carve, void *model, void *acts,
                         kz_nn_tab_batch *tb) {
  if (!t->arena || rows > t->arena_rows) {
    kz_arena *plan = NULL;
    KZ_TRY(kz_arena_plan(t->device, &plan));
    kz_status st = carve(model, plan, rows, acts);
    if (st == KZ_OK) st = carve_batch(t, plan, rows, tb);
    size_t bytes = kz_arena_planned_bytes(plan);
    kz_arena_destroy(plan);
    KZ_TRY(st);
    if (t->arena) kz_arena_destroy(t->arena);
    t->arena = NULL;
    KZ_TRY(kz_arena_create(t->device, bytes, &t->arena));
    t->arena_rows = rows;
  }
  kz_arena_reset(t->arena);
  KZ_TRY(carve(model, t->arena, rows, acts));
  return carve_batch(t, t->arena, rows, tb);
}

kz_status kz_nn_tab_numeric(kz_nn_tab *t, const kz_shard_batch *b, kz_nn_tab_batch *tb,
                            kz_tensor *x) {
  const int64_t rows = b->rows;
  if (t->n_num == 0) return KZ_OK;
  kz_tensor v = kz_tensor_view(kz_batch_f32(b, t->f_num, 0), KZ_F32, t->device, 2, rows, t->n_num);
  if (!on_cpu(t)) {
    /* the batch is host memory: the numeric block goes up first */
    v = kz_tensor_view(tb->numeric.data, KZ_F32, t->device, 2, rows, t->n_num);
    KZ_TRY(kz_copy_to_device(t->stream, v.data, kz_batch_f32(b, t->f_num, 0),
                             (size_t)(rows * t->n_num) * sizeof(float)));
  }
  kz_tensor mean = kz_tensor_view(t->d_mean.data, KZ_U8, t->device, 1, 8 * t->n_num);
  kz_tensor sd = kz_tensor_view(t->d_std.data, KZ_U8, t->device, 1, 8 * t->n_num);
  kz_tensor miss = kz_tensor_view(t->d_miss.data, KZ_I32, t->device, 1, t->n_num);
  return kz_op_standardize(t->stream, &v, &mean, &sd, &miss, x, KZ_NN_INF_Z);
}

kz_status kz_nn_tab_ids(kz_nn_tab *t, const kz_shard_batch *b, kz_nn_tab_batch *tb) {
  const int64_t rows = b->rows;
  if (t->n_cat == 0) return KZ_OK;
  const size_t bytes = (size_t)(t->n_cat * rows) * sizeof(int32_t);
  int32_t *ids = host_side(t, &tb->ids, bytes);
  if (!ids) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", t->who);
  for (int64_t j = 0; j < t->n_cat; j++) {
    int32_t card = t->cat_card[j];
    for (int64_t r = 0; r < rows; r++) {
      int32_t c = kz_batch_i32(b, t->f_cat, r)[j];
      ids[j * rows + r] = c >= 0 && c < card ? c : card; /* missing and unseen share the last row */
    }
  }
  return put(t, &tb->ids, ids, bytes);
}

kz_tensor kz_nn_tab_ids_col(const kz_nn_tab *t, const kz_nn_tab_batch *tb, int64_t j) {
  return kz_tensor_view((int32_t *)tb->ids.data + j * tb->rows, KZ_I32, t->device, 1, tb->rows);
}

kz_status kz_nn_tab_targets(kz_nn_tab *t, const kz_shard_batch *b, kz_nn_tab_batch *tb) {
  int64_t n = 0;
  kz_tensor *x = t->classification ? &tb->targets : &tb->ystd;
  void *h = host_side(t, x, (size_t)b->rows * 4);
  if (!h) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", t->who);
  for (int64_t r = 0; r < b->rows; r++) {
    if (t->classification) {
      int32_t c = *kz_batch_i32(b, t->f_label, r);
      int ok = c >= 0 && c < t->n_out;
      ((int32_t *)h)[r] = ok ? c : -1;
      n += ok;
    } else {
      float y = *kz_batch_f32(b, t->f_label, r);
      ((float *)h)[r] = isnan(y) ? NAN : (float)(((double)y - t->label_mean) / t->label_std);
      n += !isnan(y);
    }
  }
  tb->valid = n;
  return put(t, x, h, (size_t)b->rows * 4);
}

/* The regression output [rows, 1] as [rows], the shape of ystd. */
static kz_tensor column(const kz_tensor *x, int64_t rows) {
  return kz_tensor_view(x->data, KZ_F32, x->device, 1, rows);
}

kz_status kz_nn_tab_loss(kz_nn_tab *t, kz_nn_tab_batch *tb, const kz_tensor *logits, double *loss) {
  const int64_t rows = tb->rows;
  if (t->classification) {
    KZ_TRY(kz_op_cross_entropy(t->stream, logits, &tb->targets, &tb->losses, -1));
  } else {
    kz_tensor p = column(logits, rows);
    KZ_TRY(kz_op_mse(t->stream, &p, &tb->ystd, &tb->losses));
  }
  const float *ls = NULL;
  KZ_TRY(get(t, &tb->losses, (size_t)rows * 4, (const void **)&ls));
  double sum = 0;
  for (int64_t r = 0; r < rows; r++) sum += ls[r];
  *loss = tb->valid > 0 ? sum / (double)tb->valid : 0.0;
  return KZ_OK;
}

kz_status kz_nn_tab_loss_bwd(kz_nn_tab *t, kz_nn_tab_batch *tb, const kz_tensor *logits,
                             double weight, kz_tensor *dlogits) {
  const int64_t rows = tb->rows;
  double scale = tb->valid > 0 ? weight / (double)tb->valid : 0.0;
  if (!t->classification) {
    kz_tensor p = column(logits, rows), d = column(dlogits, rows);
    return kz_op_mse_bwd(t->stream, &p, &tb->ystd, &d, scale, false);
  }
  float *dl = host_side(t, &tb->dloss, (size_t)rows * 4);
  if (!dl) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", t->who);
  for (int64_t r = 0; r < rows; r++) dl[r] = (float)scale;
  KZ_TRY(put(t, &tb->dloss, dl, (size_t)rows * 4));
  return kz_op_cross_entropy_bwd(t->stream, logits, &tb->targets, &tb->dloss, dlogits, -1, false);
}

kz_status kz_nn_tab_eval(kz_nn_tab *t, const kz_shard_batch *b, const kz_tensor *logits,
                         kz_nn_eval *acc) {
  const int64_t k = t->n_out;
  const float *z = NULL;
  KZ_TRY(get(t, logits, (size_t)(b->rows * k) * sizeof(float), (const void **)&z));
  double *zr = NULL;
  if (t->classification && !(zr = malloc(sizeof(double) * (size_t)k)))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", t->who);
  for (int64_t r = 0; r < b->rows; r++) {
    if (t->classification) {
      int32_t c = *kz_batch_i32(b, t->f_label, r);
      if (c < 0 || c >= k) continue;
      for (int64_t i = 0; i < k; i++) zr[i] = z[r * k + i];
      kz_metric_add_logits(acc, (int)k, zr, c);
    } else {
      float y = *kz_batch_f32(b, t->f_label, r);
      if (isnan(y)) continue;
      kz_metric_add_value(acc, (double)z[r] * t->label_std + t->label_mean, (double)y);
    }
  }
  free(zr);
  return KZ_OK;
}

kz_status kz_nn_tab_predict(kz_nn_tab *t, const kz_shard_batch *b, const kz_tensor *logits,
                            float *out) {
  const int64_t k = t->n_out;
  const float *z = NULL;
  KZ_TRY(get(t, logits, (size_t)(b->rows * k) * sizeof(float), (const void **)&z));
  for (int64_t r = 0; r < b->rows; r++) {
    if (!t->classification) {
      out[r] = (float)((double)z[r] * t->label_std + t->label_mean);
      continue;
    }
    const float *zr = z + r * k;
    double mx = zr[0], s = 0;
    for (int64_t c = 1; c < k; c++) mx = zr[c] > mx ? zr[c] : mx;
    for (int64_t c = 0; c < k; c++) s += exp((double)zr[c] - mx);
    for (int64_t c = 0; c < k; c++) out[r * k + c] = (float)(exp((double)zr[c] - mx) / s);
  }
  return KZ_OK;
}

kz_status kz_nn_tab_stats(kz_nn_tab *t, kz_dataset *train, double *mean, double *std,
                          int64_t *miss_count) {
  const char *where = kz_dataset_path(train);
  size_t nn = (size_t)(t->n_num ? t->n_num : 1);
  double *m2 = calloc(nn, sizeof(double));
  int64_t *cnt = calloc(nn, sizeof(int64_t)), *miss = calloc(nn, sizeof(int64_t));
  kz_shard_batch b;
  memset(&b, 0, sizeof(b));
  kz_status st = KZ_OK;
  if (!m2 || !cnt || !miss) {
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: statistics", t->who);
    goto done;
  }
  for (int64_t i = 0; i < t->n_num; i++) mean[i] = 0.0;
  const int64_t chunk = 8192, rows = kz_dataset_rows(train);
  if (rows < 1) {
    st = kz_fail(KZ_ERR_INVALID_ARG, "%s: %s: the training data has no rows", t->who, where);
    goto done;
  }
  if ((st = kz_shard_batch_alloc(kz_dataset_schema(train), chunk, &b)) != KZ_OK) goto done;
  double lmean = 0, lm2 = 0;
  int64_t lcnt = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    int64_t n = rows - r0 < chunk ? rows - r0 : chunk;
    kz_shard_batch_clear(&b);
    if ((st = kz_dataset_read_range(train, r0, n, &b, 0)) != KZ_OK) goto done;
    for (int64_t r = 0; r < n; r++) {
      if (t->f_num >= 0) {
        const float *x = kz_batch_f32(&b, t->f_num, r);
        for (int64_t i = 0; i < t->n_num; i++) {
          if (isnan(x[i])) {
            miss[i]++;
            continue;
          }
          if (isinf(x[i])) continue; /* a value, but no statistic (KZ_NN_INF_Z) */
          double d = (double)x[i] - mean[i];
          mean[i] += d / (double)++cnt[i];
          m2[i] += d * ((double)x[i] - mean[i]);
        }
      }
      if (!t->classification) {
        float y = *kz_batch_f32(&b, t->f_label, r);
        if (isnan(y)) continue;
        double d = (double)y - lmean;
        lmean += d / (double)++lcnt;
        lm2 += d * ((double)y - lmean);
      }
    }
  }
  for (int64_t i = 0; i < t->n_num; i++) {
    double sd = cnt[i] > 0 ? sqrt(m2[i] / (double)cnt[i]) : 0.0;
    std[i] = sd > 1e-12 ? sd : 1.0;
    if (miss_count) miss_count[i] = miss[i];
  }
  t->label_mean = 0.0;
  t->label_std = 1.0;
  if (!t->classification) {
    if (lcnt == 0) {
      st = kz_fail(KZ_ERR_INVALID_ARG, "%s: %s: every label is missing", t->who, where);
      goto done;
    }
    double sd = sqrt(lm2 / (double)lcnt);
    t->label_mean = lmean;
    t->label_std = sd > 1e-12 ? sd : 1.0;
  }
done:
  kz_shard_batch_free(&b);
  free(m2);
  free(cnt);
  free(miss);
  return st;
}
