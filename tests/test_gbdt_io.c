/* GBDT model file, XGBoost export, importance and TreeSHAP on hand-built
 * models (no booster needed).
 *   test_gbdt_io                 the C checks
 *   test_gbdt_io --xgb-dir DIR   writes models, rows, margins and SHAP values
 *                                for tests/gbdt_xgb_export_check.py */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/gbdt/gbdt_importance.h"
#include "models/gbdt/gbdt_json.h"
#include "models/gbdt/gbdt_shap.h"
#include "models/gbdt/gbdt_xgb_export.h"
#include "tests/test_util.h"

/* ---- building models by hand ------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}
static double unif(void) {
  return (rnd() & 0xffffff) / 16777216.0;
}

static char *dup_str(const char *s) {
  char *d = malloc(strlen(s) + 1);
  strcpy(d, s);
  return d;
}

static void tree_alloc(kz_gbdt_tree *t, int32_t cap, int32_t cat_cap) {
  memset(t, 0, sizeof *t);
  t->left = calloc((size_t)cap, sizeof(int32_t));
  t->right = calloc((size_t)cap, sizeof(int32_t));
  t->feature = calloc((size_t)cap, sizeof(int32_t));
  t->threshold = calloc((size_t)cap, sizeof(float));
  t->default_left = calloc((size_t)cap, 1);
  t->is_categorical = calloc((size_t)cap, 1);
  t->cat_begin = calloc((size_t)cap, sizeof(int32_t));
  t->cat_count = calloc((size_t)cap, sizeof(int32_t));
  t->cat_values = calloc((size_t)(cat_cap ? cat_cap : 1), sizeof(int32_t));
  t->leaf_value = calloc((size_t)cap, sizeof(float));
  t->gain = calloc((size_t)cap, sizeof(float));
  t->cover = calloc((size_t)cap, sizeof(float));
}

static kz_gbdt_model *model_new(kz_gbdt_objective obj, int groups, int n_num, int n_cat,
                                int n_trees) {
  kz_gbdt_model *m = calloc(1, sizeof *m);
  m->objective = obj;
  m->quantile_alpha = 0.5;
  m->num_group = groups;
  m->n_numeric = n_num;
  m->n_categorical = n_cat;
  m->feature_names = calloc((size_t)(n_num + n_cat), sizeof(char *));
  for (int i = 0; i < n_num + n_cat; ++i) {
    char name[32];
    snprintf(name, sizeof name, i < n_num ? "num_%d" : "cat \"%d\"", i);
    m->feature_names[i] = dup_str(name);
  }
  m->n_categories = calloc((size_t)(n_cat ? n_cat : 1), sizeof(int32_t));
  for (int c = 0; c < n_cat; ++c) m->n_categories[c] = 4 + c;
  m->label_name = dup_str("target");
  m->best_iteration = -1;
  m->n_trees = n_trees;
  m->trees = calloc((size_t)n_trees, sizeof *m->trees);
  m->tree_group = calloc((size_t)n_trees, sizeof(int32_t));
  return m;
}

/* Grows node `id` of a random tree; returns the next free node index. */
static int32_t grow(const kz_gbdt_model *m, kz_gbdt_tree *t, int32_t id, int32_t next, int depth,
                    int max_depth, int nf_used) {
  if (depth == max_depth || (depth > 0 && unif() < 0.25)) {
    t->left[id] = t->right[id] = t->feature[id] = -1;
    t->leaf_value[id] = (float)(unif() * 2 - 1);
    t->cover[id] = (float)(0.5 + 4 * unif());
    return next;
  }
  int32_t f = (int32_t)(rnd() % (uint32_t)nf_used);
  t->feature[id] = f;
  t->default_left[id] = (uint8_t)(rnd() & 1);
  t->gain[id] = (float)(10 * unif());
  if (f < m->n_numeric) {
    t->threshold[id] = (float)(unif() * 2 - 1);
  } else {
    int32_t ncat = m->n_categories[f - m->n_numeric];
    t->is_categorical[id] = 1;
    t->cat_begin[id] = t->n_cat_values;
    for (int32_t c = 0; c < ncat; ++c)
      if (rnd() & 1) t->cat_values[t->n_cat_values++] = c;
    t->cat_count[id] = t->n_cat_values - t->cat_begin[id];
  }
  int32_t l = next, r = next + 1;
  t->left[id] = l;
  t->right[id] = r;
  next = grow(m, t, l, next + 2, depth + 1, max_depth, nf_used);
  next = grow(m, t, r, next, depth + 1, max_depth, nf_used);
  t->cover[id] = t->cover[l] + t->cover[r];
  return next;
}

