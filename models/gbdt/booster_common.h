/* What the CPU booster (booster.c) and the CUDA one (booster_gpu.c) check
 * and build alike: the inputs against the parameters, the metrics to report,
 * the model being grown. */
#ifndef KZ_MODELS_GBDT_BOOSTER_COMMON_H
#define KZ_MODELS_GBDT_BOOSTER_COMMON_H

#include "models/gbdt/booster.h"

/* The parameters (kz_gbdt_params_check, the objective resolved), the row
 * count, valid's features against train's, the labels against the
 * objective, and a valid set when early stopping is on. *K: the output
 * groups (num_class for multi:softprob, else 1). valid may be NULL. */
kz_status kz_gbdt_check_inputs(const kz_gbdt_params *p, const kz_gbdt_data *train,
                               const kz_gbdt_data *valid, int *K);

/* The metrics a run tracks: p's eval metrics (or the objective's default
 * one), each once, then the common metrics of the task (models/metrics.h)
 * that they do not name. *decide is the index of eval_metric's last one,
 * which drives early stopping. An error names a metric that does not apply
 * to the objective. */
kz_status kz_gbdt_resolve_metrics(const kz_gbdt_params *p, kz_gbdt_metric *metrics, int *n,
                                  int *decide);

/* An empty model for the training data's features and K output groups. */
kz_status kz_gbdt_model_new(const kz_gbdt_params *p, const kz_gbdt_data *t, int K,
                            kz_gbdt_model **out);

/* Appends tree t of output group to m (m takes it over; *cap: the arrays'
 * capacity, grown by doubling). On failure t stays the caller's. */
kz_status kz_gbdt_model_push(kz_gbdt_model *m, int *cap, const kz_gbdt_tree *t, int group);

/* The shared part of kz_gbdt_booster_set_state and its GPU twin: checks s
 * against the booster's K, rows, base scores (*model, the booster's model:
 * empty, or the first_tree trees of train.init_from) and rounds so far, validates the trees, then
 * copies the margins and installs *trees as the booster's model (*model freed, *cap its capacity).
 * Takes over *trees either way. */
struct kz_gbdt_rounds;
kz_status kz_gbdt_state_install(const kz_gbdt_booster_state *s, kz_gbdt_model **trees,
                                const char *where, int K, int first_tree, int64_t n, int64_t nv,
                                double *margin, double *vmargin, kz_gbdt_model **model, int *cap,
                                struct kz_gbdt_rounds *r);

#endif
