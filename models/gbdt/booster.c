/* The boosting loop (booster.h): binning, gradients, one tree per output
 * group per round, margins kept current for train and valid rows, metrics
 * and early stopping. */
#include "models/gbdt/booster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/gbdt/binning.h"
#include "models/gbdt/gbdt_json.h"
#include "models/gbdt/grow.h"
#include "models/gbdt/objective.h"
#include "models/gbdt/tree_build.h"

/* Exact quantiles are taken on at most this many rows. */
#define KZ_GBDT_SKETCH_ROWS 200000

struct kz_gbdt_booster {
  kz_gbdt_params p;
  const kz_gbdt_data *train, *valid;
  int K;
  kz_gbdt_cuts cuts;
  uint8_t *codes;
  kz_gbdt_grower grower;
  kz_gbdt_gh *gh;       /* [K x n] */
  double *margin;       /* [n x K] */
  double *vmargin;      /* [nv x K] */
  int32_t *rows;        /* the round's sampled rows */
  double *resid;        /* leaf refits */
  kz_gbdt_model *model; /* trees so far */
  int cap_trees;
  int round;
  int n_metrics;
  kz_gbdt_metric metrics[KZ_GBDT_MAX_METRICS];
  int best_round;
  double best_value;
  kz_gbdt_rng rng;
};

void kz_gbdt_booster_free(kz_gbdt_booster *b) {
  if (!b) return;
  kz_gbdt_cuts_free(&b->cuts);
  kz_gbdt_grower_free(&b->grower);
  free(b->codes);
  free(b->gh);
  free(b->margin);
  free(b->vmargin);
  free(b->rows);
  free(b->resid);
  kz_gbdt_model_free(b->model);
  free(b);
}

const kz_gbdt_metric *kz_gbdt_booster_metrics(const kz_gbdt_booster *b, int *n) {
  *n = b->n_metrics;
  return b->metrics;
}

int kz_gbdt_booster_best_round(const kz_gbdt_booster *b, double *best_value) {
  if (best_value) *best_value = b->best_value;
  return b->best_round;
}

static kz_status check_data(const kz_gbdt_data *d, const kz_gbdt_data *train, const char *what) {
  if (d->n_numeric != train->n_numeric || d->n_categorical != train->n_categorical)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "gbdt: the %s data has %d numeric + %d categorical features, train has %d + %d",
                   what, d->n_numeric, d->n_categorical, train->n_numeric, train->n_categorical);
  if (d->n_numeric > 0 && !d->num)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: %s data lacks numeric values", what);
  if (d->n_categorical > 0 && (!d->cat || !d->n_categories))
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: %s data lacks categorical values", what);
  if (!d->label) return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: %s data lacks labels", what);
  return KZ_OK;
}

static kz_status model_alloc(const kz_gbdt_params *p, const kz_gbdt_data *t, int K,
                             kz_gbdt_model **out) {
  kz_gbdt_model *m = calloc(1, sizeof *m);
  if (!m) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  m->objective = (kz_gbdt_objective)p->objective;
  m->quantile_alpha = p->quantile_alpha;
  m->num_group = K;
  m->n_numeric = t->n_numeric;
  m->n_categorical = t->n_categorical;
  m->best_iteration = -1;
  if (t->n_categorical > 0) {
    m->n_categories = malloc(sizeof(int32_t) * (size_t)t->n_categorical);
    if (!m->n_categories) {
      kz_gbdt_model_free(m);
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    }
    memcpy(m->n_categories, t->n_categories, sizeof(int32_t) * (size_t)t->n_categorical);
  }
  *out = m;
  return KZ_OK;
}

