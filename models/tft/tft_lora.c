/* LoRA adapters on the TFT's linear layers (tft_lora.h): model.lora, which
 * weights carry an adapter, the adapters' place in the parameter block,
 * their initialisation, forward, backward and merging. */
#include "models/tft/tft_lora.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/rng.h"
#include "kernels/core/error.h"
#include "kernels/ops.h"

const char *const kz_tft_lora_group_names[KZ_TFT_LORA_NGROUP] = {
    "grn_fc1", "grn_fc2", "grn_ctx", "grn_skip", "glu",      "lstm_ih",
    "lstm_hh", "query",   "key",     "value",    "attn_out", "head"};
static const char *const bias_names[] = {"none", "all", "lora_only", NULL};
enum { MAX_TARGETS = KZ_TFT_LORA_NGROUP + 1 };
#define ALL_LINEAR ((1u << KZ_TFT_LORA_HEAD) - 1u)

static int group_of(const char *name) {
  for (int k = 0; k < KZ_TFT_LORA_NGROUP; k++)
    if (!strcmp(name, kz_tft_lora_group_names[k])) return k;
  return -1;
}

kz_status kz_tft_lora_read_cfg(const kz_cfg_node *model_cfg, struct kz_tft_lora_cfg *out) {
  memset(out, 0, sizeof *out);
  if (!kz_cfg_has(model_cfg, "lora")) return KZ_OK;
  const kz_cfg_node *c = kz_cfg_map(model_cfg, "lora");
  double dropout = 0;
  KZ_TRY(kz_cfg_get_int(c, "r", 8, 1, 4096, &out->r));
  KZ_TRY(kz_cfg_get_double(c, "alpha", 8.0, 1e-6, 1e6, &out->alpha));
  KZ_TRY(kz_cfg_get_double(c, "dropout", 0.0, 0.0, 0.95, &dropout));
  if (dropout > 0)
    return kz_fail(KZ_ERR_UNSUPPORTED,
                   "model.lora.dropout: the TFT's adapters take no dropout of their own "
                   "(model.dropout drops the input of every GLU); leave it 0");
  KZ_TRY(kz_cfg_get_bool(c, "use_rslora", 0, &out->rslora));
  KZ_TRY(kz_cfg_get_enum(c, "bias", bias_names, 0, &out->bias));
  KZ_TRY(kz_cfg_get_bool(c, "train_head", 1, &out->train_head));
  static const char *const def[] = {"all-linear"};
  const char *names[MAX_TARGETS];
  int n = 0;
  KZ_TRY(kz_cfg_get_string_list(c, "target_modules", def, 1, MAX_TARGETS, names, &n));
  for (int i = 0; i < n; i++) {
    if (!strcmp(names[i], "all-linear")) {
      out->targets |= ALL_LINEAR;
      continue;
    }
    const int k = group_of(names[i]);
    if (k < 0)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.lora.target_modules: '%s' is not a TFT layer group (grn_fc1, grn_fc2, "
                     "grn_ctx, grn_skip, glu, lstm_ih, lstm_hh, query, key, value, attn_out, head "
                     "or all-linear)",
                     names[i]);
    out->targets |= 1u << k;
  }
  if (!out->targets) return kz_fail(KZ_ERR_INVALID_ARG, "model.lora.target_modules: names none");
  return KZ_OK;
}

double kz_tft_lora_scale(const struct kz_tft_lora_cfg *c) {
  return c->rslora ? c->alpha / sqrt((double)c->r) : c->alpha / (double)c->r;
}

json_t *kz_tft_lora_to_json(const struct kz_tft_lora_cfg *c) {
  json_t *o = json_object(), *t = json_array();
  for (int k = 0; k < KZ_TFT_LORA_NGROUP; k++)
    if (c->targets & (1u << k)) json_array_append_new(t, json_string(kz_tft_lora_group_names[k]));
  json_object_set_new(o, "r", json_integer(c->r));
  json_object_set_new(o, "alpha", json_real(c->alpha));
  json_object_set_new(o, "use_rslora", json_boolean(c->rslora));
  json_object_set_new(o, "bias", json_string(bias_names[c->bias]));
  json_object_set_new(o, "train_head", json_boolean(c->train_head));
  json_object_set_new(o, "target_modules", t);
  return o;
}

