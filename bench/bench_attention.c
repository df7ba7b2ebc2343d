/* Helper of bench/attention.sh (built with the tests): the fused attention
 * op against the unfused sequence of existing ops on the CPU.
 *
 *   bench_attention time B H T D REPEAT
 *       forward and backward of both, interleaved REPEAT times, median ms
 *       and GFLOP/s. Both count the same model FLOPs (forward 4 B H T^2 D,
 *       backward 8 B H T^2 D: the products an unfused backward does), so
 *       the rates compare times directly.
 *   bench_attention mem fused|unfused B H T D
 *       one training step (forward and backward) and the process's peak
 *       resident memory, and its growth over the resident memory before the
 *       step (inputs, outputs and gradients already allocated and touched).
 *   bench_attention peak N REPEAT
 *       OpenBLAS sgemm on N x N x N (median), the rate to compare with.
 *   bench_attention check
 *       a small case through both paths; exits 1 if they disagree (the test
 *       that the baseline computes the same thing).
 *
 * The unfused sequence: permute q, k, v to [B, H, T, D]; S = Q K^T
 * (batched matmul); P = softmax(S) with scale 1/sqrt(D); O = P V; permute
 * back. Backward: dV = P^T dO, dP = dO V^T, dS = softmax_bwd, dQ = dS K,
 * dK = dS^T Q, each permuted back. It keeps S, P, dP and dS (B H T^2 floats
 * each), which the fused op never forms. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kernels/core/backend.h"
#include "kernels/core/error.h"
#include "kernels/ops.h"

static const kz_device cpu = {KZ_DEVICE_CPU, 0};

typedef struct problem {
  int64_t B, H, T, D;
  float scale;
  kz_tensor q, k, v, o, dout, lse, dq, dk, dv;
} problem;

/* Scratch of the unfused path, [B, H, T, *]. */
typedef struct unfused {
  kz_tensor qh, kh, vh, s, p, oh, doh, dp, ds, dqh, dkh, dvh;
} unfused;

/* BENCH_CLOCK=cpu times with the process's CPU time instead of the wall
 * clock: on a loaded machine that stays what the work costs (run it with
 * OMP_NUM_THREADS=1, or idle OpenMP threads' spinning is counted too). */
static double now_ms(void) {
  static int cpu_clock = -1;
  if (cpu_clock < 0) {
    const char *e = getenv("BENCH_CLOCK");
    cpu_clock = e && !strcmp(e, "cpu");
  }
  struct timespec ts;
  clock_gettime(cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static kz_status alloc2(kz_tensor *t, int64_t rows, int64_t cols) {
  const int64_t shape[2] = {rows, cols};
  KZ_TRY(kz_tensor_alloc(cpu, KZ_F32, 2, shape, t));
  /* Touch every page and give the inputs values. */
  float *x = t->data;
  uint64_t z = (uint64_t)rows * 2654435761u + (uint64_t)cols;
  for (int64_t i = 0; i < rows * cols; ++i) {
    z = z * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = (float)((double)(z >> 40) / (double)(1 << 24) * 2.0 - 1.0);
  }
  return KZ_OK;
}

static kz_status alloc4(kz_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d) {
  const int64_t shape[4] = {a, b, c, d};
  KZ_TRY(kz_tensor_alloc(cpu, KZ_F32, 4, shape, t));
  memset(t->data, 0, kz_tensor_bytes(t));
  return KZ_OK;
}

static kz_status problem_init(problem *p, int64_t B, int64_t H, int64_t T, int64_t D) {
  memset(p, 0, sizeof *p);
  p->B = B, p->H = H, p->T = T, p->D = D;
  p->scale = (float)(1.0 / sqrt((double)D));
  const int64_t bt = B * T, hd = H * D;
  KZ_TRY(alloc2(&p->q, bt, hd));
  KZ_TRY(alloc2(&p->k, bt, hd));
  KZ_TRY(alloc2(&p->v, bt, hd));
  KZ_TRY(alloc2(&p->o, bt, hd));
  KZ_TRY(alloc2(&p->dout, bt, hd));
  KZ_TRY(alloc2(&p->lse, B * H * T, 1));
  KZ_TRY(alloc2(&p->dq, bt, hd));
  KZ_TRY(alloc2(&p->dk, bt, hd));
  return alloc2(&p->dv, bt, hd);
}

static void problem_free(problem *p) {
  kz_tensor *ts[] = {&p->q, &p->k, &p->v, &p->o, &p->dout, &p->lse, &p->dq, &p->dk, &p->dv};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; ++i) kz_tensor_free(ts[i]);
}

static kz_status unfused_init(unfused *u, const problem *p) {
  memset(u, 0, sizeof *u);
  kz_tensor *heads[] = {&u->qh, &u->kh, &u->vh, &u->oh, &u->doh, &u->dqh, &u->dkh, &u->dvh};
  for (size_t i = 0; i < sizeof heads / sizeof heads[0]; ++i)
    KZ_TRY(alloc4(heads[i], p->B, p->H, p->T, p->D));
  kz_tensor *scores[] = {&u->s, &u->p, &u->dp, &u->ds};
  for (size_t i = 0; i < sizeof scores / sizeof scores[0]; ++i)
    KZ_TRY(alloc4(scores[i], p->B, p->H, p->T, p->T));
  return KZ_OK;
}

static void unfused_free(unfused *u) {
  kz_tensor *ts[] = {&u->qh,  &u->kh, &u->vh, &u->s,   &u->p,   &u->oh,
                     &u->doh, &u->dp, &u->ds, &u->dqh, &u->dkh, &u->dvh};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; ++i) kz_tensor_free(ts[i]);
}

