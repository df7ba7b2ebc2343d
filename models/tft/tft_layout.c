/* The TFT's parameter layout: one walk over the network in a fixed order
 * gives every tensor its offset in the block, its name and its views, and
 * the same walk initialises a host block. tools/make_tft_fixture.py builds
 * its PyTorch parameters in this order with these names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/rng.h"
#include "kernels/core/error.h"
#include "models/tft/tft_net.h"

typedef enum { INIT_ZERO, INIT_ONE, INIT_XAVIER, INIT_NORMAL } init_kind;

typedef struct walker {
  float *params, *grads;
  kz_device dev;
  int64_t off;
  kz_tft_names *names;
  /* initialisation (params on the host), or NULL */
  uint64_t seed;
  int init;
  kz_status st;
} walker;

static void name_add(walker *w, const char *name, int64_t count) {
  kz_tft_names *n = w->names;
  if (!n || w->st != KZ_OK) return;
  if (n->n == n->cap) {
    int cap = n->cap ? 2 * n->cap : 64;
    void *a = realloc(n->name, (size_t)cap * sizeof *n->name);
    if (a) n->name = a;
    void *b = realloc(n->offset, (size_t)cap * sizeof *n->offset);
    if (b) n->offset = b;
    void *c = realloc(n->count, (size_t)cap * sizeof *n->count);
    if (c) n->count = c;
    if (!a || !b || !c) {
      w->st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft: parameter names");
      return;
    }
    n->cap = cap;
  }
  snprintf(n->name[n->n], KZ_TFT_NAME, "%s", name);
  n->offset[n->n] = w->off;
  n->count[n->n] = count;
  n->n++;
}

