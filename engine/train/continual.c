/* Continual training: replay, EWC and the forgetting metric's data
 * (continual.h). */
#include "engine/train/continual.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/labels.h"
#include "kernels/core/error.h"
#include "kernels/core/splitmix64.h"
#include "kernels/ops.h"

kz_status kz_continual_config_read(const kz_cfg_node *train, int has_init_from,
                                   kz_continual_config *c) {
  memset(c, 0, sizeof *c);
  if (!kz_cfg_has(train, "continual")) return KZ_OK;
  const kz_cfg_node *k = kz_cfg_map(train, "continual");
  KZ_TRY(kz_cfg_get_string(k, "old_data", NULL, &c->old_data));
  KZ_TRY(kz_cfg_get_double(k, "replay", 0.0, 0.0, 0.95, &c->replay));
  KZ_TRY(kz_cfg_get_double(k, "ewc_lambda", 0.0, 0.0, 1e12, &c->ewc_lambda));
  KZ_TRY(kz_cfg_get_int(k, "fisher_batches", 256, 1, 1 << 20, &c->fisher_batches));
  KZ_TRY(kz_cfg_get_int(k, "fisher_batch_size", 1, 1, 1 << 24, &c->fisher_batch_size));
  if (!has_init_from) {
    char where[512];
    kz_cfg_key_where(train, "continual", where, sizeof where);
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: train.continual: continues an earlier model, so it needs train.init_from "
                   "(the model trained on train.continual.old_data)",
                   where);
  }
  return KZ_OK;
}

static kz_status open_split(const char *path, const char *split, kz_dataset **out) {
  kz_dataset_options o = {.split = split};
  return kz_dataset_open(path, split ? &o : NULL, out);
}

kz_status kz_continual_open(kz_continual *k, const kz_continual_config *c, const kz_schema *train,
                            int64_t batch_size, uint64_t seed) {
  memset(k, 0, sizeof *k);
  k->c = *c;
  k->batch_size = batch_size;
  k->seed = seed ^ 0x01d0da7aULL; /* its own shuffle order, not the new data's */
  k->world = 1;
  if (!c->old_data) return KZ_OK;
  const char *what = "train.continual.old_data";
  kz_status st = open_split(c->old_data, "train", &k->old_train);
  if (st != KZ_OK) return kz_fail_context(st, "%s", what);
  if (kz_dataset_rows(k->old_train) == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s has no rows in its \"train\" split", what,
                   c->old_data);
  KZ_TRY(kz_labels_check_dataset(k->old_train, what, c->old_data, "train", train));
  st = open_split(c->old_data, "valid", &k->old_valid);
  if (st != KZ_OK) return kz_fail_context(st, "%s", what);
  if (kz_dataset_rows(k->old_valid) == 0) {
    /* no held-out split: the forgetting metric is measured on the whole set */
    kz_dataset_close(k->old_valid);
    k->old_valid = NULL;
    st = open_split(c->old_data, NULL, &k->old_valid);
    if (st != KZ_OK) return kz_fail_context(st, "%s", what);
    KZ_TRY(kz_labels_check_dataset(k->old_valid, what, c->old_data, NULL, train));
  } else {
    KZ_TRY(kz_labels_check_dataset(k->old_valid, what, c->old_data, "valid", train));
  }
  k->old_bpe = (kz_dataset_rows(k->old_train) + batch_size - 1) / batch_size;
  return KZ_OK;
}

void kz_continual_set_world(kz_continual *k, int rank, int world) {
  k->rank = rank;
  k->world = world > 1 ? world : 1;
  const int64_t g = k->batch_size * k->world;
  if (k->old_train) k->old_bpe = (kz_dataset_rows(k->old_train) + g - 1) / g;
}

void kz_continual_close(kz_continual *k) {
  kz_continual_rewind(k);
  if (k->old_train) kz_dataset_close(k->old_train);
  if (k->old_valid) kz_dataset_close(k->old_valid);
  if (k->anchor.data) kz_tensor_free(&k->anchor);
  if (k->fisher.data) kz_tensor_free(&k->fisher);
  memset(k, 0, sizeof *k);
}

