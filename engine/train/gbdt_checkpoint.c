/* GBDT round checkpoints (gbdt_checkpoint.h). Built in memory and committed
 * through kz_fs_write_atomic, as the neural trainer's .kzc files are. */
#define _POSIX_C_SOURCE 200809L
#include "engine/train/gbdt_checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes/le_buf.h"
#include "common/fs/numbered_files.h"
#include "data/shard/fsutil.h"
#include "data/shard/hash64.h"
#include "engine/train/checkpoint.h"
#include "kernels/core/error.h"
#include "models/gbdt/tree_build.h"

enum { GBDT_CKPT_VERSION = 1 };

/* ---- byte buffer ------------------------------------------------------------ */

typedef kz_le_buf buf;

/* A reader over the checked bytes: every take is bounded by the end. */
typedef struct rd {
  const unsigned char *p;
  size_t off, end;
  int bad;
} rd;
static const unsigned char *take(rd *r, size_t n) {
  if (r->bad || n > r->end - r->off) {
    r->bad = 1;
    return NULL;
  }
  const unsigned char *q = r->p + r->off;
  r->off += n;
  return q;
}
/* n elements of size sz into a new buffer (at least one byte, so an empty
 * array is still a valid pointer). */
static void *take_array(rd *r, int64_t n, size_t sz) {
  if (n < 0 || (uint64_t)n > (r->end - r->off) / sz) {
    r->bad = 1;
    return NULL;
  }
  const unsigned char *q = take(r, (size_t)n * sz);
  void *a = q ? malloc((size_t)n * sz + 1) : NULL;
  if (a)
    memcpy(a, q, (size_t)n * sz);
  else
    r->bad = 1;
  return a;
}
static int32_t take_i32(rd *r) {
  const unsigned char *q = take(r, 4);
  return q ? (int32_t)kz_le_get_u32(q) : 0;
}

/* ---- state JSON: doubles and the stream as hex bit patterns --------------------- */

static void set_hex(json_t *o, const char *key, uint64_t v) {
  char s[32];
  snprintf(s, sizeof s, "%016" PRIx64, v);
  json_object_set_new(o, key, json_string(s));
}
static void set_bits(json_t *o, const char *key, double v) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  set_hex(o, key, bits);
}
static int get_hex(json_t *o, const char *key, uint64_t *v) {
  const char *s = json_string_value(json_object_get(o, key));
  if (!s || strlen(s) != 16) return 0;
  char *end = NULL;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 16);
  if (errno || *end) return 0;
  *v = (uint64_t)x;
  return 1;
}
static int get_bits(json_t *o, const char *key, double *v) {
  uint64_t bits;
  if (!get_hex(o, key, &bits)) return 0;
  memcpy(v, &bits, 8);
  return 1;
}
static int get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *v) {
  json_t *j = json_object_get(o, key);
  if (!json_is_integer(j)) return 0;
  *v = json_integer_value(j);
  return *v >= lo && *v <= hi;
}

static char *state_json(const kz_gbdt_booster_state *s, double wall_s, const char *fingerprint) {
  json_error_t err;
  json_t *fp = json_loads(fingerprint, 0, &err);
  json_t *o = json_object();
  if (!o || !json_is_object(fp)) {
    json_decref(o);
    json_decref(fp);
    return NULL;
  }
  const kz_gbdt_model *m = s->model;
  json_object_set_new(o, "round", json_integer(s->round));
  json_object_set_new(o, "best_round", json_integer(s->best_round));
  set_bits(o, "best_value", s->best_value);
  set_hex(o, "rng", s->rng);
  set_bits(o, "wall_s", wall_s);
  json_object_set_new(o, "objective", json_integer((json_int_t)m->objective));
  set_bits(o, "quantile_alpha", m->quantile_alpha);
  json_object_set_new(o, "num_group", json_integer(s->K));
  json_object_set_new(o, "n_numeric", json_integer(m->n_numeric));
  json_object_set_new(o, "n_categorical", json_integer(m->n_categorical));
  json_object_set_new(o, "train_rows", json_integer(s->n));
  json_object_set_new(o, "valid_rows", json_integer(s->nv));
  json_object_set_new(o, "n_trees", json_integer(m->n_trees));
  json_object_set_new(o, "fingerprint", fp);
  char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  return text;
}

/* ---- write / read ------------------------------------------------------------- */

