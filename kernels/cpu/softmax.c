/* Attention softmax on the CPU: one row of keys per (batch, head, query). */
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/cpu_vec.h"

/* Both masks only bound j from above, so the allowed keys of a row are the
 * prefix [0, limit). */
static int64_t allowed_prefix(const kz_softmax_shape *sh, int64_t b, int64_t t) {
  int64_t limit = sh->keys;
  if (sh->lengths && sh->lengths[b] < limit) limit = sh->lengths[b];
  if (sh->causal && t + (sh->keys - sh->queries) + 1 < limit)
    limit = t + (sh->keys - sh->queries) + 1;
  return limit > 0 ? limit : 0;
}

static kz_status check_shape(const char *op, const kz_softmax_shape *sh) {
  if (sh->batch < 0 || sh->heads < 0 || sh->queries < 0 || sh->keys < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: negative shape [%lld, %lld, %lld, %lld]", op,
                   (long long)sh->batch, (long long)sh->heads, (long long)sh->queries,
                   (long long)sh->keys);
  return KZ_OK;
}

kz_status kz_cpu_softmax_fwd(kz_stream *s, const float *x, float *y, const kz_softmax_shape *sh) {
  KZ_TRY(check_shape("softmax", sh));
  const int64_t rows = sh->batch * sh->heads * sh->queries, cols = sh->keys;
  if (rows == 0 || cols == 0) return KZ_OK;
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));
  const float scale = sh->scale;

  /* Causal rows differ in length, hence dynamic scheduling. */
#pragma omp parallel for schedule(dynamic, grain) if (rows > grain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / (sh->heads * sh->queries), t = r % sh->queries;
    const int64_t n = allowed_prefix(sh, b, t);
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    if (n > 0) {
      const float mx = kz_cpu_max_scaled(xr, n, scale);
      float acc[KZ_CPU_LANES] = {0};
      int64_t i = 0;
      for (; i + KZ_CPU_LANES <= n; i += KZ_CPU_LANES)
        for (int l = 0; l < KZ_CPU_LANES; ++l) {
          const float e = kz_cpu_exp_nonpos(scale * xr[i + l] - mx);
          yr[i + l] = e;
          acc[l] += e;
        }
      for (int l = 0; i < n; ++i, ++l) {
        const float e = kz_cpu_exp_nonpos(scale * xr[i] - mx);
        yr[i] = e;
        acc[l] += e;
      }
      /* sum >= 1: the maximum contributes exp(0). */
      const float inv = 1.0f / kz_cpu_fold_sum(acc);
      for (int64_t j = 0; j < n; ++j) yr[j] *= inv;
    }
    if (n < cols) memset(yr + n, 0, (size_t)(cols - n) * sizeof(float));
  }
  return KZ_OK;
}

/* Follows the documented formula over every key: masked keys carry y = 0 and
 * so receive no gradient without consulting the mask. */
kz_status kz_cpu_softmax_bwd(kz_stream *s, const float *y, const float *dy, float *dx,
                             const kz_softmax_shape *sh, bool accumulate) {
  KZ_TRY(check_shape("softmax_bwd", sh));
  const int64_t rows = sh->batch * sh->heads * sh->queries, cols = sh->keys;
  if (rows == 0 || cols == 0) return KZ_OK;
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));
  const float scale = sh->scale;

#pragma omp parallel for schedule(static, grain) if (rows > grain)
  for (int64_t r = 0; r < rows; ++r) {
    const float *yr = y + r * cols, *dyr = dy + r * cols;
    float *dxr = dx + r * cols;
    const float dot = kz_cpu_dot(dyr, yr, cols);
    if (accumulate)
      for (int64_t j = 0; j < cols; ++j) dxr[j] += scale * yr[j] * (dyr[j] - dot);
    else
      for (int64_t j = 0; j < cols; ++j) dxr[j] = scale * yr[j] * (dyr[j] - dot);
  }
  return KZ_OK;
}
