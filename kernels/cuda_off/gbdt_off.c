/* Built instead of kernels/cuda/gbdt_*.cu when CUDA is off: the GPU booster
 * kernels exist as symbols so callers link, and each one says why it cannot
 * run rather than crash. */
#include "kernels/core/error.h"
#include "kernels/gbdt_device.h"

static kz_status no_cuda(const char *fn) {
  return kz_fail(KZ_ERR_UNSUPPORTED, "%s: built without CUDA (configure with -DKZ_CUDA=ON)", fn);
}

kz_status kz_gbdt_dev_gradients(kz_stream *s, const kz_gbdt_dev_loss *loss, const float *margin,
                                const float *label, const float *weight, int64_t n, float *gh) {
  return no_cuda("kz_gbdt_dev_gradients");
}

kz_status kz_gbdt_dev_quantise(kz_stream *s, const float *gh, int64_t n, int32_t num_group,
                               float *max_dev, double *scale_dev, int64_t *qgh) {
  return no_cuda("kz_gbdt_dev_quantise");
}

kz_status kz_gbdt_dev_histogram(kz_stream *s, const uint8_t *codes, int64_t n_rows,
                                int32_t n_features, const int32_t *rows, int64_t n_node_rows,
                                const int64_t *qgh, int64_t qgh_stride, int64_t *hist) {
  return no_cuda("kz_gbdt_dev_histogram");
}

kz_status kz_gbdt_dev_hist_subtract(kz_stream *s, const int64_t *parent, const int64_t *child,
                                    int64_t *out, int32_t n_features) {
  return no_cuda("kz_gbdt_dev_hist_subtract");
}

kz_status kz_gbdt_dev_evaluate_splits(kz_stream *s, const int64_t *hist, int32_t n_nodes,
                                      int32_t n_features, const int32_t *n_bins,
                                      const uint8_t *feature_mask, const double *scale_dev,
                                      const kz_gbdt_dev_split_params *params,
                                      kz_gbdt_dev_split *per_feature, kz_gbdt_dev_split *best) {
  return no_cuda("kz_gbdt_dev_evaluate_splits");
}

kz_status kz_gbdt_dev_partition(kz_stream *s, const uint8_t *codes, int32_t n_features,
                                const int32_t *rows, int64_t n, int32_t feature, int32_t bin,
                                int32_t default_left, int32_t *out_rows, int64_t *n_left_dev) {
  return no_cuda("kz_gbdt_dev_partition");
}

kz_status kz_gbdt_dev_predict(kz_stream *s, const kz_gbdt_dev_forest *forest, const float *x,
                              int64_t n, int32_t n_features, double *out) {
  return no_cuda("kz_gbdt_dev_predict");
}
