/* Sharing one small blob (the NCCL unique id) from rank 0 with every rank
 * when there is no MPI to carry it (docs/DISTRIBUTED.md):
 *   file:///shared/dir   rank 0 writes DIR/kaizen-rendezvous (a temporary
 *                        name, then a rename); the others wait for it. Use a
 *                        fresh directory per job: a file left by an earlier
 *                        job would be read as this one's.
 *   tcp://HOST:PORT      rank 0 listens on PORT, the others connect to HOST.
 * spec NULL: tcp from KZ_MASTER_ADDR and KZ_MASTER_PORT. */
#ifndef KZ_ENGINE_DIST_RENDEZVOUS_H
#define KZ_ENGINE_DIST_RENDEZVOUS_H

#include <stddef.h>

#include "kaizen.h"

/* Rank 0's blob[len] ends up in every rank's blob; gives up after
 * timeout_s seconds, naming the spec and what it waited for. */
kz_status kz_rendezvous_share(const char *spec, int rank, int size, void *blob, size_t len,
                              double timeout_s);

#endif
