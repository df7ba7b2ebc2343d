#define _POSIX_C_SOURCE 200809L
#include "data/shard/schema.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"

/* Which fields each kind may hold: a reader checks a file against this table
 * before trusting any shape. */
typedef struct field_rule {
  const char *kind, *name;
  unsigned types; /* bit mask of kz_field_type */
  int required;
  int width_one;
} field_rule;

#define T(x) (1u << (x))
static const field_rule rules[] = {
    {"tabular", "numeric", T(KZ_FIELD_F32), 0, 0},
    {"tabular", "categorical", T(KZ_FIELD_I32), 0, 0},
    {"tabular", "label", T(KZ_FIELD_F32) | T(KZ_FIELD_I32), 0, 1},
    {"text", "input_ids", T(KZ_FIELD_I32), 1, 0},
    {"text", "length", T(KZ_FIELD_I32), 1, 1},
    {"text", "label", T(KZ_FIELD_I32) | T(KZ_FIELD_F32), 0, 1},
    {"text", "token_type_ids", T(KZ_FIELD_I32), 0, 0},
    {"text", "token_labels", T(KZ_FIELD_I32), 0, 0},
    {"text", "answer_start", T(KZ_FIELD_I32), 0, 1},
    {"text", "answer_end", T(KZ_FIELD_I32), 0, 1},
    {"text", "text", T(KZ_FIELD_STR), 0, 1},
    {"timeseries", "series_id", T(KZ_FIELD_I32), 1, 1},
    {"timeseries", "time", T(KZ_FIELD_F64), 1, 1},
    {"timeseries", "target", T(KZ_FIELD_F32), 1, 1},
    {"timeseries", "static_num", T(KZ_FIELD_F32), 0, 0},
    {"timeseries", "static_cat", T(KZ_FIELD_I32), 0, 0},
    {"timeseries", "known_num", T(KZ_FIELD_F32), 0, 0},
    {"timeseries", "known_cat", T(KZ_FIELD_I32), 0, 0},
    {"timeseries", "observed_num", T(KZ_FIELD_F32), 0, 0},
    {"timeseries", "observed_cat", T(KZ_FIELD_I32), 0, 0},
};
#undef T
static const int n_rules = (int)(sizeof rules / sizeof rules[0]);
static const char *type_names[] = {"float32", "int32", "float64", "string"};

size_t kz_field_type_size(kz_field_type t) {
  switch (t) {
  case KZ_FIELD_F64:
    return 8;
  case KZ_FIELD_STR:
    return sizeof(char *);
  default:
    return 4;
  }
}

const char *kz_field_type_name(kz_field_type t) {
  return (unsigned)t < 4 ? type_names[t] : "unknown";
}

static int known_kind(const char *k) {
  return !strcmp(k, "tabular") || !strcmp(k, "text") || !strcmp(k, "timeseries");
}

kz_status kz_schema_init(kz_schema *s, const char *kind) {
  memset(s, 0, sizeof *s);
  if (!kind || !known_kind(kind))
    return kz_fail(KZ_ERR_INVALID_ARG, "unknown data kind '%s' (tabular, text or timeseries)",
                   kind ? kind : "(null)");
  strcpy(s->kind, kind);
  s->meta = json_object();
  return s->meta ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "schema: out of memory");
}

static void free_column(kz_column *c) {
  free(c->name);
  for (int32_t k = 0; k < c->n_categories; ++k) free(c->categories[k]);
  free(c->categories);
}

void kz_schema_free(kz_schema *s) {
  if (!s) return;
  for (int32_t f = 0; f < s->n_fields; ++f) {
    kz_field *fd = &s->fields[f];
    for (int32_t c = 0; c < fd->n_columns; ++c) free_column(&fd->columns[c]);
    free(fd->columns);
    free(fd->name);
  }
  free(s->fields);
  free(s->label);
  if (s->meta) json_decref(s->meta);
  memset(s, 0, sizeof *s);
}

kz_status kz_schema_add_field(kz_schema *s, const char *name, kz_field_type type, int64_t width,
                              int32_t n_columns, const char *const *column_names, int *index) {
  if (width < 1 || (n_columns != 0 && n_columns != width))
    return kz_fail(KZ_ERR_INVALID_ARG, "field '%s': width %lld with %d column names", name,
                   (long long)width, n_columns);
  kz_field *grown = realloc(s->fields, (size_t)(s->n_fields + 1) * sizeof *grown);
  if (!grown) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "schema: out of memory");
  s->fields = grown;
  kz_field *f = &s->fields[s->n_fields];
  memset(f, 0, sizeof *f);
  f->name = strdup(name);
  f->type = type;
  f->width = width;
  f->n_columns = n_columns;
  f->columns = n_columns ? calloc((size_t)n_columns, sizeof *f->columns) : NULL;
  int ok = f->name && (!n_columns || f->columns);
  for (int32_t c = 0; ok && c < n_columns; ++c)
    ok = (f->columns[c].name = strdup(column_names[c])) != NULL;
  s->n_fields++;
  if (!ok) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "schema: out of memory");
  if (index) *index = s->n_fields - 1;
  return KZ_OK;
}

