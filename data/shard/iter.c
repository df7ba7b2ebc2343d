#define _POSIX_C_SOURCE 200809L
#include "data/shard/iter.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/rng.h"
#include "kernels/core/error.h"

typedef struct block {
  int shard;
  int64_t row0, rows;
  uint64_t id; /* position in storage order: keys the within-block permutation */
} block;

typedef struct segment { /* rows [offset, offset+count) of a (permuted) block */
  int64_t block, offset, count;
  int64_t gpos; /* position of its first row in the epoch's order */
} segment;

struct kz_shard_iter {
  kz_dataset *ds;
  kz_shard_iter_options o;
  block *blocks;
  int64_t n_blocks;
  segment *segs;
  int64_t n_segs;
  int64_t rank_rows;

  kz_shard_batch *slots;
  int n_slots;
  pthread_t thread;
  int thread_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t produced, released, next_out;
  int finished, stop;
  kz_status error;
  char message[1024];
};

void kz_shard_iter_options_default(kz_shard_iter_options *o) {
  memset(o, 0, sizeof *o);
  o->world = 1;
  o->batch_size = 256;
}

static void shuffle_u64(int64_t *a, int64_t n, uint64_t key) {
  uint64_t state = key;
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = (int64_t)kz_rng_below(&state, (uint64_t)i + 1);
    int64_t t = a[i];
    a[i] = a[j], a[j] = t;
  }
}

/* Splits shards into blocks, orders them, and cuts this rank's range out of
 * the concatenated sequence. Pure arithmetic: no file is touched. */
static kz_status plan(kz_shard_iter *it) {
  kz_dataset *ds = it->ds;
  int n_shards = kz_dataset_shard_count(ds);
  int64_t window = it->o.window_rows;
  int64_t n = 0;
  for (int s = 0; s < n_shards; ++s) {
    kz_shard_info info;
    kz_dataset_shard_info(ds, s, &info);
    n += (info.rows + window - 1) / window;
  }
  it->blocks = calloc((size_t)(n ? n : 1), sizeof *it->blocks);
  int64_t *order = calloc((size_t)(n ? n : 1), sizeof *order);
  it->segs = calloc((size_t)(n ? n : 1), sizeof *it->segs);
  if (!it->blocks || !order || !it->segs) {
    free(order);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory planning %lld blocks", (long long)n);
  }
  int64_t b = 0;
  for (int s = 0; s < n_shards; ++s) {
    kz_shard_info info;
    kz_dataset_shard_info(ds, s, &info);
    for (int64_t r = 0; r < info.rows; r += window, ++b) {
      it->blocks[b] = (block){s, r, info.rows - r < window ? info.rows - r : window, (uint64_t)b};
      order[b] = b;
    }
  }
  it->n_blocks = n;
  if (it->o.shuffle)
    shuffle_u64(order, n, kz_rng_key(it->o.seed, (uint64_t)it->o.epoch, 0x0b10cULL));
  int64_t total = kz_dataset_rows(ds), w = it->o.world, r = it->o.rank;
  int64_t lo = total * r / w, hi = total * (r + 1) / w, pos = 0;
  it->rank_rows = hi - lo;
  const int64_t S = it->o.stripe_rows;
  if (S > 0) { /* every block; the producer keeps this rank's stripes */
    lo = 0, hi = total;
    const int64_t cycle = S * w, full = total / cycle, rem = total - full * cycle;
    const int64_t tail = rem - r * S;
    it->rank_rows = full * S + (tail < 0 ? 0 : tail < S ? tail : S);
  }
  for (int64_t k = 0; k < n; ++k) {
    const block *bk = &it->blocks[order[k]];
    int64_t a = lo > pos ? lo : pos, z = hi < pos + bk->rows ? hi : pos + bk->rows;
    if (a < z) it->segs[it->n_segs++] = (segment){order[k], a - pos, z - a, a};
    pos += bk->rows;
  }
  free(order);
  return KZ_OK;
}

