/* CUDA ops of the MLP: leaky ReLU, dropout, the MSE loss, standardisation of
 * numeric inputs and the column-block copy. Grid-stride loops, one element a
 * thread; each element follows the CPU's float/double steps, so a model
 * trains to the same numbers on both where the GEMMs agree. */
#include <math.h>

#include "kernels/core/splitmix64.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/each.cuh"

namespace {

struct leaky_fwd {
  const float *x;
  float *y;
  float slope;
  __device__ void operator()(int64_t i) const {
    const float v = x[i];
    y[i] = v > 0.0f ? v : slope == 0.0f ? 0.0f : slope * v;
  }
};

struct leaky_bwd {
  const float *x, *dy;
  float *dx;
  float slope;
  bool accumulate;
  __device__ void operator()(int64_t i) const {
    const float g = x[i] > 0.0f ? dy[i] : slope == 0.0f ? 0.0f : slope * dy[i];
    dx[i] = accumulate ? dx[i] + g : g;
  }
};

struct dropout_fwd {
  const float *x;
  float *y, *mask;
  double p;
  float keep_scale;
  uint64_t key;
  __device__ void operator()(int64_t i) const {
    uint64_t st = key + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
    const float m = kz_splitmix64_unit(&st) >= p ? keep_scale : 0.0f;
    mask[i] = m;
    y[i] = x[i] * m;
  }
};

struct dropout_bwd {
  const float *dy, *mask;
  float *dx;
  bool accumulate;
  __device__ void operator()(int64_t i) const {
    const float g = dy[i] * mask[i];
    dx[i] = accumulate ? dx[i] + g : g;
  }
};

struct mse_fwd {
  const float *pred, *target;
  float *losses;
  __device__ void operator()(int64_t i) const {
    const float d = pred[i] - target[i];
    losses[i] = isnan(target[i]) ? 0.0f : __fmul_rn(d, d); /* no fused multiply-add */
  }
};

struct mse_bwd {
  const float *pred, *target;
  float *dpred;
  double scale;
  bool accumulate;
  __device__ void operator()(int64_t i) const {
    const float g = isnan(target[i])
                        ? 0.0f
                        : (float)__dmul_rn(2.0 * scale, (double)pred[i] - (double)target[i]);
    dpred[i] = accumulate ? dpred[i] + g : g;
  }
};

struct standardize_fwd {
  const float *v;
  const double *mean, *std;
  const int32_t *miss;
  float *x;
  int64_t cols, x_cols;
  double inf_z;
  __device__ void operator()(int64_t k) const {
    const int64_t r = k / cols, i = k % cols;
    const float a = v[k];
    float *row = x + r * x_cols;
    const bool missing = isnan(a);
    row[i] = missing    ? 0.0f
             : isinf(a) ? (float)copysign(inf_z, (double)a)
                        : (float)(((double)a - mean[i]) / std[i]);
    if (miss[i] >= 0) row[cols + miss[i]] = missing ? 1.0f : 0.0f;
  }
};

struct copy_cols_op {
  const float *src;
  float *dst;
  int64_t src_ld, dst_ld, cols;
  __device__ void operator()(int64_t k) const {
    const int64_t r = k / cols, c = k % cols;
    dst[r * dst_ld + c] = src[r * src_ld + c];
  }
};

} // namespace

extern "C" kz_status kz_cuda_leaky_relu_fwd(kz_stream *s, const float *x, float *y, int64_t n,
                                            float slope) {
  return kz_cuda_each(s, "leaky_relu", n, leaky_fwd{x, y, slope});
}

extern "C" kz_status kz_cuda_leaky_relu_bwd(kz_stream *s, const float *x, const float *dy,
                                            float *dx, int64_t n, float slope, bool accumulate) {
  return kz_cuda_each(s, "leaky_relu_bwd", n, leaky_bwd{x, dy, dx, slope, accumulate});
}

extern "C" kz_status kz_cuda_dropout_fwd(kz_stream *s, const float *x, float *y, float *mask,
                                         int64_t n, double p, uint64_t key) {
  return kz_cuda_each(s, "dropout", n, dropout_fwd{x, y, mask, p, (float)(1.0 / (1.0 - p)), key});
}

extern "C" kz_status kz_cuda_dropout_bwd(kz_stream *s, const float *dy, const float *mask,
                                         float *dx, int64_t n, bool accumulate) {
  return kz_cuda_each(s, "dropout_bwd", n, dropout_bwd{dy, mask, dx, accumulate});
}

extern "C" kz_status kz_cuda_mse_fwd(kz_stream *s, const float *pred, const float *target,
                                     float *losses, int64_t n) {
  return kz_cuda_each(s, "mse", n, mse_fwd{pred, target, losses});
}

extern "C" kz_status kz_cuda_mse_bwd(kz_stream *s, const float *pred, const float *target,
                                     float *dpred, int64_t n, double scale, bool accumulate) {
  return kz_cuda_each(s, "mse_bwd", n, mse_bwd{pred, target, dpred, scale, accumulate});
}

extern "C" kz_status kz_cuda_standardize_fwd(kz_stream *s, const float *v, const double *mean,
                                             const double *std, const int32_t *miss, float *x,
                                             int64_t rows, int64_t cols, int64_t x_cols,
                                             double inf_z) {
  if (cols <= 0) return KZ_OK;
  return kz_cuda_each(s, "standardize", rows * cols,
                      standardize_fwd{v, mean, std, miss, x, cols, x_cols, inf_z});
}

extern "C" kz_status kz_cuda_copy_cols(kz_stream *s, const float *src, int64_t src_ld, float *dst,
                                       int64_t dst_ld, int64_t rows, int64_t cols) {
  if (cols <= 0) return KZ_OK;
  return kz_cuda_each(s, "copy_cols", rows * cols, copy_cols_op{src, dst, src_ld, dst_ld, cols});
}
