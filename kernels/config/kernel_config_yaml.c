/* YAML overrides of the kernel-config table (format: docs/KERNEL_CONFIG.md).
 *
 *   target:            cpu, sm_80, sm_90
 *     op:              matmul, layernorm, ...
 *       knob: value    a choice name or a decimal integer
 *
 * The file is parsed into a copy of the live table and committed only when
 * every entry has passed, so a bad file never leaves a half-applied config.
 * Every error names the file, the 1-based line and the key path at fault.
 *
 * Loading is a start-up step: it is not synchronised with kernels reading
 * the table (see kernel_config.c). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "kernels/config/kernel_config.h"
#include "kernels/config/kernel_config_internal.h"
#include "kernels/core/error.h"

/* A kernel config is a few dozen lines; anything near this is a wrong path. */
#define KZ_KERNEL_CONFIG_MAX_BYTES ((size_t)1 << 20)

typedef struct loader {
  const char *name;
  yaml_document_t *doc;
  int values[KZ_TARGET_COUNT][KZ_KNOB_COUNT];
} loader;

static size_t line_of(const yaml_node_t *node) {
  return node->start_mark.line + 1;
}

static kz_status fail_at(const loader *ld, kz_status status, const yaml_node_t *node,
                         const char *path, const char *fmt, ...) KZ_PRINTF(5, 6);

static kz_status fail_at(const loader *ld, kz_status status, const yaml_node_t *node,
                         const char *path, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return kz_fail(status, "%s:%zu: %s: %s", ld->name, line_of(node), path, what);
}

static const char *scalar_text(const yaml_node_t *node) {
  return (const char *)node->data.scalar.value;
}

/* `cpu:` with every knob commented out parses as a null scalar; treat it as
 * an empty section rather than punish the commenting-out. */
static bool is_null(const yaml_node_t *node) {
  if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return false;
  const char *s = scalar_text(node);
  return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
         !strcmp(s, "NULL");
}

static const char *node_kind(const yaml_node_t *node) {
  switch (node->type) {
  case YAML_SCALAR_NODE:
    return "a scalar";
  case YAML_SEQUENCE_NODE:
    return "a list";
  case YAML_MAPPING_NODE:
    return "a mapping";
  default:
    return "an empty node";
  }
}

/* Fails unless node is a mapping (or null, which *is_empty reports). */
static kz_status expect_mapping(const loader *ld, const yaml_node_t *node, const char *path,
                                const char *expected, bool *is_empty) {
  *is_empty = false;
  if (node->type == YAML_MAPPING_NODE) return KZ_OK;
  if (is_null(node)) {
    *is_empty = true;
    return KZ_OK;
  }
  return fail_at(ld, KZ_ERR_FORMAT, node, path, "expected a mapping of %s, found %s", expected,
                 node_kind(node));
}

static kz_status expect_key(const loader *ld, const yaml_node_t *key, const char *path) {
  if (key->type == YAML_SCALAR_NODE) return KZ_OK;
  return fail_at(ld, KZ_ERR_FORMAT, key, path, "keys must be names, found %s", node_kind(key));
}

/* Lists, comma-separated, the knobs of `op` that apply to target t, or with
 * op NULL the ops that have knobs for t. */
static void list_names(kz_target t, const char *op, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int k = 0; k < KZ_KNOB_COUNT; ++k) {
    const kz_knob_def *def = kz_knob_def_get((kz_knob)k);
    if (!kz_knob_applies(def, t)) continue;
    const char *name = def->name;
    if (op) {
      if (strcmp(def->op, op)) continue;
    } else {
      name = def->op;
      bool seen = false;
      for (int j = 0; j < k && !seen; ++j) {
        const kz_knob_def *prev = kz_knob_def_get((kz_knob)j);
        seen = kz_knob_applies(prev, t) && !strcmp(prev->op, def->op);
      }
      if (seen) continue;
    }
    int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", name);
    if (n < 0 || (size_t)n >= size - used) return;
    used += (size_t)n;
  }
}

