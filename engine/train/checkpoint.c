/* Training checkpoints (checkpoint.h). The file is built in memory and
 * committed through kz_fs_write_atomic (tmp + fsync + rename + directory
 * fsync), so a kill at any moment leaves either the old set of checkpoints or
 * the old set plus one complete new file. */
#define _POSIX_C_SOURCE 200809L
#include "engine/train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes/le_buf.h"
#include "common/fs/numbered_files.h"
#include "data/shard/fsutil.h"
#include "data/shard/hash64.h"
#include "kernels/core/error.h"
#include "models/nn_model.h"

enum { CKPT_VERSION = 1 };

/* ---- byte buffer ------------------------------------------------------------ */

typedef kz_le_buf buf;

/* ---- state JSON: doubles as hex bit patterns, so they round-trip exactly
 * (NaN and infinities included) ------------------------------------------- */

static void set_bits(json_t *o, const char *key, double v) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  char s[32];
  snprintf(s, sizeof s, "%016" PRIx64, bits);
  json_object_set_new(o, key, json_string(s));
}
static void set_u64(json_t *o, const char *key, uint64_t v) {
  char s[32];
  snprintf(s, sizeof s, "%016" PRIx64, v);
  json_object_set_new(o, key, json_string(s));
}
/* The state's fields are checked one by one so that the message names the
 * file and the key; each get_* fails with such a message. */
static kz_status get_hex(const char *path, json_t *o, const char *key, uint64_t *v) {
  const char *s = json_string_value(json_object_get(o, key));
  char *end = NULL;
  errno = 0;
  unsigned long long x = s && strlen(s) == 16 ? strtoull(s, &end, 16) : 0;
  if (!s || strlen(s) != 16 || errno || *end)
    return kz_fail(KZ_ERR_FORMAT, "%s: state.%s: %s, expected 16 hex digits", path, key,
                   !json_object_get(o, key) ? "missing" : "malformed");
  *v = (uint64_t)x;
  return KZ_OK;
}
static kz_status get_bits(const char *path, json_t *o, const char *key, double *v) {
  uint64_t bits;
  KZ_TRY(get_hex(path, o, key, &bits));
  memcpy(v, &bits, 8);
  return KZ_OK;
}
static kz_status get_int(const char *path, json_t *o, const char *key, int64_t lo, int64_t hi,
                         int64_t *v) {
  json_t *j = json_object_get(o, key);
  if (!json_is_integer(j))
    return kz_fail(KZ_ERR_FORMAT, "%s: state.%s: %s, expected an integer", path, key,
                   j ? "wrong type" : "missing");
  *v = json_integer_value(j);
  if (*v < lo || *v > hi)
    return kz_fail(KZ_ERR_FORMAT, "%s: state.%s: %lld is outside [%lld, %lld]", path, key,
                   (long long)*v, (long long)lo, (long long)hi);
  return KZ_OK;
}

static char *state_json(const kz_ckpt_state *st, int64_t n) {
  json_t *o = json_object();
  if (!o) return NULL;
  /* omitted when everything trains, so such checkpoints stay as they were */
  if (st->state_n > 0 && st->state_n != n)
    json_object_set_new(o, "state_n", json_integer(st->state_n));
  json_object_set_new(o, "step", json_integer(st->step));
  json_object_set_new(o, "epoch", json_integer(st->epoch));
  json_object_set_new(o, "batch_in_epoch", json_integer(st->batch_in_epoch));
  json_object_set_new(o, "optim_t", json_integer(st->optim_t));
  json_object_set_new(o, "optim_kind", json_integer(st->optim_kind));
  set_bits(o, "lr_mult", st->lr_mult);
  set_u64(o, "rng", st->rng);
  set_bits(o, "best_value", st->best_value);
  json_object_set_new(o, "best_step", json_integer(st->best_step));
  json_object_set_new(o, "bad_evals", json_integer(st->bad_evals));
  json_object_set_new(o, "nan_streak", json_integer(st->nan_streak));
  set_bits(o, "log_loss_sum", st->log_loss_sum);
  json_object_set_new(o, "log_count", json_integer(st->log_count));
  json_object_set_new(o, "samples", json_integer(st->samples));
  set_bits(o, "wall_s", st->wall_s);
  /* omitted unless only the trainable tensors are stored (an adapter run) */
  if (st->params_n > 0 && st->params_n != n) {
    json_object_set_new(o, "params_n", json_integer(st->params_n));
    json_object_set_new(o, "base_fingerprint", json_string(st->base_fingerprint));
  }
  /* omitted without replay (train.continual), as state_n */
  if (st->replay_epoch || st->replay_batch) {
    json_object_set_new(o, "replay_epoch", json_integer(st->replay_epoch));
    json_object_set_new(o, "replay_batch", json_integer(st->replay_batch));
  }
  char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  return s;
}

