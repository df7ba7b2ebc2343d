/* Job configs: the node tree, YAML loading and --set overrides
 * (docs/CONFIG.md). The document is read through libyaml's event API rather
 * than its document loader because the loader resolves aliases silently and
 * keeps no trace of anchors or tags, which job configs must reject. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "common/config/cfg_internal.h"
#include "kernels/core/error.h"

/* A job config is a few hundred lines; anything near this is a wrong path. */
#define KZ_CFG_MAX_BYTES ((size_t)1 << 20)
/* Deeper nesting than this is never a job config and would risk the stack. */
#define KZ_CFG_MAX_DEPTH 64

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

kz_cfg_node *kz_cfg_node_new(kz_cfg *cfg, kz_cfg_kind kind, int line) {
  kz_cfg_node *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->kind = kind;
  n->line = line;
  n->cfg = cfg;
  return n;
}

void kz_cfg_node_free(kz_cfg_node *n) {
  if (!n) return;
  for (int i = 0; i < n->n_items; ++i) kz_cfg_node_free(n->items[i]);
  free(n->items);
  free(n->key);
  free(n->value);
  free(n->effective);
  free(n);
}

kz_status kz_cfg_node_append(kz_cfg_node *parent, kz_cfg_node *child) {
  if (parent->n_items == parent->cap_items) {
    int cap = parent->cap_items ? 2 * parent->cap_items : 8;
    kz_cfg_node **items = realloc(parent->items, (size_t)cap * sizeof *items);
    if (!items) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
    parent->items = items;
    parent->cap_items = cap;
  }
  parent->items[parent->n_items++] = child;
  child->parent = parent;
  return KZ_OK;
}

kz_cfg_node *kz_cfg_child(const kz_cfg_node *map, const char *key) {
  if (!map || map->kind != KZ_CFG_MAP) return NULL;
  for (int i = 0; i < map->n_items; ++i)
    if (!strcmp(map->items[i]->key, key)) return map->items[i];
  return NULL;
}

void kz_cfg_path(const kz_cfg_node *n, char *buf, size_t cap) {
  const kz_cfg_node *chain[KZ_CFG_MAX_DEPTH + 8];
  int depth = 0;
  for (const kz_cfg_node *p = n; p && p->parent && depth < KZ_CFG_MAX_DEPTH + 8; p = p->parent)
    chain[depth++] = p;
  size_t used = 0;
  buf[0] = '\0';
  for (int i = depth - 1; i >= 0 && used < cap; --i) {
    const kz_cfg_node *p = chain[i];
    int w;
    if (p->key)
      w = snprintf(buf + used, cap - used, "%s%s", used ? "." : "", p->key);
    else {
      int index = 0;
      while (index < p->parent->n_items && p->parent->items[index] != p) ++index;
      w = snprintf(buf + used, cap - used, "[%d]", index);
    }
    if (w < 0) return;
    used += (size_t)w;
  }
}

void kz_cfg_where(const kz_cfg_node *n, char *buf, size_t cap) {
  if (n && n->origin)
    snprintf(buf, cap, "--set %s", n->origin);
  else if (n && n->line > 0)
    snprintf(buf, cap, "%s:%d", n->cfg->name, n->line);
  else
    snprintf(buf, cap, "%s", n ? n->cfg->name : "config");
}

