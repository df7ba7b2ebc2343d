/* Helper of bench/transformer_cpu.sh and bench/gpu_first_run.sh (built
 * with the tests): masked-LM training steps of the transformer encoder on
 * random token ids, as the trainer takes them (zero the gradients, forward
 * + loss + backward, one AdamW step over every parameter), on the CPU
 * unless DEVICE says cuda, in fp32 unless PRECISION says bf16
 * (train.precision: bf16 matmuls and saved activations, the AdamW step
 * rewriting the bf16 weight copy).
 *
 *   bench_transformer time LAYERS HIDDEN HEADS FFN SEQ BATCH VOCAB STEPS [DEVICE [PRECISION]]
 *       median step time after 2 warm-up steps, training tokens/s (BATCH *
 *       SEQ per step) and model GFLOP/s (count below).
 *   bench_transformer mem LAYERS HIDDEN HEADS FFN SEQ BATCH VOCAB [DEVICE [PRECISION]]
 *       one training step; peak resident memory and its growth over the
 *       resident memory before the step (model, gradients, AdamW state
 *       already allocated and touched). max_len = SEQ, so the activation
 *       arena is sized for SEQ.
 *   bench_transformer peak REPEAT
 *       OpenBLAS sgemm, the better of 1024^3 and 2048^3 (median each): the
 *       denominator of the "% of sgemm peak" (as kernels/harness/bench_peaks.c).
 *
 * Model FLOPs of one step (3x the forward: the backward's two products per
 * forward product), N = BATCH*SEQ tokens, M masked rows:
 *   per token per layer  2 (4 H^2 + 2 H F)   (qkv, output, two FFN denses)
 *                        + 4 SEQ H           (scores and context)
 *   MLM head             2 M (H^2 + H V)     (transform, tied decoder)
 * Elementwise work (layernorm, GELU, softmax, AdamW) is not counted. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kaizen.h"
#include "kernels/core/error.h"
#include "kernels/ops.h"
#include "models/nn_model.h"
#include "models/transformer/tf_internal.h"
#include "models/transformer/transformer.h"

typedef struct cfg {
  int64_t L, H, nh, F, T, B, V;
  kz_device dev;
  int bf16;
} cfg;

static double clock_s(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now_s(void) {
  return clock_s(CLOCK_MONOTONIC);
}
/* Process CPU time, all threads: on a shared machine the steadier clock, as
 * it leaves out the time spent waiting for a core. */
