/* The NCCL communicator (comm.h) for device buffers on one CUDA device.
 * Collectives run on the communicator's own stream. The blocking ones are
 * waited for before returning, so a caller on another stream sees finished
 * results. The non-blocking all-reduce (gradient buckets during the
 * backward pass, docs/DISTRIBUTED.md "Overlap") is ordered by events only:
 * `ready`, recorded on the stream that wrote the bucket, is waited for by
 * the communicator's stream before the reduction; `done`, recorded on the
 * communicator's stream after the last one, is waited for by the stream
 * that reads the results (the optimizer's). The host never waits there.
 * The unique id travels over MPI when a bootstrap communicator is given,
 * else through a rendezvous. */
#include <stdlib.h>
#include <string.h>

#include "engine/dist/comm_internal.h"
#include "engine/dist/rendezvous.h"
#include "kernels/core/error.h"

#ifdef KZ_WITH_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

typedef struct nccl_impl {
  ncclComm_t comm;
  cudaStream_t stream;
  int device;
  float *one; /* a device float for the barrier */
  /* the non-blocking all-reduce's ordering (above); reused: a stream wait
   * takes the event's most recent record at the time of the call */
  cudaEvent_t ready, done;
  int started; /* reductions started since the last wait_all */
  /* a host view (kz_comm_nccl_host_view): buffers staged through stage */
  int host_view;
  void *stage;
  size_t stage_bytes;
} nccl_impl;

static ncclDataType_t nccl_type(kz_comm_dtype t) {
  switch (t) {
  case KZ_COMM_F32:
    return ncclFloat32;
  case KZ_COMM_F64:
    return ncclFloat64;
  case KZ_COMM_I64:
    return ncclInt64;
  case KZ_COMM_U8:
    return ncclUint8;
  }
  return ncclUint8;
}

static ncclRedOp_t nccl_op(kz_comm_op op) {
  return op == KZ_COMM_MAX ? ncclMax : op == KZ_COMM_AVG ? ncclAvg : ncclSum;
}

/* Waits for the stream; a NCCL error names this rank and the call. */
static kz_status finish(kz_comm *c, ncclResult_t r, const char *what) {
  nccl_impl *m = c->impl;
  if (r != ncclSuccess)
    return kz_fail(KZ_ERR_DEVICE, "rank %d of %d: NCCL %s failed: %s", c->rank, c->size, what,
                   ncclGetErrorString(r));
  cudaError_t e = cudaStreamSynchronize(m->stream);
  if (e != cudaSuccess)
    return kz_fail(KZ_ERR_DEVICE, "rank %d of %d: NCCL %s: %s", c->rank, c->size, what,
                   cudaGetErrorString(e));
  return KZ_OK;
}

static kz_status n_allreduce(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, kz_comm_op op) {
  nccl_impl *m = c->impl;
  return finish(c, ncclAllReduce(buf, buf, count, nccl_type(t), nccl_op(op), m->comm, m->stream),
                "allreduce");
}

static kz_status n_reduce_scatter(kz_comm *c, const void *send, void *recv, size_t count,
                                  kz_comm_dtype t, kz_comm_op op) {
  nccl_impl *m = c->impl;
  return finish(c,
                ncclReduceScatter(send, recv, count, nccl_type(t), nccl_op(op), m->comm, m->stream),
                "reduce_scatter");
}

static kz_status n_allgather(kz_comm *c, const void *send, void *recv, size_t count,
                             kz_comm_dtype t) {
  nccl_impl *m = c->impl;
  return finish(c, ncclAllGather(send, recv, count, nccl_type(t), m->comm, m->stream), "allgather");
}

static kz_status n_broadcast(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, int root) {
  nccl_impl *m = c->impl;
  return finish(c, ncclBroadcast(buf, buf, count, nccl_type(t), root, m->comm, m->stream),
                "broadcast");
}

static kz_status n_barrier(kz_comm *c) {
  nccl_impl *m = c->impl;
  return finish(c, ncclAllReduce(m->one, m->one, 1, ncclFloat32, ncclSum, m->comm, m->stream),
                "barrier");
}

static kz_status cuda_check(kz_comm *c, cudaError_t e, const char *what) {
  if (e == cudaSuccess) return KZ_OK;
  return kz_fail(KZ_ERR_DEVICE, "rank %d of %d: NCCL %s: %s", c->rank, c->size, what,
                 cudaGetErrorString(e));
}

/* buf was written by work enqueued on `after`: the communicator's stream
 * waits for that work (ready), then reduces; nothing blocks the host. */
static kz_status n_iallreduce(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, kz_comm_op op,
                              kz_stream *after) {
  nccl_impl *m = c->impl;
  if (after && after->native) {
    KZ_TRY(cuda_check(c, cudaEventRecord(m->ready, (cudaStream_t)after->native), "iallreduce"));
    KZ_TRY(cuda_check(c, cudaStreamWaitEvent(m->stream, m->ready, 0), "iallreduce"));
  }
  ncclResult_t r = ncclAllReduce(buf, buf, count, nccl_type(t), nccl_op(op), m->comm, m->stream);
  if (r != ncclSuccess)
    return kz_fail(KZ_ERR_DEVICE, "rank %d of %d: NCCL iallreduce failed: %s", c->rank, c->size,
                   ncclGetErrorString(r));
  m->started = 1;
  return KZ_OK;
}

