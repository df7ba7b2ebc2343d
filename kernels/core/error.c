/* Thread-local last-error message behind kz_last_error(). */
#include "kernels/core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define KZ_ERROR_CAPACITY 1024

static _Thread_local char last_error[KZ_ERROR_CAPACITY];

const char *kz_last_error(void) {
  return last_error;
}

void kz_clear_error(void) {
  last_error[0] = '\0';
}

kz_status kz_fail(kz_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return status;
}

kz_status kz_fail_context(kz_status status, const char *fmt, ...) {
  char previous[KZ_ERROR_CAPACITY];
  memcpy(previous, last_error, sizeof previous);
  char prefix[KZ_ERROR_CAPACITY];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  /* Assembled by hand: truncating an over-long message is intended here. */
  size_t used = strlen(prefix);
  memcpy(last_error, prefix, used);
  if (used + 2 < sizeof last_error) {
    memcpy(last_error + used, ": ", 2);
    used += 2;
  }
  size_t rest = strlen(previous);
  if (rest > sizeof last_error - 1 - used) rest = sizeof last_error - 1 - used;
  memcpy(last_error + used, previous, rest);
  last_error[used + rest] = '\0';
  return status;
}

const char *kz_status_name(kz_status status) {
  switch (status) {
  case KZ_OK:
    return "ok";
  case KZ_ERR_INVALID_ARG:
    return "invalid-argument";
  case KZ_ERR_OUT_OF_MEMORY:
    return "out-of-memory";
  case KZ_ERR_IO:
    return "io-error";
  case KZ_ERR_FORMAT:
    return "format-error";
  case KZ_ERR_UNSUPPORTED:
    return "unsupported";
  case KZ_ERR_DEVICE:
    return "device-error";
  case KZ_ERR_NOT_FOUND:
    return "not-found";
  case KZ_ERR_INTERNAL:
    return "internal-error";
  case KZ_ERR_UNAVAILABLE:
    return "unavailable";
  }
  return "unknown-status";
}