static kz_gbdt_model *random_model(kz_gbdt_objective obj, int groups, int n_num, int n_cat,
                                   int rounds, int max_depth) {
  kz_gbdt_model *m = model_new(obj, groups, n_num, n_cat, rounds * groups);
  for (int g = 0; g < groups; ++g) m->base_score[g] = 0.25 * g - 0.3;
  for (int i = 0; i < m->n_trees; ++i) {
    int32_t cap = 2 << max_depth;
    tree_alloc(&m->trees[i], cap, cap * (n_cat ? 4 + n_cat : 1));
    m->trees[i].n_nodes = grow(m, &m->trees[i], 0, 1, 0, max_depth, n_num + n_cat);
    m->tree_group[i] = i % groups;
  }
  if (obj == KZ_GBDT_BINARY_LOGISTIC || obj == KZ_GBDT_MULTI_SOFTPROB) {
    int n = obj == KZ_GBDT_BINARY_LOGISTIC ? 2 : groups;
    m->class_names = calloc((size_t)n, sizeof(char *));
    for (int i = 0; i < n; ++i) {
      char name[16];
      snprintf(name, sizeof name, "class%d", i);
      m->class_names[i] = dup_str(name);
    }
  }
  return m;
}

static void random_rows(const kz_gbdt_model *m, int64_t n, float *num, int32_t *cat) {
  for (int64_t r = 0; r < n; ++r) {
    for (int f = 0; f < m->n_numeric; ++f)
      num[r * m->n_numeric + f] = unif() < 0.15 ? NAN : (float)(unif() * 2.4 - 1.2);
    for (int c = 0; c < m->n_categorical; ++c)
      cat[r * m->n_categorical + c] =
          unif() < 0.15 ? -1 : (int32_t)(rnd() % (uint32_t)m->n_categories[c]);
  }
}

/* ---- an independent margin: a plain walk of every tree ------------------------ */

static int32_t walk(const kz_gbdt_model *m, const kz_gbdt_tree *t, const float *x,
                    const int32_t *c) {
  int32_t n = 0;
  while (t->left[n] >= 0) {
    int32_t f = t->feature[n], go_left;
    if (f < m->n_numeric) {
      go_left = isnan(x[f]) ? t->default_left[n] : x[f] < t->threshold[n];
    } else {
      int32_t code = c[f - m->n_numeric], in = 0;
      for (int32_t k = 0; k < t->cat_count[n]; ++k)
        in |= t->cat_values[t->cat_begin[n] + k] == code;
      go_left = code < 0 ? t->default_left[n] : !in;
    }
    n = go_left ? t->left[n] : t->right[n];
  }
  return n;
}

static void margins(const kz_gbdt_model *m, int64_t n, const float *num, const int32_t *cat,
                    double *out) {
  for (int64_t r = 0; r < n; ++r) {
    const float *x = num + r * m->n_numeric;
    const int32_t *c = cat + r * m->n_categorical;
    for (int g = 0; g < m->num_group; ++g) out[r * m->num_group + g] = m->base_score[g];
    for (int32_t i = 0; i < m->n_trees; ++i) {
      const kz_gbdt_tree *t = &m->trees[i];
      out[r * m->num_group + m->tree_group[i]] += t->leaf_value[walk(m, t, x, c)];
    }
  }
}

/* ---- brute-force Shapley values --------------------------------------------------- */

/* E[tree | features in mask known]: known split features follow the row,
 * unknown ones average both children weighted by cover. */
static double cond_exp(const kz_gbdt_model *m, const kz_gbdt_tree *t, int32_t n, unsigned mask,
                       const float *x, const int32_t *c) {
  if (t->left[n] < 0) return t->leaf_value[n];
  if (mask >> t->feature[n] & 1u) {
    int32_t l = t->left[n], r = t->right[n], f = t->feature[n], go_left;
    if (f < m->n_numeric) {
      go_left = isnan(x[f]) ? t->default_left[n] : x[f] < t->threshold[n];
    } else {
      int32_t code = c[f - m->n_numeric], in = 0;
      for (int32_t k = 0; k < t->cat_count[n]; ++k)
        in |= t->cat_values[t->cat_begin[n] + k] == code;
      go_left = code < 0 ? t->default_left[n] : !in;
    }
    return cond_exp(m, t, go_left ? l : r, mask, x, c);
  }
  double cl = t->cover[t->left[n]], cr = t->cover[t->right[n]], cn = t->cover[n];
  return cl / cn * cond_exp(m, t, t->left[n], mask, x, c) +
         cr / cn * cond_exp(m, t, t->right[n], mask, x, c);
}

static double value_of(const kz_gbdt_model *m, int g, unsigned mask, const float *x,
                       const int32_t *c) {
  double v = m->base_score[g];
  for (int32_t i = 0; i < m->n_trees; ++i)
    if (m->tree_group[i] == g) v += cond_exp(m, &m->trees[i], 0, mask, x, c);
  return v;
}