/* The reader's stream waits for every reduction started (done); without
 * one, the host does. A NCCL failure inside the reductions (a peer gone)
 * shows through ncclCommGetAsyncError. */
static kz_status n_wait_all(kz_comm *c, kz_stream *before) {
  nccl_impl *m = c->impl;
  if (!m->started) return KZ_OK;
  m->started = 0;
  ncclResult_t async = ncclSuccess;
  if (ncclCommGetAsyncError(m->comm, &async) == ncclSuccess && async != ncclSuccess)
    return kz_fail(KZ_ERR_DEVICE, "rank %d of %d: NCCL iallreduce failed: %s", c->rank, c->size,
                   ncclGetErrorString(async));
  if (!before || !before->native)
    return cuda_check(c, cudaStreamSynchronize(m->stream), "iallreduce (wait)");
  KZ_TRY(cuda_check(c, cudaEventRecord(m->done, m->stream), "iallreduce (wait)"));
  return cuda_check(c, cudaStreamWaitEvent((cudaStream_t)before->native, m->done, 0),
                    "iallreduce (wait)");
}

static void n_destroy(kz_comm *c) {
  nccl_impl *m = c->impl;
  if (m) {
    if (m->ready) cudaEventDestroy(m->ready);
    if (m->done) cudaEventDestroy(m->done);
    if (m->comm) ncclCommDestroy(m->comm);
    if (m->one) cudaFree(m->one);
    if (m->stream) cudaStreamDestroy(m->stream);
    free(m);
  }
  free(c);
}

static const kz_comm_ops nccl_ops;

/* ---- the host view: stage, run the device collective, copy back ---------------- */

static kz_status stage_reserve(kz_comm *c, size_t bytes) {
  nccl_impl *m = c->impl;
  if (bytes <= m->stage_bytes) return KZ_OK;
  if (m->stage) cudaFree(m->stage);
  m->stage = NULL;
  m->stage_bytes = 0;
  if (cudaMalloc(&m->stage, bytes) != cudaSuccess)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "rank %d: NCCL host view: %zu bytes of device memory",
                   c->rank, bytes);
  m->stage_bytes = bytes;
  return KZ_OK;
}

static kz_status copy(kz_comm *c, void *dst, const void *src, size_t bytes, int to_device) {
  nccl_impl *m = c->impl;
  cudaError_t e = cudaMemcpyAsync(
      dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost, m->stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(m->stream);
  if (e != cudaSuccess)
    return kz_fail(KZ_ERR_DEVICE, "rank %d: NCCL host view: %s", c->rank, cudaGetErrorString(e));
  return KZ_OK;
}

static kz_status h_allreduce(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, kz_comm_op op) {
  nccl_impl *m = c->impl;
  const size_t bytes = count * kz_comm_dtype_size(t);
  KZ_TRY(stage_reserve(c, bytes));
  KZ_TRY(copy(c, m->stage, buf, bytes, 1));
  KZ_TRY(n_allreduce(c, m->stage, count, t, op));
  return copy(c, buf, m->stage, bytes, 0);
}

static kz_status h_reduce_scatter(kz_comm *c, const void *send, void *recv, size_t count,
                                  kz_comm_dtype t, kz_comm_op op) {
  nccl_impl *m = c->impl;
  const size_t bytes = count * kz_comm_dtype_size(t), all = bytes * (size_t)c->size;
  KZ_TRY(stage_reserve(c, all + bytes));
  KZ_TRY(copy(c, m->stage, send, all, 1));
  KZ_TRY(n_reduce_scatter(c, m->stage, (char *)m->stage + all, count, t, op));
  return copy(c, recv, (char *)m->stage + all, bytes, 0);
}

static kz_status h_allgather(kz_comm *c, const void *send, void *recv, size_t count,
                             kz_comm_dtype t) {
  nccl_impl *m = c->impl;
  const size_t bytes = count * kz_comm_dtype_size(t), all = bytes * (size_t)c->size;
  KZ_TRY(stage_reserve(c, all + bytes));
  KZ_TRY(copy(c, (char *)m->stage + all, send, bytes, 1));
  KZ_TRY(n_allgather(c, (char *)m->stage + all, m->stage, count, t));
  return copy(c, recv, m->stage, all, 0);
}

static kz_status h_broadcast(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, int root) {
  nccl_impl *m = c->impl;
  const size_t bytes = count * kz_comm_dtype_size(t);
  KZ_TRY(stage_reserve(c, bytes));
  KZ_TRY(copy(c, m->stage, buf, bytes, 1));
  KZ_TRY(n_broadcast(c, m->stage, count, t, root));
  return copy(c, buf, m->stage, bytes, 0);
}

static void h_destroy(kz_comm *c) {
  nccl_impl *m = c->impl;
  if (m && m->stage) cudaFree(m->stage);
  free(m);
  free(c);
}

/* host buffers: no non-blocking all-reduce (the blocking one serves) */
static const kz_comm_ops nccl_host_ops = {.kind = "nccl-host",
                                          .allreduce = h_allreduce,
                                          .reduce_scatter = h_reduce_scatter,
                                          .allgather = h_allgather,
                                          .broadcast = h_broadcast,
                                          .barrier = n_barrier,
                                          .destroy = h_destroy};

kz_status kz_comm_nccl_host_view(kz_comm *nccl, kz_comm **out) {
  *out = NULL;
  if (!nccl || nccl->ops != &nccl_ops)
    return kz_fail(KZ_ERR_INVALID_ARG, "NCCL host view: not a NCCL communicator");
  const nccl_impl *src = nccl->impl;
  kz_comm *c = calloc(1, sizeof *c);
  nccl_impl *m = calloc(1, sizeof *m);
  if (!c || !m) {
    free(c);
    free(m);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "NCCL host view: out of memory");
  }
  *m = *src; /* the same NCCL communicator, stream and barrier float: not owned */
  m->host_view = 1;
  m->stage = NULL;
  m->stage_bytes = 0;
  c->ops = &nccl_host_ops;
  c->rank = nccl->rank;
  c->size = nccl->size;
  c->impl = m;
  *out = c;
  return KZ_OK;
}