static void list_choices(const kz_knob_def *def, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int c = 0; c < (int)(sizeof def->choices / sizeof def->choices[0]) && def->choices[c]; ++c) {
    int n = snprintf(buf + used, size - used, "%s%s", c ? ", " : "", def->choices[c]);
    if (n < 0 || (size_t)n >= size - used) return;
    used += (size_t)n;
  }
}

/* Strict decimal: optional sign, digits, nothing else ("64", "-1"; not
 * "0x40", "64.0", "1e2" or ""). */
static bool parse_decimal(const char *s, long *out) {
  const char *p = s;
  if (*p == '+' || *p == '-') ++p;
  if (*p < '0' || *p > '9') return false;
  for (const char *q = p; *q; ++q)
    if (*q < '0' || *q > '9') return false;
  errno = 0;
  long v = strtol(s, NULL, 10);
  if (errno == ERANGE) v = s[0] == '-' ? LONG_MIN : LONG_MAX;
  *out = v;
  return true;
}

static kz_status load_value(loader *ld, kz_target t, const kz_knob_def *def,
                            const yaml_node_t *node, const char *path) {
  if (node->type != YAML_SCALAR_NODE || is_null(node))
    return fail_at(ld, KZ_ERR_FORMAT, node, path, "expected a value, found %s",
                   is_null(node) ? "nothing" : node_kind(node));
  const char *text = scalar_text(node);
  int value;
  if (def->kind == KZ_KNOB_CHOICE) {
    value = -1;
    for (int c = 0; c < (int)(sizeof def->choices / sizeof def->choices[0]) && def->choices[c]; ++c)
      if (!strcmp(text, def->choices[c])) value = c;
    if (value < 0) {
      char legal[128];
      list_choices(def, legal, sizeof legal);
      return fail_at(ld, KZ_ERR_INVALID_ARG, node, path, "'%.64s' is not one of: %s", text, legal);
    }
  } else {
    long v;
    if (!parse_decimal(text, &v))
      return fail_at(ld, KZ_ERR_INVALID_ARG, node, path, "'%.64s' is not a decimal integer", text);
    if (v < def->min || v > def->max)
      return fail_at(ld, KZ_ERR_INVALID_ARG, node, path, "%.64s is out of range [%d, %d]", text,
                     def->min, def->max);
    value = (int)v;
  }
  char why[128];
  if (kz_knob_violation(def, value, why, sizeof why))
    return fail_at(ld, KZ_ERR_INVALID_ARG, node, path, "%s", why);
  ld->values[t][def->id] = value;
  return KZ_OK;
}

/* The knob of op `op` named `name` for either kind of target, or NULL. */
static const kz_knob_def *find_knob(bool cuda, const char *op, const char *name) {
  for (int k = 0; k < KZ_KNOB_COUNT; ++k) {
    const kz_knob_def *def = kz_knob_def_get((kz_knob)k);
    if (def->cuda == cuda && !strcmp(def->op, op) && (!name || !strcmp(def->name, name)))
      return def;
  }
  return NULL;
}

static const char *kind_name(bool cuda) {
  return cuda ? "a CUDA" : "a CPU";
}
static const char *kind_targets(bool cuda) {
  return cuda ? "sm_80 and sm_90" : "cpu";
}

