/* matmul cases: the four transposes, batched and broadcast operands,
 * alpha/beta (beta = 0 with a NaN-poisoned C, which must not be read), bf16
 * inputs, and shapes that are not multiples of any tile. */
#include <stdio.h>

#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

enum { A, B, C };

static kz_status invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_matmul(s, &t[A], &t[B], &t[C], c->p.gemm.trans_a, c->p.gemm.trans_b, c->p.gemm.alpha,
                      c->p.gemm.beta);
}

static void ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *a = &c->args[A], *b = &c->args[B], *cc = &c->args[C];
  int ra = a->ndim - 2, rb = b->ndim - 2, rc = cc->ndim - 2;
  int64_t m = cc->shape[rc], n = cc->shape[rc + 1];
  int64_t k = c->p.gemm.trans_a ? a->shape[ra] : a->shape[ra + 1];
  kz_ref_gemm g = {
      .a = h[A].f,
      .b = h[B].f,
      .c = h[C].f,
      .trans_a = c->p.gemm.trans_a,
      .trans_b = c->p.gemm.trans_b,
      .m = m,
      .n = n,
      .k = k,
      .lda = a->shape[ra + 1],
      .ldb = b->shape[rb + 1],
      .ldc = n,
      .stride_a = a->ndim == 3 ? m * k : 0,
      .stride_b = b->ndim == 3 ? k * n : 0,
      .stride_c = m * n,
      .batch = cc->ndim == 3 ? cc->shape[0] : 1,
      .alpha = c->p.gemm.alpha,
      .beta = c->p.gemm.beta,
  };
  kz_ref_gemm_run(&g);
}

kz_op_case *kz_case_matmul(kz_op_case_list *l, bool ta, bool tb, int64_t batch, bool batch_a,
                           bool batch_b, int64_t m, int64_t n, int64_t k, kz_dtype dtype,
                           float alpha, float beta) {
  char bdesc[32] = "";
  if (batch)
    snprintf(bdesc, sizeof bdesc, " batch %lld%s%s", (long long)batch, batch_a ? "" : " bcast-a",
             batch_b ? "" : " bcast-b");
  kz_op_case *c = kz_case_new(l, "matmul", invoke, ref, "matmul %s%s %lldx%lldx%lld %s%s a%g b%g",
                              ta ? "t" : "n", tb ? "t" : "n", (long long)m, (long long)n,
                              (long long)k, kz_dtype_name(dtype), bdesc, alpha, beta);
  int64_t sa[3] = {batch, ta ? k : m, ta ? m : k};
  int64_t sb[3] = {batch, tb ? n : k, tb ? k : n};
  int64_t sc[3] = {batch, m, n};
  bool ba = batch && batch_a, bb = batch && batch_b;
  kz_case_arg(c, "a", dtype, KZ_ARG_IN, ba ? 3 : 2, ba ? sa : sa + 1);
  kz_case_arg(c, "b", dtype, KZ_ARG_IN, bb ? 3 : 2, bb ? sb : sb + 1);
  kz_arg_spec *out = kz_case_arg(c, "c", KZ_F32, beta != 0 ? KZ_ARG_INOUT : KZ_ARG_OUT,
                                 batch ? 3 : 2, batch ? sc : sc + 1);
  out->tol = kz_op_tolerance("matmul", dtype); /* bounded by the input precision */
  c->p.gemm.trans_a = ta;
  c->p.gemm.trans_b = tb;
  c->p.gemm.alpha = alpha;
  c->p.gemm.beta = beta;
  int64_t nb = batch ? batch : 1;
  double es = (double)kz_dtype_size(dtype);
  c->flops = 2.0 * (double)(nb * m * n * k);
  c->bytes = es * (double)((ba ? nb : 1) * m * k + (bb ? nb : 1) * k * n) +
             4.0 * (double)(nb * m * n) * (beta != 0 ? 2 : 1);
  c->compute_bound = true;
  return c;
}

void kz_cases_matmul(kz_op_case_list *l) {
  static const int64_t shapes[][3] = {
      {1, 1, 1}, {37, 129, 65}, {3, 1000, 7}, {64, 64, 64}, {17, 5, 1000}, {128, 96, 257},
  };
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i)
        kz_case_matmul(l, ta, tb, 0, false, false, shapes[i][0], shapes[i][1], shapes[i][2], KZ_F32,
                       1.0f, 0.0f);
  /* above 256^3: the CPU splits C into slabs across its threads, by rows
   * when C is taller than wide, else by columns (gemm.c, blas_split) */
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      kz_case_matmul(l, ta, tb, 0, false, false, 301, 203, 290, KZ_F32, 1.0f, 0.0f);
      kz_case_matmul(l, ta, tb, 0, false, false, 37, 2003, 260, KZ_F32, 0.5f, ta ? 1.5f : 0.0f);
    }
  /* alpha/beta: C is read and scaled; beta = 0 is covered above. */
  kz_case_matmul(l, false, false, 0, false, false, 37, 129, 65, KZ_F32, 0.5f, 1.5f);
  kz_case_matmul(l, true, true, 0, false, false, 33, 17, 40, KZ_F32, -2.0f, 1.0f);
  kz_case_matmul(l, false, true, 0, false, false, 20, 31, 9, KZ_F32, 0.0f, 0.75f);
  /* batched, and a 2-D operand broadcast across the batch (a weight). */
  kz_case_matmul(l, false, false, 3, true, true, 17, 19, 33, KZ_F32, 1.0f, 0.0f);
  kz_case_matmul(l, false, true, 4, true, true, 13, 29, 21, KZ_F32, 1.0f, 0.0f);
  kz_case_matmul(l, false, false, 4, true, false, 13, 9, 21, KZ_F32, 1.0f, 0.0f);
  kz_case_matmul(l, true, false, 2, false, true, 11, 7, 23, KZ_F32, 1.0f, 0.0f);
  kz_case_matmul(l, false, true, 3, true, false, 9, 65, 33, KZ_F32, 0.5f, 1.0f);
  /* bf16 inputs, f32 accumulation and output. */
  kz_case_matmul(l, false, false, 0, false, false, 37, 129, 65, KZ_BF16, 1.0f, 0.0f);
  kz_case_matmul(l, false, true, 0, false, false, 64, 48, 200, KZ_BF16, 1.0f, 0.0f);
  kz_case_matmul(l, true, false, 0, false, false, 5, 33, 17, KZ_BF16, 1.0f, 1.0f);
  kz_case_matmul(l, true, true, 0, false, false, 1, 1, 1, KZ_BF16, 1.0f, 0.0f);
  kz_case_matmul(l, false, false, 3, true, false, 17, 31, 40, KZ_BF16, 1.0f, 0.0f);
}
