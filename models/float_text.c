/* Shortest bit-exact decimal text for floats and doubles (float_text.h).
 *
 * For p = 1, 2, ... significant digits the candidates are the p-digit
 * decimals nearest v: the rounded one and its neighbours (at a power of two
 * the rounding interval of v is lopsided, so the nearest p-digit decimal can
 * fall outside it while the next one up is inside). Candidates clearly
 * outside the interval (by long double arithmetic, with a 2x margin) are
 * skipped; the first one left that parses back to v's bits wins. 9 digits
 * always work for a float and 17 for a double, so the loop always ends with
 * a candidate. */
#include "models/float_text.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kz_float_from_double(double x, float *out) {
  /* 0x1.ffffffp+127 is halfway between FLT_MAX and 2^128; it and everything
   * above round to infinity (FLT_MAX's last mantissa bit is odd). */
  if (!(fabs(x) < 0x1.ffffffp+127)) return 0;
  *out = (float)x;
  return 1;
}

/* Writes sign * k * 10^x (k > 0) "%g"-like: fixed notation for a leading digit
 * at 10^-4 .. 10^6, else d.ddde±XX. */
static void render(int negative, uint64_t k, int x, char *buf) {
  while (k % 10 == 0) {
    k /= 10;
    ++x;
  }
  char d[24];
  int n = snprintf(d, sizeof d, "%llu", (unsigned long long)k);
  int e10 = x + n - 1; /* decimal exponent of the leading digit */
  char *p = buf;
  if (negative) *p++ = '-';
  if (e10 >= -4 && e10 <= 6) {
    if (e10 < 0) {
      *p++ = '0';
      *p++ = '.';
      for (int i = 0; i < -e10 - 1; ++i) *p++ = '0';
      memcpy(p, d, (size_t)n);
      p += n;
    } else {
      for (int i = 0; i <= e10; ++i) *p++ = i < n ? d[i] : '0';
      if (n > e10 + 1) {
        *p++ = '.';
        memcpy(p, d + e10 + 1, (size_t)(n - e10 - 1));
        p += n - e10 - 1;
      }
    }
    *p = '\0';
  } else {
    *p++ = d[0];
    if (n > 1) {
      *p++ = '.';
      memcpy(p, d + 1, (size_t)(n - 1));
      p += n - 1;
    }
    sprintf(p, "e%c%02d", e10 < 0 ? '-' : '+', e10 < 0 ? -e10 : e10);
  }
}

/* 10^x in long double to a few ulps (powl is ~50x slower and exact digits
 * are not needed: the candidate test below has a 2x margin). */
static long double pow10_approx(int x) {
  long double r = 1, b = 10;
  for (unsigned n = (unsigned)(x < 0 ? -x : x); n; n >>= 1, b *= b)
    if (n & 1) r *= b;
  return x < 0 ? 1 / r : r;
}

static int same_float(float a, float b) {
  return memcmp(&a, &b, sizeof a) == 0;
}
static int same_double(double a, double b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

static int float_reads_back(const char *s, float v) {
  float f = 0;
  return kz_float_from_double(strtod(s, NULL), &f) && same_float(f, v) &&
         same_float(strtof(s, NULL), v);
}

static int double_reads_back(const char *s, double v) {
  return same_double(strtod(s, NULL), v);
}

static void shortest(double v, int max_digits, int is_float, char *buf) {
  if (!isfinite(v)) {
    snprintf(buf, KZ_FLOAT_TEXT_MAX, "%s", isnan(v) ? "nan" : v < 0 ? "-inf" : "inf");
    return;
  }
  if (v == 0) {
    snprintf(buf, KZ_FLOAT_TEXT_MAX, "%s", signbit(v) ? "-0.0" : "0");
    return;
  }
  int neg = signbit(v) != 0;
  double a = fabs(v);
  /* The gaps to the neighbours of a (in its own type), for the cheap test
   * that skips candidates far outside its rounding interval before parsing. */
  long double up, dn;
  if (is_float) {
    float f = (float)a, u = nextafterf(f, INFINITY), d = nextafterf(f, 0);
    up = isfinite(u) ? (long double)u - f : (long double)f - d;
    dn = (long double)f - d;
  } else {
    double u = nextafter(a, INFINITY), d = nextafter(a, 0);
    up = isfinite(u) ? (long double)u - a : (long double)a - d;
    dn = (long double)a - d;
  }
  /* 20 significant digits of a; rounding them to p digits may be off by one
   * from rounding a itself (double rounding), so the candidates span +-2. */
  char s[64];
  snprintf(s, sizeof s, "%.19e", a);
  int digits[20], nd = 0;
  const char *c = s;
  for (; *c && *c != 'e'; ++c)
    if (*c >= '0' && *c <= '9' && nd < 20) digits[nd++] = *c - '0';
  int e = *c == 'e' ? atoi(c + 1) : 0;
  long double scale = pow10_approx(e) * 10; /* 10^(e - (p - 1)) for p = 0 */
  for (int p = 1; p <= max_digits; ++p) {
    uint64_t k = 0;
    for (int i = 0; i < p; ++i) k = k * 10 + (uint64_t)digits[i];
    if (digits[p] >= 5) ++k;
    int x = e - (p - 1);
    scale /= 10;
    static const int deltas[5] = {0, -1, 1, -2, 2};
    for (int i = 0; i < 5; ++i) {
      if (deltas[i] < 0 && k <= (uint64_t)-deltas[i]) continue;
      uint64_t kk = k + (uint64_t)(int64_t)deltas[i];
      long double diff = (long double)kk * scale - a;
      if (diff > up || -diff > dn) continue; /* outside, with a 2x margin */
      render(neg, kk, x, buf);
      if (is_float ? float_reads_back(buf, (float)v) : double_reads_back(buf, v)) return;
    }
  }
  /* Not reached (max_digits always suffice); keep a correct answer anyway. */
  snprintf(buf, KZ_FLOAT_TEXT_MAX, "%.*e", max_digits - 1, v);
}

void kz_float_to_text(float v, char buf[KZ_FLOAT_TEXT_MAX]) {
  shortest((double)v, 9, 1, buf);
}

void kz_double_to_text(double v, char buf[KZ_FLOAT_TEXT_MAX]) {
  shortest(v, 17, 0, buf);
}