static void brute_shap(const kz_gbdt_model *m, int g, const float *x, const int32_t *c,
                       double *phi) {
  int M = m->n_numeric + m->n_categorical;
  double fact[16] = {1};
  for (int i = 1; i < 16; ++i) fact[i] = fact[i - 1] * i;
  for (int i = 0; i < M; ++i) {
    phi[i] = 0;
    for (unsigned s = 0; s < (1u << M); ++s) {
      if (s >> i & 1u) continue;
      int size = __builtin_popcount(s);
      double w = fact[size] * fact[M - size - 1] / fact[M];
      phi[i] += w * (value_of(m, g, s | 1u << i, x, c) - value_of(m, g, s, x, c));
    }
  }
  phi[M] = value_of(m, g, 0, x, c);
}

/* ---- checks ------------------------------------------------------------------------ */

static char tmpdir[256];

static void path_in_tmp(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "%s/%s", tmpdir, name);
}

static int trees_equal(const kz_gbdt_tree *a, const kz_gbdt_tree *b) {
  int32_t n = a->n_nodes;
  if (n != b->n_nodes || a->n_cat_values != b->n_cat_values) return 0;
  size_t i4 = (size_t)n * 4;
  return !memcmp(a->left, b->left, i4) && !memcmp(a->right, b->right, i4) &&
         !memcmp(a->feature, b->feature, i4) && !memcmp(a->threshold, b->threshold, i4) &&
         !memcmp(a->default_left, b->default_left, (size_t)n) &&
         !memcmp(a->is_categorical, b->is_categorical, (size_t)n) &&
         !memcmp(a->cat_begin, b->cat_begin, i4) && !memcmp(a->cat_count, b->cat_count, i4) &&
         !memcmp(a->cat_values, b->cat_values, (size_t)a->n_cat_values * 4) &&
         !memcmp(a->leaf_value, b->leaf_value, i4) && !memcmp(a->gain, b->gain, i4) &&
         !memcmp(a->cover, b->cover, i4);
}

static int models_equal(const kz_gbdt_model *a, const kz_gbdt_model *b) {
  if (a->objective != b->objective || a->quantile_alpha != b->quantile_alpha ||
      a->num_group != b->num_group || a->n_numeric != b->n_numeric ||
      a->n_categorical != b->n_categorical || a->n_trees != b->n_trees ||
      a->best_iteration != b->best_iteration)
    return 0;
  for (int g = 0; g < a->num_group; ++g)
    if (a->base_score[g] != b->base_score[g]) return 0;
  for (int f = 0; f < a->n_numeric + a->n_categorical; ++f)
    if (strcmp(a->feature_names[f], b->feature_names[f])) return 0;
  for (int c = 0; c < a->n_categorical; ++c)
    if (a->n_categories[c] != b->n_categories[c]) return 0;
  if (!a->label_name != !b->label_name || (a->label_name && strcmp(a->label_name, b->label_name)))
    return 0;
  if (!a->class_names != !b->class_names) return 0;
  if (a->class_names)
    for (int i = 0; i < (a->objective == KZ_GBDT_BINARY_LOGISTIC ? 2 : a->num_group); ++i)
      if (strcmp(a->class_names[i], b->class_names[i])) return 0;
  for (int32_t i = 0; i < a->n_trees; ++i)
    if (a->tree_group[i] != b->tree_group[i] || !trees_equal(&a->trees[i], &b->trees[i])) return 0;
  return 1;
}

static void check_round_trip(void) {
  char path[512];
  path_in_tmp(path, sizeof path, "rt.json");
  const kz_gbdt_objective objs[] = {KZ_GBDT_REG_SQUAREDERROR, KZ_GBDT_REG_ABSOLUTEERROR,
                                    KZ_GBDT_REG_QUANTILE,     KZ_GBDT_BINARY_LOGISTIC,
                                    KZ_GBDT_MULTI_SOFTPROB,   KZ_GBDT_COUNT_POISSON};
  for (size_t k = 0; k < sizeof objs / sizeof objs[0]; ++k) {
    int groups = objs[k] == KZ_GBDT_MULTI_SOFTPROB ? 3 : 1;
    kz_gbdt_model *m = random_model(objs[k], groups, 3, 2, 4, 4);
    m->quantile_alpha = 0.1 + 0.1 * (double)k;
    m->base_score[0] = 1.0 / 3.0;      /* needs all 17 digits */
    m->best_iteration = (int)(k % 4);  /* a round the model has (4 per group) */
    m->trees[0].threshold[0] = 1e-30f; /* tiny and odd floats survive */
    if (k == 0) {
      free(m->label_name);
      m->label_name = NULL;
    }
    KZ_CHECK_OK(kz_gbdt_model_save_json(m, path));
    kz_gbdt_model *back = NULL;
    KZ_CHECK_OK(kz_gbdt_model_load_json(path, &back));
    KZ_CHECK(back && models_equal(m, back));
    if (back) {
      /* Saving the loaded model reproduces the file byte for byte. */
      char path2[512];
      path_in_tmp(path2, sizeof path2, "rt2.json");
      KZ_CHECK_OK(kz_gbdt_model_save_json(back, path2));
      FILE *a = fopen(path, "rb"), *b = fopen(path2, "rb");
      int same = a && b;
      while (same) {
        int ca = fgetc(a), cb = fgetc(b);
        same = ca == cb;
        if (ca == EOF) break;
      }
      KZ_CHECK(same);
      if (a) fclose(a);
      if (b) fclose(b);
      remove(path2);
    }
    kz_gbdt_model_free(back);
    kz_gbdt_model_free(m);
  }
  /* No numeric features, no trees at all. */
  kz_gbdt_model *m = model_new(KZ_GBDT_REG_SQUAREDERROR, 1, 0, 1, 0);
  KZ_CHECK_OK(kz_gbdt_model_save_json(m, path));
  kz_gbdt_model *back = NULL;
  KZ_CHECK_OK(kz_gbdt_model_load_json(path, &back));
  KZ_CHECK(back && models_equal(m, back));
  kz_gbdt_model_free(back);
  kz_gbdt_model_free(m);
  remove(path);
}