static double cpu_s(void) {
  return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t next_u32(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static kz_nn_model *make_model(const cfg *c) {
  char meta[2048];
  snprintf(meta, sizeof meta,
           "{\"type\":\"transformer\",\"version\":1,\"config\":{\"task\":\"mlm\",\"layers\":%lld,"
           "\"hidden\":%lld,\"heads\":%lld,\"ffn\":%lld,\"max_len\":%lld,\"vocab\":%lld,"
           "\"type_vocab\":2,\"dropout\":0.1,\"attention_dropout\":0.1,\"init_std\":0.02,"
           "\"layernorm_eps\":1e-12,\"mask_prob\":0.15},"
           "\"special_ids\":{\"pad\":0,\"unk\":1,\"cls\":2,\"sep\":3,\"mask\":4},"
           "\"fields\":{\"count\":2,\"input_ids\":0,\"length\":1,\"token_type_ids\":-1,"
           "\"label\":-1,\"token_labels\":-1,\"answer_start\":-1,\"answer_end\":-1,\"width\":%lld},"
           "\"classes\":[],\"label_name\":null}",
           (long long)c->L, (long long)c->H, (long long)c->nh, (long long)c->F, (long long)c->T,
           (long long)c->V, (long long)c->T);
  kz_nn_model *m = NULL;
  if (kz_transformer_from_meta(meta, c->dev, -1, &m) != KZ_OK ||
      kz_nn_base(m)->ops->init_params(m, 1) != KZ_OK ||
      kz_nn_set_precision(m, c->bf16 ? "bf16" : "fp32") != KZ_OK) {
    fprintf(stderr, "bench_transformer: %s\n", kz_last_error());
    return NULL;
  }
  return m;
}

typedef struct batch {
  int32_t *ids, *lengths, *pos, *tgt;
  int64_t n_masked;
} batch;

/* Random ids in [5, V); 15% of positions masked (id 4), as
 * bench/torch_bert_mlm.py draws them. */
static void draw(const cfg *c, batch *b) {
  const int64_t N = c->B * c->T;
  b->n_masked = 0;
  for (int64_t i = 0; i < N; i++) {
    int32_t id = 5 + (int32_t)(next_u32() % (uint32_t)(c->V - 5));
    b->ids[i] = id;
    if (next_u32() % 10000u < 1500u) {
      b->pos[b->n_masked] = (int32_t)i, b->tgt[b->n_masked] = id, b->n_masked++;
      b->ids[i] = 4;
    }
  }
  for (int64_t r = 0; r < c->B; r++) b->lengths[r] = (int32_t)c->T;
}

typedef struct trainer {
  kz_nn_model *m;
  kz_stream *s;
  kz_tensor mom, var; /* AdamW state on the model's device */
  int64_t step;
} trainer;

static kz_status train_step(trainer *t, const cfg *c, const batch *b) {
  kz_nn_model_base *base = kz_nn_base(t->m);
  KZ_TRY(kz_fill_bytes(t->s, base->grads.data, 0, kz_tensor_bytes(&base->grads)));
  KZ_TRY(kz_stream_sync(t->s));
  kz_tf_inputs in = {.B = c->B,
                     .T = c->T,
                     .ids = b->ids,
                     .lengths = b->lengths,
                     .n_masked = b->n_masked,
                     .mask_pos = b->pos,
                     .mask_target = b->tgt};
  double loss = 0;
  KZ_TRY(kz_transformer_step(t->m, &in, 1, 1.0, (uint64_t)t->step + 11, &loss));
  kz_adamw_hparams h = {.lr = 1e-4f,
                        .beta1 = 0.9f,
                        .beta2 = 0.999f,
                        .eps = 1e-8f,
                        .weight_decay = 0.01f,
                        .grad_scale = 1.0f,
                        .step = ++t->step};
  KZ_TRY(kz_op_adamw(t->s, &base->params, &base->grads, &t->mom, &t->var,
                     base->params_bf16.data ? &base->params_bf16 : NULL, &h));
  return kz_stream_sync(t->s);
}

static double step_flops(const cfg *c, int64_t M) {
  const double N = (double)(c->B * c->T), H = (double)c->H;
  double layer = N * (2.0 * (4 * H * H + 2 * H * (double)c->F) + 4.0 * (double)c->T * H);
  double head = 2.0 * (double)M * (H * H + H * (double)c->V);
  return 3.0 * ((double)c->L * layer + head);
}

static double rss_mib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return (double)res * 4096.0 / (1024.0 * 1024.0);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int body(trainer *tp, const cfg *c, batch *bp, int steps, int mem) {
  trainer t = *tp;
  batch b = *bp;
  const int64_t N = c->B * c->T;
  const int64_t np = kz_nn_base(t.m)->info.n_params;
  const char *what = c->bf16 ? "bf16" : "fp32";
  char dev[32];
  kz_device_format(c->dev, dev, sizeof dev);
  if (mem) {
    draw(c, &b);
    double before = rss_mib();
    if (train_step(&t, c, &b) != KZ_OK) goto fail;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak = (double)ru.ru_maxrss / 1024.0;
    /* the activation arena (planned for B rows of max_len = T tokens) */
    const kz_tf *tf = (const kz_tf *)t.m;
    double arena = tf->arena ? (double)kz_arena_capacity(tf->arena) / (1024.0 * 1024.0) : 0.0;
    printf("mem L %lld H %lld T %4lld B %lld V %lld  params %lld  RSS before %8.1f MiB  peak %8.1f "
           "MiB  step working memory %8.1f MiB  activation arena %8.1f MiB (%.1f KiB per token)  "
           "[%s %s]\n",
           (long long)c->L, (long long)c->H, (long long)c->T, (long long)c->B, (long long)c->V,
           (long long)np, before, peak, peak - before, arena,
           arena * 1024.0 / (double)(c->B * c->T), dev, what);
    return 0;
  }
  double *ts = calloc((size_t)steps, sizeof(double)), masked = 0;
  double *cs = calloc((size_t)steps, sizeof(double));
  if (!ts || !cs) {
    free(ts), free(cs);
    return 1;
  }
  for (int i = 0; i < steps + 2; i++) {
    draw(c, &b);
    double t0 = now_s(), c0 = cpu_s();
    if (train_step(&t, c, &b) != KZ_OK) {
      free(ts), free(cs);
      goto fail;
    }
    if (i >= 2) ts[i - 2] = now_s() - t0, cs[i - 2] = cpu_s() - c0, masked += (double)b.n_masked;
  }
  qsort(ts, (size_t)steps, sizeof(double), cmp_d);
  qsort(cs, (size_t)steps, sizeof(double), cmp_d);
  double med = ts[steps / 2], cmed = cs[steps / 2];
  int64_t M = (int64_t)(masked / steps + 0.5);
  double fl = step_flops(c, M);
  printf("kaizen L %lld H %lld heads %lld F %lld T %lld B %lld V %lld params %lld: step %.1f ms "
         "(median of %d), tokens/s %.1f, model GFLOP/s %.2f; CPU time %.1f ms, cpu_tokens/s %.1f, "
         "model GFLOP per CPU-s %.2f (%.2f GFLOP/step, %lld masked rows)  [%s %s]\n",
         (long long)c->L, (long long)c->H, (long long)c->nh, (long long)c->F, (long long)c->T,
         (long long)c->B, (long long)c->V, (long long)np, med * 1e3, steps, (double)N / med,
         fl / med * 1e-9, cmed * 1e3, (double)N / cmed, fl / cmed * 1e-9, fl * 1e-9, (long long)M,
         dev, what);
  free(ts), free(cs);
  return 0;
fail:
  fprintf(stderr, "bench_transformer: %s\n", kz_last_error());
  return 1;
}

static int run(const cfg *c, int steps, int mem) {
  const int64_t N = c->B * c->T;
  batch b = {calloc((size_t)N, 4), calloc((size_t)c->B, 4), calloc((size_t)N, 4),
             calloc((size_t)N, 4), 0};
  trainer t = {make_model(c), NULL, {0}, {0}, 0};
  int rc = 1;
  if (t.m && b.ids && b.lengths && b.pos && b.tgt) {
    int64_t np = kz_nn_base(t.m)->info.n_params;
    if (kz_stream_create(c->dev, &t.s) == KZ_OK &&
        kz_tensor_alloc(c->dev, KZ_F32, 1, &np, &t.mom) == KZ_OK &&
        kz_tensor_alloc(c->dev, KZ_F32, 1, &np, &t.var) == KZ_OK &&
        kz_fill_bytes(t.s, t.mom.data, 0, kz_tensor_bytes(&t.mom)) == KZ_OK &&
        kz_fill_bytes(t.s, t.var.data, 0, kz_tensor_bytes(&t.var)) == KZ_OK)
      rc = body(&t, c, &b, steps, mem);
    else
      fprintf(stderr, "bench_transformer: %s\n", kz_last_error());
  }
  kz_tensor_free(&t.mom);
  kz_tensor_free(&t.var);
  if (t.s) kz_stream_destroy(t.s);
  if (t.m) kz_nn_base(t.m)->ops->destroy(t.m);
  free(b.ids), free(b.lengths), free(b.pos), free(b.tgt);
  return rc;
}

static int run_peak(int repeat) {
  double best = 0, best_cpu = 0;
  for (int n = 1024; n <= 2048; n *= 2) {
    float *a = malloc((size_t)n * n * 4), *b = malloc((size_t)n * n * 4),
          *c = malloc((size_t)n * n * 4);
    double *ts = calloc((size_t)repeat, sizeof(double)), *cs = calloc((size_t)repeat, 8);
    if (!a || !b || !c || !ts || !cs) return 1;
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = 1e-3f * (float)(i % 977), b[i] = a[i];
    for (int r = 0; r <= repeat; r++) {
      double t0 = now_s(), c0 = cpu_s();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
      if (r > 0) ts[r - 1] = now_s() - t0, cs[r - 1] = cpu_s() - c0;
    }
    qsort(ts, (size_t)repeat, sizeof(double), cmp_d);
    qsort(cs, (size_t)repeat, sizeof(double), cmp_d);
    double g = 2.0 * n * n * (double)n / ts[repeat / 2] * 1e-9;
    double gc = 2.0 * n * n * (double)n / cs[repeat / 2] * 1e-9;
    printf("OpenBLAS sgemm %dx%dx%d: %.1f GFLOP/s, %.1f GFLOP per CPU-s\n", n, n, n, g, gc);
    best = g > best ? g : best;
    best_cpu = gc > best_cpu ? gc : best_cpu;
    free(a), free(b), free(c), free(ts), free(cs);
  }
  printf("sgemm peak GFLOP/s %.1f\n", best);
  printf("sgemm peak GFLOP per CPU-s %.1f\n", best_cpu);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "peak")) return run_peak(atoi(argv[2]));
  int is_time = argc >= 10 && argc <= 12 && !strcmp(argv[1], "time");
  int is_mem = argc >= 9 && argc <= 11 && !strcmp(argv[1], "mem");
  const int opt = is_time ? 10 : 9; /* first optional argument */
  cfg c = {0};
  if ((is_time || is_mem) && argc > opt && kz_device_parse(argv[opt], &c.dev) != KZ_OK) {
    fprintf(stderr, "bench_transformer: %s\n", kz_last_error());
    return 2;
  }
  if (argc > opt + 1) c.bf16 = !strcmp(argv[opt + 1], "bf16");
  if ((!is_time && !is_mem) || (argc > opt + 1 && !c.bf16 && strcmp(argv[opt + 1], "fp32"))) {
    fprintf(stderr, "usage: bench_transformer time L H HEADS F T B V STEPS [DEVICE [PRECISION]] | "
                    "mem L H HEADS F T B V [DEVICE [PRECISION]] | peak REPEAT\n"
                    "  DEVICE cpu (default) or cuda[:N]; PRECISION fp32 (default) or bf16\n");
    return 2;
  }
  c.L = atoll(argv[2]), c.H = atoll(argv[3]), c.nh = atoll(argv[4]), c.F = atoll(argv[5]);
  c.T = atoll(argv[6]), c.B = atoll(argv[7]), c.V = atoll(argv[8]);
  return run(&c, is_time ? atoi(argv[9]) : 0, is_mem);
}
