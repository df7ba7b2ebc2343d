/* Tabular MLP tests:
 *   parity  DIR FIXTURE   logits/probabilities, loss, every gradient and the
 *                         parameters after 3 AdamW steps vs PyTorch
 *                         (tests/fixtures/mlp, tools/make_mlp_fixture.py)
 *   gradcheck DIR FIXTURE the whole gradient block vs central differences
 *   model DIR FIXTURE     determinism, dropout, weighting/accumulation,
 *                         save -> load and meta -> from_meta round trips,
 *                         config and data errors
 *   freeze DIR FIXTURE    frozen ranges: their gradients are not computed,
 *                         the trainable ones are bit-identical
 *   linear DIR FIXTURE    the linear model: predictions vs a one-hot reference
 *                         in double, the gradient block vs finite differences
 *   learn DIR CSV         200 AdamW steps on breast_cancer reach accuracy > 0.9
 *                         (exit 77 when the CSV is absent) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config/cfg.h"
#include "data/import/import.h"
#include "data/shard/iter.h"
#include "data/shard/writer.h"
#include "kernels/core/backend.h"
#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/linear/linear_internal.h"
#include "models/mlp/mlp.h"
#include "models/nn_model.h"
#include "tests/test_util.h"

static const kz_device CPU = {KZ_DEVICE_CPU, 0};

/* ---- the fixture: "key count values..." lines ---------------------------- */

enum { MAX_ENTRIES = 32 };
typedef struct fixture {
  int n;
  char key[MAX_ENTRIES][64];
  char section[MAX_ENTRIES][16]; /* "" before the first case line */
  int count[MAX_ENTRIES];
  double *vals[MAX_ENTRIES];
} fixture;

static int fixture_load(const char *path, fixture *fx) {
  memset(fx, 0, sizeof(*fx));
  FILE *f = fopen(path, "r");
  if (!f) return fprintf(stderr, "cannot open %s\n", path), 0;
  char section[16] = "", word[64];
  while (fscanf(f, "%63s", word) == 1) {
    if (word[0] == '#') {
      int c;
      while ((c = fgetc(f)) != '\n' && c != EOF) {
      }
      continue;
    }
    if (strcmp(word, "case") == 0) {
      char act[16], task[32];
      if (fscanf(f, "%15s %15s %31s", section, act, task) != 3) break;
      continue;
    }
    if (fx->n == MAX_ENTRIES) break;
    int i = fx->n++;
    snprintf(fx->key[i], sizeof fx->key[i], "%s", word);
    snprintf(fx->section[i], sizeof fx->section[i], "%s", section);
    if (fscanf(f, "%d", &fx->count[i]) != 1) break;
    fx->vals[i] = calloc((size_t)fx->count[i] + 1, sizeof(double));
    for (int k = 0; k < fx->count[i]; k++) {
      if (fscanf(f, "%63s", word) != 1) break;
      fx->vals[i][k] = strcmp(word, "nan") == 0 ? NAN : strtod(word, NULL);
    }
  }
  fclose(f);
  return fx->n > 0;
}

static const double *fx_get(const fixture *fx, const char *section, const char *key, int *count) {
  for (int i = 0; i < fx->n; i++)
    if (strcmp(fx->key[i], key) == 0 && strcmp(fx->section[i], section) == 0) {
      if (count) *count = fx->count[i];
      return fx->vals[i];
    }
  fprintf(stderr, "fixture: no %s/%s\n", section, key);
  exit(1);
}

static void fixture_free(fixture *fx) {
  for (int i = 0; i < fx->n; i++) free(fx->vals[i]);
}

/* ---- data: the fixture rows as a data set and as one batch --------------- */

static void make_schema(int classification, kz_schema *s) {
  static const char *const num_names[] = {"a", "b", "c"}, *const cat_names[] = {"u", "v"};
  static const char *const u_cats[] = {"u0", "u1", "u2"};
  static const char *const v_cats[] = {"v0", "v1", "v2", "v3", "v4"};
  static const char *const classes[] = {"red", "green", "blue"};
  static const char *const label[] = {"y"};
  int f = 0;
  kz_schema_init(s, "tabular");
  kz_schema_add_field(s, "numeric", KZ_FIELD_F32, 3, 3, num_names, NULL);
  kz_schema_add_field(s, "categorical", KZ_FIELD_I32, 2, 2, cat_names, &f);
  kz_schema_set_categories(s, f, 0, 3, u_cats);
  kz_schema_set_categories(s, f, 1, 5, v_cats);
  kz_schema_add_field(s, "label", classification ? KZ_FIELD_I32 : KZ_FIELD_F32, 1, 1, label, &f);
  if (classification) kz_schema_set_categories(s, f, 0, 3, classes);
  kz_schema_set_label(s, "y");
}

