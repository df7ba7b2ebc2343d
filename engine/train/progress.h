/* Training progress: one updating line on a TTY, one JSON object per log
 * interval on stderr otherwise, nothing with --quiet. Throughput is reported
 * as samples/s, achieved FLOP/s (model flops_per_row) and a percentage of the
 * device's peak, measured once at start with a short 512^3 sgemm. */
#ifndef KZ_ENGINE_TRAIN_PROGRESS_H
#define KZ_ENGINE_TRAIN_PROGRESS_H

#include <stdint.h>

#include "kernels/core/backend.h"

typedef enum kz_progress_mode {
  KZ_PROGRESS_QUIET = 0,
  KZ_PROGRESS_TTY = 1,
  KZ_PROGRESS_JSON = 2
} kz_progress_mode;

typedef struct kz_progress {
  kz_progress_mode mode;
  double peak_flops; /* measured sgemm FLOP/s; 0 if unknown */
  double flops_per_row;
  int line_open; /* a TTY line awaits its newline */
} kz_progress;

/* Picks the mode (quiet, isatty(stderr)) and measures the peak on s. */
void kz_progress_init(kz_progress *p, int quiet, kz_stream *s, double flops_per_row);
/* samples_per_s over the last interval; eta_s < 0 when unknown. */
void kz_progress_step(kz_progress *p, int64_t step, int64_t total, double loss, double lr,
                      double samples_per_s, double eta_s);
/* An event (non-finite step skipped, rollback, evaluation): a JSON object
 * string {"event":...} on a non-TTY, the text on a TTY. Shown unless quiet. */
void kz_progress_event(kz_progress *p, const char *json, const char *text);
/* Ends an open TTY line. */
void kz_progress_finish(kz_progress *p);
/* Wall-clock seconds (monotonic). */
double kz_now_s(void);
/* Measured FLOP/s of a 512^3 f32 matmul on the stream's device (best of a
 * few runs); 0 on failure. */
double kz_measure_peak_flops(kz_stream *s);

#endif
