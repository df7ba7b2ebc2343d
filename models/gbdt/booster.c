/* The boosting loop (booster.h): binning, gradients, one tree per output
 * group per round, margins kept current for train and valid rows, metrics
 * and early stopping. */
#include "models/gbdt/booster.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/binning.h"
#include "models/gbdt/booster_common.h"
#include "models/gbdt/gbdt_json.h"
#include "models/gbdt/gbdt_rounds.h"
#include "models/gbdt/grow.h"
#include "models/gbdt/objective.h"
#include "models/gbdt/predict_fast.h"
#include "models/gbdt/tree_build.h"

/* Multi-class training grows the classes' trees concurrently, each on one
 * thread, when there are enough classes to keep the threads busy, or when
 * nodes are too small for row parallelism to pay (about 12 OpenMP regions a
 * tree otherwise, each a barrier that stalls on a busy machine). */
#define KZ_GBDT_CLASS_PARALLEL_ROWS 65536

struct kz_gbdt_booster {
  kz_gbdt_run run; /* data, margins, trees, metrics, rounds (gbdt_rounds.h) */
  kz_gbdt_params p;
  kz_gbdt_cuts cuts;
  uint8_t *codes;
  int64_t stride;       /* bytes per row of codes */
  int miss;             /* rows carry missing bits after their codes (gbdt_missing.h) */
  uint16_t *hist_index; /* the growers' histogram index (hist.h), or NULL */
  uint8_t *cols;        /* the growers' codes by column (grow.h) */
  kz_gbdt_grower grower;
  /* multi-class: one grower per thread, each growing whole trees serially
   * (class_parallel; see kz_gbdt_booster_round) */
  int class_parallel, n_workers;
  kz_gbdt_grower *workers;
  int32_t **worker_rows;
  kz_gbdt_gh *gh; /* [K x n] */
  int32_t *rows;  /* the round's sampled rows */
  double *resid;  /* leaf refits */
  kz_gbdt_rng rng;
  const kz_gbdt_dist *dist; /* data-parallel (gbdt_dist.h), or NULL */
  int64_t n_total;          /* training rows over all ranks */
};

void kz_gbdt_booster_free(kz_gbdt_booster *b) {
  if (!b) return;
  kz_gbdt_cuts_free(&b->cuts);
  kz_gbdt_grower_free(&b->grower);
  free(b->hist_index);
  free(b->cols);
  for (int i = 0; i < b->n_workers; ++i) {
    kz_gbdt_grower_free(&b->workers[i]);
    free(b->worker_rows[i]);
  }
  free(b->workers);
  free(b->worker_rows);
  free(b->codes);
  free(b->gh);
  free(b->run.margin);
  free(b->run.vmargin);
  free(b->rows);
  free(b->resid);
  kz_gbdt_model_free(b->run.model);
  free(b);
}

const kz_gbdt_metric *kz_gbdt_booster_metrics(const kz_gbdt_booster *b, int *n) {
  *n = b->run.n_metrics;
  return b->run.metrics;
}

int kz_gbdt_booster_best_round(const kz_gbdt_booster *b, double *best_value) {
  if (best_value) *best_value = b->run.rounds.best_value;
  return b->run.rounds.best_round;
}

kz_status kz_gbdt_booster_create(const kz_gbdt_params *p, const kz_gbdt_data *train,
                                 const kz_gbdt_data *valid, kz_gbdt_booster **out) {
  return kz_gbdt_booster_create_dist(p, train, valid, NULL, out);
}

/* Every rank's rows of a [n x width] float matrix, in rank order (dist:
 * gbdt_dist.h); *all = the caller's own when there is one rank. */
static kz_status gather_all(const kz_gbdt_dist *dist, const float *mine, int64_t n, int width,
                            float **all) {
  *all = NULL;
  if (!dist || width == 0) {
    *all = (float *)mine;
    return KZ_OK;
  }
  *all = malloc(sizeof(float) * (size_t)dist->n_total * (size_t)width);
  if (!*all)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory gathering %lld rows",
                   (long long)dist->n_total);
  kz_status st = dist->gather_rows(dist->ctx, mine, n, *all, sizeof(float) * (size_t)width);
  if (st != KZ_OK) {
    free(*all);
    *all = NULL;
  }
  return st;
}

