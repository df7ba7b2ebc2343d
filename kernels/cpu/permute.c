/* Permute on the CPU: OpenMP over output rows (all dims but the last); each
 * row is written contiguously and read with x's stride for that dim, which
 * is 1 whenever the last dim stays last (the head split [B,T,H,D] ->
 * [B,H,T,D]). */
#include <string.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/cpu_vec.h"

kz_status kz_cpu_permute(kz_stream *s, const float *x, float *y, const kz_permute_shape *sh,
                         bool accumulate) {
  int64_t xstride[4], out[4], st[4];
  xstride[3] = 1;
  for (int d = 2; d >= 0; --d) xstride[d] = xstride[d + 1] * sh->in[d + 1];
  for (int j = 0; j < 4; ++j) {
    out[j] = sh->in[sh->perm[j]];
    st[j] = xstride[sh->perm[j]];
  }
  const int64_t rows = out[0] * out[1] * out[2], cols = out[3];
  if (rows == 0 || cols == 0) return KZ_OK;
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));
#pragma omp parallel for schedule(static, grain) if (rows > grain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o2 = r % out[2], o1 = (r / out[2]) % out[1], o0 = r / (out[2] * out[1]);
    const float *src = x + o0 * st[0] + o1 * st[1] + o2 * st[2];
    float *dst = y + r * cols;
    const int64_t step = st[3];
    if (step == 1) { /* the last dim stays last: a contiguous row (vectorised) */
      if (accumulate) {
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) dst[c] += src[c];
      } else {
        memcpy(dst, src, (size_t)cols * sizeof(float));
      }
    } else if (accumulate) {
      for (int64_t c = 0; c < cols; ++c) dst[c] += src[c * step];
    } else {
      for (int64_t c = 0; c < cols; ++c) dst[c] = src[c * step];
    }
  }
  return KZ_OK;
}
