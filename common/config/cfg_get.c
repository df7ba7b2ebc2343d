/* Typed getters of the job-config tree. Each one marks the key it reads as
 * used and records the value it returns as YAML text (the default when the
 * key is absent), which is what kz_cfg_check_unused and the effective config
 * are built from. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/cfg_internal.h"
#include "kernels/core/error.h"

/* ---- scalar parsing --------------------------------------------------------- */

int kz_cfg_parse_int(const char *s, int64_t *out) {
  const char *p = s;
  if (*p == '+' || *p == '-') ++p;
  if (!*p) return 0;
  for (const char *c = p; *c; ++c)
    if (!isdigit((unsigned char)*c)) return 0;
  errno = 0;
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (errno || *end) return 0;
  *out = (int64_t)v;
  return 1;
}

int kz_cfg_parse_double(const char *s, double *out) {
  if (!*s || isspace((unsigned char)*s)) return 0;
  /* strtod also reads hex floats, nan and inf: none belong in a config. */
  for (const char *c = s; *c; ++c)
    if (strchr("xXnNiI", *c)) return 0;
  errno = 0;
  char *end = NULL;
  double v = strtod(s, &end);
  if (*end || !isfinite(v)) return 0;
  *out = v;
  return 1;
}

int kz_cfg_parse_bool(const char *s, int *out) {
  static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES"};
  static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; ++i) {
    if (!strcmp(s, yes[i])) return *out = 1, 1;
    if (!strcmp(s, no[i])) return *out = 0, 1;
  }
  return 0;
}

/* Words some YAML readers take for something other than a string. */
static int is_special_word(const char *s) {
  static const char *const words[] = {"",    "~",   "null", "Null", "NULL", "on", "On", "ON",
                                      "off", "Off", "OFF",  "y",    "Y",    "n",  "N"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; ++i)
    if (!strcmp(s, words[i])) return 1;
  int64_t iv;
  double dv;
  int bv;
  return kz_cfg_parse_int(s, &iv) || kz_cfg_parse_double(s, &dv) || kz_cfg_parse_bool(s, &bv) ||
         s[0] == '.'; /* .inf, .nan */
}

static int plain_safe(const char *s) {
  if (is_special_word(s)) return 0;
  if (!isalnum((unsigned char)s[0]) && s[0] != '/' && s[0] != '_') return 0;
  for (const char *c = s; *c; ++c)
    if (!isalnum((unsigned char)*c) && !strchr("_./:+-@", *c)) return 0;
  return s[strlen(s) - 1] != ':';
}

int kz_cfg_quote(const char *s, char *buf, size_t cap) {
  size_t used = strlen(buf);
#define PUT(str)                                                                                   \
  do {                                                                                             \
    size_t n_ = strlen(str);                                                                       \
    if (used + n_ + 1 > cap) return 0;                                                             \
    memcpy(buf + used, str, n_ + 1);                                                               \
    used += n_;                                                                                    \
  } while (0)
  if (plain_safe(s)) {
    PUT(s);
    return 1;
  }
  PUT("\"");
  for (const unsigned char *c = (const unsigned char *)s; *c; ++c) {
    char tmp[8];
    if (*c == '"' || *c == '\\')
      snprintf(tmp, sizeof tmp, "\\%c", *c);
    else if (*c == '\n')
      snprintf(tmp, sizeof tmp, "\\n");
    else if (*c == '\t')
      snprintf(tmp, sizeof tmp, "\\t");
    else if (*c < 0x20 || *c == 0x7f)
      snprintf(tmp, sizeof tmp, "\\x%02x", *c);
    else
      snprintf(tmp, sizeof tmp, "%c", *c);
    PUT(tmp);
  }
  PUT("\"");
#undef PUT
  return 1;
}

/* ---- lookup and recording ------------------------------------------------------ */

static const char *kind_name(const kz_cfg_node *n) {
  return n->kind == KZ_CFG_MAP ? "a map" : n->kind == KZ_CFG_LIST ? "a list" : "a scalar";
}

static kz_status fail_node(const kz_cfg_node *n, const char *fmt, ...) KZ_PRINTF(2, 3);

