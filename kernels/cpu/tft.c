/* CPU ops of the Temporal Fusion Transformer: the fused LSTM cell and its
 * backward, the gated linear unit and the quantile loss. OpenMP over rows
 * (or elements); transcendentals in float, as PyTorch's CPU kernels. */
#include <math.h>
#include <omp.h>

#include "kernels/cpu/cpu_ops.h"

static int64_t grain_of(const kz_stream *s) {
  int g = kz_stream_knob(s, KZ_KNOB_CPU_ELEMENTWISE_GRAIN);
  return g < 1 ? 1 : g;
}

/* Rows per OpenMP chunk for row-wise ops of `cols` elements a row. */
static int64_t row_chunk(const kz_stream *s, int64_t cols) {
  int64_t g = grain_of(s), c = cols > 0 ? g / cols : g;
  return c > 0 ? c : 1;
}

static inline float sigmf(float x) {
  return 1.0f / (1.0f + expf(-x));
}

kz_status kz_cpu_lstm_cell_fwd(kz_stream *s, const float *gates, const float *c_prev, float *h,
                               float *c, int64_t rows, int64_t hidden) {
  const int64_t chunk = row_chunk(s, 4 * hidden);
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++) {
    const float *g = gates + r * 4 * hidden;
    for (int64_t j = 0; j < hidden; j++) {
      const int64_t k = r * hidden + j;
      float ig = sigmf(g[j]), fg = sigmf(g[hidden + j]);
      float gg = tanhf(g[2 * hidden + j]), og = sigmf(g[3 * hidden + j]);
      float cn = fg * c_prev[k] + ig * gg;
      c[k] = cn;
      h[k] = og * tanhf(cn);
    }
  }
  return KZ_OK;
}

kz_status kz_cpu_lstm_cell_bwd(kz_stream *s, const float *gates, const float *c_prev,
                               const float *c, const float *dh, const float *dc, float *dgates,
                               float *dc_prev, int64_t rows, int64_t hidden, bool accumulate) {
  const int64_t chunk = row_chunk(s, 4 * hidden);
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++) {
    const float *g = gates + r * 4 * hidden;
    float *dg = dgates ? dgates + r * 4 * hidden : NULL;
    for (int64_t j = 0; j < hidden; j++) {
      const int64_t k = r * hidden + j;
      float ig = sigmf(g[j]), fg = sigmf(g[hidden + j]);
      float gg = tanhf(g[2 * hidden + j]), og = sigmf(g[3 * hidden + j]);
      float tc = tanhf(c[k]);
      float dct = (dc ? dc[k] : 0.0f) + dh[k] * og * (1.0f - tc * tc);
      float d[4] = {dct * gg * ig * (1.0f - ig), dct * c_prev[k] * fg * (1.0f - fg),
                    dct * ig * (1.0f - gg * gg), dh[k] * tc * og * (1.0f - og)};
      for (int q = 0; q < 4 && dgates; q++)
        dg[q * hidden + j] = accumulate ? dg[q * hidden + j] + d[q] : d[q];
      if (dc_prev) dc_prev[k] = accumulate ? dc_prev[k] + dct * fg : dct * fg;
    }
  }
  return KZ_OK;
}

kz_status kz_cpu_glu_fwd(kz_stream *s, const float *x, float *y, int64_t rows, int64_t cols) {
  const int64_t chunk = row_chunk(s, 2 * cols);
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++) {
    const float *a = x + r * 2 * cols, *b = a + cols;
    for (int64_t j = 0; j < cols; j++) y[r * cols + j] = a[j] * sigmf(b[j]);
  }
  return KZ_OK;
}

kz_status kz_cpu_glu_bwd(kz_stream *s, const float *x, const float *dy, float *dx, int64_t rows,
                         int64_t cols, bool accumulate) {
  const int64_t chunk = row_chunk(s, 2 * cols);
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++) {
    const float *a = x + r * 2 * cols, *b = a + cols;
    float *da = dx + r * 2 * cols, *db = da + cols;
    for (int64_t j = 0; j < cols; j++) {
      float sb = sigmf(b[j]), g = dy[r * cols + j];
      float ga = g * sb, gb = g * a[j] * sb * (1.0f - sb);
      da[j] = accumulate ? da[j] + ga : ga;
      db[j] = accumulate ? db[j] + gb : gb;
    }
  }
  return KZ_OK;
}

kz_status kz_cpu_quantile_loss_fwd(kz_stream *s, const float *pred, const float *target,
                                   const float *quantiles, float *losses, int64_t rows,
                                   int64_t nq) {
  const int64_t chunk = row_chunk(s, nq);
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < nq; j++) {
      float e = target[r] - pred[r * nq + j], q = quantiles[j];
      losses[r * nq + j] = isnan(target[r]) ? 0.0f : fmaxf(q * e, (q - 1.0f) * e);
    }
  return KZ_OK;
}

kz_status kz_cpu_quantile_loss_bwd(kz_stream *s, const float *pred, const float *target,
                                   const float *quantiles, float *dpred, int64_t rows, int64_t nq,
                                   double scale, bool accumulate) {
  const int64_t chunk = row_chunk(s, nq);
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < nq; j++) {
      float e = target[r] - pred[r * nq + j];
      double q = quantiles[j];
      double g = isnan(target[r]) ? 0.0 : e > 0 ? -q : e < 0 ? 1.0 - q : 0.5 - q;
      float d = (float)(scale * g);
      dpred[r * nq + j] = accumulate ? dpred[r * nq + j] + d : d;
    }
  return KZ_OK;
}
