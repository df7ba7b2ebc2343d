/* Sharded optimizer state of training checkpoints (ckpt_shards.h). */
#define _POSIX_C_SOURCE 200809L
#include "engine/train/ckpt_shards.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes/le_buf.h"
#include "common/fs/atomic_file.h"
#include "data/shard/fsutil.h"
#include "data/shard/hash64.h"
#include "engine/train/checkpoint.h"
#include "kernels/core/error.h"

#define SHARD_MAGIC "KZS1"
enum { SHARD_VERSION = 1, HEADER = 4 + 4 + 8 + 4 + 4 + 8 + 8 + 8 + 4 };

void kz_ckpt_shard_path(const char *dir, int64_t step, int rank, int world, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/ckpt-%010lld.shard-%d-of-%d.kzs", dir, (long long)step, rank, world);
}

void kz_ckpt_manifest_path(const char *dir, int64_t step, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/ckpt-%010lld.shards.json", dir, (long long)step);
}

kz_status kz_ckpt_shard_write(const char *dir, int64_t step, int rank, int world, int64_t state_n,
                              int64_t first, int64_t count, const float *const *state, int n_state,
                              kz_ckpt_shard_info *info) {
  char path[4400];
  kz_ckpt_shard_path(dir, step, rank, world, path, sizeof path);
  kz_le_buf b = {0};
  kz_le_put(&b, SHARD_MAGIC, 4);
  kz_le_put_u32(&b, SHARD_VERSION);
  kz_le_put_u64(&b, (uint64_t)step);
  kz_le_put_u32(&b, (uint32_t)rank);
  kz_le_put_u32(&b, (uint32_t)world);
  kz_le_put_u64(&b, (uint64_t)state_n);
  kz_le_put_u64(&b, (uint64_t)first);
  kz_le_put_u64(&b, (uint64_t)count);
  kz_le_put_u32(&b, (uint32_t)n_state);
  for (int k = 0; k < n_state; ++k) kz_le_put(&b, state[k], (size_t)count * 4);
  /* the seal appends the kz64 of these bytes; the manifest records it too,
   * so a shard swapped for another (valid) one is caught as well */
  uint64_t hash = 0;
  if (!b.oom) {
    kz_hash64 h;
    kz_hash64_init(&h);
    kz_hash64_update(&h, b.p, b.len);
    hash = kz_hash64_final(&h);
  }
  const uint64_t bytes = b.len + 8;
  KZ_TRY(kz_ckpt_seal_write(&b, path));
  *info = (kz_ckpt_shard_info){first, count, bytes, hash};
  return KZ_OK;
}

/* Deletes step's shard files whose name says another world size than
 * world (left by an interrupted run on another number of ranks). */
static kz_status drop_other_worlds(const char *dir, int64_t step, int world) {
  DIR *d = opendir(dir);
  if (!d) return kz_fail(KZ_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
  char prefix[64], keep[64], path[4400];
  snprintf(prefix, sizeof prefix, "ckpt-%010lld.shard-", (long long)step);
  snprintf(keep, sizeof keep, "-of-%d.kzs", world);
  kz_status st = KZ_OK;
  struct dirent *e;
  while (st == KZ_OK && (e = readdir(d)) != NULL) {
    const size_t len = strlen(e->d_name), kl = strlen(keep);
    if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
    if (len >= kl && !strcmp(e->d_name + len - kl, keep)) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (unlink(path) != 0 && errno != ENOENT)
      st = kz_fail(KZ_ERR_IO, "%s: cannot delete: %s", path, strerror(errno));
  }
  closedir(d);
  return st;
}

kz_status kz_ckpt_manifest_write(const char *dir, int64_t step, int world, int64_t state_n,
                                 int n_state, const kz_ckpt_shard_info *info) {
  KZ_TRY(drop_other_worlds(dir, step, world));
  json_t *o = json_object(), *shards = json_array();
  if (!o || !shards) {
    json_decref(o), json_decref(shards);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: manifest: out of memory", dir);
  }
  json_object_set_new(o, "step", json_integer(step));
  json_object_set_new(o, "world", json_integer(world));
  json_object_set_new(o, "n_state", json_integer(n_state));
  json_object_set_new(o, "state_n", json_integer(state_n));
  for (int r = 0; r < world; ++r) {
    char file[4400], hex[32];
    kz_ckpt_shard_path(".", step, r, world, file, sizeof file);
    snprintf(hex, sizeof hex, "%016" PRIx64, info[r].hash);
    json_t *s = json_object();
    json_object_set_new(s, "file", json_string(file + 2)); /* relative to dir */
    json_object_set_new(s, "rank", json_integer(r));
    json_object_set_new(s, "first", json_integer(info[r].first));
    json_object_set_new(s, "count", json_integer(info[r].count));
    json_object_set_new(s, "bytes", json_integer((json_int_t)info[r].bytes));
    json_object_set_new(s, "kz64", json_string(hex));
    json_array_append_new(shards, s);
  }
  json_object_set_new(o, "shards", shards);
  char *text = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
  json_decref(o);
  if (!text) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: manifest: out of memory", dir);
  char path[4400];
  kz_ckpt_manifest_path(dir, step, path, sizeof path);
  kz_status st = kz_fs_write_atomic(path, text, strlen(text));
  free(text);
  return st;
}

/* ---- reading ---------------------------------------------------------------- */

static kz_status manifest_int(const char *path, json_t *o, const char *key, int64_t lo, int64_t hi,
                              int64_t *v) {
  json_t *j = json_object_get(o, key);
  if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi)
    return kz_fail(KZ_ERR_FORMAT, "%s: \"%s\" is %s", path, key,
                   j ? "out of range or not an integer" : "missing");
  *v = json_integer_value(j);
  return KZ_OK;
}

