/* Unicode property tables for the text layer, generated into unicode_tables.c
 * by tools/gen_unicode_tables.py. Every table is sorted by code point so the
 * lookups in unicode.c can bisect. */
#ifndef KZ_DATA_TEXT_UNICODE_TABLES_H
#define KZ_DATA_TEXT_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

typedef struct kz_uc_range {
  uint32_t first, last; /* inclusive */
} kz_uc_range;

/* Every step-th code point in [first, last] maps to itself + delta. */
typedef struct kz_uc_case_run {
  uint32_t first, last;
  int32_t delta;
  uint8_t step;
} kz_uc_case_run;

typedef struct kz_uc_multi {
  uint32_t cp;
  uint8_t len;
  uint32_t seq[4];
} kz_uc_multi;

/* Decomposition of cp: kz_uc_decomp_pool[offset .. offset + len). */
typedef struct kz_uc_decomp {
  uint32_t cp;
  uint16_t offset;
  uint8_t len;
} kz_uc_decomp;

typedef struct kz_uc_class_run {
  uint32_t first, last;
  uint8_t cls;
} kz_uc_class_run;

extern const char kz_uc_unicode_version[];
extern const kz_uc_range kz_uc_whitespace[];
extern const size_t kz_uc_whitespace_count;
extern const kz_uc_range kz_uc_control[];
extern const size_t kz_uc_control_count;
extern const kz_uc_range kz_uc_punct[];
extern const size_t kz_uc_punct_count;
extern const kz_uc_range kz_uc_mark_nonspacing[];
extern const size_t kz_uc_mark_nonspacing_count;
extern const kz_uc_range kz_uc_cjk[];
extern const size_t kz_uc_cjk_count;
extern const kz_uc_case_run kz_uc_lower_runs[];
extern const size_t kz_uc_lower_runs_count;
extern const kz_uc_multi kz_uc_lower_multi[];
extern const size_t kz_uc_lower_multi_count;
extern const uint32_t kz_uc_decomp_pool[];
extern const kz_uc_decomp kz_uc_decomps[];
extern const size_t kz_uc_decomps_count;
extern const kz_uc_class_run kz_uc_combining[];
extern const size_t kz_uc_combining_count;

#endif
