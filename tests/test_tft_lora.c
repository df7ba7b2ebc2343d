/* LoRA adapters on the TFT (models/tft/tft_lora.h), on the network of the
 * parity configuration (tests/fixtures/tft: hidden 16, 2 heads, encoder 12,
 * horizon 4, 5 windows, a static real and a static categorical, 2 observed
 * and 3 known inputs, quantiles 0.1 0.5 0.9) with random inputs, fp32 CPU:
 *   - adapters as initialised (B zero): the forecasts are the base network's,
 *     bit for bit, on the same base weights;
 *   - with B random, every adapter's gradient (A and B of each adapted
 *     layer, all-linear and the head) against central differences of the
 *     loss (NMSE <= 1e-4, fp32 differences);
 *   - merged (W + scale B A, adapters not run) and unmerged forecasts agree
 *     (NMSE <= 1e-10), and unmerging restores the base weights bit for bit;
 *   - model.lora's target_modules: all-linear, the head alone, and an
 *     unknown name refused. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/cfg.h"
#include "kernels/core/backend.h"
#include "kernels/core/error.h"
#include "models/tft/tft_lora.h"
#include "models/tft/tft_net.h"
#include "tests/test_util.h"

static const kz_device CPU = {KZ_DEVICE_CPU, 0};

static double unit(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

static float *randoms(int64_t n, uint64_t *s, double scale) {
  float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  for (int64_t i = 0; i < n; i++) v[i] = (float)(scale * (2.0 * unit(s) - 1.0));
  return v;
}

static double nmse(const float *a, const float *b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    den += (double)b[i] * b[i];
  }
  return den > 0 ? num / den : num;
}

typedef struct inputs {
  kz_tft_batch b;
  float *s_real, *past, *fut, *y;
  int32_t s_cat[5];
} inputs;

static void parity_dims(kz_tft_dims *dm) {
  memset(dm, 0, sizeof *dm);
  dm->d = 16, dm->heads = 2, dm->k = 12, dm->tau = 4;
  dm->n_static_real = 1, dm->n_static_cat = 1, dm->static_card[0] = 3;
  dm->n_observed = 2, dm->n_known = 3;
  dm->n_quantiles = 3;
  dm->quantiles[0] = 0.1, dm->quantiles[1] = 0.5, dm->quantiles[2] = 0.9;
}

static void make_inputs(const kz_tft_dims *dm, inputs *in) {
  memset(in, 0, sizeof *in);
  uint64_t s = 42;
  const int64_t B = 5;
  in->s_real = randoms(B, &s, 1.0);
  in->past = randoms((1 + dm->n_observed + dm->n_known) * dm->k * B, &s, 1.5);
  in->fut = randoms(dm->n_known * dm->tau * B, &s, 1.5);
  in->y = randoms(dm->tau * B, &s, 2.0);
  for (int i = 0; i < B; i++) in->s_cat[i] = i % 4 - (i == 4); /* 3: "unknown" too */
  in->b = (kz_tft_batch){.B = B,
                         .s_real = in->s_real,
                         .s_cat = in->s_cat,
                         .past = in->past,
                         .fut = in->fut,
                         .y = in->y};
}

static void free_inputs(inputs *in) {
  free(in->s_real), free(in->past), free(in->fut), free(in->y);
}

/* A network with its weights initialised from seed (base part) and its
 * adapters as kz_tft_lora_init_host leaves them. */
static kz_tft_net *make_net(const kz_tft_dims *dm, uint64_t seed) {
  kz_tft_net *n = NULL;
  KZ_CHECK_OK(kz_tft_net_create(dm, CPU, &n));
  if (!n) return NULL;
  float *p = kz_tft_net_params(n)->data;
  kz_tft_init_host(dm, p, seed);
  kz_tft_lora_init_host(kz_tft_net_lora(n), p, seed);
  return n;
}

