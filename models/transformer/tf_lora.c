/* LoRA adapters on the transformer's Linear layers (tf_lora.h,
 * docs/MODELS.md "LoRA adapters"): model.lora, the trainable ranges (the
 * adapters, the head and the chosen biases; every other tensor frozen and
 * given no gradient work), the adapter's forward and backward around a
 * Linear (the lora op pair, kernels/ops.h), and merging the adapters into
 * the base weights for inference. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/rng.h"
#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/transformer/lora.h"
#include "models/transformer/tf_internal.h"

const char *const kz_tf_lora_module_path[TF_LORA_NMOD] = {
    "attention.self.query",   "attention.self.key", "attention.self.value",
    "attention.output.dense", "intermediate.dense", "output.dense"};
/* model.lora.target_modules spellings: the short names, then the HF paths */
static const char *const target_short[TF_LORA_NMOD] = {
    "query", "key", "value", "attention_output", "intermediate", "output"};
const char *const kz_tf_lora_target_name[TF_LORA_NMOD] = {
    "query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"};
const char *const kz_tf_lora_bias_names[] = {"none", "all", "lora_only", NULL};

enum { MAX_TARGETS = 8 };

static int module_of(const char *name) {
  for (int k = 0; k < TF_LORA_NMOD; k++)
    if (!strcmp(name, target_short[k]) || !strcmp(name, kz_tf_lora_module_path[k])) return k;
  return -1;
}

kz_status kz_tf_lora_read_cfg(const kz_cfg_node *model_cfg, tf_lora_cfg *out) {
  memset(out, 0, sizeof *out);
  if (!kz_cfg_has(model_cfg, "lora")) return KZ_OK;
  const kz_cfg_node *c = kz_cfg_map(model_cfg, "lora");
  out->enabled = 1;
  KZ_TRY(kz_cfg_get_int(c, "r", 8, 1, 4096, &out->r));
  KZ_TRY(kz_cfg_get_double(c, "alpha", 8.0, 1e-6, 1e6, &out->alpha));
  KZ_TRY(kz_cfg_get_double(c, "dropout", 0.0, 0.0, 0.95, &out->dropout));
  KZ_TRY(kz_cfg_get_bool(c, "use_rslora", 0, &out->rslora));
  KZ_TRY(kz_cfg_get_enum(c, "bias", kz_tf_lora_bias_names, 0, &out->bias));
  KZ_TRY(kz_cfg_get_bool(c, "train_head", 1, &out->train_head));
  static const char *const def[] = {"query", "value"}; /* PEFT's default for BERT */
  const char *names[MAX_TARGETS];
  int n = 0;
  KZ_TRY(kz_cfg_get_string_list(c, "target_modules", def, 2, MAX_TARGETS, names, &n));
  for (int i = 0; i < n; i++) {
    if (!strcmp(names[i], "all-linear")) {
      out->targets |= (1u << TF_LORA_NMOD) - 1;
      continue;
    }
    int k = module_of(names[i]);
    if (k < 0)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.lora.target_modules: '%s' is not an adaptable layer (query, key, "
                     "value, attention_output, intermediate, output or all-linear)",
                     names[i]);
    out->targets |= 1u << k;
  }
  if (!out->targets)
    return kz_fail(KZ_ERR_INVALID_ARG, "model.lora.target_modules: names no layer");
  return KZ_OK;
}

double kz_tf_lora_scale(const tf_lora_cfg *c) {
  return c->rslora ? c->alpha / sqrt((double)c->r) : c->alpha / (double)c->r;
}

int64_t kz_tf_lora_in(const kz_tf *m, int k) {
  return k == TF_LORA_FO ? m->ffn : m->hidden;
}

int64_t kz_tf_lora_out(const kz_tf *m, int k) {
  return k == TF_LORA_FI ? m->ffn : m->hidden;
}

/* ---- meta ------------------------------------------------------------------ */

json_t *kz_tf_lora_to_json(const kz_tf *m) {
  const tf_lora_cfg *c = &m->lora;
  json_t *o = json_object(), *t = json_array();
  for (int k = 0; k < TF_LORA_NMOD; k++)
    if (c->targets & (1u << k)) json_array_append_new(t, json_string(target_short[k]));
  json_object_set_new(o, "r", json_integer(c->r));
  json_object_set_new(o, "alpha", json_real(c->alpha));
  json_object_set_new(o, "dropout", json_real(c->dropout));
  json_object_set_new(o, "use_rslora", json_boolean(c->rslora));
  json_object_set_new(o, "bias", json_string(kz_tf_lora_bias_names[c->bias]));
  json_object_set_new(o, "train_head", json_boolean(c->train_head));
  json_object_set_new(o, "target_modules", t);
  return o;
}

