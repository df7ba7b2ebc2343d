/* train.precision bf16 for the transformer (docs/MODELS.md, "Mixed
 * precision") against the fp32 model on the same device, weights and
 * batch: the tiny config of the PyTorch parity fixture (2 layers, hidden
 * 64, 4 heads, ffn 128, vocab 1000), every task head.
 *
 *   test_transformer_bf16 cpu|cuda FIXTURE_DIR
 *
 * Per task: one training step's loss, logits and gradients are a bf16-sized
 * distance from fp32's (more than fp32 rounding, so bf16 really ran; less
 * than a few bf16 roundings); then 20 AdamW steps on the fixture batch (the
 * bf16 model on the bf16 weight copy kz_op_adamw keeps) track the fp32 loss
 * curve within 2% relative; the bf16-trained master weights then evaluate
 * in fp32 to within 1% of their bf16 evaluation. Memory: per layer, the
 * activations a bf16 step keeps for its backward take at most half the
 * arena bytes of fp32's (measured from the arenas of a 2- and a 6-layer
 * model). cuda exits 77 (skipped) without a GPU. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/arena.h"
#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/transformer/tf_internal.h"
#include "models/transformer/transformer.h"
#include "test_util.h"
#include "tests/tf_fixture.h"

enum { SKIP = 77, STEPS = 20 };

static kz_device dev;
static kz_stream *st;

/* A transformer meta of the fixture's sizes but `layers` layers and, when
 * vocab > 0, a vocabulary of that size. */
static char *meta_for(const fixture *f, const char *task, int64_t layers, int64_t vocab) {
  json_t *c = json_object_get(f->root, "config"), *sp = json_object_get(f->root, "special_ids");
  json_t *cfg = json_pack(
      "{s:s, s:I, s:O, s:O, s:O, s:O, s:o, s:O, s:f, s:f, s:f, s:O, s:f}", "task", task, "layers",
      (json_int_t)layers, "hidden", json_object_get(c, "hidden"), "heads",
      json_object_get(c, "heads"), "ffn", json_object_get(c, "ffn"), "max_len",
      json_object_get(c, "max_len"), "vocab",
      vocab > 0 ? json_integer((json_int_t)vocab) : json_incref(json_object_get(c, "vocab")),
      "type_vocab", json_object_get(c, "type_vocab"), "dropout", 0.0, "attention_dropout", 0.0,
      "init_std", 0.02, "layernorm_eps", json_object_get(c, "layernorm_eps"), "mask_prob", 0.15);
  json_t *classes = json_array();
  int is_cls = !strcmp(task, "classification"), is_tok = !strcmp(task, "token_classification");
  if (is_cls || is_tok)
    for (int k = 0;
         k < json_integer_value(json_object_get(c, is_cls ? "classes" : "token_classes")); k++) {
      char name[16];
      snprintf(name, sizeof name, "c%d", k);
      json_array_append_new(classes, json_string(name));
    }
  json_t *fields =
      json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "count", 4, "input_ids", 0,
                "length", 1, "token_type_ids", 2, "label", is_cls ? 3 : -1, "token_labels", -1,
                "answer_start", -1, "answer_end", -1, "width", (int)f->T);
  json_t *root = json_pack("{s:s, s:i, s:o, s:O, s:o, s:o, s:n}", "type", "transformer", "version",
                           1, "config", cfg, "special_ids", sp, "fields", fields, "classes",
                           classes, "label_name");
  char *s = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  return s;
}

/* The fixture's weights (layers 2, vocab 0) or a seeded initialisation, on
 * dev; bf16 1 switches the model to bf16 after the weights are in. */
