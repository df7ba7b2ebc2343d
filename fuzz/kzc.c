/* libFuzzer harness: training checkpoints (.kzc, engine/train/checkpoint.c)
 * and what --resume does with one: rebuild the model from the stored meta
 * (kz_nn_model_from_meta) and check its size against the parameter block.
 * The checksum is fixed up first (fuzz_util.h). Property: a checkpoint that
 * reads writes back and reads again to the same state, meta and blocks (a
 * resume must continue bit for bit). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/checkpoint.h"
#include "fuzz_util.h"
#include "models/nn_model.h"

static const kz_device cpu = {KZ_DEVICE_CPU, 0};

static void round_trip(const kz_ckpt_data *d) {
  char rt[512];
  snprintf(rt, sizeof rt, "%s/round-trip.kzc", kz_fuzz_dir());
  const float *state[2] = {d->state, d->state + d->state_n};
  if (kz_ckpt_write(rt, &d->st, d->meta, d->params, state, d->n_state, d->n) != KZ_OK) return;
  kz_ckpt_data back;
  if (kz_ckpt_read(rt, &back) != KZ_OK)
    kz_fuzz_fail("a written checkpoint does not read back: %s", kz_last_error());
  if (memcmp(&d->st, &back.st, sizeof back.st) != 0)
    kz_fuzz_fail("a checkpoint reads back with another state");
  if (strcmp(d->meta, back.meta) != 0 || d->n != back.n || d->n_state != back.n_state ||
      d->params_n != back.params_n || d->state_n != back.state_n ||
      memcmp(d->params, back.params, (size_t)d->params_n * sizeof(float)) != 0 ||
      memcmp(d->state, back.state, (size_t)d->state_n * (size_t)d->n_state * sizeof(float)) != 0)
    kz_fuzz_fail("a checkpoint reads back with another meta or other blocks");
  kz_ckpt_data_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *fixed = kz_fuzz_fix_checksum(data, size);
  const char *path = kz_fuzz_write("ckpt-0000000001.kzc", fixed ? fixed : data, size);
  free(fixed);
  kz_ckpt_data d;
  if (!kz_fuzz_ok("read", kz_ckpt_read(path, &d))) return 0;
  round_trip(&d);
  kz_nn_model *m = NULL;
  if (kz_fuzz_ok("from_meta", kz_nn_model_from_meta(d.meta, cpu, &m))) {
    kz_nn_base(m)->ops->destroy(m);
  }
  kz_ckpt_data_free(&d);
  return 0;
}
