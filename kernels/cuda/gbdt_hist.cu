/* GBDT histograms of one node from quantised gradients.
 *
 * Grid: x = chunks of gbdt_hist.rows_per_block node rows, y = groups of
 * gbdt_hist.features_per_group features. Each block accumulates its rows into
 * a shared-memory histogram of its features (256 bins x (g, h) int64 each),
 * then adds the non-zero entries into the global histogram: global atomics
 * only combine blocks. Integer atomics make the result independent of their
 * order. Consecutive threads take consecutive features of a row, so the
 * uint8 codes are read in contiguous runs. */
#include "kernels/cuda/gbdt_common.cuh"

namespace {

#define HIST_ENTRIES_PER_FEATURE (KZ_GBDT_DEV_HIST_BINS * 2)

__global__ void hist_kernel(const uint8_t *codes, int64_t n_rows, int32_t n_features,
                            const int32_t *rows, int64_t n_node_rows, const int64_t *qgh,
                            int64_t qgh_stride, int64_t *hist, int rows_per_block, int fpg) {
  extern __shared__ unsigned long long sh_hist[];
  const int f0 = (int)blockIdx.y * fpg;
  const int nf = min(fpg, n_features - f0);
  const int entries = nf * HIST_ENTRIES_PER_FEATURE;
  for (int i = threadIdx.x; i < entries; i += blockDim.x) sh_hist[i] = 0ull;
  __syncthreads();

  const int64_t r0 = (int64_t)blockIdx.x * rows_per_block;
  const int64_t r1 = min(r0 + (int64_t)rows_per_block, n_node_rows);
  /* The host checked that a block's (row, feature) pairs fit an int, so
   * splitting a pair index is a 32-bit division, not a 64-bit one. */
  const int work = (int)(r1 - r0) * nf;
  for (int w = threadIdx.x; w < work; w += blockDim.x) {
    const int64_t i = r0 + w / nf;
    const int f = w % nf;
    const int64_t row = rows ? (int64_t)rows[i] : i;
    if (row < 0 || row >= n_rows) continue; /* out of contract: never read out of bounds */
    const unsigned b = codes[row * n_features + f0 + f];
    const int64_t *q = qgh + row * qgh_stride;
    unsigned long long *e = sh_hist + ((unsigned)f * KZ_GBDT_DEV_HIST_BINS + b) * 2u;
    /* Two's complement: adding the bits is a signed add. */
    atomicAdd(e, (unsigned long long)q[0]);
    atomicAdd(e + 1, (unsigned long long)q[1]);
  }
  __syncthreads();

  unsigned long long *out =
      reinterpret_cast<unsigned long long *>(hist) + (int64_t)f0 * HIST_ENTRIES_PER_FEATURE;
  for (int i = threadIdx.x; i < entries; i += blockDim.x) {
    const unsigned long long v = sh_hist[i];
    if (v != 0ull) atomicAdd(out + i, v);
  }
}

__global__ void subtract_kernel(const int64_t *parent, const int64_t *child, int64_t *out,
                                int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    out[i] = parent[i] - child[i];
}

} // namespace

