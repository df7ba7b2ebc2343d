/* Reference permute: one output element at a time, by its 4-D index. */
#include "kernels/ref/ref_ops.h"

void kz_ref_permute(const double *x, double *y, const kz_permute_shape *sh, bool accumulate) {
  int64_t xstride[4], out[4];
  xstride[3] = 1;
  for (int d = 2; d >= 0; --d) xstride[d] = xstride[d + 1] * sh->in[d + 1];
  for (int j = 0; j < 4; ++j) out[j] = sh->in[sh->perm[j]];
  int64_t o[4], e = 0;
  for (o[0] = 0; o[0] < out[0]; ++o[0])
    for (o[1] = 0; o[1] < out[1]; ++o[1])
      for (o[2] = 0; o[2] < out[2]; ++o[2])
        for (o[3] = 0; o[3] < out[3]; ++o[3], ++e) {
          int64_t src = 0;
          for (int j = 0; j < 4; ++j) src += o[j] * xstride[sh->perm[j]];
          y[e] = accumulate ? y[e] + x[src] : x[src];
        }
}
