/* The kaizen GBDT model file (docs/GBDT.md, "Model file"): writer, loader and
 * the validation both share. The writer prints the JSON itself rather than
 * through jansson so that floats come out with the fewest digits that read
 * back to the same bits through the loader's own path, (float)strtod
 * (models/float_text.h; jansson prints every real with 17 digits). */
#include "models/gbdt/gbdt_json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs/atomic_file.h"
#include "data/shard/fsutil.h"
#include "data/shard/schema.h"
#include "kernels/core/error.h"
#include "models/float_text.h"
#include "models/gbdt/tree_build.h"

/* ---- names ---------------------------------------------------------------- */

static const char *const objective_names[] = {"reg:squarederror", "reg:absoluteerror",
                                              "reg:quantile",     "binary:logistic",
                                              "multi:softprob",   "count:poisson"};
enum { N_OBJECTIVES = (int)(sizeof objective_names / sizeof objective_names[0]) };

const char *kz_gbdt_objective_name(kz_gbdt_objective o) {
  return (int)o >= 0 && (int)o < N_OBJECTIVES ? objective_names[o] : "unknown";
}

int kz_gbdt_objective_parse(const char *name, kz_gbdt_objective *out) {
  for (int i = 0; i < N_OBJECTIVES; ++i)
    if (!strcmp(name, objective_names[i])) {
      *out = (kz_gbdt_objective)i;
      return 1;
    }
  return 0;
}

/* ---- validation (in memory) ------------------------------------------------- */

/* Tree shape: every node but the root has exactly one parent, the root none,
 * and every node is reachable from the root (so there are no cycles). */
static kz_status check_tree_shape(const kz_gbdt_tree *t, const char *where, int ti) {
  int32_t n = t->n_nodes;
  int32_t *parent = malloc((size_t)n * sizeof *parent);
  int32_t *stack = malloc((size_t)n * sizeof *stack);
  if (!parent || !stack) {
    free(parent);
    free(stack);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: trees[%d]: out of memory", where, ti);
  }
  for (int32_t i = 0; i < n; ++i) parent[i] = -1;
  kz_status st = KZ_OK;
  for (int32_t i = 0; i < n && st == KZ_OK; ++i) {
    const int32_t kids[2] = {t->left[i], t->right[i]};
    const char *side[2] = {"left", "right"};
    for (int s = 0; s < 2 && st == KZ_OK; ++s) {
      int32_t c = kids[s];
      if (c < 0) continue;
      if (c == 0)
        st = kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].%s[%d]: points back to the root (cycle)", where,
                     ti, side[s], i);
      else if (c == i)
        st = kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].%s[%d]: node is its own child (cycle)", where,
                     ti, side[s], i);
      else if (parent[c] >= 0)
        st = kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].%s[%d]: node %d already has parent %d", where,
                     ti, side[s], i, c, parent[c]);
      else
        parent[c] = i;
    }
  }
  if (st == KZ_OK) {
    /* n-1 edges into distinct non-root nodes: it is a tree iff all nodes are
     * reachable. Each node has at most one parent, so each is pushed at most
     * once; parent[] is reused to hold each reached node's depth (-1: not
     * reached), which is bounded here so that no later walk (TreeSHAP's
     * recursion and its depth^2 path) meets a pathological chain. */
    int32_t top = 0;
    for (int32_t i = 0; i < n; ++i) parent[i] = -1;
    parent[0] = 0;
    stack[top++] = 0;
    while (top > 0 && st == KZ_OK) {
      int32_t v = stack[--top];
      if (t->left[v] < 0) continue;
      if (parent[v] >= KZ_GBDT_MAX_DEPTH) {
        st = kz_fail(KZ_ERR_FORMAT,
                     "%s: trees[%d]: node %d is at depth %d and has children; trees may be at "
                     "most %d levels deep",
                     where, ti, v, parent[v], KZ_GBDT_MAX_DEPTH);
        break;
      }
      parent[t->left[v]] = parent[t->right[v]] = parent[v] + 1;
      stack[top++] = t->left[v];
      stack[top++] = t->right[v];
    }
    for (int32_t i = 0; i < n && st == KZ_OK; ++i)
      if (parent[i] < 0)
        st = kz_fail(KZ_ERR_FORMAT,
                     "%s: trees[%d]: node %d is not reachable from the root (a cycle or a "
                     "detached node)",
                     where, ti, i);
  }
  free(parent);
  free(stack);
  return st;
}