kz_status kz_gbdt_booster_create(const kz_gbdt_params *p, const kz_gbdt_data *train,
                                 const kz_gbdt_data *valid, kz_gbdt_booster **out) {
  *out = NULL;
  KZ_TRY(kz_gbdt_params_check(p));
  if (p->objective < 0 || p->objective > KZ_GBDT_COUNT_POISSON)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: the objective must be resolved before training");
  int K = p->objective == KZ_GBDT_MULTI_SOFTPROB ? p->num_class : 1;
  if (K < 1 || K > 256)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: multi:softprob needs num_class in [2, 256], got %d",
                   p->num_class);
  if (train->n < 1) return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: the training data has no rows");
  if (train->n > INT32_MAX)
    return kz_fail(KZ_ERR_UNSUPPORTED, "gbdt: at most %d training rows are supported", INT32_MAX);
  KZ_TRY(check_data(train, train, "train"));
  KZ_TRY(kz_gbdt_check_labels((kz_gbdt_objective)p->objective, K, train->n, train->label,
                              "data.train"));
  if (valid) {
    KZ_TRY(check_data(valid, train, "valid"));
    KZ_TRY(kz_gbdt_check_labels((kz_gbdt_objective)p->objective, K, valid->n, valid->label,
                                "data.valid"));
  }
  if (p->early_stopping_rounds > 0 && !(valid && valid->n > 0))
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: early_stopping_rounds needs a validation set");
  kz_gbdt_booster *b = calloc(1, sizeof *b);
  if (!b) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  b->p = *p;
  b->train = train;
  b->valid = valid && valid->n > 0 ? valid : NULL;
  b->K = K;
  b->best_round = -1;
  kz_gbdt_rng_seed(&b->rng, p->seed);
  b->n_metrics = p->n_metrics;
  memcpy(b->metrics, p->metrics, sizeof b->metrics);
  if (b->n_metrics == 0) {
    b->metrics[0] = kz_gbdt_default_metric((kz_gbdt_objective)p->objective);
    b->n_metrics = 1;
  }
  for (int i = 0; i < b->n_metrics; ++i)
    if (!kz_gbdt_metric_fits(b->metrics[i], (kz_gbdt_objective)p->objective)) {
      kz_status st = kz_fail(KZ_ERR_INVALID_ARG, "gbdt: eval_metric %s does not apply to %s",
                             kz_gbdt_metric_name(b->metrics[i]),
                             kz_gbdt_objective_name((kz_gbdt_objective)p->objective));
      kz_gbdt_booster_free(b);
      return st;
    }
  int64_t n = train->n, nv = b->valid ? b->valid->n : 0;
  int threads = kz_gbdt_threads(p->nthread);
  kz_status st =
      kz_gbdt_cuts_build(n, train->n_numeric, train->num, train->n_categorical, train->n_categories,
                         p->max_bin, KZ_GBDT_SKETCH_ROWS, p->seed, &b->cuts);
  if (st != KZ_OK) {
    kz_gbdt_booster_free(b);
    return st;
  }
  int nf = b->cuts.n_features;
  b->codes = malloc((size_t)n * (size_t)(nf > 0 ? nf : 1));
  b->gh = malloc(sizeof(kz_gbdt_gh) * (size_t)n * (size_t)K);
  b->margin = malloc(sizeof(double) * (size_t)n * (size_t)K);
  b->vmargin = malloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1) * (size_t)K);
  b->rows = malloc(sizeof(int32_t) * (size_t)n);
  b->resid = malloc(sizeof(double) * (size_t)n);
  if (!b->codes || !b->gh || !b->margin || !b->vmargin || !b->rows || !b->resid) {
    kz_gbdt_booster_free(b);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory for %lld training rows",
                   (long long)n);
  }
  kz_gbdt_cuts_apply(&b->cuts, n, train->num, train->cat, threads, b->codes);
  if ((st = kz_gbdt_grower_init(&b->grower, &b->p, &b->cuts, b->codes, n, threads)) != KZ_OK ||
      (st = model_alloc(&b->p, train, K, &b->model)) != KZ_OK) {
    kz_gbdt_booster_free(b);
    return st;
  }
  kz_gbdt_base_score((kz_gbdt_objective)p->objective, p->quantile_alpha, K, n, train->label,
                     b->model->base_score);
  for (int64_t r = 0; r < n; ++r)
    for (int k = 0; k < K; ++k) b->margin[r * K + k] = b->model->base_score[k];
  for (int64_t r = 0; r < nv; ++r)
    for (int k = 0; k < K; ++k) b->vmargin[r * K + k] = b->model->base_score[k];
  *out = b;
  return KZ_OK;
}

