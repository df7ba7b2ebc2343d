/* ctest driver of the op parity suite: one invocation per (backend, op).
 *
 *   test_ops --device cpu --op layernorm   run one op's cases (77 = skipped)
 *   test_ops --list                        print the harness's op names
 *   test_ops --check-list "a,b,c"          check the CMake list equals them
 *   test_ops --check-complete              every op has ref, cpu, cuda, grad
 *   test_ops --check-optional              NULL single gradient outputs are no-ops
 *   test_ops --check-nan --device D        softmax propagates NaN like ref (77 = skipped)
 *
 * The last form keeps tests/ops.cmake honest: an op added to the registry
 * without a ctest entry (or the reverse) fails `op/list_matches`. */
#define _POSIX_C_SOURCE 200809L /* strdup, strtok_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/harness/grad_check.h"
#include "kernels/harness/op_case.h"
#include "kernels/ops.h"

#define SKIP 77

static int check_list(const char *cmake_list) {
  int failures = 0, listed = 0;
  char *copy = strdup(cmake_list);
  if (!copy) return 1;
  for (char *save = NULL, *name = strtok_r(copy, ",", &save); name;
       name = strtok_r(NULL, ",", &save)) {
    ++listed;
    if (!kz_op_info_find(name)) {
      fprintf(stderr, "ops.cmake lists '%s', which the harness does not know\n", name);
      ++failures;
    }
  }
  free(copy);
  for (int i = 0; i < kz_op_info_count(); ++i) {
    const char *name = kz_op_info_at(i)->name;
    size_t len = strlen(name);
    bool found = false;
    for (const char *p = cmake_list; (p = strstr(p, name)) != NULL; p += len)
      if ((p == cmake_list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0')) found = true;
    if (!found) {
      fprintf(stderr, "harness op '%s' has no ctest entry in tests/ops.cmake\n", name);
      ++failures;
    }
  }
  printf("%d ops listed in CMake, %d in the harness\n", listed, kz_op_info_count());
  return failures ? 1 : 0;
}

/* What the op list (kernels/op_list.h) promises against what was built: each
 * op has parity cases (they carry its reference), a CPU and a CUDA entry point
 * and gradient cases, unless the list gives the reason for the absence. A
 * reason the build contradicts (KZ_NO on a slot that is filled) fails too, so
 * stale excuses do not pile up. */
static int check_complete(void) {
  kz_op_case_list cases;
  kz_grad_list grads;
  if (kz_op_cases_build(&cases) != KZ_OK || kz_grad_cases_build(&grads) != KZ_OK) {
    fprintf(stderr, "test_ops: %s\n", kz_last_error());
    return 1;
  }
  const kz_backend *cpu = kz_backend_cpu(), *cuda = kz_backend_cuda();
  int failures = 0;
  for (int i = 0; i < kz_op_info_count(); ++i) {
    const kz_op_info *info = kz_op_info_at(i);
    int ncases = 0, nref = 0, ngrad = 0;
    for (int c = 0; c < cases.count; ++c)
      if (!strcmp(cases.items[c].op, info->name)) ++ncases, nref += cases.items[c].ref != NULL;
    for (int g = 0; g < grads.count; ++g) ngrad += !strcmp(grads.items[g].op, info->name);
    if (ncases == 0 || nref < ncases) {
      fprintf(stderr, "%s: no reference (%d parity cases, %d with a ref)\n", info->name, ncases,
              nref);
      ++failures;
    }
    bool on_cpu = kz_op_slot_filled(cpu, info);
    if (on_cpu == (info->no_cpu != NULL)) {
      fprintf(stderr, "%s: %s\n", info->name,
              on_cpu ? "the CPU implements it but the op list says it does not"
                     : "no CPU implementation and no reason in the op list");
      ++failures;
    }
    /* A build without CUDA has no CUDA table to look at; the list's KZ_YES
     * there is still checked by the link of every CUDA build. */
    if (cuda && kz_op_slot_filled(cuda, info) == (info->no_cuda != NULL)) {
      fprintf(stderr, "%s: %s\n", info->name,
              info->no_cuda ? "CUDA implements it but the op list says it does not"
                            : "no CUDA implementation and no reason in the op list");
      ++failures;
    }
    if ((ngrad > 0) == (info->no_grad != NULL)) {
      fprintf(stderr, "%s: %s\n", info->name,
              ngrad ? "has gradient cases but the op list says it has none"
                    : "no gradient cases and no reason in the op list");
      ++failures;
    }
    printf("%-18s ref %3d cases  cpu %-4s cuda %-4s grad %s %s\n", info->name, ncases,
           on_cpu ? "yes" : "no",
           !cuda                           ? "n/a"
           : kz_op_slot_filled(cuda, info) ? "yes"
                                           : "no",
           ngrad ? "yes" : "no:", ngrad ? "" : info->no_grad);
  }
  for (int g = 0; g < grads.count; ++g)
    if (!kz_op_info_find(grads.items[g].op)) {
      fprintf(stderr, "gradient case '%s' names op '%s', which the op list does not have\n",
              grads.items[g].name, grads.items[g].op);
      ++failures;
    }
  kz_op_case_list_free(&cases);
  kz_grad_list_free(&grads);
  if (!cuda) printf("(CUDA not built: its column is checked in CUDA builds)\n");
  return failures ? 1 : 0;
}

/* Single-output backward ops with their gradient output NULL ("not wanted")
 * must return KZ_OK, not a "missing argument" error: the model code of a
 * frozen layer calls them unchanged. Multi-output backwards (layernorm_bwd)
 * are exercised output by output in the parity cases, against ref and with
 * the left-out buffer checked untouched. */
static int check_optional(void) {
  kz_device cpu = {KZ_DEVICE_CPU, 0};
  kz_stream *s = NULL;
  if (kz_stream_create(cpu, &s) != KZ_OK) return 1;
  int64_t shape[4] = {1, 1, 2, 3}, ids_shape[1] = {2};
  kz_tensor x = {0}, ids = {0}, rows = {0};
  int failures = 0;
  if (kz_tensor_alloc(cpu, KZ_F32, 4, shape, &x) != KZ_OK ||
      kz_tensor_alloc(cpu, KZ_I32, 1, ids_shape, &ids) != KZ_OK ||
      kz_tensor_alloc(cpu, KZ_F32, 1, ids_shape, &rows) != KZ_OK) {
    fprintf(stderr, "check-optional: %s\n", kz_last_error());
    failures = 1;
  }
  if (!failures) {
    memset(ids.data, 0, 2 * sizeof(int32_t));
    kz_tensor logits = x, dout = x;
    logits.ndim = 2, logits.shape[0] = 2, logits.shape[1] = 3;
    dout.ndim = 2, dout.shape[0] = 2, dout.shape[1] = 3;
    kz_tensor spans = x; /* QA logits: one position of (start, end) per sequence */
    spans.ndim = 2, spans.shape[0] = 2, spans.shape[1] = 2;
    struct {
      const char *op;
      kz_status st;
    } calls[] = {
        {"bias_add_bwd", kz_op_bias_add_bwd(s, &x, NULL, false)},
        {"gelu_bwd", kz_op_gelu_bwd(s, &x, &x, NULL, KZ_GELU_ERF, true)},
        {"softmax_bwd", kz_op_softmax_bwd(s, &x, &x, NULL, NULL, 1.0f, false, false)},
        {"cross_entropy_bwd", kz_op_cross_entropy_bwd(s, &logits, &ids, &rows, NULL, -100, false)},
        {"embedding_bwd", kz_op_embedding_bwd(s, &ids, &dout, NULL, false)},
        {"gather_rows_bwd", kz_op_gather_rows_bwd(s, &ids, &dout, NULL, false)},
        {"qa_span_loss_bwd",
         kz_op_qa_span_loss_bwd(s, &spans, &ids, &ids, &ids, &rows, NULL, true)},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; ++i)
      if (calls[i].st != KZ_OK) {
        fprintf(stderr, "%s with its gradient output NULL: %s\n", calls[i].op, kz_last_error());
        ++failures;
      }
#define KZ_UNARY(name, ...)                                                                        \
  if (kz_op_##name##_bwd(s, &x, &x, NULL, 1.0f, false) != KZ_OK) {                                 \
    fprintf(stderr, #name "_bwd with dx NULL: %s\n", kz_last_error());                             \
    ++failures;                                                                                    \
  }
    KZ_OP_UNARIES()
#undef KZ_UNARY
  }
  kz_tensor_free(&x);
  kz_tensor_free(&ids);
  kz_tensor_free(&rows);
  kz_stream_destroy(s);
  printf("optional gradient outputs: %s\n", failures ? "FAIL" : "pass");
  return failures ? 1 : 0;
}

/* Softmax over four rows of 8 keys on dev: all NaN, one NaN, all -inf, and
 * finite. ref gives NaN wherever a live logit is NaN (the parity suite
 * cannot say so: it counts every non-finite output as a failure), and a
 * backend must too: a diverging attention score that came out as zeros
 * would pass for a masked row. The -inf row is the backends' own choice
 * (zeros on CUDA) and the finite row a sanity check. */
static int check_nan(kz_device dev) {
  enum { S = 8 };
  int64_t shape[4] = {1, 1, 4, S};
  float x[4 * S], y[4 * S];
  for (int j = 0; j < S; ++j) {
    x[j] = NAN;
    x[S + j] = j == 5 ? NAN : 0.25f * (float)j;
    x[2 * S + j] = -INFINITY;
    x[3 * S + j] = 0.5f * (float)j - 1.0f;
  }
  kz_stream *s = NULL;
  kz_tensor tx = {0}, ty = {0};
  int failures = 0;
  if (kz_stream_create(dev, &s) != KZ_OK || kz_tensor_alloc(dev, KZ_F32, 4, shape, &tx) != KZ_OK ||
      kz_tensor_alloc(dev, KZ_F32, 4, shape, &ty) != KZ_OK ||
      kz_copy_to_device(s, tx.data, x, sizeof x) != KZ_OK ||
      kz_op_softmax(s, &tx, &ty, NULL, 1.0f, false) != KZ_OK ||
      kz_copy_to_host(s, y, ty.data, sizeof y) != KZ_OK || kz_stream_sync(s) != KZ_OK) {
    fprintf(stderr, "check-nan: %s\n", kz_last_error());
    failures = 1;
  }
  double sum = 0;
  for (int j = 0; !failures && j < S; ++j) {
    if (!isnan(y[j]) || !isnan(y[S + j])) {
      fprintf(stderr, "softmax: key %d of a row with a NaN logit is %g, not NaN\n", j,
              isnan(y[j]) ? y[S + j] : y[j]);
      ++failures;
    }
    sum += y[3 * S + j];
  }
  if (!failures && !(fabs(sum - 1.0) < 1e-5)) {
    fprintf(stderr, "softmax: a finite row sums to %.9g\n", sum);
    ++failures;
  }
  kz_tensor_free(&tx);
  kz_tensor_free(&ty);
  kz_stream_destroy(s);
  printf("softmax NaN propagation: %s\n", failures ? "FAIL" : "pass");
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  const char *device = "cpu", *op = NULL;
  bool verbose = getenv("KZ_TEST_VERBOSE") != NULL, nan_check = false;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--list")) {
      for (int k = 0; k < kz_op_info_count(); ++k) printf("%s\n", kz_op_info_at(k)->name);
      return 0;
    }
    if (!strcmp(argv[i], "--check-list") && i + 1 < argc) return check_list(argv[i + 1]);
    if (!strcmp(argv[i], "--check-complete")) return check_complete();
    if (!strcmp(argv[i], "--check-optional")) return check_optional();
    if (!strcmp(argv[i], "--check-nan"))
      nan_check = true;
    else if (!strcmp(argv[i], "--device") && i + 1 < argc)
      device = argv[++i];
    else if (!strcmp(argv[i], "--op") && i + 1 < argc)
      op = argv[++i];
    else if (!strcmp(argv[i], "--verbose"))
      verbose = true;
    else {
      fprintf(stderr, "usage: test_ops [--device cpu|cuda[:N]] [--op NAME] [--verbose] | --list | "
                      "--check-list 'a,b' | --check-complete | --check-optional | "
                      "--check-nan [--device D]\n");
      return 2;
    }
  }
  if (!strncmp(device, "cuda", 4) && kz_cuda_device_count() == 0) {
    printf("skipped: no GPU\n");
    return SKIP;
  }
  kz_device dev;
  if (kz_device_parse(device, &dev) != KZ_OK) {
    fprintf(stderr, "test_ops: %s\n", kz_last_error());
    return 2;
  }
  if (kz_kernel_config_load_env() != KZ_OK) {
    fprintf(stderr, "test_ops: KZ_KERNEL_CONFIG: %s\n", kz_last_error());
    return 2;
  }
  if (nan_check) return check_nan(dev);
  uint64_t seed = kz_harness_base_seed();
  printf("op parity on %s, seed 0x%016llx (KZ_TEST_SEED to reproduce)\n", device,
         (unsigned long long)seed);
  kz_suite_counts counts = {0, 0, 0};
  if (kz_harness_test_device(dev, op, seed, verbose, stdout, &counts) != KZ_OK) {
    fprintf(stderr, "test_ops: %s\n", kz_last_error());
    return 1;
  }
  printf("%d passed, %d failed, %d skipped\n", counts.passed, counts.failed, counts.skipped);
  if (counts.failed) return 1;
  return counts.passed == 0 ? SKIP : 0;
}
