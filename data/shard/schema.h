/* The schema of a kaizen data set: its kind and the fields (one HDF5 dataset
 * each, shape [rows, width]) with the names and category dictionaries of the
 * columns they hold. Serialised as JSON into every shard and the manifest
 * (docs/FORMATS.md). */
#ifndef KZ_DATA_SHARD_SCHEMA_H
#define KZ_DATA_SHARD_SCHEMA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

#define KZ_SHARD_FORMAT "kaizen-shard"
#define KZ_MANIFEST_FORMAT "kaizen-dataset"
#define KZ_SHARD_FORMAT_VERSION 1

typedef enum kz_field_type {
  KZ_FIELD_F32 = 0, /* float32, NaN = missing */
  KZ_FIELD_I32 = 1, /* int32; categorical codes use -1 for missing */
  KZ_FIELD_F64 = 2, /* float64 (time indices) */
  KZ_FIELD_STR = 3  /* variable-length UTF-8 strings (char * in memory) */
} kz_field_type;

typedef struct kz_column {
  char *name;
  int32_t n_categories; /* > 0: values are codes into categories */
  char **categories;
} kz_column;

typedef struct kz_field {
  char *name; /* the HDF5 dataset name */
  kz_field_type type;
  int64_t width;     /* values per row */
  int32_t n_columns; /* width named columns, or 0 when the row is one vector */
  kz_column *columns;
} kz_field;

typedef struct kz_schema {
  char kind[16]; /* "tabular", "text" or "timeseries" */
  int32_t n_fields;
  kz_field *fields;
  char *label;  /* the label (target) column, or NULL */
  json_t *meta; /* free-form facts (source file, vocabulary, max_len, ...) */
} kz_schema;

kz_status kz_schema_init(kz_schema *s, const char *kind);
void kz_schema_free(kz_schema *s);
/* column_names: n_columns names (n_columns is width or 0). Returns the field
 * index in *index when not NULL. */
kz_status kz_schema_add_field(kz_schema *s, const char *name, kz_field_type type, int64_t width,
                              int32_t n_columns, const char *const *column_names, int *index);
kz_status kz_schema_set_categories(kz_schema *s, int field, int column, int32_t n,
                                   const char *const *categories);
kz_status kz_schema_set_label(kz_schema *s, const char *column);
int kz_schema_field_index(const kz_schema *s, const char *name);
/* Finds a named column: field and position within it. Returns 0 if absent. */
int kz_schema_find_column(const kz_schema *s, const char *name, int *field, int *column);

size_t kz_field_type_size(kz_field_type t);
const char *kz_field_type_name(kz_field_type t);
/* Bytes of one row in memory (strings counted as a pointer plus 32 bytes). */
size_t kz_schema_row_bytes(const kz_schema *s);

/* Checks kind, required and allowed fields, types, widths and unique names.
 * `where` prefixes every message (a file name). */
kz_status kz_schema_validate(const kz_schema *s, const char *where);

json_t *kz_schema_to_json(const kz_schema *s);
/* Compact, key-sorted JSON: byte-comparable between files. Caller frees. */
char *kz_schema_to_string(const kz_schema *s);
/* The schema without its free-form meta (source file, seed, ...), as compact
 * JSON: what a model file keeps of the data it was trained on. Caller frees. */
char *kz_schema_to_input_string(const kz_schema *s);
kz_status kz_schema_from_json(const json_t *j, const char *where, kz_schema *out);
kz_status kz_schema_from_string(const char *text, const char *where, kz_schema *out);
kz_status kz_schema_copy(const kz_schema *src, kz_schema *dst);

#endif
