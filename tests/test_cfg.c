/* Job-config tree (common/config/cfg.h): every getter on a good document,
 * every error message, --set overrides, unknown keys, the effective config
 * round trip and the 1 MiB limit. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config/cfg.h"
#include "tests/test_util.h"

static const char *good_doc = "# a job\n"
                              "model:\n"                /* 2 */
                              "  type: mlp\n"           /* 3 */
                              "  hidden: [64, 32]\n"    /* 4 */
                              "  depth: 3\n"            /* 5 */
                              "data:\n"                 /* 6 */
                              "  train: /data/letter\n" /* 7 */
                              "train:\n"                /* 8 */
                              "  lr: 1e-3\n"            /* 9 */
                              "  epochs: 5\n"           /* 10 */
                              "  shuffle: yes\n"        /* 11 */
                              "  optimizer: sgd\n"      /* 12 */
                              "  note: \"a: b # c\"\n"  /* 13 */
                              "  early_stopping:\n"     /* 14 */
                              "    patience: 2\n"       /* 15 */
                              "  init_from:\n"          /* 16 */
                              "  widths:\n"             /* 17 */
                              "    - 8\n"               /* 18 */
                              "    - 4\n"               /* 19 */
                              "output: {experiment: exp}\n" /* 20 */;

static const char *const optimizers[] = {"adamw", "sgd", NULL};

typedef struct values {
  const char *type, *train_dir, *note, *init_from, *experiment, *run_id;
  int64_t hidden[8], widths[8], single[8], depth, epochs, patience, warmup;
  int n_hidden, n_widths, n_single, shuffle, optimizer, verbose;
  double lr, min_lr;
} values;

/* Reads the keys of good_doc (plus defaults) the way a trainer would. */
static kz_status read_all(kz_cfg *cfg, values *v) {
  const kz_cfg_node *model = kz_cfg_section(cfg, "model");
  const kz_cfg_node *data = kz_cfg_section(cfg, "data");
  const kz_cfg_node *train = kz_cfg_section(cfg, "train");
  const kz_cfg_node *output = kz_cfg_section(cfg, "output");
  const kz_cfg_node *es = kz_cfg_map(train, "early_stopping");
  static const int64_t def_hidden[] = {1};
  kz_status st;
  if ((st = kz_cfg_get_string(model, "type", NULL, &v->type))) return st;
  if ((st = kz_cfg_get_int_list(model, "hidden", def_hidden, 1, 8, v->hidden, &v->n_hidden)))
    return st;
  if ((st = kz_cfg_get_int(model, "depth", 1, 1, 10, &v->depth))) return st;
  if ((st = kz_cfg_get_string(data, "train", NULL, &v->train_dir))) return st;
  if ((st = kz_cfg_get_double(train, "lr", 0.1, 0, 10, &v->lr))) return st;
  if ((st = kz_cfg_get_int(train, "epochs", 10, 1, 1000, &v->epochs))) return st;
  if ((st = kz_cfg_get_bool(train, "shuffle", 0, &v->shuffle))) return st;
  if ((st = kz_cfg_get_enum(train, "optimizer", optimizers, 0, &v->optimizer))) return st;
  if ((st = kz_cfg_get_string(train, "note", "", &v->note))) return st;
  if ((st = kz_cfg_get_int(es, "patience", 0, 0, 100, &v->patience))) return st;
  if ((st = kz_cfg_get_string(train, "init_from", "", &v->init_from))) return st;
  if ((st = kz_cfg_get_int_list(train, "widths", NULL, 0, 8, v->widths, &v->n_widths))) return st;
  if ((st = kz_cfg_get_string(output, "experiment", "default", &v->experiment))) return st;
  /* absent keys: defaults */
  if ((st = kz_cfg_get_int(train, "warmup_steps", 7, 0, 100, &v->warmup))) return st;
  if ((st = kz_cfg_get_double(train, "min_lr_ratio", 0.25, 0, 1, &v->min_lr))) return st;
  if ((st = kz_cfg_get_bool(train, "verbose", 1, &v->verbose))) return st;
  if ((st = kz_cfg_get_string(output, "run_id", "", &v->run_id))) return st;
  static const int64_t def_single[] = {5, 6};
  return kz_cfg_get_int_list(train, "single", def_single, 2, 8, v->single, &v->n_single);
}

