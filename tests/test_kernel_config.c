/* Kernel-config table and YAML loader: defaults, validation, round trip,
 * every loader error (status, file:line, key path, table untouched), the
 * KZ_KERNEL_CONFIG path, reset, and the shipped example file. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/config/kernel_config.h"
#include "tests/test_util.h"

typedef int kz_table[KZ_TARGET_COUNT][KZ_KNOB_COUNT];

static void snapshot(kz_table out) {
  for (int t = 0; t < KZ_TARGET_COUNT; ++t)
    memcpy(out[t], kz_kernel_config_row((kz_target)t), sizeof out[t]);
}

static bool tables_equal(kz_table a, kz_table b) {
  return memcmp(a, b, sizeof(kz_table)) == 0;
}

static void defaults_table(kz_table out) {
  for (int t = 0; t < KZ_TARGET_COUNT; ++t)
    for (int k = 0; k < KZ_KNOB_COUNT; ++k) out[t][k] = kz_knob_def_get((kz_knob)k)->defaults[t];
}

static char temp_dir[256];

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    exit(1);
  }
  fputs(text, f);
  fclose(f);
}

static void temp_path(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/%s", temp_dir, name);
}

/* Runs before anything else touches the table: the first read must already
 * see the built-in defaults, not zeros. */
static void test_first_read_sees_defaults(void) {
  KZ_CHECK(kz_kernel_config_row(KZ_TARGET_SM90)[KZ_KNOB_CUDA_LAYERNORM_BLOCK] == 256);
  KZ_CHECK(kz_kernel_config_row(KZ_TARGET_SM80)[KZ_KNOB_CUDA_LAYERNORM_BLOCK] == 128);
  KZ_CHECK(kz_kernel_config_row(KZ_TARGET_CPU)[KZ_KNOB_CPU_ELEMENTWISE_GRAIN] == 16384);
  KZ_CHECK(!strcmp(kz_kernel_config_source(), "built-in"));
}

static void test_table(void) {
  for (int k = 0; k < KZ_KNOB_COUNT; ++k) {
    const kz_knob_def *def = kz_knob_def_get((kz_knob)k);
    KZ_CHECK(def != NULL);
    if (!def) continue;
    KZ_CHECK(def->id == (kz_knob)k);
    KZ_CHECK(def->op && def->name && def->doc && def->doc[0]);
    KZ_CHECK(def->multiple_of >= 1);
    if (def->kind == KZ_KNOB_CHOICE)
      KZ_CHECK(def->choices[0] && def->choices[1]);
    else
      KZ_CHECK(def->min <= def->max);
    /* Every cell is legal, including the ones no kernel reads. */
    for (int t = 0; t < KZ_TARGET_COUNT; ++t) {
      KZ_CHECK_OK(kz_knob_validate(def, def->defaults[t]));
      KZ_CHECK(kz_kernel_config_value((kz_target)t, (kz_knob)k) == def->defaults[t]);
    }
    /* op.name is unique within a kind of target. */
    for (int j = 0; j < k; ++j) {
      const kz_knob_def *prev = kz_knob_def_get((kz_knob)j);
      KZ_CHECK(!(prev->cuda == def->cuda && !strcmp(prev->op, def->op) &&
                 !strcmp(prev->name, def->name)));
    }
  }
  KZ_CHECK(kz_knob_def_get(KZ_KNOB_COUNT) == NULL);
  KZ_CHECK(kz_knob_def_get((kz_knob)-1) == NULL);
  KZ_CHECK(!kz_knob_def_get(KZ_KNOB_CPU_MATMUL_IMPL)->cuda);
  KZ_CHECK(kz_knob_def_get(KZ_KNOB_CUDA_ADAMW_BLOCK)->cuda);
  KZ_CHECK(kz_knob_def_get(KZ_KNOB_CUDA_MATMUL_IMPL)->defaults[KZ_TARGET_SM90] == 0);
  KZ_CHECK(!strcmp(kz_knob_def_get(KZ_KNOB_CUDA_MATMUL_IMPL)->choices[0], "cublas"));
  KZ_CHECK(!strcmp(kz_knob_def_get(KZ_KNOB_CPU_MATMUL_IMPL)->choices[0], "blas"));
}