/* A valid one-tree document; the corrupt cases edit it by string replacement. */
static const char valid_doc[] =
    "{\"kaizen_gbdt\": 1, \"objective\": \"reg:squarederror\", \"quantile_alpha\": 0.5,\n"
    " \"num_group\": 1, \"base_score\": [0.5], \"label\": null, \"class_names\": null,\n"
    " \"best_iteration\": -1,\n"
    " \"features\": [{\"name\": \"a\", \"type\": \"numeric\"},\n"
    "              {\"name\": \"c\", \"type\": \"categorical\", \"n_categories\": 3}],\n"
    " \"trees\": [{\"group\": 0, \"n_nodes\": 5, \"left\": [1, 3, -1, -1, -1],\n"
    "   \"right\": [2, 4, -1, -1, -1], \"feature\": [0, 1, -1, -1, -1],\n"
    "   \"threshold\": [0.5, 0, 0, 0, 0], \"default_left\": [1, 0, 0, 0, 0],\n"
    "   \"categorical\": [0, 1, 0, 0, 0], \"cat_begin\": [0, 0, 0, 0, 0],\n"
    "   \"cat_count\": [0, 2, 0, 0, 0], \"cat_values\": [0, 2],\n"
    "   \"leaf_value\": [0, 0, 1.5, -1, 2], \"gain\": [3, 1, 0, 0, 0],\n"
    "   \"cover\": [10, 6, 4, 2, 4]}]}\n";

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  fputs(text, f);
  fclose(f);
}

/* Loads valid_doc with `from` replaced by `to` and expects an error naming
 * the file and containing `needle`. */
static void expect_reject(const char *from, const char *to, const char *needle, int line) {
  char path[512], doc[4096];
  path_in_tmp(path, sizeof path, "bad.json");
  const char *at = strstr(valid_doc, from);
  if (!at) {
    fprintf(stderr, "line %d: test bug: '%s' not in the document\n", line, from);
    ++kz_test_failures;
    return;
  }
  snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - valid_doc), valid_doc, to, at + strlen(from));
  write_text(path, doc);
  kz_gbdt_model *m = NULL;
  kz_status st = kz_gbdt_model_load_json(path, &m);
  if (st == KZ_OK || !strstr(kz_last_error(), needle) || !strstr(kz_last_error(), "bad.json") ||
      m) {
    fprintf(stderr, "line %d: expected an error with \"%s\", got %s: %s\n", line, needle,
            kz_status_name(st), kz_last_error());
    ++kz_test_failures;
  }
  kz_gbdt_model_free(m);
}

