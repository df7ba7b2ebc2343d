/* Run tracking (engine/track/run.h) and reading runs back (runs_read.h).
 *   test_runs api DIR        create, log, finish, resume with truncation
 *   test_runs fabricate DIR  two finished runs under DIR/runs for runs_cli.sh */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/track/run.h"
#include "engine/track/runs_read.h"
#include "tests/test_util.h"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static kz_cfg *job(const char *yaml) {
  kz_cfg *cfg = NULL;
  KZ_CHECK_OK(kz_cfg_load_string(yaml, "job.yaml", &cfg));
  if (!cfg) return NULL;
  const char *type;
  double lr;
  int64_t hidden[4];
  int n;
  static const int64_t def_hidden[] = {16};
  const kz_cfg_node *model = kz_cfg_section(cfg, "model");
  KZ_CHECK_OK(kz_cfg_get_string(model, "type", NULL, &type));
  KZ_CHECK_OK(kz_cfg_get_int_list(model, "hidden", def_hidden, 1, 4, hidden, &n));
  KZ_CHECK_OK(kz_cfg_get_double(kz_cfg_section(cfg, "train"), "lr", 0.001, 0, 1, &lr));
  KZ_CHECK_OK(kz_cfg_check_unused(cfg));
  return cfg;
}

static const char *const names[] = {"train/loss", "lr", "valid/accuracy"};

static void log_steps(kz_run *r, int from, int to) {
  for (int s = from; s <= to; ++s) {
    double v[3] = {1.0 / s, 0.01, s % 2 ? NAN : 0.5 + 0.1 * s};
    KZ_CHECK_OK(kz_run_log(r, s, 0.5 * s, v));
  }
}

