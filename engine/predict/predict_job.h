/* `kaizen predict` and `kaizen eval` for every model family: rows from a raw
 * CSV / JSON-lines file (streamed, matched by column name through the
 * model's input schema) or from a data set of shards (remapped by name and
 * category string when its dictionaries differ from the model's). */
#ifndef KZ_ENGINE_PREDICT_PREDICT_JOB_H
#define KZ_ENGINE_PREDICT_PREDICT_JOB_H

#include <stdio.h>

#include "kaizen.h"

typedef struct kz_predict_request {
  const char *model;       /* model.kzm / best.kzm / model.json */
  const char *input;       /* raw .csv / .jsonl / .txt, or NULL */
  const char *data;        /* data set directory, manifest or shard, or NULL */
  const char *split;       /* with data: only that split's shards; NULL: all */
  const char *out;         /* predict: the CSV to write; NULL: stdout */
  const char *keep;        /* predict --input: comma-separated input columns to copy */
  const char *device;      /* NULL: auto */
  const char *plot;        /* predict --data of a forecaster: an SVG of a series and its band */
  const char *plot_series; /* the series to plot (NULL: the first) */
  int overwrite;           /* predict: replace an existing out file */
  int json;                /* eval: one JSON object instead of "name value" lines */
  int quiet;               /* no notes on stderr */
  int max_answer_len;      /* transformer qa on text: longest answer in tokens (0: 30) */
  int qa_stride;           /* ... context tokens shared by two windows (-1: the default) */
  const char *adapter;     /* a LoRA adapter directory to apply (--adapter), or NULL */
} kz_predict_request;

/* One CSV row per input row, in order: the kept columns (--input) or `row`
 * (--data), then the model's outputs (kz_predictor_output_name). Written to
 * out.tmp and renamed when complete. */
kz_status kz_predict_job(const kz_predict_request *r);
/* The model's metrics over every row, printed to out. */
kz_status kz_eval_job(const kz_predict_request *r, FILE *out);

#endif
