/* UTF-8 codec: strict validation (no overlongs, surrogates or values past
 * U+10FFFF) with Unicode's maximal-subpart replacement rule. */
#include "data/text/utf8.h"

#include <string.h>

int kz_utf8_next(const uint8_t *s, size_t len, size_t *pos, uint32_t *cp) {
  size_t i = *pos;
  uint8_t b0 = s[i];
  if (b0 < 0x80) {
    *cp = b0;
    *pos = i + 1;
    return 1;
  }
  int need;
  uint32_t value;
  /* The bounds on the second byte are what exclude overlongs, surrogates
   * and code points past U+10FFFF. */
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    value = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    value = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    value = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    *cp = KZ_UTF8_REPLACEMENT;
    *pos = i + 1;
    return 0;
  }
  size_t j = i + 1;
  for (int k = 0; k < need; ++k, ++j) {
    uint8_t lo_k = k == 0 ? lo : 0x80, hi_k = k == 0 ? hi : 0xBF;
    if (j >= len || s[j] < lo_k || s[j] > hi_k) {
      *cp = KZ_UTF8_REPLACEMENT;
      *pos = j; /* the valid prefix so far is one ill-formed subpart */
      return 0;
    }
    value = (value << 6) | (s[j] & 0x3F);
  }
  *cp = value;
  *pos = j;
  return 1;
}

int kz_utf8_put(uint32_t cp, char *out) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

size_t kz_utf8_validate(const uint8_t *s, size_t len) {
  size_t pos = 0;
  while (pos < len) {
    size_t start = pos;
    uint32_t cp;
    if (!kz_utf8_next(s, len, &pos, &cp)) return start;
  }
  return len;
}

size_t kz_utf8_check_text(const uint8_t *s, size_t len) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  size_t pos = 0;
  while (pos < len) {
    if (pos + 8 <= len) {
      uint64_t w;
      memcpy(&w, s + pos, 8);
      /* no byte with its high bit set and no zero byte: 8 ASCII characters */
      if (!(w & highs) && !((w - ones) & ~w & highs)) {
        pos += 8;
        continue;
      }
    }
    if (s[pos] == 0) return pos;
    if (s[pos] < 0x80) {
      ++pos;
      continue;
    }
    size_t start = pos;
    uint32_t cp;
    if (!kz_utf8_next(s, len, &pos, &cp)) return start;
  }
  return len;
}
