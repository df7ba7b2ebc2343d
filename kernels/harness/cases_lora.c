/* Cases of the LoRA op pair: ranks 1 to 16, one row, widths that are not
 * multiples of a vector, the adapter writing a column block of a wider
 * output (the query / key / value thirds of the fused projection), and every
 * optional gradient of the backward left out in turn. */
#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

enum { F_X, F_A, F_B, F_U, F_Y };
enum { B_X, B_A, B_B, B_U, B_DY, B_DU, B_DX, B_DA, B_DB };

static kz_tensor *opt_arg(const kz_op_case *c, kz_tensor *t, int arg, unsigned bit) {
  return c->p.drop & bit ? NULL : &t[arg];
}

static kz_status lora_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_lora(s, &t[F_X], &t[F_A], &t[F_B], &t[F_U], &t[F_Y], c->p.lora.col, c->p.lora.scale);
}

static void lora_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *x = &c->args[F_X], *a = &c->args[F_A], *b = &c->args[F_B], *y = &c->args[F_Y];
  kz_ref_lora_fwd(h[F_X].f, h[F_A].f, h[F_B].f, h[F_U].f, h[F_Y].f + c->p.lora.col, x->shape[0],
                  x->shape[1], a->shape[0], b->shape[0], y->shape[1], c->p.lora.scale);
}

static void lora_args(kz_op_case *c, int64_t rows, int64_t in, int64_t rank, int64_t out) {
  int64_t xs[2] = {rows, in}, as[2] = {rank, in}, bs[2] = {out, rank};
  kz_case_arg(c, "x", KZ_F32, KZ_ARG_IN, 2, xs);
  /* PEFT's Kaiming-uniform bound for A, and a B of the size training gives */
  kz_arg_uniform(kz_case_arg(c, "a", KZ_F32, KZ_ARG_IN, 2, as), -1.0, 1.0);
  kz_arg_normal(kz_case_arg(c, "b", KZ_F32, KZ_ARG_IN, 2, bs), 0, 0.5);
}

kz_op_case *kz_case_lora(kz_op_case_list *l, int64_t rows, int64_t in, int64_t rank, int64_t out,
                         int64_t ld, int64_t col, float scale) {
  kz_op_case *c =
      kz_case_new(l, "lora", lora_invoke, lora_ref, "lora %lldx%lld r%lld ->%lld of %lld@%lld s%g",
                  (long long)rows, (long long)in, (long long)rank, (long long)out, (long long)ld,
                  (long long)col, (double)scale);
  lora_args(c, rows, in, rank, out);
  int64_t us[2] = {rows, rank}, ys[2] = {rows, ld};
  kz_case_arg(c, "u", KZ_F32, KZ_ARG_OUT, 2, us);
  kz_case_arg(c, "y", KZ_F32, KZ_ARG_INOUT, 2, ys);
  c->p.lora.scale = scale;
  c->p.lora.col = col;
  c->flops = 2.0 * (double)(rows * rank) * (double)(in + out);
  c->bytes = 4.0 * (double)(rows * in + rank * in + out * rank + rows * rank + 2 * rows * out);
  return c;
}

static kz_status lora_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_lora_bwd(s, &t[B_X], &t[B_A], &t[B_B], &t[B_U], &t[B_DY], c->p.lora.col, &t[B_DU],
                        opt_arg(c, t, B_DX, 1), opt_arg(c, t, B_DA, 2), opt_arg(c, t, B_DB, 4),
                        c->p.lora.scale, c->p.accumulate);
}

static void lora_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *x = &c->args[B_X], *a = &c->args[B_A], *b = &c->args[B_B],
                    *dy = &c->args[B_DY];
  const unsigned d = c->p.drop;
  kz_ref_lora_bwd(h[B_X].f, h[B_A].f, h[B_B].f, h[B_U].f, h[B_DY].f + c->p.lora.col, h[B_DU].f,
                  d & 1 ? NULL : h[B_DX].f, d & 2 ? NULL : h[B_DA].f, d & 4 ? NULL : h[B_DB].f,
                  x->shape[0], x->shape[1], a->shape[0], b->shape[0], dy->shape[1], c->p.lora.scale,
                  c->p.accumulate);
}

/* u as the forward saves it: x A^T */
static void lora_saved_u(const kz_op_case *c, kz_host_arg *h) {
  const int64_t rows = c->args[B_X].shape[0], in = c->args[B_X].shape[1],
                rank = c->args[B_A].shape[0];
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < rank; j++) {
      double s = 0;
      for (int64_t k = 0; k < in; k++) s += h[B_X].f[r * in + k] * h[B_A].f[j * in + k];
      h[B_U].f[r * rank + j] = s;
    }
}