extern "C" kz_status kz_gbdt_dev_histogram(kz_stream *s, const uint8_t *codes, int64_t n_rows,
                                           int32_t n_features, const int32_t *rows,
                                           int64_t n_node_rows, const int64_t *qgh,
                                           int64_t qgh_stride, int64_t *hist) {
  static const char op[] = "gbdt histogram";
  KZ_TRY(kz_gbdt_check_rows(op, n_rows));
  KZ_TRY(kz_gbdt_check_rows(op, n_node_rows));
  if (n_features < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: n_features = %d (need >= 1)", op, n_features);
  if (rows == NULL && n_node_rows != n_rows)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: without a row list the node must hold all %lld rows, not %lld", op,
                   (long long)n_rows, (long long)n_node_rows);
  if (qgh_stride < 2)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: qgh_stride = %lld (need >= 2)", op,
                   (long long)qgh_stride);
  KZ_TRY(kz_gbdt_check_ptr(op, "hist", hist));
  if (n_node_rows > 0) {
    KZ_TRY(kz_gbdt_check_ptr(op, "codes", codes));
    KZ_TRY(kz_gbdt_check_ptr(op, "qgh", qgh));
  }
  KZ_TRY(kz_cuda_enter(s, op));
  const int block = kz_stream_knob(s, KZ_KNOB_CUDA_GBDT_HIST_BLOCK);
  const int rows_per_block = kz_stream_knob(s, KZ_KNOB_CUDA_GBDT_HIST_ROWS);
  const int fpg = kz_stream_knob(s, KZ_KNOB_CUDA_GBDT_HIST_FEATURES);
  KZ_TRY(kz_cuda_check_block(op, "gbdt_hist.block", block));
  if (rows_per_block < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: kernel config gbdt_hist.rows_per_block = %d", op,
                   rows_per_block);
  if (fpg < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: kernel config gbdt_hist.features_per_group = %d", op,
                   fpg);
  /* The kernel counts a block's (row, feature) pairs in an int. */
  if ((int64_t)rows_per_block * min(fpg, n_features) > INT32_MAX)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: gbdt_hist.rows_per_block %d x features_per_group %d exceeds 2^31 pairs", op,
                   rows_per_block, fpg);

  const int group = min(fpg, n_features);
  const size_t smem = sizeof(unsigned long long) * HIST_ENTRIES_PER_FEATURE * (size_t)group;
  int optin = 0;
  KZ_CUDA_CHECK(
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, s->device.index), op);
  if (smem > (size_t)optin)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: kernel config gbdt_hist.features_per_group = %d needs %zu bytes of shared "
                   "memory per block; this GPU allows %d (at most %d features)",
                   op, fpg, smem, optin, optin / (int)(8 * HIST_ENTRIES_PER_FEATURE));
  /* Above the 48 KiB default a kernel must opt in to more shared memory. */
  if (smem > 48u * 1024u)
    KZ_CUDA_CHECK(
        cudaFuncSetAttribute(hist_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem),
        op);
  const int64_t chunks = (n_node_rows + rows_per_block - 1) / rows_per_block;
  const int64_t groups = (n_features + group - 1) / group;
  if (groups > 65535)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: %d features make %lld feature groups (grid limit 65535); raise "
                   "gbdt_hist.features_per_group",
                   op, n_features, (long long)groups);
  /* Every check is done: only now is the caller's histogram touched. */
  cudaStream_t st = kz_cuda_stream(s);
  const size_t hist_bytes = sizeof(int64_t) * HIST_ENTRIES_PER_FEATURE * (size_t)n_features;
  KZ_CUDA_CHECK(cudaMemsetAsync(hist, 0, hist_bytes, st), op);
  if (n_node_rows == 0) return KZ_OK;
  const dim3 grid((unsigned)chunks, (unsigned)groups);
  hist_kernel<<<grid, block, smem, st>>>(codes, n_rows, n_features, rows, n_node_rows, qgh,
                                         qgh_stride, hist, rows_per_block, group);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}

extern "C" kz_status kz_gbdt_dev_hist_subtract(kz_stream *s, const int64_t *parent,
                                               const int64_t *child, int64_t *out,
                                               int32_t n_features) {
  static const char op[] = "gbdt hist_subtract";
  if (n_features < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: n_features = %d (need >= 1)", op, n_features);
  KZ_TRY(kz_gbdt_check_ptr(op, "parent", parent));
  KZ_TRY(kz_gbdt_check_ptr(op, "child", child));
  KZ_TRY(kz_gbdt_check_ptr(op, "out", out));
  KZ_TRY(kz_cuda_enter(s, op));
  int block;
  KZ_TRY(kz_gbdt_row_block(s, op, &block));
  const int64_t n = (int64_t)n_features * HIST_ENTRIES_PER_FEATURE;
  subtract_kernel<<<kz_cuda_grid_for(n, block), block, 0, kz_cuda_stream(s)>>>(parent, child, out,
                                                                               n);
  KZ_CUDA_CHECK_LAUNCH(op);
  return KZ_OK;
}
