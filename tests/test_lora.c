/* LoRA adapters on the transformer (models/transformer/tf_lora.c) against
 * PyTorch + PEFT: tools/make_lora_fixture.py wraps the classification model
 * of the transformer fixture in PEFT's LoraConfig (two variants: every
 * adaptable Linear at r 4; query and value at r 2 with rsLoRA) and stores
 * the adapters, the logits, the loss and the gradient of every trained
 * tensor; the base weights are the transformer fixture's.
 *
 *   test_lora parity TF_FIXTURE LORA_FIXTURE
 *     outputs and adapter / head gradients (NMSE <= 1e-8), frozen tensors
 *     get no gradient, the trainable count, merged and unmerged outputs
 *     agree and unmerge restores the base, training a merged model fails */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/transformer/lora.h"
#include "models/transformer/transformer.h"
#include "test_util.h"
#include "tf_fixture.h"

/* PEFT module paths -> model.lora.target_modules names */
static const char *short_name(const char *path) {
  static const char *const map[][2] = {
      {"attention.self.query", "query"},      {"attention.self.key", "key"},
      {"attention.self.value", "value"},      {"attention.output.dense", "attention_output"},
      {"intermediate.dense", "intermediate"}, {"output.dense", "output"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(path, map[i][0])) return map[i][1];
  return path;
}

static char *meta_for(const fixture *tf, json_t *variant) {
  json_t *c = json_object_get(tf->root, "config"), *sp = json_object_get(tf->root, "special_ids");
  json_t *in = json_object_get(tf->root, "inputs");
  json_t *cfg = json_pack(
      "{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:f, s:f, s:f, s:O, s:f}", "task", "classification",
      "layers", json_object_get(c, "layers"), "hidden", json_object_get(c, "hidden"), "heads",
      json_object_get(c, "heads"), "ffn", json_object_get(c, "ffn"), "max_len",
      json_object_get(c, "max_len"), "vocab", json_object_get(c, "vocab"), "type_vocab",
      json_object_get(c, "type_vocab"), "dropout", 0.0, "attention_dropout", 0.0, "init_std", 0.02,
      "layernorm_eps", json_object_get(c, "layernorm_eps"), "mask_prob", 0.15);
  json_t *classes = json_array();
  for (int k = 0; k < json_integer_value(json_object_get(c, "classes")); k++) {
    char name[16];
    snprintf(name, sizeof name, "c%d", k);
    json_array_append_new(classes, json_string(name));
  }
  json_t *fields =
      json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I}", "count", 4, "input_ids", 0,
                "length", 1, "token_type_ids", 2, "label", 3, "token_labels", -1, "answer_start",
                -1, "answer_end", -1, "width", json_integer_value(json_object_get(in, "T")));
  json_t *targets = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(variant ? json_object_get(variant, "target_modules") : NULL, i, v)
      json_array_append_new(targets, json_string(short_name(json_string_value(v))));
  json_t *root = json_pack("{s:s, s:i, s:o, s:O, s:o, s:o, s:n}", "type", "transformer", "version",
                           1, "config", cfg, "special_ids", sp, "fields", fields, "classes",
                           classes, "label_name");
  if (variant)
    json_object_set_new(root, "lora",
                        json_pack("{s:O, s:f, s:f, s:O, s:s, s:b, s:o}", "r",
                                  json_object_get(variant, "r"), "alpha",
                                  json_number_value(json_object_get(variant, "alpha")), "dropout",
                                  0.0, "use_rslora", json_object_get(variant, "use_rslora"), "bias",
                                  "none", "train_head", 1, "target_modules", targets));
  else
    json_decref(targets);
  char *s = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  return s;
}

/* Base tensors from the transformer fixture, adapters from the variant's. */
static int load_weights(kz_nn_model *m, const fixture *tf, const fixture *lo, const char *variant) {
  int ok = 1;
  for (int i = 0; i < kz_transformer_param_count_named(m); i++) {
    const char *name = NULL;
    kz_tensor v;
    KZ_CHECK_OK(kz_transformer_param_named(m, i, 0, &name, &v));
    char key[200];
    int64_t n = 0;
    const float *src = NULL;
    if (strstr(name, ".lora_") && lo) {
      snprintf(key, sizeof key, "%s/param/%s", variant, name);
      src = tensor(lo, key, &n);
    } else {
      snprintf(key, sizeof key, "classification/param/%s", name);
      if (!(src = tensor(tf, key, &n))) {
        snprintf(key, sizeof key, "param/%s", name);
        src = tensor(tf, key, &n);
      }
    }
    if (!src || n != kz_tensor_numel(&v)) {
      fprintf(stderr, "fixture: %s missing or of another size\n", key);
      ok = 0;
      continue;
    }
    memcpy(v.data, src, (size_t)n * sizeof(float));
  }
  return ok;
}