static void test_targets(void) {
  kz_target t = KZ_TARGET_CPU;
  KZ_CHECK_OK(kz_target_parse("sm_90", &t));
  KZ_CHECK(t == KZ_TARGET_SM90);
  KZ_CHECK_OK(kz_target_parse("sm_80", &t));
  KZ_CHECK(t == KZ_TARGET_SM80);
  KZ_CHECK_OK(kz_target_parse("cpu", &t));
  KZ_CHECK(t == KZ_TARGET_CPU);
  KZ_CHECK_FAILS(kz_target_parse("sm_70", &t), KZ_ERR_INVALID_ARG, "sm_70");
  KZ_CHECK_FAILS(kz_target_parse("CPU", &t), KZ_ERR_INVALID_ARG, "CPU");
  for (int i = 0; i < KZ_TARGET_COUNT; ++i) {
    KZ_CHECK_OK(kz_target_parse(kz_target_name((kz_target)i), &t));
    KZ_CHECK(t == (kz_target)i);
  }
  KZ_CHECK(!strcmp(kz_target_name(KZ_TARGET_COUNT), "unknown"));
  KZ_CHECK(kz_target_for_cuda(8, 0) == KZ_TARGET_SM80);
  KZ_CHECK(kz_target_for_cuda(8, 9) == KZ_TARGET_SM80);
  KZ_CHECK(kz_target_for_cuda(7, 5) == KZ_TARGET_SM80);
  KZ_CHECK(kz_target_for_cuda(9, 0) == KZ_TARGET_SM90);
  KZ_CHECK(kz_target_for_cuda(10, 0) == KZ_TARGET_SM90);
}

static void test_set_and_validate(void) {
  kz_kernel_config_reset();
  const kz_knob_def *tile = kz_knob_def_get(KZ_KNOB_CPU_MATMUL_TILE);
  KZ_CHECK_OK(kz_knob_validate(tile, 128));
  KZ_CHECK_FAILS(kz_knob_validate(tile, 12), KZ_ERR_INVALID_ARG, "matmul.tile: 12 is out of range");
  KZ_CHECK_FAILS(kz_knob_validate(tile, 260), KZ_ERR_INVALID_ARG, "out of range");
  KZ_CHECK_FAILS(kz_knob_validate(tile, 20), KZ_ERR_INVALID_ARG, "not a multiple of 8");
  const kz_knob_def *cuda_tile = kz_knob_def_get(KZ_KNOB_CUDA_MATMUL_TILE);
  KZ_CHECK_OK(kz_knob_validate(cuda_tile, 16));
  KZ_CHECK_OK(kz_knob_validate(cuda_tile, 32));
  KZ_CHECK_FAILS(kz_knob_validate(cuda_tile, 24), KZ_ERR_INVALID_ARG, "not a power of two");
  KZ_CHECK_FAILS(kz_knob_validate(cuda_tile, 64), KZ_ERR_INVALID_ARG, "out of range");
  const kz_knob_def *impl = kz_knob_def_get(KZ_KNOB_CUDA_MATMUL_IMPL);
  KZ_CHECK_OK(kz_knob_validate(impl, 1));
  KZ_CHECK_FAILS(kz_knob_validate(impl, 2), KZ_ERR_INVALID_ARG, "matmul.impl");
  KZ_CHECK_FAILS(kz_knob_validate(impl, -1), KZ_ERR_INVALID_ARG, "matmul.impl");
  KZ_CHECK_FAILS(kz_knob_validate(NULL, 1), KZ_ERR_INVALID_ARG, "NULL");

  kz_table before, after;
  snapshot(before);
  KZ_CHECK_OK(kz_kernel_config_set(KZ_TARGET_SM80, KZ_KNOB_CUDA_SOFTMAX_BLOCK, 512));
  snapshot(after);
  before[KZ_TARGET_SM80][KZ_KNOB_CUDA_SOFTMAX_BLOCK] = 512;
  KZ_CHECK(tables_equal(before, after));

  KZ_CHECK_FAILS(kz_kernel_config_set(KZ_TARGET_SM90, KZ_KNOB_CUDA_LAYERNORM_BLOCK, 100),
                 KZ_ERR_INVALID_ARG, "sm_90.layernorm.block: 100 is not a multiple of 32");
  KZ_CHECK_FAILS(kz_kernel_config_set(KZ_TARGET_CPU, KZ_KNOB_CUDA_LAYERNORM_BLOCK, 128),
                 KZ_ERR_INVALID_ARG, "CUDA knob");
  KZ_CHECK_FAILS(kz_kernel_config_set(KZ_TARGET_SM90, KZ_KNOB_CPU_ROWWISE_GRAIN, 4),
                 KZ_ERR_INVALID_ARG, "CPU knob");
  KZ_CHECK_FAILS(kz_kernel_config_set(KZ_TARGET_SM90, KZ_KNOB_COUNT, 4), KZ_ERR_INVALID_ARG,
                 "unknown knob");
  KZ_CHECK_FAILS(kz_kernel_config_set(KZ_TARGET_COUNT, KZ_KNOB_CPU_ROWWISE_GRAIN, 4),
                 KZ_ERR_INVALID_ARG, "unknown target");
  snapshot(before);
  KZ_CHECK(tables_equal(before, after));

  kz_kernel_config_reset();
  kz_table defaults;
  defaults_table(defaults);
  snapshot(after);
  KZ_CHECK(tables_equal(after, defaults));
  KZ_CHECK(!strcmp(kz_kernel_config_source(), "built-in"));
}

