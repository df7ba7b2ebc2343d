/* Gradient buckets reduced while the backward pass goes on
 * (docs/DISTRIBUTED.md, "Overlap"). The gradient block is cut into buckets
 * of `bucket` floats; a model reports each range of gradients when its
 * backward has written it for the last time (kz_nn_grads_ready,
 * models/nn_model.h), and a bucket whose trainable floats have all been
 * reported starts its all-reduce at once (kz_comm_iallreduce: NCCL on its
 * own stream, MPI non-blocking).
 *
 * Every rank must start the same reductions in the same order, whatever
 * order its model reports in or however its batch is cut: buckets start
 * strictly from the last (highest offsets, the top layers, whose
 * gradients the backward writes first) down to the first; a complete
 * bucket waits for the ones above it. kz_grad_buckets_finish starts
 * whatever is left, in the same order, and waits for all. */
#ifndef KZ_ENGINE_DIST_GRAD_BUCKETS_H
#define KZ_ENGINE_DIST_GRAD_BUCKETS_H

#include <stdint.h>

#include "engine/dist/comm.h"
#include "kaizen.h"
#include "kernels/core/backend.h"
#include "models/nn_model.h"

typedef struct kz_grad_buckets {
  kz_comm *comm;
  float *grads; /* the gradient block (host or device memory, as comm wants) */
  int64_t n, bucket;
  int nb;
  int64_t *total; /* per bucket: its trainable floats */
  int64_t *left;  /* per bucket: trainable floats not reported yet */
  int next;       /* the next bucket to start (nb - 1 down to 0; -1: all started) */
  int armed;
  kz_stream *model_stream; /* the stream the model reported on (NULL: none) */
  int ntr;
  kz_param_range tr[KZ_NN_MAX_RANGES];
  /* over the run: buckets started during a backward pass, and in all */
  int64_t early, started;
} kz_grad_buckets;

/* n floats of gradients in buckets of `bucket` floats; tr/ntr: the
 * trainable ranges (the others are never reported and need no waiting). */
kz_status kz_grad_buckets_init(kz_grad_buckets *b, kz_comm *comm, float *grads, int64_t n,
                               int64_t bucket, const kz_param_range *tr, int ntr);
void kz_grad_buckets_free(kz_grad_buckets *b);
/* Before the step's last backward pass: nothing reported yet. */
void kz_grad_buckets_arm(kz_grad_buckets *b);
/* A model's report (the kz_nn_grad_ready_fn, ctx = b): floats [offset,
 * offset + count) of the gradients are final, written by work on s. Each
 * range is reported at most once per armed pass. */
kz_status kz_grad_buckets_ready(void *ctx, kz_stream *s, int64_t offset, int64_t count);
/* After the backward pass: starts the buckets not started yet, in order,
 * after the work on the stream the model reported on (its backward may still
 * be running there), or on s when it reported nothing; completes all: work
 * enqueued on `before` afterwards sees the sums (MPI: the host too). */
kz_status kz_grad_buckets_finish(kz_grad_buckets *b, kz_stream *s, kz_stream *before);

#endif
