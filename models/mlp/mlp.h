/* The multilayer perceptron for tabular data (docs/MODELS.md). */
#ifndef KZ_MODELS_MLP_MLP_H
#define KZ_MODELS_MLP_MLP_H

#include "models/nn_model.h"

kz_status kz_mlp_create(const kz_cfg_node *model_cfg, kz_dataset *train, kz_device device,
                        kz_nn_model **out);
kz_status kz_mlp_from_meta(const char *meta_json, kz_device device, kz_nn_model **out);

#endif