kz_status kz_tft_lora_from_json(json_t *o, struct kz_tft_lora_cfg *c) {
  memset(c, 0, sizeof *c);
  json_t *r = json_object_get(o, "r"), *a = json_object_get(o, "alpha");
  json_t *rs = json_object_get(o, "use_rslora"), *b = json_object_get(o, "bias");
  json_t *h = json_object_get(o, "train_head"), *t = json_object_get(o, "target_modules");
  if (!json_is_object(o) || !json_is_integer(r) || !json_is_number(a) || !json_is_boolean(rs) ||
      !json_is_string(b) || !json_is_boolean(h) || !json_is_array(t))
    return kz_fail(KZ_ERR_FORMAT, "tft meta: config.lora must hold r, alpha, use_rslora, bias, "
                                  "train_head and target_modules");
  c->r = json_integer_value(r);
  c->alpha = json_number_value(a);
  c->rslora = json_is_true(rs);
  c->train_head = json_is_true(h);
  c->bias = -1;
  for (int i = 0; bias_names[i]; i++)
    if (!strcmp(json_string_value(b), bias_names[i])) c->bias = i;
  size_t i;
  json_t *v;
  json_array_foreach(t, i, v) {
    const int k = json_is_string(v) ? group_of(json_string_value(v)) : -1;
    if (k < 0) return kz_fail(KZ_ERR_FORMAT, "tft meta: config.lora.target_modules[%zu]", i);
    c->targets |= 1u << k;
  }
  if (c->r < 1 || c->r > 4096 || !(c->alpha > 0) || c->bias < 0 || !c->targets)
    return kz_fail(KZ_ERR_FORMAT, "tft meta: config.lora holds a value out of range");
  return KZ_OK;
}

/* ---- the adaptable weights, in layout order -------------------------------------- */

typedef void (*visit_fn)(void *ctx, kz_tft_param *w, kz_tft_param *b, int group, int64_t out,
                         int64_t in);

static void visit_grn(kz_tft_grn *g, visit_fn f, void *ctx) {
  f(ctx, &g->fc1_w, &g->fc1_b, KZ_TFT_LORA_GRN_FC1, g->hid, g->in);
  if (g->ctx > 0) f(ctx, &g->ctx_w, NULL, KZ_TFT_LORA_GRN_CTX, g->hid, g->ctx);
  f(ctx, &g->fc2_w, &g->fc2_b, KZ_TFT_LORA_GRN_FC2, g->hid, g->hid);
  f(ctx, &g->gate_w, &g->gate_b, KZ_TFT_LORA_GLU, 2 * g->out, g->hid);
  if (g->in != g->out) f(ctx, &g->skip_w, &g->skip_b, KZ_TFT_LORA_GRN_SKIP, g->out, g->in);
}

static void visit_vsn(kz_tft_vsn *v, visit_fn f, void *ctx) {
  visit_grn(&v->flat, f, ctx);
  for (int64_t i = 0; i < v->n; i++) visit_grn(&v->var[i], f, ctx);
}

static void visit_gate(kz_tft_gate *g, visit_fn f, void *ctx) {
  f(ctx, &g->gate_w, &g->gate_b, KZ_TFT_LORA_GLU, 2 * g->out, g->in);
}

