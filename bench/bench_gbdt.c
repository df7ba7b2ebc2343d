/* Helper of bench/gbdt_vs_xgboost.sh (built with the tests, not a test).
 *   bench_gbdt synth OUT.csv ROWS FEATURES MISSING SEED
 *       a synthetic binary task as CSV (label column "y"): a nonlinear score
 *       of the features plus noise, each value missing with probability MISSING
 *   bench_gbdt train DATA OBJECTIVE METRIC ROUNDS DEPTH ETA THREADS
 *       trains kaizen's booster on DATA's train split (max_bin 256, lambda 1,
 *       min_child_weight 1), predicts its valid split and prints one JSON
 *       line like tools/gbdt_xgb_reference.py: train_s, valid-METRIC,
 *       predict_rows_per_s (and valid-accuracy for classifiers); with MODEL_OUT
 *       also saves the model there
 *   bench_gbdt predict MODEL DATA THREADS REPEAT OUT.bin
 *       predicts DATA's valid split REPEAT times, prints the median rows/s and
 *       writes the margins (raw doubles) to OUT.bin, so two predictor
 *       versions can be compared bit for bit on the same model.
 *   bench_gbdt hist ROWS FEATURES MISSING FRACTION REPEAT
 *       one thread's histogram build over a FRACTION of ROWS (random, in row
 *       order, as a node's rows) of 256-bin features, MISSING of the values
 *       missing: the code path (codes, missing bits, offsets, caps) against
 *       the index path (hist.h), interleaved, median ns per (row, feature)
 *       and the ratio; exits 1 if their sums differ in any bit.
 *   bench_gbdt grow ROWS FEATURES MISSING DEPTH THREADS REPEAT
 *       one tree of depth DEPTH on random 256-bin data, grown three ways,
 *       interleaved: on the codes alone, with the histogram index (hist.h),
 *       and with the index and the codes by column (grow.h); median seconds
 *       and ratios to the first; exits 1 if the trees differ. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fs/atomic_file.h"
#include "engine/train/gbdt_data.h"
#include "kernels/core/error.h"
#include "kernels/core/splitmix64.h"
#include "models/gbdt/booster.h"
#include "models/gbdt/gbdt_json.h"
#include "models/gbdt/gbdt_missing.h"
#include "models/gbdt/grow.h"
#include "models/gbdt/hist.h"
#include "models/gbdt/metrics.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t next(uint64_t *s) {
  return kz_splitmix64(s);
}

static double unif(uint64_t *s) {
  return kz_splitmix64_unit(s);
}

static int synth(const char *out, long rows, int nf, double missing, uint64_t seed) {
  kz_atomic_file af;
  if (kz_atomic_file_open(&af, out) != KZ_OK) {
    fprintf(stderr, "%s\n", kz_last_error());
    return 1;
  }
  FILE *f = af.f;
  for (int j = 0; j < nf; ++j) fprintf(f, "f%d,", j);
  fprintf(f, "y\n");
  double *x = malloc(sizeof(double) * (size_t)nf);
  for (long r = 0; r < rows; ++r) {
    for (int j = 0; j < nf; ++j) x[j] = 2.0 * unif(&seed) - 1.0;
    /* interactions, thresholds and smooth terms, so deep trees pay off */
    double s = 1.5 * x[0] * x[1] + (x[2] > 0.3 ? 1.0 : -0.5) + sin(3.0 * x[3]) + x[4] * x[4] -
               0.8 * x[5] + (x[6] > 0 && x[7] < 0 ? 1.2 : 0) + 0.5 * x[8] * x[9] * x[10];
    for (int j = 11; j < nf; ++j) s += 0.1 * x[j] * (j % 2 ? 1 : -1);
    double p = 1.0 / (1.0 + exp(-2.0 * s)), y = unif(&seed) < p;
    for (int j = 0; j < nf; ++j) {
      if (unif(&seed) < missing)
        fputc(',', f);
      else
        fprintf(f, "%.6g,", x[j]);
    }
    fprintf(f, "%d\n", (int)y);
  }
  free(x);
  if (kz_atomic_file_finish(&af, KZ_OK) != KZ_OK) {
    fprintf(stderr, "%s\n", kz_last_error());
    return 1;
  }
  return 0;
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int predict(const char *model, const char *data, int threads, int repeat, const char *out) {
  kz_gbdt_model *m = NULL;
  kz_gbdt_table va;
  if (kz_gbdt_model_load_json(model, &m) != KZ_OK ||
      kz_gbdt_table_open(data, "valid", "valid", &va) != KZ_OK) {
    fprintf(stderr, "bench_gbdt: %s\n", kz_last_error());
    return 1;
  }
  if (repeat < 1 || repeat > 1000) repeat = 1;
  double *mg = malloc(sizeof(double) * (size_t)va.n * (size_t)m->num_group);
  double *rate = malloc(sizeof(double) * (size_t)repeat);
  double *cpu_rate = malloc(sizeof(double) * (size_t)repeat);
  int rc = 0;
  for (int i = 0; i < repeat && rc == 0; ++i) {
    double t0 = now_s(), c0 = cpu_s();
    if (kz_gbdt_predict_margin(m, va.n, va.num, va.cat, threads, mg) != KZ_OK) {
      fprintf(stderr, "bench_gbdt: %s\n", kz_last_error());
      rc = 1;
    }
    rate[i] = (double)va.n / (now_s() - t0);
    cpu_rate[i] = (double)va.n / (cpu_s() - c0);
  }
  if (rc == 0) {
    qsort(rate, (size_t)repeat, sizeof(double), cmp_double);
    qsort(cpu_rate, (size_t)repeat, sizeof(double), cmp_double);
    /* rows per CPU second: less disturbed than wall time on a shared host */
    printf("{\"rows_valid\": %lld, \"trees\": %d, \"predict_rows_per_s\": %.1f, "
           "\"predict_rows_per_cpu_s\": %.1f}\n",
           (long long)va.n, m->n_trees, rate[repeat / 2], cpu_rate[repeat / 2]);
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(mg, sizeof(double), (size_t)va.n * (size_t)m->num_group, f) !=
                  (size_t)va.n * (size_t)m->num_group) {
      perror(out);
      rc = 1;
    }
    if (f && fclose(f) != 0) rc = 1;
  }
  free(rate);
  free(cpu_rate);
  free(mg);
  kz_gbdt_model_free(m);
  kz_gbdt_table_close(&va);
  return rc;
}