static void check_values(const values *v) {
  KZ_CHECK(!strcmp(v->type, "mlp"));
  KZ_CHECK(v->n_hidden == 2 && v->hidden[0] == 64 && v->hidden[1] == 32);
  KZ_CHECK(v->depth == 3);
  KZ_CHECK(!strcmp(v->train_dir, "/data/letter"));
  KZ_CHECK(v->lr == 1e-3);
  KZ_CHECK(v->epochs == 5);
  KZ_CHECK(v->shuffle == 1);
  KZ_CHECK(v->optimizer == 1);
  KZ_CHECK(!strcmp(v->note, "a: b # c"));
  KZ_CHECK(v->patience == 2);
  KZ_CHECK(!strcmp(v->init_from, ""));
  KZ_CHECK(v->n_widths == 2 && v->widths[0] == 8 && v->widths[1] == 4);
  KZ_CHECK(!strcmp(v->experiment, "exp"));
  KZ_CHECK(v->warmup == 7);
  KZ_CHECK(v->min_lr == 0.25);
  KZ_CHECK(v->verbose == 1);
  KZ_CHECK(!strcmp(v->run_id, ""));
  KZ_CHECK(v->n_single == 2 && v->single[0] == 5 && v->single[1] == 6);
}

static void test_good(void) {
  kz_cfg *cfg = NULL;
  KZ_CHECK_OK(kz_cfg_load_string(good_doc, "job.yaml", &cfg));
  if (!cfg) return;
  KZ_CHECK(!strcmp(kz_cfg_name(cfg), "job.yaml"));
  values v;
  memset(&v, 0, sizeof v);
  KZ_CHECK_OK(read_all(cfg, &v));
  check_values(&v);
  const kz_cfg_node *train = kz_cfg_section(cfg, "train");
  KZ_CHECK(kz_cfg_line(train) == 8);
  KZ_CHECK(kz_cfg_line(kz_cfg_map(train, "early_stopping")) == 14);
  KZ_CHECK(kz_cfg_has(train, "lr"));
  KZ_CHECK(!kz_cfg_has(train, "warmup_steps")); /* read as a default, still absent */
  KZ_CHECK(!kz_cfg_has(train, "nothing"));
  KZ_CHECK_OK(kz_cfg_check_unused(cfg));

  /* Effective config: everything read, defaults included, in document order
   * then insertion order; it loads back to the same values. */
  char *text = NULL;
  KZ_CHECK_OK(kz_cfg_effective_yaml(cfg, &text));
  if (text) {
    KZ_CHECK(strstr(text, "  warmup_steps: 7\n") != NULL);
    KZ_CHECK(strstr(text, "  lr: 0.001\n") != NULL);
    KZ_CHECK(strstr(text, "  shuffle: true\n") != NULL);
    KZ_CHECK(strstr(text, "  hidden: [64, 32]\n") != NULL);
    KZ_CHECK(strstr(text, "  run_id: \"\"\n") != NULL);
    const char *lr = strstr(text, "lr:"), *epochs = strstr(text, "epochs:");
    const char *warm = strstr(text, "warmup_steps:");
    KZ_CHECK(lr && epochs && warm && lr < epochs && epochs < warm);
    kz_cfg *back = NULL;
    KZ_CHECK_OK(kz_cfg_load_string(text, "effective.yaml", &back));
    if (back) {
      values w;
      memset(&w, 0, sizeof w);
      KZ_CHECK_OK(read_all(back, &w));
      check_values(&w);
      KZ_CHECK_OK(kz_cfg_check_unused(back));
      char *again = NULL;
      KZ_CHECK_OK(kz_cfg_effective_yaml(back, &again));
      KZ_CHECK(again && !strcmp(again, text)); /* a fixed point */
      free(again);
      kz_cfg_free(back);
    }
    free(text);
  }
  kz_cfg_free(cfg);
}

/* Loads doc (expected to succeed) and returns the cfg. */
static kz_cfg *load(const char *doc) {
  kz_cfg *cfg = NULL;
  kz_status st = kz_cfg_load_string(doc, "job.yaml", &cfg);
  if (st != KZ_OK) {
    fprintf(stderr, "load failed: %s\n", kz_last_error());
    ++kz_test_failures;
  }
  return cfg;
}

