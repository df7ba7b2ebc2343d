/* The transformer encoder (models/transformer) against Hugging Face BERT:
 * the fixture of tools/make_transformer_fixture.py holds the weights, a
 * padded batch with a fixed MLM mask, and PyTorch's logits, loss, every
 * parameter gradient and the losses of 10 AdamW steps for mlm,
 * classification, token_classification and qa. The weights are copied into the model by name (its
 * named views carry HF's names), then everything is compared.
 *
 *   test_transformer parity FIXTURE_DIR
 *   test_transformer model  FIXTURE_DIR   (meta round trip, determinism,
 *                                          input checks, copy_matching) */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/text/wordpiece.h"
#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/transformer/transformer.h"
#include "test_util.h"
#include "tests/tf_fixture.h"

static char *meta_for(const fixture *f, const char *task, double dropout) {
  json_t *c = json_object_get(f->root, "config"), *sp = json_object_get(f->root, "special_ids");
  json_t *cfg = json_pack(
      "{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:f, s:f, s:f, s:O, s:f}", "task", task, "layers",
      json_object_get(c, "layers"), "hidden", json_object_get(c, "hidden"), "heads",
      json_object_get(c, "heads"), "ffn", json_object_get(c, "ffn"), "max_len",
      json_object_get(c, "max_len"), "vocab", json_object_get(c, "vocab"), "type_vocab",
      json_object_get(c, "type_vocab"), "dropout", dropout, "attention_dropout", dropout,
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
                "length", 1, "token_type_ids", 2, "label", strcmp(task, "classification") ? -1 : 3,
                "token_labels", -1, "answer_start", -1, "answer_end", -1, "width", (int)f->T);
  json_t *root = json_pack("{s:s, s:i, s:o, s:O, s:o, s:o, s:n}", "type", "transformer", "version",
                           1, "config", cfg, "special_ids", sp, "fields", fields, "classes",
                           classes, "label_name");
  char *s = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  return s;
}

static kz_nn_model *make_model(const fixture *f, const char *task, double dropout) {
  char *meta = meta_for(f, task, dropout);
  kz_nn_model *m = NULL;
  KZ_CHECK_OK(kz_transformer_from_meta(meta, (kz_device){KZ_DEVICE_CPU, 0}, -1, &m));
  free(meta);
  return m;
}

/* Copies the fixture's weights into every named view; 0 if one is absent
 * or of another size. */