/* Reads one shard file, checks it against its manifest entry, and copies
 * its overlap with [first, first + count) into out. */
static kz_status read_shard(const char *dir, const char *mpath, json_t *e, int64_t step,
                            int64_t world, int64_t state_n, int n_state, int64_t first,
                            int64_t count, float *out) {
  int64_t rank = 0, sf = 0, sc = 0, bytes = 0;
  KZ_TRY(manifest_int(mpath, e, "rank", 0, world - 1, &rank));
  KZ_TRY(manifest_int(mpath, e, "first", 0, state_n, &sf));
  KZ_TRY(manifest_int(mpath, e, "count", 0, state_n - sf, &sc));
  KZ_TRY(manifest_int(mpath, e, "bytes", HEADER + 8, INT64_MAX, &bytes));
  const int64_t lo = first > sf ? first : sf,
                hi = first + count < sf + sc ? first + count : sf + sc;
  if (lo >= hi) return KZ_OK; /* not in the range asked for */
  const char *file = json_string_value(json_object_get(e, "file"));
  const char *hex = json_string_value(json_object_get(e, "kz64"));
  char expect[4400];
  kz_ckpt_shard_path(".", step, (int)rank, (int)world, expect, sizeof expect);
  if (!file || strcmp(file, expect + 2) != 0 || !hex || strlen(hex) != 16)
    return kz_fail(KZ_ERR_FORMAT, "%s: shard of rank %lld: file or kz64 missing or malformed",
                   mpath, (long long)rank);
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  if (!kz_fs_exists(path))
    return kz_fail(KZ_ERR_NOT_FOUND,
                   "%s: missing optimizer-state shard of rank %lld (named by %s); the checkpoint "
                   "cannot be resumed without it",
                   path, (long long)rank, mpath);
  unsigned char *p = NULL;
  size_t len = 0;
  KZ_TRY(kz_fs_read_all(path, "checkpoint shard", &p, &len));
  kz_status st = KZ_OK;
  const uint64_t want = (uint64_t)HEADER + (uint64_t)n_state * (uint64_t)sc * 4 + 8;
  if (len != (uint64_t)bytes || len != want) {
    st = kz_fail(KZ_ERR_FORMAT,
                 "%s: truncated or wrong size: %zu bytes, expected %lld (the manifest's size; "
                 "its range gives %lld)",
                 path, len, (long long)bytes, (long long)want);
  } else {
    kz_hash64 h;
    kz_hash64_init(&h);
    kz_hash64_update(&h, p, len - 8);
    const uint64_t got = kz_hash64_final(&h);
    char ghex[32];
    snprintf(ghex, sizeof ghex, "%016" PRIx64, got);
    if (got != kz_le_get_u64(p + len - 8) || strcmp(ghex, hex) != 0)
      st = kz_fail(KZ_ERR_FORMAT, "%s: checksum mismatch (corrupt shard, or not the one %s names)",
                   path, mpath);
    else if (memcmp(p, SHARD_MAGIC, 4) != 0 || kz_le_get_u32(p + 4) != SHARD_VERSION ||
             kz_le_get_u64(p + 8) != (uint64_t)step || kz_le_get_u32(p + 16) != (uint32_t)rank ||
             kz_le_get_u32(p + 20) != (uint32_t)world ||
             kz_le_get_u64(p + 24) != (uint64_t)state_n || kz_le_get_u64(p + 32) != (uint64_t)sf ||
             kz_le_get_u64(p + 40) != (uint64_t)sc || kz_le_get_u32(p + 48) != (uint32_t)n_state)
      st = kz_fail(KZ_ERR_FORMAT, "%s: header does not match its entry in %s", path, mpath);
  }
  for (int k = 0; st == KZ_OK && k < n_state; ++k)
    memcpy(out + (size_t)k * (size_t)count + (size_t)(lo - first),
           p + HEADER + ((size_t)k * (size_t)sc + (size_t)(lo - sf)) * 4, (size_t)(hi - lo) * 4);
  free(p);
  return st;
}

