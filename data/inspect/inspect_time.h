/* The time section of `kaizen data inspect` (inspect_time.c). Internal to data/inspect. */
#ifndef KZ_DATA_INSPECT_INSPECT_TIME_H
#define KZ_DATA_INSPECT_INSPECT_TIME_H

#include <stdio.h>

#include "data/shard/reader.h"

/* For a timeseries data set: prints the time format and range, the step
 * (meta.time_step, else the most common difference between consecutive
 * times of a series) and the series with gaps (the first `show` of them).
 * Other kinds: prints nothing. */
kz_status kz_inspect_time(const kz_dataset *ds, int show, FILE *out);

#endif