static void parity_variant(const fixture *tf, const fixture *lo, const char *variant) {
  json_t *res = json_object_get(json_object_get(lo->root, "results"), variant);
  char *meta = meta_for(tf, res);
  kz_nn_model *m = NULL;
  KZ_CHECK_OK(kz_transformer_from_meta(meta, (kz_device){KZ_DEVICE_CPU, 0}, -1, &m));
  free(meta);
  if (!m) return;
  kz_nn_model_base *mb = kz_nn_base(m);
  KZ_CHECK(load_weights(m, tf, lo, variant));
  json_t *in = json_object_get(tf->root, "inputs");
  int32_t *ids = int_array(json_object_get(in, "ids"), NULL),
          *types = int_array(json_object_get(in, "types"), NULL);
  int32_t *lengths = int_array(json_object_get(in, "lengths"), NULL);
  int32_t *labels = int_array(json_object_get(in, "labels"), NULL);
  kz_tf_inputs x = {.B = json_integer_value(json_object_get(in, "B")),
                    .T = json_integer_value(json_object_get(in, "T")),
                    .ids = ids,
                    .types = types,
                    .lengths = lengths,
                    .labels = labels};
  memset(mb->grads.data, 0, (size_t)mb->info.n_params * sizeof(float));
  double loss = 0, want = json_real_value(json_object_get(res, "loss"));
  KZ_CHECK_OK(kz_transformer_step(m, &x, 1, 1.0, 7, &loss));
  double rel = fabs(loss - want) / fabs(want);
  printf("%s: loss %.9f (PEFT %.9f, relative difference %.2e)\n", variant, loss, want, rel);
  KZ_CHECK(rel <= 1e-6);
  char key[200];
  int64_t n = 0;
  kz_tensor lg;
  KZ_CHECK_OK(kz_transformer_logits(m, &lg));
  snprintf(key, sizeof key, "%s/logits", variant);
  const float *ref = tensor(lo, key, &n);
  KZ_CHECK(ref && n == kz_tensor_numel(&lg));
  const int64_t nl = n;
  float *unmerged = malloc((size_t)nl * sizeof(float));
  if (ref && n == kz_tensor_numel(&lg)) {
    double e = nmse(lg.data, ref, n);
    printf("%s: logits NMSE %.3e\n", variant, e);
    KZ_CHECK(e <= 1e-8);
  }
  /* every trained tensor's gradient against PEFT's; every other exactly 0
   * (a frozen tensor gets no gradient work at all) */
  double worst = 0;
  const char *worst_name = "";
  int compared = 0, frozen_nonzero = 0;
  int64_t trained_floats = 0;
  for (int i = 0; i < kz_transformer_param_count_named(m); i++) {
    const char *name = NULL;
    kz_tensor g;
    KZ_CHECK_OK(kz_transformer_param_named(m, i, 1, &name, &g));
    snprintf(key, sizeof key, "%s/grad/%s", variant, name);
    ref = tensor(lo, key, &n);
    if (!ref) {
      for (int64_t k = 0; k < kz_tensor_numel(&g); k++) frozen_nonzero += ((float *)g.data)[k] != 0;
      continue;
    }
    KZ_CHECK(n == kz_tensor_numel(&g));
    double e = nmse(g.data, ref, n);
    if (e > 1e-8) fprintf(stderr, "%s: gradient of %s: NMSE %.3e\n", variant, name, e);
    KZ_CHECK(e <= 1e-8);
    if (e >= worst) worst = e, worst_name = name;
    compared++;
    trained_floats += n;
  }
  const int want_trained = (int)json_array_size(json_object_get(res, "trained"));
  printf("%s: %d trained tensors' gradients, worst NMSE %.3e (%s); frozen gradient elements "
         "written: %d\n",
         variant, compared, worst, worst_name, frozen_nonzero);
  KZ_CHECK(compared == want_trained);
  KZ_CHECK(frozen_nonzero == 0);
  const int64_t tc = kz_nn_trainable_count(mb);
  printf("%s: optimizer state covers %lld of %lld parameters (%.2f%%): AdamW m and v %lld bytes "
         "instead of %lld\n",
         variant, (long long)tc, (long long)mb->info.n_params,
         100.0 * (double)tc / (double)mb->info.n_params, (long long)(8 * tc),
         (long long)(8 * mb->info.n_params));
  KZ_CHECK(tc == trained_floats);

  /* merged: the same logits from the folded weights; unmerged: the base back */
  float *base0 = malloc((size_t)mb->info.n_params * sizeof(float));
  memcpy(base0, mb->params.data, (size_t)mb->info.n_params * sizeof(float));
  KZ_CHECK_OK(kz_transformer_step(m, &x, 0, 1.0, 7, &loss));
  KZ_CHECK_OK(kz_transformer_logits(m, &lg));
  memcpy(unmerged, lg.data, (size_t)nl * sizeof(float));
  KZ_CHECK_OK(kz_transformer_lora_merge(m, 1));
  KZ_CHECK(kz_transformer_lora_merged(m));
  KZ_CHECK_OK(kz_transformer_step(m, &x, 0, 1.0, 7, &loss));
  KZ_CHECK_OK(kz_transformer_logits(m, &lg));
  double em = nmse(lg.data, unmerged, nl);
  printf("%s: merged vs unmerged logits NMSE %.3e\n", variant, em);
  KZ_CHECK(em <= 1e-10);
  KZ_CHECK_FAILS(kz_transformer_step(m, &x, 1, 1.0, 7, &loss), KZ_ERR_INVALID_ARG, "unmerge");
  KZ_CHECK_OK(kz_transformer_lora_merge(m, 0));
  double eb = nmse(mb->params.data, base0, mb->info.n_params);
  printf("%s: parameters after merge + unmerge NMSE %.3e\n", variant, eb);
  /* bit for bit: the adapted weights are kept while merged */
  KZ_CHECK(!memcmp(mb->params.data, base0, (size_t)mb->info.n_params * sizeof(float)));
  (void)eb;
  free(base0);
  free(unmerged);
  free(ids), free(types), free(lengths), free(labels);
  kz_nn_base(m)->ops->destroy(m);
}

