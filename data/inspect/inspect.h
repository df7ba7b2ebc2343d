/* `kaizen data inspect`: what a data set holds — schema, shards, per-column
 * statistics and the label distribution — printed as text. */
#ifndef KZ_DATA_INSPECT_INSPECT_H
#define KZ_DATA_INSPECT_INSPECT_H

#include <stdio.h>

#include "kaizen.h"

typedef struct kz_inspect_options {
  int verify_checksums;
  int max_categories_shown; /* per categorical column (default 10) */
} kz_inspect_options;

/* path: a data set directory, a manifest.json or one shard file. */
kz_status kz_inspect(const char *path, const kz_inspect_options *options, FILE *out);

#endif
