/* Prediction on a CUDA device (booster_gpu.h): the model's trees flattened
 * into the predict kernel's arrays (kz_gbdt_dev_forest), uploaded once, then
 * the rows in chunks so device memory stays bounded whatever n is. */
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/booster_gpu.h"

/* Rows per kernel call: 1M rows of 64 features are 256 MB of input. */
#define KZ_GBDT_GPU_PREDICT_CHUNK ((int64_t)1 << 20)

/* The host side of the forest's arrays. */
typedef struct flat_forest {
  int32_t n_trees, n_nodes;
  int32_t *tree_offset, *tree_group, *feature, *left, *right;
  float *threshold, *leaf_value;
  uint8_t *default_left;
} flat_forest;

static void flat_free(flat_forest *f) {
  free(f->tree_offset);
  free(f->tree_group);
  free(f->feature);
  free(f->left);
  free(f->right);
  free(f->threshold);
  free(f->leaf_value);
  free(f->default_left);
  memset(f, 0, sizeof *f);
}

static kz_status flatten(const kz_gbdt_model *m, flat_forest *f) {
  memset(f, 0, sizeof *f);
  int64_t total = 0;
  for (int t = 0; t < m->n_trees; ++t) {
    const kz_gbdt_tree *tr = &m->trees[t];
    for (int32_t i = 0; i < tr->n_nodes; ++i)
      if (tr->left[i] >= 0 && tr->is_categorical[i])
        return kz_fail(KZ_ERR_UNSUPPORTED,
                       "gbdt predict on cuda: tree %d node %d splits on categorical feature %d; "
                       "models with categorical splits predict on the CPU (--device cpu)",
                       t, i, tr->feature[i]);
    total += tr->n_nodes;
  }
  if (total > INT32_MAX)
    return kz_fail(KZ_ERR_UNSUPPORTED, "gbdt predict on cuda: %lld nodes exceed the int32 limit",
                   (long long)total);
  size_t nn = (size_t)(total > 0 ? total : 1), nt = (size_t)(m->n_trees > 0 ? m->n_trees : 1);
  f->n_trees = m->n_trees;
  f->n_nodes = (int32_t)total;
  f->tree_offset = malloc(sizeof(int32_t) * (nt + 1));
  f->tree_group = malloc(sizeof(int32_t) * nt);
  f->feature = malloc(sizeof(int32_t) * nn);
  f->left = malloc(sizeof(int32_t) * nn);
  f->right = malloc(sizeof(int32_t) * nn);
  f->threshold = malloc(sizeof(float) * nn);
  f->leaf_value = malloc(sizeof(float) * nn);
  f->default_left = malloc(nn);
  if (!f->tree_offset || !f->tree_group || !f->feature || !f->left || !f->right || !f->threshold ||
      !f->leaf_value || !f->default_left) {
    flat_free(f);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt predict on cuda: out of memory");
  }
  int32_t o = 0;
  for (int t = 0; t < m->n_trees; ++t) {
    const kz_gbdt_tree *tr = &m->trees[t];
    f->tree_offset[t] = o;
    f->tree_group[t] = m->tree_group[t];
    /* children stay tree-local indices, as the kernel expects */
    memcpy(f->feature + o, tr->feature, sizeof(int32_t) * (size_t)tr->n_nodes);
    memcpy(f->left + o, tr->left, sizeof(int32_t) * (size_t)tr->n_nodes);
    memcpy(f->right + o, tr->right, sizeof(int32_t) * (size_t)tr->n_nodes);
    memcpy(f->threshold + o, tr->threshold, sizeof(float) * (size_t)tr->n_nodes);
    memcpy(f->leaf_value + o, tr->leaf_value, sizeof(float) * (size_t)tr->n_nodes);
    memcpy(f->default_left + o, tr->default_left, (size_t)tr->n_nodes);
    for (int32_t i = 0; i < tr->n_nodes; ++i)
      if (tr->left[i] < 0) f->feature[o + i] = -1;
    o += tr->n_nodes;
  }
  f->tree_offset[m->n_trees] = o;
  return KZ_OK;
}

/* Device copies of the forest and the work buffers, freed together. */
typedef struct dev_set {
  void *p[12];
  int n;
  kz_device device;
} dev_set;

static kz_status dev_put(kz_stream *s, dev_set *d, const void *host, size_t bytes, void **out) {
  void *p = NULL;
  kz_status st = kz_device_alloc(d->device, bytes ? bytes : 8, &p);
  if (st != KZ_OK)
    return kz_fail_context(st, "gbdt predict on cuda: device memory (%zu bytes)", bytes);
  d->p[d->n++] = p;
  if (host && bytes) KZ_TRY(kz_copy_to_device(s, p, host, bytes));
  *out = p;
  return KZ_OK;
}

