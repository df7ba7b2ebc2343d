/* GBDT round checkpoints (.kzg, docs/FORMATS.md): what `kaizen train
 * --resume` needs to continue a boosting run bit for bit — the booster's
 * state (kz_gbdt_booster_state: rounds, early-stopping bookkeeping, the
 * sampling stream, the margins, the trees so far), the training time so far
 * and the job's fingerprint (parameters and data shape) to refuse a resume
 * under another config.
 *
 *   "KZG1"          4 bytes magic
 *   u32 version     1
 *   u64 state_len   bytes of the state JSON (doubles and the RNG as hex bits)
 *   state JSON
 *   f64 base_score[K], f64 margin[n x K], f64 vmargin[nv x K]
 *   per tree: i32 group, i32 n_nodes, i32 n_cat_values, then the node arrays
 *             left, right, feature (i32), threshold (f32), default_left,
 *             categorical (u8), cat_begin, cat_count (i32), cat_values
 *             (i32 x n_cat_values), leaf_value, gain, cover (f32)
 *   u64 checksum    kz64 of every byte before it
 * little-endian, values as their IEEE-754 bits (the trees are kept as the
 * booster made them, not through the model file's text). Written to .tmp,
 * fsynced, renamed, directory fsynced: a kill leaves either no new file or a
 * complete one. */
#ifndef KZ_ENGINE_TRAIN_GBDT_CHECKPOINT_H
#define KZ_ENGINE_TRAIN_GBDT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"
#include "models/gbdt/booster.h"

#define KZ_GBDT_CKPT_MAGIC "KZG1"

typedef struct kz_gbdt_ckpt {
  kz_gbdt_booster_state st; /* margin, vmargin and model point into this struct's buffers */
  double wall_s;            /* training time before the checkpoint */
  char *fingerprint;        /* the job's fingerprint JSON (kz_gbdt_ckpt_write) */
  double *margin, *vmargin;
  kz_gbdt_model *model; /* objective, num_group, feature counts, base_score, trees */
} kz_gbdt_ckpt;

/* fingerprint: a JSON object of what must not change on resume (the
 * parameters, the data's shape); see kz_gbdt_ckpt_compare. */
kz_status kz_gbdt_ckpt_write(const char *path, const kz_gbdt_booster_state *s, double wall_s,
                             const char *fingerprint);
/* Validates magic, version, every size against the file size and the
 * checksum; errors name the file. */
kz_status kz_gbdt_ckpt_read(const char *path, kz_gbdt_ckpt *out);
void kz_gbdt_ckpt_free(kz_gbdt_ckpt *c);

/* "<dir>/gbdt-<round 10 digits>.kzg" */
void kz_gbdt_ckpt_path(const char *dir, int round, char *buf, size_t cap);
/* Rounds of the gbdt-*.kzg files in dir, newest first (malloc'ed; *n may be 0). */
kz_status kz_gbdt_ckpt_list(const char *dir, int **rounds, int *n);
/* Deletes all but the newest `keep`. */
kz_status kz_gbdt_ckpt_prune(const char *dir, int keep);
/* Reads the newest checkpoint that validates into *out (its path into
 * path_out); a corrupt or truncated one is reported on stderr, naming it,
 * and the next older one tried. KZ_ERR_NOT_FOUND when none is left. */
kz_status kz_gbdt_ckpt_load_newest(const char *dir, kz_gbdt_ckpt *out, char *path_out, size_t cap);

/* 1 when two fingerprints differ in a key other than those in skip
 * (NULL-terminated, may be NULL), the first such key described in why as
 * "eta: 0.1 in the checkpoint, 0.2 now"; 0 when they agree. */
int kz_gbdt_ckpt_compare(const char *saved, const char *now, const char *const *skip, char *why,
                         size_t cap);

#endif
