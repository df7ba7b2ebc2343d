/* train.init_from for GBDT jobs (gbdt_init.h). */
#include "engine/train/gbdt_init.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/fsutil.h"
#include "data/shard/hash64.h"
#include "data/shard/schema.h"
#include "engine/train/job.h"
#include "kernels/core/error.h"
#include "models/gbdt/gbdt_json.h"

kz_status kz_gbdt_init_load(const char *path, kz_gbdt_model **out, uint64_t *hash) {
  *out = NULL;
  kz_status st = kz_fs_check_regular(path, "model file");
  if (st != KZ_OK) return kz_fail_context(st, "train.init_from");
  const char *kind = kz_model_file_kind(path);
  if (!kind) return kz_fail_context(KZ_ERR_FORMAT, "train.init_from");
  if (strcmp(kind, "gbdt"))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "train.init_from: %s is a neural model (.kzm); a gbdt job continues or "
                   "refreshes a kaizen GBDT model (model.json)",
                   path);
  uint64_t bytes;
  KZ_TRY(kz_hash64_file(path, hash, &bytes));
  st = kz_gbdt_model_load_json(path, out);
  if (st != KZ_OK) return kz_fail_context(st, "train.init_from");
  return KZ_OK;
}

kz_status kz_gbdt_init_params(const kz_gbdt_model *m, const char *path, int alpha_given,
                              kz_gbdt_params *p) {
  if (p->objective < 0) {
    p->objective = m->objective;
  } else if (p->objective != (int)m->objective) {
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "model.objective: %s, but train.init_from %s is a %s model (leave the "
                   "objective auto, or set it to %s)",
                   kz_gbdt_objective_name((kz_gbdt_objective)p->objective), path,
                   kz_gbdt_objective_name(m->objective), kz_gbdt_objective_name(m->objective));
  }
  if (m->objective == KZ_GBDT_MULTI_SOFTPROB) {
    if (p->num_class == 0) p->num_class = m->num_group;
    if (p->num_class != m->num_group)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.num_class: %d, but train.init_from %s has %d classes", p->num_class,
                     path, m->num_group);
  }
  if (m->objective == KZ_GBDT_REG_QUANTILE) {
    if (!alpha_given) p->quantile_alpha = m->quantile_alpha;
    if (p->quantile_alpha != m->quantile_alpha)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.quantile_alpha: %.17g, but train.init_from %s is of quantile %.17g",
                     p->quantile_alpha, path, m->quantile_alpha);
  }
  return KZ_OK;
}

/* "[a, b, c]" (the first 8 names) into buf. */
static const char *name_list(char *const *names, int n, char *buf, size_t cap) {
  size_t o = 0;
  o += (size_t)snprintf(buf + o, cap - o, "[");
  for (int i = 0; i < n && o < cap; ++i) {
    if (i == 8) {
      o += (size_t)snprintf(buf + o, cap - o, ", ... (%d)", n);
      break;
    }
    o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", names[i]);
  }
  if (o < cap) snprintf(buf + o, cap - o, "]");
  return buf;
}

static int same_names(char *const *a, int na, char *const *b, int nb) {
  if (na != nb) return 0;
  for (int i = 0; i < na; ++i)
    if (strcmp(a[i], b[i])) return 0;
  return 1;
}

/* With the model's input schema: each categorical column's categories. */
static kz_status check_dictionaries(const kz_gbdt_model *m, const char *path,
                                    const kz_gbdt_table *t) {
  if (!m->input_schema) return KZ_OK; /* models written before they kept it: sizes only */
  kz_schema s;
  KZ_TRY(kz_schema_from_string(m->input_schema, path, &s));
  kz_status st = KZ_OK;
  char a[512], b[512];
  for (int c = 0; st == KZ_OK && c < t->n_categorical; ++c) {
    const kz_column *mine = &t->cat_cols[c];
    int fi, ci;
    if (!kz_schema_find_column(&s, mine->name, &fi, &ci)) continue; /* names already compared */
    const kz_column *theirs = &s.fields[fi].columns[ci];
    if (!same_names(theirs->categories, theirs->n_categories, mine->categories, mine->n_categories))
      st = kz_fail(KZ_ERR_INVALID_ARG,
                   "train.init_from: %s was trained with categorical column '%s' of categories "
                   "%s, data.train has %s; import the data with the model's dictionaries",
                   path, mine->name,
                   name_list(theirs->categories, theirs->n_categories, a, sizeof a),
                   name_list(mine->categories, mine->n_categories, b, sizeof b));
  }
  kz_schema_free(&s);
  return st;
}

kz_status kz_gbdt_init_check_table(const kz_gbdt_model *m, const char *path,
                                   const kz_gbdt_table *t) {
  if (m->n_numeric != t->n_numeric || m->n_categorical != t->n_categorical)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "train.init_from: %s has %d numeric + %d categorical features, data.train has "
                   "%d + %d columns",
                   path, m->n_numeric, m->n_categorical, t->n_numeric, t->n_categorical);
  for (int f = 0; f < m->n_numeric + m->n_categorical; ++f) {
    int cat = f >= m->n_numeric;
    const char *col = cat ? t->cat_cols[f - m->n_numeric].name : t->num_cols[f].name;
    if (strcmp(m->feature_names[f], col))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "train.init_from: %s's feature %d is '%s', data.train's %s column %d is "
                     "'%s'",
                     path, f, m->feature_names[f], cat ? "categorical" : "numeric",
                     cat ? f - m->n_numeric : f, col);
    if (cat && m->n_categories[f - m->n_numeric] != t->n_categories[f - m->n_numeric])
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "train.init_from: %s's categorical feature '%s' has %d categories, "
                     "data.train's has %d",
                     path, col, m->n_categories[f - m->n_numeric],
                     t->n_categories[f - m->n_numeric]);
  }
  KZ_TRY(check_dictionaries(m, path, t));
  const char *label = t->label_col && t->label_col->name ? t->label_col->name : "label";
  if (m->label_name && strcmp(m->label_name, label))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "train.init_from: %s was trained on the label '%s', data.train's label is '%s'",
                   path, m->label_name, label);
  int classes = m->objective == KZ_GBDT_BINARY_LOGISTIC ? 2 : m->num_group;
  if (m->class_names && t->label_is_code && t->label_col) {
    const kz_column *l = t->label_col;
    char a[512], b[512];
    if (!same_names(m->class_names, classes, l->categories, l->n_categories))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "train.init_from: %s has the classes %s, data.train's label '%s' has %s", path,
                     name_list(m->class_names, classes, a, sizeof a), label,
                     name_list(l->categories, l->n_categories, b, sizeof b));
  }
  return KZ_OK;
}
