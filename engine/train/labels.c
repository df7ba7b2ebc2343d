/* Label checks before training (labels.h). */
#include "engine/train/labels.h"

#include <math.h>
#include <string.h>

#include "kernels/core/error.h"

static void where_text(char *buf, size_t cap, const char *what, const char *path, const char *split,
                       int64_t row) {
  if (split)
    snprintf(buf, cap, "%s: %s (split %s), row %lld", what, path, split, (long long)row);
  else
    snprintf(buf, cap, "%s: %s, row %lld", what, path, (long long)row);
}

kz_status kz_labels_check_batch(const kz_schema *s, const kz_shard_batch *b, int64_t n,
                                int64_t row0, const char *what, const char *path,
                                const char *split) {
  int f = kz_schema_field_index(s, "label");
  if (f < 0 || f >= b->n_fields) return KZ_OK;
  const kz_field *lf = &s->fields[f];
  const char *name = lf->n_columns > 0 && lf->columns[0].name ? lf->columns[0].name : "label";
  char where[1200];
  if (lf->type == KZ_FIELD_F32) {
    for (int64_t r = 0; r < n; ++r) {
      const float *y = kz_batch_f32(b, f, r);
      for (int64_t k = 0; k < lf->width; ++k)
        if (isinf(y[k])) {
          where_text(where, sizeof where, what, path, split, row0 + r);
          return kz_fail(KZ_ERR_INVALID_ARG,
                         "%s: label '%s' is %s (a literal inf, or a number too large for "
                         "float32 at import); fix or drop the row",
                         where, name, y[k] > 0 ? "+inf" : "-inf");
        }
    }
  } else if (lf->type == KZ_FIELD_I32) {
    /* codes index the dictionary; -1 is missing */
    int32_t n_classes = lf->n_columns > 0 ? lf->columns[0].n_categories : 0;
    for (int64_t r = 0; r < n; ++r) {
      const int32_t *c = kz_batch_i32(b, f, r);
      for (int64_t k = 0; k < lf->width; ++k)
        if (c[k] < -1 || (n_classes > 0 && c[k] >= n_classes)) {
          where_text(where, sizeof where, what, path, split, row0 + r);
          return kz_fail(KZ_ERR_INVALID_ARG,
                         "%s: label '%s' has class code %d, outside its %d classes (codes 0..%d, "
                         "-1 = missing); the data set is damaged: import it again",
                         where, name, (int)c[k], (int)n_classes, (int)n_classes - 1);
        }
    }
  }
  return KZ_OK;
}

/* The label's classes (dictionary) of a schema: NULL when not categorical. */
static const kz_column *label_classes(const kz_schema *s) {
  int f = kz_schema_field_index(s, "label");
  if (f < 0 || s->fields[f].type != KZ_FIELD_I32 || s->fields[f].n_columns < 1) return NULL;
  return &s->fields[f].columns[0];
}

kz_status kz_labels_check_dataset(kz_dataset *ds, const char *what, const char *path,
                                  const char *split, const kz_schema *train) {
  const kz_schema *s = kz_dataset_schema(ds);
  if (kz_schema_field_index(s, "label") < 0) return KZ_OK;
  const kz_column *mine = label_classes(s), *ref = train ? label_classes(train) : NULL;
  if (ref) {
    int same = mine && mine->n_categories == ref->n_categories;
    for (int32_t c = 0; same && c < ref->n_categories; ++c)
      same = !strcmp(mine->categories[c], ref->categories[c]);
    if (!same)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "%s: %s: its label classes (%d) are not the training data's (%d, in the "
                     "same order); import both from one file (--valid-fraction) or with "
                     "--schema-from",
                     what, path, mine ? (int)mine->n_categories : 0, (int)ref->n_categories);
  }
  const int64_t rows = kz_dataset_rows(ds), chunk = 8192;
  kz_shard_batch b;
  memset(&b, 0, sizeof b);
  kz_status st = kz_shard_batch_alloc(s, rows < chunk ? (rows > 0 ? rows : 1) : chunk, &b);
  for (int64_t r0 = 0; st == KZ_OK && r0 < rows; r0 += chunk) {
    int64_t n = rows - r0 < chunk ? rows - r0 : chunk;
    kz_shard_batch_clear(&b);
    st = kz_dataset_read_range(ds, r0, n, &b, 0);
    if (st != KZ_OK)
      st = kz_fail_context(st, "%s", what);
    else
      st = kz_labels_check_batch(s, &b, n, r0, what, path, split);
  }
  kz_shard_batch_free(&b);
  return st;
}
