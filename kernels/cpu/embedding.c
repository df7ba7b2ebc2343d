/* Embedding lookup and its scatter-add gradient on the CPU; gather_rows (the
 * MLM gather of masked positions) is the same lookup with x as the table. */
#include <omp.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/cpu_vec.h"

/* Columns per task in the backward pass: a whole cache line at least, so two
 * threads never write the same line. */
#define EMB_MIN_COLS 16

/* Ids are checked before anything is written, so a bad batch leaves the
 * outputs untouched. */
static kz_status check_ids(const char *op, const char *what, const int32_t *ids, int64_t n,
                           int64_t vocab, int64_t dim) {
  if (n < 0 || vocab < 0 || dim < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: negative size (n %lld, vocab %lld, dim %lld)", op,
                   (long long)n, (long long)vocab, (long long)dim);
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s %d at position %lld is outside [0, %lld)", op,
                     what, (int)ids[i], (long long)i, (long long)vocab);
  return KZ_OK;
}

static kz_status gather(kz_stream *s, const char *op, const char *what, const int32_t *ids,
                        const float *table, float *out, int64_t n, int64_t vocab, int64_t dim) {
  KZ_TRY(check_ids(op, what, ids, n, vocab, dim));
  if (dim == 0) return KZ_OK;
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));

#pragma omp parallel for schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; ++i)
    memcpy(out + i * dim, table + (int64_t)ids[i] * dim, (size_t)dim * sizeof(float));
  return KZ_OK;
}

/* Each task owns a slice of columns and walks the ids in order, so every
 * element of dtable sums its contributions in position order: no atomics, and
 * the result does not depend on the thread count. */
static kz_status scatter_add(kz_stream *s, const char *op, const char *what, const int32_t *ids,
                             const float *dout, float *dtable, int64_t n, int64_t vocab,
                             int64_t dim, bool accumulate) {
  KZ_TRY(check_ids(op, what, ids, n, vocab, dim));
  if (dim == 0) return KZ_OK;
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));
  const int nthreads = omp_get_max_threads();
  int64_t width = (dim + nthreads - 1) / nthreads;
  width = (width + EMB_MIN_COLS - 1) / EMB_MIN_COLS * EMB_MIN_COLS;
  const int64_t slices = (dim + width - 1) / width;

#pragma omp parallel if (vocab > grain || n > grain)
  {
    if (!accumulate) {
#pragma omp for schedule(static)
      for (int64_t v = 0; v < vocab; ++v) memset(dtable + v * dim, 0, (size_t)dim * sizeof(float));
    }
#pragma omp for schedule(static)
    for (int64_t sl = 0; sl < slices; ++sl) {
      const int64_t c0 = sl * width, c1 = c0 + width < dim ? c0 + width : dim;
      for (int64_t i = 0; i < n; ++i) {
        float *dst = dtable + (int64_t)ids[i] * dim;
        const float *src = dout + i * dim;
        for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
      }
    }
  }
  return KZ_OK;
}

kz_status kz_cpu_embedding_fwd(kz_stream *s, const int32_t *ids, const float *table, float *out,
                               int64_t n, int64_t vocab, int64_t dim) {
  return gather(s, "embedding", "id", ids, table, out, n, vocab, dim);
}

kz_status kz_cpu_embedding_bwd(kz_stream *s, const int32_t *ids, const float *dout, float *dtable,
                               int64_t n, int64_t vocab, int64_t dim, bool accumulate) {
  return scatter_add(s, "embedding_bwd", "id", ids, dout, dtable, n, vocab, dim, accumulate);
}

kz_status kz_cpu_gather_rows_fwd(kz_stream *s, const float *x, const int32_t *idx, float *out,
                                 int64_t m, int64_t n, int64_t dim) {
  return gather(s, "gather_rows", "index", idx, x, out, m, n, dim);
}

kz_status kz_cpu_gather_rows_bwd(kz_stream *s, const int32_t *idx, const float *dout, float *dx,
                                 int64_t m, int64_t n, int64_t dim, bool accumulate) {
  return scatter_add(s, "gather_rows_bwd", "index", idx, dout, dx, m, n, dim, accumulate);
}