static void fill_batch(const fixture *fx, int classification, kz_shard_batch *b) {
  int rows = (int)fx_get(fx, "", "rows", NULL)[0];
  const double *num = fx_get(fx, "", "numeric", NULL), *cat = fx_get(fx, "", "categorical", NULL);
  const double *cls = fx_get(fx, "", "class", NULL), *val = fx_get(fx, "", "value", NULL);
  for (int r = 0; r < rows; r++) {
    for (int i = 0; i < 3; i++) kz_batch_f32(b, 0, r)[i] = (float)num[r * 3 + i];
    for (int j = 0; j < 2; j++) kz_batch_i32(b, 1, r)[j] = (int32_t)cat[r * 2 + j];
    if (classification)
      *kz_batch_i32(b, 2, r) = (int32_t)cls[r];
    else
      *kz_batch_f32(b, 2, r) = (float)val[r];
  }
  b->rows = rows;
}

/* Writes the fixture rows as a one-split data set in dir and opens it. */
static kz_status make_dataset(const char *dir, const fixture *fx, int classification, kz_schema *s,
                              kz_shard_batch *b, kz_dataset **ds) {
  make_schema(classification, s);
  KZ_TRY(kz_shard_batch_alloc(s, 64, b));
  fill_batch(fx, classification, b);
  kz_shard_writer_options o;
  kz_shard_writer_options_default(&o);
  o.overwrite = 1;
  kz_shard_writer *w = NULL;
  KZ_TRY(kz_shard_writer_open(dir, s, &o, &w));
  kz_status st = kz_shard_writer_append(w, 0, b);
  if (st != KZ_OK) {
    kz_shard_writer_abort(w);
    return st;
  }
  KZ_TRY(kz_shard_writer_finish(w));
  return kz_dataset_open(dir, NULL, ds);
}

/* An MLP, or the model the yaml's model.type names (the factory). */
static kz_status create_mlp(const char *yaml, kz_dataset *ds, kz_cfg **cfg, kz_nn_model **m) {
  KZ_TRY(kz_cfg_load_string(yaml, "test.yaml", cfg));
  if (strstr(yaml, "type:")) return kz_nn_model_create(kz_cfg_section(*cfg, "model"), ds, CPU, m);
  return kz_mlp_create(kz_cfg_section(*cfg, "model"), ds, CPU, m);
}

/* The fixture rows as a data set and batch, and a model made from yaml on
 * them: what a case needs, opened and closed in one call each. */
typedef struct bench {
  kz_schema s;
  kz_shard_batch b;
  kz_dataset *ds;
  kz_cfg *cfg;
  kz_nn_model *m;
} bench;

static int bench_open(const char *dir, const fixture *fx, int classification, const char *yaml,
                      bench *t) {
  memset(t, 0, sizeof *t);
  KZ_CHECK_OK(make_dataset(dir, fx, classification, &t->s, &t->b, &t->ds));
  if (t->ds) KZ_CHECK_OK(create_mlp(yaml, t->ds, &t->cfg, &t->m));
  return t->m != NULL;
}

static void bench_close(bench *t) {
  if (t->m) kz_nn_base(t->m)->ops->destroy(t->m);
  kz_cfg_free(t->cfg);
  if (t->ds) kz_dataset_close(t->ds);
  kz_shard_batch_free(&t->b);
  kz_schema_free(&t->s);
}

static float *params_of(kz_nn_model *m) {
  return (float *)kz_nn_base(m)->params.data;
}
static float *grads_of(kz_nn_model *m) {
  return (float *)kz_nn_base(m)->grads.data;
}
static int64_t nparams(kz_nn_model *m) {
  return kz_nn_base(m)->info.n_params;
}
static void zero_grads(kz_nn_model *m) {
  memset(grads_of(m), 0, (size_t)nparams(m) * sizeof(float));
}

/* max |a-b| / max(max |b|, floor): one relative error for a whole tensor */
static double rel_err(const float *a, const double *b, int64_t n, double floor) {
  double num = 0, den = floor;
  for (int64_t i = 0; i < n; i++) {
    num = fmax(num, fabs((double)a[i] - b[i]));
    den = fmax(den, fabs(b[i]));
  }
  return num / den;
}

/* ---- parity vs PyTorch --------------------------------------------------- */

