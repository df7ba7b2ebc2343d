/* Stable partition of a node's row list by a split: flag -> exclusive scan
 * -> scatter, in three kernels.
 *   1. count: one tile of blockDim rows per block; the block's left count.
 *   2. scan: one block turns the counts into exclusive offsets (in place) and
 *      writes the total, the number of left rows.
 *   3. scatter: each block re-derives its flags, ranks them inside the block
 *      (warp ballots + a scan of the warp counts) and writes left rows to
 *      offset + rank and right rows to n_left + (index - lefts before it).
 * Both sides keep their input order, so the partition is deterministic. */
#include "kernels/cuda/gbdt_common.cuh"

namespace {

struct split_rule {
  const uint8_t *codes;
  int32_t n_features, feature, bin, default_left;
  __device__ __forceinline__ bool goes_left(int32_t row) const {
    const unsigned b = codes[(int64_t)row * n_features + feature];
    return b == KZ_GBDT_DEV_MISSING_BIN ? default_left != 0 : (int)b <= bin;
  }
};

__global__ void count_kernel(split_rule rule, const int32_t *rows, int64_t n, int64_t *counts) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int left = i < n && rule.goes_left(rows[i]);
  const int c = __syncthreads_count(left);
  if (threadIdx.x == 0) counts[blockIdx.x] = c;
}

/* Exclusive scan of one value per thread across the block; the block total
 * goes to *total. `shared` holds 32 int64. */
__device__ __forceinline__ int64_t block_exclusive_scan(int64_t v, int64_t *shared,
                                                        int64_t *total) {
  const int lane = threadIdx.x % KZ_WARP, warp = threadIdx.x / KZ_WARP;
  const int warps = blockDim.x / KZ_WARP;
  int64_t incl = v;
  for (int o = 1; o < KZ_WARP; o <<= 1) {
    const int64_t t = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += t;
  }
  if (lane == KZ_WARP - 1) shared[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    int64_t w = lane < warps ? shared[lane] : 0;
    for (int o = 1; o < KZ_WARP; o <<= 1) {
      const int64_t t = __shfl_up_sync(0xffffffffu, w, o);
      if (lane >= o) w += t;
    }
    if (lane < warps) shared[lane] = w; /* inclusive warp totals */
  }
  __syncthreads();
  const int64_t before = warp > 0 ? shared[warp - 1] : 0;
  *total = shared[warps - 1];
  __syncthreads(); /* the caller may reuse `shared` at once */
  return before + incl - v;
}

__global__ void scan_kernel(int64_t *counts, int64_t n_blocks, int64_t *n_left) {
  __shared__ int64_t shared[KZ_WARP];
  int64_t carry = 0;
  for (int64_t base = 0; base < n_blocks; base += blockDim.x) {
    const int64_t i = base + threadIdx.x;
    const int64_t v = i < n_blocks ? counts[i] : 0;
    int64_t total;
    const int64_t ex = block_exclusive_scan(v, shared, &total);
    if (i < n_blocks) counts[i] = carry + ex;
    carry += total;
  }
  if (threadIdx.x == 0) *n_left = carry;
}

__global__ void scatter_kernel(split_rule rule, const int32_t *rows, int64_t n,
                               const int64_t *offsets, const int64_t *n_left, int32_t *out) {
  __shared__ int64_t shared[KZ_WARP];
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int32_t row = i < n ? rows[i] : 0;
  const int left = i < n && rule.goes_left(row);
  int64_t block_total;
  const int64_t rank = block_exclusive_scan(left, shared, &block_total);
  if (i >= n) return;
  const int64_t lefts_before = offsets[blockIdx.x] + rank;
  out[left ? lefts_before : *n_left + (i - lefts_before)] = row;
}

} // namespace

extern "C" kz_status kz_gbdt_dev_partition(kz_stream *s, const uint8_t *codes, int32_t n_features,
                                           const int32_t *rows, int64_t n, int32_t feature,
                                           int32_t bin, int32_t default_left, int32_t *out_rows,
                                           int64_t *n_left_dev) {
  static const char op[] = "gbdt partition";
  KZ_TRY(kz_gbdt_check_rows(op, n));
  if (n_features < 1 || feature < 0 || feature >= n_features)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: feature %d is not in 0..%d", op, feature,
                   n_features - 1);
  /* -1: no value goes left (the missing rows alone may, with default_left). */
  if (bin < -1 || bin >= KZ_GBDT_DEV_MISSING_BIN)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: bin %d is not -1 or a value bin (0..254)", op, bin);
  KZ_TRY(kz_gbdt_check_ptr(op, "n_left_dev", n_left_dev));
  if (n > 0) {
    KZ_TRY(kz_gbdt_check_ptr(op, "codes", codes));
    KZ_TRY(kz_gbdt_check_ptr(op, "rows", rows));
    KZ_TRY(kz_gbdt_check_ptr(op, "out_rows", out_rows));
    if (out_rows < rows + n && rows < out_rows + n)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: out_rows overlaps rows", op);
  }
  KZ_TRY(kz_cuda_enter(s, op));
  int block;
  KZ_TRY(kz_gbdt_row_block(s, op, &block));
  cudaStream_t st = kz_cuda_stream(s);
  if (n == 0) {
    KZ_CUDA_CHECK(cudaMemsetAsync(n_left_dev, 0, sizeof(int64_t), st), op);
    return KZ_OK;
  }
  const int64_t n_blocks = (n + block - 1) / block;
  if (n_blocks > INT32_MAX)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %lld rows need too many blocks of %d", op, (long long)n,
                   block);
  int64_t *offsets = NULL;
  KZ_TRY(kz_cuda_scratch_alloc(s, sizeof(int64_t) * (size_t)n_blocks, (void **)&offsets, op));
  const split_rule rule = {codes, n_features, feature, bin, default_left};
  count_kernel<<<(unsigned)n_blocks, block, 0, st>>>(rule, rows, n, offsets);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) {
    scan_kernel<<<1, KZ_MAX_BLOCK, 0, st>>>(offsets, n_blocks, n_left_dev);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) {
    scatter_kernel<<<(unsigned)n_blocks, block, 0, st>>>(rule, rows, n, offsets, n_left_dev,
                                                         out_rows);
    e = cudaGetLastError();
  }
  kz_cuda_scratch_free(s, offsets);
  KZ_CUDA_CHECK(e, op);
  return KZ_OK;
}