static kz_status push_tree(kz_gbdt_booster *b, kz_gbdt_tree *t, int group) {
  kz_gbdt_model *m = b->model;
  if (m->n_trees == b->cap_trees) {
    int cap = b->cap_trees ? 2 * b->cap_trees : 64;
    kz_gbdt_tree *nt = realloc(m->trees, sizeof(*nt) * (size_t)cap);
    if (!nt) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    m->trees = nt;
    int32_t *ng = realloc(m->tree_group, sizeof(*ng) * (size_t)cap);
    if (!ng) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    m->tree_group = ng;
    b->cap_trees = cap;
  }
  m->trees[m->n_trees] = *t;
  m->tree_group[m->n_trees] = group;
  m->n_trees++;
  return KZ_OK;
}

/* Leaf values: eta times the optimal weight, or for the quantile objectives
 * eta times the quantile of the residuals of the leaf's rows (as XGBoost). */
static void leaf_values(kz_gbdt_booster *b, int k, const int32_t *rows, double *leaf) {
  kz_gbdt_grower *w = &b->grower;
  double level;
  int refit = kz_gbdt_objective_refits_leaves((kz_gbdt_objective)b->p.objective,
                                              b->p.quantile_alpha, &level);
  for (int32_t i = 0; i < w->n_nodes; ++i) {
    const kz_gbdt_bnode *nd = &w->nodes[i];
    leaf[i] = 0;
    if (nd->split.feature >= 0) continue;
    double v = nd->weight;
    if (refit) {
      int64_t m = nd->end - nd->begin;
      for (int64_t j = 0; j < m; ++j) {
        int32_t r = rows[nd->begin + j];
        b->resid[j] = (double)b->train->label[r] - b->margin[(int64_t)r * b->K + k];
      }
      v = kz_gbdt_quantile(b->resid, m, level);
    }
    leaf[i] = b->p.eta * v;
  }
}

