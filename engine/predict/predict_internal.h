/* Inside engine/predict: the raw-text path of predict and eval for
 * transformers (predict_text.c), which predict_job.c hands a request to. */
#ifndef KZ_ENGINE_PREDICT_PREDICT_INTERNAL_H
#define KZ_ENGINE_PREDICT_PREDICT_INTERNAL_H

#include <stdio.h>

#include "engine/predict/predict_job.h"
#include "models/nn_model.h"

/* --input with a transformer: one CSV row per text (docs/CLI.md). */
kz_status kz_predict_text_job(const kz_predict_request *r, kz_nn_model *m);
/* --input with a qa transformer: exact match and F1 on the answer text. */
kz_status kz_eval_text_job(const kz_predict_request *r, kz_nn_model *m, FILE *out);

#endif
