/* kaizen eval: metrics of a saved model (neural .kzm or GBDT JSON) on a raw
 * CSV / JSON-lines file or a data set. */
#include <stdio.h>
#include <string.h>

#include "engine/predict/predict_job.h"
#include "tools/kaizen/commands.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: kaizen eval --model FILE (--input FILE | --data DIR [--split NAME]) [--json]\n"
          "                   [--device D]\n\n"
          "Prints one \"metric value\" line per metric (loss, accuracy or rmse/mae, ...)\n"
          "over every row, or one JSON object with --json. Rows are mapped by column\n"
          "name through the model's own schema, as kaizen predict does; the label\n"
          "column is required, and a class the model never saw is an error.\n\n"
          "  --model FILE           model.kzm / best.kzm (neural) or model.json (gbdt)\n"
          "  --input FILE           a raw .csv (header row) or .jsonl file\n"
          "  --data DIR             a data set directory, manifest.json or one shard\n"
          "  --split NAME           with --data: only that split's shards (train, valid)\n"
          "  --json                 one JSON object on stdout\n"
          "  --quiet                no notes on stderr\n"
          "%s",
          kz_cli_common_help);
}

int kz_cmd_eval(int argc, char **argv) {
  kz_cli_common common = {0};
  kz_predict_request r = {0};
  for (int i = 1; i < argc; ++i) {
    int c = kz_cli_common_option(&common, argc, argv, &i);
    if (c < 0) return 2;
    if (c > 0) continue;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "--quiet")) {
      *(!strcmp(argv[i], "--json") ? &r.json : &r.quiet) = 1;
      continue;
    }
    const char **slot = !strcmp(argv[i], "--model")   ? &r.model
                        : !strcmp(argv[i], "--data")  ? &r.data
                        : !strcmp(argv[i], "--input") ? &r.input
                        : !strcmp(argv[i], "--split") ? &r.split
                                                      : NULL;
    if (!slot || i + 1 >= argc) {
      fprintf(stderr, "kaizen eval: %s '%s'\n\n", slot ? "missing value for" : "unknown option",
              argv[i]);
      usage(stderr);
      return 2;
    }
    *slot = argv[++i];
  }
  if (!r.model || !r.input == !r.data) {
    fprintf(stderr, "kaizen eval: --model and one of --input or --data are required\n\n");
    usage(stderr);
    return 2;
  }
  if (r.split && !r.data) {
    fprintf(stderr, "kaizen eval: --split goes with --data\n");
    return 2;
  }
  if (kz_cli_common_apply(&common, NULL) != 0) return 1;
  r.device = common.device;
  return kz_eval_job(&r, stdout) == KZ_OK ? 0 : kz_cli_fail("eval");
}
