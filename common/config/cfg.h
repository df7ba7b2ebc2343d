/* Job configs (docs/CONFIG.md). It lives in common/, below data, models and
 * engine and beside kernels (it uses only kernels/core's errors and libyaml),
 * because models read their own section and models may not include engine/;
 * kernels never read a job config (their knobs are kernels/config's tables).
 * Job configs: a YAML document parsed into a tree that keeps
 * every node's line, read through typed getters.
 *
 * Every getter marks the key it reads as used and records the value it
 * returned (the default when the key is absent), so after all consumers have
 * read their sections:
 *   - kz_cfg_check_unused() fails on the first key nobody read ("unknown key"),
 *   - kz_cfg_write_effective() writes the complete effective config, defaults
 *     included, which is what a run directory stores.
 * Errors name the file, the line and the dotted key path, e.g.
 *   "job.yaml:7: train.lr: expected a number, got 'fast'".
 *
 * Typical use (engine reads data/train/output, the model reads model):
 *   kz_cfg *cfg; KZ_TRY(kz_cfg_load_file("job.yaml", &cfg));
 *   KZ_TRY(kz_cfg_set(cfg, "train.lr=0.01"));            // --set overrides
 *   const kz_cfg_node *train = kz_cfg_section(cfg, "train");
 *   double lr; KZ_TRY(kz_cfg_get_double(train, "lr", 1e-3, 0, 10, &lr));
 *   ...
 *   KZ_TRY(kz_cfg_check_unused(cfg));
 */
#ifndef KZ_COMMON_CONFIG_CFG_H
#define KZ_COMMON_CONFIG_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

typedef struct kz_cfg kz_cfg;           /* a parsed document; owns every node */
typedef struct kz_cfg_node kz_cfg_node; /* a map, a list or a scalar inside it */

/* Bounded (1 MiB) YAML; one document; the root must be a map. Anchors, aliases
 * and tags are rejected. Duplicate keys are errors. */
kz_status kz_cfg_load_file(const char *path, kz_cfg **out);
kz_status kz_cfg_load_string(const char *yaml, const char *name, kz_cfg **out);
void kz_cfg_free(kz_cfg *cfg);
const char *kz_cfg_name(const kz_cfg *cfg); /* the file name used in errors */

/* "a.b.c=value": the value is parsed as a YAML scalar (or flow list such as
 * [64,32]); intermediate maps are created; replaces what was there. */
kz_status kz_cfg_set(kz_cfg *cfg, const char *assignment);

const kz_cfg_node *kz_cfg_root(const kz_cfg *cfg);
/* A top-level map section; an empty map when absent (never NULL), so getters
 * on it return their defaults. Marks the section as used. A section that is
 * present but not a map is reported by the first getter on it. */
const kz_cfg_node *kz_cfg_section(const kz_cfg *cfg, const char *name);
/* A child map of a map, same rules. */
const kz_cfg_node *kz_cfg_map(const kz_cfg_node *map, const char *key);
int kz_cfg_has(const kz_cfg_node *map, const char *key);
int kz_cfg_line(const kz_cfg_node *node);
/* Where key's value in map came from, for errors about its value: "FILE:LINE",
 * or "--set ASSIGNMENT"; the map's own place when the key is absent. */
void kz_cfg_key_where(const kz_cfg_node *map, const char *key, char *buf, size_t cap);

/* Typed getters. Absent key: *out = def (recorded as the effective value).
 * Wrong type or out of [min, max]: an error naming file:line and key path. */
kz_status kz_cfg_get_int(const kz_cfg_node *map, const char *key, int64_t def, int64_t min,
                         int64_t max, int64_t *out);
kz_status kz_cfg_get_double(const kz_cfg_node *map, const char *key, double def, double min,
                            double max, double *out);
kz_status kz_cfg_get_bool(const kz_cfg_node *map, const char *key, int def, int *out);
/* def NULL makes the key required. The string lives as long as the cfg. */
kz_status kz_cfg_get_string(const kz_cfg_node *map, const char *key, const char *def,
                            const char **out);
/* One of choices (NULL-terminated); *out is the index. def < 0: required. */
kz_status kz_cfg_get_enum(const kz_cfg_node *map, const char *key, const char *const *choices,
                          int def, int *out);
/* A list of integers (a scalar counts as a one-element list). *out holds up
 * to cap values, *n the count; more than cap is an error. */
kz_status kz_cfg_get_int_list(const kz_cfg_node *map, const char *key, const int64_t *def,
                              int n_def, int cap, int64_t *out, int *n);

/* A list of strings (a scalar counts as a one-element list). def is the
 * default list (n_def entries). *out holds up to cap pointers that live as
 * long as the cfg; more than cap is an error. */
kz_status kz_cfg_get_string_list(const kz_cfg_node *map, const char *key, const char *const *def,
                                 int n_def, int cap, const char **out, int *n);

/* The first key in the document that no getter read: "job.yaml:12: unknown key 'train.lrr'". */
kz_status kz_cfg_check_unused(const kz_cfg *cfg);
/* The effective config as YAML (defaults included), written to path.tmp and renamed. */
kz_status kz_cfg_write_effective(const kz_cfg *cfg, const char *path);
/* The same as a NUL-terminated malloc'ed string (free() it). */
kz_status kz_cfg_effective_yaml(const kz_cfg *cfg, char **out);

/* Every key present in the tree (from the document or --set; not defaults),
 * in document order, as a dotted path and its value as text (lists in flow
 * form "[64, 32]", an empty map as "{}"). Marks nothing as used: for tools
 * that compare configs (kaizen runs compare). */
typedef void (*kz_cfg_leaf_fn)(const char *path, const char *value, void *ctx);
void kz_cfg_walk(const kz_cfg *cfg, kz_cfg_leaf_fn fn, void *ctx);

#endif