static kz_status check_tree(const kz_gbdt_model *m, int ti, const char *where) {
  const kz_gbdt_tree *t = &m->trees[ti];
  int32_t nf = m->n_numeric + m->n_categorical;
  if (t->n_nodes < 1)
    return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d]: a tree needs at least one node (has %d)", where,
                   ti, t->n_nodes);
  if (!t->left || !t->right || !t->feature || !t->threshold || !t->default_left ||
      !t->is_categorical || !t->cat_begin || !t->cat_count || !t->leaf_value || !t->gain ||
      !t->cover || (t->n_cat_values > 0 && !t->cat_values) || t->n_cat_values < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: trees[%d]: missing node arrays", where, ti);
  for (int32_t i = 0; i < t->n_nodes; ++i) {
    int32_t l = t->left[i], r = t->right[i];
    if (l < -1 || l >= t->n_nodes)
      return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].left[%d]: child index %d out of range [-1, %d)",
                     where, ti, i, l, t->n_nodes);
    if (r < -1 || r >= t->n_nodes)
      return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].right[%d]: child index %d out of range [-1, %d)",
                     where, ti, i, r, t->n_nodes);
    if ((l < 0) != (r < 0))
      return kz_fail(KZ_ERR_FORMAT,
                     "%s: trees[%d]: node %d has one child (left %d, right %d); a node has two "
                     "children or none",
                     where, ti, i, l, r);
    int leaf = l < 0;
    int32_t f = t->feature[i];
    if (leaf && f != -1)
      return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].feature[%d]: a leaf has feature -1, not %d",
                     where, ti, i, f);
    if (!leaf && (f < 0 || f >= nf))
      return kz_fail(KZ_ERR_FORMAT,
                     "%s: trees[%d].feature[%d]: feature index %d out of range [0, %d)", where, ti,
                     i, f, nf);
    if (t->default_left[i] > 1 || t->is_categorical[i] > 1)
      return kz_fail(KZ_ERR_FORMAT,
                     "%s: trees[%d]: node %d: default_left/categorical must be 0 or 1", where, ti,
                     i);
    if (!leaf && t->is_categorical[i] != (f >= m->n_numeric))
      return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].categorical[%d]: is %d but feature %d is %s",
                     where, ti, i, t->is_categorical[i], f,
                     f >= m->n_numeric ? "categorical" : "numeric");
    if (leaf && t->is_categorical[i])
      return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].categorical[%d]: a leaf has no split", where, ti,
                     i);
    if (!isfinite(t->threshold[i]) || !isfinite(t->leaf_value[i]) || !isfinite(t->gain[i]) ||
        !isfinite(t->cover[i]))
      return kz_fail(KZ_ERR_FORMAT,
                     "%s: trees[%d]: node %d has a non-finite threshold, leaf_value, gain or cover",
                     where, ti, i);
    if (t->cover[i] < 0)
      return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].cover[%d]: negative (%g)", where, ti, i,
                     t->cover[i]);
    int32_t b = t->cat_begin[i], c = t->cat_count[i];
    if (!t->is_categorical[i]) {
      if (c != 0)
        return kz_fail(KZ_ERR_FORMAT,
                       "%s: trees[%d].cat_count[%d]: %d categories on a non-categorical node",
                       where, ti, i, c);
      continue;
    }
    if (b < 0 || c < 0 || (int64_t)b + c > t->n_cat_values)
      return kz_fail(KZ_ERR_FORMAT,
                     "%s: trees[%d]: node %d: categories [%d, %d+%d) outside cat_values (%d "
                     "entries)",
                     where, ti, i, b, b, c, t->n_cat_values);
    int32_t ncat = m->n_categories ? m->n_categories[f - m->n_numeric] : 0;
    for (int32_t k = b; k < b + c; ++k) {
      int32_t v = t->cat_values[k];
      if (v < 0 || (ncat > 0 && v >= ncat))
        return kz_fail(KZ_ERR_FORMAT,
                       "%s: trees[%d].cat_values[%d]: category code %d out of range [0, %d) of "
                       "feature %d",
                       where, ti, k, v, ncat, f);
      if (k > b && v <= t->cat_values[k - 1])
        return kz_fail(KZ_ERR_FORMAT,
                       "%s: trees[%d].cat_values[%d]: codes of node %d must be sorted and unique",
                       where, ti, k, i);
    }
  }
  return check_tree_shape(t, where, ti);
}

