/* Run tracking (docs/RUNS.md). Each training run owns a directory
 *   <runs_dir>/<experiment>/<run_id>/
 *     config.yaml     the effective job config (defaults included)
 *     params.json     model type, parameter count, model meta, data sets, seed
 *     metrics.csv     step,wall_s,<metric>...  one row per logged step; a
 *                     metric not logged at that step is an empty cell.
 *                     Metric names are "train/loss", "lr", "valid/accuracy" ...
 *     summary.json    see kz_run_finish
 *     checkpoints/    ckpt-<step>.kzc (the trainer's)
 *     model.kzm / model.json   the final model (neural / gbdt)
 *     best.kzm                 the best model by the early-stopping metric
 * Every file is written to a .tmp name and renamed, except metrics.csv which
 * is appended and flushed row by row (a crash loses at most the current row;
 * resume truncates rows after the resumed step).
 *
 * A run directory is created only once the config has been fully validated,
 * so a bad config leaves nothing behind. */
#ifndef KZ_ENGINE_TRACK_RUN_H
#define KZ_ENGINE_TRACK_RUN_H

#include <stdint.h>

#include "common/config/cfg.h"
#include "kaizen.h"

typedef struct kz_run kz_run;

typedef struct kz_run_options {
  const char *runs_dir;   /* default "runs" */
  const char *experiment; /* default "default" */
  const char *run_id;     /* NULL: <UTC yyyymmdd-hhmmss>-<4 hex> */
  int resume;             /* open the existing directory instead of creating it */
} kz_run_options;

/* Creates (or, with resume, reopens) the directory and writes config.yaml.
 * Creating fails if the directory already exists. */
kz_status kz_run_open(const kz_run_options *o, const kz_cfg *cfg, kz_run **out);
const char *kz_run_dir(const kz_run *r);
const char *kz_run_id(const kz_run *r);
/* "<dir>/<name>" into buf; returns buf. */
const char *kz_run_path(const kz_run *r, const char *name, char *buf, size_t cap);

/* The columns of metrics.csv after step and wall_s, fixed for the run. On
 * resume the existing header must match; rows with step > truncate_after_step
 * are dropped (pass INT64_MAX to keep all). */
kz_status kz_run_metrics_begin(kz_run *r, const char *const *names, int n,
                               int64_t truncate_after_step);
/* One row; values[i] NAN means "not logged at this step" (empty cell). */
kz_status kz_run_log(kz_run *r, int64_t step, double wall_s, const double *values);

/* params.json: a JSON object string the caller builds. */
kz_status kz_run_write_params(kz_run *r, const char *json_object);

typedef struct kz_run_summary {
  const char *status;     /* "finished", "stopped_early", "failed" */
  const char *model_type; /* "mlp", "gbdt" */
  int64_t steps;
  double wall_s;
  int n_final;
  const char *final_names[16];
  double final_values[16];
  int64_t final_step; /* the step (round) of the saved model the final metrics are of; 0: none */
  const char *best_metric; /* NULL if none */
  double best_value;
  int64_t best_step;
  uint64_t peak_memory_bytes; /* max RSS */
  const char *device;         /* "cpu", "cuda:0 (NVIDIA H100 ...)" */
} kz_run_summary;

/* summary.json = the fields above + run_id, experiment, git hash, kaizen
 * version, started/finished (UTC ISO 8601). */
kz_status kz_run_finish(kz_run *r, const kz_run_summary *s);
void kz_run_close(kz_run *r);

/* run.pid: while a run trains, "<pid> <start time> <boot id> <host>" of the
 * process training it (written by kz_run_open, removed by kz_run_finish), so
 * that a run left without summary.json by a dead process (kill -9, a lost
 * node) reads as crashed, not as running forever. The start time (clock
 * ticks after boot, /proc/PID/stat) and the boot id tell a recycled pid from
 * the recorded process. */
typedef enum kz_run_owner {
  KZ_RUN_OWNER_UNKNOWN = -1, /* no run.pid (an older run), or it names another host */
  KZ_RUN_OWNER_DEAD = 0,     /* the recorded process is gone: the run crashed */
  KZ_RUN_OWNER_ALIVE = 1     /* the recorded process still runs on this host */
} kz_run_owner;
/* The state of dir's recorded process; *pid (may be NULL) gets its pid, or 0. */
kz_run_owner kz_run_owner_state(const char *dir, long *pid);

/* Peak resident memory of this process in bytes (getrusage). */
uint64_t kz_run_peak_rss(void);

#endif