static void visit(const kz_tft_dims *dm, kz_tft_params *p, visit_fn f, void *ctx) {
  const int64_t d = dm->d, dh = dm->d / dm->heads, H = dm->heads;
  if (dm->n_static_real + dm->n_static_cat > 0) visit_vsn(&p->vs, f, ctx);
  visit_grn(&p->ctx_sel, f, ctx);
  visit_grn(&p->ctx_enr, f, ctx);
  visit_grn(&p->ctx_h, f, ctx);
  visit_grn(&p->ctx_c, f, ctx);
  visit_vsn(&p->vp, f, ctx);
  visit_vsn(&p->vf, f, ctx);
  kz_tft_lstm *l[2] = {&p->enc, &p->dec};
  for (int i = 0; i < 2; i++) {
    f(ctx, &l[i]->wx, &l[i]->b, KZ_TFT_LORA_LSTM_IH, 4 * d, d);
    f(ctx, &l[i]->wh, &l[i]->b, KZ_TFT_LORA_LSTM_HH, 4 * d, d);
  }
  visit_gate(&p->gate_lstm, f, ctx);
  visit_grn(&p->enrich, f, ctx);
  f(ctx, &p->wq, &p->bq, KZ_TFT_LORA_QUERY, H * dh, d);
  f(ctx, &p->wk, &p->bk, KZ_TFT_LORA_KEY, H * dh, d);
  f(ctx, &p->wv, &p->bv, KZ_TFT_LORA_VALUE, dh, d);
  f(ctx, &p->wo, &p->bo, KZ_TFT_LORA_ATTN_OUT, d, dh);
  visit_gate(&p->gate_attn, f, ctx);
  visit_grn(&p->pos, f, ctx);
  visit_gate(&p->gate_out, f, ctx);
  f(ctx, &p->head_w, &p->head_b, KZ_TFT_LORA_HEAD, dm->n_quantiles, d);
}

typedef struct counter {
  unsigned targets;
  int64_t r, floats;
  int n;
} counter;

static void count_one(void *ctx, kz_tft_param *w, kz_tft_param *b, int group, int64_t out,
                      int64_t in) {
  (void)w, (void)b;
  counter *c = ctx;
  if (!(c->targets & (1u << group))) return;
  c->floats += c->r * (in + out);
  c->n++;
}

static kz_status count(const kz_tft_dims *dm, counter *c) {
  memset(c, 0, sizeof *c);
  if (dm->lora.r <= 0) return KZ_OK;
  c->targets = dm->lora.targets;
  c->r = dm->lora.r;
  /* the block struct is large (a VSN holds 64 variables): not on the stack */
  kz_tft_params *p = malloc(sizeof *p);
  if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft lora");
  int64_t np = 0;
  kz_device cpu = {KZ_DEVICE_CPU, 0};
  kz_status st = kz_tft_layout(dm, NULL, NULL, cpu, p, &np, NULL);
  if (st == KZ_OK) visit(dm, p, count_one, c);
  free(p);
  return st;
}

kz_status kz_tft_lora_numel(const kz_tft_dims *dm, int64_t *out) {
  counter c;
  KZ_TRY(count(dm, &c));
  *out = c.floats;
  return KZ_OK;
}

/* ---- attach ------------------------------------------------------------------------- */

typedef struct attacher {
  kz_tft_lora *l;
  unsigned targets;
  const kz_tensor *params, *grads;
  kz_device dev;
  int64_t off;
  const kz_tft_names *names;
} attacher;

static kz_tft_param view(const attacher *a, int64_t rows, int64_t cols) {
  kz_tft_param t;
  memset(&t, 0, sizeof t);
  t.p = kz_tensor_view((float *)a->params->data + a->off, KZ_F32, a->dev, 2, rows, cols);
  t.g = kz_tensor_view((float *)a->grads->data + a->off, KZ_F32, a->dev, 2, rows, cols);
  return t;
}

/* The module of a weight: its name less "_w" ("vp.var0.fc1_w") or ".w"
 * ("head.w"); the LSTM's and attention's weights keep theirs ("enc.wx"). */
static void module_name(const attacher *a, const kz_tft_param *w, char *out) {
  const int64_t off = (const float *)w->p.data - (const float *)a->params->data;
  snprintf(out, KZ_TFT_NAME, "?");
  for (int i = 0; i < a->names->n; i++)
    if (a->names->offset[i] == off) {
      snprintf(out, KZ_TFT_NAME, "%s", a->names->name[i]);
      break;
    }
  const size_t n = strlen(out);
  if (n > 2 && (!strcmp(out + n - 2, "_w") || !strcmp(out + n - 2, ".w"))) out[n - 2] = 0;
}

