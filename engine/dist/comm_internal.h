/* The implementations' side of comm.h: a table of collectives per kind.
 * comm.c checks arguments and arms the watchdog around each call. */
#ifndef KZ_ENGINE_DIST_COMM_INTERNAL_H
#define KZ_ENGINE_DIST_COMM_INTERNAL_H

#include "engine/dist/comm.h"

typedef struct kz_comm_ops {
  const char *kind;
  kz_status (*allreduce)(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, kz_comm_op op);
  kz_status (*reduce_scatter)(kz_comm *c, const void *send, void *recv, size_t count,
                              kz_comm_dtype t, kz_comm_op op);
  kz_status (*allgather)(kz_comm *c, const void *send, void *recv, size_t count, kz_comm_dtype t);
  kz_status (*allgatherv)(kz_comm *c, const void *send, void *recv, const size_t *counts,
                          kz_comm_dtype t); /* NULL: not offered */
  kz_status (*broadcast)(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, int root);
  kz_status (*barrier)(kz_comm *c);
  void (*destroy)(kz_comm *c);
  /* non-blocking all-reduce (comm.h kz_comm_iallreduce); NULL: the
   * blocking one after `after` is synchronised */
  kz_status (*iallreduce)(kz_comm *c, void *buf, size_t count, kz_comm_dtype t, kz_comm_op op,
                          kz_stream *after);
  kz_status (*progress)(kz_comm *c); /* NULL: nothing to drive */
  kz_status (*wait_all)(kz_comm *c, kz_stream *before);
} kz_comm_ops;

struct kz_comm {
  const kz_comm_ops *ops;
  int rank, size;
  void *impl;
};

#endif
