/* How this process learns its place in a distributed job, and the job-wide
 * communicator (docs/DISTRIBUTED.md).
 *
 * The launcher is read from the environment:
 *   - an MPI launcher (mpirun/mpiexec of Open MPI: OMPI_COMM_WORLD_*; MPICH
 *     and Intel MPI: PMI_RANK/PMI_SIZE; srun --mpi=pmix: PMIX_RANK): MPI is
 *     initialised and the world communicator is MPI's;
 *   - Slurm without an MPI plugin (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID)
 *     or kaizen's own variables (KZ_RANK, KZ_WORLD_SIZE, KZ_LOCAL_RANK): the
 *     rank and size are known, MPI is not used; only the NCCL communicator
 *     can then be built (its id through a rendezvous, rendezvous.h);
 *   - none of these: a world of one, no library initialised, exactly the
 *     single-process behaviour.
 * The local rank picks the GPU. */
#ifndef KZ_ENGINE_DIST_LAUNCH_H
#define KZ_ENGINE_DIST_LAUNCH_H

#include "engine/dist/comm.h"
#include "kaizen.h"

typedef struct kz_dist_env {
  int rank, size, local_rank;
  int mpi;              /* 1: launched by an MPI launcher */
  const char *launcher; /* "mpi", "slurm", "kaizen" or "none" */
} kz_dist_env;

/* Reads the variables above; malformed values are an error naming them. */
kz_status kz_dist_env_detect(kz_dist_env *e);

/* Sets up the world once per process (later calls return KZ_OK): MPI_Init
 * under an MPI launcher, and the watchdog thread when the world has more
 * than one rank. rendezvous: the --rendezvous spec or NULL (kept for the
 * NCCL communicator). */
kz_status kz_dist_init(const char *rendezvous);
/* The world communicator: MPI's, or a world of one. Before kz_dist_init, and
 * in a world without MPI, a world of one when size is 1, else NULL (the
 * error says that host collectives need an MPI launcher). */
kz_comm *kz_dist_world(void);
const kz_dist_env *kz_dist_environment(void);
const char *kz_dist_rendezvous(void);
int kz_dist_rank(void);
int kz_dist_size(void);
/* Collective shutdown (MPI_Finalize) after a successful job. */
void kz_dist_finalize(void);
/* A rank that failed: prints "kaizen: rank R of W failed: MESSAGE" and, in a
 * world of more than one, takes the job down (MPI_Abort) so no peer waits
 * for it. Returns only in a world of one. */
void kz_dist_fail(const char *message);

/* The watchdog: a collective in progress for longer than KZ_DIST_TIMEOUT
 * seconds (default 300) means a peer died or hangs; the process then exits
 * with status 3 through kz_dist_fail, naming its rank and the collective.
 * Nesting is not supported (one collective at a time per process). */
void kz_dist_watch_begin(const char *what);
void kz_dist_watch_end(void);

#endif
