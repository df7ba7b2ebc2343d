/* The refresh updater (refresh.h). */
#include "models/gbdt/refresh.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/booster_common.h"
#include "models/gbdt/gbdt_rounds.h"
#include "models/gbdt/objective.h"
#include "models/gbdt/rng.h"
#include "models/gbdt/split.h"
#include "models/gbdt/tree_build.h"

struct kz_gbdt_refresher {
  kz_gbdt_run run; /* margins, the refreshed trees, metrics, rounds */
  kz_gbdt_params p;
  kz_gbdt_split_params sp;
  kz_gbdt_model *init; /* the trees being refreshed; round r takes trees r*K .. r*K+K-1 */
  kz_gbdt_gh *gh;      /* [K x n] */
  int32_t *leaf;       /* [n] the leaf each training row reaches in the current tree */
  int32_t *by_leaf;    /* [n] rows grouped by leaf (residual refits) */
  double *resid;       /* [n] */
};

void kz_gbdt_refresher_free(kz_gbdt_refresher *r) {
  if (!r) return;
  kz_gbdt_model_free(r->init);
  kz_gbdt_model_free(r->run.model);
  free(r->run.margin);
  free(r->run.vmargin);
  free(r->gh);
  free(r->leaf);
  free(r->by_leaf);
  free(r->resid);
  free(r);
}

static kz_status create(kz_gbdt_refresher *r, const kz_gbdt_params *p, const kz_gbdt_data *train,
                        const kz_gbdt_data *valid) {
  int K;
  KZ_TRY(kz_gbdt_check_inputs(p, train, valid, &K));
  if (p->early_stopping_rounds > 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.early_stopping_rounds: a refresh (process_type: update) updates every "
                   "round of the model; it does not stop early");
  r->p = *p;
  r->sp = (kz_gbdt_split_params){p->lambda, p->alpha, p->min_child_weight, p->max_cat_to_onehot};
  r->run.train = train;
  r->run.valid = valid && valid->n > 0 ? valid : NULL;
  r->run.K = K;
  kz_gbdt_rounds_init(&r->run.rounds);
  KZ_TRY(kz_gbdt_resolve_metrics(p, r->run.metrics, &r->run.n_metrics, &r->run.rounds.decide));
  int64_t n = train->n, nv = r->run.valid ? r->run.valid->n : 0;
  r->run.margin = malloc(sizeof(double) * (size_t)n * (size_t)K);
  r->run.vmargin = malloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1) * (size_t)K);
  r->gh = malloc(sizeof(kz_gbdt_gh) * (size_t)n * (size_t)K);
  r->leaf = malloc(sizeof(int32_t) * (size_t)n);
  r->by_leaf = malloc(sizeof(int32_t) * (size_t)n);
  r->resid = malloc(sizeof(double) * (size_t)n);
  if (!r->run.margin || !r->run.vmargin || !r->gh || !r->leaf || !r->by_leaf || !r->resid)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt refresh: out of memory for %lld rows", (long long)n);
  return kz_gbdt_model_new(p, train, K, &r->run.model);
}

kz_status kz_gbdt_refresher_create(const kz_gbdt_params *p, const kz_gbdt_data *train,
                                   const kz_gbdt_data *valid, kz_gbdt_model **init,
                                   kz_gbdt_refresher **out) {
  *out = NULL;
  kz_gbdt_model *m = *init;
  *init = NULL;
  kz_gbdt_refresher *r = calloc(1, sizeof *r);
  if (!r) {
    kz_gbdt_model_free(m);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt refresh: out of memory");
  }
  r->init = m;
  kz_status st = m ? create(r, p, train, valid)
                   : kz_fail(KZ_ERR_INVALID_ARG, "gbdt refresh: no model to refresh");
  if (st == KZ_OK) st = kz_gbdt_run_check_init(&r->run, m, "train.init_from");
  if (st == KZ_OK && (m->n_trees == 0 || p->num_round != m->n_trees / r->run.K))
    st = kz_fail(KZ_ERR_INVALID_ARG,
                 "model.num_round: %d, but the model has %d rounds; a refresh updates every "
                 "round of the model (leave num_round out)",
                 p->num_round, m->n_trees / r->run.K);
  if (st != KZ_OK) {
    kz_gbdt_refresher_free(r);
    return st;
  }
  /* Round 0's gradients are taken at the base score alone. */
  int K = r->run.K;
  int64_t n = train->n, nv = r->run.valid ? r->run.valid->n : 0;
  memcpy(r->run.model->base_score, m->base_score, sizeof(double) * (size_t)K);
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < K; ++k) r->run.margin[i * K + k] = m->base_score[k];
  for (int64_t i = 0; i < nv; ++i)
    for (int k = 0; k < K; ++k) r->run.vmargin[i * K + k] = m->base_score[k];
  *out = r;
  return KZ_OK;
}

