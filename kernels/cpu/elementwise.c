/* CPU elementwise ops: bias add (and its column reduction), residual add,
 * GELU, ELU and tanh forward and backward.
 *
 * Pointers that the contract lets alias (y with x, a or b) are not marked
 * restrict; `omp simd` still vectorises them because every iteration reads
 * and writes only its own index, which is no loop-carried dependence. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "kernels/core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/fast_act.h"
#include "kernels/cpu/fast_math.h"

#define KZ_GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define KZ_GELU_A 0.044715f

/* Elements per OpenMP chunk; clamped so a hand-edited table cannot make the
 * schedule clause illegal. */
static int64_t elementwise_grain(const kz_stream *s) {
  int g = kz_stream_knob(s, KZ_KNOB_CPU_ELEMENTWISE_GRAIN);
  return g < 1 ? 1 : g;
}

/* Rows [r0, r1) of bias_add, and of the bias gradient's double column sums:
 * cloned per ISA (the build is baseline x86-64) so they run on the widest
 * vectors; both are elementwise or per column in row order, so every clone
 * gives the same bits. */
static KZ_CPU_CLONES void bias_rows(const float *x, const float *bias, float *y, int64_t r0,
                                    int64_t r1, int64_t cols) {
  for (int64_t r = r0; r < r1; r++) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; c++) yr[c] = xr[c] + bias[c];
  }
}

static KZ_CPU_CLONES void colsum_rows(const float *dy, int64_t ld, double *acc, int64_t r0,
                                      int64_t r1, int64_t cols) {
  for (int64_t r = r0; r < r1; r++) {
    const float *dyr = dy + r * ld;
#pragma omp simd
    for (int64_t c = 0; c < cols; c++) acc[c] += (double)dyr[c];
  }
}

kz_status kz_cpu_bias_add_fwd(kz_stream *s, const float *x, const float *bias, float *y,
                              int64_t rows, int64_t cols) {
  if (cols <= 0) return KZ_OK;
  /* Split by whole rows so each chunk reuses the bias vector from cache. */
  int64_t grain = elementwise_grain(s);
  int64_t chunk = grain / cols > 0 ? grain / cols : 1;
  int64_t chunks = (rows + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t ch = 0; ch < chunks; ch++)
    bias_rows(x, bias, y, ch * chunk, ch * chunk + chunk < rows ? ch * chunk + chunk : rows, cols);
  return KZ_OK;
}

/* Columns per task of the bias reduction: 64 floats are four cache lines, so
 * threads never share a line of dbias and each row read is a full line. */
#define KZ_BIAS_BWD_BLOCK 64

/* Row chunks of the narrow-layer reduction: at most this many, each at
 * least a grain of elements; the split depends on rows and cols alone. */
#define KZ_BIAS_BWD_MAX_CHUNKS 64

static void bias_bwd_store(float *out, const double *acc, int64_t width, bool accumulate) {
  if (accumulate) {
    for (int64_t c = 0; c < width; c++) out[c] = (float)((double)out[c] + acc[c]);
  } else {
    for (int64_t c = 0; c < width; c++) out[c] = (float)acc[c];
  }
}

/* Layers narrower than four column blocks (the TFT's 64-wide ones) would
 * leave all but one thread idle with one thread per block: their rows are
 * cut into chunks instead, each summed in row order into its own double
 * partials, and the partials are added in chunk order. */
static kz_status bias_bwd_rows(kz_stream *s, const float *dy, float *dbias, int64_t rows,
                               int64_t cols, bool accumulate) {
  const int64_t grain = elementwise_grain(s);
  int64_t chunk_rows = (rows + KZ_BIAS_BWD_MAX_CHUNKS - 1) / KZ_BIAS_BWD_MAX_CHUNKS;
  const int64_t min_rows = (grain + cols - 1) / cols;
  if (chunk_rows < min_rows) chunk_rows = min_rows;
  const int64_t chunks = (rows + chunk_rows - 1) / chunk_rows;
  double *part = calloc((size_t)(chunks * cols), sizeof(double));
  if (!part)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "bias_add_bwd: %lld partial sums",
                   (long long)(chunks * cols));
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t ch = 0; ch < chunks; ch++) {
    const int64_t end = (ch + 1) * chunk_rows < rows ? (ch + 1) * chunk_rows : rows;
    colsum_rows(dy, cols, part + ch * cols, ch * chunk_rows, end, cols);
  }
  for (int64_t ch = 1; ch < chunks; ch++)
    for (int64_t c = 0; c < cols; c++) part[c] += part[ch * cols + c];
  bias_bwd_store(dbias, part, cols, accumulate);
  free(part);
  return KZ_OK;
}

/* Each column is summed over rows in row order by exactly one thread (or,
 * for narrow layers, over fixed row chunks, bias_bwd_rows), so the result is
 * bitwise independent of the thread count (no atomics, no per-thread
 * partials). Sums run in double: rows can reach batch * sequence length,
 * where a float running sum loses digits. */