static void test_valid_file(void) {
  kz_kernel_config_reset();
  char path[512];
  temp_path(path, sizeof path, "good.yaml");
  write_file(path, "# tuned on an A100\n"
                   "cpu:\n"
                   "  matmul: {impl: tiled, tile: 128}\n"
                   "  elementwise: {grain: 32768}\n"
                   "sm_90:\n"
                   "  layernorm:\n"
                   "    block: 128   # fewer threads, more rows in flight\n"
                   "  matmul: {impl: tiled, tile: 16}\n"
                   "sm_80:\n"
                   "  elementwise:\n"
                   "    vec: +2\n");
  kz_table expected;
  defaults_table(expected);
  expected[KZ_TARGET_CPU][KZ_KNOB_CPU_MATMUL_IMPL] = 1;
  expected[KZ_TARGET_CPU][KZ_KNOB_CPU_MATMUL_TILE] = 128;
  expected[KZ_TARGET_CPU][KZ_KNOB_CPU_ELEMENTWISE_GRAIN] = 32768;
  expected[KZ_TARGET_SM90][KZ_KNOB_CUDA_LAYERNORM_BLOCK] = 128;
  expected[KZ_TARGET_SM90][KZ_KNOB_CUDA_MATMUL_IMPL] = 1;
  expected[KZ_TARGET_SM90][KZ_KNOB_CUDA_MATMUL_TILE] = 16;
  expected[KZ_TARGET_SM80][KZ_KNOB_CUDA_ELEMENTWISE_VEC] = 2;

  KZ_CHECK_OK(kz_kernel_config_load_file(path));
  kz_table got;
  snapshot(got);
  KZ_CHECK(tables_equal(got, expected));
  KZ_CHECK(!strcmp(kz_kernel_config_source(), path));

  /* A second file layers on top: untouched knobs keep the first file's values. */
  KZ_CHECK_OK(kz_kernel_config_load_text("second.yaml", "sm_90: {softmax: {block: 1024}}\n",
                                         strlen("sm_90: {softmax: {block: 1024}}\n")));
  expected[KZ_TARGET_SM90][KZ_KNOB_CUDA_SOFTMAX_BLOCK] = 1024;
  snapshot(got);
  KZ_CHECK(tables_equal(got, expected));
  KZ_CHECK(!strcmp(kz_kernel_config_source(), "second.yaml"));

  /* Files that change nothing. */
  const char *empties[] = {"",
                           "# nothing here\n",
                           "---\n",
                           "cpu:\n  # matmul: {tile: 32}\n",
                           "cpu: {}\nsm_90:\n  layernorm: {}\n",
                           "~\n"};
  for (size_t i = 0; i < sizeof empties / sizeof empties[0]; ++i) {
    KZ_CHECK_OK(kz_kernel_config_load_text("empty.yaml", empties[i], strlen(empties[i])));
    snapshot(got);
    KZ_CHECK(tables_equal(got, expected));
  }
  remove(path);
  kz_kernel_config_reset();
}