static void attach_one(void *ctx, kz_tft_param *w, kz_tft_param *b, int group, int64_t out,
                       int64_t in) {
  attacher *a = ctx;
  if (!(a->targets & (1u << group))) return;
  kz_tft_adapter *ad = &a->l->ad[a->l->n++];
  memset(ad, 0, sizeof *ad);
  ad->w = w;
  if (b) ad->bias = *b;
  ad->group = group;
  ad->set = a->l;
  module_name(a, w, ad->module);
  ad->a = view(a, a->l->r, in);
  ad->a_off = a->off;
  a->off += a->l->r * in;
  ad->b = view(a, out, a->l->r);
  ad->b_off = a->off;
  a->off += out * a->l->r;
  w->lora = ad;
}

static kz_status name_add(kz_tft_names *n, const char *module, const char *which, int64_t off,
                          int64_t count) {
  if (n->n == n->cap) {
    const int cap = n->cap ? 2 * n->cap : 64;
    void *x = realloc(n->name, (size_t)cap * sizeof *n->name);
    if (x) n->name = x;
    void *y = realloc(n->offset, (size_t)cap * sizeof *n->offset);
    if (y) n->offset = y;
    void *z = realloc(n->count, (size_t)cap * sizeof *n->count);
    if (z) n->count = z;
    if (!x || !y || !z) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft lora: names");
    n->cap = cap;
  }
  snprintf(n->name[n->n], KZ_TFT_NAME, "%s.%s.weight", module, which);
  n->offset[n->n] = off;
  n->count[n->n] = count;
  n->n++;
  return KZ_OK;
}

kz_status kz_tft_lora_attach(const kz_tft_dims *dm, kz_tft_params *p, const kz_tensor *params,
                             const kz_tensor *grads, int64_t base_params, kz_device dev,
                             kz_tft_names *names, kz_tft_lora **out) {
  *out = NULL;
  if (dm->lora.r <= 0) return KZ_OK;
  counter c;
  KZ_TRY(count(dm, &c));
  kz_tft_lora *l = calloc(1, sizeof *l);
  if (!l || !(l->ad = calloc((size_t)(c.n > 0 ? c.n : 1), sizeof *l->ad))) {
    free(l);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft lora");
  }
  l->r = dm->lora.r;
  l->scale = (float)kz_tft_lora_scale(&dm->lora);
  l->base_params = base_params;
  l->dev = dev;
  attacher a = {l, dm->lora.targets, params, grads, dev, base_params, names};
  visit(dm, p, attach_one, &a);
  kz_status st = KZ_OK;
  for (int i = 0; st == KZ_OK && i < l->n; i++) {
    const kz_tft_adapter *ad = &l->ad[i];
    st = name_add(names, ad->module, "lora_A", ad->a_off, kz_tensor_numel(&ad->a.p));
    if (st == KZ_OK)
      st = name_add(names, ad->module, "lora_B", ad->b_off, kz_tensor_numel(&ad->b.p));
  }
  if (st != KZ_OK) {
    kz_tft_lora_free(l);
    return st;
  }
  *out = l;
  return KZ_OK;
}

void kz_tft_lora_free(kz_tft_lora *l) {
  if (!l) return;
  if (l->u.data) kz_tensor_free(&l->u);
  if (l->du.data) kz_tensor_free(&l->du);
  free(l->saved);
  free(l->ad);
  free(l);
}

void kz_tft_lora_init_host(const kz_tft_lora *l, float *params, uint64_t seed) {
  if (!l) return;
  for (int i = 0; i < l->n; i++) {
    const kz_tft_adapter *ad = &l->ad[i];
    const int64_t in = kz_tensor_cols(&ad->a.p);
    /* as PEFT's A: kaiming_uniform_(a = sqrt(5)), bound 1 / sqrt(fan_in) */
    const double lim = 1.0 / sqrt((double)in);
    const int64_t na = kz_tensor_numel(&ad->a.p);
    float *a = params + ad->a_off;
    uint64_t st = kz_rng_key(seed, (uint64_t)i, 0x6c6f7261ULL);
    for (int64_t j = 0; j < na; j++) a[j] = (float)(lim * (2.0 * kz_rng_unit(&st) - 1.0));
    memset(params + ad->b_off, 0, (size_t)kz_tensor_numel(&ad->b.p) * sizeof(float));
  }
}

/* ---- forward and backward ------------------------------------------------------------ */