static const char *const state_keys[] = {
    "step",       "epoch",        "batch_in_epoch", "optim_t",      "optim_kind",
    "lr_mult",    "rng",          "best_value",     "best_step",    "bad_evals",
    "nan_streak", "log_count",    "samples",        "log_loss_sum", "wall_s",
    "state_n",    "replay_epoch", "replay_batch",   "params_n",     "base_fingerprint"};

/* Every count is bounded by the step count, which is itself below 2^53 (so
 * that the schedule, which works in double, sees every step): one step ends
 * each epoch at most, takes at least one row, applies at most one update and
 * logs at most one loss. A checkpoint outside these would resume a run in a
 * state no run reaches (a step of -5, an epoch of 1e15). */
static kz_status parse_state(const char *path, const char *text, size_t len, kz_ckpt_state *st) {
  json_error_t err;
  json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (!json_is_object(o)) {
    kz_status r =
        o ? kz_fail(KZ_ERR_FORMAT, "%s: the checkpoint state is not a JSON object", path)
          : kz_fail(KZ_ERR_FORMAT, "%s: the checkpoint state is not valid JSON (byte %d): %s", path,
                    err.position, err.text);
    json_decref(o);
    return r;
  }
  kz_status r = KZ_OK;
  const char *key;
  json_t *val;
  json_object_foreach(o, key, val) {
    int known = 0;
    for (size_t k = 0; k < sizeof state_keys / sizeof state_keys[0]; ++k)
      known |= !strcmp(key, state_keys[k]);
    if (!known && r == KZ_OK) r = kz_fail(KZ_ERR_FORMAT, "%s: state.%s: unknown key", path, key);
  }
  const int64_t max_step = (int64_t)1 << 53;
  int64_t kind = 0;
  if (r == KZ_OK) r = get_int(path, o, "step", 0, max_step, &st->step);
  int64_t n = st->step;
  /* grad_accum <= 2^16 micro-batches a step (trainer_config.c) */
  if (r == KZ_OK) r = get_int(path, o, "epoch", 0, n, &st->epoch);
  if (r == KZ_OK) r = get_int(path, o, "batch_in_epoch", 0, (n + 1) << 16, &st->batch_in_epoch);
  if (r == KZ_OK) r = get_int(path, o, "optim_t", 0, n, &st->optim_t);
  if (r == KZ_OK) r = get_int(path, o, "optim_kind", 0, 1, &kind);
  if (r == KZ_OK) r = get_bits(path, o, "lr_mult", &st->lr_mult);
  if (r == KZ_OK && !(st->lr_mult >= 0 && st->lr_mult <= 1))
    r = kz_fail(KZ_ERR_FORMAT,
                "%s: state.lr_mult: %g, expected a factor in [0, 1] (a product of NaN-rollback "
                "factors)",
                path, st->lr_mult);
  if (r == KZ_OK) r = get_hex(path, o, "rng", &st->rng);
  if (r == KZ_OK) r = get_bits(path, o, "best_value", &st->best_value);
  if (r == KZ_OK && isinf(st->best_value))
    r = kz_fail(KZ_ERR_FORMAT, "%s: state.best_value: infinite (NaN means no evaluation yet)",
                path);
  if (r == KZ_OK) r = get_int(path, o, "best_step", -1, n, &st->best_step);
  if (r == KZ_OK) r = get_int(path, o, "bad_evals", 0, n + 1, &st->bad_evals);
  if (r == KZ_OK) r = get_int(path, o, "nan_streak", 0, n, &st->nan_streak);
  if (r == KZ_OK) r = get_bits(path, o, "log_loss_sum", &st->log_loss_sum);
  if (r == KZ_OK && isnan(st->log_loss_sum))
    r = kz_fail(KZ_ERR_FORMAT, "%s: state.log_loss_sum: NaN (only finite losses are summed)", path);
  if (r == KZ_OK) r = get_int(path, o, "log_count", 0, n, &st->log_count);
  if (r == KZ_OK) r = get_int(path, o, "samples", n, INT64_MAX, &st->samples);
  if (r == KZ_OK) r = get_bits(path, o, "wall_s", &st->wall_s);
  if (r == KZ_OK && !(isfinite(st->wall_s) && st->wall_s >= 0))
    r = kz_fail(KZ_ERR_FORMAT, "%s: state.wall_s: %g, expected a finite time >= 0", path,
                st->wall_s);
  st->state_n = -1; /* absent: every parameter (resolved once n is read) */
  if (r == KZ_OK && json_object_get(o, "state_n"))
    r = get_int(path, o, "state_n", 1, KZ_NN_MAX_PARAMS, &st->state_n);
  /* replay micro-batches: at most 2^16 a step, like the new data's */
  st->replay_epoch = st->replay_batch = 0;
  if (r == KZ_OK && json_object_get(o, "replay_epoch"))
    r = get_int(path, o, "replay_epoch", 0, (n + 1) << 16, &st->replay_epoch);
  if (r == KZ_OK && json_object_get(o, "replay_batch"))
    r = get_int(path, o, "replay_batch", 0, (n + 1) << 16, &st->replay_batch);
  st->params_n = -1; /* absent: every parameter */
  st->base_fingerprint[0] = '\0';
  if (r == KZ_OK && json_object_get(o, "params_n")) {
    r = get_int(path, o, "params_n", 1, KZ_NN_MAX_PARAMS, &st->params_n);
    const char *fp = json_string_value(json_object_get(o, "base_fingerprint"));
    if (r == KZ_OK && (!fp || strncmp(fp, "kz64:", 5) || strlen(fp) >= sizeof st->base_fingerprint))
      r = kz_fail(KZ_ERR_FORMAT,
                  "%s: state.base_fingerprint: %s, expected the frozen base's kz64:... (the "
                  "checkpoint holds only the trainable tensors)",
                  path, fp ? "malformed" : "missing");
    if (r == KZ_OK) snprintf(st->base_fingerprint, sizeof st->base_fingerprint, "%s", fp);
  } else if (r == KZ_OK && json_object_get(o, "base_fingerprint")) {
    r = kz_fail(KZ_ERR_FORMAT, "%s: state.base_fingerprint without state.params_n", path);
  }
  st->optim_kind = (int)kind;
  json_decref(o);
  return r;
}

