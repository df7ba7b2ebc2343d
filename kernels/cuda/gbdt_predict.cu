/* GBDT prediction: one thread per row walks every tree of the forest and
 * adds the leaf it reaches to its row's margin for the tree's group. Sums are
 * double and run in tree order, so they equal a host loop in double. A thread
 * owns its row's outputs, so no atomics are needed. */
#include <math.h>

#include "kernels/cuda/gbdt_common.cuh"

namespace {

__global__ void predict_kernel(kz_gbdt_dev_forest fo, const float *x, int64_t n, int32_t n_features,
                               double *out) {
  const int G = fo.num_group;
  for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < n;
       r += (int64_t)gridDim.x * blockDim.x) {
    const float *xr = x + r * n_features;
    double *o = out + r * G;
    for (int k = 0; k < G; ++k) o[k] = fo.base_score ? fo.base_score[k] : 0.0;
    for (int t = 0; t < fo.n_trees; ++t) {
      const int32_t base = fo.tree_offset[t];
      const int32_t n_nodes = fo.tree_offset[t + 1] - base;
      const int k = fo.tree_group[t];
      if (k < 0 || k >= G) { /* checking on the host would mean a copy back; poison instead */
        for (int j = 0; j < G; ++j) o[j] = (double)NAN;
        continue;
      }
      int32_t node = 0;
      bool bad = n_nodes < 1;
      for (int32_t steps = 0; !bad && fo.left[base + node] >= 0; ++steps) {
        const int32_t i = base + node;
        const int32_t f = fo.feature[i];
        if (f < 0 || f >= n_features || steps >= n_nodes) {
          bad = true;
          break;
        }
        const float v = xr[f];
        const bool go_left = isnan(v) ? fo.default_left[i] != 0 : v < fo.threshold[i];
        node = go_left ? fo.left[i] : fo.right[i];
        if (node < 0 || node >= n_nodes) bad = true;
      }
      o[k] = bad ? (double)NAN : o[k] + (double)fo.leaf_value[base + node];
    }
  }
}

} // namespace

extern "C" kz_status kz_gbdt_dev_predict(kz_stream *s, const kz_gbdt_dev_forest *forest,
                                         const float *x, int64_t n, int32_t n_features,
                                         double *out) {
  static const char op[] = "gbdt predict";
  KZ_TRY(kz_gbdt_check_ptr(op, "forest", forest));
  KZ_TRY(kz_gbdt_check_count(op, "n", n));
  const kz_gbdt_dev_forest fo = *forest;
  if (fo.num_group < 1 || fo.num_group > 256)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: num_group = %d is not in 1..256", op, fo.num_group);
  if (fo.n_trees < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: n_trees = %d is negative", op, fo.n_trees);
  if (n_features < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: n_features = %d is negative", op, n_features);
  if (n == 0) return KZ_OK;
  KZ_TRY(kz_gbdt_check_ptr(op, "out", out));
  if (n_features > 0) KZ_TRY(kz_gbdt_check_ptr(op, "x", x));
  if (fo.n_trees > 0) {
    KZ_TRY(kz_gbdt_check_ptr(op, "forest.tree_offset", fo.tree_offset));
    KZ_TRY(kz_gbdt_check_ptr(op, "forest.tree_group", fo.tree_group));
    KZ_TRY(kz_gbdt_check_ptr(op, "forest.feature", fo.feature));
    KZ_TRY(kz_gbdt_check_ptr(op, "forest.threshold", fo.threshold));
    KZ_TRY(kz_gbdt_check_ptr(op, "forest.left", fo.left));
    KZ_TRY(kz_gbdt_check_ptr(op, "forest.right", fo.right));
    KZ_TRY(kz_gbdt_check_ptr(op, "forest.default_left", fo.default_left));
    KZ_TRY(kz_gbdt_check_ptr(op, "forest.leaf_value", fo.leaf_value));
  }
  KZ_TRY(kz_cuda_enter(s, op));
  int block;
  KZ_TRY(kz_gbdt_row_block(s, op, &block));
  predict_kernel<<<kz_cuda_grid_for(n, block), block, 0, kz_cuda_stream(s)>>>(fo, x, n, n_features,
                                                                              out);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}
