/* Unit tests of the trainer's pieces: schedules (warm-up, linear and cosine
 * end points), global-norm clipping, one SGD and one AdamW step against a
 * hand computation in double, and the .kzm / .kzc files (round trip,
 * truncation and corruption detected, newest valid checkpoint chosen).
 * usage: test_trainer TMPDIR */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/train/checkpoint.h"
#include "engine/train/optim.h"
#include "engine/train/schedule.h"
#include "kernels/core/backend.h"
#include "models/nn_file.h"
#include "tests/test_util.h"

static int close_to(double a, double b, double tol) {
  return fabs(a - b) <= tol * (1 + fabs(b));
}

static void test_schedules(void) {
  kz_schedule s = {KZ_SCHEDULE_CONSTANT, 0.1, 4, 104, 0.1};
  KZ_CHECK(close_to(kz_schedule_lr(&s, 0), 0.025, 1e-12)); /* (0+1)/4 of the peak */
  KZ_CHECK(close_to(kz_schedule_lr(&s, 3), 0.1, 1e-12));
  KZ_CHECK(close_to(kz_schedule_lr(&s, 50), 0.1, 1e-12));
  s.kind = KZ_SCHEDULE_LINEAR;
  KZ_CHECK(close_to(kz_schedule_lr(&s, 4), 0.1, 1e-12));    /* first step after warm-up */
  KZ_CHECK(close_to(kz_schedule_lr(&s, 103), 0.01, 1e-12)); /* last step: min_lr_ratio */
  /* Halfway through the decay (step 4 + 99/2). */
  KZ_CHECK(close_to(kz_schedule_lr(&s, 4 + 99) - kz_schedule_lr(&s, 4), -0.09, 1e-12));
  s.kind = KZ_SCHEDULE_COSINE;
  KZ_CHECK(close_to(kz_schedule_lr(&s, 4), 0.1, 1e-12));
  KZ_CHECK(close_to(kz_schedule_lr(&s, 103), 0.01, 1e-12));
  kz_schedule c = {KZ_SCHEDULE_COSINE, 1.0, 0, 3, 0.0}; /* steps 0, 1, 2: cos at 0, pi/2, pi */
  KZ_CHECK(close_to(kz_schedule_lr(&c, 1), 0.5, 1e-12));
  KZ_CHECK(fabs(kz_schedule_lr(&c, 2)) < 1e-15);
  kz_schedule one = {KZ_SCHEDULE_LINEAR, 1.0, 0, 1, 0.0}; /* no room to decay: peak */
  KZ_CHECK(close_to(kz_schedule_lr(&one, 0), 1.0, 1e-12));
}

static void test_clipping(kz_stream *s) {
  float g[4] = {3, 0, 4, 0}; /* norm 5 */
  kz_device cpu = {KZ_DEVICE_CPU, 0};
  kz_tensor t = kz_tensor_view(g, KZ_F32, cpu, 1, (int64_t)4);
  double norm = 0;
  KZ_CHECK_OK(kz_grad_global_norm(s, &t, NULL, 0, NULL, &norm));
  KZ_CHECK(close_to(norm, 5.0, 1e-12));
  KZ_CHECK(close_to(kz_clip_scale(norm, 1.0), 0.2, 1e-12));
  KZ_CHECK(kz_clip_scale(norm, 10.0) == 1.0);
  KZ_CHECK(kz_clip_scale(norm, 0.0) == 1.0); /* off */
  KZ_CHECK_OK(kz_grad_poison(s, &t));
  KZ_CHECK_OK(kz_grad_global_norm(s, &t, NULL, 0, NULL, &norm));
  KZ_CHECK(!isfinite(norm));
}

