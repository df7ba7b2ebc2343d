/* Most CSV numbers are short decimals; for those Clinger's fast path (an
 * exact integer mantissa times an exact power of ten, one rounding) gives the
 * correctly rounded double that strtod returns, several times faster. Other
 * inputs fall back to strtod. "inf" and "infinity" (any case, signed) are
 * the infinities; NaN is a missing value (kz_is_missing), never a number. */
#include "data/import/numparse.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static void trim(const char **s, size_t *len) {
  while (*len && (**s == ' ' || **s == '\t')) ++*s, --*len;
  while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) --*len;
}

int kz_is_missing(const char *s, size_t len) {
  trim(&s, &len);
  switch (len) {
  case 0:
    return 1;
  case 2:
    return !memcmp(s, "NA", 2);
  case 3:
    return !memcmp(s, "NaN", 3) || !memcmp(s, "nan", 3) || !memcmp(s, "N/A", 3);
  case 4:
    return !memcmp(s, "null", 4);
  default:
    return 0;
  }
}

/* "inf" or "infinity" in any case (the sign already consumed). */
static int is_infinity_word(const char *p, size_t n) {
  static const char word[] = "infinity";
  if (n != 3 && n != 8) return 0;
  for (size_t i = 0; i < n; ++i)
    if ((p[i] | 0x20) != word[i]) return 0;
  return 1;
}

int kz_parse_number(const char *s, size_t len, double *out) {
  trim(&s, &len);
  if (!len || len > 64) return 0;
  const char *p = s, *end = s + len;
  int neg = 0;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  /* Infinities are values (a feature may be unbounded), as strtod and pandas
   * read them; numbers beyond the range overflow to them as well. */
  if (is_infinity_word(p, (size_t)(end - p))) {
    *out = neg ? -HUGE_VAL : HUGE_VAL;
    return 1;
  }
  uint64_t mant = 0;
  int digits = 0, frac = 0, any = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    if (mant || *p != '0') ++digits;
    mant = mant * 10 + (uint64_t)(*p++ - '0');
    any = 1;
    if (digits > 18) goto slow;
  }
  if (p < end && *p == '.') {
    ++p;
    while (p < end && *p >= '0' && *p <= '9') {
      if (mant || *p != '0') ++digits;
      mant = mant * 10 + (uint64_t)(*p++ - '0');
      ++frac;
      any = 1;
      if (digits > 18) goto slow;
    }
  }
  if (!any) return 0;
  int exp10 = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    int eneg = 0, edig = 0;
    if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    while (p < end && *p >= '0' && *p <= '9' && edig < 6) exp10 = exp10 * 10 + (*p++ - '0'), ++edig;
    if (!edig) return 0;
    if (eneg) exp10 = -exp10;
  }
  if (p != end) return 0;
  exp10 -= frac;
  if (mant < (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
    double v = (double)mant;
    v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
    *out = neg ? -v : v;
    return 1;
  }
slow:;
  /* validate the shape first: strtod alone would accept inf, nan and hex */
  const char *q = s;
  if (*q == '+' || *q == '-') ++q;
  int seen = 0;
  while (q < end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' ||
                     *q == '-'))
    seen |= (*q >= '0' && *q <= '9'), ++q;
  if (q != end || !seen) return 0;
  char buf[72];
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *stop;
  double v = strtod(buf, &stop);
  if (stop != buf + len) return 0;
  *out = v;
  /* the infinity words returned above, so an infinity here is an overflow */
  return isinf(v) ? KZ_NUM_OVERFLOW : 1;
}

int kz_number_overflows_f32(int rc, double x) {
  /* FLT_MAX plus half an ulp: from there on, round-to-nearest gives +inf
   * (the tie goes to the even neighbour, which is infinity) */
  return rc == KZ_NUM_OVERFLOW || (isfinite(x) && fabs(x) >= 0x1.ffffffp127);
}
