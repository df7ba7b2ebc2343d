/* AdamW (several consecutive steps from non-zero optimizer state, with and
 * without the bf16 weight copy) and the two casts, which must be bit exact
 * (round to nearest even, including exact ties). */
#include <string.h>

#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

enum { P, G, M, V, P16 };

static kz_status adamw_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  int64_t n = t[P].shape[0];
  for (int i = 0; i < c->p.optim.steps; ++i) {
    kz_tensor grads = t[P];
    grads.data = (float *)t[G].data + (size_t)i * (size_t)n;
    kz_adamw_hparams hp = c->p.optim.hp;
    hp.step += i;
    KZ_TRY(kz_op_adamw(s, &t[P], &grads, &t[M], &t[V], c->p.optim.bf16_copy ? &t[P16] : NULL, &hp));
  }
  return KZ_OK;
}

static void adamw_ref(const kz_op_case *c, kz_host_arg *h) {
  int64_t n = h[P].n;
  for (int i = 0; i < c->p.optim.steps; ++i) {
    kz_adamw_hparams hp = c->p.optim.hp;
    hp.step += i;
    kz_ref_adamw(h[P].f, h[G].f + i * n, h[M].f, h[V].f, c->p.optim.bf16_copy ? h[P16].f : NULL, n,
                 &hp);
  }
}

kz_op_case *kz_case_adamw(kz_op_case_list *l, int64_t n, int steps, bool bf16_copy) {
  kz_op_case *c = kz_case_new(l, "adamw", adamw_invoke, adamw_ref, "adamw %lld steps%d%s",
                              (long long)n, steps, bf16_copy ? " bf16-copy" : "");
  int64_t gshape[2] = {steps, n};
  kz_case_arg(c, "params", KZ_F32, KZ_ARG_INOUT, 1, &n);
  kz_case_arg(c, "grads", KZ_F32, KZ_ARG_IN, 2, gshape);
  kz_arg_normal(kz_case_arg(c, "m", KZ_F32, KZ_ARG_INOUT, 1, &n), 0, 0.1);
  kz_arg_uniform(kz_case_arg(c, "v", KZ_F32, KZ_ARG_INOUT, 1, &n), 0, 0.01);
  if (bf16_copy) kz_case_arg(c, "params_bf16", KZ_BF16, KZ_ARG_OUT, 1, &n);
  c->p.optim.steps = steps;
  c->p.optim.bf16_copy = bf16_copy;
  /* A large lr and weight decay make every term of the update visible. */
  c->p.optim.hp = (kz_adamw_hparams){.lr = 1e-2f,
                                     .beta1 = 0.9f,
                                     .beta2 = 0.999f,
                                     .eps = 1e-8f,
                                     .weight_decay = 0.1f,
                                     .grad_scale = 0.5f,
                                     .step = 1};
  c->flops = 16.0 * (double)n * steps;
  c->bytes = (28.0 + (bf16_copy ? 2.0 : 0.0)) * (double)n * steps;
  return c;
}

/* ---- ewc_grad ---------------------------------------------------------------------- */
enum { EP, EA, EF, EG };

static kz_status ewc_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_ewc_grad(s, &t[EP], &t[EA], &t[EF], &t[EG], c->p.optim.lambda);
}

static void ewc_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_ewc_grad(h[EP].f, h[EA].f, h[EF].f, h[EG].f, h[EP].n, c->p.optim.lambda);
}

kz_op_case *kz_case_ewc_grad(kz_op_case_list *l, int64_t n, float lambda) {
  kz_op_case *c = kz_case_new(l, "ewc_grad", ewc_invoke, ewc_ref, "ewc_grad %lld lambda %g",
                              (long long)n, (double)lambda);
  kz_case_arg(c, "params", KZ_F32, KZ_ARG_IN, 1, &n);
  kz_case_arg(c, "anchor", KZ_F32, KZ_ARG_IN, 1, &n);
  /* a diagonal Fisher is a mean of squares: non-negative, spread over decades */
  kz_arg_uniform(kz_case_arg(c, "fisher", KZ_F32, KZ_ARG_IN, 1, &n), 0, 3);
  kz_case_arg(c, "grads", KZ_F32, KZ_ARG_INOUT, 1, &n);
  c->p.optim.lambda = lambda;
  c->flops = 4.0 * (double)n;
  c->bytes = 20.0 * (double)n;
  return c;
}

/* ---- casts ------------------------------------------------------------------------ */
static kz_status cast_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_cast(s, &t[0], &t[1]);
}

static void cast_ref(const kz_op_case *c, kz_host_arg *h) {
  if (c->args[1].dtype == KZ_BF16)
    kz_ref_round_bf16(h[0].f, h[1].f, h[0].n);
  else
    memcpy(h[1].f, h[0].f, (size_t)h[0].n * sizeof(double));
}

/* Exact ties between two bf16 values: round to even picks the lower in the
 * first pair and the upper in the second; a truncating cast gets them wrong. */
static void cast_ties(const kz_op_case *c, kz_host_arg *h) {
  static const double ties[] = {1.0 + 0x1p-8, 1.0 + 3 * 0x1p-8, -(1.0 + 0x1p-8), 3.0 + 0x1p-7};
  for (int i = 0; i < 4 && i < h[0].n; ++i) h[0].f[i] = ties[i];
}

kz_op_case *kz_case_cast(kz_op_case_list *l, int64_t n, kz_dtype from) {
  bool to_bf16 = from == KZ_F32;
  const char *op = to_bf16 ? "cast_f32_to_bf16" : "cast_bf16_to_f32";
  kz_op_case *c = kz_case_new(l, op, cast_invoke, cast_ref, "%s %lld", op, (long long)n);
  kz_arg_normal(kz_case_arg(c, "x", from, KZ_ARG_IN, 1, &n), 0, 10);
  kz_case_arg(c, "y", to_bf16 ? KZ_BF16 : KZ_F32, KZ_ARG_OUT, 1, &n);
  if (to_bf16) c->fixup = cast_ties;
  c->bytes = 6.0 * (double)n;
  return c;
}

void kz_cases_optim(kz_op_case_list *l) {
  static const int64_t sizes[] = {1, 1000, 4099};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    kz_case_adamw(l, sizes[i], 1, false);
    kz_case_adamw(l, sizes[i], 3, false);
    kz_case_adamw(l, sizes[i], 3, true);
  }
  static const int64_t cast_sizes[] = {1, 7, 4773, 100003};
  for (int dir = 0; dir < 2; ++dir)
    for (size_t i = 0; i < sizeof cast_sizes / sizeof cast_sizes[0]; ++i)
      kz_case_cast(l, cast_sizes[i], dir ? KZ_BF16 : KZ_F32);
  static const int64_t ewc_sizes[] = {1, 999, 65537};
  for (size_t i = 0; i < sizeof ewc_sizes / sizeof ewc_sizes[0]; ++i)
    kz_case_ewc_grad(l, ewc_sizes[i], i == 1 ? 0.0f : 37.5f);
}
