/* Reference attention softmax over rows of x[B, H, T, S] with padding and
 * causal masks; see kz_softmax_shape in core/backend.h. */
#include <math.h>

#include "kernels/ref/ref_ops.h"

/* Number of leading keys row (b, t) may attend to: the masks only ever cut a
 * suffix off the row, so one bound describes them both. */
static int64_t allowed_keys(const kz_softmax_shape *sh, int64_t b, int64_t t) {
  int64_t limit = sh->keys;
  if (sh->lengths && sh->lengths[b] < limit) limit = sh->lengths[b];
  if (sh->causal) {
    int64_t last = t + (sh->keys - sh->queries); /* bottom-right aligned */
    if (last + 1 < limit) limit = last + 1;
  }
  return limit < 0 ? 0 : limit;
}

void kz_ref_softmax_fwd(const double *x, double *y, const kz_softmax_shape *sh) {
  int64_t S = sh->keys;
  double scale = (double)sh->scale;
  for (int64_t b = 0; b < sh->batch; b++) {
    for (int64_t h = 0; h < sh->heads; h++) {
      for (int64_t t = 0; t < sh->queries; t++) {
        int64_t row = (b * sh->heads + h) * sh->queries + t;
        const double *xr = x + row * S;
        double *yr = y + row * S;
        int64_t n = allowed_keys(sh, b, t);
        double mx = -INFINITY;
        for (int64_t j = 0; j < n; j++)
          if (scale * xr[j] > mx) mx = scale * xr[j];
        double sum = 0.0;
        for (int64_t j = 0; j < n; j++) sum += exp(scale * xr[j] - mx);
        for (int64_t j = 0; j < n; j++) yr[j] = exp(scale * xr[j] - mx) / sum;
        for (int64_t j = n; j < S; j++) yr[j] = 0.0;
      }
    }
  }
}

/* Masked keys have y = 0, so the same formula gives them (and fully masked
 * rows) a zero gradient without a special case. */
void kz_ref_softmax_bwd(const double *y, const double *dy, double *dx, const kz_softmax_shape *sh,
                        bool accumulate) {
  int64_t S = sh->keys;
  int64_t rows = sh->batch * sh->heads * sh->queries;
  double scale = (double)sh->scale;
  for (int64_t row = 0; row < rows; row++) {
    const double *yr = y + row * S;
    const double *dyr = dy + row * S;
    double dot = 0.0;
    for (int64_t j = 0; j < S; j++) dot += dyr[j] * yr[j];
    for (int64_t j = 0; j < S; j++) {
      double d = scale * yr[j] * (dyr[j] - dot);
      dx[row * S + j] = accumulate ? dx[row * S + j] + d : d;
    }
  }
}
