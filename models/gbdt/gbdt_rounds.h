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

/* With early stopping: drops m's trees after the best round (K a round,
 * after the first_tree trees the run started from) and records it as
 * m->best_iteration, counted over every round of m. */
void kz_gbdt_rounds_trim(const kz_gbdt_rounds *r, const kz_gbdt_params *p, int K, int first_tree,
                         kz_gbdt_model *m);

/* What a boosting run is, for the CPU and the GPU booster alike: the data,
 * the margins the trees so far give, the trees, the metrics and the rounds.
 * Each booster embeds one and adds its own workspaces around it. */
typedef struct kz_gbdt_run {
  const kz_gbdt_data *train, *valid;
  int K;
  double *margin;       /* [n x K] */
  double *vmargin;      /* [nv x K] */
  kz_gbdt_model *model; /* trees so far */
  int cap_trees;
  /* trees model started with (train.init_from, kz_gbdt_run_init_from): the
   * rounds of this run come after them */
  int first_tree;
  int n_metrics;
  kz_gbdt_metric metrics[KZ_GBDT_MAX_METRICS];
  kz_gbdt_rounds rounds; /* round, best round, early stopping */
} kz_gbdt_run;

/* kz_gbdt_rounds_end on the run's margins. */
void kz_gbdt_run_end(kz_gbdt_run *r, const kz_gbdt_params *p, double *train_m, double *valid_m,
                     int *stop);

/* The resumable state (booster.h); rng is the sampling stream (0: none). */
void kz_gbdt_run_get_state(const kz_gbdt_run *r, uint64_t rng, kz_gbdt_booster_state *s);

/* kz_gbdt_state_install into the run's margins, trees and rounds. */
kz_status kz_gbdt_run_set_state(kz_gbdt_run *r, const kz_gbdt_booster_state *s,
                                kz_gbdt_model **trees, const char *where);

/* Continuation (train.init_from, docs/GBDT.md): the run starts from *init's
 * base score and trees (taken over, *init set to NULL; freed on error too)
 * instead of the base score from the labels, its margins are init's
 * predictions of the train and valid rows, and the rounds add trees after
 * init's. Before the first round only. The objective, output groups and
 * feature counts and dictionary sizes must be the run's, and init's trees
 * whole rounds (tree i of group i % K); errors name `where`. */
kz_status kz_gbdt_run_init_from(kz_gbdt_run *r, kz_gbdt_model **init, int nthread,
                                const char *where);
/* The checks of kz_gbdt_run_init_from alone (the refresh updater's too). */
kz_status kz_gbdt_run_check_init(const kz_gbdt_run *r, const kz_gbdt_model *m, const char *where);

/* Trims the trees to the best round and hands them over (the run keeps none). */
kz_gbdt_model *kz_gbdt_run_take_model(kz_gbdt_run *r, const kz_gbdt_params *p);

#endif
