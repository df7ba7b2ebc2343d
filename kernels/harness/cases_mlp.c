/* Cases of the MLP's ops: dropout (several p and keys, in place), its
 * backward, the MSE loss with unlabelled (NaN) rows and its backward, the
 * standardisation of numeric inputs (NaN, +-inf, indicators among untouched
 * columns) and the column-block copy. Leaky ReLU is a U row: cases_unary.c. */
#include <math.h>
#include <stdlib.h>

#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

/* The dropout key of a case: fixed, varied by p.tab.key so cases draw
 * different masks. */
static uint64_t dropout_key(const kz_op_case *c) {
  return 0x5eedd50f0123abcdULL ^ (uint64_t)c->p.tab.key * 0x9e3779b97f4a7c15ULL;
}

/* ---- dropout ------------------------------------------------------------------- */
static kz_status drop_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  kz_tensor *y = c->p.in_place ? &t[0] : &t[1], *mask = c->p.in_place ? &t[1] : &t[2];
  return kz_op_dropout(s, &t[0], y, mask, c->p.tab.p, dropout_key(c));
}

static void drop_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_host_arg *y = c->p.in_place ? &h[0] : &h[1], *mask = c->p.in_place ? &h[1] : &h[2];
  kz_ref_dropout_fwd(h[0].f, y->f, mask->f, h[0].n, c->p.tab.p, dropout_key(c));
}

static kz_op_case *case_dropout(kz_op_case_list *l, int64_t n, float p, int key, bool in_place) {
  kz_op_case *c = kz_case_new(l, "dropout", drop_invoke, drop_ref, "dropout %lld p%g key%d%s",
                              (long long)n, p, key, in_place ? " in-place" : "");
  kz_case_arg(c, "x", KZ_F32, in_place ? KZ_ARG_INOUT : KZ_ARG_IN, 1, &n);
  if (!in_place) kz_case_arg(c, "y", KZ_F32, KZ_ARG_OUT, 1, &n);
  kz_case_arg(c, "mask", KZ_F32, KZ_ARG_OUT, 1, &n);
  c->p.tab.p = p;
  c->p.tab.key = key;
  c->p.in_place = in_place;
  c->flops = (double)n;
  c->bytes = 12.0 * (double)n;
  return c;
}

static kz_status drop_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_dropout_bwd(s, &t[0], &t[1], &t[2], c->p.accumulate);
}

static void drop_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_dropout_bwd(h[0].f, h[1].f, h[2].f, h[0].n, c->p.accumulate);
}

/* masks as dropout makes them: 0 or 1/(1-p) */
static void mask_values(const kz_op_case *c, kz_host_arg *h) {
  for (int64_t i = 0; i < h[1].n; ++i)
    h[1].f[i] = kz_dropout_unit(dropout_key(c), i) >= 0.25 ? (double)(float)(1.0 / 0.75) : 0.0;
}

static kz_op_case *case_dropout_bwd(kz_op_case_list *l, int64_t n, bool acc) {
  kz_op_case *c = kz_case_new(l, "dropout_bwd", drop_bwd_invoke, drop_bwd_ref,
                              "dropout_bwd %lld acc=%d", (long long)n, acc);
  kz_case_arg(c, "dy", KZ_F32, KZ_ARG_IN, 1, &n);
  kz_case_arg(c, "mask", KZ_F32, KZ_ARG_IN, 1, &n);
  kz_case_arg(c, "dx", KZ_F32, kz_grad_role(acc), 1, &n);
  c->fixup = mask_values;
  c->p.accumulate = acc;
  c->flops = (double)n;
  c->bytes = 4.0 * (double)n * (acc ? 4 : 3);
  return c;
}

/* ---- mse ------------------------------------------------------------------------ */
/* every fifth target unlabelled */
static void nan_targets(const kz_op_case *c, kz_host_arg *h) {
  (void)c;
  for (int64_t i = 2; i < h[1].n; i += 5) h[1].f[i] = NAN;
}

static kz_status mse_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  (void)c;
  return kz_op_mse(s, &t[0], &t[1], &t[2]);
}

static void mse_ref(const kz_op_case *c, kz_host_arg *h) {
  (void)c;
  kz_ref_mse_fwd(h[0].f, h[1].f, h[2].f, h[0].n);
}

