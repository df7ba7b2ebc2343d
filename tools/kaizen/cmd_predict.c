/* kaizen predict: predictions of a saved model (neural .kzm or GBDT JSON) for
 * every row of a raw CSV / JSON-lines file or of a data set, as CSV. */
#include <stdio.h>

#include "engine/predict/predict_job.h"
#include "tools/kaizen/commands.h"
#include "tools/kaizen/predict_args.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: kaizen predict --model FILE (--input FILE | --data DIR [--split NAME])\n"
          "                      [--out preds.csv] [--keep COL,...] [--overwrite] [--device D]\n"
          "                      [--plot FILE.svg [--plot-series NAME]]\n\n"
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
          "  --adapter [NAME=]DIR   a transformer's or TFT's LoRA adapter (a PEFT directory, a\n"
          "                         LoRA run's adapter/) to load onto --model and merge;\n"
          "                         repeat for several, NAME defaults to DIR's last part\n"
          "  --use NAME             which --adapter to predict with (needed with several)\n"
          "  --overwrite            replace an existing --out (or --plot) file\n"
          "  --plot FILE.svg        forecasting models (tft): an SVG of one series'\n"
          "                         recent history and its forecast (median line, band\n"
          "                         from the first to the last quantile)\n"
          "  --plot-series NAME     the series to plot (default: the first)\n"
          "  --quiet                no notes on stderr\n"
          "  --max-answer-len N     qa on text: the longest answer in tokens (default 30)\n"
          "  --qa-stride N          qa on text: context tokens two windows of a long\n"
          "                         context share (default 128, at most half a window)\n\n"
          "A transformer with --input reads raw text (one text a line in a .txt file, or\n"
          "the columns the data set was imported from) and writes, by task: label and\n"
          "p_<class> (classification); words, labels, spans as JSON arrays, one label\n"
          "per word, spans in characters (token_classification); answer, score, start,\n"
          "end in characters of the context (qa); e_0.. the sentence embedding (mlm).\n"
          "%s",
          kz_cli_common_help);
}

int kz_cmd_predict(int argc, char **argv) {
  kz_predict_request r;
  int rc = kz_predict_args(argc, argv, 0, usage, &r);
  if (rc >= 0) return rc;
  return kz_predict_job(&r) == KZ_OK ? 0 : kz_cli_fail("predict");
}
