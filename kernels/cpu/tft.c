/* CPU ops of the Temporal Fusion Transformer: the fused LSTM cell and its
 * backward, the gated linear unit and the quantile loss. OpenMP over rows
 * (or elements); transcendentals in float (cpu/fast_act.h). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/fast_act.h"
#include "kernels/cpu/fast_math.h"

static int64_t grain_of(const kz_stream *s) {
  int g = kz_stream_knob(s, KZ_KNOB_CPU_ELEMENTWISE_GRAIN);
  return g < 1 ? 1 : g;
}

/* Rows per OpenMP chunk for row-wise ops of `cols` elements a row. */
static int64_t row_chunk(const kz_stream *s, int64_t cols) {
  int64_t g = grain_of(s), c = cols > 0 ? g / cols : g;
  return c > 0 ? c : 1;
}

/* The LSTM cell costs about 16 elementwise ops per hidden unit (five
 * transcendentals forward, more backward), so a grain of its rows is 16
 * times smaller: the TFT's cell at batch 64 (one per time step, in a
 * sequential loop) then runs on 2 threads instead of one. */
#define LSTM_COST 16
static int64_t lstm_chunk(const kz_stream *s, int64_t hidden) {
  return row_chunk(s, LSTM_COST * hidden);
}

/* The transcendentals go through cpu/fast_act.h (vectorised under `omp
 * simd`, each row handed to a multiversioned function): glibc's scalar expf
 * and tanhf made these the slowest part of the TFT's training step. */

/* Columns per pass of the LSTM backward: the per-gate results of one block
 * sit in a stack buffer before the (optional, accumulating) stores. */
enum { LSTM_BLOCK = 64 };

static KZ_CPU_CLONES void lstm_fwd_row(const float *restrict g, const float *restrict cp,
                                       float *restrict h, float *restrict c, int64_t hidden) {
#pragma omp simd
  for (int64_t j = 0; j < hidden; j++) {
    const float ig = kz_fast_sigmoid(g[j]), fg = kz_fast_sigmoid(g[hidden + j]);
    const float gg = kz_fast_tanh(g[2 * hidden + j]), og = kz_fast_sigmoid(g[3 * hidden + j]);
    const float cn = fg * cp[j] + ig * gg;
    c[j] = cn;
    h[j] = og * kz_fast_tanh(cn);
  }
}

kz_status kz_cpu_lstm_cell_fwd(kz_stream *s, const float *gates, const float *c_prev, float *h,
                               float *c, int64_t rows, int64_t hidden) {
  const int64_t chunk = lstm_chunk(s, hidden);
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++)
    lstm_fwd_row(gates + r * 4 * hidden, c_prev + r * hidden, h + r * hidden, c + r * hidden,
                 hidden);
  return KZ_OK;
}

/* d[q * LSTM_BLOCK + j]: the gradients of gates i, f, g, o and of c_prev for
 * columns j0 .. j0 + n of one row. */
static KZ_CPU_CLONES void lstm_bwd_block(const float *restrict g, const float *restrict cp,
                                         const float *restrict c, const float *restrict dh,
                                         const float *restrict dc, int64_t hidden, int64_t n,
                                         float *restrict d) {
#pragma omp simd
  for (int64_t j = 0; j < n; j++) {
    float omi, omf, omo;
    const float ig = kz_fast_sigmoid2(g[j], &omi), fg = kz_fast_sigmoid2(g[hidden + j], &omf);
    const float gg = kz_fast_tanh(g[2 * hidden + j]);
    const float og = kz_fast_sigmoid2(g[3 * hidden + j], &omo);
    const float tc = kz_fast_tanh(c[j]);
    const float dct = dc[j] + dh[j] * og * (1.0f - tc * tc);
    d[j] = dct * gg * ig * omi;
    d[LSTM_BLOCK + j] = dct * cp[j] * fg * omf;
    d[2 * LSTM_BLOCK + j] = dct * ig * (1.0f - gg * gg);
    d[3 * LSTM_BLOCK + j] = dh[j] * tc * og * omo;
    d[4 * LSTM_BLOCK + j] = dct * fg;
  }
}

static void store(float *dst, const float *src, int64_t n, bool accumulate) {
  if (accumulate) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) dst[j] += src[j];
  } else {
    memcpy(dst, src, (size_t)n * sizeof(float));
  }
}

kz_status kz_cpu_lstm_cell_bwd(kz_stream *s, const float *gates, const float *c_prev,
                               const float *c, const float *dh, const float *dc, float *dgates,
                               float *dc_prev, int64_t rows, int64_t hidden, bool accumulate) {
  const int64_t chunk = lstm_chunk(s, hidden);
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++) {
    const float *g = gates + r * 4 * hidden;
    static const float zeros[LSTM_BLOCK];
    float d[5 * LSTM_BLOCK];
    for (int64_t j0 = 0; j0 < hidden; j0 += LSTM_BLOCK) {
      const int64_t n = hidden - j0 < LSTM_BLOCK ? hidden - j0 : LSTM_BLOCK, k = r * hidden + j0;
      lstm_bwd_block(g + j0, c_prev + k, c + k, dh + k, dc ? dc + k : zeros, hidden, n, d);
      for (int q = 0; q < 4 && dgates; q++)
        store(dgates + r * 4 * hidden + q * hidden + j0, d + q * LSTM_BLOCK, n, accumulate);
      if (dc_prev) store(dc_prev + k, d + 4 * LSTM_BLOCK, n, accumulate);
    }
  }
  return KZ_OK;
}

static KZ_CPU_CLONES void glu_fwd_row(const float *restrict x, float *restrict y, int64_t cols) {
#pragma omp simd
  for (int64_t j = 0; j < cols; j++) y[j] = x[j] * kz_fast_sigmoid(x[cols + j]);
}

kz_status kz_cpu_glu_fwd(kz_stream *s, const float *x, float *y, int64_t rows, int64_t cols) {
  const int64_t chunk = row_chunk(s, 2 * cols);
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++) glu_fwd_row(x + r * 2 * cols, y + r * cols, cols);
  return KZ_OK;
}

static KZ_CPU_CLONES void glu_bwd_row(const float *restrict x, const float *restrict dy,
                                      float *restrict dx, int64_t cols, bool accumulate) {
  const float *a = x, *b = x + cols;
  float *da = dx, *db = dx + cols;
  if (accumulate) {
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) {
      float om;
      const float sb = kz_fast_sigmoid2(b[j], &om);
      da[j] += dy[j] * sb;
      db[j] += dy[j] * a[j] * sb * om;
    }
  } else {
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) {
      float om;
      const float sb = kz_fast_sigmoid2(b[j], &om);
      da[j] = dy[j] * sb;
      db[j] = dy[j] * a[j] * sb * om;
    }
  }
}

kz_status kz_cpu_glu_bwd(kz_stream *s, const float *x, const float *dy, float *dx, int64_t rows,
                         int64_t cols, bool accumulate) {
  const int64_t chunk = row_chunk(s, 2 * cols);
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++)
    glu_bwd_row(x + r * 2 * cols, dy + r * cols, dx + r * 2 * cols, cols, accumulate);
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
