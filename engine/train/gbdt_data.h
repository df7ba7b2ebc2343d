/* Tabular data sets read whole into memory for the GBDT job: the numeric,
 * categorical and label fields of a kaizen tabular data set. */
#ifndef KZ_ENGINE_TRAIN_GBDT_DATA_H
#define KZ_ENGINE_TRAIN_GBDT_DATA_H

#include <stdint.h>

#include "data/shard/reader.h"
#include "kaizen.h"

typedef struct kz_gbdt_table {
  kz_dataset *ds;
  kz_shard_batch batch;
  int64_t n;             /* rows read */
  int64_t row0, n_total; /* they are rows [row0, row0 + n) of the split's n_total */
  int32_t n_numeric, n_categorical;
  const float *num;           /* [n x n_numeric] or NULL */
  const int32_t *cat;         /* [n x n_categorical] or NULL */
  const kz_column *num_cols;  /* names */
  const kz_column *cat_cols;  /* names and dictionaries */
  int32_t *n_categories;      /* per categorical column */
  const kz_column *label_col; /* NULL without a label field */
  int label_is_code;          /* the label holds class codes (i32) */
  float *label;               /* [n] (codes as floats); NULL without labels */
} kz_gbdt_table;

/* Reads every row of the split (NULL: all rows) of the data set at path.
 * `what` names it in errors ("data.train"). */
kz_status kz_gbdt_table_open(const char *path, const char *split, const char *what,
                             kz_gbdt_table *t);
/* Rank `rank` of `world`'s contiguous part of the split: rows
 * [total x rank / world, total x (rank + 1) / world), the part data-parallel
 * boosting gives each rank (models/gbdt/gbdt_dist.h). */
kz_status kz_gbdt_table_open_part(const char *path, const char *split, const char *what, int rank,
                                  int world, kz_gbdt_table *t);
void kz_gbdt_table_close(kz_gbdt_table *t);

#endif
