/* Training checkpoints (.kzc, docs/FORMATS.md): everything needed to continue
 * a run bit for bit — parameters, optimizer state, step, data position,
 * schedule multiplier, RNG, best metric, running log sums and the model meta.
 *
 *   "KZC1"          4 bytes magic
 *   u32 version     1
 *   u64 state_len   bytes of the state JSON (scalars; doubles as hex bit patterns)
 *   state JSON
 *   u64 meta_len    bytes of the model meta JSON (ops->meta_json)
 *   meta JSON
 *   u64 n           parameters
 *   u32 n_state     optimizer state blocks (2 adamw: m, v; 1 sgd: momentum)
 *   f32 params[n], f32 state[n_state][state_n]
 * state_n is the number of trainable parameters (the state covers the
 * model's trainable ranges, packed); the state JSON gives it as "state_n"
 * when it differs from n and omits it otherwise. An adapter run's checkpoint
 * (a transformer with model.lora) holds only the trainable tensors: the
 * state JSON's "params_n" (the trainable count) and "base_fingerprint"
 * (the frozen base's, models/transformer/lora.h) say so, params[] is then
 * the trainable ranges packed, and the frozen base comes from the job's
 * train.init_from again on resume (ckpt_adapter.h).
 *   u64 checksum    kz64 of every byte before it
 * little-endian; written to .tmp, fsynced, renamed, directory fsynced. */
#ifndef KZ_ENGINE_TRAIN_CHECKPOINT_H
#define KZ_ENGINE_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "common/bytes/le_buf.h"
#include "kaizen.h"

#define KZ_CKPT_MAGIC "KZC1"

typedef struct kz_ckpt_state {
  int64_t step;           /* optimizer steps done */
  int64_t epoch;          /* current epoch */
  int64_t batch_in_epoch; /* micro-batches of that epoch consumed */
  int64_t optim_t;        /* updates applied (AdamW bias correction) */
  int optim_kind;         /* kz_optim_kind */
  double lr_mult;         /* product of NaN-rollback factors */
  uint64_t rng;           /* dropout-seed generator */
  double best_value;      /* NaN: no evaluation yet */
  int64_t best_step;
  int64_t bad_evals;   /* evaluations since the best */
  int64_t nan_streak;  /* consecutive non-finite steps */
  double log_loss_sum; /* loss sum and count since the last logged row */
  int64_t log_count;
  int64_t samples; /* rows trained on */
  double wall_s;   /* training time before this segment */
  int64_t state_n; /* floats per optimizer state block; 0 (on write) or n: all */
  /* train.continual replay: epoch of the old data and micro-batches of it
   * consumed (both 0, and absent from the file, without replay) */
  int64_t replay_epoch, replay_batch;
  /* floats in the parameter block: 0 (on write) or n: all; fewer: the
   * trainable ranges packed, base_fingerprint the frozen rest's ("" when
   * every parameter is stored) */
  int64_t params_n;
  char base_fingerprint[40];
} kz_ckpt_state;

typedef struct kz_ckpt_data {
  kz_ckpt_state st;
  char *meta; /* malloc'ed */
  int64_t n;
  int n_state;
  int64_t state_n;  /* floats per state block (st.state_n, resolved) */
  int64_t params_n; /* floats in params (st.params_n, resolved): n, or the trainable ones */
  float *params;    /* params_n, malloc'ed */
  float *state;     /* n_state * state_n, malloc'ed */
} kz_ckpt_data;

kz_status kz_ckpt_write(const char *path, const kz_ckpt_state *st, const char *meta,
                        const float *params, const float *const *state, int n_state, int64_t n);
/* Validates magic, version, every size against the file size and the
 * checksum; errors name the file. */
kz_status kz_ckpt_read(const char *path, kz_ckpt_data *out);
void kz_ckpt_data_free(kz_ckpt_data *d);

/* "<dir>/ckpt-<step 10 digits>.kzc" */
void kz_ckpt_path(const char *dir, int64_t step, char *buf, size_t cap);
/* Both binary checkpoint formats (.kzc, .kzg) end the same way: the kz64 of
 * every byte before it is appended, and the bytes are written to path.tmp
 * and renamed. Frees b's bytes, also on failure. */
kz_status kz_ckpt_seal_write(kz_le_buf *b, const char *path);
/* Steps of the ckpt-*.kzc files in dir, newest first (malloc'ed; *n may be 0). */
kz_status kz_ckpt_list(const char *dir, int64_t **steps, int *n);
/* Deletes all but the newest `keep` checkpoints, never the one at keep_step. */
kz_status kz_ckpt_prune(const char *dir, int keep, int64_t keep_step);
/* Reads the newest checkpoint that validates (its state's step must also be
 * the one in its name); a corrupt or truncated one is reported on stderr
 * (naming it) and skipped. KZ_ERR_NOT_FOUND if there is no checkpoint file;
 * KZ_ERR_FORMAT, naming the newest and what is wrong, if none validates. */
kz_status kz_ckpt_load_newest(const char *dir, kz_ckpt_data *out, int quiet);

#endif