static int train(const char *data, const char *objective, const char *metric, int rounds, int depth,
                 double eta, int threads, const char *model_out) {
  kz_gbdt_table tr, va;
  if (kz_gbdt_table_open(data, "train", "train", &tr) != KZ_OK ||
      kz_gbdt_table_open(data, "valid", "valid", &va) != KZ_OK) {
    fprintf(stderr, "bench_gbdt: %s\n", kz_last_error());
    return 1;
  }
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  kz_gbdt_objective obj;
  if (!kz_gbdt_objective_parse(objective, &obj)) {
    fprintf(stderr, "bench_gbdt: unknown objective %s\n", objective);
    return 2;
  }
  p.objective = obj;
  p.num_class = tr.label_col ? tr.label_col->n_categories : 0;
  p.num_round = rounds;
  p.max_depth = depth;
  p.eta = eta;
  p.nthread = threads;
  int met = kz_gbdt_metric_parse(metric);
  if (met < 0) {
    fprintf(stderr, "bench_gbdt: unknown metric %s\n", metric);
    return 2;
  }
  kz_gbdt_data td = {tr.n,   tr.n_numeric,    tr.n_categorical, tr.num,
                     tr.cat, tr.n_categories, tr.label};
  kz_gbdt_model *m = NULL;
  double t0 = now_s();
  if (kz_gbdt_train(&p, &td, NULL, &m) != KZ_OK) {
    fprintf(stderr, "bench_gbdt: %s\n", kz_last_error());
    return 1;
  }
  double train_s = now_s() - t0;
  double *mg = malloc(sizeof(double) * (size_t)va.n * (size_t)m->num_group);
  t0 = now_s();
  kz_gbdt_predict_margin(m, va.n, va.num, va.cat, threads, mg);
  double pred_s = now_s() - t0;
  double v = kz_gbdt_metric_eval((kz_gbdt_metric)met, m->objective, m->quantile_alpha, m->num_group,
                                 va.n, mg, va.label);
  printf("{\"train_s\": %.4f, \"rows_train\": %lld, \"rows_valid\": %lld, \"valid-%s\": %.6f, "
         "\"predict_rows_per_s\": %.1f",
         train_s, (long long)tr.n, (long long)va.n, metric, v, (double)va.n / pred_s);
  if (m->objective == KZ_GBDT_BINARY_LOGISTIC)
    printf(", \"valid-accuracy\": %.6f",
           1.0 - kz_gbdt_metric_eval(KZ_GBDT_M_ERROR, m->objective, 0, 1, va.n, mg, va.label));
  if (m->objective == KZ_GBDT_MULTI_SOFTPROB)
    printf(", \"valid-accuracy\": %.6f",
           1.0 - kz_gbdt_metric_eval(KZ_GBDT_M_MERROR, m->objective, 0, m->num_group, va.n, mg,
                                     va.label));
  printf("}\n");
  int rc = 0, nf = m->n_numeric + m->n_categorical;
  /* the model file needs feature names; the booster leaves them to the job */
  if (model_out && !m->feature_names && (m->feature_names = calloc((size_t)nf + 1, sizeof(char *))))
    for (int f = 0; f < nf; ++f)
      if ((m->feature_names[f] = malloc(16))) snprintf(m->feature_names[f], 16, "f%d", f);
  if (model_out && kz_gbdt_model_save_json(m, model_out) != KZ_OK) {
    fprintf(stderr, "bench_gbdt: %s\n", kz_last_error());
    rc = 1;
  }
  free(mg);
  kz_gbdt_model_free(m);
  kz_gbdt_table_close(&tr);
  kz_gbdt_table_close(&va);
  return rc;
}

