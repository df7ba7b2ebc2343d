/* The PyTorch parity fixture of tools/make_transformer_fixture.py
 * (tests/fixtures/transformer: parity.json + parity.bin), read by the
 * transformer tests (fp32 parity, bf16) and the LoRA one (tensors only): the weights and reference
 * tensors by name, the padded batch, the MLM mask and every head's labels. */
#ifndef KZ_TESTS_TF_FIXTURE_H
#define KZ_TESTS_TF_FIXTURE_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
  json_t *root, *tensors, *in;
  float *data;
  size_t n;
  int32_t *ids, *masked, *types, *lengths, *pos, *tgt, *labels, *tok, *astart, *aend, *rows;
  int64_t B, T, n_masked, n_rows;
} fixture;

static inline int32_t *int_array(json_t *a, int64_t *n) {
  size_t k = json_array_size(a);
  int32_t *v = malloc((k ? k : 1) * sizeof(int32_t));
  for (size_t i = 0; v && i < k; i++) v[i] = (int32_t)json_integer_value(json_array_get(a, i));
  if (n) *n = (int64_t)k;
  return v;
}

/* parity.json and parity.bin of dir: the tensors only (a fixture without
 * batch inputs, as the LoRA one, stops here). */
static inline int load_fixture_tensors(const char *dir, fixture *f) {
  memset(f, 0, sizeof *f);
  char path[4096];
  snprintf(path, sizeof path, "%s/parity.json", dir);
  json_error_t err;
  if (!(f->root = json_load_file(path, 0, &err))) {
    fprintf(stderr, "%s: %s\n", path, err.text);
    return 0;
  }
  snprintf(path, sizeof path, "%s/parity.bin", dir);
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    fprintf(stderr, "%s: cannot open\n", path);
    return 0;
  }
  fseek(fp, 0, SEEK_END);
  long bytes = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  f->n = (size_t)bytes / 4;
  f->data = malloc((size_t)bytes);
  size_t got = f->data ? fread(f->data, 4, f->n, fp) : 0;
  fclose(fp);
  f->tensors = json_object_get(f->root, "tensors");
  return got == f->n && f->tensors;
}

/* The tensors and the batch inputs of dir's fixture. */
static inline int load_fixture(const char *dir, fixture *f) {
  if (!load_fixture_tensors(dir, f)) return 0;
  f->in = json_object_get(f->root, "inputs");
  f->B = json_integer_value(json_object_get(f->in, "B"));
  f->T = json_integer_value(json_object_get(f->in, "T"));
  f->ids = int_array(json_object_get(f->in, "ids"), NULL);
  f->masked = int_array(json_object_get(f->in, "masked_ids"), NULL);
  f->types = int_array(json_object_get(f->in, "types"), NULL);
  f->lengths = int_array(json_object_get(f->in, "lengths"), NULL);
  f->pos = int_array(json_object_get(f->in, "mask_pos"), &f->n_masked);
  f->tgt = int_array(json_object_get(f->in, "mask_target"), NULL);
  f->labels = int_array(json_object_get(f->in, "labels"), NULL);
  f->tok = int_array(json_object_get(f->in, "token_labels"), NULL);
  f->astart = int_array(json_object_get(f->in, "answer_start"), NULL);
  f->aend = int_array(json_object_get(f->in, "answer_end"), NULL);
  f->rows = int_array(json_object_get(f->in, "word_rows"), &f->n_rows);
  return f->tensors && f->in && f->ids && f->pos && f->tok && f->astart && f->aend && f->rows;
}

static inline void free_fixture(fixture *f) {
  json_decref(f->root);
  free(f->data), free(f->ids), free(f->masked), free(f->types), free(f->lengths), free(f->pos),
      free(f->tgt), free(f->labels), free(f->tok), free(f->astart), free(f->aend), free(f->rows);
}

/* A fixture tensor by key: its floats and element count (NULL if absent). */
static inline const float *tensor(const fixture *f, const char *key, int64_t *numel) {
  json_t *t = json_object_get(f->tensors, key);
  if (!t) return NULL;
  json_t *shape = json_object_get(t, "shape");
  int64_t n = 1;
  for (size_t i = 0; i < json_array_size(shape); i++)
    n *= json_integer_value(json_array_get(shape, i));
  int64_t off = json_integer_value(json_object_get(t, "offset"));
  if (off < 0 || (size_t)(off + n) > f->n) return NULL;
  *numel = n;
  return f->data + off;
}

static inline double nmse(const float *a, const float *b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)a[i] - b[i];
    num += d * d;
    den += (double)b[i] * b[i];
  }
  return den > 0 ? num / den : num;
}

#endif
