/* The Temporal Fusion Transformer as a neural model of the trainer
 * (models/nn_model.h, model.type: tft; docs/MODELS.md "## tft").
 *
 * Examples are windows: encoder_length steps of history and horizon steps
 * to forecast, cut from the series of a timeseries data set. The trainer
 * hands out shard rows; a training row stands for the window whose first
 * forecast step it is (so an epoch is one pass over the windows, shuffled as
 * rows are), and rows without a full window in the training split, or off
 * the stride, contribute nothing. Evaluation and prediction take whole data
 * sets (eval_dataset, predict_dataset): a window needs its series' history. */
#ifndef KZ_MODELS_TFT_MODEL_H
#define KZ_MODELS_TFT_MODEL_H

#include <math.h>

#include "models/nn_model.h"
#include "models/tft/tft_net.h"

enum { KZ_TFT_MAX_COLS = 32, KZ_TFT_MAX_CYCLES = 8 };

/* One series, time-ordered; the first n_train steps come from the train
 * split (evaluation forecasts only past them). Raw values, NaN missing. */
typedef struct kz_tft_series {
  int64_t n, n_train;
  int32_t code; /* the model's series code; -1: a series the model has not seen */
  double *time;
  float *y;     /* [n] */
  float *known; /* [n, kz_tft_known_width]: the known columns, then the calendar features */
  float *obs;   /* [n, n_obs] */
  int32_t *cat; /* [n, n_tvc]: time-varying categoricals, the model's codes, -1 unknown */
  float s_num[KZ_TFT_MAX_COLS];
  int32_t s_cat[KZ_TFT_MAX_COLS]; /* the model's codes, -1 unknown */
  int64_t cap;
} kz_tft_series;

typedef struct kz_tft_store {
  int64_t n;
  kz_tft_series *s;
  int32_t *by_code; /* dataset series code -> index in s (-1 none) */
  int32_t n_codes;
  int f_sid, f_time; /* the data set's series id and time fields (rows of its batches) */
} kz_tft_store;

/* A batch of windows on the host, in the layout of tft_net.h. */
typedef struct kz_tft_host_batch {
  int64_t B, cap;
  float *s_real, *past, *fut, *y;
  int32_t *s_cat;
  int32_t *past_cat, *fut_cat; /* [n_tvc, k, B], [n_kcat, tau, B] */
  int32_t *series;             /* per window: the series' store index, its p */
  int64_t *pos;
  float *w;          /* per window: the loss weight (model.loss_weight) */
  double *loc, *scl; /* per window: the target's scaling (y - loc) / scl */
} kz_tft_host_batch;

typedef struct kz_tft_model {
  kz_nn_model_base base; /* must stay first */
  kz_tft_dims dm;
  int64_t stride, season;
  int series_embedding, relative_time, sort_quantiles;
  int window_scaling; /* model.scaling: 0 series (mean, std), 1 window (the encoder's) */
  /* model.loss_weight: 0 none, 1 scale: a training window's loss weighs as
   * its target scale over the mean scale of the training series, so the
   * loss sums errors in target units as q-risk does */
  int loss_weight;
  double mean_scale; /* of the training series (create only) */
  int log_target;    /* model.transform: log: the network sees log1p(y), forecasts expm1 back */
  double dropout;    /* model.dropout: on every GLU's input while training (create only) */
  /* columns by name (the schema's static_num, static_cat, known_num,
   * observed_num fields) */
  int n_snum, n_scat, n_known_cols, n_obs;
  /* calendar features from the time column (date / datetime), known inputs
   * after the known columns: KZ_TFT_CAL_* ids */
  int n_cal, cal[4];
  /* model.cycles: periods in steps of meta.time_step; each adds the known
   * inputs sin and cos of its phase (after the calendar features) */
  int n_cyc;
  int64_t cyc[KZ_TFT_MAX_CYCLES];
  char cyc_names[2 * KZ_TFT_MAX_CYCLES][32]; /* "cycle48_sin", "cycle48_cos", ... */
  /* model.lags: the target L steps before as a known input (L >= horizon,
   * so the decoder's value precedes the window's origin), scaled as the
   * window's target; after the stored known inputs, before relative time */
  int n_lags;
  int64_t lags[KZ_TFT_MAX_CYCLES];
  char lag_names[KZ_TFT_MAX_CYCLES][32]; /* "lag12", ... */
  char *snum[KZ_TFT_MAX_COLS], *scat[KZ_TFT_MAX_COLS], *known[KZ_TFT_MAX_COLS],
      *obs[KZ_TFT_MAX_COLS];
  int32_t scat_card[KZ_TFT_MAX_COLS];
  /* time-varying categoricals (observed_cat, known_cat fields): the observed
   * ones, then the known ones, with their dictionaries */
  int n_ocat, n_kcat;
  char *tvc[KZ_TFT_MAX_COLS];
  int32_t tvc_card[KZ_TFT_MAX_COLS];
  char **tvc_names[KZ_TFT_MAX_COLS];
  char **scat_names[KZ_TFT_MAX_COLS]; /* category strings per static categorical */
  char *series_field_name;            /* the series id column ("all" when none) */
  int32_t n_series;
  char **series_names;
  double *y_mean, *y_std; /* per series (n_series), target scaling */
  double y_mean_all, y_std_all;
  double snum_mean[KZ_TFT_MAX_COLS], snum_std[KZ_TFT_MAX_COLS];
  double known_mean[KZ_TFT_MAX_COLS], known_std[KZ_TFT_MAX_COLS];
  double obs_mean[KZ_TFT_MAX_COLS], obs_std[KZ_TFT_MAX_COLS];
  double time_step;
  char metric_names[KZ_NN_MAX_METRICS][32];
  int n_metrics;
  kz_tft_net *net;
  kz_tft_host_batch hb;
  kz_tft_store train; /* the training split (create only; empty after a load) */
  int64_t train_windows, skipped_series;
  char *train_path; /* the data set train was loaded from (create only), for messages */
  uint64_t seed;    /* of init_params: tensors train.init_from's model lacks start from it */
  /* train.continual's old data (kz_nn_model_ops.train_source): the training
   * split of old_path; use_old: training rows are rows of it */
  kz_tft_store old;
  char *old_path;
  int use_old;
} kz_tft_model;