static void test_optimizers(kz_stream *s) {
  kz_device cpu = {KZ_DEVICE_CPU, 0};
  enum { N = 5 };
  const float p0[N] = {0.5f, -1.0f, 2.0f, 0.0f, -0.25f};
  const float g0[N] = {0.1f, -0.2f, 0.3f, 1.0f, -4.0f};
  const double lr = 0.01, gs = 0.5;
  /* SGD with momentum and L2, two steps (the second exercises the buffer). */
  {
    kz_optim o;
    kz_optim_config c = {.kind = KZ_OPTIM_SGD, .momentum = 0.9, .weight_decay = 0.1};
    KZ_CHECK_OK(kz_optim_init(&o, &c, cpu, N));
    KZ_CHECK_OK(kz_optim_reset(&o, s));
    float p[N], g[N];
    memcpy(p, p0, sizeof p), memcpy(g, g0, sizeof g);
    kz_tensor tp = kz_tensor_view(p, KZ_F32, cpu, 1, (int64_t)N);
    kz_tensor tg = kz_tensor_view(g, KZ_F32, cpu, 1, (int64_t)N);
    KZ_CHECK_OK(kz_optim_step(&o, s, &tp, &tg, NULL, 0, lr, gs));
    KZ_CHECK_OK(kz_optim_step(&o, s, &tp, &tg, NULL, 0, lr, gs));
    for (int i = 0; i < N; ++i) {
      double pd = p0[i], buf = 0;
      for (int k = 0; k < 2; ++k) {
        double gi = g0[i] * gs + 0.1 * pd;
        buf = 0.9 * buf + gi;
        pd -= lr * buf;
      }
      KZ_CHECK(close_to(p[i], pd, 1e-6));
    }
    kz_optim_free(&o);
  }
  /* AdamW, one step: m = (1-b1) g, v = (1-b2) g^2, bias-corrected, decoupled decay. */
  {
    kz_optim o;
    kz_optim_config c = {
        .kind = KZ_OPTIM_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01};
    KZ_CHECK_OK(kz_optim_init(&o, &c, cpu, N));
    KZ_CHECK_OK(kz_optim_reset(&o, s));
    float p[N], g[N];
    memcpy(p, p0, sizeof p), memcpy(g, g0, sizeof g);
    kz_tensor tp = kz_tensor_view(p, KZ_F32, cpu, 1, (int64_t)N);
    kz_tensor tg = kz_tensor_view(g, KZ_F32, cpu, 1, (int64_t)N);
    KZ_CHECK_OK(kz_optim_step(&o, s, &tp, &tg, NULL, 0, lr, gs));
    KZ_CHECK(o.t == 1);
    for (int i = 0; i < N; ++i) {
      double gi = g0[i] * gs;
      double m = 0.1 * gi, v = 0.001 * gi * gi;
      double mh = m / (1 - 0.9), vh = v / (1 - 0.999);
      double pd = p0[i] - lr * (mh / (sqrt(vh) + 1e-8) + 0.01 * p0[i]);
      KZ_CHECK(close_to(p[i], pd, 1e-6));
      KZ_CHECK(close_to(((float *)o.m.data)[i], m, 1e-6));
    }
    kz_optim_free(&o);
  }
}

static void flip_byte(const char *path, long at) {
  FILE *f = fopen(path, "r+b");
  KZ_CHECK(f != NULL);
  if (!f) return;
  fseek(f, at, SEEK_SET);
  int c = fgetc(f);
  fseek(f, at, SEEK_SET);
  fputc(c ^ 0x40, f);
  fclose(f);
}

static void test_model_file(const char *dir) {
  char path[2048];
  snprintf(path, sizeof path, "%s/t.kzm", dir);
  const float w[3] = {1.5f, -2.0f, NAN};
  KZ_CHECK_OK(kz_nn_file_write(path, "{\"type\":\"linear\"}", w, 3));
  char *meta = NULL;
  float *p = NULL;
  int64_t n = 0;
  KZ_CHECK_OK(kz_nn_file_read(path, &meta, &p, &n));
  KZ_CHECK(n == 3 && meta && !strcmp(meta, "{\"type\":\"linear\"}"));
  KZ_CHECK(p && !memcmp(p, w, sizeof w));
  free(meta), free(p);
  flip_byte(path, 20);
  KZ_CHECK_FAILS(kz_nn_file_read(path, &meta, &p, &n), KZ_ERR_FORMAT, "checksum");
  KZ_CHECK_OK(kz_nn_file_write(path, "{}", w, 3));
  KZ_CHECK(truncate(path, 30) == 0);
  KZ_CHECK_FAILS(kz_nn_file_read(path, &meta, &p, &n), KZ_ERR_FORMAT, "truncated");
}