int kz_cfg_is_null(const kz_cfg_node *n) {
  if (n->kind != KZ_CFG_SCALAR || n->quoted) return 0;
  const char *s = n->value;
  return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
         !strcmp(s, "NULL");
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct parser {
  yaml_parser_t yp;
  kz_cfg *cfg;
  const char *origin; /* --set assignment, or NULL for a file */
} parser;

static kz_status fail_line(const parser *p, size_t line0, const char *fmt, ...) KZ_PRINTF(3, 4);

static kz_status fail_line(const parser *p, size_t line0, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (p->origin) return kz_fail(KZ_ERR_FORMAT, "--set %s: %s", p->origin, what);
  return kz_fail(KZ_ERR_FORMAT, "%s:%zu: %s", p->cfg->name, line0 + 1, what);
}

static kz_status next_event(parser *p, yaml_event_t *ev) {
  if (yaml_parser_parse(&p->yp, ev)) return KZ_OK;
  return fail_line(p, p->yp.problem_mark.line, "YAML syntax error: %s%s%s",
                   p->yp.problem ? p->yp.problem : "unknown", p->yp.context ? " " : "",
                   p->yp.context ? p->yp.context : "");
}

/* Anchors, aliases and tags make a config mean something other than what it
 * reads as; job configs have no use for them. */
static kz_status check_plain(parser *p, const yaml_event_t *ev, const char *path) {
  const yaml_char_t *anchor = NULL, *tag = NULL;
  switch (ev->type) {
  case YAML_ALIAS_EVENT:
    return fail_line(p, ev->start_mark.line, "%s%saliases (*%s) are not allowed", path,
                     *path ? ": " : "", (const char *)ev->data.alias.anchor);
  case YAML_SCALAR_EVENT:
    anchor = ev->data.scalar.anchor;
    tag = ev->data.scalar.tag;
    break;
  case YAML_SEQUENCE_START_EVENT:
    anchor = ev->data.sequence_start.anchor;
    tag = ev->data.sequence_start.tag;
    break;
  case YAML_MAPPING_START_EVENT:
    anchor = ev->data.mapping_start.anchor;
    tag = ev->data.mapping_start.tag;
    break;
  default:
    return fail_line(p, ev->start_mark.line, "unexpected YAML event");
  }
  if (anchor)
    return fail_line(p, ev->start_mark.line, "%s%sanchors (&%s) are not allowed", path,
                     *path ? ": " : "", (const char *)anchor);
  if (tag)
    return fail_line(p, ev->start_mark.line, "%s%stags (%s) are not allowed", path,
                     *path ? ": " : "", (const char *)tag);
  return KZ_OK;
}

static kz_status parse_node(parser *p, yaml_event_t *ev, kz_cfg_node *parent, const char *key,
                            size_t key_line, int depth, kz_cfg_node **out);

static kz_status set_key(kz_cfg_node *n, const char *key) {
  if (!key) return KZ_OK;
  n->key = dup_str(key);
  return n->key ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
}

static kz_status parse_children(parser *p, kz_cfg_node *n, int depth) {
  char path[512];
  for (;;) {
    yaml_event_t ev;
    KZ_TRY(next_event(p, &ev));
    if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&ev);
      return KZ_OK;
    }
    char *key = NULL;
    size_t key_line = 0;
    if (n->kind == KZ_CFG_MAP) {
      kz_cfg_path(n, path, sizeof path);
      kz_status st = check_plain(p, &ev, path);
      if (st == KZ_OK && ev.type != YAML_SCALAR_EVENT)
        st = fail_line(p, ev.start_mark.line, "%s%skeys must be plain names, not a %s", path,
                       *path ? ": " : "", ev.type == YAML_MAPPING_START_EVENT ? "map" : "list");
      if (st != KZ_OK) {
        yaml_event_delete(&ev);
        return st;
      }
      key = (char *)ev.data.scalar.value;
      size_t line = ev.start_mark.line;
      key_line = line + 1;
      char full[600];
      snprintf(full, sizeof full, "%s%s%s", path, *path ? "." : "", key);
      if (!*key || strchr(key, '.') || strchr(key, '='))
        st = fail_line(p, line, "bad key '%s': keys are non-empty names without '.' or '='", full);
      else {
        const kz_cfg_node *dup = kz_cfg_child(n, key);
        if (dup) st = fail_line(p, line, "duplicate key '%s' (first at line %d)", full, dup->line);
      }
      if (st == KZ_OK) {
        key = dup_str(key);
        if (!key) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
      }
      yaml_event_delete(&ev);
      if (st != KZ_OK) return st;
      st = next_event(p, &ev);
      if (st != KZ_OK) {
        free(key);
        return st;
      }
    }
    kz_cfg_node *child = NULL;
    kz_status st = parse_node(p, &ev, n, key, key_line, depth + 1, &child);
    free(key);
    if (st != KZ_OK) return st;
    st = kz_cfg_node_append(n, child);
    if (st != KZ_OK) {
      kz_cfg_node_free(child);
      return st;
    }
  }
}

