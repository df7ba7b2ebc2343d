/* The time section of `kaizen data inspect` for timeseries (inspect.h): the
 * format, the range, the step (the most common difference between
 * consecutive times of a series) and each series' gaps. Splits are read one
 * after the other, train first: import sends each series' latest stretch to
 * valid, so a series stays in time order across them. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/timeparse.h"
#include "data/inspect/inspect_time.h"
#include "data/shard/iter.h"
#include "data/shard/reader.h"
#include "kernels/core/error.h"

typedef struct time_scan {
  int sf, tf; /* fields series_id and time */
  int32_t n_series;
  double step; /* 0 while collecting the steps */
  kz_time_steps steps;
  double *last;                /* per series, NaN before its first time */
  int64_t *gaps, *missing;     /* per series */
  double *big_from, *big_diff; /* per series: its largest gap */
  int64_t unordered;           /* times not after their predecessor (old data sets) */
  double tmin, tmax;
} time_scan;

static kz_status scan_batch(time_scan *ts, const kz_shard_batch *b) {
  for (int64_t r = 0; r < b->rows; ++r) {
    int32_t s = *kz_batch_i32(b, ts->sf, r);
    double t = *kz_batch_f64(b, ts->tf, r);
    if (s < 0 || s >= ts->n_series || isnan(t)) continue;
    if (t < ts->tmin) ts->tmin = t;
    if (t > ts->tmax) ts->tmax = t;
    double prev = ts->last[s];
    ts->last[s] = t;
    if (isnan(prev)) continue;
    double d = t - prev;
    if (!(d > 0)) {
      ts->unordered++;
      continue;
    }
    if (!(ts->step > 0)) {
      if (kz_time_steps_add(&ts->steps, d)) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
      continue;
    }
    int64_t m = kz_time_missing_steps(d, ts->step);
    if (!m) continue;
    ts->gaps[s]++;
    ts->missing[s] += m;
    if (d > ts->big_diff[s]) ts->big_diff[s] = d, ts->big_from[s] = prev;
  }
  return KZ_OK;
}

