/* Fused self-attention on the GPU (contract: kz_attn_shape, core/backend.h).
 *
 * Forward: one block per (query tile of attention.block_q queries, batch x
 * head), one thread per query. The thread keeps its q row and its output
 * accumulator in registers; the block stages the keys and values through
 * shared memory attention.block_k at a time and every thread runs an online
 * softmax over them (running maximum m and sum l; the accumulator is
 * rescaled only when m grows). Scores live in one register at a time: the
 * T x T matrix is never written anywhere, and global memory holds only q,
 * k, v, o and the per-row lse.
 *
 * Backward (flash-attention 2, no atomics): two kernels that recompute the
 * probabilities from lse, P = exp(scale q.k - lse), with D_i = dO_i . O_i:
 *  - dQ: the forward's layout (a thread per query, keys staged):
 *    dq_i = scale sum_j P_ij (M_ij dO_i.v_j - D_i) k_j;
 *  - dK/dV: a thread per key (block_q keys per block, their k and v rows in
 *    shared memory), queries staged block_k at a time with their dO, lse,
 *    D_i and dropout row seeds: dv_j = sum_i P_ij M_ij dO_i,
 *    dk_j = scale sum_i dS_ij q_i.
 * Each gradient element is written once by the thread that owns it, so
 * dq/dk/dv may be column blocks of one fused buffer and accumulate is a
 * plain read-add-write. The head dim is a template bound (16, 32, 64, 128:
 * rows live in registers); the tile edges are run-time knobs. */
#include "kernels/core/attn_dropout.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

struct attn_geom {
  int64_t T, D, H;
  int64_t ld_q, ld_k, ld_v, ld_o;
  float scale;
  bool causal;
  const int32_t *lengths;
  bool drop;
  uint32_t threshold;
  float drop_scale;
  uint64_t key;
};

__device__ __forceinline__ int64_t visible_keys(const attn_geom &g, int64_t b) {
  int64_t n = g.T;
  if (g.lengths != nullptr) {
    const int64_t len = g.lengths[b];
    n = len < n ? (len > 0 ? len : 0) : n;
  }
  return n;
}

/* Loads rows [r0, r0+n) of one head of x (stride ld) into s[n][stride]
 * (columns >= D and rows past `valid` zero), cooperatively. */
template <int DMAX>
__device__ __forceinline__ void stage_rows(float *s, int stride, const float *x, int64_t ld,
                                           int64_t r0, int n, int64_t valid, int64_t D) {
  for (int e = threadIdx.x; e < n * DMAX; e += blockDim.x) {
    const int r = e / DMAX, c = e % DMAX;
    const int64_t row = r0 + r;
    s[r * stride + c] = row < valid && c < D ? x[row * ld + c] : 0.0f;
  }
}

template <int DMAX> __device__ __forceinline__ float dot_row(const float *a, const float *s) {
  float acc = 0.0f;
#pragma unroll
  for (int d = 0; d < DMAX; ++d) acc += a[d] * s[d];
  return acc;
}

__device__ __forceinline__ float drop_factor(const attn_geom &g, uint64_t row, int64_t j) {
  return kz_attn_dropout_bits(row, (uint32_t)j) >= g.threshold ? g.drop_scale : 0.0f;
}

/* ---- forward ---------------------------------------------------------------------- */

