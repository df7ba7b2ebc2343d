/* The GPU booster driver (booster_gpu.h). It mirrors booster.c and grow.c
 * step for step so both pick the same trees: depthwise expansion in node
 * creation order, max_leaves counted the same way, the same split candidates
 * in the same order (the kernel's search restates split.c, ties included),
 * gamma applied by post-pruning, and leaf values from calc_weight of the
 * node's sums. What differs is the arithmetic: the device computes float
 * gradients from float margins and sums them as int64 (quantised per round,
 * kz_gbdt_dev_quant_scale), the CPU sums doubles, so gains and leaf values
 * agree to float precision, not bit for bit (docs/GBDT.md, "GPU"). */
#include "models/gbdt/booster_gpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/binning.h"
#include "models/gbdt/booster_common.h"
#include "models/gbdt/gbdt_json.h"
#include "models/gbdt/gbdt_rounds.h"
#include "models/gbdt/grow.h"
#include "models/gbdt/objective.h"
#include "models/gbdt/split.h"
#include "models/gbdt/tree_build.h"

/* XGBoost's max_delta_step of count:poisson, as objective.c. */
#define KZ_GBDT_GPU_POISSON_MAX_DELTA 0.7
/* kz_gbdt_dev_evaluate_splits takes at most this many nodes a call. */
#define KZ_GBDT_GPU_MAX_EVAL_NODES 65535
#define HIST_ENTRIES ((size_t)KZ_GBDT_DEV_HIST_BINS * 2)

static const kz_gbdt_gpu_kernels cuda_kernels = {
    kz_gbdt_dev_gradients,     kz_gbdt_dev_quantise,        kz_gbdt_dev_histogram,
    kz_gbdt_dev_hist_subtract, kz_gbdt_dev_evaluate_splits, kz_gbdt_dev_partition,
    kz_gbdt_dev_predict};

const kz_gbdt_gpu_kernels *kz_gbdt_gpu_cuda_kernels(void) {
  return &cuda_kernels;
}

kz_status kz_gbdt_gpu_check_params(const kz_gbdt_params *p, int n_categorical) {
  if (n_categorical > 0)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "gbdt on cuda: the data has %d categorical feature(s); categorical splits run "
                   "on the CPU only (use train.device: cpu)",
                   n_categorical);
  if (p->grow_policy == KZ_GBDT_LOSSGUIDE)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "gbdt on cuda: model.grow_policy lossguide is CPU only (use depthwise)");
  if (p->subsample < 1.0)
    return kz_fail(KZ_ERR_UNSUPPORTED, "gbdt on cuda: model.subsample = %g is CPU only (use 1)",
                   p->subsample);
  if (p->colsample_bytree < 1.0)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "gbdt on cuda: model.colsample_bytree = %g is CPU only (use 1)",
                   p->colsample_bytree);
  if (p->colsample_bynode < 1.0)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "gbdt on cuda: model.colsample_bynode = %g is CPU only (use 1)",
                   p->colsample_bynode);
  return KZ_OK;
}

kz_status kz_gbdt_gpu_check_device(const kz_gbdt_gpu_options *o) {
  if (o->kernels) return KZ_OK;
  if (!kz_backend_cuda())
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "gbdt on cuda: built without CUDA (configure with -DKZ_CUDA=ON)");
  if (o->device.kind != KZ_DEVICE_CUDA)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt on cuda: the CUDA kernels need a CUDA device");
  int n = kz_cuda_device_count();
  if (o->device.index < 0 || o->device.index >= n)
    return kz_fail(KZ_ERR_NOT_FOUND, "gbdt on cuda: device cuda:%d: %d CUDA device(s) found",
                   o->device.index, n);
  return KZ_OK;
}

/* A node while growing. Its rows are rows[begin, end) of the device row
 * list; tg, th its quantised gradient and hessian sums. */
typedef struct gnode {
  int64_t begin, end;
  int64_t tg, th;
  int32_t depth, left, right;
  kz_gbdt_dev_split split; /* split.found 0: a leaf (or not evaluated) */
} gnode;