kz_status kz_tf_lora_from_json(kz_tf *m, json_t *o) {
  tf_lora_cfg *c = &m->lora;
  memset(c, 0, sizeof *c);
  json_t *r = json_object_get(o, "r"), *a = json_object_get(o, "alpha");
  json_t *d = json_object_get(o, "dropout"), *rs = json_object_get(o, "use_rslora");
  json_t *b = json_object_get(o, "bias"), *h = json_object_get(o, "train_head");
  json_t *t = json_object_get(o, "target_modules");
  if (!json_is_object(o) || !json_is_integer(r) || !json_is_number(a) || !json_is_number(d) ||
      !json_is_boolean(rs) || !json_is_string(b) || !json_is_boolean(h) || !json_is_array(t) ||
      json_object_size(o) != 7)
    return kz_fail(KZ_ERR_FORMAT,
                   "transformer meta: lora must hold r, alpha, dropout, use_rslora, bias, "
                   "train_head and target_modules");
  c->enabled = 1;
  c->r = json_integer_value(r);
  c->alpha = json_number_value(a);
  c->dropout = json_number_value(d);
  c->rslora = json_is_true(rs);
  c->train_head = json_is_true(h);
  c->bias = -1;
  for (int i = 0; kz_tf_lora_bias_names[i]; i++)
    if (!strcmp(json_string_value(b), kz_tf_lora_bias_names[i])) c->bias = i;
  size_t i;
  json_t *v;
  json_array_foreach(t, i, v) {
    int k = json_is_string(v) ? module_of(json_string_value(v)) : -1;
    if (k < 0) return kz_fail(KZ_ERR_FORMAT, "transformer meta: lora.target_modules[%zu]", i);
    c->targets |= 1u << k;
  }
  if (c->r < 1 || c->r > 4096 || !(c->alpha > 0) || c->dropout < 0 || c->dropout > 0.95 ||
      c->bias < 0 || !c->targets)
    return kz_fail(KZ_ERR_FORMAT, "transformer meta: lora holds a value out of range");
  return KZ_OK;
}

/* ---- trainable ranges ------------------------------------------------------ */

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), k = strlen(tail);
  return n >= k && !strcmp(s + n - k, tail);
}

/* The bias of an adapted module: encoder.layer.L.<path>.bias */
static int is_adapted_bias(const kz_tf *m, const char *name) {
  if (strncmp(name, "encoder.layer.", 14) || !ends_with(name, ".bias")) return 0;
  const char *p = strchr(name + 14, '.');
  if (!p) return 0;
  for (int k = 0; k < TF_LORA_NMOD; k++) {
    if (!(m->lora.targets & (1u << k))) continue;
    size_t n = strlen(kz_tf_lora_module_path[k]);
    if (!strncmp(p + 1, kz_tf_lora_module_path[k], n) && !strcmp(p + 1 + n, ".bias")) return 1;
  }
  return 0;
}

static int is_head(const char *name) {
  return strncmp(name, "embeddings.", 11) != 0 && strncmp(name, "encoder.", 8) != 0;
}

static int tensor_trains(const kz_tf *m, const tf_named *t) {
  if (t->lora) return 1;
  if (m->lora.train_head && is_head(t->name)) return 1;
  if (m->lora.bias == TF_LORA_BIAS_ALL && ends_with(t->name, ".bias")) return 1;
  return m->lora.bias == TF_LORA_BIAS_LORA_ONLY && is_adapted_bias(m, t->name);
}

kz_status kz_tf_lora_finish(kz_tf *m) {
  if (!m->lora.enabled) return KZ_OK;
  kz_param_range r[KZ_NN_MAX_RANGES];
  int n = 0;
  for (int i = 0; i < m->n_named; i++) {
    const tf_named *t = &m->named[i];
    if (!tensor_trains(m, t)) continue;
    const int64_t numel = t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
    if (n > 0 && r[n - 1].offset + r[n - 1].count == t->offset) {
      r[n - 1].count += numel;
      continue;
    }
    if (n == KZ_NN_MAX_RANGES)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model.lora: the trainable tensors form more than %d ranges (bias: all on "
                     "%lld layers); use bias: lora_only or none",
                     KZ_NN_MAX_RANGES, (long long)m->layers);
    r[n++] = (kz_param_range){t->offset, numel};
  }
  return kz_nn_set_trainable(&m->base, r, n);
}

