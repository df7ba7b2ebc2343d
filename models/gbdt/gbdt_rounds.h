/* The bookkeeping the CPU and GPU boosters share around each round: the
 * metrics on the train and valid rows, the best round by the last metric on
 * the valid set, early stopping (XGBoost's rules), and at the end the model
 * cut back to its best round. */
#ifndef KZ_MODELS_GBDT_GBDT_ROUNDS_H
#define KZ_MODELS_GBDT_GBDT_ROUNDS_H

#include "models/gbdt/booster.h"

typedef struct kz_gbdt_rounds {
  int round;      /* rounds done */
  int best_round; /* 0-based; -1 before the first valid metric */
  double best_value;
  int decide; /* index of the metric early stopping reads (eval_metric's last) */
} kz_gbdt_rounds;

void kz_gbdt_rounds_init(kz_gbdt_rounds *r);

/* After a round's trees are in the margins (margin[train->n x K], vmargin
 * [valid->n x K]; valid may be NULL). Metrics cost a pass (AUC a sort) over
 * the rows, so they are computed only when asked for: the train ones when
 * train_m is not NULL, the valid ones when valid_m is not NULL or early
 * stopping needs them (valid_m gets NaN without a valid set). Sets *stop at
 * num_round, or after early_stopping_rounds rounds without a better valid
 * value of the deciding metric (r->decide). */
void kz_gbdt_rounds_end(kz_gbdt_rounds *r, const kz_gbdt_params *p, const kz_gbdt_metric *metrics,
                        int n_metrics, int K, const kz_gbdt_data *train, const double *margin,
                        const kz_gbdt_data *valid, const double *vmargin, double *train_m,
                        double *valid_m, int *stop);

/* With early stopping: drops m's trees after the best round (K a round)
 * and records it as m->best_iteration. */
void kz_gbdt_rounds_trim(const kz_gbdt_rounds *r, const kz_gbdt_params *p, int K, kz_gbdt_model *m);

#endif
