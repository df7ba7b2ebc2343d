/* Prediction with a trained ensemble (gbdt_model.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/gbdt/gbdt_model.h"
#include "models/gbdt/rng.h"
#include "models/gbdt/tree_build.h"

void kz_gbdt_model_free(kz_gbdt_model *m) {
  if (!m) return;
  int nf = m->n_numeric + m->n_categorical;
  if (m->feature_names)
    for (int i = 0; i < nf; ++i) free(m->feature_names[i]);
  free(m->feature_names);
  int n_classes = m->objective == KZ_GBDT_BINARY_LOGISTIC ? 2 : m->num_group;
  if (m->class_names)
    for (int i = 0; i < n_classes; ++i) free(m->class_names[i]);
  free(m->class_names);
  free(m->n_categories);
  free(m->label_name);
  for (int i = 0; i < m->n_trees; ++i) kz_gbdt_tree_free(&m->trees[i]);
  free(m->trees);
  free(m->tree_group);
  free(m);
}

static int in_set(const int32_t *v, int32_t n, int32_t code) {
  int32_t lo = 0, hi = n;
  while (lo < hi) {
    int32_t mid = (lo + hi) / 2;
    if (v[mid] < code)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && v[lo] == code;
}

double kz_gbdt_tree_predict_row(const kz_gbdt_tree *t, const float *num, const int32_t *cat,
                                int n_numeric) {
  int32_t id = 0;
  while (t->left[id] >= 0) {
    int f = t->feature[id];
    int left;
    if (f < n_numeric) {
      float x = num[f];
      left = isnan(x) ? t->default_left[id] : x < t->threshold[id];
    } else {
      int32_t c = cat[f - n_numeric];
      left = c < 0 ? t->default_left[id]
                   : !in_set(t->cat_values + t->cat_begin[id], t->cat_count[id], c);
    }
    id = left ? t->left[id] : t->right[id];
  }
  return t->leaf_value[id];
}

/* Prediction walks a packed copy of the trees: one 16-byte record per node
 * (the model's per-field arrays would touch four cache lines per node), and
 * rows go in blocks so a tree stays in cache while the block walks it. */
typedef struct packed_node {
  int32_t feature; /* -1: leaf */
  float value;     /* threshold, or the leaf value */
  int32_t left;    /* absolute index; right = left + right_off */
  int16_t right_off;
  uint8_t default_left, is_cat;
} packed_node;

#define KZ_GBDT_PREDICT_BLOCK 128

/* Children far apart (right_off overflow) keep the plain walk. */
static int pack_trees(const kz_gbdt_model *m, packed_node **out, int64_t **first) {
  int64_t total = 0;
  for (int i = 0; i < m->n_trees; ++i) total += m->trees[i].n_nodes;
  packed_node *pn = malloc(sizeof(packed_node) * (size_t)(total > 0 ? total : 1));
  int64_t *fi = malloc(sizeof(int64_t) * (size_t)(m->n_trees + 1));
  if (!pn || !fi) {
    free(pn);
    free(fi);
    return 0;
  }
  int64_t o = 0;
  for (int i = 0; i < m->n_trees; ++i) {
    const kz_gbdt_tree *t = &m->trees[i];
    fi[i] = o;
    for (int32_t k = 0; k < t->n_nodes; ++k) {
      packed_node *q = &pn[o + k];
      q->feature = t->left[k] >= 0 ? t->feature[k] : -1;
      q->default_left = t->default_left[k];
      q->is_cat = t->is_categorical[k];
      if (q->feature < 0 || q->is_cat) {
        q->value = q->feature < 0 ? t->leaf_value[k] : 0.0f;
        q->left = k; /* categorical nodes defer to the model's arrays */
        q->right_off = 0;
        continue;
      }
      int32_t off = t->right[k] - t->left[k];
      if (off < INT16_MIN || off > INT16_MAX) {
        free(pn);
        free(fi);
        return 0;
      }
      q->value = t->threshold[k];
      q->left = t->left[k];
      q->right_off = (int16_t)off;
    }
    o += t->n_nodes;
  }
  fi[m->n_trees] = o;
  *out = pn;
  *first = fi;
  return 1;
}

/* One step down from node id for a row; -1 when id is a leaf. */
static inline int32_t step_packed(const packed_node *nodes, const kz_gbdt_tree *t, int32_t id,
                                  const float *num, const int32_t *cat, int n_numeric) {
  const packed_node *q = &nodes[id];
  if (q->feature < 0) return -1;
  if (!q->is_cat) {
    /* branch-free: NaN compares false, so it goes right unless default_left */
    float x = num[q->feature];
    int right = (x >= q->value) | ((x != x) & !q->default_left);
    return q->left + right * q->right_off;
  }
  int32_t c = cat[q->feature - n_numeric];
  int left =
      c < 0 ? q->default_left : !in_set(t->cat_values + t->cat_begin[id], t->cat_count[id], c);
  return left ? t->left[id] : t->right[id];
}