/* Adapter dropout (no PEFT reference: PEFT draws its masks from torch's
 * generator): the gradient of the loss with the masks of one seed against
 * central differences of that loss, for the largest-gradient element of
 * each adapter tensor; and the masks really drop (the loss differs from the
 * loss without dropout). */
static void dropout_check(const fixture *tf, const fixture *lo) {
  json_t *res = json_object_get(json_object_get(lo->root, "results"), "all");
  char *meta = meta_for(tf, res);
  json_t *root = json_loads(meta, 0, NULL);
  free(meta);
  json_object_set_new(json_object_get(root, "lora"), "dropout", json_real(0.3));
  meta = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  kz_nn_model *m = NULL;
  KZ_CHECK_OK(kz_transformer_from_meta(meta, (kz_device){KZ_DEVICE_CPU, 0}, -1, &m));
  free(meta);
  if (!m) return;
  kz_nn_model_base *mb = kz_nn_base(m);
  KZ_CHECK(load_weights(m, tf, lo, "all"));
  json_t *in = json_object_get(tf->root, "inputs");
  int32_t *ids = int_array(json_object_get(in, "ids"), NULL),
          *types = int_array(json_object_get(in, "types"), NULL);
  int32_t *lengths = int_array(json_object_get(in, "lengths"), NULL);
  int32_t *labels = int_array(json_object_get(in, "labels"), NULL);
  kz_tf_inputs x = {.B = json_integer_value(json_object_get(in, "B")),
                    .T = json_integer_value(json_object_get(in, "T")),
                    .ids = ids,
                    .types = types,
                    .lengths = lengths,
                    .labels = labels};
  const int64_t n = mb->info.n_params;
  memset(mb->grads.data, 0, (size_t)n * sizeof(float));
  double loss = 0, plain = 0;
  KZ_CHECK_OK(kz_transformer_step(m, &x, 1, 1.0, 11, &loss));
  KZ_CHECK_OK(kz_transformer_step(m, &x, 0, 1.0, 11, &plain));
  printf("dropout 0.3: loss %.7f, without dropout %.7f\n", loss, plain);
  KZ_CHECK(fabs(loss - plain) > 1e-4);
  float *g = malloc((size_t)n * sizeof(float));
  memcpy(g, mb->grads.data, (size_t)n * sizeof(float));
  float *p = mb->params.data;
  double worst = 0;
  int checked = 0;
  for (int i = 0; i < kz_transformer_param_count_named(m); i++) {
    const char *name = NULL;
    kz_tensor v;
    KZ_CHECK_OK(kz_transformer_param_named(m, i, 0, &name, &v));
    if (!strstr(name, ".lora_")) continue;
    const int64_t off = (float *)v.data - p, k = kz_tensor_numel(&v);
    int64_t at = 0;
    for (int64_t j = 1; j < k; j++)
      if (fabsf(g[off + j]) > fabsf(g[off + at])) at = j;
    const float keep = p[off + at], h = 1e-2f;
    double lp = 0, lm = 0;
    p[off + at] = keep + h;
    KZ_CHECK_OK(kz_transformer_step(m, &x, 1, 1.0, 11, &lp));
    p[off + at] = keep - h;
    KZ_CHECK_OK(kz_transformer_step(m, &x, 1, 1.0, 11, &lm));
    p[off + at] = keep;
    const double fd = (lp - lm) / (2.0 * (double)h), an = g[off + at];
    const double rel = fabs(fd - an) / fmax(fabs(an), 1e-12);
    if (rel > 1e-2)
      fprintf(stderr, "dropout: %s[%lld]: %.6g vs %.6g\n", name, (long long)at, an, fd);
    worst = fmax(worst, rel);
    checked++;
  }
  printf("dropout 0.3: %d adapter gradients against central differences, worst relative error "
         "%.2e\n",
         checked, worst);
  KZ_CHECK(checked == 24 && worst <= 1e-2);
  free(g);
  free(ids), free(types), free(lengths), free(labels);
  kz_nn_base(m)->ops->destroy(m);
}