/* ---- producer (prefetch thread) ---------------------------------------- */

static kz_shard_batch *wait_free_slot(kz_shard_iter *it) {
  pthread_mutex_lock(&it->mu);
  while (!it->stop && it->produced - it->released >= it->n_slots)
    pthread_cond_wait(&it->cv, &it->mu);
  kz_shard_batch *b = it->stop ? NULL : &it->slots[it->produced % it->n_slots];
  pthread_mutex_unlock(&it->mu);
  if (b) kz_shard_batch_clear(b);
  return b;
}

static void publish(kz_shard_iter *it) {
  pthread_mutex_lock(&it->mu);
  it->produced++;
  pthread_cond_broadcast(&it->cv);
  pthread_mutex_unlock(&it->mu);
}

/* Shuffled reads go through two stages: a reader thread reads whole blocks
 * (windows) into one of two buffers and draws their permutation, while the
 * producer gathers the previous block's permuted rows into batches. The
 * reader is the only thread that touches the files (as the producer is in
 * order). */
typedef struct block_pipe {
  kz_shard_iter *it;
  pthread_t thread;
  kz_shard_cursor *cur;
  kz_shard_batch buf[2];
  int64_t *perm[2];
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t filled;   /* segments read so far: segment s sits in buf[s % 2] */
  int64_t consumed; /* segments the producer is done with */
  int stop, failed;
  kz_status error;
  char message[1024];
} block_pipe;

