/* kaizen GBDT model -> XGBoost 1.7 JSON model (see gbdt_xgb_export.h). */
#include "models/gbdt/gbdt_xgb_export.h"

#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs/atomic_file.h"
#include "kernels/core/error.h"
#include "models/float_text.h"
#include "models/gbdt/gbdt_json.h"

/* XGBoost's JSON reader types a number without '.' or an exponent as an
 * integer, and float fields must hold floats: always print one of them. */
static void put_real(FILE *f, float v) {
  char buf[KZ_FLOAT_TEXT_MAX];
  kz_float_to_text(v, buf);
  fputs(buf, f);
  if (!strpbrk(buf, ".eE")) fputs(".0", f);
}

typedef struct xgb_tree_view {
  const kz_gbdt_tree *t; /* NULL: a single-leaf tree holding `stump` */
  float stump;
} xgb_tree_view;

static void put_reals(FILE *f, const char *key, const float *v, int32_t n, int comma) {
  fprintf(f, "\"%s\": [", key);
  for (int32_t i = 0; i < n; ++i) {
    if (i) fputs(", ", f);
    put_real(f, v[i]);
  }
  fprintf(f, "]%s", comma ? ", " : "");
}

static void put_ints(FILE *f, const char *key, const int32_t *v, int32_t n, int comma) {
  fprintf(f, "\"%s\": [", key);
  for (int32_t i = 0; i < n; ++i) fprintf(f, i ? ", %d" : "%d", v[i]);
  fprintf(f, "]%s", comma ? ", " : "");
}

/* One tree in XGBoost's layout. Scratch arrays are sized for n_nodes. */
static kz_status write_tree(FILE *f, const kz_gbdt_tree *t, int id, int32_t n_features) {
  int32_t n = t->n_nodes;
  int32_t *parents = malloc((size_t)n * sizeof *parents);
  int32_t *split_idx = malloc((size_t)n * sizeof *split_idx);
  int32_t *split_type = malloc((size_t)n * sizeof *split_type);
  int32_t *dleft = malloc((size_t)n * sizeof *dleft);
  int32_t *cat_nodes = malloc((size_t)n * sizeof *cat_nodes);
  int32_t *cat_seg = malloc((size_t)n * sizeof *cat_seg);
  int32_t *cat_size = malloc((size_t)n * sizeof *cat_size);
  float *cond = malloc((size_t)n * sizeof *cond);
  float *weight = malloc((size_t)n * sizeof *weight);
  float *loss = malloc((size_t)n * sizeof *loss);
  int32_t *cats = malloc((size_t)(t->n_cat_values + 1) * sizeof *cats);
  kz_status st = KZ_OK;
  if (!parents || !split_idx || !split_type || !dleft || !cat_nodes || !cat_seg || !cat_size ||
      !cond || !weight || !loss || !cats) {
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "xgboost export: out of memory");
    goto done;
  }
  /* XGBoost marks the root's parent with the largest int32. */
  parents[0] = 2147483647;
  int32_t n_cat_nodes = 0, n_cats = 0;
  for (int32_t i = 0; i < n; ++i) {
    int leaf = t->left[i] < 0;
    if (!leaf) {
      parents[t->left[i]] = i;
      parents[t->right[i]] = i;
    }
    split_idx[i] = leaf ? 0 : t->feature[i];
    /* XGBoost refuses a categorical split with no categories; sending every
     * present value left is the numeric split "x < FLT_MAX" on the codes. */
    int empty_set = !leaf && t->is_categorical[i] && t->cat_count[i] == 0;
    split_type[i] = !leaf && t->is_categorical[i] && !empty_set;
    dleft[i] = !leaf && t->default_left[i];
    cond[i] = leaf            ? t->leaf_value[i]
              : empty_set     ? FLT_MAX
              : split_type[i] ? 0.0f
                              : t->threshold[i];
    weight[i] = leaf ? t->leaf_value[i] : 0.0f;
    loss[i] = leaf ? 0.0f : t->gain[i];
    if (split_type[i]) {
      cat_nodes[n_cat_nodes] = i;
      cat_seg[n_cat_nodes] = n_cats;
      cat_size[n_cat_nodes] = t->cat_count[i];
      for (int32_t k = 0; k < t->cat_count[i]; ++k)
        cats[n_cats++] = t->cat_values[t->cat_begin[i] + k];
      ++n_cat_nodes;
    }
  }
  fputs("{", f);
  put_reals(f, "base_weights", weight, n, 1);
  put_ints(f, "categories", cats, n_cats, 1);
  put_ints(f, "categories_nodes", cat_nodes, n_cat_nodes, 1);
  put_ints(f, "categories_segments", cat_seg, n_cat_nodes, 1);
  put_ints(f, "categories_sizes", cat_size, n_cat_nodes, 1);
  put_ints(f, "default_left", dleft, n, 1);
  fprintf(f, "\"id\": %d, ", id);
  put_ints(f, "left_children", t->left, n, 1);
  put_reals(f, "loss_changes", loss, n, 1);
  put_ints(f, "parents", parents, n, 1);
  put_ints(f, "right_children", t->right, n, 1);
  put_reals(f, "split_conditions", cond, n, 1);
  put_ints(f, "split_indices", split_idx, n, 1);
  put_ints(f, "split_type", split_type, n, 1);
  put_reals(f, "sum_hessian", t->cover, n, 1);
  fprintf(f,
          "\"tree_param\": {\"num_deleted\": \"0\", \"num_feature\": \"%d\", \"num_nodes\": "
          "\"%d\", \"size_leaf_vector\": \"0\"}}",
          n_features, n);