struct kz_gbdt_gpu_booster {
  kz_gbdt_run run; /* data, margins, trees, metrics, rounds (gbdt_rounds.h) */
  kz_gbdt_params p;
  kz_gbdt_gpu_options o;
  const kz_gbdt_gpu_kernels *kz;
  kz_stream *s;
  int nf;
  int64_t n;
  kz_gbdt_cuts cuts;
  kz_gbdt_split_params sp;
  /* device */
  uint8_t *d_codes;
  int32_t *d_nbins;
  float *d_label, *d_margin, *d_gh, *d_max;
  int64_t *d_qgh;
  int32_t *d_rows, *d_tmp, *d_iota;
  double *d_scale;
  int64_t *d_nleft;
  int64_t *d_hist[2];
  kz_gbdt_dev_split *d_best;
  int64_t cap_nleft, cap_hist[2], cap_best; /* in entries (hist: nodes) */
  /* host */
  double *resid;
  float *fmargin;
  int32_t *rows;
  double scale[2 * 256];
  gnode *nodes;
  int32_t n_nodes, cap_nodes;
  int32_t *level, *next_level, *expand;
  int64_t *nleft;
  kz_gbdt_dev_split *best;
  int64_t cap_level;
};

static void dfree(kz_gbdt_gpu_booster *b, void *p) {
  if (p) kz_device_free(b->o.device, p);
}

void kz_gbdt_gpu_booster_free(kz_gbdt_gpu_booster *b) {
  if (!b) return;
  if (b->s) kz_stream_sync(b->s); /* nothing may still write into memory freed below */
  dfree(b, b->d_codes);
  dfree(b, b->d_nbins);
  dfree(b, b->d_label);
  dfree(b, b->d_margin);
  dfree(b, b->d_gh);
  dfree(b, b->d_max);
  dfree(b, b->d_qgh);
  dfree(b, b->d_rows);
  dfree(b, b->d_tmp);
  dfree(b, b->d_iota);
  dfree(b, b->d_scale);
  dfree(b, b->d_nleft);
  dfree(b, b->d_hist[0]);
  dfree(b, b->d_hist[1]);
  dfree(b, b->d_best);
  if (b->s) kz_stream_destroy(b->s);
  kz_gbdt_cuts_free(&b->cuts);
  free(b->run.margin);
  free(b->run.vmargin);
  free(b->resid);
  free(b->fmargin);
  free(b->rows);
  free(b->nodes);
  free(b->level);
  free(b->next_level);
  free(b->expand);
  free(b->nleft);
  free(b->best);
  kz_gbdt_model_free(b->run.model);
  free(b);
}

const kz_gbdt_metric *kz_gbdt_gpu_booster_metrics(const kz_gbdt_gpu_booster *b, int *n) {
  *n = b->run.n_metrics;
  return b->run.metrics;
}

int kz_gbdt_gpu_booster_best_round(const kz_gbdt_gpu_booster *b, double *best_value) {
  if (best_value) *best_value = b->run.rounds.best_value;
  return b->run.rounds.best_round;
}

static kz_status dalloc(kz_gbdt_gpu_booster *b, size_t bytes, void **p, const char *what) {
  kz_status st = kz_device_alloc(b->o.device, bytes ? bytes : 8, p);
  if (st != KZ_OK)
    return kz_fail_context(st, "gbdt on cuda: device memory for %s (%zu bytes)", what, bytes);
  return KZ_OK;
}

/* Grows a device buffer of per-node entries to hold at least want. */
static kz_status dgrow(kz_gbdt_gpu_booster *b, void **p, int64_t *cap, int64_t want,
                       size_t entry_bytes, const char *what) {
  if (want <= *cap) return KZ_OK;
  int64_t c = *cap > 0 ? *cap : 8;
  while (c < want) c *= 2;
  KZ_TRY(kz_stream_sync(b->s)); /* the old buffer may still be read */
  dfree(b, *p);
  *p = NULL;
  *cap = 0;
  KZ_TRY(dalloc(b, entry_bytes * (size_t)c, p, what));
  *cap = c;
  return KZ_OK;
}