/* Consumes ev (and, for collections, every event up to the matching end).
 * A map entry's line is its key's line (key_line, 1-based), which is where
 * a reader looks for it even when the value is a block starting below. */
static kz_status parse_node(parser *p, yaml_event_t *ev, kz_cfg_node *parent, const char *key,
                            size_t key_line, int depth, kz_cfg_node **out) {
  char path[600];
  kz_cfg_path(parent, path, sizeof path);
  if (key) {
    size_t used = strlen(path);
    snprintf(path + used, sizeof path - used, "%s%s", used ? "." : "", key);
  }
  kz_status st = check_plain(p, ev, path);
  if (st == KZ_OK && depth > KZ_CFG_MAX_DEPTH)
    st = fail_line(p, ev->start_mark.line, "nested deeper than %d levels", KZ_CFG_MAX_DEPTH);
  if (st != KZ_OK) {
    yaml_event_delete(ev);
    return st;
  }
  int line = p->origin ? 0 : key_line ? (int)key_line : (int)ev->start_mark.line + 1;
  kz_cfg_kind kind = ev->type == YAML_SCALAR_EVENT           ? KZ_CFG_SCALAR
                     : ev->type == YAML_SEQUENCE_START_EVENT ? KZ_CFG_LIST
                                                             : KZ_CFG_MAP;
  kz_cfg_node *n = kz_cfg_node_new(p->cfg, kind, line);
  if (!n) {
    yaml_event_delete(ev);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  }
  n->origin = p->origin;
  st = set_key(n, key);
  if (st == KZ_OK && kind == KZ_CFG_SCALAR) {
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    n->value = dup_str((const char *)ev->data.scalar.value);
    if (!n->value) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  }
  yaml_event_delete(ev);
  /* Children record their path through the parent chain during parsing. */
  n->parent = parent;
  if (st == KZ_OK && kind != KZ_CFG_SCALAR) st = parse_children(p, n, depth);
  if (st != KZ_OK) {
    kz_cfg_node_free(n);
    return st;
  }
  *out = n;
  return KZ_OK;
}