static int cmd_parity(const char *tf_dir, const char *lora_dir) {
  fixture tf, lo;
  if (!load_fixture_tensors(tf_dir, &tf) || !load_fixture_tensors(lora_dir, &lo)) {
    fprintf(stderr, "cannot read the fixtures in %s and %s\n", tf_dir, lora_dir);
    return 1;
  }
  parity_variant(&tf, &lo, "all");
  parity_variant(&tf, &lo, "rs_qv");
  dropout_check(&tf, &lo);
  free_fixture(&tf);
  free_fixture(&lo);
  return KZ_TEST_RESULT();
}

/* ---- PEFT files ------------------------------------------------------------- */

typedef struct batch {
  int32_t *ids, *types, *lengths, *labels;
  kz_tf_inputs in;
} batch;

static void batch_of(const fixture *tf, batch *b) {
  json_t *in = json_object_get(tf->root, "inputs");
  b->ids = int_array(json_object_get(in, "ids"), NULL);
  b->types = int_array(json_object_get(in, "types"), NULL);
  b->lengths = int_array(json_object_get(in, "lengths"), NULL);
  b->labels = int_array(json_object_get(in, "labels"), NULL);
  b->in = (kz_tf_inputs){.B = json_integer_value(json_object_get(in, "B")),
                         .T = json_integer_value(json_object_get(in, "T")),
                         .ids = b->ids,
                         .types = b->types,
                         .lengths = b->lengths,
                         .labels = b->labels};
}

static void batch_free(batch *b) {
  free(b->ids), free(b->types), free(b->lengths), free(b->labels);
}

/* The model's logits on the fixture batch (forward only), malloc'ed. */
static float *logits_of(kz_nn_model *m, const batch *b, int64_t *n) {
  double loss = 0;
  kz_tensor lg;
  *n = 0;
  if (kz_transformer_step(m, &b->in, 0, 1.0, 7, &loss) != KZ_OK) return NULL;
  if (kz_transformer_logits(m, &lg) != KZ_OK) return NULL;
  *n = kz_tensor_numel(&lg);
  float *out = malloc((size_t)*n * sizeof(float));
  if (out) memcpy(out, lg.data, (size_t)*n * sizeof(float));
  return out;
}

/* The classification base of the transformer fixture, no adapters. */
static kz_nn_model *base_model(const fixture *tf) {
  char *meta = meta_for(tf, NULL);
  kz_nn_model *m = NULL;
  KZ_CHECK_OK(kz_transformer_from_meta(meta, (kz_device){KZ_DEVICE_CPU, 0}, -1, &m));
  free(meta);
  if (m) KZ_CHECK(load_weights(m, tf, NULL, NULL));
  return m;
}

