/* Internal error reporting: record a message for kz_last_error() and return
 * the status in one expression, so failure paths stay one line long. */
#ifndef KZ_CORE_ERROR_H
#define KZ_CORE_ERROR_H

#include "kaizen.h"

#if defined(__GNUC__)
#define KZ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define KZ_PRINTF(a, b)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the thread's last error to the formatted message and returns status. */
kz_status kz_fail(kz_status status, const char *fmt, ...) KZ_PRINTF(2, 3);
/* Prefixes the current last error with context ("loading x.yaml: ..."). */
kz_status kz_fail_context(kz_status status, const char *fmt, ...) KZ_PRINTF(2, 3);
void kz_clear_error(void);

#ifdef __cplusplus
}
#endif

#define KZ_TRY(expr)                                                                               \
  do {                                                                                             \
    kz_status kz_try_status_ = (expr);                                                             \
    if (kz_try_status_ != KZ_OK) return kz_try_status_;                                            \
  } while (0)

#endif