done:
  free(parents);
  free(split_idx);
  free(split_type);
  free(dleft);
  free(cat_nodes);
  free(cat_seg);
  free(cat_size);
  free(cond);
  free(weight);
  free(loss);
  free(cats);
  return st;
}

/* The objective's section and the base_score whose margin is exactly 0. */
static kz_status objective_json(const kz_gbdt_model *m, char *buf, size_t len,
                                const char **base_score) {
  switch (m->objective) {
  case KZ_GBDT_REG_SQUAREDERROR:
    snprintf(buf, len,
             "{\"name\": \"reg:squarederror\", \"reg_loss_param\": "
             "{\"scale_pos_weight\": \"1\"}}");
    *base_score = "0";
    return KZ_OK;
  case KZ_GBDT_REG_ABSOLUTEERROR:
    snprintf(buf, len, "{\"name\": \"reg:absoluteerror\"}");
    *base_score = "0";
    return KZ_OK;
  case KZ_GBDT_BINARY_LOGISTIC: /* margin = logit(base_score) */
    snprintf(buf, len,
             "{\"name\": \"binary:logistic\", \"reg_loss_param\": "
             "{\"scale_pos_weight\": \"1\"}}");
    *base_score = "0.5";
    return KZ_OK;
  case KZ_GBDT_MULTI_SOFTPROB:
    snprintf(buf, len,
             "{\"name\": \"multi:softprob\", \"softmax_multiclass_param\": {\"num_class\": "
             "\"%d\"}}",
             m->num_group);
    *base_score = "0";
    return KZ_OK;
  case KZ_GBDT_COUNT_POISSON: /* margin = log(base_score) */
    snprintf(buf, len,
             "{\"name\": \"count:poisson\", \"poisson_regression_param\": "
             "{\"max_delta_step\": \"0.699999988\"}}");
    *base_score = "1";
    return KZ_OK;
  case KZ_GBDT_REG_QUANTILE:
    break;
  }
  return kz_fail(KZ_ERR_UNSUPPORTED,
                 "xgboost export: objective %s has no XGBoost 1.7 equivalent (XGBoost added "
                 "reg:quantileerror in 2.0); export refused",
                 kz_gbdt_objective_name(m->objective));
}

