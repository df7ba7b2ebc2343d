/* Fused residual + dropout + layernorm on the CPU (the post-LN output of a
 * BERT sublayer), forward and backward. Rows in parallel; each row is read
 * once from memory and then worked on from cache.
 *
 * The dropout mask is redrawn from (key, flat index) wherever it is needed
 * (core/dropout_mask.h), so it is never stored. The backward recovers the
 * normalised row from the forward's output (y - beta) / gamma, or from the
 * saved sum r when the caller kept it (ops.h says when each applies). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "kernels/core/dropout_mask.h"
#include "kernels/core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/cpu_vec.h"
#include "kernels/cpu/fast_math.h"

/* dgamma/dbeta partials: at most this many row chunks, split by rows alone,
 * so the sums do not depend on the thread count. */
#define RLN_MAX_CHUNKS 64

typedef struct rln_mask {
  uint64_t key, threshold;
  float keep; /* 1/(1-p); 1 with p = 0, when no mask is drawn */
  int on;     /* p > 0 */
} rln_mask;

static rln_mask mask_of(double p, uint64_t key) {
  rln_mask m = {key, kz_dropout_threshold(p), (float)(1.0 / (1.0 - p)), p > 0.0};
  return m;
}

/* The mask draw is most of the work at this size; in these plain loops
 * (cloned per ISA) the compiler vectorises the 64-bit hash. */
static KZ_CPU_CLONES void masked_sum(const float *x, const float *h, float *sr, int64_t off,
                                     int64_t cols, uint64_t key, uint64_t threshold, float keep) {
  for (int64_t c = 0; c < cols; ++c)
    sr[c] = x[c] + h[c] * (kz_dropout_keep(key, off + c, threshold) ? keep : 0.0f);
}

static KZ_CPU_CLONES void mask_row(float *out, int64_t off, int64_t cols, uint64_t key,
                                   uint64_t threshold, float keep) {
  for (int64_t c = 0; c < cols; ++c)
    out[c] = kz_dropout_keep(key, off + c, threshold) ? keep : 0.0f;
}

/* One row of the forward (cloned per ISA like the loops above; every loop
 * is lane-wise or elementwise, so each clone gives the same bits). */
static KZ_CPU_CLONES void fwd_row(const float *x, const float *h, float *sr, float *yr,
                                  const float *gamma, const float *beta, int64_t off, int64_t cols,
                                  float inv_cols, float eps, const rln_mask *m, float *mean,
                                  float *rstd) {
  if (m->on) {
    masked_sum(x, h, sr, off, cols, m->key, m->threshold, m->keep);
  } else {
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) sr[c] = x[c] + h[c];
  }
  const float mu = kz_cpu_sum(sr, cols) * inv_cols;
  float acc[KZ_CPU_LANES] = {0};
  int64_t c = 0;
  for (; c + KZ_CPU_LANES <= cols; c += KZ_CPU_LANES)
    for (int l = 0; l < KZ_CPU_LANES; ++l) {
      const float d = sr[c + l] - mu;
      acc[l] += d * d;
    }
  for (int l = 0; c < cols; ++c, ++l) {
    const float d = sr[c] - mu;
    acc[l] += d * d;
  }
  const float rs = 1.0f / sqrtf(kz_cpu_fold_sum(acc) * inv_cols + eps);
#pragma omp simd
  for (int64_t j = 0; j < cols; ++j) yr[j] = (sr[j] - mu) * rs * gamma[j] + beta[j];
  if (mean) *mean = mu;
  if (rstd) *rstd = rs;
}

kz_status kz_cpu_residual_layernorm_fwd(kz_stream *s, const float *x, const float *h,
                                        const float *gamma, const float *beta, float *y, float *r,
                                        float *mean, float *rstd, int64_t rows, int64_t cols,
                                        double p, uint64_t key, float eps) {
  if (rows < 0 || cols <= 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "residual_layernorm: unusable shape [%lld, %lld]",
                   (long long)rows, (long long)cols);
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));
  const float inv_cols = 1.0f / (float)cols;
  const rln_mask m = mask_of(p, key);

#pragma omp parallel for schedule(static, grain) if (rows > grain)
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t off = i * cols;
    /* The sum goes to r when it is kept, else to y, normalised in place
     * below; x and h are read before their element is written (aliases). */
    fwd_row(x + off, h + off, r ? r + off : y + off, y + off, gamma, beta, off, cols, inv_cols, eps,
            &m, mean ? mean + i : NULL, rstd ? rstd + i : NULL);
  }
  return KZ_OK;
}

/* Where the normalised row comes from: r (with mean) or y (with beta). */
typedef struct rln_saved {
  const float *y, *r, *gamma, *beta, *mean, *rstd;
} rln_saved;

/* xhat of row i into xrow: (r - mean) * rstd, or (y - beta) / gamma. */
static inline void xhat_row(const rln_saved *sv, int64_t i, int64_t cols, float *xrow) {
  const int64_t off = i * cols;
  if (sv->r) {
    const float *rr = sv->r + off, mu = sv->mean[i], rs = sv->rstd[i];
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) xrow[c] = (rr[c] - mu) * rs;
  } else {
    const float *yr = sv->y + off, *beta = sv->beta, *gamma = sv->gamma;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) xrow[c] = (yr[c] - beta[c]) / gamma[c];
  }
}

/* out (+)= v (+ times the mask row): the variants outside the loops so each
 * loop vectorises. */
static inline void put_row(float *out, const float *v, const float *mrow, int64_t cols,
                           bool accumulate) {
  if (mrow && accumulate) {
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) out[c] += v[c] * mrow[c];
  } else if (mrow) {
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) out[c] = v[c] * mrow[c];
  } else if (accumulate) {
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) out[c] += v[c];
  } else {
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) out[c] = v[c];
  }
}