static void parity_case(const char *dir, const fixture *fx, const char *name, int classification,
                        const char *yaml) {
  kz_schema s;
  kz_shard_batch b;
  kz_dataset *ds = NULL;
  kz_cfg *cfg = NULL;
  kz_nn_model *m = NULL;
  KZ_CHECK_OK(make_dataset(dir, fx, classification, &s, &b, &ds));
  if (!ds) return;
  KZ_CHECK_OK(create_mlp(yaml, ds, &cfg, &m));
  if (!m) return;
  int n = 0;
  const double *p0 = fx_get(fx, name, "params", &n);
  KZ_CHECK(n == nparams(m));
  if (n != nparams(m)) {
    fprintf(stderr, "%s: fixture has %d params, model %lld\n", name, n, (long long)nparams(m));
    return;
  }
  for (int i = 0; i < n; i++) params_of(m)[i] = (float)p0[i];
  const kz_nn_model_ops *ops = kz_nn_base(m)->ops;

  int out_w = kz_nn_base(m)->info.out_width, n_out = 0;
  const double *want_out = fx_get(fx, name, "outputs", &n_out);
  KZ_CHECK(n_out == out_w * b.rows);
  float out[64];
  KZ_CHECK_OK(ops->predict_batch(m, &b, out));
  double e_out = rel_err(out, want_out, n_out, 1e-3);
  printf("%s: outputs rel err %.3g\n", name, e_out);
  KZ_CHECK(e_out < 1e-5);

  double loss = 0;
  zero_grads(m);
  KZ_CHECK_OK(ops->train_batch(m, &b, 1.0, 7, &loss));
  double want_loss = fx_get(fx, name, "loss", NULL)[0];
  printf("%s: loss %.9g want %.9g\n", name, loss, want_loss);
  KZ_CHECK(fabs(loss - want_loss) <= 1e-5 * fabs(want_loss));
  double e_grad = rel_err(grads_of(m), fx_get(fx, name, "grads", NULL), n, 1e-3);
  printf("%s: gradient block rel err %.3g\n", name, e_grad);
  KZ_CHECK(e_grad < 1e-4);

  /* 3 AdamW steps through the op the trainer uses */
  const double *hp = fx_get(fx, "", "adamw", NULL);
  int64_t shape[1] = {n};
  kz_tensor mt, vt;
  KZ_CHECK_OK(kz_tensor_alloc(CPU, KZ_F32, 1, shape, &mt));
  KZ_CHECK_OK(kz_tensor_alloc(CPU, KZ_F32, 1, shape, &vt));
  memset(mt.data, 0, (size_t)n * sizeof(float));
  memset(vt.data, 0, (size_t)n * sizeof(float));
  kz_stream *st = NULL;
  KZ_CHECK_OK(kz_stream_create(CPU, &st));
  for (int step = 1; step <= 3; step++) {
    zero_grads(m);
    KZ_CHECK_OK(ops->train_batch(m, &b, 1.0, 7, &loss));
    kz_adamw_hparams h = {(float)hp[0], (float)hp[1], (float)hp[2], (float)hp[3],
                          (float)hp[4], 1.0f,         step};
    KZ_CHECK_OK(kz_op_adamw(st, &kz_nn_base(m)->params, &kz_nn_base(m)->grads, &mt, &vt, NULL, &h));
  }
  double e_after = rel_err(params_of(m), fx_get(fx, name, "after", NULL), n, 1e-3);
  printf("%s: params after 3 AdamW steps rel err %.3g\n", name, e_after);
  KZ_CHECK(e_after < 1e-5);

  kz_stream_destroy(st);
  kz_tensor_free(&mt);
  kz_tensor_free(&vt);
  ops->destroy(m);
  kz_cfg_free(cfg);
  kz_dataset_close(ds);
  kz_shard_batch_free(&b);
  kz_schema_free(&s);
}

static const char *YAML_CLS = "model:\n  hidden: [5, 4]\n  activation: gelu\n  dropout: 0\n";
static const char *YAML_REG = "model:\n  hidden: [5, 4]\n  activation: relu\n  dropout: 0.0\n"
                              "  task: regression\n";

static void test_parity(const char *dir, const fixture *fx) {
  parity_case(dir, fx, "cls", 1, YAML_CLS);
  parity_case(dir, fx, "reg", 0, YAML_REG);
}

/* ---- gradient check ------------------------------------------------------ */

static void gradcheck_case(const char *dir, const fixture *fx, int classification,
                           const char *yaml) {
  bench t;
  if (!bench_open(dir, fx, classification, yaml, &t)) {
    bench_close(&t);
    return;
  }
  kz_nn_model *m = t.m;
  const kz_shard_batch b = t.b;
  const kz_nn_model_ops *ops = kz_nn_base(m)->ops;
  KZ_CHECK_OK(ops->init_params(m, 3));
  /* non-zero biases so their gradients are exercised away from 0 */
  for (int64_t i = 0; i < nparams(m); i++) params_of(m)[i] += 0.05f * (float)((i % 7) - 3);
  int64_t n = nparams(m);
  double loss = 0;
  zero_grads(m);
  KZ_CHECK_OK(ops->train_batch(m, &b, 1.0, 0, &loss));
  float *analytic = malloc((size_t)n * sizeof(float));
  memcpy(analytic, grads_of(m), (size_t)n * sizeof(float));
  int bad = 0, checked = 0;
  double worst = 0;
  const float h = 1e-2f;
  for (int64_t i = 0; i < n; i++) {
    float keep = params_of(m)[i];
    double lp = 0, lm = 0;
    params_of(m)[i] = keep + h;
    zero_grads(m);
    KZ_CHECK_OK(ops->train_batch(m, &b, 1.0, 0, &lp));
    params_of(m)[i] = keep - h;
    zero_grads(m);
    KZ_CHECK_OK(ops->train_batch(m, &b, 1.0, 0, &lm));
    params_of(m)[i] = keep;
    double fd = (lp - lm) / (2.0 * (double)h);
    double err = fabs(fd - analytic[i]);
    worst = fmax(worst, err);
    if (err > 5e-4 + 1e-2 * fabs(fd)) {
      if (bad++ < 5)
        fprintf(stderr, "gradcheck: param %lld analytic %.6g finite-diff %.6g\n", (long long)i,
                analytic[i], fd);
    }
    checked++;
  }
  printf("gradcheck (%s %s): %d params, worst abs err %.3g, %d out of tolerance\n",
         kz_nn_base(m)->ops->type, classification ? "classification" : "regression", checked, worst,
         bad);
  KZ_CHECK(bad == 0);
  KZ_CHECK(checked == n);
  free(analytic);
  bench_close(&t);
}