kz_status kz_gbdt_model_validate(const kz_gbdt_model *m, const char *where) {
  if (!m) return kz_fail(KZ_ERR_INVALID_ARG, "%s: no model", where);
  if ((int)m->objective < 0 || (int)m->objective >= N_OBJECTIVES)
    return kz_fail(KZ_ERR_FORMAT, "%s: objective: unknown objective %d", where, (int)m->objective);
  if (m->num_group < 1 || m->num_group > 256)
    return kz_fail(KZ_ERR_FORMAT, "%s: num_group: %d out of range [1, 256]", where, m->num_group);
  if (m->objective == KZ_GBDT_MULTI_SOFTPROB && m->num_group < 2)
    return kz_fail(KZ_ERR_FORMAT, "%s: num_group: multi:softprob needs at least 2 groups, not %d",
                   where, m->num_group);
  if (m->objective != KZ_GBDT_MULTI_SOFTPROB && m->num_group != 1)
    return kz_fail(KZ_ERR_FORMAT, "%s: num_group: %s has one output group, not %d", where,
                   kz_gbdt_objective_name(m->objective), m->num_group);
  if (m->objective == KZ_GBDT_REG_QUANTILE && !(m->quantile_alpha > 0 && m->quantile_alpha < 1))
    return kz_fail(KZ_ERR_FORMAT, "%s: quantile_alpha: %g is not in (0, 1)", where,
                   m->quantile_alpha);
  for (int g = 0; g < m->num_group; ++g)
    if (!isfinite(m->base_score[g]))
      return kz_fail(KZ_ERR_FORMAT, "%s: base_score[%d]: not finite", where, g);
  if (m->n_numeric < 0 || m->n_categorical < 0)
    return kz_fail(KZ_ERR_FORMAT, "%s: features: negative feature counts", where);
  int32_t nf = m->n_numeric + m->n_categorical;
  for (int32_t f = 0; f < nf; ++f)
    if (!m->feature_names || !m->feature_names[f])
      return kz_fail(KZ_ERR_FORMAT, "%s: features[%d].name: missing", where, f);
  for (int32_t c = 0; c < m->n_categorical; ++c)
    if (!m->n_categories || m->n_categories[c] < 0)
      return kz_fail(KZ_ERR_FORMAT, "%s: features[%d].n_categories: missing or negative", where,
                     m->n_numeric + c);
  if (m->best_iteration < -1)
    return kz_fail(KZ_ERR_FORMAT, "%s: best_iteration: %d (use -1 for none)", where,
                   m->best_iteration);
  if (m->n_trees < 0 || (m->n_trees > 0 && (!m->trees || !m->tree_group)))
    return kz_fail(KZ_ERR_FORMAT, "%s: trees: missing", where);
  /* Rounds are 0-based and each adds num_group trees; a best round past the
   * last would make "the best model" trees that are not there. */
  if (m->best_iteration >= 0 &&
      ((int64_t)m->best_iteration + 1) * m->num_group > (int64_t)m->n_trees)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: best_iteration: round %d, but the model has %d trees (%d rounds of %d)",
                   where, m->best_iteration, m->n_trees, m->n_trees / m->num_group, m->num_group);
  for (int32_t i = 0; i < m->n_trees; ++i) {
    if (m->tree_group[i] < 0 || m->tree_group[i] >= m->num_group)
      return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].group: %d out of range [0, %d)", where, i,
                     m->tree_group[i], m->num_group);
    KZ_TRY(check_tree(m, i, where));
  }
  return KZ_OK;
}

/* ---- writing ----------------------------------------------------------------- */

void kz_gbdt_json_put_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; ++p) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", f);
    else if (*p == '\t')
      fputs("\\t", f);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

void kz_gbdt_json_put_float(FILE *f, float v) {
  char buf[KZ_FLOAT_TEXT_MAX];
  kz_float_to_text(v, buf);
  fputs(buf, f);
}

void kz_gbdt_json_put_double(FILE *f, double v) {
  char buf[KZ_FLOAT_TEXT_MAX];
  kz_double_to_text(v, buf);
  fputs(buf, f);
}

static void put_ints(FILE *f, const char *key, const int32_t *v, int32_t n) {
  fprintf(f, ",\n     \"%s\": [", key);
  for (int32_t i = 0; i < n; ++i) fprintf(f, i ? ", %d" : "%d", v[i]);
  fputc(']', f);
}

static void put_bytes(FILE *f, const char *key, const uint8_t *v, int32_t n) {
  fprintf(f, ",\n     \"%s\": [", key);
  for (int32_t i = 0; i < n; ++i) fprintf(f, i ? ", %d" : "%d", v[i]);
  fputc(']', f);
}

static void put_floats(FILE *f, const char *key, const float *v, int32_t n) {
  fprintf(f, ",\n     \"%s\": [", key);
  for (int32_t i = 0; i < n; ++i) {
    if (i) fputs(", ", f);
    kz_gbdt_json_put_float(f, v[i]);
  }
  fputc(']', f);
}

