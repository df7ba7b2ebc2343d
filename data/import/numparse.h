/* Number and missing-value recognition for CSV import. */
#ifndef KZ_DATA_IMPORT_NUMPARSE_H
#define KZ_DATA_IMPORT_NUMPARSE_H

#include <stddef.h>

/* "", "NA", "NaN", "nan", "N/A", "null" (after trimming spaces) are missing. */
int kz_is_missing(const char *s, size_t len);
/* Parses a decimal number (optional sign, digits, point, exponent; spaces
 * around are allowed) into *out exactly as strtod would, or an infinity
 * ("inf", "infinity" in any case, optionally signed). Returns 0 for anything
 * else, including nan and hex floats. */
int kz_parse_number(const char *s, size_t len, double *out);

#endif