static void test_round_trip(void) {
  kz_kernel_config_reset();
  KZ_CHECK_OK(kz_kernel_config_set(KZ_TARGET_CPU, KZ_KNOB_CPU_MATMUL_IMPL, 1));
  KZ_CHECK_OK(kz_kernel_config_set(KZ_TARGET_CPU, KZ_KNOB_CPU_ROWWISE_GRAIN, 3));
  KZ_CHECK_OK(kz_kernel_config_set(KZ_TARGET_SM80, KZ_KNOB_CUDA_BIAS_BWD_ROWS, 7));
  KZ_CHECK_OK(kz_kernel_config_set(KZ_TARGET_SM90, KZ_KNOB_CUDA_MATMUL_TILE, 16));
  KZ_CHECK_OK(kz_kernel_config_set(KZ_TARGET_SM90, KZ_KNOB_CUDA_ADAMW_BLOCK, 992));
  kz_table want;
  snapshot(want);

  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  KZ_CHECK(mem != NULL);
  if (!mem) return;
  for (int t = 0; t < KZ_TARGET_COUNT; ++t) kz_kernel_config_print(mem, (kz_target)t);
  fclose(mem);

  /* Every knob of its target appears, by name. */
  KZ_CHECK(strstr(text, "sm_90:\n") && strstr(text, "cpu:\n") && strstr(text, "sm_80:\n"));
  KZ_CHECK(strstr(text, "impl: tiled") && strstr(text, "adamw: {block: 992}"));
  KZ_CHECK(strstr(text, "layernorm: {block: 128, bwd_rows: 64}"));

  kz_kernel_config_reset();
  KZ_CHECK_OK(kz_kernel_config_load_text("printed.yaml", text, len));
  kz_table got;
  snapshot(got);
  KZ_CHECK(tables_equal(got, want));
  if (!tables_equal(got, want)) fprintf(stderr, "printed config:\n%s", text);
  free(text);
  kz_kernel_config_reset();
}

typedef struct bad_case {
  const char *yaml;
  kz_status status;
  const char *where; /* "bad.yaml:LINE:" */
  const char *what;  /* key path and reason */
} bad_case;