static void write_model(FILE *f, const kz_gbdt_model *m) {
  fprintf(f, "{\n  \"kaizen_gbdt\": %d,\n  \"objective\": ", KZ_GBDT_JSON_VERSION);
  kz_gbdt_json_put_string(f, kz_gbdt_objective_name(m->objective));
  fputs(",\n  \"quantile_alpha\": ", f);
  kz_gbdt_json_put_double(f, m->quantile_alpha);
  fprintf(f, ",\n  \"num_group\": %d,\n  \"base_score\": [", m->num_group);
  for (int g = 0; g < m->num_group; ++g) {
    if (g) fputs(", ", f);
    kz_gbdt_json_put_double(f, m->base_score[g]);
  }
  fputs("],\n  \"label\": ", f);
  if (m->label_name)
    kz_gbdt_json_put_string(f, m->label_name);
  else
    fputs("null", f);
  fputs(",\n  \"class_names\": ", f);
  if (m->class_names) {
    int n = m->objective == KZ_GBDT_BINARY_LOGISTIC ? 2 : m->num_group;
    fputc('[', f);
    for (int i = 0; i < n; ++i) {
      if (i) fputs(", ", f);
      kz_gbdt_json_put_string(f, m->class_names[i]);
    }
    fputc(']', f);
  } else {
    fputs("null", f);
  }
  fprintf(f, ",\n  \"best_iteration\": %d,\n  \"features\": [", m->best_iteration);
  int32_t nf = m->n_numeric + m->n_categorical;
  for (int32_t i = 0; i < nf; ++i) {
    fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
    kz_gbdt_json_put_string(f, m->feature_names[i]);
    if (i < m->n_numeric)
      fputs(", \"type\": \"numeric\"}", f);
    else
      fprintf(f, ", \"type\": \"categorical\", \"n_categories\": %d}",
              m->n_categories[i - m->n_numeric]);
  }
  fputs(nf ? "\n  ],\n  \"trees\": [" : "],\n  \"trees\": [", f);
  for (int32_t i = 0; i < m->n_trees; ++i) {
    const kz_gbdt_tree *t = &m->trees[i];
    fprintf(f, "%s\n    {\"group\": %d, \"n_nodes\": %d", i ? "," : "", m->tree_group[i],
            t->n_nodes);
    put_ints(f, "left", t->left, t->n_nodes);
    put_ints(f, "right", t->right, t->n_nodes);
    put_ints(f, "feature", t->feature, t->n_nodes);
    put_floats(f, "threshold", t->threshold, t->n_nodes);
    put_bytes(f, "default_left", t->default_left, t->n_nodes);
    put_bytes(f, "categorical", t->is_categorical, t->n_nodes);
    put_ints(f, "cat_begin", t->cat_begin, t->n_nodes);
    put_ints(f, "cat_count", t->cat_count, t->n_nodes);
    put_ints(f, "cat_values", t->cat_values, t->n_cat_values);
    put_floats(f, "leaf_value", t->leaf_value, t->n_nodes);
    put_floats(f, "gain", t->gain, t->n_nodes);
    put_floats(f, "cover", t->cover, t->n_nodes);
    fputc('}', f);
  }
  fputs(m->n_trees ? "\n  ]" : "]", f);
  if (m->input_schema) fprintf(f, ",\n  \"input_schema\": %s", m->input_schema);
  fputs("\n}\n", f);
}

kz_status kz_gbdt_model_save_json(const kz_gbdt_model *m, const char *path) {
  if (!path) return kz_fail(KZ_ERR_INVALID_ARG, "kz_gbdt_model_save_json: no path");
  KZ_TRY(kz_gbdt_model_validate(m, path));
  kz_atomic_file out;
  KZ_TRY(kz_atomic_file_open(&out, path));
  write_model(out.f, m);
  return kz_atomic_file_finish(&out, KZ_OK);
}

/* ---- loading -------------------------------------------------------------------- */

/* Frees whatever part of a model the loader built (every array is its own
 * malloc block, the layout kz_gbdt_model_free expects). */
static void free_partial(kz_gbdt_model *m, size_t n_names, int n_classes) {
  if (!m) return;
  if (m->feature_names)
    for (size_t i = 0; i < n_names; ++i) free(m->feature_names[i]);
  free(m->feature_names);
  free(m->n_categories);
  if (m->class_names)
    for (int i = 0; i < n_classes; ++i) free(m->class_names[i]);
  free(m->class_names);
  free(m->label_name);
  if (m->trees)
    for (int32_t i = 0; i < m->n_trees; ++i) kz_gbdt_tree_free(&m->trees[i]);
  free(m->trees);
  free(m->tree_group);
  free(m->input_schema);
  free(m);
}

typedef struct loader {
  const char *file;
  size_t n_names; /* feature_names and class_names entries allocated */
  int n_classes;
} loader;

static json_t *need(const loader *L, json_t *obj, const char *key, const char *at) {
  json_t *v = json_object_get(obj, key);
  if (!v) kz_fail(KZ_ERR_FORMAT, "%s: %s%s%s: missing", L->file, at, *at ? "." : "", key);
  return v;
}

