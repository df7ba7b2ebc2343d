/* The machine's measured peaks, the denominators of every "% of peak":
 *  - CPU: OpenBLAS sgemm on 1024^2 and 2048^2 (the better of the two) and a
 *    large memcpy;
 *  - CUDA: cuBLAS GEMM through the matmul op with matmul.impl forced to
 *    cublas (f32 and bf16, 4096^2), and a device-to-device copy.
 * Copy bandwidth counts bytes read plus bytes written. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/harness/bench_util.h"
#include "kernels/harness/op_bench.h"
#include "kernels/ops.h"

typedef struct sgemm_ctx {
  const float *a, *b;
  float *c;
  int n;
} sgemm_ctx;

/* With OpenBLAS's own threads, as many as OpenMP's (the CPU backend keeps
 * OpenBLAS single-threaded, cpu/gemm.c, so the peak sets and restores it). */
static kz_status run_sgemm(void *p) {
  sgemm_ctx *g = p;
  const int saved = openblas_get_num_threads();
  openblas_set_num_threads(omp_get_max_threads());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, g->n, g->n, 1.0f, g->a, g->n, g->b,
              g->n, 0.0f, g->c, g->n);
  openblas_set_num_threads(saved);
  return KZ_OK;
}

typedef struct copy_ctx {
  kz_stream *s;
  void *dst, *src;
  size_t bytes;
} copy_ctx;

static kz_status run_copy(void *p) {
  copy_ctx *c = p;
  return kz_copy_on_device(c->s, c->dst, c->src, c->bytes);
}

typedef struct matmul_ctx {
  kz_stream *s;
  kz_tensor a, b, c;
} matmul_ctx;

static kz_status run_matmul(void *p) {
  matmul_ctx *m = p;
  return kz_op_matmul(m->s, &m->a, &m->b, &m->c, false, false, 1.0f, 0.0f);
}

/* Median time of fn over `repeat` samples. */
static kz_status sample(kz_bench_timer *t, kz_bench_fn fn, void *ctx, int repeat, double *ms) {
  int inner = 1;
  KZ_TRY(kz_bench_calibrate(t, fn, ctx, &inner));
  double v[64];
  int n = repeat < 1 ? 1 : (repeat > 64 ? 64 : repeat);
  for (int i = 0; i < n; ++i) KZ_TRY(kz_bench_time(t, fn, ctx, inner, &v[i]));
  *ms = kz_bench_median(v, n);
  return KZ_OK;
}

/* Allocates and fills `count` square n x n buffers of the dtype. */
static kz_status square_buffers(kz_stream *s, kz_dtype dtype, int64_t n, int count, void **bufs) {
  kz_arg_spec spec = {.dtype = dtype, .init = KZ_INIT_UNIFORM, .a = -1, .b = 1};
  kz_rng rng = {(uint64_t)n};
  for (int i = 0; i < count; ++i) {
    KZ_TRY(kz_device_alloc(s->device, (size_t)(n * n) * kz_dtype_size(dtype), &bufs[i]));
    KZ_TRY(kz_bench_fill(s, bufs[i], &spec, n * n, &rng));
  }
  return KZ_OK;
}

static void free_buffers(kz_stream *s, void **bufs, int count) {
  for (int i = 0; i < count; ++i)
    if (bufs[i]) kz_device_free(s->device, bufs[i]);
}

static kz_status cpu_gemm_peak(kz_bench_timer *t, int repeat, double *gflops, FILE *out) {
  static const int sizes[] = {1024, 2048};
  *gflops = 0;
  for (int i = 0; i < 2; ++i) {
    void *bufs[3] = {0};
    kz_status st = square_buffers(t->s, KZ_F32, sizes[i], 3, bufs);
    sgemm_ctx g = {bufs[0], bufs[1], bufs[2], sizes[i]};
    double ms = 0;
    if (st == KZ_OK) st = sample(t, run_sgemm, &g, repeat, &ms);
    free_buffers(t->s, bufs, 3);
    KZ_TRY(st);
    double rate = 2.0 * sizes[i] * sizes[i] * (double)sizes[i] / (ms * 1e6);
    fprintf(out, "peak: OpenBLAS sgemm %dx%dx%d: %.1f GFLOP/s\n", sizes[i], sizes[i], sizes[i],
            rate);
    if (rate > *gflops) *gflops = rate;
  }
  return KZ_OK;
}