/* Walks KZ_GBDT_PREDICT_LANES rows through one tree together: their node
 * loads are independent, so the memory latency of one row hides another's. */
#define KZ_GBDT_PREDICT_LANES 8

static void walk_lanes(const packed_node *nodes, const kz_gbdt_tree *t, int64_t r0, int lanes,
                       const float *num, const int32_t *cat, int nn, int nc, double *acc) {
  int32_t id[KZ_GBDT_PREDICT_LANES];
  int done[KZ_GBDT_PREDICT_LANES];
  for (int j = 0; j < lanes; ++j) id[j] = 0, done[j] = 0;
  int active = lanes;
  while (active > 0) {
    for (int j = 0; j < lanes; ++j) {
      if (done[j]) continue;
      int64_t r = r0 + j;
      int32_t next =
          step_packed(nodes, t, id[j], nn ? num + r * nn : NULL, nc ? cat + r * nc : NULL, nn);
      if (next < 0) {
        done[j] = 1;
        --active;
        acc[j] += nodes[id[j]].value;
      } else {
        id[j] = next;
      }
    }
  }
}

kz_status kz_gbdt_predict_margin(const kz_gbdt_model *m, int64_t n, const float *num,
                                 const int32_t *cat, int nthread, double *out) {
  if (n < 0 || (n > 0 && ((m->n_numeric > 0 && !num) || (m->n_categorical > 0 && !cat))))
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt predict: missing feature values");
  int K = m->num_group, nn = m->n_numeric, nc = m->n_categorical;
  for (int i = 0; i < m->n_trees; ++i)
    if (m->tree_group[i] < 0 || m->tree_group[i] >= K)
      return kz_fail(KZ_ERR_FORMAT, "gbdt predict: tree %d has group %d of %d", i, m->tree_group[i],
                     K);
  int threads = kz_gbdt_threads(nthread);
  packed_node *pn = NULL;
  int64_t *first = NULL;
  int packed = pack_trees(m, &pn, &first);
  int64_t blocks = (n + KZ_GBDT_PREDICT_BLOCK - 1) / KZ_GBDT_PREDICT_BLOCK;
#pragma omp parallel for schedule(static) num_threads(threads) if (n >= KZ_GBDT_PARALLEL_MIN_ROWS)
  for (int64_t bl = 0; bl < blocks; ++bl) {
    int64_t r0 = bl * KZ_GBDT_PREDICT_BLOCK, r1 = r0 + KZ_GBDT_PREDICT_BLOCK;
    if (r1 > n) r1 = n;
    for (int64_t r = r0; r < r1; ++r)
      for (int k = 0; k < K; ++k) out[r * K + k] = m->base_score[k];
    for (int i = 0; i < m->n_trees; ++i) {
      const kz_gbdt_tree *t = &m->trees[i];
      int g = m->tree_group[i];
      for (int64_t r = r0; r < r1; r += KZ_GBDT_PREDICT_LANES) {
        int lanes = (int)(r1 - r < KZ_GBDT_PREDICT_LANES ? r1 - r : KZ_GBDT_PREDICT_LANES);
        double acc[KZ_GBDT_PREDICT_LANES] = {0};
        if (packed) {
          walk_lanes(pn + first[i], t, r, lanes, num, cat, nn, nc, acc);
        } else {
          for (int j = 0; j < lanes; ++j)
            acc[j] = kz_gbdt_tree_predict_row(t, nn ? num + (r + j) * nn : NULL,
                                              nc ? cat + (r + j) * nc : NULL, nn);
        }
        for (int j = 0; j < lanes; ++j) out[(r + j) * K + g] += acc[j];
      }
    }
  }
  free(pn);
  free(first);
  return KZ_OK;
}

void kz_gbdt_transform(const kz_gbdt_model *m, int64_t n, double *x) {
  int K = m->num_group;
  for (int64_t r = 0; r < n; ++r) {
    double *o = x + r * K;
    switch (m->objective) {
    case KZ_GBDT_BINARY_LOGISTIC:
      o[0] = 1.0 / (1.0 + exp(-o[0]));
      break;
    case KZ_GBDT_COUNT_POISSON:
      o[0] = exp(o[0]);
      break;
    case KZ_GBDT_MULTI_SOFTPROB: {
      double mx = o[0], s = 0;
      for (int k = 1; k < K; ++k) mx = fmax(mx, o[k]);
      for (int k = 0; k < K; ++k) s += (o[k] = exp(o[k] - mx));
      for (int k = 0; k < K; ++k) o[k] /= s;
      break;
    }
    default:
      break;
    }
  }
}
