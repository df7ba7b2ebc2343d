/* `kaizen kernels`: the op harness from the command line.
 *   list    ops, their cost formulas, bounds and the backends that have them
 *   test    parity of every op against the double-precision ref
 *   grad    backward passes of ref against finite differences
 *   bench   speed on realistic shapes as a ratio to measured peaks
 * Any kernel config that passes `test` is legal, so a researcher tuning a
 * YAML file runs `kaizen kernels test --kernel-config mine.yaml`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/harness/grad_check.h"
#include "kernels/harness/op_bench.h"
#include "kernels/harness/op_case.h"
#include "tools/kaizen/commands.h"

typedef struct kernels_args {
  kz_cli_common common;
  const char *action, *op;
  uint64_t seed;
  bool have_seed, verbose;
  int repeat;
} kernels_args;

static void usage(FILE *out) {
  fprintf(out,
          "usage: kaizen kernels <list|test|grad|bench> [options]\n\n"
          "  list                 ops with FLOP/byte formulas, NMSE bounds and backends\n"
          "  test                 parity against the double-precision reference on every\n"
          "                       available device (or --device), with guard bytes, poisoned\n"
          "                       outputs and NaN checks; exit 1 on any failure\n"
          "  grad                 backward passes vs central finite differences (ref, double)\n"
          "  bench                median time, GFLOP/s, GB/s and %% of the measured peak on\n"
          "                       BERT-base shapes; matmul on the CPU also vs OpenBLAS\n\n"
          "options:\n"
          "  --op NAME            one op only (names from `kaizen kernels list`)\n"
          "  --seed N             base seed for test/grad (default: KZ_TEST_SEED or fixed)\n"
          "  --repeat N           bench samples per shape, median reported (default 10)\n"
          "  --verbose            test/grad: one line per case\n"
          "%s\n"
          "CUDA on a machine without a GPU is reported as \"skipped: no GPU\", not a failure.\n"
          "Docs: docs/TESTING.md\n",
          kz_cli_common_help);
}

static int parse(int argc, char **argv, kernels_args *a) {
  memset(a, 0, sizeof *a);
  a->repeat = 10;
  for (int i = 1; i < argc; ++i) {
    const char *arg = argv[i];
    int common = kz_cli_common_option(&a->common, argc, argv, &i);
    if (common < 0) return 2;
    if (common > 0) continue;
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      usage(stdout);
      return -1;
    }
    if (!strcmp(arg, "--verbose")) {
      a->verbose = true;
    } else if (!strcmp(arg, "--op") || !strcmp(arg, "--seed") || !strcmp(arg, "--repeat")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "kaizen kernels: %s needs a value\n", arg);
        return 2;
      }
      const char *v = argv[++i];
      if (!strcmp(arg, "--op")) {
        a->op = v;
        continue;
      }
      char *end = NULL;
      errno = 0;
      unsigned long long n = strtoull(v, &end, 0);
      if (errno || !end || *end || *v == '-' || (!strcmp(arg, "--repeat") && (n < 1 || n > 101))) {
        fprintf(stderr, "kaizen kernels: %s: '%s' is not %s\n", arg, v,
                !strcmp(arg, "--repeat") ? "a count in 1..101" : "a non-negative integer");
        return 2;
      }
      if (!strcmp(arg, "--seed")) {
        a->seed = n;
        a->have_seed = true;
      } else {
        a->repeat = (int)n;
      }
    } else if (!a->action && arg[0] != '-') {
      a->action = arg;
    } else {
      fprintf(stderr, "kaizen kernels: unexpected argument '%s'\n\n", arg);
      usage(stderr);
      return 2;
    }
  }
  if (!a->action) {
    usage(stderr);
    return 2;
  }
  if (a->op && !kz_op_info_find(a->op)) {
    fprintf(stderr, "kaizen kernels: unknown op '%s' (see `kaizen kernels list`)\n", a->op);
    return 2;
  }
  return 0;
}

static bool is_cuda_spec(const char *spec) {
  return spec && !strncmp(spec, "cuda", 4);
}

static int cmd_list(void) {
  const kz_backend *cuda = kz_backend_cuda();
  printf("%-18s %-9s %-5s %-9s %-9s %-26s %s\n", "op", "backends", "grad", "nmse f32", "nmse bf16",
         "FLOPs", "bytes (minimum)");
  for (int i = 0; i < kz_op_info_count(); ++i) {
    const kz_op_info *info = kz_op_info_at(i);
    char backends[32];
    bool on_cpu = kz_op_supported(kz_backend_cpu(), info);
    bool on_cuda = cuda && kz_op_supported(cuda, info);
    snprintf(backends, sizeof backends, "%s%s%s", on_cpu ? "cpu" : "", on_cpu && on_cuda ? "," : "",
             on_cuda ? "cuda" : "");
    bool grad = false;
    for (int g = 0; g < kz_grad_op_count(); ++g)
      grad = grad || !strcmp(kz_grad_op_at(g), info->name);
    /* Ops without bf16 arguments have no bf16 bound; casts are bit exact (0). */
    char bf16[16] = "-";
    if (info->tol_bf16 > 0 || !strncmp(info->name, "cast", 4))
      snprintf(bf16, sizeof bf16, "%.0e", info->tol_bf16);
    printf("%-18s %-9s %-5s %-9.0e %-9s %-26s %s\n", info->name, backends, grad ? "yes" : "-",
           info->tol_f32, bf16, info->flops_formula, info->bytes_formula);
  }
  printf("\nbounds: NMSE = sum((out - ref)^2) / sum(ref^2) against the double reference; 0 = bit "
         "exact. CUDA backend: %s.\n",
         cuda ? (kz_cuda_device_count() ? "built, GPU present" : "built, no GPU here")
              : "not built");
  return 0;
}