template <int DMAX>
__global__ void fwd_kernel(const float *q, const float *k, const float *v, float *o, float *lse,
                           attn_geom g, int bk) {
  extern __shared__ float smem[];
  float *ks = smem, *vs = smem + bk * DMAX;
  const int64_t bh = blockIdx.y, b = bh / g.H, h = bh % g.H;
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const bool live = i < g.T;
  const float *qh = q + b * g.T * g.ld_q + h * g.D;
  const float *kh = k + b * g.T * g.ld_k + h * g.D;
  const float *vh = v + b * g.T * g.ld_v + h * g.D;

  float qr[DMAX], acc[DMAX];
#pragma unroll
  for (int d = 0; d < DMAX; ++d) {
    qr[d] = live && d < g.D ? qh[i * g.ld_q + d] * g.scale : 0.0f;
    acc[d] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  const uint64_t row = g.drop ? kz_attn_dropout_row(g.key, b, h, i) : 0;
  int64_t keys = visible_keys(g, b);
  if (g.causal) { /* no query of this block sees past its last */
    const int64_t last = (int64_t)blockIdx.x * blockDim.x + blockDim.x;
    keys = keys < last ? keys : last;
  }
  for (int64_t j0 = 0; j0 < keys; j0 += bk) {
    const int n = (int)(keys - j0 < bk ? keys - j0 : bk);
    __syncthreads(); /* the previous tile is consumed */
    stage_rows<DMAX>(ks, DMAX, kh, g.ld_k, j0, n, keys, g.D);
    stage_rows<DMAX>(vs, DMAX, vh, g.ld_v, j0, n, keys, g.D);
    __syncthreads();
    if (!live) continue;
    int lim = n;
    if (g.causal) {
      const int64_t c = i - j0 + 1;
      lim = c < lim ? (c > 0 ? (int)c : 0) : lim;
    }
    for (int jj = 0; jj < lim; ++jj) {
      const float s = dot_row<DMAX>(qr, ks + jj * DMAX);
      if (s > m) {                      /* rescale what has been summed so far */
        const float corr = expf(m - s); /* 0 on the first key */
#pragma unroll
        for (int d = 0; d < DMAX; ++d) acc[d] *= corr;
        l *= corr;
        m = s;
      }
      const float p = expf(s - m);
      l += p;
      const float pd = g.drop ? p * drop_factor(g, row, j0 + jj) : p;
      const float *vr = vs + jj * DMAX;
#pragma unroll
      for (int d = 0; d < DMAX; ++d) acc[d] += pd * vr[d];
    }
  }
  if (!live) return;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  float *orow = o + (b * g.T + i) * g.ld_o + h * g.D;
#pragma unroll
  for (int d = 0; d < DMAX; ++d)
    if (d < g.D) orow[d] = acc[d] * inv;
  if (lse != nullptr) lse[bh * g.T + i] = l > 0.0f ? m + logf(l) : -INFINITY;
}

/* ---- backward: dQ ----------------------------------------------------------------- */

template <int DMAX>
__global__ void dq_kernel(const float *q, const float *k, const float *v, const float *o,
                          const float *dout, const float *lse, float *dq, attn_geom g, int bk,
                          bool accumulate) {
  extern __shared__ float smem[];
  float *ks = smem, *vs = smem + bk * DMAX;
  const int64_t bh = blockIdx.y, b = bh / g.H, h = bh % g.H;
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const bool live = i < g.T;
  const float *kh = k + b * g.T * g.ld_k + h * g.D;
  const float *vh = v + b * g.T * g.ld_v + h * g.D;

  float qr[DMAX], dor[DMAX], acc[DMAX];
  float di = 0.0f;
#pragma unroll
  for (int d = 0; d < DMAX; ++d) {
    const bool in = live && d < g.D;
    qr[d] = in ? q[(b * g.T + i) * g.ld_q + h * g.D + d] * g.scale : 0.0f;
    dor[d] = in ? dout[(b * g.T + i) * g.ld_o + h * g.D + d] : 0.0f;
    di += in ? dor[d] * o[(b * g.T + i) * g.ld_o + h * g.D + d] : 0.0f;
    acc[d] = 0.0f;
  }
  const float li = live ? lse[bh * g.T + i] : -INFINITY;
  const uint64_t row = g.drop ? kz_attn_dropout_row(g.key, b, h, i) : 0;
  int64_t keys = visible_keys(g, b);
  if (g.causal) {
    const int64_t last = (int64_t)blockIdx.x * blockDim.x + blockDim.x;
    keys = keys < last ? keys : last;
  }
  for (int64_t j0 = 0; j0 < keys; j0 += bk) {
    const int n = (int)(keys - j0 < bk ? keys - j0 : bk);
    __syncthreads();
    stage_rows<DMAX>(ks, DMAX, kh, g.ld_k, j0, n, keys, g.D);
    stage_rows<DMAX>(vs, DMAX, vh, g.ld_v, j0, n, keys, g.D);
    __syncthreads();
    if (!live || li == -INFINITY) continue;
    int lim = n;
    if (g.causal) {
      const int64_t c = i - j0 + 1;
      lim = c < lim ? (c > 0 ? (int)c : 0) : lim;
    }
    for (int jj = 0; jj < lim; ++jj) {
      const float *kr = ks + jj * DMAX;
      const float p = expf(dot_row<DMAX>(qr, kr) - li);
      float dp = dot_row<DMAX>(dor, vs + jj * DMAX);
      if (g.drop) dp *= drop_factor(g, row, j0 + jj);
      const float ds = p * (dp - di) * g.scale;
#pragma unroll
      for (int d = 0; d < DMAX; ++d) acc[d] += ds * kr[d];
    }
  }
  if (!live) return;
  float *out = dq + (b * g.T + i) * g.ld_q + h * g.D;
#pragma unroll
  for (int d = 0; d < DMAX; ++d)
    if (d < g.D) out[d] = accumulate ? out[d] + acc[d] : acc[d];
}

/* ---- backward: dK and dV ---------------------------------------------------------- */

/* Shared layout: k and v rows of the block's keys (stride DMAX + 1, so the
 * threads of a warp reading their own rows hit distinct banks), then the
 * staged queries: q (scaled), dO, lse, D_i and the dropout row seeds. */
template <int DMAX>
__global__ void dkv_kernel(const float *q, const float *k, const float *v, const float *o,
                           const float *dout, const float *lse, float *dk, float *dv, attn_geom g,
                           int bq, bool accumulate) {
  extern __shared__ float smem[];
  const int kstride = DMAX + 1;
  const int nkeys = blockDim.x;
  float *kown = smem, *vown = kown + nkeys * kstride;
  float *qs = vown + nkeys * kstride, *dos = qs + bq * DMAX;
  float *lses = dos + bq * DMAX, *dis = lses + bq;
  /* An even number of floats precedes the seeds: they are 8-byte aligned. */
  uint64_t *seeds = reinterpret_cast<uint64_t *>(dis + bq);
  const int64_t bh = blockIdx.y, b = bh / g.H, h = bh % g.H;
  const int64_t j0 = (int64_t)blockIdx.x * blockDim.x, j = j0 + threadIdx.x;
  const int64_t keys = visible_keys(g, b);
  const bool live = j < keys;
  const float *qh = q + b * g.T * g.ld_q + h * g.D;
  const float *oh = o + b * g.T * g.ld_o + h * g.D;
  const float *doh = dout + b * g.T * g.ld_o + h * g.D;

  for (int d = 0; d < DMAX; ++d) {
    const bool in = live && d < g.D;
    kown[threadIdx.x * kstride + d] = in ? k[(b * g.T + j) * g.ld_k + h * g.D + d] : 0.0f;
    vown[threadIdx.x * kstride + d] = in ? v[(b * g.T + j) * g.ld_v + h * g.D + d] : 0.0f;
  }
  float dkr[DMAX], dvr[DMAX];
#pragma unroll
  for (int d = 0; d < DMAX; ++d) dkr[d] = dvr[d] = 0.0f;
  const float *kr = kown + threadIdx.x * kstride, *vr = vown + threadIdx.x * kstride;

  /* Causal: queries before the block's first key see none of its keys. */
  const int64_t first = g.causal ? j0 : 0;
  const bool any = j0 < keys;
  for (int64_t i0 = first; any && i0 < g.T; i0 += bq) {
    const int n = (int)(g.T - i0 < bq ? g.T - i0 : bq);
    __syncthreads(); /* the previous query tile is consumed (and kown is ready) */
    stage_rows<DMAX>(qs, DMAX, qh, g.ld_q, i0, n, g.T, g.D);
    stage_rows<DMAX>(dos, DMAX, doh, g.ld_o, i0, n, g.T, g.D);
    for (int r = threadIdx.x; r < n; r += blockDim.x) {
      const int64_t i = i0 + r;
      float di = 0.0f;
      for (int64_t d = 0; d < g.D; ++d) di += doh[i * g.ld_o + d] * oh[i * g.ld_o + d];
      dis[r] = di;
      lses[r] = lse[bh * g.T + i];
      if (g.drop) seeds[r] = kz_attn_dropout_row(g.key, b, h, i);
    }
    __syncthreads();
    if (!live) continue;
    for (int r = 0; r < n; ++r) {
      const int64_t i = i0 + r;
      if ((g.causal && j > i) || lses[r] == -INFINITY) continue;
      const float *qrow = qs + r * DMAX, *dorow = dos + r * DMAX;
      const float p = expf(g.scale * dot_row<DMAX>(qrow, kr) - lses[r]);
      const float f = g.drop ? drop_factor(g, seeds[r], j) : 1.0f;
      const float dp = f * dot_row<DMAX>(dorow, vr);
      const float ds = p * (dp - dis[r]) * g.scale;
      const float pd = p * f;
#pragma unroll
      for (int d = 0; d < DMAX; ++d) {
        dvr[d] += pd * dorow[d];
        dkr[d] += ds * qrow[d];
      }
    }
  }
  if (j >= g.T) return;
  /* Padding keys (j >= keys) carry zeros: written as such, or added. */
  float *dkrow = dk ? dk + (b * g.T + j) * g.ld_k + h * g.D : nullptr;
  float *dvrow = dv ? dv + (b * g.T + j) * g.ld_v + h * g.D : nullptr;
#pragma unroll
  for (int d = 0; d < DMAX; ++d) {
    if (d >= g.D) continue;
    if (dkrow) dkrow[d] = accumulate ? dkrow[d] + dkr[d] : dkr[d];
    if (dvrow) dvrow[d] = accumulate ? dvrow[d] + dvr[d] : dvr[d];
  }
}

/* ---- launch ----------------------------------------------------------------------- */

attn_geom geom_of(const kz_attn_shape *sh) {
  attn_geom g;
  g.T = sh->seq;
  g.D = sh->head_dim;
  g.H = sh->heads;
  g.ld_q = sh->ld_q;
  g.ld_k = sh->ld_k;
  g.ld_v = sh->ld_v;
  g.ld_o = sh->ld_o;
  g.scale = sh->scale;
  g.causal = sh->causal;
  g.lengths = sh->lengths;
  g.drop = sh->dropout_p > 0;
  g.threshold = kz_attn_dropout_threshold(sh->dropout_p);
  g.drop_scale = kz_attn_dropout_scale(sh->dropout_p);
  g.key = sh->dropout_key;
  return g;
}

struct tiles {
  int bq, bk, dmax;
};

kz_status tiles_of(kz_stream *s, const char *op, const kz_attn_shape *sh, tiles *t) {
  t->bq = kz_stream_knob(s, KZ_KNOB_CUDA_ATTENTION_BLOCK_Q);
  t->bk = kz_stream_knob(s, KZ_KNOB_CUDA_ATTENTION_BLOCK_K);
  if (t->bq < KZ_WARP || t->bq > 256 || t->bq % KZ_WARP != 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: kernel config attention.block_q = %d is unusable (need a multiple of 32 "
                   "in [32, 256])",
                   op, t->bq);
  if (t->bk < 8 || t->bk > 128)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: kernel config attention.block_k = %d is unusable (need 8..128)", op, t->bk);
  const int64_t D = sh->head_dim;
  t->dmax = D <= 16 ? 16 : D <= 32 ? 32 : D <= 64 ? 64 : D <= 128 ? 128 : 0;
  if (t->dmax == 0)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "%s: head dim %lld is above the CUDA kernels' bound of 128 (rows are kept in "
                   "registers)",
                   op, (long long)D);
  if (sh->batch * sh->heads > 65535)
    return kz_fail(KZ_ERR_UNSUPPORTED, "%s: batch x heads %lld is above the grid's 65535", op,
                   (long long)(sh->batch * sh->heads));
  return KZ_OK;
}

/* Dynamic shared memory above the default 48 KiB needs an opt-in per kernel;
 * past the device's limit the knobs must shrink. */
template <typename K> kz_status allow_smem(const char *op, K kernel, size_t bytes) {
  if (bytes <= 48 * 1024) return KZ_OK;
  int dev = 0, most = 0;
  KZ_CUDA_CHECK(cudaGetDevice(&dev), op);
  KZ_CUDA_CHECK(cudaDeviceGetAttribute(&most, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), op);
  if (bytes > (size_t)most)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "%s: the tiles need %zu bytes of shared memory, the GPU allows %d: lower "
                   "attention.block_q or attention.block_k",
                   op, bytes, most);
  KZ_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes), op);
  return KZ_OK;
}

