/* Internals of the job-config tree shared by cfg.c (tree, loading, --set),
 * cfg_get.c (typed getters) and cfg_emit.c (effective config, unused keys).
 * Not part of the contract: include common/config/cfg.h instead. */
#ifndef KZ_COMMON_CONFIG_CFG_INTERNAL_H
#define KZ_COMMON_CONFIG_CFG_INTERNAL_H

#include <stddef.h>

#include "common/config/cfg.h"

typedef enum kz_cfg_kind { KZ_CFG_MAP, KZ_CFG_LIST, KZ_CFG_SCALAR } kz_cfg_kind;

struct kz_cfg_node {
  kz_cfg_kind kind;
  int line;            /* 1-based; 0 for nodes from --set or defaults */
  int used;            /* a getter / section lookup read it */
  int absent;          /* not in the document: created to record a default */
  int quoted;          /* scalar written in quotes (never a number or a bool) */
  char *key;           /* key within the parent map; NULL for list items and the root */
  char *value;         /* scalar text */
  const char *origin;  /* the --set assignment that produced it, or NULL */
  char *effective;     /* YAML text of the value a getter returned, or NULL */
  kz_cfg_node *parent; /* NULL for the root */
  kz_cfg *cfg;
  kz_cfg_node **items; /* map entries or list items, in order */
  int n_items, cap_items;
};

struct kz_cfg {
  char *name; /* file name for errors */
  kz_cfg_node *root;
  char **origins; /* --set assignments, kept for error messages */
  int n_origins;
};

kz_cfg_node *kz_cfg_node_new(kz_cfg *cfg, kz_cfg_kind kind, int line);
void kz_cfg_node_free(kz_cfg_node *n);
kz_status kz_cfg_node_append(kz_cfg_node *parent, kz_cfg_node *child);
kz_cfg_node *kz_cfg_child(const kz_cfg_node *map, const char *key);
/* "train.lr", "model.hidden[1]"; "" for the root. */
void kz_cfg_path(const kz_cfg_node *n, char *buf, size_t cap);
/* "job.yaml:7", "--set train.lr=abc" or "job.yaml" for absent nodes. */
void kz_cfg_where(const kz_cfg_node *n, char *buf, size_t cap);
/* A plain (unquoted) empty, ~ or null scalar. */
int kz_cfg_is_null(const kz_cfg_node *n);

/* Strict scalar parsers (the whole string, no surrounding space). */
int kz_cfg_parse_int(const char *s, int64_t *out);
int kz_cfg_parse_double(const char *s, double *out);
int kz_cfg_parse_bool(const char *s, int *out);
/* Appends s to buf as a YAML scalar, double-quoted when plain would not read
 * back as the same string. Returns 0 when it did not fit. */
int kz_cfg_quote(const char *s, char *buf, size_t cap);

/* Parses YAML text into a tree (shared by load and --set). With value_only
 * the document may be a scalar or a list; otherwise the root must be a map. */
kz_status kz_cfg_parse_text(kz_cfg *cfg, const char *text, size_t len, int value_only,
                            const char *origin, kz_cfg_node **out);

#endif