static kz_op_case *case_mse(kz_op_case_list *l, int64_t n) {
  kz_op_case *c = kz_case_new(l, "mse", mse_invoke, mse_ref, "mse %lld", (long long)n);
  kz_case_arg(c, "pred", KZ_F32, KZ_ARG_IN, 1, &n);
  kz_case_arg(c, "target", KZ_F32, KZ_ARG_IN, 1, &n);
  kz_case_arg(c, "losses", KZ_F32, KZ_ARG_OUT, 1, &n);
  c->fixup = nan_targets;
  c->flops = 3.0 * (double)n;
  c->bytes = 12.0 * (double)n;
  return c;
}

static kz_status mse_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_mse_bwd(s, &t[0], &t[1], &t[2], c->p.tab.scale, c->p.accumulate);
}

static void mse_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  kz_ref_mse_bwd(h[0].f, h[1].f, h[2].f, h[0].n, c->p.tab.scale, c->p.accumulate);
}

static kz_op_case *case_mse_bwd(kz_op_case_list *l, int64_t n, float scale, bool acc) {
  kz_op_case *c = kz_case_new(l, "mse_bwd", mse_bwd_invoke, mse_bwd_ref,
                              "mse_bwd %lld scale%g acc=%d", (long long)n, scale, acc);
  kz_case_arg(c, "pred", KZ_F32, KZ_ARG_IN, 1, &n);
  kz_case_arg(c, "target", KZ_F32, KZ_ARG_IN, 1, &n);
  kz_case_arg(c, "dpred", KZ_F32, kz_grad_role(acc), 1, &n);
  c->fixup = nan_targets;
  c->p.tab.scale = scale;
  c->p.accumulate = acc;
  c->flops = 4.0 * (double)n;
  c->bytes = 4.0 * (double)n * (acc ? 4 : 3);
  return c;
}

/* ---- standardize: args v [R, C], mean [C], std [C], miss [C], x [R, X] ----------- */
/* The statistics are f32 arguments widened to the doubles the op takes, so
 * ref sees exactly the values the backend does. */
static kz_status widen(kz_stream *s, const kz_tensor *t, kz_tensor *out) {
  int64_t n = kz_tensor_numel(t), bytes = 8 * n;
  float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  double *d = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  kz_status st = f && d ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "standardize case: out of memory");
  if (st == KZ_OK) st = kz_copy_to_host(s, f, t->data, (size_t)n * sizeof(float));
  if (st == KZ_OK) st = kz_stream_sync(s);
  for (int64_t i = 0; st == KZ_OK && i < n; ++i) d[i] = f[i];
  if (st == KZ_OK) st = kz_tensor_alloc(t->device, KZ_U8, 1, &bytes, out);
  if (st == KZ_OK) st = kz_copy_to_device(s, out->data, d, (size_t)bytes);
  if (st == KZ_OK) st = kz_stream_sync(s);
  free(f);
  free(d);
  return st;
}

static kz_status std_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  kz_tensor mean = {0}, sd = {0};
  kz_status st = widen(s, &t[1], &mean);
  if (st == KZ_OK) st = widen(s, &t[2], &sd);
  if (st == KZ_OK) st = kz_op_standardize(s, &t[0], &mean, &sd, &t[3], &t[4], c->p.tab.p);
  if (st == KZ_OK) st = kz_stream_sync(s);
  if (mean.data) kz_tensor_free(&mean);
  if (sd.data) kz_tensor_free(&sd);
  return st;
}

static void std_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *v = &c->args[0], *x = &c->args[4];
  kz_ref_standardize(h[0].f, h[1].f, h[2].f, h[3].i, h[4].f, v->shape[0], v->shape[1], x->shape[1],
                     c->p.tab.p);
}

/* Every third value missing or infinite; every other column has an
 * indicator, at a permuted position; std positive. */
static void std_inputs(const kz_op_case *c, kz_host_arg *h) {
  const int64_t cols = c->args[0].shape[1], ind = (cols + 1) / 2;
  for (int64_t i = 0; i < h[0].n; i += 3)
    h[0].f[i] = i % 9 == 0 ? NAN : i % 9 == 3 ? INFINITY : -INFINITY;
  for (int64_t i = 0; i < cols; ++i) {
    h[2].f[i] = 0.5 + fabs(h[2].f[i]);
    h[3].i[i] = i % 2 == 0 ? (int32_t)(ind - 1 - i / 2) : -1;
  }
}

