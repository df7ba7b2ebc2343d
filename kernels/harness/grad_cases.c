/* Gradient cases: each differentiable input of each op with a backward, in
 * the configurations the models use (both GELU forms, attention masks,
 * ignored targets, repeated ids, transposed and broadcast matmul operands). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/harness/case_build.h"
#include "kernels/harness/grad_check.h"
#include "kernels/ref/ref_ops.h"

/* The ops with gradient cases are the registry rows the op list marks KZ_YES
 * in its grad column; op/list_complete checks each has cases here. */
int kz_grad_op_count(void) {
  int n = 0;
  for (int i = 0; i < kz_op_info_count(); ++i) n += kz_op_info_at(i)->no_grad == NULL;
  return n;
}

const char *kz_grad_op_at(int i) {
  for (int k = 0; k < kz_op_info_count(); ++k)
    if (kz_op_info_at(k)->no_grad == NULL && i-- == 0) return kz_op_info_at(k)->name;
  return NULL;
}

static kz_grad_case *push(kz_grad_list *l, const char *op, kz_grad_fwd_fn fwd, kz_grad_bwd_fn bwd,
                          const char *fmt, ...) {
  static _Thread_local kz_grad_case scratch;
  kz_grad_case *g = &scratch;
  if (l->count == l->cap) {
    int cap = l->cap ? 2 * l->cap : 32;
    kz_grad_case *items = realloc(l->items, (size_t)cap * sizeof *items);
    if (items) {
      l->items = items;
      l->cap = cap;
    }
  }
  if (l->count < l->cap)
    g = &l->items[l->count++];
  else
    l->oom = true;
  memset(g, 0, sizeof *g);
  g->op = op;
  g->fwd = fwd;
  g->bwd = bwd;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g->name, sizeof g->name, fmt, ap);
  va_end(ap);
  return g;
}

static void input(kz_grad_case *g, const char *name, int64_t n, bool diff, double mean,
                  double std) {
  if (g->ninputs >= KZ_GRAD_MAX_INPUTS) { /* a silently dropped input would go unchecked */
    fprintf(stderr, "gradient case %s: input %s is past KZ_GRAD_MAX_INPUTS (%d)\n", g->name, name,
            KZ_GRAD_MAX_INPUTS);
    abort();
  }
  g->in[g->ninputs++] = (kz_grad_input){name, n, diff, mean, std};
}

/* The same two steps for case builders in their own files (grad_check.h). */
kz_grad_case *kz_grad_case_push(kz_grad_list *l, const char *op, kz_grad_fwd_fn fwd,
                                kz_grad_bwd_fn bwd, const char *name) {
  return push(l, op, fwd, bwd, "%s", name);
}

void kz_grad_case_input(kz_grad_case *g, const char *name, int64_t n, bool diff, double mean,
                        double std) {
  input(g, name, n, diff, mean, std);
}

static double *scratch_alloc(int64_t n) {
  return malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
}

/* ---- matmul: dims = {m, n, k, batch}; b broadcast when p.gemm.beta != 0 ---------------- */
static void mm_fwd(const kz_grad_case *g, double *const *in, double *out) {
  int64_t m = g->dims[0], n = g->dims[1], k = g->dims[2], batch = g->dims[3];
  kz_ref_gemm c = {.a = in[0],
                   .b = in[1],
                   .c = out,
                   .trans_a = g->p.gemm.trans_a,
                   .trans_b = g->p.gemm.trans_b,
                   .m = m,
                   .n = n,
                   .k = k,
                   .lda = g->p.gemm.trans_a ? m : k,
                   .ldb = g->p.gemm.trans_b ? k : n,
                   .ldc = n,
                   .stride_a = m * k,
                   .stride_b = g->p.gemm.beta != 0 ? 0 : k * n,
                   .stride_c = m * n,
                   .batch = batch,
                   .alpha = g->p.gemm.alpha,
                   .beta = 0};
  kz_ref_gemm_run(&c);
}

/* One accumulating GEMM: c += alpha * op(a) op(b), c is mm x nn. */
static void gemm_acc(const double *a, bool ta, int64_t lda, const double *b, bool tb, int64_t ldb,
                     double *c, int64_t mm, int64_t nn, int64_t kk, double alpha) {
  kz_ref_gemm gm = {.a = a,
                    .b = b,
                    .c = c,
                    .trans_a = ta,
                    .trans_b = tb,
                    .m = mm,
                    .n = nn,
                    .k = kk,
                    .lda = lda,
                    .ldb = ldb,
                    .ldc = nn,
                    .batch = 1,
                    .alpha = alpha,
                    .beta = 1};
  kz_ref_gemm_run(&gm);
}

