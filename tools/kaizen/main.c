/* kaizen: the command-line entry point. Dispatches to one subcommand. */
#include <stdio.h>
#include <string.h>

#include "data/shard/h5util.h"
#include "tools/kaizen/commands.h"

typedef struct kz_command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} kz_command;

static const kz_command commands[] = {
    {"info", kz_cmd_info, "build, devices and the kernel configuration in effect"},
    {"kernels", kz_cmd_kernels, "test and benchmark the kernels: parity, gradients, speed"},
    {"data", kz_cmd_data, "import, inspect and tokenize data sets (HDF5 shards)"},
    {"train", kz_cmd_train, "train a model from a job config (neural or gbdt), resume a run"},
    {"predict", kz_cmd_predict, "predictions of a saved model for a data set, as CSV"},
    {"eval", kz_cmd_eval, "metrics of a saved model on a data set"},
    {"serve", kz_cmd_serve, "serve models over HTTP (KServe v2), with metrics"},
    {"gbdt", kz_cmd_gbdt, "GBDT model tools: importance, XGBoost export, TreeSHAP"},
    {"export", kz_cmd_export, "write a transformer as a Hugging Face BERT directory"},
    {"embed", kz_cmd_embed, "mean-pooled sentence embeddings of a transformer or a HF BERT dir"},
    {"weights", kz_cmd_weights, "inspect and check safetensors files and Hugging Face BERT dirs"},
    {"runs", kz_cmd_runs, "list, compare and plot recorded training runs"},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *out) {
  fprintf(out,
          "kaizen %s — training and inference engine\n\n"
          "usage: kaizen <command> [options]\n\ncommands:\n",
          kz_version());
  for (int i = 0; i < n_commands; ++i)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out,
          "\nOptions every command takes (after the command: kaizen info --device cpu):\n%s\n"
          "Run `kaizen <command> --help` for a command's options. Docs: docs/CLI.md\n",
          kz_cli_common_help);
}

int main(int argc, char **argv) {
  kz_h5_skip_exit_cleanup(); /* why: h5util.h */
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("kaizen %s\n", kz_version());
    return 0;
  }
  for (int i = 0; i < n_commands; ++i)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "kaizen: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