kz_status kz_schema_set_categories(kz_schema *s, int field, int column, int32_t n,
                                   const char *const *categories) {
  kz_column *c = &s->fields[field].columns[column];
  for (int32_t k = 0; k < c->n_categories; ++k) free(c->categories[k]);
  free(c->categories);
  c->n_categories = 0;
  c->categories = n ? calloc((size_t)n, sizeof(char *)) : NULL;
  if (n && !c->categories) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "schema: out of memory");
  for (int32_t k = 0; k < n; ++k) {
    if (!(c->categories[k] = strdup(categories[k])))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "schema: out of memory");
    c->n_categories = k + 1;
  }
  return KZ_OK;
}

kz_status kz_schema_set_label(kz_schema *s, const char *column) {
  free(s->label);
  s->label = column ? strdup(column) : NULL;
  return (!column || s->label) ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "schema: out of memory");
}

int kz_schema_field_index(const kz_schema *s, const char *name) {
  for (int32_t f = 0; f < s->n_fields; ++f)
    if (!strcmp(s->fields[f].name, name)) return f;
  return -1;
}

int kz_schema_find_column(const kz_schema *s, const char *name, int *field, int *column) {
  for (int32_t f = 0; f < s->n_fields; ++f)
    for (int32_t c = 0; c < s->fields[f].n_columns; ++c)
      if (!strcmp(s->fields[f].columns[c].name, name)) {
        if (field) *field = f;
        if (column) *column = c;
        return 1;
      }
  return 0;
}

size_t kz_schema_row_bytes(const kz_schema *s) {
  size_t b = 0;
  for (int32_t f = 0; f < s->n_fields; ++f)
    b += (size_t)s->fields[f].width *
         (kz_field_type_size(s->fields[f].type) + (s->fields[f].type == KZ_FIELD_STR ? 32 : 0));
  return b;
}

static const field_rule *find_rule(const char *kind, const char *name) {
  for (int i = 0; i < n_rules; ++i)
    if (!strcmp(rules[i].kind, kind) && !strcmp(rules[i].name, name)) return &rules[i];
  return NULL;
}

typedef struct named_column {
  const char *name;
  int32_t f, c;
} named_column;

static int by_name_then_place(const void *pa, const void *pb) {
  const named_column *a = pa, *b = pb;
  int k = strcmp(a->name, b->name);
  if (k) return k;
  if (a->f != b->f) return a->f < b->f ? -1 : 1;
  return a->c < b->c ? -1 : a->c > b->c;
}

/* Column names are unique across fields. Sorting finds duplicates in
 * O(n log n): comparing every name with all others took most of a minute for
 * 100,000 columns, and a schema can come from an untrusted manifest. The
 * duplicate reported is the one whose second use comes first in schema
 * order, with its first use, as a scan in order would find it. */
static kz_status check_unique_columns(const kz_schema *s, const char *where) {
  size_t n = 0;
  for (int32_t f = 0; f < s->n_fields; ++f) n += (size_t)s->fields[f].n_columns;
  if (n < 2) return KZ_OK;
  named_column *all = malloc(n * sizeof *all);
  if (!all) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
  size_t k = 0;
  for (int32_t f = 0; f < s->n_fields; ++f)
    for (int32_t c = 0; c < s->fields[f].n_columns; ++c)
      all[k].name = s->fields[f].columns[c].name, all[k].f = f, all[k].c = c, ++k;
  qsort(all, n, sizeof *all, by_name_then_place);
  const named_column *first = NULL, *second = NULL;
  for (size_t i = 1, group = 0; i < n; ++i) {
    if (strcmp(all[i].name, all[group].name)) {
      group = i;
      continue;
    }
    if (i == group + 1 &&
        (!second || all[i].f < second->f || (all[i].f == second->f && all[i].c < second->c)))
      first = &all[group], second = &all[i];
  }
  kz_status st = KZ_OK;
  if (second)
    st = kz_fail(KZ_ERR_FORMAT, "%s: column '%s' named twice (fields '%s' and '%s')", where,
                 second->name, s->fields[first->f].name, s->fields[second->f].name);
  free(all);
  return st;
}