static kz_nn_model *variant_model(const fixture *tf, const fixture *lo, const char *variant) {
  json_t *res = json_object_get(json_object_get(lo->root, "results"), variant);
  char *meta = meta_for(tf, res);
  kz_nn_model *m = NULL;
  KZ_CHECK_OK(kz_transformer_from_meta(meta, (kz_device){KZ_DEVICE_CPU, 0}, -1, &m));
  free(meta);
  if (m) KZ_CHECK(load_weights(m, tf, lo, variant));
  return m;
}

static void destroy(kz_nn_model *m) {
  if (m) kz_nn_base(m)->ops->destroy(m);
}

/* PEFT's own save_pretrained output loads and gives PEFT's logits; kaizen's
 * export loads back to the same logits bit for bit; the recorded base
 * fingerprint refuses another base, naming both. */
static int cmd_peft(const char *tf_dir, const char *lora_dir, const char *tmp) {
  fixture tf, lo;
  if (!load_fixture_tensors(tf_dir, &tf) || !load_fixture_tensors(lora_dir, &lo)) return 1;
  batch b;
  batch_of(&tf, &b);
  kz_nn_model *base = base_model(&tf), *m = NULL, *m2 = NULL;
  char dir[4096], note[1024] = "";
  snprintf(dir, sizeof dir, "%s/peft_all", lora_dir);
  KZ_CHECK_OK(kz_transformer_lora_import_peft(base, dir, &m, note, sizeof note));
  printf("%s\n", note);
  if (!m) return KZ_TEST_RESULT();
  int64_t n = 0, nr = 0, n2 = 0;
  float *lg = m ? logits_of(m, &b, &n) : NULL;
  const float *ref = tensor(&lo, "all/logits", &nr);
  KZ_CHECK(lg && ref && n == nr);
  if (lg && ref && n == nr) {
    double e = nmse(lg, ref, n);
    printf("PEFT-saved adapter in kaizen: logits NMSE %.3e against PEFT's\n", e);
    KZ_CHECK(e <= 1e-8);
  }
  /* kaizen embed of a LoRA model embeds with the adapters: the same vectors
   * as from the merged model */
  {
    kz_nn_model *e1 = NULL, *e2 = NULL;
    const int64_t H = kz_transformer_hidden_size(m);
    float *v1 = calloc((size_t)(b.in.B * H), sizeof(float)), *v2 = calloc((size_t)(b.in.B * H), 4);
    KZ_CHECK_OK(kz_transformer_embedder_of(m, 0, &e1));
    if (e1) KZ_CHECK_OK(kz_transformer_embed(e1, b.ids, b.lengths, b.in.B, b.in.T, 1, v1));
    KZ_CHECK_OK(kz_transformer_lora_merge(m, 1));
    KZ_CHECK_OK(kz_transformer_embedder_of(m, 0, &e2));
    if (e2) KZ_CHECK_OK(kz_transformer_embed(e2, b.ids, b.lengths, b.in.B, b.in.T, 1, v2));
    KZ_CHECK_OK(kz_transformer_lora_merge(m, 0));
    double e = nmse(v1, v2, b.in.B * H);
    printf("embedder of the LoRA model vs of the merged model: NMSE %.3e\n", e);
    KZ_CHECK(e <= 1e-12);
    free(v1), free(v2);
    destroy(e1), destroy(e2);
  }
  /* kaizen's export and back */
  snprintf(dir, sizeof dir, "%s/kz_adapter", tmp);
  if (m) KZ_CHECK_OK(kz_transformer_lora_export_peft(m, dir, "fixture-base", 1));
  KZ_CHECK_FAILS(kz_transformer_lora_export_peft(m, dir, "fixture-base", 0), KZ_ERR_INVALID_ARG,
                 "--overwrite");
  KZ_CHECK_OK(kz_transformer_lora_import_peft(base, dir, &m2, note, sizeof note));
  printf("%s\n", note);
  KZ_CHECK(strstr(note, "(matches)") != NULL);
  float *lg2 = m2 ? logits_of(m2, &b, &n2) : NULL;
  KZ_CHECK(lg && lg2 && n2 == n && !memcmp(lg, lg2, (size_t)n * sizeof(float)));
  /* a different base: one weight moved */
  int q = kz_transformer_param_find(base, "encoder.layer.1.intermediate.dense.weight");
  KZ_CHECK(q >= 0);
  kz_tensor w;
  KZ_CHECK_OK(kz_transformer_param_named(base, q, 0, NULL, &w));
  ((float *)w.data)[5] += 1e-3f;
  kz_nn_model *m3 = NULL;
  kz_status st = kz_transformer_lora_import_peft(base, dir, &m3, NULL, 0);
  printf("onto another base: %s\n", kz_last_error());
  KZ_CHECK(st == KZ_ERR_INVALID_ARG && m3 == NULL);
  KZ_CHECK(strstr(kz_last_error(), "fingerprint") && strstr(kz_last_error(), "kz64:"));
  /* an adapter with adapters of its own is no base */
  KZ_CHECK_FAILS(kz_transformer_lora_import_peft(m, dir, &m3, NULL, 0), KZ_ERR_INVALID_ARG,
                 "adapters of its own");
  free(lg), free(lg2);
  destroy(m), destroy(m2), destroy(base);
  batch_free(&b);
  free_fixture(&tf), free_fixture(&lo);
  return KZ_TEST_RESULT();
}

