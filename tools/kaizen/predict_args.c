#include "tools/kaizen/predict_args.h"

#include <stdlib.h>
#include <string.h>

#include "tools/kaizen/commands.h"

int kz_predict_args(int argc, char **argv, int eval, void (*usage)(FILE *), kz_predict_request *r) {
  const char *cmd = eval ? "eval" : "predict";
  kz_cli_common common = {0};
  memset(r, 0, sizeof *r);
  r->qa_stride = -1;
  for (int i = 1; i < argc; ++i) {
    int c = kz_cli_common_option(&common, argc, argv, &i);
    if (c < 0) return 2;
    if (c > 0) continue;
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    int *flag = !strcmp(a, "--quiet")                ? &r->quiet
                : eval && !strcmp(a, "--json")       ? &r->json
                : !eval && !strcmp(a, "--overwrite") ? &r->overwrite
                                                     : NULL;
    if (flag) {
      *flag = 1;
      continue;
    }
    int *num = !strcmp(a, "--max-answer-len") ? &r->max_answer_len
               : !strcmp(a, "--qa-stride")    ? &r->qa_stride
                                              : NULL;
    if (num) {
      char *end = NULL;
      long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
      if (i + 1 >= argc || !end || *end || v < (num == &r->qa_stride ? 0 : 1) || v > 100000) {
        fprintf(stderr, "kaizen %s: %s needs a whole number (%s)\n", cmd, a,
                num == &r->qa_stride ? "0 or more" : "1 or more");
        return 2;
      }
      *num = (int)v;
      ++i;
      continue;
    }
    const char **slot = !strcmp(a, "--model")                  ? &r->model
                        : !strcmp(a, "--data")                 ? &r->data
                        : !strcmp(a, "--input")                ? &r->input
                        : !strcmp(a, "--split")                ? &r->split
                        : !eval && !strcmp(a, "--out")         ? &r->out
                        : !eval && !strcmp(a, "--keep")        ? &r->keep
                        : !eval && !strcmp(a, "--plot")        ? &r->plot
                        : !eval && !strcmp(a, "--plot-series") ? &r->plot_series
                                                               : NULL;
    if (!slot || i + 1 >= argc) {
      fprintf(stderr, "kaizen %s: %s '%s'\n\n", cmd, slot ? "missing value for" : "unknown option",
              a);
      usage(stderr);
      return 2;
    }
    *slot = argv[++i];
  }
  if (!r->model || !r->input == !r->data) {
    fprintf(stderr, "kaizen %s: --model and one of --input or --data are required\n\n", cmd);
    usage(stderr);
    return 2;
  }
  if (r->split && !r->data) {
    fprintf(stderr, "kaizen %s: --split goes with --data\n", cmd);
    return 2;
  }
  if (kz_cli_common_apply(&common, NULL) != 0) return 1;
  r->device = common.device;
  return -1;
}