static void check_loader_rejects(void) {
  char path[512];
  path_in_tmp(path, sizeof path, "bad.json");
  /* The template itself loads. */
  write_text(path, valid_doc);
  kz_gbdt_model *m = NULL;
  KZ_CHECK_OK(kz_gbdt_model_load_json(path, &m));
  KZ_CHECK(m && m->n_trees == 1 && m->n_numeric == 1 && m->n_categorical == 1);
  kz_gbdt_model_free(m);
  m = NULL;

  /* Truncated file. */
  char half[sizeof valid_doc];
  snprintf(half, sizeof half, "%.*s", (int)(sizeof valid_doc / 2), valid_doc);
  write_text(path, half);
  KZ_CHECK_FAILS(kz_gbdt_model_load_json(path, &m), KZ_ERR_FORMAT, "invalid JSON (at byte");
  KZ_CHECK(m == NULL);
  path_in_tmp(path, sizeof path, "does_not_exist.json");
  KZ_CHECK_FAILS(kz_gbdt_model_load_json(path, &m), KZ_ERR_IO, "does_not_exist.json");

#define REJECT(from, to, needle) expect_reject(from, to, needle, __LINE__)
  REJECT("\"kaizen_gbdt\": 1", "\"kaizen_gbdt\": 2", "kaizen_gbdt: version 2");
  REJECT("\"kaizen_gbdt\": 1,", "", "not a kaizen GBDT model");
  REJECT("\"reg:squarederror\"", "\"reg:hinge\"", "objective: expected one of");
  REJECT("\"num_group\": 1", "\"num_group\": \"1\"", "num_group: expected an integer");
  REJECT("\"num_group\": 1", "\"num_group\": 2", "base_score: expected an array of num_group");
  REJECT("[0.5], \"label\"", "[\"x\"], \"label\"", "base_score[0]: expected a number");
  REJECT("\"best_iteration\": -1,", "", "best_iteration: missing");
  REJECT("\"best_iteration\": -1,", "\"best_iteration\": 50,", "best_iteration: round 50, but");
  REJECT("\"best_iteration\"", "\"extra\": 1, \"best_iteration\"", "extra: unknown key");
  REJECT("\"class_names\": null", "\"class_names\": [\"a\"]", "class_names: must be null");
  REJECT("\"type\": \"numeric\"", "\"type\": \"float\"", "features[0].type: expected");
  REJECT("{\"name\": \"a\", \"type\": \"numeric\"},\n              {\"name\": \"c\", \"type\": "
         "\"categorical\", \"n_categories\": 3}",
         "{\"name\": \"c\", \"type\": \"categorical\", \"n_categories\": 3}, {\"name\": \"a\", "
         "\"type\": \"numeric\"}",
         "features[1]: numeric feature after a categorical one");
  REJECT("\"left\": [1, 3, -1, -1, -1]", "\"left\": \"x\"", "trees[0].left: expected an array");
  REJECT("\"left\": [1, 3, -1, -1, -1]", "\"left\": [1, 3.5, -1, -1, -1]",
         "trees[0].left[1]: expected an integer");
  REJECT("\"left\": [1, 3, -1, -1, -1]", "\"left\": [1, 99, -1, -1, -1]",
         "trees[0].left[1]: child index 99 out of range");
  REJECT("\"right\": [2, 4, -1, -1, -1]", "\"right\": [2, 4, -1, -1]",
         "trees[0].right: 4 entries, expected 5");
  REJECT("\"threshold\": [0.5, 0, 0, 0, 0]", "\"threshold\": [0.5, 0, 0, 0, 0, 0]",
         "trees[0].threshold: 6 entries, expected 5");
  REJECT("\"n_nodes\": 5", "\"n_nodes\": 4", "trees[0].left: 5 entries, expected 4");
  REJECT("\"feature\": [0, 1, -1, -1, -1]", "\"feature\": [7, 1, -1, -1, -1]",
         "trees[0].feature[0]: feature index 7 out of range");
  REJECT("\"feature\": [0, 1, -1, -1, -1]", "\"feature\": [0, 1, 0, -1, -1]",
         "trees[0].feature[2]: a leaf has feature -1");
  REJECT("\"right\": [2, 4, -1, -1, -1]", "\"right\": [2, 0, -1, -1, -1]",
         "trees[0].right[1]: points back to the root (cycle)");
  REJECT("\"right\": [2, 4, -1, -1, -1]", "\"right\": [2, 2, -1, -1, -1]",
         "trees[0].right[1]: node 2 already has parent 0");
  REJECT("\"left\": [1, 3, -1, -1, -1]", "\"left\": [1, 3, -1, -1, 1]",
         "trees[0]: node 4 has one child");
  /* Root a leaf; nodes 1 and 2 each other's child: a cycle detached from the
   * root that one-parent-per-node alone does not catch. */
  REJECT("\"n_nodes\": 5, \"left\": [1, 3, -1, -1, -1],\n"
         "   \"right\": [2, 4, -1, -1, -1], \"feature\": [0, 1, -1, -1, -1],\n"
         "   \"threshold\": [0.5, 0, 0, 0, 0], \"default_left\": [1, 0, 0, 0, 0],\n"
         "   \"categorical\": [0, 1, 0, 0, 0], \"cat_begin\": [0, 0, 0, 0, 0],\n"
         "   \"cat_count\": [0, 2, 0, 0, 0]",
         "\"n_nodes\": 5, \"left\": [-1, 2, 1, -1, -1], \"right\": [-1, 3, 4, -1, -1], "
         "\"feature\": [-1, 0, 0, -1, -1], \"threshold\": [0, 0, 0, 0, 0], \"default_left\": "
         "[0, 0, 0, 0, 0], \"categorical\": [0, 0, 0, 0, 0], \"cat_begin\": [0, 0, 0, 0, 0], "
         "\"cat_count\": [0, 0, 0, 0, 0]",
         "trees[0]: node 1 is not reachable from the root");
  REJECT("\"categorical\": [0, 1, 0, 0, 0]", "\"categorical\": [1, 1, 0, 0, 0]",
         "trees[0].categorical[0]: is 1 but feature 0 is numeric");
  REJECT("\"categorical\": [0, 1, 0, 0, 0]", "\"categorical\": [0, 2, 0, 0, 0]",
         "trees[0].categorical[1]: 2 out of range [0, 1]");
  REJECT("\"cat_values\": [0, 2]", "\"cat_values\": [0, 3]",
         "trees[0].cat_values[1]: category code 3 out of range [0, 3)");
  REJECT("\"cat_values\": [0, 2]", "\"cat_values\": [2, 0]", "must be sorted and unique");
  REJECT("\"cat_count\": [0, 2, 0, 0, 0]", "\"cat_count\": [0, 3, 0, 0, 0]",
         "outside cat_values (2 entries)");
  REJECT("\"cover\": [10, 6, 4, 2, 4]", "\"cover\": [10, 6, 4, -2, 4]",
         "trees[0].cover[3]: negative");
  REJECT("\"leaf_value\": [0, 0, 1.5, -1, 2]", "\"leaf_value\": [0, 0, 1e300, -1, 2]",
         "trees[0].leaf_value[2]: 1e+300 does not fit a float");
  REJECT("\"group\": 0", "\"group\": 1", "trees[0].group: 1 out of range");
  REJECT("\"group\": 0,", "\"group\": 0, \"depth\": 3,", "trees[0].depth: unknown key");
  REJECT("\"gain\": [3, 1, 0, 0, 0],", "", "trees[0].gain: missing");
  REJECT("\"kaizen_gbdt\": 1,", "\"kaizen_gbdt\": 1, \"kaizen_gbdt\": 1,", "invalid JSON");
#undef REJECT

  /* Saving an invalid model fails and leaves neither the file nor a .tmp. */
  kz_gbdt_model *bad = random_model(KZ_GBDT_REG_SQUAREDERROR, 1, 2, 0, 1, 2);
  bad->trees[0].left[0] = 42;
  path_in_tmp(path, sizeof path, "never.json");
  KZ_CHECK_FAILS(kz_gbdt_model_save_json(bad, path), KZ_ERR_FORMAT,
                 "trees[0].left[0]: child index 42 out of range");
  KZ_CHECK(access(path, F_OK) != 0);
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  KZ_CHECK(access(tmp, F_OK) != 0);
  kz_gbdt_model_free(bad);
}

