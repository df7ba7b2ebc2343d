/* Sharded optimizer state of a training checkpoint (train.zero1 on several
 * ranks, docs/DISTRIBUTED.md "Sharded checkpoints"). Each rank writes the
 * part of the packed optimizer state it owns; rank 0 then writes a manifest
 * naming the world size and every shard's range, size and checksum, and
 * last the ckpt-<step>.kzc (parameters and state, with no optimizer state
 * block: n_state 0), which is the commit point: shards without their .kzc
 * are an interrupted checkpoint and are pruned.
 *
 *   <dir>/ckpt-<step>.shard-<rank>-of-<world>.kzs
 *     "KZS1", u32 version 1, u64 step, u32 rank, u32 world, u64 state_n,
 *     u64 first, u64 count, u32 n_state, f32 state[n_state][count],
 *     u64 kz64 of every byte before it
 *   <dir>/ckpt-<step>.shards.json
 *     {"step", "world", "n_state", "state_n",
 *      "shards": [{"file", "rank", "first", "count", "bytes", "kz64"}]}
 *
 * first/count: floats [first, first + count) of each of the n_state packed
 * state blocks of state_n floats (one process's layout), so any number of
 * ranks can read back any range (kz_ckpt_shards_read re-slices). All files
 * are written to .tmp, fsynced and renamed (kz_fs_write_atomic). */
#ifndef KZ_ENGINE_TRAIN_CKPT_SHARDS_H
#define KZ_ENGINE_TRAIN_CKPT_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

/* "<dir>/ckpt-<step>.shard-<rank>-of-<world>.kzs" */
void kz_ckpt_shard_path(const char *dir, int64_t step, int rank, int world, char *buf, size_t cap);
/* "<dir>/ckpt-<step>.shards.json" */
void kz_ckpt_manifest_path(const char *dir, int64_t step, char *buf, size_t cap);

/* What the manifest records of one shard. */
typedef struct kz_ckpt_shard_info {
  int64_t first, count;
  uint64_t bytes, hash;
} kz_ckpt_shard_info;

/* This rank's shard: state[k][count] for k < n_state, floats [first, first +
 * count) of the packed state (state_n floats a block). *info receives what
 * the manifest needs. */
kz_status kz_ckpt_shard_write(const char *dir, int64_t step, int rank, int world, int64_t state_n,
                              int64_t first, int64_t count, const float *const *state, int n_state,
                              kz_ckpt_shard_info *info);
/* Rank 0, once every shard is written: the manifest of world shards
 * (info[r]: rank r's); shard files of this step written by another world
 * size (an earlier, interrupted run) are deleted. */
kz_status kz_ckpt_manifest_write(const char *dir, int64_t step, int world, int64_t state_n,
                                 int n_state, const kz_ckpt_shard_info *info);
/* Floats [first, first + count) of each packed state block of the sharded
 * checkpoint at step, whatever world size wrote it: out[k * count + i].
 * Only the shards that overlap the range are read; each is checked against
 * the manifest (size, checksum, header) and the manifest against state_n and
 * n_state. Errors name the file (a missing or truncated shard included). */
kz_status kz_ckpt_shards_read(const char *dir, int64_t step, int64_t state_n, int n_state,
                              int64_t first, int64_t count, float *out);
/* Deletes the shard files and manifests of steps without a ckpt-<step>.kzc
 * (pruned checkpoints, interrupted ones). */
kz_status kz_ckpt_shards_prune(const char *dir);

#endif