static kz_status check_all(const kz_gbdt_params *p, const kz_gbdt_data *train,
                           const kz_gbdt_data *valid, const kz_gbdt_gpu_options *o) {
  KZ_TRY(kz_gbdt_gpu_check_device(o));
  int K;
  KZ_TRY(kz_gbdt_check_inputs(p, train, valid, &K));
  KZ_TRY(kz_gbdt_gpu_check_params(p, train->n_categorical));
  if (train->n_numeric < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt on cuda: the training data has no numeric feature");
  return KZ_OK;
}

static kz_status setup(kz_gbdt_gpu_booster *b) {
  const kz_gbdt_params *p = &b->p;
  const kz_gbdt_data *t = b->run.train;
  int64_t n = t->n, nv = b->run.valid ? b->run.valid->n : 0;
  int K = b->run.K;
  /* The device kernels keep code 255 for missing values (gbdt_device.h),
   * so max_bin 256 runs as 255 value bins here (docs/GBDT.md). */
  int max_bin = p->max_bin < KZ_GBDT_MISSING_BIN ? p->max_bin : KZ_GBDT_MISSING_BIN;
  KZ_TRY(kz_gbdt_cuts_build(n, t->n_numeric, t->num, 0, NULL, max_bin, KZ_GBDT_SKETCH_ROWS, p->seed,
                            &b->cuts));
  int nf = b->nf = b->cuts.n_features;
  b->sp = (kz_gbdt_split_params){p->lambda, p->alpha, p->min_child_weight, p->max_cat_to_onehot};
  b->run.margin = malloc(sizeof(double) * (size_t)n * (size_t)K);
  b->run.vmargin = malloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1) * (size_t)K);
  b->resid = malloc(sizeof(double) * (size_t)n);
  b->fmargin = malloc(sizeof(float) * (size_t)n * (size_t)K);
  b->rows = malloc(sizeof(int32_t) * (size_t)n);
  uint8_t *codes = malloc((size_t)n * (size_t)nf);
  if (!b->run.margin || !b->run.vmargin || !b->resid || !b->fmargin || !b->rows || !codes) {
    free(codes);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory for %lld training rows",
                   (long long)n);
  }
  kz_gbdt_cuts_apply(&b->cuts, n, t->num, NULL, kz_gbdt_threads(p->nthread), codes);
  for (int64_t r = 0; r < n; ++r) b->rows[r] = (int32_t)r;
  size_t nK = (size_t)n * (size_t)K;
  kz_status st = KZ_OK;
  if (st == KZ_OK) st = kz_stream_create(b->o.device, &b->s);
  if (st == KZ_OK) st = dalloc(b, (size_t)n * (size_t)nf, (void **)&b->d_codes, "bin codes");
  if (st == KZ_OK) st = dalloc(b, sizeof(int32_t) * (size_t)nf, (void **)&b->d_nbins, "n_bins");
  if (st == KZ_OK) st = dalloc(b, sizeof(float) * (size_t)n, (void **)&b->d_label, "labels");
  if (st == KZ_OK) st = dalloc(b, sizeof(float) * nK, (void **)&b->d_margin, "margins");
  if (st == KZ_OK) st = dalloc(b, sizeof(float) * 2 * nK, (void **)&b->d_gh, "gradients");
  if (st == KZ_OK) st = dalloc(b, sizeof(int64_t) * 2 * nK, (void **)&b->d_qgh, "gradients");
  if (st == KZ_OK) st = dalloc(b, sizeof(float) * 2 * (size_t)K, (void **)&b->d_max, "scales");
  if (st == KZ_OK) st = dalloc(b, sizeof(double) * 2 * (size_t)K, (void **)&b->d_scale, "scales");
  if (st == KZ_OK) st = dalloc(b, sizeof(int32_t) * (size_t)n, (void **)&b->d_rows, "row lists");
  if (st == KZ_OK) st = dalloc(b, sizeof(int32_t) * (size_t)n, (void **)&b->d_tmp, "row lists");
  if (st == KZ_OK) st = dalloc(b, sizeof(int32_t) * (size_t)n, (void **)&b->d_iota, "row lists");
  if (st == KZ_OK) st = kz_copy_to_device(b->s, b->d_codes, codes, (size_t)n * (size_t)nf);
  if (st == KZ_OK) st = kz_copy_to_device(b->s, b->d_nbins, b->cuts.n_bins, sizeof(int32_t) * nf);
  if (st == KZ_OK) st = kz_copy_to_device(b->s, b->d_label, t->label, sizeof(float) * (size_t)n);
  if (st == KZ_OK) st = kz_copy_to_device(b->s, b->d_iota, b->rows, sizeof(int32_t) * (size_t)n);
  /* The host buffers must outlive the (possibly asynchronous) uploads. */
  if (st == KZ_OK) st = kz_stream_sync(b->s);
  free(codes);
  KZ_TRY(st);
  KZ_TRY(kz_gbdt_model_new(p, t, K, &b->run.model));
  kz_gbdt_base_score((kz_gbdt_objective)p->objective, p->quantile_alpha, K, n, t->label,
                     b->run.model->base_score);
  for (int64_t r = 0; r < n; ++r)
    for (int k = 0; k < K; ++k) b->run.margin[r * K + k] = b->run.model->base_score[k];
  for (int64_t r = 0; r < nv; ++r)
    for (int k = 0; k < K; ++k) b->run.vmargin[r * K + k] = b->run.model->base_score[k];
  return KZ_OK;
}

