/* Label checks shared by every trainer (MLP, linear, GBDT), run on the
 * training and validation data before the run directory exists.
 *
 * A label that is ±inf (a number too large for float32 at import, or a
 * literal inf) or a class code outside the label's dictionary is an error
 * naming the data set, its split and the row: training on it gives a
 * meaningless model (an infinite label mean) or silently drops rows.
 * A missing label (NaN, code -1) is not checked here: the neural models
 * leave such rows out, the GBDT refuses them (models/gbdt/objective.c). */
#ifndef KZ_ENGINE_TRAIN_LABELS_H
#define KZ_ENGINE_TRAIN_LABELS_H

#include <stdint.h>

#include "data/shard/reader.h"
#include "kaizen.h"

/* Rows [0, n) of b, numbered row0.. in the message. what: the config
 * key ("data.train"); path: the data set; split: its split, or NULL for the
 * whole set. A schema without a label field passes. */
kz_status kz_labels_check_batch(const kz_schema *s, const kz_shard_batch *b, int64_t n,
                                int64_t row0, const char *what, const char *path,
                                const char *split);
/* Reads every row of ds (in chunks, a bounded amount of memory) and checks
 * its labels as kz_labels_check_batch does (path: the data set as the job
 * names it). train: NULL, or (for a
 * validation set) the training set's schema, whose label classes the codes
 * must mean: a different label dictionary is an error (codes would be read
 * as other classes, or dropped as unknown). */
kz_status kz_labels_check_dataset(kz_dataset *ds, const char *what, const char *path,
                                  const char *split, const kz_schema *train);

#endif
