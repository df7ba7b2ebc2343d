/* Model files keep every float and double bit for bit (docs/GBDT.md, "Model
 * file"; models/float_text.h). A property test over random models:
 *   - GBDT, every objective: random tree shapes, numeric thresholds, leaf
 *     values, gains and covers drawn from the extremes (±FLT_MAX, FLT_MIN,
 *     subnormals down to FLT_TRUE_MIN, -0, the float next to FLT_MAX) and
 *     from random bit patterns, random categorical splits, base_score and
 *     quantile_alpha from the double extremes; saved, loaded and compared
 *     array by array with memcmp, then margins and transformed predictions on
 *     random rows (NaN, ±inf, extremes, missing categories) compared bit for
 *     bit before and after;
 *   - the float text itself: random floats and doubles through
 *     kz_float_to_text / kz_double_to_text and the readers' paths;
 *   - .kzm neural models (MLP and linear): scaling statistics from the double
 *     extremes and parameters from the float extremes (NaN payloads too)
 *     saved and loaded bit for bit. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/float_text.h"
#include "models/gbdt/gbdt_json.h"
#include "models/nn_model.h"
#include "tests/test_util.h"

static const kz_device CPU = {KZ_DEVICE_CPU, 0};

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd64(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static uint32_t rnd(void) {
  return (uint32_t)(rnd64() >> 32);
}
static double unif(void) {
  return (double)(rnd64() >> 11) / 9007199254740992.0;
}

static float float_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static double double_bits(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* A finite float: one of the extremes, a random bit pattern or an ordinary
 * number. */
static float any_float(void) {
  static const float extremes[] = {FLT_MAX,
                                   -FLT_MAX,
                                   0x1.fffffcp+127f,
                                   -0x1.fffffcp+127f,
                                   FLT_MIN,
                                   -FLT_MIN,
                                   FLT_TRUE_MIN,
                                   -FLT_TRUE_MIN,
                                   0x1.fffffcp-127f,
                                   -0x1.fffffcp-127f,
                                   0x1.000002p-126f,
                                   0.0f,
                                   -0.0f,
                                   1.0f,
                                   -1.0f,
                                   0.1f,
                                   16777216.0f,
                                   16777217.0f,
                                   0x1p-140f,
                                   3.4028234e38f};
  uint32_t k = rnd() % 4;
  if (k == 0) return extremes[rnd() % (sizeof extremes / sizeof extremes[0])];
  if (k == 1) {
    float f;
    do f = float_bits(rnd());
    while (!isfinite(f));
    return f;
  }
  return (float)(unif() * 4 - 2);
}

static double any_double(void) {
  static const double extremes[] = {
      DBL_MAX, -DBL_MAX, DBL_MIN,   -DBL_MIN, DBL_TRUE_MIN, -DBL_TRUE_MIN,
      0.0,     -0.0,     1.0 / 3.0, FLT_MAX,  -FLT_MAX,     0x1.ffffffp+127 - 0x1p+100,
      1e-320};
  uint32_t k = rnd() % 3;
  if (k == 0) return extremes[rnd() % (sizeof extremes / sizeof extremes[0])];
  if (k == 1) {
    double d;
    do d = double_bits(rnd64());
    while (!isfinite(d));
    return d;
  }
  return unif() * 10 - 5;
}

/* ---- the text itself ----------------------------------------------------------- */