const kz_gbdt_metric *kz_gbdt_refresher_metrics(const kz_gbdt_refresher *r, int *n) {
  *n = r->run.n_metrics;
  return r->run.metrics;
}

int kz_gbdt_refresher_best_round(const kz_gbdt_refresher *r, double *best_value) {
  if (best_value) *best_value = r->run.rounds.best_value;
  return r->run.rounds.best_round;
}

/* XGBoost's CalcGain with min_child_weight: a node too light scores 0. */
static double node_gain(const kz_gbdt_split_params *sp, double g, double h) {
  return h < sp->min_child_weight ? 0.0 : kz_gbdt_calc_gain(sp, g, h);
}

/* The value of leaf id from its sums (and rows, for the residual refits). */
static double leaf_value(kz_gbdt_refresher *r, int k, double g, double h, const int32_t *rows,
                         int64_t count) {
  const kz_gbdt_params *p = &r->p;
  if (h < p->min_child_weight || h <= 0 || count == 0) return 0.0;
  double level, v = kz_gbdt_calc_weight(&r->sp, g, h);
  if (kz_gbdt_objective_refits_leaves((kz_gbdt_objective)p->objective, p->quantile_alpha, &level)) {
    const kz_gbdt_data *t = r->run.train;
    for (int64_t j = 0; j < count; ++j)
      r->resid[j] = (double)t->label[rows[j]] - r->run.margin[(int64_t)rows[j] * r->run.K + k];
    v = kz_gbdt_quantile(r->resid, count, level);
  }
  return (double)(float)(p->eta * v); /* the float the model stores (booster.c) */
}

/* Recomputes tree's statistics (and leaves) from group k's gradients and
 * adds it to the train and valid margins of group k. */