static int test_one(kz_device dev, const kernels_args *a, uint64_t seed, kz_suite_counts *counts) {
  char name[32];
  kz_device_format(dev, name, sizeof name);
  printf("device %s\n", name);
  if (kz_harness_test_device(dev, a->op, seed, a->verbose, stdout, counts) != KZ_OK)
    return kz_cli_fail("kernels test");
  return 0;
}

static int cmd_test(const kernels_args *a) {
  uint64_t seed = a->have_seed ? a->seed : kz_harness_base_seed();
  printf("op parity, seed 0x%016llx (reproduce with --seed or KZ_TEST_SEED), kernel config %s\n",
         (unsigned long long)seed, kz_kernel_config_source());
  kz_suite_counts counts = {0, 0, 0};
  if (a->common.device && strcmp(a->common.device, "auto")) {
    if (is_cuda_spec(a->common.device) && kz_cuda_device_count() == 0) {
      printf("device %s: skipped: no GPU\n", a->common.device);
      return 0;
    }
    kz_device dev;
    if (kz_device_parse(a->common.device, &dev) != KZ_OK) return kz_cli_fail("--device");
    if (test_one(dev, a, seed, &counts)) return 1;
  } else {
    /* Every device of the list: the CPU, then each GPU. */
    for (int i = 0; i < kz_device_list_count(); ++i) {
      kz_device_info info;
      if (kz_device_list_get(i, &info) != KZ_OK) return kz_cli_fail("device list");
      if (test_one(info.device, a, seed, &counts)) return 1;
    }
    if (kz_backend_cuda() && kz_cuda_device_count() == 0) printf("device cuda: skipped: no GPU\n");
  }
  printf("summary: %d passed, %d failed, %d skipped\n", counts.passed, counts.failed,
         counts.skipped);
  return counts.failed ? 1 : 0;
}

static int cmd_grad(const kernels_args *a) {
  bool has = !a->op;
  for (int g = 0; g < kz_grad_op_count() && !has; ++g) has = !strcmp(kz_grad_op_at(g), a->op);
  if (!has) {
    printf("%s has no backward pass: nothing to check\n", a->op);
    return 0;
  }
  uint64_t seed = a->have_seed ? a->seed : kz_harness_base_seed();
  printf("gradient checks (ref, double, central differences h=%g), seed 0x%016llx\n", KZ_GRAD_STEP,
         (unsigned long long)seed);
  kz_suite_counts counts = {0, 0, 0};
  if (kz_harness_grad(a->op, seed, a->verbose, stdout, &counts) != KZ_OK)
    return kz_cli_fail("kernels grad");
  printf("summary: %d passed, %d failed\n", counts.passed, counts.failed);
  return counts.failed ? 1 : 0;
}

static int cmd_bench(const kernels_args *a) {
  const char *spec = a->common.device ? a->common.device : "auto";
  if (is_cuda_spec(spec) && kz_cuda_device_count() == 0) {
    printf("device %s: skipped: no GPU\n", spec);
    return 0;
  }
  kz_device dev;
  if (kz_device_parse(spec, &dev) != KZ_OK) return kz_cli_fail("--device");
  kz_device_info info;
  char name[32];
  kz_device_format(dev, name, sizeof name);
  int pos = dev.kind == KZ_DEVICE_CPU ? 0 : 1 + dev.index;
  printf("kaizen kernels bench: device %s (%s), kernel config %s, repeat %d\n", name,
         kz_device_list_get(pos, &info) == KZ_OK ? info.name : "?", kz_kernel_config_source(),
         a->repeat);
  kz_bench_options o = {a->op, a->repeat, stdout};
  if (kz_harness_bench(dev, &o) != KZ_OK) return kz_cli_fail("kernels bench");
  return 0;
}

int kz_cmd_kernels(int argc, char **argv) {
  kernels_args a;
  int rc = parse(argc, argv, &a);
  if (rc) return rc < 0 ? 0 : rc;
  if (kz_cli_common_apply(&a.common, NULL)) return 1;
  if (!strcmp(a.action, "list")) return cmd_list();
  if (!strcmp(a.action, "test")) return cmd_test(&a);
  if (!strcmp(a.action, "grad")) return cmd_grad(&a);
  if (!strcmp(a.action, "bench")) return cmd_bench(&a);
  fprintf(stderr, "kaizen kernels: unknown action '%s'\n\n", a.action);
  usage(stderr);
  return 2;
}
