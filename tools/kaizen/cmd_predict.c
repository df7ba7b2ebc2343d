/* kaizen predict: predictions of a saved model (neural .kzm or GBDT JSON) for
 * every row of a data set, as CSV. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "engine/train/job.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: kaizen predict --model FILE --data DIR [--split NAME] --out preds.csv [--device "
          "D]\n\n"
          "Writes one CSV row per data row (header first): class probabilities for a\n"
          "classifier, the predicted value for a regressor. The file is written to\n"
          "preds.csv.tmp and renamed when complete.\n\n"
          "  --model FILE           model.kzm / best.kzm (neural) or model.json (gbdt)\n"
          "  --data DIR             data set directory, manifest.json or one shard\n"
          "  --split NAME           only that split's shards (train, valid); default: all\n"
          "  --out FILE             the CSV to write\n"
          "%s",
          kz_cli_common_help);
}

int kz_cmd_predict(int argc, char **argv) {
  kz_cli_common common = {0};
  const char *model = NULL, *data = NULL, *out = NULL, *split = NULL;
  for (int i = 1; i < argc; ++i) {
    int r = kz_cli_common_option(&common, argc, argv, &i);
    if (r < 0) return 2;
    if (r > 0) continue;
    const char **slot = !strcmp(argv[i], "--model")   ? &model
                        : !strcmp(argv[i], "--data")  ? &data
                        : !strcmp(argv[i], "--split") ? &split
                        : !strcmp(argv[i], "--out")   ? &out
                                                      : NULL;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if (!slot || i + 1 >= argc) {
      fprintf(stderr, "kaizen predict: %s '%s'\n\n", slot ? "missing value for" : "unknown option",
              argv[i]);
      usage(stderr);
      return 2;
    }
    *slot = argv[++i];
  }
  if (!model || !data || !out) {
    fprintf(stderr, "kaizen predict: --model, --data and --out are required\n\n");
    usage(stderr);
    return 2;
  }
  if (kz_cli_common_apply(&common, NULL) != 0) return 1;
  const char *kind = kz_model_file_kind(model);
  if (!kind) return kz_cli_fail("predict");
  kz_status st = !strcmp(kind, "gbdt") ? kz_gbdt_job_predict(model, data, split, out, common.device)
                                       : kz_nn_job_predict(model, data, split, out, common.device);
  return st == KZ_OK ? 0 : kz_cli_fail("predict");
}