template <int DMAX>
kz_status launch_fwd(kz_stream *s, const tiles &t, const kz_attn_shape *sh, const float *q,
                     const float *k, const float *v, float *o, float *lse) {
  const char *op = "attention";
  const size_t bytes = (size_t)2 * t.bk * DMAX * sizeof(float);
  KZ_TRY(allow_smem(op, fwd_kernel<DMAX>, bytes));
  const dim3 grid((unsigned)((sh->seq + t.bq - 1) / t.bq), (unsigned)(sh->batch * sh->heads));
  fwd_kernel<DMAX><<<grid, t.bq, bytes, kz_cuda_stream(s)>>>(q, k, v, o, lse, geom_of(sh), t.bk);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

template <int DMAX>
kz_status launch_bwd(kz_stream *s, const tiles &t, const kz_attn_shape *sh, const float *q,
                     const float *k, const float *v, const float *o, const float *dout,
                     const float *lse, float *dq, float *dk, float *dv, bool accumulate) {
  const char *op = "attention_bwd";
  const attn_geom g = geom_of(sh);
  const unsigned blocks = (unsigned)((sh->seq + t.bq - 1) / t.bq);
  const dim3 grid(blocks, (unsigned)(sh->batch * sh->heads));
  if (dq != nullptr) {
    const size_t bytes = (size_t)2 * t.bk * DMAX * sizeof(float);
    KZ_TRY(allow_smem(op, dq_kernel<DMAX>, bytes));
    dq_kernel<DMAX>
        <<<grid, t.bq, bytes, kz_cuda_stream(s)>>>(q, k, v, o, dout, lse, dq, g, t.bk, accumulate);
    KZ_CUDA_CHECK_LAUNCH(op);
  }
  if (dk != nullptr || dv != nullptr) {
    /* keys' own rows (2 x bq x (DMAX+1)), staged queries (2 x bk x DMAX),
     * their lse and D_i (2 x bk) and dropout row seeds (bk x 8 bytes). */
    const size_t floats =
        (size_t)2 * t.bq * (DMAX + 1) + (size_t)2 * t.bk * DMAX + (size_t)2 * t.bk;
    const size_t bytes = floats * sizeof(float) + (size_t)t.bk * sizeof(uint64_t);
    KZ_TRY(allow_smem(op, dkv_kernel<DMAX>, bytes));
    dkv_kernel<DMAX><<<grid, t.bq, bytes, kz_cuda_stream(s)>>>(q, k, v, o, dout, lse, dk, dv, g,
                                                               t.bk, accumulate);
    KZ_CUDA_CHECK_LAUNCH(op);
  }
  return KZ_OK;
}

} // namespace

