/* --schema-from: import new rows with the fields, column types and category
 * dictionaries of a reference schema (a training data set's or a model's),
 * so the codes mean what they meant when the model was trained. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/import_internal.h"
#include "kernels/core/error.h"

static void append(char *buf, size_t cap, const char *name) {
  size_t used = strlen(buf);
  if (used + 8 >= cap) return;
  int n = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", name);
  if (n < 0 || (size_t)n >= cap - used) snprintf(buf + cap - 5, 5, "...");
}

kz_status kz_import_reference_roles(kz_import *im) {
  const kz_import_options *o = im->o;
  const kz_schema *ref = o->schema_from;
  if (strcmp(ref->kind, "tabular") || strcmp(o->kind, "tabular"))
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "--schema-from %s: only tabular data can be imported with another data set's "
                   "schema (it is %s, the import %s)",
                   o->schema_from_name, ref->kind, o->kind);
  if (o->label || o->label_type || o->categorical || o->numeric)
    return kz_fail(KZ_ERR_INVALID_ARG, "--schema-from gives the label and the column types; "
                                       "drop --label, --label-type, --categorical and --numeric");
  for (int i = 0; i < im->n_cols; ++i) {
    col_info *ci = &im->cols[i];
    int f, c;
    if (ci->role == ROLE_IGNORE) continue;
    if (!kz_schema_find_column(ref, ci->name, &f, &c)) {
      ci->role = ROLE_IGNORE;
      append(im->rep.ignored_columns, sizeof im->rep.ignored_columns, ci->name);
      continue;
    }
    ci->ref = 1;
    if (ref->fields[f].type == KZ_FIELD_F32)
      ci->forced_num = 1;
    else
      ci->forced_cat = 1;
    if (ref->label && !strcmp(ref->label, ci->name)) {
      ci->role = ROLE_LABEL;
      im->label_col = i;
    }
  }
  /* every feature of the reference must be there; the label may not be */
  for (int f = 0; f < ref->n_fields; ++f)
    for (int c = 0; c < ref->fields[f].n_columns; ++c) {
      const char *name = ref->fields[f].columns[c].name;
      int found = 0;
      for (int i = 0; i < im->n_cols && !found; ++i)
        found = im->cols[i].ref && !strcmp(im->cols[i].name, name);
      if (found) continue;
      if (ref->label && !strcmp(ref->label, name)) {
        im->rep.label_dropped = 1;
        continue;
      }
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: no column '%s', which --schema-from %s has", o->input,
                     name, o->schema_from_name);
    }
  return KZ_OK;
}

kz_status kz_import_reference_schema(kz_import *im) {
  const kz_import_options *o = im->o;
  const kz_schema *ref = o->schema_from;
  kz_schema *s = &im->schema;
  KZ_TRY(kz_schema_init(s, ref->kind));
  for (int f = 0; f < ref->n_fields; ++f) {
    const kz_field *rf = &ref->fields[f];
    int is_label = ref->label && rf->n_columns == 1 && !strcmp(rf->columns[0].name, ref->label);
    if (is_label && im->rep.label_dropped) continue;
    const char **names = calloc((size_t)rf->n_columns + 1, sizeof *names);
    if (!names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    for (int c = 0; c < rf->n_columns; ++c) names[c] = rf->columns[c].name;
    int nf = -1;
    kz_status st = kz_schema_add_field(s, rf->name, rf->type, rf->width, rf->n_columns, names, &nf);
    free(names);
    KZ_TRY(st);
    for (int c = 0; c < rf->n_columns; ++c)
      if (rf->columns[c].n_categories)
        KZ_TRY(kz_schema_set_categories(s, nf, c, rf->columns[c].n_categories,
                                        (const char *const *)rf->columns[c].categories));
    if (is_label) KZ_TRY(kz_schema_set_label(s, ref->label));
  }
  /* each column's destination, and the dictionary with ids equal to codes */
  for (int i = 0; i < im->n_cols; ++i) {
    col_info *ci = &im->cols[i];
    if (!ci->ref) continue;
    int f, c;
    if (!kz_schema_find_column(s, ci->name, &f, &c))
      return kz_fail(KZ_ERR_INTERNAL, "--schema-from: column '%s' lost", ci->name);
    ci->field = f, ci->index = c;
    ci->numeric = s->fields[f].type == KZ_FIELD_F32;
    kz_strset_free(&ci->dict);
    kz_strset_init(&ci->dict);
    const kz_column *col = &s->fields[f].columns[c];
    for (int32_t k = 0; k < col->n_categories; ++k) {
      int32_t id = -1;
      KZ_TRY(kz_strset_add(&ci->dict, col->categories[k], strlen(col->categories[k]), &id));
      if (id != k)
        return kz_fail(KZ_ERR_FORMAT, "--schema-from %s: column '%s' lists '%s' twice",
                       o->schema_from_name, ci->name, col->categories[k]);
    }
  }
  json_object_set_new(s->meta, "schema_from",
                      json_string(o->schema_from_name ? o->schema_from_name : "?"));
  return KZ_OK;
}
