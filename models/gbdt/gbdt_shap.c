/* Path-dependent TreeSHAP (Lundberg et al. 2018, algorithm 2), in double.
 *
 * Walking down a tree we keep the "unique path": one entry per distinct
 * feature split on so far, with the fraction of the conditional expectation
 * that flows down this branch when the feature is unknown (zero) or known
 * (one: 1 on the branch the row takes, 0 on the other), and per subset size
 * the summed Shapley permutation weights of the subsets that reach here.
 * At a leaf, un-extending the path by one feature gives that feature's
 * weight, so each leaf adds (one - zero) * weight * value per path feature.
 * A feature split on twice is first removed from the path (unwound) and
 * re-added with the product of its fractions. */
#include "models/gbdt/gbdt_shap.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/gbdt_json.h"

typedef struct path_elem {
  int32_t feature;
  double zero, one; /* fraction flowing here with the feature unknown / known */
  double w;         /* permutation weight */
} path_elem;

double kz_gbdt_cover_fraction(const kz_gbdt_tree *t, int32_t node, int32_t child) {
  double c = t->cover[node];
  return c > 0 ? t->cover[child] / c : 0.5;
}

static int cat_in_set(const int32_t *v, int32_t n, int32_t code) {
  int32_t lo = 0, hi = n;
  while (lo < hi) {
    int32_t mid = lo + (hi - lo) / 2;
    if (v[mid] < code)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && v[lo] == code;
}

int32_t kz_gbdt_node_next(const kz_gbdt_model *m, const kz_gbdt_tree *t, int32_t node,
                          const float *num_row, const int32_t *cat_row) {
  int32_t f = t->feature[node];
  if (f < m->n_numeric) {
    float x = num_row[f];
    if (isnan(x)) return t->default_left[node] ? t->left[node] : t->right[node];
    return x < t->threshold[node] ? t->left[node] : t->right[node];
  }
  int32_t code = cat_row[f - m->n_numeric];
  if (code < 0) return t->default_left[node] ? t->left[node] : t->right[node];
  const int32_t *set = t->cat_values + t->cat_begin[node];
  return cat_in_set(set, t->cat_count[node], code) ? t->right[node] : t->left[node];
}

/* Appends a feature to a path of d entries (indices 0..d-1). */
static void extend(path_elem *p, int d, double zero, double one, int32_t feature) {
  p[d].feature = feature;
  p[d].zero = zero;
  p[d].one = one;
  p[d].w = d == 0 ? 1.0 : 0.0;
  for (int i = d - 1; i >= 0; --i) {
    p[i + 1].w += one * p[i].w * (i + 1) / (double)(d + 1);
    p[i].w = zero * p[i].w * (d - i) / (double)(d + 1);
  }
}

/* Removes entry i from a path whose last index is d (the inverse of extend). */
static void unwind(path_elem *p, int d, int i) {
  double one = p[i].one, zero = p[i].zero, next = p[d].w;
  for (int j = d - 1; j >= 0; --j) {
    if (one != 0) {
      double tmp = p[j].w;
      p[j].w = next * (d + 1) / ((j + 1) * one);
      next = tmp - p[j].w * zero * (d - j) / (double)(d + 1);
    } else {
      p[j].w = p[j].w * (d + 1) / (zero * (d - j));
    }
  }
  for (int j = i; j < d; ++j) {
    p[j].feature = p[j + 1].feature;
    p[j].zero = p[j + 1].zero;
    p[j].one = p[j + 1].one;
  }
}

/* The total weight the path would have without entry i (last index d). */
static double unwound_sum(const path_elem *p, int d, int i) {
  double one = p[i].one, zero = p[i].zero, next = p[d].w, total = 0;
  for (int j = d - 1; j >= 0; --j) {
    if (one != 0) {
      double tmp = next * (d + 1) / ((j + 1) * one);
      total += tmp;
      next = p[j].w - tmp * zero * (d - j) / (double)(d + 1);
    } else {
      total += p[j].w * (d + 1) / (zero * (d - j));
    }
  }
  return total;
}

typedef struct shap_ctx {
  const kz_gbdt_model *m;
  const kz_gbdt_tree *t;
  const float *num;
  const int32_t *cat;
  double *phi;
} shap_ctx;

/* parent: the parent's path of `d` entries; this call's path starts right
 * after it (each depth has its own copy, so siblings do not interfere). */
static void recurse(const shap_ctx *c, int32_t node, path_elem *parent, int d, double zero,
                    double one, int32_t feature) {
  const kz_gbdt_tree *t = c->t;
  path_elem *p = parent + d;
  if (d > 0) memcpy(p, parent, (size_t)d * sizeof *p);
  extend(p, d, zero, one, feature);
  if (t->left[node] < 0) {
    for (int i = 1; i <= d; ++i) {
      double w = unwound_sum(p, d, i);
      c->phi[p[i].feature] += w * (p[i].one - p[i].zero) * t->leaf_value[node];
    }
    return;
  }
  int32_t f = t->feature[node];
  int32_t hot = kz_gbdt_node_next(c->m, t, node, c->num, c->cat);
  int32_t cold = hot == t->left[node] ? t->right[node] : t->left[node];
  double in_zero = 1, in_one = 1;
  for (int k = 1; k <= d; ++k)
    if (p[k].feature == f) {
      in_zero = p[k].zero;
      in_one = p[k].one;
      unwind(p, d, k);
      --d;
      break;
    }
  double hot_zero = kz_gbdt_cover_fraction(t, node, hot) * in_zero;
  double cold_zero = kz_gbdt_cover_fraction(t, node, cold) * in_zero;
  recurse(c, hot, p, d + 1, hot_zero, in_one, f);
  /* A branch no subset can reach (zero and one both 0) adds nothing, and
   * would divide by zero in unwound_sum. */
  if (cold_zero != 0) recurse(c, cold, p, d + 1, cold_zero, 0, f);
}

/* E[f] under the same branch weights (the tree's part of the bias) and the
 * depth, without recursion: children come after their parent in breadth-first
 * order, so walking that order backwards finishes both children before their
 * parent and each node computes exactly what the recursive definition
 * cover_l * E(l) + cover_r * E(r) does. `order` and `ev`/`dep` are scratch of
 * n_nodes entries. */
static void tree_summary(const kz_gbdt_tree *t, int32_t *order, double *ev, int32_t *dep,
                         double *expected, int *depth) {
  int32_t head = 0, tail = 0;
  order[tail++] = 0;
  while (head < tail) {
    int32_t v = order[head++];
    if (t->left[v] < 0) continue;
    order[tail++] = t->left[v];
    order[tail++] = t->right[v];
  }
  for (int32_t k = tail - 1; k >= 0; --k) {
    int32_t v = order[k], l = t->left[v], r = t->right[v];
    if (l < 0) {
      ev[v] = t->leaf_value[v];
      dep[v] = 0;
      continue;
    }
    ev[v] = kz_gbdt_cover_fraction(t, v, l) * ev[l] + kz_gbdt_cover_fraction(t, v, r) * ev[r];
    dep[v] = 1 + (dep[l] > dep[r] ? dep[l] : dep[r]);
  }
  *expected = ev[0];
  *depth = dep[0];
}

kz_status kz_gbdt_shap(const kz_gbdt_model *m, int64_t n, const float *num, const int32_t *cat,
                       int nthread, double *out) {
  if (n < 0 || !out || (n > 0 && m && m->n_numeric > 0 && !num) ||
      (n > 0 && m && m->n_categorical > 0 && !cat))
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_gbdt_shap: missing rows or output");
  KZ_TRY(kz_gbdt_model_validate(m, "gbdt shap"));
  int32_t nf = m->n_numeric + m->n_categorical, G = m->num_group;
  int64_t stride = nf + 1;
  int max_depth = 0;
  int32_t most = 1;
  for (int32_t i = 0; i < m->n_trees; ++i)
    if (m->trees[i].n_nodes > most) most = m->trees[i].n_nodes;
  double *bias = calloc((size_t)G, sizeof *bias), *ev = malloc((size_t)most * sizeof *ev);
  int32_t *order = malloc((size_t)most * sizeof *order), *dep = malloc((size_t)most * sizeof *dep);
  if (!bias || !ev || !order || !dep) {
    free(bias), free(ev), free(order), free(dep);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "kz_gbdt_shap: out of memory");
  }
  for (int g = 0; g < G; ++g) bias[g] = m->base_score[g];
  /* Validation bounds the depth (KZ_GBDT_MAX_DEPTH), which bounds the
   * recursion below and the path of (depth + 2)(depth + 3) / 2 entries. */
  for (int32_t i = 0; i < m->n_trees; ++i) {
    double e;
    int d;
    tree_summary(&m->trees[i], order, ev, dep, &e, &d);
    if (d > max_depth) max_depth = d;
    bias[m->tree_group[i]] += e;
  }
  free(ev), free(order), free(dep);
  /* Paths of 1, 2, ..., max_depth + 1 entries, one per level. */
  size_t path_len = (size_t)(max_depth + 2) * (size_t)(max_depth + 3) / 2;
  int failed = 0;
  if (nthread <= 0) nthread = omp_get_max_threads();
#pragma omp parallel num_threads(nthread)
  {
    path_elem *path = malloc(path_len * sizeof *path);
    if (!path) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 16)
    for (int64_t r = 0; r < n; ++r) {
      if (!path) continue;
      double *row_out = out + r * G * stride;
      memset(row_out, 0, (size_t)(G * stride) * sizeof *row_out);
      for (int g = 0; g < G; ++g) row_out[g * stride + nf] = bias[g];
      shap_ctx c = {m, NULL, num ? num + r * m->n_numeric : NULL,
                    cat ? cat + r * m->n_categorical : NULL, NULL};
      for (int32_t i = 0; i < m->n_trees; ++i) {
        c.t = &m->trees[i];
        c.phi = row_out + m->tree_group[i] * stride;
        recurse(&c, 0, path, 0, 1, 1, -1);
      }
    }
    free(path);
  }
  free(bias);
  if (failed) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "kz_gbdt_shap: out of memory");
  return KZ_OK;
}
