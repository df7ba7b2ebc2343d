/* The MPI communicator (comm.h) over MPI_COMM_WORLD, for host buffers. MPI
 * counts are ints, so long buffers go in chunks of at most 2^30 elements.
 * Errors return (MPI_ERRORS_RETURN on the world, set in launch.c) and carry
 * MPI's own message. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dist/comm_internal.h"
#include "kernels/core/error.h"

#ifdef KZ_WITH_MPI
#include <mpi.h>

enum { CHUNK = 1 << 30 };

static MPI_Datatype mpi_type(kz_comm_dtype t) {
  switch (t) {
  case KZ_COMM_F32:
    return MPI_FLOAT;
  case KZ_COMM_F64:
    return MPI_DOUBLE;
  case KZ_COMM_I64:
    return MPI_INT64_T;
  case KZ_COMM_U8:
    return MPI_UINT8_T;
  }
  return MPI_BYTE;
}

static kz_status mpi_check(int rc, const kz_comm *c, const char *what) {
  if (rc == MPI_SUCCESS) return KZ_OK;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return kz_fail(KZ_ERR_IO, "rank %d of %d: MPI %s failed: %s", c->rank, c->size, what, msg);
}

static void scale(void *buf, size_t count, kz_comm_dtype t, double by) {
  if (t == KZ_COMM_F32) {
    float *f = buf, s = (float)by;
    for (size_t i = 0; i < count; ++i) f[i] *= s;
  } else {
    double *d = buf;
    for (size_t i = 0; i < count; ++i) d[i] *= by;
  }
}

static kz_status m_allreduce(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, kz_comm_op op) {
  const size_t es = kz_comm_dtype_size(t);
  for (size_t off = 0; off < count; off += CHUNK) {
    int n = (int)(count - off < CHUNK ? count - off : CHUNK);
    KZ_TRY(mpi_check(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * es, n, mpi_type(t),
                                   op == KZ_COMM_MAX ? MPI_MAX : MPI_SUM, MPI_COMM_WORLD),
                     c, "allreduce"));
  }
  if (op == KZ_COMM_AVG) scale(buf, count, t, 1.0 / c->size);
  return KZ_OK;
}

static kz_status m_reduce_scatter(kz_comm *c, const void *send, void *recv, size_t count,
                                  kz_comm_dtype t, kz_comm_op op) {
  if (count > INT_MAX)
    return kz_fail(KZ_ERR_INVALID_ARG, "reduce_scatter: %zu elements per rank is over MPI's int",
                   count);
  KZ_TRY(mpi_check(MPI_Reduce_scatter_block(send, recv, (int)count, mpi_type(t),
                                            op == KZ_COMM_MAX ? MPI_MAX : MPI_SUM, MPI_COMM_WORLD),
                   c, "reduce_scatter"));
  if (op == KZ_COMM_AVG) scale(recv, count, t, 1.0 / c->size);
  return KZ_OK;
}

static kz_status m_allgather(kz_comm *c, const void *send, void *recv, size_t count,
                             kz_comm_dtype t) {
  if (count > INT_MAX)
    return kz_fail(KZ_ERR_INVALID_ARG, "allgather: %zu elements per rank is over MPI's int", count);
  return mpi_check(
      MPI_Allgather(send, (int)count, mpi_type(t), recv, (int)count, mpi_type(t), MPI_COMM_WORLD),
      c, "allgather");
}

/* Variable blocks as a sequence of broadcasts, one per rank: counts and
 * displacements may pass MPI's int where one rank's block does not. */
static kz_status m_allgatherv(kz_comm *c, const void *send, void *recv, const size_t *counts,
                              kz_comm_dtype t) {
  const size_t es = kz_comm_dtype_size(t);
  size_t off = 0;
  for (int r = 0; r < c->size; ++r) {
    char *dst = (char *)recv + off * es;
    if (r == c->rank && counts[r] > 0) memmove(dst, send, counts[r] * es);
    for (size_t o = 0; o < counts[r]; o += CHUNK) {
      int n = (int)(counts[r] - o < CHUNK ? counts[r] - o : CHUNK);
      KZ_TRY(
          mpi_check(MPI_Bcast(dst + o * es, n, mpi_type(t), r, MPI_COMM_WORLD), c, "allgatherv"));
    }
    off += counts[r];
  }
  return KZ_OK;
}

static kz_status m_broadcast(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, int root) {
  const size_t es = kz_comm_dtype_size(t);
  for (size_t off = 0; off < count; off += CHUNK) {
    int n = (int)(count - off < CHUNK ? count - off : CHUNK);
    KZ_TRY(mpi_check(MPI_Bcast((char *)buf + off * es, n, mpi_type(t), root, MPI_COMM_WORLD), c,
                     "broadcast"));
  }
  return KZ_OK;
}