static void test_getter_errors(void) {
  kz_cfg *cfg = load("model:\n  type: mlp\n  hidden: [64, x]\n  big: [1, 2, 3]\n"
                     "train:\n  lr: fast\n  epochs: 2.5\n  shuffle: maybe\n  optimizer: adam\n"
                     "  nested:\n    a: 1\n  dropout: nan\n  decay: .inf\n  huge: 1e999\n"
                     "  quoted: \"0.5\"\n  steps: 100\n  hexd: 0x10\n");
  if (!cfg) return;
  const kz_cfg_node *train = kz_cfg_section(cfg, "train");
  const kz_cfg_node *model = kz_cfg_section(cfg, "model");
  double d;
  int64_t i, list[4];
  int b, n;
  const char *s;
  KZ_CHECK_FAILS(kz_cfg_get_double(train, "lr", 0.1, 0, 1, &d), KZ_ERR_FORMAT,
                 "job.yaml:6: train.lr: expected a number, got 'fast'");
  KZ_CHECK_FAILS(kz_cfg_get_int(train, "epochs", 1, 0, 9, &i), KZ_ERR_FORMAT,
                 "job.yaml:7: train.epochs: expected an integer, got the fraction '2.5'");
  KZ_CHECK_FAILS(kz_cfg_get_bool(train, "shuffle", 0, &b), KZ_ERR_FORMAT,
                 "job.yaml:8: train.shuffle: expected true or false");
  int e;
  KZ_CHECK_FAILS(kz_cfg_get_enum(train, "optimizer", optimizers, 0, &e), KZ_ERR_FORMAT,
                 "job.yaml:9: train.optimizer: expected one of adamw, sgd; got 'adam'");
  KZ_CHECK_FAILS(kz_cfg_get_double(train, "nested", 0.1, 0, 1, &d), KZ_ERR_FORMAT,
                 "job.yaml:10: train.nested: expected a number, got a map");
  KZ_CHECK_FAILS(kz_cfg_get_string(train, "nested", "", &s), KZ_ERR_FORMAT,
                 "job.yaml:10: train.nested: expected a string, got a map");
  KZ_CHECK_FAILS(kz_cfg_get_double(train, "dropout", 0.1, 0, 1, &d), KZ_ERR_FORMAT,
                 "job.yaml:12: train.dropout: expected a number, got 'nan'");
  KZ_CHECK_FAILS(kz_cfg_get_double(train, "decay", 0.1, 0, 1, &d), KZ_ERR_FORMAT,
                 "job.yaml:13: train.decay: expected a number");
  KZ_CHECK_FAILS(kz_cfg_get_double(train, "huge", 0.1, 0, 1, &d), KZ_ERR_FORMAT,
                 "job.yaml:14: train.huge: expected a number");
  KZ_CHECK_FAILS(kz_cfg_get_double(train, "quoted", 0.1, 0, 1, &d), KZ_ERR_FORMAT,
                 "job.yaml:15: train.quoted: expected a number, got '0.5'");
  KZ_CHECK_FAILS(kz_cfg_get_int(train, "steps", 0, 0, 10, &i), KZ_ERR_FORMAT,
                 "job.yaml:16: train.steps: 100 is out of range [0, 10]");
  KZ_CHECK_FAILS(kz_cfg_get_int(train, "hexd", 0, 0, 100, &i), KZ_ERR_FORMAT,
                 "job.yaml:17: train.hexd: expected an integer, got '0x10'");
  KZ_CHECK_FAILS(kz_cfg_get_int_list(model, "hidden", NULL, 0, 4, list, &n), KZ_ERR_FORMAT,
                 "job.yaml:3: model.hidden[1]: expected an integer, got 'x'");
  KZ_CHECK_FAILS(kz_cfg_get_int_list(model, "big", NULL, 0, 2, list, &n), KZ_ERR_FORMAT,
                 "job.yaml:4: model.big: has 3 values; at most 2");
  KZ_CHECK_FAILS(kz_cfg_get_string(model, "name", NULL, &s), KZ_ERR_NOT_FOUND,
                 "job.yaml: model.name: required key missing");
  KZ_CHECK_FAILS(kz_cfg_get_enum(model, "kind", optimizers, -1, &e), KZ_ERR_NOT_FOUND,
                 "job.yaml: model.kind: required key missing");
  const kz_cfg_node *data = kz_cfg_section(cfg, "data");
  KZ_CHECK_FAILS(kz_cfg_get_string(data, "train", NULL, &s), KZ_ERR_NOT_FOUND,
                 "job.yaml: data.train: required key missing");
  /* A scalar read as a one-element list. */
  KZ_CHECK_OK(kz_cfg_get_int_list(train, "steps", NULL, 0, 4, list, &n));
  KZ_CHECK(n == 1 && list[0] == 100);
  kz_cfg_free(cfg);

  /* A section that is not a map is reported by the first getter on it. */
  cfg = load("model: 5\n");
  if (cfg) {
    model = kz_cfg_section(cfg, "model");
    KZ_CHECK_FAILS(kz_cfg_get_string(model, "type", NULL, &s), KZ_ERR_FORMAT,
                   "job.yaml:1: model: expected a map of keys, got a scalar");
    kz_cfg_free(cfg);
  }
  /* An empty section reads as an empty map. */
  cfg = load("train:\n");
  if (cfg) {
    KZ_CHECK_OK(kz_cfg_get_int(kz_cfg_section(cfg, "train"), "epochs", 4, 1, 9, &i));
    KZ_CHECK(i == 4);
    KZ_CHECK_OK(kz_cfg_check_unused(cfg));
    kz_cfg_free(cfg);
  }
}

