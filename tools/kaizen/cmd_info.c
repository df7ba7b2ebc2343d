/* kaizen info: what this binary is, what it runs on, and how its kernels are
 * configured — the first thing to paste into a bug report. */
#include <stdio.h>
#include <string.h>

#include "kernels/config/kernel_config.h"
#include "kernels/cuda/cuda_info.h"
#include "tools/kaizen/commands.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: kaizen info [options]\n\n"
          "Prints the build (version, git hash, CUDA on/off and architectures, BLAS,\n"
          "OpenMP threads), every device found (the CPU always; CUDA devices when the\n"
          "driver reports any) and the kernel configuration in effect for each\n"
          "device's kernel target, as YAML that --kernel-config accepts back.\n\n"
          "Options:\n%s"
          "  --all-targets          print the kernel tables of every target, not only\n"
          "                         those of the devices found\n"
          "  -h, --help             this text\n",
          kz_cli_common_help);
}

static void print_build(void) {
  kz_build_info b;
  kz_build_info_get(&b);
  char cuda[256];
  kz_cuda_describe(cuda, sizeof cuda);
  printf("kaizen %s (git %s, %s build%s)\n", b.version, b.git_hash, b.build_type,
         b.sanitizers ? ", ASan+UBSan" : "");
  printf("  cuda:     %s", b.cuda_enabled ? "on" : "off");
  if (b.cuda_enabled) printf(" (architectures %s)", b.cuda_archs);
  printf("\n  cuda libs: %s\n", cuda);
  printf("  blas:     %s\n", b.blas);
  printf("  openmp:   %d threads\n", b.openmp_threads);
}

static int print_devices(bool printed_targets[KZ_TARGET_COUNT]) {
  int n = kz_device_list_count();
  printf("devices (%d):\n", n);
  for (int i = 0; i < n; ++i) {
    kz_device_info d;
    if (kz_device_list_get(i, &d) != KZ_OK) return kz_cli_fail("device query");
    char name[32];
    kz_device_format(d.device, name, sizeof name);
    printf("  %-7s %s", name, d.name);
    if (d.device.kind == KZ_DEVICE_CUDA)
      printf(", sm_%d%d, %d SMs", d.compute_major, d.compute_minor, d.multiprocessors);
    else
      printf(", %d threads", d.multiprocessors);
    printf(", %.1f GiB, kernel target %s\n", (double)d.total_memory / (1u << 30), d.kernel_target);
    kz_target t;
    if (kz_target_parse(d.kernel_target, &t) == KZ_OK) printed_targets[t] = true;
  }
  if (kz_cuda_device_count() == 0) printf("  (no CUDA devices found)\n");
  return 0;
}

int kz_cmd_info(int argc, char **argv) {
  kz_cli_common common = {0};
  bool all_targets = false;
  for (int i = 1; i < argc; ++i) {
    int r = kz_cli_common_option(&common, argc, argv, &i);
    if (r < 0) return 2;
    if (r > 0) continue;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--all-targets")) {
      all_targets = true;
      continue;
    }
    fprintf(stderr, "kaizen info: unknown option '%s'\n\n", argv[i]);
    usage(stderr);
    return 2;
  }
  kz_device device;
  if (kz_cli_common_apply(&common, &device)) return 1;

  print_build();
  bool targets[KZ_TARGET_COUNT] = {false};
  if (print_devices(targets)) return 1;
  char selected[32];
  kz_device_format(device, selected, sizeof selected);
  printf("selected device: %s\n", selected);
  printf("kernel config (source: %s):\n", kz_kernel_config_source());
  for (int t = 0; t < KZ_TARGET_COUNT; ++t)
    if (targets[t] || all_targets) kz_kernel_config_print(stdout, (kz_target)t);
  return 0;
}
