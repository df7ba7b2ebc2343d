/* Minimal assertion helpers for C tests: print where and why, count failures. */
#ifndef KZ_TESTS_TEST_UTIL_H
#define KZ_TESTS_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

#include "kaizen.h"

static int kz_test_failures = 0;

#define KZ_CHECK(cond)                                                                             \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                     \
      ++kz_test_failures;                                                                          \
    }                                                                                              \
  } while (0)

#define KZ_CHECK_OK(expr)                                                                          \
  do {                                                                                             \
    kz_status kz_check_st_ = (expr);                                                               \
    if (kz_check_st_ != KZ_OK) {                                                                   \
      fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #expr,                    \
              kz_status_name(kz_check_st_), kz_last_error());                                      \
      ++kz_test_failures;                                                                          \
    }                                                                                              \
  } while (0)

/* Expects a failure with the given status whose message contains `needle`. */
#define KZ_CHECK_FAILS(expr, status, needle)                                                       \
  do {                                                                                             \
    kz_status kz_check_st_ = (expr);                                                               \
    if (kz_check_st_ != (status) || !strstr(kz_last_error(), (needle))) {                          \
      fprintf(stderr, "%s:%d: %s: expected %s containing \"%s\", got %s: \"%s\"\n", __FILE__,      \
              __LINE__, #expr, kz_status_name(status), needle, kz_status_name(kz_check_st_),       \
              kz_last_error());                                                                    \
      ++kz_test_failures;                                                                          \
    }                                                                                              \
  } while (0)

#define KZ_TEST_RESULT()                                                                           \
  (kz_test_failures ? (fprintf(stderr, "%d check(s) failed\n", kz_test_failures), 1) : 0)

#endif
