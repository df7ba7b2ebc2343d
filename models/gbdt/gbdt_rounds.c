/* Round bookkeeping shared by the boosters (gbdt_rounds.h). */
#include "models/gbdt/gbdt_rounds.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/gbdt_json.h"

#include "models/gbdt/booster_common.h"
#include "models/gbdt/tree_build.h"

void kz_gbdt_rounds_init(kz_gbdt_rounds *r) {
  r->round = 0;
  r->best_round = -1;
  r->best_value = 0;
  r->decide = -1;
}

void kz_gbdt_rounds_end(kz_gbdt_rounds *r, const kz_gbdt_params *p, const kz_gbdt_metric *metrics,
                        int n_metrics, int K, const kz_gbdt_data *train, const double *margin,
                        const kz_gbdt_data *valid, const double *vmargin, double *train_m,
                        double *valid_m, int *stop) {
  kz_gbdt_objective o = (kz_gbdt_objective)p->objective;
  double vm[KZ_GBDT_MAX_METRICS];
  int want_valid = valid && (valid_m || p->early_stopping_rounds > 0);
  if (train_m)
    kz_gbdt_metrics_eval(metrics, n_metrics, o, p->quantile_alpha, K, train->n, margin,
                         train->label, train_m);
  for (int i = 0; i < n_metrics; ++i) vm[i] = NAN;
  if (want_valid)
    kz_gbdt_metrics_eval(metrics, n_metrics, o, p->quantile_alpha, K, valid->n, vmargin,
                         valid->label, vm);
  for (int i = 0; valid_m && i < n_metrics; ++i) valid_m[i] = vm[i];
  if (want_valid) { /* eval_metric's last one decides, as in XGBoost */
    int d = r->decide >= 0 && r->decide < n_metrics ? r->decide : n_metrics - 1;
    kz_gbdt_metric last = metrics[d];
    double v = vm[d];
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

void kz_gbdt_rounds_trim(const kz_gbdt_rounds *r, const kz_gbdt_params *p, int K, int first_tree,
                         kz_gbdt_model *m) {
  if (p->early_stopping_rounds <= 0 || r->best_round < 0) return;
  int keep = first_tree + (r->best_round + 1) * K;
  for (int i = keep; i < m->n_trees; ++i) kz_gbdt_tree_free(&m->trees[i]);
  if (keep < m->n_trees) m->n_trees = keep;
  m->best_iteration = first_tree / K + r->best_round;
}

void kz_gbdt_run_end(kz_gbdt_run *r, const kz_gbdt_params *p, double *train_m, double *valid_m,
                     int *stop) {
  kz_gbdt_rounds_end(&r->rounds, p, r->metrics, r->n_metrics, r->K, r->train, r->margin, r->valid,
                     r->vmargin, train_m, valid_m, stop);
}

void kz_gbdt_run_get_state(const kz_gbdt_run *r, uint64_t rng, kz_gbdt_booster_state *s) {
  s->round = r->rounds.round;
  s->best_round = r->rounds.best_round;
  s->best_value = r->rounds.best_value;
  s->rng = rng;
  s->K = r->K;
  s->n = r->train->n;
  s->nv = r->valid ? r->valid->n : 0;
  s->margin = r->margin;
  s->vmargin = r->valid ? r->vmargin : NULL;
  s->model = r->model;
}

kz_status kz_gbdt_run_set_state(kz_gbdt_run *r, const kz_gbdt_booster_state *s,
                                kz_gbdt_model **trees, const char *where) {
  return kz_gbdt_state_install(s, trees, where, r->K, r->first_tree, r->train->n,
                               r->valid ? r->valid->n : 0, r->margin, r->vmargin, &r->model,
                               &r->cap_trees, &r->rounds);
}

kz_gbdt_model *kz_gbdt_run_take_model(kz_gbdt_run *r, const kz_gbdt_params *p) {
  kz_gbdt_model *m = r->model;
  kz_gbdt_rounds_trim(&r->rounds, p, r->K, r->first_tree, m);
  r->model = NULL;
  return m;
}

kz_status kz_gbdt_run_check_init(const kz_gbdt_run *r, const kz_gbdt_model *m, const char *where) {
  const kz_gbdt_model *mine = r->model;
  int K = r->K;
  if (r->rounds.round != 0 || mine->n_trees != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: a run continues a model before its first round", where);
  if (m->objective != mine->objective || m->num_group != K)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: a %s model with %d output groups; the job trains %s with %d", where,
                   kz_gbdt_objective_name(m->objective), m->num_group,
                   kz_gbdt_objective_name(mine->objective), K);
  if (m->objective == KZ_GBDT_REG_QUANTILE && m->quantile_alpha != mine->quantile_alpha)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: a reg:quantile model of quantile_alpha %.17g; the job has %.17g", where,
                   m->quantile_alpha, mine->quantile_alpha);
  if (m->n_numeric != mine->n_numeric || m->n_categorical != mine->n_categorical)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the model has %d numeric + %d categorical features, the data %d + %d",
                   where, m->n_numeric, m->n_categorical, mine->n_numeric, mine->n_categorical);
  for (int c = 0; c < m->n_categorical; ++c)
    if (m->n_categories[c] != mine->n_categories[c])
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "%s: categorical feature %d has %d categories in the model, %d in the data",
                     where, m->n_numeric + c, m->n_categories[c], mine->n_categories[c]);
  if (m->n_trees % K != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %d trees are not whole rounds of %d groups", where,
                   m->n_trees, K);
  for (int i = 0; i < m->n_trees; ++i)
    if (m->tree_group[i] != i % K)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "%s: trees[%d] is of group %d; continuing needs the trees in rounds (tree i "
                     "of group i mod %d), as training writes them",
                     where, i, m->tree_group[i], K);
  return KZ_OK;
}

kz_status kz_gbdt_run_init_from(kz_gbdt_run *r, kz_gbdt_model **init, int nthread,
                                const char *where) {
  kz_gbdt_model *m = *init;
  *init = NULL;
  if (!m) return kz_fail(KZ_ERR_INVALID_ARG, "%s: no model", where);
  kz_status st = kz_gbdt_run_check_init(r, m, where);
  /* Margins as the saved model predicts them: training adds the float leaf
   * values in the same order (booster.c), so a run continued from a model
   * file is the run that had gone on. */
  int64_t nv = r->valid ? r->valid->n : 0;
  if (st == KZ_OK)
    st = kz_gbdt_predict_margin(m, r->train->n, r->train->num, r->train->cat, nthread, r->margin);
  if (st == KZ_OK && nv > 0)
    st = kz_gbdt_predict_margin(m, nv, r->valid->num, r->valid->cat, nthread, r->vmargin);
  if (st != KZ_OK) {
    kz_gbdt_model_free(m);
    return st;
  }
  kz_gbdt_model *mine = r->model;
  memcpy(mine->base_score, m->base_score, sizeof(double) * (size_t)r->K);
  mine->trees = m->trees;
  mine->tree_group = m->tree_group;
  mine->n_trees = m->n_trees;
  r->cap_trees = m->n_trees;
  r->first_tree = m->n_trees;
  m->trees = NULL;
  m->tree_group = NULL;
  m->n_trees = 0;
  kz_gbdt_model_free(m);
  return KZ_OK;
}