static void expect_load_fails(const char *doc, const char *needle) {
  kz_cfg *cfg = NULL;
  kz_status st = kz_cfg_load_string(doc, "job.yaml", &cfg);
  if (st == KZ_OK || !strstr(kz_last_error(), needle)) {
    fprintf(stderr, "load of <<%s>>: expected an error containing \"%s\", got %s: \"%s\"\n", doc,
            needle, kz_status_name(st), kz_last_error());
    ++kz_test_failures;
  }
  KZ_CHECK(cfg == NULL);
  kz_cfg_free(cfg);
}

static void test_document_errors(void) {
  expect_load_fails("train:\n  lr: 1\n  epochs: 2\n  lr: 3\n",
                    "job.yaml:4: duplicate key 'train.lr' (first at line 2)");
  expect_load_fails("base: &b\n  lr: 1\ntrain: *b\n", "job.yaml:1: base: anchors (&b)");
  expect_load_fails("train:\n  lr: *x\n", "job.yaml:2: train.lr: aliases (*x)");
  expect_load_fails("train:\n  lr: !!float 1\n", "job.yaml:2: train.lr: tags");
  expect_load_fails("train: !custom\n  lr: 1\n", "job.yaml:1: train: tags");
  expect_load_fails("a: 1\n---\nb: 2\n", "job.yaml:2: a job config is one YAML document");
  expect_load_fails("- a\n- b\n", "job.yaml:1: the root of a job config must be a map");
  expect_load_fails("just text\n", "job.yaml:1: the root of a job config must be a map");
  expect_load_fails("", "job.yaml: empty document");
  expect_load_fails("train:\n  lr: [1, 2\n", "job.yaml:");
  expect_load_fails("train:\n  ? [a, b]\n  : 1\n", "job.yaml:2: train: keys must be plain names");
  expect_load_fails("train:\n  a.b: 1\n", "job.yaml:2: bad key 'train.a.b'");
}

