/* Learning-rate schedules: a pure function of the optimizer step, so a
 * checkpoint only needs the step (and the rollback multiplier) to resume the
 * schedule exactly. */
#ifndef KZ_ENGINE_TRAIN_SCHEDULE_H
#define KZ_ENGINE_TRAIN_SCHEDULE_H

#include <stdint.h>

typedef enum kz_schedule_kind {
  KZ_SCHEDULE_CONSTANT = 0,
  KZ_SCHEDULE_LINEAR = 1,
  KZ_SCHEDULE_COSINE = 2
} kz_schedule_kind;

typedef struct kz_schedule {
  kz_schedule_kind kind;
  double lr;           /* peak learning rate */
  int64_t warmup;      /* steps of linear warm-up from lr/warmup to lr */
  int64_t total;       /* optimizer steps in the run */
  double min_lr_ratio; /* linear / cosine end at min_lr_ratio * lr on the last step */
} kz_schedule;

/* Learning rate of optimizer step `step` (0-based: the first update is step
 * 0). Warm-up: lr * (step + 1) / warmup for step < warmup. Decay then runs
 * from lr at step `warmup` to min_lr_ratio * lr at step total - 1. */
double kz_schedule_lr(const kz_schedule *s, int64_t step);

#endif
