/* CUDA ops of the Temporal Fusion Transformer: the fused LSTM cell and its
 * backward, the gated linear unit and the quantile loss. One thread per
 * output element (a (row, unit) pair), grid-stride; the arithmetic follows
 * the CPU ops step for step. */
#include <math.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/each.cuh"

namespace {

__device__ inline float sigmf(float x) {
  return 1.0f / (1.0f + expf(-x));
}

struct lstm_fwd {
  const float *gates, *c_prev;
  float *h, *c;
  int64_t hidden;
  __device__ void operator()(int64_t k) const {
    const int64_t r = k / hidden, j = k % hidden;
    const float *g = gates + r * 4 * hidden;
    const float ig = sigmf(g[j]), fg = sigmf(g[hidden + j]);
    const float gg = tanhf(g[2 * hidden + j]), og = sigmf(g[3 * hidden + j]);
    const float cn = fg * c_prev[k] + ig * gg;
    c[k] = cn;
    h[k] = og * tanhf(cn);
  }
};

struct lstm_bwd {
  const float *gates, *c_prev, *c, *dh, *dc;
  float *dgates, *dc_prev;
  int64_t hidden;
  bool accumulate;
  __device__ void operator()(int64_t k) const {
    const int64_t r = k / hidden, j = k % hidden;
    const float *g = gates + r * 4 * hidden;
    float *dg = dgates ? dgates + r * 4 * hidden : NULL;
    const float ig = sigmf(g[j]), fg = sigmf(g[hidden + j]);
    const float gg = tanhf(g[2 * hidden + j]), og = sigmf(g[3 * hidden + j]);
    const float tc = tanhf(c[k]);
    const float dct = (dc ? dc[k] : 0.0f) + dh[k] * og * (1.0f - tc * tc);
    const float d[4] = {dct * gg * ig * (1.0f - ig), dct * c_prev[k] * fg * (1.0f - fg),
                        dct * ig * (1.0f - gg * gg), dh[k] * tc * og * (1.0f - og)};
    for (int q = 0; q < 4 && dgates; q++)
      dg[q * hidden + j] = accumulate ? dg[q * hidden + j] + d[q] : d[q];
    if (dc_prev) dc_prev[k] = accumulate ? dc_prev[k] + dct * fg : dct * fg;
  }
};

struct glu_fwd {
  const float *x;
  float *y;
  int64_t cols;
  __device__ void operator()(int64_t k) const {
    const int64_t r = k / cols, j = k % cols;
    const float *a = x + r * 2 * cols;
    y[k] = a[j] * sigmf(a[cols + j]);
  }
};

struct glu_bwd {
  const float *x, *dy;
  float *dx;
  int64_t cols;
  bool accumulate;
  __device__ void operator()(int64_t k) const {
    const int64_t r = k / cols, j = k % cols;
    const float *a = x + r * 2 * cols;
    float *da = dx + r * 2 * cols;
    const float sb = sigmf(a[cols + j]), g = dy[k];
    const float ga = g * sb, gb = g * a[j] * sb * (1.0f - sb);
    da[j] = accumulate ? da[j] + ga : ga;
    da[cols + j] = accumulate ? da[cols + j] + gb : gb;
  }
};

struct qloss_fwd {
  const float *pred, *target, *quantiles;
  float *losses;
  int64_t nq;
  __device__ void operator()(int64_t k) const {
    const int64_t r = k / nq, j = k % nq;
    const float e = target[r] - pred[k], q = quantiles[j];
    losses[k] = isnan(target[r]) ? 0.0f : fmaxf(__fmul_rn(q, e), __fmul_rn(q - 1.0f, e));
  }
};

struct qloss_bwd {
  const float *pred, *target, *quantiles;
  float *dpred;
  int64_t nq;
  double scale;
  bool accumulate;
  __device__ void operator()(int64_t k) const {
    const int64_t r = k / nq, j = k % nq;
    const float e = target[r] - pred[k];
    const double q = quantiles[j];
    const double g = isnan(target[r]) ? 0.0 : e > 0 ? -q : e < 0 ? 1.0 - q : 0.5 - q;
    const float d = (float)(scale * g);
    dpred[k] = accumulate ? dpred[k] + d : d;
  }
};

} // namespace

extern "C" kz_status kz_cuda_lstm_cell_fwd(kz_stream *s, const float *gates, const float *c_prev,
                                           float *h, float *c, int64_t rows, int64_t hidden) {
  return kz_cuda_each(s, "lstm_cell", rows * hidden, lstm_fwd{gates, c_prev, h, c, hidden});
}

extern "C" kz_status kz_cuda_lstm_cell_bwd(kz_stream *s, const float *gates, const float *c_prev,
                                           const float *c, const float *dh, const float *dc,
                                           float *dgates, float *dc_prev, int64_t rows,
                                           int64_t hidden, bool accumulate) {
  return kz_cuda_each(s, "lstm_cell_bwd", rows * hidden,
                      lstm_bwd{gates, c_prev, c, dh, dc, dgates, dc_prev, hidden, accumulate});
}

extern "C" kz_status kz_cuda_glu_fwd(kz_stream *s, const float *x, float *y, int64_t rows,
                                     int64_t cols) {
  return kz_cuda_each(s, "glu", rows * cols, glu_fwd{x, y, cols});
}

extern "C" kz_status kz_cuda_glu_bwd(kz_stream *s, const float *x, const float *dy, float *dx,
                                     int64_t rows, int64_t cols, bool accumulate) {
  return kz_cuda_each(s, "glu_bwd", rows * cols, glu_bwd{x, dy, dx, cols, accumulate});
}

extern "C" kz_status kz_cuda_quantile_loss_fwd(kz_stream *s, const float *pred, const float *target,
                                               const float *quantiles, float *losses, int64_t rows,
                                               int64_t nq) {
  return kz_cuda_each(s, "quantile_loss", rows * nq,
                      qloss_fwd{pred, target, quantiles, losses, nq});
}

extern "C" kz_status kz_cuda_quantile_loss_bwd(kz_stream *s, const float *pred, const float *target,
                                               const float *quantiles, float *dpred, int64_t rows,
                                               int64_t nq, double scale, bool accumulate) {
  return kz_cuda_each(s, "quantile_loss_bwd", rows * nq,
                      qloss_bwd{pred, target, quantiles, dpred, nq, scale, accumulate});
}