static void test_set(void) {
  kz_cfg *cfg = load("model:\n  type: mlp\n  hidden: [8]\ntrain:\n  lr: 0.1\n  name: x\n");
  if (!cfg) return;
  KZ_CHECK_OK(kz_cfg_set(cfg, "train.lr=0.01"));
  KZ_CHECK_OK(kz_cfg_set(cfg, "train.name=hello world"));
  KZ_CHECK_OK(kz_cfg_set(cfg, "model.hidden=[64,32]"));
  KZ_CHECK_OK(kz_cfg_set(cfg, "train.early_stopping.patience=4"));
  KZ_CHECK_OK(kz_cfg_set(cfg, "output.run_id=\"007\""));
  KZ_CHECK_FAILS(kz_cfg_set(cfg, "train.lr"), KZ_ERR_INVALID_ARG, "--set train.lr: expected");
  KZ_CHECK_FAILS(kz_cfg_set(cfg, "=5"), KZ_ERR_INVALID_ARG, "--set =5: expected");
  KZ_CHECK_FAILS(kz_cfg_set(cfg, "train..lr=5"), KZ_ERR_INVALID_ARG, "--set train..lr=5: bad key");
  KZ_CHECK_FAILS(kz_cfg_set(cfg, "train.lr.x=5"), KZ_ERR_INVALID_ARG,
                 "--set train.lr.x=5: train.lr is a scalar, not a map");
  KZ_CHECK_FAILS(kz_cfg_set(cfg, "train.x={a: 1}"), KZ_ERR_FORMAT,
                 "--set train.x={a: 1}: the value must be a scalar or a flow list");
  KZ_CHECK_FAILS(kz_cfg_set(cfg, "train.x=[1, 2"), KZ_ERR_FORMAT, "--set train.x=[1, 2: YAML");
  const kz_cfg_node *train = kz_cfg_section(cfg, "train");
  const kz_cfg_node *model = kz_cfg_section(cfg, "model");
  double lr = 0;
  KZ_CHECK_OK(kz_cfg_get_double(train, "lr", 1, 0, 1, &lr));
  KZ_CHECK(lr == 0.01);
  const char *name = NULL, *type = NULL, *run_id = NULL;
  KZ_CHECK_OK(kz_cfg_get_string(train, "name", "", &name));
  KZ_CHECK(name && !strcmp(name, "hello world"));
  KZ_CHECK_OK(kz_cfg_get_string(model, "type", NULL, &type));
  int64_t hidden[4];
  int n = 0;
  KZ_CHECK_OK(kz_cfg_get_int_list(model, "hidden", NULL, 0, 4, hidden, &n));
  KZ_CHECK(n == 2 && hidden[0] == 64 && hidden[1] == 32);
  int64_t patience = 0;
  KZ_CHECK_OK(kz_cfg_get_int(kz_cfg_map(train, "early_stopping"), "patience", 0, 0, 9, &patience));
  KZ_CHECK(patience == 4);
  KZ_CHECK_OK(kz_cfg_get_string(kz_cfg_section(cfg, "output"), "run_id", "", &run_id));
  KZ_CHECK(run_id && !strcmp(run_id, "007"));
  KZ_CHECK_OK(kz_cfg_check_unused(cfg));
  /* The effective config keeps the tricky string a string. */
  char *text = NULL;
  KZ_CHECK_OK(kz_cfg_effective_yaml(cfg, &text));
  KZ_CHECK(text && strstr(text, "run_id: \"007\"") && strstr(text, "name: \"hello world\""));
  free(text);

  /* Errors in --set values name the assignment. */
  KZ_CHECK_OK(kz_cfg_set(cfg, "train.lr=abc"));
  KZ_CHECK_FAILS(kz_cfg_get_double(train, "lr", 1, 0, 1, &lr), KZ_ERR_FORMAT,
                 "--set train.lr=abc: train.lr: expected a number, got 'abc'");
  KZ_CHECK_OK(kz_cfg_set(cfg, "train.lrr=1"));
  KZ_CHECK_FAILS(kz_cfg_check_unused(cfg), KZ_ERR_INVALID_ARG,
                 "--set train.lrr=1: unknown key 'train.lrr'");
  kz_cfg_free(cfg);
}

static void test_unknown(void) {
  kz_cfg *cfg = load("model:\n  type: mlp\ntrain:\n  lr: 0.1\n  epochs: 3\n"
                     "  lrr: 0.2\nextra:\n  x: 1\n");
  if (!cfg) return;
  const kz_cfg_node *train = kz_cfg_section(cfg, "train");
  const char *s;
  double d;
  int64_t i;
  KZ_CHECK_OK(kz_cfg_get_string(kz_cfg_section(cfg, "model"), "type", NULL, &s));
  KZ_CHECK_OK(kz_cfg_get_double(train, "lr", 1, 0, 1, &d));
  KZ_CHECK_OK(kz_cfg_get_int(train, "epochs", 1, 0, 9, &i));
  KZ_CHECK_FAILS(kz_cfg_check_unused(cfg), KZ_ERR_INVALID_ARG,
                 "job.yaml:6: unknown key 'train.lrr'");
  KZ_CHECK_OK(kz_cfg_get_double(train, "lrr", 1, 0, 1, &d));
  KZ_CHECK_FAILS(kz_cfg_check_unused(cfg), KZ_ERR_INVALID_ARG, "job.yaml:7: unknown key 'extra'");
  /* Unread keys are not in the effective config. */
  char *text = NULL;
  KZ_CHECK_OK(kz_cfg_effective_yaml(cfg, &text));
  KZ_CHECK(text && !strstr(text, "extra") && strstr(text, "lrr: 0.2"));
  free(text);
  kz_cfg_free(cfg);
}