static const int split[4] = {0, 2, 1, 3}; /* [B,T,H,D] -> [B,H,T,D] */

static kz_tensor as4(const kz_tensor *t, const problem *p) {
  kz_tensor out;
  const int64_t bthd[4] = {p->B, p->T, p->H, p->D};
  (void)kz_tensor_reshape(t, 4, bthd, &out);
  return out;
}

/* [B, H, T, X] as a batch of B*H matrices [T, X]. */
static kz_tensor as3(const kz_tensor *t) {
  kz_tensor out;
  const int64_t shape[3] = {t->shape[0] * t->shape[1], t->shape[2], t->shape[3]};
  (void)kz_tensor_reshape(t, 3, shape, &out);
  return out;
}

static kz_attn_opts opts_of(const problem *p) {
  return (kz_attn_opts){p->B, p->H, p->scale, false, 0.0, 0};
}

static kz_status fused_fwd(kz_stream *s, problem *p) {
  kz_attn_opts a = opts_of(p);
  return kz_op_attention_sep(s, &p->q, &p->k, &p->v, &p->o, &p->lse, NULL, &a);
}

static kz_status fused_bwd(kz_stream *s, problem *p) {
  kz_attn_opts a = opts_of(p);
  return kz_op_attention_sep_bwd(s, &p->q, &p->k, &p->v, &p->o, &p->dout, &p->lse, NULL, &p->dq,
                                 &p->dk, &p->dv, &a, false);
}

static kz_status unfused_fwd(kz_stream *s, problem *p, unfused *u) {
  kz_tensor q4 = as4(&p->q, p), k4 = as4(&p->k, p), v4 = as4(&p->v, p), o4 = as4(&p->o, p);
  KZ_TRY(kz_op_permute(s, &q4, &u->qh, split));
  KZ_TRY(kz_op_permute(s, &k4, &u->kh, split));
  KZ_TRY(kz_op_permute(s, &v4, &u->vh, split));
  kz_tensor q3 = as3(&u->qh), k3 = as3(&u->kh), v3 = as3(&u->vh), s3 = as3(&u->s), p3 = as3(&u->p),
            o3 = as3(&u->oh);
  KZ_TRY(kz_op_matmul(s, &q3, &k3, &s3, false, true, 1.0f, 0.0f));
  KZ_TRY(kz_op_softmax(s, &u->s, &u->p, NULL, p->scale, false));
  KZ_TRY(kz_op_matmul(s, &p3, &v3, &o3, false, false, 1.0f, 0.0f));
  return kz_op_permute_bwd(s, &u->oh, &o4, split, false);
}