static kz_status fail_node(const kz_cfg_node *n, const char *fmt, ...) {
  char where[600], path[512], what[512];
  kz_cfg_where(n, where, sizeof where);
  kz_cfg_path(n, path, sizeof path);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return kz_fail(n->absent ? KZ_ERR_NOT_FOUND : KZ_ERR_FORMAT, "%s: %s: %s", where, path, what);
}

/* A value for error messages: long ones are cut. */
static const char *shown(const kz_cfg_node *n, char *buf, size_t cap) {
  if (n->kind != KZ_CFG_SCALAR) return kind_name(n);
  snprintf(buf, cap, "'%.60s%s'", n->value, strlen(n->value) > 60 ? "..." : "");
  return buf;
}

/* Finds map.key. *found is NULL when the key is absent; *slot is then the
 * node that records its default (created on first use). */
static kz_status lookup(const kz_cfg_node *map, const char *key, kz_cfg_node **found,
                        kz_cfg_node **slot) {
  if (!map || !key) return kz_fail(KZ_ERR_INVALID_ARG, "config getter: NULL argument");
  kz_cfg_node *m = (kz_cfg_node *)map; /* nodes are owned, mutable, by their cfg */
  if (m->kind != KZ_CFG_MAP) return fail_node(m, "expected a map of keys, got %s", kind_name(m));
  kz_cfg_node *c = kz_cfg_child(m, key);
  if (c && !c->absent) {
    c->used = 1;
    *found = c;
    *slot = c;
    return KZ_OK;
  }
  *found = NULL;
  if (!c) {
    c = kz_cfg_node_new(m->cfg, KZ_CFG_SCALAR, 0);
    if (!c) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
    c->key = malloc(strlen(key) + 1);
    c->value = calloc(1, 1);
    if (!c->key || !c->value || kz_cfg_node_append(m, c) != KZ_OK) {
      kz_cfg_node_free(c);
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
    }
    memcpy(c->key, key, strlen(key) + 1);
    c->absent = 1;
  }
  c->used = 1;
  *slot = c;
  return KZ_OK;
}

static kz_status record(kz_cfg_node *slot, const char *yaml_text) {
  size_t n = strlen(yaml_text) + 1;
  char *copy = malloc(n);
  if (!copy) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  memcpy(copy, yaml_text, n);
  free(slot->effective);
  slot->effective = copy;
  return KZ_OK;
}

static kz_status expect_scalar(const kz_cfg_node *n, const char *what) {
  if (n->kind == KZ_CFG_SCALAR) return KZ_OK;
  return fail_node(n, "expected %s, got %s", what, kind_name(n));
}