kz_status kz_cfg_parse_text(kz_cfg *cfg, const char *text, size_t len, int value_only,
                            const char *origin, kz_cfg_node **out) {
  parser p = {.cfg = cfg, .origin = origin};
  if (!yaml_parser_initialize(&p.yp)) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "yaml: out of memory");
  yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, len);
  kz_cfg_node *root = NULL;
  kz_status st = KZ_OK;
  int documents = 0;
  for (;;) {
    yaml_event_t ev;
    st = next_event(&p, &ev);
    if (st != KZ_OK) break;
    yaml_event_type_t type = ev.type;
    if (type == YAML_STREAM_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    if (type == YAML_DOCUMENT_START_EVENT && ++documents > 1) {
      st = fail_line(&p, ev.start_mark.line, "a job config is one YAML document, found a second");
      yaml_event_delete(&ev);
      break;
    }
    if (type == YAML_SCALAR_EVENT || type == YAML_SEQUENCE_START_EVENT ||
        type == YAML_MAPPING_START_EVENT || type == YAML_ALIAS_EVENT) {
      size_t line = ev.start_mark.line;
      st = parse_node(&p, &ev, NULL, NULL, 0, 0, &root);
      if (st != KZ_OK) break;
      if (value_only && root->kind == KZ_CFG_MAP)
        st = fail_line(&p, line, "the value must be a scalar or a flow list such as [64, 32]");
      else if (!value_only && root->kind != KZ_CFG_MAP)
        st = fail_line(&p, line, "the root of a job config must be a map of sections, found a %s",
                       root->kind == KZ_CFG_LIST ? "list" : "scalar");
      if (st != KZ_OK) break;
      continue;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&p.yp);
  if (st == KZ_OK && !root) {
    if (value_only) {
      /* "a.b=" is an empty (null) scalar. */
      root = kz_cfg_node_new(cfg, KZ_CFG_SCALAR, 0);
      if (root) root->value = dup_str("");
      if (!root || !root->value) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
      if (root) root->origin = origin;
    } else {
      st = kz_fail(KZ_ERR_FORMAT, "%s: empty document: a job config is a map of sections",
                   cfg->name);
    }
  }
  if (st != KZ_OK) {
    kz_cfg_node_free(root);
    return st;
  }
  *out = root;
  return KZ_OK;
}

/* ---- loading ------------------------------------------------------------ */

static kz_status load_text(const char *text, size_t len, const char *name, kz_cfg **out) {
  *out = NULL;
  if (len > KZ_CFG_MAX_BYTES)
    return kz_fail(KZ_ERR_FORMAT, "%s: %zu bytes is over the 1 MiB limit of a job config", name,
                   len);
  if (memchr(text, '\0', len)) return kz_fail(KZ_ERR_FORMAT, "%s: contains a NUL byte", name);
  kz_cfg *cfg = calloc(1, sizeof *cfg);
  if (!cfg) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  cfg->name = dup_str(name);
  if (!cfg->name) {
    free(cfg);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  }
  kz_status st = kz_cfg_parse_text(cfg, text, len, 0, NULL, &cfg->root);
  if (st != KZ_OK) {
    kz_cfg_free(cfg);
    return st;
  }
  *out = cfg;
  return KZ_OK;
}

kz_status kz_cfg_load_string(const char *yaml, const char *name, kz_cfg **out) {
  if (!yaml || !out) return kz_fail(KZ_ERR_INVALID_ARG, "kz_cfg_load_string: NULL argument");
  return load_text(yaml, strlen(yaml), name ? name : "<string>", out);
}

kz_status kz_cfg_load_file(const char *path, kz_cfg **out) {
  if (!path || !out) return kz_fail(KZ_ERR_INVALID_ARG, "kz_cfg_load_file: NULL argument");
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return kz_fail(KZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(f);
    return kz_fail(KZ_ERR_IO, "%s: is a directory, not a job config", path);
  }
  /* Read one byte past the limit so an oversized file is reported as such
   * without reading all of it. */
  char *buf = malloc(KZ_CFG_MAX_BYTES + 2);
  if (!buf) {
    fclose(f);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  }
  size_t len = fread(buf, 1, KZ_CFG_MAX_BYTES + 1, f);
  int err = ferror(f);
  fclose(f);
  kz_status st;
  if (err)
    st = kz_fail(KZ_ERR_IO, "%s: read error", path);
  else if (len > KZ_CFG_MAX_BYTES)
    st = kz_fail(KZ_ERR_FORMAT, "%s: over the 1 MiB limit of a job config", path);
  else {
    buf[len] = '\0';
    st = load_text(buf, len, path, out);
  }
  free(buf);
  return st;
}

void kz_cfg_free(kz_cfg *cfg) {
  if (!cfg) return;
  kz_cfg_node_free(cfg->root);
  for (int i = 0; i < cfg->n_origins; ++i) free(cfg->origins[i]);
  free(cfg->origins);
  free(cfg->name);
  free(cfg);
}

const char *kz_cfg_name(const kz_cfg *cfg) {
  return cfg ? cfg->name : "";
}

const kz_cfg_node *kz_cfg_root(const kz_cfg *cfg) {
  return cfg ? cfg->root : NULL;
}

/* ---- --set ---------------------------------------------------------------- */

kz_status kz_cfg_set(kz_cfg *cfg, const char *assignment) {
  if (!cfg || !assignment) return kz_fail(KZ_ERR_INVALID_ARG, "kz_cfg_set: NULL argument");
  const char *eq = strchr(assignment, '=');
  if (!eq)
    return kz_fail(KZ_ERR_INVALID_ARG, "--set %s: expected key.path=value (no '=')", assignment);
  if (eq == assignment)
    return kz_fail(KZ_ERR_INVALID_ARG, "--set %s: expected key.path=value (empty key path)",
                   assignment);
  /* The assignment names every node it creates in later errors, so it must
   * live as long as the cfg. */
  char **origins = realloc(cfg->origins, (size_t)(cfg->n_origins + 1) * sizeof *origins);
  if (!origins) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  cfg->origins = origins;
  char *origin = dup_str(assignment);
  if (!origin) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  cfg->origins[cfg->n_origins++] = origin;

  char path[512];
  size_t plen = (size_t)(eq - assignment);
  if (plen >= sizeof path)
    return kz_fail(KZ_ERR_INVALID_ARG, "--set %s: key path too long", assignment);
  memcpy(path, assignment, plen);
  path[plen] = '\0';
  for (const char *c = path; *c; ++c)
    if ((*c == '.' && (c == path || c[1] == '.' || c[1] == '\0')) || *c == ' ' || *c == '\t')
      return kz_fail(KZ_ERR_INVALID_ARG, "--set %s: bad key path '%s'", assignment, path);

  kz_cfg_node *value = NULL;
  KZ_TRY(kz_cfg_parse_text(cfg, eq + 1, strlen(eq + 1), 1, origin, &value));

  kz_cfg_node *map = cfg->root;
  char *part = path;
  for (;;) {
    char *dot = strchr(part, '.');
    if (dot) *dot = '\0';
    kz_cfg_node *child = kz_cfg_child(map, part);
    if (!dot) {
      kz_status st = set_key(value, part);
      if (st != KZ_OK) {
        kz_cfg_node_free(value);
        return st;
      }
      if (child) {
        /* Replace in place so the key keeps its place in the document. */
        int i = 0;
        while (map->items[i] != child) ++i;
        map->items[i] = value;
        value->parent = map;
        kz_cfg_node_free(child);
        return KZ_OK;
      }
      st = kz_cfg_node_append(map, value);
      if (st != KZ_OK) kz_cfg_node_free(value);
      return st;
    }
    if (child && child->kind != KZ_CFG_MAP && kz_cfg_is_null(child)) child->kind = KZ_CFG_MAP;
    if (child && child->kind != KZ_CFG_MAP) {
      kz_cfg_node_free(value);
      char where[600];
      kz_cfg_path(child, where, sizeof where);
      return kz_fail(KZ_ERR_INVALID_ARG, "--set %s: %s is a %s, not a map", assignment, where,
                     child->kind == KZ_CFG_LIST ? "list" : "scalar");
    }
    if (!child) {
      child = kz_cfg_node_new(cfg, KZ_CFG_MAP, 0);
      kz_status st = child ? set_key(child, part) : KZ_ERR_OUT_OF_MEMORY;
      if (st == KZ_OK) st = kz_cfg_node_append(map, child);
      if (st != KZ_OK) {
        kz_cfg_node_free(child);
        kz_cfg_node_free(value);
        return kz_fail(st, "config: out of memory");
      }
      child->origin = origin;
    }
    map = child;
    part = dot + 1;
  }
}

/* ---- navigation ------------------------------------------------------------ */

const kz_cfg_node *kz_cfg_map(const kz_cfg_node *map, const char *key) {
  kz_cfg_node *m = (kz_cfg_node *)map;         /* nodes are owned, mutable, by their cfg */
  if (!m || m->kind != KZ_CFG_MAP) return map; /* the getters report the wrong kind */
  kz_cfg_node *child = kz_cfg_child(m, key);
  if (!child) {
    /* An absent section reads as an empty map whose getters record defaults. */
    child = kz_cfg_node_new(m->cfg, KZ_CFG_MAP, 0);
    if (!child || set_key(child, key) != KZ_OK || kz_cfg_node_append(m, child) != KZ_OK) {
      kz_cfg_node_free(child);
      return map;
    }
    child->absent = 1;
  }
  /* `train:` with every key commented out is an empty section. */
  if (child->kind == KZ_CFG_SCALAR && kz_cfg_is_null(child)) child->kind = KZ_CFG_MAP;
  child->used = 1;
  m->used = 1;
  return child;
}

const kz_cfg_node *kz_cfg_section(const kz_cfg *cfg, const char *name) {
  return kz_cfg_map(cfg ? cfg->root : NULL, name);
}

int kz_cfg_has(const kz_cfg_node *map, const char *key) {
  const kz_cfg_node *c = kz_cfg_child(map, key);
  return c && !c->absent;
}

int kz_cfg_line(const kz_cfg_node *node) {
  return node ? node->line : 0;
}

void kz_cfg_key_where(const kz_cfg_node *map, const char *key, char *buf, size_t cap) {
  const kz_cfg_node *n = kz_cfg_child(map, key);
  kz_cfg_where(n ? n : map, buf, cap);
}
