/* Options shared by every subcommand: device selection and kernel config. */
#include <stdio.h>
#include <string.h>

#include "tools/kaizen/commands.h"

const char kz_cli_common_help[] =
    "  --device SPEC          auto | cpu | cuda | cuda:N (default auto: cuda:0 if present)\n"
    "  --kernel-config FILE   YAML overrides of kernel knobs (docs/KERNEL_CONFIG.md);\n"
    "                         KZ_KERNEL_CONFIG=FILE does the same, the flag wins\n";

int kz_cli_common_option(kz_cli_common *c, int argc, char **argv, int *i) {
  const char *arg = argv[*i];
  const char **slot = NULL;
  if (!strcmp(arg, "--device"))
    slot = &c->device;
  else if (!strcmp(arg, "--kernel-config"))
    slot = &c->kernel_config;
  else
    return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "kaizen: %s needs a value\n", arg);
    return -1;
  }
  *slot = argv[++*i];
  return 1;
}

int kz_cli_fail(const char *what) {
  fprintf(stderr, "kaizen: %s: %s\n", what, kz_last_error());
  return 1;
}

int kz_cli_common_apply(const kz_cli_common *c, kz_device *device) {
  if (kz_kernel_config_load_env() != KZ_OK) return kz_cli_fail("environment");
  if (c->kernel_config && kz_kernel_config_load_file(c->kernel_config) != KZ_OK)
    return kz_cli_fail("--kernel-config");
  if (device && kz_device_parse(c->device ? c->device : "auto", device) != KZ_OK)
    return kz_cli_fail("--device");
  return 0;
}
