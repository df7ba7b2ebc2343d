/* Whole-data-set reading for the GBDT job (gbdt_data.h). */
#include "engine/train/gbdt_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/labels.h"
#include "kernels/core/error.h"

void kz_gbdt_table_close(kz_gbdt_table *t) {
  if (t->ds) kz_shard_batch_free(&t->batch);
  kz_dataset_close(t->ds);
  free(t->n_categories);
  if (t->label_is_code) free(t->label);
  memset(t, 0, sizeof *t);
}

kz_status kz_gbdt_table_open(const char *path, const char *split, const char *what,
                             kz_gbdt_table *t) {
  return kz_gbdt_table_open_part(path, split, what, 0, 1, t);
}

kz_status kz_gbdt_table_open_part(const char *path, const char *split, const char *what, int rank,
                                  int world, kz_gbdt_table *t) {
  memset(t, 0, sizeof *t);
  kz_dataset_options o = {split, 0};
  kz_status st = kz_dataset_open(path, &o, &t->ds);
  if (st != KZ_OK) return kz_fail_context(st, "%s", what);
  const kz_schema *s = kz_dataset_schema(t->ds);
  if (strcmp(s->kind, "tabular")) {
    st = kz_fail(KZ_ERR_INVALID_ARG, "%s: %s is a %s data set; gbdt needs a tabular one", what,
                 path, s->kind);
    kz_gbdt_table_close(t);
    return st;
  }
  const int64_t total = kz_dataset_rows(t->ds);
  t->n_total = total;
  t->row0 = total * rank / world;
  t->n = total * (rank + 1) / world - t->row0;
  st = kz_shard_batch_alloc(s, t->n > 0 ? t->n : 1, &t->batch);
  if (st != KZ_OK) {
    kz_dataset_close(t->ds);
    t->ds = NULL;
    return kz_fail_context(st, "%s", what);
  }
  if (t->n > 0 && (st = kz_dataset_read_range(t->ds, t->row0, t->n, &t->batch, 0)) != KZ_OK) {
    kz_gbdt_table_close(t);
    return kz_fail_context(st, "%s: reading %s", what, path);
  }
  int fn = kz_schema_field_index(s, "numeric"), fc = kz_schema_field_index(s, "categorical"),
      fl = kz_schema_field_index(s, "label");
  if (fn >= 0) {
    t->n_numeric = (int32_t)s->fields[fn].width;
    t->num = t->batch.data[fn];
    t->num_cols = s->fields[fn].columns;
  }
  if (fc >= 0) {
    t->n_categorical = (int32_t)s->fields[fc].width;
    t->cat = t->batch.data[fc];
    t->cat_cols = s->fields[fc].columns;
    t->n_categories = calloc((size_t)(t->n_categorical + 1), sizeof(int32_t));
    if (!t->n_categories) {
      kz_gbdt_table_close(t);
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
    }
    for (int c = 0; c < t->n_categorical; ++c)
      t->n_categories[c] = t->cat_cols ? t->cat_cols[c].n_categories : 0;
  }
  if ((t->n_numeric > 0 && !t->num_cols) || (t->n_categorical > 0 && !t->cat_cols)) {
    kz_gbdt_table_close(t);
    return kz_fail(KZ_ERR_FORMAT, "%s: %s: feature columns have no names", what, path);
  }
  /* ±inf labels and codes outside the dictionary, named by row, before the
   * codes become floats (labels.h); missing labels the booster refuses. */
  if (fl >= 0 &&
      (st = kz_labels_check_batch(s, &t->batch, t->n, t->row0, what, path, split)) != KZ_OK) {
    kz_gbdt_table_close(t);
    return st;
  }
  if (fl >= 0) {
    const kz_field *lf = &s->fields[fl];
    t->label_col = lf->columns;
    if (lf->type == KZ_FIELD_I32) {
      t->label_is_code = 1;
      t->label = malloc(sizeof(float) * (size_t)(t->n > 0 ? t->n : 1));
      if (!t->label) {
        kz_gbdt_table_close(t);
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
      }
      const int32_t *codes = t->batch.data[fl];
      for (int64_t r = 0; r < t->n; ++r) t->label[r] = codes[r] < 0 ? NAN : (float)codes[r];
    } else {
      t->label = t->batch.data[fl];
    }
  }
  return KZ_OK;
}