static const bad_case bad_cases[] = {
    /* syntax */
    {"cpu:\n  matmul: {impl: blas\n", KZ_ERR_FORMAT, "bad.yaml:3:", "YAML syntax error"},
    {"cpu:\n  matmul:\n    tile: 64\n   grain: 3\n", KZ_ERR_FORMAT,
     "bad.yaml:4:", "YAML syntax error"},
    {"cpu:\n\tmatmul: {}\n", KZ_ERR_FORMAT, "bad.yaml:2:", "YAML syntax error"},
    {"cpu: {}\n---\nsm_90: {}\n", KZ_ERR_FORMAT, "bad.yaml:3:", "only one YAML document"},
    /* names */
    {"sm_70:\n  matmul: {tile: 16}\n", KZ_ERR_FORMAT,
     "bad.yaml:1:", "sm_70: unknown target (expected cpu, sm_80 or sm_90)"},
    {"cpu:\n  matmul: {tile: 64}\n  convolution: {tile: 8}\n", KZ_ERR_FORMAT, "bad.yaml:3:",
     "cpu.convolution: unknown op (cpu has: matmul, elementwise, rowwise, attention)"},
    {"sm_90:\n  layernorm:\n    blocks: 128\n", KZ_ERR_FORMAT,
     "bad.yaml:3:", "sm_90.layernorm.blocks: unknown knob (layernorm has: block, bwd_rows)"},
    /* knobs of the other kind of target */
    {"sm_80:\n  rowwise: {grain: 4}\n", KZ_ERR_FORMAT,
     "bad.yaml:2:", "sm_80.rowwise: a CPU op, only valid under cpu"},
    {"sm_80:\n  elementwise: {grain: 4096}\n", KZ_ERR_FORMAT,
     "bad.yaml:2:", "sm_80.elementwise.grain: a CPU knob, only valid under cpu"},
    {"cpu:\n  layernorm: {block: 128}\n", KZ_ERR_FORMAT,
     "bad.yaml:2:", "cpu.layernorm: a CUDA op, only valid under sm_80 and sm_90"},
    {"cpu:\n  elementwise:\n    block: 64\n", KZ_ERR_FORMAT,
     "bad.yaml:3:", "cpu.elementwise.block: a CUDA knob"},
    /* values */
    {"cpu:\n  matmul: {tile: big}\n", KZ_ERR_INVALID_ARG,
     "bad.yaml:2:", "cpu.matmul.tile: 'big' is not a decimal integer"},
    {"cpu:\n  matmul: {tile: 64.0}\n", KZ_ERR_INVALID_ARG,
     "bad.yaml:2:", "cpu.matmul.tile: '64.0' is not a decimal integer"},
    {"cpu:\n  matmul: {tile: 0x40}\n", KZ_ERR_INVALID_ARG, "bad.yaml:2:", "not a decimal integer"},
    {"cpu:\n  elementwise: {grain: 100}\n", KZ_ERR_INVALID_ARG,
     "bad.yaml:2:", "cpu.elementwise.grain: 100 is out of range [256, "},
    {"cpu:\n  elementwise: {grain: 99999999999999999999999}\n", KZ_ERR_INVALID_ARG,
     "bad.yaml:2:", "cpu.elementwise.grain: 99999999999999999999999 is out of range"},
    {"cpu:\n  rowwise: {grain: -1}\n", KZ_ERR_INVALID_ARG,
     "bad.yaml:2:", "cpu.rowwise.grain: -1 is out of range [1, "},
    {"sm_90:\n  elementwise: {vec: 3}\n", KZ_ERR_INVALID_ARG,
     "bad.yaml:2:", "sm_90.elementwise.vec: 3 is not a power of two"},
    {"sm_80:\n  matmul:\n    tile: 24\n", KZ_ERR_INVALID_ARG,
     "bad.yaml:3:", "sm_80.matmul.tile: 24 is not a power of two"},
    {"sm_90:\n  layernorm:\n    block: 100\n", KZ_ERR_INVALID_ARG,
     "bad.yaml:3:", "sm_90.layernorm.block: 100 is not a multiple of 32"},
    {"sm_90:\n  matmul: {impl: cutlass}\n", KZ_ERR_INVALID_ARG,
     "bad.yaml:2:", "sm_90.matmul.impl: 'cutlass' is not one of: cublas, tiled"},
    {"cpu:\n  matmul: {impl: cublas}\n", KZ_ERR_INVALID_ARG,
     "bad.yaml:2:", "cpu.matmul.impl: 'cublas' is not one of: blas, tiled"},
    /* duplicates */
    {"cpu:\n  matmul: {tile: 64}\ncpu:\n  matmul: {tile: 32}\n", KZ_ERR_FORMAT,
     "bad.yaml:3:", "cpu: duplicate key (first at line 1)"},
    {"cpu:\n  matmul: {tile: 64}\n  rowwise: {grain: 2}\n  matmul: {impl: blas}\n", KZ_ERR_FORMAT,
     "bad.yaml:4:", "cpu.matmul: duplicate key (first at line 2)"},
    {"sm_90:\n  layernorm:\n    block: 64\n    block: 128\n", KZ_ERR_FORMAT,
     "bad.yaml:4:", "sm_90.layernorm.block: duplicate key (first at line 3)"},
    /* node types */
    {"hello\n", KZ_ERR_FORMAT, "bad.yaml:1:", "(top level): expected a mapping"},
    {"- cpu\n- sm_90\n", KZ_ERR_FORMAT, "bad.yaml:1:", "(top level): expected a mapping"},
    {"cpu: 5\n", KZ_ERR_FORMAT, "bad.yaml:1:", "cpu: expected a mapping of ops, found a scalar"},
    {"cpu:\n  matmul: [1, 2]\n", KZ_ERR_FORMAT,
     "bad.yaml:2:", "cpu.matmul: expected a mapping of knobs, found a list"},
    {"cpu:\n  matmul:\n    tile: {a: 1}\n", KZ_ERR_FORMAT,
     "bad.yaml:3:", "cpu.matmul.tile: expected a value, found a mapping"},
    {"cpu:\n  matmul:\n    tile:\n", KZ_ERR_FORMAT,
     "bad.yaml:3:", "cpu.matmul.tile: expected a value, found nothing"},
    {"? [a, b]\n: 1\n", KZ_ERR_FORMAT, "bad.yaml:1:", "keys must be names"},
    /* a valid change before the error must not survive */
    {"cpu:\n  matmul: {tile: 128}\nsm_90:\n  layernorm: {block: 100}\n", KZ_ERR_INVALID_ARG,
     "bad.yaml:4:", "sm_90.layernorm.block: 100 is not a multiple of 32"},
};