static kz_status m_barrier(kz_comm *c) {
  return mpi_check(MPI_Barrier(MPI_COMM_WORLD), c, "barrier");
}

/* ---- non-blocking all-reduce: started requests, completed together ------ */

typedef struct pending {
  MPI_Request req;
  void *buf; /* for the average's scaling once complete */
  size_t count;
  kz_comm_dtype t;
  int avg;
} pending;

typedef struct mpi_impl {
  pending *p;
  int n, cap;
} mpi_impl;

static kz_status m_iallreduce(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, kz_comm_op op,
                              kz_stream *after) {
  mpi_impl *m = c->impl;
  /* host buffers: the stream that wrote them (the CPU's) is synchronous */
  if (after) KZ_TRY(kz_stream_sync(after));
  const size_t es = kz_comm_dtype_size(t);
  for (size_t off = 0; off < count; off += CHUNK) {
    if (m->n == m->cap) {
      int cap = m->cap ? 2 * m->cap : 16;
      pending *p = realloc(m->p, sizeof *p * (size_t)cap);
      if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "rank %d: iallreduce: out of memory", c->rank);
      m->p = p, m->cap = cap;
    }
    pending *q = &m->p[m->n];
    int n = (int)(count - off < CHUNK ? count - off : CHUNK);
    *q = (pending){MPI_REQUEST_NULL, (char *)buf + off * es, (size_t)n, t, op == KZ_COMM_AVG};
    KZ_TRY(mpi_check(MPI_Iallreduce(MPI_IN_PLACE, q->buf, n, mpi_type(t),
                                    op == KZ_COMM_MAX ? MPI_MAX : MPI_SUM, MPI_COMM_WORLD, &q->req),
                     c, "iallreduce"));
    m->n += 1;
  }
  return KZ_OK;
}

/* Open MPI advances a non-blocking collective only inside MPI calls: a test
 * between two layers of the backward pass moves the started ones on. */
static kz_status m_progress(kz_comm *c) {
  mpi_impl *m = c->impl;
  for (int i = 0; i < m->n; ++i) {
    if (m->p[i].req == MPI_REQUEST_NULL) continue;
    int done = 0;
    KZ_TRY(mpi_check(MPI_Test(&m->p[i].req, &done, MPI_STATUS_IGNORE), c, "iallreduce (test)"));
  }
  return KZ_OK;
}

static kz_status m_wait_all(kz_comm *c, kz_stream *before) {
  mpi_impl *m = c->impl;
  kz_status st = KZ_OK;
  for (int i = 0; i < m->n; ++i) {
    if (st == KZ_OK && m->p[i].req != MPI_REQUEST_NULL)
      st = mpi_check(MPI_Wait(&m->p[i].req, MPI_STATUS_IGNORE), c, "iallreduce (wait)");
    if (st == KZ_OK && m->p[i].avg) scale(m->p[i].buf, m->p[i].count, m->p[i].t, 1.0 / c->size);
  }
  m->n = 0;
  return st;
}

static void m_destroy(kz_comm *c) {
  mpi_impl *m = c->impl;
  if (m) free(m->p);
  free(m);
  free(c);
}

static const kz_comm_ops mpi_ops = {.kind = "mpi",
                                    .allreduce = m_allreduce,
                                    .reduce_scatter = m_reduce_scatter,
                                    .allgather = m_allgather,
                                    .allgatherv = m_allgatherv,
                                    .broadcast = m_broadcast,
                                    .barrier = m_barrier,
                                    .destroy = m_destroy,
                                    .iallreduce = m_iallreduce,
                                    .progress = m_progress,
                                    .wait_all = m_wait_all};

kz_status kz_comm_mpi_create(kz_comm **out) {
  int init = 0;
  MPI_Initialized(&init);
  if (!init) return kz_fail(KZ_ERR_INVALID_ARG, "MPI communicator: MPI is not initialised");
  kz_comm *c = calloc(1, sizeof *c);
  mpi_impl *m = calloc(1, sizeof *m);
  if (!c || !m) {
    free(c), free(m);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "communicator: out of memory");
  }
  c->impl = m;
  c->ops = &mpi_ops;
  MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &c->size);
  *out = c;
  return KZ_OK;
}

#else

kz_status kz_comm_mpi_create(kz_comm **out) {
  *out = NULL;
  return kz_fail(KZ_ERR_UNSUPPORTED,
                 "MPI communicator: this kaizen was built without MPI (install libopenmpi-dev "
                 "and reconfigure)");
}

#endif