static kz_status scratch(kz_tft_lora *l, kz_stream *s, int64_t rows) {
  if (rows <= l->cap_rows) return KZ_OK;
  /* grows rarely (the first batch of a larger size); the stream may still
   * read the old buffers */
  KZ_TRY(kz_stream_sync(s));
  if (l->u.data) kz_tensor_free(&l->u);
  if (l->du.data) kz_tensor_free(&l->du);
  l->cap_rows = 0;
  int64_t shape[2] = {rows, l->r};
  KZ_TRY(kz_tensor_alloc(l->dev, KZ_F32, 2, shape, &l->u));
  KZ_TRY(kz_tensor_alloc(l->dev, KZ_F32, 2, shape, &l->du));
  l->cap_rows = rows;
  return KZ_OK;
}

static kz_tensor rows_of(const kz_tensor *t, int64_t r, int64_t c) {
  return kz_tensor_view(t->data, KZ_F32, t->device, 2, r, c);
}

kz_status kz_tft_lora_fwd(kz_stream *s, const kz_tensor *x, const kz_tft_param *w, kz_tensor *y) {
  const kz_tft_adapter *ad = w->lora;
  if (!ad || ad->set->merged) return KZ_OK;
  kz_tft_lora *l = ad->set;
  const int64_t N = kz_tensor_rows(x);
  if (N == 0) return KZ_OK;
  KZ_TRY(scratch(l, s, N));
  kz_tensor u = rows_of(&l->u, N, l->r);
  return kz_op_lora(s, x, &ad->a.p, &ad->b.p, &u, y, 0, l->scale);
}

kz_status kz_tft_lora_bwd(kz_stream *s, const kz_tensor *x, const kz_tft_param *w,
                          const kz_tensor *dy, kz_tensor *dx) {
  const kz_tft_adapter *ad = w->lora;
  if (!ad) return KZ_OK;
  kz_tft_lora *l = ad->set;
  if (l->merged)
    return kz_fail(KZ_ERR_INVALID_ARG, "tft lora: unmerge the adapters before training");
  const int64_t N = kz_tensor_rows(x);
  if (N == 0) return KZ_OK;
  KZ_TRY(scratch(l, s, N));
  kz_tensor u = rows_of(&l->u, N, l->r), du = rows_of(&l->du, N, l->r);
  KZ_TRY(kz_op_matmul(s, x, &ad->a.p, &u, false, true, 1.0f, 0.0f));
  return kz_op_lora_bwd(s, x, &ad->a.p, &ad->b.p, &u, dy, 0, &du, dx, (kz_tensor *)&ad->a.g,
                        (kz_tensor *)&ad->b.g, l->scale, true);
}

/* ---- merge --------------------------------------------------------------------------- */

kz_status kz_tft_lora_merge(kz_tft_lora *l, kz_stream *s, int merge) {
  if (!l) return kz_fail(KZ_ERR_INVALID_ARG, "tft lora merge: the model has no LoRA adapters");
  merge = merge != 0;
  if (l->merged == merge) return KZ_OK;
  /* W - scale B A after W + scale B A is W only to rounding (and the base's
   * fingerprint would move): the weights are kept as they were */
  int64_t total = 0;
  for (int i = 0; i < l->n; i++) total += kz_tensor_numel(&l->ad[i].w->p);
  if (merge && !(l->saved = malloc((size_t)(total > 0 ? total : 1) * sizeof(float))))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "tft lora merge: %lld floats", (long long)total);
  int64_t at = 0;
  for (int i = 0; i < l->n; i++) {
    const kz_tft_adapter *ad = &l->ad[i];
    kz_tensor w = ad->w->p;
    const size_t bytes = kz_tensor_bytes(&w);
    if (merge) {
      KZ_TRY(kz_copy_to_host(s, l->saved + at, w.data, bytes));
      KZ_TRY(kz_op_matmul(s, &ad->b.p, &ad->a.p, &w, false, false, l->scale, 1.0f));
    } else {
      KZ_TRY(kz_copy_to_device(s, w.data, l->saved + at, bytes));
    }
    at += kz_tensor_numel(&w);
  }
  KZ_TRY(kz_stream_sync(s));
  if (!merge) {
    free(l->saved);
    l->saved = NULL;
  }
  l->merged = merge;
  return KZ_OK;
}
