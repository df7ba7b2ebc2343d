/* Accuracy of the vectorised erf GELU (kernels/cpu/fast_math.h) against the
 * double-precision formula, through the shipped CPU kernels and the inline
 * functions; and of the TFT's sigmoid, tanh and expm1 (cpu/fast_act.h).
 *
 *   test_fast_math            accuracy sweep and edge cases (ctest)
 *   test_fast_math --bench [reps]
 *                             old glibc-erfcf loops vs the kernels, interleaved
 *                             in one process; prints medians and the speedup
 *
 * Bound, for both gelu and its derivative at every point of a 2^20 + 1 point
 * sweep of [-12, 12]: |got - ref| <= 2e-7 |ref| + 1e-7. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/core/backend.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/fast_act.h"
#include "kernels/cpu/fast_math.h"
#include "tests/test_util.h"

#define SWEEP_N ((1 << 20) + 1)
#define REL_TOL 2e-7
#define ABS_TOL 1e-7

static double ref_cdf(double x) {
  return 0.5 * erfc(-x / sqrt(2.0));
}
static double ref_gelu(double x) {
  return x * ref_cdf(x);
}
static double ref_grad(double x) {
  return ref_cdf(x) + x * exp(-0.5 * x * x) / sqrt(2.0 * 3.14159265358979323846);
}

/* Error in units of the allowed bound (<= 1 passes). */
static double bound_ratio(float got, double ref) {
  return fabs((double)got - ref) / (REL_TOL * fabs(ref) + ABS_TOL);
}

typedef struct worst {
  double ratio;
  float x;
  float got;
  double ref;
} worst;

static void track(worst *w, float x, float got, double ref) {
  double r = bound_ratio(got, ref);
  /* A NaN result must fail, so it counts as infinitely bad. */
  if (isnan(got)) r = INFINITY;
  if (r > w->ratio) *w = (worst){r, x, got, ref};
}

static void report(const char *what, const worst *w) {
  printf("%-28s worst %.3f of the bound at x = %.9g (got %.9g, ref %.12g)\n", what, w->ratio,
         (double)w->x, (double)w->got, w->ref);
  if (!(w->ratio <= 1.0)) {
    fprintf(stderr, "%s: error above 2e-7 |ref| + 1e-7 at x = %.9g\n", what, (double)w->x);
    ++kz_test_failures;
  }
}

static float *alloc_floats(int64_t n) {
  float *p = malloc((size_t)n * sizeof *p);
  if (!p) {
    fprintf(stderr, "out of memory (%lld floats)\n", (long long)n);
    exit(1);
  }
  return p;
}

/* The sweep through the kernels (whatever SIMD clone this CPU selects) and
 * through the inline scalar functions; both must also agree bit for bit,
 * since the code has no fma and the build does not contract. */
static void test_sweep(kz_stream *s) {
  const int64_t n = SWEEP_N;
  float *x = alloc_floats(n), *y = alloc_floats(n), *dy = alloc_floats(n), *dx = alloc_floats(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = (float)(-12.0 + 24.0 * (double)i / (double)(n - 1));
    dy[i] = 1.0f;
  }
  KZ_CHECK_OK(kz_cpu_gelu_fwd(s, x, y, n, KZ_GELU_ERF));
  KZ_CHECK_OK(kz_cpu_gelu_bwd(s, x, dy, dx, n, KZ_GELU_ERF, false));
  worst wf = {0}, wg = {0}, wfs = {0}, wgs = {0};
  int64_t mismatches = 0;
  for (int64_t i = 0; i < n; ++i) {
    double rf = ref_gelu(x[i]), rg = ref_grad(x[i]);
    float sf = kz_fast_gelu_erf(x[i]), sg = kz_fast_gelu_erf_grad(x[i]);
    track(&wf, x[i], y[i], rf);
    track(&wg, x[i], dx[i], rg);
    track(&wfs, x[i], sf, rf);
    track(&wgs, x[i], sg, rg);
    if (memcmp(&sf, &y[i], sizeof sf) || memcmp(&sg, &dx[i], sizeof sg)) {
      if (mismatches++ < 5)
        fprintf(stderr, "kernel/scalar mismatch at x = %.9g: %.9g vs %.9g, %.9g vs %.9g\n",
                (double)x[i], (double)y[i], (double)sf, (double)dx[i], (double)sg);
    }
  }
  report("gelu erf (kernel)", &wf);
  report("gelu_bwd erf (kernel)", &wg);
  report("gelu erf (inline)", &wfs);
  report("gelu_bwd erf (inline)", &wgs);
  KZ_CHECK(mismatches == 0);
  free(x);
  free(y);
  free(dy);
  free(dx);
}

/* Edge values: exact zero, both sides of the |x| = 1 switch, values past the
 * exp flush, infinities and NaN. */