static kz_status write_model(FILE *f, const kz_gbdt_model *m) {
  char objective[256];
  const char *base_score = "0";
  KZ_TRY(objective_json(m, objective, sizeof objective, &base_score));
  int32_t nf = m->n_numeric + m->n_categorical, G = m->num_group;
  int stumps = 0;
  for (int g = 0; g < G; ++g) stumps |= m->base_score[g] != 0;
  int32_t n_out = m->n_trees + (stumps ? G : 0);

  fputs("{\"learner\": {\"attributes\": {}, \"feature_names\": [", f);
  for (int32_t i = 0; i < nf; ++i) {
    if (i) fputs(", ", f);
    kz_gbdt_json_put_string(f, m->feature_names[i]);
  }
  fputs("], \"feature_types\": [", f);
  for (int32_t i = 0; i < nf; ++i)
    fprintf(f, "%s\"%s\"", i ? ", " : "", i < m->n_numeric ? "float" : "c");
  fprintf(f,
          "],\n\"gradient_booster\": {\"model\": {\"gbtree_model_param\": {\"num_parallel_tree\": "
          "\"1\", \"num_trees\": \"%d\", \"size_leaf_vector\": \"0\"},\n\"tree_info\": [",
          n_out);
  int32_t k = 0;
  if (stumps)
    for (int g = 0; g < G; ++g) fprintf(f, k++ ? ", %d" : "%d", g);
  for (int32_t i = 0; i < m->n_trees; ++i) fprintf(f, k++ ? ", %d" : "%d", m->tree_group[i]);
  fputs("],\n\"trees\": [\n", f);
  int id = 0;
  if (stumps)
    for (int g = 0; g < G; ++g) {
      /* A single leaf carrying the group's base margin. */
      int32_t minus1 = -1, zero = 0;
      uint8_t no = 0;
      float value = 0, cover = 0;
      if (!kz_float_from_double(m->base_score[g], &value))
        return kz_fail(KZ_ERR_UNSUPPORTED,
                       "xgboost export: base_score[%d] = %g does not fit XGBoost's float", g,
                       m->base_score[g]);
      kz_gbdt_tree leaf = {1,     &minus1, &minus1, &minus1, &value, &no,    &no,
                           &zero, &zero,   NULL,    0,       &value, &cover, &cover};
      KZ_TRY(write_tree(f, &leaf, id, nf));
      fputs(id++ < n_out - 1 ? ",\n" : "\n", f);
    }
  for (int32_t i = 0; i < m->n_trees; ++i) {
    KZ_TRY(write_tree(f, &m->trees[i], id, nf));
    fputs(id++ < n_out - 1 ? ",\n" : "\n", f);
  }
  fprintf(f,
          "]}, \"name\": \"gbtree\"},\n\"learner_model_param\": {\"base_score\": \"%s\", "
          "\"boost_from_average\": \"1\", \"num_class\": \"%d\", \"num_feature\": \"%d\", "
          "\"num_target\": \"1\"},\n\"objective\": %s},\n\"version\": [1, 7, 4]}\n",
          base_score, m->objective == KZ_GBDT_MULTI_SOFTPROB ? G : 0, nf, objective);
  return KZ_OK;
}

kz_status kz_gbdt_export_xgboost_json(const kz_gbdt_model *m, const char *path) {
  if (!path) return kz_fail(KZ_ERR_INVALID_ARG, "xgboost export: no output path");
  KZ_TRY(kz_gbdt_model_validate(m, "xgboost export"));
  char objective[256];
  const char *base_score;
  /* Refuse unsupported objectives before creating any file. */
  KZ_TRY(objective_json(m, objective, sizeof objective, &base_score));
  kz_atomic_file out;
  KZ_TRY(kz_atomic_file_open(&out, path));
  return kz_atomic_file_finish(&out, write_model(out.f, m));
}
