/* The engine side of kz_predictor (include/kaizen.h): one handle over any
 * model family, fed batches laid out as the model's training data. The
 * public row API and `kaizen predict / eval` (predict_job.c) are built on
 * these. */
#ifndef KZ_ENGINE_PREDICT_PREDICTOR_H
#define KZ_ENGINE_PREDICT_PREDICTOR_H

#include <stdint.h>

#include "data/shard/batch.h"
#include "data/shard/schema.h"
#include "kaizen.h"
#include "models/gbdt/gbdt_model.h"
#include "models/nn_model.h"

/* The schema of the model's training data: the layout batches must have.
 * NULL for a model file written before files kept it (see adopt_schema). */
const kz_schema *kz_predictor_schema(const kz_predictor *p);
/* For such an old file only: trust a data set's schema as the model's. The
 * GBDT still checks names and dictionary sizes, as it always did. */
kz_status kz_predictor_adopt_schema(kz_predictor *p, const kz_schema *s);
/* Predictions for b's rows (b in the model's layout): b->rows x outputs. */
kz_status kz_predictor_batch(kz_predictor *p, const kz_shard_batch *b, double *out);

/* The schema of a data set (directory, manifest.json or shard) or the
 * input schema of a model file (model.json, .kzm): what `data import
 * --schema-from` reads. */
kz_status kz_schema_from_source(const char *path, kz_schema *out);

/* The family behind the handle (one of them is non-NULL). */
kz_nn_model *kz_predictor_nn(kz_predictor *p);
/* --adapter: a transformer's LoRA adapter (a PEFT directory) loaded onto the
 * model (its own adapters, if any, replaced) and merged; note (cap bytes)
 * gets what was loaded. */
kz_status kz_predictor_use_adapter(kz_predictor *p, const char *dir, char *note, size_t cap);
const kz_gbdt_model *kz_predictor_gbdt(const kz_predictor *p);
/* GBDT: raw margins for b's rows (rows x num_group), before the link. */
kz_status kz_predictor_gbdt_margins(kz_predictor *p, const kz_shard_batch *b, double *margin);
/* The model file's path and type ("mlp", "linear", "transformer", "gbdt"). */
const char *kz_predictor_path(const kz_predictor *p);
const char *kz_predictor_type(const kz_predictor *p);

#endif