static void put_tree(buf *b, const kz_gbdt_tree *t, int32_t group) {
  size_t n = (size_t)t->n_nodes;
  kz_le_put_u32(b, (uint32_t)group);
  kz_le_put_u32(b, (uint32_t)t->n_nodes);
  kz_le_put_u32(b, (uint32_t)t->n_cat_values);
  kz_le_put(b, t->left, 4 * n);
  kz_le_put(b, t->right, 4 * n);
  kz_le_put(b, t->feature, 4 * n);
  kz_le_put(b, t->threshold, 4 * n);
  kz_le_put(b, t->default_left, n);
  kz_le_put(b, t->is_categorical, n);
  kz_le_put(b, t->cat_begin, 4 * n);
  kz_le_put(b, t->cat_count, 4 * n);
  kz_le_put(b, t->cat_values, 4 * (size_t)t->n_cat_values);
  kz_le_put(b, t->leaf_value, 4 * n);
  kz_le_put(b, t->gain, 4 * n);
  kz_le_put(b, t->cover, 4 * n);
}

kz_status kz_gbdt_ckpt_write(const char *path, const kz_gbdt_booster_state *s, double wall_s,
                             const char *fingerprint) {
  char *sj = state_json(s, wall_s, fingerprint);
  if (!sj) return kz_fail(KZ_ERR_INVALID_ARG, "%s: the job fingerprint is not a JSON object", path);
  const kz_gbdt_model *m = s->model;
  size_t nk = (size_t)s->n * (size_t)s->K, nvk = (size_t)s->nv * (size_t)s->K;
  buf b = {0};
  kz_le_put(&b, KZ_GBDT_CKPT_MAGIC, 4);
  kz_le_put_u32(&b, GBDT_CKPT_VERSION);
  kz_le_put_u64(&b, strlen(sj));
  kz_le_put(&b, sj, strlen(sj));
  free(sj);
  /* The in-memory IEEE-754 bits of a little-endian host, as the .kzc files'
   * parameter blocks. */
  kz_le_put(&b, m->base_score, 8 * (size_t)s->K);
  kz_le_put(&b, s->margin, 8 * nk);
  if (nvk) kz_le_put(&b, s->vmargin, 8 * nvk);
  for (int i = 0; i < m->n_trees; ++i) put_tree(&b, &m->trees[i], m->tree_group[i]);
  return kz_ckpt_seal_write(&b, path);
}

void kz_gbdt_ckpt_free(kz_gbdt_ckpt *c) {
  free(c->fingerprint);
  free(c->margin);
  free(c->vmargin);
  kz_gbdt_model_free(c->model);
  memset(c, 0, sizeof *c);
}

static kz_status parse_state(const char *path, rd *r, kz_gbdt_ckpt *c, int64_t *n_trees) {
  const unsigned char *q = take(r, 8);
  uint64_t sl = q ? kz_le_get_u64(q) : 0;
  const unsigned char *text = q && sl <= r->end - r->off ? take(r, (size_t)sl) : NULL;
  if (!text) return kz_fail(KZ_ERR_FORMAT, "%s: state length out of range", path);
  json_error_t err;
  json_t *o = json_loadb((const char *)text, (size_t)sl, 0, &err);
  if (!json_is_object(o)) {
    json_decref(o);
    return kz_fail(KZ_ERR_FORMAT, "%s: the checkpoint state is not a JSON object", path);
  }
  int64_t round, best, obj, K, nn, nc, n, nv;
  double alpha;
  kz_gbdt_booster_state *s = &c->st;
  int ok = get_int(o, "round", 0, INT32_MAX, &round) &&
           get_int(o, "best_round", -1, INT32_MAX, &best) &&
           get_bits(o, "best_value", &s->best_value) && get_hex(o, "rng", &s->rng) &&
           get_bits(o, "wall_s", &c->wall_s) && get_int(o, "objective", 0, 5, &obj) &&
           get_bits(o, "quantile_alpha", &alpha) && get_int(o, "num_group", 1, 256, &K) &&
           get_int(o, "n_numeric", 0, INT32_MAX, &nn) &&
           get_int(o, "n_categorical", 0, INT32_MAX, &nc) &&
           get_int(o, "train_rows", 1, INT32_MAX, &n) &&
           get_int(o, "valid_rows", 0, INT64_MAX / 8, &nv) &&
           get_int(o, "n_trees", 0, INT32_MAX, n_trees) &&
           json_is_object(json_object_get(o, "fingerprint"));
  if (ok) c->fingerprint = json_dumps(json_object_get(o, "fingerprint"), JSON_COMPACT);
  json_decref(o);
  if (!ok)
    return kz_fail(KZ_ERR_FORMAT, "%s: the checkpoint state lacks a field or has a bad one", path);
  if (!c->fingerprint) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  s->round = (int)round;
  s->best_round = (int)best;
  s->K = (int)K;
  s->n = n;
  s->nv = nv;
  kz_gbdt_model *m = calloc(1, sizeof *m);
  if (!m) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  c->model = m;
  m->objective = (kz_gbdt_objective)obj;
  m->quantile_alpha = alpha;
  m->num_group = (int32_t)K;
  m->n_numeric = (int32_t)nn;
  m->n_categorical = (int32_t)nc;
  m->best_iteration = -1;
  return KZ_OK;
}