/* ---- write / read ------------------------------------------------------------- */

kz_status kz_ckpt_write(const char *path, const kz_ckpt_state *st, const char *meta,
                        const float *params, const float *const *state, int n_state, int64_t n) {
  const int64_t sn = st->state_n > 0 ? st->state_n : n;
  const int64_t pn = st->params_n > 0 ? st->params_n : n;
  char *sj = state_json(st, n);
  if (!sj) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  buf b = {0};
  kz_le_put(&b, KZ_CKPT_MAGIC, 4);
  kz_le_put_u32(&b, CKPT_VERSION);
  kz_le_put_u64(&b, strlen(sj));
  kz_le_put(&b, sj, strlen(sj));
  kz_le_put_u64(&b, strlen(meta));
  kz_le_put(&b, meta, strlen(meta));
  kz_le_put_u64(&b, (uint64_t)n);
  kz_le_put_u32(&b, (uint32_t)n_state);
  kz_le_put(&b, params, (size_t)pn * 4);
  for (int k = 0; k < n_state; ++k) kz_le_put(&b, state[k], (size_t)sn * 4);
  free(sj);
  return kz_ckpt_seal_write(&b, path);
}

void kz_ckpt_data_free(kz_ckpt_data *d) {
  free(d->meta), free(d->params), free(d->state);
  memset(d, 0, sizeof *d);
}

