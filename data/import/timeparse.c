/* Time values: ISO 8601 dates and datetimes, steps and their display (timeparse.h). */
#include "data/import/timeparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/numparse.h"

enum { STEP_SLOTS = 4096 };

struct kz_time_step_slot {
  int32_t exp10;  /* decimal exponent of the difference */
  int64_t digits; /* its 8 significant digits, signed */
  double value;   /* the first difference seen with this key */
  int64_t count;  /* 0: the slot is free */
};

const char *kz_time_format_name(kz_time_format f) {
  return f == KZ_TIME_DATE ? "date" : f == KZ_TIME_DATETIME ? "datetime" : "number";
}

int kz_time_format_parse(const char *name) {
  if (!name) return -1;
  if (!strcmp(name, "number")) return KZ_TIME_NUMBER;
  if (!strcmp(name, "date")) return KZ_TIME_DATE;
  if (!strcmp(name, "datetime")) return KZ_TIME_DATETIME;
  return -1;
}

/* Years counted from March: a 400-year cycle holds 146097 days, and within a
 * year that starts on March 1 the month lengths 31 30 31 30 31 31 30 31 30 31
 * 31 28/29 give the day of the year before month m (0 = March) as
 * (153 m + 2) / 5. 719468 is the day number of 1970-01-01 from 0000-03-01. */
static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t kz_days_from_civil(int64_t y, int m, int d) {
  if (m <= 2) y -= 1;
  int64_t cycle = floor_div(y, 400);
  int64_t year_in_cycle = y - cycle * 400; /* 0..399 */
  int64_t month_from_march = m > 2 ? m - 3 : m + 9;
  int64_t day_in_year = (153 * month_from_march + 2) / 5 + d - 1;
  int64_t day_in_cycle =
      year_in_cycle * 365 + year_in_cycle / 4 - year_in_cycle / 100 + day_in_year;
  return cycle * 146097 + day_in_cycle - 719468;
}

void kz_civil_from_days(int64_t days, int64_t *y, int *m, int *d) {
  int64_t z = days + 719468;
  int64_t cycle = floor_div(z, 146097);
  int64_t day_in_cycle = z - cycle * 146097; /* 0..146096 */
  /* years of the cycle before this day: leap days come every 4 years, except
   * every 100, except the last day of the cycle */
  int64_t year_in_cycle =
      (day_in_cycle - day_in_cycle / 1460 + day_in_cycle / 36524 - day_in_cycle / 146096) / 365;
  int64_t day_in_year =
      day_in_cycle - (365 * year_in_cycle + year_in_cycle / 4 - year_in_cycle / 100);
  int64_t month_from_march = (5 * day_in_year + 2) / 153;
  *d = (int)(day_in_year - (153 * month_from_march + 2) / 5 + 1);
  *m = (int)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  *y = year_in_cycle + cycle * 400 + (*m <= 2);
}

static int leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m) {
  static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : n[m - 1];
}

/* Exactly n digits at *p, advancing it. */
static int take_digits(const char **p, const char *end, int n, int *v) {
  if (end - *p < n) return 0;
  int x = 0;
  for (int i = 0; i < n; ++i) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return 0;
    x = x * 10 + (c - '0');
  }
  *p += n;
  *v = x;
  return 1;
}

static void trim(const char **s, size_t *len) {
  while (*len && (**s == ' ' || **s == '\t')) ++*s, --*len;
  while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) --*len;
}

#define FAIL(reason)                                                                               \
  do {                                                                                             \
    *why = reason;                                                                                 \
    return -1;                                                                                     \
  } while (0)