static void check_text(void) {
  int bad = 0;
  char buf[KZ_FLOAT_TEXT_MAX];
  for (int i = 0; i < 200000; ++i) {
    float v = i < 1000 ? any_float() : float_bits(rnd());
    if (!isfinite(v)) continue;
    kz_float_to_text(v, buf);
    float back = 0, back2 = strtof(buf, NULL);
    int ok = kz_float_from_double(strtod(buf, NULL), &back) && !memcmp(&back, &v, sizeof v) &&
             !memcmp(&back2, &v, sizeof v);
    if (!ok && bad++ < 5) fprintf(stderr, "float %a -> \"%s\" does not read back\n", v, buf);
  }
  for (int i = 0; i < 200000; ++i) {
    double v = i < 1000 ? any_double() : double_bits(rnd64());
    if (!isfinite(v)) continue;
    kz_double_to_text(v, buf);
    double back = strtod(buf, NULL);
    if (memcmp(&back, &v, sizeof v) && bad++ < 5)
      fprintf(stderr, "double %a -> \"%s\" does not read back\n", v, buf);
  }
  KZ_CHECK(bad == 0);
  /* Fixed forms: the shortest digits, -0 as a real. */
  struct {
    float v;
    const char *s;
  } fixed[] = {{FLT_MAX, "3.4028235e+38"},
               {-FLT_MAX, "-3.4028235e+38"},
               {FLT_TRUE_MIN, "1e-45"},
               {FLT_MIN, "1.1754944e-38"},
               {-0.0f, "-0.0"},
               {0.0f, "0"},
               {0.1f, "0.1"},
               {100.0f, "100"},
               {1e7f, "1e+07"}};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; ++i) {
    kz_float_to_text(fixed[i].v, buf);
    if (strcmp(buf, fixed[i].s))
      fprintf(stderr, "%a -> \"%s\", want \"%s\"\n", fixed[i].v, buf, fixed[i].s);
    KZ_CHECK(!strcmp(buf, fixed[i].s));
  }
  kz_double_to_text(-0.0, buf);
  KZ_CHECK(!strcmp(buf, "-0.0"));
  kz_double_to_text(0.1, buf);
  KZ_CHECK(!strcmp(buf, "0.1"));
  /* The reader's range: FLT_MAX's text and the halfway point. */
  float f = 0;
  KZ_CHECK(kz_float_from_double(3.4028235e+38, &f) && f == FLT_MAX);
  KZ_CHECK(kz_float_from_double(0x1.fffffefffffffp+127, &f) && f == FLT_MAX);
  KZ_CHECK(!kz_float_from_double(0x1.ffffffp+127, &f));
  KZ_CHECK(!kz_float_from_double(-0x1.ffffffp+127, &f));
  KZ_CHECK(!kz_float_from_double(NAN, &f) && !kz_float_from_double(INFINITY, &f));
  KZ_CHECK(kz_float_from_double(1e-46, &f) && f == 0); /* underflow rounds, it is no error */
  KZ_CHECK(kz_float_from_double(-0.0, &f) && f == 0 && signbit(f));
}

/* ---- GBDT ------------------------------------------------------------------------- */

static char tmpdir[256];

static char *dup_str(const char *s) {
  char *d = malloc(strlen(s) + 1);
  strcpy(d, s);
  return d;
}

static void grow(const kz_gbdt_model *m, kz_gbdt_tree *t, int32_t id, int depth, int max_depth) {
  int32_t nf = m->n_numeric + m->n_categorical;
  t->gain[id] = any_float();
  t->cover[id] = fabsf(any_float());
  if (depth == max_depth || nf == 0 || (depth > 0 && unif() < 0.3)) {
    t->left[id] = t->right[id] = t->feature[id] = -1;
    t->leaf_value[id] = any_float();
    t->threshold[id] = rnd() % 4 ? 0.0f : any_float(); /* unused on leaves, kept anyway */
    return;
  }
  int32_t f = (int32_t)(rnd() % (uint32_t)nf);
  t->feature[id] = f;
  t->default_left[id] = (uint8_t)(rnd() & 1);
  t->leaf_value[id] = rnd() % 4 ? 0.0f : any_float();
  if (f < m->n_numeric) {
    t->threshold[id] = any_float();
  } else {
    int32_t ncat = m->n_categories[f - m->n_numeric];
    t->is_categorical[id] = 1;
    t->cat_begin[id] = t->n_cat_values;
    for (int32_t c = 0; c < ncat; ++c)
      if (rnd() & 1) t->cat_values[t->n_cat_values++] = c;
    t->cat_count[id] = t->n_cat_values - t->cat_begin[id];
  }
  int32_t l = t->n_nodes, r = t->n_nodes + 1;
  t->n_nodes += 2;
  t->left[id] = l;
  t->right[id] = r;
  grow(m, t, l, depth + 1, max_depth);
  grow(m, t, r, depth + 1, max_depth);
}