/* The formulas the trainer uses: dop(A) = dC op(B)^T, dop(B) = op(A)^T dC,
 * transposed back to the stored layout; a broadcast B sums over the batch. */
static void mm_bwd(const kz_grad_case *g, double *const *in, const double *dc, double *const *din) {
  int64_t m = g->dims[0], n = g->dims[1], k = g->dims[2], batch = g->dims[3];
  bool ta = g->p.gemm.trans_a, tb = g->p.gemm.trans_b, bcast = g->p.gemm.beta != 0;
  double alpha = g->p.gemm.alpha;
  int64_t lda = ta ? m : k, ldb = tb ? k : n;
  memset(din[0], 0, (size_t)(batch * m * k) * sizeof(double));
  memset(din[1], 0, (size_t)((bcast ? 1 : batch) * k * n) * sizeof(double));
  for (int64_t bi = 0; bi < batch; ++bi) {
    const double *a = in[0] + bi * m * k, *b = in[1] + (bcast ? 0 : bi * k * n);
    const double *d = dc + bi * m * n;
    double *da = din[0] + bi * m * k, *db = din[1] + (bcast ? 0 : bi * k * n);
    if (!ta)
      gemm_acc(d, false, n, b, !tb, ldb, da, m, k, n, alpha);
    else
      gemm_acc(b, tb, ldb, d, true, n, da, k, m, n, alpha);
    if (!tb)
      gemm_acc(a, !ta, lda, d, false, n, db, k, n, m, alpha);
    else
      gemm_acc(d, true, n, a, ta, lda, db, n, k, m, alpha);
  }
}

static void add_matmul(kz_grad_list *l, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                       int64_t batch, bool bcast_b, float alpha) {
  kz_grad_case *g = push(l, "matmul", mm_fwd, mm_bwd, "matmul %s%s %lldx%lldx%lld batch%lld%s a%g",
                         ta ? "t" : "n", tb ? "t" : "n", (long long)m, (long long)n, (long long)k,
                         (long long)batch, bcast_b ? " bcast-b" : "", alpha);
  g->dims[0] = m;
  g->dims[1] = n;
  g->dims[2] = k;
  g->dims[3] = batch;
  g->p.gemm.trans_a = ta;
  g->p.gemm.trans_b = tb;
  g->p.gemm.alpha = alpha;
  g->p.gemm.beta = bcast_b ? 1.0f : 0.0f;
  input(g, "a", batch * m * k, true, 0, 1);
  input(g, "b", (bcast_b ? 1 : batch) * k * n, true, 0, 1);
  g->nout = batch * m * n;
}

/* ---- bias_add: dims = {rows, cols} ------------------------------------------------ */
static void bias_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_ref_bias_add_fwd(in[0], in[1], out, g->dims[0], g->dims[1]);
}

static void bias_bwd(const kz_grad_case *g, double *const *in, const double *dy,
                     double *const *din) {
  memcpy(din[0], dy, (size_t)(g->dims[0] * g->dims[1]) * sizeof(double));
  kz_ref_bias_add_bwd(dy, din[1], g->dims[0], g->dims[1], false);
}

/* ---- gelu: dims = {n} ------------------------------------------------------------------ */
static void gelu_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_ref_gelu_fwd(in[0], out, g->dims[0], g->p.ew.approx);
}

static void gelu_bwd(const kz_grad_case *g, double *const *in, const double *dy,
                     double *const *din) {
  kz_ref_gelu_bwd(in[0], dy, din[0], g->dims[0], g->p.ew.approx, false);
}

/* ---- layernorm: dims = {rows, cols} ------------------------------------------------- */
static void ln_fwd(const kz_grad_case *g, double *const *in, double *out) {
  double *mean = scratch_alloc(g->dims[0]), *rstd = scratch_alloc(g->dims[0]);
  if (mean && rstd)
    kz_ref_layernorm_fwd(in[0], in[1], in[2], out, mean, rstd, g->dims[0], g->dims[1],
                         g->p.norm.eps);
  free(mean);
  free(rstd);
}