static kz_status load_op(loader *ld, kz_target t, const char *op, const yaml_node_t *map,
                         const char *op_path) {
  bool cuda = t != KZ_TARGET_CPU;
  bool empty;
  KZ_TRY(expect_mapping(ld, map, op_path, "knobs", &empty));
  if (empty) return KZ_OK;
  size_t first_line[KZ_KNOB_COUNT] = {0};
  for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
       ++pair) {
    yaml_node_t *key = yaml_document_get_node(ld->doc, pair->key);
    yaml_node_t *value = yaml_document_get_node(ld->doc, pair->value);
    KZ_TRY(expect_key(ld, key, op_path));
    char path[256];
    snprintf(path, sizeof path, "%s.%.64s", op_path, scalar_text(key));
    const kz_knob_def *def = find_knob(cuda, op, scalar_text(key));
    if (!def) {
      if (find_knob(!cuda, op, scalar_text(key)))
        return fail_at(ld, KZ_ERR_FORMAT, key, path, "%s knob, only valid under %s",
                       kind_name(!cuda), kind_targets(!cuda));
      char legal[256];
      list_names(t, op, legal, sizeof legal);
      return fail_at(ld, KZ_ERR_FORMAT, key, path, "unknown knob (%s has: %s)", op, legal);
    }
    if (first_line[def->id])
      return fail_at(ld, KZ_ERR_FORMAT, key, path, "duplicate key (first at line %zu)",
                     first_line[def->id]);
    first_line[def->id] = line_of(key);
    KZ_TRY(load_value(ld, t, def, value, path));
  }
  return KZ_OK;
}

static kz_status load_target(loader *ld, kz_target t, const yaml_node_t *map) {
  const char *target = kz_target_name(t);
  bool cuda = t != KZ_TARGET_CPU;
  bool empty;
  KZ_TRY(expect_mapping(ld, map, target, "ops", &empty));
  if (empty) return KZ_OK;
  /* Ops are identified by their first knob, so "seen" fits in a knob array. */
  size_t first_line[KZ_KNOB_COUNT] = {0};
  for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
       ++pair) {
    yaml_node_t *key = yaml_document_get_node(ld->doc, pair->key);
    yaml_node_t *value = yaml_document_get_node(ld->doc, pair->value);
    KZ_TRY(expect_key(ld, key, target));
    const char *op = scalar_text(key);
    char path[128];
    snprintf(path, sizeof path, "%s.%.64s", target, op);
    const kz_knob_def *first = find_knob(cuda, op, NULL);
    if (!first) {
      if (find_knob(!cuda, op, NULL))
        return fail_at(ld, KZ_ERR_FORMAT, key, path, "%s op, only valid under %s", kind_name(!cuda),
                       kind_targets(!cuda));
      char legal[256];
      list_names(t, NULL, legal, sizeof legal);
      return fail_at(ld, KZ_ERR_FORMAT, key, path, "unknown op (%s has: %s)", target, legal);
    }
    if (first_line[first->id])
      return fail_at(ld, KZ_ERR_FORMAT, key, path, "duplicate key (first at line %zu)",
                     first_line[first->id]);
    first_line[first->id] = line_of(key);
    KZ_TRY(load_op(ld, t, first->op, value, path));
  }
  return KZ_OK;
}

static kz_status load_root(loader *ld, const yaml_node_t *root) {
  bool empty;
  KZ_TRY(expect_mapping(ld, root, "(top level)", "targets (cpu, sm_80, sm_90)", &empty));
  if (empty) return KZ_OK;
  size_t first_line[KZ_TARGET_COUNT] = {0};
  for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top;
       ++pair) {
    yaml_node_t *key = yaml_document_get_node(ld->doc, pair->key);
    yaml_node_t *value = yaml_document_get_node(ld->doc, pair->value);
    KZ_TRY(expect_key(ld, key, "(top level)"));
    char path[80];
    snprintf(path, sizeof path, "%.64s", scalar_text(key));
    kz_target t;
    if (kz_target_parse(scalar_text(key), &t) != KZ_OK)
      return fail_at(ld, KZ_ERR_FORMAT, key, path, "unknown target (expected cpu, sm_80 or sm_90)");
    if (first_line[t])
      return fail_at(ld, KZ_ERR_FORMAT, key, path, "duplicate key (first at line %zu)",
                     first_line[t]);
    first_line[t] = line_of(key);
    KZ_TRY(load_target(ld, t, value));
  }
  return KZ_OK;
}

static size_t line_at_offset(const char *text, size_t len, size_t offset) {
  size_t line = 1;
  for (size_t i = 0; i < offset && i < len; ++i) line += text[i] == '\n';
  return line;
}