kz_status kz_schema_validate(const kz_schema *s, const char *where) {
  if (!known_kind(s->kind)) return kz_fail(KZ_ERR_FORMAT, "%s: unknown kind '%s'", where, s->kind);
  for (int32_t f = 0; f < s->n_fields; ++f) {
    const kz_field *fd = &s->fields[f];
    const field_rule *r = find_rule(s->kind, fd->name);
    if (!r)
      return kz_fail(KZ_ERR_FORMAT, "%s: field '%s' does not belong in a %s data set", where,
                     fd->name, s->kind);
    if (!(r->types & (1u << fd->type)))
      return kz_fail(KZ_ERR_FORMAT, "%s: field '%s' has type %s, not allowed there", where,
                     fd->name, kz_field_type_name(fd->type));
    if (r->width_one && fd->width != 1)
      return kz_fail(KZ_ERR_FORMAT, "%s: field '%s' must have width 1, has %lld", where, fd->name,
                     (long long)fd->width);
    for (int32_t g = 0; g < f; ++g)
      if (!strcmp(s->fields[g].name, fd->name))
        return kz_fail(KZ_ERR_FORMAT, "%s: field '%s' appears twice", where, fd->name);
    for (int32_t c = 0; c < fd->n_columns; ++c) {
      if (fd->columns[c].n_categories && fd->type != KZ_FIELD_I32)
        return kz_fail(KZ_ERR_FORMAT, "%s: column '%s' has categories but type %s", where,
                       fd->columns[c].name, kz_field_type_name(fd->type));
    }
  }
  KZ_TRY(check_unique_columns(s, where));
  for (int i = 0; i < n_rules; ++i)
    if (!strcmp(rules[i].kind, s->kind) && rules[i].required &&
        kz_schema_field_index(s, rules[i].name) < 0)
      return kz_fail(KZ_ERR_FORMAT, "%s: a %s data set needs field '%s'", where, s->kind,
                     rules[i].name);
  if (!strcmp(s->kind, "tabular") && kz_schema_field_index(s, "numeric") < 0 &&
      kz_schema_field_index(s, "categorical") < 0)
    return kz_fail(KZ_ERR_FORMAT, "%s: a tabular data set needs a 'numeric' or 'categorical' field",
                   where);
  if (!strcmp(s->kind, "text")) {
    static const char *const per_token[] = {"token_labels", "token_type_ids"};
    for (int k = 0; k < 2; ++k) {
      int tl = kz_schema_field_index(s, per_token[k]);
      if (tl >= 0 && s->fields[tl].width != s->fields[kz_schema_field_index(s, "input_ids")].width)
        return kz_fail(KZ_ERR_FORMAT, "%s: '%s' and 'input_ids' differ in width", where,
                       per_token[k]);
    }
  }
  if (s->label && !kz_schema_find_column(s, s->label, NULL, NULL))
    return kz_fail(KZ_ERR_FORMAT, "%s: label column '%s' is in no field", where, s->label);
  return KZ_OK;
}

json_t *kz_schema_to_json(const kz_schema *s) {
  json_t *root = json_object(), *fields = json_array();
  json_object_set_new(root, "kind", json_string(s->kind));
  json_object_set_new(root, "label", s->label ? json_string(s->label) : json_null());
  json_object_set_new(root, "meta", s->meta ? json_deep_copy(s->meta) : json_object());
  for (int32_t f = 0; f < s->n_fields; ++f) {
    const kz_field *fd = &s->fields[f];
    json_t *jf = json_object(), *cols = json_array();
    json_object_set_new(jf, "name", json_string(fd->name));
    json_object_set_new(jf, "type", json_string(kz_field_type_name(fd->type)));
    json_object_set_new(jf, "width", json_integer(fd->width));
    for (int32_t c = 0; c < fd->n_columns; ++c) {
      json_t *jc = json_object();
      json_object_set_new(jc, "name", json_string(fd->columns[c].name));
      if (fd->columns[c].n_categories) {
        json_t *cats = json_array();
        for (int32_t k = 0; k < fd->columns[c].n_categories; ++k)
          json_array_append_new(cats, json_string(fd->columns[c].categories[k]));
        json_object_set_new(jc, "categories", cats);
      }
      json_array_append_new(cols, jc);
    }
    json_object_set_new(jf, "columns", cols);
    json_array_append_new(fields, jf);
  }
  json_object_set_new(root, "fields", fields);
  return root;
}

char *kz_schema_to_string(const kz_schema *s) {
  json_t *j = kz_schema_to_json(s);
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(j);
  return text;
}