static kz_status get_int(const loader *L, json_t *v, const char *at, int64_t lo, int64_t hi,
                         int32_t *out) {
  if (!json_is_integer(v))
    return kz_fail(KZ_ERR_FORMAT, "%s: %s: expected an integer", L->file, at);
  json_int_t x = json_integer_value(v);
  if (x < lo || x > hi)
    return kz_fail(KZ_ERR_FORMAT, "%s: %s: %lld out of range [%lld, %lld]", L->file, at,
                   (long long)x, (long long)lo, (long long)hi);
  *out = (int32_t)x;
  return KZ_OK;
}

static kz_status get_number(const loader *L, json_t *v, const char *at, double *out) {
  if (!json_is_number(v)) return kz_fail(KZ_ERR_FORMAT, "%s: %s: expected a number", L->file, at);
  *out = json_number_value(v);
  return KZ_OK;
}

static kz_status get_string(const loader *L, json_t *v, const char *at, char **out) {
  if (!json_is_string(v)) return kz_fail(KZ_ERR_FORMAT, "%s: %s: expected a string", L->file, at);
  const char *src = json_string_value(v);
  size_t len = strlen(src) + 1;
  *out = malloc(len);
  if (*out) memcpy(*out, src, len);
  if (!*out) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: %s: out of memory", L->file, at);
  return KZ_OK;
}

/* An array member of tree ti with exactly `want` entries (want < 0: any). */
static kz_status tree_array(const loader *L, json_t *tree, int ti, const char *key, int64_t want,
                            json_t **out) {
  char at[64];
  snprintf(at, sizeof at, "trees[%d]", ti);
  json_t *a = need(L, tree, key, at);
  if (!a) return KZ_ERR_FORMAT;
  if (!json_is_array(a))
    return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].%s: expected an array", L->file, ti, key);
  if (want >= 0 && (int64_t)json_array_size(a) != want)
    return kz_fail(KZ_ERR_FORMAT, "%s: trees[%d].%s: %zu entries, expected %lld (n_nodes)", L->file,
                   ti, key, json_array_size(a), (long long)want);
  *out = a;
  return KZ_OK;
}

static kz_status read_ints(const loader *L, json_t *tree, int ti, const char *key, int64_t want,
                           int64_t lo, int64_t hi, int32_t **out, int32_t *n_out) {
  json_t *a;
  KZ_TRY(tree_array(L, tree, ti, key, want, &a));
  size_t n = json_array_size(a);
  int32_t *v = malloc((n ? n : 1) * sizeof *v);
  if (!v) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: trees[%d].%s: out of memory", L->file, ti, key);
  *out = v;
  if (n_out) *n_out = (int32_t)n;
  for (size_t i = 0; i < n; ++i) {
    char at[96];
    snprintf(at, sizeof at, "trees[%d].%s[%zu]", ti, key, i);
    KZ_TRY(get_int(L, json_array_get(a, i), at, lo, hi, &v[i]));
  }
  return KZ_OK;
}

static kz_status read_flags(const loader *L, json_t *tree, int ti, const char *key, int64_t want,
                            uint8_t **out) {
  json_t *a;
  KZ_TRY(tree_array(L, tree, ti, key, want, &a));
  size_t n = json_array_size(a);
  uint8_t *v = malloc(n ? n : 1);
  if (!v) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: trees[%d].%s: out of memory", L->file, ti, key);
  *out = v;
  for (size_t i = 0; i < n; ++i) {
    char at[96];
    int32_t x = 0;
    snprintf(at, sizeof at, "trees[%d].%s[%zu]", ti, key, i);
    KZ_TRY(get_int(L, json_array_get(a, i), at, 0, 1, &x));
    v[i] = (uint8_t)x;
  }
  return KZ_OK;
}

static kz_status read_floats(const loader *L, json_t *tree, int ti, const char *key, int64_t want,
                             float **out) {
  json_t *a;
  KZ_TRY(tree_array(L, tree, ti, key, want, &a));
  size_t n = json_array_size(a);
  float *v = malloc((n ? n : 1) * sizeof *v);
  if (!v) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: trees[%d].%s: out of memory", L->file, ti, key);
  *out = v;
  for (size_t i = 0; i < n; ++i) {
    char at[96];
    double x = 0;
    snprintf(at, sizeof at, "trees[%d].%s[%zu]", ti, key, i);
    KZ_TRY(get_number(L, json_array_get(a, i), at, &x));
    if (!kz_float_from_double(x, &v[i])) {
      char text[KZ_FLOAT_TEXT_MAX];
      kz_double_to_text(x, text);
      return kz_fail(KZ_ERR_FORMAT, "%s: %s: %s does not fit a float", L->file, at, text);
    }
  }
  return KZ_OK;
}