static kz_nn_model *make_model(const fixture *f, const char *task, int64_t layers, int64_t vocab,
                               int bf16) {
  char *meta = meta_for(f, task, layers, vocab);
  kz_nn_model *m = NULL;
  KZ_CHECK_OK(kz_transformer_from_meta(meta, dev, -1, &m));
  free(meta);
  if (!m) return NULL;
  if (layers != 2 || vocab > 0) {
    KZ_CHECK_OK(kz_nn_base(m)->ops->init_params(m, 3));
  } else {
    for (int i = 0; i < kz_transformer_param_count_named(m); i++) {
      const char *name = NULL;
      kz_tensor v;
      KZ_CHECK_OK(kz_transformer_param_named(m, i, 0, &name, &v));
      char key[160];
      snprintf(key, sizeof key, "%s/param/%s", task, name);
      int64_t n = 0;
      const float *src = tensor(f, key, &n);
      if (!src) {
        snprintf(key, sizeof key, "param/%s", name);
        src = tensor(f, key, &n);
      }
      KZ_CHECK(src && n == kz_tensor_numel(&v));
      if (src && n == kz_tensor_numel(&v))
        KZ_CHECK_OK(kz_copy_to_device(st, v.data, src, (size_t)n * sizeof(float)));
    }
    KZ_CHECK_OK(kz_stream_sync(st));
  }
  KZ_CHECK_OK(kz_nn_set_precision(m, bf16 ? "bf16" : "fp32"));
  KZ_CHECK(!bf16 == !kz_nn_base(m)->params_bf16.data);
  return m;
}

static void inputs_for(const fixture *f, const char *task, kz_tf_inputs *in) {
  int mlm = !strcmp(task, "mlm");
  *in = (kz_tf_inputs){.B = f->B,
                       .T = f->T,
                       .ids = mlm ? f->masked : f->ids,
                       .types = f->types,
                       .lengths = f->lengths,
                       .n_masked = mlm ? f->n_masked : 0,
                       .mask_pos = mlm ? f->pos : NULL,
                       .mask_target = mlm ? f->tgt : NULL,
                       .labels = mlm ? NULL : f->labels};
  if (!strcmp(task, "token_classification")) in->labels = f->tok;
  if (!strcmp(task, "qa")) in->labels = f->astart, in->labels2 = f->aend;
}

static void zero_grads(kz_nn_model *m) {
  kz_nn_model_base *b = kz_nn_base(m);
  KZ_CHECK_OK(kz_fill_bytes(st, b->grads.data, 0, kz_tensor_bytes(&b->grads)));
  KZ_CHECK_OK(kz_stream_sync(st));
}

/* A host copy of a device tensor (f32). */
static float *host_of(const kz_tensor *t) {
  size_t bytes = kz_tensor_bytes(t);
  float *h = malloc(bytes ? bytes : 4);
  if (h) KZ_CHECK_OK(kz_copy_to_host(st, h, t->data, bytes));
  KZ_CHECK_OK(kz_stream_sync(st));
  return h;
}

typedef struct one_step {
  double loss;
  float *logits, *grads;
  int64_t n_logits, n_params;
} one_step;

static void step_once(kz_nn_model *m, const kz_tf_inputs *in, one_step *o) {
  zero_grads(m);
  KZ_CHECK_OK(kz_transformer_step(m, in, 1, 1.0, 7, &o->loss));
  kz_tensor lg;
  KZ_CHECK_OK(kz_transformer_logits(m, &lg));
  o->n_logits = kz_tensor_numel(&lg);
  o->logits = host_of(&lg);
  o->n_params = kz_nn_base(m)->info.n_params;
  o->grads = host_of(&kz_nn_base(m)->grads);
}

/* 20 AdamW steps on the fixed batch, as the trainer takes them (the bf16
 * model's copy rewritten by the update); losses[STEPS]. */