char *kz_schema_to_input_string(const kz_schema *s) {
  json_t *j = kz_schema_to_json(s);
  if (!j) return NULL;
  json_object_set_new(j, "meta", json_object());
  char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(j);
  return text;
}

static kz_status bad(const char *where, const char *what) {
  return kz_fail(KZ_ERR_FORMAT, "%s: schema: %s", where, what);
}

static kz_status column_from_json(kz_schema *s, int f, int c, const json_t *jc, const char *where) {
  const json_t *cats = json_object_get(jc, "categories");
  if (!cats) return KZ_OK;
  if (!json_is_array(cats)) return bad(where, "'categories' is not an array");
  size_t n = json_array_size(cats);
  const char **names = calloc(n ? n : 1, sizeof *names);
  if (!names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
  for (size_t k = 0; k < n; ++k)
    if (!(names[k] = json_string_value(json_array_get(cats, k)))) {
      free(names);
      return bad(where, "a category is not a string");
    }
  kz_status st = kz_schema_set_categories(s, f, c, (int32_t)n, names);
  free(names);
  return st;
}

static kz_status field_from_json(kz_schema *s, const json_t *jf, const char *where) {
  const char *name = json_string_value(json_object_get(jf, "name"));
  const char *type = json_string_value(json_object_get(jf, "type"));
  const json_t *jw = json_object_get(jf, "width"), *cols = json_object_get(jf, "columns");
  if (!name || !type || !json_is_integer(jw) || !json_is_array(cols))
    return bad(where, "a field lacks name, type, width or columns");
  int t = -1;
  for (int i = 0; i < 4; ++i)
    if (!strcmp(type, type_names[i])) t = i;
  if (t < 0)
    return kz_fail(KZ_ERR_FORMAT, "%s: schema: field '%s' has unknown type '%s'", where, name,
                   type);
  size_t nc = json_array_size(cols);
  const char **names = calloc(nc ? nc : 1, sizeof *names);
  if (!names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
  for (size_t c = 0; c < nc; ++c)
    if (!(names[c] = json_string_value(json_object_get(json_array_get(cols, c), "name")))) {
      free(names);
      return bad(where, "a column lacks a name");
    }
  int f;
  kz_status st = kz_schema_add_field(s, name, (kz_field_type)t, (int64_t)json_integer_value(jw),
                                     (int32_t)nc, names, &f);
  free(names);
  if (st != KZ_OK) return kz_fail_context(KZ_ERR_FORMAT, "%s: schema", where);
  for (size_t c = 0; c < nc; ++c)
    KZ_TRY(column_from_json(s, f, (int)c, json_array_get(cols, c), where));
  return KZ_OK;
}

kz_status kz_schema_from_json(const json_t *j, const char *where, kz_schema *out) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(j)) return bad(where, "not a JSON object");
  const char *kind = json_string_value(json_object_get(j, "kind"));
  if (!kind) return bad(where, "no 'kind'");
  if (!known_kind(kind))
    return kz_fail(KZ_ERR_FORMAT, "%s: schema: unknown kind '%s'", where, kind);
  KZ_TRY(kz_schema_init(out, kind));
  kz_status st = KZ_OK;
  const json_t *label = json_object_get(j, "label"), *meta = json_object_get(j, "meta");
  const json_t *fields = json_object_get(j, "fields");
  if (label && !json_is_null(label) && !json_is_string(label))
    st = bad(where, "'label' is not a string");
  if (st == KZ_OK && json_is_string(label)) st = kz_schema_set_label(out, json_string_value(label));
  if (st == KZ_OK && json_is_object(meta)) {
    json_decref(out->meta);
    out->meta = json_deep_copy(meta);
  }
  if (st == KZ_OK && !json_is_array(fields)) st = bad(where, "'fields' is not an array");
  for (size_t i = 0; st == KZ_OK && i < json_array_size(fields); ++i)
    st = field_from_json(out, json_array_get(fields, i), where);
  if (st == KZ_OK) st = kz_schema_validate(out, where);
  if (st != KZ_OK) kz_schema_free(out);
  return st;
}

kz_status kz_schema_from_string(const char *text, const char *where, kz_schema *out) {
  json_error_t err;
  json_t *j = json_loads(text, 0, &err);
  if (!j) return kz_fail(KZ_ERR_FORMAT, "%s: schema is not valid JSON: %s", where, err.text);
  kz_status st = kz_schema_from_json(j, where, out);
  json_decref(j);
  return st;
}

kz_status kz_schema_copy(const kz_schema *src, kz_schema *dst) {
  json_t *j = kz_schema_to_json(src);
  if (!j) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "schema: out of memory");
  kz_status st = kz_schema_from_json(j, "schema", dst);
  json_decref(j);
  return st;
}