static void test_bad_files(void) {
  kz_kernel_config_reset();
  /* Start from a non-default table so "unchanged" is not "reset". */
  KZ_CHECK_OK(kz_kernel_config_set(KZ_TARGET_CPU, KZ_KNOB_CPU_MATMUL_TILE, 32));
  kz_table before, after;
  snapshot(before);
  const char *source = "good-source";
  KZ_CHECK_OK(kz_kernel_config_load_text(source, "", 0));
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; ++i) {
    const bad_case *c = &bad_cases[i];
    kz_status st = kz_kernel_config_load_text("bad.yaml", c->yaml, strlen(c->yaml));
    const char *msg = kz_last_error();
    if (st != c->status || !strstr(msg, c->where) || !strstr(msg, c->what)) {
      fprintf(stderr, "bad case %zu: expected %s with \"%s\" and \"%s\", got %s: \"%s\"\n", i,
              kz_status_name(c->status), c->where, c->what, kz_status_name(st), msg);
      ++kz_test_failures;
    }
    snapshot(after);
    if (!tables_equal(before, after)) {
      fprintf(stderr, "bad case %zu changed the table\n", i);
      ++kz_test_failures;
    }
    KZ_CHECK(!strcmp(kz_kernel_config_source(), source));
  }

  /* The same errors through a file name the file. */
  char path[512];
  temp_path(path, sizeof path, "gpu.yaml");
  write_file(path, "sm_90:\n  matmul: {tile: 32}\n  layernorm:\n    block: 100\n");
  KZ_CHECK_FAILS(kz_kernel_config_load_file(path), KZ_ERR_INVALID_ARG,
                 "gpu.yaml:4: sm_90.layernorm.block: 100 is not a multiple of 32");
  KZ_CHECK(strstr(kz_last_error(), path) != NULL);
  remove(path);

  KZ_CHECK_FAILS(kz_kernel_config_load_file(path), KZ_ERR_IO, "gpu.yaml");
  KZ_CHECK_FAILS(kz_kernel_config_load_file(temp_dir), KZ_ERR_IO, temp_dir);
  KZ_CHECK_FAILS(kz_kernel_config_load_file(""), KZ_ERR_INVALID_ARG, "path");

  /* Over the size cap: a comment-only file that would otherwise be fine. */
  temp_path(path, sizeof path, "huge.yaml");
  FILE *f = fopen(path, "wb");
  KZ_CHECK(f != NULL);
  if (f) {
    for (int i = 0; i < 30000; ++i) fputs("# padding padding padding padding padding padding\n", f);
    fclose(f);
    KZ_CHECK_FAILS(kz_kernel_config_load_file(path), KZ_ERR_FORMAT, "huge.yaml");
    remove(path);
  }
  snapshot(after);
  KZ_CHECK(tables_equal(before, after));
  kz_kernel_config_reset();
}