int kz_tf_wants_grad(const kz_tf *m, const kz_tensor *g) {
  if (!g->data) return 0;
  const int64_t off = (const float *)g->data - (const float *)m->base.grads.data;
  return kz_nn_is_trainable(&m->base, off, kz_tensor_numel(g));
}

/* ---- forward and backward --------------------------------------------------- */

kz_status kz_tf_lora_alloc(const kz_tf *m, kz_arena *a, int64_t N, int k, int train,
                           tf_lora_saved *sv) {
  memset(sv, 0, sizeof *sv);
  if (!m->lora.enabled || !(m->lora.targets & (1u << k))) return KZ_OK;
  int64_t us[2] = {N > 0 ? N : 1, m->lora.r};
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 2, us, &sv->u));
  if (!train || m->lora.dropout <= 0.0) return KZ_OK;
  int64_t xs[2] = {N > 0 ? N : 1, kz_tf_lora_in(m, k)};
  KZ_TRY(kz_arena_tensor(a, KZ_F32, 2, xs, &sv->xd));
  return kz_arena_tensor(a, KZ_F32, 2, xs, &sv->mask);
}

static kz_tensor rows_of(const kz_tensor *t, int64_t r, int64_t c) {
  return kz_tensor_view(t->data, t->dtype, t->device, 2, r, c);
}

static uint64_t lora_key(uint64_t seed, int64_t l, int k) {
  return kz_rng_key(seed, (uint64_t)l * 8u + (uint64_t)k, 0x6c6f7261ULL);
}

/* y[:, col:col+out] += scale (dropout(x) A^T) B^T; the dropout mask only
 * in training, on the adapter's input alone (the base Linear sees x), with
 * a key of its own per layer and module, as PEFT's lora_dropout. */
kz_status kz_tf_lora_fwd(kz_tf *m, int64_t l, int k, const kz_tensor *x, kz_tensor *y, int64_t col,
                         tf_lora_saved *sv, int train, uint64_t seed) {
  if (!m->lora.enabled || m->lora_merged || !(m->lora.targets & (1u << k))) return KZ_OK;
  const int64_t N = kz_tensor_rows(x);
  kz_tensor u = rows_of(&sv->u, N, m->lora.r);
  const kz_tensor *in = x;
  kz_tensor xd;
  if (train && m->lora.dropout > 0.0) {
    xd = rows_of(&sv->xd, N, kz_tensor_cols(x));
    kz_tensor mask = rows_of(&sv->mask, N, kz_tensor_cols(x));
    KZ_TRY(kz_op_dropout(m->stream, x, &xd, &mask, m->lora.dropout, lora_key(seed, l, k)));
    in = &xd;
  }
  return kz_op_lora(m->stream, in, &m->p.lora_a[l][k], &m->p.lora_b[l][k], &u, y, col,
                    (float)kz_tf_lora_scale(&m->lora));
}

/* dA, dB added into the gradient block, dx (+)= the adapter's share of the
 * input's gradient (dx NULL: not wanted). du [N, r] and dxd [N, in] are
 * scratch. */
kz_status kz_tf_lora_bwd(kz_tf *m, int64_t l, int k, const kz_tensor *x, const kz_tensor *dy,
                         int64_t col, const tf_lora_saved *sv, kz_tensor *dx, kz_tensor *du,
                         kz_tensor *dxd) {
  if (!m->lora.enabled || !(m->lora.targets & (1u << k))) return KZ_OK;
  const int64_t N = kz_tensor_rows(x), in = kz_tensor_cols(x), r = m->lora.r;
  const float scale = (float)kz_tf_lora_scale(&m->lora);
  kz_tensor u = rows_of(&sv->u, N, r), dun = rows_of(du, N, r);
  kz_tensor *da = kz_tf_wants_grad(m, &m->g.lora_a[l][k]) ? &m->g.lora_a[l][k] : NULL;
  kz_tensor *db = kz_tf_wants_grad(m, &m->g.lora_b[l][k]) ? &m->g.lora_b[l][k] : NULL;
  if (m->lora.dropout <= 0.0)
    return kz_op_lora_bwd(m->stream, x, &m->p.lora_a[l][k], &m->p.lora_b[l][k], &u, dy, col, &dun,
                          dx, da, db, scale, true);
  /* through the mask: the op's dx into scratch (zeroed: the op adds), then
   * dx += dxd * mask */
  kz_tensor xd = rows_of(&sv->xd, N, in), mask = rows_of(&sv->mask, N, in);
  kz_tensor dxn = rows_of(dxd, N, in);
  if (dx) KZ_TRY(kz_fill_bytes(m->stream, dxn.data, 0, kz_tensor_bytes(&dxn)));
  KZ_TRY(kz_op_lora_bwd(m->stream, &xd, &m->p.lora_a[l][k], &m->p.lora_b[l][k], &u, dy, col, &dun,
                        dx ? &dxn : NULL, da, db, scale, true));
  if (!dx) return KZ_OK;
  return kz_op_dropout_bwd(m->stream, &dxn, &mask, dx, true);
}