static kz_status refresh_tree(kz_gbdt_refresher *r, int k, kz_gbdt_tree *tree, int threads) {
  const kz_gbdt_data *t = r->run.train;
  const int64_t n = t->n;
  const int K = r->run.K, nn = t->n_numeric, nc = t->n_categorical;
  const int32_t nodes = tree->n_nodes;
  double *G = calloc((size_t)nodes, sizeof(double)), *H = calloc((size_t)nodes, sizeof(double));
  int64_t *count = calloc((size_t)nodes + 1, sizeof(int64_t));
  int32_t *order = malloc(sizeof(int32_t) * (size_t)nodes);
  if (!G || !H || !count || !order) {
    free(G);
    free(H);
    free(count);
    free(order);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt refresh: out of memory");
  }
#pragma omp parallel for schedule(static) num_threads(threads) if (n >= KZ_GBDT_PARALLEL_MIN_ROWS)
  for (int64_t i = 0; i < n; ++i)
    r->leaf[i] =
        kz_gbdt_tree_leaf_row(tree, nn ? t->num + i * nn : NULL, nc ? t->cat + i * nc : NULL, nn);
  /* Sums in row order, so the thread count does not change them. */
  const kz_gbdt_gh *gh = r->gh + (int64_t)k * n;
  for (int64_t i = 0; i < n; ++i) {
    G[r->leaf[i]] += gh[i].g;
    H[r->leaf[i]] += gh[i].h;
    count[r->leaf[i] + 1]++;
  }
  /* Rows grouped by leaf, in row order within a leaf. */
  for (int32_t i = 0; i < nodes; ++i) count[i + 1] += count[i];
  for (int64_t i = 0; i < n; ++i) r->by_leaf[count[r->leaf[i]]++] = (int32_t)i;
  /* count[id] is now the end of leaf id's rows; its start is count[id - 1]. */
  int32_t m = 0;
  order[m++] = 0; /* breadth-first: parents before children */
  for (int32_t i = 0; i < m; ++i)
    if (tree->left[order[i]] >= 0) {
      order[m++] = tree->left[order[i]];
      order[m++] = tree->right[order[i]];
    }
  for (int32_t i = m - 1; i >= 0; --i) {
    int32_t id = order[i], l = tree->left[id], rt = tree->right[id];
    if (l >= 0) {
      G[id] = G[l] + G[rt];
      H[id] = H[l] + H[rt];
      tree->gain[id] = (float)(node_gain(&r->sp, G[l], H[l]) + node_gain(&r->sp, G[rt], H[rt]) -
                               node_gain(&r->sp, G[id], H[id]));
    } else if (r->p.refresh_leaf) {
      int64_t end = count[id], begin = id > 0 ? count[id - 1] : 0;
      tree->leaf_value[id] = (float)leaf_value(r, k, G[id], H[id], r->by_leaf + begin, end - begin);
    }
    tree->cover[id] = (float)H[id];
  }
  free(G);
  free(H);
  free(count);
  free(order);
  for (int64_t i = 0; i < n; ++i) r->run.margin[i * K + k] += tree->leaf_value[r->leaf[i]];
  if (r->run.valid) {
    const kz_gbdt_data *v = r->run.valid;
#pragma omp parallel for schedule(static)                                                          \
    num_threads(threads) if (v->n >= KZ_GBDT_PARALLEL_MIN_ROWS)
    for (int64_t i = 0; i < v->n; ++i)
      r->run.vmargin[i * K + k] += kz_gbdt_tree_predict_row(tree, nn ? v->num + i * nn : NULL,
                                                            nc ? v->cat + i * nc : NULL, nn);
  }
  return KZ_OK;
}

kz_status kz_gbdt_refresher_round(kz_gbdt_refresher *r, double *train_m, double *valid_m,
                                  int *stop) {
  const kz_gbdt_params *p = &r->p;
  const int K = r->run.K, round = r->run.rounds.round, threads = kz_gbdt_threads(p->nthread);
  *stop = 0;
  if ((int64_t)(round + 1) * K > r->init->n_trees)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt refresh: the model has no round %d", round);
  kz_gbdt_gradients((kz_gbdt_objective)p->objective, p->quantile_alpha, K, r->run.train->n,
                    r->run.margin, r->run.train->label, threads, r->gh);
  for (int k = 0; k < K; ++k) {
    /* the tree moves from the model being refreshed to the refreshed one */
    kz_gbdt_tree *src = &r->init->trees[round * K + k], tree = *src;
    memset(src, 0, sizeof *src);
    kz_status st = refresh_tree(r, k, &tree, threads);
    if (st == KZ_OK) st = kz_gbdt_model_push(r->run.model, &r->run.cap_trees, &tree, k);
    if (st != KZ_OK) {
      kz_gbdt_tree_free(&tree);
      return st;
    }
  }
  kz_gbdt_run_end(&r->run, p, train_m, valid_m, stop);
  return KZ_OK;
}

void kz_gbdt_refresher_get_state(const kz_gbdt_refresher *r, kz_gbdt_booster_state *s) {
  kz_gbdt_run_get_state(&r->run, 0, s);
}

kz_status kz_gbdt_refresher_set_state(kz_gbdt_refresher *r, const kz_gbdt_booster_state *s,
                                      kz_gbdt_model **trees, const char *where) {
  KZ_TRY(kz_gbdt_run_set_state(&r->run, s, trees, where));
  if ((int64_t)r->run.rounds.round * r->run.K > r->init->n_trees)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %d rounds refreshed, the model has %d", where,
                   r->run.rounds.round, r->init->n_trees / r->run.K);
  return KZ_OK;
}

kz_status kz_gbdt_refresher_finish(kz_gbdt_refresher *r, kz_gbdt_model **out) {
  *out = kz_gbdt_run_take_model(&r->run, &r->p);
  kz_gbdt_refresher_free(r);
  return KZ_OK;
}
