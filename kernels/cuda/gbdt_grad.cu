/* GBDT gradients per objective and their quantisation to integers.
 *
 * Quantising with a per-round scale (from the largest |g| and h of each
 * output group and the row count, kz_gbdt_dev_quant_scale) turns every
 * histogram into a sum of int64: integer atomics give the same sums in any
 * order, so the GPU booster is deterministic. The largest value comes from
 * an atomic max over float bit patterns (non-negative floats order like
 * their bits), which is order-independent too. */
#include "kernels/cuda/gbdt_common.cuh"

namespace {

__device__ __forceinline__ void grad_row(const kz_gbdt_dev_loss &loss, const float *m, float y,
                                         float w, float *o) {
  switch (loss.objective) {
  case KZ_GBDT_DEV_SQUAREDERROR:
    o[0] = (m[0] - y) * w;
    o[1] = w;
    break;
  case KZ_GBDT_DEV_ABSOLUTEERROR: {
    const float d = m[0] - y;
    o[0] = (d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f)) * w;
    o[1] = w;
    break;
  }
  case KZ_GBDT_DEV_QUANTILE: {
    const float a = (float)loss.quantile_alpha;
    o[0] = (y >= m[0] ? -a : 1.0f - a) * w;
    o[1] = w;
    break;
  }
  case KZ_GBDT_DEV_LOGISTIC: {
    /* p and q = 1 - p without the subtraction: e = exp(-|m|) <= 1, so
     * neither 1 + e nor its quotients lose relative precision. */
    const float e = expf(-fabsf(m[0])), d = 1.0f + e;
    const float p = m[0] >= 0.0f ? 1.0f / d : e / d;
    const float q = m[0] >= 0.0f ? e / d : 1.0f / d;
    o[0] = (p * (1.0f - y) - q * y) * w;
    o[1] = fmaxf(p * q, 1e-16f) * w;
    break;
  }
  case KZ_GBDT_DEV_SOFTMAX: {
    /* The largest class (the first of equal maxima) has term exp(0) = 1; its
     * q = 1 - p is the other terms' sum over the total, without the
     * subtraction. Every other class has p <= 1/2, so 1 - p is exact enough. */
    const int G = loss.num_group;
    int top = 0;
    for (int k = 1; k < G; ++k)
      if (m[k] > m[top]) top = k;
    const float mx = m[top];
    float rest = 0.0f;
    for (int k = 0; k < G; ++k)
      if (k != top) rest += expf(m[k] - mx);
    const float sum = 1.0f + rest;
    const int cls = (int)y;
    for (int k = 0; k < G; ++k) {
      const float p = k == top ? 1.0f / sum : expf(m[k] - mx) / sum;
      const float q = k == top ? rest / sum : 1.0f - p;
      o[2 * k] = (k == cls ? -q : p) * w;
      o[2 * k + 1] = fmaxf(2.0f * p * q, 1e-16f) * w;
    }
    break;
  }
  case KZ_GBDT_DEV_POISSON:
    o[0] = (expf(m[0]) - y) * w;
    o[1] = expf(m[0] + (float)loss.max_delta_step) * w;
    break;
  }
}

__global__ void grad_kernel(kz_gbdt_dev_loss loss, const float *margin, const float *label,
                            const float *weight, int64_t n, float *gh) {
  const int64_t G = loss.num_group;
  for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < n;
       r += (int64_t)gridDim.x * blockDim.x)
    grad_row(loss, margin + r * G, label[r], weight ? weight[r] : 1.0f, gh + r * G * 2);
}

/* cols = 2 * num_group columns of |gh|; shared holds one running max per
 * column so global atomics happen once per block and column. */
__global__ void absmax_kernel(const float *gh, int64_t total, int cols, unsigned *max_bits) {
  extern __shared__ unsigned col_max[];
  for (int c = threadIdx.x; c < cols; c += blockDim.x) col_max[c] = 0u;
  __syncthreads();
  const int64_t first = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  if (stride % cols == 0) {
    /* Every element of this thread lies in one column (always so for the
     * two columns of a single-output objective): a running max in a
     * register and one shared atomic, not one per element on two words. */
    unsigned m = 0u;
    for (int64_t i = first; i < total; i += stride) m = max(m, __float_as_uint(fabsf(gh[i])));
    if (m != 0u) atomicMax(&col_max[first % cols], m);
  } else {
    for (int64_t i = first; i < total; i += stride)
      atomicMax(&col_max[i % cols], __float_as_uint(fabsf(gh[i])));
  }
  __syncthreads();
  for (int c = threadIdx.x; c < cols; c += blockDim.x)
    if (col_max[c] != 0u) atomicMax(&max_bits[c], col_max[c]);
}

