/* Shared by the files of kernels/config only: the YAML loader validates into
 * a private copy of the table and commits it in one step, and needs the
 * reason a value is illegal without the message prefix kz_knob_validate adds. */
#ifndef KZ_CONFIG_KERNEL_CONFIG_INTERNAL_H
#define KZ_CONFIG_KERNEL_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/config/kernel_config.h"

/* Whether a knob belongs to a target's table (CPU knobs to cpu, CUDA knobs
 * to the sm_* targets). */
bool kz_knob_applies(const kz_knob_def *def, kz_target t);

/* NULL when value is legal for def; otherwise writes why not into why
 * ("100 is not a multiple of 32") and returns it. */
const char *kz_knob_violation(const kz_knob_def *def, int value, char *why, size_t size);

/* Copies the live table into values. */
void kz_kernel_config_snapshot(int values[KZ_TARGET_COUNT][KZ_KNOB_COUNT]);

/* Replaces the live table with values (already validated) and records source
 * as the config in effect. */
void kz_kernel_config_commit(int values[KZ_TARGET_COUNT][KZ_KNOB_COUNT], const char *source);

#endif
