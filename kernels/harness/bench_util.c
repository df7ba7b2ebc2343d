/* Timing and data helpers for the benchmarks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/harness/bench_util.h"

kz_status kz_bench_timer_init(kz_bench_timer *t, kz_stream *s) {
  memset(t, 0, sizeof *t);
  t->s = s;
  KZ_TRY(kz_event_create(s->device, &t->start));
  return kz_event_create(s->device, &t->stop);
}

void kz_bench_timer_fini(kz_bench_timer *t) {
  kz_event_destroy(t->start);
  kz_event_destroy(t->stop);
  t->start = t->stop = NULL;
}

kz_status kz_bench_time(kz_bench_timer *t, kz_bench_fn fn, void *ctx, int inner, double *ms) {
  KZ_TRY(kz_event_record(t->s, t->start));
  for (int i = 0; i < inner; ++i) KZ_TRY(fn(ctx));
  KZ_TRY(kz_event_record(t->s, t->stop));
  float elapsed = 0;
  KZ_TRY(kz_event_elapsed_ms(t->start, t->stop, &elapsed));
  *ms = (double)elapsed / inner;
  return KZ_OK;
}

kz_status kz_bench_calibrate(kz_bench_timer *t, kz_bench_fn fn, void *ctx, int *inner) {
  double ms = 0;
  KZ_TRY(kz_bench_time(t, fn, ctx, 1, &ms)); /* warm-up: caches, cuBLAS heuristics, pages */
  KZ_TRY(kz_bench_time(t, fn, ctx, 1, &ms));
  double want = 2.0;
  int n = ms > 0 ? (int)ceil(want / ms) : 1000;
  *inner = n < 1 ? 1 : (n > 1000 ? 1000 : n);
  return KZ_OK;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double kz_bench_median(double *v, int n) {
  if (n <= 0) return 0;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

kz_status kz_bench_fill(kz_stream *s, void *dev, const kz_arg_spec *spec, int64_t n, kz_rng *rng) {
  size_t es = kz_dtype_size(spec->dtype), bytes = (size_t)n * es;
  unsigned char *host = malloc(bytes ? bytes : 1);
  if (!host) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "bench: host buffer of %zu bytes", bytes);
  for (int64_t i = 0; i < n; ++i) {
    double u = kz_rng_uniform(rng);
    if (spec->dtype == KZ_I32) {
      int32_t v = (int32_t)(spec->a + floor(u * (spec->b - spec->a)));
      memcpy(host + i * 4, &v, 4);
      continue;
    }
    double v = spec->init == KZ_INIT_UNIFORM ? spec->a + u * (spec->b - spec->a)
                                             : spec->a + spec->b * 1.7 * (2 * u - 1);
    if (spec->dtype == KZ_BF16) {
      uint16_t h = kz_f32_to_bf16((float)v);
      memcpy(host + i * 2, &h, 2);
    } else {
      float f = (float)v;
      memcpy(host + i * 4, &f, 4);
    }
  }
  kz_status st = kz_copy_to_device(s, dev, host, bytes);
  if (st == KZ_OK) st = kz_stream_sync(s);
  free(host);
  return st;
}
