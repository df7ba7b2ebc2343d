/* ctest driver of the gradient checks: `test_grad --op layernorm` runs the
 * finite-difference cases of one op; --check-list compares tests/ops.cmake's
 * KZ_GRAD_OPS with the harness, like test_ops does for the op list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/harness/grad_check.h"

static int check_list(const char *cmake_list) {
  int failures = 0;
  char buf[1024];
  buf[0] = '\0';
  for (int i = 0; i < kz_grad_op_count(); ++i) {
    size_t used = strlen(buf);
    snprintf(buf + used, sizeof buf - used, "%s%s", i ? "," : "", kz_grad_op_at(i));
  }
  if (strcmp(buf, cmake_list)) {
    fprintf(stderr, "KZ_GRAD_OPS in tests/ops.cmake is '%s'\nthe harness has '%s'\n", cmake_list,
            buf);
    ++failures;
  }
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  const char *op = NULL;
  bool verbose = getenv("KZ_TEST_VERBOSE") != NULL;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--check-list") && i + 1 < argc) return check_list(argv[i + 1]);
    if (!strcmp(argv[i], "--op") && i + 1 < argc)
      op = argv[++i];
    else if (!strcmp(argv[i], "--verbose"))
      verbose = true;
    else {
      fprintf(stderr, "usage: test_grad [--op NAME] [--verbose] | --check-list 'a,b'\n");
      return 2;
    }
  }
  uint64_t seed = kz_harness_base_seed();
  printf("gradient checks, seed 0x%016llx (KZ_TEST_SEED to reproduce)\n", (unsigned long long)seed);
  kz_suite_counts counts = {0, 0, 0};
  if (kz_harness_grad(op, seed, verbose, stdout, &counts) != KZ_OK) {
    fprintf(stderr, "test_grad: %s\n", kz_last_error());
    return 1;
  }
  printf("%d passed, %d failed\n", counts.passed, counts.failed);
  return counts.failed ? 1 : 0;
}