static kz_gbdt_model *random_model(kz_gbdt_objective obj) {
  kz_gbdt_model *m = calloc(1, sizeof *m);
  m->objective = obj;
  m->num_group = obj == KZ_GBDT_MULTI_SOFTPROB ? 2 + (int32_t)(rnd() % 3) : 1;
  static const double alphas[] = {DBL_TRUE_MIN, 0x1.fffffffffffffp-1, 0.5, 1.0 / 3.0, 1e-300};
  m->quantile_alpha = rnd() & 1 ? alphas[rnd() % 5] : unif() * 0.98 + 0.01;
  for (int g = 0; g < m->num_group; ++g) m->base_score[g] = any_double();
  m->n_numeric = (int32_t)(rnd() % 4);
  m->n_categorical = (int32_t)(rnd() % 3);
  int32_t nf = m->n_numeric + m->n_categorical;
  m->feature_names = calloc((size_t)nf + 1, sizeof(char *));
  for (int32_t i = 0; i < nf; ++i) {
    char name[32];
    snprintf(name, sizeof name, "f%d", i);
    m->feature_names[i] = dup_str(name);
  }
  m->n_categories = calloc((size_t)m->n_categorical + 1, sizeof(int32_t));
  for (int32_t c = 0; c < m->n_categorical; ++c) m->n_categories[c] = 1 + (int32_t)(rnd() % 6);
  m->label_name = dup_str("y");
  if (obj == KZ_GBDT_BINARY_LOGISTIC || obj == KZ_GBDT_MULTI_SOFTPROB) {
    int n = obj == KZ_GBDT_BINARY_LOGISTIC ? 2 : m->num_group;
    m->class_names = calloc((size_t)n, sizeof(char *));
    for (int i = 0; i < n; ++i) m->class_names[i] = dup_str(i ? "yes" : "no");
  }
  m->best_iteration = rnd() & 1 ? -1 : (int32_t)(rnd() % 5);
  m->n_trees = m->num_group * (1 + (int32_t)(rnd() % 4));
  /* a round the model has: validation refuses a best round past the last */
  if (m->best_iteration >= 0) m->best_iteration %= m->n_trees / m->num_group;
  m->trees = calloc((size_t)m->n_trees, sizeof *m->trees);
  m->tree_group = calloc((size_t)m->n_trees, sizeof(int32_t));
  for (int32_t i = 0; i < m->n_trees; ++i) {
    kz_gbdt_tree *t = &m->trees[i];
    int max_depth = (int)(rnd() % 5);
    size_t cap = (size_t)2 << max_depth;
    t->left = calloc(cap, sizeof(int32_t));
    t->right = calloc(cap, sizeof(int32_t));
    t->feature = calloc(cap, sizeof(int32_t));
    t->threshold = calloc(cap, sizeof(float));
    t->default_left = calloc(cap, 1);
    t->is_categorical = calloc(cap, 1);
    t->cat_begin = calloc(cap, sizeof(int32_t));
    t->cat_count = calloc(cap, sizeof(int32_t));
    t->cat_values = calloc(cap * 6, sizeof(int32_t));
    t->leaf_value = calloc(cap, sizeof(float));
    t->gain = calloc(cap, sizeof(float));
    t->cover = calloc(cap, sizeof(float));
    t->n_nodes = 1;
    grow(m, t, 0, 0, max_depth);
    m->tree_group[i] = i % m->num_group;
  }
  return m;
}

static int same_tree(const kz_gbdt_tree *a, const kz_gbdt_tree *b) {
  size_t n = (size_t)a->n_nodes, i4 = n * 4;
  return a->n_nodes == b->n_nodes && a->n_cat_values == b->n_cat_values &&
         !memcmp(a->left, b->left, i4) && !memcmp(a->right, b->right, i4) &&
         !memcmp(a->feature, b->feature, i4) && !memcmp(a->threshold, b->threshold, i4) &&
         !memcmp(a->default_left, b->default_left, n) &&
         !memcmp(a->is_categorical, b->is_categorical, n) &&
         !memcmp(a->cat_begin, b->cat_begin, i4) && !memcmp(a->cat_count, b->cat_count, i4) &&
         !memcmp(a->cat_values, b->cat_values, (size_t)a->n_cat_values * 4) &&
         !memcmp(a->leaf_value, b->leaf_value, i4) && !memcmp(a->gain, b->gain, i4) &&
         !memcmp(a->cover, b->cover, i4);
}