static kz_status syntax_error(const char *name, const yaml_parser_t *parser, const char *text,
                              size_t len) {
  if (parser->error == YAML_MEMORY_ERROR)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory parsing YAML", name);
  size_t line = parser->error == YAML_READER_ERROR
                    ? line_at_offset(text, len, parser->problem_offset)
                    : parser->problem_mark.line + 1;
  const char *problem = parser->problem ? parser->problem : "unknown error";
  if (parser->context)
    return kz_fail(KZ_ERR_FORMAT, "%s:%zu: YAML syntax error: %s %s", name, line, problem,
                   parser->context);
  return kz_fail(KZ_ERR_FORMAT, "%s:%zu: YAML syntax error: %s", name, line, problem);
}

kz_status kz_kernel_config_load_text(const char *name, const char *text, size_t len) {
  if (!name) name = "(kernel config)";
  if (!text && len) return kz_fail(KZ_ERR_INVALID_ARG, "%s: NULL text", name);
  if (len > KZ_KERNEL_CONFIG_MAX_BYTES)
    return kz_fail(KZ_ERR_FORMAT, "%s: %zu bytes; a kernel config may be at most %zu", name, len,
                   KZ_KERNEL_CONFIG_MAX_BYTES);

  loader ld = {.name = name};
  kz_kernel_config_snapshot(ld.values);

  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: cannot initialise the YAML parser", name);
  yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), len);

  yaml_document_t doc;
  kz_status status = KZ_OK;
  if (!yaml_parser_load(&parser, &doc)) {
    status = syntax_error(name, &parser, text, len);
    yaml_parser_delete(&parser);
    return status;
  }
  ld.doc = &doc;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (root) status = load_root(&ld, root);

  /* A second document would be silently ignored otherwise. */
  if (status == KZ_OK) {
    yaml_document_t extra;
    if (!yaml_parser_load(&parser, &extra)) {
      status = syntax_error(name, &parser, text, len);
    } else {
      yaml_node_t *extra_root = yaml_document_get_root_node(&extra);
      if (extra_root)
        status = kz_fail(KZ_ERR_FORMAT, "%s:%zu: only one YAML document is allowed", name,
                         line_of(extra_root));
      yaml_document_delete(&extra);
    }
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);

  if (status == KZ_OK) kz_kernel_config_commit(ld.values, name);
  return status;
}

kz_status kz_kernel_config_load_file(const char *path) {
  if (!path || !*path) return kz_fail(KZ_ERR_INVALID_ARG, "kernel config: empty file path");
  FILE *f = fopen(path, "rb");
  if (!f) return kz_fail(KZ_ERR_IO, "cannot open kernel config %s: %s", path, strerror(errno));
  /* One byte over the cap tells "exactly at the cap" from "too big" without
   * trusting the size of special files. */
  size_t cap = KZ_KERNEL_CONFIG_MAX_BYTES + 1;
  char *text = malloc(cap);
  if (!text) {
    fclose(f);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a read buffer", path);
  }
  size_t len = fread(text, 1, cap, f);
  bool failed = ferror(f) != 0;
  int err = errno;
  fclose(f);
  kz_status status;
  if (failed)
    status = kz_fail(KZ_ERR_IO, "cannot read kernel config %s: %s", path, strerror(err));
  else if (len > KZ_KERNEL_CONFIG_MAX_BYTES)
    status = kz_fail(KZ_ERR_FORMAT, "%s: larger than %zu bytes; a kernel config is a few lines",
                     path, KZ_KERNEL_CONFIG_MAX_BYTES);
  else
    status = kz_kernel_config_load_text(path, text, len);
  free(text);
  return status;
}

kz_status kz_kernel_config_load_env(void) {
  const char *path = getenv("KZ_KERNEL_CONFIG");
  if (!path || !*path) return KZ_OK;
  kz_status status = kz_kernel_config_load_file(path);
  if (status != KZ_OK) return kz_fail_context(status, "KZ_KERNEL_CONFIG");
  return KZ_OK;
}
