/* Evaluation of a neural model over a whole data set, in storage order
 * (deterministic), shared by the trainer and `kaizen eval`. */
#ifndef KZ_ENGINE_TRAIN_EVAL_H
#define KZ_ENGINE_TRAIN_EVAL_H

#include <stdint.h>

#include "data/shard/reader.h"
#include "models/nn_model.h"

kz_status kz_nn_evaluate(kz_nn_model *m, kz_dataset *ds, int64_t batch_rows, kz_nn_metrics *out);

#endif
