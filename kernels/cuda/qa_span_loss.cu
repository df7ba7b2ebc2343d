/* Extractive-QA span loss: per sequence, softmax cross-entropies of the start
 * and end columns of logits [B*T, 2] over the first lengths[b] positions,
 * averaged; one block (cross_entropy.block threads) per sequence, both
 * columns in the same passes.
 *
 * Kernels cannot return errors: as cross_entropy does, a target outside
 * [0, length) (or a length below 1) gives a NaN loss, and the backward adds
 * no one-hot term for it; lengths are clamped to [0, T]. The CPU op refuses
 * such inputs instead. */
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

/* log-sum-exp of both columns over t < len (len >= 1), reduced over the block. */
__device__ __forceinline__ float2 column_lse(const float *z, int64_t len, float *red) {
  float m0 = -INFINITY, m1 = -INFINITY;
  for (int64_t t = threadIdx.x; t < len; t += blockDim.x) {
    m0 = fmaxf(m0, z[2 * t]);
    m1 = fmaxf(m1, z[2 * t + 1]);
  }
  m0 = kz_block_max(m0, red);
  m1 = kz_block_max(m1, red);
  float s0 = 0.0f, s1 = 0.0f;
  for (int64_t t = threadIdx.x; t < len; t += blockDim.x) {
    s0 += expf(z[2 * t] - m0);
    s1 += expf(z[2 * t + 1] - m1);
  }
  const float2 s = kz_block_sum2(s0, s1, red);
  return make_float2(m0 + logf(s.x), m1 + logf(s.y));
}

__device__ __forceinline__ int64_t clamped_length(const int32_t *lengths, int64_t b, int64_t seq) {
  const int64_t len = lengths[b];
  return len < 0 ? 0 : len > seq ? seq : len;
}

__global__ void fwd_kernel(const float *logits, const int32_t *lengths, const int32_t *starts,
                           const int32_t *ends, float *losses, int64_t batch, int64_t seq) {
  __shared__ float red[2 * KZ_WARP];
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    const int64_t len = clamped_length(lengths, b, seq);
    const int32_t ts = starts[b], te = ends[b];
    /* Uniform across the block: the early exit skips no barrier. */
    if (len < 1 || lengths[b] > seq || ts < 0 || ts >= len || te < 0 || te >= len) {
      if (threadIdx.x == 0) losses[b] = __int_as_float(0x7fc00000);
      continue;
    }
    const float *z = logits + b * seq * 2;
    const float2 lse = column_lse(z, len, red);
    if (threadIdx.x == 0) losses[b] = 0.5f * ((lse.x - z[2 * ts]) + (lse.y - z[2 * te + 1]));
  }
}

__global__ void bwd_kernel(const float *logits, const int32_t *lengths, const int32_t *starts,
                           const int32_t *ends, const float *dloss, float *dlogits, int64_t batch,
                           int64_t seq, bool accumulate) {
  __shared__ float red[2 * KZ_WARP];
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    const int64_t len = clamped_length(lengths, b, seq);
    const float *z = logits + b * seq * 2;
    float *dz = dlogits + b * seq * 2;
    const float2 lse = len > 0 ? column_lse(z, len, red) : make_float2(0.0f, 0.0f);
    const float half = 0.5f * dloss[b];
    const int64_t ts = starts[b], te = ends[b];
    for (int64_t t = threadIdx.x; t < seq; t += blockDim.x) {
      float g0 = 0.0f, g1 = 0.0f;
      if (t < len) {
        g0 = half * (expf(z[2 * t] - lse.x) - (t == ts ? 1.0f : 0.0f));
        g1 = half * (expf(z[2 * t + 1] - lse.y) - (t == te ? 1.0f : 0.0f));
      }
      dz[2 * t] = accumulate ? dz[2 * t] + g0 : g0;
      dz[2 * t + 1] = accumulate ? dz[2 * t + 1] + g1 : g1;
    }
  }
}

kz_status prepare(kz_stream *s, const char *op, int64_t batch, int64_t seq, int *block) {
  KZ_TRY(kz_cuda_enter(s, op));
  *block = kz_stream_knob(s, KZ_KNOB_CUDA_XENT_BLOCK);
  KZ_TRY(kz_cuda_check_block(op, "cross_entropy.block", *block));
  if (batch < 0 || seq < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: negative shape (batch %lld, seq %lld)", op,
                   (long long)batch, (long long)seq);
  return KZ_OK;
}

} // namespace

extern "C" kz_status kz_cuda_qa_span_loss_fwd(kz_stream *s, const float *logits,
                                              const int32_t *lengths, const int32_t *starts,
                                              const int32_t *ends, float *losses, int64_t batch,
                                              int64_t seq) {
  const char *op = "qa_span_loss";
  int block = 0;
  KZ_TRY(prepare(s, op, batch, seq, &block));
  if (batch == 0) return KZ_OK;
  fwd_kernel<<<kz_cuda_grid_for(batch, 1), block, 0, kz_cuda_stream(s)>>>(logits, lengths, starts,
                                                                          ends, losses, batch, seq);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

extern "C" kz_status kz_cuda_qa_span_loss_bwd(kz_stream *s, const float *logits,
                                              const int32_t *lengths, const int32_t *starts,
                                              const int32_t *ends, const float *dloss,
                                              float *dlogits, int64_t batch, int64_t seq,
                                              bool accumulate) {
  const char *op = "qa_span_loss_bwd";
  int block = 0;
  KZ_TRY(prepare(s, op, batch, seq, &block));
  if (batch == 0 || seq == 0) return KZ_OK;
  bwd_kernel<<<kz_cuda_grid_for(batch, 1), block, 0, kz_cuda_stream(s)>>>(
      logits, lengths, starts, ends, dloss, dlogits, batch, seq, accumulate);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}
