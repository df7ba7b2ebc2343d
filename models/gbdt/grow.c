/* Tree growth (grow.h). A node's best split is found as soon as its
 * histogram exists; expanding it partitions its rows, builds the smaller
 * child's histogram from rows and the larger one by subtraction. Depthwise
 * expands nodes in creation (breadth-first) order, lossguide the pending
 * node with the largest gain. */
#include "models/gbdt/grow.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"

static size_t hist_len(const kz_gbdt_grower *w) {
  return w->layout.len;
}

kz_status kz_gbdt_grower_init(kz_gbdt_grower *w, const kz_gbdt_params *p, const kz_gbdt_cuts *cuts,
                              const uint8_t *codes, int64_t stride, int miss, int64_t n_rows,
                              int threads) {
  memset(w, 0, sizeof *w);
  w->p = p;
  w->cuts = cuts;
  w->codes = codes;
  w->stride = stride;
  w->miss = miss;
  w->nf = cuts->n_features;
  w->threads = kz_gbdt_threads(threads);
  w->sp = (kz_gbdt_split_params){p->lambda, p->alpha, p->min_child_weight, p->max_cat_to_onehot};
  int nf = w->nf > 0 ? w->nf : 1;
  KZ_TRY(kz_gbdt_hist_layout_init(&w->layout, w->nf, cuts->n_bins, 1));
  w->layout.stride = stride;
  w->layout.miss = miss;
  w->scratch = malloc(sizeof(kz_gbdt_gh) * hist_len(w) * (size_t)w->threads + 1);
  w->tmp = malloc(sizeof(int32_t) * (size_t)(n_rows > 0 ? n_rows : 1));
  w->tmp_cap = n_rows;
  w->tree_features = malloc(sizeof(int32_t) * (size_t)nf);
  w->node_features = malloc(sizeof(int32_t) * (size_t)nf);
  if (!w->scratch || !w->tmp || !w->tree_features || !w->node_features) {
    kz_gbdt_grower_free(w);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory for the tree workspace");
  }
  return KZ_OK;
}

kz_status kz_gbdt_columns_build(const uint8_t *codes, int64_t n, int nf, int64_t stride,
                                int threads, uint8_t **out) {
  *out = malloc((size_t)(n > 0 ? n : 1) * (size_t)(nf > 0 ? nf : 1));
  if (!*out)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory for the codes by column of %lld rows",
                   (long long)n);
  uint8_t *cols = *out;
  /* blocks of rows, so each thread writes nf short runs, not nf bytes apart */
  int64_t blocks = (n + 4095) / 4096;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && blocks > 1)
  for (int64_t bl = 0; bl < blocks; ++bl) {
    int64_t lo = bl * 4096, hi = lo + 4096 < n ? lo + 4096 : n;
    for (int f = 0; f < nf; ++f) {
      uint8_t *col = cols + (int64_t)f * n;
      for (int64_t r = lo; r < hi; ++r) col[r] = codes[r * stride + f];
    }
  }
  return KZ_OK;
}

void kz_gbdt_grower_free(kz_gbdt_grower *w) {
  for (int i = 0; i < w->pool_n; ++i) free(w->hist_pool[i]);
  free(w->hist_pool);
  free(w->scratch);
  free(w->tmp);
  free(w->tree_features);
  free(w->node_features);
  free(w->kid_features);
  free(w->kid_count);
  free(w->nodes);
  free(w->node_hist);
  kz_gbdt_hist_layout_free(&w->layout);
  memset(w, 0, sizeof *w);
}

static kz_gbdt_gh *hist_get(kz_gbdt_grower *w) {
  if (w->pool_n > 0) return w->hist_pool[--w->pool_n];
  return malloc(sizeof(kz_gbdt_gh) * hist_len(w) + 1);
}

static void hist_put(kz_gbdt_grower *w, kz_gbdt_gh *h) {
  if (!h) return;
  if (w->pool_n == w->pool_cap) {
    int cap = w->pool_cap ? 2 * w->pool_cap : 16;
    kz_gbdt_gh **np = realloc(w->hist_pool, sizeof(*np) * (size_t)cap);
    if (!np) {
      free(h);
      return;
    }
    w->hist_pool = np;
    w->pool_cap = cap;
  }
  w->hist_pool[w->pool_n++] = h;
}