static void test_lora(void) {
  kz_tft_dims base_dm, dm;
  parity_dims(&base_dm);
  dm = base_dm;
  dm.lora = (struct kz_tft_lora_cfg){.r = 3, .alpha = 6.0, .train_head = 1};
  dm.lora.targets = (1u << KZ_TFT_LORA_NGROUP) - 1u; /* all-linear and the head */
  inputs in;
  make_inputs(&dm, &in);
  kz_tft_net *base = make_net(&base_dm, 7), *net = make_net(&dm, 7);
  if (!base || !net) return;
  kz_tft_lora *l = kz_tft_net_lora(net);
  KZ_CHECK(l && kz_tft_net_lora(base) == NULL);
  const int64_t nb = kz_tft_net_n_params(base), np = kz_tft_net_n_params(net);
  KZ_CHECK(l->base_params == nb && np > nb);
  /* every group has adapters in this network */
  int per_group[KZ_TFT_LORA_NGROUP] = {0};
  for (int i = 0; i < l->n; i++) per_group[l->ad[i].group]++;
  for (int g = 0; g < KZ_TFT_LORA_NGROUP; g++) KZ_CHECK(per_group[g] > 0);
  const kz_tft_names *nm = kz_tft_net_names(net);
  KZ_CHECK(!strcmp(nm->name[nm->n - 2], "head.lora_A.weight"));
  KZ_CHECK(!strcmp(nm->name[nm->n - 1], "head.lora_B.weight"));
  const int64_t npred = dm.tau * in.b.B * dm.n_quantiles;
  float *p0 = malloc((size_t)npred * 4), *p1 = malloc((size_t)npred * 4);
  float *p2 = malloc((size_t)npred * 4);
  double loss = 0;
  int64_t lab = 0;
  /* B zero: the base's forecasts. Not bit for bit: without adapters the
   * network folds some layers together (the GRNs' second layer and gate,
   * variable selection's first layers into the real embeddings; tft_blocks.c,
   * tft_vsn.c), which layers with adapters keep separate: the same function,
   * rounded in another order. */
  KZ_CHECK_OK(kz_tft_net_step(base, &in.b, false, 1.0, &loss, &lab, p0));
  KZ_CHECK_OK(kz_tft_net_step(net, &in.b, false, 1.0, &loss, &lab, p1));
  const double zero_b = nmse(p1, p0, npred);
  KZ_CHECK(zero_b <= 1e-12);
  /* B random: the adapters move the forecasts */
  float *params = kz_tft_net_params(net)->data, *grads = kz_tft_net_grads(net)->data;
  uint64_t s = 99;
  for (int i = 0; i < l->n; i++) {
    float *bv = params + l->ad[i].b_off;
    for (int64_t j = 0; j < kz_tensor_numel(&l->ad[i].b.p); j++)
      bv[j] = (float)(0.3 * (2.0 * unit(&s) - 1.0));
  }
  KZ_CHECK_OK(kz_tft_net_step(net, &in.b, false, 1.0, &loss, &lab, p1));
  const double moved = nmse(p1, p0, npred);
  KZ_CHECK(moved > 1e-4);
  /* gradients against central differences: two entries of A and two of B
   * of every adapter */
  memset(grads, 0, (size_t)np * 4);
  double l0 = 0;
  KZ_CHECK_OK(kz_tft_net_step(net, &in.b, true, 1.0, &l0, &lab, NULL));
  float *g = malloc((size_t)np * 4);
  memcpy(g, grads, (size_t)np * 4);
  double num = 0, den = 0;
  int checked = 0;
  const float eps = 1e-3f;
  for (int i = 0; i < l->n; i++) {
    const kz_tft_adapter *ad = &l->ad[i];
    const int64_t na = kz_tensor_numel(&ad->a.p), nbb = kz_tensor_numel(&ad->b.p);
    const int64_t at[4] = {ad->a_off + (int64_t)(unit(&s) * (double)na),
                           ad->a_off + (int64_t)(unit(&s) * (double)na),
                           ad->b_off + (int64_t)(unit(&s) * (double)nbb),
                           ad->b_off + (int64_t)(unit(&s) * (double)nbb)};
    for (int j = 0; j < 4; j++) {
      const int64_t k = at[j];
      const float keep = params[k];
      double lp = 0, lm = 0;
      params[k] = keep + eps;
      KZ_CHECK_OK(kz_tft_net_step(net, &in.b, false, 1.0, &lp, &lab, NULL));
      params[k] = keep - eps;
      KZ_CHECK_OK(kz_tft_net_step(net, &in.b, false, 1.0, &lm, &lab, NULL));
      params[k] = keep;
      const double fd = (lp - lm) / (2.0 * (double)eps);
      num += (fd - g[k]) * (fd - g[k]);
      den += fd * fd;
      checked++;
    }
  }
  printf("tft lora: B zero vs the base network nmse %.3g\n", zero_b);
  printf("tft lora: %d adapters (r %lld, %lld of %lld parameters), forecasts moved by B nmse "
         "%.3g; %d adapter gradients vs central differences nmse %.3g\n",
         l->n, (long long)l->r, (long long)(np - nb), (long long)np, moved, checked, num / den);
  KZ_CHECK(den > 0 && num / den <= 1e-4);
  /* merged vs unmerged */
  float *saved = malloc((size_t)np * 4);
  memcpy(saved, params, (size_t)np * 4);
  kz_stream *st = kz_tft_net_stream(net);
  KZ_CHECK_OK(kz_tft_lora_merge(l, st, 1));
  KZ_CHECK(l->merged && memcmp(saved, params, (size_t)np * 4) != 0);
  KZ_CHECK_OK(kz_tft_lora_merge(l, st, 1)); /* idempotent */
  KZ_CHECK_OK(kz_tft_net_step(net, &in.b, false, 1.0, &loss, &lab, p2));
  const double merged = nmse(p2, p1, npred);
  KZ_CHECK(merged <= 1e-10);
  /* training a merged network is refused */
  KZ_CHECK(kz_tft_net_step(net, &in.b, true, 1.0, &loss, &lab, NULL) != KZ_OK);
  KZ_CHECK_OK(kz_tft_lora_merge(l, st, 0));
  KZ_CHECK(!l->merged && memcmp(saved, params, (size_t)np * 4) == 0);
  printf("tft lora: merged vs unmerged forecasts nmse %.3g; unmerged weights bit-identical\n",
         merged);
  free(saved), free(g), free(p0), free(p1), free(p2);
  kz_tft_net_destroy(base);
  kz_tft_net_destroy(net);
  free_inputs(&in);
}

