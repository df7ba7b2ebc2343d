/* train.init_from for a GBDT job (docs/GBDT.md, "Continuing and refreshing a
 * model"): the model file to continue (new trees after its own) or to
 * refresh (process_type: update), read and checked against the job before
 * the run directory exists, so a mismatch leaves nothing behind. */
#ifndef KZ_ENGINE_TRAIN_GBDT_INIT_H
#define KZ_ENGINE_TRAIN_GBDT_INIT_H

#include <stdint.h>

#include "engine/train/gbdt_data.h"
#include "kaizen.h"
#include "models/gbdt/booster.h"

/* Loads the kaizen GBDT model file at path: a missing file, a .kzm neural
 * model, another file or a corrupt model is an error naming it. *hash: the
 * file's kz64, which the job's checkpoint fingerprint carries so that a
 * resume under another model file is refused. */
kz_status kz_gbdt_init_load(const char *path, kz_gbdt_model **out, uint64_t *hash);

/* The job's objective and its class count from the model: `auto` takes the
 * model's objective, another one must be it; num_class 0 takes the model's,
 * another must be it; reg:quantile takes the model's quantile_alpha unless
 * alpha_given, when it must be it. Errors name both values. */
kz_status kz_gbdt_init_params(const kz_gbdt_model *m, const char *path, int alpha_given,
                              kz_gbdt_params *p);

/* The model's features (names, order, types, dictionary sizes and, when the
 * model keeps its input schema, the categories themselves), its label column
 * and its classes against the training table's. Errors name both sides. */
kz_status kz_gbdt_init_check_table(const kz_gbdt_model *m, const char *path,
                                   const kz_gbdt_table *t);

#endif