static const char *const tree_keys[] = {"group",     "n_nodes",   "left",         "right",
                                        "feature",   "threshold", "default_left", "categorical",
                                        "cat_begin", "cat_count", "cat_values",   "leaf_value",
                                        "gain",      "cover"};

static kz_status read_tree(const loader *L, json_t *jt, int ti, kz_gbdt_model *m) {
  char at[64];
  snprintf(at, sizeof at, "trees[%d]", ti);
  if (!json_is_object(jt)) return kz_fail(KZ_ERR_FORMAT, "%s: %s: expected an object", L->file, at);
  const char *key;
  json_t *val;
  json_object_foreach(jt, key, val) {
    int known = 0;
    for (size_t k = 0; k < sizeof tree_keys / sizeof tree_keys[0]; ++k)
      known |= !strcmp(key, tree_keys[k]);
    if (!known) return kz_fail(KZ_ERR_FORMAT, "%s: %s.%s: unknown key", L->file, at, key);
  }
  kz_gbdt_tree *t = &m->trees[ti];
  json_t *v;
  char sub[96];
  if (!(v = need(L, jt, "group", at))) return KZ_ERR_FORMAT;
  snprintf(sub, sizeof sub, "%s.group", at);
  KZ_TRY(get_int(L, v, sub, 0, m->num_group - 1, &m->tree_group[ti]));
  if (!(v = need(L, jt, "n_nodes", at))) return KZ_ERR_FORMAT;
  snprintf(sub, sizeof sub, "%s.n_nodes", at);
  int32_t n = 0;
  KZ_TRY(get_int(L, v, sub, 1, INT32_MAX / 2, &n));
  /* Check the length before allocating the arrays so that a corrupt n_nodes
   * cannot make the loader allocate gigabytes. */
  json_t *left;
  KZ_TRY(tree_array(L, jt, ti, "left", n, &left));
  t->n_nodes = n;
  int64_t lo = -1, hi = INT32_MAX;
  KZ_TRY(read_ints(L, jt, ti, "left", n, lo, hi, &t->left, NULL));
  KZ_TRY(read_ints(L, jt, ti, "right", n, lo, hi, &t->right, NULL));
  KZ_TRY(read_ints(L, jt, ti, "feature", n, lo, hi, &t->feature, NULL));
  KZ_TRY(read_floats(L, jt, ti, "threshold", n, &t->threshold));
  KZ_TRY(read_flags(L, jt, ti, "default_left", n, &t->default_left));
  KZ_TRY(read_flags(L, jt, ti, "categorical", n, &t->is_categorical));
  KZ_TRY(read_ints(L, jt, ti, "cat_begin", n, 0, hi, &t->cat_begin, NULL));
  KZ_TRY(read_ints(L, jt, ti, "cat_count", n, 0, hi, &t->cat_count, NULL));
  KZ_TRY(read_ints(L, jt, ti, "cat_values", -1, 0, hi, &t->cat_values, &t->n_cat_values));
  KZ_TRY(read_floats(L, jt, ti, "leaf_value", n, &t->leaf_value));
  KZ_TRY(read_floats(L, jt, ti, "gain", n, &t->gain));
  KZ_TRY(read_floats(L, jt, ti, "cover", n, &t->cover));
  return KZ_OK;
}

/* The training data's schema must describe the features the trees split
 * on: same names, types and dictionary sizes, and the classes in order. */
static kz_status read_input_schema(const loader *L, json_t *v, kz_gbdt_model *m) {
  char *text = json_is_object(v) ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  if (!text) return kz_fail(KZ_ERR_FORMAT, "%s: input_schema: expected an object", L->file);
  m->input_schema = text;
  kz_schema s;
  char where[512];
  snprintf(where, sizeof where, "%s: input_schema", L->file);
  KZ_TRY(kz_schema_from_string(text, where, &s));
  kz_status st = KZ_OK;
  for (int32_t f = 0; st == KZ_OK && f < m->n_numeric + m->n_categorical; ++f) {
    int fi, ci, cat = f >= m->n_numeric;
    if (!kz_schema_find_column(&s, m->feature_names[f], &fi, &ci) ||
        (s.fields[fi].type == KZ_FIELD_I32) != cat ||
        (cat && s.fields[fi].columns[ci].n_categories != m->n_categories[f - m->n_numeric]))
      st = kz_fail(KZ_ERR_FORMAT, "%s: features[%d] ('%s') does not match the input schema", where,
                   f, m->feature_names[f]);
  }
  int fi, ci;
  int classes = m->objective == KZ_GBDT_BINARY_LOGISTIC  ? 2
                : m->objective == KZ_GBDT_MULTI_SOFTPROB ? m->num_group
                                                         : 0;
  if (st == KZ_OK && classes && m->class_names && s.label &&
      kz_schema_find_column(&s, s.label, &fi, &ci) && s.fields[fi].columns[ci].n_categories) {
    const kz_column *lc = &s.fields[fi].columns[ci];
    for (int k = 0; st == KZ_OK && k < classes; ++k)
      if (k >= lc->n_categories || strcmp(lc->categories[k], m->class_names[k]))
        st = kz_fail(KZ_ERR_FORMAT, "%s: class_names[%d] ('%s') is not the label's class %d", where,
                     k, m->class_names[k], k);
  }
  kz_schema_free(&s);
  return st;
}

