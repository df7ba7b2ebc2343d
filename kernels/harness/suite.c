/* The parity suite over one device: every case of every op (or of one op),
 * one summary line per op, and every failure spelled out with the seed that
 * reproduces it. Shared by `kaizen kernels test` and tests/test_ops.c. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/core/error.h"
#include "kernels/harness/op_case.h"

#define DEFAULT_SEED 0x6B61697A656E31ull /* "kaizen1": fixed, so CI runs repeat */

uint64_t kz_harness_base_seed(void) {
  const char *env = getenv("KZ_TEST_SEED");
  if (!env || !*env) return DEFAULT_SEED;
  if (!strcmp(env, "random")) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return kz_case_seed((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, "random");
  }
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull(env, &end, 0);
  if (errno || !end || *end) {
    fprintf(stderr, "kaizen: KZ_TEST_SEED='%s' is not a number; using the default seed\n", env);
    return DEFAULT_SEED;
  }
  return (uint64_t)v;
}

static void run_op(const kz_op_info *info, const kz_op_case_list *list, kz_stream *s,
                   uint64_t base_seed, bool verbose, FILE *out, kz_suite_counts *counts) {
  char dev[32];
  kz_device_format(s->device, dev, sizeof dev);
  int total = 0, failed = 0, skipped = 0;
  double worst = 0;
  for (int i = 0; i < list->count; ++i) {
    const kz_op_case *c = &list->items[i];
    if (strcmp(c->op, info->name)) continue;
    ++total;
    if (!kz_op_supported(s->backend, info)) {
      ++skipped;
      continue;
    }
    kz_case_result r;
    kz_op_case_run(c, s, kz_case_seed(base_seed, c->name), &r);
    if (r.skipped) {
      ++skipped;
    } else if (r.failures) {
      ++failed;
      fprintf(out, "    FAIL %s [%s]: %s (case seed 0x%016llx)\n", c->name, dev, r.message,
              (unsigned long long)r.seed);
    } else if (r.worst_ratio > worst) {
      worst = r.worst_ratio;
    }
    if (verbose && !r.failures)
      fprintf(out, "    %-4s %s%s%s (nmse/bound %.2g)\n", r.skipped ? "skip" : "ok", c->name,
              r.skipped ? ": " : "", r.skipped ? r.message : "", r.worst_ratio);
  }
  counts->passed += total - failed - skipped;
  counts->failed += failed;
  counts->skipped += skipped;
  if (!total)
    fprintf(out, "  %-18s no cases\n", info->name);
  else if (skipped == total)
    fprintf(out, "  %-18s %3d cases  skipped: not implemented by the %s backend\n", info->name,
            total, s->backend->name);
  else if (failed)
    fprintf(out, "  %-18s %3d cases  FAIL (%d failed)\n", info->name, total, failed);
  else
    fprintf(out, "  %-18s %3d cases  pass  (worst nmse/bound %.2g)\n", info->name, total, worst);
}

kz_status kz_harness_test_device(kz_device device, const char *op, uint64_t base_seed, bool verbose,
                                 FILE *out, kz_suite_counts *counts) {
  if (op && !kz_op_info_find(op))
    return kz_fail(KZ_ERR_NOT_FOUND, "unknown op '%s' (see `kaizen kernels list`)", op);
  kz_op_case_list list;
  KZ_TRY(kz_op_cases_build(&list));
  kz_stream *s = NULL;
  kz_status st = kz_stream_create(device, &s);
  if (st != KZ_OK) {
    kz_op_case_list_free(&list);
    return st;
  }
  for (int i = 0; i < kz_op_info_count(); ++i) {
    const kz_op_info *info = kz_op_info_at(i);
    if (op && strcmp(op, info->name)) continue;
    run_op(info, &list, s, base_seed, verbose, out, counts);
  }
  kz_stream_destroy(s);
  kz_op_case_list_free(&list);
  return KZ_OK;
}