kz_status kz_cpu_bias_add_bwd(kz_stream *s, const float *dy, float *dbias, int64_t rows,
                              int64_t cols, bool accumulate) {
  int64_t nblocks = (cols + KZ_BIAS_BWD_BLOCK - 1) / KZ_BIAS_BWD_BLOCK;
  int64_t work = rows * cols;
  if (cols > 0 && nblocks < 4 && work > 2 * elementwise_grain(s))
    return bias_bwd_rows(s, dy, dbias, rows, cols, accumulate);
  bool parallel = work > elementwise_grain(s) && nblocks > 1;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t blk = 0; blk < nblocks; blk++) {
    int64_t c0 = blk * KZ_BIAS_BWD_BLOCK;
    int64_t width = cols - c0 < KZ_BIAS_BWD_BLOCK ? cols - c0 : KZ_BIAS_BWD_BLOCK;
    double acc[KZ_BIAS_BWD_BLOCK] = {0};
    colsum_rows(dy + c0, cols, acc, 0, rows, width);
    bias_bwd_store(dbias + c0, acc, width, accumulate);
  }
  return KZ_OK;
}

kz_status kz_cpu_add(kz_stream *s, const float *a, const float *b, float *y, int64_t n) {
  int64_t grain = elementwise_grain(s);
#pragma omp parallel for simd schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
  return KZ_OK;
}

/* The tanh form is evaluated through 0.5 (1 + tanh u) = sigmoid(2u), so it
 * costs one expf instead of one tanhf (about five times slower in glibc) and
 * has no cancellation anywhere. exp's argument is capped where sigmoid is
 * already below any float gelu could show, so inf/inf never appears. */
static inline float gelu_tanh_exp(float x) {
  float u = KZ_GELU_K * (x + KZ_GELU_A * x * x * x);
  return expf(fminf(-2.0f * u, 80.0f));
}

static inline float gelu_tanh(float x) {
  return x / (1.0f + gelu_tanh_exp(x));
}

/* With s = sigmoid(2u): 0.5 (1 + tanh u) = s and 1 - tanh^2 u = 4 s (1 - s),
 * where 1 - s = e s is formed without subtracting from one. */
static inline float gelu_tanh_grad(float x) {
  float e = gelu_tanh_exp(x);
  float sig = 1.0f / (1.0f + e);
  float du = KZ_GELU_K * (1.0f + 3.0f * KZ_GELU_A * x * x);
  return sig + 2.0f * x * sig * (e * sig) * du;
}

/* The erf form runs on kz_fast_gelu_erf* (cpu/fast_math.h): glibc's erfcf is
 * a scalar call that capped this path at a few percent of memory bandwidth.
 * Each OpenMP task hands one span of `grain` elements to a multiversioned
 * function (KZ_CPU_CLONES), so only these small loops are compiled three
 * times, not the whole entry point with its tanh paths. */
static KZ_CPU_CLONES void gelu_erf_fwd_span(const float *x, float *y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) y[i] = kz_fast_gelu_erf(x[i]);
}

static KZ_CPU_CLONES void gelu_erf_bwd_span(const float *x, const float *dy, float *dx, int64_t n,
                                            bool accumulate) {
  if (accumulate) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * kz_fast_gelu_erf_grad(x[i]);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * kz_fast_gelu_erf_grad(x[i]);
  }
}

kz_status kz_cpu_gelu_fwd(kz_stream *s, const float *x, float *y, int64_t n,
                          kz_gelu_approx approx) {
  int64_t grain = elementwise_grain(s);
  /* The approximation is chosen outside the loop so each body is branch-free. */
  if (approx == KZ_GELU_TANH) {
#pragma omp parallel for schedule(static, grain) if (n > grain)
    for (int64_t i = 0; i < n; i++) y[i] = gelu_tanh(x[i]);
  } else {
    int64_t spans = (n + grain - 1) / grain;
#pragma omp parallel for schedule(static) if (spans > 1)
    for (int64_t b = 0; b < spans; b++) {
      int64_t i0 = b * grain;
      gelu_erf_fwd_span(x + i0, y + i0, n - i0 < grain ? n - i0 : grain);
    }
  }
  return KZ_OK;
}

kz_status kz_cpu_gelu_bwd(kz_stream *s, const float *x, const float *dy, float *dx, int64_t n,
                          kz_gelu_approx approx, bool accumulate) {
  int64_t grain = elementwise_grain(s);
  if (approx == KZ_GELU_TANH) {
    if (accumulate) {
#pragma omp parallel for schedule(static, grain) if (n > grain)
      for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * gelu_tanh_grad(x[i]);
    } else {
#pragma omp parallel for schedule(static, grain) if (n > grain)
      for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * gelu_tanh_grad(x[i]);
    }
  } else {
    int64_t spans = (n + grain - 1) / grain;
#pragma omp parallel for schedule(static) if (spans > 1)
    for (int64_t b = 0; b < spans; b++) {
      int64_t i0 = b * grain;
      gelu_erf_bwd_span(x + i0, dy + i0, dx + i0, n - i0 < grain ? n - i0 : grain, accumulate);
    }
  }
  return KZ_OK;
}

