/* The GPU histogram booster (docs/GBDT.md, "GPU"): the CPU booster's rounds
 * (booster.h) with the heavy steps on a CUDA device through the kernels of
 * kernels/gbdt_device.h. Bin codes and labels are uploaded once; each round
 * computes gradients and quantises them on the device, grows depthwise trees
 * level by level (histograms of the smaller children from rows, the larger
 * by subtraction, split search and stable row partitions on the device), and
 * returns leaf values from the de-quantised integer sums. The host keeps the
 * margins in double, as the CPU booster does, updated from the device's final
 * row order (every leaf's rows are one contiguous range of it).
 *
 * Not on the GPU (refused with the parameter's name): categorical features,
 * grow_policy lossguide, subsample / colsample_bytree / colsample_bynode < 1. */
#ifndef KZ_MODELS_GBDT_BOOSTER_GPU_H
#define KZ_MODELS_GBDT_BOOSTER_GPU_H

#include <stdint.h>

#include "kaizen.h"
#include "kernels/core/backend.h"
#include "kernels/gbdt_device.h"
#include "models/gbdt/booster.h"

/* The device kernels the driver calls, with the signatures and contracts of
 * kernels/gbdt_device.h. kz_gbdt_gpu_cuda_kernels() is that header's table;
 * a test may pass host emulations that run on the CPU device, so the driver's
 * bookkeeping is exercised on machines without a GPU. */
typedef struct kz_gbdt_gpu_kernels {
  kz_status (*gradients)(kz_stream *s, const kz_gbdt_dev_loss *loss, const float *margin,
                         const float *label, const float *weight, int64_t n, float *gh);
  kz_status (*quantise)(kz_stream *s, const float *gh, int64_t n, int32_t num_group, float *max_dev,
                        double *scale_dev, int64_t *qgh);
  kz_status (*histogram)(kz_stream *s, const uint8_t *codes, int64_t n_rows, int32_t n_features,
                         const int32_t *rows, int64_t n_node_rows, const int64_t *qgh,
                         int64_t qgh_stride, int64_t *hist);
  kz_status (*hist_subtract)(kz_stream *s, const int64_t *parent, const int64_t *child,
                             int64_t *out, int32_t n_features);
  kz_status (*evaluate_splits)(kz_stream *s, const int64_t *hist, int32_t n_nodes,
                               int32_t n_features, const int32_t *n_bins,
                               const uint8_t *feature_mask, const double *scale_dev,
                               const kz_gbdt_dev_split_params *params,
                               kz_gbdt_dev_split *per_feature, kz_gbdt_dev_split *best);
  kz_status (*partition)(kz_stream *s, const uint8_t *codes, int32_t n_features,
                         const int32_t *rows, int64_t n, int32_t feature, int32_t bin,
                         int32_t default_left, int32_t *out_rows, int64_t *n_left_dev);
  kz_status (*predict)(kz_stream *s, const kz_gbdt_dev_forest *forest, const float *x, int64_t n,
                       int32_t n_features, double *out);
} kz_gbdt_gpu_kernels;

const kz_gbdt_gpu_kernels *kz_gbdt_gpu_cuda_kernels(void);

/* Where the booster runs. kernels NULL: the CUDA kernels, and device must be
 * a CUDA device; otherwise any device whose memory the kernels understand. */
typedef struct kz_gbdt_gpu_options {
  kz_device device;
  const kz_gbdt_gpu_kernels *kernels;
} kz_gbdt_gpu_options;

/* KZ_OK when the GPU booster can train with these parameters on data with
 * n_categorical categorical features; else KZ_ERR_UNSUPPORTED naming the
 * first parameter it cannot honour. Needs no device. */
kz_status kz_gbdt_gpu_check_params(const kz_gbdt_params *p, int n_categorical);

/* KZ_OK when o can run: a build with CUDA and the CUDA device present (or
 * test kernels given). "built without CUDA" / the device's absence otherwise. */
kz_status kz_gbdt_gpu_check_device(const kz_gbdt_gpu_options *o);

typedef struct kz_gbdt_gpu_booster kz_gbdt_gpu_booster;

/* As kz_gbdt_booster_create (same preconditions and checks), on o's device. */
kz_status kz_gbdt_gpu_booster_create(const kz_gbdt_params *p, const kz_gbdt_data *train,
                                     const kz_gbdt_data *valid, const kz_gbdt_gpu_options *o,
                                     kz_gbdt_gpu_booster **out);
const kz_gbdt_metric *kz_gbdt_gpu_booster_metrics(const kz_gbdt_gpu_booster *b, int *n);
kz_status kz_gbdt_gpu_booster_round(kz_gbdt_gpu_booster *b, double *train_m, double *valid_m,
                                    int *stop);
int kz_gbdt_gpu_booster_best_round(const kz_gbdt_gpu_booster *b, double *best_value);
/* As kz_gbdt_booster_get_state / set_state (the GPU booster samples
 * nothing: rng is 0). */
void kz_gbdt_gpu_booster_get_state(const kz_gbdt_gpu_booster *b, kz_gbdt_booster_state *s);
kz_status kz_gbdt_gpu_booster_set_state(kz_gbdt_gpu_booster *b, const kz_gbdt_booster_state *s,
                                        kz_gbdt_model **trees, const char *where);
/* As kz_gbdt_booster_init_from (continuation from a model). */
kz_status kz_gbdt_gpu_booster_init_from(kz_gbdt_gpu_booster *b, kz_gbdt_model **init,
                                        const char *where);
kz_status kz_gbdt_gpu_booster_finish(kz_gbdt_gpu_booster *b, kz_gbdt_model **out);
void kz_gbdt_gpu_booster_free(kz_gbdt_gpu_booster *b);

/* All rounds at once (tests, bench). */
kz_status kz_gbdt_gpu_train(const kz_gbdt_params *p, const kz_gbdt_data *train,
                            const kz_gbdt_data *valid, const kz_gbdt_gpu_options *o,
                            kz_gbdt_model **out);

/* predict_gpu.c: kz_gbdt_predict_margin on o's device through the predict
 * kernel. Models with categorical splits are refused (the kernel has numeric
 * splits only). num [n x n_numeric], cat as for the CPU (unused), out
 * [n x num_group]. */
kz_status kz_gbdt_predict_margin_gpu(const kz_gbdt_model *m, int64_t n, const float *num,
                                     const int32_t *cat, const kz_gbdt_gpu_options *o, double *out);

#endif
