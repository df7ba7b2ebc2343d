/* TFT network tests (models/tft):
 *   parity FIXTURE   forecasts, loss and every gradient of the fp32 CPU network
 *                    against the float64 PyTorch reference of
 *                    tools/make_tft_fixture.py (NMSE <= 1e-8), then the losses of
 *                    10 AdamW steps (relative difference <= 1e-4)
 *   dropout FIXTURE  model.dropout on the fixture's network: inactive at inference
 *                    (the fixture's forecasts), masks a function of the key, and
 *                    the backward through the masks against central differences
 *                    of the loss with the same key */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "kernels/core/backend.h"
#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/tft/tft_model.h"
#include "models/tft/tft_net.h"
#include "tests/test_util.h"

static const kz_device CPU = {KZ_DEVICE_CPU, 0};

static double kz_tft_test_unit(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- the fixture: "key count values..." lines and "tensor name count" -------- */
enum { MAX_ENTRIES = 32, MAX_TENSORS = 512 };
typedef struct fixture {
  int n, nt;
  char key[MAX_ENTRIES][64];
  int count[MAX_ENTRIES];
  double *vals[MAX_ENTRIES];
  char tname[MAX_TENSORS][KZ_TFT_NAME];
  int64_t tcount[MAX_TENSORS];
} fixture;

static int fixture_load(const char *path, fixture *fx) {
  memset(fx, 0, sizeof *fx);
  FILE *f = fopen(path, "r");
  if (!f) return fprintf(stderr, "cannot open %s\n", path), 0;
  char word[64];
  while (fscanf(f, "%63s", word) == 1) {
    if (word[0] == '#') {
      int c;
      while ((c = fgetc(f)) != '\n' && c != EOF) {
      }
      continue;
    }
    if (!strcmp(word, "tensor")) {
      long long c = 0;
      if (fx->nt == MAX_TENSORS || fscanf(f, "%63s %lld", fx->tname[fx->nt], &c) != 2) break;
      fx->tcount[fx->nt++] = c;
      continue;
    }
    if (fx->n == MAX_ENTRIES) break;
    int i = fx->n++;
    snprintf(fx->key[i], sizeof fx->key[i], "%s", word);
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

static const double *fx_get(const fixture *fx, const char *key, int *count) {
  for (int i = 0; i < fx->n; i++)
    if (!strcmp(fx->key[i], key)) {
      if (count) *count = fx->count[i];
      return fx->vals[i];
    }
  fprintf(stderr, "fixture: no %s\n", key);
  exit(1);
}

static float *to_f32(const double *v, int n) {
  float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  for (int i = 0; i < n; i++) f[i] = (float)v[i];
  return f;
}

static double nmse(const float *a, const double *b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    den += b[i] * b[i];
  }
  return den > 0 ? num / den : num;
}

typedef struct setup {
  kz_tft_dims dm;
  kz_tft_batch b;
  float *s_real, *past, *fut, *y;
  int32_t *s_cat;
} setup;

static void make_setup(const fixture *fx, setup *su) {
  memset(su, 0, sizeof *su);
  const double *dims = fx_get(fx, "dims", NULL);
  kz_tft_dims *dm = &su->dm;
  dm->d = (int64_t)dims[0];
  dm->heads = (int64_t)dims[1];
  dm->k = (int64_t)dims[2];
  dm->tau = (int64_t)dims[3];
  su->b.B = (int64_t)dims[4];
  dm->n_static_real = (int64_t)dims[5];
  dm->n_static_cat = (int64_t)dims[6];
  dm->static_card[0] = (int32_t)dims[7];
  dm->n_observed = (int64_t)dims[8];
  dm->n_known = (int64_t)dims[9];
  int nq = 0;
  const double *q = fx_get(fx, "quantiles", &nq);
  dm->n_quantiles = nq;
  for (int i = 0; i < nq; i++) dm->quantiles[i] = q[i];
  int n = 0;
  const double *v = fx_get(fx, "s_real", &n);
  su->s_real = to_f32(v, n);
  v = fx_get(fx, "past", &n);
  su->past = to_f32(v, n);
  v = fx_get(fx, "fut", &n);
  su->fut = to_f32(v, n);
  v = fx_get(fx, "y", &n);
  su->y = to_f32(v, n);
  v = fx_get(fx, "s_cat", &n);
  su->s_cat = malloc((size_t)n * sizeof(int32_t));
  for (int i = 0; i < n; i++) su->s_cat[i] = (int32_t)v[i];
  su->b.s_real = su->s_real;
  su->b.s_cat = su->s_cat;
  su->b.past = su->past;
  su->b.fut = su->fut;
  su->b.y = su->y;
}

static void free_setup(setup *su) {
  free(su->s_real), free(su->past), free(su->fut), free(su->y), free(su->s_cat);
}

static void test_parity(const fixture *fx) {
  setup su;
  make_setup(fx, &su);
  kz_tft_net *net = NULL;
  KZ_CHECK_OK(kz_tft_net_create(&su.dm, CPU, &net));
  if (!net) return;
  /* the layouts agree tensor by tensor */
  const kz_tft_names *nm = kz_tft_net_names(net);
  KZ_CHECK(nm->n == fx->nt);
  for (int i = 0; i < nm->n && i < fx->nt; i++)
    if (strcmp(nm->name[i], fx->tname[i]) || nm->count[i] != fx->tcount[i]) {
      fprintf(stderr, "tensor %d: kaizen %s (%lld), fixture %s (%lld)\n", i, nm->name[i],
              (long long)nm->count[i], fx->tname[i], (long long)fx->tcount[i]);
      ++kz_test_failures;
      break;
    }
  int np = 0;
  const double *p0 = fx_get(fx, "params", &np);
  KZ_CHECK(np == kz_tft_net_n_params(net));
  float *params = kz_tft_net_params(net)->data, *grads = kz_tft_net_grads(net)->data;
  for (int i = 0; i < np; i++) params[i] = (float)p0[i];

  const int64_t npred = su.dm.tau * su.b.B * su.dm.n_quantiles;
  float *pred = malloc((size_t)npred * sizeof(float));
  double loss = 0;
  int64_t lab = 0;
  KZ_CHECK_OK(kz_tft_net_step(net, &su.b, true, 1.0, &loss, &lab, pred));
  const double want_loss = fx_get(fx, "loss", NULL)[0];
  const double e_pred = nmse(pred, fx_get(fx, "pred", NULL), npred);
  const double e_grad = nmse(grads, fx_get(fx, "grads", NULL), np);
  printf("tft parity: forecasts nmse %.3g, loss %.9g vs %.9g (rel %.3g), gradients nmse %.3g\n",
         e_pred, loss, want_loss, fabs(loss - want_loss) / want_loss, e_grad);
  KZ_CHECK(e_pred <= 1e-8);
  KZ_CHECK(fabs(loss - want_loss) <= 1e-6 * fabs(want_loss));
  KZ_CHECK(e_grad <= 1e-8);
  if (getenv("KZ_TFT_DUMP")) {
    FILE *df = fopen(getenv("KZ_TFT_DUMP"), "w");
    for (int i = 0; df && i < np; i++) fprintf(df, "%.9g\n", grads[i]);
    if (df) fclose(df);
  }
  /* every tensor's gradient on its own, so a small one cannot hide */
  const double *gw = fx_get(fx, "grads", NULL);
  int worst = -1;
  double worst_e = 0;
  /* The key bias's gradient is zero in exact arithmetic (it shifts every
   * score of a query by one amount, which the softmax ignores): the
   * reference holds rounding noise (~1e-19) and fp32 ~1e-9. A tensor is
   * therefore measured against at least 1e-4 of the mean squared norm of
   * all tensors' gradients. */
  double total = 0;
  for (int64_t i = 0; i < np; i++) total += gw[i] * gw[i];
  const double floor_den = 1e-4 * total / (double)nm->n;
  for (int i = 0; i < nm->n; i++) {
    double num = 0, den = 0;
    for (int64_t j = nm->offset[i]; j < nm->offset[i] + nm->count[i]; j++) {
      num += ((double)grads[j] - gw[j]) * ((double)grads[j] - gw[j]);
      den += gw[j] * gw[j];
    }
    double e = num / (den > floor_den ? den : floor_den);
    if (e > worst_e) worst_e = e, worst = i;
    if (e > 1e-8) {
      fprintf(stderr, "gradient of %s: nmse %.3g\n", nm->name[i], e);
      ++kz_test_failures;
    }
  }
  if (worst >= 0)
    printf("tft parity: worst tensor gradient %s nmse %.3g\n", nm->name[worst], worst_e);

  /* 10 AdamW steps on the same batch */
  const double *hp = fx_get(fx, "adamw", NULL);
  int nl = 0;
  const double *want = fx_get(fx, "losses", &nl);
  kz_tensor m = {0}, v = {0};
  int64_t shape[1] = {np};
  KZ_CHECK_OK(kz_tensor_alloc(CPU, KZ_F32, 1, shape, &m));
  KZ_CHECK_OK(kz_tensor_alloc(CPU, KZ_F32, 1, shape, &v));
  memset(m.data, 0, (size_t)np * 4);
  memset(v.data, 0, (size_t)np * 4);
  kz_stream *st = kz_tft_net_stream(net);
  double worst_rel = 0;
  for (int s = 0; s < nl; s++) {
    memset(grads, 0, (size_t)np * 4);
    KZ_CHECK_OK(kz_tft_net_step(net, &su.b, true, 1.0, &loss, &lab, NULL));
    double rel = fabs(loss - want[s]) / fabs(want[s]);
    if (getenv("KZ_TFT_DEBUG")) printf("step %d loss %.9g torch %.9g\n", s, loss, want[s]);
    worst_rel = rel > worst_rel ? rel : worst_rel;
    kz_adamw_hparams h = {(float)hp[0], (float)hp[1], (float)hp[2], (float)hp[3],
                          (float)hp[4], 1.0f,         s + 1};
    KZ_CHECK_OK(kz_op_adamw(st, kz_tft_net_params(net), kz_tft_net_grads(net), &m, &v, NULL, &h));
  }
  printf("tft parity: %d AdamW steps, loss %.6g -> %.6g (torch %.6g), worst rel diff %.3g\n", nl,
         want[0], loss, want[nl - 1], worst_rel);
  KZ_CHECK(worst_rel <= 1e-4);
  kz_tensor_free(&m);
  kz_tensor_free(&v);
  free(pred);
  kz_tft_net_destroy(net);
  free_setup(&su);
}

/* Training throughput of the network alone (forward, loss, backward and an
 * AdamW step) on random windows: windows per second, for bench/tft_speed.sh. */
static void test_dropout(const fixture *fx) {
  setup su;
  make_setup(fx, &su);
  kz_tft_net *net = NULL;
  KZ_CHECK_OK(kz_tft_net_create(&su.dm, CPU, &net));
  if (!net) return;
  KZ_CHECK_OK(kz_tft_net_set_dropout(net, 0.3));
  KZ_CHECK(kz_tft_net_set_dropout(net, 1.0) != KZ_OK);
  const int64_t np = kz_tft_net_n_params(net);
  const double *p0 = fx_get(fx, "params", NULL);
  float *params = kz_tft_net_params(net)->data, *grads = kz_tft_net_grads(net)->data;
  for (int64_t i = 0; i < np; i++) params[i] = (float)p0[i];
  const int64_t npred = su.dm.tau * su.b.B * su.dm.n_quantiles;
  float *pred = malloc((size_t)npred * sizeof(float));
  double loss = 0, l1 = 0, l2 = 0, l3 = 0;
  int64_t lab = 0;
  /* inference: no dropout, the fixture's forecasts and loss */
  KZ_CHECK_OK(kz_tft_net_step(net, &su.b, false, 1.0, &loss, &lab, pred));
  KZ_CHECK(nmse(pred, fx_get(fx, "pred", NULL), npred) <= 1e-8);
  KZ_CHECK(fabs(loss - fx_get(fx, "loss", NULL)[0]) <= 1e-6 * loss);
  /* training: the same key gives the same loss and gradients, another key
   * another loss */
  float *g1 = malloc((size_t)np * sizeof(float));
  su.b.dropout_key = 7;
  memset(grads, 0, (size_t)np * 4);
  KZ_CHECK_OK(kz_tft_net_step(net, &su.b, true, 1.0, &l1, &lab, NULL));
  memcpy(g1, grads, (size_t)np * 4);
  memset(grads, 0, (size_t)np * 4);
  KZ_CHECK_OK(kz_tft_net_step(net, &su.b, true, 1.0, &l2, &lab, NULL));
  KZ_CHECK(l1 == l2 && memcmp(g1, grads, (size_t)np * 4) == 0);
  KZ_CHECK(fabs(l1 - loss) > 1e-4 * loss); /* the masks change the loss */
  su.b.dropout_key = 8;
  KZ_CHECK_OK(kz_tft_net_step(net, &su.b, true, 1.0, &l3, &lab, NULL));
  KZ_CHECK(l3 != l1);
  /* central differences with key 7 on 64 parameters spread over the block */
  su.b.dropout_key = 7;
  double num = 0, den = 0;
  const float eps = 1e-3f;
  for (int j = 0; j < 64; j++) {
    const int64_t i = (int64_t)((double)j * (double)(np - 1) / 63.0);
    const float keep = params[i];
    double lp = 0, lm = 0;
    params[i] = keep + eps;
    KZ_CHECK_OK(kz_tft_net_step(net, &su.b, true, 1.0, &lp, &lab, NULL));
    params[i] = keep - eps;
    KZ_CHECK_OK(kz_tft_net_step(net, &su.b, true, 1.0, &lm, &lab, NULL));
    params[i] = keep;
    const double fd = (lp - lm) / (2.0 * (double)eps);
    num += (fd - g1[i]) * (fd - g1[i]);
    den += (double)g1[i] * g1[i];
  }
  printf("tft dropout 0.3: train loss %.6f (key 7), %.6f (key 8), inference %.6f; gradients vs "
         "central differences nmse %.3g\n",
         l1, l3, loss, num / den);
  KZ_CHECK(den > 0 && num / den <= 1e-4);
  free(g1), free(pred);
  free_setup(&su);
  kz_tft_net_destroy(net);
}

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now_s(void) {
  return clock_s(CLOCK_MONOTONIC);
}

static int bench(int argc, char **argv) {
  if (argc < 9) {
    fprintf(stderr, "usage: test_tft bench B HIDDEN HEADS K TAU STEPS THREADS\n");
    return 2;
  }
  kz_tft_dims dm;
  memset(&dm, 0, sizeof dm);
  const int64_t B = atoll(argv[2]), steps = atoll(argv[7]);
  dm.d = atoll(argv[3]), dm.heads = atoll(argv[4]), dm.k = atoll(argv[5]), dm.tau = atoll(argv[6]);
  omp_set_num_threads(atoi(argv[8]));
  dm.n_static_real = 1, dm.n_static_cat = 1, dm.static_card[0] = 10;
  dm.n_observed = 2, dm.n_known = 3, dm.n_quantiles = 3;
  dm.quantiles[0] = 0.1, dm.quantiles[1] = 0.5, dm.quantiles[2] = 0.9;
  kz_tft_net *net = NULL;
  KZ_CHECK_OK(kz_tft_net_create(&dm, CPU, &net));
  if (!net) return 1;
  const int64_t np = kz_tft_net_n_params(net);
  kz_tft_init_host(&dm, kz_tft_net_params(net)->data, 1);
  const int64_t n_past = 1 + dm.n_observed + dm.n_known;
  float *s_real = malloc(sizeof(float) * (size_t)B),
        *y = malloc(sizeof(float) * (size_t)(B * dm.tau));
  float *past = malloc(sizeof(float) * (size_t)(B * dm.k * n_past));
  float *fut = malloc(sizeof(float) * (size_t)(B * dm.tau * dm.n_known));
  int32_t *s_cat = malloc(sizeof(int32_t) * (size_t)B);
  uint64_t st = 42;
  for (int64_t i = 0; i < B; i++)
    s_real[i] = (float)(kz_tft_test_unit(&st) - 0.5), s_cat[i] = (int32_t)(i % 10);
  for (int64_t i = 0; i < B * dm.tau; i++) y[i] = (float)(kz_tft_test_unit(&st) - 0.5);
  for (int64_t i = 0; i < B * dm.k * n_past; i++) past[i] = (float)(kz_tft_test_unit(&st) - 0.5);
  for (int64_t i = 0; i < B * dm.tau * dm.n_known; i++)
    fut[i] = (float)(kz_tft_test_unit(&st) - 0.5);
  kz_tft_batch b = {.B = B, .s_real = s_real, .s_cat = s_cat, .past = past, .fut = fut, .y = y};
  kz_tensor m = {0}, v = {0};
  int64_t shape[1] = {np};
  KZ_CHECK_OK(kz_tensor_alloc(CPU, KZ_F32, 1, shape, &m));
  KZ_CHECK_OK(kz_tensor_alloc(CPU, KZ_F32, 1, shape, &v));
  memset(m.data, 0, (size_t)np * 4), memset(v.data, 0, (size_t)np * 4);
  double loss = 0, t0 = 0, c0 = 0, m0 = 0;
  int64_t lab = 0;
  for (int64_t s = 0; s < steps + 2; s++) {
    if (s == 2) { /* two warm-up steps size the arena */
      t0 = now_s(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), m0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    }
    memset(kz_tft_net_grads(net)->data, 0, (size_t)np * 4);
    KZ_CHECK_OK(kz_tft_net_step(net, &b, true, 1.0, &loss, &lab, NULL));
    kz_adamw_hparams h = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1.0f, s + 1};
    KZ_CHECK_OK(kz_op_adamw(kz_tft_net_stream(net), kz_tft_net_params(net), kz_tft_net_grads(net),
                            &m, &v, NULL, &h));
  }
  const double dt = now_s() - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
  const double main_cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - m0;
  printf("kaizen tft: %lld params, batch %lld, %lld steps in %.3f s: %.1f windows/s (loss %.4f)\n",
         (long long)np, (long long)B, (long long)steps, dt, (double)(B * steps) / dt, loss);
  /* CPU seconds per step: all threads, and the main thread alone. On a
   * loaded host with OMP_WAIT_POLICY=passive (idle workers sleep) the main
   * thread's CPU time stands in for the wall time a quiet host would give. */
  printf("kaizen tft cpu: %.4f s/step all threads, %.4f s/step main thread\n", cpu / (double)steps,
         main_cpu / (double)steps);
  kz_tensor_free(&m), kz_tensor_free(&v);
  free(s_real), free(y), free(past), free(fut), free(s_cat);
  kz_tft_net_destroy(net);
  return kz_test_failures ? 1 : 0;
}

/* Calendar features against dates computed with Python's datetime: a leap
 * day, times before 1970, centuries (2100 is not a leap year, 1900 not). */
static void test_calendar(void) {
  static const struct {
    double t;
    double dow, month, year, hour;
  } c[] = {{0, 3, 1, 1970, 0},       {1796563800, 6, 12, 2026, 13.5}, {951804000, 1, 2, 2000, 6},
           {-3600, 2, 12, 1969, 23}, {4107542400, 0, 3, 2100, 0},     {-2208988800, 0, 1, 1900, 0}};
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    double got[4] = {
        kz_tft_calendar(c[i].t, KZ_TFT_CAL_DOW), kz_tft_calendar(c[i].t, KZ_TFT_CAL_MONTH),
        kz_tft_calendar(c[i].t, KZ_TFT_CAL_YEAR), kz_tft_calendar(c[i].t, KZ_TFT_CAL_HOUR)};
    double want[4] = {c[i].dow, c[i].month, c[i].year, c[i].hour};
    for (int k = 0; k < 4; k++)
      if (fabs(got[k] - want[k]) > 1e-9) {
        fprintf(stderr, "calendar: t=%.0f feature %d: %g, expected %g\n", c[i].t, k, got[k],
                want[k]);
        ++kz_test_failures;
      }
  }
  printf("tft calendar: %zu times checked\n", sizeof c / sizeof c[0]);
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "calendar")) {
    test_calendar();
    return kz_test_failures ? 1 : 0;
  }
  if (argc >= 2 && !strcmp(argv[1], "bench")) return bench(argc, argv);
  if (argc < 2) {
    fprintf(stderr, "usage: test_tft parity FIXTURE\n");
    return 2;
  }
  if ((!strcmp(argv[1], "parity") || !strcmp(argv[1], "dropout")) && argc >= 3) {
    fixture fx;
    if (!fixture_load(argv[2], &fx)) return 1;
    if (!strcmp(argv[1], "parity"))
      test_parity(&fx);
    else
      test_dropout(&fx);
    for (int i = 0; i < fx.n; i++) free(fx.vals[i]);
  } else {
    fprintf(stderr, "unknown test %s\n", argv[1]);
    return 2;
  }
  if (kz_test_failures) fprintf(stderr, "%d check(s) failed\n", kz_test_failures);
  return kz_test_failures ? 1 : 0;
}
