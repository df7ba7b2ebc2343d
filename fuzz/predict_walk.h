/* Scoring a loaded model file, shared by the GBDT JSON and .kzm harnesses. */
#ifndef KZ_FUZZ_PREDICT_WALK_H
#define KZ_FUZZ_PREDICT_WALK_H

/* Opens path with kz_predictor_open, lays out the columns its input schema
 * names (plus one it does not know) and scores a few rows of awkward cells:
 * numbers, missing values, huge and non-finite numbers, known and unknown
 * category strings. Nothing is expected to succeed; nothing may crash. */
void kz_fuzz_predict_walk(const char *path);

#endif