static void dev_set_free(dev_set *d) {
  for (int i = 0; i < d->n; ++i) kz_device_free(d->device, d->p[i]);
  d->n = 0;
}

kz_status kz_gbdt_predict_margin_gpu(const kz_gbdt_model *m, int64_t n, const float *num,
                                     const int32_t *cat, const kz_gbdt_gpu_options *o,
                                     double *out) {
  (void)cat; /* categorical splits are refused in flatten */
  KZ_TRY(kz_gbdt_gpu_check_device(o));
  if (n < 0) return kz_fail(KZ_ERR_INVALID_ARG, "gbdt predict on cuda: n = %lld", (long long)n);
  if (m->num_group < 1 || m->num_group > 256)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt predict on cuda: num_group %d is not in 1..256",
                   m->num_group);
  for (int t = 0; t < m->n_trees; ++t)
    if (m->tree_group[t] < 0 || m->tree_group[t] >= m->num_group)
      return kz_fail(KZ_ERR_FORMAT, "gbdt predict on cuda: tree %d has group %d of %d", t,
                     m->tree_group[t], m->num_group);
  flat_forest f;
  KZ_TRY(flatten(m, &f));
  const kz_gbdt_gpu_kernels *kz = o->kernels ? o->kernels : kz_gbdt_gpu_cuda_kernels();
  const int K = m->num_group, nf = m->n_numeric;
  const int64_t chunk = n < KZ_GBDT_GPU_PREDICT_CHUNK ? n : KZ_GBDT_GPU_PREDICT_CHUNK;
  kz_stream *s = NULL;
  dev_set d = {.n = 0, .device = o->device};
  kz_gbdt_dev_forest df = {f.n_trees, K, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  float *d_x = NULL;
  double *d_out = NULL;
  size_t nn = (size_t)f.n_nodes;
  kz_status st = kz_stream_create(o->device, &s);
  if (st == KZ_OK)
    st = dev_put(s, &d, f.tree_offset, sizeof(int32_t) * ((size_t)f.n_trees + 1),
                 (void **)&df.tree_offset);
  if (st == KZ_OK)
    st = dev_put(s, &d, f.tree_group, sizeof(int32_t) * (size_t)f.n_trees, (void **)&df.tree_group);
  if (st == KZ_OK) st = dev_put(s, &d, f.feature, sizeof(int32_t) * nn, (void **)&df.feature);
  if (st == KZ_OK) st = dev_put(s, &d, f.threshold, sizeof(float) * nn, (void **)&df.threshold);
  if (st == KZ_OK) st = dev_put(s, &d, f.left, sizeof(int32_t) * nn, (void **)&df.left);
  if (st == KZ_OK) st = dev_put(s, &d, f.right, sizeof(int32_t) * nn, (void **)&df.right);
  if (st == KZ_OK) st = dev_put(s, &d, f.default_left, nn, (void **)&df.default_left);
  if (st == KZ_OK) st = dev_put(s, &d, f.leaf_value, sizeof(float) * nn, (void **)&df.leaf_value);
  if (st == KZ_OK)
    st = dev_put(s, &d, m->base_score, sizeof(double) * (size_t)K, (void **)&df.base_score);
  if (st == KZ_OK)
    st = dev_put(s, &d, NULL, sizeof(float) * (size_t)chunk * (size_t)nf, (void **)&d_x);
  if (st == KZ_OK)
    st = dev_put(s, &d, NULL, sizeof(double) * (size_t)chunk * (size_t)K, (void **)&d_out);
  for (int64_t r0 = 0; st == KZ_OK && r0 < n; r0 += chunk) {
    int64_t cn = n - r0 < chunk ? n - r0 : chunk;
    if (nf > 0)
      st = kz_copy_to_device(s, d_x, num + r0 * nf, sizeof(float) * (size_t)cn * (size_t)nf);
    if (st == KZ_OK) st = kz->predict(s, &df, d_x, cn, nf, d_out);
    if (st == KZ_OK)
      st = kz_copy_to_host(s, out + r0 * K, d_out, sizeof(double) * (size_t)cn * (size_t)K);
    /* the next chunk overwrites d_x and d_out */
    if (st == KZ_OK) st = kz_stream_sync(s);
  }
  /* Nothing may still run on memory freed below. */
  if (s) kz_stream_sync(s);
  dev_set_free(&d);
  if (s) kz_stream_destroy(s);
  flat_free(&f);
  return st;
}
