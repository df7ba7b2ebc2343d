/* Shared helpers of the CUDA kernels: error checks, launch-config
 * validation, warp/block reductions, bf16 conversions and stream-ordered
 * scratch memory. Header-only (inline / templates) so every .cu stays a
 * self-contained translation unit without relocatable device code. */
#ifndef KZ_CUDA_COMMON_CUH
#define KZ_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/core/backend.h"
#include "kernels/core/error.h"

#define KZ_WARP 32
#define KZ_MAX_BLOCK 1024
/* Grid-stride kernels never need more blocks than this to fill any GPU; the
 * cap keeps gridDim.x far from its limit for huge n. */
#define KZ_MAX_GRID_BLOCKS (1 << 20)

/* Turns a failed runtime call into KZ_ERR_DEVICE naming the call site. */
#define KZ_CUDA_CHECK(expr, what)                                                                  \
  do {                                                                                             \
    cudaError_t kz_cuda_e_ = (expr);                                                               \
    if (kz_cuda_e_ != cudaSuccess) {                                                               \
      (void)cudaGetLastError();                                                                    \
      return kz_fail(KZ_ERR_DEVICE, "%s: %s", (what), cudaGetErrorString(kz_cuda_e_));             \
    }                                                                                              \
  } while (0)

/* Launch failures (bad config, no device) surface only via cudaGetLastError. */
#define KZ_CUDA_CHECK_LAUNCH(what) KZ_CUDA_CHECK(cudaGetLastError(), (what))

static inline cudaStream_t kz_cuda_stream(const kz_stream *s) {
  return (cudaStream_t)s->native;
}

/* Every op makes the stream's device current first: a thread may drive
 * several GPUs, and launching on another device's stream fails. */
static inline kz_status kz_cuda_enter(const kz_stream *s, const char *op) {
  if (s == NULL || s->native == NULL)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: stream not initialised", op);
  cudaError_t e = cudaSetDevice(s->device.index);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return kz_fail(KZ_ERR_DEVICE, "%s: cudaSetDevice(%d): %s", op, s->device.index,
                   cudaGetErrorString(e));
  }
  return KZ_OK;
}

/* Block sizes come from user-editable knobs, so they are checked at every
 * launch: the reductions below assume whole warps and at most 32 of them. */
static inline kz_status kz_cuda_check_block(const char *op, const char *knob, int block) {
  if (block < KZ_WARP || block > KZ_MAX_BLOCK || block % KZ_WARP != 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: kernel config %s = %d is unusable (need a multiple of 32 in [32, 1024])",
                   op, knob, block);
  return KZ_OK;
}

static inline unsigned kz_cuda_grid_for(int64_t work_items, int block) {
  int64_t blocks = (work_items + block - 1) / block;
  if (blocks < 1) blocks = 1;
  if (blocks > KZ_MAX_GRID_BLOCKS) blocks = KZ_MAX_GRID_BLOCKS;
  return (unsigned)blocks;
}

/* Stream-ordered scratch: freed on the stream after the kernels that use it,
 * so no host synchronisation is needed and graph capture keeps working. */
static inline kz_status kz_cuda_scratch_alloc(const kz_stream *s, size_t bytes, void **ptr,
                                              const char *op) {
  *ptr = NULL;
  cudaError_t e = cudaMallocAsync(ptr, bytes, kz_cuda_stream(s));
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    *ptr = NULL;
    return kz_fail(e == cudaErrorMemoryAllocation ? KZ_ERR_OUT_OF_MEMORY : KZ_ERR_DEVICE,
                   "%s: scratch of %zu bytes: %s", op, bytes, cudaGetErrorString(e));
  }
  return KZ_OK;
}

static inline void kz_cuda_scratch_free(const kz_stream *s, void *ptr) {
  if (ptr != NULL && cudaFreeAsync(ptr, kz_cuda_stream(s)) != cudaSuccess) (void)cudaGetLastError();
}

/* ---- reductions --------------------------------------------------------- */
/* Butterfly shuffles leave the result in every lane and combine in a fixed
 * order, so repeated runs give bit-identical sums. */