kz_status kz_ckpt_shards_read(const char *dir, int64_t step, int64_t state_n, int n_state,
                              int64_t first, int64_t count, float *out) {
  char mpath[4400];
  kz_ckpt_manifest_path(dir, step, mpath, sizeof mpath);
  if (!kz_fs_exists(mpath))
    return kz_fail(KZ_ERR_NOT_FOUND,
                   "%s: missing: the checkpoint's optimizer state is sharded and this manifest "
                   "names the shards",
                   mpath);
  unsigned char *text = NULL;
  size_t len = 0;
  KZ_TRY(kz_fs_read_all(mpath, "checkpoint manifest", &text, &len));
  json_error_t err;
  json_t *o = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &err);
  free(text);
  if (!json_is_object(o)) {
    json_decref(o);
    return kz_fail(KZ_ERR_FORMAT, "%s: not a JSON object (truncated or corrupt manifest)", mpath);
  }
  int64_t mstep = 0, world = 0, ns = 0, sn = 0;
  kz_status st = manifest_int(mpath, o, "step", step, step, &mstep);
  if (st == KZ_OK) st = manifest_int(mpath, o, "world", 1, 1 << 20, &world);
  if (st == KZ_OK) st = manifest_int(mpath, o, "n_state", 1, 2, &ns);
  if (st == KZ_OK) st = manifest_int(mpath, o, "state_n", 0, INT64_MAX, &sn);
  if (st == KZ_OK && (ns != n_state || sn != state_n))
    st = kz_fail(KZ_ERR_FORMAT,
                 "%s: %lld optimizer state blocks of %lld floats, the job's optimizer has %d of "
                 "%lld",
                 mpath, (long long)ns, (long long)sn, n_state, (long long)state_n);
  json_t *shards = json_object_get(o, "shards");
  if (st == KZ_OK && (!json_is_array(shards) || (int64_t)json_array_size(shards) != world))
    st = kz_fail(KZ_ERR_FORMAT, "%s: \"shards\" must list %lld shards", mpath, (long long)world);
  /* the shards must tile [0, state_n) in rank order, so every float of the
   * range asked for comes from exactly one of them */
  int64_t next = 0;
  for (size_t i = 0; st == KZ_OK && i < json_array_size(shards); ++i) {
    json_t *e = json_array_get(shards, i);
    int64_t f = -1, c = -1;
    if (json_is_object(e)) {
      manifest_int(mpath, e, "first", 0, INT64_MAX, &f);
      manifest_int(mpath, e, "count", 0, INT64_MAX, &c);
    }
    if (f != next || c < 0)
      st = kz_fail(KZ_ERR_FORMAT, "%s: shard %zu does not start where shard %zu ends", mpath, i,
                   i ? i - 1 : 0);
    next = f + c;
    if (st == KZ_OK)
      st = read_shard(dir, mpath, e, step, world, state_n, n_state, first, count, out);
  }
  if (st == KZ_OK && next != state_n)
    st = kz_fail(KZ_ERR_FORMAT, "%s: the shards cover %lld of %lld floats", mpath, (long long)next,
                 (long long)state_n);
  json_decref(o);
  return st;
}

kz_status kz_ckpt_shards_prune(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return kz_fail(KZ_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
  kz_status st = KZ_OK;
  struct dirent *e;
  char path[4400];
  while (st == KZ_OK && (e = readdir(d)) != NULL) {
    long long step = -1;
    int used = 0;
    if (sscanf(e->d_name, "ckpt-%lld.%n", &step, &used) != 1 || used != 16) continue;
    const char *rest = e->d_name + used;
    if (strncmp(rest, "shard-", 6) != 0 && strcmp(rest, "shards.json") != 0) continue;
    kz_ckpt_path(dir, step, path, sizeof path);
    if (kz_fs_exists(path)) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (unlink(path) != 0 && errno != ENOENT)
      st = kz_fail(KZ_ERR_IO, "%s: cannot delete: %s", path, strerror(errno));
  }
  closedir(d);
  return st;
}