static void format_double(double v, char *buf, size_t cap) {
  /* The shortest of these that reads back to the same double. */
  for (int prec = 15; prec <= 17; ++prec) {
    snprintf(buf, cap, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  /* "1" would still read back as a double; keep it plain. */
}

/* ---- getters ------------------------------------------------------------------ */

static kz_status scalar_int(const kz_cfg_node *n, int64_t *out) {
  KZ_TRY(expect_scalar(n, "an integer"));
  char buf[80];
  if (n->quoted || !kz_cfg_parse_int(n->value, out)) {
    double d;
    /* Plain digits that kz_cfg_parse_int refused overflowed int64: call them
     * too large, not a fraction (which strtod would read them as). */
    const char *p = n->value + (n->value[0] == '+' || n->value[0] == '-');
    if (!n->quoted && *p && strspn(p, "0123456789") == strlen(p))
      return fail_node(n,
                       "expected an integer, got %s, which is beyond the 64-bit range (at most "
                       "9223372036854775807)",
                       shown(n, buf, sizeof buf));
    if (!n->quoted && kz_cfg_parse_double(n->value, &d) && d == floor(d))
      return fail_node(n, "expected an integer in plain digits, got %s", shown(n, buf, sizeof buf));
    if (!n->quoted && kz_cfg_parse_double(n->value, &d))
      return fail_node(n, "expected an integer, got the fraction %s", shown(n, buf, sizeof buf));
    return fail_node(n, "expected an integer, got %s", shown(n, buf, sizeof buf));
  }
  return KZ_OK;
}

kz_status kz_cfg_get_int(const kz_cfg_node *map, const char *key, int64_t def, int64_t min,
                         int64_t max, int64_t *out) {
  kz_cfg_node *n = NULL, *slot = NULL;
  KZ_TRY(lookup(map, key, &n, &slot));
  int64_t v = def;
  if (n) {
    KZ_TRY(scalar_int(n, &v));
    if (v < min || v > max)
      return fail_node(n, "%" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", v, min, max);
  }
  char text[32];
  snprintf(text, sizeof text, "%" PRId64, v);
  KZ_TRY(record(slot, text));
  *out = v;
  return KZ_OK;
}

kz_status kz_cfg_get_double(const kz_cfg_node *map, const char *key, double def, double min,
                            double max, double *out) {
  kz_cfg_node *n = NULL, *slot = NULL;
  KZ_TRY(lookup(map, key, &n, &slot));
  double v = def;
  if (n) {
    KZ_TRY(expect_scalar(n, "a number"));
    char buf[80];
    if (n->quoted || !kz_cfg_parse_double(n->value, &v))
      return fail_node(n, "expected a number, got %s", shown(n, buf, sizeof buf));
    if (v < min || v > max) return fail_node(n, "%g is out of range [%g, %g]", v, min, max);
  }
  char text[40];
  format_double(v, text, sizeof text);
  KZ_TRY(record(slot, text));
  *out = v;
  return KZ_OK;
}

kz_status kz_cfg_get_bool(const kz_cfg_node *map, const char *key, int def, int *out) {
  kz_cfg_node *n = NULL, *slot = NULL;
  KZ_TRY(lookup(map, key, &n, &slot));
  int v = def ? 1 : 0;
  if (n) {
    KZ_TRY(expect_scalar(n, "true or false"));
    char buf[80];
    if (n->quoted || !kz_cfg_parse_bool(n->value, &v))
      return fail_node(n, "expected true or false (or yes/no), got %s", shown(n, buf, sizeof buf));
  }
  KZ_TRY(record(slot, v ? "true" : "false"));
  *out = v;
  return KZ_OK;
}

static kz_status record_string(kz_cfg_node *slot, const char *s) {
  size_t cap = 4 * strlen(s) + 8; /* worst case: every byte escaped as \xNN */
  char *text = calloc(1, cap);
  if (!text) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  kz_cfg_quote(s, text, cap);
  kz_status st = record(slot, text);
  free(text);
  return st;
}

static kz_status missing(const kz_cfg_node *map, const char *key) {
  char path[512];
  kz_cfg_path(map, path, sizeof path);
  return kz_fail(KZ_ERR_NOT_FOUND, "%s: %s%s%s: required key missing", map->cfg->name, path,
                 *path ? "." : "", key);
}

kz_status kz_cfg_get_string(const kz_cfg_node *map, const char *key, const char *def,
                            const char **out) {
  kz_cfg_node *n = NULL, *slot = NULL;
  KZ_TRY(lookup(map, key, &n, &slot));
  const char *v;
  if (n) {
    KZ_TRY(expect_scalar(n, "a string"));
    /* `init_from:` left empty and `init_from: ~` both mean "no value". */
    if (kz_cfg_is_null(n)) n->value[0] = '\0';
    v = n->value;
  } else {
    if (!def) return missing(map, key);
    size_t len = strlen(def) + 1;
    char *copy = malloc(len);
    if (!copy) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
    memcpy(copy, def, len);
    free(slot->value);
    slot->value = copy;
    v = copy;
  }
  KZ_TRY(record_string(slot, v));
  *out = v;
  return KZ_OK;
}

kz_status kz_cfg_get_enum(const kz_cfg_node *map, const char *key, const char *const *choices,
                          int def, int *out) {
  if (!choices || !choices[0]) return kz_fail(KZ_ERR_INVALID_ARG, "kz_cfg_get_enum: no choices");
  int n_choices = 0;
  while (choices[n_choices]) ++n_choices;
  if (def >= n_choices)
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_cfg_get_enum: default %d out of range", def);
  kz_cfg_node *n = NULL, *slot = NULL;
  KZ_TRY(lookup(map, key, &n, &slot));
  int v = def;
  if (n) {
    KZ_TRY(expect_scalar(n, "a name"));
    v = -1;
    for (int i = 0; i < n_choices && v < 0; ++i)
      if (!strcmp(n->value, choices[i])) v = i;
    if (v < 0) {
      char list[512] = "", buf[80];
      for (int i = 0; i < n_choices; ++i) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", choices[i]);
      }
      return fail_node(n, "expected one of %s; got %s", list, shown(n, buf, sizeof buf));
    }
  } else if (def < 0) {
    return missing(map, key);
  }
  KZ_TRY(record_string(slot, choices[v]));
  *out = v;
  return KZ_OK;
}

kz_status kz_cfg_get_int_list(const kz_cfg_node *map, const char *key, const int64_t *def,
                              int n_def, int cap, int64_t *out, int *n) {
  kz_cfg_node *node, *slot;
  KZ_TRY(lookup(map, key, &node, &slot));
  int count = 0;
  if (node) {
    const kz_cfg_node *const *items = (const kz_cfg_node *const *)&node;
    count = 1;
    if (node->kind == KZ_CFG_LIST) {
      items = (const kz_cfg_node *const *)node->items;
      count = node->n_items;
    }
    if (node->kind == KZ_CFG_MAP) return fail_node(node, "expected a list of integers, got a map");
    if (count > cap) return fail_node(node, "has %d values; at most %d are allowed", count, cap);
    for (int i = 0; i < count; ++i) KZ_TRY(scalar_int(items[i], &out[i]));
  } else {
    if (n_def > cap)
      return kz_fail(KZ_ERR_INVALID_ARG, "kz_cfg_get_int_list: default longer than cap");
    for (int i = 0; i < n_def; ++i) out[i] = def[i];
    count = n_def;
  }
  size_t tcap = 24 * (size_t)count + 4;
  char *text = malloc(tcap);
  if (!text) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  size_t used = (size_t)snprintf(text, tcap, "[");
  for (int i = 0; i < count; ++i)
    used += (size_t)snprintf(text + used, tcap - used, "%s%" PRId64, i ? ", " : "", out[i]);
  snprintf(text + used, tcap - used, "]");
  kz_status st = record(slot, text);
  free(text);
  if (st != KZ_OK) return st;
  *n = count;
  return KZ_OK;
}

kz_status kz_cfg_get_string_list(const kz_cfg_node *map, const char *key, const char *const *def,
                                 int n_def, int cap, const char **out, int *n) {
  kz_cfg_node *node, *slot;
  KZ_TRY(lookup(map, key, &node, &slot));
  int count = 0;
  if (node) {
    kz_cfg_node *const *items = &node;
    count = 1;
    if (node->kind == KZ_CFG_MAP) return fail_node(node, "expected a list of strings, got a map");
    if (node->kind == KZ_CFG_LIST) {
      items = node->items;
      count = node->n_items;
    }
    if (count > cap) return fail_node(node, "has %d values; at most %d are allowed", count, cap);
    for (int i = 0; i < count; ++i) {
      KZ_TRY(expect_scalar(items[i], "a string"));
      out[i] = items[i]->value;
    }
  } else {
    if (n_def > cap)
      return kz_fail(KZ_ERR_INVALID_ARG, "kz_cfg_get_string_list: default longer than cap");
    for (int i = 0; i < n_def; ++i) out[i] = def[i];
    count = n_def;
  }
  /* the effective value as a flow list of quoted scalars */
  size_t tcap = 8;
  for (int i = 0; i < count; ++i) tcap += 4 * strlen(out[i]) + 12;
  char *text = malloc(tcap);
  if (!text) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "config: out of memory");
  size_t used = (size_t)snprintf(text, tcap, "[");
  for (int i = 0; i < count; ++i) {
    if (i) used += (size_t)snprintf(text + used, tcap - used, ", ");
    kz_cfg_quote(out[i], text + used, tcap - used);
    used += strlen(text + used);
  }
  snprintf(text + used, tcap - used, "]");
  kz_status st = record(slot, text);
  free(text);
  if (st != KZ_OK) return st;
  *n = count;
  return KZ_OK;
}
