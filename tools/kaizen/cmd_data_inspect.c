/* kaizen data inspect DIR|FILE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/inspect/inspect.h"
#include "tools/kaizen/cmd_data.h"
#include "tools/kaizen/commands.h"

static const char usage_text[] =
    "usage: kaizen data inspect DIR|manifest.json|SHARD.h5 [--verify] [--top N]\n\n"
    "Validates the data set and prints its schema, shards (rows and split), per-column\n"
    "statistics (min, max, mean, missing share; categories and their counts) and the\n"
    "label distribution; for timeseries the time range, step and gaps per series.\n"
    "  --verify   recompute every shard's checksum and compare it with the manifest\n"
    "  --top N    categories listed per categorical column, and series with gaps\n"
    "             (default 10)\n"
    "  -h, --help this text\n";

int kz_cmd_data_inspect(int argc, char **argv) {
  const char *path = NULL;
  kz_inspect_options o = {0, 10};
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_text, stdout);
      return 0;
    }
    if (!strcmp(a, "--verify")) {
      o.verify_checksums = 1;
    } else if (!strcmp(a, "--top")) {
      char *end;
      long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
      if (i + 1 >= argc || *end || v < 1 || v > 1000000) {
        fprintf(stderr, "kaizen data inspect: --top needs a positive integer\n\n%s", usage_text);
        return 2;
      }
      o.max_categories_shown = (int)v;
      ++i;
    } else if (a[0] == '-') {
      fprintf(stderr, "kaizen data inspect: unknown option '%s'\n\n%s", a, usage_text);
      return 2;
    } else if (path) {
      fprintf(stderr, "kaizen data inspect: one path only ('%s' and '%s')\n\n%s", path, a,
              usage_text);
      return 2;
    } else {
      path = a;
    }
  }
  if (!path) {
    fprintf(stderr, "kaizen data inspect: a path is required\n\n%s", usage_text);
    return 2;
  }
  if (kz_inspect(path, &o, stdout) != KZ_OK) return kz_cli_fail("data inspect");
  return 0;
}
