/* The kaizen GBDT model file: one JSON document (docs/GBDT.md, "Model file").
 * Top-level key "kaizen_gbdt": 1 marks the format and its version, so
 * kz_model_file_kind can tell it from a .kzm file by its first bytes.
 *
 * Saving writes PATH.tmp and renames it over PATH when complete. Loading
 * validates every field (types, counts, index ranges, tree shape: one parent
 * per node, no cycles, every node reachable from the root); each error names
 * the file and the JSON path at fault, e.g.
 *   "model.json: trees[3].left[5]: child index 99 out of range [-1, 7)". */
#ifndef KZ_MODELS_GBDT_GBDT_JSON_H
#define KZ_MODELS_GBDT_GBDT_JSON_H

#include <stdio.h>

#include "models/gbdt/gbdt_model.h"

#define KZ_GBDT_JSON_VERSION 1

kz_status kz_gbdt_model_save_json(const kz_gbdt_model *m, const char *path);
/* *out is a new model the caller frees with kz_gbdt_model_free. */
kz_status kz_gbdt_model_load_json(const char *path, kz_gbdt_model **out);

/* XGBoost's objective names ("reg:squarederror", ...) and back; the parser
 * returns 0 for an unknown name. */
const char *kz_gbdt_objective_name(kz_gbdt_objective o);
int kz_gbdt_objective_parse(const char *name, kz_gbdt_objective *out);

/* Checks a model in memory as the loader checks a file (counts, indices, tree
 * shape, finite values); `where` prefixes the messages. */
kz_status kz_gbdt_model_validate(const kz_gbdt_model *m, const char *where);

/* Small JSON writing helpers shared with the XGBoost exporter: a quoted,
 * escaped string; a float printed with the fewest digits that read back to
 * the same bits (kz_float_to_text, models/float_text.h; -0 as "-0.0"); a
 * double likewise. Non-finite values are the caller's to reject (JSON has no
 * NaN). */
void kz_gbdt_json_put_string(FILE *f, const char *s);
void kz_gbdt_json_put_float(FILE *f, float v);
void kz_gbdt_json_put_double(FILE *f, double v);

#endif