static void ln_bwd(const kz_grad_case *g, double *const *in, const double *dy, double *const *din) {
  int64_t rows = g->dims[0], cols = g->dims[1];
  double *mean = scratch_alloc(rows), *rstd = scratch_alloc(rows), *y = scratch_alloc(rows * cols);
  if (mean && rstd && y) {
    kz_ref_layernorm_fwd(in[0], in[1], in[2], y, mean, rstd, rows, cols, g->p.norm.eps);
    kz_ref_layernorm_bwd(dy, in[0], in[1], mean, rstd, din[0], din[1], din[2], rows, cols, false);
  }
  free(mean);
  free(rstd);
  free(y);
}

/* ---- softmax: dims = {B, H, T, S} ------------------------------------------------------ */
static kz_softmax_shape sm_shape(const kz_grad_case *g) {
  return (kz_softmax_shape){g->dims[0],
                            g->dims[1],
                            g->dims[2],
                            g->dims[3],
                            g->p.attn.scale,
                            g->p.attn.causal,
                            g->p.attn.lengths ? g->ints : NULL};
}

static void sm_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_softmax_shape sh = sm_shape(g);
  kz_ref_softmax_fwd(in[0], out, &sh);
}

static void sm_bwd(const kz_grad_case *g, double *const *in, const double *dy, double *const *din) {
  kz_softmax_shape sh = sm_shape(g);
  double *y = scratch_alloc(g->nout);
  if (!y) return;
  kz_ref_softmax_fwd(in[0], y, &sh);
  kz_ref_softmax_bwd(y, dy, din[0], &sh, false);
  free(y);
}

/* ---- cross_entropy: dims = {rows, classes}; ints = targets ------------------------ */
static void ce_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_ref_cross_entropy_fwd(in[0], g->ints, out, g->dims[0], g->dims[1], g->p.loss.ignore_index);
}

static void ce_bwd(const kz_grad_case *g, double *const *in, const double *dl, double *const *din) {
  kz_ref_cross_entropy_bwd(in[0], g->ints, dl, din[0], g->dims[0], g->dims[1],
                           g->p.loss.ignore_index, false);
}

/* ---- embedding: dims = {n, vocab, dim}; ints = ids ------------------------------------ */
static void emb_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_ref_embedding_fwd(g->ints, in[0], out, g->dims[0], g->dims[1], g->dims[2]);
}

static void emb_bwd(const kz_grad_case *g, double *const *in, const double *dout,
                    double *const *din) {
  kz_ref_embedding_bwd(g->ints, dout, din[0], g->dims[0], g->dims[1], g->dims[2], false);
}

/* ---- permute: dims = x's shape padded to 4; p.view.perm the padded order ------------------ */
static kz_permute_shape grad_perm_shape(const kz_grad_case *g, bool inverse) {
  kz_permute_shape sh;
  for (int d = 0; d < 4; ++d) {
    sh.in[d] = g->dims[d];
    sh.perm[d] = g->p.view.perm[d];
  }
  if (inverse) { /* the backward reads dy, whose dims are x's permuted */
    for (int j = 0; j < 4; ++j) {
      sh.in[j] = g->dims[g->p.view.perm[j]];
      sh.perm[g->p.view.perm[j]] = j;
    }
  }
  return sh;
}

static void perm_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_permute_shape sh = grad_perm_shape(g, false);
  kz_ref_permute(in[0], out, &sh, false);
}

static void perm_bwd(const kz_grad_case *g, double *const *in, const double *dout,
                     double *const *din) {
  (void)in;
  kz_permute_shape sh = grad_perm_shape(g, true);
  kz_ref_permute(dout, din[0], &sh, false);
}

static void build_permute(kz_grad_list *l) {
  static const struct {
    int64_t dims[4];
    int perm[4];
  } pc[] = {
      {{2, 5, 3, 4}, {0, 2, 1, 3}}, {{1, 3, 4, 5}, {0, 3, 1, 2}}, {{2, 3, 1, 4}, {3, 1, 0, 2}}};
  for (size_t i = 0; i < sizeof pc / sizeof pc[0]; ++i) {
    kz_grad_case *g =
        push(l, "permute", perm_fwd, perm_bwd, "permute %lldx%lldx%lldx%lld p%d%d%d%d",
             (long long)pc[i].dims[0], (long long)pc[i].dims[1], (long long)pc[i].dims[2],
             (long long)pc[i].dims[3], pc[i].perm[0], pc[i].perm[1], pc[i].perm[2], pc[i].perm[3]);
    int64_t n = 1;
    for (int d = 0; d < 4; ++d) {
      g->dims[d] = pc[i].dims[d];
      g->p.view.perm[d] = pc[i].perm[d];
      n *= pc[i].dims[d];
    }
    input(g, "x", n, true, 0, 1);
    g->nout = n;
  }
}