static void test_gradcheck(const char *dir, const fixture *fx) {
  gradcheck_case(dir, fx, 1, YAML_CLS);
  gradcheck_case(dir, fx, 0,
                 "model:\n  hidden: [6]\n  activation: gelu\n  dropout: 0\n"
                 "  embedding_dim: 2\n  init: xavier\n");
}

/* ---- determinism, weighting, round trips, errors -------------------------- */

static void test_model(const char *dir, const fixture *fx) {
  kz_schema s;
  kz_shard_batch b;
  kz_dataset *ds = NULL;
  kz_cfg *cfg = NULL;
  kz_nn_model *m = NULL, *m2 = NULL;
  KZ_CHECK_OK(make_dataset(dir, fx, 1, &s, &b, &ds));
  if (!ds) return;
  KZ_CHECK_OK(create_mlp("model:\n  hidden: [16, 8]\n  dropout: 0.3\n", ds, &cfg, &m));
  KZ_CHECK_OK(kz_mlp_create(kz_cfg_section(cfg, "model"), ds, CPU, &m2));
  if (!m || !m2) return;
  const kz_nn_model_ops *ops = kz_nn_base(m)->ops;
  int64_t n = nparams(m);
  size_t bytes = (size_t)n * sizeof(float);
  const kz_nn_model_info *info = &kz_nn_base(m)->info;
  KZ_CHECK(strcmp(info->task, "classification") == 0 && info->out_width == 3);
  KZ_CHECK(strcmp(info->primary_metric, "accuracy") == 0 && info->primary_higher_is_better);
  /* in = 3 numeric + 1 indicator + 3 + 4 embedding = 11; 11*16 + 16*8 + 8*3 */
  KZ_CHECK(info->flops_per_row == 3.0 * 2.0 * (11 * 16 + 16 * 8 + 8 * 3));

  /* same seed -> same init; different seed -> different */
  KZ_CHECK_OK(ops->init_params(m, 11));
  KZ_CHECK_OK(ops->init_params(m2, 11));
  KZ_CHECK(memcmp(params_of(m), params_of(m2), bytes) == 0);
  KZ_CHECK_OK(ops->init_params(m2, 12));
  KZ_CHECK(memcmp(params_of(m), params_of(m2), bytes) != 0);
  KZ_CHECK_OK(ops->init_params(m2, 11));

  /* same dropout seed -> bit-identical gradients; another seed -> different */
  double l1 = 0, l2 = 0, l3 = 0;
  zero_grads(m);
  zero_grads(m2);
  KZ_CHECK_OK(ops->train_batch(m, &b, 1.0, 99, &l1));
  KZ_CHECK_OK(ops->train_batch(m2, &b, 1.0, 99, &l2));
  KZ_CHECK(l1 == l2 && memcmp(grads_of(m), grads_of(m2), bytes) == 0);
  zero_grads(m2);
  KZ_CHECK_OK(ops->train_batch(m2, &b, 1.0, 100, &l3));
  KZ_CHECK(l3 != l1 && memcmp(grads_of(m), grads_of(m2), bytes) != 0);

  /* gradients are added and scaled by weight: 0.5 twice == 1.0 once */
  float *g1 = malloc(bytes);
  memcpy(g1, grads_of(m), bytes);
  zero_grads(m);
  KZ_CHECK_OK(ops->train_batch(m, &b, 0.5, 99, &l2));
  KZ_CHECK_OK(ops->train_batch(m, &b, 0.5, 99, &l2));
  KZ_CHECK(l2 == l1);
  double worst = 0, norm = 0;
  for (int64_t i = 0; i < n; i++) {
    worst = fmax(worst, fabs(grads_of(m)[i] - g1[i]));
    norm = fmax(norm, fabs(g1[i]));
  }
  KZ_CHECK(norm > 0 && worst <= 1e-6 * norm);
  free(g1);

  /* eval: logloss, accuracy in [0,1], error = 1 - accuracy, rows counted */
  kz_nn_eval acc;
  memset(&acc, 0, sizeof(acc));
  KZ_CHECK_OK(ops->eval_batch(m, &b, &acc));
  kz_nn_metrics met;
  ops->eval_finish(m, &acc, &met);
  KZ_CHECK(acc.rows == b.rows && met.n == 3 && strcmp(met.names[0], "logloss") == 0);
  KZ_CHECK(strcmp(met.names[1], "accuracy") == 0 && met.values[1] >= 0 && met.values[1] <= 1);
  KZ_CHECK(strcmp(met.names[2], "error") == 0 && fabs(met.values[1] + met.values[2] - 1) < 1e-12);
  KZ_CHECK(met.values[0] > 0 && isfinite(met.values[0]));

  /* predictions are probabilities; save -> load -> identical predictions */
  float p1[64 * 3], p2[64 * 3];
  KZ_CHECK_OK(ops->predict_batch(m, &b, p1));
  for (int64_t r = 0; r < b.rows; r++)
    KZ_CHECK(fabs(p1[r * 3] + p1[r * 3 + 1] + p1[r * 3 + 2] - 1) < 1e-5);
  char path[1024];
  snprintf(path, sizeof path, "%s/model.kzm", dir);
  KZ_CHECK_OK(ops->save(m, path));
  kz_nn_model *loaded = NULL;
  KZ_CHECK_OK(kz_nn_model_load(path, CPU, &loaded));
  if (loaded) {
    KZ_CHECK(strcmp(kz_nn_base(loaded)->ops->type, "mlp") == 0);
    KZ_CHECK(nparams(loaded) == n && memcmp(params_of(loaded), params_of(m), bytes) == 0);
    KZ_CHECK_OK(kz_nn_base(loaded)->ops->predict_batch(loaded, &b, p2));
    KZ_CHECK(memcmp(p1, p2, (size_t)b.rows * 3 * sizeof(float)) == 0);
    /* the meta of the loaded model is the meta of the original */
    char *j1 = NULL, *j2 = NULL;
    KZ_CHECK_OK(ops->meta_json(m, &j1));
    KZ_CHECK_OK(kz_nn_base(loaded)->ops->meta_json(loaded, &j2));
    KZ_CHECK(j1 && j2 && strcmp(j1, j2) == 0);
    KZ_CHECK(j1 && strstr(j1, "\"type\":\"mlp\"") && strstr(j1, "\"green\""));
    /* from_meta + copied params (checkpoint resume) */
    kz_nn_model *fm = NULL;
    KZ_CHECK_OK(kz_nn_model_from_meta(j1, CPU, &fm));
    if (fm) {
      memcpy(params_of(fm), params_of(m), bytes);
      KZ_CHECK_OK(kz_nn_base(fm)->ops->predict_batch(fm, &b, p2));
      KZ_CHECK(memcmp(p1, p2, (size_t)b.rows * 3 * sizeof(float)) == 0);
      kz_nn_base(fm)->ops->destroy(fm);
    }
    KZ_CHECK_FAILS(kz_nn_model_from_meta("{\"type\":\"mlp\"}", CPU, &fm), KZ_ERR_FORMAT,
                   "mlp meta: config");
    KZ_CHECK_FAILS(kz_nn_model_from_meta("{\"type\":\"tree\"}", CPU, &fm), KZ_ERR_UNSUPPORTED,
                   "unknown model type 'tree'");
    free(j1);
    free(j2);
    kz_nn_base(loaded)->ops->destroy(loaded);
  }
  /* a corrupt file is refused and names the file */
  FILE *f = fopen(path, "r+b");
  if (f) {
    fseek(f, 40, SEEK_SET);
    fputc('#', f);
    fclose(f);
  }
  KZ_CHECK_FAILS(kz_nn_model_load(path, CPU, &loaded), KZ_ERR_FORMAT, "model.kzm");

  /* a batch of another schema is rejected, naming the field */
  kz_schema s_reg;
  kz_shard_batch b_reg;
  make_schema(0, &s_reg);
  KZ_CHECK_OK(kz_shard_batch_alloc(&s_reg, 64, &b_reg));
  fill_batch(fx, 0, &b_reg);
  KZ_CHECK_FAILS(ops->train_batch(m, &b_reg, 1.0, 0, &l1), KZ_ERR_INVALID_ARG, "'label'");
  kz_shard_batch_free(&b_reg);
  kz_schema_free(&s_reg);

  ops->destroy(m);
  kz_nn_base(m2)->ops->destroy(m2);
  kz_cfg_free(cfg);

  /* config errors name the key */
  kz_nn_model *x = NULL;
  KZ_CHECK_FAILS(create_mlp("model:\n  task: regression\n", ds, &cfg, &x), KZ_ERR_INVALID_ARG,
                 "model.task");
  kz_cfg_free(cfg);
  KZ_CHECK_FAILS(create_mlp("model:\n  activation: tanh\n", ds, &cfg, &x), KZ_ERR_FORMAT,
                 "activation");
  kz_cfg_free(cfg);
  KZ_CHECK_FAILS(create_mlp("model:\n  embedding_dim: big\n", ds, &cfg, &x), KZ_ERR_FORMAT,
                 "embedding_dim");
  kz_cfg_free(cfg);
  KZ_CHECK_FAILS(create_mlp("model:\n  hidden: [4, 0]\n", ds, &cfg, &x), KZ_ERR_INVALID_ARG,
                 "hidden");
  kz_cfg_free(cfg);
  /* the factory dispatches on model.type */
  KZ_CHECK_OK(kz_cfg_load_string("model:\n  type: mlp\n  hidden: [3]\n", "t.yaml", &cfg));
  KZ_CHECK_OK(kz_nn_model_create(kz_cfg_section(cfg, "model"), ds, CPU, &x));
  KZ_CHECK(x && strcmp(kz_nn_base(x)->ops->type, "mlp") == 0);
  if (x) kz_nn_base(x)->ops->destroy(x);
  kz_cfg_free(cfg);
  KZ_CHECK_OK(kz_cfg_load_string("model:\n  type: forest\n", "t.yaml", &cfg));
  KZ_CHECK_FAILS(kz_nn_model_create(kz_cfg_section(cfg, "model"), ds, CPU, &x), KZ_ERR_INVALID_ARG,
                 "forest");
  kz_cfg_free(cfg);

  kz_dataset_close(ds);
  kz_shard_batch_free(&b);
  kz_schema_free(&s);
}