static int same_model(const kz_gbdt_model *a, const kz_gbdt_model *b) {
  if (a->objective != b->objective || a->num_group != b->num_group ||
      a->n_numeric != b->n_numeric || a->n_categorical != b->n_categorical ||
      a->n_trees != b->n_trees || a->best_iteration != b->best_iteration ||
      memcmp(&a->quantile_alpha, &b->quantile_alpha, sizeof(double)) ||
      memcmp(a->base_score, b->base_score, (size_t)a->num_group * sizeof(double)) ||
      memcmp(a->n_categories, b->n_categories, (size_t)a->n_categorical * sizeof(int32_t)) ||
      memcmp(a->tree_group, b->tree_group, (size_t)a->n_trees * sizeof(int32_t)))
    return 0;
  for (int32_t i = 0; i < a->n_numeric + a->n_categorical; ++i)
    if (strcmp(a->feature_names[i], b->feature_names[i])) return 0;
  for (int32_t i = 0; i < a->n_trees; ++i)
    if (!same_tree(&a->trees[i], &b->trees[i])) return 0;
  return 1;
}

static float any_input(void) {
  static const float special[] = {NAN,          INFINITY,      -INFINITY, FLT_MAX, -FLT_MAX,
                                  FLT_TRUE_MIN, -FLT_TRUE_MIN, 0.0f,      -0.0f,   FLT_MIN};
  return rnd() % 3 ? special[rnd() % (sizeof special / sizeof special[0])] : any_float();
}

/* Margins and transformed predictions of m and back on the same random rows,
 * bit for bit. */
static int same_predictions(const kz_gbdt_model *m, const kz_gbdt_model *back) {
  enum { ROWS = 64 };
  size_t nn = (size_t)m->n_numeric + 1, nc = (size_t)m->n_categorical + 1;
  size_t no = (size_t)m->num_group * ROWS;
  float *num = malloc(ROWS * nn * sizeof(float));
  int32_t *cat = malloc(ROWS * nc * sizeof(int32_t));
  double *a = malloc(no * sizeof(double)), *b = malloc(no * sizeof(double));
  for (int r = 0; r < ROWS; ++r) {
    for (int32_t f = 0; f < m->n_numeric; ++f)
      num[(size_t)r * (size_t)m->n_numeric + f] = any_input();
    for (int32_t c = 0; c < m->n_categorical; ++c)
      cat[(size_t)r * (size_t)m->n_categorical + c] =
          rnd() % 4 ? (int32_t)(rnd() % (uint32_t)(m->n_categories[c] + 1)) - 1 : -1;
  }
  int ok = kz_gbdt_predict_margin(m, ROWS, num, cat, 1, a) == KZ_OK &&
           kz_gbdt_predict_margin(back, ROWS, num, cat, 1, b) == KZ_OK &&
           !memcmp(a, b, no * sizeof(double));
  kz_gbdt_transform(m, ROWS, a);
  kz_gbdt_transform(back, ROWS, b);
  ok = ok && !memcmp(a, b, no * sizeof(double));
  free(num);
  free(cat);
  free(a);
  free(b);
  return ok;
}

static void check_gbdt(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/model.json", tmpdir);
  const kz_gbdt_objective objs[] = {KZ_GBDT_REG_SQUAREDERROR, KZ_GBDT_REG_ABSOLUTEERROR,
                                    KZ_GBDT_REG_QUANTILE,     KZ_GBDT_BINARY_LOGISTIC,
                                    KZ_GBDT_MULTI_SOFTPROB,   KZ_GBDT_COUNT_POISSON};
  int models = 0, failures = 0;
  for (int round = 0; round < 60; ++round)
    for (size_t k = 0; k < sizeof objs / sizeof objs[0]; ++k) {
      kz_gbdt_model *m = random_model(objs[k]), *back = NULL;
      kz_status st = kz_gbdt_model_save_json(m, path);
      if (st == KZ_OK) st = kz_gbdt_model_load_json(path, &back);
      int ok = st == KZ_OK && same_model(m, back) && same_predictions(m, back);
      if (!ok && failures++ < 3)
        fprintf(stderr, "%s model %d: %s\n", kz_gbdt_objective_name(objs[k]), round,
                st == KZ_OK ? "differs after save and load" : kz_last_error());
      ++models;
      kz_gbdt_model_free(back);
      kz_gbdt_model_free(m);
    }
  printf("gbdt: %d random models (6 objectives) saved and loaded, %d differ\n", models, failures);
  KZ_CHECK(failures == 0);
  remove(path);
}