static kz_status open_epoch(kz_continual *k, int64_t epoch, int64_t skip) {
  kz_shard_iter_options o;
  kz_shard_iter_options_default(&o);
  o.batch_size = k->batch_size;
  o.shuffle = 1;
  o.seed = k->seed;
  o.epoch = epoch;
  o.rank = k->rank;
  o.world = k->world;
  o.stripe_rows = k->world > 1 ? k->batch_size : 0;
  KZ_TRY(kz_shard_iter_open(k->old_train, &o, &k->it));
  for (int64_t i = 0; i < skip; ++i) {
    const kz_shard_batch *b = NULL;
    KZ_TRY(kz_shard_iter_next(k->it, &b));
    if (!b && k->world > 1) break; /* this rank's stripe of the last global batch is empty */
    if (!b)
      return kz_fail(KZ_ERR_INTERNAL, "train.continual: replay epoch %lld ended before batch %lld",
                     (long long)epoch, (long long)skip);
  }
  return KZ_OK;
}

kz_status kz_continual_next(kz_continual *k, int64_t *epoch, int64_t *batch_in_epoch,
                            const kz_shard_batch **b) {
  /* the last batch of an epoch stays valid until this call, so the finished
   * iterator is closed here rather than when it was handed out */
  if (k->it && k->it_done) kz_continual_rewind(k);
  if (!k->it) KZ_TRY(open_epoch(k, *epoch, *batch_in_epoch));
  KZ_TRY(kz_shard_iter_next(k->it, b));
  if (!*b && k->world == 1)
    return kz_fail(KZ_ERR_INTERNAL, "train.continual: replay epoch ended early");
  if (++*batch_in_epoch == k->old_bpe) {
    *epoch += 1;
    *batch_in_epoch = 0;
    k->it_done = 1;
  }
  return KZ_OK;
}

void kz_continual_rewind(kz_continual *k) {
  if (k->it) kz_shard_iter_close(k->it);
  k->it = NULL;
  k->it_done = 0;
}

int kz_continual_pick_replay(const kz_continual *k, uint64_t *rng) {
  if (!k->old_train || !(k->c.replay > 0.0)) return 0;
  const double u = (double)(kz_splitmix64(rng) >> 11) * 0x1.0p-53;
  return u < k->c.replay;
}

int kz_continual_supported(const kz_nn_model *m) {
  const kz_nn_model_ops *ops = kz_nn_base_c(m)->ops;
  return !ops->eval_dataset || ops->train_source;
}

static int needs_old_rows(const kz_continual *k) {
  return k->old_train && (k->c.replay > 0.0 || k->c.ewc_lambda > 0.0);
}

kz_status kz_continual_use_old(kz_continual *k, kz_nn_model *m, int old) {
  const kz_nn_model_ops *ops = kz_nn_base(m)->ops;
  if (!ops->train_source || !k->old_train) return KZ_OK;
  kz_status st = ops->train_source(m, old ? k->c.old_data : NULL);
  return st == KZ_OK ? KZ_OK : kz_fail_context(st, "train.continual.old_data: %s", k->c.old_data);
}

kz_status kz_continual_attach(kz_continual *k, kz_nn_model *m) {
  if (!needs_old_rows(k)) return KZ_OK;
  KZ_TRY(kz_continual_use_old(k, m, 1));
  return kz_continual_use_old(k, m, 0);
}

/* The gradients of fisher_batches old micro-batches, squared and summed
 * into acc (the model reads old rows: kz_continual_use_old). A window
 * model's micro-batch without a window (rows off the stride or without the
 * history) is no example: it is passed over rather than counted as a zero
 * gradient, which would thin F. */
