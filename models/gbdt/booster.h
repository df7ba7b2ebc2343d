/* The CPU histogram booster: parameters (XGBoost's names, docs/GBDT.md), the
 * training data it takes, and a round-by-round training loop. */
#ifndef KZ_MODELS_GBDT_BOOSTER_H
#define KZ_MODELS_GBDT_BOOSTER_H

#include <stdint.h>

#include "common/config/cfg.h"
#include "kaizen.h"
#include "models/gbdt/gbdt_dist.h"
#include "models/gbdt/gbdt_model.h"
#include "models/gbdt/metrics.h"

typedef enum kz_gbdt_grow_policy { KZ_GBDT_DEPTHWISE, KZ_GBDT_LOSSGUIDE } kz_gbdt_grow_policy;

#define KZ_GBDT_MAX_METRICS 8

typedef struct kz_gbdt_params {
  int objective; /* kz_gbdt_objective, or -1 = auto (chosen from the label) */
  int num_round;
  double eta;
  int max_depth;  /* 0 = unlimited (lossguide only) */
  int max_leaves; /* 0 = unlimited */
  kz_gbdt_grow_policy grow_policy;
  int max_bin;
  double lambda, alpha, gamma, min_child_weight;
  double subsample, colsample_bytree, colsample_bynode;
  int max_cat_to_onehot;
  double quantile_alpha;
  int num_class; /* 0 = from the label dictionary */
  int n_metrics; /* 0 = the objective's default */
  kz_gbdt_metric metrics[KZ_GBDT_MAX_METRICS];
  int early_stopping_rounds; /* 0 = off */
  int nthread;               /* 0 = all cores */
  /* gradients rounded onto a grid on which histogram sums are exact
   * (gbdt_dist.h): the model no longer depends on the thread count or on how
   * rows are split between ranks; data-parallel training needs it */
  int exact_histograms;
  /* process_type: update with updater: refresh (refresh.h): the trees of
   * train.init_from are refreshed on the data instead of new ones grown;
   * refresh_leaf: their leaf values too, not only cover and gain */
  int process_update, refresh_leaf;
  uint64_t seed;
} kz_gbdt_params;

void kz_gbdt_params_default(kz_gbdt_params *p);

/* Reads the booster keys of the `model` section (gbdt_params.c); every
 * error names the file, line and key. */
kz_status kz_gbdt_params_from_cfg(const kz_cfg_node *model, kz_gbdt_params *p);

/* Checks values and combinations the getters cannot (objective vs labels is
 * checked when training starts). */
kz_status kz_gbdt_params_check(const kz_gbdt_params *p);

/* One data set in model feature order. label holds class codes as floats for
 * classification. num / cat may be NULL when their count is 0. */
typedef struct kz_gbdt_data {
  int64_t n;
  int32_t n_numeric, n_categorical;
  const float *num;            /* [n x n_numeric], NaN = missing */
  const int32_t *cat;          /* [n x n_categorical], -1 = missing */
  const int32_t *n_categories; /* per categorical feature */
  const float *label;          /* [n] */
} kz_gbdt_data;

typedef struct kz_gbdt_booster kz_gbdt_booster;

/* p->objective must be resolved (not auto) and num_class set for softprob.
 * valid may be NULL. The booster keeps pointers to the data. */
kz_status kz_gbdt_booster_create(const kz_gbdt_params *p, const kz_gbdt_data *train,
                                 const kz_gbdt_data *valid, kz_gbdt_booster **out);
/* The same for one rank of a data-parallel job (gbdt_dist.h): train holds
 * this rank's rows, valid every validation row. dist NULL or of size 1: the
 * single-process booster. The booster keeps the pointer. */
kz_status kz_gbdt_booster_create_dist(const kz_gbdt_params *p, const kz_gbdt_data *train,
                                      const kz_gbdt_data *valid, const kz_gbdt_dist *dist,
                                      kz_gbdt_booster **out);
/* The metrics being tracked (kz_gbdt_resolve_metrics: the common ones of the
 * task, then p->metrics or the default; the last decides), count in *n. */
const kz_gbdt_metric *kz_gbdt_booster_metrics(const kz_gbdt_booster *b, int *n);
/* One boosting round; train_m / valid_m (either may be NULL: not computed)
 * receive the metrics after it (valid_m NaN without a valid set). *stop
 * becomes 1 after the last round or when early stopping triggers. */
kz_status kz_gbdt_booster_round(kz_gbdt_booster *b, double *train_m, double *valid_m, int *stop);
/* The round with the best valid metric (0-based), or -1. */
int kz_gbdt_booster_best_round(const kz_gbdt_booster *b, double *best_value);
/* Hands over the model (trees after the best round dropped when early
 * stopping was on) and frees the booster. */
kz_status kz_gbdt_booster_finish(kz_gbdt_booster *b, kz_gbdt_model **out);
void kz_gbdt_booster_free(kz_gbdt_booster *b);

/* What a checkpoint keeps of a booster between rounds so that training can
 * go on bit for bit (engine/train/gbdt_checkpoint.h): the round bookkeeping
 * (early stopping's best round and value; rounds since the best follow from
 * them), the random stream that row and feature sampling draw from, the
 * margins and the trees so far. The margins equal a walk of the trees (the
 * leaf values added to them are the stored floats, in tree order); they are
 * kept so that a resume needs no prediction pass. With train.init_from the
 * trees start with the model's, then round x K more. */
typedef struct kz_gbdt_booster_state {
  int round;      /* rounds done */
  int best_round; /* 0-based; -1 before the first valid metric */
  double best_value;
  uint64_t rng; /* the sampling stream (the GPU booster has none: 0) */
  int K;        /* output groups */
  int64_t n, nv;
  const double *margin;       /* [n x K] */
  const double *vmargin;      /* [nv x K]; NULL when nv is 0 */
  const kz_gbdt_model *model; /* the trees so far (round x K of them), base_score */
} kz_gbdt_booster_state;

/* A view of b's state (pointers into b, valid until its next round). */
void kz_gbdt_booster_get_state(const kz_gbdt_booster *b, kz_gbdt_booster_state *s);
/* Continues from s, a checkpoint of a booster built from the same
 * parameters and data: checks the shapes and base scores against b's (an
 * error names `where`), validates the trees, copies the margins and the
 * bookkeeping, and takes over *trees (set to NULL; a model whose trees,
 * tree_group and base_score are used; freed on error too). */
kz_status kz_gbdt_booster_set_state(kz_gbdt_booster *b, const kz_gbdt_booster_state *s,
                                    kz_gbdt_model **trees, const char *where);

/* Continuation (train.init_from, docs/GBDT.md "Continuing and refreshing a
 * model"), right after create: the booster starts from *init's base score
 * and trees (taken over: *init set to NULL, freed on error too) with margins
 * from its predictions, and each round appends K trees after them. The
 * objective, groups, feature counts and dictionary sizes must match the
 * booster's (names and classes are the caller's to compare); an error names
 * `where`. A checkpoint of such a run resumes after the same call. */
kz_status kz_gbdt_booster_init_from(kz_gbdt_booster *b, kz_gbdt_model **init, const char *where);

/* All rounds at once (tests, bench): no logging. */
kz_status kz_gbdt_train(const kz_gbdt_params *p, const kz_gbdt_data *train,
                        const kz_gbdt_data *valid, kz_gbdt_model **out);

#endif