static kz_status unfused_bwd(kz_stream *s, problem *p, unfused *u) {
  kz_tensor do4 = as4(&p->dout, p);
  KZ_TRY(kz_op_permute(s, &do4, &u->doh, split));
  kz_tensor q3 = as3(&u->qh), k3 = as3(&u->kh), v3 = as3(&u->vh), p3 = as3(&u->p),
            do3 = as3(&u->doh), dp3 = as3(&u->dp), ds3 = as3(&u->ds), dq3 = as3(&u->dqh),
            dk3 = as3(&u->dkh), dv3 = as3(&u->dvh);
  KZ_TRY(kz_op_matmul(s, &p3, &do3, &dv3, true, false, 1.0f, 0.0f));
  KZ_TRY(kz_op_matmul(s, &do3, &v3, &dp3, false, true, 1.0f, 0.0f));
  KZ_TRY(kz_op_softmax_bwd(s, &u->p, &u->dp, &u->ds, NULL, p->scale, false, false));
  KZ_TRY(kz_op_matmul(s, &ds3, &k3, &dq3, false, false, 1.0f, 0.0f));
  KZ_TRY(kz_op_matmul(s, &ds3, &q3, &dk3, true, false, 1.0f, 0.0f));
  kz_tensor dq4 = as4(&p->dq, p), dk4 = as4(&p->dk, p), dv4 = as4(&p->dv, p);
  KZ_TRY(kz_op_permute_bwd(s, &u->dqh, &dq4, split, false));
  KZ_TRY(kz_op_permute_bwd(s, &u->dkh, &dk4, split, false));
  return kz_op_permute_bwd(s, &u->dvh, &dv4, split, false);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *x, int n) {
  qsort(x, (size_t)n, sizeof *x, cmp_double);
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static int fail(kz_status st) {
  fprintf(stderr, "bench_attention: %s\n", kz_last_error());
  return st == KZ_OK ? 1 : 2;
}

#define MAX_REPEAT 64

static int run_time(int64_t B, int64_t H, int64_t T, int64_t D, int repeat) {
  if (repeat < 1) repeat = 1;
  if (repeat > MAX_REPEAT) repeat = MAX_REPEAT;
  kz_stream *s = NULL;
  problem p;
  unfused u;
  kz_status st = kz_stream_create(cpu, &s);
  if (st == KZ_OK) st = problem_init(&p, B, H, T, D);
  if (st == KZ_OK) st = unfused_init(&u, &p);
  double t[4][MAX_REPEAT];
  /* One warm-up of each, then interleaved samples. */
  for (int r = -1; r < repeat && st == KZ_OK; ++r) {
    double t0 = now_ms();
    st = fused_fwd(s, &p);
    double t1 = now_ms();
    if (st == KZ_OK) st = fused_bwd(s, &p);
    double t2 = now_ms();
    if (st == KZ_OK) st = unfused_fwd(s, &p, &u);
    double t3 = now_ms();
    if (st == KZ_OK) st = unfused_bwd(s, &p, &u);
    double t4 = now_ms();
    if (r >= 0) {
      t[0][r] = t1 - t0, t[1][r] = t2 - t1, t[2][r] = t3 - t2, t[3][r] = t4 - t3;
    }
  }
  if (st != KZ_OK) return fail(st);
  const double fwd_flops = 4.0 * (double)(B * H) * (double)T * (double)T * (double)D;
  const char *names[4] = {"fused fwd", "fused bwd", "unfused fwd", "unfused bwd"};
  double ms[4];
  for (int i = 0; i < 4; ++i) {
    ms[i] = median(t[i], repeat);
    const double flops = fwd_flops * (i % 2 ? 2.0 : 1.0);
    printf("B %lld H %lld T %4lld D %lld  %-12s %9.2f ms %7.1f GFLOP/s\n", (long long)B,
           (long long)H, (long long)T, (long long)D, names[i], ms[i], flops / (ms[i] * 1e6));
  }
  printf("B %lld H %lld T %4lld D %lld  speedup fused/unfused: fwd %.2fx, bwd %.2fx, step %.2fx\n",
         (long long)B, (long long)H, (long long)T, (long long)D, ms[2] / ms[0], ms[3] / ms[1],
         (ms[2] + ms[3]) / (ms[0] + ms[1]));
  unfused_free(&u);
  problem_free(&p);
  kz_stream_destroy(s);
  return 0;
}

/* Resident memory now, in KiB (Linux). */
static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * 4;
}

static int run_mem(bool fused, int64_t B, int64_t H, int64_t T, int64_t D) {
  kz_stream *s = NULL;
  problem p;
  unfused u;
  kz_status st = kz_stream_create(cpu, &s);
  if (st == KZ_OK) st = problem_init(&p, B, H, T, D);
  const long before = rss_kib();
  if (st == KZ_OK && !fused) st = unfused_init(&u, &p); /* the sequence's own buffers */
  if (st == KZ_OK) st = fused ? fused_fwd(s, &p) : unfused_fwd(s, &p, &u);
  if (st == KZ_OK) st = fused ? fused_bwd(s, &p) : unfused_bwd(s, &p, &u);
  if (st != KZ_OK) return fail(st);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("%-7s B %lld H %lld T %4lld D %lld  inputs+outputs %8.1f MiB  peak RSS %8.1f MiB  "
         "attention working memory %8.1f MiB\n",
         fused ? "fused" : "unfused", (long long)B, (long long)H, (long long)T, (long long)D,
         (8.0 * (double)(B * T * H * D) + (double)(B * H * T)) * 4.0 / 1048576.0,
         (double)ru.ru_maxrss / 1024.0, (double)(ru.ru_maxrss - before) / 1024.0);
  if (!fused) unfused_free(&u);
  problem_free(&p);
  kz_stream_destroy(s);
  return 0;
}

