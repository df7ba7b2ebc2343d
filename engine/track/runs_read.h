/* Reading run directories back (docs/RUNS.md): summary.json, metrics.csv and
 * the list of runs under a runs directory. Used by `kaizen runs`. */
#ifndef KZ_ENGINE_TRACK_RUNS_READ_H
#define KZ_ENGINE_TRACK_RUNS_READ_H

#include <stdint.h>

#include "kaizen.h"

#define KZ_RUN_INFO_MAX_FINAL 32

typedef struct kz_run_info {
  char dir[4096];
  char experiment[256];
  char run_id[256];
  int has_summary; /* 0: no summary.json yet: status "running" or "crashed" by run.pid
                      (kz_run_owner_state), "running/crashed" when that cannot tell */
  char status[64];
  char model_type[64]; /* from summary.json, else config.yaml's model.type */
  char device[256];
  char git_hash[64];
  char started[40], finished[40];
  char best_metric[128]; /* "" when none */
  double best_value;
  int64_t best_step;
  int64_t steps;
  double wall_s; /* NAN when unknown */
  uint64_t peak_memory_bytes;
  int64_t final_step; /* the saved model's step the final metrics are of; -1 unknown */
  int n_final;
  char final_names[KZ_RUN_INFO_MAX_FINAL][128];
  double final_values[KZ_RUN_INFO_MAX_FINAL];
} kz_run_info;

/* Reads dir/summary.json (when present) and, without it, config.yaml for the
 * model type. The experiment and run id are the last two path components.
 * A malformed summary.json is an error naming the file. */
kz_status kz_run_info_read(const char *dir, kz_run_info *out);
/* The final value of the run's primary metric: the best metric if it has a
 * final value, else the first final metric. NULL name when there is none. */
const char *kz_run_info_primary(const kz_run_info *info, double *value);

/* Every run directory under runs_dir/<experiment>/ (all experiments when
 * experiment is NULL), sorted by experiment then run id. *out is malloc'ed.
 * A run whose files cannot be read (a malformed summary.json) is left out
 * with a warning on stderr naming the file. */
kz_status kz_runs_scan(const char *runs_dir, const char *experiment, kz_run_info **out, int *n);

/* metrics.csv as a table of doubles: column 0 is step, 1 wall_s; empty cells
 * are NAN. A last line without its newline (a crash mid-row) is ignored. */
typedef struct kz_metrics_table {
  int n_cols;
  char **names;
  int n_rows;
  double *values; /* n_rows x n_cols, row-major */
} kz_metrics_table;

kz_status kz_metrics_read(const char *path, kz_metrics_table *t);
void kz_metrics_free(kz_metrics_table *t);
/* Column index of name, or -1. */
int kz_metrics_column(const kz_metrics_table *t, const char *name);

#endif