enum { KZ_TFT_CAL_HOUR, KZ_TFT_CAL_DOW, KZ_TFT_CAL_MONTH, KZ_TFT_CAL_YEAR };
extern const char *const kz_tft_cal_names[5]; /* "hour", "day_of_week", "month", "year", NULL */
/* Calendar feature `which` of a time in seconds since 1970-01-01 UTC: hour
 * of the day (fractional), day of the week (0 Monday), month (1-12), year. */
double kz_tft_calendar(double t, int which);
static inline int kz_tft_known_width(const kz_tft_model *m) {
  return m->n_known_cols + m->n_cal + 2 * m->n_cyc;
}
/* Derived known input j (0: the first calendar feature, then the cycles'
 * sin/cos pairs) at time t. */
double kz_tft_derived(const kz_tft_model *m, double t, int j);
/* Fills m->cyc_names from m->cyc and m->lag_names from m->lags. */
void kz_tft_name_cycles(kz_tft_model *m);

kz_status kz_tft_create(const kz_cfg_node *cfg, kz_dataset *train, kz_device device,
                        kz_nn_model **out);
kz_status kz_tft_from_meta(const char *meta_json, kz_device device, int64_t want_params,
                           kz_nn_model **out);
kz_status kz_tft_meta_json(const kz_nn_model *m, char **out);
/* model.loss_weight's mean scale: over the series of m->train that give
 * windows, by the model's scaling of each (create, init_from). */
void kz_tft_set_mean_scale(kz_tft_model *m);
/* Training windows of a store: series with k + tau steps, on the stride. */
int64_t kz_tft_count_windows(const kz_tft_model *m, const kz_tft_store *st, int64_t *skipped);
/* tft_continue.c: train.init_from (kz_nn_model_ops.init_from_model): m,
 * created from the job's config and data, becomes src continued on that
 * data (docs/MODELS.md, "Continuing a TFT"). */
kz_status kz_tft_init_from_model(kz_nn_model *m, const kz_nn_model *src, char *note, size_t cap);
/* kz_nn_model_ops.train_source: training rows from the data set at path
 * (its train split, loaded once) or, path NULL, from the job's data. */
kz_status kz_tft_train_source(kz_nn_model *m, const char *path);
/* Builds the network once dims are known (create, from_meta). */
kz_status kz_tft_finish(kz_tft_model *m, kz_device device, int64_t want_params, int allocate);
void kz_tft_free(kz_tft_model *m);

/* tft_data.c: series from a data set path (split "train", "valid" or NULL:
 * all), appended to store; columns resolved by name. */
kz_status kz_tft_store_load(const kz_tft_model *m, const char *path, const char *split,
                            kz_tft_store *store);
void kz_tft_store_free(kz_tft_store *st);
/* Fills window w of a batch of B windows: decoder starting at step p of
 * series s (steps past the series' end take known inputs carried forward
 * and relative time; their targets are NaN). */

kz_status kz_tft_batch_reserve(const kz_tft_model *m, kz_tft_host_batch *hb, int64_t B);
void kz_tft_batch_put(const kz_tft_model *m, const kz_tft_store *st, kz_tft_host_batch *hb,
                      int64_t w, int32_t s, int64_t p);
void kz_tft_batch_free(kz_tft_host_batch *hb);
kz_tft_batch kz_tft_batch_view(const kz_tft_host_batch *hb, int64_t B);
/* The target transform (model.transform) and its inverse: forecasts in
 * target units are kz_tft_untr(m, scaled * scale + loc). Quantiles carry
 * through a monotone transform, so each stays the same quantile. */
static inline double kz_tft_tr(const kz_tft_model *m, double y) {
  return m->log_target ? log1p(y) : y;
}
static inline double kz_tft_untr(const kz_tft_model *m, double z) {
  return m->log_target ? expm1(z) : z;
}
/* The target scaling of a series. */
void kz_tft_scale_of(const kz_tft_model *m, const kz_tft_series *s, double *mean, double *std);

/* tft_eval.c */
/* The windows train_batch's mean loss of b is over (kz_nn_model_ops.loss_items). */
kz_status kz_tft_loss_items(kz_nn_model *m, const kz_shard_batch *b, uint64_t seed, int64_t *items);
kz_status kz_tft_train_batch(kz_nn_model *m, const kz_shard_batch *b, double weight, uint64_t seed,
                             double *loss);
kz_status kz_tft_eval_batch(kz_nn_model *m, const kz_shard_batch *b, kz_nn_eval *acc);
void kz_tft_eval_finish(const kz_nn_model *m, const kz_nn_eval *acc, kz_nn_metrics *out);
kz_status kz_tft_predict_batch(kz_nn_model *m, const kz_shard_batch *b, float *out);
kz_status kz_tft_eval_dataset(kz_nn_model *m, const char *path, kz_nn_metrics *out);
kz_status kz_tft_predict_dataset(kz_nn_model *m, const char *path, const char *out_csv,
                                 const kz_nn_predict_opts *opts);

extern const kz_nn_model_ops kz_tft_ops;

#endif