static void *read_main(void *arg) {
  block_pipe *p = arg;
  kz_shard_iter *it = p->it;
  kz_status st = KZ_OK;
  for (int64_t s = 0; s < it->n_segs; ++s) {
    pthread_mutex_lock(&p->mu);
    while (!p->stop && s - p->consumed >= 2) pthread_cond_wait(&p->cv, &p->mu);
    int stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    if (stop) break;
    const block *bk = &it->blocks[it->segs[s].block];
    kz_shard_batch *b = &p->buf[s % 2];
    int64_t *perm = p->perm[s % 2];
    kz_shard_batch_clear(b);
    st = kz_shard_cursor_read(p->cur, bk->shard, bk->row0, bk->rows, b, 0);
    if (st != KZ_OK) break;
    b->rows = bk->rows;
    for (int64_t i = 0; i < bk->rows; ++i) perm[i] = i;
    shuffle_u64(perm, bk->rows, kz_rng_key(it->o.seed, (uint64_t)it->o.epoch, bk->id + 1));
    pthread_mutex_lock(&p->mu);
    p->filled = s + 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
  kz_shard_thread_end();
  pthread_mutex_lock(&p->mu);
  if (st != KZ_OK) {
    p->failed = 1;
    p->error = st;
    snprintf(p->message, sizeof p->message, "%s", kz_last_error());
  }
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* Waits until segment s is read (returns its buffer) or the reader failed. */
static kz_status wait_block(block_pipe *p, int64_t s, const kz_shard_batch **b,
                            const int64_t **perm) {
  pthread_mutex_lock(&p->mu);
  while (p->filled <= s && !p->failed) pthread_cond_wait(&p->cv, &p->mu);
  int ready = p->filled > s;
  pthread_mutex_unlock(&p->mu);
  if (!ready) return kz_fail(p->error, "%s", p->message);
  *b = &p->buf[s % 2];
  *perm = p->perm[s % 2];
  return KZ_OK;
}

static void release_block(block_pipe *p, int64_t s) {
  pthread_mutex_lock(&p->mu);
  p->consumed = s + 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

static kz_status produce(kz_shard_iter *it, kz_shard_cursor *cur) {
  const kz_schema *schema = kz_dataset_schema(it->ds);
  block_pipe pipe = {0};
  int reader_started = 0;
  kz_status st = KZ_OK;
  if (it->o.shuffle) {
    pipe.it = it;
    pipe.cur = cur;
    for (int k = 0; k < 2 && st == KZ_OK; ++k) {
      st = kz_shard_batch_alloc(schema, it->o.window_rows, &pipe.buf[k]);
      if (st == KZ_OK && !(pipe.perm[k] = malloc((size_t)it->o.window_rows * sizeof(int64_t))))
        st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    }
    pthread_mutex_init(&pipe.mu, NULL);
    pthread_cond_init(&pipe.cv, NULL);
    if (st == KZ_OK) {
      if (pthread_create(&pipe.thread, NULL, read_main, &pipe) != 0)
        st = kz_fail(KZ_ERR_INTERNAL, "cannot start the block reader thread");
      else
        reader_started = 1;
    }
  }
  kz_shard_batch *out = NULL;
  for (int64_t s = 0; st == KZ_OK && s < it->n_segs; ++s) {
    const segment *sg = &it->segs[s];
    const block *bk = &it->blocks[sg->block];
    const kz_shard_batch *blockbuf = NULL;
    const int64_t *perm = NULL;
    if (it->o.shuffle && (st = wait_block(&pipe, s, &blockbuf, &perm)) != KZ_OK) break;
    int64_t done = 0;
    while (st == KZ_OK && done < sg->count) {
      int64_t stripe_left = sg->count - done;
      if (it->o.stripe_rows > 0) { /* skip the other ranks' stripes */
        const int64_t g = sg->gpos + done, S = it->o.stripe_rows, k = g / S;
        stripe_left = (k + 1) * S - g;
        if (k % it->o.world != it->o.rank) {
          done += stripe_left < sg->count - done ? stripe_left : sg->count - done;
          continue;
        }
      }
      if (!out && !(out = wait_free_slot(it))) goto stopped;
      int64_t take = out->capacity - out->rows;
      if (take > sg->count - done) take = sg->count - done;
      if (take > stripe_left) take = stripe_left;
      if (it->o.shuffle) {
        st = kz_shard_batch_gather(out, out->rows, blockbuf, perm + sg->offset + done, take);
      } else {
        st = kz_shard_cursor_read(cur, bk->shard, bk->row0 + sg->offset + done, take, out,
                                  out->rows);
      }
      out->rows += take;
      done += take;
      if (out->rows == out->capacity) {
        publish(it);
        out = NULL;
      }
    }
    if (it->o.shuffle) release_block(&pipe, s);
  }
  if (st == KZ_OK && out && out->rows > 0 && !it->o.drop_last) publish(it);
stopped:
  if (it->o.shuffle) {
    if (reader_started) {
      pthread_mutex_lock(&pipe.mu);
      pipe.stop = 1;
      pthread_cond_broadcast(&pipe.cv);
      pthread_mutex_unlock(&pipe.mu);
      pthread_join(pipe.thread, NULL);
    }
    pthread_mutex_destroy(&pipe.mu);
    pthread_cond_destroy(&pipe.cv);
    for (int k = 0; k < 2; ++k) {
      kz_shard_batch_free(&pipe.buf[k]);
      free(pipe.perm[k]);
    }
  }
  return st;
}

static void *prefetch_main(void *arg) {
  kz_shard_iter *it = arg;
  kz_shard_cursor *cur = NULL;
  kz_status st = kz_shard_cursor_create(it->ds, &cur);
  if (st == KZ_OK) st = produce(it, cur);
  kz_shard_cursor_free(cur);
  kz_shard_thread_end();
  pthread_mutex_lock(&it->mu);
  if (st != KZ_OK) {
    it->error = st;
    snprintf(it->message, sizeof it->message, "%s", kz_last_error());
  }
  it->finished = 1;
  pthread_cond_broadcast(&it->cv);
  pthread_mutex_unlock(&it->mu);
  return NULL;
}

/* ---- consumer ------------------------------------------------------------ */

kz_status kz_shard_iter_open(kz_dataset *ds, const kz_shard_iter_options *options,
                             kz_shard_iter **out) {
  *out = NULL;
  kz_shard_iter_options o;
  kz_shard_iter_options_default(&o);
  if (options) o = *options;
  if (o.world < 1 || o.rank < 0 || o.rank >= o.world)
    return kz_fail(KZ_ERR_INVALID_ARG, "rank %d is not in a world of %d", o.rank, o.world);
  if (o.batch_size < 1) return kz_fail(KZ_ERR_INVALID_ARG, "batch size must be positive");
  const kz_schema *schema = kz_dataset_schema(ds);
  size_t row_bytes = kz_schema_row_bytes(schema);
  if (o.window_rows <= 0) {
    o.window_rows = (int64_t)((32u << 20) / (row_bytes ? row_bytes : 1));
    if (o.window_rows < 256) o.window_rows = 256;
  }
  if (!o.prefetch_bytes) o.prefetch_bytes = 64u << 20;

  kz_shard_iter *it = calloc(1, sizeof *it);
  if (!it) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  it->ds = ds;
  it->o = o;
  kz_status st = plan(it);
  size_t batch_bytes = (size_t)o.batch_size * (row_bytes + sizeof(int64_t));
  it->n_slots = (int)(o.prefetch_bytes / (batch_bytes ? batch_bytes : 1));
  if (it->n_slots < 2) it->n_slots = 2;
  if (it->n_slots > 64) it->n_slots = 64;
  if (st == KZ_OK && !(it->slots = calloc((size_t)it->n_slots, sizeof *it->slots)))
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int i = 0; st == KZ_OK && i < it->n_slots; ++i)
    st = kz_shard_batch_alloc(schema, o.batch_size, &it->slots[i]);
  pthread_mutex_init(&it->mu, NULL);
  pthread_cond_init(&it->cv, NULL);
  if (st == KZ_OK) {
    if (pthread_create(&it->thread, NULL, prefetch_main, it) != 0)
      st = kz_fail(KZ_ERR_INTERNAL, "cannot start the prefetch thread");
    else
      it->thread_started = 1;
  }
  if (st != KZ_OK) {
    kz_shard_iter_close(it);
    return st;
  }
  *out = it;
  return KZ_OK;
}

kz_status kz_shard_iter_next(kz_shard_iter *it, const kz_shard_batch **batch) {
  *batch = NULL;
  pthread_mutex_lock(&it->mu);
  if (it->next_out > it->released) { /* the caller is done with the previous batch */
    it->released = it->next_out;
    pthread_cond_broadcast(&it->cv);
  }
  while (it->next_out >= it->produced && !it->finished) pthread_cond_wait(&it->cv, &it->mu);
  kz_status st = KZ_OK;
  if (it->next_out < it->produced) {
    kz_shard_batch *b = &it->slots[it->next_out++ % it->n_slots];
    b->rank_offset = it->o.stripe_rows > 0 ? it->o.rank * it->o.stripe_rows : 0;
    *batch = b;
  } else if (it->error != KZ_OK)
    st = it->error;
  pthread_mutex_unlock(&it->mu);
  if (st != KZ_OK) return kz_fail(st, "%s", it->message);
  return KZ_OK;
}

int64_t kz_shard_iter_rows(const kz_shard_iter *it) {
  return it->rank_rows;
}

void kz_shard_iter_close(kz_shard_iter *it) {
  if (!it) return;
  if (it->thread_started) {
    pthread_mutex_lock(&it->mu);
    it->stop = 1;
    pthread_cond_broadcast(&it->cv);
    pthread_mutex_unlock(&it->mu);
    pthread_join(it->thread, NULL);
  }
  pthread_mutex_destroy(&it->mu);
  pthread_cond_destroy(&it->cv);
  for (int i = 0; it->slots && i < it->n_slots; ++i) kz_shard_batch_free(&it->slots[i]);
  free(it->slots);
  free(it->blocks);
  free(it->segs);
  free(it);
}
