/* Batched GEMM, C = alpha * op(A) op(B) + beta * C, row-major (kz_gemm).
 *
 * matmul.impl 0 uses cuBLAS. cuBLAS is column-major, and a row-major matrix
 * read column-major is its transpose, so we ask it for C^T = op(B)^T op(A)^T:
 * B is passed first, the dimensions m and n swap, and each operand keeps its
 * own transpose flag. bf16 operands go through cublasGemmStridedBatchedEx
 * with f32 output and f32 compute; f32 stays on plain SGEMM (cuBLAS's
 * default math mode, no TF32) so results match the f32 reference.
 *
 * matmul.impl 1 is the hand-written fallback: a shared-memory tiled kernel,
 * one output per thread, tile edge matmul.tile (16 or 32). It also takes
 * the cases cuBLAS cannot: k == 0 (C = beta * C) and sizes beyond int. */
#include <cublas_v2.h>
#include <limits.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

struct gemm_args {
  int64_t m, n, k, lda, ldb, ldc, stride_a, stride_b, stride_c, batch;
  bool trans_a, trans_b;
  float alpha, beta;
};

template <int T, typename In>
__global__ void __launch_bounds__(T *T)
    tiled_kernel(const In *__restrict__ a, const In *__restrict__ b, float *c, gemm_args g) {
  /* +1 column: the transposed loads write columns, which would otherwise
   * hit one bank T times. */
  __shared__ float as[T][T + 1]; /* as[i][p] = op(A)[i0 + i][p0 + p] */
  __shared__ float bs[T][T + 1]; /* bs[p][j] = op(B)[p0 + p][j0 + j] */
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t tiles_m = (g.m + T - 1) / T, tiles_n = (g.n + T - 1) / T;
  const int64_t tiles = tiles_m * tiles_n * g.batch;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t bi = tile / (tiles_m * tiles_n);
    const int64_t rest = tile % (tiles_m * tiles_n);
    const int64_t i0 = (rest / tiles_n) * T, j0 = (rest % tiles_n) * T;
    const In *ab = a + bi * g.stride_a;
    const In *bb = b + bi * g.stride_b;
    float acc = 0.0f;
    for (int64_t p0 = 0; p0 < g.k; p0 += T) {
      /* Consecutive threadIdx.x always walks the contiguous dimension of
       * the stored matrix, so global loads coalesce for either layout. */
      if (!g.trans_a) {
        const int64_t i = i0 + ty, p = p0 + tx;
        as[ty][tx] = (i < g.m && p < g.k) ? kz_load_as_f32(ab + i * g.lda + p) : 0.0f;
      } else {
        const int64_t i = i0 + tx, p = p0 + ty;
        as[tx][ty] = (i < g.m && p < g.k) ? kz_load_as_f32(ab + p * g.lda + i) : 0.0f;
      }
      if (!g.trans_b) {
        const int64_t p = p0 + ty, j = j0 + tx;
        bs[ty][tx] = (p < g.k && j < g.n) ? kz_load_as_f32(bb + p * g.ldb + j) : 0.0f;
      } else {
        const int64_t p = p0 + tx, j = j0 + ty;
        bs[tx][ty] = (p < g.k && j < g.n) ? kz_load_as_f32(bb + j * g.ldb + p) : 0.0f;
      }
      __syncthreads();
#pragma unroll
      for (int q = 0; q < T; ++q) acc += as[ty][q] * bs[q][tx];
      __syncthreads();
    }
    const int64_t i = i0 + ty, j = j0 + tx;
    if (i < g.m && j < g.n) {
      float *cp = c + bi * g.stride_c + i * g.ldc + j;
      /* beta == 0 must not read C: it may hold NaN. */
      *cp = g.beta == 0.0f ? g.alpha * acc : g.alpha * acc + g.beta * *cp;
    }
  }
}

template <typename In> kz_status launch_tiled(kz_stream *s, const kz_gemm *p, const gemm_args &g) {
  const int tile = kz_stream_knob(s, KZ_KNOB_CUDA_MATMUL_TILE);
  if (tile != 16 && tile != 32)
    return kz_fail(KZ_ERR_INVALID_ARG, "gemm: kernel config matmul.tile = %d (need 16 or 32)",
                   tile);
  const int64_t tiles = ((g.m + tile - 1) / tile) * ((g.n + tile - 1) / tile) * g.batch;
  const unsigned grid = (unsigned)(tiles < KZ_MAX_GRID_BLOCKS ? tiles : KZ_MAX_GRID_BLOCKS);
  const In *a = static_cast<const In *>(p->a);
  const In *b = static_cast<const In *>(p->b);
  cudaStream_t st = kz_cuda_stream(s);
  if (tile == 32)
    tiled_kernel<32, In><<<grid, dim3(32, 32), 0, st>>>(a, b, p->c, g);
  else
    tiled_kernel<16, In><<<grid, dim3(16, 16), 0, st>>>(a, b, p->c, g);
  KZ_CUDA_CHECK_LAUNCH("gemm (tiled)");
  return KZ_OK;
}