static kz_status read_tree(const char *path, rd *r, int i, kz_gbdt_tree *t, int32_t *group) {
  memset(t, 0, sizeof *t);
  *group = take_i32(r);
  int32_t n = take_i32(r), ncv = take_i32(r);
  if (r->bad || n < 1 || ncv < 0)
    return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d]: bad node or category count", path, i);
  t->n_nodes = n;
  t->n_cat_values = ncv;
  t->left = take_array(r, n, 4);
  t->right = take_array(r, n, 4);
  t->feature = take_array(r, n, 4);
  t->threshold = take_array(r, n, 4);
  t->default_left = take_array(r, n, 1);
  t->is_categorical = take_array(r, n, 1);
  t->cat_begin = take_array(r, n, 4);
  t->cat_count = take_array(r, n, 4);
  t->cat_values = take_array(r, ncv, 4);
  t->leaf_value = take_array(r, n, 4);
  t->gain = take_array(r, n, 4);
  t->cover = take_array(r, n, 4);
  if (r->bad) return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d]: truncated", path, i);
  return KZ_OK;
}

static kz_status parse(const char *path, const unsigned char *p, size_t len, kz_gbdt_ckpt *c) {
  if (len < 4 || memcmp(p, KZ_GBDT_CKPT_MAGIC, 4) != 0)
    return kz_fail(KZ_ERR_FORMAT, "%s: not a kaizen GBDT checkpoint (magic is not KZG1)", path);
  if (len < 4 + 4 + 8 + 8)
    return kz_fail(KZ_ERR_FORMAT, "%s: truncated checkpoint (%zu bytes)", path, len);
  kz_hash64 h;
  kz_hash64_init(&h);
  kz_hash64_update(&h, p, len - 8);
  if (kz_hash64_final(&h) != kz_le_get_u64(p + len - 8))
    return kz_fail(KZ_ERR_FORMAT, "%s: checksum mismatch (truncated or corrupt checkpoint)", path);
  if (kz_le_get_u32(p + 4) != GBDT_CKPT_VERSION)
    return kz_fail(KZ_ERR_FORMAT, "%s: GBDT checkpoint version %u, this build reads %d", path,
                   kz_le_get_u32(p + 4), GBDT_CKPT_VERSION);
  rd r = {p, 8, len - 8, 0};
  int64_t n_trees = 0;
  KZ_TRY(parse_state(path, &r, c, &n_trees));
  kz_gbdt_booster_state *s = &c->st;
  kz_gbdt_model *m = c->model;
  const unsigned char *bs = take(&r, 8 * (size_t)s->K);
  if (bs) memcpy(m->base_score, bs, 8 * (size_t)s->K);
  if ((uint64_t)s->n > (uint64_t)INT64_MAX / 8 / (uint64_t)s->K ||
      (uint64_t)s->nv > (uint64_t)INT64_MAX / 8 / (uint64_t)s->K)
    return kz_fail(KZ_ERR_FORMAT, "%s: row counts out of range", path);
  c->margin = take_array(&r, s->n * s->K, 8);
  c->vmargin = take_array(&r, s->nv * s->K, 8);
  if (r.bad || n_trees > (int64_t)(r.end - r.off) / 12)
    return kz_fail(KZ_ERR_FORMAT, "%s: the margins or trees do not fit the file size", path);
  m->trees = calloc((size_t)(n_trees > 0 ? n_trees : 1), sizeof *m->trees);
  m->tree_group = calloc((size_t)(n_trees > 0 ? n_trees : 1), sizeof *m->tree_group);
  if (!m->trees || !m->tree_group) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  for (int64_t i = 0; i < n_trees; ++i) {
    kz_status st = read_tree(path, &r, (int)i, &m->trees[i], &m->tree_group[i]);
    m->n_trees = (int32_t)i + 1; /* so that a failure frees this tree's arrays too */
    KZ_TRY(st);
  }
  if (r.off != r.end)
    return kz_fail(KZ_ERR_FORMAT, "%s: %zu bytes after the last tree", path, r.end - r.off);
  s->margin = c->margin;
  s->vmargin = s->nv > 0 ? c->vmargin : NULL;
  s->model = m;
  return KZ_OK;
}

