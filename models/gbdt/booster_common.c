/* Checks and model building shared by the boosters (booster_common.h). */
#include "models/gbdt/booster_common.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/gbdt_json.h"
#include "models/gbdt/gbdt_rounds.h"
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

/* The model checks (kz_gbdt_model_validate) want feature names, which the
 * booster's model only gets when training ends: lend it placeholders. */
static kz_status validate_unnamed(kz_gbdt_model *m, const char *where) {
  int nf = m->n_numeric + m->n_categorical;
  static char placeholder[] = "feature";
  char **names = malloc(sizeof(char *) * (size_t)(nf > 0 ? nf : 1));
  if (!names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
  for (int f = 0; f < nf; ++f) names[f] = placeholder;
  m->feature_names = names;
  kz_status st = kz_gbdt_model_validate(m, where);
  m->feature_names = NULL;
  free(names);
  return st;
}

static kz_status check_state(const kz_gbdt_booster_state *s, const kz_gbdt_model *t,
                             const kz_gbdt_model *mine, const char *where, int K, int first_tree,
                             int64_t n, int64_t nv) {
  if (s->K != K || t->num_group != K || t->objective != mine->objective)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the checkpoint is of a %s model with %d output groups, the job trains %s "
                   "with %d",
                   where, kz_gbdt_objective_name(t->objective), t->num_group,
                   kz_gbdt_objective_name(mine->objective), K);
  if (s->n != n || s->nv != nv)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the checkpoint was trained on %lld rows (valid %lld), the job has %lld "
                   "(valid %lld)",
                   where, (long long)s->n, (long long)s->nv, (long long)n, (long long)nv);
  if (t->n_numeric != mine->n_numeric || t->n_categorical != mine->n_categorical)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the checkpoint has %d numeric + %d categorical features, the job %d + %d",
                   where, t->n_numeric, t->n_categorical, mine->n_numeric, mine->n_categorical);
  /* The base score is a function of every training label: a cheap sign
   * that the data are the ones the checkpoint was trained on. */
  if (memcmp(t->base_score, mine->base_score, sizeof(double) * (size_t)K))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the checkpoint's base score differs from this job's (the training labels "
                   "changed since it was written)",
                   where);
  if (s->round < 0 || s->best_round < -1 || s->best_round >= (s->round > 0 ? s->round : 1) ||
      (int64_t)t->n_trees != first_tree + (int64_t)s->round * K)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: %d trees for %d rounds of %d groups after the %d the run started from "
                   "(best round %d)",
                   where, t->n_trees, s->round, K, first_tree, s->best_round);
  /* The trees the run started from (train.init_from) are the checkpoint's
   * first ones: the fingerprint names the model file, this checks them. */
  for (int i = 0; i < first_tree; ++i) {
    const kz_gbdt_tree *a = &t->trees[i], *b = &mine->trees[i];
    if (a->n_nodes != b->n_nodes ||
        memcmp(a->leaf_value, b->leaf_value, sizeof(float) * (size_t)a->n_nodes) ||
        memcmp(a->threshold, b->threshold, sizeof(float) * (size_t)a->n_nodes) ||
        memcmp(a->feature, b->feature, sizeof(int32_t) * (size_t)a->n_nodes))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "%s: tree %d differs from train.init_from's: the checkpoint continued "
                     "another model",
                     where, i);
  }
  for (int i = 0; i < t->n_trees; ++i)
    if (t->tree_group[i] != i % K)
      return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d] is of group %d, expected %d", where, i,
                     t->tree_group[i], i % K);
  if (!s->margin || (nv > 0 && !s->vmargin))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the checkpoint has no margins", where);
  return KZ_OK;
}

kz_status kz_gbdt_state_install(const kz_gbdt_booster_state *s, kz_gbdt_model **trees,
                                const char *where, int K, int first_tree, int64_t n, int64_t nv,
                                double *margin, double *vmargin, kz_gbdt_model **model, int *cap,
                                kz_gbdt_rounds *r) {
  kz_gbdt_model *t = *trees;
  *trees = NULL;
  if (!t) return kz_fail(KZ_ERR_INVALID_ARG, "%s: no trees", where);
  kz_status st = check_state(s, t, *model, where, K, first_tree, n, nv);
  if (st == KZ_OK && t->n_categorical > 0) { /* the data's dictionary sizes bound the codes */
    free(t->n_categories);
    t->n_categories = malloc(sizeof(int32_t) * (size_t)t->n_categorical);
    if (!t->n_categories) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    if (st == KZ_OK)
      memcpy(t->n_categories, (*model)->n_categories, sizeof(int32_t) * (size_t)t->n_categorical);
  }
  if (st == KZ_OK) st = validate_unnamed(t, where);
  if (st != KZ_OK) {
    kz_gbdt_model_free(t);
    return st;
  }
  memcpy(margin, s->margin, sizeof(double) * (size_t)n * (size_t)K);
  if (nv > 0) memcpy(vmargin, s->vmargin, sizeof(double) * (size_t)nv * (size_t)K);
  t->best_iteration = -1;
  kz_gbdt_model_free(*model);
  *model = t;
  *cap = t->n_trees;
  r->round = s->round;
  r->best_round = s->best_round;
  r->best_value = s->best_value;
  return KZ_OK;
}
