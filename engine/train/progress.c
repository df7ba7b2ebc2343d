/* Progress reporting (progress.h). */
#define _POSIX_C_SOURCE 200809L
#include "engine/train/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/ops.h"

double kz_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double kz_measure_peak_flops(kz_stream *s) {
  const int64_t n = 512;
  int64_t shape[2] = {n, n};
  kz_tensor a, b, c;
  memset(&a, 0, sizeof a), memset(&b, 0, sizeof b), memset(&c, 0, sizeof c);
  double best = 0.0;
  if (kz_tensor_alloc(s->device, KZ_F32, 2, shape, &a) != KZ_OK ||
      kz_tensor_alloc(s->device, KZ_F32, 2, shape, &b) != KZ_OK ||
      kz_tensor_alloc(s->device, KZ_F32, 2, shape, &c) != KZ_OK)
    goto done;
  kz_fill_bytes(s, a.data, 0, (size_t)(n * n * 4));
  kz_fill_bytes(s, b.data, 0, (size_t)(n * n * 4));
  /* One warm-up, then the best of a few: the machine is shared and noisy. */
  for (int rep = 0; rep < 6; ++rep) {
    double t0 = kz_now_s();
    if (kz_op_matmul(s, &a, &b, &c, false, false, 1.0f, 0.0f) != KZ_OK) break;
    if (kz_stream_sync(s) != KZ_OK) break;
    double dt = kz_now_s() - t0;
    double f = 2.0 * (double)n * (double)n * (double)n / (dt > 1e-9 ? dt : 1e-9);
    if (rep > 0 && f > best) best = f;
  }
done:
  if (a.data) kz_tensor_free(&a);
  if (b.data) kz_tensor_free(&b);
  if (c.data) kz_tensor_free(&c);
  return best;
}

void kz_progress_init(kz_progress *p, int quiet, kz_stream *s, double flops_per_row) {
  memset(p, 0, sizeof *p);
  p->mode = quiet ? KZ_PROGRESS_QUIET : isatty(2) ? KZ_PROGRESS_TTY : KZ_PROGRESS_JSON;
  p->flops_per_row = flops_per_row;
  if (p->mode != KZ_PROGRESS_QUIET) p->peak_flops = kz_measure_peak_flops(s);
}

static void fmt_eta(double eta, char *buf, size_t cap) {
  if (eta < 0) {
    snprintf(buf, cap, "?");
    return;
  }
  long t = (long)(eta + 0.5);
  if (t >= 3600)
    snprintf(buf, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

void kz_progress_step(kz_progress *p, int64_t step, int64_t total, double loss, double lr,
                      double samples_per_s, double eta_s) {
  if (p->mode == KZ_PROGRESS_QUIET) return;
  double flops = samples_per_s * p->flops_per_row;
  double pct = p->peak_flops > 0 ? 100.0 * flops / p->peak_flops : 0.0;
  if (p->mode == KZ_PROGRESS_JSON) {
    fprintf(stderr,
            "{\"event\":\"progress\",\"step\":%lld,\"steps\":%lld,\"loss\":%.9g,\"lr\":%.6g,"
            "\"samples_per_s\":%.1f,\"flops_per_s\":%.4g,\"peak_pct\":%.2f,\"eta_s\":%.1f}\n",
            (long long)step, (long long)total, loss, lr, samples_per_s, flops, pct,
            eta_s < 0 ? -1.0 : eta_s);
    fflush(stderr);
    return;
  }
  char eta[32];
  fmt_eta(eta_s, eta, sizeof eta);
  fprintf(stderr,
          "\r\033[Kstep %lld/%lld  loss %.5f  lr %.3g  %.0f samples/s  %.3g GFLOP/s (%.1f%% of "
          "peak)  ETA %s",
          (long long)step, (long long)total, loss, lr, samples_per_s, flops * 1e-9, pct, eta);
  fflush(stderr);
  p->line_open = 1;
}

void kz_progress_event(kz_progress *p, const char *json, const char *text) {
  if (p->mode == KZ_PROGRESS_QUIET) return;
  if (p->mode == KZ_PROGRESS_JSON) {
    fprintf(stderr, "%s\n", json);
  } else {
    if (p->line_open) fputc('\n', stderr);
    p->line_open = 0;
    fprintf(stderr, "%s\n", text);
  }
  fflush(stderr);
}

void kz_progress_finish(kz_progress *p) {
  if (p->mode == KZ_PROGRESS_TTY && p->line_open) fputc('\n', stderr);
  p->line_open = 0;
}