kz_status kz_gbdt_booster_create_dist(const kz_gbdt_params *p, const kz_gbdt_data *train,
                                      const kz_gbdt_data *valid, const kz_gbdt_dist *dist,
                                      kz_gbdt_booster **out) {
  *out = NULL;
  int K;
  KZ_TRY(kz_gbdt_check_inputs(p, train, valid, &K));
  if (dist && dist->size <= 1) dist = NULL;
  if (dist) {
    double lv;
    if (!p->exact_histograms)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.exact_histograms: data-parallel GBDT (%d ranks) needs it true, so "
                     "that histogram sums, and the model, do not depend on how rows are split "
                     "between ranks (docs/DISTRIBUTED.md)",
                     dist->size);
    if (kz_gbdt_objective_refits_leaves((kz_gbdt_objective)p->objective, p->quantile_alpha, &lv))
      return kz_fail(KZ_ERR_UNSUPPORTED,
                     "model.objective: the quantile and absolute-error objectives refit leaves "
                     "from every row's residual, which data-parallel GBDT does not gather yet; "
                     "train them on one process");
  }
  kz_gbdt_booster *b = calloc(1, sizeof *b);
  if (!b) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  b->dist = dist;
  b->n_total = dist ? dist->n_total : train->n;
  b->p = *p;
  b->run.train = train;
  b->run.valid = valid && valid->n > 0 ? valid : NULL;
  b->run.K = K;
  kz_gbdt_rounds_init(&b->run.rounds);
  kz_gbdt_rng_seed(&b->rng, p->seed);
  kz_status st =
      kz_gbdt_resolve_metrics(p, b->run.metrics, &b->run.n_metrics, &b->run.rounds.decide);
  if (st != KZ_OK) {
    kz_gbdt_booster_free(b);
    return st;
  }
  int64_t n = train->n, nv = b->run.valid ? b->run.valid->n : 0;
  int threads = kz_gbdt_threads(p->nthread);
  /* Cut points from every row: with several ranks each gathers the numeric
   * features, so the cuts are those one process builds. */
  float *num_all = NULL;
  st = gather_all(dist, train->num, n, train->n_numeric, &num_all);
  if (st == KZ_OK)
    st = kz_gbdt_cuts_build_threads(b->n_total, train->n_numeric, num_all, train->n_categorical,
                                    train->n_categories, p->max_bin, KZ_GBDT_SKETCH_ROWS, p->seed,
                                    threads, &b->cuts);
  /* 256-bin features with missing values: each row's missing bits follow
   * its codes (gbdt_missing.h); any rank's missing value counts */
  if (st == KZ_OK) b->miss = kz_gbdt_missing_needed(&b->cuts, b->n_total, num_all);
  if (num_all != train->num) free(num_all);
  if (st != KZ_OK) {
    kz_gbdt_booster_free(b);
    return st;
  }
  int nf = b->cuts.n_features;
  b->stride = nf + (b->miss ? kz_gbdt_missing_bytes(nf) : 0);
  b->codes = malloc((size_t)n * (size_t)(b->stride > 0 ? b->stride : 1));
  b->gh = malloc(sizeof(kz_gbdt_gh) * (size_t)n * (size_t)K);
  b->run.margin = malloc(sizeof(double) * (size_t)n * (size_t)K);
  b->run.vmargin = malloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1) * (size_t)K);
  b->rows = malloc(sizeof(int32_t) * (size_t)n);
  b->resid = malloc(sizeof(double) * (size_t)n);
  if (!b->codes || !b->gh || !b->run.margin || !b->run.vmargin || !b->rows || !b->resid) {
    kz_gbdt_booster_free(b);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory for %lld training rows",
                   (long long)n);
  }
  kz_gbdt_cuts_apply_stride(&b->cuts, n, train->num, train->cat, threads, b->stride, b->codes);
  if (b->miss) kz_gbdt_missing_mark(&b->cuts, n, train->num, threads, b->stride, b->codes);
  if ((st = kz_gbdt_grower_init(&b->grower, &b->p, &b->cuts, b->codes, b->stride, b->miss, n,
                                threads)) != KZ_OK ||
      (st = kz_gbdt_hist_index_build(&b->grower.layout, b->codes, n, threads, &b->hist_index)) !=
          KZ_OK ||
      (st = kz_gbdt_columns_build(b->codes, n, nf, b->stride, threads, &b->cols)) != KZ_OK ||
      (st = kz_gbdt_model_new(&b->p, train, K, &b->run.model)) != KZ_OK) {
    kz_gbdt_booster_free(b);
    return st;
  }
  b->grower.layout.index = b->hist_index;
  b->grower.cols = b->cols;
  b->grower.n_rows = n;
  double level;
  b->grower.dist = dist;
  b->class_parallel =
      K > 1 && (K >= 2 * threads || b->n_total <= KZ_GBDT_CLASS_PARALLEL_ROWS) &&
      !kz_gbdt_objective_refits_leaves((kz_gbdt_objective)p->objective, p->quantile_alpha, &level);
  if (b->class_parallel) {
    int nw = threads < K ? threads : K;
    b->workers = calloc((size_t)nw, sizeof *b->workers);
    b->worker_rows = calloc((size_t)nw, sizeof *b->worker_rows);
    if (!b->workers || !b->worker_rows) {
      kz_gbdt_booster_free(b);
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    }
    for (int i = 0; i < nw; ++i) {
      b->n_workers = i + 1;
      if ((st = kz_gbdt_grower_init(&b->workers[i], &b->p, &b->cuts, b->codes, b->stride, b->miss,
                                    n, 1)) != KZ_OK) {
        kz_gbdt_booster_free(b);
        return st;
      }
      b->workers[i].layout.index = b->hist_index; /* the same cuts, so the same layout */
      b->workers[i].dist = dist;
      b->workers[i].cols = b->cols;
      b->workers[i].n_rows = n;
      if (!(b->worker_rows[i] = malloc(sizeof(int32_t) * (size_t)n))) {
        kz_gbdt_booster_free(b);
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
      }
    }
  }
  float *label_all = NULL;
  if ((st = gather_all(dist, train->label, n, 1, &label_all)) != KZ_OK) {
    kz_gbdt_booster_free(b);
    return st;
  }
  kz_gbdt_base_score((kz_gbdt_objective)p->objective, p->quantile_alpha, K, b->n_total, label_all,
                     b->run.model->base_score);
  if (label_all != train->label) free(label_all);
  for (int64_t r = 0; r < n; ++r)
    for (int k = 0; k < K; ++k) b->run.margin[r * K + k] = b->run.model->base_score[k];
  for (int64_t r = 0; r < nv; ++r)
    for (int k = 0; k < K; ++k) b->run.vmargin[r * K + k] = b->run.model->base_score[k];
  *out = b;
  return KZ_OK;
}