/* ---- merge ------------------------------------------------------------------- */

kz_tensor kz_tf_lora_base_weight(const kz_tf *m, int64_t l, int k) {
  const tf_layer_params *P = &m->p.layer[l];
  const int64_t H = m->hidden;
  switch (k) {
  case TF_LORA_Q:
  case TF_LORA_K:
  case TF_LORA_V:
    return kz_tensor_view((float *)P->qkv_w.data + (int64_t)k * H * H, KZ_F32, m->base.device, 2, H,
                          H);
  case TF_LORA_AO:
    return P->ao_w;
  case TF_LORA_FI:
    return P->fi_w;
  default:
    return P->fo_w;
  }
}

kz_status kz_transformer_lora_merge(kz_nn_model *model, int merge) {
  kz_tf *m = (kz_tf *)model;
  if (strcmp(m->base.ops->type, "transformer") != 0 || !m->lora.enabled)
    return kz_fail(KZ_ERR_INVALID_ARG, "lora merge: the model has no LoRA adapters");
  merge = merge != 0;
  if (m->lora_merged == merge) return KZ_OK;
  /* W - scale B A after W + scale B A is W only to rounding, and the base's
   * fingerprint would change: the adapted weights are kept as they were
   * while merged and copied back */
  int64_t total = 0;
  for (int64_t l = 0; l < m->layers; l++)
    for (int k = 0; k < TF_LORA_NMOD; k++)
      if (m->lora.targets & (1u << k)) total += kz_tf_lora_in(m, k) * kz_tf_lora_out(m, k);
  if (merge && !(m->lora_saved = malloc((size_t)(total > 0 ? total : 1) * sizeof(float))))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "lora merge: %lld floats", (long long)total);
  const float s = (float)kz_tf_lora_scale(&m->lora);
  int64_t at = 0;
  for (int64_t l = 0; l < m->layers; l++)
    for (int k = 0; k < TF_LORA_NMOD; k++) {
      if (!(m->lora.targets & (1u << k))) continue;
      kz_tensor w = kz_tf_lora_base_weight(m, l, k);
      const size_t bytes = kz_tensor_bytes(&w);
      if (merge) {
        KZ_TRY(kz_copy_to_host(m->stream, m->lora_saved + at, w.data, bytes));
        KZ_TRY(kz_op_matmul(m->stream, &m->p.lora_b[l][k], &m->p.lora_a[l][k], &w, false, false, s,
                            1.0f));
      } else {
        KZ_TRY(kz_copy_to_device(m->stream, w.data, m->lora_saved + at, bytes));
      }
      at += kz_tensor_numel(&w);
    }
  KZ_TRY(kz_stream_sync(m->stream));
  if (!merge) {
    free(m->lora_saved);
    m->lora_saved = NULL;
  }
  m->lora_merged = merge;
  return KZ_OK;
}

kz_status kz_tf_lora_folded(const kz_tf *m, kz_nn_model **out) {
  *out = NULL;
  kz_nn_model *plain = NULL;
  KZ_TRY(kz_transformer_lora_strip((const kz_nn_model *)m, &plain));
  kz_tf *d = (kz_tf *)plain;
  const float s = (float)kz_tf_lora_scale(&m->lora);
  kz_status st = KZ_OK;
  for (int64_t l = 0; st == KZ_OK && !m->lora_merged && l < m->layers; l++)
    for (int k = 0; st == KZ_OK && k < TF_LORA_NMOD; k++) {
      if (!(m->lora.targets & (1u << k))) continue;
      kz_tensor w = kz_tf_lora_base_weight(d, l, k);
      st = kz_op_matmul(d->stream, &m->p.lora_b[l][k], &m->p.lora_a[l][k], &w, false, false, s,
                        1.0f);
    }
  if (st == KZ_OK) st = kz_stream_sync(d->stream);
  if (st != KZ_OK) {
    kz_nn_base(plain)->ops->destroy(plain);
    return st;
  }
  *out = plain;
  return KZ_OK;
}

int kz_transformer_lora_merged(const kz_nn_model *model) {
  return ((const kz_tf *)model)->lora_merged;
}
