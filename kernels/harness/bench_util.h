/* Timing and data helpers shared by the benchmark files (not public). */
#ifndef KZ_HARNESS_BENCH_UTIL_H
#define KZ_HARNESS_BENCH_UTIL_H

#include "kernels/harness/op_case.h"
#include "kernels/harness/rng.h"

typedef kz_status (*kz_bench_fn)(void *ctx);

typedef struct kz_bench_timer {
  kz_stream *s;
  kz_event *start, *stop;
} kz_bench_timer;

kz_status kz_bench_timer_init(kz_bench_timer *t, kz_stream *s);
void kz_bench_timer_fini(kz_bench_timer *t);
/* Milliseconds per call of fn, timed over `inner` back-to-back calls between
 * two events on the stream. */
kz_status kz_bench_time(kz_bench_timer *t, kz_bench_fn fn, void *ctx, int inner, double *ms);
/* Calls needed for one sample to last about 2 ms (event resolution, launch
 * overhead), after one warm-up call. */
kz_status kz_bench_calibrate(kz_bench_timer *t, kz_bench_fn fn, void *ctx, int *inner);
double kz_bench_median(double *v, int n);
/* Fills n elements of a device buffer with random non-zero-ish values drawn
 * as the spec says (normal draws are approximated by a scaled uniform: the
 * bench only needs realistic magnitudes, and quickly). */
kz_status kz_bench_fill(kz_stream *s, void *dev, const kz_arg_spec *spec, int64_t n, kz_rng *rng);

#endif