kz_status kz_gbdt_gpu_booster_create(const kz_gbdt_params *p, const kz_gbdt_data *train,
                                     const kz_gbdt_data *valid, const kz_gbdt_gpu_options *o,
                                     kz_gbdt_gpu_booster **out) {
  *out = NULL;
  KZ_TRY(check_all(p, train, valid, o));
  kz_gbdt_gpu_booster *b = calloc(1, sizeof *b);
  if (!b) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  b->p = *p;
  b->run.train = train;
  b->run.valid = valid && valid->n > 0 ? valid : NULL;
  b->o = *o;
  b->kz = o->kernels ? o->kernels : &cuda_kernels;
  b->run.K = p->objective == KZ_GBDT_MULTI_SOFTPROB ? p->num_class : 1;
  b->n = train->n;
  kz_gbdt_rounds_init(&b->run.rounds);
  kz_status st =
      kz_gbdt_resolve_metrics(p, b->run.metrics, &b->run.n_metrics, &b->run.rounds.decide);
  if (st == KZ_OK) st = setup(b);
  if (st != KZ_OK) {
    kz_gbdt_gpu_booster_free(b);
    return st;
  }
  *out = b;
  return KZ_OK;
}

static kz_status oom(void) {
  return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt on cuda: out of host memory growing a tree");
}

static int32_t add_node(kz_gbdt_gpu_booster *b, int32_t depth, int64_t begin, int64_t end,
                        int64_t tg, int64_t th) {
  if (b->n_nodes == b->cap_nodes) {
    int32_t cap = b->cap_nodes ? 2 * b->cap_nodes : 64;
    gnode *nn = realloc(b->nodes, sizeof(*nn) * (size_t)cap);
    if (!nn) return -1;
    b->nodes = nn;
    b->cap_nodes = cap;
  }
  int32_t id = b->n_nodes++;
  gnode *g = &b->nodes[id];
  memset(g, 0, sizeof *g);
  g->begin = begin;
  g->end = end;
  g->tg = tg;
  g->th = th;
  g->depth = depth;
  g->left = g->right = -1;
  g->split.feature = -1;
  return id;
}

/* Host arrays of one level (node ids, expansions, left counts, results). */
static kz_status host_level(kz_gbdt_gpu_booster *b, int64_t want) {
  if (want <= b->cap_level) return KZ_OK;
  int64_t c = b->cap_level > 0 ? b->cap_level : 64;
  while (c < want) c *= 2;
  int32_t *l1 = realloc(b->level, sizeof(int32_t) * (size_t)c);
  if (l1) b->level = l1;
  int32_t *l2 = realloc(b->next_level, sizeof(int32_t) * (size_t)c);
  if (l2) b->next_level = l2;
  int32_t *l3 = realloc(b->expand, sizeof(int32_t) * (size_t)c);
  if (l3) b->expand = l3;
  int64_t *l4 = realloc(b->nleft, sizeof(int64_t) * (size_t)c);
  if (l4) b->nleft = l4;
  kz_gbdt_dev_split *l5 = realloc(b->best, sizeof(kz_gbdt_dev_split) * (size_t)c);
  if (l5) b->best = l5;
  if (!l1 || !l2 || !l3 || !l4 || !l5) return oom();
  b->cap_level = c;
  return KZ_OK;
}

/* Best splits of the m nodes ids[] whose histograms lie one after another
 * in hist. A child's totals must equal what its parent's split said: both
 * are exact integer sums, so a difference is a bug, not rounding. */