extern "C" kz_status kz_cuda_attention_fwd(kz_stream *s, const float *q, const float *k,
                                           const float *v, float *o, float *lse,
                                           const kz_attn_shape *sh) {
  const char *op = "attention";
  KZ_TRY(kz_cuda_enter(s, op));
  if (sh->seq <= 0 || sh->batch <= 0 || sh->heads <= 0) return KZ_OK;
  tiles t;
  KZ_TRY(tiles_of(s, op, sh, &t));
  switch (t.dmax) {
  case 16:
    return launch_fwd<16>(s, t, sh, q, k, v, o, lse);
  case 32:
    return launch_fwd<32>(s, t, sh, q, k, v, o, lse);
  case 64:
    return launch_fwd<64>(s, t, sh, q, k, v, o, lse);
  default:
    return launch_fwd<128>(s, t, sh, q, k, v, o, lse);
  }
}

extern "C" kz_status kz_cuda_attention_bwd(kz_stream *s, const float *q, const float *k,
                                           const float *v, const float *o, const float *dout,
                                           const float *lse, float *dq, float *dk, float *dv,
                                           const kz_attn_shape *sh, bool accumulate) {
  const char *op = "attention_bwd";
  KZ_TRY(kz_cuda_enter(s, op));
  if (sh->seq <= 0 || sh->batch <= 0 || sh->heads <= 0) return KZ_OK;
  if (dq == nullptr && dk == nullptr && dv == nullptr) return KZ_OK;
  tiles t;
  KZ_TRY(tiles_of(s, op, sh, &t));
  switch (t.dmax) {
  case 16:
    return launch_bwd<16>(s, t, sh, q, k, v, o, dout, lse, dq, dk, dv, accumulate);
  case 32:
    return launch_bwd<32>(s, t, sh, q, k, v, o, dout, lse, dq, dk, dv, accumulate);
  case 64:
    return launch_bwd<64>(s, t, sh, q, k, v, o, dout, lse, dq, dk, dv, accumulate);
  default:
    return launch_bwd<128>(s, t, sh, q, k, v, o, dout, lse, dq, dk, dv, accumulate);
  }
}
