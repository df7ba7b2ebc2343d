/* f32 <-> bf16 casts. Grid-stride like the other elementwise kernels and
 * driven by the same knobs; rounding matches the host's kz_f32_to_bf16 bit
 * for bit (see kz_f32_to_bf16_bits). */
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

/* V consecutive bf16 values as one 2-, 4- or 8-byte access. */
template <int V> __device__ __forceinline__ void load_u16(const uint16_t *p, uint16_t (&r)[V]) {
  if constexpr (V == 4) {
    const uint2 w = *reinterpret_cast<const uint2 *>(p);
    r[0] = (uint16_t)(w.x & 0xFFFFu);
    r[1] = (uint16_t)(w.x >> 16);
    r[2] = (uint16_t)(w.y & 0xFFFFu);
    r[3] = (uint16_t)(w.y >> 16);
  } else if constexpr (V == 2) {
    const uint32_t w = *reinterpret_cast<const uint32_t *>(p);
    r[0] = (uint16_t)(w & 0xFFFFu);
    r[1] = (uint16_t)(w >> 16);
  } else {
    r[0] = *p;
  }
}

template <int V> __device__ __forceinline__ void store_u16(uint16_t *p, const uint16_t (&r)[V]) {
  if constexpr (V == 4) {
    *reinterpret_cast<uint2 *>(p) = make_uint2((uint32_t)r[0] | ((uint32_t)r[1] << 16),
                                               (uint32_t)r[2] | ((uint32_t)r[3] << 16));
  } else if constexpr (V == 2) {
    *reinterpret_cast<uint32_t *>(p) = (uint32_t)r[0] | ((uint32_t)r[1] << 16);
  } else {
    *p = r[0];
  }
}

template <int V> __global__ void to_bf16_kernel(const float *x, uint16_t *y, int64_t n) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  const int64_t first = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t nvec = n / V;
  for (int64_t v = first; v < nvec; v += stride) {
    float a[V];
    uint16_t r[V];
    kz_load_vec<V>(x + v * V, a);
#pragma unroll
    for (int k = 0; k < V; ++k) r[k] = kz_f32_to_bf16_bits(a[k]);
    store_u16<V>(y + v * V, r);
  }
  for (int64_t i = nvec * V + first; i < n; i += stride) y[i] = kz_f32_to_bf16_bits(x[i]);
}

template <int V> __global__ void to_f32_kernel(const uint16_t *x, float *y, int64_t n) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  const int64_t first = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t nvec = n / V;
  for (int64_t v = first; v < nvec; v += stride) {
    uint16_t a[V];
    float r[V];
    load_u16<V>(x + v * V, a);
#pragma unroll
    for (int k = 0; k < V; ++k) r[k] = kz_bf16_bits_to_f32(a[k]);
    kz_store_vec<V>(y + v * V, r);
  }
  for (int64_t i = nvec * V + first; i < n; i += stride) y[i] = kz_bf16_bits_to_f32(x[i]);
}

/* Validates the knobs and picks the widest vector both pointers allow. */
kz_status cast_config(kz_stream *s, const char *name, const void *f32, const void *bf16, int64_t n,
                      int *block, int *vec) {
  KZ_TRY(kz_cuda_enter(s, name));
  *block = kz_stream_knob(s, KZ_KNOB_CUDA_ELEMENTWISE_BLOCK);
  *vec = kz_stream_knob(s, KZ_KNOB_CUDA_ELEMENTWISE_VEC);
  KZ_TRY(kz_cuda_check_block(name, "elementwise.block", *block));
  if (*vec != 1 && *vec != 2 && *vec != 4)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: kernel config elementwise.vec = %d (need 1, 2 or 4)",
                   name, *vec);
  if (n < 0) return kz_fail(KZ_ERR_INVALID_ARG, "%s: negative size %lld", name, (long long)n);
  while (*vec > 1 && !(kz_aligned(f32, 4u * *vec) && kz_aligned(bf16, 2u * *vec))) *vec /= 2;
  return KZ_OK;
}

} // namespace

extern "C" kz_status kz_cuda_cast_f32_to_bf16(kz_stream *s, const float *x, uint16_t *y,
                                              int64_t n) {
  int block = 0, vec = 1;
  KZ_TRY(cast_config(s, "cast_f32_to_bf16", x, y, n, &block, &vec));
  if (n == 0) return KZ_OK;
  const unsigned grid = kz_cuda_grid_for((n + vec - 1) / vec, block);
  cudaStream_t st = kz_cuda_stream(s);
  if (vec == 4)
    to_bf16_kernel<4><<<grid, block, 0, st>>>(x, y, n);
  else if (vec == 2)
    to_bf16_kernel<2><<<grid, block, 0, st>>>(x, y, n);
  else
    to_bf16_kernel<1><<<grid, block, 0, st>>>(x, y, n);
  KZ_CUDA_CHECK_LAUNCH("cast_f32_to_bf16");
  return KZ_OK;
}

extern "C" kz_status kz_cuda_cast_bf16_to_f32(kz_stream *s, const uint16_t *x, float *y,
                                              int64_t n) {
  int block = 0, vec = 1;
  KZ_TRY(cast_config(s, "cast_bf16_to_f32", y, x, n, &block, &vec));
  if (n == 0) return KZ_OK;
  const unsigned grid = kz_cuda_grid_for((n + vec - 1) / vec, block);
  cudaStream_t st = kz_cuda_stream(s);
  if (vec == 4)
    to_f32_kernel<4><<<grid, block, 0, st>>>(x, y, n);
  else if (vec == 2)
    to_f32_kernel<2><<<grid, block, 0, st>>>(x, y, n);
  else
    to_f32_kernel<1><<<grid, block, 0, st>>>(x, y, n);
  KZ_CUDA_CHECK_LAUNCH("cast_bf16_to_f32");
  return KZ_OK;
}
