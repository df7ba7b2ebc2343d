/* Growing one tree on binned rows (depthwise or lossguide), with the
 * histogram subtraction trick and in-place row partitioning. */
#ifndef KZ_MODELS_GBDT_GROW_H
#define KZ_MODELS_GBDT_GROW_H

#include <stdint.h>

#include "models/gbdt/binning.h"
#include "models/gbdt/booster.h"
#include "models/gbdt/gbdt_missing.h"
#include "models/gbdt/hist.h"
#include "models/gbdt/rng.h"
#include "models/gbdt/split.h"

/* A node while growing: its rows are rows[begin, end) of the context. */
typedef struct kz_gbdt_bnode {
  int32_t left, right, depth;
  int64_t begin, end;
  double g, h;
  double weight;       /* the optimal weight (eta not applied) */
  kz_gbdt_split split; /* split.feature -1 on leaves */
} kz_gbdt_bnode;

typedef struct kz_gbdt_grower {
  const kz_gbdt_params *p;
  const kz_gbdt_cuts *cuts;
  const uint8_t *codes; /* [n_rows x stride]: nf codes, then missing bits if miss */
  int64_t stride;
  int miss; /* rows carry missing bits of 256-bin features (gbdt_missing.h) */
  int nf, threads;
  /* cols (optional; kz_gbdt_columns_build): the codes again, column-major
   * (feature f's n_rows codes at cols + f x n_rows), for partitions. A
   * node's rows are in row order, so one feature's codes of them are read
   * front to back instead of one cache line per row. Set by the user. */
  const uint8_t *cols;
  int64_t n_rows;
  /* data-parallel (gbdt_dist.h; NULL: one process): node sums, child
   * sizes and histograms are summed over ranks. Set by the user. */
  const struct kz_gbdt_dist *dist;
  kz_gbdt_split_params sp;
  kz_gbdt_hist_layout layout; /* compact histograms (hist.h) */
  /* workspace, reused across trees */
  kz_gbdt_gh *scratch;    /* threads x layout.len */
  kz_gbdt_gh **hist_pool; /* free histogram buffers */
  int pool_n, pool_cap;
  int32_t *tmp; /* partition scratch */
  int64_t tmp_cap;
  int32_t *tree_features, *node_features;
  int32_t *kid_features, *kid_count; /* a batch's children: features drawn, how many */
  int cap_kids;
  /* the tree being grown */
  kz_gbdt_bnode *nodes;
  kz_gbdt_gh **node_hist; /* a pending node's histogram */
  int32_t n_nodes, cap_nodes;
} kz_gbdt_grower;

/* codes: rows stride bytes apart; miss: each row's missing bits follow its
 * codes (gbdt_missing.h; 0: code 255 is missing in features with at most
 * 255 value bins, a value in 256-bin ones). */
kz_status kz_gbdt_grower_init(kz_gbdt_grower *w, const kz_gbdt_params *p, const kz_gbdt_cuts *cuts,
                              const uint8_t *codes, int64_t stride, int miss, int64_t n_rows,
                              int threads);
void kz_gbdt_grower_free(kz_gbdt_grower *w);

/* The column-major copy of codes[n x stride] (nf codes a row) for
 * kz_gbdt_grower.cols; the caller frees *out. */
kz_status kz_gbdt_columns_build(const uint8_t *codes, int64_t n, int nf, int64_t stride,
                                int threads, uint8_t **out);

/* Grows a tree over rows[0..n) (partitioned in place: every node's rows end
 * up contiguous) with gradients gh[row]; rng drives colsample. Afterwards
 * w->nodes[0..n_nodes) is the tree (pruned nodes unreachable). */
kz_status kz_gbdt_grow(kz_gbdt_grower *w, const kz_gbdt_gh *gh, int32_t *rows, int64_t n,
                       kz_gbdt_rng *rng);

/* Gamma: XGBoost's post-pruning, bottom-up from node id: a node whose
 * children are both leaves becomes a leaf when its gain is below gamma. */
void kz_gbdt_prune(kz_gbdt_bnode *nodes, int32_t id, double gamma);

/* The leaf a binned row falls into; row_miss: the row's missing bits
 * (gbdt_missing.h) or NULL when rows have none. */
int32_t kz_gbdt_bnode_leaf(const kz_gbdt_bnode *nodes, const kz_gbdt_cuts *cuts,
                           const uint8_t *row_codes, const uint8_t *row_miss);

#endif