static kz_status evaluate_level(kz_gbdt_gpu_booster *b, const int64_t *hist, const int32_t *ids,
                                int64_t m, int k, int check_totals) {
  KZ_TRY(
      dgrow(b, (void **)&b->d_best, &b->cap_best, m, sizeof(kz_gbdt_dev_split), "split results"));
  const kz_gbdt_dev_split_params sp = {b->p.lambda, b->p.alpha, b->p.min_child_weight, 0.0};
  size_t per_node = (size_t)b->nf * HIST_ENTRIES;
  for (int64_t c0 = 0; c0 < m; c0 += KZ_GBDT_GPU_MAX_EVAL_NODES) {
    int32_t cn =
        (int32_t)(m - c0 < KZ_GBDT_GPU_MAX_EVAL_NODES ? m - c0 : KZ_GBDT_GPU_MAX_EVAL_NODES);
    /* gamma 0 here: gamma prunes after growth, as on the CPU */
    KZ_TRY(b->kz->evaluate_splits(b->s, hist + (size_t)c0 * per_node, cn, b->nf, b->d_nbins, NULL,
                                  b->d_scale + 2 * k, &sp, NULL, b->d_best + c0));
  }
  KZ_TRY(kz_copy_to_host(b->s, b->best, b->d_best, sizeof(kz_gbdt_dev_split) * (size_t)m));
  KZ_TRY(kz_stream_sync(b->s));
  for (int64_t i = 0; i < m; ++i) {
    gnode *g = &b->nodes[ids[i]];
    const kz_gbdt_dev_split *s = &b->best[i];
    if (check_totals && (s->total_g != g->tg || s->total_h != g->th))
      return kz_fail(KZ_ERR_INTERNAL,
                     "gbdt on cuda: round %d: node %d's histogram sums (%lld, %lld) differ from "
                     "its parent's split (%lld, %lld)",
                     b->run.rounds.round, ids[i], (long long)s->total_g, (long long)s->total_h,
                     (long long)g->tg, (long long)g->th);
    /* bin -1 (every value right) and the last value bin (every value
     * left) split the missing rows off alone */
    if (s->found && (s->feature < 0 || s->feature >= b->nf || s->bin < -1 ||
                     s->bin >= b->cuts.n_bins[s->feature]))
      return kz_fail(KZ_ERR_INTERNAL,
                     "gbdt on cuda: round %d: node %d: split on feature %d bin %d "
                     "is out of range",
                     b->run.rounds.round, ids[i], s->feature, s->bin);
    g->split = *s;
    if (!s->found) g->split.feature = -1;
  }
  return KZ_OK;
}