/* Leaf values: eta times the optimal weight, or for the quantile objectives
 * eta times the quantile of the residuals of the leaf's rows (as XGBoost). */
static void leaf_values(kz_gbdt_booster *b, const kz_gbdt_grower *w, int k, const int32_t *rows,
                        double *leaf) {
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
        b->resid[j] = (double)b->run.train->label[r] - b->run.margin[(int64_t)r * b->run.K + k];
      }
      v = kz_gbdt_quantile(b->resid, m, level);
    }
    /* Rounded to the float the model stores: the margins then hold exactly
     * what the saved trees predict (same values, same order of additions),
     * so a run continued from the model file (train.init_from) goes on as
     * this run would have, bit for bit. */
    leaf[i] = (double)(float)(b->p.eta * v);
  }
}

/* Grows the tree of group k on grower w with row buffer rows and rng, and
 * adds it to the train and valid margins of group k (which no other group's
 * tree touches, so groups can run concurrently). threads: for the row loops. */
static kz_status grow_group(kz_gbdt_booster *b, kz_gbdt_grower *w, int32_t *rows, kz_gbdt_rng *rng,
                            int k, int threads, kz_gbdt_tree *tree) {
  const kz_gbdt_params *p = &b->p;
  const kz_gbdt_data *t = b->run.train;
  int64_t n = t->n;
  int K = b->run.K;
  /* Row sampling per tree, from the seeded stream. */
  int64_t m = 0;
  if (p->subsample >= 1.0) {
    for (int64_t r = 0; r < n; ++r) rows[m++] = (int32_t)r;
  } else if (!b->dist) {
    for (int64_t r = 0; r < n; ++r)
      if (kz_gbdt_rng_uniform(rng) < p->subsample) rows[m++] = (int32_t)r;
  } else {
    /* one draw per row of the whole set, as one process draws them: this
     * rank keeps those of its rows */
    const int64_t lo = b->dist->row0;
    for (int64_t r = 0; r < b->n_total; ++r)
      if (kz_gbdt_rng_uniform(rng) < p->subsample && r >= lo && r < lo + n)
        rows[m++] = (int32_t)(r - lo);
  }
  KZ_TRY(kz_gbdt_grow(w, b->gh + (int64_t)k * n, rows, m, rng));
  double *leaf = malloc(sizeof(double) * (size_t)w->n_nodes);
  if (!leaf) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  leaf_values(b, w, k, rows, leaf);
  kz_status st = kz_gbdt_tree_from_bnodes(w->nodes, w->n_nodes, leaf, &b->cuts, tree);
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
      kz_gbdt_tree_free(tree);
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
        b->run.margin[(int64_t)rows[j] * K + k] += lv;
    }
    free(stack);
  } else {
#pragma omp parallel for schedule(static)                                                          \
    num_threads(threads) if (threads > 1 && n >= KZ_GBDT_PARALLEL_MIN_ROWS)
    for (int64_t r = 0; r < n; ++r)
      b->run.margin[r * K + k] +=
          leaf[kz_gbdt_bnode_leaf(nodes, &b->cuts, b->codes + r * b->stride,
                                  b->miss ? b->codes + r * b->stride + nf : NULL)];
  }
  free(leaf);
  if (b->run.valid) {
    const kz_gbdt_data *v = b->run.valid;
    kz_gbdt_flat flat; /* the flattened tree: same sums as the plain walk */
    int have_flat = kz_gbdt_flat_build(tree, 1, v->n_numeric, &flat);
    int64_t blocks = (v->n + KZ_GBDT_FLAT_BLOCK - 1) / KZ_GBDT_FLAT_BLOCK;
#pragma omp parallel for schedule(static)                                                          \
    num_threads(threads) if (threads > 1 && v->n >= KZ_GBDT_PARALLEL_MIN_ROWS)
    for (int64_t bl = 0; bl < blocks; ++bl) {
      int64_t r0 = bl * KZ_GBDT_FLAT_BLOCK;
      int cnt = (int)(v->n - r0 < KZ_GBDT_FLAT_BLOCK ? v->n - r0 : KZ_GBDT_FLAT_BLOCK);
      kz_gbdt_flat_add_block(tree, have_flat ? &flat.trees[0] : NULL, r0, cnt, v->num, v->cat,
                             v->n_numeric, v->n_categorical, K, b->run.vmargin + k);
    }
    if (have_flat) kz_gbdt_flat_free(&flat);
  }
  return KZ_OK;
}