static const kz_comm_ops nccl_ops = {.kind = "nccl",
                                     .allreduce = n_allreduce,
                                     .reduce_scatter = n_reduce_scatter,
                                     .allgather = n_allgather,
                                     .broadcast = n_broadcast,
                                     .barrier = n_barrier,
                                     .destroy = n_destroy,
                                     .iallreduce = n_iallreduce,
                                     .wait_all = n_wait_all};

kz_status kz_comm_nccl_create(kz_comm *boot, const char *rendezvous, int rank, int size, int device,
                              kz_comm **out) {
  *out = NULL;
  if (boot && (kz_comm_rank(boot) != rank || kz_comm_size(boot) != size))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "NCCL communicator: the bootstrap communicator is rank "
                   "%d of %d, not %d of %d",
                   kz_comm_rank(boot), kz_comm_size(boot), rank, size);
  int n_dev = 0;
  if (cudaGetDeviceCount(&n_dev) != cudaSuccess || device < 0 || device >= n_dev)
    return kz_fail(KZ_ERR_DEVICE, "rank %d: NCCL communicator: no CUDA device %d (%d found)", rank,
                   device, n_dev);
  ncclUniqueId id;
  memset(&id, 0, sizeof id);
  if (rank == 0) {
    ncclResult_t r = ncclGetUniqueId(&id);
    if (r != ncclSuccess)
      return kz_fail(KZ_ERR_DEVICE, "rank 0: ncclGetUniqueId: %s", ncclGetErrorString(r));
  }
  if (boot)
    KZ_TRY(kz_comm_broadcast(boot, &id, sizeof id, KZ_COMM_U8, 0));
  else
    KZ_TRY(kz_rendezvous_share(rendezvous, rank, size, &id, sizeof id, 300));
  kz_comm *c = calloc(1, sizeof *c);
  nccl_impl *m = calloc(1, sizeof *m);
  if (!c || !m) {
    free(c);
    free(m);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "NCCL communicator: out of memory");
  }
  c->ops = &nccl_ops;
  c->rank = rank;
  c->size = size;
  c->impl = m;
  m->device = device;
  cudaError_t e = cudaSetDevice(device);
  if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking);
  if (e == cudaSuccess) e = cudaMalloc((void **)&m->one, sizeof(float));
  if (e == cudaSuccess) e = cudaEventCreateWithFlags(&m->ready, cudaEventDisableTiming);
  if (e == cudaSuccess) e = cudaEventCreateWithFlags(&m->done, cudaEventDisableTiming);
  if (e != cudaSuccess) {
    n_destroy(c);
    return kz_fail(KZ_ERR_DEVICE, "rank %d: NCCL communicator on device %d: %s", rank, device,
                   cudaGetErrorString(e));
  }
  ncclResult_t r = ncclCommInitRank(&m->comm, size, id, rank);
  if (r != ncclSuccess) {
    m->comm = NULL;
    n_destroy(c);
    return kz_fail(KZ_ERR_DEVICE, "rank %d of %d: ncclCommInitRank: %s", rank, size,
                   ncclGetErrorString(r));
  }
  *out = c;
  return KZ_OK;
}

#else

kz_status kz_comm_nccl_host_view(kz_comm *nccl, kz_comm **out) {
  *out = NULL;
  return kz_fail(KZ_ERR_UNSUPPORTED, "NCCL host view: this kaizen was built without NCCL");
}

kz_status kz_comm_nccl_create(kz_comm *boot, const char *rendezvous, int rank, int size, int device,
                              kz_comm **out) {
  *out = NULL;
  return kz_fail(KZ_ERR_UNSUPPORTED,
                 "NCCL communicator: this kaizen was built without NCCL (a CUDA build finds it "
                 "next to the CUDA toolkit)");
}

#endif