__global__ void scale_kernel(const float *max_v, int cols, int64_t n, double *scale) {
  for (int c = threadIdx.x; c < cols; c += blockDim.x)
    scale[c] = kz_gbdt_dev_quant_scale(max_v[c], n);
}

/* The scale is a power of two, so the division is exact and only the
 * rounding to an integer (half to even, as the host's llrint) loses bits. */
__global__ void quantise_kernel(const float *gh, int64_t total, int cols, const double *scale,
                                int64_t *qgh) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    const double sc = scale[i % cols];
    qgh[i] = sc > 0.0 ? (int64_t)__double2ll_rn(__ddiv_rn((double)gh[i], sc)) : 0;
  }
}

} // namespace

extern "C" kz_status kz_gbdt_dev_gradients(kz_stream *s, const kz_gbdt_dev_loss *loss,
                                           const float *margin, const float *label,
                                           const float *weight, int64_t n, float *gh) {
  static const char op[] = "gbdt gradients";
  KZ_TRY(kz_gbdt_check_ptr(op, "loss", loss));
  KZ_TRY(kz_gbdt_check_count(op, "n", n));
  if ((int)loss->objective < KZ_GBDT_DEV_SQUAREDERROR || loss->objective > KZ_GBDT_DEV_POISSON)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: unknown objective %d", op, (int)loss->objective);
  const int want_groups = loss->objective == KZ_GBDT_DEV_SOFTMAX ? -1 : 1;
  if (loss->num_group < 1 || loss->num_group > 256 || (want_groups == 1 && loss->num_group != 1))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: num_group = %d (softmax needs 1..256 classes, other objectives 1)", op,
                   loss->num_group);
  if (loss->objective == KZ_GBDT_DEV_QUANTILE &&
      !(loss->quantile_alpha > 0.0 && loss->quantile_alpha < 1.0))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: quantile_alpha = %g is not in (0, 1)", op,
                   loss->quantile_alpha);
  if (n == 0) return KZ_OK;
  KZ_TRY(kz_gbdt_check_ptr(op, "margin", margin));
  KZ_TRY(kz_gbdt_check_ptr(op, "label", label));
  KZ_TRY(kz_gbdt_check_ptr(op, "gh", gh));
  KZ_TRY(kz_cuda_enter(s, op));
  int block;
  KZ_TRY(kz_gbdt_row_block(s, op, &block));
  grad_kernel<<<kz_cuda_grid_for(n, block), block, 0, kz_cuda_stream(s)>>>(*loss, margin, label,
                                                                           weight, n, gh);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

extern "C" kz_status kz_gbdt_dev_quantise(kz_stream *s, const float *gh, int64_t n,
                                          int32_t num_group, float *max_dev, double *scale_dev,
                                          int64_t *qgh) {
  static const char op[] = "gbdt quantise";
  KZ_TRY(kz_gbdt_check_count(op, "n", n));
  if (num_group < 1 || num_group > 256)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: num_group = %d is not in 1..256", op, num_group);
  KZ_TRY(kz_gbdt_check_ptr(op, "max_dev", max_dev));
  KZ_TRY(kz_gbdt_check_ptr(op, "scale_dev", scale_dev));
  if (n > 0) {
    KZ_TRY(kz_gbdt_check_ptr(op, "gh", gh));
    KZ_TRY(kz_gbdt_check_ptr(op, "qgh", qgh));
  }
  KZ_TRY(kz_cuda_enter(s, op));
  int block;
  KZ_TRY(kz_gbdt_row_block(s, op, &block));
  const int cols = 2 * num_group;
  const int64_t total = n * cols;
  cudaStream_t st = kz_cuda_stream(s);
  /* Zero bits are +0.0f: the max of no rows is 0 and gives scale 0. */
  KZ_CUDA_CHECK(cudaMemsetAsync(max_dev, 0, sizeof(float) * cols, st), op);
  if (total > 0) {
    absmax_kernel<<<kz_cuda_grid_for(total, block), block, sizeof(unsigned) * cols, st>>>(
        gh, total, cols, reinterpret_cast<unsigned *>(max_dev));
    KZ_CUDA_CHECK_LAUNCH(op);
  }
  scale_kernel<<<1, KZ_MAX_BLOCK / 2, 0, st>>>(max_dev, cols, n, scale_dev);
  KZ_CUDA_CHECK_LAUNCH(op);
  if (total > 0) {
    quantise_kernel<<<kz_cuda_grid_for(total, block), block, 0, st>>>(gh, total, cols, scale_dev,
                                                                      qgh);
    KZ_CUDA_CHECK_LAUNCH(op);
  }
  return KZ_OK;
}
