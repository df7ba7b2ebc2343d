/* Embedding lookup (gather) and its gradient (scatter-add); gather_rows (the
 * MLM gather of masked positions, x as the table) runs the same kernels on
 * the same knob.
 *
 * Both flatten [n, dim] into one grid-stride range with embedding.block
 * threads, so short rows do not leave most of a row-per-block idle. An id
 * outside [0, vocab) reads as a zero row and contributes no gradient: a
 * kernel cannot report it, and the CPU backend rejects it up front.
 *
 * The backward scatter uses float atomicAdd, so when ids repeat the order of
 * the additions, and thus the last bits of dtable, can vary from run to run.
 * A deterministic version would sort ids first; the embedding gradient is
 * the one place we accept this. */
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

template <int V>
__global__ void fwd_kernel(const int32_t *ids, const float *table, float *out, int64_t n,
                           int64_t vocab, int64_t dim) {
  const int64_t per_row = dim / V; /* dim % V == 0 by the dispatch */
  const int64_t total = n * per_row;
  for (int64_t v = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; v < total;
       v += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = v / per_row, col = (v % per_row) * V;
    const int64_t id = ids[i];
    float r[V];
    if (id >= 0 && id < vocab)
      kz_load_vec<V>(table + id * dim + col, r);
    else
#pragma unroll
      for (int k = 0; k < V; ++k) r[k] = 0.0f;
    kz_store_vec<V>(out + i * dim + col, r);
  }
}

__global__ void bwd_kernel(const int32_t *ids, const float *dout, float *dtable, int64_t n,
                           int64_t vocab, int64_t dim) {
  const int64_t total = n * dim;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = e / dim, col = e % dim;
    const int64_t id = ids[i];
    if (id >= 0 && id < vocab) atomicAdd(dtable + id * dim + col, dout[e]);
  }
}

kz_status prepare(kz_stream *s, const char *op, int64_t n, int64_t vocab, int64_t dim, int *block) {
  KZ_TRY(kz_cuda_enter(s, op));
  *block = kz_stream_knob(s, KZ_KNOB_CUDA_EMBEDDING_BLOCK);
  KZ_TRY(kz_cuda_check_block(op, "embedding.block", *block));
  if (n < 0 || vocab < 0 || dim < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: negative size (n %lld, vocab %lld, dim %lld)", op,
                   (long long)n, (long long)vocab, (long long)dim);
  return KZ_OK;
}

kz_status gather(kz_stream *s, const char *op, const int32_t *ids, const float *table, float *out,
                 int64_t n, int64_t vocab, int64_t dim) {
  int block = 0;
  KZ_TRY(prepare(s, op, n, vocab, dim, &block));
  if (n == 0 || dim == 0) return KZ_OK;
  int vec = 4;
  while (vec > 1 && !(dim % vec == 0 && kz_aligned(table, 4u * vec) && kz_aligned(out, 4u * vec)))
    vec /= 2;
  const unsigned grid = kz_cuda_grid_for(n * (dim / vec), block);
  cudaStream_t st = kz_cuda_stream(s);
  if (vec == 4)
    fwd_kernel<4><<<grid, block, 0, st>>>(ids, table, out, n, vocab, dim);
  else if (vec == 2)
    fwd_kernel<2><<<grid, block, 0, st>>>(ids, table, out, n, vocab, dim);
  else
    fwd_kernel<1><<<grid, block, 0, st>>>(ids, table, out, n, vocab, dim);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

kz_status scatter_add(kz_stream *s, const char *op, const int32_t *ids, const float *dout,
                      float *dtable, int64_t n, int64_t vocab, int64_t dim, bool accumulate) {
  int block = 0;
  KZ_TRY(prepare(s, op, n, vocab, dim, &block));
  if (vocab == 0 || dim == 0) return KZ_OK;
  cudaStream_t st = kz_cuda_stream(s);
  if (!accumulate)
    KZ_CUDA_CHECK(cudaMemsetAsync(dtable, 0, (size_t)vocab * (size_t)dim * sizeof(float), st), op);
  if (n == 0) return KZ_OK;
  bwd_kernel<<<kz_cuda_grid_for(n * dim, block), block, 0, st>>>(ids, dout, dtable, n, vocab, dim);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

} // namespace

extern "C" kz_status kz_cuda_embedding_fwd(kz_stream *s, const int32_t *ids, const float *table,
                                           float *out, int64_t n, int64_t vocab, int64_t dim) {
  return gather(s, "embedding", ids, table, out, n, vocab, dim);
}

extern "C" kz_status kz_cuda_embedding_bwd(kz_stream *s, const int32_t *ids, const float *dout,
                                           float *dtable, int64_t n, int64_t vocab, int64_t dim,
                                           bool accumulate) {
  return scatter_add(s, "embedding_bwd", ids, dout, dtable, n, vocab, dim, accumulate);
}

extern "C" kz_status kz_cuda_gather_rows_fwd(kz_stream *s, const float *x, const int32_t *idx,
                                             float *out, int64_t m, int64_t n, int64_t dim) {
  return gather(s, "gather_rows", idx, x, out, m, n, dim);
}

extern "C" kz_status kz_cuda_gather_rows_bwd(kz_stream *s, const int32_t *idx, const float *dout,
                                             float *dx, int64_t m, int64_t n, int64_t dim,
                                             bool accumulate) {
  return scatter_add(s, "gather_rows_bwd", idx, dout, dx, m, n, dim, accumulate);
}