static int load_weights(kz_nn_model *m, const fixture *f, const char *task) {
  int ok = 1;
  for (int i = 0; i < kz_transformer_param_count_named(m); i++) {
    const char *name = NULL;
    kz_tensor v;
    KZ_CHECK_OK(kz_transformer_param_named(m, i, 0, &name, &v));
    /* the task's head, else the shared encoder */
    char key[160];
    snprintf(key, sizeof key, "%s/param/%s", task, name);
    int64_t n = 0;
    const float *src = tensor(f, key, &n);
    if (!src) {
      snprintf(key, sizeof key, "param/%s", name);
      src = tensor(f, key, &n);
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
  memset(b->grads.data, 0, (size_t)b->info.n_params * sizeof(float));
}

static void parity_task(const fixture *f, const char *task) {
  kz_nn_model *m = make_model(f, task, 0.0);
  if (!m) return;
  KZ_CHECK(load_weights(m, f, task));
  kz_tf_inputs in;
  inputs_for(f, task, &in);
  json_t *res = json_object_get(json_object_get(f->root, "results"), task);
  double want = json_real_value(json_object_get(res, "loss")), loss = 0;
  zero_grads(m);
  KZ_CHECK_OK(kz_transformer_step(m, &in, 1, 1.0, 7, &loss));
  double rel = fabs(loss - want) / fabs(want);
  printf("%s: loss %.9f (PyTorch %.9f, relative difference %.2e)\n", task, loss, want, rel);
  KZ_CHECK(rel <= 1e-6);
  char key[160];
  int64_t n = 0;
  kz_tensor lg;
  KZ_CHECK_OK(kz_transformer_logits(m, &lg));
  snprintf(key, sizeof key, "%s/logits", task);
  const float *ref = tensor(f, key, &n);
  KZ_CHECK(ref && n == kz_tensor_numel(&lg));
  if (ref && n == kz_tensor_numel(&lg)) {
    double e = nmse(lg.data, ref, n);
    printf("%s: logits NMSE %.3e\n", task, e);
    KZ_CHECK(e <= 1e-8);
  }
  /* every gradient of the model, and every one PyTorch has */
  double worst = 0;
  const char *worst_name = "";
  int compared = 0, zeros = 0;
  for (int i = 0; i < kz_transformer_param_count_named(m); i++) {
    const char *name = NULL;
    kz_tensor g;
    KZ_CHECK_OK(kz_transformer_param_named(m, i, 1, &name, &g));
    snprintf(key, sizeof key, "%s/grad_rows/%s", task, name);
    if ((ref = tensor(f, key, &n)) != NULL) {
      /* the word embeddings outside the mlm head: only the rows of the
       * batch's tokens are stored; every other row must be exactly 0 */
      const int64_t H = g.shape[1];
      float *picked = malloc((size_t)(f->n_rows * H) * sizeof(float));
      int nonzero = 0, is_row = 0;
      for (int64_t r = 0, k = 0; r < g.shape[0]; r++) {
        is_row = k < f->n_rows && f->rows[k] == r;
        for (int64_t q = 0; q < H; q++) {
          float x = ((const float *)g.data)[r * H + q];
          if (is_row)
            picked[k * H + q] = x;
          else
            nonzero += x != 0.0f;
        }
        k += is_row;
      }
      KZ_CHECK(n == f->n_rows * H && nonzero == 0);
      double e = n == f->n_rows * H ? nmse(picked, ref, n) : 1.0;
      free(picked);
      if (e > 1e-8) fprintf(stderr, "%s: gradient rows of %s: NMSE %.3e\n", task, name, e);
      KZ_CHECK(e <= 1e-8);
      if (e >= worst) worst = e, worst_name = name;
      compared++;
      continue;
    }
    snprintf(key, sizeof key, "%s/grad/%s", task, name);
    ref = tensor(f, key, &n);
    if (!ref || n != kz_tensor_numel(&g)) {
      fprintf(stderr, "%s: no PyTorch gradient for %s\n", task, name);
      KZ_CHECK(0);
      continue;
    }
    double e = nmse(g.data, ref, n), amax = 0, dmax = 0;
    for (int64_t q = 0; q < n; q++) {
      amax = fabs(ref[q]) > amax ? fabs(ref[q]) : amax;
      double d = fabs((double)((const float *)g.data)[q] - ref[q]);
      dmax = d > dmax ? d : dmax;
    }
    /* Some gradients are 0 in exact arithmetic and rounding noise in both
     * implementations, so they are compared absolutely: the key biases (q.b_k
     * is added to every score of a row, which the softmax cancels) and, for
     * qa, the qa_outputs bias and the last LayerNorm's beta (a row's span
     * softmax minus its one-hot sums to 0 over the positions). */
    if (amax <= 1e-6) {
      if (dmax > 1e-6)
        fprintf(stderr, "%s: gradient of %s: max %.3e, difference %.3e (expected ~0)\n", task, name,
                amax, dmax);
      KZ_CHECK(dmax <= 1e-6);
      zeros++;
      continue;
    }
    if (e > 1e-8) fprintf(stderr, "%s: gradient of %s: NMSE %.3e\n", task, name, e);
    KZ_CHECK(e <= 1e-8);
    if (e >= worst) worst = e, worst_name = name;
    compared++;
  }
  int torch_grads = 0;
  const char *k;
  json_t *v;
  char prefix[64];
  snprintf(prefix, sizeof prefix, "%s/grad/", task);
  json_object_foreach(f->tensors, k, v) torch_grads += !strncmp(k, prefix, strlen(prefix));
  snprintf(prefix, sizeof prefix, "%s/grad_rows/", task);
  json_object_foreach(f->tensors, k, v) torch_grads += !strncmp(k, prefix, strlen(prefix));
  KZ_CHECK(compared + zeros == torch_grads);
  printf("%s: %d parameter gradients, worst NMSE %.3e (%s); %d analytically zero, within 1e-6\n",
         task, compared, worst, worst_name, zeros);

  /* 10 AdamW steps on the same batch, as the trainer takes them */
  json_t *hp = json_object_get(f->root, "adamw");
  json_t *losses = json_object_get(res, "adamw_losses");
  kz_nn_model_base *b = kz_nn_base(m);
  int64_t np = b->info.n_params;
  float *mom = calloc((size_t)np, 4), *var = calloc((size_t)np, 4);
  kz_tensor tm = kz_tensor_view(mom, KZ_F32, b->device, 1, np);
  kz_tensor tv = kz_tensor_view(var, KZ_F32, b->device, 1, np);
  kz_stream *s = NULL;
  KZ_CHECK_OK(kz_stream_create(b->device, &s));
  KZ_CHECK(load_weights(m, f, task));
  double worst_rel = 0;
  for (size_t step = 0; s && mom && var && step < json_array_size(losses); step++) {
    zero_grads(m);
    KZ_CHECK_OK(kz_transformer_step(m, &in, 1, 1.0, 7, &loss));
    double w = json_real_value(json_array_get(losses, step));
    double r = fabs(loss - w) / fabs(w);
    worst_rel = r > worst_rel ? r : worst_rel;
    kz_adamw_hparams h = {.lr = (float)json_real_value(json_object_get(hp, "lr")),
                          .beta1 = (float)json_real_value(json_object_get(hp, "beta1")),
                          .beta2 = (float)json_real_value(json_object_get(hp, "beta2")),
                          .eps = (float)json_real_value(json_object_get(hp, "eps")),
                          .weight_decay =
                              (float)json_real_value(json_object_get(hp, "weight_decay")),
                          .grad_scale = 1.0f,
                          .step = (int64_t)step + 1};
    KZ_CHECK_OK(kz_op_adamw(s, &b->params, &b->grads, &tm, &tv, NULL, &h));
    KZ_CHECK_OK(kz_stream_sync(s));
  }
  printf("%s: %zu AdamW steps, losses %.6f -> %.6f, worst relative difference %.2e\n", task,
         json_array_size(losses), json_real_value(json_array_get(losses, 0)), loss, worst_rel);
  KZ_CHECK(worst_rel <= 1e-4);
  if (s) kz_stream_destroy(s);
  free(mom);
  free(var);
  b->ops->destroy(m);
}

static int cmd_parity(const char *dir) {
  fixture f;
  if (!load_fixture(dir, &f)) {
    fprintf(stderr, "cannot read the fixture in %s\n", dir);
    return 1;
  }
  parity_task(&f, "mlm");
  parity_task(&f, "classification");
  parity_task(&f, "token_classification");
  parity_task(&f, "qa");
  free_fixture(&f);
  return KZ_TEST_RESULT();
}

/* Meta round trip, determinism, bad inputs, copy_matching. */
static int cmd_model(const char *dir) {
  fixture f;
  if (!load_fixture(dir, &f)) return 1;
  kz_nn_model *m = make_model(&f, "mlm", 0.1), *c = make_model(&f, "classification", 0.1);
  if (!m || !c) return KZ_TEST_RESULT();
  KZ_CHECK(load_weights(m, &f, "mlm"));
  /* the meta rebuilds the same layout */
  char *meta = NULL;
  KZ_CHECK_OK(kz_nn_model_meta(m, &meta));
  kz_nn_model *back = NULL;
  KZ_CHECK_OK(kz_nn_model_from_meta_sized(meta, (kz_device){KZ_DEVICE_CPU, 0},
                                          kz_nn_base(m)->info.n_params, &back));
  char *meta2 = NULL;
  if (back) KZ_CHECK_OK(kz_nn_model_meta(back, &meta2));
  KZ_CHECK(meta2 && !strcmp(meta, meta2));
  KZ_CHECK_FAILS(kz_nn_model_from_meta_sized(meta, (kz_device){KZ_DEVICE_CPU, 0}, 5, NULL),
                 KZ_ERR_FORMAT, "parameters");
  free(meta2);
  if (back) kz_nn_base(back)->ops->destroy(back);
  /* a misspelt key is refused */
  char *bad = malloc(strlen(meta) + 1);
  if (bad) strcpy(bad, meta);
  char *at = bad ? strstr(bad, "\"layers\"") : NULL;
  if (at) memcpy(at, "\"lauers\"", 8);
  KZ_CHECK_FAILS(kz_nn_model_from_meta(bad, (kz_device){KZ_DEVICE_CPU, 0}, &back), KZ_ERR_FORMAT,
                 "unknown key");
  free(bad);
  /* the vocabulary: a model without one (older files) loads, and what needs
   * it says so; a "tokenizer" whose tokens do not hash to its sha256 is
   * refused; a good one is kept and read back */
  KZ_CHECK(kz_transformer_vocab_sha256(m) == NULL);
  kz_tf_text *tt = NULL;
  KZ_CHECK_FAILS(kz_tf_text_open(m, NULL, &tt), KZ_ERR_UNSUPPORTED, "no vocabulary");
  KZ_CHECK_FAILS(kz_transformer_export_hf(m, "/nonexistent/kz_export", NULL, -1, 0),
                 KZ_ERR_UNSUPPORTED, "--vocab");
  {
    const char *toks[3] = {"[PAD]", "a", "##b"};
    char sha[65], other[65];
    kz_tokens_sha256(toks, 3, sha);
    kz_tokens_sha256(toks, 2, other);
    for (int good = 0; good < 2; good++) {
      char tok[512];
      snprintf(tok, sizeof tok,
               "{\"tokenizer\":{\"vocab\":[\"[PAD]\",\"a\",\"##b\"],\"sha256\":\"%s\","
               "\"file\":\"v.txt\",\"lowercase\":true,\"text_column\":\"t\"},",
               good ? sha : other);
      char *with = malloc(strlen(meta) + strlen(tok) + 1);
      if (!with) break;
      snprintf(with, strlen(meta) + strlen(tok) + 1, "%s%s", tok, meta + 1);
      kz_nn_model *v = NULL;
      if (good) {
        KZ_CHECK_OK(kz_nn_model_from_meta(with, (kz_device){KZ_DEVICE_CPU, 0}, &v));
        KZ_CHECK(v && kz_transformer_vocab_sha256(v) &&
                 !strcmp(kz_transformer_vocab_sha256(v), sha));
        KZ_CHECK(v && kz_transformer_vocab_lowercase(v) == 1);
        KZ_CHECK(v && !strcmp(kz_transformer_text_column(v, "text_column"), "t"));
        const char **t = NULL;
        int32_t n = 0;
        if (v) KZ_CHECK_OK(kz_transformer_vocab_tokens(v, &t, &n));
        KZ_CHECK(n == 3 && t && !strcmp(t[2], "##b"));
        free(t);
        if (v) kz_nn_base(v)->ops->destroy(v);
      } else {
        KZ_CHECK_FAILS(kz_nn_model_from_meta(with, (kz_device){KZ_DEVICE_CPU, 0}, &v),
                       KZ_ERR_FORMAT, "hash to sha256");
      }
      free(with);
    }
  }
  free(meta);
  /* the same inputs and seed give bit-identical gradients, with dropout */
  kz_tf_inputs in;
  inputs_for(&f, "mlm", &in);
  double l1 = 0, l2 = 0;
  int64_t np = kz_nn_base(m)->info.n_params;
  float *g1 = malloc((size_t)np * 4);
  zero_grads(m);
  KZ_CHECK_OK(kz_transformer_step(m, &in, 1, 1.0, 99, &l1));
  memcpy(g1, kz_nn_base(m)->grads.data, (size_t)np * 4);
  zero_grads(m);
  KZ_CHECK_OK(kz_transformer_step(m, &in, 1, 1.0, 99, &l2));
  KZ_CHECK(l1 == l2 && !memcmp(g1, kz_nn_base(m)->grads.data, (size_t)np * 4));
  /* another seed, other dropout masks; evaluation has none: the same loss twice */
  zero_grads(m);
  KZ_CHECK_OK(kz_transformer_step(m, &in, 1, 1.0, 100, &l2));
  KZ_CHECK(l1 != l2 && memcmp(g1, kz_nn_base(m)->grads.data, (size_t)np * 4));
  KZ_CHECK_OK(kz_transformer_step(m, &in, 0, 1.0, 1, &l1));
  KZ_CHECK_OK(kz_transformer_step(m, &in, 0, 1.0, 2, &l2));
  KZ_CHECK(l1 == l2);
  free(g1);
  /* bad inputs fail with a message, never a crash */
  kz_tf_inputs badin = in;
  int32_t *ids = malloc((size_t)(f.B * f.T) * 4);
  memcpy(ids, f.ids, (size_t)(f.B * f.T) * 4);
  ids[5] = 100000;
  badin.ids = ids;
  KZ_CHECK_FAILS(kz_transformer_step(m, &badin, 0, 1.0, 0, &l1), KZ_ERR_INVALID_ARG,
                 "outside the vocabulary");
  badin = in;
  badin.T = f.T + 1;
  KZ_CHECK_FAILS(kz_transformer_step(m, &badin, 0, 1.0, 0, &l1), KZ_ERR_INVALID_ARG, "tokens");
  free(ids);
  /* the encoder goes over by name, the classification head stays */
  int copied = 0, kept = 0;
  KZ_CHECK_OK(kz_transformer_copy_matching(c, m, &copied, &kept));
  KZ_CHECK(copied == kz_transformer_param_count_named(c) - 4 && kept == 4);
  int i = kz_transformer_param_find(c, "encoder.layer.1.output.LayerNorm.bias");
  int j = kz_transformer_param_find(m, "encoder.layer.1.output.LayerNorm.bias");
  kz_tensor a, b;
  KZ_CHECK(i >= 0 && j >= 0);
  if (i >= 0 && j >= 0) {
    KZ_CHECK_OK(kz_transformer_param_named(c, i, 0, NULL, &a));
    KZ_CHECK_OK(kz_transformer_param_named(m, j, 0, NULL, &b));
    KZ_CHECK(!memcmp(a.data, b.data, kz_tensor_bytes(&a)));
  }
  KZ_CHECK(kz_transformer_param_find(m, "encoder.layer.0.attention.self.key.weight") == 6);
  kz_nn_base(m)->ops->destroy(m);
  kz_nn_base(c)->ops->destroy(c);
  free_fixture(&f);
  return KZ_TEST_RESULT();
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: test_transformer parity|model FIXTURE_DIR\n");
    return 2;
  }
  if (!strcmp(argv[1], "parity")) return cmd_parity(argv[2]);
  if (!strcmp(argv[1], "model")) return cmd_model(argv[2]);
  fprintf(stderr, "unknown case %s\n", argv[1]);
  return 2;
}
