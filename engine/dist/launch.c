/* Launcher detection, the world communicator and the watchdog (launch.h). */
#define _POSIX_C_SOURCE 200809L
#include "engine/dist/launch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/core/error.h"

#ifdef KZ_WITH_MPI
#include <mpi.h>
#endif

static kz_dist_env g_env = {0, 1, 0, 0, "none"};
static int g_inited, g_mpi_inited;
static kz_comm *g_world;
static char g_rendezvous[1024];

/* ---- environment ----------------------------------------------------------- */

static kz_status env_int(const char *name, int lo, int *out, int *found) {
  const char *v = getenv(name);
  *found = 0;
  if (!v || !*v) return KZ_OK;
  char *end = NULL;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || *end || x < lo || x > 1 << 24)
    return kz_fail(KZ_ERR_INVALID_ARG, "environment: %s=%s is not a whole number >= %d", name, v,
                   lo);
  *out = (int)x;
  *found = 1;
  return KZ_OK;
}

/* One launcher's three variables; the local rank is optional. */
static kz_status env_triple(const char *r, const char *s, const char *l, kz_dist_env *e,
                            int *found) {
  int fr = 0, fs = 0, fl = 0;
  KZ_TRY(env_int(r, 0, &e->rank, &fr));
  KZ_TRY(env_int(s, 1, &e->size, &fs));
  KZ_TRY(env_int(l, 0, &e->local_rank, &fl));
  *found = fr && fs;
  if (fr != fs)
    return kz_fail(KZ_ERR_INVALID_ARG, "environment: %s and %s must be set together", r, s);
  if (*found && e->rank >= e->size)
    return kz_fail(KZ_ERR_INVALID_ARG, "environment: %s=%d is not below %s=%d", r, e->rank, s,
                   e->size);
  if (*found && !fl) e->local_rank = e->rank;
  return KZ_OK;
}

kz_status kz_dist_env_detect(kz_dist_env *e) {
  *e = (kz_dist_env){0, 1, 0, 0, "none"};
  int found = 0;
  KZ_TRY(env_triple("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", e,
                    &found));
  if (!found) KZ_TRY(env_triple("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", e, &found));
  if (!found && getenv("PMIX_RANK"))
    KZ_TRY(env_triple("PMIX_RANK", "SLURM_NTASKS", "SLURM_LOCALID", e, &found));
  if (found) {
    e->mpi = 1;
    e->launcher = "mpi";
    return KZ_OK;
  }
  KZ_TRY(env_triple("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", e, &found));
  if (found) {
    e->launcher = "slurm";
    return KZ_OK;
  }
  KZ_TRY(env_triple("KZ_RANK", "KZ_WORLD_SIZE", "KZ_LOCAL_RANK", e, &found));
  if (found) e->launcher = "kaizen";
  return KZ_OK;
}

/* ---- the watchdog ------------------------------------------------------------ */

static pthread_mutex_t g_watch_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *g_watch_what; /* NULL: no collective in progress */
static double g_watch_since, g_timeout_s = 300;
static int g_watch_started;

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void kz_dist_watch_begin(const char *what) {
  if (!g_watch_started) return;
  pthread_mutex_lock(&g_watch_mu);
  g_watch_what = what;
  g_watch_since = mono_s();
  pthread_mutex_unlock(&g_watch_mu);
}

void kz_dist_watch_end(void) {
  if (!g_watch_started) return;
  pthread_mutex_lock(&g_watch_mu);
  g_watch_what = NULL;
  pthread_mutex_unlock(&g_watch_mu);
}

