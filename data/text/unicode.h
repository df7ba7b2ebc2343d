/* Unicode character properties the BERT basic tokenizer needs, answered from
 * the generated tables in unicode_tables.c. */
#ifndef KZ_DATA_TEXT_UNICODE_H
#define KZ_DATA_TEXT_UNICODE_H

#include <stdint.h>

/* Longest output of kz_uc_lower / kz_uc_decompose for one code point. */
#define KZ_UC_MAX_EXPANSION 4

int kz_uc_is_whitespace(uint32_t cp); /* White_Space, TAB/LF/CR included */
int kz_uc_is_control(uint32_t cp);    /* Cc Cf Co Cs except TAB/LF/CR */
int kz_uc_is_punct(uint32_t cp);      /* P* or an ASCII symbol */
int kz_uc_is_cjk(uint32_t cp);
int kz_uc_is_mark_nonspacing(uint32_t cp); /* Mn */
int kz_uc_combining_class(uint32_t cp);
/* Full lowercase mapping (context-free); returns the count written. */
int kz_uc_lower(uint32_t cp, uint32_t out[KZ_UC_MAX_EXPANSION]);
/* Full canonical decomposition (not reordered); returns the count written. */
int kz_uc_decompose(uint32_t cp, uint32_t out[KZ_UC_MAX_EXPANSION]);

#endif
