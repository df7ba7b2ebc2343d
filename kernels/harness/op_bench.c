/* `kaizen kernels bench`: every op on realistic shapes, as a ratio to the
 * measured peaks, with OpenBLAS timed side by side for matmul on the CPU.
 * Timings on shared machines are noisy, so kaizen and OpenBLAS samples are
 * interleaved and the medians compared. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/harness/bench_util.h"
#include "kernels/harness/case_build.h"
#include "kernels/harness/op_bench.h"

#define MAX_SAMPLES 101

kz_status kz_bench_cases_build(kz_op_case_list *l) {
  memset(l, 0, sizeof *l);
  /* BERT-base: tokens 4096 (batch 32 x 128), hidden 768, FFN 3072, 12 heads. */
  kz_case_matmul(l, false, false, 0, false, false, 1024, 1024, 1024, KZ_F32, 1, 0);
  kz_case_matmul(l, false, false, 0, false, false, 2048, 2048, 2048, KZ_F32, 1, 0);
  kz_case_matmul(l, false, false, 0, false, false, 4096, 3072, 768, KZ_F32, 1, 0);
  kz_case_matmul(l, false, false, 0, false, false, 4096, 768, 3072, KZ_F32, 1, 0);
  kz_case_matmul(l, false, true, 0, false, false, 4096, 768, 3072, KZ_F32, 1, 0);
  kz_case_matmul(l, true, false, 0, false, false, 768, 3072, 4096, KZ_F32, 1, 1);
  kz_case_matmul(l, false, false, 0, false, false, 2048, 2048, 2048, KZ_BF16, 1, 0);
  kz_case_bias_add(l, 4096, 3072, false);
  kz_case_bias_add_bwd(l, 4096, 3072, false);
  kz_case_bias_gelu(l, 4096, 3072, KZ_GELU_ERF, false);
  kz_case_bias_gelu(l, 4096, 3072, KZ_GELU_ERF, true);
  /* The transformer encoder's ops at the issue-16 sizes: 16 sequences of 128
   * tokens, hidden 256 (the CPU bench model) and 768 (BERT-base); 15% of the
   * tokens gathered for MLM; the QA loss at seq 128 and 384. */
  static const int64_t hidden[] = {256, 768};
  for (int i = 0; i < 2; ++i) {
    kz_case_residual_layernorm(l, 16 * 128, hidden[i], 0.1, false, true, false);
    kz_case_residual_layernorm_bwd(l, 16 * 128, hidden[i], 0.1, false, false, 0, false);
    kz_case_gather_rows(l, 16 * 128, hidden[i], 307);
    kz_case_gather_rows_bwd(l, 16 * 128, hidden[i], 307, false);
  }
  kz_case_residual_layernorm(l, 16 * 128, 768, 0.0, false, true, false);
  kz_case_qa_span_loss(l, 16, 128, 2);
  kz_case_qa_span_loss(l, 16, 384, 2);
  kz_case_qa_span_loss_bwd(l, 16, 384, false);
  kz_case_add(l, 4096 * 768, false);
  kz_case_gelu(l, 4096 * 3072, KZ_GELU_ERF);
  kz_case_gelu(l, 4096 * 3072, KZ_GELU_TANH);
  kz_case_gelu_bwd(l, 4096 * 3072, KZ_GELU_ERF, false);
  kz_case_gelu_bwd(l, 4096 * 3072, KZ_GELU_TANH, false);
  static const int64_t ln[] = {4096, 768};
  kz_case_layernorm(l, 2, ln, true, 0);
  kz_case_layernorm_bwd(l, 4096, 768, false);
  static const int64_t att[] = {32, 12, 128, 128}, att512[] = {4, 12, 512, 512};
  kz_case_softmax(l, att, 0.125f, false, true);
  kz_case_softmax(l, att512, 0.125f, true, false);
  kz_case_softmax_bwd(l, att, 0.125f, false, true, false);
  kz_case_softmax_bwd(l, att512, 0.125f, true, false, false);
  kz_case_cross_entropy(l, 1024, 30522);
  kz_case_cross_entropy_bwd(l, 1024, 30522, false);
  static const int64_t ids[] = {4096};
  kz_case_embedding(l, 1, ids, 30522, 768);
  kz_case_embedding_bwd(l, 4096, 30522, 768, false);
  kz_case_adamw(l, (int64_t)1 << 24, 1, false);
  kz_case_adamw(l, (int64_t)1 << 24, 1, true);
  kz_case_ewc_grad(l, (int64_t)1 << 24, 10.0f);
  kz_case_cast(l, (int64_t)1 << 24, KZ_F32);
  kz_case_cast(l, (int64_t)1 << 24, KZ_BF16);
  /* Attention heads: split [B,T,H,D] -> [B,H,T,D] and its backward (merge). */
  static const int64_t heads[] = {32, 128, 12, 64};
  static const int split[] = {0, 2, 1, 3};
  kz_case_permute(l, 4, heads, split, false, false);
  kz_case_permute(l, 4, heads, split, true, false);
  /* Every unary elementwise op of the op list on the FFN activation shape. */
  for (int i = 0; i < kz_unary_count(); ++i) {
    const kz_unary_info *u = kz_unary_at(i);
    kz_case_unary(l, u, 4096 * 3072, (float)u->value);
    kz_case_unary_bwd(l, u, 4096 * 3072, (float)u->value, false);
  }
  kz_bench_cases_mlp(l);
  kz_bench_cases_attention(l);
  kz_bench_cases_tft(l);
  kz_bench_cases_lora(l);
  if (l->oom) {
    kz_op_case_list_free(l);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "bench: cannot build the case list");
  }
  return KZ_OK;
}