static void *watch_main(void *arg) {
  for (;;) {
    struct timespec ts = {0, 250 * 1000 * 1000};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&g_watch_mu);
    const char *what = g_watch_what;
    double waited = what ? mono_s() - g_watch_since : 0;
    pthread_mutex_unlock(&g_watch_mu);
    if (what && waited > g_timeout_s) {
      char msg[256];
      snprintf(msg, sizeof msg,
               "%s has waited %.0f s for the other ranks (KZ_DIST_TIMEOUT=%.0f): a rank has "
               "died or hangs",
               what, waited, g_timeout_s);
      /* no MPI call from this thread (MPI is initialised FUNNELED): the
       * process exits, and the launcher ends the other ranks */
      fprintf(stderr, "kaizen: rank %d of %d failed: %s\n", g_env.rank, g_env.size, msg);
      fflush(stderr);
      _exit(3);
    }
  }
  return NULL;
}

static kz_status start_watchdog(void) {
  const char *t = getenv("KZ_DIST_TIMEOUT");
  if (t && *t) {
    char *end = NULL;
    double v = strtod(t, &end);
    if (*end || !(v > 0))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "environment: KZ_DIST_TIMEOUT=%s is not a positive "
                     "number of seconds",
                     t);
    g_timeout_s = v;
  }
  pthread_t th;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&th, &a, watch_main, NULL);
  pthread_attr_destroy(&a);
  if (rc != 0) return kz_fail(KZ_ERR_INTERNAL, "cannot start the distributed watchdog thread");
  g_watch_started = 1;
  return KZ_OK;
}

/* ---- the world ------------------------------------------------------------------ */

kz_status kz_dist_init(const char *rendezvous) {
  if (g_inited) return KZ_OK;
  if (rendezvous) snprintf(g_rendezvous, sizeof g_rendezvous, "%s", rendezvous);
  KZ_TRY(kz_dist_env_detect(&g_env));
  if (g_env.mpi) {
#ifdef KZ_WITH_MPI
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      return kz_fail(KZ_ERR_IO, "rank %d: MPI_Init failed", g_env.rank);
    g_mpi_inited = 1;
    /* errors come back as statuses with MPI's message, and the rank that
     * sees one takes the job down through kz_dist_fail */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    KZ_TRY(kz_comm_mpi_create(&g_world));
    g_env.rank = kz_comm_rank(g_world);
    g_env.size = kz_comm_size(g_world);
#else
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "started by an MPI launcher (rank %d of %d), but this kaizen was built "
                   "without MPI",
                   g_env.rank, g_env.size);
#endif
  } else if (g_env.size == 1) {
    KZ_TRY(kz_comm_self_create(&g_world));
  }
  g_inited = 1;
  if (g_env.size > 1) KZ_TRY(start_watchdog());
  return KZ_OK;
}

kz_comm *kz_dist_world(void) {
  if (!g_world && g_env.size == 1 && kz_comm_self_create(&g_world) != KZ_OK) return NULL;
  if (!g_world)
    kz_fail(KZ_ERR_UNSUPPORTED,
            "rank %d of %d (launcher %s): collectives on host memory need an MPI launcher "
            "(mpirun, or srun --mpi=pmix); without one only the NCCL communicator is available",
            g_env.rank, g_env.size, g_env.launcher);
  return g_world;
}

const kz_dist_env *kz_dist_environment(void) {
  return &g_env;
}
const char *kz_dist_rendezvous(void) {
  return g_rendezvous[0] ? g_rendezvous : NULL;
}
int kz_dist_rank(void) {
  return g_env.rank;
}
int kz_dist_size(void) {
  return g_env.size;
}

void kz_dist_finalize(void) {
#ifdef KZ_WITH_MPI
  if (g_mpi_inited) {
    kz_dist_watch_begin("finalize");
    MPI_Finalize();
    g_mpi_inited = 0;
  }
#endif
  kz_comm_destroy(g_world);
  g_world = NULL;
}

void kz_dist_fail(const char *message) {
  if (g_env.size <= 1) return;
  fprintf(stderr, "kaizen: rank %d of %d failed: %s\n", g_env.rank, g_env.size, message);
  fflush(stderr);
#ifdef KZ_WITH_MPI
  if (g_mpi_inited) MPI_Abort(MPI_COMM_WORLD, 3);
#endif
  _exit(3);
}