static void test_env(void) {
  kz_kernel_config_reset();
  kz_table defaults, got;
  defaults_table(defaults);

  unsetenv("KZ_KERNEL_CONFIG");
  KZ_CHECK_OK(kz_kernel_config_load_env());
  setenv("KZ_KERNEL_CONFIG", "", 1);
  KZ_CHECK_OK(kz_kernel_config_load_env());
  snapshot(got);
  KZ_CHECK(tables_equal(got, defaults));
  KZ_CHECK(!strcmp(kz_kernel_config_source(), "built-in"));

  char path[512];
  temp_path(path, sizeof path, "env.yaml");
  write_file(path, "sm_80:\n  embedding: {block: 64}\n");
  setenv("KZ_KERNEL_CONFIG", path, 1);
  KZ_CHECK_OK(kz_kernel_config_load_env());
  KZ_CHECK(kz_kernel_config_value(KZ_TARGET_SM80, KZ_KNOB_CUDA_EMBEDDING_BLOCK) == 64);
  KZ_CHECK(kz_kernel_config_value(KZ_TARGET_SM90, KZ_KNOB_CUDA_EMBEDDING_BLOCK) == 128);
  KZ_CHECK(!strcmp(kz_kernel_config_source(), path));

  write_file(path, "sm_80:\n  embedding: {block: 63}\n");
  KZ_CHECK_FAILS(kz_kernel_config_load_env(), KZ_ERR_INVALID_ARG, "KZ_KERNEL_CONFIG");
  KZ_CHECK(strstr(kz_last_error(), "env.yaml:2: sm_80.embedding.block") != NULL);
  KZ_CHECK(kz_kernel_config_value(KZ_TARGET_SM80, KZ_KNOB_CUDA_EMBEDDING_BLOCK) == 64);
  remove(path);

  KZ_CHECK_FAILS(kz_kernel_config_load_env(), KZ_ERR_IO, "KZ_KERNEL_CONFIG");
  KZ_CHECK(strstr(kz_last_error(), "env.yaml") != NULL);
  unsetenv("KZ_KERNEL_CONFIG");

  kz_kernel_config_reset();
  snapshot(got);
  KZ_CHECK(tables_equal(got, defaults));
  KZ_CHECK(!strcmp(kz_kernel_config_source(), "built-in"));
}

static void test_example_file(void) {
  kz_kernel_config_reset();
  KZ_CHECK_OK(kz_kernel_config_load_file(KZ_SOURCE_DIR "/configs/kernels/example.yaml"));
  kz_table defaults, got;
  defaults_table(defaults);
  snapshot(got);
  KZ_CHECK(!tables_equal(got, defaults));
  kz_kernel_config_reset();
}

int main(void) {
  test_first_read_sees_defaults();

  snprintf(temp_dir, sizeof temp_dir, "%s/kz_kernel_config_XXXXXX",
           getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(temp_dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_table();
  test_targets();
  test_set_and_validate();
  test_valid_file();
  test_round_trip();
  test_bad_files();
  test_env();
  test_example_file();
  rmdir(temp_dir);
  return KZ_TEST_RESULT();
}
