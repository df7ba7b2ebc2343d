/* Rows that arrive by column name, mapped onto a model's input schema.
 *
 * A model file carries the schema of the data it was trained on (its fields,
 * column names, types and category dictionaries). New rows come from
 * elsewhere: a raw CSV or JSON-lines file, the inference server's requests, or
 * shards imported later with dictionaries of their own. This module turns
 * them into batches laid out exactly as the training data was, so a model
 * reads them with the field indices and category codes it was trained with:
 *   - columns are matched by name; columns the model does not read are
 *     ignored (kz_input_map_ignored lists them);
 *   - a feature column the model reads but the input lacks is an error
 *     naming it; the label may be optional (predict) or required (eval);
 *   - numbers are parsed exactly as `kaizen data import` parses them, so a
 *     raw file and its imported shards give bit-identical inputs;
 *   - category strings go through the model's dictionaries: a value the
 *     model never saw becomes missing (-1) and is counted per column. A label
 *     class the model never saw cannot be scored, so it is an error.
 * Raw records can only fill fields whose values are named columns (tabular
 * data). From a data set, a field without column names (a vector: a text
 * model's input_ids, length, token_type_ids) is copied whole from the source
 * field of the same name, type and width; it must have been tokenized the
 * same way (same vocabulary and --max-len), which the schema cannot tell. */
#ifndef KZ_DATA_MAP_INPUT_MAP_H
#define KZ_DATA_MAP_INPUT_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "data/shard/batch.h"
#include "data/shard/schema.h"
#include "kaizen.h"

typedef struct kz_input_map kz_input_map;

typedef enum kz_label_need { KZ_LABEL_OPTIONAL = 0, KZ_LABEL_REQUIRED = 1 } kz_label_need;

/* Raw records whose cells come in the order of names[0..n). `where` names
 * the source in every message (a file name or "request"). The model schema
 * is copied, so it may be freed afterwards. */
kz_status kz_input_map_for_columns(const kz_schema *model, int n, const char *const *names,
                                   kz_label_need label, const char *where, kz_input_map **out);
/* Batches read from a data set whose schema is src. */
kz_status kz_input_map_for_schema(const kz_schema *model, const kz_schema *src, kz_label_need label,
                                  const char *where, kz_input_map **out);
void kz_input_map_free(kz_input_map *m);

/* The layout of the mapped batches (allocate them with it). */
const kz_schema *kz_input_map_schema(const kz_input_map *m);

/* Appends one raw record at dst->rows and increments dst->rows. cells[i] is
 * the text of column i (NULL: missing), lens[i] its length (NULL: strlen).
 * line names the record in messages (0: none). */
kz_status kz_input_map_row(kz_input_map *m, const char *const *cells, const size_t *lens,
                           int64_t line, kz_shard_batch *dst);
/* dst (cleared first) = src's rows in the model's layout and codes. */
kz_status kz_input_map_batch(kz_input_map *m, const kz_shard_batch *src, kz_shard_batch *dst);

/* 1 when the input carries the label column. */
int kz_input_map_has_label(const kz_input_map *m);
/* Comma-separated incoming columns the model does not read ("" if none). */
const char *kz_input_map_ignored(const kz_input_map *m);
/* Category values mapped to missing because the model never saw them, over
 * all rows so far. */
int64_t kz_input_map_unseen(const kz_input_map *m);
/* "color: 3, cut: 1" for the columns with unseen values ("" if none). */
const char *kz_input_map_unseen_summary(kz_input_map *m);

#endif