kz_status blas_fail(cublasStatus_t st, const char *what) {
  return kz_fail(KZ_ERR_DEVICE, "gemm: %s: %s", what, cublasGetStatusString(st));
}

kz_status launch_cublas(kz_stream *s, const kz_gemm *p, const gemm_args &g) {
  cublasHandle_t h = (cublasHandle_t)s->blas;
  if (h == nullptr) return kz_fail(KZ_ERR_INVALID_ARG, "gemm: stream has no cuBLAS handle");
  const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasStatus_t st;
  if (p->ab_dtype == KZ_F32) {
    st = cublasSgemmStridedBatched(h, op_b, op_a, (int)g.n, (int)g.m, (int)g.k, &g.alpha,
                                   static_cast<const float *>(p->b), (int)g.ldb, g.stride_b,
                                   static_cast<const float *>(p->a), (int)g.lda, g.stride_a,
                                   &g.beta, p->c, (int)g.ldc, g.stride_c, (int)g.batch);
    if (st != CUBLAS_STATUS_SUCCESS) return blas_fail(st, "cublasSgemmStridedBatched");
  } else {
    st = cublasGemmStridedBatchedEx(
        h, op_b, op_a, (int)g.n, (int)g.m, (int)g.k, &g.alpha, p->b, CUDA_R_16BF, (int)g.ldb,
        g.stride_b, p->a, CUDA_R_16BF, (int)g.lda, g.stride_a, &g.beta, p->c, CUDA_R_32F,
        (int)g.ldc, g.stride_c, (int)g.batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) return blas_fail(st, "cublasGemmStridedBatchedEx");
  }
  /* cuBLAS reports its own errors, but a kernel it launched may still have
   * left a launch error behind. */
  KZ_CUDA_CHECK_LAUNCH("gemm (cuBLAS)");
  return KZ_OK;
}

kz_status validate(const kz_gemm *p) {
  if (p->ab_dtype != KZ_F32 && p->ab_dtype != KZ_BF16)
    return kz_fail(KZ_ERR_INVALID_ARG, "gemm: A/B dtype %d (need f32 or bf16)", (int)p->ab_dtype);
  if (p->m < 0 || p->n < 0 || p->k < 0 || p->batch < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "gemm: negative size (m %lld, n %lld, k %lld, batch %lld)",
                   (long long)p->m, (long long)p->n, (long long)p->k, (long long)p->batch);
  /* Row strides must cover a stored row: op(A) is m x k, so A is stored
   * m x k, or k x m when transposed. */
  const int64_t a_cols = p->trans_a ? p->m : p->k;
  const int64_t b_cols = p->trans_b ? p->k : p->n;
  if (p->lda < (a_cols > 1 ? a_cols : 1) || p->ldb < (b_cols > 1 ? b_cols : 1) ||
      p->ldc < (p->n > 1 ? p->n : 1))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "gemm: leading dimensions lda %lld, ldb %lld, ldc %lld too small for stored "
                   "rows of %lld, %lld, %lld",
                   (long long)p->lda, (long long)p->ldb, (long long)p->ldc, (long long)a_cols,
                   (long long)b_cols, (long long)p->n);
  if (p->stride_a < 0 || p->stride_b < 0 || p->stride_c < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "gemm: negative batch stride");
  /* Broadcasting is for inputs only: batches sharing one C would race. */
  if (p->batch > 1 && p->stride_c == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "gemm: stride_c 0 with batch %lld", (long long)p->batch);
  if (p->batch > 0 && p->m > 0 && p->n > 0 &&
      (p->c == nullptr || (p->k > 0 && (p->a == nullptr || p->b == nullptr))))
    return kz_fail(KZ_ERR_INVALID_ARG, "gemm: NULL operand");
  return KZ_OK;
}

bool fits_int(const gemm_args &g) {
  const int64_t lim = INT_MAX;
  return g.m <= lim && g.n <= lim && g.k <= lim && g.lda <= lim && g.ldb <= lim && g.ldc <= lim &&
         g.batch <= lim;
}

} // namespace

extern "C" kz_status kz_cuda_gemm(kz_stream *s, const kz_gemm *p) {
  if (p == nullptr) return kz_fail(KZ_ERR_INVALID_ARG, "gemm: no arguments");
  KZ_TRY(kz_cuda_enter(s, "gemm"));
  const int impl = kz_stream_knob(s, KZ_KNOB_CUDA_MATMUL_IMPL);
  if (impl != 0 && impl != 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "gemm: kernel config matmul.impl = %d (need 0 or 1)", impl);
  KZ_TRY(validate(p));
  if (p->batch == 0 || p->m == 0 || p->n == 0) return KZ_OK;
  const gemm_args g = {p->m,       p->n,        p->k,        p->lda,      p->ldb,
                       p->ldc,     p->stride_a, p->stride_b, p->stride_c, p->batch,
                       p->trans_a, p->trans_b,  p->alpha,    p->beta};
  if (impl == 0 && g.k > 0 && fits_int(g)) return launch_cublas(s, p, g);
  if (p->ab_dtype == KZ_F32) return launch_tiled<float>(s, p, g);
  return launch_tiled<__nv_bfloat16>(s, p, g);
}
