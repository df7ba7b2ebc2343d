/* metrics.csv: one header, then one row per logged step, appended and
 * flushed row by row so a crash loses at most the row being written. On
 * resume the header must match and rows past the resumed step are dropped
 * (the file is rewritten through a temporary name). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/track/run_internal.h"
#include "kernels/core/error.h"

static kz_status check_names(const char *const *names, int n) {
  for (int i = 0; i < n; ++i) {
    const char *s = names[i];
    if (!s || !*s || strpbrk(s, ",\"\r\n"))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "metrics.csv: bad metric name '%s' (empty, or has a "
                     "comma, quote or line break)",
                     s ? s : "(null)");
    if (!strcmp(s, "step") || !strcmp(s, "wall_s"))
      return kz_fail(KZ_ERR_INVALID_ARG, "metrics.csv: metric name '%s' is reserved", s);
    for (int j = 0; j < i; ++j)
      if (!strcmp(names[j], s))
        return kz_fail(KZ_ERR_INVALID_ARG, "metrics.csv: metric '%s' listed twice", s);
  }
  return KZ_OK;
}

/* Keeps the header and the complete rows with step <= last_step. */
static kz_status truncate_rows(const char *path, const char *header, int64_t last_step) {
  size_t len = 0;
  char *text = NULL;
  KZ_TRY(kz_run_read_file(path, &text, &len));
  char *keep = malloc(len + 1);
  if (!keep) {
    free(text);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "metrics.csv: out of memory");
  }
  size_t kept = 0;
  kz_status st = KZ_OK;
  char *line = text;
  int lineno = 0;
  while (*line) {
    char *nl = strchr(line, '\n');
    ++lineno;
    if (!nl) break; /* a row cut short by a crash: dropped */
    *nl = '\0';
    size_t n = (size_t)(nl - line);
    if (n && line[n - 1] == '\r') line[--n] = '\0';
    if (lineno == 1) {
      if (strcmp(line, header)) {
        st = kz_fail(KZ_ERR_FORMAT, "%s:1: header '%s' does not match this run's metrics '%s'",
                     path, line, header);
        break;
      }
    } else {
      char *end = NULL;
      errno = 0;
      long long step = strtoll(line, &end, 10);
      if (end == line || *end != ',' || errno) {
        st = kz_fail(KZ_ERR_FORMAT, "%s:%d: row does not start with a step number", path, lineno);
        break;
      }
      if (step > last_step) {
        line = nl + 1;
        continue;
      }
    }
    memcpy(keep + kept, line, n);
    kept += n;
    keep[kept++] = '\n';
    line = nl + 1;
  }
  if (st == KZ_OK && lineno == 0)
    st = kz_fail(KZ_ERR_FORMAT, "%s: empty file, expected the header '%s'", path, header);
  keep[kept] = '\0';
  if (st == KZ_OK) st = kz_run_write_file(path, keep);
  free(keep);
  free(text);
  return st;
}

kz_status kz_run_metrics_begin(kz_run *r, const char *const *names, int n,
                               int64_t truncate_after_step) {
  if (!r || n < 0 || (n > 0 && !names))
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_run_metrics_begin: bad arguments");
  if (r->metrics) return kz_fail(KZ_ERR_INVALID_ARG, "kz_run_metrics_begin: called twice");
  KZ_TRY(check_names(names, n));
  size_t hcap = 16;
  for (int i = 0; i < n; ++i) hcap += strlen(names[i]) + 1;
  char *header = malloc(hcap);
  if (!header) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "metrics.csv: out of memory");
  strcpy(header, "step,wall_s");
  for (int i = 0; i < n; ++i) {
    strcat(header, ",");
    strcat(header, names[i]);
  }
  char path[sizeof r->dir + 32];
  kz_run_path(r, "metrics.csv", path, sizeof path);
  struct stat sb;
  kz_status st;
  if (r->resumed && stat(path, &sb) == 0) {
    st = truncate_rows(path, header, truncate_after_step);
  } else {
    size_t hl = strlen(header);
    header[hl] = '\n';
    header[hl + 1] = '\0';
    st = kz_run_write_file(path, header);
  }
  free(header);
  KZ_TRY(st);

  r->metric_names = calloc((size_t)(n ? n : 1), sizeof *r->metric_names);
  if (!r->metric_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "metrics.csv: out of memory");
  for (int i = 0; i < n; ++i) {
    r->metric_names[i] = kz_run_strdup(names[i]);
    if (!r->metric_names[i]) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "metrics.csv: out of memory");
    r->n_metrics = i + 1;
  }
  r->n_metrics = n;
  r->metrics = fopen(path, "ab");
  if (!r->metrics)
    return kz_fail(KZ_ERR_IO, "%s: cannot open for appending: %s", path, strerror(errno));
  return KZ_OK;
}

kz_status kz_run_log(kz_run *r, int64_t step, double wall_s, const double *values) {
  if (!r || (r->n_metrics && !values))
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_run_log: NULL argument");
  if (!r->metrics)
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_run_log: kz_run_metrics_begin was not called");
  FILE *f = r->metrics;
  fprintf(f, "%" PRId64 ",%.9g", step, wall_s);
  for (int i = 0; i < r->n_metrics; ++i) {
    if (isnan(values[i]))
      fputc(',', f);
    else
      fprintf(f, ",%.9g", values[i]);
  }
  fputc('\n', f);
  if (fflush(f) != 0 || ferror(f))
    return kz_fail(KZ_ERR_IO, "%s/metrics.csv: write failed: %s", r->dir, strerror(errno));
  return KZ_OK;
}