static void check_shap(void) {
  /* Brute force: 2 numeric + 2 categorical features, deep trees so that a
   * feature repeats along paths, several groups. */
  for (int trial = 0; trial < 6; ++trial) {
    int groups = trial % 2 ? 3 : 1;
    kz_gbdt_model *m = random_model(trial % 2 ? KZ_GBDT_MULTI_SOFTPROB : KZ_GBDT_REG_SQUAREDERROR,
                                    groups, 2, 2, 3, 5);
    enum { R = 40 };
    int M = 4;
    float num[R * 2];
    int32_t cat[R * 2];
    random_rows(m, R, num, cat);
    double *phi = malloc(sizeof(double) * R * (size_t)groups * (size_t)(M + 1));
    double marg[R * 3], ref[8];
    KZ_CHECK_OK(kz_gbdt_shap(m, R, num, cat, trial % 3, phi));
    margins(m, R, num, cat, marg);
    double worst = 0, worst_sum = 0;
    for (int r = 0; r < R; ++r)
      for (int g = 0; g < groups; ++g) {
        const double *p = phi + ((size_t)r * groups + g) * (size_t)(M + 1);
        brute_shap(m, g, num + r * 2, cat + r * 2, ref);
        double sum = 0;
        for (int j = 0; j <= M; ++j) {
          sum += p[j];
          worst = fmax(worst, fabs(p[j] - ref[j]));
        }
        worst_sum = fmax(worst_sum, fabs(sum - marg[r * groups + g]));
      }
    if (worst > 1e-9 || worst_sum > 1e-9)
      fprintf(stderr, "shap trial %d: max |shap - brute force| %g, max |sum - margin| %g\n", trial,
              worst, worst_sum);
    KZ_CHECK(worst <= 1e-9);
    KZ_CHECK(worst_sum <= 1e-9);
    free(phi);
    kz_gbdt_model_free(m);
  }
  /* Sum = margin on a bigger model (too many features for brute force). */
  kz_gbdt_model *m = random_model(KZ_GBDT_BINARY_LOGISTIC, 1, 12, 3, 20, 6);
  enum { R = 200 };
  float *num = malloc(sizeof(float) * R * 12);
  int32_t cat[R * 3];
  random_rows(m, R, num, cat);
  double *phi = malloc(sizeof(double) * R * 16), marg[R], worst = 0;
  KZ_CHECK_OK(kz_gbdt_shap(m, R, num, cat, 0, phi));
  margins(m, R, num, cat, marg);
  /* The library's prediction agrees with the plain walk. */
  double lib[R];
  KZ_CHECK_OK(kz_gbdt_predict_margin(m, R, num, cat, 1, lib));
  for (int r = 0; r < R; ++r) KZ_CHECK(fabs(lib[r] - marg[r]) < 1e-9);
  for (int r = 0; r < R; ++r) {
    double s = 0;
    for (int j = 0; j < 16; ++j) s += phi[r * 16 + j];
    worst = fmax(worst, fabs(s - marg[r]));
  }
  KZ_CHECK(worst < 1e-9);
  free(num);
  free(phi);
  kz_gbdt_model_free(m);
}