int kz_parse_datetime(const char *s, size_t len, double *out, const char **why) {
  *why = NULL;
  trim(&s, &len);
  const char *p = s, *end = s + len;
  int y, mo, d;
  if (!take_digits(&p, end, 4, &y) || p == end || *p != '-') return -1; /* not date-shaped */
  ++p;
  if (!take_digits(&p, end, 2, &mo) || p == end || *p != '-')
    FAIL("a date is YYYY-MM-DD, with a two-digit month");
  ++p;
  if (!take_digits(&p, end, 2, &d)) FAIL("a date is YYYY-MM-DD, with a two-digit day");
  if (mo < 1 || mo > 12) FAIL("the month must be 01 to 12");
  if (d < 1 || d > days_in_month(y, mo)) FAIL("the day is not in the month");
  int64_t days = kz_days_from_civil(y, mo, d);
  if (p == end) {
    *out = (double)(days * 86400);
    return KZ_TIME_DATE;
  }
  if (*p != 'T' && *p != 't' && *p != ' ')
    FAIL("a date is followed by nothing, or by T or a space and HH:MM");
  ++p;
  int h, mi, sec = 0;
  double frac = 0;
  if (!take_digits(&p, end, 2, &h) || p == end || *p != ':')
    FAIL("a time is HH:MM[:SS[.fff]], with two-digit hours");
  ++p;
  if (!take_digits(&p, end, 2, &mi)) FAIL("a time is HH:MM[:SS[.fff]], with two-digit minutes");
  if (p < end && *p == ':') {
    ++p;
    if (!take_digits(&p, end, 2, &sec)) FAIL("a time is HH:MM[:SS[.fff]], with two-digit seconds");
    if (p < end && *p == '.') {
      ++p;
      double scale = 0.1;
      int n = 0;
      while (p < end && *p >= '0' && *p <= '9' && n < 9)
        frac += (*p++ - '0') * scale, scale /= 10, ++n;
      if (!n || (p < end && *p >= '0' && *p <= '9'))
        FAIL("fractional seconds need 1 to 9 digits after the point");
    }
  }
  if (h > 23) FAIL("the hour must be 00 to 23");
  if (mi > 59) FAIL("the minute must be 00 to 59");
  if (sec > 59) FAIL("the second must be 00 to 59 (leap seconds are not accepted)");
  int64_t offset = 0;
  if (p < end && (*p == 'Z' || *p == 'z')) {
    ++p;
  } else if (p < end && (*p == '+' || *p == '-')) {
    int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
    if (!take_digits(&p, end, 2, &oh)) FAIL("a zone offset is +HH:MM, +HHMM or +HH");
    if (p < end && *p == ':') {
      ++p;
      if (!take_digits(&p, end, 2, &om)) FAIL("a zone offset is +HH:MM, +HHMM or +HH");
    } else if (p < end) {
      if (!take_digits(&p, end, 2, &om)) FAIL("a zone offset is +HH:MM, +HHMM or +HH");
    }
    if (oh > 23 || om > 59) FAIL("the zone offset must be at most 23:59");
    offset = sign * (oh * 3600 + om * 60);
  }
  if (p != end) FAIL("unexpected characters after the time");
  int64_t whole = days * 86400 + h * 3600 + mi * 60 + sec - offset;
  *out = (double)whole + frac;
  return KZ_TIME_DATETIME;
}

int kz_parse_time(const char *s, size_t len, double *out, const char **why) {
  *why = NULL;
  if (kz_parse_number(s, len, out)) {
    if (isfinite(*out)) return KZ_TIME_NUMBER;
    *why = "a time must be finite";
    return -1;
  }
  return kz_parse_datetime(s, len, out, why);
}