static kz_status parse(const char *path, const unsigned char *p, size_t len, kz_ckpt_data *out) {
  if (len < 4 || memcmp(p, KZ_CKPT_MAGIC, 4) != 0)
    return kz_fail(KZ_ERR_FORMAT, "%s: not a kaizen checkpoint (magic is not KZC1)", path);
  if (len < 4 + 4 + 8 + 8 + 8 + 4 + 8)
    return kz_fail(KZ_ERR_FORMAT, "%s: truncated checkpoint (%zu bytes)", path, len);
  kz_hash64 h;
  kz_hash64_init(&h);
  kz_hash64_update(&h, p, len - 8);
  if (kz_hash64_final(&h) != kz_le_get_u64(p + len - 8))
    return kz_fail(KZ_ERR_FORMAT, "%s: checksum mismatch (truncated or corrupt checkpoint)", path);
  if (kz_le_get_u32(p + 4) != CKPT_VERSION)
    return kz_fail(KZ_ERR_FORMAT, "%s: checkpoint version %u, this build reads %d", path,
                   kz_le_get_u32(p + 4), CKPT_VERSION);
  size_t off = 8, end = len - 8;
  uint64_t sl = kz_le_get_u64(p + off);
  off += 8;
  if (sl > end - off) return kz_fail(KZ_ERR_FORMAT, "%s: state length out of range", path);
  KZ_TRY(parse_state(path, (const char *)p + off, (size_t)sl, &out->st));
  off += sl;
  if (end - off < 8) return kz_fail(KZ_ERR_FORMAT, "%s: truncated before the meta", path);
  uint64_t ml = kz_le_get_u64(p + off);
  off += 8;
  if (ml > end - off) return kz_fail(KZ_ERR_FORMAT, "%s: meta length out of range", path);
  out->meta = malloc(ml + 1);
  if (!out->meta) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  memcpy(out->meta, p + off, ml);
  out->meta[ml] = '\0';
  off += ml;
  if (end - off < 12) return kz_fail(KZ_ERR_FORMAT, "%s: truncated before the parameters", path);
  uint64_t n = kz_le_get_u64(p + off);
  uint32_t ns = kz_le_get_u32(p + off + 8);
  off += 12;
  uint64_t sn = out->st.state_n < 0 ? n : (uint64_t)out->st.state_n;
  uint64_t pn = out->st.params_n < 0 ? n : (uint64_t)out->st.params_n;
  if (sn > n)
    return kz_fail(KZ_ERR_FORMAT, "%s: state.state_n: %llu trainable of %llu parameters", path,
                   (unsigned long long)sn, (unsigned long long)n);
  /* a packed block holds the trainable tensors: as many as the state covers */
  if (pn != n && pn != sn)
    return kz_fail(KZ_ERR_FORMAT, "%s: state.params_n: %llu stored, %llu trainable of %llu", path,
                   (unsigned long long)pn, (unsigned long long)sn, (unsigned long long)n);
  if (ns > 2 || pn > (end - off) / 4 || (uint64_t)(end - off) != (pn + sn * ns) * 4)
    return kz_fail(KZ_ERR_FORMAT, "%s: parameter block sizes do not match the file size", path);
  /* The meta must describe exactly this block (checked without building the
   * model), so resuming never builds a network the file cannot fill. */
  kz_device cpu = {KZ_DEVICE_CPU, 0};
  kz_status ms = kz_nn_model_from_meta_sized(out->meta, cpu, (int64_t)n, NULL);
  if (ms != KZ_OK) return kz_fail_context(ms, "%s: meta", path);
  out->n = (int64_t)n;
  out->n_state = (int)ns;
  out->state_n = (int64_t)sn;
  out->st.state_n = (int64_t)sn;
  out->params_n = (int64_t)pn;
  out->st.params_n = (int64_t)pn;
  out->params = malloc(pn ? pn * 4 : 4);
  out->state = malloc((sn * ns) > 0 ? sn * ns * 4 : 4);
  if (!out->params || !out->state) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  memcpy(out->params, p + off, pn * 4);
  memcpy(out->state, p + off + pn * 4, sn * ns * 4);
  return KZ_OK;
}