static void check_importance(void) {
  /* tree 0: root splits f0 (gain 10, cover 100), its left child f1 (gain 4,
   * cover 60); tree 1: root splits f0 (gain 6, cover 80). f2 is never used. */
  kz_gbdt_model *m = model_new(KZ_GBDT_REG_SQUAREDERROR, 1, 3, 0, 2);
  const int32_t l0[] = {1, 3, -1, -1, -1}, r0[] = {2, 4, -1, -1, -1}, f0[] = {0, 1, -1, -1, -1};
  const float g0[] = {10, 4, 0, 0, 0}, c0[] = {100, 60, 40, 30, 30};
  const int32_t l1[] = {1, -1, -1}, r1[] = {2, -1, -1}, f1[] = {0, -1, -1};
  const float g1[] = {6, 0, 0}, c1[] = {80, 50, 30};
  tree_alloc(&m->trees[0], 5, 0);
  tree_alloc(&m->trees[1], 3, 0);
  m->trees[0].n_nodes = 5;
  m->trees[1].n_nodes = 3;
  memcpy(m->trees[0].left, l0, sizeof l0);
  memcpy(m->trees[0].right, r0, sizeof r0);
  memcpy(m->trees[0].feature, f0, sizeof f0);
  memcpy(m->trees[0].gain, g0, sizeof g0);
  memcpy(m->trees[0].cover, c0, sizeof c0);
  memcpy(m->trees[1].left, l1, sizeof l1);
  memcpy(m->trees[1].right, r1, sizeof r1);
  memcpy(m->trees[1].feature, f1, sizeof f1);
  memcpy(m->trees[1].gain, g1, sizeof g1);
  memcpy(m->trees[1].cover, c1, sizeof c1);
  const struct {
    const char *name;
    double want[3];
  } cases[] = {{"weight", {2, 1, 0}},
               {"gain", {8, 4, 0}},
               {"total_gain", {16, 4, 0}},
               {"cover", {90, 60, 0}},
               {"total_cover", {180, 60, 0}}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
    kz_gbdt_importance_type type;
    KZ_CHECK(kz_gbdt_importance_parse(cases[k].name, &type));
    KZ_CHECK(!strcmp(kz_gbdt_importance_name(type), cases[k].name));
    double out[3] = {-1, -1, -1};
    KZ_CHECK_OK(kz_gbdt_importance(m, type, out));
    for (int f = 0; f < 3; ++f) {
      if (out[f] != cases[k].want[f])
        fprintf(stderr, "importance %s feature %d: %g, expected %g\n", cases[k].name, f, out[f],
                cases[k].want[f]);
      KZ_CHECK(out[f] == cases[k].want[f]);
    }
  }
  kz_gbdt_importance_type type;
  KZ_CHECK(!kz_gbdt_importance_parse("split", &type));
  kz_gbdt_model_free(m);
}

static void check_export_refusals(void) {
  char path[512];
  path_in_tmp(path, sizeof path, "q.xgb.json");
  kz_gbdt_model *m = random_model(KZ_GBDT_REG_QUANTILE, 1, 2, 1, 2, 3);
  KZ_CHECK_FAILS(kz_gbdt_export_xgboost_json(m, path), KZ_ERR_UNSUPPORTED, "reg:quantile");
  KZ_CHECK(access(path, F_OK) != 0);
  kz_gbdt_model_free(m);
}

/* ---- files for the XGBoost comparison ------------------------------------------------ */

