#include "tools/kaizen/predict_args.h"

#include <stdlib.h>
#include <string.h>

#include "tools/kaizen/commands.h"

enum { MAX_ADAPTERS = 16 };

/* --adapter [NAME=]DIR (NAME: DIR's last component when absent), several
 * allowed; --use NAME picks one (the only one needs no --use). */
static int pick_adapter(const char *cmd, char **spec, int n, const char *use, const char **dir) {
  *dir = NULL;
  if (n == 0) {
    if (!use) return 0;
    fprintf(stderr, "kaizen %s: --use %s without any --adapter\n", cmd, use);
    return 2;
  }
  char names[1024] = "";
  for (int k = 0; k < n; k++) {
    const char *eq = strchr(spec[k], '='), *path = eq ? eq + 1 : spec[k];
    char name[256];
    if (eq) {
      snprintf(name, sizeof name, "%.*s", (int)(eq - spec[k]), spec[k]);
    } else {
      snprintf(name, sizeof name, "%s", path);
      size_t len = strlen(name);
      while (len > 1 && name[len - 1] == '/') name[--len] = 0;
      const char *slash = strrchr(name, '/');
      if (slash) memmove(name, slash + 1, strlen(slash + 1) + 1);
    }
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "", name);
    if (use ? !strcmp(use, name) : n == 1) *dir = path;
  }
  if (*dir) return 0;
  if (use)
    fprintf(stderr, "kaizen %s: --use %s: no --adapter of that name (%s)\n", cmd, use, names);
  else
    fprintf(stderr, "kaizen %s: %d adapters given (%s): pick one with --use NAME\n", cmd, n, names);
  return 2;
}

int kz_predict_args(int argc, char **argv, int eval, void (*usage)(FILE *), kz_predict_request *r) {
  const char *cmd = eval ? "eval" : "predict";
  kz_cli_common common = {0};
  memset(r, 0, sizeof *r);
  char *adapters[MAX_ADAPTERS];
  int n_adapters = 0;
  const char *use = NULL;
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
    if (!strcmp(a, "--adapter") && i + 1 < argc) {
      if (n_adapters == MAX_ADAPTERS) {
        fprintf(stderr, "kaizen %s: more than %d --adapter\n", cmd, MAX_ADAPTERS);
        return 2;
      }
      adapters[n_adapters++] = argv[++i];
      continue;
    }
    if (!strcmp(a, "--use") && i + 1 < argc) {
      use = argv[++i];
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
  int rc = pick_adapter(cmd, adapters, n_adapters, use, &r->adapter);
  if (rc) return rc;
  if (kz_cli_common_apply(&common, NULL) != 0) return 1;
  r->device = common.device;
  return -1;
}