typedef struct case_ctx {
  const kz_op_case *c;
  kz_stream *s;
  kz_tensor t[KZ_CASE_MAX_ARGS];
} case_ctx;

static kz_status run_case(void *p) {
  case_ctx *x = p;
  return x->c->invoke(x->c, x->s, x->t);
}

/* OpenBLAS on exactly the matmul case's operands (f32 only), with its own
 * threads (as many as OpenMP's): the CPU backend keeps OpenBLAS
 * single-threaded (cpu/gemm.c), so the reference sets and restores it. */
static kz_status run_openblas(void *p) {
  const int saved = openblas_get_num_threads();
  openblas_set_num_threads(omp_get_max_threads());
  const case_ctx *x = p;
  const kz_op_case *c = x->c;
  const kz_arg_spec *a = &c->args[0], *b = &c->args[1], *cc = &c->args[2];
  int ra = a->ndim - 2, rb = b->ndim - 2, rc = cc->ndim - 2;
  int64_t m = cc->shape[rc], n = cc->shape[rc + 1];
  int64_t k = c->p.gemm.trans_a ? a->shape[ra] : a->shape[ra + 1];
  int64_t batch = cc->ndim == 3 ? cc->shape[0] : 1;
  for (int64_t i = 0; i < batch; ++i)
    cblas_sgemm(CblasRowMajor, c->p.gemm.trans_a ? CblasTrans : CblasNoTrans,
                c->p.gemm.trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                c->p.gemm.alpha, (const float *)x->t[0].data + (a->ndim == 3 ? i * m * k : 0),
                (int)a->shape[ra + 1], (const float *)x->t[1].data + (b->ndim == 3 ? i * k * n : 0),
                (int)b->shape[rb + 1], c->p.gemm.beta, (float *)x->t[2].data + i * m * n, (int)n);
  openblas_set_num_threads(saved);
  return KZ_OK;
}

typedef struct bench_row {
  double us, gflops, gbs, pct;
  int capped;         /* the op beat the peak measured for it: pct shows 100 */
  double blas_gflops; /* 0 when not measured */
} bench_row;

static kz_status bench_one(const kz_op_case *c, kz_stream *s, int repeat,
                           const kz_bench_peaks *peaks, bench_row *row) {
  memset(row, 0, sizeof *row);
  case_ctx x = {c, s, {{0}}};
  kz_rng rng = {kz_case_seed(7, c->name)};
  kz_status st = KZ_OK;
  for (int k = 0; k < c->nargs && st == KZ_OK; ++k) {
    const kz_arg_spec *a = &c->args[k];
    int64_t n = kz_arg_numel(a);
    kz_tensor *t = &x.t[k];
    t->dtype = a->dtype;
    t->ndim = a->ndim;
    memcpy(t->shape, a->shape, sizeof a->shape);
    t->device = s->device;
    st = kz_device_alloc(s->device, (size_t)n * kz_dtype_size(a->dtype), &t->data);
    if (st == KZ_OK) st = kz_bench_fill(s, t->data, a, n, &rng);
  }
  bool blas =
      s->device.kind == KZ_DEVICE_CPU && !strcmp(c->op, "matmul") && c->args[0].dtype == KZ_F32;
  int inner = 1, blas_inner = 1, n = repeat < 1 ? 1 : (repeat > MAX_SAMPLES ? MAX_SAMPLES : repeat);
  double ours[MAX_SAMPLES], theirs[MAX_SAMPLES];
  kz_bench_timer timer = {0};
  if (st == KZ_OK) st = kz_bench_timer_init(&timer, s);
  if (st == KZ_OK) st = kz_bench_calibrate(&timer, run_case, &x, &inner);
  if (st == KZ_OK && blas) st = kz_bench_calibrate(&timer, run_openblas, &x, &blas_inner);
  for (int i = 0; i < n && st == KZ_OK; ++i) {
    st = kz_bench_time(&timer, run_case, &x, inner, &ours[i]);
    if (st == KZ_OK && blas) st = kz_bench_time(&timer, run_openblas, &x, blas_inner, &theirs[i]);
  }
  kz_bench_timer_fini(&timer);
  for (int k = 0; k < c->nargs; ++k)
    if (x.t[k].data) kz_device_free(s->device, x.t[k].data);
  KZ_TRY(st);
  double ms = kz_bench_median(ours, n);
  row->us = ms * 1e3;
  row->gflops = c->flops / (ms * 1e6);
  row->gbs = c->bytes / (ms * 1e6);
  if (blas) row->blas_gflops = c->flops / (kz_bench_median(theirs, n) * 1e6);
  /* The peak the way the op runs: a GEMM against the better of the square
   * sgemm and OpenBLAS on this very shape (timed interleaved above); a
   * memory-bound op against a copy of its own byte count, which sits in the
   * same cache level (a 12 MB operand is read from L3, not DRAM). */
  double peak = c->compute_bound
                    ? (c->args[0].dtype == KZ_BF16 ? peaks->gemm_bf16_gflops : peaks->gemm_gflops)
                    : peaks->copy_gbs;
  if (c->compute_bound && row->blas_gflops > peak) peak = row->blas_gflops;
  if (!c->compute_bound && c->bytes > 0) {
    double same = 0;
    KZ_TRY(kz_bench_copy_rate(s, (size_t)(c->bytes / 2), repeat, &same));
    if (same > peak) peak = same;
  }
  row->pct = peak > 0 ? 100.0 * (c->compute_bound ? row->gflops : row->gbs) / peak : 0;
  if (row->pct > 100.0) { /* never above the peak: see the footnote */
    row->pct = 100.0;
    row->capped = 1;
  }
  return KZ_OK;
}