static void test_config(void) {
  struct kz_tft_lora_cfg c;
  kz_cfg *cfg = NULL;
  const char *yaml = "model:\n  lora:\n    r: 4\n    alpha: 8\n";
  KZ_CHECK_OK(kz_cfg_load_string(yaml, "test", &cfg));
  KZ_CHECK_OK(kz_tft_lora_read_cfg(kz_cfg_section(cfg, "model"), &c));
  KZ_CHECK(c.r == 4 && c.alpha == 8.0 && c.train_head == 1);
  KZ_CHECK(c.targets == (1u << KZ_TFT_LORA_HEAD) - 1u); /* all-linear: not the head */
  kz_cfg_free(cfg);
  yaml = "model:\n  lora:\n    target_modules: [head, lstm_hh]\n";
  KZ_CHECK_OK(kz_cfg_load_string(yaml, "test", &cfg));
  KZ_CHECK_OK(kz_tft_lora_read_cfg(kz_cfg_section(cfg, "model"), &c));
  KZ_CHECK(c.targets == ((1u << KZ_TFT_LORA_HEAD) | (1u << KZ_TFT_LORA_LSTM_HH)));
  kz_cfg_free(cfg);
  yaml = "model:\n  lora:\n    target_modules: [query, dense]\n";
  KZ_CHECK_OK(kz_cfg_load_string(yaml, "test", &cfg));
  KZ_CHECK_FAILS(kz_tft_lora_read_cfg(kz_cfg_section(cfg, "model"), &c), KZ_ERR_INVALID_ARG,
                 "'dense' is not a TFT layer group");
  kz_cfg_free(cfg);
  yaml = "model:\n  lora:\n    dropout: 0.1\n";
  KZ_CHECK_OK(kz_cfg_load_string(yaml, "test", &cfg));
  KZ_CHECK_FAILS(kz_tft_lora_read_cfg(kz_cfg_section(cfg, "model"), &c), KZ_ERR_UNSUPPORTED,
                 "take no dropout");
  kz_cfg_free(cfg);
  /* the meta round trip */
  c = (struct kz_tft_lora_cfg){.r = 2, .alpha = 3.5, .rslora = 1, .bias = 2, .targets = 0x41};
  json_t *j = kz_tft_lora_to_json(&c);
  struct kz_tft_lora_cfg d;
  KZ_CHECK_OK(kz_tft_lora_from_json(j, &d));
  KZ_CHECK(!memcmp(&c, &d, sizeof c));
  json_decref(j);
}

int main(void) {
  test_config();
  test_lora();
  if (kz_test_failures) fprintf(stderr, "%d check(s) failed\n", kz_test_failures);
  return kz_test_failures ? 1 : 0;
}