static void train(kz_nn_model *m, const kz_tf_inputs *in, double *losses) {
  kz_nn_model_base *b = kz_nn_base(m);
  int64_t np = b->info.n_params;
  kz_tensor mom = {0}, var = {0};
  KZ_CHECK_OK(kz_tensor_alloc(dev, KZ_F32, 1, &np, &mom));
  KZ_CHECK_OK(kz_tensor_alloc(dev, KZ_F32, 1, &np, &var));
  if (!mom.data || !var.data) return;
  KZ_CHECK_OK(kz_fill_bytes(st, mom.data, 0, kz_tensor_bytes(&mom)));
  KZ_CHECK_OK(kz_fill_bytes(st, var.data, 0, kz_tensor_bytes(&var)));
  for (int s = 0; s < STEPS; s++) {
    zero_grads(m);
    KZ_CHECK_OK(kz_transformer_step(m, in, 1, 1.0, 7, &losses[s]));
    kz_adamw_hparams h = {.lr = 1e-3f,
                          .beta1 = 0.9f,
                          .beta2 = 0.999f,
                          .eps = 1e-8f,
                          .weight_decay = 0.01f,
                          .grad_scale = 1.0f,
                          .step = s + 1};
    KZ_CHECK_OK(kz_op_adamw(st, &b->params, &b->grads, &mom, &var,
                            b->params_bf16.data ? &b->params_bf16 : NULL, &h));
    KZ_CHECK_OK(kz_stream_sync(st));
  }
  kz_tensor_free(&mom);
  kz_tensor_free(&var);
}

static void check_task(const fixture *f, const char *task) {
  kz_nn_model *m32 = make_model(f, task, 2, 0, 0), *m16 = make_model(f, task, 2, 0, 1);
  if (!m32 || !m16) return;
  kz_tf_inputs in;
  inputs_for(f, task, &in);
  one_step a = {0}, b = {0};
  step_once(m32, &in, &a);
  step_once(m16, &in, &b);
  if (!a.logits || !b.logits || !a.grads || !b.grads) return;
  /* One step. bf16 rounds each matmul operand to 8 significant bits: one
   * rounding of a tensor is a relative error of up to u = 2^-9 per element,
   * an NMSE of about u^2/3 = 1.3e-6; the dozen or so roundings along the
   * path to the logits give ~1e-5 (measured 5e-6 to 1.2e-5 for the logits,
   * 6e-6 to 3e-5 for the gradient block on the CPU). The upper bounds allow
   * ten times that; the lower bound (1e-8, below a single bf16 rounding by
   * two orders) fails if the step silently ran in fp32, which gives 0 here
   * (the same code and summation order). */
  double rel = fabs(b.loss - a.loss) / fabs(a.loss);
  double el = nmse(b.logits, a.logits, a.n_logits);
  double eg = nmse(b.grads, a.grads, a.n_params);
  printf("%s (%s): one step: loss fp32 %.6f bf16 %.6f (relative %.2e), logits NMSE %.2e, "
         "gradient block NMSE %.2e\n",
         task, dev.kind == KZ_DEVICE_CPU ? "cpu" : "cuda", a.loss, b.loss, rel, el, eg);
  KZ_CHECK(a.n_logits == b.n_logits);
  KZ_CHECK(rel <= 2e-3);
  KZ_CHECK(el >= 1e-8 && el <= 1e-4);
  KZ_CHECK(eg >= 1e-8 && eg <= 3e-4);
  free(a.logits), free(a.grads), free(b.logits), free(b.grads);

  /* The loss curves over 20 AdamW steps (lr 1e-3): the two runs drift
   * apart as the rounding differences feed into the updates; the worst
   * step differs by 2.6e-4 to 2.2e-3 (relative) on the CPU, and 2e-2 is
   * ten times the worst of those. */
  double la[STEPS], lb[STEPS], worst = 0;
  KZ_CHECK_OK(kz_nn_set_precision(m16, "bf16")); /* the copy of the fixture weights again */
  train(m32, &in, la);
  train(m16, &in, lb);
  for (int s = 0; s < STEPS; s++) {
    double r = fabs(lb[s] - la[s]) / fabs(la[s]);
    worst = r > worst ? r : worst;
  }
  printf("%s: %d AdamW steps: fp32 %.5f -> %.5f, bf16 %.5f -> %.5f, worst relative difference "
         "%.2e\n",
         task, STEPS, la[0], la[STEPS - 1], lb[0], lb[STEPS - 1], worst);
  KZ_CHECK(la[STEPS - 1] < 0.8 * la[0]); /* it trains */
  KZ_CHECK(worst <= 2e-2);

  /* The master weights trained in bf16 evaluate in fp32 (a loaded model
   * file has no bf16 copy) close to their bf16 evaluation. */
  double e16 = 0, e32 = 0;
  KZ_CHECK_OK(kz_transformer_step(m16, &in, 0, 1.0, 1, &e16));
  KZ_CHECK_OK(kz_nn_set_precision(m16, "fp32"));
  KZ_CHECK(!kz_nn_base(m16)->params_bf16.data);
  KZ_CHECK_OK(kz_transformer_step(m16, &in, 0, 1.0, 1, &e32));
  printf("%s: bf16-trained weights evaluate to %.6f in bf16, %.6f in fp32\n", task, e16, e32);
  KZ_CHECK(fabs(e16 - e32) <= 1e-2 * fabs(e32));
  kz_nn_base(m32)->ops->destroy(m32);
  kz_nn_base(m16)->ops->destroy(m16);
}

