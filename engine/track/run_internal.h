/* Internals shared by run.c, run_metrics.c and runs_read.c; include track/run.h instead. */
#ifndef KZ_ENGINE_TRACK_RUN_INTERNAL_H
#define KZ_ENGINE_TRACK_RUN_INTERNAL_H

#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "engine/track/run.h"

struct kz_run {
  char dir[4096];
  char id[64];
  char experiment[256];
  time_t started;
  int resumed;
  FILE *metrics; /* metrics.csv, open for appending after kz_run_metrics_begin */
  char **metric_names;
  int n_metrics;
};

/* "2026-11-23T18:23:06Z" */
void kz_run_iso8601(time_t t, char *buf, size_t cap);
/* Writes text (or JSON) to path.tmp, then renames it to path. */
kz_status kz_run_write_file(const char *path, const char *text);
kz_status kz_run_write_json(json_t *j, const char *path);
/* The whole file, NUL-terminated (caller frees *text); errors name the file. */
kz_status kz_run_read_file(const char *path, char **text, size_t *len);
char *kz_run_strdup(const char *s);

#endif
