/* The refresh updater (XGBoost's `process_type: update`, `updater: refresh`;
 * docs/GBDT.md "Continuing and refreshing a model"): an existing model's
 * trees keep their structure while their node statistics (cover, gain) and,
 * with refresh_leaf, their leaf values are recomputed on new data, round
 * after round: round r's gradients are taken at the margins of the base
 * score plus the refreshed rounds before it, and each leaf becomes
 * eta * -T(G)/(H + lambda) (0 when H < min_child_weight, as XGBoost's
 * CalcWeight; reg:absoluteerror and reg:quantile refit the leaf to the
 * residual quantile of its rows, as training does). No tree is added.
 *
 * It runs through the same round calls as a booster (gbdt_rounds.h keeps its
 * margins, metrics and state), so the job logs, checkpoints and resumes it
 * like training. Sums run over rows in row order: the result does not depend
 * on the thread count. */
#ifndef KZ_MODELS_GBDT_REFRESH_H
#define KZ_MODELS_GBDT_REFRESH_H

#include "models/gbdt/booster.h"

typedef struct kz_gbdt_refresher kz_gbdt_refresher;

/* p: the objective resolved (that of *init), num_round the rounds of *init
 * (the refresh goes over all of them), no early stopping. *init is taken
 * over (set to NULL; freed on error too); its objective, groups, feature
 * counts and dictionary sizes must match the data's, its trees be whole
 * rounds. valid may be NULL. */
kz_status kz_gbdt_refresher_create(const kz_gbdt_params *p, const kz_gbdt_data *train,
                                   const kz_gbdt_data *valid, kz_gbdt_model **init,
                                   kz_gbdt_refresher **out);
const kz_gbdt_metric *kz_gbdt_refresher_metrics(const kz_gbdt_refresher *r, int *n);
/* Refreshes the next round's trees; metrics and *stop as a booster round. */
kz_status kz_gbdt_refresher_round(kz_gbdt_refresher *r, double *train_m, double *valid_m,
                                  int *stop);
int kz_gbdt_refresher_best_round(const kz_gbdt_refresher *r, double *best_value);
/* The state of a checkpoint: the refreshed rounds so far, as a booster's. */
void kz_gbdt_refresher_get_state(const kz_gbdt_refresher *r, kz_gbdt_booster_state *s);
kz_status kz_gbdt_refresher_set_state(kz_gbdt_refresher *r, const kz_gbdt_booster_state *s,
                                      kz_gbdt_model **trees, const char *where);
/* The refreshed model (all rounds done); frees r. */
kz_status kz_gbdt_refresher_finish(kz_gbdt_refresher *r, kz_gbdt_model **out);
void kz_gbdt_refresher_free(kz_gbdt_refresher *r);

#endif