static int write_floats(const char *path, const float *x, int64_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  size_t w = fwrite(x, sizeof(float), (size_t)n, f);
  return fclose(f) == 0 && w == (size_t)n;
}

/* For tests/peft_check.py: variant rs_qv exported to OUT/adapter, its
 * logits to OUT/kaizen_logits.bin. */
static int cmd_peft_export(const char *tf_dir, const char *lora_dir, const char *out) {
  fixture tf, lo;
  if (!load_fixture_tensors(tf_dir, &tf) || !load_fixture_tensors(lora_dir, &lo)) return 1;
  batch b;
  batch_of(&tf, &b);
  kz_nn_model *m = variant_model(&tf, &lo, "rs_qv");
  char path[4096];
  snprintf(path, sizeof path, "%s/adapter", out);
  if (m) KZ_CHECK_OK(kz_transformer_lora_export_peft(m, path, "tests/fixtures/transformer", 1));
  int64_t n = 0;
  float *lg = m ? logits_of(m, &b, &n) : NULL;
  snprintf(path, sizeof path, "%s/kaizen_logits.bin", out);
  KZ_CHECK(lg && write_floats(path, lg, n));
  free(lg);
  destroy(m);
  batch_free(&b);
  free_fixture(&tf), free_fixture(&lo);
  return KZ_TEST_RESULT();
}

/* For tests/peft_check.py: the adapter DIR onto the fixture's base, logits
 * to OUT_FILE. */
static int cmd_peft_import(const char *tf_dir, const char *dir, const char *out_file) {
  fixture tf;
  if (!load_fixture_tensors(tf_dir, &tf)) return 1;
  batch b;
  batch_of(&tf, &b);
  kz_nn_model *base = base_model(&tf), *m = NULL;
  char note[1024] = "";
  KZ_CHECK_OK(kz_transformer_lora_import_peft(base, dir, &m, note, sizeof note));
  printf("%s\n", note);
  int64_t n = 0;
  float *lg = m ? logits_of(m, &b, &n) : NULL;
  KZ_CHECK(lg && write_floats(out_file, lg, n));
  free(lg);
  destroy(m), destroy(base);
  batch_free(&b);
  free_fixture(&tf);
  return KZ_TEST_RESULT();
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "parity")) return cmd_parity(argv[2], argv[3]);
  if (argc >= 5 && !strcmp(argv[1], "peft")) return cmd_peft(argv[2], argv[3], argv[4]);
  if (argc >= 5 && !strcmp(argv[1], "peft-export"))
    return cmd_peft_export(argv[2], argv[3], argv[4]);
  if (argc >= 5 && !strcmp(argv[1], "peft-import"))
    return cmd_peft_import(argv[2], argv[3], argv[4]);
  fprintf(stderr, "usage: test_lora parity TF_FIXTURE LORA_FIXTURE\n"
                  "       test_lora peft TF_FIXTURE LORA_FIXTURE TMPDIR\n"
                  "       test_lora peft-export TF_FIXTURE LORA_FIXTURE OUTDIR\n"
                  "       test_lora peft-import TF_FIXTURE ADAPTER_DIR LOGITS_FILE\n");
  return 2;
}
