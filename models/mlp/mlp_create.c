/* kz_mlp_create: reads the `model` section, resolves the tabular schema and
 * computes the feature and label statistics in one pass over the training
 * data (docs/MODELS.md). */
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/mlp/mlp_internal.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static kz_status read_config(kz_mlp *m, const kz_cfg_node *cfg, int *task_cfg) {
  static const int64_t def_hidden[2] = {256, 128};
  int n = 0;
  KZ_TRY(kz_cfg_get_int_list(cfg, "hidden", def_hidden, 2, KZ_MLP_MAX_LAYERS - 1, m->hidden, &n));
  for (int i = 0; i < n; i++)
    if (m->hidden[i] < 1 || m->hidden[i] > (1 << 20))
      return kz_fail(KZ_ERR_INVALID_ARG, "model.hidden[%d]: %lld is outside [1, 1048576]", i,
                     (long long)m->hidden[i]);
  m->n_hidden = n;

  static const char *const acts[] = {"relu", "gelu", NULL};
  int act = 0;
  KZ_TRY(kz_cfg_get_enum(cfg, "activation", acts, 0, &act));
  m->activation = (kz_mlp_activation)act;

  KZ_TRY(kz_cfg_get_double(cfg, "dropout", 0.1, 0.0, 0.95, &m->dropout));

  /* "auto" or an integer: read as a string first, then as an int so that a
   * non-integer gets the getter's file:line error and the effective config
   * records the number. */
  const char *ed = NULL;
  KZ_TRY(kz_cfg_get_string(cfg, "embedding_dim", "auto", &ed));
  if (strcmp(ed, "auto") == 0) {
    m->embedding_dim_cfg = 0;
  } else {
    int64_t v = 0;
    KZ_TRY(kz_cfg_get_int(cfg, "embedding_dim", 8, 1, 1024, &v));
    m->embedding_dim_cfg = (int)v;
  }

  static const char *const tasks[] = {"auto", "classification", "regression", NULL};
  KZ_TRY(kz_cfg_get_enum(cfg, "task", tasks, 0, task_cfg));

  static const char *const inits[] = {"he", "xavier", NULL};
  int init = 0;
  KZ_TRY(kz_cfg_get_enum(cfg, "init", inits, 0, &init));
  m->init = (kz_mlp_init)init;

  KZ_TRY(kz_cfg_get_int_list(cfg, "freeze_layers", NULL, 0, KZ_MLP_MAX_LAYERS, m->freeze,
                             &m->n_freeze));
  for (int i = 0; i < m->n_freeze; i++)
    if (m->freeze[i] < 0 || m->freeze[i] > m->n_hidden ||
        (i > 0 && m->freeze[i] <= m->freeze[i - 1]))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.freeze_layers[%d]: %lld, expected increasing layer indices in [0, %d] "
                     "(0 is the first linear layer, %d the output layer)",
                     i, (long long)m->freeze[i], m->n_hidden, m->n_hidden);
  return KZ_OK;
}