kz_status kz_gbdt_booster_round(kz_gbdt_booster *b, double *train_m, double *valid_m, int *stop) {
  const kz_gbdt_params *p = &b->p;
  const kz_gbdt_data *t = b->train;
  int64_t n = t->n;
  int K = b->K, threads = kz_gbdt_threads(p->nthread);
  *stop = 0;
  kz_gbdt_gradients((kz_gbdt_objective)p->objective, p->quantile_alpha, K, n, b->margin, t->label,
                    threads, b->gh);
  double *leaf = NULL;
  for (int k = 0; k < K; ++k) {
    /* Row sampling per tree, from the seeded stream. */
    int64_t m = 0;
    if (p->subsample >= 1.0) {
      for (int64_t r = 0; r < n; ++r) b->rows[m++] = (int32_t)r;
    } else {
      for (int64_t r = 0; r < n; ++r)
        if (kz_gbdt_rng_uniform(&b->rng) < p->subsample) b->rows[m++] = (int32_t)r;
    }
    KZ_TRY(kz_gbdt_grow(&b->grower, b->gh + (int64_t)k * n, b->rows, m, &b->rng));
    kz_gbdt_grower *w = &b->grower;
    free(leaf);
    leaf = malloc(sizeof(double) * (size_t)w->n_nodes);
    if (!leaf) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    leaf_values(b, k, b->rows, leaf);
    kz_gbdt_tree tree;
    kz_status st = kz_gbdt_tree_from_bnodes(w->nodes, w->n_nodes, leaf, &b->cuts, &tree);
    if (st == KZ_OK) st = push_tree(b, &tree, k);
    if (st != KZ_OK) {
      free(leaf);
      return st;
    }
    /* Train margins: with every row in the tree, each leaf's rows are a
     * contiguous range of the partitioned row list; otherwise walk the
     * binned rows (bins agree with the float thresholds by construction).
     * Valid margins come from the stored tree. */
    int nf = w->nf;
    const kz_gbdt_bnode *nodes = w->nodes;
    if (m == n) {
      /* depth-first from the root, so leaves under a pruned node are skipped */
      int32_t *stack = malloc(sizeof(int32_t) * (size_t)(w->n_nodes + 1)), top = 0;
      if (!stack) {
        free(leaf);
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
      }
      stack[top++] = 0;
      while (top > 0) {
        int32_t i = stack[--top];
        if (nodes[i].split.feature >= 0) {
          stack[top++] = nodes[i].right;
          stack[top++] = nodes[i].left;
          continue;
        }
        double lv = leaf[i];
        for (int64_t j = nodes[i].begin; j < nodes[i].end; ++j)
          b->margin[(int64_t)b->rows[j] * K + k] += lv;
      }
      free(stack);
    } else {
#pragma omp parallel for schedule(static) num_threads(threads) if (n >= KZ_GBDT_PARALLEL_MIN_ROWS)
      for (int64_t r = 0; r < n; ++r)
        b->margin[r * K + k] += leaf[kz_gbdt_bnode_leaf(nodes, nf, b->codes + r * nf)];
    }
    if (b->valid) {
      const kz_gbdt_data *v = b->valid;
      const kz_gbdt_tree *tr = &b->model->trees[b->model->n_trees - 1];
#pragma omp parallel for schedule(static)                                                          \
    num_threads(threads) if (v->n >= KZ_GBDT_PARALLEL_MIN_ROWS)
      for (int64_t r = 0; r < v->n; ++r)
        b->vmargin[r * K + k] +=
            kz_gbdt_tree_predict_row(tr, v->num ? v->num + r * v->n_numeric : NULL,
                                     v->cat ? v->cat + r * v->n_categorical : NULL, v->n_numeric);
    }
  }
  free(leaf);
  /* Metrics cost a pass (AUC a sort) over the rows: computed only when asked
   * for, and on the valid set when early stopping needs them. */
  double vm[KZ_GBDT_MAX_METRICS];
  int want_valid = b->valid && (valid_m || p->early_stopping_rounds > 0);
  for (int i = 0; i < b->n_metrics; ++i) {
    if (train_m)
      train_m[i] = kz_gbdt_metric_eval(b->metrics[i], (kz_gbdt_objective)p->objective,
                                       p->quantile_alpha, K, n, b->margin, t->label);
    vm[i] = want_valid ? kz_gbdt_metric_eval(b->metrics[i], (kz_gbdt_objective)p->objective,
                                             p->quantile_alpha, K, b->valid->n, b->vmargin,
                                             b->valid->label)
                       : NAN;
    if (valid_m) valid_m[i] = vm[i];
  }
  /* Early stopping follows the last metric on the valid set (XGBoost). */
  if (want_valid) {
    kz_gbdt_metric last = b->metrics[b->n_metrics - 1];
    double v = vm[b->n_metrics - 1];
    int better = b->best_round < 0 ||
                 (kz_gbdt_metric_higher_is_better(last) ? v > b->best_value : v < b->best_value);
    if (better) {
      b->best_round = b->round;
      b->best_value = v;
    }
    if (p->early_stopping_rounds > 0 && b->round - b->best_round >= p->early_stopping_rounds)
      *stop = 1;
  }
  b->round++;
  if (b->round >= p->num_round) *stop = 1;
  return KZ_OK;
}

kz_status kz_gbdt_booster_finish(kz_gbdt_booster *b, kz_gbdt_model **out) {
  kz_gbdt_model *m = b->model;
  if (b->p.early_stopping_rounds > 0 && b->best_round >= 0) {
    int keep = (b->best_round + 1) * b->K;
    for (int i = keep; i < m->n_trees; ++i) kz_gbdt_tree_free(&m->trees[i]);
    if (keep < m->n_trees) m->n_trees = keep;
    m->best_iteration = b->best_round;
  }
  b->model = NULL;
  kz_gbdt_booster_free(b);
  *out = m;
  return KZ_OK;
}

kz_status kz_gbdt_train(const kz_gbdt_params *p, const kz_gbdt_data *train,
                        const kz_gbdt_data *valid, kz_gbdt_model **out) {
  kz_gbdt_booster *b;
  KZ_TRY(kz_gbdt_booster_create(p, train, valid, &b));
  int stop = 0;
  while (!stop) {
    kz_status st = kz_gbdt_booster_round(b, NULL, NULL, &stop);
    if (st != KZ_OK) {
      kz_gbdt_booster_free(b);
      return st;
    }
  }
  return kz_gbdt_booster_finish(b, out);
}
