/* Gradients on a grid (gbdt_dist.h): a sum of values that are all integer
 * multiples of 2^e, with every partial sum below 2^(e+53) in magnitude, is
 * exact in double whatever the order. With m the largest |value| and N the
 * rows, partial sums stay below N x (m + 2^e); e is chosen so that this is
 * under 2^(e+52), leaving a factor of two to spare. */
#include <math.h>
#include <stdlib.h>

#include "kernels/core/error.h"
#include "models/gbdt/gbdt_dist.h"
#include "models/gbdt/hist.h"

static int grid_exponent(double m, int64_t n_total) {
  int ex = 0;
  frexp(m * (double)(n_total > 0 ? n_total : 1), &ex); /* m*N < 2^ex */
  return ex - 51;
}

static double snap(double x, int e) {
  return ldexp(nearbyint(ldexp(x, -e)), e);
}

kz_status kz_gbdt_quantize_gradients(void *ghv, int64_t n, int K, int64_t n_total,
                                     const kz_gbdt_dist *dist) {
  kz_gbdt_gh *gh = ghv;
  double mx[2 * 256];
  for (int k = 0; k < K; ++k) {
    double mg = 0, mh = 0;
    const kz_gbdt_gh *x = gh + (int64_t)k * n;
    for (int64_t r = 0; r < n; ++r) {
      mg = fmax(mg, fabs(x[r].g));
      mh = fmax(mh, fabs(x[r].h));
    }
    mx[2 * k] = mg, mx[2 * k + 1] = mh;
  }
  if (dist && dist->size > 1) KZ_TRY(dist->max(dist->ctx, mx, (size_t)(2 * K)));
  for (int k = 0; k < K; ++k) {
    kz_gbdt_gh *x = gh + (int64_t)k * n;
    /* all zero (or not finite: left for the booster to report) */
    const int qg = mx[2 * k] > 0 && isfinite(mx[2 * k]);
    const int qh = mx[2 * k + 1] > 0 && isfinite(mx[2 * k + 1]);
    const int eg = qg ? grid_exponent(mx[2 * k], n_total) : 0;
    const int eh = qh ? grid_exponent(mx[2 * k + 1], n_total) : 0;
    for (int64_t r = 0; r < n; ++r) {
      if (qg) x[r].g = snap(x[r].g, eg);
      if (qh) x[r].h = snap(x[r].h, eh);
    }
  }
  return KZ_OK;
}