void kz_format_time(double t, kz_time_format f, char *buf, size_t n) {
  if (f == KZ_TIME_NUMBER || !isfinite(t) || fabs(t) > 1e15) {
    snprintf(buf, n, "%.17g", t);
    return;
  }
  double whole = floor(t);
  int64_t s = (int64_t)whole;
  int64_t micro = (int64_t)llround((t - whole) * 1e6);
  if (micro >= 1000000) s += 1, micro -= 1000000;
  int64_t days = floor_div(s, 86400), rest = s - days * 86400, y;
  int m, d;
  kz_civil_from_days(days, &y, &m, &d);
  if (f == KZ_TIME_DATE && !rest && !micro) {
    snprintf(buf, n, "%04lld-%02d-%02d", (long long)y, m, d);
    return;
  }
  char frac[32] = "";
  if (micro) {
    snprintf(frac, sizeof frac, ".%06lld", (long long)micro);
    size_t k = strlen(frac);
    while (k > 1 && frac[k - 1] == '0') frac[--k] = '\0';
  }
  snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02d%sZ", (long long)y, m, d, (int)(rest / 3600),
           (int)(rest / 60 % 60), (int)(rest % 60), frac);
}

void kz_format_duration(double seconds, char *buf, size_t n) {
  static const struct {
    double s;
    const char *one, *many;
  } units[] = {{604800, "week", "weeks"},
               {86400, "day", "days"},
               {3600, "hour", "hours"},
               {60, "minute", "minutes"}};
  if (seconds == floor(seconds) && seconds > 0 && seconds < 1e15)
    for (size_t i = 0; i < sizeof units / sizeof units[0]; ++i)
      if (fmod(seconds, units[i].s) == 0) {
        double k = seconds / units[i].s;
        snprintf(buf, n, "%.0f %s", k, k == 1 ? units[i].one : units[i].many);
        return;
      }
  snprintf(buf, n, "%.9g %s", seconds, seconds == 1 ? "second" : "seconds");
}

/* ---- steps -------------------------------------------------------------------- */

/* 8 significant digits: printed decimals such as 2000.08333333333 give
 * differences that disagree from the 10th digit on */
static void step_key(double diff, int32_t *exp10, int64_t *digits) {
  if (diff == 0 || !isfinite(diff)) {
    *exp10 = 0, *digits = 0;
    return;
  }
  int e = (int)floor(log10(fabs(diff)));
  *digits = (int64_t)llround(diff / pow(10.0, e - 7)); /* about 1e7 .. 1e8 */
  if (*digits >= 100000000LL || *digits <= -100000000LL)
    ++e, *digits = (int64_t)llround(diff / pow(10.0, e - 7));
  *exp10 = e;
}

int kz_time_steps_add(kz_time_steps *s, double diff) {
  if (!s->slot && !(s->slot = calloc(STEP_SLOTS, sizeof *s->slot))) return -1;
  int32_t e;
  int64_t dg;
  step_key(diff, &e, &dg);
  uint64_t h =
      ((uint64_t)dg * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)(uint32_t)e * 0xbf58476d1ce4e5b9ULL);
  for (uint32_t i = 0; i < STEP_SLOTS; ++i) {
    kz_time_step_slot *sl = &s->slot[(h + i) & (STEP_SLOTS - 1)];
    if (sl->count && sl->exp10 == e && sl->digits == dg) {
      sl->count++;
      return 0;
    }
    if (!sl->count) {
      if (s->used >= STEP_SLOTS * 3 / 4) break; /* keep probes short */
      sl->exp10 = e, sl->digits = dg, sl->value = diff, sl->count = 1;
      s->used++;
      return 0;
    }
  }
  s->others++;
  return 0;
}

void kz_time_steps_free(kz_time_steps *s) {
  free(s->slot);
  memset(s, 0, sizeof *s);
}

double kz_time_steps_mode(const kz_time_steps *s) {
  const kz_time_step_slot *best = NULL;
  for (int32_t i = 0; s->slot && i < STEP_SLOTS; ++i) {
    const kz_time_step_slot *sl = &s->slot[i];
    if (sl->count &&
        (!best || sl->count > best->count || (sl->count == best->count && sl->value < best->value)))
      best = sl;
  }
  return best ? best->value : 0;
}

int64_t kz_time_missing_steps(double diff, double step) {
  if (!(step > 0) || !(diff > step * (1 + 1e-6))) return 0;
  double k = ceil(diff / step - 1e-6) - 1;
  return k < 1 ? 1 : (int64_t)k;
}
