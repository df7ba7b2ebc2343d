/* Learning-rate schedules (schedule.h). */
#include "engine/train/schedule.h"

#include <math.h>

double kz_schedule_lr(const kz_schedule *s, int64_t step) {
  if (step < 0) step = 0;
  if (s->warmup > 0 && step < s->warmup) return s->lr * (double)(step + 1) / (double)s->warmup;
  if (s->kind == KZ_SCHEDULE_CONSTANT) return s->lr;
  int64_t span = s->total - 1 - s->warmup;
  /* A run too short to decay over stays at the peak rather than dividing by 0. */
  double p = span > 0 ? (double)(step - s->warmup) / (double)span : 0.0;
  if (p > 1.0) p = 1.0;
  const double lo = s->min_lr_ratio;
  if (s->kind == KZ_SCHEDULE_LINEAR) return s->lr * (1.0 - p * (1.0 - lo));
  const double pi = 3.14159265358979323846;
  return s->lr * (lo + (1.0 - lo) * 0.5 * (1.0 + cos(pi * p)));
}
