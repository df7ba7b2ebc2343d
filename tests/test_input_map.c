/* Rows by column name onto a model's layout (data/map/input_map.h) and the
 * public scoring API over it (kz_predictor_* in kaizen.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/map/input_map.h"
#include "engine/predict/predictor.h"
#include "models/gbdt/gbdt_json.h"
#include "models/gbdt/tree_build.h"
#include "tests/test_util.h"

/* numeric (a, b), categorical (color: blue, green, red), label y (no, yes) */
static void model_schema(kz_schema *s, int categorical_label) {
  const char *num[] = {"a", "b"}, *cat[] = {"color"}, *lab[] = {"y"};
  const char *colors[] = {"blue", "green", "red"}, *classes[] = {"no", "yes"};
  int f;
  KZ_CHECK_OK(kz_schema_init(s, "tabular"));
  KZ_CHECK_OK(kz_schema_add_field(s, "numeric", KZ_FIELD_F32, 2, 2, num, NULL));
  KZ_CHECK_OK(kz_schema_add_field(s, "categorical", KZ_FIELD_I32, 1, 1, cat, &f));
  KZ_CHECK_OK(kz_schema_set_categories(s, f, 0, 3, colors));
  KZ_CHECK_OK(kz_schema_add_field(s, "label", categorical_label ? KZ_FIELD_I32 : KZ_FIELD_F32, 1, 1,
                                  lab, &f));
  if (categorical_label) KZ_CHECK_OK(kz_schema_set_categories(s, f, 0, 2, classes));
  KZ_CHECK_OK(kz_schema_set_label(s, "y"));
}

static void test_raw(void) {
  kz_schema s;
  model_schema(&s, 1);
  const char *names[] = {"id", "color", "a", "y", "b"};
  kz_input_map *m = NULL;
  KZ_CHECK_OK(kz_input_map_for_columns(&s, 5, names, KZ_LABEL_REQUIRED, "x.csv", &m));
  if (!m) return;
  KZ_CHECK(!strcmp(kz_input_map_ignored(m), "id"));
  KZ_CHECK(kz_input_map_has_label(m));
  kz_shard_batch b;
  KZ_CHECK_OK(kz_shard_batch_alloc(kz_input_map_schema(m), 8, &b));
  const char *r1[] = {"7", "red", "1.5", "yes", "NA"};
  const char *r2[] = {"8", "purple", " 2e3 ", "no", ""};
  KZ_CHECK_OK(kz_input_map_row(m, r1, NULL, 2, &b));
  KZ_CHECK_OK(kz_input_map_row(m, r2, NULL, 3, &b));
  KZ_CHECK(b.rows == 2);
  KZ_CHECK(kz_batch_f32(&b, 0, 0)[0] == 1.5f && isnan(kz_batch_f32(&b, 0, 0)[1]));
  KZ_CHECK(*kz_batch_i32(&b, 1, 0) == 2 && *kz_batch_i32(&b, 2, 0) == 1);
  KZ_CHECK(kz_batch_f32(&b, 0, 1)[0] == 2000.0f && isnan(kz_batch_f32(&b, 0, 1)[1]));
  KZ_CHECK(*kz_batch_i32(&b, 1, 1) == -1 && *kz_batch_i32(&b, 2, 1) == 0);
  KZ_CHECK(kz_input_map_unseen(m) == 1);
  KZ_CHECK(!strcmp(kz_input_map_unseen_summary(m), "color: 1"));
  const char *bad_num[] = {"9", "red", "abc", "no", "1"};
  KZ_CHECK_FAILS(kz_input_map_row(m, bad_num, NULL, 4, &b), KZ_ERR_FORMAT,
                 "x.csv:4: column 'a': 'abc' is not a number");
  const char *bad_class[] = {"9", "red", "1", "maybe", "1"};
  KZ_CHECK_FAILS(kz_input_map_row(m, bad_class, NULL, 5, &b), KZ_ERR_INVALID_ARG,
                 "x.csv:5: column 'y' (the label): class 'maybe' is unknown");
  size_t lens[] = {1, 3, 3, 2, 1};
  const char *nul[] = {"9", "r\0d", "1.0", "no", "1"};
  KZ_CHECK_FAILS(kz_input_map_row(m, nul, lens, 6, &b), KZ_ERR_FORMAT, "NUL");
  kz_input_map_free(m);

  /* the label is optional for predict, required for eval; features never */
  const char *nolabel[] = {"b", "a", "color"};
  KZ_CHECK_OK(kz_input_map_for_columns(&s, 3, nolabel, KZ_LABEL_OPTIONAL, "p.csv", &m));
  if (m) {
    KZ_CHECK(!kz_input_map_has_label(m));
    kz_shard_batch_clear(&b);
    const char *r[] = {"1", "2", "blue"};
    KZ_CHECK_OK(kz_input_map_row(m, r, NULL, 2, &b));
    KZ_CHECK(kz_batch_f32(&b, 0, 0)[0] == 2.0f && kz_batch_f32(&b, 0, 0)[1] == 1.0f);
    KZ_CHECK(*kz_batch_i32(&b, 1, 0) == 0 && *kz_batch_i32(&b, 2, 0) == -1);
    kz_input_map_free(m);
  }
  KZ_CHECK_FAILS(kz_input_map_for_columns(&s, 3, nolabel, KZ_LABEL_REQUIRED, "e.csv", &m),
                 KZ_ERR_INVALID_ARG, "e.csv: no column 'y' (the label)");
  const char *nob[] = {"a", "color"};
  KZ_CHECK_FAILS(kz_input_map_for_columns(&s, 2, nob, KZ_LABEL_OPTIONAL, "p.csv", &m),
                 KZ_ERR_INVALID_ARG, "no column 'b', which the model reads as a numeric feature");
  const char *twice[] = {"a", "b", "color", "a"};
  KZ_CHECK_FAILS(kz_input_map_for_columns(&s, 4, twice, KZ_LABEL_OPTIONAL, "p.csv", &m),
                 KZ_ERR_FORMAT, "column 'a' appears twice");
  kz_shard_batch_free(&b);
  kz_schema_free(&s);
}

