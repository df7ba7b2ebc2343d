/* ewc_grad against the penalty it is the gradient of: central finite
 * differences of kz_ref_ewc_penalty (double) at every coordinate match what
 * kz_op_ewc_grad adds to the gradient on the CPU, and the wrapper refuses a
 * negative or non-finite lambda and mismatched shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/ops.h"
#include "kernels/ref/ref_ops.h"
#include "tests/test_util.h"

enum { N = 257 };
static const kz_device cpu = {KZ_DEVICE_CPU, 0};

int main(void) {
  kz_stream *s = NULL;
  KZ_CHECK_OK(kz_stream_create(cpu, &s));
  if (!s) return 1;
  static float p[N], a[N], f[N], g[N], g0[N];
  static double pd[N], ad[N], fd[N];
  uint64_t x = 12345;
  for (int i = 0; i < N; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    p[i] = (float)((double)(x >> 40) / (1 << 24) * 2.0 - 1.0);
    a[i] = p[i] * 0.5f + 0.1f;
    f[i] = (float)(i % 7) * 0.25f; /* zeros among them: those weights are free */
    g0[i] = g[i] = (float)(i % 5) - 2.0f;
    pd[i] = p[i], ad[i] = a[i], fd[i] = f[i];
  }
  const float lambda = 3.5f;
  kz_tensor tp = kz_tensor_view(p, KZ_F32, cpu, 1, (int64_t)N);
  kz_tensor ta = kz_tensor_view(a, KZ_F32, cpu, 1, (int64_t)N);
  kz_tensor tf = kz_tensor_view(f, KZ_F32, cpu, 1, (int64_t)N);
  kz_tensor tg = kz_tensor_view(g, KZ_F32, cpu, 1, (int64_t)N);
  KZ_CHECK_OK(kz_op_ewc_grad(s, &tp, &ta, &tf, &tg, lambda));
  double worst = 0.0;
  for (int i = 0; i < N; ++i) {
    const double h = 1e-4, keep = pd[i];
    pd[i] = keep + h;
    const double up = kz_ref_ewc_penalty(pd, ad, fd, N, lambda);
    pd[i] = keep - h;
    const double down = kz_ref_ewc_penalty(pd, ad, fd, N, lambda);
    pd[i] = keep;
    const double want = (up - down) / (2 * h), got = (double)g[i] - (double)g0[i];
    const double err = fabs(got - want) / (1.0 + fabs(want));
    if (err > worst) worst = err;
  }
  printf("ewc_grad vs finite differences of the penalty: worst relative error %.3g\n", worst);
  KZ_CHECK(worst < 1e-5);

  KZ_CHECK_FAILS(kz_op_ewc_grad(s, &tp, &ta, &tf, &tg, -1.0f), KZ_ERR_INVALID_ARG,
                 "lambda must be >= 0");
  KZ_CHECK_FAILS(kz_op_ewc_grad(s, &tp, &ta, &tf, &tg, NAN), KZ_ERR_INVALID_ARG, "lambda");
  kz_tensor short_f = kz_tensor_view(f, KZ_F32, cpu, 1, (int64_t)(N - 1));
  KZ_CHECK_FAILS(kz_op_ewc_grad(s, &tp, &ta, &short_f, &tg, lambda), KZ_ERR_INVALID_ARG,
                 "ewc_grad: fisher");
  kz_stream_destroy(s);
  return KZ_TEST_RESULT();
}