/* ---- frozen layers -------------------------------------------------------- */

/* A model with some ranges frozen (by model.freeze_layers in yaml, or by
 * ranges r[0..nr) when nr > 0) against the same model with none: on one
 * batch, every trainable gradient is bit-identical and every frozen float
 * of the gradient block keeps the sentinel written before (its gradient is
 * neither computed nor written). */
static void freeze_case(kz_dataset *ds, const kz_shard_batch *b, const char *label,
                        const char *yaml, const kz_param_range *r, int nr) {
  static const char *base = "model:\n  hidden: [5, 4]\n  dropout: 0.3\n";
  kz_cfg *c1 = NULL, *c2 = NULL;
  kz_nn_model *full = NULL, *fz = NULL;
  KZ_CHECK_OK(create_mlp(base, ds, &c1, &full));
  KZ_CHECK_OK(create_mlp(yaml, ds, &c2, &fz));
  if (!full || !fz) return;
  if (nr > 0) KZ_CHECK_OK(kz_nn_set_trainable(kz_nn_base(fz), r, nr));
  const int64_t n = nparams(full);
  KZ_CHECK(n == nparams(fz));
  KZ_CHECK_OK(kz_nn_base(full)->ops->init_params(full, 5));
  KZ_CHECK_OK(kz_nn_base(fz)->ops->init_params(fz, 5));
  const float sentinel = 12345.0f;
  char *trainable = calloc((size_t)n, 1);
  kz_param_range tr[KZ_NN_MAX_RANGES];
  int ntr = kz_nn_trainable_ranges(kz_nn_base(fz), tr);
  for (int i = 0; i < ntr; i++) memset(trainable + tr[i].offset, 1, (size_t)tr[i].count);
  zero_grads(full);
  for (int64_t i = 0; i < n; i++) grads_of(fz)[i] = trainable[i] ? 0.0f : sentinel;
  double l1 = 0, l2 = 0;
  KZ_CHECK_OK(kz_nn_base(full)->ops->train_batch(full, b, 1.0, 9, &l1));
  KZ_CHECK_OK(kz_nn_base(fz)->ops->train_batch(fz, b, 1.0, 9, &l2));
  KZ_CHECK(l1 == l2);
  int64_t same = 0, kept = 0, n_tr = 0;
  for (int64_t i = 0; i < n; i++) {
    n_tr += trainable[i];
    if (trainable[i])
      same += memcmp(&grads_of(fz)[i], &grads_of(full)[i], sizeof(float)) == 0;
    else
      kept += grads_of(fz)[i] == sentinel;
  }
  printf("freeze %s: %lld/%lld trainable gradients identical, %lld/%lld frozen untouched\n", label,
         (long long)same, (long long)n_tr, (long long)kept, (long long)(n - n_tr));
  KZ_CHECK(n_tr > 0 && n_tr < n && same == n_tr && kept == n - n_tr);
  free(trainable);
  kz_nn_base(full)->ops->destroy(full);
  kz_nn_base(fz)->ops->destroy(fz);
  kz_cfg_free(c1);
  kz_cfg_free(c2);
}