static int hist(long n, int nf, double missing, double fraction, int repeat) {
  if (n < 1 || nf < 1 || nf > 256 || repeat < 1 || repeat > 99) {
    fprintf(stderr, "bench_gbdt hist: ROWS >= 1, 1 <= FEATURES <= 256, 1 <= REPEAT <= 99\n");
    return 2;
  }
  int32_t *nb = malloc(sizeof(int32_t) * (size_t)nf);
  for (int f = 0; f < nf; ++f) nb[f] = 256;
  kz_gbdt_hist_layout l;
  if (kz_gbdt_hist_layout_init(&l, nf, nb, 1) != KZ_OK) return 1;
  l.miss = 1;
  l.stride = nf + kz_gbdt_missing_bytes(nf);
  uint8_t *codes = calloc((size_t)n, (size_t)l.stride);
  kz_gbdt_gh *gh = malloc(sizeof(kz_gbdt_gh) * (size_t)n);
  int32_t *rows = malloc(sizeof(int32_t) * (size_t)n);
  kz_gbdt_gh *a = calloc(l.len, sizeof *a), *b = calloc(l.len, sizeof *b);
  uint64_t seed = 7;
  long m = 0;
  for (long r = 0; r < n; ++r) {
    uint8_t *c = codes + r * l.stride;
    for (int f = 0; f < nf; ++f) {
      c[f] = (uint8_t)(next(&seed) & 255);
      if (unif(&seed) < missing) {
        c[f] = KZ_GBDT_MISSING_BIN;
        c[nf + (f >> 3)] |= (uint8_t)(1u << (f & 7));
      }
    }
    gh[r] = (kz_gbdt_gh){unif(&seed) - 0.5, 0.25 * unif(&seed)};
    if (unif(&seed) < fraction) rows[m++] = (int32_t)r;
  }
  uint16_t *index = NULL;
  if (kz_gbdt_hist_index_build(&l, codes, n, 1, &index) != KZ_OK || !index) {
    fprintf(stderr, "bench_gbdt hist: %s\n", kz_last_error());
    return 1;
  }
  double tc[99], ti[99];
  for (int k = 0; k < repeat; ++k) {
    l.index = NULL;
    double t0 = now_s();
    kz_gbdt_hist_build_layout(&l, codes, gh, rows, m, 1, NULL, a);
    tc[k] = now_s() - t0;
    l.index = index;
    t0 = now_s();
    kz_gbdt_hist_build_layout(&l, codes, gh, rows, m, 1, NULL, b);
    ti[k] = now_s() - t0;
  }
  int same = memcmp(a, b, sizeof *a * l.len) == 0;
  qsort(tc, (size_t)repeat, sizeof *tc, cmp_double);
  qsort(ti, (size_t)repeat, sizeof *ti, cmp_double);
  double updates = (double)m * nf, c_ns = 1e9 * tc[repeat / 2] / updates,
         i_ns = 1e9 * ti[repeat / 2] / updates;
  printf("{\"rows\": %ld, \"features\": %d, \"code_ns_per_update\": %.3f, "
         "\"index_ns_per_update\": %.3f, \"speedup\": %.2f, \"same_sums\": %s}\n",
         m, nf, c_ns, i_ns, c_ns / i_ns, same ? "true" : "false");
  kz_gbdt_hist_layout_free(&l);
  free(index);
  free(nb);
  free(codes);
  free(gh);
  free(rows);
  free(a);
  free(b);
  return same ? 0 : 1;
}

