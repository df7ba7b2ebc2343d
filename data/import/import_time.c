/* The time column of a timeseries import (import_internal.h, docs/DATA.md).
 * One format per file: numbers, dates or datetimes, the first row deciding;
 * dates and datetimes are stored as seconds since 1970-01-01T00:00:00Z. Within
 * a series the times must increase strictly in file order (rows of different
 * series may interleave), which finds duplicates with memory per series, not
 * per row, and lets readers count gaps in one pass over the stored order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/import_internal.h"
#include "kernels/core/error.h"

static const char *series_name(const kz_import *im, int32_t series) {
  const kz_strset *d = im->series_col >= 0 ? &im->cols[im->series_col].dict : NULL;
  return d && series < d->count ? d->keys[series] : "all";
}

static const char *format_noun(int f) {
  return f == KZ_TIME_DATE ? "a date" : f == KZ_TIME_DATETIME ? "a datetime" : "a number";
}

kz_status kz_import_time_parse(kz_import *im, const col_info *ci, const char *v, size_t len,
                               int64_t line, double *t) {
  const char *file = im->o->input;
  snprintf(im->time_value, sizeof im->time_value, "%.*s", (int)(len < 40 ? len : 40), v);
  const char *why;
  int f = kz_parse_time(v, len, t, &why);
  if (f < 0 && why)
    return kz_fail(KZ_ERR_FORMAT, "%s:%lld: column '%s': '%s' is not a valid date or datetime: %s",
                   file, (long long)line, ci->name, im->time_value, why);
  if (f < 0)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: column '%s': '%s' is not a time: not a number, a date "
                   "(YYYY-MM-DD) or a datetime (YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+HH:MM])",
                   file, (long long)line, ci->name, im->time_value);
  if (im->time_format < 0) {
    im->time_format = f;
    im->time_format_line = line;
    snprintf(im->time_format_value, sizeof im->time_format_value, "%s", im->time_value);
  } else if (f != im->time_format) {
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: column '%s': '%s' is %s, but line %lld ('%s') is %s; the time "
                   "column must hold one format (numbers, dates or datetimes)",
                   file, (long long)line, ci->name, im->time_value, format_noun(f),
                   (long long)im->time_format_line, im->time_format_value,
                   format_noun(im->time_format));
  }
  return KZ_OK;
}

kz_status kz_import_time_order(kz_import *im, int32_t series, double t, int64_t line) {
  if (series >= im->tline_cap) {
    int32_t cap = im->tline_cap ? im->tline_cap * 2 : 64;
    while (cap <= series) cap *= 2;
    int64_t *a = realloc(im->tline, (size_t)cap * sizeof *a);
    if (!a) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    memset(a + im->tline_cap, 0, (size_t)(cap - im->tline_cap) * sizeof *a);
    im->tline = a, im->tline_cap = cap;
  }
  const char *file = im->o->input, *col = im->cols[im->time_col].name;
  double prev = im->tmax[series]; /* -inf for the series' first row */
  if (im->tline[series] && t == prev)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: column '%s': duplicate time '%s' in series '%s' (also at line %lld)",
                   file, (long long)line, col, im->time_value, series_name(im, series),
                   (long long)im->tline[series]);
  if (im->tline[series] && t < prev) {
    char was[64];
    kz_format_time(prev, (kz_time_format)im->time_format, was, sizeof was);
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: column '%s': time '%s' in series '%s' is before line %lld's (%s); "
                   "rows of a series must be in increasing time order (sort the file by series "
                   "and time)",
                   file, (long long)line, col, im->time_value, series_name(im, series),
                   (long long)im->tline[series], was);
  }
  if (im->tline[series] && kz_time_steps_add(&im->steps, t - prev))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  im->tline[series] = line;
  return KZ_OK;
}

void kz_import_time_meta(kz_import *im) {
  json_t *meta = im->schema.meta;
  int f = im->time_format < 0 ? KZ_TIME_NUMBER : im->time_format;
  json_object_set_new(meta, "time_format", json_string(kz_time_format_name((kz_time_format)f)));
  if (f != KZ_TIME_NUMBER) {
    json_object_set_new(meta, "time_unit", json_string("s"));
    json_object_set_new(meta, "time_epoch", json_string("1970-01-01T00:00:00Z"));
  }
  double step = kz_time_steps_mode(&im->steps);
  json_object_set_new(meta, "time_step", step > 0 ? json_real(step) : json_null());
}

kz_status kz_import_time_convert(const kz_import *im, const col_info *ci, const char *v, size_t len,
                                 int64_t line, double *t) {
  const char *why;
  if (kz_parse_time(v, len, t, &why) != im->time_format)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: column '%s': '%.40s' is not %s as in the first pass (did the file "
                   "change?)",
                   im->o->input, (long long)line, ci->name, v, format_noun(im->time_format));
  return KZ_OK;
}

void kz_import_time_free(kz_import *im) {
  free(im->tline);
  im->tline = NULL;
  im->tline_cap = 0;
  kz_time_steps_free(&im->steps);
}