/* Shards with a dictionary of the same size and another meaning. */
static void test_schema(void) {
  kz_schema model, src;
  model_schema(&model, 1);
  const char *num[] = {"b", "a"}, *cat[] = {"color"}, *lab[] = {"y"};
  const char *colors[] = {"green", "purple", "red"}, *classes[] = {"maybe", "yes"};
  int f;
  KZ_CHECK_OK(kz_schema_init(&src, "tabular"));
  KZ_CHECK_OK(kz_schema_add_field(&src, "numeric", KZ_FIELD_F32, 2, 2, num, NULL));
  KZ_CHECK_OK(kz_schema_add_field(&src, "categorical", KZ_FIELD_I32, 1, 1, cat, &f));
  KZ_CHECK_OK(kz_schema_set_categories(&src, f, 0, 3, colors));
  KZ_CHECK_OK(kz_schema_add_field(&src, "label", KZ_FIELD_I32, 1, 1, lab, &f));
  KZ_CHECK_OK(kz_schema_set_categories(&src, f, 0, 2, classes));
  KZ_CHECK_OK(kz_schema_set_label(&src, "y"));
  kz_shard_batch in, out;
  KZ_CHECK_OK(kz_shard_batch_alloc(&src, 4, &in));
  KZ_CHECK_OK(kz_shard_batch_alloc(&model, 4, &out));
  for (int r = 0; r < 3; ++r) {
    kz_batch_f32(&in, 0, r)[0] = (float)r;         /* b */
    kz_batch_f32(&in, 0, r)[1] = 10.0f + (float)r; /* a */
    *kz_batch_i32(&in, 1, r) = r;                  /* green, purple, red */
    *kz_batch_i32(&in, 2, r) = 1;                  /* yes */
    in.row_ids[r] = 100 + r;
  }
  in.rows = 3;
  kz_input_map *m = NULL;
  KZ_CHECK_OK(kz_input_map_for_schema(&model, &src, KZ_LABEL_REQUIRED, "shards", &m));
  if (m) {
    KZ_CHECK_OK(kz_input_map_batch(m, &in, &out));
    KZ_CHECK(out.rows == 3);
    KZ_CHECK(kz_batch_f32(&out, 0, 2)[0] == 12.0f && kz_batch_f32(&out, 0, 2)[1] == 2.0f);
    KZ_CHECK(*kz_batch_i32(&out, 1, 0) == 1 && *kz_batch_i32(&out, 1, 1) == -1 &&
             *kz_batch_i32(&out, 1, 2) == 2);
    KZ_CHECK(*kz_batch_i32(&out, 2, 0) == 1);
    KZ_CHECK(kz_input_map_unseen(m) == 1);
    *kz_batch_i32(&in, 2, 1) = 0; /* "maybe": not a class of the model */
    KZ_CHECK_FAILS(kz_input_map_batch(m, &in, &out), KZ_ERR_INVALID_ARG,
                   "row 101: column 'y' (the label): class 'maybe'");
    kz_input_map_free(m);
  }
  /* a type that differs is refused, naming the column */
  kz_schema_free(&src);
  const char *num2[] = {"b"}, *cat2[] = {"a", "color"};
  KZ_CHECK_OK(kz_schema_init(&src, "tabular"));
  KZ_CHECK_OK(kz_schema_add_field(&src, "numeric", KZ_FIELD_F32, 1, 1, num2, NULL));
  KZ_CHECK_OK(kz_schema_add_field(&src, "categorical", KZ_FIELD_I32, 2, 2, cat2, &f));
  KZ_CHECK_OK(kz_schema_set_categories(&src, f, 0, 3, colors));
  KZ_CHECK_OK(kz_schema_set_categories(&src, f, 1, 3, colors));
  KZ_CHECK_FAILS(kz_input_map_for_schema(&model, &src, KZ_LABEL_OPTIONAL, "shards", &m),
                 KZ_ERR_INVALID_ARG, "column 'a' is categorical there but numeric in the model");
  kz_shard_batch_free(&in);
  kz_shard_batch_free(&out);
  kz_schema_free(&src);
  kz_schema_free(&model);
}