/* One row, from its xhat (xrow, then overwritten with dr) and mask (mrow,
 * when dh is wanted and p > 0): partials of dgamma/dbeta (pg, pb: NULL when
 * neither is wanted), then dr = rstd * (g - mean(g) - xhat * mean(g * xhat))
 * with g = dy * gamma, added to dx and, through the mask, to dh. dy is fully
 * read before dx or dh (which may alias it) is written. Cloned per ISA; all
 * loops lane-wise or elementwise, so every clone gives the same bits. */
static KZ_CPU_CLONES void bwd_row(const float *dyr, const float *gamma, float *xrow,
                                  const float *mrow, float rs, float *dx, float *dh, float *pg,
                                  float *pb, int64_t cols, bool accumulate) {
  if (pg) {
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      pg[c] += dyr[c] * xrow[c];
      pb[c] += dyr[c];
    }
  }
  if (!dx && !dh) return;
  float acc_g[KZ_CPU_LANES] = {0}, acc_gx[KZ_CPU_LANES] = {0};
  int64_t c = 0;
  for (; c + KZ_CPU_LANES <= cols; c += KZ_CPU_LANES)
    for (int l = 0; l < KZ_CPU_LANES; ++l) {
      const float g = dyr[c + l] * gamma[c + l];
      acc_g[l] += g;
      acc_gx[l] += g * xrow[c + l];
    }
  for (int l = 0; c < cols; ++c, ++l) {
    const float g = dyr[c] * gamma[c];
    acc_g[l] += g;
    acc_gx[l] += g * xrow[c];
  }
  const float inv_cols = 1.0f / (float)cols;
  const float mg = kz_cpu_fold_sum(acc_g) * inv_cols, mgx = kz_cpu_fold_sum(acc_gx) * inv_cols;
#pragma omp simd
  for (int64_t j = 0; j < cols; ++j) xrow[j] = rs * (dyr[j] * gamma[j] - mg - xrow[j] * mgx);
  if (dx) put_row(dx, xrow, NULL, cols, accumulate);
  if (dh) put_row(dh, xrow, mrow, cols, accumulate);
}

kz_status kz_cpu_residual_layernorm_bwd(kz_stream *s, const float *dy, const float *y,
                                        const float *r, const float *gamma, const float *beta,
                                        const float *mean, const float *rstd, float *dx, float *dh,
                                        float *dgamma, float *dbeta, int64_t rows, int64_t cols,
                                        double p, uint64_t key, bool accumulate) {
  const char *op = "residual_layernorm_bwd";
  if (rows < 0 || cols < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: negative shape [%lld, %lld]", op, (long long)rows,
                   (long long)cols);
  if (cols == 0 || rows == 0) return KZ_OK;
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));
  int64_t chunk_rows = (rows + RLN_MAX_CHUNKS - 1) / RLN_MAX_CHUNKS;
  if (chunk_rows < grain) chunk_rows = grain;
  const int64_t chunks = (rows + chunk_rows - 1) / chunk_rows;
  const bool params = dgamma || dbeta;
  const rln_mask m = mask_of(p, key);
  const bool masked = dh && m.on;
  /* Chunk partials of dgamma/dbeta (two rows of cols each), then each
   * thread's xhat row and mask row. */
  const int threads = omp_get_max_threads();
  const int64_t per_thread = cols * (masked ? 2 : 1);
  const int64_t nparts = params ? chunks * 2 * cols : 0;
  float *buf = calloc((size_t)(nparts + threads * per_thread), sizeof(float));
  if (!buf)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: scratch of %lld floats", op,
                   (long long)(nparts + threads * per_thread));
  float *part = buf;
  const rln_saved sv = {y, r, gamma, beta, mean, rstd};

#pragma omp parallel num_threads(threads)
  {
    float *xrow = buf + nparts + (int64_t)omp_get_thread_num() * per_thread;
    float *mrow = masked ? xrow + cols : NULL;
#pragma omp for schedule(static)
    for (int64_t ch = 0; ch < chunks; ++ch) {
      float *pg = params ? part + ch * 2 * cols : NULL, *pb = params ? pg + cols : NULL;
      const int64_t end = (ch + 1) * chunk_rows < rows ? (ch + 1) * chunk_rows : rows;
      for (int64_t i = ch * chunk_rows; i < end; ++i) {
        const int64_t off = i * cols;
        xhat_row(&sv, i, cols, xrow);
        if (mrow) mask_row(mrow, off, cols, m.key, m.threshold, m.keep);
        bwd_row(dy + off, gamma, xrow, mrow, rstd[i], dx ? dx + off : NULL, dh ? dh + off : NULL,
                pg, pb, cols, accumulate);
      }
    }
    /* Chunk partials added in chunk order, columns in parallel. */
#pragma omp for schedule(static)
    for (int64_t c0 = 0; c0 < (params ? cols : 0); c0 += 256) {
      const int64_t c1 = c0 + 256 < cols ? c0 + 256 : cols;
      for (int64_t c = c0; c < c1; ++c) {
        float sg = 0.0f, sb = 0.0f;
        for (int64_t ch = 0; ch < chunks; ++ch) {
          sg += part[ch * 2 * cols + c];
          sb += part[ch * 2 * cols + cols + c];
        }
        if (dgamma) dgamma[c] = accumulate ? dgamma[c] + sg : sg;
        if (dbeta) dbeta[c] = accumulate ? dbeta[c] + sb : sb;
      }
    }
  }
  free(buf);
  return KZ_OK;
}