static void test_freeze(const char *dir, const fixture *fx) {
  kz_schema s;
  kz_shard_batch b;
  kz_dataset *ds = NULL;
  KZ_CHECK_OK(make_dataset(dir, fx, 1, &s, &b, &ds));
  if (!ds) return;
  /* the first layer (its dx still flows to the embeddings) */
  freeze_case(ds, &b, "[0]", "model:\n  hidden: [5, 4]\n  dropout: 0.3\n  freeze_layers: [0]\n",
              NULL, 0);
  /* both hidden layers */
  freeze_case(ds, &b, "[0, 1]",
              "model:\n  hidden: [5, 4]\n  dropout: 0.3\n  freeze_layers: [0, 1]\n", NULL, 0);
  /* only the output layer (W [3, 4], b [3]: the last 15 floats) trains, the
   * embeddings included in the frozen part: no input gradient is needed */
  kz_cfg *cfg = NULL;
  kz_nn_model *m = NULL;
  KZ_CHECK_OK(create_mlp("model:\n  hidden: [5, 4]\n", ds, &cfg, &m));
  if (m) {
    kz_param_range last = {nparams(m) - 15, 15};
    freeze_case(ds, &b, "output layer only", "model:\n  hidden: [5, 4]\n  dropout: 0.3\n", &last,
                1);
    kz_nn_base(m)->ops->destroy(m);
  }
  kz_cfg_free(cfg);
  kz_dataset_close(ds);
  kz_shard_batch_free(&b);
  kz_schema_free(&s);
}

