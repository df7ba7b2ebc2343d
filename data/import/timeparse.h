/* Time values of a timeseries' time column (docs/DATA.md, "Time column"):
 * plain numbers, ISO 8601 dates (YYYY-MM-DD) and datetimes
 * (YYYY-MM-DD[T ]HH:MM[:SS[.f...]][Z|±HH:MM|±HHMM|±HH]). Dates and datetimes
 * become seconds since 1970-01-01T00:00:00Z (a date is its midnight, UTC; a
 * datetime without a zone is read as UTC), on the proleptic Gregorian
 * calendar, without leap seconds. Also: the most common step between
 * consecutive times, and durations and instants printed for people. */
#ifndef KZ_DATA_IMPORT_TIMEPARSE_H
#define KZ_DATA_IMPORT_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

typedef enum kz_time_format {
  KZ_TIME_NUMBER = 0, /* a plain number, unit unknown */
  KZ_TIME_DATE = 1,   /* YYYY-MM-DD, stored as seconds since the epoch */
  KZ_TIME_DATETIME = 2
} kz_time_format;

/* "number", "date" or "datetime"; kz_time_format_parse maps them back (-1 if unknown). */
const char *kz_time_format_name(kz_time_format f);
int kz_time_format_parse(const char *name);

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; negative before 1970). */
int64_t kz_days_from_civil(int64_t y, int m, int d);
void kz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Parses a date or datetime (spaces around allowed) into seconds since the
 * epoch. Returns its format (KZ_TIME_DATE or KZ_TIME_DATETIME), or -1 with
 * *why set to a static reason (NULL *why when it is not date-shaped at all). */
int kz_parse_datetime(const char *s, size_t len, double *out, const char **why);

/* Any time value: a number first, then a date or datetime. Returns the format
 * or -1 (*why as above, NULL when nothing fits). */
int kz_parse_time(const char *s, size_t len, double *out, const char **why);

/* An instant for people: "YYYY-MM-DD" for dates, "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" for
 * datetimes, %.17g for numbers. */
void kz_format_time(double t, kz_time_format f, char *buf, size_t n);
/* A duration in seconds for people: "1 hour", "2 days", "90 seconds", "1.5 seconds". */
void kz_format_duration(double seconds, char *buf, size_t n);

/* Counts of the differences between consecutive times, to find the most
 * common one (the step). Bounded: after 4096 distinct values, new ones
 * are only counted as others. Differences equal to 8 significant
 * digits are one value (printed decimals such as 2000.0833333333 differ in
 * their last bits). */
typedef struct kz_time_step_slot kz_time_step_slot;
typedef struct kz_time_steps {
  kz_time_step_slot *slot; /* allocated by the first add */
  int32_t used;
  int64_t others; /* differences not counted: the table was full */
} kz_time_steps;

/* 0 on success, -1 out of memory. kz_time_steps_free releases the table. */
int kz_time_steps_add(kz_time_steps *s, double diff);
void kz_time_steps_free(kz_time_steps *s);
/* The most common difference (the smallest among equals), 0 when none. */
double kz_time_steps_mode(const kz_time_steps *s);
/* For a difference diff > 0 and the step > 0: the steps missing in between,
 * ceil(diff / step) - 1 (0 when diff is at most the step, up to a relative
 * 1e-6; a difference of 1.5 steps is one missing step). */
int64_t kz_time_missing_steps(double diff, double step);

#endif
