/* UTF-8 decoding and encoding for the text layer. */
#ifndef KZ_DATA_TEXT_UTF8_H
#define KZ_DATA_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define KZ_UTF8_REPLACEMENT 0xFFFDu

/* Decodes the code point at s[*pos] and advances *pos. Returns 1 for a valid
 * sequence; 0 for an invalid one, in which case *cp is U+FFFD and *pos skips
 * the maximal ill-formed subpart (Unicode's recommended practice, which is
 * also what Python's bytes.decode(errors="replace") does), so callers that
 * replace produce the same characters as Python. Requires *pos < len. */
int kz_utf8_next(const uint8_t *s, size_t len, size_t *pos, uint32_t *cp);

/* Writes cp (a valid scalar value) to out, returns the byte count (1-4). */
int kz_utf8_put(uint32_t cp, char *out);

/* Index of the first invalid byte in s, or len when s is valid UTF-8. */
size_t kz_utf8_validate(const uint8_t *s, size_t len);

/* Index of the first byte that keeps s from being stored as text (a NUL,
 * which would cut a C string short, or the start of an invalid UTF-8
 * sequence, which JSON cannot hold), or len when there is none. Runs of
 * ASCII go 8 bytes at a time, so checking every imported cell is cheap. */
size_t kz_utf8_check_text(const uint8_t *s, size_t len);

#endif