kz_op_case *kz_case_lora_bwd(kz_op_case_list *l, int64_t rows, int64_t in, int64_t rank,
                             int64_t out, int64_t ld, int64_t col, float scale, bool acc,
                             unsigned drop) {
  static const char *const what[] = {"",       " no-dx",       " no-da",       " no-dx no-da",
                                     " no-db", " no-dx no-db", " no-da no-db", " nothing"};
  kz_op_case *c = kz_case_new(l, "lora_bwd", lora_bwd_invoke, lora_bwd_ref,
                              "lora_bwd %lldx%lld r%lld ->%lld of %lld@%lld s%g acc=%d%s",
                              (long long)rows, (long long)in, (long long)rank, (long long)out,
                              (long long)ld, (long long)col, (double)scale, acc, what[drop & 7]);
  lora_args(c, rows, in, rank, out);
  int64_t us[2] = {rows, rank}, ys[2] = {rows, ld}, xs[2] = {rows, in}, as[2] = {rank, in},
          bs[2] = {out, rank};
  kz_case_arg(c, "u", KZ_F32, KZ_ARG_IN, 2, us);
  kz_case_arg(c, "dy", KZ_F32, KZ_ARG_IN, 2, ys);
  /* du is only written when some gradient is wanted */
  kz_case_arg(c, "du", KZ_F32, (drop & 7) == 7 ? KZ_ARG_IN : KZ_ARG_OUT, 2, us);
  kz_case_arg(c, "dx", KZ_F32, drop & 1 ? KZ_ARG_IN : kz_grad_role(acc), 2, xs);
  kz_case_arg(c, "da", KZ_F32, drop & 2 ? KZ_ARG_IN : kz_grad_role(acc), 2, as);
  kz_case_arg(c, "db", KZ_F32, drop & 4 ? KZ_ARG_IN : kz_grad_role(acc), 2, bs);
  c->fixup = lora_saved_u;
  c->p.lora.scale = scale;
  c->p.lora.col = col;
  c->p.accumulate = acc;
  c->p.drop = drop;
  c->flops = 4.0 * (double)(rows * rank) * (double)(in + out);
  c->bytes = 8.0 * (double)(rows * in + rows * out + rank * in + out * rank + rows * rank);
  return c;
}

void kz_cases_lora(kz_op_case_list *l) {
  /* rows, in, rank, out, ld, col; no rows without accumulate: dA and dB zeroed */
  static const int64_t shapes[][6] = {
      {1, 1, 1, 1, 1, 0},       {0, 5, 2, 3, 3, 0},        {3, 5, 2, 7, 7, 0},
      {17, 33, 4, 31, 93, 31},  {64, 64, 8, 64, 192, 128}, {129, 37, 16, 19, 19, 0},
      {250, 48, 3, 50, 60, 10},
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
    const int64_t *d = shapes[i];
    const float scale = i % 2 ? 2.0f : 0.25f;
    kz_case_lora(l, d[0], d[1], d[2], d[3], d[4], d[5], scale);
    kz_case_lora_bwd(l, d[0], d[1], d[2], d[3], d[4], d[5], scale, i % 2 == 0, 0);
  }
  for (int acc = 0; acc < 2; ++acc)
    for (unsigned drop = 1; drop <= 7; ++drop)
      kz_case_lora_bwd(l, 23, 29, 5, 13, 39, 26, 1.5f, acc, drop);
}

/* Bench: BERT-base's query projection (4096 tokens, hidden 768) with r 8
 * and 64, and the tiny rank-8 adapter on MiniLM's 384 hidden. */
void kz_bench_cases_lora(kz_op_case_list *l) {
  kz_case_lora(l, 4096, 768, 8, 768, 3 * 768, 0, 2.0f);
  kz_case_lora_bwd(l, 4096, 768, 8, 768, 3 * 768, 0, 2.0f, true, 0);
  kz_case_lora(l, 4096, 768, 64, 768, 3 * 768, 768, 0.25f);
  kz_case_lora_bwd(l, 4096, 768, 64, 768, 3 * 768, 768, 0.25f, true, 0);
  kz_case_lora(l, 16 * 128, 384, 8, 384, 3 * 384, 768, 2.0f);
  kz_case_lora_bwd(l, 16 * 128, 384, 8, 384, 3 * 384, 768, 2.0f, true, 0);
}