/* Fused bias + GELU: one pass over memory instead of bias_add's write and
 * gelu's re-read. Each row is biased in place in y while it is in cache, then
 * goes through the same GELU code as kz_cpu_gelu_fwd, so the result is
 * bitwise the unfused sequence's. */
kz_status kz_cpu_bias_gelu_fwd(kz_stream *s, const float *x, const float *bias, float *y,
                               int64_t rows, int64_t cols, kz_gelu_approx approx) {
  if (cols <= 0) return KZ_OK;
  int64_t grain = elementwise_grain(s);
  int64_t chunk = grain / cols > 0 ? grain / cols : 1;
#pragma omp parallel for schedule(static, chunk) if (rows > chunk)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    if (approx == KZ_GELU_TANH) {
      for (int64_t c = 0; c < cols; c++) yr[c] = gelu_tanh(xr[c] + bias[c]);
    } else {
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) yr[c] = xr[c] + bias[c];
      gelu_erf_fwd_span(yr, yr, cols);
    }
  }
  return KZ_OK;
}

/* ELU on kz_cpu_expm1_nonpos (cpu/fast_act.h), which keeps the small
 * negative outputs accurate where exp(x) - 1 would cancel; positive inputs
 * reach it clamped to 0 and are then selected away, so every lane runs the
 * same arithmetic and the span vectorises (glibc's scalar expm1f made this
 * one of the TFT's slowest ops). */
static KZ_CPU_CLONES void elu_fwd_span(const float *x, float *y, int64_t n, float alpha) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const uint32_t pos = (uint32_t)0 - (uint32_t)(x[i] > 0.0f);
    const float neg = alpha * kz_cpu_expm1_nonpos(kz_fa_select(pos, 0.0f, x[i]));
    y[i] = kz_fa_select(pos, x[i], neg);
  }
}

static KZ_CPU_CLONES void elu_bwd_span(const float *x, const float *dy, float *dx, int64_t n,
                                       float alpha, bool accumulate) {
  if (accumulate) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
      const uint32_t pos = (uint32_t)0 - (uint32_t)(x[i] > 0.0f);
      const float slope =
          kz_fa_select(pos, 1.0f, alpha * kz_cpu_exp_nonpos(kz_fa_select(pos, 0.0f, x[i])));
      dx[i] += dy[i] * slope;
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
      const uint32_t pos = (uint32_t)0 - (uint32_t)(x[i] > 0.0f);
      const float slope =
          kz_fa_select(pos, 1.0f, alpha * kz_cpu_exp_nonpos(kz_fa_select(pos, 0.0f, x[i])));
      dx[i] = dy[i] * slope;
    }
  }
}

kz_status kz_cpu_elu_fwd(kz_stream *s, const float *x, float *y, int64_t n, float alpha) {
  int64_t grain = elementwise_grain(s), spans = (n + grain - 1) / grain;
#pragma omp parallel for schedule(static) if (spans > 1)
  for (int64_t b = 0; b < spans; b++) {
    int64_t i0 = b * grain;
    elu_fwd_span(x + i0, y + i0, n - i0 < grain ? n - i0 : grain, alpha);
  }
  return KZ_OK;
}

kz_status kz_cpu_elu_bwd(kz_stream *s, const float *x, const float *dy, float *dx, int64_t n,
                         float alpha, bool accumulate) {
  int64_t grain = elementwise_grain(s), spans = (n + grain - 1) / grain;
#pragma omp parallel for schedule(static) if (spans > 1)
  for (int64_t b = 0; b < spans; b++) {
    int64_t i0 = b * grain;
    elu_bwd_span(x + i0, dy + i0, dx + i0, n - i0 < grain ? n - i0 : grain, alpha, accumulate);
  }
  return KZ_OK;
}

/* tanh(scale * x), the BERT pooler's activation (scale 1). Its derivative
 * scale * (1 - t^2) is formed as scale * 4e / (1 + e)^2 with e = exp(-2|u|),
 * u = scale * x: 1 - t^2 from a rounded t near +-1 would keep only the
 * few digits t has left below 1. */
kz_status kz_cpu_tanh_fwd(kz_stream *s, const float *x, float *y, int64_t n, float scale) {
  int64_t grain = elementwise_grain(s);
#pragma omp parallel for schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) y[i] = tanhf(scale * x[i]);
  return KZ_OK;
}

kz_status kz_cpu_tanh_bwd(kz_stream *s, const float *x, const float *dy, float *dx, int64_t n,
                          float scale, bool accumulate) {
  int64_t grain = elementwise_grain(s);
#pragma omp parallel for schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) {
    const float e = expf(-2.0f * fabsf(scale * x[i]));
    const float g = dy[i] * (scale * (4.0f * e / ((1.0f + e) * (1.0f + e))));
    dx[i] = accumulate ? dx[i] + g : g;
  }
  return KZ_OK;
}