/* LoRA adapters in bf16: a classification model with adapters on all six
 * Linear layers (r 4; B drawn away from zero so that A gets a gradient too)
 * steps in fp32 and in bf16 from the same weights. The adapters compute in
 * f32 on their input as the bf16 base matmul reads it, so the step differs
 * by bf16 roundings as the base's does: the same bounds as check_task's.
 * The frozen base gets no gradient in either (the bf16 backward skips its
 * weight products too). */
static void check_lora(const fixture *f) {
  kz_nn_model *m[2] = {NULL, NULL};
  for (int p = 0; p < 2; p++) {
    char *meta = meta_for(f, "classification", 2, 0);
    json_t *root = json_loads(meta, 0, NULL);
    free(meta);
    json_object_set_new(root, "lora",
                        json_pack("{s:i, s:f, s:f, s:b, s:s, s:b, s:[s, s, s, s, s, s]}", "r", 4,
                                  "alpha", 8.0, "dropout", 0.0, "use_rslora", 0, "bias",
                                  "lora_only", "train_head", 1, "target_modules", "query", "key",
                                  "value", "attention_output", "intermediate", "output"));
    meta = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    KZ_CHECK_OK(kz_transformer_from_meta(meta, dev, -1, &m[p]));
    free(meta);
    if (!m[p]) return;
    KZ_CHECK_OK(kz_nn_base(m[p])->ops->init_params(m[p], 3));
    /* B ~ 0.05 * a fixed pattern, the same in both */
    kz_tf *t = (kz_tf *)m[p];
    for (int i = 0; i < t->n_named; i++) {
      const tf_named *n = &t->named[i];
      if (n->lora != 2) continue;
      const int64_t k = n->shape[0] * n->shape[1];
      float *v = malloc((size_t)k * sizeof(float));
      for (int64_t j = 0; v && j < k; j++) v[j] = 0.05f * (float)sin((double)(j * 7 + i));
      if (v)
        KZ_CHECK_OK(kz_copy_to_device(st, (float *)t->base.params.data + n->offset, v,
                                      (size_t)k * sizeof(float)));
      free(v);
    }
    KZ_CHECK_OK(kz_stream_sync(st));
    KZ_CHECK_OK(kz_nn_set_precision(m[p], p ? "bf16" : "fp32"));
  }
  kz_tf_inputs in;
  inputs_for(f, "classification", &in);
  one_step a = {0}, b = {0};
  step_once(m[0], &in, &a);
  step_once(m[1], &in, &b);
  if (!a.logits || !b.logits || !a.grads || !b.grads) return;
  const kz_nn_model_base *mb = kz_nn_base(m[0]);
  /* the trained floats' gradients, packed; every frozen one exactly 0 */
  float *ga = malloc((size_t)a.n_params * sizeof(float)), *gb = malloc((size_t)a.n_params * 4);
  int64_t nt = 0, frozen_nonzero = 0;
  for (int64_t j = 0; ga && gb && j < a.n_params; j++) {
    if (kz_nn_is_trainable(mb, j, 1)) {
      ga[nt] = a.grads[j], gb[nt++] = b.grads[j];
    } else {
      frozen_nonzero += a.grads[j] != 0.0f || b.grads[j] != 0.0f;
    }
  }
  double rel = fabs(b.loss - a.loss) / fabs(a.loss);
  double el = nmse(b.logits, a.logits, a.n_logits), eg = nmse(gb, ga, nt);
  printf("lora classification (%s): one step: loss fp32 %.6f bf16 %.6f (relative %.2e), logits "
         "NMSE %.2e, trained gradients (%lld of %lld) NMSE %.2e, frozen gradients non-zero %lld\n",
         dev.kind == KZ_DEVICE_CPU ? "cpu" : "cuda", a.loss, b.loss, rel, el, (long long)nt,
         (long long)a.n_params, eg, (long long)frozen_nonzero);
  KZ_CHECK(nt > 0 && nt < a.n_params / 2);
  KZ_CHECK(rel <= 2e-3);
  KZ_CHECK(el >= 1e-8 && el <= 1e-4);
  KZ_CHECK(eg >= 1e-8 && eg <= 3e-4);
  KZ_CHECK(frozen_nonzero == 0);
  free(ga), free(gb);
  free(a.logits), free(a.grads), free(b.logits), free(b.grads);
  double la[STEPS], lb[STEPS], worst = 0;
  train(m[0], &in, la);
  train(m[1], &in, lb);
  for (int s = 0; s < STEPS; s++) {
    double r = fabs(lb[s] - la[s]) / fabs(la[s]);
    worst = r > worst ? r : worst;
  }
  printf("lora: %d AdamW steps: fp32 %.5f -> %.5f, bf16 %.5f -> %.5f, worst relative difference "
         "%.2e\n",
         STEPS, la[0], la[STEPS - 1], lb[0], lb[STEPS - 1], worst);
  KZ_CHECK(la[STEPS - 1] < la[0] && lb[STEPS - 1] < lb[0]);
  KZ_CHECK(worst <= 2e-2);
  kz_nn_base(m[0])->ops->destroy(m[0]);
  kz_nn_base(m[1])->ops->destroy(m[1]);
}