static kz_op_case *case_standardize(kz_op_case_list *l, int64_t rows, int64_t cols) {
  const int64_t xc = cols + (cols + 1) / 2 + 3; /* 3 columns the op must leave alone */
  kz_op_case *c = kz_case_new(l, "standardize", std_invoke, std_ref, "standardize %lldx%lld",
                              (long long)rows, (long long)cols);
  int64_t vs[2] = {rows, cols}, xs[2] = {rows, xc};
  kz_case_arg(c, "v", KZ_F32, KZ_ARG_IN, 2, vs);
  kz_case_arg(c, "mean", KZ_F32, KZ_ARG_IN, 1, &cols);
  kz_case_arg(c, "std", KZ_F32, KZ_ARG_IN, 1, &cols);
  kz_arg_ints(kz_case_arg(c, "miss", KZ_I32, KZ_ARG_IN, 1, &cols), -1, 0);
  kz_case_arg(c, "x", KZ_F32, KZ_ARG_INOUT, 2, xs);
  c->fixup = std_inputs;
  c->p.tab.p = 10.0;
  c->flops = 3.0 * (double)(rows * cols);
  c->bytes = 8.0 * (double)(rows * cols) + 20.0 * (double)cols;
  return c;
}

/* ---- copy_cols: src [R, Cs] columns [sc, sc+n) into dst [R, Cd] at dc ----------- */
static kz_status cc_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  const int64_t dst_col = c->p.tab.dst_col, src_col = c->p.tab.src_col;
  const int64_t cols = c->p.tab.cols;
  return kz_op_copy_cols(s, &t[0], src_col, &t[1], dst_col, cols);
}

static void cc_ref(const kz_op_case *c, kz_host_arg *h) {
  const int64_t dst_col = c->p.tab.dst_col, src_col = c->p.tab.src_col;
  const int64_t cols = c->p.tab.cols;
  const kz_arg_spec *src = &c->args[0], *dst = &c->args[1];
  kz_ref_copy_cols(h[0].f + src_col, src->shape[1], h[1].f + dst_col, dst->shape[1], src->shape[0],
                   cols);
}

static kz_op_case *case_copy_cols(kz_op_case_list *l, int64_t rows, int64_t src_cols,
                                  int64_t src_col, int64_t dst_cols, int64_t dst_col,
                                  int64_t cols) {
  kz_op_case *c = kz_case_new(l, "copy_cols", cc_invoke, cc_ref,
                              "copy_cols %lld rows [%lld:+%lld of %lld] -> [%lld of %lld]",
                              (long long)rows, (long long)src_col, (long long)cols,
                              (long long)src_cols, (long long)dst_col, (long long)dst_cols);
  int64_t ss[2] = {rows, src_cols}, ds[2] = {rows, dst_cols};
  kz_case_arg(c, "src", KZ_F32, KZ_ARG_IN, 2, ss);
  kz_case_arg(c, "dst", KZ_F32, KZ_ARG_INOUT, 2, ds);
  /* small integers: exact in float */
  c->p.tab.dst_col = dst_col;
  c->p.tab.src_col = src_col;
  c->p.tab.cols = cols;
  c->flops = 0;
  c->bytes = 8.0 * (double)(rows * cols);
  return c;
}

void kz_cases_mlp(kz_op_case_list *l) {
  static const int64_t sizes[] = {1, 7, 64, 1000, 4099};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    case_dropout(l, sizes[i], 0.1f, (int)i, false);
    case_dropout_bwd(l, sizes[i], i % 2 == 1);
    case_mse(l, sizes[i]);
    case_mse_bwd(l, sizes[i], 0.03f, i % 2 == 1);
  }
  case_dropout(l, 2048, 0.5f, 7, false);
  case_dropout(l, 513, 0.0f, 8, false);
  case_dropout(l, 777, 0.3f, 9, true);
  case_standardize(l, 1, 1);
  case_standardize(l, 17, 5);
  case_standardize(l, 300, 16);
  case_copy_cols(l, 1, 3, 1, 4, 2, 2);
  case_copy_cols(l, 33, 8, 0, 20, 12, 8);
  case_copy_cols(l, 257, 24, 5, 31, 3, 17);
}

/* Bench: the MLP's shapes (batch 512, width 256). */
void kz_bench_cases_mlp(kz_op_case_list *l) {
  case_dropout(l, 512 * 256, 0.1f, 0, false);
  case_mse(l, 512);
  case_standardize(l, 512, 16);
  case_copy_cols(l, 512, 8, 0, 64, 40, 8);
}
