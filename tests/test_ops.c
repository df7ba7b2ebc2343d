/* ctest driver of the op parity suite: one invocation per (backend, op).
 *
 *   test_ops --device cpu --op layernorm   run one op's cases (77 = skipped)
 *   test_ops --list                        print the harness's op names
 *   test_ops --check-list "a,b,c"          check the CMake list equals them
 *
 * The last form keeps tests/ops.cmake honest: an op added to the registry
 * without a ctest entry (or the reverse) fails `op/list_matches`. */
#define _POSIX_C_SOURCE 200809L /* strdup, strtok_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/harness/op_case.h"

#define SKIP 77

static int check_list(const char *cmake_list) {
  int failures = 0, listed = 0;
  char *copy = strdup(cmake_list);
  if (!copy) return 1;
  for (char *save = NULL, *name = strtok_r(copy, ",", &save); name;
       name = strtok_r(NULL, ",", &save)) {
    ++listed;
    if (!kz_op_info_find(name)) {
      fprintf(stderr, "ops.cmake lists '%s', which the harness does not know\n", name);
      ++failures;
    }
  }
  free(copy);
  for (int i = 0; i < kz_op_info_count(); ++i) {
    const char *name = kz_op_info_at(i)->name;
    size_t len = strlen(name);
    bool found = false;
    for (const char *p = cmake_list; (p = strstr(p, name)) != NULL; p += len)
      if ((p == cmake_list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0')) found = true;
    if (!found) {
      fprintf(stderr, "harness op '%s' has no ctest entry in tests/ops.cmake\n", name);
      ++failures;
    }
  }
  printf("%d ops listed in CMake, %d in the harness\n", listed, kz_op_info_count());
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  const char *device = "cpu", *op = NULL;
  bool verbose = getenv("KZ_TEST_VERBOSE") != NULL;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--list")) {
      for (int k = 0; k < kz_op_info_count(); ++k) printf("%s\n", kz_op_info_at(k)->name);
      return 0;
    }
    if (!strcmp(argv[i], "--check-list") && i + 1 < argc) return check_list(argv[i + 1]);
    if (!strcmp(argv[i], "--device") && i + 1 < argc)
      device = argv[++i];
    else if (!strcmp(argv[i], "--op") && i + 1 < argc)
      op = argv[++i];
    else if (!strcmp(argv[i], "--verbose"))
      verbose = true;
    else {
      fprintf(stderr, "usage: test_ops [--device cpu|cuda[:N]] [--op NAME] [--verbose] | --list | "
                      "--check-list 'a,b'\n");
      return 2;
    }
  }
  if (!strncmp(device, "cuda", 4) && kz_cuda_device_count() == 0) {
    printf("skipped: no GPU\n");
    return SKIP;
  }
  kz_device dev;
  if (kz_device_parse(device, &dev) != KZ_OK) {
    fprintf(stderr, "test_ops: %s\n", kz_last_error());
    return 2;
  }
  if (kz_kernel_config_load_env() != KZ_OK) {
    fprintf(stderr, "test_ops: KZ_KERNEL_CONFIG: %s\n", kz_last_error());
    return 2;
  }
  uint64_t seed = kz_harness_base_seed();
  printf("op parity on %s, seed 0x%016llx (KZ_TEST_SEED to reproduce)\n", device,
         (unsigned long long)seed);
  kz_suite_counts counts = {0, 0, 0};
  if (kz_harness_test_device(dev, op, seed, verbose, stdout, &counts) != KZ_OK) {
    fprintf(stderr, "test_ops: %s\n", kz_last_error());
    return 1;
  }
  printf("%d passed, %d failed, %d skipped\n", counts.passed, counts.failed, counts.skipped);
  if (counts.failed) return 1;
  return counts.passed == 0 ? SKIP : 0;
}
