/* The time column's parser (data/import/timeparse.h): ISO 8601 dates and
 * datetimes against independently counted day numbers, zone offsets,
 * fractional seconds, leap years, the epoch and dates before it, invalid
 * fields and garbage; display of instants and durations; the step counter.
 * usage: test_timeparse */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/import/timeparse.h"
#include "tests/test_util.h"

static int is_leap(long y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Walks day by day from 1970-01-01 in both directions: an oracle for the
 * closed-form civil <-> day conversions. */
static void civil_walk(void) {
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  long y = 1970;
  int m = 1, d = 1, bad = 0;
  for (long day = 0; day < 200000 && bad < 5; ++day) { /* to about 2517 */
    if (kz_days_from_civil(y, m, d) != day) ++bad;
    int64_t yy;
    int mm, dd;
    kz_civil_from_days(day, &yy, &mm, &dd);
    if (yy != y || mm != m || dd != d) ++bad;
    int len = m == 2 && is_leap(y) ? 29 : mdays[m - 1];
    if (++d > len) d = 1, ++m;
    if (m > 12) m = 1, ++y;
  }
  y = 1970, m = 1, d = 1;
  for (long day = 0; day > -750000 && bad < 5; --day) { /* to about year -83 */
    if (kz_days_from_civil(y, m, d) != day) ++bad;
    int64_t yy;
    int mm, dd;
    kz_civil_from_days(day, &yy, &mm, &dd);
    if (yy != y || mm != m || dd != d) ++bad;
    if (--d < 1) {
      if (--m < 1) m = 12, --y;
      d = m == 2 && is_leap(y) ? 29 : mdays[m - 1];
    }
  }
  KZ_CHECK(bad == 0);
}

static void ok(const char *s, int format, double want) {
  double t = NAN;
  const char *why = NULL;
  int f = kz_parse_time(s, strlen(s), &t, &why);
  if (f != format || t != want) {
    fprintf(stderr, "'%s': format %d value %.17g, wanted %d %.17g (%s)\n", s, f, t, format, want,
            why ? why : "-");
    KZ_CHECK(0);
  }
}

static void bad(const char *s, const char *needle) {
  double t = 0;
  const char *why = NULL;
  int f = kz_parse_time(s, strlen(s), &t, &why);
  if (f >= 0 || (needle && (!why || !strstr(why, needle))) || (!needle && why)) {
    fprintf(stderr, "'%s': format %d, reason '%s', wanted a failure with '%s'\n", s, f,
            why ? why : "(none)", needle ? needle : "(none)");
    KZ_CHECK(0);
  }
}

static void shows(double t, kz_time_format f, const char *want) {
  char buf[64];
  kz_format_time(t, f, buf, sizeof buf);
  if (strcmp(buf, want)) {
    fprintf(stderr, "%.17g shown as '%s', wanted '%s'\n", t, buf, want);
    KZ_CHECK(0);
  }
}

static void lasts(double s, const char *want) {
  char buf[64];
  kz_format_duration(s, buf, sizeof buf);
  if (strcmp(buf, want)) {
    fprintf(stderr, "%g s shown as '%s', wanted '%s'\n", s, buf, want);
    KZ_CHECK(0);
  }
}

int main(void) {
  civil_walk();
  KZ_CHECK(kz_days_from_civil(2000, 3, 1) == 11017);
  KZ_CHECK(kz_days_from_civil(1, 1, 1) == -719162);
  KZ_CHECK(kz_days_from_civil(0, 3, 1) == -719468);

  /* numbers stay numbers */
  ok("42", KZ_TIME_NUMBER, 42);
  ok(" 2000.5 ", KZ_TIME_NUMBER, 2000.5);
  ok("-1e3", KZ_TIME_NUMBER, -1000);
  ok("2010", KZ_TIME_NUMBER, 2010);
  ok("20100101", KZ_TIME_NUMBER, 20100101);

  /* dates: midnight UTC in seconds */
  ok("1970-01-01", KZ_TIME_DATE, 0);
  ok("1970-01-02", KZ_TIME_DATE, 86400);
  ok("1969-12-31", KZ_TIME_DATE, -86400);
  ok("2010-01-01", KZ_TIME_DATE, 1262304000);
  ok(" 2010-01-01\t", KZ_TIME_DATE, 1262304000);
  ok("2000-02-29", KZ_TIME_DATE, 951782400);  /* divisible by 400: leap */
  ok("2024-02-29", KZ_TIME_DATE, 1709164800); /* divisible by 4: leap */
  ok("1900-03-01", KZ_TIME_DATE, -2203891200);
  ok("1066-10-14", KZ_TIME_DATE, -28502755200.0);
  ok("0000-01-01", KZ_TIME_DATE, -62167219200.0);
  ok("9999-12-31", KZ_TIME_DATE, 253402214400.0);
  ok("2038-01-19", KZ_TIME_DATE, 2147472000); /* past 32-bit time_t is fine too */

  /* datetimes */
  ok("1970-01-01T00:00:00Z", KZ_TIME_DATETIME, 0);
  ok("1970-01-01 00:00:00", KZ_TIME_DATETIME, 0);
  ok("1969-12-31T23:59:59Z", KZ_TIME_DATETIME, -1);
  ok("2010-01-01 00:00:00", KZ_TIME_DATETIME, 1262304000);
  ok("2010-01-01t01:02z", KZ_TIME_DATETIME, 1262304000 + 3720);
  ok("2010-01-01T01:02", KZ_TIME_DATETIME, 1262304000 + 3720);
  ok("2010-01-01T01:02:03", KZ_TIME_DATETIME, 1262304000 + 3723);
  ok("2010-01-01T01:02:03.5", KZ_TIME_DATETIME, 1262304000 + 3723.5);
  ok("2010-01-01T01:02:03.250Z", KZ_TIME_DATETIME, 1262304000 + 3723.25);
  ok("2010-01-01T01:02:03.000000001Z", KZ_TIME_DATETIME, 1262304000 + 3723 + 1e-9);
  ok("2038-01-19T03:14:08Z", KZ_TIME_DATETIME, 2147483648.0);
  /* offsets: local time minus the offset is UTC */
  ok("2010-01-01T07:30:00+02:30", KZ_TIME_DATETIME, 1262304000 + 5 * 3600);
  ok("2010-01-01T07:30:00+0230", KZ_TIME_DATETIME, 1262304000 + 5 * 3600);
  ok("2010-01-01T07:30:00+02", KZ_TIME_DATETIME, 1262304000 + 5.5 * 3600);
  ok("2009-12-31T19:00:00-05:00", KZ_TIME_DATETIME, 1262304000);
  ok("1970-01-01T00:00:00+01:00", KZ_TIME_DATETIME, -3600);
  ok("2000-02-29T23:59:59-00:00", KZ_TIME_DATETIME, 951782400 + 86399);

  /* invalid fields, with a reason */
  bad("2010-13-01", "month");
  bad("2010-00-10", "month");
  bad("2010-02-29", "day is not in the month"); /* not a leap year */
  bad("1900-02-29", "day is not in the month"); /* century: not leap */
  bad("2010-04-31", "day is not in the month");
  bad("2010-01-00", "day is not in the month");
  bad("2010-1-01", "two-digit month");
  bad("2010-01-1", "two-digit day");
  bad("2010-01-01T24:00:00", "hour");
  bad("2010-01-01T23:60", "minute");
  bad("2010-01-01T23:59:60Z", "leap seconds");
  bad("2010-01-01T1:00", "two-digit hours");
  bad("2010-01-01T10", "HH:MM");
  bad("2010-01-01T10:00:00.", "fractional");
  bad("2010-01-01T10:00:00.1234567890", "fractional");
  bad("2010-01-01T10:00:00+5", "zone offset");
  bad("2010-01-01T10:00:00+24:00", "zone offset");
  bad("2010-01-01T10:00:00+01:60", "zone offset");
  bad("2010-01-01T10:00:00 Z", "unexpected");
  bad("2010-01-01T10:00:00ZZ", "unexpected");
  bad("2010-01-01X", "followed by");
  bad("2010-01-01  10:00", "HH:MM");
  /* not date-shaped at all: no reason */
  bad("", NULL);
  bad("abc", NULL);
  bad("01/02/2010", NULL);
  bad("12010-01-01", NULL);
  bad("inf", "finite");
  bad("-Infinity", "finite");
  bad("-2010-01-01", NULL);

  /* display */
  shows(0, KZ_TIME_DATETIME, "1970-01-01T00:00:00Z");
  shows(-1, KZ_TIME_DATETIME, "1969-12-31T23:59:59Z");
  shows(1262304000 + 3723.25, KZ_TIME_DATETIME, "2010-01-01T01:02:03.25Z");
  shows(1262304000, KZ_TIME_DATE, "2010-01-01");
  shows(-86400, KZ_TIME_DATE, "1969-12-31");
  shows(2.5, KZ_TIME_NUMBER, "2.5");
  lasts(3600, "1 hour");
  lasts(7200, "2 hours");
  lasts(86400, "1 day");
  lasts(604800, "1 week");
  lasts(90, "90 seconds");
  lasts(1.5, "1.5 seconds");
  lasts(1800, "30 minutes");

  /* round trip: parse what is shown */
  for (double t = -3e9; t < 3e9; t += 12345678.0) {
    char buf[64];
    double back = NAN;
    const char *why;
    kz_format_time(t, KZ_TIME_DATETIME, buf, sizeof buf);
    KZ_CHECK(kz_parse_time(buf, strlen(buf), &back, &why) == KZ_TIME_DATETIME && back == t);
  }

  /* steps: the most common difference, decimals equal to 8 digits merged */
  kz_time_steps st = {0};
  KZ_CHECK(kz_time_steps_mode(&st) == 0);
  for (int i = 0; i < 10; ++i) KZ_CHECK(kz_time_steps_add(&st, 3600) == 0);
  for (int i = 0; i < 3; ++i) KZ_CHECK(kz_time_steps_add(&st, 7200) == 0);
  KZ_CHECK(kz_time_steps_mode(&st) == 3600);
  kz_time_steps_free(&st);
  KZ_CHECK(kz_time_steps_add(&st, 2000.08333333333 - 2000) == 0);
  KZ_CHECK(kz_time_steps_add(&st, 2000.16666666667 - 2000.08333333333) == 0);
  KZ_CHECK(kz_time_steps_add(&st, 1.0) == 0);
  KZ_CHECK(st.used == 2 && fabs(kz_time_steps_mode(&st) - 1.0 / 12) < 1e-9);
  for (int i = 0; i < 10000; ++i) KZ_CHECK(kz_time_steps_add(&st, 1000 + i) == 0);
  KZ_CHECK(st.others > 0 && st.used < 4096); /* bounded */
  kz_time_steps_free(&st);
  KZ_CHECK(kz_time_missing_steps(3600, 3600) == 0);
  KZ_CHECK(kz_time_missing_steps(1800, 3600) == 0);
  KZ_CHECK(kz_time_missing_steps(3 * 3600, 3600) == 2);
  KZ_CHECK(kz_time_missing_steps(1.5 * 3600, 3600) == 1);
  KZ_CHECK(kz_time_missing_steps(59 * 86400, 31 * 86400) == 1);
  KZ_CHECK(kz_time_missing_steps(30 * 86400, 31 * 86400) == 0);
  return KZ_TEST_RESULT();
}