/* One tree: a < 1 (missing: left) -> -1; else color in {red} -> 5, other
 * (missing: left) -> 3. */
static void write_model(const char *path) {
  kz_schema s;
  model_schema(&s, 0);
  kz_gbdt_model *m = calloc(1, sizeof *m);
  m->objective = KZ_GBDT_REG_SQUAREDERROR;
  m->num_group = 1;
  m->n_numeric = 2, m->n_categorical = 1;
  m->feature_names = calloc(3, sizeof(char *));
  m->feature_names[0] = strdup("a"), m->feature_names[1] = strdup("b");
  m->feature_names[2] = strdup("color");
  m->n_categories = calloc(1, sizeof(int32_t));
  m->n_categories[0] = 3;
  m->label_name = strdup("y");
  m->best_iteration = -1;
  m->n_trees = 1;
  m->trees = calloc(1, sizeof *m->trees);
  m->tree_group = calloc(1, sizeof(int32_t));
  kz_gbdt_tree *t = &m->trees[0];
  KZ_CHECK_OK(kz_gbdt_tree_alloc(t, 5, 1));
  const int32_t left[] = {1, -1, 3, -1, -1}, right[] = {2, -1, 4, -1, -1},
                feat[] = {0, -1, 2, -1, -1};
  const float leaf[] = {0, -1, 0, 3, 5};
  for (int i = 0; i < 5; ++i) {
    t->left[i] = left[i], t->right[i] = right[i], t->feature[i] = feat[i];
    t->leaf_value[i] = leaf[i], t->cover[i] = 1;
  }
  t->threshold[0] = 1.0f;
  t->default_left[0] = 1, t->default_left[2] = 1;
  t->is_categorical[2] = 1, t->cat_begin[2] = 0, t->cat_count[2] = 1, t->cat_values[0] = 2;
  m->input_schema = kz_schema_to_input_string(&s);
  KZ_CHECK_OK(kz_gbdt_model_save_json(m, path));
  kz_gbdt_model_free(m);
  kz_schema_free(&s);
}

static void test_predictor(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/model.json", dir);
  write_model(path);
  kz_predictor *p = NULL;
  KZ_CHECK_OK(kz_predictor_open(path, "cpu", &p));
  if (!p) return;
  KZ_CHECK(kz_predictor_output_count(p) == 1 && !strcmp(kz_predictor_output_name(p, 0), "y"));
  KZ_CHECK_FAILS(kz_predictor_predict(p, 1, (const char *const[]){"1"}, (double[1]){0}),
                 KZ_ERR_INVALID_ARG, "set_columns first");
  const char *names[] = {"color", "junk", "a", "b"};
  KZ_CHECK_OK(kz_predictor_set_columns(p, 4, names));
  const char *cells[] = {
      "red",    "x", "0.5", "0", /* a < 1: -1 */
      "red",    "x", "2",   "0", /* 5 */
      "blue",   "x", "2",   "0", /* 3 */
      "purple", "x", "2",   "0", /* unseen -> missing -> left: 3 */
      NULL,     "x", "",    "0", /* a missing -> left: -1 */
  };
  double out[5];
  KZ_CHECK_OK(kz_predictor_predict(p, 5, cells, out));
  const double want[] = {-1, 5, 3, 3, -1};
  for (int i = 0; i < 5; ++i) KZ_CHECK(out[i] == want[i]);
  KZ_CHECK(kz_predictor_unseen(p) == 1);
  const char *bad[] = {"red", "x", "two", "0"};
  KZ_CHECK_FAILS(kz_predictor_predict(p, 1, bad, out), KZ_ERR_FORMAT,
                 "record 0: request: column 'a': 'two' is not a number");
  KZ_CHECK_FAILS(kz_predictor_set_columns(p, 2, (const char *const[]){"a", "color"}),
                 KZ_ERR_INVALID_ARG, "no column 'b'");
  kz_predictor_close(p);
  remove(path);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  test_raw();
  test_schema();
  test_predictor(dir);
  return KZ_TEST_RESULT();
}
