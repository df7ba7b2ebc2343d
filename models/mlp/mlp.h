/* The multilayer perceptron for tabular data (docs/MODELS.md). */
#ifndef KZ_MODELS_MLP_MLP_H
#define KZ_MODELS_MLP_MLP_H

#include "models/nn_model.h"

kz_status kz_mlp_create(const kz_cfg_node *model_cfg, kz_dataset *train, kz_device device,
                        kz_nn_model **out);
/* want_params >= 0: fail unless the layout has exactly that many parameters,
 * checked before allocating; out NULL: check only (nn_model.h). */
kz_status kz_mlp_from_meta(const char *meta_json, kz_device device, int64_t want_params,
                           kz_nn_model **out);

#endif