/* One depthwise tree for output group k into b->nodes (grow.c's order). */
static kz_status grow_tree(kz_gbdt_gpu_booster *b, int k) {
  const kz_gbdt_params *p = &b->p;
  const int nf = b->nf;
  const int64_t n = b->n;
  const size_t per_node = (size_t)nf * HIST_ENTRIES;
  const int64_t *qgh = b->d_qgh + 2 * k;
  const int64_t stride = 2 * (int64_t)b->run.K;
  b->n_nodes = 0;
  KZ_TRY(kz_copy_on_device(b->s, b->d_rows, b->d_iota, sizeof(int32_t) * (size_t)n));
  int32_t root = add_node(b, 0, 0, n, 0, 0);
  if (root < 0) return oom();
  KZ_TRY(host_level(b, 1));
  int cur = 0;
  KZ_TRY(dgrow(b, (void **)&b->d_hist[cur], &b->cap_hist[cur], 1, sizeof(int64_t) * per_node,
               "histograms"));
  KZ_TRY(b->kz->histogram(b->s, b->d_codes, n, nf, NULL, n, qgh, stride, b->d_hist[cur]));
  b->level[0] = root;
  int64_t n_level = 1;
  /* max_depth >= 1 whenever it is set (gbdt_params.c), so the root is
   * always evaluated; its sums come with its split result. */
  KZ_TRY(evaluate_level(b, b->d_hist[cur], b->level, 1, k, 0));
  b->nodes[root].tg = b->nodes[root].split.total_g;
  b->nodes[root].th = b->nodes[root].split.total_h;
  int64_t leaves = 1;
  for (;;) {
    int64_t n_exp = 0;
    for (int64_t i = 0; i < n_level; ++i)
      if (b->nodes[b->level[i]].split.found) b->expand[n_exp++] = (int32_t)i;
    if (p->max_leaves > 0) {
      int64_t room = p->max_leaves - leaves;
      if (n_exp > room) n_exp = room > 0 ? room : 0;
    }
    if (n_exp == 0) break;
    /* 1. partitions, each node's rows into the same range of tmp and back */
    KZ_TRY(dgrow(b, (void **)&b->d_nleft, &b->cap_nleft, n_exp, sizeof(int64_t), "row counts"));
    for (int64_t j = 0; j < n_exp; ++j) {
      const gnode *g = &b->nodes[b->level[b->expand[j]]];
      int64_t cnt = g->end - g->begin;
      KZ_TRY(b->kz->partition(b->s, b->d_codes, nf, b->d_rows + g->begin, cnt, g->split.feature,
                              g->split.bin, g->split.default_left, b->d_tmp + g->begin,
                              b->d_nleft + j));
      KZ_TRY(kz_copy_on_device(b->s, b->d_rows + g->begin, b->d_tmp + g->begin,
                               sizeof(int32_t) * (size_t)cnt));
    }
    KZ_TRY(kz_copy_to_host(b->s, b->nleft, b->d_nleft, sizeof(int64_t) * (size_t)n_exp));
    KZ_TRY(kz_stream_sync(b->s));
    /* 2. children in expansion order; histograms only where they will be
     * searched (grow.c builds them at max_depth too, but never reads them) */
    int32_t depth = b->nodes[b->level[0]].depth + 1;
    int search = p->max_depth <= 0 || depth < p->max_depth;
    int nxt = 1 - cur;
    KZ_TRY(host_level(b, 2 * n_exp));
    if (search)
      KZ_TRY(dgrow(b, (void **)&b->d_hist[nxt], &b->cap_hist[nxt], 2 * n_exp,
                   sizeof(int64_t) * per_node, "histograms"));
    for (int64_t j = 0; j < n_exp; ++j) {
      int32_t pid = b->level[b->expand[j]];
      gnode par = b->nodes[pid];
      int64_t cnt = par.end - par.begin, nl = b->nleft[j];
      if (nl < 0 || nl > cnt)
        return kz_fail(KZ_ERR_INTERNAL,
                       "gbdt on cuda: round %d: the partition of node %d sent %lld of %lld rows "
                       "left",
                       b->run.rounds.round, pid, (long long)nl, (long long)cnt);
      int32_t l = add_node(b, depth, par.begin, par.begin + nl, par.split.left_g, par.split.left_h);
      int32_t r = add_node(b, depth, par.begin + nl, par.end, par.split.total_g - par.split.left_g,
                           par.split.total_h - par.split.left_h);
      if (l < 0 || r < 0) return oom();
      b->nodes[pid].left = l;
      b->nodes[pid].right = r;
      ++leaves;
      b->next_level[2 * j] = l;
      b->next_level[2 * j + 1] = r;
      if (!search) continue;
      /* 3. the smaller child from its rows, the larger by subtraction */
      int small_left = nl <= cnt - nl;
      const gnode *sm = &b->nodes[small_left ? l : r];
      int64_t *h_small = b->d_hist[nxt] + (size_t)(2 * j + (small_left ? 0 : 1)) * per_node;
      int64_t *h_large = b->d_hist[nxt] + (size_t)(2 * j + (small_left ? 1 : 0)) * per_node;
      KZ_TRY(b->kz->histogram(b->s, b->d_codes, n, nf, b->d_rows + sm->begin, sm->end - sm->begin,
                              qgh, stride, h_small));
      KZ_TRY(b->kz->hist_subtract(b->s, b->d_hist[cur] + (size_t)b->expand[j] * per_node, h_small,
                                  h_large, nf));
    }
    if (!search) break;
    int32_t *t = b->level;
    b->level = b->next_level;
    b->next_level = t;
    n_level = 2 * n_exp;
    cur = nxt;
    /* 4. the split search of the whole level in one call */
    KZ_TRY(evaluate_level(b, b->d_hist[cur], b->level, n_level, k, 1));
  }
  return KZ_OK;
}

