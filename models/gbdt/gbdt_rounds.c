/* Round bookkeeping shared by the boosters (gbdt_rounds.h). */
#include "models/gbdt/gbdt_rounds.h"

#include <math.h>

#include "models/gbdt/tree_build.h"

void kz_gbdt_rounds_init(kz_gbdt_rounds *r) {
  r->round = 0;
  r->best_round = -1;
  r->best_value = 0;
}

void kz_gbdt_rounds_end(kz_gbdt_rounds *r, const kz_gbdt_params *p, const kz_gbdt_metric *metrics,
                        int n_metrics, int K, const kz_gbdt_data *train, const double *margin,
                        const kz_gbdt_data *valid, const double *vmargin, double *train_m,
                        double *valid_m, int *stop) {
  kz_gbdt_objective o = (kz_gbdt_objective)p->objective;
  double vm[KZ_GBDT_MAX_METRICS];
  int want_valid = valid && (valid_m || p->early_stopping_rounds > 0);
  for (int i = 0; i < n_metrics; ++i) {
    if (train_m)
      train_m[i] =
          kz_gbdt_metric_eval(metrics[i], o, p->quantile_alpha, K, train->n, margin, train->label);
    vm[i] = want_valid ? kz_gbdt_metric_eval(metrics[i], o, p->quantile_alpha, K, valid->n, vmargin,
                                             valid->label)
                       : NAN;
    if (valid_m) valid_m[i] = vm[i];
  }
  if (want_valid) { /* the last metric decides, as in XGBoost */
    kz_gbdt_metric last = metrics[n_metrics - 1];
    double v = vm[n_metrics - 1];
    int better = r->best_round < 0 ||
                 (kz_gbdt_metric_higher_is_better(last) ? v > r->best_value : v < r->best_value);
    if (better) {
      r->best_round = r->round;
      r->best_value = v;
    }
    if (p->early_stopping_rounds > 0 && r->round - r->best_round >= p->early_stopping_rounds)
      *stop = 1;
  }
  r->round++;
  if (r->round >= p->num_round) *stop = 1;
}

void kz_gbdt_rounds_trim(const kz_gbdt_rounds *r, const kz_gbdt_params *p, int K,
                         kz_gbdt_model *m) {
  if (p->early_stopping_rounds <= 0 || r->best_round < 0) return;
  int keep = (r->best_round + 1) * K;
  for (int i = keep; i < m->n_trees; ++i) kz_gbdt_tree_free(&m->trees[i]);
  if (keep < m->n_trees) m->n_trees = keep;
  m->best_iteration = r->best_round;
}
