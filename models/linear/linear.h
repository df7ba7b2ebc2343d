/* The linear model: softmax (classification) or linear (regression)
 * regression on standardised numeric features, one-hot categoricals and
 * missing-value indicators. A baseline, and the trainer's smallest model. */
#ifndef KZ_MODELS_LINEAR_LINEAR_H
#define KZ_MODELS_LINEAR_LINEAR_H

#include "models/nn_model.h"

kz_status kz_linear_create(const kz_cfg_node *model_cfg, kz_dataset *train, kz_device device,
                           kz_nn_model **out);
/* want_params and out as kz_mlp_from_meta's. */
kz_status kz_linear_from_meta(const char *meta_json, kz_device device, int64_t want_params,
                              kz_nn_model **out);

#endif