static int test_api(const char *dir) {
  char runs_dir[600], path[800];
  snprintf(runs_dir, sizeof runs_dir, "%s/runs", dir);
  kz_cfg *cfg = job("model:\n  type: mlp\ntrain:\n  lr: 0.01\n");
  if (!cfg) return KZ_TEST_RESULT();
  kz_run_options o = {.runs_dir = runs_dir, .experiment = "exp", .run_id = "r1"};
  kz_run *r = NULL;
  KZ_CHECK_OK(kz_run_open(&o, cfg, &r));
  if (!r) return KZ_TEST_RESULT();
  snprintf(path, sizeof path, "%s/exp/r1", runs_dir);
  KZ_CHECK(!strcmp(kz_run_dir(r), path));
  KZ_CHECK(!strcmp(kz_run_id(r), "r1"));
  char buf[900];
  KZ_CHECK(!strcmp(kz_run_path(r, "model.kzm", buf, sizeof buf), strcat(path, "/model.kzm")));
  KZ_CHECK(exists(kz_run_path(r, "checkpoints", buf, sizeof buf)));

  /* config.yaml is the effective config, defaults included */
  char *effective = NULL;
  KZ_CHECK_OK(kz_cfg_effective_yaml(cfg, &effective));
  const char *text = slurp(kz_run_path(r, "config.yaml", buf, sizeof buf));
  KZ_CHECK(text && effective && !strcmp(text, effective));
  KZ_CHECK(text && strstr(text, "hidden: [16]"));
  free(effective);

  /* the same run id again, bad names, resume of nothing */
  kz_run *again = NULL;
  KZ_CHECK_FAILS(kz_run_open(&o, cfg, &again), KZ_ERR_INVALID_ARG, "exp/r1 already exists");
  kz_run_options bad = {.runs_dir = runs_dir, .experiment = "exp", .run_id = "../x"};
  KZ_CHECK_FAILS(kz_run_open(&bad, cfg, &again), KZ_ERR_INVALID_ARG, "bad run id '../x'");
  bad.run_id = "nothing";
  bad.resume = 1;
  KZ_CHECK_FAILS(kz_run_open(&bad, cfg, &again), KZ_ERR_NOT_FOUND, "cannot resume");
  snprintf(path, sizeof path, "%s/exp/nothing", runs_dir);
  KZ_CHECK(!exists(path));
  KZ_CHECK(again == NULL);

  /* a generated run id: yyyymmdd-hhmmss-xxxx */
  kz_run_options gen = {.runs_dir = runs_dir, .experiment = "gen"};
  KZ_CHECK_OK(kz_run_open(&gen, NULL, &again));
  if (again) {
    const char *id = kz_run_id(again);
    KZ_CHECK(strlen(id) == 20 && id[8] == '-' && id[15] == '-');
    kz_run_close(again);
  }

  /* metrics.csv */
  double v[3] = {1, 2, 3};
  KZ_CHECK_FAILS(kz_run_log(r, 1, 0, v), KZ_ERR_INVALID_ARG, "kz_run_metrics_begin");
  const char *dup[] = {"a", "a"};
  KZ_CHECK_FAILS(kz_run_metrics_begin(r, dup, 2, INT64_MAX), KZ_ERR_INVALID_ARG,
                 "'a' listed twice");
  const char *comma[] = {"a,b"};
  KZ_CHECK_FAILS(kz_run_metrics_begin(r, comma, 1, INT64_MAX), KZ_ERR_INVALID_ARG, "'a,b'");
  KZ_CHECK_OK(kz_run_metrics_begin(r, names, 3, INT64_MAX));
  log_steps(r, 1, 5);
  const char *expect5 = "step,wall_s,train/loss,lr,valid/accuracy\n"
                        "1,0.5,1,0.01,\n"
                        "2,1,0.5,0.01,0.7\n"
                        "3,1.5,0.333333333,0.01,\n"
                        "4,2,0.25,0.01,0.9\n"
                        "5,2.5,0.2,0.01,\n";
  text = slurp(kz_run_path(r, "metrics.csv", buf, sizeof buf));
  KZ_CHECK(text && !strcmp(text, expect5));
  if (text && strcmp(text, expect5)) fprintf(stderr, "metrics.csv:\n%s", text);

  /* params.json */
  KZ_CHECK_FAILS(kz_run_write_params(r, "{\"a\": "), KZ_ERR_INVALID_ARG, "params.json");
  KZ_CHECK_FAILS(kz_run_write_params(r, "[1]"), KZ_ERR_INVALID_ARG, "JSON object");
  KZ_CHECK_OK(kz_run_write_params(r, "{\"model_type\": \"mlp\", \"parameters\": 1234}"));
  json_error_t jerr;
  json_t *j = json_load_file(kz_run_path(r, "params.json", buf, sizeof buf), 0, &jerr);
  KZ_CHECK(j && json_integer_value(json_object_get(j, "parameters")) == 1234);
  json_decref(j);

  /* summary.json */
  kz_run_summary s = {.status = "finished",
                      .model_type = "mlp",
                      .steps = 5,
                      .wall_s = 2.5,
                      .n_final = 2,
                      .final_names = {"valid/accuracy", "valid/loss"},
                      .final_values = {0.9, 0.125},
                      .best_metric = "valid/accuracy",
                      .best_value = 0.9,
                      .best_step = 4,
                      .device = "cpu"};
  KZ_CHECK_OK(kz_run_finish(r, &s));
  KZ_CHECK(!exists(kz_run_path(r, "summary.json.tmp", buf, sizeof buf)));
  j = json_load_file(kz_run_path(r, "summary.json", buf, sizeof buf), 0, &jerr);
  KZ_CHECK(j != NULL);
  if (j) {
    kz_build_info b;
    kz_build_info_get(&b);
    KZ_CHECK(!strcmp(json_string_value(json_object_get(j, "run_id")), "r1"));
    KZ_CHECK(!strcmp(json_string_value(json_object_get(j, "experiment")), "exp"));
    KZ_CHECK(!strcmp(json_string_value(json_object_get(j, "status")), "finished"));
    KZ_CHECK(!strcmp(json_string_value(json_object_get(j, "git_hash")), b.git_hash));
    KZ_CHECK(!strcmp(json_string_value(json_object_get(j, "kaizen_version")), b.version));
    KZ_CHECK(json_integer_value(json_object_get(j, "steps")) == 5);
    KZ_CHECK(json_integer_value(json_object_get(j, "best_step")) == 4);
    KZ_CHECK(json_real_value(json_object_get(json_object_get(j, "final"), "valid/loss")) == 0.125);
    KZ_CHECK(json_integer_value(json_object_get(j, "peak_memory_bytes")) > 1000000);
    const char *started = json_string_value(json_object_get(j, "started"));
    KZ_CHECK(started && strlen(started) == 20 && started[10] == 'T' && started[19] == 'Z');
    json_decref(j);
  }
  kz_run_close(r);
  r = NULL;

  /* reading back */
  kz_run_info info;
  snprintf(path, sizeof path, "%s/exp/r1", runs_dir);
  KZ_CHECK_OK(kz_run_info_read(path, &info));
  KZ_CHECK(info.has_summary && !strcmp(info.experiment, "exp") && !strcmp(info.run_id, "r1"));
  KZ_CHECK(info.steps == 5 && info.n_final == 2 && !strcmp(info.model_type, "mlp"));
  kz_metrics_table t;
  snprintf(path, sizeof path, "%s/exp/r1/metrics.csv", runs_dir);
  KZ_CHECK_OK(kz_metrics_read(path, &t));
  KZ_CHECK(t.n_cols == 5 && t.n_rows == 5);
  int col = kz_metrics_column(&t, "valid/accuracy");
  KZ_CHECK(col == 4);
  if (t.n_rows == 5 && col == 4) {
    KZ_CHECK(isnan(t.values[0 * 5 + 4]) && t.values[1 * 5 + 4] == 0.7);
    KZ_CHECK(t.values[4 * 5 + 0] == 5);
  }
  kz_metrics_free(&t);

  /* resume after step 3: later rows go, new rows follow */
  o.resume = 1;
  KZ_CHECK_OK(kz_run_open(&o, cfg, &r));
  if (r) {
    const char *other[] = {"train/loss", "lr"};
    KZ_CHECK_FAILS(kz_run_metrics_begin(r, other, 2, 3), KZ_ERR_FORMAT, "does not match");
    KZ_CHECK_OK(kz_run_metrics_begin(r, names, 3, 3));
    text = slurp(kz_run_path(r, "metrics.csv", buf, sizeof buf));
    KZ_CHECK(text && !strncmp(text, expect5, strstr(expect5, "4,2,") - expect5) &&
             !strstr(text, "\n4,"));
    log_steps(r, 4, 6);
    text = slurp(kz_run_path(r, "metrics.csv", buf, sizeof buf));
    const char *expect6 = "step,wall_s,train/loss,lr,valid/accuracy\n"
                          "1,0.5,1,0.01,\n"
                          "2,1,0.5,0.01,0.7\n"
                          "3,1.5,0.333333333,0.01,\n"
                          "4,2,0.25,0.01,0.9\n"
                          "5,2.5,0.2,0.01,\n"
                          "6,3,0.166666667,0.01,1.1\n";
    KZ_CHECK(text && !strcmp(text, expect6));
    if (text && strcmp(text, expect6)) fprintf(stderr, "metrics.csv after resume:\n%s", text);
    KZ_CHECK(!exists(kz_run_path(r, "metrics.csv.tmp", buf, sizeof buf)));
    kz_run_close(r);
  }

  /* a row cut short by a crash is dropped on resume */
  snprintf(path, sizeof path, "%s/exp/r1/metrics.csv", runs_dir);
  FILE *f = fopen(path, "ab");
  if (f) {
    fputs("7,3.5,0.1", f);
    fclose(f);
  }
  r = NULL;
  KZ_CHECK_OK(kz_run_open(&o, cfg, &r));
  if (r) {
    KZ_CHECK_OK(kz_run_metrics_begin(r, names, 3, INT64_MAX));
    text = slurp(path);
    KZ_CHECK(text && !strstr(text, "7,3.5") && strstr(text, "\n6,3,"));
    kz_run_close(r);
  }
  /* a malformed metrics.csv is reported with its line */
  f = fopen(path, "ab");
  if (f) {
    fputs("8,4,x,0.01,\n", f);
    fclose(f);
  }
  KZ_CHECK_FAILS(kz_metrics_read(path, &t), KZ_ERR_FORMAT, "metrics.csv:8: column 'train/loss'");
  kz_cfg_free(cfg);
  return KZ_TEST_RESULT();
}