/* ---- the linear model ------------------------------------------------------- */

/* Its predictions against logits computed here in double from the
 * parameters, over the feature vector written out in full (standardised
 * numerics, missing indicators, one-hot slots): the model never builds the
 * one-hot block (one embedding lookup per column), so this checks that the
 * two agree; then its whole gradient block against finite differences. */
static void linear_case(const char *dir, const fixture *fx, int classification) {
  bench t;
  if (!bench_open(dir, fx, classification, "model:\n  type: linear\n", &t)) {
    bench_close(&t);
    return;
  }
  kz_nn_model *mm = t.m;
  const kz_shard_batch b = t.b;
  const kz_linear *m = (const kz_linear *)mm;
  const kz_nn_model_ops *ops = kz_nn_base(mm)->ops;
  KZ_CHECK_OK(ops->init_params(mm, 4));
  const int64_t n = nparams(mm), k = m->tab.n_out, d = m->d;
  /* weights large enough that every feature moves the outputs */
  for (int64_t i = 0; i < n; i++) params_of(mm)[i] = 0.1f * (float)((i * 7) % 11 - 5);
  KZ_CHECK(d == 2 * 3 + 4 + 6 && n == (d + 1) * k);
  float out[8 * 3];
  KZ_CHECK_OK(ops->predict_batch(mm, &b, out));
  const float *w = params_of(mm);
  double worst = 0;
  for (int64_t r = 0; r < b.rows; r++) {
    double x[16] = {0}, z[3];
    const float *v = kz_batch_f32(&b, 0, r);
    for (int j = 0; j < 3; j++) {
      if (isnan(v[j]))
        x[3 + j] = 1.0;
      else
        x[j] = ((double)v[j] - m->mean[j]) / m->std[j];
    }
    for (int j = 0; j < 2; j++) {
      int32_t c = kz_batch_i32(&b, 1, r)[j], card = m->tab.cat_card[j];
      x[m->cat_off[j] + (c >= 0 && c < card ? c : card)] = 1.0;
    }
    double mx = -INFINITY, sum = 0;
    for (int64_t o = 0; o < k; o++) {
      z[o] = w[d * k + o];
      for (int64_t j = 0; j < d; j++) z[o] += x[j] * w[j * k + o];
      mx = fmax(mx, z[o]);
    }
    for (int64_t o = 0; o < k; o++) sum += exp(z[o] - mx);
    for (int64_t o = 0; o < k; o++) {
      double want =
          classification ? exp(z[o] - mx) / sum : z[0] * m->tab.label_std + m->tab.label_mean;
      worst = fmax(worst, fabs(out[r * k + o] - want) / fmax(fabs(want), 1e-3));
    }
  }
  printf("linear (%s): predictions vs the one-hot reference, worst rel err %.3g\n",
         classification ? "classification" : "regression", worst);
  KZ_CHECK(worst < 1e-5);
  bench_close(&t);
  gradcheck_case(dir, fx, classification, "model:\n  type: linear\n");
}

static void test_linear(const char *dir, const fixture *fx) {
  linear_case(dir, fx, 1);
  linear_case(dir, fx, 0);
}

/* ---- learning smoke test on breast_cancer --------------------------------- */