static void build_matmul(kz_grad_list *l) {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) add_matmul(l, ta, tb, 5, 7, 6, 1, false, 1.0f);
  add_matmul(l, false, false, 4, 3, 5, 3, false, 0.5f);
  add_matmul(l, false, true, 4, 6, 3, 3, true, 1.0f);
  add_matmul(l, true, false, 3, 4, 5, 2, true, -1.5f);
}

static void build_simple(kz_grad_list *l) {
  kz_grad_case *g = push(l, "bias_add", bias_fwd, bias_bwd, "bias_add 6x7");
  g->dims[0] = 6;
  g->dims[1] = 7;
  input(g, "x", 42, true, 0, 1);
  input(g, "bias", 7, true, 0, 1);
  g->nout = 42;

  for (int ap = 0; ap < 2; ++ap) {
    g = push(l, "gelu", gelu_fwd, gelu_bwd, "gelu %s 64", ap ? "tanh" : "erf");
    g->dims[0] = 64;
    g->p.ew.approx = (kz_gelu_approx)ap;
    input(g, "x", 64, true, 0, 2);
    g->nout = 64;
  }

  static const int64_t ln[][2] = {{4, 9}, {3, 3}, {2, 33}};
  for (size_t i = 0; i < sizeof ln / sizeof ln[0]; ++i) {
    g = push(l, "layernorm", ln_fwd, ln_bwd, "layernorm %lldx%lld", (long long)ln[i][0],
             (long long)ln[i][1]);
    g->dims[0] = ln[i][0];
    g->dims[1] = ln[i][1];
    g->p.norm.eps = 1e-5f;
    input(g, "x", ln[i][0] * ln[i][1], true, 0.5, 1);
    input(g, "gamma", ln[i][1], true, 1, 0.5);
    input(g, "beta", ln[i][1], true, 0, 0.5);
    g->nout = ln[i][0] * ln[i][1];
  }
}

static void add_softmax(kz_grad_list *l, int64_t b, int64_t h, int64_t t, int64_t s, float scale,
                        bool causal, bool lengths) {
  kz_grad_case *g = push(l, "softmax", sm_fwd, sm_bwd, "softmax %lldx%lldx%lldx%lld scale%g%s%s",
                         (long long)b, (long long)h, (long long)t, (long long)s, scale,
                         causal ? " causal" : "", lengths ? " lengths" : "");
  g->dims[0] = b;
  g->dims[1] = h;
  g->dims[2] = t;
  g->dims[3] = s;
  g->p.attn.scale = scale;
  g->p.attn.causal = causal;
  g->p.attn.lengths = lengths;
  for (int64_t i = 0; i < b && i < KZ_GRAD_MAX_INTS; ++i)
    g->ints[i] = (int32_t)(i == 1 ? 0 : s - i % s); /* batch row 1 fully masked */
  input(g, "x", b * h * t * s, true, 0, 1.5);
  g->nout = b * h * t * s;
}

static void build_rest(kz_grad_list *l) {
  add_softmax(l, 2, 2, 3, 5, 1.0f, false, false);
  add_softmax(l, 3, 1, 4, 6, 0.5f, false, true);
  add_softmax(l, 1, 2, 4, 4, 0.125f, true, false);
  add_softmax(l, 2, 1, 3, 7, 1.0f, true, false);
  add_softmax(l, 3, 2, 3, 6, 0.7f, true, true);

  kz_grad_case *g = push(l, "cross_entropy", ce_fwd, ce_bwd, "cross_entropy 9x11 ignore");
  g->dims[0] = 9;
  g->dims[1] = 11;
  g->p.loss.ignore_index = -100;
  for (int r = 0; r < 9; ++r) g->ints[r] = r % 4 == 3 ? -100 : (r * 7) % 11;
  input(g, "logits", 99, true, 0, 2);
  g->nout = 9;

  g = push(l, "embedding", emb_fwd, emb_bwd, "embedding n20 v6 x5 repeated");
  g->dims[0] = 20;
  g->dims[1] = 6;
  g->dims[2] = 5;
  for (int i = 0; i < 20; ++i) g->ints[i] = (i * i) % 5; /* id 5 never used */
  input(g, "table", 30, true, 0, 1);
  g->nout = 100;
}

