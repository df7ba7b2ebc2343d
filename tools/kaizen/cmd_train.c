/* kaizen train JOB.yaml: loads the job config, applies --set overrides and
 * hands it to the model family named by model.type (gbdt or neural). */
#include <stdio.h>
#include <string.h>

#include "common/config/cfg.h"
#include "engine/dist/launch.h"
#include "engine/train/job.h"
#include "models/nn_model.h"
#include "tools/kaizen/commands.h"

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: kaizen train JOB.yaml [--set key=value]... [--resume [--allow-changes]]\n"
      "                    [--device D] [--quiet] [--rendezvous SPEC]\n\n"
      "Trains the model a job config describes (docs/CONFIG.md) and records the run in\n"
      "<output.runs_dir>/<output.experiment>/<run_id>/ (docs/RUNS.md).\n\n"
      "  --set key=value        override a config value, e.g. --set train.lr=0.01 (repeatable)\n"
      "  --resume               continue the newest valid checkpoint of output.run_id\n"
      "  --allow-changes        with --resume: accept config keys that differ from the run's\n"
      "                         config.yaml (the old one is kept in the run)\n"
      "  --quiet                no progress output\n"
      "  --rendezvous SPEC      ranks without MPI: file:///shared/dir or tcp://HOST:PORT\n"
      "                         (docs/DISTRIBUTED.md; under mpirun or srun MPI is used)\n"
      "%s",
      kz_cli_common_help);
}

int kz_cmd_train(int argc, char **argv) {
  kz_cli_common common = {0};
  kz_job_cli cli = {0};
  const char *job = NULL, *rendezvous = NULL;
  const char *sets[256];
  int n_sets = 0;
  for (int i = 1; i < argc; ++i) {
    int r = kz_cli_common_option(&common, argc, argv, &i);
    if (r < 0) return 2;
    if (r > 0) continue;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--set")) {
      if (i + 1 >= argc || n_sets == 256) {
        fprintf(stderr, "kaizen train: --set needs key=value\n");
        return 2;
      }
      sets[n_sets++] = argv[++i];
    } else if (!strcmp(argv[i], "--resume")) {
      cli.resume = 1;
    } else if (!strcmp(argv[i], "--allow-changes")) {
      cli.allow_changes = 1;
    } else if (!strcmp(argv[i], "--quiet")) {
      cli.quiet = 1;
    } else if (!strcmp(argv[i], "--rendezvous")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "kaizen train: --rendezvous needs file:///dir or tcp://HOST:PORT\n");
        return 2;
      }
      rendezvous = argv[++i];
    } else if (argv[i][0] == '-' || job) {
      fprintf(stderr, "kaizen train: unexpected argument '%s'\n\n", argv[i]);
      usage(stderr);
      return 2;
    } else {
      job = argv[i];
    }
  }
  if (!job) {
    usage(stderr);
    return 2;
  }
  if (cli.allow_changes && !cli.resume) {
    fprintf(stderr, "kaizen train: --allow-changes only applies with --resume\n");
    return 2;
  }
  if (kz_cli_common_apply(&common, NULL) != 0) return 1;
  /* Under a launcher every rank runs this; a world of one initialises
   * nothing (engine/dist/launch.h). A rank that fails takes the job down
   * with a message naming it, so no peer waits for it. */
  if (kz_dist_init(rendezvous) != KZ_OK) return kz_cli_fail("train");
  cli.device = common.device;
  kz_cfg *cfg = NULL;
  if (kz_cfg_load_file(job, &cfg) != KZ_OK) return kz_cli_fail("train");
  for (int i = 0; i < n_sets; ++i)
    if (kz_cfg_set(cfg, sets[i]) != KZ_OK) {
      kz_cfg_free(cfg);
      return kz_cli_fail("train: --set");
    }
  /* Every model type a job may name, so a misspelt one lists them all. */
  const char *types[16];
  int n_types = 0;
  for (const char *t; n_types < 14 && (t = kz_nn_model_type_name(n_types)); ++n_types)
    types[n_types] = t;
  const int gbdt = n_types;
  types[n_types++] = "gbdt";
  types[n_types] = NULL;
  int type = -1;
  kz_status st = kz_cfg_get_enum(kz_cfg_section(cfg, "model"), "type", types, -1, &type);
  if (st == KZ_OK) st = type == gbdt ? kz_gbdt_job_train(cfg, &cli) : kz_nn_job_train(cfg, &cli);
  if (st != KZ_OK && kz_dist_size() > 1) kz_dist_fail(kz_last_error());
  int rc = st == KZ_OK ? 0 : kz_cli_fail("train");
  kz_cfg_free(cfg);
  kz_dist_finalize();
  return rc;
}
