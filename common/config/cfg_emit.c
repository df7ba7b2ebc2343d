/* What the job-config tree says after the consumers have read it: the first
 * key nobody read (kz_cfg_check_unused), the effective config as YAML, and a
 * walk over the keys present for tools that compare configs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/cfg_internal.h"
#include "common/fs/atomic_file.h"
#include "kernels/core/error.h"

/* ---- unknown keys ------------------------------------------------------------ */

static const kz_cfg_node *first_unused(const kz_cfg_node *map) {
  for (int i = 0; i < map->n_items; ++i) {
    const kz_cfg_node *c = map->items[i];
    if (c->absent) continue;
    if (!c->used) return c;
    if (c->kind == KZ_CFG_MAP) {
      const kz_cfg_node *u = first_unused(c);
      if (u) return u;
    }
  }
  return NULL;
}

kz_status kz_cfg_check_unused(const kz_cfg *cfg) {
  if (!cfg) return kz_fail(KZ_ERR_INVALID_ARG, "kz_cfg_check_unused: NULL config");
  const kz_cfg_node *u = first_unused(cfg->root);
  if (!u) return KZ_OK;
  char where[600], path[512];
  kz_cfg_where(u, where, sizeof where);
  kz_cfg_path(u, path, sizeof path);
  return kz_fail(KZ_ERR_INVALID_ARG, "%s: unknown key '%s'", where, path);
}

/* ---- a growing string ------------------------------------------------------------- */

typedef struct sbuf {
  char *data;
  size_t len, cap;
  int oom;
} sbuf;

static void put(sbuf *b, const char *s) {
  size_t n = strlen(s);
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
      b->oom = 1;
      return;
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n + 1);
  b->len += n;
}

static void put_indent(sbuf *b, int indent) {
  for (int i = 0; i < indent; ++i) put(b, " ");
}

static void put_key(sbuf *b, const char *key) {
  char text[600] = "";
  if (!kz_cfg_quote(key, text, sizeof text)) snprintf(text, sizeof text, "\"?\"");
  put(b, text);
}

/* ---- effective config ---------------------------------------------------------- */

static int has_effective(const kz_cfg_node *n) {
  if (n->effective) return 1;
  if (n->kind != KZ_CFG_MAP) return 0;
  for (int i = 0; i < n->n_items; ++i)
    if (has_effective(n->items[i])) return 1;
  return 0;
}

/* Document order first, then keys added later (--set, defaults): children
 * are kept in exactly that order, so a plain walk gives it. */
static void emit_map(sbuf *b, const kz_cfg_node *map, int indent) {
  for (int i = 0; i < map->n_items; ++i) {
    const kz_cfg_node *c = map->items[i];
    if (c->effective) {
      put_indent(b, indent);
      put_key(b, c->key);
      put(b, ": ");
      put(b, c->effective);
      put(b, "\n");
    } else if (c->kind == KZ_CFG_MAP && has_effective(c)) {
      put_indent(b, indent);
      put_key(b, c->key);
      put(b, ":\n");
      emit_map(b, c, indent + 2);
    }
  }
}

kz_status kz_cfg_effective_yaml(const kz_cfg *cfg, char **out) {
  if (!cfg || !out) return kz_fail(KZ_ERR_INVALID_ARG, "kz_cfg_effective_yaml: NULL argument");
  sbuf b = {0};
  put(&b, "# effective job config (defaults included), written by kaizen\n");
  emit_map(&b, cfg->root, 0);
  if (b.oom) {
    free(b.data);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  }
  *out = b.data;
  return KZ_OK;
}

kz_status kz_cfg_write_effective(const kz_cfg *cfg, const char *path) {
  if (!path) return kz_fail(KZ_ERR_INVALID_ARG, "kz_cfg_write_effective: NULL path");
  char *text = NULL;
  KZ_TRY(kz_cfg_effective_yaml(cfg, &text));
  kz_status st = kz_fs_write_atomic(path, text, strlen(text));
  free(text);
  return st;
}

/* ---- walk ------------------------------------------------------------------------ */

static void walk(const kz_cfg_node *map, kz_cfg_leaf_fn fn, void *ctx) {
  for (int i = 0; i < map->n_items; ++i) {
    const kz_cfg_node *c = map->items[i];
    if (c->absent) continue;
    char path[512];
    kz_cfg_path(c, path, sizeof path);
    if (c->kind == KZ_CFG_MAP) {
      if (c->n_items == 0) fn(path, "{}", ctx);
      walk(c, fn, ctx);
    } else if (c->kind == KZ_CFG_SCALAR) {
      fn(path, c->value, ctx);
    } else {
      sbuf b = {0};
      put(&b, "[");
      for (int j = 0; j < c->n_items; ++j) {
        const kz_cfg_node *it = c->items[j];
        if (j) put(&b, ", ");
        put(&b, it->kind == KZ_CFG_SCALAR ? it->value : it->kind == KZ_CFG_MAP ? "{...}" : "[...]");
      }
      put(&b, "]");
      fn(path, b.oom ? "[...]" : b.data, ctx);
      free(b.data);
    }
  }
}

void kz_cfg_walk(const kz_cfg *cfg, kz_cfg_leaf_fn fn, void *ctx) {
  if (cfg && fn) walk(cfg->root, fn, ctx);
}
