/* Data-parallel boosting (docs/DISTRIBUTED.md): each rank holds a contiguous
 * slice of the training rows (rank order = row order) and the whole
 * validation set. What needs every row goes through the callbacks, which the
 * engine implements over its communicator (models do not include engine/):
 *   - the bin edges: every rank gathers the numeric features and builds the
 *     cuts from all rows, so they are the single-process cuts;
 *   - the base score: from every label, gathered the same way;
 *   - histograms and node sums: summed over ranks. With exact_histograms
 *     (booster.h) gradients sit on a grid fine enough that every partial sum
 *     is exact in double, so the sums, and with them every split, leaf value
 *     and the saved model, do not depend on how the rows are split between
 *     ranks or threads: `mpirun -np N` writes the model one process writes.
 * Unsupported with more than one rank: the objectives that refit leaves from
 * residuals (quantile, absolute error) and the GPU booster. */
#ifndef KZ_MODELS_GBDT_GBDT_DIST_H
#define KZ_MODELS_GBDT_GBDT_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

typedef struct kz_gbdt_dist {
  void *ctx;
  int rank, size;
  int64_t row0, n_total; /* this rank's rows are [row0, row0 + n) of n_total */
  /* in place over ranks */
  kz_status (*sum)(void *ctx, double *buf, size_t n);
  kz_status (*max)(void *ctx, double *buf, size_t n);
  /* every rank's rows (row_bytes each) concatenated in rank order into
   * all[n_total x row_bytes] */
  kz_status (*gather_rows)(void *ctx, const void *mine, int64_t rows, void *all, size_t row_bytes);
} kz_gbdt_dist;

/* Rounds gh[n] (g then h interleaved, K groups of n) onto power-of-two
 * grids, one for g and one for h per group, chosen from the largest
 * magnitude over all ranks (dist NULL: this process) so that sums of up to
 * n_total values are exact in double. */
kz_status kz_gbdt_quantize_gradients(void *gh, int64_t n, int K, int64_t n_total,
                                     const kz_gbdt_dist *dist);

#endif
