/* Comparing a job's effective config with the one a run directory stores
 * (config.yaml), for --resume: a resumed run must compute what the
 * interrupted one would have, so a changed learning rate or batch size is
 * refused unless the user says so (--allow-changes). Shared by every trainer
 * that resumes (the neural trainer now, the GBDT job later). */
#ifndef KZ_ENGINE_TRACK_RUN_CONFIG_H
#define KZ_ENGINE_TRACK_RUN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/config/cfg.h"
#include "kaizen.h"

/* Keys that say where or how fast a run goes, not what it computes: they
 * may differ on resume (a preempted job restarted on another device). */
extern const char *const kz_run_config_free_keys[];

/* Compares cfg's effective config (every getter must have run, i.e. after
 * kz_cfg_check_unused) with <run_dir>/config.yaml, key by key, defaults
 * included; keys in `ignore` (NULL-terminated, may be NULL) are skipped.
 * *n_diff: the number of keys that differ (present in one only, or with
 * another value); diff (cap bytes, always NUL-terminated, may be cut short
 * with "...") lists them as "train.lr (0.001 -> 0.01), train.batch_size (2
 * -> 4)", the run's value first. Fails when config.yaml cannot be read. */
kz_status kz_run_config_diff(const char *run_dir, const kz_cfg *cfg, const char *const *ignore,
                             char *diff, size_t cap, int *n_diff);

/* --allow-changes: keeps <run_dir>/config.yaml, the config of the run up to
 * the resumed step, as config.before-step-<step>.yaml before kz_run_open
 * rewrites it. A file of that name already there is kept: it holds the
 * config of the steps up to <step>, which a later resume from the same
 * checkpoint must not replace. */
kz_status kz_run_config_keep_old(const char *run_dir, int64_t step);

#endif