static int test_learn(const char *dir, const char *csv) {
  struct stat stt;
  if (stat(csv, &stt) != 0) {
    printf("skipped: %s not found\n", csv);
    return 77;
  }
  kz_import_options io;
  kz_import_options_default(&io);
  io.kind = "tabular";
  io.input = csv;
  io.out = dir;
  io.label = "target";
  io.label_type = "categorical";
  io.valid_fraction = 0.2;
  io.seed = 1;
  io.overwrite = 1;
  kz_import_report rep;
  KZ_CHECK_OK(kz_import_file(&io, &rep));
  kz_dataset *train = NULL, *valid = NULL;
  kz_dataset_options o1 = {"train", 0}, o2 = {"valid", 0};
  KZ_CHECK_OK(kz_dataset_open(dir, &o1, &train));
  KZ_CHECK_OK(kz_dataset_open(dir, &o2, &valid));
  if (!train || !valid) return KZ_TEST_RESULT();
  kz_cfg *cfg = NULL;
  kz_nn_model *m = NULL;
  KZ_CHECK_OK(create_mlp("model:\n  hidden: [32, 16]\n  dropout: 0.1\n", train, &cfg, &m));
  if (!m || !valid) return KZ_TEST_RESULT();
  const kz_nn_model_ops *ops = kz_nn_base(m)->ops;
  KZ_CHECK_OK(ops->init_params(m, 1));
  int64_t n = nparams(m), shape[1] = {n};
  kz_tensor mt, vt;
  KZ_CHECK_OK(kz_tensor_alloc(CPU, KZ_F32, 1, shape, &mt));
  KZ_CHECK_OK(kz_tensor_alloc(CPU, KZ_F32, 1, shape, &vt));
  memset(mt.data, 0, (size_t)n * sizeof(float));
  memset(vt.data, 0, (size_t)n * sizeof(float));
  kz_stream *st = NULL;
  KZ_CHECK_OK(kz_stream_create(CPU, &st));
  int64_t step = 0;
  double first = -1, loss = 0;
  for (int64_t epoch = 0; step < 200; epoch++) {
    kz_shard_iter_options io2;
    kz_shard_iter_options_default(&io2);
    io2.batch_size = 32;
    io2.shuffle = 1;
    io2.seed = 5;
    io2.epoch = epoch;
    kz_shard_iter *it = NULL;
    KZ_CHECK_OK(kz_shard_iter_open(train, &io2, &it));
    if (!it) break;
    const kz_shard_batch *b = NULL;
    while (step < 200 && kz_shard_iter_next(it, &b) == KZ_OK && b) {
      zero_grads(m);
      KZ_CHECK_OK(ops->train_batch(m, b, 1.0, (uint64_t)step, &loss));
      if (first < 0) first = loss;
      kz_adamw_hparams h = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1.0f, ++step};
      KZ_CHECK_OK(
          kz_op_adamw(st, &kz_nn_base(m)->params, &kz_nn_base(m)->grads, &mt, &vt, NULL, &h));
    }
    kz_shard_iter_close(it);
  }
  kz_shard_iter_options eo;
  kz_shard_iter_options_default(&eo);
  eo.batch_size = 64;
  kz_shard_iter *it = NULL;
  kz_nn_eval acc;
  memset(&acc, 0, sizeof(acc));
  KZ_CHECK_OK(kz_shard_iter_open(valid, &eo, &it));
  const kz_shard_batch *b = NULL;
  while (it && kz_shard_iter_next(it, &b) == KZ_OK && b) KZ_CHECK_OK(ops->eval_batch(m, b, &acc));
  kz_shard_iter_close(it);
  kz_nn_metrics met;
  ops->eval_finish(m, &acc, &met);
  printf(
      "breast_cancer: %lld steps, first loss %.4f, valid logloss %.4f accuracy %.4f (%lld rows)\n",
      (long long)step, first, met.values[0], met.values[1], (long long)acc.rows);
  KZ_CHECK(step == 200);
  KZ_CHECK(met.values[1] > 0.9);
  KZ_CHECK(met.values[0] < first);
  kz_stream_destroy(st);
  kz_tensor_free(&mt);
  kz_tensor_free(&vt);
  ops->destroy(m);
  kz_cfg_free(cfg);
  kz_dataset_close(train);
  kz_dataset_close(valid);
  return KZ_TEST_RESULT();
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test_mlp parity|gradcheck|model|learn DIR FIXTURE|CSV\n");
    return 2;
  }
  const char *what = argv[1], *dir = argv[2];
  mkdir(dir, 0755);
  if (strcmp(what, "learn") == 0) return test_learn(dir, argv[3]);
  fixture fx;
  if (!fixture_load(argv[3], &fx)) return 1;
  if (strcmp(what, "parity") == 0)
    test_parity(dir, &fx);
  else if (strcmp(what, "gradcheck") == 0)
    test_gradcheck(dir, &fx);
  else if (strcmp(what, "model") == 0)
    test_model(dir, &fx);
  else if (strcmp(what, "freeze") == 0)
    test_freeze(dir, &fx);
  else if (strcmp(what, "linear") == 0)
    test_linear(dir, &fx);
  else
    return fprintf(stderr, "unknown test %s\n", what), 2;
  fixture_free(&fx);
  return KZ_TEST_RESULT();
}
