/* The command line kaizen predict and kaizen eval share: the model, where
 * the rows come from, --quiet and the common options; predict adds --out,
 * --keep and --overwrite, eval --json. */
#ifndef KZ_TOOLS_KAIZEN_PREDICT_ARGS_H
#define KZ_TOOLS_KAIZEN_PREDICT_ARGS_H

#include <stdio.h>

#include "engine/predict/predict_job.h"

/* Fills r from argv. Returns -1 when the command should run, else the exit
 * status to return at once (0 after --help, 1 or 2 after an error, printed
 * with usage). */
int kz_predict_args(int argc, char **argv, int eval, void (*usage)(FILE *), kz_predict_request *r);

#endif