static int same_tree(const kz_gbdt_grower *a, const kz_gbdt_grower *b) {
  if (a->n_nodes != b->n_nodes) return 0;
  for (int32_t i = 0; i < a->n_nodes; ++i) {
    const kz_gbdt_bnode *x = &a->nodes[i], *y = &b->nodes[i];
    if (x->begin != y->begin || x->end != y->end || x->split.feature != y->split.feature ||
        x->split.bin != y->split.bin || memcmp(&x->g, &y->g, sizeof x->g) != 0)
      return 0;
  }
  return 1;
}

static int grow(long n, int nf, double missing, int depth, int threads, int repeat) {
  if (n < 2 || nf < 1 || nf > 256 || depth < 1 || depth > 16 || threads < 1 || repeat < 1 ||
      repeat > 99) {
    fprintf(stderr, "bench_gbdt grow: ROWS >= 2, 1 <= FEATURES <= 256, 1 <= DEPTH <= 16, "
                    "THREADS >= 1, 1 <= REPEAT <= 99\n");
    return 2;
  }
  float *num = malloc(sizeof(float) * (size_t)n * (size_t)nf);
  kz_gbdt_gh *gh = malloc(sizeof(kz_gbdt_gh) * (size_t)n);
  uint64_t seed = 11;
  for (long r = 0; r < n; ++r) {
    float *x = num + (int64_t)r * nf;
    for (int f = 0; f < nf; ++f) x[f] = unif(&seed) < missing ? NAN : (float)unif(&seed);
    double s = (isnan(x[0]) ? 0.5 : x[0]) + (nf > 1 && x[1] > 0.5) + 0.5 * unif(&seed);
    gh[r] = (kz_gbdt_gh){1.0 - s, 0.25};
  }
  kz_gbdt_cuts c;
  if (kz_gbdt_cuts_build_threads(n, nf, num, 0, NULL, 256, 0, 1, threads, &c) != KZ_OK) {
    fprintf(stderr, "bench_gbdt grow: %s\n", kz_last_error());
    return 1;
  }
  int miss = kz_gbdt_missing_needed(&c, n, num);
  int64_t stride = nf + (miss ? kz_gbdt_missing_bytes(nf) : 0);
  uint8_t *codes = calloc((size_t)n, (size_t)stride), *cols = NULL;
  kz_gbdt_cuts_apply_stride(&c, n, num, NULL, threads, stride, codes);
  if (miss) kz_gbdt_missing_mark(&c, n, num, threads, stride, codes);
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  p.max_depth = depth;
  kz_gbdt_grower w[3];
  uint16_t *index = NULL;
  int32_t *rows = malloc(sizeof(int32_t) * (size_t)n);
  for (int v = 0; v < 3; ++v)
    if (kz_gbdt_grower_init(&w[v], &p, &c, codes, stride, miss, n, threads) != KZ_OK) return 1;
  if (kz_gbdt_hist_index_build(&w[1].layout, codes, n, threads, &index) != KZ_OK || !index ||
      kz_gbdt_columns_build(codes, n, nf, stride, threads, &cols) != KZ_OK) {
    fprintf(stderr, "bench_gbdt grow: %s\n", kz_last_error());
    return 1;
  }
  w[1].layout.index = w[2].layout.index = index;
  w[2].cols = cols;
  w[2].n_rows = n;
  double t[3][99];
  for (int k = 0; k < repeat; ++k)
    for (int v = 0; v < 3; ++v) {
      for (long r = 0; r < n; ++r) rows[r] = (int32_t)r;
      kz_gbdt_rng rng;
      kz_gbdt_rng_seed(&rng, 5);
      double t0 = now_s();
      if (kz_gbdt_grow(&w[v], gh, rows, n, &rng) != KZ_OK) return 1;
      t[v][k] = now_s() - t0;
    }
  int same = same_tree(&w[0], &w[1]) && same_tree(&w[0], &w[2]);
  for (int v = 0; v < 3; ++v) qsort(t[v], (size_t)repeat, sizeof(double), cmp_double);
  double m0 = t[0][repeat / 2], m1 = t[1][repeat / 2], m2 = t[2][repeat / 2];
  printf("{\"rows\": %ld, \"features\": %d, \"depth\": %d, \"threads\": %d, \"nodes\": %d, "
         "\"codes_s\": %.4f, \"index_s\": %.4f, \"index_cols_s\": %.4f, "
         "\"speedup_index\": %.2f, \"speedup_index_cols\": %.2f, \"same_trees\": %s}\n",
         n, nf, depth, threads, w[0].n_nodes, m0, m1, m2, m0 / m1, m0 / m2,
         same ? "true" : "false");
  for (int v = 0; v < 3; ++v) kz_gbdt_grower_free(&w[v]);
  kz_gbdt_cuts_free(&c);
  free(index);
  free(cols);
  free(codes);
  free(rows);
  free(num);
  free(gh);
  return same ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 8 && !strcmp(argv[1], "grow"))
    return grow(atol(argv[2]), atoi(argv[3]), atof(argv[4]), atoi(argv[5]), atoi(argv[6]),
                atoi(argv[7]));
  if (argc == 7 && !strcmp(argv[1], "hist"))
    return hist(atol(argv[2]), atoi(argv[3]), atof(argv[4]), atof(argv[5]), atoi(argv[6]));
  if (argc == 7 && !strcmp(argv[1], "synth"))
    return synth(argv[2], atol(argv[3]), atoi(argv[4]), atof(argv[5]),
                 (uint64_t)strtoull(argv[6], NULL, 10));
  if ((argc == 9 || argc == 10) && !strcmp(argv[1], "train"))
    return train(argv[2], argv[3], argv[4], atoi(argv[5]), atoi(argv[6]), atof(argv[7]),
                 atoi(argv[8]), argc == 10 ? argv[9] : NULL);
  if (argc == 7 && !strcmp(argv[1], "predict"))
    return predict(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argv[6]);
  fprintf(stderr, "usage: bench_gbdt synth OUT.csv ROWS FEATURES MISSING SEED\n"
                  "       bench_gbdt hist ROWS FEATURES MISSING FRACTION REPEAT\n"
                  "       bench_gbdt grow ROWS FEATURES MISSING DEPTH THREADS REPEAT\n"
                  "       bench_gbdt train DATA OBJECTIVE METRIC ROUNDS DEPTH ETA THREADS "
                  "[MODEL_OUT]\n"
                  "       bench_gbdt predict MODEL DATA THREADS REPEAT OUT.bin\n");
  return 2;
}