/* The arena after one training step of an mlm model of `layers` layers. */
static size_t arena_bytes(const fixture *f, int64_t layers, int bf16) {
  kz_nn_model *m = make_model(f, "mlm", layers, 0, bf16);
  if (!m) return 0;
  kz_tf_inputs in;
  inputs_for(f, "mlm", &in);
  double loss = 0;
  zero_grads(m);
  KZ_CHECK_OK(kz_transformer_step(m, &in, 1, 1.0, 7, &loss));
  const kz_tf *tf = (const kz_tf *)m;
  size_t bytes = tf->arena ? kz_arena_capacity(tf->arena) : 0;
  kz_nn_base(m)->ops->destroy(m);
  return bytes;
}

static void check_memory(const fixture *f) {
  size_t a2 = arena_bytes(f, 2, 0), a6 = arena_bytes(f, 6, 0);
  size_t b2 = arena_bytes(f, 2, 1), b6 = arena_bytes(f, 6, 1);
  double per32 = ((double)a6 - (double)a2) / 4, per16 = ((double)b6 - (double)b2) / 4;
  printf("activation arena (mlm, B %lld, T %lld): fp32 %zu / %zu bytes (2 / 6 layers), bf16 %zu / "
         "%zu; per layer fp32 %.0f, bf16 %.0f bytes (%.2f)\n",
         (long long)f->B, (long long)f->T, a2, a6, b2, b6, per32, per16, per16 / per32);
  KZ_CHECK(per32 > 0 && per16 > 0 && per16 <= 0.5 * per32);
  KZ_CHECK(b6 < a6);
}

/* The MLM decoder's output gradient [masked rows, vocab] is larger than
 * the bf16 buffer a layer needs when the vocabulary is: the step takes it
 * in blocks of rows (tf_step.c, linear_bwd). A vocabulary of 4000 (12
 * masked rows: 48,000 elements against 24,576) makes it two blocks of 6
 * rows; the result must stay the bf16-sized distance from fp32 that one
 * block gives (a block read at the wrong rows is far off). */