kz_status kz_ckpt_read(const char *path, kz_ckpt_data *out) {
  memset(out, 0, sizeof *out);
  unsigned char *p = NULL;
  size_t size = 0;
  KZ_TRY(kz_fs_read_all(path, "checkpoint", &p, &size));
  kz_status st = parse(path, p, size, out);
  free(p);
  if (st != KZ_OK) kz_ckpt_data_free(out);
  return st;
}

/* ---- the checkpoint directory -------------------------------------------------- */

void kz_ckpt_path(const char *dir, int64_t step, char *buf_, size_t cap) {
  snprintf(buf_, cap, "%s/ckpt-%010lld.kzc", dir, (long long)step);
}

kz_status kz_ckpt_seal_write(kz_le_buf *b, const char *path) {
  if (!b->oom) {
    kz_hash64 h;
    kz_hash64_init(&h);
    kz_hash64_update(&h, b->p, b->len);
    kz_le_put_u64(b, kz_hash64_final(&h));
  }
  kz_status st = b->oom ? kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path)
                        : kz_fs_write_atomic(path, b->p, b->len);
  free(b->p);
  b->p = NULL, b->len = b->cap = 0;
  return st;
}

kz_status kz_ckpt_list(const char *dir, int64_t **steps, int *n) {
  return kz_fs_list_numbered(dir, "ckpt-", ".kzc", steps, n);
}

kz_status kz_ckpt_prune(const char *dir, int keep, int64_t keep_step) {
  int64_t *steps = NULL;
  int n = 0;
  KZ_TRY(kz_ckpt_list(dir, &steps, &n));
  char path[4096];
  for (int i = keep; i < n; ++i) {
    if (steps[i] == keep_step) continue;
    kz_ckpt_path(dir, steps[i], path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT) {
      free(steps);
      return kz_fail(KZ_ERR_IO, "%s: cannot delete old checkpoint: %s", path, strerror(errno));
    }
  }
  free(steps);
  return KZ_OK;
}

kz_status kz_ckpt_load_newest(const char *dir, kz_ckpt_data *out, int quiet) {
  int64_t *steps = NULL;
  int n = 0;
  KZ_TRY(kz_ckpt_list(dir, &steps, &n));
  char path[4096], first[1024] = "";
  for (int i = 0; i < n; ++i) {
    kz_ckpt_path(dir, steps[i], path, sizeof path);
    kz_status st = kz_ckpt_read(path, out);
    if (st == KZ_OK && out->st.step != steps[i]) {
      st = kz_fail(KZ_ERR_FORMAT, "%s: state.step is %lld but the file name says step %lld", path,
                   (long long)out->st.step, (long long)steps[i]);
      kz_ckpt_data_free(out);
    }
    if (st == KZ_OK) {
      free(steps);
      return KZ_OK;
    }
    if (!first[0]) snprintf(first, sizeof first, "%s", kz_last_error());
    if (!quiet) fprintf(stderr, "kaizen: warning: skipping checkpoint: %s\n", kz_last_error());
  }
  free(steps);
  /* Checkpoints that all fail to validate are not "no checkpoint": starting
   * over would silently discard the run's progress (and overwrite the files
   * that show what went wrong), so it is an error naming the newest. */
  if (n > 0)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: none of the %d checkpoint(s) is valid; the newest: %s (remove the "
                   "checkpoints to start the run again from step 0)",
                   dir, n, first);
  return kz_fail(KZ_ERR_NOT_FOUND, "%s: no valid checkpoint", dir);
}
