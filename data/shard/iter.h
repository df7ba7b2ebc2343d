/* Batch iteration over a data set for rank r of a world of w: the ranks get
 * disjoint row sets whose union is the whole data set (sizes differ by at most
 * one row). With shuffle, blocks of window_rows rows are put in an order drawn
 * from (seed, epoch) and rows are permuted within each block, so every rank
 * computes the same global order without communicating and reads stay
 * contiguous. A background thread prefetches batches, holding at most
 * prefetch_bytes of them; it makes every HDF5 call of the iteration. Memory
 * held: the prefetched batches (prefetch_bytes) plus, with shuffle, one
 * window of window_rows rows that the thread permutes (about 32 MiB by
 * default), so the bound is prefetch_bytes + window bytes.
 *
 *   kz_shard_iter *it;
 *   KZ_TRY(kz_shard_iter_open(ds, &o, &it));
 *   const kz_shard_batch *b;
 *   while ((st = kz_shard_iter_next(it, &b)) == KZ_OK && b) { ... b->rows rows ... }
 *   kz_shard_iter_close(it);
 *
 * The data set must outlive the iterator and must not be read through other
 * calls meanwhile. A batch stays valid until the next kz_shard_iter_next. */
#ifndef KZ_DATA_SHARD_ITER_H
#define KZ_DATA_SHARD_ITER_H

#include "data/shard/batch.h"
#include "data/shard/reader.h"

typedef struct kz_shard_iter kz_shard_iter;

typedef struct kz_shard_iter_options {
  int rank, world;    /* default 0 of 1 */
  int64_t batch_size; /* default 256 */
  int shuffle;        /* 0: rows in storage order */
  uint64_t seed;
  int64_t epoch;
  int64_t window_rows;   /* shuffle block; 0: about 32 MiB of rows */
  size_t prefetch_bytes; /* bound on batches held ahead (default 64 MiB; at least 2 batches) */
  int drop_last;         /* skip a final short batch */
  /* 0: rank r gets a contiguous 1/world of the epoch's order (above). > 0:
   * the order is cut into stripes of stripe_rows rows dealt to the ranks in
   * turn, so with stripe_rows = the per-rank batch, batch k of every rank
   * together are rows [k x B, (k + 1) x B) of the order (B = batch x world):
   * the global batch one process of batch B would read. Data-parallel
   * training uses it to follow the single-process run step for step; each
   * rank then reads every block (shuffled windows hold rows of every rank)
   * and keeps its stripes. */
  int64_t stripe_rows;
} kz_shard_iter_options;

void kz_shard_iter_options_default(kz_shard_iter_options *o);
kz_status kz_shard_iter_open(kz_dataset *ds, const kz_shard_iter_options *o, kz_shard_iter **out);
/* *batch is NULL after the last batch. */
kz_status kz_shard_iter_next(kz_shard_iter *it, const kz_shard_batch **batch);
/* Rows this rank will see in the epoch (before drop_last). */
int64_t kz_shard_iter_rows(const kz_shard_iter *it);
void kz_shard_iter_close(kz_shard_iter *it);

#endif