static void check_blocks(const fixture *f) {
  kz_nn_model *m32 = make_model(f, "mlm", 2, 4000, 0), *m16 = make_model(f, "mlm", 2, 4000, 1);
  if (!m32 || !m16) return;
  kz_tf_inputs in;
  inputs_for(f, "mlm", &in);
  one_step a = {0}, b = {0};
  step_once(m32, &in, &a);
  step_once(m16, &in, &b);
  if (a.logits && b.logits && a.grads && b.grads) {
    double el = nmse(b.logits, a.logits, a.n_logits), eg = nmse(b.grads, a.grads, a.n_params);
    printf("mlm, vocab 4000 (decoder gradient in blocks of rows): loss fp32 %.6f bf16 %.6f, logits "
           "NMSE %.2e, gradient block NMSE %.2e\n",
           a.loss, b.loss, el, eg);
    KZ_CHECK(fabs(b.loss - a.loss) <= 2e-3 * fabs(a.loss));
    KZ_CHECK(el >= 1e-8 && el <= 1e-4);
    KZ_CHECK(eg >= 1e-8 && eg <= 3e-4);
  }
  free(a.logits), free(a.grads), free(b.logits), free(b.grads);
  kz_nn_base(m32)->ops->destroy(m32);
  kz_nn_base(m16)->ops->destroy(m16);
}

static void check_switch(const fixture *f) {
  /* train.precision through the nn interface: unknown values and a model
   * without bf16 are refused with the key named */
  kz_nn_model *m = make_model(f, "mlm", 2, 0, 0);
  if (!m) return;
  KZ_CHECK_FAILS(kz_nn_set_precision(m, "fp16"), KZ_ERR_INVALID_ARG, "train.precision");
  KZ_CHECK_OK(kz_nn_set_precision(m, "bf16"));
  KZ_CHECK_OK(kz_nn_set_precision(m, "bf16")); /* twice: refreshed, not leaked */
  /* the copy is the rounded master weights */
  kz_nn_model_base *b = kz_nn_base(m);
  int64_t n = b->info.n_params;
  float *p = host_of(&b->params);
  uint16_t *q = malloc((size_t)n * 2);
  if (p && q) {
    KZ_CHECK_OK(kz_copy_to_host(st, q, b->params_bf16.data, (size_t)n * 2));
    KZ_CHECK_OK(kz_stream_sync(st));
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += q[i] != kz_f32_to_bf16(p[i]);
    KZ_CHECK(bad == 0);
  }
  free(p), free(q);
  b->ops->destroy(m);
}

int main(int argc, char **argv) {
  if (argc < 3 || (strcmp(argv[1], "cpu") && strcmp(argv[1], "cuda"))) {
    fprintf(stderr, "usage: test_transformer_bf16 cpu|cuda FIXTURE_DIR\n");
    return 2;
  }
  dev = (kz_device){KZ_DEVICE_CPU, 0};
  if (!strcmp(argv[1], "cuda")) {
    int found = 0;
    for (int i = 0; i < kz_device_list_count() && !found; ++i) {
      kz_device_info info;
      if (kz_device_list_get(i, &info) == KZ_OK && info.device.kind == KZ_DEVICE_CUDA) {
        dev = info.device, found = 1;
        printf("testing on cuda:%d (%s)\n", info.device.index, info.name);
      }
    }
    if (!found) {
      printf("skipped: no GPU\n");
      return SKIP;
    }
  }
  if (kz_stream_create(dev, &st) != KZ_OK) {
    fprintf(stderr, "stream: %s\n", kz_last_error());
    return 1;
  }
  fixture f;
  if (!load_fixture(argv[2], &f)) {
    fprintf(stderr, "cannot read the fixture in %s\n", argv[2]);
    return 1;
  }
  check_switch(&f);
  check_task(&f, "mlm");
  check_task(&f, "classification");
  check_task(&f, "token_classification");
  check_task(&f, "qa");
  check_lora(&f);
  check_blocks(&f);
  check_memory(&f);
  free_fixture(&f);
  kz_stream_destroy(st);
  return KZ_TEST_RESULT();
}