static void test_strings_round_trip(void) {
  static const char *const tricky[] = {
      "",       "true", "no",    "123",      "1.5",         "null",      "~",
      "a: b",   "# c",  "-x",    "quote\"d", "back\\slash", "tab\there", "line\nbreak",
      "cuda:0", "ünï",  " lead", ".nan",     NULL};
  kz_cfg *cfg = load("s:\n  k: v\n");
  if (!cfg) return;
  const kz_cfg_node *s = kz_cfg_section(cfg, "s");
  const char *got;
  KZ_CHECK_OK(kz_cfg_get_string(s, "k", "", &got));
  char key[16];
  for (int i = 0; tricky[i]; ++i) {
    snprintf(key, sizeof key, "t%d", i);
    KZ_CHECK_OK(kz_cfg_get_string(s, key, tricky[i], &got));
  }
  char *text = NULL;
  KZ_CHECK_OK(kz_cfg_effective_yaml(cfg, &text));
  kz_cfg *back = text ? load(text) : NULL;
  if (back) {
    s = kz_cfg_section(back, "s");
    for (int i = 0; tricky[i]; ++i) {
      snprintf(key, sizeof key, "t%d", i);
      got = NULL;
      KZ_CHECK_OK(kz_cfg_get_string(s, key, "<default>", &got));
      if (!got || strcmp(got, tricky[i])) {
        fprintf(stderr, "round trip of '%s' gave '%s'\n", tricky[i], got ? got : "(null)");
        ++kz_test_failures;
      }
      KZ_CHECK(kz_cfg_has(s, key));
    }
    kz_cfg_free(back);
  }
  /* Doubles come back bit for bit. */
  kz_cfg_free(cfg);
  cfg = load("d:\n  a: 0.1\n  b: 3.141592653589793\n  c: -2.5e-300\n  e: 7\n");
  if (cfg) {
    double in[4], out[4];
    const char *keys[] = {"a", "b", "c", "e"};
    for (int i = 0; i < 4; ++i)
      KZ_CHECK_OK(kz_cfg_get_double(kz_cfg_section(cfg, "d"), keys[i], 0, -1, 10, &in[i]));
    free(text);
    text = NULL;
    KZ_CHECK_OK(kz_cfg_effective_yaml(cfg, &text));
    back = text ? load(text) : NULL;
    for (int i = 0; back && i < 4; ++i) {
      KZ_CHECK_OK(kz_cfg_get_double(kz_cfg_section(back, "d"), keys[i], 99, -1, 10, &out[i]));
      KZ_CHECK(in[i] == out[i]);
    }
    kz_cfg_free(back);
    kz_cfg_free(cfg);
  }
  free(text);
}

static void test_files_and_limit(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/big.yaml", dir);
  size_t size = ((size_t)1 << 20) + 10;
  char *big = malloc(size + 1);
  if (!big) return;
  memset(big, '#', size);
  memcpy(big, "a: 1\n", 5);
  big[size - 1] = '\n';
  big[size] = '\0';
  kz_cfg *cfg = NULL;
  KZ_CHECK_FAILS(kz_cfg_load_string(big, "big.yaml", &cfg), KZ_ERR_FORMAT, "big.yaml: ");
  KZ_CHECK(strstr(kz_last_error(), "1 MiB") != NULL);
  FILE *f = fopen(path, "wb");
  KZ_CHECK(f != NULL);
  if (f) {
    fwrite(big, 1, size, f);
    fclose(f);
    KZ_CHECK_FAILS(kz_cfg_load_file(path, &cfg), KZ_ERR_FORMAT, "1 MiB");
    KZ_CHECK(strstr(kz_last_error(), "big.yaml") != NULL);
  }
  /* Just under the limit loads. */
  big[((size_t)1 << 20) - 1] = '\n';
  big[(size_t)1 << 20] = '\0';
  KZ_CHECK_OK(kz_cfg_load_string(big, "big.yaml", &cfg));
  kz_cfg_free(cfg);
  cfg = NULL;
  free(big);
  remove(path);

  snprintf(path, sizeof path, "%s/job.yaml", dir);
  f = fopen(path, "wb");
  if (f) {
    fputs(good_doc, f);
    fclose(f);
  }
  KZ_CHECK_OK(kz_cfg_load_file(path, &cfg));
  if (cfg) {
    values v;
    memset(&v, 0, sizeof v);
    KZ_CHECK_OK(read_all(cfg, &v));
    check_values(&v);
    char out[600];
    snprintf(out, sizeof out, "%s/effective.yaml", dir);
    KZ_CHECK_OK(kz_cfg_write_effective(cfg, out));
    char tmp[620];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    KZ_CHECK(access(tmp, F_OK) != 0);
    kz_cfg *back = NULL;
    KZ_CHECK_OK(kz_cfg_load_file(out, &back));
    if (back) {
      memset(&v, 0, sizeof v);
      KZ_CHECK_OK(read_all(back, &v));
      check_values(&v);
      kz_cfg_free(back);
    }
    remove(out);
    kz_cfg_free(cfg);
  }
  /* File errors carry the path and line. */
  f = fopen(path, "wb");
  if (f) {
    fputs("train:\n  lr: 1\n  lr: 2\n", f);
    fclose(f);
  }
  char needle[600];
  snprintf(needle, sizeof needle, "%s:3: duplicate key", path);
  KZ_CHECK_FAILS(kz_cfg_load_file(path, &cfg), KZ_ERR_FORMAT, needle);
  remove(path);
  KZ_CHECK_FAILS(kz_cfg_load_file(path, &cfg), KZ_ERR_IO, "job.yaml: cannot open");
}

