/* Dispatch and argument checks for comm.h, and the world-of-one
 * communicator. */
#include <stdlib.h>
#include <string.h>

#include "engine/dist/comm_internal.h"
#include "engine/dist/launch.h"
#include "kernels/core/error.h"

size_t kz_comm_dtype_size(kz_comm_dtype t) {
  switch (t) {
  case KZ_COMM_F32:
    return 4;
  case KZ_COMM_F64:
    return 8;
  case KZ_COMM_I64:
    return 8;
  case KZ_COMM_U8:
    return 1;
  }
  return 0;
}

int kz_comm_rank(const kz_comm *c) {
  return c->rank;
}
int kz_comm_size(const kz_comm *c) {
  return c->size;
}
const char *kz_comm_kind(const kz_comm *c) {
  return c->ops->kind;
}

static kz_status check_op(kz_comm_dtype t, kz_comm_op op, const char *what) {
  if (kz_comm_dtype_size(t) == 0) return kz_fail(KZ_ERR_INVALID_ARG, "%s: unknown dtype", what);
  if (op == KZ_COMM_AVG && t != KZ_COMM_F32 && t != KZ_COMM_F64)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: average of an integer type", what);
  return KZ_OK;
}

/* Each collective runs under the watchdog: a peer that died or hangs makes
 * this rank exit, naming itself and the call, instead of waiting forever. */
kz_status kz_comm_allreduce(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, kz_comm_op op) {
  KZ_TRY(check_op(t, op, "allreduce"));
  if (count == 0) return KZ_OK;
  kz_dist_watch_begin("allreduce");
  kz_status st = c->ops->allreduce(c, buf, count, t, op);
  kz_dist_watch_end();
  return st;
}

kz_status kz_comm_reduce_scatter(kz_comm *c, const void *send, void *recv, size_t count,
                                 kz_comm_dtype t, kz_comm_op op) {
  KZ_TRY(check_op(t, op, "reduce_scatter"));
  if (count == 0) return KZ_OK;
  kz_dist_watch_begin("reduce_scatter");
  kz_status st = c->ops->reduce_scatter(c, send, recv, count, t, op);
  kz_dist_watch_end();
  return st;
}

kz_status kz_comm_allgather(kz_comm *c, const void *send, void *recv, size_t count,
                            kz_comm_dtype t) {
  KZ_TRY(check_op(t, KZ_COMM_SUM, "allgather"));
  if (count == 0) return KZ_OK;
  kz_dist_watch_begin("allgather");
  kz_status st = c->ops->allgather(c, send, recv, count, t);
  kz_dist_watch_end();
  return st;
}

kz_status kz_comm_allgatherv(kz_comm *c, const void *send, void *recv, const size_t *counts,
                             kz_comm_dtype t) {
  KZ_TRY(check_op(t, KZ_COMM_SUM, "allgatherv"));
  if (!c->ops->allgatherv)
    return kz_fail(KZ_ERR_UNSUPPORTED, "allgatherv: not offered by the %s communicator",
                   c->ops->kind);
  kz_dist_watch_begin("allgatherv");
  kz_status st = c->ops->allgatherv(c, send, recv, counts, t);
  kz_dist_watch_end();
  return st;
}

kz_status kz_comm_broadcast(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, int root) {
  KZ_TRY(check_op(t, KZ_COMM_SUM, "broadcast"));
  if (root < 0 || root >= c->size)
    return kz_fail(KZ_ERR_INVALID_ARG, "broadcast: root %d is not in a world of %d", root, c->size);
  if (count == 0) return KZ_OK;
  kz_dist_watch_begin("broadcast");
  kz_status st = c->ops->broadcast(c, buf, count, t, root);
  kz_dist_watch_end();
  return st;
}

kz_status kz_comm_barrier(kz_comm *c) {
  kz_dist_watch_begin("barrier");
  kz_status st = c->ops->barrier(c);
  kz_dist_watch_end();
  return st;
}

kz_status kz_comm_iallreduce(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, kz_comm_op op,
                             kz_stream *after) {
  KZ_TRY(check_op(t, op, "iallreduce"));
  if (count == 0) return KZ_OK;
  if (!c->ops->iallreduce) { /* a blocking one, once buf is written */
    if (after) KZ_TRY(kz_stream_sync(after));
    return kz_comm_allreduce(c, buf, count, t, op);
  }
  kz_dist_watch_begin("iallreduce");
  kz_status st = c->ops->iallreduce(c, buf, count, t, op, after);
  kz_dist_watch_end();
  return st;
}

kz_status kz_comm_progress(kz_comm *c) {
  return c->ops->progress ? c->ops->progress(c) : KZ_OK;
}

/* The wait is where a dead or hung peer shows: under the watchdog. */
kz_status kz_comm_wait_all(kz_comm *c, kz_stream *before) {
  if (!c->ops->wait_all) return KZ_OK;
  kz_dist_watch_begin("allreduce (wait)");
  kz_status st = c->ops->wait_all(c, before);
  kz_dist_watch_end();
  return st;
}

void kz_comm_destroy(kz_comm *c) {
  if (!c) return;
  c->ops->destroy(c);
}

/* ---- a world of one ------------------------------------------------------ */

static kz_status self_allreduce(kz_comm *c, void *buf, size_t count, kz_comm_dtype t,
                                kz_comm_op op) {
  return KZ_OK; /* the sum, average and maximum of one value is that value */
}

static kz_status self_copy(const void *send, void *recv, size_t count, kz_comm_dtype t) {
  if (send != recv) memmove(recv, send, count * kz_comm_dtype_size(t));
  return KZ_OK;
}

static kz_status self_reduce_scatter(kz_comm *c, const void *send, void *recv, size_t count,
                                     kz_comm_dtype t, kz_comm_op op) {
  return self_copy(send, recv, count, t);
}

static kz_status self_allgather(kz_comm *c, const void *send, void *recv, size_t count,
                                kz_comm_dtype t) {
  return self_copy(send, recv, count, t);
}

static kz_status self_allgatherv(kz_comm *c, const void *send, void *recv, const size_t *counts,
                                 kz_comm_dtype t) {
  return self_copy(send, recv, counts[0], t);
}

static kz_status self_broadcast(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, int root) {
  return KZ_OK;
}

static kz_status self_barrier(kz_comm *c) {
  return KZ_OK;
}

static void self_destroy(kz_comm *c) {
  free(c);
}

/* a world of one: the blocking all-reduce (nothing) serves the
 * non-blocking one */
static const kz_comm_ops self_ops = {.kind = "self",
                                     .allreduce = self_allreduce,
                                     .reduce_scatter = self_reduce_scatter,
                                     .allgather = self_allgather,
                                     .allgatherv = self_allgatherv,
                                     .broadcast = self_broadcast,
                                     .barrier = self_barrier,
                                     .destroy = self_destroy};

kz_status kz_comm_self_create(kz_comm **out) {
  kz_comm *c = calloc(1, sizeof *c);
  if (!c) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "communicator: out of memory");
  c->ops = &self_ops;
  c->rank = 0;
  c->size = 1;
  *out = c;
  return KZ_OK;
}
