/* Objectives: names (XGBoost's), base scores from the data, gradients and
 * hessians, and the quantile leaf values of reg:absoluteerror/quantile. */
#ifndef KZ_MODELS_GBDT_OBJECTIVE_H
#define KZ_MODELS_GBDT_OBJECTIVE_H

#include <stdint.h>

#include "kaizen.h"
#include "models/gbdt/gbdt_model.h"
#include "models/gbdt/hist.h"

/* The objective names (XGBoost's) are in gbdt_json.h. */

/* Checks the labels fit the objective; the error names the first bad row. */
kz_status kz_gbdt_check_labels(kz_gbdt_objective o, int num_class, int64_t n, const float *label,
                               const char *where);

/* base[0..K): squarederror the mean, absoluteerror the median, quantile the
 * alpha-quantile, logistic logit(mean), poisson log(mean), softprob 0 (equal
 * margins; XGBoost's single base_score carries over unchanged). */
void kz_gbdt_base_score(kz_gbdt_objective o, double alpha, int num_class, int64_t n,
                        const float *label, double *base);

/* gh[k * n + r] for class k of row r from margin[r * K + k]. */
void kz_gbdt_gradients(kz_gbdt_objective o, double alpha, int num_class, int64_t n,
                       const double *margin, const float *label, int threads, kz_gbdt_gh *gh);

/* Whether leaves are refit to a quantile of the residuals (XGBoost does so
 * for reg:absoluteerror and reg:quantile); the quantile level. */
int kz_gbdt_objective_refits_leaves(kz_gbdt_objective o, double quantile_alpha, double *level);

/* The level-quantile of v[0..n) (sorted in place), linear interpolation. */
double kz_gbdt_quantile(double *v, int64_t n, double level);

#endif
