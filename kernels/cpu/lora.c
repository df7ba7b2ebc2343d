/* The LoRA op on the CPU: two (forward) or four (backward) products on the
 * CPU GEMM (kz_cpu_gemm: OpenBLAS in slabs of C over OpenMP threads), in
 * the order kernels/core/lora_gemms.h gives. */
#include "kernels/core/lora_gemms.h"
#include "kernels/cpu/cpu_ops.h"

kz_status kz_cpu_lora_fwd(kz_stream *s, const float *x, const float *a, const float *b, float *u,
                          float *y, int64_t rows, int64_t in, int64_t rank, int64_t out,
                          int64_t ldy, float scale) {
  return kz_lora_fwd_gemms(kz_cpu_gemm, s, x, a, b, u, y, rows, in, rank, out, ldy, scale);
}

kz_status kz_cpu_lora_bwd(kz_stream *s, const float *x, const float *a, const float *b,
                          const float *u, const float *dy, float *du, float *dx, float *da,
                          float *db, int64_t rows, int64_t in, int64_t rank, int64_t out,
                          int64_t ldy, float scale, bool accumulate) {
  return kz_lora_bwd_gemms(kz_cpu_gemm, s, x, a, b, u, dy, du, dx, da, db, rows, in, rank, out, ldy,
                           scale, accumulate);
}