/* The grown tree as grower nodes with de-quantised sums, pruned; leaf
 * values; the model tree; then the margins of train and valid rows. */
static kz_status finish_tree(kz_gbdt_gpu_booster *b, int k, kz_gbdt_bnode *bn, double *leaf) {
  const kz_gbdt_params *p = &b->p;
  const double sg = b->scale[2 * k], sh = b->scale[2 * k + 1];
  const int K = b->run.K;
  for (int32_t i = 0; i < b->n_nodes; ++i) {
    const gnode *g = &b->nodes[i];
    kz_gbdt_bnode *o = &bn[i];
    memset(o, 0, sizeof *o);
    o->left = g->left;
    o->right = g->right;
    o->depth = g->depth;
    o->begin = g->begin;
    o->end = g->end;
    o->g = (double)g->tg * sg;
    o->h = (double)g->th * sh;
    o->weight = kz_gbdt_calc_weight(&b->sp, o->g, o->h);
    o->split.feature = g->left >= 0 ? g->split.feature : -1;
    o->split.gain = g->split.gain;
    o->split.bin = g->split.bin;
    o->split.default_left = g->split.default_left;
    o->split.gl = (double)g->split.left_g * sg;
    o->split.hl = (double)g->split.left_h * sh;
    o->split.gr = (double)(g->split.total_g - g->split.left_g) * sg;
    o->split.hr = (double)(g->split.total_h - g->split.left_h) * sh;
  }
  if (p->gamma > 0) kz_gbdt_prune(bn, 0, p->gamma);
  /* The device's final row order: each leaf's rows are bn[leaf].begin..end. */
  KZ_TRY(kz_copy_to_host(b->s, b->rows, b->d_rows, sizeof(int32_t) * (size_t)b->n));
  KZ_TRY(kz_stream_sync(b->s));
  double level;
  int refit =
      kz_gbdt_objective_refits_leaves((kz_gbdt_objective)p->objective, p->quantile_alpha, &level);
  for (int32_t i = 0; i < b->n_nodes; ++i) {
    leaf[i] = 0;
    if (bn[i].split.feature >= 0) continue;
    double v = bn[i].weight;
    if (refit) {
      int64_t m = bn[i].end - bn[i].begin;
      for (int64_t j = 0; j < m; ++j) {
        int32_t r = b->rows[bn[i].begin + j];
        b->resid[j] = (double)b->run.train->label[r] - b->run.margin[(int64_t)r * K + k];
      }
      v = kz_gbdt_quantile(b->resid, m, level);
    }
    leaf[i] = (double)(float)(p->eta * v); /* the stored float, as booster.c */
  }
  kz_gbdt_tree tree;
  KZ_TRY(kz_gbdt_tree_from_bnodes(bn, b->n_nodes, leaf, &b->cuts, &tree));
  kz_status st = kz_gbdt_model_push(b->run.model, &b->run.cap_trees, &tree, k);
  if (st != KZ_OK) {
    kz_gbdt_tree_free(&tree);
    return st;
  }
  /* Depth-first from the root: leaves under a pruned node are skipped. At
   * most n_nodes entries are ever on the stack. */
  int32_t *stack = malloc(sizeof(int32_t) * (size_t)(b->n_nodes + 1)), top = 0;
  if (!stack) return oom();
  stack[top++] = 0;
  while (top > 0) {
    int32_t i = stack[--top];
    if (bn[i].split.feature >= 0) {
      stack[top++] = bn[i].right;
      stack[top++] = bn[i].left;
      continue;
    }
    for (int64_t j = bn[i].begin; j < bn[i].end; ++j)
      b->run.margin[(int64_t)b->rows[j] * K + k] += leaf[i];
  }
  free(stack);
  if (b->run.valid) {
    const kz_gbdt_data *v = b->run.valid;
    const kz_gbdt_tree *tr = &b->run.model->trees[b->run.model->n_trees - 1];
    for (int64_t r = 0; r < v->n; ++r)
      b->run.vmargin[r * K + k] +=
          kz_gbdt_tree_predict_row(tr, v->num + r * v->n_numeric, NULL, v->n_numeric);
  }
  return KZ_OK;
}