static kz_status cuda_gemm_peak(kz_bench_timer *t, kz_dtype dtype, int repeat, double *gflops,
                                FILE *out) {
  const int64_t n = 4096;
  kz_stream *s = t->s;
  int saved = kz_kernel_config_value(s->target, KZ_KNOB_CUDA_MATMUL_IMPL);
  KZ_TRY(kz_kernel_config_set(s->target, KZ_KNOB_CUDA_MATMUL_IMPL, 0)); /* 0 = cublas */
  void *bufs[3] = {0};
  kz_status st = square_buffers(s, dtype, n, 2, bufs);
  if (st == KZ_OK) st = kz_device_alloc(s->device, (size_t)(n * n) * 4, &bufs[2]);
  matmul_ctx m = {s, kz_tensor_view(bufs[0], dtype, s->device, 2, n, n),
                  kz_tensor_view(bufs[1], dtype, s->device, 2, n, n),
                  kz_tensor_view(bufs[2], KZ_F32, s->device, 2, n, n)};
  double ms = 0;
  if (st == KZ_OK) st = sample(t, run_matmul, &m, repeat, &ms);
  free_buffers(s, bufs, 3);
  kz_kernel_config_set(s->target, KZ_KNOB_CUDA_MATMUL_IMPL, saved);
  KZ_TRY(st);
  *gflops = 2.0 * (double)(n * n * n) / (ms * 1e6);
  fprintf(out, "peak: cuBLAS %s GEMM %lldx%lldx%lld: %.1f GFLOP/s\n", kz_dtype_name(dtype),
          (long long)n, (long long)n, (long long)n, *gflops);
  return KZ_OK;
}

kz_status kz_bench_copy_rate(kz_stream *s, size_t bytes, int repeat, double *gbs) {
  kz_bench_timer t;
  KZ_TRY(kz_bench_timer_init(&t, s));
  void *src = NULL, *dst = NULL;
  if (bytes == 0) bytes = 1;
  kz_status st = kz_device_alloc(s->device, bytes, &src);
  if (st == KZ_OK) st = kz_device_alloc(s->device, bytes, &dst);
  /* Touch both so the first timed copy does not pay for page faults. */
  if (st == KZ_OK) st = kz_fill_bytes(s, src, 1, bytes);
  if (st == KZ_OK) st = kz_fill_bytes(s, dst, 2, bytes);
  copy_ctx c = {s, dst, src, bytes};
  double ms = 0;
  if (st == KZ_OK) st = sample(&t, run_copy, &c, repeat, &ms);
  if (src) kz_device_free(s->device, src);
  if (dst) kz_device_free(s->device, dst);
  kz_bench_timer_fini(&t);
  KZ_TRY(st);
  *gbs = 2.0 * (double)bytes / (ms * 1e6);
  return KZ_OK;
}

static kz_status copy_peak(kz_stream *s, int repeat, double *gbs, FILE *out) {
  KZ_TRY(kz_bench_copy_rate(s, (size_t)256 << 20, repeat, gbs));
  fprintf(out, "peak: %s copy of 256 MiB: %.1f GB/s (read + write)\n",
          s->device.kind == KZ_DEVICE_CPU ? "memcpy" : "device-to-device", *gbs);
  return KZ_OK;
}

kz_status kz_bench_measure_peaks(kz_stream *s, int repeat, kz_bench_peaks *peaks, FILE *out) {
  memset(peaks, 0, sizeof *peaks);
  kz_bench_timer t;
  kz_status st = kz_bench_timer_init(&t, s);
  if (st == KZ_OK) {
    if (s->device.kind == KZ_DEVICE_CPU) {
      st = cpu_gemm_peak(&t, repeat, &peaks->gemm_gflops, out);
      peaks->gemm_bf16_gflops = peaks->gemm_gflops;
    } else {
      st = cuda_gemm_peak(&t, KZ_F32, repeat, &peaks->gemm_gflops, out);
      if (st == KZ_OK) st = cuda_gemm_peak(&t, KZ_BF16, repeat, &peaks->gemm_bf16_gflops, out);
    }
  }
  kz_bench_timer_fini(&t);
  if (st == KZ_OK) st = copy_peak(s, repeat, &peaks->copy_gbs, out);
  return st;
}
