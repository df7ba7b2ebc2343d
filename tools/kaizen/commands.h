/* The kaizen CLI: one file per subcommand, each exporting one entry point.
 * Entry points receive argv starting at the subcommand's name and return the
 * process exit code (0 success, 1 failure, 2 usage error). */
#ifndef KZ_TOOLS_COMMANDS_H
#define KZ_TOOLS_COMMANDS_H

#include <stdbool.h>

#include "kaizen.h"

int kz_cmd_info(int argc, char **argv);
int kz_cmd_kernels(int argc, char **argv);
int kz_cmd_data(int argc, char **argv);
int kz_cmd_runs(int argc, char **argv);
int kz_cmd_train(int argc, char **argv);
int kz_cmd_predict(int argc, char **argv);
int kz_cmd_eval(int argc, char **argv);
int kz_cmd_gbdt(int argc, char **argv);
int kz_cmd_weights(int argc, char **argv);
int kz_cmd_embed(int argc, char **argv);
int kz_cmd_export(int argc, char **argv);
int kz_cmd_serve(int argc, char **argv);

/* Options every subcommand accepts, parsed by kz_cli_common_option. */
typedef struct kz_cli_common {
  const char *device;        /* --device auto|cpu|cuda[:N] (default auto) */
  const char *kernel_config; /* --kernel-config FILE */
} kz_cli_common;

/* If argv[*i] is a common option, consumes it (and its value), stores it and
 * returns 1; returns 0 if it is not one, -1 (after printing why) if its value
 * is missing. */
int kz_cli_common_option(kz_cli_common *c, int argc, char **argv, int *i);
/* Applies KZ_KERNEL_CONFIG, then --kernel-config, then resolves --device.
 * Prints the error and returns non-zero on failure. */
int kz_cli_common_apply(const kz_cli_common *c, kz_device *device);
/* Prints "kaizen: <what>: <kz_last_error()>" to stderr and returns 1. */
int kz_cli_fail(const char *what);
/* The help text of the options above, for subcommand usage messages. */
extern const char kz_cli_common_help[];

#endif