kz_status kz_gbdt_ckpt_read(const char *path, kz_gbdt_ckpt *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return kz_fail(KZ_ERR_IO, "%s: cannot open checkpoint: %s", path, strerror(errno));
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  rewind(f);
  unsigned char *p = size > 0 ? malloc((size_t)size) : NULL;
  size_t got = p ? fread(p, 1, (size_t)size, f) : 0;
  fclose(f);
  if (size <= 0 || !p || got != (size_t)size) {
    free(p);
    return kz_fail(KZ_ERR_FORMAT, "%s: empty or unreadable checkpoint", path);
  }
  kz_status st = parse(path, p, (size_t)size, out);
  free(p);
  if (st != KZ_OK) kz_gbdt_ckpt_free(out);
  return st;
}

/* ---- the checkpoint directory -------------------------------------------------- */

void kz_gbdt_ckpt_path(const char *dir, int round, char *b, size_t cap) {
  snprintf(b, cap, "%s/gbdt-%010d.kzg", dir, round);
}

kz_status kz_gbdt_ckpt_list(const char *dir, int **rounds, int *n) {
  int64_t *all = NULL;
  *rounds = NULL;
  *n = 0;
  int m = 0;
  KZ_TRY(kz_fs_list_numbered(dir, "gbdt-", ".kzg", &all, &m));
  if (m == 0) return KZ_OK;
  int *r = malloc(sizeof *r * (size_t)(m ? m : 1));
  if (!r) {
    free(all);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  for (int i = 0; i < m; ++i)
    if (all[i] <= INT32_MAX) r[(*n)++] = (int)all[i]; /* rounds are ints */
  free(all);
  *rounds = r;
  return KZ_OK;
}

kz_status kz_gbdt_ckpt_prune(const char *dir, int keep) {
  int *rounds = NULL, n = 0;
  KZ_TRY(kz_gbdt_ckpt_list(dir, &rounds, &n));
  char path[4200];
  kz_status st = KZ_OK;
  for (int i = keep; i < n && st == KZ_OK; ++i) {
    kz_gbdt_ckpt_path(dir, rounds[i], path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT)
      st = kz_fail(KZ_ERR_IO, "%s: cannot delete old checkpoint: %s", path, strerror(errno));
  }
  free(rounds);
  return st;
}

kz_status kz_gbdt_ckpt_load_newest(const char *dir, kz_gbdt_ckpt *out, char *path_out, size_t cap) {
  int *rounds = NULL, n = 0;
  KZ_TRY(kz_gbdt_ckpt_list(dir, &rounds, &n));
  for (int i = 0; i < n; ++i) {
    kz_gbdt_ckpt_path(dir, rounds[i], path_out, cap);
    if (kz_gbdt_ckpt_read(path_out, out) == KZ_OK) {
      free(rounds);
      return KZ_OK;
    }
    fprintf(stderr, "kaizen: warning: skipping checkpoint: %s\n", kz_last_error());
  }
  free(rounds);
  return kz_fail(KZ_ERR_NOT_FOUND, "%s: no valid GBDT checkpoint (gbdt-<round>.kzg)", dir);
}

int kz_gbdt_ckpt_compare(const char *saved, const char *now, const char *const *skip, char *why,
                         size_t cap) {
  json_error_t err;
  json_t *a = json_loads(saved, 0, &err), *b = json_loads(now, 0, &err);
  int differ = 0;
  if (!json_is_object(a) || !json_is_object(b)) {
    snprintf(why, cap, "the fingerprint is not a JSON object");
    differ = 1;
  }
  /* Every key of either side, each compared once (from a, then b's extra). */
  for (int side = 0; !differ && side < 2; ++side) {
    json_t *x = side ? b : a, *y = side ? a : b;
    const char *key;
    json_t *v;
    json_object_foreach(x, key, v) {
      int skipped = 0;
      for (int i = 0; skip && skip[i]; ++i) skipped |= !strcmp(skip[i], key);
      json_t *w = json_object_get(y, key);
      if (skipped || (side && w) || (w && json_equal(v, w))) continue;
      /* 15 digits read as the config was written (0.1, not 0.10000000000000001),
       * unless that hides the difference. */
      json_t *saved_v = side ? NULL : v, *now_v = side ? v : w; /* NULL: key absent */
      char *sv = NULL, *nv = NULL;
      for (int digits = 15; digits <= 17; digits += 2) {
        free(sv);
        free(nv);
        size_t f = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(digits);
        sv = saved_v ? json_dumps(saved_v, f) : NULL;
        nv = now_v ? json_dumps(now_v, f) : NULL;
        if (!sv || !nv || strcmp(sv, nv)) break;
      }
      snprintf(why, cap, "%s: %s in the checkpoint, %s now", key, sv ? sv : "(none)",
               nv ? nv : "(none)");
      free(sv);
      free(nv);
      differ = 1;
      break;
    }
  }
  json_decref(a);
  json_decref(b);
  return differ;
}