kz_status kz_gbdt_booster_round(kz_gbdt_booster *b, double *train_m, double *valid_m, int *stop) {
  const kz_gbdt_params *p = &b->p;
  const kz_gbdt_data *t = b->run.train;
  int64_t n = t->n;
  int K = b->run.K, threads = kz_gbdt_threads(p->nthread);
  *stop = 0;
  kz_gbdt_gradients((kz_gbdt_objective)p->objective, p->quantile_alpha, K, n, b->run.margin,
                    t->label, threads, b->gh);
  if (p->exact_histograms) KZ_TRY(kz_gbdt_quantize_gradients(b->gh, n, K, b->n_total, b->dist));
  if (b->class_parallel && b->dist) {
    /* The class-parallel streams, one group after another: the collectives
     * inside a tree are made by this thread only, in the same order on
     * every rank. */
    uint64_t seeds[256];
    for (int k = 0; k < K; ++k) seeds[k] = kz_gbdt_rng_next(&b->rng);
    for (int k = 0; k < K; ++k) {
      kz_gbdt_rng rng;
      kz_gbdt_rng_seed(&rng, seeds[k]);
      kz_gbdt_tree tree;
      KZ_TRY(grow_group(b, &b->workers[0], b->worker_rows[0], &rng, k, 1, &tree));
      kz_status st = kz_gbdt_model_push(b->run.model, &b->run.cap_trees, &tree, k);
      if (st != KZ_OK) {
        kz_gbdt_tree_free(&tree);
        return st;
      }
    }
  } else if (b->class_parallel) {
    /* One tree per group, concurrently, each grown serially by one worker
     * (so the thread count does not change it) with its own random stream,
     * forked from the booster's in group order. */
    kz_gbdt_tree *trees = calloc((size_t)K, sizeof *trees);
    kz_status *sts = malloc(sizeof(kz_status) * (size_t)K);
    uint64_t *seeds = malloc(sizeof(uint64_t) * (size_t)K);
    if (!trees || !sts || !seeds) {
      free(trees);
      free(sts);
      free(seeds);
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    }
    for (int k = 0; k < K; ++k) seeds[k] = kz_gbdt_rng_next(&b->rng);
    /* a failing group's message is kept by its thread; report the first */
    char err[512] = "";
#pragma omp parallel for schedule(dynamic, 1) num_threads(b->n_workers)
    for (int k = 0; k < K; ++k) {
      int wi = omp_get_thread_num();
      kz_gbdt_rng rng;
      kz_gbdt_rng_seed(&rng, seeds[k]);
      sts[k] = grow_group(b, &b->workers[wi], b->worker_rows[wi], &rng, k, 1, &trees[k]);
      if (sts[k] != KZ_OK) {
#pragma omp critical(kz_gbdt_group_error)
        if (!err[0]) snprintf(err, sizeof err, "%s", kz_last_error());
      }
    }
    kz_status st = KZ_OK;
    for (int k = 0; k < K; ++k) {
      if (st == KZ_OK && sts[k] != KZ_OK) st = kz_fail(sts[k], "%s", err);
      if (st == KZ_OK && sts[k] == KZ_OK)
        st = kz_gbdt_model_push(b->run.model, &b->run.cap_trees, &trees[k], k);
      else if (sts[k] == KZ_OK)
        kz_gbdt_tree_free(&trees[k]);
    }
    free(trees);
    free(sts);
    free(seeds);
    KZ_TRY(st);
  } else {
    for (int k = 0; k < K; ++k) {
      kz_gbdt_tree tree;
      KZ_TRY(grow_group(b, &b->grower, b->rows, &b->rng, k, threads, &tree));
      kz_status st = kz_gbdt_model_push(b->run.model, &b->run.cap_trees, &tree, k);
      if (st != KZ_OK) {
        kz_gbdt_tree_free(&tree);
        return st;
      }
    }
  }
  kz_gbdt_run_end(&b->run, p, train_m, valid_m, stop);
  return KZ_OK;
}

void kz_gbdt_booster_get_state(const kz_gbdt_booster *b, kz_gbdt_booster_state *s) {
  kz_gbdt_run_get_state(&b->run, b->rng.s, s);
}

kz_status kz_gbdt_booster_set_state(kz_gbdt_booster *b, const kz_gbdt_booster_state *s,
                                    kz_gbdt_model **trees, const char *where) {
  KZ_TRY(kz_gbdt_run_set_state(&b->run, s, trees, where));
  /* Everything else a round reads is rebuilt from the data and parameters
   * (cuts, codes, growers' workspaces) or recomputed from the margins
   * (gradients); the stream is the only state sampling carries over. */
  b->rng.s = s->rng;
  return KZ_OK;
}

kz_status kz_gbdt_booster_init_from(kz_gbdt_booster *b, kz_gbdt_model **init, const char *where) {
  return kz_gbdt_run_init_from(&b->run, init, b->p.nthread, where);
}

kz_status kz_gbdt_booster_finish(kz_gbdt_booster *b, kz_gbdt_model **out) {
  *out = kz_gbdt_run_take_model(&b->run, &b->p);
  kz_gbdt_booster_free(b);
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
