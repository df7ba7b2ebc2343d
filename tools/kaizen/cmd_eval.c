/* kaizen eval: metrics of a saved model (neural .kzm or GBDT JSON) on a data
 * set. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "engine/train/job.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: kaizen eval --model FILE --data DIR [--split NAME] [--json] [--device D]\n\n"
          "Prints one \"metric value\" line per metric (loss, accuracy or rmse/mae, ...)\n"
          "over every row of the data set, or one JSON object with --json.\n\n"
          "  --model FILE           model.kzm / best.kzm (neural) or model.json (gbdt)\n"
          "  --data DIR             data set directory, manifest.json or one shard\n"
          "  --split NAME           only that split's shards (train, valid); default: all\n"
          "  --json                 one JSON object on stdout\n"
          "%s",
          kz_cli_common_help);
}

int kz_cmd_eval(int argc, char **argv) {
  kz_cli_common common = {0};
  const char *model = NULL, *data = NULL, *split = NULL;
  int json = 0;
  for (int i = 1; i < argc; ++i) {
    int r = kz_cli_common_option(&common, argc, argv, &i);
    if (r < 0) return 2;
    if (r > 0) continue;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--json")) {
      json = 1;
      continue;
    }
    const char **slot = !strcmp(argv[i], "--model")   ? &model
                        : !strcmp(argv[i], "--data")  ? &data
                        : !strcmp(argv[i], "--split") ? &split
                                                      : NULL;
    if (!slot || i + 1 >= argc) {
      fprintf(stderr, "kaizen eval: %s '%s'\n\n", slot ? "missing value for" : "unknown option",
              argv[i]);
      usage(stderr);
      return 2;
    }
    *slot = argv[++i];
  }
  if (!model || !data) {
    fprintf(stderr, "kaizen eval: --model and --data are required\n\n");
    usage(stderr);
    return 2;
  }
  if (kz_cli_common_apply(&common, NULL) != 0) return 1;
  const char *kind = kz_model_file_kind(model);
  if (!kind) return kz_cli_fail("eval");
  kz_status st = !strcmp(kind, "gbdt")
                     ? kz_gbdt_job_eval(model, data, split, common.device, json, stdout)
                     : kz_nn_job_eval(model, data, split, common.device, json, stdout);
  return st == KZ_OK ? 0 : kz_cli_fail("eval");
}
