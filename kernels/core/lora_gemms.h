/* The LoRA op (op_list.h rows `lora`, `lora_bwd`) as a sequence of GEMMs
 * on a backend's own gemm slot, shared by the CPU backend (the project's
 * slab-split OpenBLAS GEMM) and the CUDA backend (cuBLAS): the rank r is
 * small (4 to 64), so every product is a skinny GEMM that the tuned GEMM
 * already does well, and the op's worth is in keeping the low-rank
 * intermediate u = x A^T [R, r] (saved for the backward) instead of ever
 * forming scale B A [M, K]. Plain C, so nvcc compiles it too. */
#ifndef KZ_CORE_LORA_GEMMS_H
#define KZ_CORE_LORA_GEMMS_H

#include "kernels/core/backend.h"

typedef kz_status (*kz_lora_gemm_fn)(kz_stream *s, const kz_gemm *g);

/* C (ldc) = alpha op(A) op(B) + beta C, one f32 matrix. */
static inline kz_status kz_lora_gemm(kz_lora_gemm_fn gemm, kz_stream *s, const float *a,
                                     int64_t lda, bool ta, const float *b, int64_t ldb, bool tb,
                                     float *c, int64_t ldc, int64_t m, int64_t n, int64_t k,
                                     float alpha, float beta) {
  kz_gemm g;
  g.a = a;
  g.b = b;
  g.c = c;
  g.ab_dtype = KZ_F32;
  g.trans_a = ta;
  g.trans_b = tb;
  g.m = m;
  g.n = n;
  g.k = k;
  g.lda = lda;
  g.ldb = ldb;
  g.ldc = ldc;
  g.stride_a = 0;
  g.stride_b = 0;
  g.stride_c = 0;
  g.batch = 1;
  g.alpha = alpha;
  g.beta = beta;
  return gemm(s, &g);
}

/* u = x A^T; y[:, :out] += scale u B^T. */
static inline kz_status kz_lora_fwd_gemms(kz_lora_gemm_fn gemm, kz_stream *s, const float *x,
                                          const float *a, const float *b, float *u, float *y,
                                          int64_t rows, int64_t in, int64_t rank, int64_t out,
                                          int64_t ldy, float scale) {
  kz_status st =
      kz_lora_gemm(gemm, s, x, in, false, a, in, true, u, rank, rows, rank, in, 1.0f, 0.0f);
  if (st != KZ_OK) return st;
  return kz_lora_gemm(gemm, s, u, rank, false, b, rank, true, y, ldy, rows, out, rank, scale, 1.0f);
}

/* du = scale dy B; db (+)= scale dy^T u; da (+)= du^T x; dx (+)= du A.
 * db first: it is the only product that does not need du. */
static inline kz_status kz_lora_bwd_gemms(kz_lora_gemm_fn gemm, kz_stream *s, const float *x,
                                          const float *a, const float *b, const float *u,
                                          const float *dy, float *du, float *dx, float *da,
                                          float *db, int64_t rows, int64_t in, int64_t rank,
                                          int64_t out, int64_t ldy, float scale, bool accumulate) {
  const float beta = accumulate ? 1.0f : 0.0f;
  kz_status st = KZ_OK;
  if (db)
    st = kz_lora_gemm(gemm, s, dy, ldy, true, u, rank, false, db, rank, out, rank, rows, scale,
                      beta);
  if (st == KZ_OK)
    st = kz_lora_gemm(gemm, s, dy, ldy, false, b, rank, false, du, rank, rows, rank, out, scale,
                      0.0f);
  if (st == KZ_OK && da)
    st = kz_lora_gemm(gemm, s, du, rank, true, x, in, false, da, in, rank, in, rows, 1.0f, beta);
  if (st == KZ_OK && dx)
    st = kz_lora_gemm(gemm, s, du, rank, false, a, in, false, dx, in, rows, in, rank, 1.0f, beta);
  return st;
}

#endif