kz_status kz_harness_bench(kz_device device, const kz_bench_options *o) {
  FILE *out = o->out ? o->out : stdout;
  if (o->op && !kz_op_info_find(o->op))
    return kz_fail(KZ_ERR_NOT_FOUND, "unknown op '%s' (see `kaizen kernels list`)", o->op);
  kz_op_case_list list;
  KZ_TRY(kz_bench_cases_build(&list));
  kz_stream *s = NULL;
  kz_status st = kz_stream_create(device, &s);
  kz_bench_peaks peaks;
  if (st == KZ_OK) st = kz_bench_measure_peaks(s, o->repeat, &peaks, out);
  if (st == KZ_OK)
    fprintf(out, "\n%-18s %-42s %11s %9s %8s %7s %10s %6s\n", "op", "shape", "us(median)",
            "GFLOP/s", "GB/s", "%peak", "OpenBLAS", "ratio");
  double log_ratio = 0, pct_sum = 0;
  int n_ratio = 0, n_rows = 0, n_capped = 0;
  for (int i = 0; i < list.count && st == KZ_OK; ++i) {
    const kz_op_case *c = &list.items[i];
    if (o->op && strcmp(o->op, c->op)) continue;
    const char *shape = c->name + strlen(c->op) + (c->name[strlen(c->op)] == ' ');
    if (!kz_op_supported(s->backend, kz_op_info_find(c->op))) {
      fprintf(out, "%-18s %-42s skipped: not implemented by the %s backend\n", c->op, shape,
              s->backend->name);
      continue;
    }
    bench_row r;
    st = bench_one(c, s, o->repeat, &peaks, &r);
    if (st != KZ_OK) break;
    fprintf(out, "%-18s %-42s %11.1f %9.1f %8.1f %5.0f%%%c", c->op, shape, r.us, r.gflops, r.gbs,
            r.pct, r.capped ? '*' : ' ');
    n_capped += r.capped;
    if (r.blas_gflops > 0) {
      fprintf(out, " %10.1f %6.2f", r.blas_gflops, r.gflops / r.blas_gflops);
      log_ratio += log(r.gflops / r.blas_gflops);
      ++n_ratio;
    }
    fputc('\n', out);
    pct_sum += r.pct;
    ++n_rows;
    fflush(out);
  }
  if (st == KZ_OK) {
    fputc('\n', out);
    if (n_capped)
      fprintf(out,
              "* %d shape(s) ran faster than the peak measured for them (GEMM: the best OpenBLAS "
              "rate, same shape; memory: a copy of the same bytes) and show 100%%: timing noise "
              "on a shared machine, or bytes counted that the op reads from a faster cache "
              "(repeated rows, an operand reused); the GFLOP/s and GB/s columns are as "
              "measured\n",
              n_capped);
    if (n_ratio)
      fprintf(out,
              "headline: kaizen matmul / OpenBLAS sgemm = %.2f (geometric mean over %d f32 "
              "shapes, same run, interleaved; target >= 0.80)\n",
              exp(log_ratio / n_ratio), n_ratio);
    else if (n_rows)
      fprintf(out, "headline: mean %.0f%% of the measured peak over %d shapes\n", pct_sum / n_rows,
              n_rows);
    else
      fprintf(out, "headline: nothing measured\n");
  }
  if (s) kz_stream_destroy(s);
  kz_op_case_list_free(&list);
  return st;
}