/* Box-Muller on two uniforms; (0, 1] for the log keeps it finite. */
static double normal(uint64_t *state) {
  double u1 = 1.0 - kz_rng_unit(state);
  double u2 = kz_rng_unit(state);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void init_tensor(walker *w, float *p, int64_t rows, int64_t cols, init_kind kind) {
  const int64_t n = rows * cols;
  uint64_t st = kz_rng_key(w->seed, (uint64_t)w->off, 0x746674);
  /* Xavier-uniform on [out, in] = [rows, cols], as nn.init.xavier_uniform_ */
  const double lim = sqrt(6.0 / (double)(rows + cols));
  for (int64_t i = 0; i < n; i++)
    p[i] = kind == INIT_ZERO     ? 0.0f
           : kind == INIT_ONE    ? 1.0f
           : kind == INIT_NORMAL ? (float)normal(&st)
                                 : (float)(lim * (2.0 * kz_rng_unit(&st) - 1.0));
}

static kz_tft_param add(walker *w, const char *prefix, const char *field, int64_t rows,
                        int64_t cols, int ndim, init_kind kind) {
  kz_tft_param t;
  memset(&t, 0, sizeof t);
  char name[KZ_TFT_NAME];
  snprintf(name, sizeof name, "%s.%s", prefix, field);
  name_add(w, name, rows * cols);
  if (w->params) {
    if (w->init) init_tensor(w, w->params + w->off, rows, cols, kind);
    t.p = ndim == 1 ? kz_tensor_view(w->params + w->off, KZ_F32, w->dev, 1, rows * cols)
                    : kz_tensor_view(w->params + w->off, KZ_F32, w->dev, 2, rows, cols);
  }
  if (w->grads)
    t.g = ndim == 1 ? kz_tensor_view(w->grads + w->off, KZ_F32, w->dev, 1, rows * cols)
                    : kz_tensor_view(w->grads + w->off, KZ_F32, w->dev, 2, rows, cols);
  w->off += rows * cols;
  return t;
}

static void grn(walker *w, const char *pre, kz_tft_grn *g, int64_t in, int64_t hid, int64_t out,
                int64_t ctx) {
  g->in = in, g->hid = hid, g->out = out, g->ctx = ctx;
  g->fc1_w = add(w, pre, "fc1_w", hid, in, 2, INIT_XAVIER);
  g->fc1_b = add(w, pre, "fc1_b", 1, hid, 1, INIT_ZERO);
  if (ctx > 0) g->ctx_w = add(w, pre, "ctx_w", hid, ctx, 2, INIT_XAVIER);
  g->fc2_w = add(w, pre, "fc2_w", hid, hid, 2, INIT_XAVIER);
  g->fc2_b = add(w, pre, "fc2_b", 1, hid, 1, INIT_ZERO);
  g->gate_w = add(w, pre, "gate_w", 2 * out, hid, 2, INIT_XAVIER);
  g->gate_b = add(w, pre, "gate_b", 1, 2 * out, 1, INIT_ZERO);
  if (in != out) {
    g->skip_w = add(w, pre, "skip_w", out, in, 2, INIT_XAVIER);
    g->skip_b = add(w, pre, "skip_b", 1, out, 1, INIT_ZERO);
  }
  g->norm_w = add(w, pre, "norm_w", 1, out, 1, INIT_ONE);
  g->norm_b = add(w, pre, "norm_b", 1, out, 1, INIT_ZERO);
}

static void gate(walker *w, const char *pre, kz_tft_gate *g, int64_t in, int64_t out) {
  g->in = in, g->out = out;
  g->gate_w = add(w, pre, "gate_w", 2 * out, in, 2, INIT_XAVIER);
  g->gate_b = add(w, pre, "gate_b", 1, 2 * out, 1, INIT_ZERO);
  g->norm_w = add(w, pre, "norm_w", 1, out, 1, INIT_ONE);
  g->norm_b = add(w, pre, "norm_b", 1, out, 1, INIT_ZERO);
}

/* n_real Linear(1, d) embeddings, then one table per categorical (card + 1
 * rows: the last is "unknown"), then the selection GRN and the variable GRNs. */
static void vsn(walker *w, const char *pre, kz_tft_vsn *v, int64_t n_real, int64_t n_cat,
                const int32_t *card, int64_t d, int64_t ctx) {
  char name[KZ_TFT_NAME];
  v->n = n_real + n_cat;
  v->n_real = n_real;
  for (int64_t i = 0; i < n_real; i++) {
    snprintf(name, sizeof name, "%s.real%lld", pre, (long long)i);
    v->emb_w[i] = add(w, name, "w", d, 1, 2, INIT_XAVIER);
    v->emb_b[i] = add(w, name, "b", 1, d, 1, INIT_ZERO);
  }
  for (int64_t j = 0; j < n_cat; j++) {
    snprintf(name, sizeof name, "%s.cat%lld", pre, (long long)j);
    v->emb_w[n_real + j] = add(w, name, "table", (int64_t)card[j] + 1, d, 2, INIT_NORMAL);
  }
  snprintf(name, sizeof name, "%s.flat", pre);
  grn(w, name, &v->flat, v->n * d, d, v->n, ctx);
  for (int64_t i = 0; i < v->n; i++) {
    snprintf(name, sizeof name, "%s.var%lld", pre, (long long)i);
    grn(w, name, &v->var[i], d, d, d, 0);
  }
}

static void lstm(walker *w, const char *pre, kz_tft_lstm *l, int64_t d) {
  l->wx = add(w, pre, "wx", 4 * d, d, 2, INIT_XAVIER);
  l->wh = add(w, pre, "wh", 4 * d, d, 2, INIT_XAVIER);
  l->b = add(w, pre, "b", 1, 4 * d, 1, INIT_ZERO);
}

static void walk(walker *w, const kz_tft_dims *dm, kz_tft_params *p) {
  const int64_t d = dm->d, dh = dm->d / dm->heads, H = dm->heads;
  memset(p, 0, sizeof *p);
  if (dm->n_static_real + dm->n_static_cat > 0)
    vsn(w, "vs", &p->vs, dm->n_static_real, dm->n_static_cat, dm->static_card, d, 0);
  grn(w, "ctx_sel", &p->ctx_sel, d, d, d, 0);
  grn(w, "ctx_enr", &p->ctx_enr, d, d, d, 0);
  grn(w, "ctx_h", &p->ctx_h, d, d, d, 0);
  grn(w, "ctx_c", &p->ctx_c, d, d, d, 0);
  vsn(w, "vp", &p->vp, 1 + dm->n_observed + dm->n_known, dm->n_observed_cat + dm->n_known_cat,
      dm->tv_card, d, d);
  vsn(w, "vf", &p->vf, dm->n_known, dm->n_known_cat, dm->tv_card + dm->n_observed_cat, d, d);
  lstm(w, "enc", &p->enc, d);
  lstm(w, "dec", &p->dec, d);
  gate(w, "gate_lstm", &p->gate_lstm, d, d);
  grn(w, "enrich", &p->enrich, d, d, d, d);
  p->wq = add(w, "attn", "wq", H * dh, d, 2, INIT_XAVIER);
  p->bq = add(w, "attn", "bq", 1, H * dh, 1, INIT_ZERO);
  p->wk = add(w, "attn", "wk", H * dh, d, 2, INIT_XAVIER);
  p->bk = add(w, "attn", "bk", 1, H * dh, 1, INIT_ZERO);
  p->wv = add(w, "attn", "wv", dh, d, 2, INIT_XAVIER);
  p->bv = add(w, "attn", "bv", 1, dh, 1, INIT_ZERO);
  p->wo = add(w, "attn", "wo", d, dh, 2, INIT_XAVIER);
  p->bo = add(w, "attn", "bo", 1, d, 1, INIT_ZERO);
  gate(w, "gate_attn", &p->gate_attn, d, d);
  grn(w, "pos", &p->pos, d, d, d, 0);
  gate(w, "gate_out", &p->gate_out, d, d);
  p->head_w = add(w, "head", "w", dm->n_quantiles, d, 2, INIT_XAVIER);
  p->head_b = add(w, "head", "b", 1, dm->n_quantiles, 1, INIT_ZERO);
}

kz_status kz_tft_layout(const kz_tft_dims *dm, float *params, float *grads, kz_device dev,
                        kz_tft_params *out, int64_t *n_params, kz_tft_names *names) {
  walker w = {.params = params, .grads = grads, .dev = dev, .names = names};
  kz_tft_params scratch;
  walk(&w, dm, out ? out : &scratch);
  *n_params = w.off;
  return w.st;
}

void kz_tft_init_host(const kz_tft_dims *dm, float *params, uint64_t seed) {
  walker w = {.params = params, .dev = {KZ_DEVICE_CPU, 0}, .seed = seed, .init = 1};
  kz_tft_params scratch;
  walk(&w, dm, &scratch);
}

void kz_tft_names_free(kz_tft_names *n) {
  free(n->name);
  free(n->offset);
  free(n->count);
  memset(n, 0, sizeof *n);
}