static kz_status fisher_sum(kz_continual *k, kz_nn_model *m, kz_stream *s, float *host, double *acc,
                            int64_t *done_out) {
  kz_nn_model_base *mb = kz_nn_base(m);
  const int64_t n = mb->info.n_params;
  const int windows = mb->ops->train_source && mb->ops->loss_items;
  kz_shard_iter *it = NULL;
  kz_shard_iter_options o;
  kz_shard_iter_options_default(&o);
  o.batch_size = k->c.fisher_batch_size;
  o.shuffle = 1;
  o.seed = k->seed ^ 0xf15e4ULL;
  int64_t done = 0, seen = 0;
  kz_status st = KZ_OK;
  for (int64_t epoch = 0; st == KZ_OK && done < k->c.fisher_batches; ++epoch) {
    o.epoch = epoch;
    const int64_t done0 = done;
    st = kz_shard_iter_open(k->old_train, &o, &it);
    while (st == KZ_OK && done < k->c.fisher_batches) {
      const kz_shard_batch *b = NULL;
      st = kz_shard_iter_next(it, &b);
      if (st != KZ_OK || !b) break;
      const uint64_t seed = k->seed + (uint64_t)(windows ? seen++ : done);
      if (windows) {
        int64_t items = 0;
        st = mb->ops->loss_items(m, b, seed, &items);
        if (st != KZ_OK || items == 0) continue;
      }
      double loss = 0.0;
      st = kz_fill_bytes(s, mb->grads.data, 0, (size_t)n * 4);
      if (st == KZ_OK) st = mb->ops->train_batch(m, b, 1.0, seed, &loss);
      if (st == KZ_OK) st = kz_copy_to_host(s, host, mb->grads.data, (size_t)n * 4);
      if (st == KZ_OK) st = kz_stream_sync(s);
      for (int64_t i = 0; st == KZ_OK && i < n; ++i) acc[i] += (double)host[i] * host[i];
      done += 1;
    }
    if (it) kz_shard_iter_close(it);
    it = NULL;
    if (st == KZ_OK && done == done0)
      st = kz_fail(KZ_ERR_INVALID_ARG,
                   "train.continual.old_data: %s: no micro-batch of %lld rows gives the Fisher "
                   "an example",
                   k->c.old_data, (long long)k->c.fisher_batch_size);
  }
  *done_out = done;
  return st;
}

kz_status kz_continual_fisher(kz_continual *k, kz_nn_model *m, kz_stream *s, float *host) {
  if (!k->old_train || !(k->c.ewc_lambda > 0.0)) return KZ_OK;
  kz_nn_model_base *mb = kz_nn_base(m);
  const int64_t n = mb->info.n_params;
  KZ_TRY(kz_tensor_alloc(mb->device, KZ_F32, 1, &n, &k->anchor));
  KZ_TRY(kz_tensor_alloc(mb->device, KZ_F32, 1, &n, &k->fisher));
  double *acc = calloc((size_t)n, sizeof *acc);
  if (!acc) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "train.continual: out of memory (Fisher)");
  kz_status st = kz_copy_to_host(s, host, mb->params.data, (size_t)n * 4);
  if (st == KZ_OK) st = kz_copy_to_device(s, k->anchor.data, host, (size_t)n * 4);
  /* a fixed order of old micro-batches, independent of the replay stream */
  int64_t done = 0;
  if (st == KZ_OK) st = kz_continual_use_old(k, m, 1);
  if (st == KZ_OK) st = fisher_sum(k, m, s, host, acc, &done);
  kz_status back = kz_continual_use_old(k, m, 0);
  if (st == KZ_OK) st = back;
  double sum = 0.0;
  for (int64_t i = 0; st == KZ_OK && i < n; ++i) {
    host[i] = (float)(acc[i] / (double)done);
    sum += host[i];
  }
  free(acc);
  if (st == KZ_OK && !isfinite(sum))
    st = kz_fail(KZ_ERR_INVALID_ARG,
                 "train.continual: the Fisher estimate on %s is not finite (a non-finite "
                 "gradient at the starting weights)",
                 k->c.old_data);
  if (st == KZ_OK) st = kz_copy_to_device(s, k->fisher.data, host, (size_t)n * 4);
  if (st == KZ_OK) st = kz_fill_bytes(s, mb->grads.data, 0, (size_t)n * 4);
  if (st == KZ_OK) st = kz_stream_sync(s);
  k->fisher_mean = n > 0 ? sum / (double)n : 0.0;
  return st;
}

kz_status kz_continual_apply_ewc(kz_continual *k, kz_stream *s, const kz_tensor *params,
                                 kz_tensor *grads, double scale) {
  if (!k->fisher.data) return KZ_OK;
  return kz_op_ewc_grad(s, params, &k->anchor, &k->fisher, grads, (float)(k->c.ewc_lambda * scale));
}
