/* Number and missing-value recognition for CSV import. */
#ifndef KZ_DATA_IMPORT_NUMPARSE_H
#define KZ_DATA_IMPORT_NUMPARSE_H

#include <stddef.h>

/* "", "NA", "NaN", "nan", "N/A", "null" (after trimming spaces) are missing. */
int kz_is_missing(const char *s, size_t len);
/* Parses a decimal number (optional sign, digits, point, exponent; spaces
 * around are allowed) into *out exactly as strtod would, or an infinity
 * ("inf", "infinity" in any case, optionally signed). Returns 0 for anything
 * else, including nan and hex floats; KZ_NUM_OVERFLOW (non-zero, so still a
 * number) for a finite literal beyond the range of a double, such as 1e999,
 * which strtod turns into an infinity (*out is then that infinity). */
#define KZ_NUM_OVERFLOW 2
int kz_parse_number(const char *s, size_t len, double *out);
/* 1 when a number parsed by kz_parse_number (rc its return) cannot be stored
 * as a float32: a finite literal whose value rounds to an infinity there
 * (3.5e38, 1e999). The infinities themselves fit. */
int kz_number_overflows_f32(int rc, double x);

#endif