static void test_checkpoints(const char *dir) {
  char cdir[2048], path[2200];
  snprintf(cdir, sizeof cdir, "%s/ckpts", dir);
  char cmd[4400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", cdir, cdir);
  KZ_CHECK(system(cmd) == 0);
  const float params[2] = {1, 2}, m[2] = {3, 4}, v[2] = {5, 6};
  const float *state[2] = {m, v};
  kz_ckpt_state st = {.step = 0,
                      .lr_mult = 0.5,
                      .rng = 0xfedcba9876543210ULL,
                      .best_value = NAN,
                      .best_step = -1,
                      .log_loss_sum = 1.0 / 3.0};
  /* a linear regression on one categorical column with no categories: one
   * weight and one bias, the two parameters written */
  const char *meta =
      "{\"type\":\"linear\",\"task\":\"regression\",\"n_out\":1,\"field_numeric\":-1,"
      "\"field_categorical\":0,\"field_label\":1,\"output_names\":[\"y\"],\"label\":\"y\","
      "\"numeric_names\":[],\"categorical_names\":[\"c\"],\"numeric_mean\":[],"
      "\"numeric_std\":[],\"categorical_cardinality\":[0],\"label_mean\":0,\"label_std\":1}";
  for (int64_t step = 10; step <= 50; step += 10) {
    st.step = step;
    st.samples = 4 * step;
    kz_ckpt_path(cdir, step, path, sizeof path);
    KZ_CHECK_OK(kz_ckpt_write(path, &st, meta, params, state, 2, 2));
  }
  /* States no run reaches, and a meta that does not describe the block, are
   * refused naming the file and the key. */
  snprintf(path, sizeof path, "%s/bad.kzc", cdir);
  kz_ckpt_data bad;
  kz_ckpt_state b = st;
  b.step = -5;
  KZ_CHECK_OK(kz_ckpt_write(path, &b, meta, params, state, 2, 2));
  KZ_CHECK_FAILS(kz_ckpt_read(path, &bad), KZ_ERR_FORMAT, "bad.kzc: state.step: -5");
  b = st;
  b.epoch = 1000000000000000LL;
  KZ_CHECK_OK(kz_ckpt_write(path, &b, meta, params, state, 2, 2));
  KZ_CHECK_FAILS(kz_ckpt_read(path, &bad), KZ_ERR_FORMAT, "bad.kzc: state.epoch");
  b = st;
  b.lr_mult = NAN;
  KZ_CHECK_OK(kz_ckpt_write(path, &b, meta, params, state, 2, 2));
  KZ_CHECK_FAILS(kz_ckpt_read(path, &bad), KZ_ERR_FORMAT, "bad.kzc: state.lr_mult");
  KZ_CHECK_OK(kz_ckpt_write(path, &st, meta, params, state, 2, 1));
  KZ_CHECK_FAILS(kz_ckpt_read(path, &bad), KZ_ERR_FORMAT, "needs 2 parameters, the file holds 1");
  KZ_CHECK(unlink(path) == 0);
  KZ_CHECK_OK(kz_ckpt_prune(cdir, 2, 20)); /* keeps 50, 40 and the best (20) */
  int64_t *steps = NULL;
  int n = 0;
  KZ_CHECK_OK(kz_ckpt_list(cdir, &steps, &n));
  KZ_CHECK(n == 3 && steps && steps[0] == 50 && steps[1] == 40 && steps[2] == 20);
  free(steps);
  kz_ckpt_data d;
  KZ_CHECK_OK(kz_ckpt_load_newest(cdir, &d, 1));
  KZ_CHECK(d.st.step == 50 && d.st.lr_mult == 0.5 && d.st.rng == 0xfedcba9876543210ULL);
  KZ_CHECK(isnan(d.st.best_value) && d.st.log_loss_sum == 1.0 / 3.0);
  KZ_CHECK(d.n == 2 && d.n_state == 2 && d.state[3] == 6 && d.params[1] == 2);
  kz_ckpt_data_free(&d);
  /* Newest truncated, next corrupt: the loader falls back to step 20. */
  kz_ckpt_path(cdir, 50, path, sizeof path);
  KZ_CHECK(truncate(path, 40) == 0);
  KZ_CHECK_FAILS(kz_ckpt_read(path, &d), KZ_ERR_FORMAT, "ckpt-0000000050.kzc");
  kz_ckpt_path(cdir, 40, path, sizeof path);
  flip_byte(path, 60);
  KZ_CHECK_OK(kz_ckpt_load_newest(cdir, &d, 1));
  KZ_CHECK(d.st.step == 20);
  kz_ckpt_data_free(&d);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s/train_unit", dir);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmp);
  if (system(cmd) != 0) return 1;
  kz_device cpu = {KZ_DEVICE_CPU, 0};
  kz_stream *s = NULL;
  KZ_CHECK_OK(kz_stream_create(cpu, &s));
  if (!s) return KZ_TEST_RESULT();
  test_schedules();
  test_clipping(s);
  test_optimizers(s);
  test_model_file(tmp);
  test_checkpoints(tmp);
  kz_stream_destroy(s);
  return KZ_TEST_RESULT();
}