/* ---- dropout: dims = {n}; p.param = p, a fixed key (the mask is a constant) ------- */
static const uint64_t grad_dropout_key = 0x0ddba11c0ffee000ULL;

static void drop_fwd(const kz_grad_case *g, double *const *in, double *out) {
  double *mask = scratch_alloc(g->dims[0]);
  if (mask) kz_ref_dropout_fwd(in[0], out, mask, g->dims[0], g->p.tab.p, grad_dropout_key);
  free(mask);
}

static void drop_bwd(const kz_grad_case *g, double *const *in, const double *dy,
                     double *const *din) {
  double *mask = scratch_alloc(g->dims[0]), *y = scratch_alloc(g->dims[0]);
  if (mask && y) {
    kz_ref_dropout_fwd(in[0], y, mask, g->dims[0], g->p.tab.p, grad_dropout_key);
    kz_ref_dropout_bwd(dy, mask, din[0], g->dims[0], false);
  }
  free(mask);
  free(y);
}

/* ---- mse: dims = {n}; losses per row, pred differentiable -------------------------- */
static void mse_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_ref_mse_fwd(in[0], in[1], out, g->dims[0]);
}

/* mse_bwd takes one scale for all rows (the model's mean); per-row upstream
 * gradients are that with scale 1, times dy[i] */
static void mse_bwd(const kz_grad_case *g, double *const *in, const double *dy,
                    double *const *din) {
  kz_ref_mse_bwd(in[0], in[1], din[0], g->dims[0], 1.0, false);
  for (int64_t i = 0; i < g->dims[0]; ++i) din[0][i] *= dy[i];
}

static void build_mlp(kz_grad_list *l) {
  static const float ps[] = {0.1f, 0.5f};
  for (int k = 0; k < 2; ++k) {
    kz_grad_case *g = push(l, "dropout", drop_fwd, drop_bwd, "dropout 64 p%g", ps[k]);
    g->dims[0] = 64;
    g->p.tab.p = ps[k];
    input(g, "x", 64, true, 0, 1);
    g->nout = 64;
  }
  kz_grad_case *g = push(l, "mse", mse_fwd, mse_bwd, "mse 40");
  g->dims[0] = 40;
  input(g, "pred", 40, true, 0, 1);
  input(g, "target", 40, false, 0, 1);
  g->nout = 40;
}

/* ---- unary elementwise ops of the op list: dims = {n} ----------------------------- */
static const kz_unary_info *unary_of(const kz_grad_case *g) {
  for (int i = 0; i < kz_unary_count(); ++i)
    if (g->op == kz_unary_at(i)->name) return kz_unary_at(i);
  return NULL;
}

static void unary_fwd(const kz_grad_case *g, double *const *in, double *out) {
  const kz_unary_info *u = unary_of(g);
  for (int64_t i = 0; i < g->dims[0]; ++i) out[i] = u->ref(in[0][i], g->p.ew.param);
}

static void unary_bwd(const kz_grad_case *g, double *const *in, const double *dy,
                      double *const *din) {
  const kz_unary_info *u = unary_of(g);
  for (int64_t i = 0; i < g->dims[0]; ++i) din[0][i] = dy[i] * u->grad(in[0][i], g->p.ew.param);
}

static void build_unary(kz_grad_list *l) {
  for (int k = 0; k < kz_unary_count(); ++k) {
    const kz_unary_info *u = kz_unary_at(k);
    if (!u->has_grad) continue;
    kz_grad_case *g = push(l, u->name, unary_fwd, unary_bwd, "%s 64 p%g", u->name, u->value);
    g->dims[0] = 64;
    g->p.ew.param = (float)u->value;
    input(g, "x", 64, true, 0, 2);
    g->nout = 64;
  }
}

/* ---- transformer ops -------------------------------------------------------- */
/* residual_layernorm: dims = {rows, cols}; inputs x, h, gamma, beta; a fixed
 * key (the mask is a constant); p.tf.save_r picks the backward's source. */
static const uint64_t grad_rln_key = 0x5eed0f1a7e12b0adULL;

static void rln_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_ref_residual_layernorm_fwd(in[0], in[1], in[2], in[3], out, NULL, NULL, NULL, g->dims[0],
                                g->dims[1], g->p.tf.dropout_p, grad_rln_key, g->p.norm.eps);
}