/* A hand-written file with FLT_MAX as the text C's "%.8g" gives ("3.4028235e+38",
 * above FLT_MAX as a double) and the 9-digit form loads; the halfway point
 * and beyond are refused with the path of the value. */
static void check_gbdt_text(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/hand.json", tmpdir);
  const char *fmt =
      "{\"kaizen_gbdt\": 1, \"objective\": \"reg:squarederror\", \"quantile_alpha\": 0.5,"
      " \"num_group\": 1, \"base_score\": [-0.0], \"label\": null, \"class_names\": null,"
      " \"best_iteration\": -1, \"features\": [{\"name\": \"x\", \"type\": \"numeric\"}],"
      " \"trees\": [{\"group\": 0, \"n_nodes\": 3, \"left\": [1, -1, -1], \"right\": [2, -1, -1],"
      " \"feature\": [0, -1, -1], \"threshold\": [%s, 0, 0], \"default_left\": [1, 0, 0],"
      " \"categorical\": [0, 0, 0], \"cat_begin\": [0, 0, 0], \"cat_count\": [0, 0, 0],"
      " \"cat_values\": [], \"leaf_value\": [0, -0.0, 1e-45], \"gain\": [1, 0, 0],"
      " \"cover\": [2, 1, 1]}]}";
  struct {
    const char *text;
    int ok;
    float want;
  } cases[] = {{"3.4028235e+38", 1, FLT_MAX},
               {"3.40282347e+38", 1, FLT_MAX},
               {"-3.4028235e+38", 1, -FLT_MAX},
               {"3.4028235677973362e+38", 1, FLT_MAX},
               {"3.4028235677973366e+38", 0, 0},
               {"3.4028236e+38", 0, 0},
               {"1e39", 0, 0},
               {"1.4e-45", 1, FLT_TRUE_MIN},
               {"-0.0", 1, -0.0f}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    FILE *f = fopen(path, "w");
    if (!f) continue;
    fprintf(f, fmt, cases[i].text);
    fclose(f);
    kz_gbdt_model *m = NULL;
    kz_status st = kz_gbdt_model_load_json(path, &m);
    if (cases[i].ok) {
      KZ_CHECK(st == KZ_OK && m && !memcmp(&m->trees[0].threshold[0], &cases[i].want, 4));
      if (m) {
        float nz = -0.0f;
        KZ_CHECK(!memcmp(&m->trees[0].leaf_value[1], &nz, 4)); /* "-0.0" keeps its sign */
        KZ_CHECK(m->trees[0].leaf_value[2] == FLT_TRUE_MIN);
        KZ_CHECK(m->base_score[0] == 0 && signbit(m->base_score[0]));
      }
      if (st != KZ_OK) fprintf(stderr, "%s: %s\n", cases[i].text, kz_last_error());
    } else {
      KZ_CHECK(st == KZ_ERR_FORMAT && strstr(kz_last_error(), "trees[0].threshold[0]") &&
               strstr(kz_last_error(), "does not fit a float"));
    }
    kz_gbdt_model_free(m);
  }
  remove(path);
}

/* ---- .kzm neural models ------------------------------------------------------------ */

/* The numbers of a meta document in document order (sorted keys), as doubles. */
static int collect_numbers(json_t *v, double *out, int n) {
  if (json_is_real(v)) {
    out[n++] = json_real_value(v);
  } else if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); ++i)
      n = collect_numbers(json_array_get(v, i), out, n);
  } else if (json_is_object(v)) {
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x) n = collect_numbers(x, out, n);
  }
  return n;
}

/* fmt has six %s for the statistics; bit i of positive marks the ones that
 * must be > 0 (standard deviations). */