static int write_case(const char *dir, const char *name, kz_gbdt_model *m, int64_t rows) {
  char path[1024];
  float *num = malloc(sizeof(float) * (size_t)(rows * (m->n_numeric ? m->n_numeric : 1)));
  int32_t *cat =
      malloc(sizeof(int32_t) * (size_t)(rows * (m->n_categorical ? m->n_categorical : 1)));
  int32_t nf = m->n_numeric + m->n_categorical, G = m->num_group;
  double *marg = malloc(sizeof(double) * (size_t)(rows * G));
  double *phi = malloc(sizeof(double) * (size_t)(rows * G * (nf + 1)));
  random_rows(m, rows, num, cat);
  /* kaizen's margins as the library predicts them (checked against the
   * plain walk in check_shap). */
  int ok = kz_gbdt_predict_margin(m, rows, num, cat, 0, marg) == KZ_OK;
  ok = ok && kz_gbdt_shap(m, rows, num, cat, 0, phi) == KZ_OK;
  snprintf(path, sizeof path, "%s/%s.kaizen.json", dir, name);
  ok = ok && kz_gbdt_model_save_json(m, path) == KZ_OK;
  snprintf(path, sizeof path, "%s/%s.rows.csv", dir, name);
  FILE *f = fopen(path, "w");
  ok = ok && f;
  for (int64_t r = 0; f && r < rows; ++r) {
    for (int32_t j = 0; j < nf; ++j) {
      if (j) fputc(',', f);
      if (j < m->n_numeric) {
        float x = num[r * m->n_numeric + j];
        if (isnan(x))
          fputs("nan", f);
        else
          fprintf(f, "%.9g", (double)x);
      } else {
        int32_t c = cat[r * m->n_categorical + j - m->n_numeric];
        if (c < 0)
          fputs("nan", f);
        else
          fprintf(f, "%d", c);
      }
    }
    for (int g = 0; g < G; ++g) fprintf(f, ",%.17g", marg[r * G + g]);
    for (int64_t k = 0; k < G * (nf + 1); ++k) fprintf(f, ",%.17g", phi[r * G * (nf + 1) + k]);
    fputc('\n', f);
  }
  if (f) fclose(f);
  free(num);
  free(cat);
  free(marg);
  free(phi);
  if (!ok) fprintf(stderr, "writing case %s failed: %s\n", name, kz_last_error());
  return ok;
}

static int write_xgb_cases(const char *dir) {
  kz_gbdt_model *models[] = {
      random_model(KZ_GBDT_REG_SQUAREDERROR, 1, 4, 2, 8, 5),
      random_model(KZ_GBDT_BINARY_LOGISTIC, 1, 5, 0, 10, 4),
      random_model(KZ_GBDT_MULTI_SOFTPROB, 4, 3, 2, 6, 4),
      random_model(KZ_GBDT_COUNT_POISSON, 1, 2, 1, 5, 3),
      random_model(KZ_GBDT_REG_ABSOLUTEERROR, 1, 0, 3, 5, 3),
  };
  const char *names[] = {"squarederror", "logistic", "softprob", "poisson", "absoluteerror"};
  models[0]->base_score[0] = 0; /* one model without base-score stumps */
  int ok = 1;
  char path[1024];
  snprintf(path, sizeof path, "%s/cases.txt", dir);
  FILE *list = fopen(path, "w");
  if (!list) return 0;
  for (int i = 0; i < 5; ++i) {
    ok &= write_case(dir, names[i], models[i], 300);
    fprintf(list, "%s %d %d %d\n", names[i], models[i]->num_group, models[i]->n_numeric,
            models[i]->n_categorical);
    kz_gbdt_model_free(models[i]);
  }
  /* Extreme values through XGBoost's reader, compared bit for bit only (the
   * margins of such a model overflow XGBoost's float sums): "values" marks it. */
  static const float extremes[] = {
      3.4028234663852886e38f, -3.4028234663852886e38f, 1.17549435e-38f, 1.4e-45f, -1.4e-45f, -0.0f,
      1.1754942e-38f,         3.4028232635611926e38f,  16777217.0f,     0.1f};
  kz_gbdt_model *x = random_model(KZ_GBDT_BINARY_LOGISTIC, 1, 3, 1, 6, 4);
  int e = 0;
  x->base_score[0] = -0.0;
  for (int32_t i = 0; i < x->n_trees; ++i)
    for (int32_t n = 0; n < x->trees[i].n_nodes; ++n) {
      kz_gbdt_tree *t = &x->trees[i];
      if (t->left[n] < 0)
        t->leaf_value[n] = extremes[e++ % 10];
      else if (!t->is_categorical[n])
        t->threshold[n] = extremes[e++ % 10];
      if (t->left[n] >= 0) t->gain[n] = extremes[e++ % 10];
      t->cover[n] = fabsf(extremes[e++ % 10]);
    }
  snprintf(path, sizeof path, "%s/extremes.kaizen.json", dir);
  ok &= kz_gbdt_model_save_json(x, path) == KZ_OK;
  fprintf(list, "extremes %d %d %d values\n", x->num_group, x->n_numeric, x->n_categorical);
  kz_gbdt_model_free(x);
  fclose(list);
  return ok;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--xgb-dir")) return write_xgb_cases(argv[2]) ? 0 : 1;
  const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(tmpdir, sizeof tmpdir, "%s/kz_gbdt_io_XXXXXX", base);
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  check_round_trip();
  check_loader_rejects();
  check_shap();
  check_importance();
  check_export_refusals();
  char path[512];
  path_in_tmp(path, sizeof path, "bad.json");
  remove(path);
  rmdir(tmpdir);
  return KZ_TEST_RESULT();
}