/* One pass over the data set, split by split (train first). */
static kz_status scan(time_scan *ts, const kz_dataset *all) {
  for (int32_t s = 0; s < ts->n_series; ++s) ts->last[s] = NAN;
  ts->unordered = 0;
  int n = kz_dataset_shard_count(all);
  const char **names = calloc((size_t)n + 1, sizeof *names);
  if (!names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  int k = 0;
  for (int pass = 0; pass < 2; ++pass) /* "train" first, then the others in order */
    for (int i = 0; i < n; ++i) {
      kz_shard_info info;
      kz_dataset_shard_info(all, i, &info);
      if ((pass == 0) != !strcmp(info.split, "train")) continue;
      int seen = 0;
      for (int j = 0; j < k; ++j) seen |= !strcmp(names[j], info.split);
      if (!seen) names[k++] = info.split;
    }
  kz_status st = KZ_OK;
  for (int i = 0; st == KZ_OK && i < k; ++i) {
    kz_dataset_options dopt = {names[i], 0};
    kz_dataset *ds = NULL;
    kz_shard_iter *it = NULL;
    kz_shard_iter_options io;
    kz_shard_iter_options_default(&io);
    io.batch_size = 4096;
    st = kz_dataset_open(kz_dataset_path(all), &dopt, &ds);
    if (st == KZ_OK) st = kz_shard_iter_open(ds, &io, &it);
    const kz_shard_batch *b;
    while (st == KZ_OK && (st = kz_shard_iter_next(it, &b)) == KZ_OK && b) st = scan_batch(ts, b);
    kz_shard_iter_close(it);
    kz_dataset_close(ds);
  }
  free(names);
  return st;
}

static void print_step(double step, kz_time_format f, char *buf, size_t n) {
  if (f == KZ_TIME_NUMBER)
    snprintf(buf, n, "%.10g", step);
  else
    kz_format_duration(step, buf, n);
}

static void report(FILE *out, const time_scan *ts, const kz_column *series, kz_time_format f,
                   int from_meta, int show) {
  char a[64], b[64], st[64];
  if (f == KZ_TIME_NUMBER)
    fprintf(out, "time: number (unit unknown)\n");
  else
    fprintf(out, "time: %s, seconds since 1970-01-01T00:00:00Z (UTC)\n", kz_time_format_name(f));
  if (ts->tmin > ts->tmax) return;
  kz_format_time(ts->tmin, f, a, sizeof a);
  kz_format_time(ts->tmax, f, b, sizeof b);
  fprintf(out, "  range: %s .. %s\n", a, b);
  if (!(ts->step > 0)) {
    fprintf(out, "  step: none (no series has two times)\n");
    return;
  }
  print_step(ts->step, f, st, sizeof st);
  fprintf(out, "  step: %s (%.10g%s; %s)\n", st, ts->step, f == KZ_TIME_NUMBER ? "" : " s",
          from_meta ? "meta.time_step" : "most common difference, detected");
  int64_t with_gaps = 0, gaps = 0, missing = 0;
  for (int32_t s = 0; s < ts->n_series; ++s)
    with_gaps += ts->gaps[s] > 0, gaps += ts->gaps[s], missing += ts->missing[s];
  fprintf(out,
          "  gaps: %" PRId64 " of %d series have gaps; %" PRId64 " gaps, %" PRId64
          " missing steps in all\n",
          with_gaps, (int)ts->n_series, gaps, missing);
  int64_t listed = 0;
  for (int32_t s = 0; s < ts->n_series && listed < show; ++s) {
    if (!ts->gaps[s]) continue;
    ++listed;
    kz_format_time(ts->big_from[s], f, a, sizeof a);
    kz_format_time(ts->big_from[s] + ts->big_diff[s], f, b, sizeof b);
    print_step(ts->big_diff[s], f, st, sizeof st);
    fprintf(out, "    %-24s %" PRId64 " gap%s, %" PRId64 " missing step%s; largest %s .. %s (%s)\n",
            s < series->n_categories ? series->categories[s] : "?", ts->gaps[s],
            ts->gaps[s] == 1 ? "" : "s", ts->missing[s], ts->missing[s] == 1 ? "" : "s", a, b, st);
  }
  if (listed < with_gaps)
    fprintf(out, "    ... %" PRId64 " more series with gaps\n", with_gaps - listed);
  if (ts->unordered)
    fprintf(out, "  out of order: %" PRId64 " times not after their series' previous one\n",
            ts->unordered);
}

kz_status kz_inspect_time(const kz_dataset *ds, int show, FILE *out) {
  const kz_schema *s = kz_dataset_schema(ds);
  time_scan ts = {0};
  ts.sf = kz_schema_field_index(s, "series_id");
  ts.tf = kz_schema_field_index(s, "time");
  if (strcmp(s->kind, "timeseries") || ts.sf < 0 || ts.tf < 0) return KZ_OK;
  const kz_field *sfd = &s->fields[ts.sf];
  if (sfd->n_columns != 1 || s->fields[ts.tf].type != KZ_FIELD_F64) return KZ_OK;
  ts.n_series = sfd->columns[0].n_categories;
  ts.tmin = INFINITY, ts.tmax = -INFINITY;
  int f = kz_time_format_parse(json_string_value(json_object_get(s->meta, "time_format")));
  if (f < 0) f = KZ_TIME_NUMBER; /* imported before dates were read */
  json_t *jstep = json_object_get(s->meta, "time_step");
  int from_meta = json_is_number(jstep) && json_number_value(jstep) > 0;
  size_t n = (size_t)(ts.n_series > 0 ? ts.n_series : 1);
  ts.last = malloc(n * sizeof *ts.last);
  ts.gaps = calloc(n, sizeof *ts.gaps);
  ts.missing = calloc(n, sizeof *ts.missing);
  ts.big_from = calloc(n, sizeof *ts.big_from);
  ts.big_diff = calloc(n, sizeof *ts.big_diff);
  kz_status st = ts.last && ts.gaps && ts.missing && ts.big_from && ts.big_diff
                     ? KZ_OK
                     : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  if (st == KZ_OK && !from_meta) { /* first the step, then the gaps */
    st = scan(&ts, ds);
    ts.step = kz_time_steps_mode(&ts.steps);
  } else if (st == KZ_OK) {
    ts.step = json_number_value(jstep);
  }
  if (st == KZ_OK && ts.step > 0) st = scan(&ts, ds);
  if (st == KZ_OK) report(out, &ts, &sfd->columns[0], (kz_time_format)f, from_meta, show);
  kz_time_steps_free(&ts.steps);
  free(ts.last), free(ts.gaps), free(ts.missing), free(ts.big_from), free(ts.big_diff);
  return st;
}
