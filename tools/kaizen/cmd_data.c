/* kaizen data: import, inspect and vocab. */
#include <stdio.h>
#include <string.h>

#include "tools/kaizen/cmd_data.h"
#include "tools/kaizen/cmd_data_vocab.h"
#include "tools/kaizen/commands.h"

static void usage(FILE *out) {
  fprintf(out, "usage: kaizen data <import|inspect|vocab> [options]\n\n"
               "  import   CSV -> kaizen HDF5 shards (tabular, text, timeseries)\n"
               "  inspect  schema, shards, column statistics, label distribution\n"
               "  vocab    train a WordPiece vocabulary\n\n"
               "Run `kaizen data <subcommand> --help` for its options. Docs: docs/DATA.md,\n"
               "docs/FORMATS.md, docs/TOKENIZER.md\n");
}

int kz_cmd_data(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *sub = argv[1];
  if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(sub, "import")) return kz_cmd_data_import(argc - 1, argv + 1);
  if (!strcmp(sub, "inspect")) return kz_cmd_data_inspect(argc - 1, argv + 1);
  if (!strcmp(sub, "vocab")) return kz_cmd_data_vocab(argc - 1, argv + 1);
  fprintf(stderr, "kaizen data: unknown subcommand '%s'\n\n", sub);
  usage(stderr);
  return 2;
}
