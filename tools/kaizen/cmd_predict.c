/* kaizen predict: predictions of a saved model (neural .kzm or GBDT JSON) for
 * every row of a raw CSV / JSON-lines file or of a data set, as CSV. */
#include <stdio.h>
#include <string.h>

#include "engine/predict/predict_job.h"
#include "tools/kaizen/commands.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: kaizen predict --model FILE (--input FILE | --data DIR [--split NAME])\n"
          "                      [--out preds.csv] [--keep COL,...] [--overwrite] [--device D]\n\n"
          "Writes one CSV row per input row, in order: the --keep columns (with --input)\n"
          "or the data set's `row` index (with --data), then the predictions: p_<class>\n"
          "probabilities for a classifier, the predicted value (named after the label)\n"
          "for a regressor. Columns are matched by name through the model's own schema;\n"
          "extra columns are ignored, a missing feature column is an error, category\n"
          "values the model never saw are read as missing (counted on stderr). The file\n"
          "is written to preds.csv.tmp and renamed when complete.\n\n"
          "  --model FILE           model.kzm / best.kzm (neural) or model.json (gbdt)\n"
          "  --input FILE           a raw .csv (header row) or .jsonl file; the label\n"
          "                         column may be absent\n"
          "  --data DIR             a data set directory, manifest.json or one shard\n"
          "  --split NAME           with --data: only that split's shards (train, valid)\n"
          "  --out FILE             the CSV to write (default: stdout); an existing file\n"
          "                         is kept unless --overwrite\n"
          "  --keep COL,...         input columns to copy into the output (e.g. an id)\n"
          "  --overwrite            replace an existing --out file\n"
          "  --quiet                no notes on stderr\n"
          "%s",
          kz_cli_common_help);
}

int kz_cmd_predict(int argc, char **argv) {
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
    if (!strcmp(argv[i], "--overwrite") || !strcmp(argv[i], "--quiet")) {
      *(!strcmp(argv[i], "--quiet") ? &r.quiet : &r.overwrite) = 1;
      continue;
    }
    const char **slot = !strcmp(argv[i], "--model")   ? &r.model
                        : !strcmp(argv[i], "--data")  ? &r.data
                        : !strcmp(argv[i], "--input") ? &r.input
                        : !strcmp(argv[i], "--split") ? &r.split
                        : !strcmp(argv[i], "--out")   ? &r.out
                        : !strcmp(argv[i], "--keep")  ? &r.keep
                                                      : NULL;
    if (!slot || i + 1 >= argc) {
      fprintf(stderr, "kaizen predict: %s '%s'\n\n", slot ? "missing value for" : "unknown option",
              argv[i]);
      usage(stderr);
      return 2;
    }
    *slot = argv[++i];
  }
  if (!r.model || !r.input == !r.data) {
    fprintf(stderr, "kaizen predict: --model and one of --input or --data are required\n\n");
    usage(stderr);
    return 2;
  }
  if (r.split && !r.data) {
    fprintf(stderr, "kaizen predict: --split goes with --data\n");
    return 2;
  }
  if (kz_cli_common_apply(&common, NULL) != 0) return 1;
  r.device = common.device;
  return kz_predict_job(&r) == KZ_OK ? 0 : kz_cli_fail("predict");
}
