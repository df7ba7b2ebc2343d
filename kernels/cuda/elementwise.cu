/* Elementwise ops: bias add, residual add, GELU and ELU forward/backward.
 *
 * One grid-stride kernel template serves them all; the per-op arithmetic is
 * a small functor. Each thread handles `vec` consecutive elements with one
 * float2/float4 access when every pointer allows it; the tail that does not
 * fill a vector is done element by element. Outputs may alias inputs: every
 * element is read and written by the same thread. */
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

struct bias_op {
  const float *bias;
  int64_t cols;
  __device__ float operator()(float x, float, float, int64_t i) const { return x + bias[i % cols]; }
};

struct add_op {
  __device__ float operator()(float a, float b, float, int64_t) const { return a + b; }
};

__device__ __forceinline__ float gelu(float x, kz_gelu_approx approx) {
  if (approx == KZ_GELU_TANH) {
    const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + tanhf(u));
  }
  return 0.5f * x * erfcf(-x * 0.7071067811865476f); /* erfc: no cancellation for x << 0 */
}

__device__ __forceinline__ float gelu_grad(float x, kz_gelu_approx approx) {
  if (approx == KZ_GELU_TANH) {
    const float x2 = x * x;
    const float t = tanhf(0.7978845608028654f * (x + 0.044715f * x2 * x));
    const float du = 0.7978845608028654f * (1.0f + 3.0f * 0.044715f * x2);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
  }
  /* Phi(x) + x * phi(x) */
  return 0.5f * erfcf(-x * 0.7071067811865476f) + x * 0.3989422804014327f * expf(-0.5f * x * x);
}

struct gelu_op {
  kz_gelu_approx approx;
  __device__ float operator()(float x, float, float, int64_t) const { return gelu(x, approx); }
};

struct gelu_bwd_op {
  kz_gelu_approx approx;
  bool accumulate;
  __device__ float operator()(float x, float dy, float dx, int64_t) const {
    const float g = dy * gelu_grad(x, approx);
    return accumulate ? dx + g : g;
  }
};

struct elu_op {
  float alpha;
  __device__ float operator()(float x, float, float, int64_t) const {
    return x > 0.0f ? x : alpha * expm1f(x); /* expm1: no cancellation near 0 */
  }
};

struct elu_bwd_op {
  float alpha;
  bool accumulate;
  __device__ float operator()(float x, float dy, float dx, int64_t) const {
    const float g = dy * (x > 0.0f ? 1.0f : alpha * expf(x));
    return accumulate ? dx + g : g;
  }
};

struct tanh_op {
  float scale;
  __device__ float operator()(float x, float, float, int64_t) const { return tanhf(scale * x); }
};

struct tanh_bwd_op {
  float scale;
  bool accumulate;
  __device__ float operator()(float x, float dy, float dx, int64_t) const {
    const float c = coshf(scale * x); /* 1/cosh^2: 1 - tanh^2 cancels for large |x| */
    const float g = dy * (scale / (c * c));
    return accumulate ? dx + g : g;
  }
};

/* NIN inputs (1..3) are read; unread ones may be NULL. */
template <int V, int NIN, class Op>
__global__ void ew_kernel(Op op, const float *in0, const float *in1, const float *in2, float *y,
                          int64_t n) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  const int64_t first = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t nvec = n / V;
  for (int64_t v = first; v < nvec; v += stride) {
    const int64_t base = v * V;
    float a[V], b[V] = {}, c[V] = {}, r[V];
    kz_load_vec<V>(in0 + base, a);
    if constexpr (NIN > 1) kz_load_vec<V>(in1 + base, b);
    if constexpr (NIN > 2) kz_load_vec<V>(in2 + base, c);
#pragma unroll
    for (int k = 0; k < V; ++k) r[k] = op(a[k], b[k], c[k], base + k);
    kz_store_vec<V>(y + base, r);
  }
  for (int64_t i = nvec * V + first; i < n; i += stride) {
    const float b = NIN > 1 ? in1[i] : 0.0f;
    const float c = NIN > 2 ? in2[i] : 0.0f;
    y[i] = op(in0[i], b, c, i);
  }
}