static int32_t new_node(kz_gbdt_grower *w, int depth, int64_t begin, int64_t end, double g,
                        double h) {
  if (w->n_nodes == w->cap_nodes) {
    int cap = w->cap_nodes ? 2 * w->cap_nodes : 64;
    kz_gbdt_bnode *nn = realloc(w->nodes, sizeof(*nn) * (size_t)cap);
    if (!nn) return -1;
    w->nodes = nn;
    kz_gbdt_gh **nh = realloc(w->node_hist, sizeof(*nh) * (size_t)cap);
    if (!nh) return -1;
    w->node_hist = nh;
    w->cap_nodes = cap;
  }
  int32_t id = w->n_nodes++;
  kz_gbdt_bnode *n = &w->nodes[id];
  memset(n, 0, sizeof *n);
  n->left = n->right = -1;
  n->depth = depth;
  n->begin = begin;
  n->end = end;
  n->g = g;
  n->h = h;
  n->weight = kz_gbdt_calc_weight(&w->sp, g, h);
  n->split.feature = -1;
  w->node_hist[id] = NULL;
  return id;
}

/* Picks k = max(1, floor(frac * n)) of in[0..n) (sorted result) into out. */
static int sample_features(const int32_t *in, int n, double frac, kz_gbdt_rng *rng, int32_t *out) {
  memcpy(out, in, sizeof(int32_t) * (size_t)n);
  if (frac >= 1.0 || n <= 1) return n;
  int k = (int)(frac * n);
  if (k < 1) k = 1;
  for (int i = 0; i < k; ++i) {
    int j = i + (int)(kz_gbdt_rng_next(rng) % (uint64_t)(n - i));
    int32_t t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  /* insertion sort keeps the scan order (and so tie-breaking) by feature */
  for (int i = 1; i < k; ++i)
    for (int j = i; j > 0 && out[j - 1] > out[j]; --j) {
      int32_t t = out[j];
      out[j] = out[j - 1];
      out[j - 1] = t;
    }
  return k;
}

/* The features node id may split on (sampled from rng) into out; -1 when
 * the node is at max_depth and gets no search (nothing drawn). */
static int draw_features(kz_gbdt_grower *w, int32_t id, int n_tree_features, kz_gbdt_rng *rng,
                         int32_t *out) {
  const kz_gbdt_params *p = w->p;
  /* max_depth 0 ("unlimited", lossguide) still stops at the depth every
   * loader accepts, so a trained model always loads. */
  int max_depth = p->max_depth > 0 ? p->max_depth : KZ_GBDT_MAX_DEPTH;
  if (w->nodes[id].depth >= max_depth) return -1;
  return sample_features(w->tree_features, n_tree_features, p->colsample_bynode, rng, out);
}

static void search(kz_gbdt_grower *w, int32_t id, const int32_t *features, int k) {
  kz_gbdt_bnode *n = &w->nodes[id];
  kz_gbdt_find_split_layout(w->node_hist[id], &w->layout, w->cuts, features, k, &w->sp, n->g, n->h,
                            &n->split);
}

static void evaluate(kz_gbdt_grower *w, int32_t id, int n_tree_features, kz_gbdt_rng *rng) {
  int k = draw_features(w, id, n_tree_features, rng, w->node_features);
  if (k >= 0) search(w, id, w->node_features, k);
}

static kz_status reserve_kids(kz_gbdt_grower *w, int n) {
  if (n <= w->cap_kids) return KZ_OK;
  int cap = n > 2 * w->cap_kids ? n : 2 * w->cap_kids;
  size_t nf = (size_t)(w->nf > 0 ? w->nf : 1);
  int32_t *f = realloc(w->kid_features, sizeof(int32_t) * nf * (size_t)cap);
  if (f) w->kid_features = f;
  int32_t *c = realloc(w->kid_count, sizeof(int32_t) * (size_t)cap);
  if (c) w->kid_count = c;
  if (!f || !c) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory growing a tree");
  w->cap_kids = cap;
  return KZ_OK;
}

/* c: the row's code; full: the feature has 256 value bins, so code 255 is
 * missing only where the row's bit (bit) says so. */
static inline int goes_left(const kz_gbdt_split *s, uint8_t c, int full, int bit) {
  if (c == KZ_GBDT_MISSING_BIN && (!full || bit)) return s->default_left;
  if (s->is_cat) return !kz_gbdt_mask_has(s->cat_mask, c);
  return c <= s->bin;
}

int32_t kz_gbdt_bnode_leaf(const kz_gbdt_bnode *nodes, const kz_gbdt_cuts *cuts,
                           const uint8_t *row_codes, const uint8_t *row_miss) {
  int32_t id = 0;
  while (nodes[id].split.feature >= 0) {
    int f = nodes[id].split.feature;
    int full = kz_gbdt_feature_full(cuts, f);
    int bit = full && row_miss ? kz_gbdt_missing_has(row_miss, f) : 0;
    id = goes_left(&nodes[id].split, row_codes[f], full, bit) ? nodes[id].left : nodes[id].right;
  }
  return id;
}

/* Stable partition of the node's rows: left ones first. Returns the count.
 * Large nodes go parallel over row blocks (partition below). */
#define KZ_GBDT_PARALLEL_PARTITION_ROWS 65536
/* Nodes with at least this many rows get a row-parallel histogram build. */
#define KZ_GBDT_PARALLEL_HIST_NODE_ROWS 32768
#define KZ_GBDT_PARALLEL_HIST_FEW_NODE_ROWS 4096

/* Stable split of rows[lo, hi): the left rows end up compacted at
 * rows[lo, lo + returned count), the right ones, in order, at tmp[0, hi -
 * lo - count). */
static int64_t split_block(const kz_gbdt_grower *w, const kz_gbdt_split *s, int32_t *rows,
                           int32_t *tmp, int64_t lo, int64_t hi) {
  int f = s->feature;
  /* The feature's codes: its column when there is one (a node's rows are
   * in row order, so reads go front to back), else a byte of every row. */
  const uint8_t *src = w->cols ? w->cols + (int64_t)f * w->n_rows : w->codes + f;
  int64_t step = w->cols ? 1 : w->stride;
  int64_t nl = lo, nr = 0;
  if (s->is_cat) {
    for (int64_t i = lo; i < hi; ++i) {
      int32_t r = rows[i];
      /* row indices hide the access pattern from the hardware prefetcher */
      if (i + 32 < hi) __builtin_prefetch(src + (int64_t)rows[i + 32] * step);
      if (goes_left(s, src[(int64_t)r * step], 0, 0)) /* categorical: never 256 bins */
        rows[nl++] = r;
      else
        tmp[nr++] = r;
    }
    return nl - lo;
  }
  /* A 256-bin feature has no missing code (255 is a value bin): where rows
   * carry missing bits, a code 255 looks its bit up in the row (rare: 1/256
   * of the values plus the missing ones). */
  int full = kz_gbdt_feature_full(w->cuts, f), bin = s->bin, dl = s->default_left;
  int miss_code = full ? 256 : KZ_GBDT_MISSING_BIN, check_bit = full && w->miss;
  const uint8_t *bits = w->codes + w->nf + (f >> 3);
  int shift = f & 7;
  /* Branch-free: each row is written to both sides and only one cursor
   * moves (rows[nl] is at or behind the row being read). The side a row
   * takes is data-dependent, a branch the predictor misses often. */
  for (int64_t i = lo; i < hi; ++i) {
    int32_t r = rows[i];
    if (i + 32 < hi) __builtin_prefetch(src + (int64_t)rows[i + 32] * step);
    int c = src[(int64_t)r * step];
    int left = c == miss_code ? dl : c <= bin;
    if (check_bit && c == KZ_GBDT_MISSING_BIN && ((bits[(int64_t)r * w->stride] >> shift) & 1))
      left = dl;
    rows[nl] = r;
    tmp[nr] = r;
    nl += left;
    nr += left ^ 1;
  }
  return nl - lo;
}

static int64_t partition(kz_gbdt_grower *w, const kz_gbdt_split *s, int32_t *rows, int64_t begin,
                         int64_t end) {
  int64_t n = end - begin;
  if (w->threads > 1 && n >= KZ_GBDT_PARALLEL_PARTITION_ROWS) {
    /* Each thread splits its block in one pass over the (randomly placed)
     * codes; the blocks' sides are then put in place with sequential
     * copies, in block order (stable, as the serial split). */
    int64_t counts[256];
    int nt_used = w->threads < 256 ? w->threads : 256, team = 1;
#pragma omp parallel num_threads(nt_used)
    {
      int t = omp_get_thread_num(), nt = omp_get_num_threads();
      int64_t lo = begin + n * t / nt, hi = begin + n * (t + 1) / nt;
      counts[t] = split_block(w, s, rows, w->tmp + lo, lo, hi);
      if (t == 0) team = nt;
    }
    /* left blocks move down in order (each lands at or below its source,
     * past the end of the earlier ones), then the right blocks follow */
    int64_t pos = begin;
    for (int t = 0; t < team; ++t) {
      int64_t lo = begin + n * t / team;
      memmove(rows + pos, rows + lo, sizeof(int32_t) * (size_t)counts[t]);
      pos += counts[t];
    }
    int64_t total_left = pos - begin;
    for (int t = 0; t < team; ++t) {
      int64_t lo = begin + n * t / team, hi = begin + n * (t + 1) / team;
      memcpy(rows + pos, w->tmp + lo, sizeof(int32_t) * (size_t)(hi - lo - counts[t]));
      pos += hi - lo - counts[t];
    }
    return total_left;
  }
  /* tmp[begin, end) is this node's own scratch: nodes of one level can be
   * partitioned concurrently. */
  int64_t nl = split_block(w, s, rows, w->tmp + begin, begin, end);
  memcpy(rows + begin + nl, w->tmp + begin, sizeof(int32_t) * (size_t)(n - nl));
  return nl;
}

void kz_gbdt_prune(kz_gbdt_bnode *nodes, int32_t id, double gamma) {
  kz_gbdt_bnode *n = &nodes[id];
  if (n->split.feature < 0) return;
  kz_gbdt_prune(nodes, n->left, gamma);
  kz_gbdt_prune(nodes, n->right, gamma);
  if (nodes[n->left].split.feature < 0 && nodes[n->right].split.feature < 0 &&
      n->split.gain < gamma)
    n->split.feature = -1;
}

/* Sums over the ranks of a data-parallel job (nothing in one process). */
static kz_status dist_sum(const kz_gbdt_grower *w, double *buf, size_t n) {
  if (!w->dist || w->dist->size <= 1) return KZ_OK;
  return w->dist->sum(w->dist->ctx, buf, n);
}

static kz_status oom(void) {
  return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory growing a tree");
}

kz_status kz_gbdt_grow(kz_gbdt_grower *w, const kz_gbdt_gh *gh, int32_t *rows, int64_t n,
                       kz_gbdt_rng *rng) {
  const kz_gbdt_params *p = w->p;
  w->n_nodes = 0;
  if (n > w->tmp_cap) return kz_fail(KZ_ERR_INTERNAL, "gbdt: grower sized for fewer rows");
  for (int f = 0; f < w->nf; ++f) w->tree_features[f] = f;
  int32_t *all = w->node_features; /* temporarily: the tree's sample */
  int n_tree = sample_features(w->tree_features, w->nf, p->colsample_bytree, rng, all);
  memcpy(w->tree_features, all, sizeof(int32_t) * (size_t)n_tree);

  double gh0[2] = {0, 0};
  for (int64_t i = 0; i < n; ++i) {
    gh0[0] += gh[rows[i]].g;
    gh0[1] += gh[rows[i]].h;
  }
  KZ_TRY(dist_sum(w, gh0, 2));
  int32_t root = new_node(w, 0, 0, n, gh0[0], gh0[1]);
  if (root < 0) return oom();
  w->node_hist[root] = hist_get(w);
  if (!w->node_hist[root]) return oom();
  kz_gbdt_hist_build_layout(&w->layout, w->codes, gh, rows, n, w->threads, w->scratch,
                            w->node_hist[root]);
  KZ_TRY(dist_sum(w, (double *)w->node_hist[root], 2 * hist_len(w)));
  evaluate(w, root, n_tree, rng);

  /* pending: nodes with a valid split, waiting for expansion */
  int32_t *pending = malloc(sizeof(int32_t) * 64);
  int n_pending = 0, cap_pending = 64, head = 0;
  if (!pending) return oom();
  kz_status st = KZ_OK;
  if (w->nodes[root].split.feature >= 0)
    pending[n_pending++] = root;
  else {
    hist_put(w, w->node_hist[root]);
    w->node_hist[root] = NULL;
  }
  int leaves = 1;
  /* Expansion goes in batches: depthwise takes every pending node of the
   * shallowest level, lossguide the single best one. Within a batch, the
   * partitions and the smaller children's histograms of small nodes run in
   * parallel across nodes (each node's work stays serial, so results do not
   * depend on the thread count); large nodes use all threads on their rows. */
  int32_t *batch = NULL, *small = NULL, *large = NULL;
  int64_t *nls = NULL;
  double *sizes = NULL; /* data-parallel: the batch's child sizes over all ranks */
  int cap_batch = 0;
  while (head < n_pending && st == KZ_OK) {
    if (p->max_leaves > 0 && leaves >= p->max_leaves) break;
    int nb = 1;
    if (p->grow_policy == KZ_GBDT_LOSSGUIDE) {
      int pick = head;
      for (int i = head + 1; i < n_pending; ++i)
        if (w->nodes[pending[i]].split.gain > w->nodes[pending[pick]].split.gain) pick = i;
      int32_t t = pending[pick];
      pending[pick] = pending[head];
      pending[head] = t;
    } else {
      int d = w->nodes[pending[head]].depth;
      while (head + nb < n_pending && w->nodes[pending[head + nb]].depth == d) ++nb;
    }
    if (p->max_leaves > 0 && nb > p->max_leaves - leaves) nb = p->max_leaves - leaves;
    if (nb > cap_batch) {
      int cap = nb > 2 * cap_batch ? nb : 2 * cap_batch;
      int32_t *nb1 = realloc(batch, sizeof(int32_t) * (size_t)cap);
      if (nb1) batch = nb1;
      int32_t *nb2 = realloc(small, sizeof(int32_t) * (size_t)cap);
      if (nb2) small = nb2;
      int32_t *nb3 = realloc(large, sizeof(int32_t) * (size_t)cap);
      if (nb3) large = nb3;
      int64_t *nb4 = realloc(nls, sizeof(int64_t) * (size_t)cap);
      if (nb4) nls = nb4;
      double *nb5 = realloc(sizes, sizeof(double) * 2 * (size_t)cap);
      if (nb5) sizes = nb5;
      if (!nb1 || !nb2 || !nb3 || !nb4 || !nb5) {
        st = oom();
        break;
      }
      cap_batch = cap;
    }
    memcpy(batch, pending + head, sizeof(int32_t) * (size_t)nb);
    head += nb;

    /* 1. partitions: big nodes one by one (parallel inside), small ones
     * spread over the threads */
    for (int i = 0; i < nb; ++i) {
      const kz_gbdt_bnode *nd = &w->nodes[batch[i]];
      if (nd->end - nd->begin >= KZ_GBDT_PARALLEL_PARTITION_ROWS)
        nls[i] = partition(w, &nd->split, rows, nd->begin, nd->end);
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(w->threads) if (w->threads > 1 && nb > 1)
    for (int i = 0; i < nb; ++i) {
      const kz_gbdt_bnode *nd = &w->nodes[batch[i]];
      if (nd->end - nd->begin < KZ_GBDT_PARALLEL_PARTITION_ROWS)
        nls[i] = partition(w, &nd->split, rows, nd->begin, nd->end);
    }
    /* every rank must pick the same smaller child: by the sizes over all
     * ranks (in one process these are the node's own) */
    for (int i = 0; i < nb; ++i) {
      const kz_gbdt_bnode *nd = &w->nodes[batch[i]];
      sizes[2 * i] = (double)nls[i];
      sizes[2 * i + 1] = (double)(nd->end - nd->begin - nls[i]);
    }
    if ((st = dist_sum(w, sizes, 2 * (size_t)nb)) != KZ_OK) break;
    /* 2. children, in batch order (node numbering is deterministic) */
    for (int i = 0; i < nb && st == KZ_OK; ++i) {
      kz_gbdt_bnode nd = w->nodes[batch[i]];
      int64_t nl = nls[i];
      const double gl = sizes[2 * i], gr = sizes[2 * i + 1];
      int32_t l = new_node(w, nd.depth + 1, nd.begin, nd.begin + nl, nd.split.gl, nd.split.hl);
      int32_t r = new_node(w, nd.depth + 1, nd.begin + nl, nd.end, nd.split.gr, nd.split.hr);
      if (l < 0 || r < 0) {
        st = oom();
        break;
      }
      w->nodes[batch[i]].left = l;
      w->nodes[batch[i]].right = r;
      ++leaves;
      small[i] = gl <= gr ? l : r;
      large[i] = gl <= gr ? r : l;
      w->node_hist[large[i]] = w->node_hist[batch[i]]; /* becomes parent - small */
      w->node_hist[batch[i]] = NULL;
      if (!(w->node_hist[small[i]] = hist_get(w))) st = oom();
    }
    if (st != KZ_OK) break;
    /* 3. the smaller children's histograms, then the larger by subtraction */
    /* a level with fewer nodes than threads keeps the threads busy on rows */
    int64_t row_parallel_min =
        nb < w->threads ? KZ_GBDT_PARALLEL_HIST_FEW_NODE_ROWS : KZ_GBDT_PARALLEL_HIST_NODE_ROWS;
    for (int i = 0; i < nb; ++i) {
      const kz_gbdt_bnode *c = &w->nodes[small[i]];
      if (c->end - c->begin >= row_parallel_min)
        kz_gbdt_hist_build_layout(&w->layout, w->codes, gh, rows + c->begin, c->end - c->begin,
                                  w->threads, w->scratch, w->node_hist[small[i]]);
    }
    /* data-parallel: the smaller children's histograms are summed over the
     * ranks before the subtraction (so each rank subtracts the same sums) */
    const int dist = w->dist && w->dist->size > 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(w->threads) if (w->threads > 1 && nb > 1)
    for (int i = 0; i < nb; ++i) {
      const kz_gbdt_bnode *c = &w->nodes[small[i]];
      if (c->end - c->begin < row_parallel_min)
        kz_gbdt_hist_build_layout(&w->layout, w->codes, gh, rows + c->begin, c->end - c->begin, 1,
                                  NULL, w->node_hist[small[i]]);
      if (!dist)
        kz_gbdt_hist_subtract_layout(&w->layout, w->node_hist[large[i]], w->node_hist[small[i]],
                                     w->node_hist[large[i]]);
    }
    if (dist) {
      for (int i = 0; i < nb && st == KZ_OK; ++i)
        st = dist_sum(w, (double *)w->node_hist[small[i]], 2 * hist_len(w));
      if (st != KZ_OK) break;
#pragma omp parallel for schedule(dynamic, 1) num_threads(w->threads) if (w->threads > 1 && nb > 1)
      for (int i = 0; i < nb; ++i)
        kz_gbdt_hist_subtract_layout(&w->layout, w->node_hist[large[i]], w->node_hist[small[i]],
                                     w->node_hist[large[i]]);
    }
    /* 4. split search on the children: the feature samples drawn serially
     * in node order (one RNG stream), the searches, which only read their
     * own histograms, in parallel, the pending list in node order */
    int nk = 2 * nb;
    if ((st = reserve_kids(w, nk)) != KZ_OK) break;
    size_t kid_stride = (size_t)(w->nf > 0 ? w->nf : 1);
    for (int j = 0; j < nk; ++j) {
      const kz_gbdt_bnode *parent = &w->nodes[batch[j >> 1]];
      w->kid_count[j] = draw_features(w, j & 1 ? parent->right : parent->left, n_tree, rng,
                                      w->kid_features + kid_stride * (size_t)j);
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(w->threads) if (w->threads > 1 && nk > 1)
    for (int j = 0; j < nk; ++j) {
      const kz_gbdt_bnode *parent = &w->nodes[batch[j >> 1]];
      if (w->kid_count[j] >= 0)
        search(w, j & 1 ? parent->right : parent->left, w->kid_features + kid_stride * (size_t)j,
               w->kid_count[j]);
    }
    for (int i = 0; i < nb && st == KZ_OK; ++i) {
      int32_t kids[2] = {w->nodes[batch[i]].left, w->nodes[batch[i]].right};
      for (int c = 0; c < 2; ++c) {
        int32_t k = kids[c];
        if (w->nodes[k].split.feature < 0) {
          hist_put(w, w->node_hist[k]);
          w->node_hist[k] = NULL;
          continue;
        }
        if (n_pending == cap_pending) {
          int32_t *np = realloc(pending, sizeof(int32_t) * (size_t)(2 * cap_pending));
          if (!np) {
            st = oom();
            break;
          }
          pending = np;
          cap_pending *= 2;
        }
        pending[n_pending++] = k;
      }
    }
  }
  free(batch);
  free(small);
  free(large);
  free(nls);
  free(sizes);
  /* Nodes never expanded stay leaves. */
  for (int i = head; i < n_pending; ++i) {
    int32_t id = pending[i];
    w->nodes[id].split.feature = -1;
    hist_put(w, w->node_hist[id]);
    w->node_hist[id] = NULL;
  }
  for (int32_t i = 0; i < w->n_nodes; ++i)
    if (w->node_hist[i]) {
      hist_put(w, w->node_hist[i]);
      w->node_hist[i] = NULL;
    }
  free(pending);
  if (st != KZ_OK) return st;
  if (p->gamma > 0) kz_gbdt_prune(w->nodes, root, p->gamma);
  return KZ_OK;
}