/* Two finished runs that differ in model.hidden and train.lr. */
static int fabricate(const char *dir) {
  char runs_dir[600];
  snprintf(runs_dir, sizeof runs_dir, "%s/runs", dir);
  const char *yaml[2] = {"model:\n  type: mlp\n  hidden: [64, 32]\ntrain:\n  lr: 0.01\n",
                         "model:\n  type: mlp\n  hidden: [128]\ntrain:\n  lr: 0.003\n"};
  const char *ids[2] = {"alpha", "beta"};
  for (int k = 0; k < 2; ++k) {
    kz_cfg *cfg = job(yaml[k]);
    if (!cfg) return 1;
    kz_run_options o = {.runs_dir = runs_dir, .experiment = "letter", .run_id = ids[k]};
    kz_run *r = NULL;
    KZ_CHECK_OK(kz_run_open(&o, cfg, &r));
    kz_cfg_free(cfg);
    if (!r) return 1;
    KZ_CHECK_OK(kz_run_metrics_begin(r, names, 3, INT64_MAX));
    for (int s = 1; s <= 10; ++s) {
      double v[3] = {2.0 / (s + k), 0.01, s % 5 ? NAN : 0.6 + 0.1 * k + 0.01 * s};
      KZ_CHECK_OK(kz_run_log(r, s * 10, 0.25 * s, v));
    }
    kz_run_summary s = {.status = k ? "stopped_early" : "finished",
                        .model_type = "mlp",
                        .steps = 100,
                        .wall_s = 2.5 + k,
                        .n_final = 2,
                        .final_names = {"valid/accuracy", "valid/loss"},
                        .final_values = {0.7 + 0.1 * k, 0.5 - 0.25 * k},
                        .best_metric = "valid/accuracy",
                        .best_value = 0.75 + 0.1 * k,
                        .best_step = 50,
                        .device = "cpu"};
    KZ_CHECK_OK(kz_run_finish(r, &s));
    kz_run_close(r);
  }
  /* a third run that never finished: no summary.json */
  kz_cfg *cfg = job("model:\n  type: linear\n");
  kz_run_options o = {.runs_dir = runs_dir, .experiment = "letter", .run_id = "gamma"};
  kz_run *r = NULL;
  KZ_CHECK_OK(kz_run_open(&o, cfg, &r));
  kz_run_close(r);
  kz_cfg_free(cfg);
  return KZ_TEST_RESULT();
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: test_runs api|fabricate DIR\n");
    return 2;
  }
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", argv[2], argv[2]);
  if (system(cmd) != 0) return 1;
  if (!strcmp(argv[1], "api")) return test_api(argv[2]);
  if (!strcmp(argv[1], "fabricate")) return fabricate(argv[2]);
  return 2;
}