static void rln_bwd(const kz_grad_case *g, double *const *in, const double *dy,
                    double *const *din) {
  const int64_t rows = g->dims[0], cols = g->dims[1];
  double *y = scratch_alloc(rows * cols), *r = scratch_alloc(rows * cols);
  double *mean = scratch_alloc(rows), *rstd = scratch_alloc(rows);
  if (y && r && mean && rstd &&
      kz_ref_residual_layernorm_fwd(in[0], in[1], in[2], in[3], y, r, mean, rstd, rows, cols,
                                    g->p.tf.dropout_p, grad_rln_key, g->p.norm.eps)) {
    const bool from_r = g->p.tf.save_r;
    kz_ref_residual_layernorm_bwd(dy, from_r ? NULL : y, from_r ? r : NULL, in[2], in[3], mean,
                                  rstd, din[0], din[1], din[2], din[3], rows, cols,
                                  g->p.tf.dropout_p, grad_rln_key, false);
  }
  free(y);
  free(r);
  free(mean);
  free(rstd);
}

/* gather_rows: dims = {m, n, dim}; ints = idx. */
static void gather_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_ref_gather_rows_fwd(in[0], g->ints, out, g->dims[0], g->dims[1], g->dims[2]);
}

static void gather_bwd(const kz_grad_case *g, double *const *in, const double *dout,
                       double *const *din) {
  (void)in;
  kz_ref_gather_rows_bwd(g->ints, dout, din[0], g->dims[0], g->dims[1], g->dims[2], false);
}

/* qa_span_loss: dims = {batch, seq}; ints = lengths, then starts, then ends. */
static void qa_fwd(const kz_grad_case *g, double *const *in, double *out) {
  const int64_t b = g->dims[0];
  kz_ref_qa_span_loss_fwd(in[0], g->ints, g->ints + b, g->ints + 2 * b, out, b, g->dims[1]);
}

static void qa_bwd(const kz_grad_case *g, double *const *in, const double *dl, double *const *din) {
  const int64_t b = g->dims[0];
  kz_ref_qa_span_loss_bwd(in[0], g->ints, g->ints + b, g->ints + 2 * b, dl, din[0], b, g->dims[1],
                          false);
}

static void build_transformer(kz_grad_list *l) {
  static const struct {
    int64_t rows, cols;
    double p;
    bool from_r;
  } rc[] = {{4, 9, 0.0, false}, {3, 7, 0.1, false}, {2, 33, 0.5, true}, {3, 5, 0.3, true}};
  for (size_t i = 0; i < sizeof rc / sizeof rc[0]; ++i) {
    kz_grad_case *g =
        push(l, "residual_layernorm", rln_fwd, rln_bwd, "residual_layernorm %lldx%lld p%g from-%s",
             (long long)rc[i].rows, (long long)rc[i].cols, rc[i].p, rc[i].from_r ? "r" : "y");
    const int64_t n = rc[i].rows * rc[i].cols;
    g->dims[0] = rc[i].rows;
    g->dims[1] = rc[i].cols;
    g->p.norm.eps = 1e-5f;
    g->p.tf.dropout_p = rc[i].p;
    g->p.tf.save_r = rc[i].from_r;
    input(g, "x", n, true, 0.5, 1);
    input(g, "h", n, true, 0, 1);
    input(g, "gamma", rc[i].cols, true, 1, 0.5);
    input(g, "beta", rc[i].cols, true, 0, 0.5);
    g->nout = n;
  }

  kz_grad_case *g =
      push(l, "gather_rows", gather_fwd, gather_bwd, "gather_rows m20 n6 d5 repeated");
  g->dims[0] = 20;
  g->dims[1] = 6;
  g->dims[2] = 5;
  for (int i = 0; i < 20; ++i) g->ints[i] = (i * 7) % 5; /* row 5 never gathered */
  input(g, "x", 30, true, 0, 1);
  g->nout = 100;

  /* Lengths T, a middle one and 1; targets at the first, last and a middle position. */
  g = push(l, "qa_span_loss", qa_fwd, qa_bwd, "qa_span_loss 3x6");
  g->dims[0] = 3;
  g->dims[1] = 6;
  static const int32_t spans[9] = {6, 4, 1, 0, 3, 0, 5, 1, 0};
  memcpy(g->ints, spans, sizeof spans);
  input(g, "logits", 36, true, 0, 2);
  g->nout = 3;
}

