/* Private layout of the tabular MLP (docs/MODELS.md, "## mlp").
 *
 * Input row = [standardised numeric (n_num) | missing indicators (n_miss) |
 * embedding of each categorical column (dims[j] each)], then hidden linear
 * layers with activation and inverted dropout, then a linear output layer.
 * Parameters in one block, in this order: emb_0 .. emb_{n_cat-1}
 * ([n_categories+1, dim], the last row is "missing / unknown"), then per
 * layer W [out, in] (PyTorch's nn.Linear layout, applied as x @ W^T) and
 * b [out]. */
#ifndef KZ_MODELS_MLP_INTERNAL_H
#define KZ_MODELS_MLP_INTERNAL_H

#include <stdint.h>

#include "kernels/core/arena.h"
#include "kernels/core/backend.h"
#include "models/mlp/mlp.h"
#include "models/nn_tabular.h"

enum { KZ_MLP_MAX_LAYERS = 16 }; /* hidden layers + the output layer */

typedef enum { KZ_MLP_CLASSIFICATION = 0, KZ_MLP_REGRESSION = 1 } kz_mlp_task;
typedef enum { KZ_MLP_RELU = 0, KZ_MLP_GELU = 1 } kz_mlp_activation;
typedef enum { KZ_MLP_INIT_HE = 0, KZ_MLP_INIT_XAVIER = 1 } kz_mlp_init;

/* Named views into one block (as llm.c's ParameterTensors): the model keeps
 * one set over the parameter block and one over the gradient block, so its
 * code names tensors instead of doing offset arithmetic. */
typedef struct kz_mlp_tensors {
  kz_tensor *emb;                 /* n_cat: [categories + 1, dim] */
  kz_tensor w[KZ_MLP_MAX_LAYERS]; /* [out, in] */
  kz_tensor b[KZ_MLP_MAX_LAYERS]; /* [out] */
} kz_mlp_tensors;

typedef struct kz_mlp {
  kz_nn_model_base base; /* must stay first (nn_model.h) */

  /* configuration */
  kz_mlp_task task;
  kz_mlp_activation activation;
  kz_mlp_init init;
  double dropout;
  int embedding_dim_cfg; /* 0 = auto */
  int n_hidden;
  int64_t hidden[KZ_MLP_MAX_LAYERS];
  /* model.freeze_layers: linear layers (0 = the first) whose W and b stay
   * as initialised or loaded; the rest are the trainable ranges */
  int n_freeze;
  int64_t freeze[KZ_MLP_MAX_LAYERS];

  /* schema: the batch side shared with the linear model (field indices,
   * widths, category counts, label scaling; the stream, staging and arena),
   * completed by kz_mlp_finish_layout */
  kz_nn_tab tab;
  int n_fields;
  int64_t n_miss;
  char **num_names, **cat_names;
  double *num_mean, *num_std; /* n_num, from the training data */
  int *miss_index;            /* n_num: indicator position, or -1 */
  int64_t *cat_dim;           /* n_cat: embedding width */
  char *label_name;
  int n_classes;      /* classification */
  char **class_names; /* n_classes */

  /* derived layout */
  int64_t in_dim;
  int n_layers;                         /* n_hidden + 1 */
  int64_t width[KZ_MLP_MAX_LAYERS + 1]; /* width[0] = in_dim, width[n_layers] = out */
  int64_t w_off[KZ_MLP_MAX_LAYERS];     /* offsets in the block */
  int64_t b_off[KZ_MLP_MAX_LAYERS];
  int64_t *emb_off; /* n_cat */
  int64_t *emb_col; /* n_cat: first input column of each embedding */

  kz_mlp_tensors p, g; /* views of base.params and base.grads */
} kz_mlp;

/* mlp_layout.c: config-independent construction shared by create and
 * from_meta: allocates the blocks, offsets and info once the fields above
 * the "derived layout" line are filled in. The size is checked first:
 * against KZ_NN_MAX_PARAMS, and against want_params when it is >= 0 (a file's
 * parameter block); allocate 0 stops after the checks. */
kz_status kz_mlp_finish_layout(kz_mlp *m, kz_device device, int64_t want_params, int allocate);
void kz_mlp_free(kz_mlp *m);
/* Views of the layout's tensors in the block at base (n_params floats on
 * device); free with kz_mlp_tensors_free. */
kz_status kz_mlp_tensors_make(const kz_mlp *m, float *base, kz_device device, kz_mlp_tensors *out);
void kz_mlp_tensors_free(kz_mlp_tensors *t);
int64_t kz_mlp_auto_embedding_dim(int32_t categories);

/* mlp_init.c */
kz_status kz_mlp_init_params(kz_nn_model *model, uint64_t seed);

/* mlp_forward.c */
kz_status kz_mlp_train_batch(kz_nn_model *model, const kz_shard_batch *b, double weight,
                             uint64_t dropout_seed, double *loss);
kz_status kz_mlp_eval_batch(kz_nn_model *model, const kz_shard_batch *b, kz_nn_eval *acc);
void kz_mlp_eval_finish(const kz_nn_model *model, const kz_nn_eval *acc, kz_nn_metrics *out);
kz_status kz_mlp_predict_batch(kz_nn_model *model, const kz_shard_batch *b, float *out);

/* mlp_meta.c */
kz_status kz_mlp_meta_json(const kz_nn_model *model, char **out);
kz_status kz_mlp_save(const kz_nn_model *model, const char *path);

extern const kz_nn_model_ops kz_mlp_ops;

#endif