kz_status kz_gbdt_gpu_booster_round(kz_gbdt_gpu_booster *b, double *train_m, double *valid_m,
                                    int *stop) {
  const kz_gbdt_params *p = &b->p;
  const int64_t n = b->n;
  const int K = b->run.K;
  *stop = 0;
  /* Gradients from the margins before this round's trees (booster.c). */
  for (int64_t i = 0; i < n * K; ++i) b->fmargin[i] = (float)b->run.margin[i];
  KZ_TRY(kz_copy_to_device(b->s, b->d_margin, b->fmargin, sizeof(float) * (size_t)(n * K)));
  const kz_gbdt_dev_loss loss = {(kz_gbdt_dev_objective)p->objective, K, p->quantile_alpha,
                                 KZ_GBDT_GPU_POISSON_MAX_DELTA};
  KZ_TRY(b->kz->gradients(b->s, &loss, b->d_margin, b->d_label, NULL, n, b->d_gh));
  KZ_TRY(b->kz->quantise(b->s, b->d_gh, n, K, b->d_max, b->d_scale, b->d_qgh));
  KZ_TRY(kz_copy_to_host(b->s, b->scale, b->d_scale, sizeof(double) * 2 * (size_t)K));
  KZ_TRY(kz_stream_sync(b->s));
  for (int c = 0; c < 2 * K; ++c)
    if (!isfinite(b->scale[c]))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "gbdt on cuda: round %d: the %s of output group %d are not finite (the "
                     "margins overflowed; lower eta)",
                     b->run.rounds.round, c % 2 ? "hessians" : "gradients", c / 2);
  kz_gbdt_bnode *bn = NULL;
  double *leaf = NULL;
  kz_status st = KZ_OK;
  for (int k = 0; k < K && st == KZ_OK; ++k) {
    st = grow_tree(b, k);
    if (st != KZ_OK) break;
    free(bn);
    free(leaf);
    bn = malloc(sizeof(kz_gbdt_bnode) * (size_t)b->n_nodes);
    leaf = malloc(sizeof(double) * (size_t)b->n_nodes);
    if (!bn || !leaf) st = oom();
    if (st == KZ_OK) st = finish_tree(b, k, bn, leaf);
  }
  free(bn);
  free(leaf);
  KZ_TRY(st);
  kz_gbdt_run_end(&b->run, p, train_m, valid_m, stop);
  return KZ_OK;
}

void kz_gbdt_gpu_booster_get_state(const kz_gbdt_gpu_booster *b, kz_gbdt_booster_state *s) {
  kz_gbdt_run_get_state(&b->run, 0, s);
}

/* The margins go up to the device at the start of every round, so the host
 * copies are all the state there is. */
kz_status kz_gbdt_gpu_booster_set_state(kz_gbdt_gpu_booster *b, const kz_gbdt_booster_state *s,
                                        kz_gbdt_model **trees, const char *where) {
  return kz_gbdt_run_set_state(&b->run, s, trees, where);
}

/* The host margins are the state a round starts from (they go up to the
 * device every round), so continuing a model needs nothing of the device. */
kz_status kz_gbdt_gpu_booster_init_from(kz_gbdt_gpu_booster *b, kz_gbdt_model **init,
                                        const char *where) {
  return kz_gbdt_run_init_from(&b->run, init, b->p.nthread, where);
}

kz_status kz_gbdt_gpu_booster_finish(kz_gbdt_gpu_booster *b, kz_gbdt_model **out) {
  *out = kz_gbdt_run_take_model(&b->run, &b->p);
  kz_gbdt_gpu_booster_free(b);
  return KZ_OK;
}

kz_status kz_gbdt_gpu_train(const kz_gbdt_params *p, const kz_gbdt_data *train,
                            const kz_gbdt_data *valid, const kz_gbdt_gpu_options *o,
                            kz_gbdt_model **out) {
  kz_gbdt_gpu_booster *b;
  KZ_TRY(kz_gbdt_gpu_booster_create(p, train, valid, o, &b));
  int stop = 0;
  while (!stop) {
    kz_status st = kz_gbdt_gpu_booster_round(b, NULL, NULL, &stop);
    if (st != KZ_OK) {
      kz_gbdt_gpu_booster_free(b);
      return st;
    }
  }
  return kz_gbdt_gpu_booster_finish(b, out);
}