static const char *const top_keys[] = {
    "kaizen_gbdt", "objective",      "quantile_alpha", "num_group", "base_score",  "label",
    "class_names", "best_iteration", "features",       "trees",     "input_schema"};

static kz_status read_model(loader *L, json_t *root, kz_gbdt_model *m) {
  if (!json_is_object(root))
    return kz_fail(KZ_ERR_FORMAT, "%s: the document is not a JSON object", L->file);
  json_t *v = json_object_get(root, "kaizen_gbdt");
  if (!v)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: not a kaizen model file (not a kaizen GBDT model: no \"kaizen_gbdt\" key)",
                   L->file);
  int32_t version = 0;
  KZ_TRY(get_int(L, v, "kaizen_gbdt", 0, INT32_MAX, &version));
  if (version != KZ_GBDT_JSON_VERSION)
    return kz_fail(KZ_ERR_UNSUPPORTED, "%s: kaizen_gbdt: version %d, this build reads version %d",
                   L->file, version, KZ_GBDT_JSON_VERSION);
  const char *key;
  json_t *val;
  json_object_foreach(root, key, val) {
    int known = 0;
    for (size_t k = 0; k < sizeof top_keys / sizeof top_keys[0]; ++k)
      known |= !strcmp(key, top_keys[k]);
    if (!known) return kz_fail(KZ_ERR_FORMAT, "%s: %s: unknown key", L->file, key);
  }
  if (!(v = need(L, root, "objective", ""))) return KZ_ERR_FORMAT;
  if (!json_is_string(v) || !kz_gbdt_objective_parse(json_string_value(v), &m->objective))
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: objective: expected one of reg:squarederror, reg:absoluteerror, "
                   "reg:quantile, binary:logistic, multi:softprob, count:poisson",
                   L->file);
  if (!(v = need(L, root, "quantile_alpha", ""))) return KZ_ERR_FORMAT;
  KZ_TRY(get_number(L, v, "quantile_alpha", &m->quantile_alpha));
  if (!(v = need(L, root, "num_group", ""))) return KZ_ERR_FORMAT;
  KZ_TRY(get_int(L, v, "num_group", 1, 256, &m->num_group));
  if (!(v = need(L, root, "base_score", ""))) return KZ_ERR_FORMAT;
  if (!json_is_array(v) || (int)json_array_size(v) != m->num_group)
    return kz_fail(KZ_ERR_FORMAT, "%s: base_score: expected an array of num_group (%d) numbers",
                   L->file, m->num_group);
  for (int g = 0; g < m->num_group; ++g) {
    char at[48];
    snprintf(at, sizeof at, "base_score[%d]", g);
    KZ_TRY(get_number(L, json_array_get(v, g), at, &m->base_score[g]));
  }
  if (!(v = need(L, root, "label", ""))) return KZ_ERR_FORMAT;
  if (!json_is_null(v)) KZ_TRY(get_string(L, v, "label", &m->label_name));
  if (!(v = need(L, root, "class_names", ""))) return KZ_ERR_FORMAT;
  if (!json_is_null(v)) {
    int want = m->objective == KZ_GBDT_BINARY_LOGISTIC ? 2 : m->num_group;
    if (m->objective != KZ_GBDT_BINARY_LOGISTIC && m->objective != KZ_GBDT_MULTI_SOFTPROB)
      return kz_fail(KZ_ERR_FORMAT, "%s: class_names: must be null for %s", L->file,
                     kz_gbdt_objective_name(m->objective));
    if (!json_is_array(v) || (int)json_array_size(v) != want)
      return kz_fail(KZ_ERR_FORMAT, "%s: class_names: expected null or an array of %d strings",
                     L->file, want);
    m->class_names = calloc((size_t)want, sizeof *m->class_names);
    if (!m->class_names) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", L->file);
    L->n_classes = want;
    for (int i = 0; i < want; ++i) {
      char at[48];
      snprintf(at, sizeof at, "class_names[%d]", i);
      KZ_TRY(get_string(L, json_array_get(v, i), at, &m->class_names[i]));
    }
  }
  if (!(v = need(L, root, "best_iteration", ""))) return KZ_ERR_FORMAT;
  KZ_TRY(get_int(L, v, "best_iteration", -1, INT32_MAX, &m->best_iteration));

  if (!(v = need(L, root, "features", ""))) return KZ_ERR_FORMAT;
  if (!json_is_array(v)) return kz_fail(KZ_ERR_FORMAT, "%s: features: expected an array", L->file);
  size_t nf = json_array_size(v);
  if (nf > (size_t)INT32_MAX / 2)
    return kz_fail(KZ_ERR_FORMAT, "%s: features: too many (%zu)", L->file, nf);
  m->feature_names = calloc(nf ? nf : 1, sizeof *m->feature_names);
  m->n_categories = calloc(nf ? nf : 1, sizeof *m->n_categories);
  if (!m->feature_names || !m->n_categories)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", L->file);
  L->n_names = nf;
  for (size_t i = 0; i < nf; ++i) {
    json_t *jf = json_array_get(v, i), *x;
    char at[48], sub[64];
    snprintf(at, sizeof at, "features[%zu]", i);
    if (!json_is_object(jf))
      return kz_fail(KZ_ERR_FORMAT, "%s: %s: expected an object", L->file, at);
    if (!(x = need(L, jf, "name", at))) return KZ_ERR_FORMAT;
    snprintf(sub, sizeof sub, "%s.name", at);
    KZ_TRY(get_string(L, x, sub, &m->feature_names[i]));
    if (!(x = need(L, jf, "type", at))) return KZ_ERR_FORMAT;
    const char *type = json_is_string(x) ? json_string_value(x) : "";
    int categorical = !strcmp(type, "categorical");
    if (!categorical && strcmp(type, "numeric"))
      return kz_fail(KZ_ERR_FORMAT, "%s: %s.type: expected \"numeric\" or \"categorical\"", L->file,
                     at);
    if (!categorical && m->n_categorical > 0)
      return kz_fail(KZ_ERR_FORMAT,
                     "%s: %s: numeric feature after a categorical one (numeric features come "
                     "first)",
                     L->file, at);
    if (categorical)
      ++m->n_categorical;
    else
      ++m->n_numeric;
    size_t allowed = categorical ? 3 : 2;
    if (json_object_size(jf) != allowed)
      return kz_fail(KZ_ERR_FORMAT, "%s: %s: expected keys name, type%s only", L->file, at,
                     categorical ? ", n_categories" : "");
    if (categorical) {
      if (!(x = need(L, jf, "n_categories", at))) return KZ_ERR_FORMAT;
      snprintf(sub, sizeof sub, "%s.n_categories", at);
      KZ_TRY(get_int(L, x, sub, 0, INT32_MAX, &m->n_categories[m->n_categorical - 1]));
    }
  }

  if (!(v = need(L, root, "trees", ""))) return KZ_ERR_FORMAT;
  if (!json_is_array(v)) return kz_fail(KZ_ERR_FORMAT, "%s: trees: expected an array", L->file);
  size_t nt = json_array_size(v);
  if (nt > (size_t)INT32_MAX / 2)
    return kz_fail(KZ_ERR_FORMAT, "%s: trees: too many (%zu)", L->file, nt);
  m->trees = calloc(nt ? nt : 1, sizeof *m->trees);
  m->tree_group = calloc(nt ? nt : 1, sizeof *m->tree_group);
  if (!m->trees || !m->tree_group)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", L->file);
  m->n_trees = (int32_t)nt;
  for (size_t i = 0; i < nt; ++i) KZ_TRY(read_tree(L, json_array_get(v, i), (int)i, m));
  if ((v = json_object_get(root, "input_schema"))) KZ_TRY(read_input_schema(L, v, m));
  return kz_gbdt_model_validate(m, L->file);
}

kz_status kz_gbdt_model_load_json(const char *path, kz_gbdt_model **out) {
  if (!path || !out) return kz_fail(KZ_ERR_INVALID_ARG, "kz_gbdt_model_load_json: NULL argument");
  *out = NULL;
  KZ_TRY(kz_fs_check_regular(path, "GBDT model file"));
  json_error_t err;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
  if (!root) {
    FILE *f = fopen(path, "rb");
    if (!f) return kz_fail(KZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    /* the byte offset too: a truncated file fails at its last line, whose
     * column alone does not say how much of the file was there */
    return kz_fail(KZ_ERR_FORMAT, "%s:%d:%d: invalid JSON (at byte %d): %s", path, err.line,
                   err.column, err.position, err.text);
  }
  kz_gbdt_model *m = calloc(1, sizeof *m);
  if (!m) {
    json_decref(root);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  m->best_iteration = -1;
  loader L = {path, 0, 0};
  kz_status st = read_model(&L, root, m);
  json_decref(root);
  if (st != KZ_OK) {
    free_partial(m, L.n_names, L.n_classes);
    return st;
  }
  *out = m;
  return KZ_OK;
}
