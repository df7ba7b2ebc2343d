/* Private layout of the linear model (docs/MODELS.md, "## linear").
 *
 * The feature vector of a row is [standardised numerics (n_num) | missing
 * indicators (one per numeric column) | one-hot of each categorical column,
 * with one extra slot for missing or unseen codes], d wide. Parameters in
 * one block: W [d, n_out] (feature-major: row j holds feature j's weight
 * for every output) then b [n_out]; logits = features @ W + b. */
#ifndef KZ_MODELS_LINEAR_INTERNAL_H
#define KZ_MODELS_LINEAR_INTERNAL_H

#include <stdint.h>

#include "models/linear/linear.h"
#include "models/nn_tabular.h"

/* Named views into one block (as the MLP's kz_mlp_tensors): one set over
 * the parameters, one over the gradients. */
typedef struct kz_linear_tensors {
  kz_tensor w_num;  /* [2 * n_num, n_out]: rows of W for the numerics, then the indicators */
  kz_tensor *w_cat; /* n_cat: [cat_card[j] + 1, n_out], the rows of a column's one-hot slots */
  kz_tensor b;      /* [n_out] */
} kz_linear_tensors;

typedef struct kz_linear {
  kz_nn_model_base base;         /* must be first (nn_model.h) */
  kz_nn_tab tab;                 /* fields, widths, label scaling, device side */
  double *mean, *std;            /* n_num: numeric standardisation */
  int *miss;                     /* n_num: column j's indicator is j (every column has one) */
  int64_t d;                     /* feature width */
  int64_t *cat_off;              /* n_cat + 1: first one-hot row of each column in W */
  char **names;                  /* n_out output names (prediction columns) */
  char **num_names, **cat_names; /* column names, kept for the meta */
  char *label_name;
  kz_linear_tensors p, g; /* views of base.params and base.grads */
} kz_linear;

/* linear.c: sizes, blocks, views and info once the fields above are set
 * (by create or the meta). The size is checked before anything large is
 * allocated: against KZ_NN_MAX_PARAMS, and against want_params when >= 0 (a
 * file's block); allocate 0 stops there. */
kz_status kz_linear_finish_layout(kz_linear *m, kz_device device, int64_t want_params,
                                  int allocate);
void kz_linear_free(kz_linear *m);

/* linear_meta.c */
kz_status kz_linear_meta_json(const kz_nn_model *mm, char **out);

#endif