/* Field indices, column names, dictionaries and the task. */
static kz_status read_schema(kz_mlp *m, const kz_schema *s, const char *where, int task_cfg) {
  if (strcmp(s->kind, "tabular") != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "mlp: %s: data set kind is '%s', need 'tabular'", where,
                   s->kind);
  m->n_fields = s->n_fields;
  m->tab.f_num = kz_schema_field_index(s, "numeric");
  m->tab.f_cat = kz_schema_field_index(s, "categorical");
  m->tab.f_label = kz_schema_field_index(s, "label");
  if (m->tab.f_label < 0)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "mlp: %s: the data set has no 'label' field (import with "
                   "--label)",
                   where);
  const kz_field *lf = &s->fields[m->tab.f_label];
  int is_class = lf->type == KZ_FIELD_I32;
  if (task_cfg == 1 && !is_class)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.task: classification needs a categorical (int32) label, but label '%s' "
                   "of %s is float32 (import with --label-type categorical)",
                   s->label ? s->label : "label", where);
  if (task_cfg == 2 && is_class)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.task: regression needs a numeric (float32) label, but label '%s' of %s "
                   "holds class codes",
                   s->label ? s->label : "label", where);
  m->task = is_class ? KZ_MLP_CLASSIFICATION : KZ_MLP_REGRESSION;
  m->tab.who = "mlp";
  m->tab.classification = is_class;
  m->label_name = dup_str(lf->n_columns > 0 ? lf->columns[0].name : "label");
  if (!m->label_name) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: schema");
  if (is_class) {
    int32_t nc = lf->n_columns > 0 ? lf->columns[0].n_categories : 0;
    if (nc < 2)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "mlp: %s: classification label '%s' has %d categories, need at least 2", where,
                     m->label_name, (int)nc);
    m->n_classes = nc;
    m->class_names = calloc((size_t)nc, sizeof(char *));
    if (!m->class_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: schema");
    for (int32_t k = 0; k < nc; k++)
      if (!(m->class_names[k] = dup_str(lf->columns[0].categories[k])))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: schema");
  }

  if (m->tab.f_num >= 0) {
    const kz_field *f = &s->fields[m->tab.f_num];
    m->tab.n_num = f->width;
    m->num_names = calloc((size_t)(m->tab.n_num ? m->tab.n_num : 1), sizeof(char *));
    if (!m->num_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: schema");
    for (int64_t i = 0; i < m->tab.n_num; i++)
      if (!(m->num_names[i] = dup_str(f->n_columns > i ? f->columns[i].name : "numeric")))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: schema");
  }
  if (m->tab.f_cat >= 0) {
    const kz_field *f = &s->fields[m->tab.f_cat];
    m->tab.n_cat = f->width;
    size_t n = (size_t)(m->tab.n_cat ? m->tab.n_cat : 1);
    m->cat_names = calloc(n, sizeof(char *));
    m->tab.cat_card = calloc(n, sizeof(int32_t));
    m->cat_dim = calloc(n, sizeof(int64_t));
    if (!m->cat_names || !m->tab.cat_card || !m->cat_dim)
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: schema");
    for (int64_t j = 0; j < m->tab.n_cat; j++) {
      const kz_column *c = f->n_columns > j ? &f->columns[j] : NULL;
      if (!(m->cat_names[j] = dup_str(c ? c->name : "categorical")))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: schema");
      m->tab.cat_card[j] = c ? c->n_categories : 0;
      m->cat_dim[j] = m->embedding_dim_cfg > 0 ? m->embedding_dim_cfg
                                               : kz_mlp_auto_embedding_dim(m->tab.cat_card[j]);
    }
  }
  return KZ_OK;
}

/* The statistics pass (kz_nn_tab_stats); a missing-indicator input for
 * each numeric column with a missing value in the training split. */
static kz_status compute_stats(kz_mlp *m, kz_dataset *ds) {
  size_t nn = (size_t)(m->tab.n_num ? m->tab.n_num : 1);
  m->num_mean = calloc(nn, sizeof(double));
  m->num_std = calloc(nn, sizeof(double));
  m->miss_index = calloc(nn, sizeof(int));
  int64_t *miss = calloc(nn, sizeof(int64_t));
  kz_status st = KZ_OK;
  if (!m->num_mean || !m->num_std || !m->miss_index || !miss)
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: statistics");
  if (st == KZ_OK) st = kz_nn_tab_stats(&m->tab, ds, m->num_mean, m->num_std, miss);
  m->n_miss = 0;
  for (int64_t i = 0; st == KZ_OK && i < m->tab.n_num; i++)
    m->miss_index[i] = miss[i] > 0 ? (int)m->n_miss++ : -1;
  free(miss);
  return st;
}

kz_status kz_mlp_create(const kz_cfg_node *model_cfg, kz_dataset *train, kz_device device,
                        kz_nn_model **out) {
  *out = NULL;
  kz_mlp *m = calloc(1, sizeof(*m));
  if (!m) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "mlp: model");
  m->tab.f_num = m->tab.f_cat = m->tab.f_label = -1;
  const char *where = kz_dataset_path(train);
  int task_cfg = 0;
  kz_status st = read_config(m, model_cfg, &task_cfg);
  if (st == KZ_OK) st = read_schema(m, kz_dataset_schema(train), where, task_cfg);
  if (st == KZ_OK) st = compute_stats(m, train);
  if (st == KZ_OK) st = kz_mlp_finish_layout(m, device, -1, 1);
  if (st != KZ_OK) {
    kz_mlp_free(m);
    return st;
  }
  *out = (kz_nn_model *)m;
  return KZ_OK;
}