__device__ __forceinline__ float kz_warp_sum(float v) {
  for (int o = KZ_WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float kz_warp_max(float v) {
  for (int o = KZ_WARP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/* Block-wide reductions for blockDim.x a multiple of 32 (checked at launch).
 * `shared` holds 32 floats; the result reaches every thread. The trailing
 * barrier lets the caller reuse `shared` immediately. */
__device__ __forceinline__ float kz_block_sum(float v, float *shared) {
  const int lane = threadIdx.x % KZ_WARP, warp = threadIdx.x / KZ_WARP;
  const int warps = blockDim.x / KZ_WARP;
  v = kz_warp_sum(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : 0.0f;
  v = kz_warp_sum(v);
  __syncthreads();
  return v;
}

__device__ __forceinline__ float kz_block_max(float v, float *shared) {
  const int lane = threadIdx.x % KZ_WARP, warp = threadIdx.x / KZ_WARP;
  const int warps = blockDim.x / KZ_WARP;
  v = kz_warp_max(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : -INFINITY;
  v = kz_warp_max(v);
  __syncthreads();
  return v;
}

/* Two sums in one pass over the shared array (layernorm backward). */
__device__ __forceinline__ float2 kz_block_sum2(float a, float b, float *shared) {
  const int lane = threadIdx.x % KZ_WARP, warp = threadIdx.x / KZ_WARP;
  const int warps = blockDim.x / KZ_WARP;
  a = kz_warp_sum(a);
  b = kz_warp_sum(b);
  if (lane == 0) {
    shared[warp] = a;
    shared[KZ_WARP + warp] = b;
  }
  __syncthreads();
  a = lane < warps ? shared[lane] : 0.0f;
  b = lane < warps ? shared[KZ_WARP + lane] : 0.0f;
  a = kz_warp_sum(a);
  b = kz_warp_sum(b);
  __syncthreads();
  return make_float2(a, b);
}

/* ---- bf16 --------------------------------------------------------------- */
/* Bit-for-bit the host's kz_f32_to_bf16 (round to nearest even, NaN kept
 * quiet with its sign and top payload), so casts agree across backends. */
__device__ __forceinline__ uint16_t kz_f32_to_bf16_bits(float x) {
  const uint32_t bits = __float_as_uint(x);
  if (isnan(x)) return (uint16_t)((bits >> 16) | 0x0040u);
  return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float kz_bf16_bits_to_f32(uint16_t x) {
  return __uint_as_float((uint32_t)x << 16);
}

/* Loads of GEMM operands: f32 as is, bf16 widened exactly. */
__device__ __forceinline__ float kz_load_as_f32(const float *p) {
  return *p;
}
__device__ __forceinline__ float kz_load_as_f32(const __nv_bfloat16 *p) {
  return __bfloat162float(*p);
}

/* ---- vector access ------------------------------------------------------ */
static inline bool kz_aligned(const void *p, size_t bytes) {
  return p == NULL || ((uintptr_t)p % bytes) == 0;
}

/* V consecutive floats at p (aligned to 4*V bytes when V > 1). */
template <int V> __device__ __forceinline__ void kz_load_vec(const float *p, float (&r)[V]);
template <> __device__ __forceinline__ void kz_load_vec<1>(const float *p, float (&r)[1]) {
  r[0] = *p;
}
template <> __device__ __forceinline__ void kz_load_vec<2>(const float *p, float (&r)[2]) {
  const float2 v = *reinterpret_cast<const float2 *>(p);
  r[0] = v.x;
  r[1] = v.y;
}
template <> __device__ __forceinline__ void kz_load_vec<4>(const float *p, float (&r)[4]) {
  const float4 v = *reinterpret_cast<const float4 *>(p);
  r[0] = v.x;
  r[1] = v.y;
  r[2] = v.z;
  r[3] = v.w;
}

template <int V> __device__ __forceinline__ void kz_store_vec(float *p, const float (&r)[V]);
template <> __device__ __forceinline__ void kz_store_vec<1>(float *p, const float (&r)[1]) {
  *p = r[0];
}
template <> __device__ __forceinline__ void kz_store_vec<2>(float *p, const float (&r)[2]) {
  *reinterpret_cast<float2 *>(p) = make_float2(r[0], r[1]);
}
template <> __device__ __forceinline__ void kz_store_vec<4>(float *p, const float (&r)[4]) {
  *reinterpret_cast<float4 *>(p) = make_float4(r[0], r[1], r[2], r[3]);
}

#endif
