/* The communicator: the collectives data-parallel training needs, behind one
 * opaque handle with three implementations (docs/DISTRIBUTED.md):
 *   - self: a world of one, no library involved (single-process runs);
 *   - MPI (comm_mpi.c): host buffers, for CPU training and for every small
 *     host-side exchange (counts, losses, the NCCL unique id);
 *   - NCCL (comm_nccl.c): device buffers on the communicator's CUDA device.
 * Every call is collective: all ranks make it, in the same order, with the
 * same counts. Buffers are host memory for self and MPI, device memory for
 * NCCL. A collective that does not finish within the watchdog's timeout
 * (launch.h) ends the process with a message naming this rank. */
#ifndef KZ_ENGINE_DIST_COMM_H
#define KZ_ENGINE_DIST_COMM_H

#include <stddef.h>

#include "kaizen.h"
#include "kernels/core/backend.h"

typedef struct kz_comm kz_comm;

typedef enum kz_comm_dtype { KZ_COMM_F32, KZ_COMM_F64, KZ_COMM_I64, KZ_COMM_U8 } kz_comm_dtype;
/* AVG: the sum divided by the world size (floating types only); MAX: the
 * largest value. */
typedef enum kz_comm_op { KZ_COMM_SUM, KZ_COMM_AVG, KZ_COMM_MAX } kz_comm_op;

size_t kz_comm_dtype_size(kz_comm_dtype t);

int kz_comm_rank(const kz_comm *c);
int kz_comm_size(const kz_comm *c);
/* "self", "mpi" or "nccl" */
const char *kz_comm_kind(const kz_comm *c);

/* In place: buf[count] becomes the reduction over all ranks. */
kz_status kz_comm_allreduce(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, kz_comm_op op);
/* send[count x size] reduced over ranks; rank r receives block r in
 * recv[count]. send and recv must not overlap. */
kz_status kz_comm_reduce_scatter(kz_comm *c, const void *send, void *recv, size_t count,
                                 kz_comm_dtype t, kz_comm_op op);
/* recv[count x size]: block r is rank r's send[count]. */
kz_status kz_comm_allgather(kz_comm *c, const void *send, void *recv, size_t count,
                            kz_comm_dtype t);
/* Rank r contributes counts[r] elements; recv receives them concatenated in
 * rank order (host communicators only: self and MPI). */
kz_status kz_comm_allgatherv(kz_comm *c, const void *send, void *recv, const size_t *counts,
                             kz_comm_dtype t);
kz_status kz_comm_broadcast(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, int root);
kz_status kz_comm_barrier(kz_comm *c);

/* Non-blocking all-reduce, for gradients reduced while the backward pass
 * goes on (docs/DISTRIBUTED.md, "Overlap"). Starts buf[count] reducing in
 * place: with NCCL on the communicator's own stream, after the work already
 * enqueued on `after` (the stream that wrote buf; an event orders them, the
 * host does not wait); with MPI as MPI_Iallreduce. buf must not be touched
 * until kz_comm_wait_all. Every rank starts the same calls in the same
 * order, and no blocking collective on this communicator may come between
 * a start and the wait. */
kz_status kz_comm_iallreduce(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, kz_comm_op op,
                             kz_stream *after);
/* Lets started reductions advance (MPI progresses a non-blocking collective
 * only inside MPI calls); never blocks. */
kz_status kz_comm_progress(kz_comm *c);
/* Completes every started reduction. MPI: the buffers hold the results on
 * return. NCCL: work enqueued on `before` after this call waits for them (an
 * event on the communicator's stream); the host does not wait. */
kz_status kz_comm_wait_all(kz_comm *c, kz_stream *before);
void kz_comm_destroy(kz_comm *c);

/* A world of one: every collective is a copy or nothing. */
kz_status kz_comm_self_create(kz_comm **out);
/* The MPI world (MPI_COMM_WORLD); MPI must be initialised (launch.h).
 * KZ_ERR_UNSUPPORTED in a build without MPI. */
kz_status kz_comm_mpi_create(kz_comm **out);
/* A view of a NCCL communicator for host buffers: each call stages them
 * through a device buffer (for the few small values a trainer exchanges when
 * there is no MPI). The view does not own nccl, which must outlive it. */
kz_status kz_comm_nccl_host_view(kz_comm *nccl, kz_comm **out);
/* A NCCL communicator of `size` ranks on CUDA device `device`. The unique id
 * travels over `boot` when given (an MPI communicator of the same ranks),
 * else through the rendezvous spec (rendezvous.h). KZ_ERR_UNSUPPORTED in a
 * build without NCCL. */
kz_status kz_comm_nccl_create(kz_comm *boot, const char *rendezvous, int rank, int size, int device,
                              kz_comm **out);

#endif
