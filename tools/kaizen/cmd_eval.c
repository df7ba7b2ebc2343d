/* kaizen eval: metrics of a saved model (neural .kzm or GBDT JSON) on a raw
 * CSV / JSON-lines file or a data set. */
#include <stdio.h>

#include "engine/predict/predict_job.h"
#include "tools/kaizen/commands.h"
#include "tools/kaizen/predict_args.h"

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
          "  --adapter [NAME=]DIR   a LoRA adapter to load onto --model and merge (repeat for\n"
          "                         several; --use NAME picks one), as kaizen predict\n"
          "  --use NAME             which --adapter to evaluate\n"
          "  --quiet                no notes on stderr\n"
          "  --max-answer-len N     qa: the longest answer in tokens (default 30)\n"
          "  --qa-stride N          qa on text: context tokens two windows share\n\n"
          "A qa transformer with --input (question, context and answer text columns, as\n"
          "imported) reports text_exact_match and text_f1 on the answer text, normalised\n"
          "as SQuAD's script does; with --data it reports them on the answer tokens\n"
          "besides exact_match and span_f1 on token positions.\n"
          "%s",
          kz_cli_common_help);
}

int kz_cmd_eval(int argc, char **argv) {
  kz_predict_request r;
  int rc = kz_predict_args(argc, argv, 1, usage, &r);
  if (rc >= 0) return rc;
  return kz_eval_job(&r, stdout) == KZ_OK ? 0 : kz_cli_fail("eval");
}
