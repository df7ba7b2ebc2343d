/* libFuzzer harness: kernel-config YAML (kernels/config/kernel_config_yaml.c)
 * loaded into the live knob tables, which are reset after every input.
 * Properties: a failed load changes nothing; the table printed after a
 * successful load loads back to the same values. */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kernels/config/kernel_config.h"

static void snapshot(int out[KZ_TARGET_COUNT][KZ_KNOB_COUNT]) {
  for (int t = 0; t < KZ_TARGET_COUNT; ++t)
    memcpy(out[t], kz_kernel_config_row((kz_target)t), sizeof out[t]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int before[KZ_TARGET_COUNT][KZ_KNOB_COUNT], after[KZ_TARGET_COUNT][KZ_KNOB_COUNT];
  kz_kernel_config_reset();
  snapshot(before);
  if (kz_kernel_config_load_text("fuzz.yaml", (const char *)data, size) != KZ_OK) {
    snapshot(after);
    if (memcmp(before, after, sizeof before) != 0)
      kz_fuzz_fail("a failed kernel-config load changed the tables");
    return 0;
  }
  snapshot(after);
  for (int t = 0; t < KZ_TARGET_COUNT; ++t) {
    /* Loading a printed table resets the others, so load the input again
     * before printing each one. */
    kz_kernel_config_reset();
    if (kz_kernel_config_load_text("fuzz.yaml", (const char *)data, size) != KZ_OK)
      kz_fuzz_fail("a kernel config loads once, then fails: %s", kz_last_error());
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) abort();
    kz_kernel_config_print(f, (kz_target)t);
    fclose(f);
    kz_kernel_config_reset();
    if (kz_kernel_config_load_text("printed.yaml", text, len) != KZ_OK)
      kz_fuzz_fail("the printed %s table does not load back: %s\n%s", kz_target_name((kz_target)t),
                   kz_last_error(), text);
    if (memcmp(kz_kernel_config_row((kz_target)t), after[t], sizeof after[t]) != 0)
      kz_fuzz_fail("the printed %s table loads back to other values:\n%s",
                   kz_target_name((kz_target)t), text);
    free(text);
  }
  kz_kernel_config_reset();
  return 0;
}