static double max_rel(const kz_tensor *a, const kz_tensor *b) {
  const float *x = a->data, *y = b->data;
  double err = 0, norm = 0;
  for (int64_t i = 0; i < kz_tensor_numel(a); ++i) {
    err = fmax(err, fabs((double)x[i] - y[i]));
    norm = fmax(norm, fabs((double)y[i]));
  }
  return norm > 0 ? err / norm : err;
}

static int run_check(void) {
  kz_stream *s = NULL;
  problem p;
  unfused u;
  kz_tensor ref[4];
  kz_status st = kz_stream_create(cpu, &s);
  if (st == KZ_OK) st = problem_init(&p, 2, 3, 70, 16);
  if (st == KZ_OK) st = unfused_init(&u, &p);
  if (st == KZ_OK) st = unfused_fwd(s, &p, &u);
  if (st == KZ_OK) st = unfused_bwd(s, &p, &u);
  const kz_tensor *outs[4] = {&p.o, &p.dq, &p.dk, &p.dv};
  for (int i = 0; i < 4 && st == KZ_OK; ++i) {
    st = kz_tensor_alloc(cpu, KZ_F32, 2, outs[i]->shape, &ref[i]);
    if (st == KZ_OK) memcpy(ref[i].data, outs[i]->data, kz_tensor_bytes(outs[i]));
  }
  if (st == KZ_OK) st = fused_fwd(s, &p);
  if (st == KZ_OK) st = fused_bwd(s, &p);
  if (st != KZ_OK) return fail(st);
  const char *names[4] = {"o", "dq", "dk", "dv"};
  int bad = 0;
  for (int i = 0; i < 4; ++i) {
    const double e = max_rel(outs[i], &ref[i]);
    printf("%s: max |fused - unfused| / max |unfused| = %.3g\n", names[i], e);
    bad |= !(e < 1e-4);
    kz_tensor_free(&ref[i]);
  }
  unfused_free(&u);
  problem_free(&p);
  kz_stream_destroy(s);
  return bad;
}

/* The sgemm rate the tiles are up against: OpenBLAS on n^3, median. */
static int run_peak(int n, int repeat) {
  if (repeat < 1) repeat = 1;
  if (repeat > MAX_REPEAT) repeat = MAX_REPEAT;
  float *a = malloc((size_t)n * (size_t)n * sizeof(float) * 3);
  if (!a) return 2;
  float *b = a + (size_t)n * n, *c = b + (size_t)n * n;
  for (size_t i = 0; i < (size_t)n * n; ++i) a[i] = b[i] = (float)(i % 17) * 0.01f;
  double t[MAX_REPEAT];
  for (int r = -1; r < repeat; ++r) {
    double t0 = now_ms();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    if (r >= 0) t[r] = now_ms() - t0;
  }
  const double ms = median(t, repeat);
  printf("OpenBLAS sgemm %dx%dx%d: %.2f ms %7.1f GFLOP/s\n", n, n, n, ms,
         2.0 * n * (double)n * n / (ms * 1e6));
  free(a);
  return 0;
}

/* BENCH_BQ / BENCH_BK override the CPU tile knobs (attention.block_q/_k). */
static int set_tiles(void) {
  const char *bq = getenv("BENCH_BQ"), *bk = getenv("BENCH_BK");
  if (bq && kz_kernel_config_set(KZ_TARGET_CPU, KZ_KNOB_CPU_ATTENTION_BLOCK_Q, atoi(bq)) != KZ_OK)
    return fail(KZ_ERR_INVALID_ARG);
  if (bk && kz_kernel_config_set(KZ_TARGET_CPU, KZ_KNOB_CPU_ATTENTION_BLOCK_K, atoi(bk)) != KZ_OK)
    return fail(KZ_ERR_INVALID_ARG);
  return 0;
}

int main(int argc, char **argv) {
  if (set_tiles()) return 2;
  if (argc >= 2 && !strcmp(argv[1], "check")) return run_check();
  if (argc == 7 && !strcmp(argv[1], "time"))
    return run_time(atoll(argv[2]), atoll(argv[3]), atoll(argv[4]), atoll(argv[5]), atoi(argv[6]));
  if (argc == 4 && !strcmp(argv[1], "peak")) return run_peak(atoi(argv[2]), atoi(argv[3]));
  if (argc == 7 && !strcmp(argv[1], "mem"))
    return run_mem(!strcmp(argv[2], "fused"), atoll(argv[3]), atoll(argv[4]), atoll(argv[5]),
                   atoll(argv[6]));
  fprintf(stderr, "usage: bench_attention time B H T D REPEAT | mem fused|unfused B H T D | "
                  "peak N REPEAT | check\n");
  return 2;
}
