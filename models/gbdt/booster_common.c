/* Checks and model building shared by the boosters (booster_common.h). */
#include "models/gbdt/booster_common.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/gbdt/gbdt_json.h"
#include "models/gbdt/objective.h"

static kz_status check_data(const kz_gbdt_data *d, const kz_gbdt_data *train, const char *what) {
  if (d->n_numeric != train->n_numeric || d->n_categorical != train->n_categorical)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "gbdt: the %s data has %d numeric + %d categorical features, train has %d + %d",
                   what, d->n_numeric, d->n_categorical, train->n_numeric, train->n_categorical);
  if (d->n_numeric > 0 && !d->num)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: %s data lacks numeric values", what);
  if (d->n_categorical > 0 && (!d->cat || !d->n_categories))
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: %s data lacks categorical values", what);
  if (!d->label) return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: %s data lacks labels", what);
  return KZ_OK;
}

kz_status kz_gbdt_check_inputs(const kz_gbdt_params *p, const kz_gbdt_data *train,
                               const kz_gbdt_data *valid, int *K) {
  KZ_TRY(kz_gbdt_params_check(p));
  if (p->objective < 0 || p->objective > KZ_GBDT_COUNT_POISSON)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: the objective must be resolved before training");
  int k = p->objective == KZ_GBDT_MULTI_SOFTPROB ? p->num_class : 1;
  if (k < 1 || k > 256)
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: multi:softprob needs num_class in [2, 256], got %d",
                   p->num_class);
  if (train->n < 1) return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: the training data has no rows");
  if (train->n > INT32_MAX)
    return kz_fail(KZ_ERR_UNSUPPORTED, "gbdt: at most %d training rows are supported", INT32_MAX);
  KZ_TRY(check_data(train, train, "train"));
  kz_gbdt_objective o = (kz_gbdt_objective)p->objective;
  KZ_TRY(kz_gbdt_check_labels(o, k, train->n, train->label, "data.train"));
  if (valid) {
    KZ_TRY(check_data(valid, train, "valid"));
    KZ_TRY(kz_gbdt_check_labels(o, k, valid->n, valid->label, "data.valid"));
  }
  if (p->early_stopping_rounds > 0 && !(valid && valid->n > 0))
    return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: early_stopping_rounds needs a validation set");
  *K = k;
  return KZ_OK;
}

kz_status kz_gbdt_resolve_metrics(const kz_gbdt_params *p, kz_gbdt_metric *metrics, int *n,
                                  int *decide) {
  kz_gbdt_objective o = (kz_gbdt_objective)p->objective;
  kz_gbdt_metric user[KZ_GBDT_MAX_METRICS], common[KZ_GBDT_M_COUNT];
  int nu = p->n_metrics, k = 0;
  memcpy(user, p->metrics, sizeof user);
  if (nu == 0) user[nu++] = kz_gbdt_default_metric(o);
  for (int i = 0; i < nu; ++i)
    if (!kz_gbdt_metric_fits(user[i], o))
      return kz_fail(KZ_ERR_INVALID_ARG, "gbdt: eval_metric %s does not apply to %s",
                     kz_gbdt_metric_name(user[i]), kz_gbdt_objective_name(o));
  /* eval_metric's, each once where it last appears (so the deciding one
   * keeps its place), then the task's common ones (not AUC: a sort per
   * round) that it does not name. */
  for (int i = 0; i < nu; ++i) {
    int later = 0;
    for (int j = i + 1; j < nu; ++j) later |= user[j] == user[i];
    if (!later) metrics[k++] = user[i];
  }
  *decide = k - 1;
  int nc = kz_gbdt_eval_metrics(o, common);
  for (int i = 0; i < nc; ++i) {
    int named = common[i] == KZ_GBDT_M_AUC;
    for (int j = 0; j < k; ++j) named |= metrics[j] == common[i];
    if (!named && k < KZ_GBDT_MAX_METRICS) metrics[k++] = common[i];
  }
  *n = k;
  return KZ_OK;
}

kz_status kz_gbdt_model_new(const kz_gbdt_params *p, const kz_gbdt_data *t, int K,
                            kz_gbdt_model **out) {
  kz_gbdt_model *m = calloc(1, sizeof *m);
  if (!m) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
  m->objective = (kz_gbdt_objective)p->objective;
  m->quantile_alpha = p->quantile_alpha;
  m->num_group = K;
  m->n_numeric = t->n_numeric;
  m->n_categorical = t->n_categorical;
  m->best_iteration = -1;
  if (t->n_categorical > 0) {
    m->n_categories = malloc(sizeof(int32_t) * (size_t)t->n_categorical);
    if (!m->n_categories) {
      kz_gbdt_model_free(m);
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    }
    memcpy(m->n_categories, t->n_categories, sizeof(int32_t) * (size_t)t->n_categorical);
  }
  *out = m;
  return KZ_OK;
}

kz_status kz_gbdt_model_push(kz_gbdt_model *m, int *cap, const kz_gbdt_tree *t, int group) {
  if (m->n_trees == *cap) {
    int c = *cap ? 2 * *cap : 64;
    kz_gbdt_tree *nt = realloc(m->trees, sizeof(*nt) * (size_t)c);
    if (!nt) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    m->trees = nt;
    int32_t *ng = realloc(m->tree_group, sizeof(*ng) * (size_t)c);
    if (!ng) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gbdt: out of memory");
    m->tree_group = ng;
    *cap = c;
  }
  m->trees[m->n_trees] = *t;
  m->tree_group[m->n_trees] = group;
  m->n_trees++;
  return KZ_OK;
}