/* ---- the TFT's ops ------------------------------------------------------------------ */
/* lstm_cell: dims = {rows, hidden}; the output is h then c, concatenated, so
 * the weights of the loss reach both and the backward gets dh and dc. */
static void lstm_fwd(const kz_grad_case *g, double *const *in, double *out) {
  const int64_t n = g->dims[0] * g->dims[1];
  kz_ref_lstm_cell_fwd(in[0], in[1], out, out + n, g->dims[0], g->dims[1]);
}

static void lstm_bwd(const kz_grad_case *g, double *const *in, const double *dout,
                     double *const *din) {
  const int64_t n = g->dims[0] * g->dims[1];
  double *h = scratch_alloc(n), *c = scratch_alloc(n);
  if (h && c) {
    kz_ref_lstm_cell_fwd(in[0], in[1], h, c, g->dims[0], g->dims[1]);
    kz_ref_lstm_cell_bwd(in[0], in[1], c, dout, dout + n, din[0], din[1], g->dims[0], g->dims[1],
                         false);
  }
  free(h);
  free(c);
}

/* glu: dims = {rows, cols of y} */
static void glu_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_ref_glu_fwd(in[0], out, g->dims[0], g->dims[1]);
}

static void glu_bwd(const kz_grad_case *g, double *const *in, const double *dy,
                    double *const *din) {
  kz_ref_glu_bwd(in[0], dy, din[0], g->dims[0], g->dims[1], false);
}

/* quantile_loss: dims = {rows, quantiles}; per-element losses, pred
 * differentiable; the backward's one scale is 1, times dy per element */
static void qloss_fwd(const kz_grad_case *g, double *const *in, double *out) {
  kz_ref_quantile_loss_fwd(in[0], in[1], in[2], out, g->dims[0], g->dims[1]);
}

static void qloss_bwd(const kz_grad_case *g, double *const *in, const double *dy,
                      double *const *din) {
  kz_ref_quantile_loss_bwd(in[0], in[1], in[2], din[0], g->dims[0], g->dims[1], 1.0, false);
  for (int64_t i = 0; i < g->dims[0] * g->dims[1]; ++i) din[0][i] *= dy[i];
}

static void build_tft(kz_grad_list *l) {
  static const int64_t lc[][2] = {{1, 1}, {3, 4}, {5, 7}};
  for (size_t i = 0; i < sizeof lc / sizeof lc[0]; ++i) {
    const int64_t r = lc[i][0], h = lc[i][1];
    kz_grad_case *g = push(l, "lstm_cell", lstm_fwd, lstm_bwd, "lstm_cell %lldx%lld (h, c)",
                           (long long)r, (long long)h);
    g->dims[0] = r;
    g->dims[1] = h;
    input(g, "gates", r * 4 * h, true, 0, 1.5);
    input(g, "c_prev", r * h, true, 0, 1);
    g->nout = 2 * r * h;

    g = push(l, "glu", glu_fwd, glu_bwd, "glu %lldx%lld", (long long)r, (long long)h);
    g->dims[0] = r;
    g->dims[1] = h;
    input(g, "x", r * 2 * h, true, 0, 2);
    g->nout = r * h;

    g = push(l, "quantile_loss", qloss_fwd, qloss_bwd, "quantile_loss %lldx%lld", (long long)r,
             (long long)(i + 1));
    g->dims[0] = r;
    g->dims[1] = (int64_t)i + 1;
    input(g, "pred", r * (int64_t)(i + 1), true, 0, 1);
    input(g, "target", r, false, 0, 1);
    input(g, "quantiles", (int64_t)i + 1, false, 0.5, 0.2);
    g->nout = r * (int64_t)(i + 1);
  }
}

kz_status kz_grad_cases_build(kz_grad_list *list) {
  memset(list, 0, sizeof *list);
  build_matmul(list);
  build_simple(list);
  build_rest(list);
  build_mlp(list);
  build_unary(list);
  build_permute(list);
  build_transformer(list);
  kz_grad_cases_attention(list);
  build_tft(list);
  kz_grad_cases_lora(list);
  if (list->oom) {
    kz_grad_list_free(list);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "harness: cannot build the gradient cases");
  }
  return KZ_OK;
}

void kz_grad_list_free(kz_grad_list *list) {
  free(list->items);
  memset(list, 0, sizeof *list);
}