static void check_nn_case(const char *name, const char *fmt, unsigned positive) {
  const int n_values = 6;
  char path[512], meta[4096], vals[8][KZ_FLOAT_TEXT_MAX];
  double want[8];
  snprintf(path, sizeof path, "%s/%s.kzm", tmpdir, name);
  int failures = 0;
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < n_values; ++i) {
      double d = any_double();
      if (positive >> i & 1) d = fabs(d) > 0 ? fabs(d) : DBL_TRUE_MIN;
      want[i] = d;
      kz_double_to_text(d, vals[i]);
    }
    snprintf(meta, sizeof meta, fmt, vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]);
    kz_nn_model *m = NULL, *back = NULL;
    kz_status st = kz_nn_model_from_meta(meta, CPU, &m);
    float *p = NULL;
    int64_t np = 0;
    if (st == KZ_OK) {
      kz_nn_model_base *b = kz_nn_base(m);
      p = (float *)b->params.data;
      np = b->info.n_params;
      for (int64_t i = 0; i < np; ++i) p[i] = i % 5 ? any_float() : float_bits(rnd());
      st = b->ops->save(m, path);
    }
    if (st == KZ_OK) st = kz_nn_model_load(path, CPU, &back);
    int ok = st == KZ_OK;
    if (ok) {
      kz_nn_model_base *b = kz_nn_base(back);
      ok = b->info.n_params == np && !memcmp(b->params.data, p, (size_t)np * sizeof(float));
      char *j = NULL;
      ok = ok && b->ops->meta_json(back, &j) == KZ_OK;
      json_t *root = j ? json_loads(j, 0, NULL) : NULL;
      double got[16];
      int n = root ? collect_numbers(root, got, 0) : 0;
      /* every statistic appears once; compare as multisets by bits */
      for (int i = 0; ok && i < n_values; ++i) {
        int found = 0;
        for (int k = 0; k < n && !found; ++k) found = !memcmp(&got[k], &want[i], sizeof(double));
        ok = found;
        if (!found && failures < 3) fprintf(stderr, "%s: %s lost (meta %s)\n", name, vals[i], j);
      }
      json_decref(root);
      free(j);
    } else if (failures < 3) {
      fprintf(stderr, "%s: %s\n", name, kz_last_error());
    }
    failures += !ok;
    if (back) kz_nn_base(back)->ops->destroy(back);
    if (m) kz_nn_base(m)->ops->destroy(m);
  }
  printf("%s: 40 random .kzm models saved and loaded, %d differ\n", name, failures);
  KZ_CHECK(failures == 0);
  remove(path);
}

static void check_nn(void) {
  check_nn_case("mlp",
                "{\"type\":\"mlp\",\"version\":1,\"config\":{\"hidden\":[3],\"activation\":"
                "\"relu\",\"dropout\":0.0,\"embedding_dim\":\"auto\",\"task\":\"regression\","
                "\"init\":\"he\"},\"fields\":{\"count\":2,\"numeric\":0,\"categorical\":-1,"
                "\"label\":1},\"numeric\":[{\"name\":\"a\",\"mean\":%s,\"std\":%s,"
                "\"missing_indicator\":true},{\"name\":\"b\",\"mean\":%s,\"std\":%s,"
                "\"missing_indicator\":false}],\"categorical\":[],\"label\":{\"name\":\"y\","
                "\"mean\":%s,\"std\":%s,\"classes\":[]},\"output_names\":[\"y\"]}",
                0x2a);
  check_nn_case("linear",
                "{\"type\":\"linear\",\"task\":\"regression\",\"n_out\":1,\"output_names\":"
                "[\"y\"],\"label\":\"y\",\"field_numeric\":0,\"field_categorical\":-1,"
                "\"field_label\":1,\"numeric_names\":[\"a\",\"b\"],\"numeric_mean\":[%s,%s],"
                "\"numeric_std\":[%s,%s],\"categorical_names\":[],\"categorical_cardinality\":[],"
                "\"label_mean\":%s,\"label_std\":%s}",
                0x2c);
}

int main(void) {
  const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(tmpdir, sizeof tmpdir, "%s/kz_model_floats_XXXXXX", base);
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  check_text();
  check_gbdt_text();
  check_gbdt();
  check_nn();
  rmdir(tmpdir);
  return KZ_TEST_RESULT();
}