template <int NIN, class Op>
kz_status ew_launch(kz_stream *s, const char *name, Op op, const float *in0, const float *in1,
                    const float *in2, float *y, int64_t n) {
  KZ_TRY(kz_cuda_enter(s, name));
  const int block = kz_stream_knob(s, KZ_KNOB_CUDA_ELEMENTWISE_BLOCK);
  int vec = kz_stream_knob(s, KZ_KNOB_CUDA_ELEMENTWISE_VEC);
  KZ_TRY(kz_cuda_check_block(name, "elementwise.block", block));
  if (vec != 1 && vec != 2 && vec != 4)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: kernel config elementwise.vec = %d (need 1, 2 or 4)",
                   name, vec);
  if (n < 0) return kz_fail(KZ_ERR_INVALID_ARG, "%s: negative size %lld", name, (long long)n);
  if (n == 0) return KZ_OK;
  /* Views carved at odd offsets fall back to narrower accesses. */
  while (vec > 1 && !(kz_aligned(in0, 4u * vec) && kz_aligned(in1, 4u * vec) &&
                      kz_aligned(in2, 4u * vec) && kz_aligned(y, 4u * vec)))
    vec /= 2;
  const unsigned grid = kz_cuda_grid_for((n + vec - 1) / vec, block);
  cudaStream_t st = kz_cuda_stream(s);
  if (vec == 4)
    ew_kernel<4, NIN><<<grid, block, 0, st>>>(op, in0, in1, in2, y, n);
  else if (vec == 2)
    ew_kernel<2, NIN><<<grid, block, 0, st>>>(op, in0, in1, in2, y, n);
  else
    ew_kernel<1, NIN><<<grid, block, 0, st>>>(op, in0, in1, in2, y, n);
  KZ_CUDA_CHECK_LAUNCH(name);
  return KZ_OK;
}

} // namespace

extern "C" kz_status kz_cuda_bias_add_fwd(kz_stream *s, const float *x, const float *bias, float *y,
                                          int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "bias_add: negative shape [%lld, %lld]", (long long)rows,
                   (long long)cols);
  if (rows == 0 || cols == 0) return KZ_OK;
  return ew_launch<1>(s, "bias_add", bias_op{bias, cols}, x, nullptr, nullptr, y, rows * cols);
}

extern "C" kz_status kz_cuda_add(kz_stream *s, const float *a, const float *b, float *y,
                                 int64_t n) {
  return ew_launch<2>(s, "add", add_op{}, a, b, nullptr, y, n);
}

extern "C" kz_status kz_cuda_gelu_fwd(kz_stream *s, const float *x, float *y, int64_t n,
                                      kz_gelu_approx approx) {
  if (approx != KZ_GELU_ERF && approx != KZ_GELU_TANH)
    return kz_fail(KZ_ERR_INVALID_ARG, "gelu: unknown approximation %d", (int)approx);
  return ew_launch<1>(s, "gelu", gelu_op{approx}, x, nullptr, nullptr, y, n);
}

extern "C" kz_status kz_cuda_gelu_bwd(kz_stream *s, const float *x, const float *dy, float *dx,
                                      int64_t n, kz_gelu_approx approx, bool accumulate) {
  if (approx != KZ_GELU_ERF && approx != KZ_GELU_TANH)
    return kz_fail(KZ_ERR_INVALID_ARG, "gelu_bwd: unknown approximation %d", (int)approx);
  if (accumulate) return ew_launch<3>(s, "gelu_bwd", gelu_bwd_op{approx, true}, x, dy, dx, dx, n);
  return ew_launch<2>(s, "gelu_bwd", gelu_bwd_op{approx, false}, x, dy, nullptr, dx, n);
}

extern "C" kz_status kz_cuda_elu_fwd(kz_stream *s, const float *x, float *y, int64_t n,
                                     float alpha) {
  return ew_launch<1>(s, "elu", elu_op{alpha}, x, nullptr, nullptr, y, n);
}

extern "C" kz_status kz_cuda_elu_bwd(kz_stream *s, const float *x, const float *dy, float *dx,
                                     int64_t n, float alpha, bool accumulate) {
  if (accumulate) return ew_launch<3>(s, "elu_bwd", elu_bwd_op{alpha, true}, x, dy, dx, dx, n);
  return ew_launch<2>(s, "elu_bwd", elu_bwd_op{alpha, false}, x, dy, nullptr, dx, n);
}

extern "C" kz_status kz_cuda_tanh_fwd(kz_stream *s, const float *x, float *y, int64_t n,
                                      float scale) {
  return ew_launch<1>(s, "tanh", tanh_op{scale}, x, nullptr, nullptr, y, n);
}

extern "C" kz_status kz_cuda_tanh_bwd(kz_stream *s, const float *x, const float *dy, float *dx,
                                      int64_t n, float scale, bool accumulate) {
  if (accumulate) return ew_launch<3>(s, "tanh_bwd", tanh_bwd_op{scale, true}, x, dy, dx, dx, n);
  return ew_launch<2>(s, "tanh_bwd", tanh_bwd_op{scale, false}, x, dy, nullptr, dx, n);
}
