/* Bisection over the generated range tables. ASCII is answered before any
 * search because it is nearly all of the text we see. */
#include "data/text/unicode.h"

#include "data/text/unicode_tables.h"

static int in_ranges(const kz_uc_range *r, size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < r[mid].first)
      hi = mid;
    else if (cp > r[mid].last)
      lo = mid + 1;
    else
      return 1;
  }
  return 0;
}

int kz_uc_is_whitespace(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  return in_ranges(kz_uc_whitespace, kz_uc_whitespace_count, cp);
}

int kz_uc_is_control(uint32_t cp) {
  if (cp < 0x80) return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7F;
  return in_ranges(kz_uc_control, kz_uc_control_count, cp);
}

int kz_uc_is_punct(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
           (cp >= 123 && cp <= 126);
  return in_ranges(kz_uc_punct, kz_uc_punct_count, cp);
}

int kz_uc_is_cjk(uint32_t cp) {
  return cp >= 0x3400 && in_ranges(kz_uc_cjk, kz_uc_cjk_count, cp);
}

int kz_uc_is_mark_nonspacing(uint32_t cp) {
  return cp >= 0x300 && in_ranges(kz_uc_mark_nonspacing, kz_uc_mark_nonspacing_count, cp);
}

int kz_uc_combining_class(uint32_t cp) {
  if (cp < 0x300) return 0;
  size_t lo = 0, hi = kz_uc_combining_count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < kz_uc_combining[mid].first)
      hi = mid;
    else if (cp > kz_uc_combining[mid].last)
      lo = mid + 1;
    else
      return kz_uc_combining[mid].cls;
  }
  return 0;
}

int kz_uc_lower(uint32_t cp, uint32_t out[KZ_UC_MAX_EXPANSION]) {
  if (cp < 0x80) {
    out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return 1;
  }
  for (size_t i = 0; i < kz_uc_lower_multi_count; ++i) {
    if (kz_uc_lower_multi[i].cp == cp) {
      for (int k = 0; k < kz_uc_lower_multi[i].len; ++k) out[k] = kz_uc_lower_multi[i].seq[k];
      return kz_uc_lower_multi[i].len;
    }
  }
  /* Last run whose first code point is <= cp. */
  size_t lo = 0, hi = kz_uc_lower_runs_count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (kz_uc_lower_runs[mid].first <= cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  out[0] = cp;
  if (lo > 0) {
    const kz_uc_case_run *r = &kz_uc_lower_runs[lo - 1];
    if (cp <= r->last && (cp - r->first) % r->step == 0)
      out[0] = (uint32_t)((int32_t)cp + r->delta);
  }
  return 1;
}

/* Hangul syllables decompose arithmetically (Unicode ch. 3.12). */
enum {
  HANGUL_S_BASE = 0xAC00,
  HANGUL_L_BASE = 0x1100,
  HANGUL_V_BASE = 0x1161,
  HANGUL_T_BASE = 0x11A7,
  HANGUL_T_COUNT = 28,
  HANGUL_N_COUNT = 21 * 28,
  HANGUL_S_COUNT = 19 * 21 * 28
};

int kz_uc_decompose(uint32_t cp, uint32_t out[KZ_UC_MAX_EXPANSION]) {
  if (cp < 0xC0) {
    out[0] = cp;
    return 1;
  }
  if (cp >= HANGUL_S_BASE && cp < HANGUL_S_BASE + HANGUL_S_COUNT) {
    uint32_t s = cp - HANGUL_S_BASE;
    out[0] = HANGUL_L_BASE + s / HANGUL_N_COUNT;
    out[1] = HANGUL_V_BASE + (s % HANGUL_N_COUNT) / HANGUL_T_COUNT;
    uint32_t t = s % HANGUL_T_COUNT;
    if (!t) return 2;
    out[2] = HANGUL_T_BASE + t;
    return 3;
  }
  size_t lo = 0, hi = kz_uc_decomps_count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (kz_uc_decomps[mid].cp < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < kz_uc_decomps_count && kz_uc_decomps[lo].cp == cp) {
    const kz_uc_decomp *d = &kz_uc_decomps[lo];
    for (int k = 0; k < d->len; ++k) out[k] = kz_uc_decomp_pool[d->offset + k];
    return d->len;
  }
  out[0] = cp;
  return 1;
}