static void test_edges(void) {
  KZ_CHECK(kz_fast_gelu_erf(0.0f) == 0.0f);
  KZ_CHECK(kz_fast_gelu_erf_grad(0.0f) == 0.5f);
  const float around[] = {nextafterf(1.0f, 0.0f), 1.0f, nextafterf(1.0f, 2.0f)};
  worst w = {0};
  for (int i = 0; i < 3; ++i)
    for (int sign = -1; sign <= 1; sign += 2) {
      float x = (float)sign * around[i];
      track(&w, x, kz_fast_gelu_erf(x), ref_gelu(x));
      track(&w, x, kz_fast_gelu_erf_grad(x), ref_grad(x));
    }
  report("around |x| = 1", &w);
  const float far[] = {13.5f, 20.0f, 1e30f};
  for (int i = 0; i < 3; ++i) {
    KZ_CHECK(kz_fast_gelu_erf(far[i]) == far[i]);
    KZ_CHECK(kz_fast_gelu_erf(-far[i]) == 0.0f);
    KZ_CHECK(kz_fast_gelu_erf_grad(far[i]) == 1.0f);
    KZ_CHECK(kz_fast_gelu_erf_grad(-far[i]) == 0.0f);
  }
  KZ_CHECK(kz_fast_gelu_erf(INFINITY) == INFINITY);
  KZ_CHECK(isnan(kz_fast_gelu_erf(NAN)));
  KZ_CHECK(isnan(kz_fast_gelu_erf_grad(NAN)));
}

/* Lengths that are not multiples of the grain or the vector width, in-place
 * forward, and accumulation into dx. */
static void test_spans(kz_stream *s) {
  const int64_t n = 3 * 16384 + 37;
  float *x = alloc_floats(n), *y = alloc_floats(n), *dy = alloc_floats(n), *dx = alloc_floats(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = (float)(6.0 * sin(0.001 * (double)i));
    dy[i] = (float)cos(0.003 * (double)i);
    dx[i] = 0.25f;
  }
  KZ_CHECK_OK(kz_cpu_gelu_bwd(s, x, dy, dx, n, KZ_GELU_ERF, true));
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    double want = 0.25 + (double)dy[i] * ref_grad(x[i]);
    if (fabs(dx[i] - want) > 4e-7 * fabs(want) + 2e-7) bad++;
  }
  KZ_CHECK(bad == 0);
  KZ_CHECK_OK(kz_cpu_gelu_fwd(s, x, y, n, KZ_GELU_ERF));
  KZ_CHECK_OK(kz_cpu_gelu_fwd(s, x, x, n, KZ_GELU_ERF));
  KZ_CHECK(memcmp(x, y, (size_t)n * sizeof *x) == 0);
  free(x);
  free(y);
  free(dy);
  free(dx);
}

/* ---- --bench: the previous implementation, same loops and flags ---------- */

static void old_gelu_fwd(const float *x, float *y, int64_t n, int64_t grain) {
#pragma omp parallel for schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * erfcf(-x[i] * 0.70710678118654752f);
}