/* String lists: a list, a scalar as a one-element list, the default, the
 * cap, a non-scalar item; the effective YAML reads back as the same list. */
static void test_string_list(void) {
  kz_cfg *cfg;
  KZ_CHECK_OK(kz_cfg_load_string("m:\n  a: [auc, \"x, y\", \"007\"]\n  b: rmse\n  c: [1, [2]]\n",
                                 "job.yaml", &cfg));
  if (!cfg) return;
  const kz_cfg_node *m = kz_cfg_section(cfg, "m");
  const char *out[4];
  int n = 0;
  KZ_CHECK_OK(kz_cfg_get_string_list(m, "a", NULL, 0, 4, out, &n));
  KZ_CHECK(n == 3 && !strcmp(out[0], "auc") && !strcmp(out[1], "x, y") && !strcmp(out[2], "007"));
  KZ_CHECK_OK(kz_cfg_get_string_list(m, "b", NULL, 0, 4, out, &n));
  KZ_CHECK(n == 1 && !strcmp(out[0], "rmse"));
  static const char *const def[] = {"p", "q r"};
  KZ_CHECK_OK(kz_cfg_get_string_list(m, "d", def, 2, 4, out, &n));
  KZ_CHECK(n == 2 && !strcmp(out[1], "q r"));
  KZ_CHECK_FAILS(kz_cfg_get_string_list(m, "a", NULL, 0, 2, out, &n), KZ_ERR_FORMAT,
                 "job.yaml:2: m.a: has 3 values; at most 2");
  KZ_CHECK_FAILS(kz_cfg_get_string_list(m, "c", NULL, 0, 4, out, &n), KZ_ERR_FORMAT, "m.c");
  char *yaml = NULL;
  KZ_CHECK_OK(kz_cfg_effective_yaml(cfg, &yaml));
  kz_cfg_free(cfg);
  if (!yaml) return;
  KZ_CHECK_OK(kz_cfg_load_string(yaml, "effective", &cfg));
  free(yaml);
  if (!cfg) return;
  m = kz_cfg_section(cfg, "m");
  KZ_CHECK_OK(kz_cfg_get_string_list(m, "a", NULL, 0, 4, out, &n));
  KZ_CHECK(n == 3 && !strcmp(out[1], "x, y") && !strcmp(out[2], "007"));
  KZ_CHECK_OK(kz_cfg_get_string_list(m, "d", NULL, 0, 4, out, &n));
  KZ_CHECK(n == 2 && !strcmp(out[0], "p") && !strcmp(out[1], "q r"));
  kz_cfg_free(cfg);
}

int main(void) {
  char dir[] = "/tmp/kz_test_cfg_XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_good();
  test_getter_errors();
  test_document_errors();
  test_set();
  test_unknown();
  test_strings_round_trip();
  test_string_list();
  test_files_and_limit(dir);
  rmdir(dir);
  return KZ_TEST_RESULT();
}