static void old_gelu_bwd(const float *x, const float *dy, float *dx, int64_t n, int64_t grain) {
#pragma omp parallel for schedule(static, grain) if (n > grain)
  for (int64_t i = 0; i < n; i++) {
    float cdf = 0.5f * erfcf(-x[i] * 0.70710678118654752f);
    dx[i] = dy[i] * (cdf + x[i] * 0.39894228040143268f * expf(-0.5f * x[i] * x[i]));
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int run_bench(kz_stream *s, int reps) {
  const int64_t n = 4096 * 3072; /* the shape `kaizen kernels bench` uses */
  const int64_t grain = 16384;   /* the built-in elementwise grain */
  float *x = alloc_floats(n), *y = alloc_floats(n), *dy = alloc_floats(n), *dx = alloc_floats(n);
  uint32_t st = 12345u;
  for (int64_t i = 0; i < n; ++i) {
    st = st * 1664525u + 1013904223u;
    x[i] = (float)((double)(st >> 8) / 16777216.0 * 8.0 - 4.0); /* uniform in [-4, 4) */
    dy[i] = 1.0f;
  }
  enum { OLD_F, NEW_F, OLD_B, NEW_B, KINDS };
  const char *names[KINDS] = {"gelu erf  old (erfcf)", "gelu erf  new (fast_math)",
                              "gelu_bwd erf old (erfcf)", "gelu_bwd erf new (fast_math)"};
  const double bytes[KINDS] = {8.0 * n, 8.0 * n, 12.0 * n, 12.0 * n};
  double *t[KINDS];
  for (int k = 0; k < KINDS; ++k) t[k] = calloc((size_t)reps, sizeof(double));
  /* One warm-up round, then the four variants interleaved in every round so
   * background load hits them alike. */
  for (int r = -1; r < reps; ++r) {
    for (int k = 0; k < KINDS; ++k) {
      double t0 = now_s();
      switch (k) {
      case OLD_F:
        old_gelu_fwd(x, y, n, grain);
        break;
      case NEW_F:
        kz_cpu_gelu_fwd(s, x, y, n, KZ_GELU_ERF);
        break;
      case OLD_B:
        old_gelu_bwd(x, dy, dx, n, grain);
        break;
      default:
        kz_cpu_gelu_bwd(s, x, dy, dx, n, KZ_GELU_ERF, false);
        break;
      }
      if (r >= 0) t[k][r] = now_s() - t0;
    }
  }
  printf("gelu erf, n = %lld (4096x3072), %d OpenMP threads, %d interleaved rounds\n", (long long)n,
         omp_get_max_threads(), reps);
  printf("%-30s %12s %8s %12s\n", "variant", "us(median)", "GB/s", "us(min)");
  double med[KINDS];
  for (int k = 0; k < KINDS; ++k) {
    med[k] = median(t[k], reps); /* sorts t[k] */
    printf("%-30s %12.1f %8.1f %12.1f\n", names[k], med[k] * 1e6, bytes[k] / med[k] * 1e-9,
           t[k][0] * 1e6);
    free(t[k]);
  }
  printf("speedup gelu     (old / new median): %.1fx\n", med[OLD_F] / med[NEW_F]);
  printf("speedup gelu_bwd (old / new median): %.1fx\n", med[OLD_B] / med[NEW_B]);
  free(x);
  free(y);
  free(dy);
  free(dx);
  return 0;
}

/* The TFT's activations (cpu/fast_act.h): expm1 of x <= 0, sigmoid with its
 * complement, tanh, against the double formulas on a sweep of [-100, 100]
 * and on tiny magnitudes (where expm1 and tanh must keep relative accuracy):
 * within 4 float ulps of the result (2^-21 relative; results under 2^-125,
 * near the exp flush at -87, may be 0), NaN in, NaN out. */
static double act_ratio(float got, double ref) {
  if (isnan(got)) return INFINITY;
  return fabs((double)got - ref) / (fabs(ref) * 0x1p-21 + 0x1p-125);
}

static void act_point(float x, double *w, float *wx) {
  const double xd = x;
  double r[5] = {0, 0, 0, 0, 0};
  float om = 0.0f;
  const float sg = kz_fast_sigmoid2(x, &om);
  r[0] = act_ratio(sg, 1.0 / (1.0 + exp(-xd)));
  r[1] = act_ratio(om, 1.0 / (1.0 + exp(xd)));
  r[2] = act_ratio(kz_fast_tanh(x), tanh(xd));
  if (x <= 0.0f) r[3] = act_ratio(kz_cpu_expm1_nonpos(x), expm1(xd));
  for (int i = 0; i < 4; ++i)
    if (r[i] > w[i]) w[i] = r[i], wx[i] = x;
}

static void test_activations(void) {
  double w[4] = {0, 0, 0, 0};
  float wx[4] = {0, 0, 0, 0};
  for (int64_t i = 0; i < SWEEP_N; ++i)
    act_point((float)(-100.0 + 200.0 * (double)i / (SWEEP_N - 1)), w, wx);
  for (double m = 1e-30; m < 2.0; m *= 1.001) {
    act_point((float)m, w, wx);
    act_point((float)-m, w, wx);
  }
  act_point(0.0f, w, wx);
  act_point(-0.0f, w, wx);
  static const char *names[4] = {"sigmoid", "1 - sigmoid", "tanh", "expm1 (x <= 0)"};
  for (int i = 0; i < 4; ++i) {
    printf("%-28s worst %.3f of 4 ulps at x = %.9g\n", names[i], w[i], (double)wx[i]);
    if (!(w[i] <= 1.0)) {
      fprintf(stderr, "%s: error above 4 ulps at x = %.9g\n", names[i], (double)wx[i]);
      ++kz_test_failures;
    }
  }
  KZ_CHECK(kz_fast_tanh(50.0f) == 1.0f && kz_fast_tanh(-50.0f) == -1.0f);
  KZ_CHECK(kz_fast_sigmoid(200.0f) == 1.0f && kz_fast_sigmoid(-200.0f) == 0.0f);
  KZ_CHECK(kz_cpu_expm1_nonpos(-200.0f) == -1.0f && kz_cpu_expm1_nonpos(-INFINITY) == -1.0f);
  KZ_CHECK(isnan(kz_fast_tanh(NAN)) && isnan(kz_fast_sigmoid(NAN)) &&
           isnan(kz_cpu_expm1_nonpos(NAN)));
}

int main(int argc, char **argv) {
  kz_stream *s = NULL;
  KZ_CHECK_OK(kz_stream_create((kz_device){KZ_DEVICE_CPU, 0}, &s));
  if (!s) return KZ_TEST_RESULT();
  if (argc > 1 && !strcmp(argv[1], "--bench")) {
    int reps = argc > 2 ? atoi(argv[2]) : 11;
    int rc = run_bench(s, reps > 0 ? reps : 11);
    kz_stream_destroy(s);
    return rc;
  }
  test_sweep(s);
  test_edges();
  test_spans(s);
  test_activations();
  kz_stream_destroy(s);
  return KZ_TEST_RESULT();
}
