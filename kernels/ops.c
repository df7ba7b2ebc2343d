/* Validation and dispatch for every op (see ops.h). The checks here are the
 * only ones: backends trust their arguments, so a bad shape must never get
 * past this file. Messages name the op, the argument, what was expected and
 * what was given. */
#include "kernels/ops.h"

#include <math.h>
#include <stdio.h>

#include "kernels/core/error.h"
#include "kernels/ops_internal.h"

/* Describes a tensor for messages; a small ring lets one message show two. */
static const char *describe(const kz_tensor *t) {
  static _Thread_local char ring[4][96];
  static _Thread_local int next;
  char *buf = ring[next++ & 3];
  kz_tensor_describe(t, buf, sizeof ring[0]);
  return buf;
}

static kz_status check(const kz_stream *s, const char *op, const char *arg, const kz_tensor *t,
                       kz_dtype dtype) {
  if (!t) return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s is missing", op, arg);
  if (t->dtype != dtype)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s must be %s, got %s", op, arg, kz_dtype_name(dtype),
                   describe(t));
  if (t->device.kind != s->device.kind || t->device.index != s->device.index) {
    char dev[32];
    kz_device_format(s->device, dev, sizeof dev);
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s is %s but the stream runs on %s", op, arg,
                   describe(t), dev);
  }
  if (t->ndim < 1 || t->ndim > KZ_MAX_DIMS)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s has %d dims", op, arg, t->ndim);
  for (int i = 0; i < t->ndim; ++i)
    if (t->shape[i] < 0)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s has a negative dim: %s", op, arg, describe(t));
  if (!t->data && kz_tensor_numel(t) > 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s has no data", op, arg);
  return KZ_OK;
}

static kz_status check_same_shape(const char *op, const char *arg, const kz_tensor *t,
                                  const char *ref_arg, const kz_tensor *ref) {
  if (!kz_tensor_same_shape(t, ref))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s %s must have the shape of %s %s", op, arg,
                   describe(t), ref_arg, describe(ref));
  return KZ_OK;
}

static kz_status check_numel(const char *op, const char *arg, const kz_tensor *t, int64_t want,
                             const char *why) {
  if (kz_tensor_numel(t) != want)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s %s must hold %lld elements (%s)", op, arg,
                   describe(t), (long long)want, why);
  return KZ_OK;
}

/* The same checks for wrappers kept in their own files (ops_internal.h). */
const char *kz_ops_describe(const kz_tensor *t) {
  return describe(t);
}
kz_status kz_ops_check(const kz_stream *s, const char *op, const char *arg, const kz_tensor *t,
                       kz_dtype dtype) {
  return check(s, op, arg, t, dtype);
}
kz_status kz_ops_check_numel(const char *op, const char *arg, const kz_tensor *t, int64_t want,
                             const char *why) {
  return check_numel(op, arg, t, want, why);
}

/* Gradient outputs are optional everywhere: NULL means "not wanted" (a frozen
 * layer, a LoRA base weight). A single-output backward with nothing wanted
 * has nothing to do; a multi-output one passes the NULLs on to the backend,
 * which skips them. */
#define KZ_NOT_WANTED(t) ((t) == NULL)

static kz_status unsupported(const kz_stream *s, const char *op) {
  return kz_fail(KZ_ERR_UNSUPPORTED, "%s: not implemented by the %s backend", op, s->backend->name);
}

#define DISPATCH(s, slot, opname, ...)                                                             \
  ((s)->backend->ops.slot ? (s)->backend->ops.slot((s), __VA_ARGS__) : unsupported((s), opname))

/* A fused op: its slot where the backend has one, otherwise `unfused`, the
 * sequence of existing validated ops it stands for (the op list marks such a
 * backend KZ_UNFUSED). Its reference is the same sequence of references. */
#define DISPATCH_FUSED(s, slot, unfused, ...)                                                      \
  ((s)->backend->ops.slot ? (s)->backend->ops.slot((s), __VA_ARGS__) : (unfused))

/* ---- matmul ---------------------------------------------------------------- */

kz_status kz_op_matmul(kz_stream *s, const kz_tensor *a, const kz_tensor *b, kz_tensor *c,
                       bool trans_a, bool trans_b, float alpha, float beta) {
  const char *op = "matmul";
  if (!a || !b) return kz_fail(KZ_ERR_INVALID_ARG, "matmul: a and b are required");
  KZ_TRY(check(s, op, "a", a, a->dtype == KZ_BF16 ? KZ_BF16 : KZ_F32));
  KZ_TRY(check(s, op, "b", b, a->dtype));
  KZ_TRY(check(s, op, "c", c, KZ_F32));
  if (c->ndim != 2 && c->ndim != 3)
    return kz_fail(KZ_ERR_INVALID_ARG, "matmul: c must be [M, N] or [B, M, N], got %s",
                   describe(c));
  int64_t batch = c->ndim == 3 ? c->shape[0] : 1;
  const kz_tensor *ops_[2] = {a, b};
  const char *names[2] = {"a", "b"};
  for (int i = 0; i < 2; ++i) {
    const kz_tensor *t = ops_[i];
    if (t->ndim != 2 && t->ndim != 3)
      return kz_fail(KZ_ERR_INVALID_ARG, "matmul: %s must be 2-D or 3-D, got %s", names[i],
                     describe(t));
    if (t->ndim == 3 && (c->ndim != 3 || t->shape[0] != batch))
      return kz_fail(KZ_ERR_INVALID_ARG, "matmul: %s %s has a batch that c %s does not match",
                     names[i], describe(t), describe(c));
  }
  int ra = a->ndim - 2, rb = b->ndim - 2;
  int64_t m = trans_a ? a->shape[ra + 1] : a->shape[ra];
  int64_t k = trans_a ? a->shape[ra] : a->shape[ra + 1];
  int64_t kb = trans_b ? b->shape[rb + 1] : b->shape[rb];
  int64_t n = trans_b ? b->shape[rb] : b->shape[rb + 1];
  int rc = c->ndim - 2;
  if (k != kb || c->shape[rc] != m || c->shape[rc + 1] != n)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "matmul: shapes do not chain: a %s%s x b %s%s -> c %s (need K %lld == %lld, c "
                   "[%lld, %lld])",
                   describe(a), trans_a ? "^T" : "", describe(b), trans_b ? "^T" : "", describe(c),
                   (long long)k, (long long)kb, (long long)m, (long long)n);
  if (!isfinite(alpha) || !isfinite(beta))
    return kz_fail(KZ_ERR_INVALID_ARG, "matmul: alpha and beta must be finite");
  if (m == 0 || n == 0 || batch == 0) return KZ_OK;
  kz_gemm g = {
      .a = a->data,
      .b = b->data,
      .c = c->data,
      .ab_dtype = a->dtype,
      .trans_a = trans_a,
      .trans_b = trans_b,
      .m = m,
      .n = n,
      .k = k,
      .lda = a->shape[ra + 1],
      .ldb = b->shape[rb + 1],
      .ldc = n,
      .stride_a = a->ndim == 3 ? m * k : 0,
      .stride_b = b->ndim == 3 ? k * n : 0,
      .stride_c = m * n,
      .batch = batch,
      .alpha = alpha,
      .beta = beta,
  };
  return DISPATCH(s, gemm, op, &g);
}

/* ---- bias, residual, GELU ----------------------------------------------------- */

kz_status kz_op_bias_add(kz_stream *s, const kz_tensor *x, const kz_tensor *bias, kz_tensor *y) {
  const char *op = "bias_add";
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "bias", bias, KZ_F32));
  KZ_TRY(check(s, op, "y", y, KZ_F32));
  KZ_TRY(check_same_shape(op, "y", y, "x", x));
  KZ_TRY(check_numel(op, "bias", bias, kz_tensor_cols(x), "one per column of x"));
  if (kz_tensor_numel(x) == 0) return KZ_OK;
  return DISPATCH(s, bias_add_fwd, op, x->data, bias->data, y->data, kz_tensor_rows(x),
                  kz_tensor_cols(x));
}

kz_status kz_op_bias_add_bwd(kz_stream *s, const kz_tensor *dy, kz_tensor *dbias, bool accumulate) {
  const char *op = "bias_add_bwd";
  KZ_TRY(check(s, op, "dy", dy, KZ_F32));
  if (KZ_NOT_WANTED(dbias)) return KZ_OK;
  KZ_TRY(check(s, op, "dbias", dbias, KZ_F32));
  KZ_TRY(check_numel(op, "dbias", dbias, kz_tensor_cols(dy), "one per column of dy"));
  if (kz_tensor_numel(dbias) == 0) return KZ_OK;
  if (kz_tensor_rows(dy) == 0)
    return accumulate ? KZ_OK : kz_fill_bytes(s, dbias->data, 0, kz_tensor_bytes(dbias));
  return DISPATCH(s, bias_add_bwd, op, dy->data, dbias->data, kz_tensor_rows(dy),
                  kz_tensor_cols(dy), accumulate);
}

static kz_status check_gelu_approx(const char *op, kz_gelu_approx approx);

static kz_status bias_gelu_unfused(kz_stream *s, const kz_tensor *x, const kz_tensor *bias,
                                   kz_tensor *y, kz_gelu_approx approx) {
  KZ_TRY(kz_op_bias_add(s, x, bias, y));
  return kz_op_gelu(s, y, y, approx);
}

kz_status kz_op_bias_gelu(kz_stream *s, const kz_tensor *x, const kz_tensor *bias, kz_tensor *y,
                          kz_gelu_approx approx) {
  const char *op = "bias_gelu";
  KZ_TRY(check_gelu_approx(op, approx));
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "bias", bias, KZ_F32));
  KZ_TRY(check(s, op, "y", y, KZ_F32));
  KZ_TRY(check_same_shape(op, "y", y, "x", x));
  KZ_TRY(check_numel(op, "bias", bias, kz_tensor_cols(x), "one per column of x"));
  if (kz_tensor_numel(x) == 0) return KZ_OK;
  return DISPATCH_FUSED(s, bias_gelu_fwd, bias_gelu_unfused(s, x, bias, y, approx), x->data,
                        bias->data, y->data, kz_tensor_rows(x), kz_tensor_cols(x), approx);
}

kz_status kz_op_add(kz_stream *s, const kz_tensor *a, const kz_tensor *b, kz_tensor *y) {
  const char *op = "add";
  KZ_TRY(check(s, op, "a", a, KZ_F32));
  KZ_TRY(check(s, op, "b", b, KZ_F32));
  KZ_TRY(check(s, op, "y", y, KZ_F32));
  KZ_TRY(check_same_shape(op, "b", b, "a", a));
  KZ_TRY(check_same_shape(op, "y", y, "a", a));
  if (kz_tensor_numel(a) == 0) return KZ_OK;
  return DISPATCH(s, add, op, a->data, b->data, y->data, kz_tensor_numel(a));
}

static kz_status check_gelu_approx(const char *op, kz_gelu_approx approx) {
  if (approx != KZ_GELU_ERF && approx != KZ_GELU_TANH)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: unknown approximation %d", op, (int)approx);
  return KZ_OK;
}

kz_status kz_op_gelu(kz_stream *s, const kz_tensor *x, kz_tensor *y, kz_gelu_approx approx) {
  const char *op = "gelu";
  KZ_TRY(check_gelu_approx(op, approx));
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "y", y, KZ_F32));
  KZ_TRY(check_same_shape(op, "y", y, "x", x));
  if (kz_tensor_numel(x) == 0) return KZ_OK;
  return DISPATCH(s, gelu_fwd, op, x->data, y->data, kz_tensor_numel(x), approx);
}

kz_status kz_op_gelu_bwd(kz_stream *s, const kz_tensor *x, const kz_tensor *dy, kz_tensor *dx,
                         kz_gelu_approx approx, bool accumulate) {
  const char *op = "gelu_bwd";
  KZ_TRY(check_gelu_approx(op, approx));
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "dy", dy, KZ_F32));
  KZ_TRY(check_same_shape(op, "dy", dy, "x", x));
  if (KZ_NOT_WANTED(dx)) return KZ_OK;
  KZ_TRY(check(s, op, "dx", dx, KZ_F32));
  KZ_TRY(check_same_shape(op, "dx", dx, "x", x));
  if (kz_tensor_numel(x) == 0) return KZ_OK;
  return DISPATCH(s, gelu_bwd, op, x->data, dy->data, dx->data, kz_tensor_numel(x), approx,
                  accumulate);
}

/* ---- layernorm ------------------------------------------------------------------ */

static kz_status check_row_stats(kz_stream *s, const char *op, const char *arg, const kz_tensor *t,
                                 int64_t rows) {
  KZ_TRY(check(s, op, arg, t, KZ_F32));
  return check_numel(op, arg, t, rows, "one per row of x");
}

kz_status kz_op_layernorm(kz_stream *s, const kz_tensor *x, const kz_tensor *gamma,
                          const kz_tensor *beta, kz_tensor *y, kz_tensor *mean, kz_tensor *rstd,
                          float eps) {
  const char *op = "layernorm";
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "gamma", gamma, KZ_F32));
  KZ_TRY(check(s, op, "beta", beta, KZ_F32));
  KZ_TRY(check(s, op, "y", y, KZ_F32));
  KZ_TRY(check_same_shape(op, "y", y, "x", x));
  int64_t rows = kz_tensor_rows(x), cols = kz_tensor_cols(x);
  KZ_TRY(check_numel(op, "gamma", gamma, cols, "one per column of x"));
  KZ_TRY(check_numel(op, "beta", beta, cols, "one per column of x"));
  if (mean) KZ_TRY(check_row_stats(s, op, "mean", mean, rows));
  if (rstd) KZ_TRY(check_row_stats(s, op, "rstd", rstd, rows));
  if (!(eps > 0.0f) || !isfinite(eps))
    return kz_fail(KZ_ERR_INVALID_ARG, "layernorm: eps must be positive and finite, got %g", eps);
  if (cols == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "layernorm: x %s has zero columns", describe(x));
  if (rows == 0) return KZ_OK;
  return DISPATCH(s, layernorm_fwd, op, x->data, gamma->data, beta->data, y->data,
                  mean ? mean->data : NULL, rstd ? rstd->data : NULL, rows, cols, eps);
}

kz_status kz_op_layernorm_bwd(kz_stream *s, const kz_tensor *dy, const kz_tensor *x,
                              const kz_tensor *gamma, const kz_tensor *mean, const kz_tensor *rstd,
                              kz_tensor *dx, kz_tensor *dgamma, kz_tensor *dbeta, bool accumulate) {
  const char *op = "layernorm_bwd";
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "dy", dy, KZ_F32));
  KZ_TRY(check(s, op, "gamma", gamma, KZ_F32));
  KZ_TRY(check_same_shape(op, "dy", dy, "x", x));
  int64_t rows = kz_tensor_rows(x), cols = kz_tensor_cols(x);
  KZ_TRY(check_numel(op, "gamma", gamma, cols, "one per column of x"));
  KZ_TRY(check_row_stats(s, op, "mean", mean, rows));
  KZ_TRY(check_row_stats(s, op, "rstd", rstd, rows));
  /* dx, dgamma and dbeta are each optional (NULL: not wanted). */
  if (dx) {
    KZ_TRY(check(s, op, "dx", dx, KZ_F32));
    KZ_TRY(check_same_shape(op, "dx", dx, "x", x));
  }
  if (dgamma) {
    KZ_TRY(check(s, op, "dgamma", dgamma, KZ_F32));
    KZ_TRY(check_numel(op, "dgamma", dgamma, cols, "one per column of x"));
  }
  if (dbeta) {
    KZ_TRY(check(s, op, "dbeta", dbeta, KZ_F32));
    KZ_TRY(check_numel(op, "dbeta", dbeta, cols, "one per column of x"));
  }
  if (cols == 0 || (!dx && !dgamma && !dbeta)) return KZ_OK;
  if (rows == 0) {
    if (accumulate) return KZ_OK;
    if (dgamma) KZ_TRY(kz_fill_bytes(s, dgamma->data, 0, kz_tensor_bytes(dgamma)));
    if (dbeta) KZ_TRY(kz_fill_bytes(s, dbeta->data, 0, kz_tensor_bytes(dbeta)));
    return KZ_OK;
  }
  return DISPATCH(s, layernorm_bwd, op, dy->data, x->data, gamma->data, mean->data, rstd->data,
                  dx ? dx->data : NULL, dgamma ? dgamma->data : NULL, dbeta ? dbeta->data : NULL,
                  rows, cols, accumulate);
}

/* ---- softmax ------------------------------------------------------------------ */

static kz_status softmax_shape(kz_stream *s, const char *op, const kz_tensor *x,
                               const kz_tensor *lengths, float scale, bool causal,
                               kz_softmax_shape *sh) {
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  if (x->ndim != 4)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: x must be [B, H, T, S], got %s", op, describe(x));
  if (lengths) {
    KZ_TRY(check(s, op, "lengths", lengths, KZ_I32));
    KZ_TRY(check_numel(op, "lengths", lengths, x->shape[0], "one per batch row"));
  }
  if (!isfinite(scale))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: scale must be finite, got %g", op, scale);
  if (causal && x->shape[2] > x->shape[3])
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: causal masking needs queries <= keys, got %s", op,
                   describe(x));
  *sh = (kz_softmax_shape){x->shape[0],
                           x->shape[1],
                           x->shape[2],
                           x->shape[3],
                           scale,
                           causal,
                           lengths ? lengths->data : NULL};
  return KZ_OK;
}

kz_status kz_op_softmax(kz_stream *s, const kz_tensor *x, kz_tensor *y, const kz_tensor *lengths,
                        float scale, bool causal) {
  const char *op = "softmax";
  kz_softmax_shape sh;
  KZ_TRY(softmax_shape(s, op, x, lengths, scale, causal, &sh));
  KZ_TRY(check(s, op, "y", y, KZ_F32));
  KZ_TRY(check_same_shape(op, "y", y, "x", x));
  if (kz_tensor_numel(x) == 0) return KZ_OK;
  return DISPATCH(s, softmax_fwd, op, x->data, y->data, &sh);
}

kz_status kz_op_softmax_bwd(kz_stream *s, const kz_tensor *y, const kz_tensor *dy, kz_tensor *dx,
                            const kz_tensor *lengths, float scale, bool causal, bool accumulate) {
  const char *op = "softmax_bwd";
  kz_softmax_shape sh;
  KZ_TRY(softmax_shape(s, op, y, lengths, scale, causal, &sh));
  KZ_TRY(check(s, op, "dy", dy, KZ_F32));
  KZ_TRY(check_same_shape(op, "dy", dy, "y", y));
  if (KZ_NOT_WANTED(dx)) return KZ_OK;
  KZ_TRY(check(s, op, "dx", dx, KZ_F32));
  KZ_TRY(check_same_shape(op, "dx", dx, "y", y));
  if (kz_tensor_numel(y) == 0) return KZ_OK;
  return DISPATCH(s, softmax_bwd, op, y->data, dy->data, dx->data, &sh, accumulate);
}

/* ---- cross-entropy ------------------------------------------------------------ */

static kz_status check_xent(kz_stream *s, const char *op, const kz_tensor *logits,
                            const kz_tensor *targets) {
  KZ_TRY(check(s, op, "logits", logits, KZ_F32));
  KZ_TRY(check(s, op, "targets", targets, KZ_I32));
  if (kz_tensor_cols(logits) == 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: logits %s has zero classes", op, describe(logits));
  return check_numel(op, "targets", targets, kz_tensor_rows(logits), "one per row of logits");
}

kz_status kz_op_cross_entropy(kz_stream *s, const kz_tensor *logits, const kz_tensor *targets,
                              kz_tensor *losses, int32_t ignore_index) {
  const char *op = "cross_entropy";
  KZ_TRY(check_xent(s, op, logits, targets));
  KZ_TRY(check(s, op, "losses", losses, KZ_F32));
  KZ_TRY(check_numel(op, "losses", losses, kz_tensor_rows(logits), "one per row of logits"));
  if (kz_tensor_rows(logits) == 0) return KZ_OK;
  return DISPATCH(s, cross_entropy_fwd, op, logits->data, targets->data, losses->data,
                  kz_tensor_rows(logits), kz_tensor_cols(logits), ignore_index);
}

kz_status kz_op_cross_entropy_bwd(kz_stream *s, const kz_tensor *logits, const kz_tensor *targets,
                                  const kz_tensor *dloss, kz_tensor *dlogits, int32_t ignore_index,
                                  bool accumulate) {
  const char *op = "cross_entropy_bwd";
  KZ_TRY(check_xent(s, op, logits, targets));
  KZ_TRY(check(s, op, "dloss", dloss, KZ_F32));
  KZ_TRY(check_numel(op, "dloss", dloss, kz_tensor_rows(logits), "one per row of logits"));
  if (KZ_NOT_WANTED(dlogits)) return KZ_OK;
  KZ_TRY(check(s, op, "dlogits", dlogits, KZ_F32));
  KZ_TRY(check_same_shape(op, "dlogits", dlogits, "logits", logits));
  if (kz_tensor_rows(logits) == 0) return KZ_OK;
  return DISPATCH(s, cross_entropy_bwd, op, logits->data, targets->data, dloss->data, dlogits->data,
                  kz_tensor_rows(logits), kz_tensor_cols(logits), ignore_index, accumulate);
}

/* ---- embedding ---------------------------------------------------------------- */

static kz_status check_embedding(kz_stream *s, const char *op, const kz_tensor *ids,
                                 const kz_tensor *table, const char *table_name,
                                 const kz_tensor *rows, const char *rows_name) {
  KZ_TRY(check(s, op, "ids", ids, KZ_I32));
  KZ_TRY(check(s, op, table_name, table, KZ_F32));
  KZ_TRY(check(s, op, rows_name, rows, KZ_F32));
  if (table->ndim != 2)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s must be [vocab, dim], got %s", op, table_name,
                   describe(table));
  if (kz_tensor_cols(rows) != table->shape[1])
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s %s must end in the table's dim %lld", op, rows_name,
                   describe(rows), (long long)table->shape[1]);
  return check_numel(op, rows_name, rows, kz_tensor_numel(ids) * table->shape[1], "one row per id");
}

kz_status kz_op_embedding(kz_stream *s, const kz_tensor *ids, const kz_tensor *table,
                          kz_tensor *out) {
  const char *op = "embedding";
  KZ_TRY(check_embedding(s, op, ids, table, "table", out, "out"));
  if (kz_tensor_numel(out) == 0) return KZ_OK;
  return DISPATCH(s, embedding_fwd, op, ids->data, table->data, out->data, kz_tensor_numel(ids),
                  table->shape[0], table->shape[1]);
}

kz_status kz_op_embedding_bwd(kz_stream *s, const kz_tensor *ids, const kz_tensor *dout,
                              kz_tensor *dtable, bool accumulate) {
  const char *op = "embedding_bwd";
  if (KZ_NOT_WANTED(dtable)) return KZ_OK; /* a frozen table */
  KZ_TRY(check_embedding(s, op, ids, dtable, "dtable", dout, "dout"));
  if (kz_tensor_numel(dtable) == 0) return KZ_OK;
  if (kz_tensor_numel(ids) == 0)
    return accumulate ? KZ_OK : kz_fill_bytes(s, dtable->data, 0, kz_tensor_bytes(dtable));
  return DISPATCH(s, embedding_bwd, op, ids->data, dout->data, dtable->data, kz_tensor_numel(ids),
                  dtable->shape[0], dtable->shape[1], accumulate);
}

/* ---- the MLP's ops ------------------------------------------------------------ */

kz_status kz_op_dropout(kz_stream *s, const kz_tensor *x, kz_tensor *y, kz_tensor *mask, double p,
                        uint64_t key) {
  const char *op = "dropout";
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "y", y, KZ_F32));
  KZ_TRY(check(s, op, "mask", mask, KZ_F32));
  KZ_TRY(check_same_shape(op, "y", y, "x", x));
  KZ_TRY(check_same_shape(op, "mask", mask, "x", x));
  if (!(p >= 0.0 && p < 1.0))
    return kz_fail(KZ_ERR_INVALID_ARG, "dropout: p = %g, expected 0 <= p < 1", p);
  if (kz_tensor_numel(x) == 0) return KZ_OK;
  return DISPATCH(s, dropout_fwd, op, x->data, y->data, mask->data, kz_tensor_numel(x), p, key);
}

kz_status kz_op_dropout_bwd(kz_stream *s, const kz_tensor *dy, const kz_tensor *mask, kz_tensor *dx,
                            bool accumulate) {
  const char *op = "dropout_bwd";
  if (KZ_NOT_WANTED(dx)) return KZ_OK;
  KZ_TRY(check(s, op, "dy", dy, KZ_F32));
  KZ_TRY(check(s, op, "mask", mask, KZ_F32));
  KZ_TRY(check(s, op, "dx", dx, KZ_F32));
  KZ_TRY(check_same_shape(op, "mask", mask, "dy", dy));
  KZ_TRY(check_same_shape(op, "dx", dx, "dy", dy));
  if (kz_tensor_numel(dy) == 0) return KZ_OK;
  return DISPATCH(s, dropout_bwd, op, dy->data, mask->data, dx->data, kz_tensor_numel(dy),
                  accumulate);
}

kz_status kz_op_mse(kz_stream *s, const kz_tensor *pred, const kz_tensor *target,
                    kz_tensor *losses) {
  const char *op = "mse";
  KZ_TRY(check(s, op, "pred", pred, KZ_F32));
  KZ_TRY(check(s, op, "target", target, KZ_F32));
  KZ_TRY(check(s, op, "losses", losses, KZ_F32));
  KZ_TRY(check_same_shape(op, "target", target, "pred", pred));
  KZ_TRY(check_same_shape(op, "losses", losses, "pred", pred));
  if (kz_tensor_numel(pred) == 0) return KZ_OK;
  return DISPATCH(s, mse_fwd, op, pred->data, target->data, losses->data, kz_tensor_numel(pred));
}

kz_status kz_op_mse_bwd(kz_stream *s, const kz_tensor *pred, const kz_tensor *target,
                        kz_tensor *dpred, double scale, bool accumulate) {
  const char *op = "mse_bwd";
  if (KZ_NOT_WANTED(dpred)) return KZ_OK;
  KZ_TRY(check(s, op, "pred", pred, KZ_F32));
  KZ_TRY(check(s, op, "target", target, KZ_F32));
  KZ_TRY(check(s, op, "dpred", dpred, KZ_F32));
  KZ_TRY(check_same_shape(op, "target", target, "pred", pred));
  KZ_TRY(check_same_shape(op, "dpred", dpred, "pred", pred));
  if (!isfinite(scale)) return kz_fail(KZ_ERR_INVALID_ARG, "mse_bwd: scale must be finite");
  if (kz_tensor_numel(pred) == 0) return KZ_OK;
  return DISPATCH(s, mse_bwd, op, pred->data, target->data, dpred->data, kz_tensor_numel(pred),
                  scale, accumulate);
}

kz_status kz_op_standardize(kz_stream *s, const kz_tensor *v, const kz_tensor *mean,
                            const kz_tensor *std, const kz_tensor *miss, kz_tensor *x,
                            double inf_z) {
  const char *op = "standardize";
  KZ_TRY(check(s, op, "v", v, KZ_F32));
  KZ_TRY(check(s, op, "mean", mean, KZ_U8));
  KZ_TRY(check(s, op, "std", std, KZ_U8));
  KZ_TRY(check(s, op, "miss", miss, KZ_I32));
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  if (v->ndim != 2 || x->ndim != 2 || x->shape[0] != v->shape[0])
    return kz_fail(KZ_ERR_INVALID_ARG, "standardize: v %s and x %s must be [rows, C], [rows, X]",
                   describe(v), describe(x));
  const int64_t rows = v->shape[0], cols = v->shape[1];
  KZ_TRY(check_numel(op, "mean", mean, 8 * cols, "C doubles"));
  KZ_TRY(check_numel(op, "std", std, 8 * cols, "C doubles"));
  KZ_TRY(check_numel(op, "miss", miss, cols, "one per column"));
  if (((uintptr_t)mean->data | (uintptr_t)std->data) % 8 != 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "standardize: mean and std must be 8-byte aligned");
  if (x->shape[1] < cols)
    return kz_fail(KZ_ERR_INVALID_ARG, "standardize: x %s is narrower than v %s", describe(x),
                   describe(v));
  if (rows == 0 || cols == 0) return KZ_OK;
  /* The indicator positions are read on the host where they live (the model
   * keeps a host copy); on a GPU the caller vouches for them as for any data. */
  if (miss->device.kind == KZ_DEVICE_CPU) {
    const int32_t *mi = (const int32_t *)miss->data;
    for (int64_t i = 0; i < cols; ++i)
      if (mi[i] < -1 || mi[i] >= x->shape[1] - cols)
        return kz_fail(KZ_ERR_INVALID_ARG,
                       "standardize: miss[%lld] = %d is outside [-1, %lld) (x has %lld columns)",
                       (long long)i, mi[i], (long long)(x->shape[1] - cols),
                       (long long)x->shape[1]);
  }
  return DISPATCH(s, standardize_fwd, op, v->data, mean->data, std->data, miss->data, x->data, rows,
                  cols, x->shape[1], inf_z);
}

kz_status kz_op_copy_cols(kz_stream *s, const kz_tensor *src, int64_t src_col, kz_tensor *dst,
                          int64_t dst_col, int64_t cols) {
  const char *op = "copy_cols";
  KZ_TRY(check(s, op, "src", src, KZ_F32));
  KZ_TRY(check(s, op, "dst", dst, KZ_F32));
  if (src->ndim != 2 || dst->ndim != 2 || src->shape[0] != dst->shape[0])
    return kz_fail(KZ_ERR_INVALID_ARG, "copy_cols: src %s and dst %s must be 2-D with equal rows",
                   describe(src), describe(dst));
  if (cols < 0 || src_col < 0 || dst_col < 0 || src_col > src->shape[1] - cols ||
      dst_col > dst->shape[1] - cols)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "copy_cols: columns [%lld, +%lld) of src %s into [%lld, +%lld) of dst %s are "
                   "out of range",
                   (long long)src_col, (long long)cols, describe(src), (long long)dst_col,
                   (long long)cols, describe(dst));
  if (cols == 0 || src->shape[0] == 0) return KZ_OK;
  return DISPATCH(s, copy_cols, op, (const float *)src->data + src_col, src->shape[1],
                  (float *)dst->data + dst_col, dst->shape[1], src->shape[0], cols);
}

/* ---- the transformer encoder's ops ------------------------------------------- */

/* Two tensors' bytes overlap (empty tensors never do). */
static bool overlaps(const kz_tensor *a, const kz_tensor *b) {
  const char *pa = a->data, *pb = b->data;
  size_t na = kz_tensor_bytes(a), nb = kz_tensor_bytes(b);
  return na && nb && pa < pb + nb && pb < pa + na;
}

/* The kernels read an element before writing the same element and never
 * another, so an output may be an input (same data, same shape) but must not
 * overlap it at an offset. */
static kz_status check_alias(const char *op, const char *out_name, const kz_tensor *out,
                             const char *in_name, const kz_tensor *in) {
  if (out && in && overlaps(out, in) && out->data != in->data)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: %s %s partly overlaps %s %s (only an exact alias is allowed)", op, out_name,
                   describe(out), in_name, describe(in));
  return KZ_OK;
}

static kz_status check_distinct(const char *op, const char *a_name, const kz_tensor *a,
                                const char *b_name, const kz_tensor *b) {
  if (a && b && overlaps(a, b))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s %s and %s %s must not overlap", op, a_name,
                   describe(a), b_name, describe(b));
  return KZ_OK;
}

static kz_status check_dropout_p(const char *op, double p) {
  if (!(p >= 0.0 && p < 1.0))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: dropout p = %g, expected 0 <= p < 1", op, p);
  return KZ_OK;
}

static kz_status check_eps(const char *op, float eps) {
  if (!(eps > 0.0f) || !isfinite(eps))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: eps must be positive and finite, got %g", op, eps);
  return KZ_OK;
}

kz_status kz_op_residual_layernorm(kz_stream *s, const kz_tensor *x, const kz_tensor *h,
                                   const kz_tensor *gamma, const kz_tensor *beta, kz_tensor *y,
                                   kz_tensor *mean, kz_tensor *rstd, double dropout_p,
                                   uint64_t dropout_key, float eps) {
  return kz_op_residual_layernorm_r(s, x, h, gamma, beta, y, NULL, mean, rstd, dropout_p,
                                    dropout_key, eps);
}

kz_status kz_op_residual_layernorm_r(kz_stream *s, const kz_tensor *x, const kz_tensor *h,
                                     const kz_tensor *gamma, const kz_tensor *beta, kz_tensor *y,
                                     kz_tensor *r, kz_tensor *mean, kz_tensor *rstd,
                                     double dropout_p, uint64_t dropout_key, float eps) {
  const char *op = "residual_layernorm";
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "h", h, KZ_F32));
  KZ_TRY(check(s, op, "gamma", gamma, KZ_F32));
  KZ_TRY(check(s, op, "beta", beta, KZ_F32));
  KZ_TRY(check(s, op, "y", y, KZ_F32));
  KZ_TRY(check_same_shape(op, "h", h, "x", x));
  KZ_TRY(check_same_shape(op, "y", y, "x", x));
  const int64_t rows = kz_tensor_rows(x), cols = kz_tensor_cols(x);
  KZ_TRY(check_numel(op, "gamma", gamma, cols, "one per column of x"));
  KZ_TRY(check_numel(op, "beta", beta, cols, "one per column of x"));
  if (mean) KZ_TRY(check_row_stats(s, op, "mean", mean, rows));
  if (rstd) KZ_TRY(check_row_stats(s, op, "rstd", rstd, rows));
  if (r) {
    KZ_TRY(check(s, op, "r", r, KZ_F32));
    KZ_TRY(check_same_shape(op, "r", r, "x", x));
    KZ_TRY(check_distinct(op, "r", r, "y", y));
    KZ_TRY(check_alias(op, "r", r, "x", x));
    KZ_TRY(check_alias(op, "r", r, "h", h));
  }
  KZ_TRY(check_alias(op, "y", y, "x", x));
  KZ_TRY(check_alias(op, "y", y, "h", h));
  KZ_TRY(check_dropout_p(op, dropout_p));
  KZ_TRY(check_eps(op, eps));
  if (cols == 0) return kz_fail(KZ_ERR_INVALID_ARG, "%s: x %s has zero columns", op, describe(x));
  if (rows == 0) return KZ_OK;
  return DISPATCH(s, residual_layernorm_fwd, op, x->data, h->data, gamma->data, beta->data, y->data,
                  r ? r->data : NULL, mean ? mean->data : NULL, rstd ? rstd->data : NULL, rows,
                  cols, dropout_p, dropout_key, eps);
}

kz_status kz_op_residual_layernorm_bwd(kz_stream *s, const kz_tensor *dy, const kz_tensor *y,
                                       const kz_tensor *r, const kz_tensor *gamma,
                                       const kz_tensor *beta, const kz_tensor *mean,
                                       const kz_tensor *rstd, kz_tensor *dx, kz_tensor *dh,
                                       kz_tensor *dgamma, kz_tensor *dbeta, double dropout_p,
                                       uint64_t dropout_key, float eps, bool accumulate) {
  const char *op = "residual_layernorm_bwd";
  KZ_TRY(check(s, op, "dy", dy, KZ_F32));
  KZ_TRY(check(s, op, "gamma", gamma, KZ_F32));
  const int64_t rows = kz_tensor_rows(dy), cols = kz_tensor_cols(dy);
  KZ_TRY(check_numel(op, "gamma", gamma, cols, "one per column of dy"));
  KZ_TRY(check_row_stats(s, op, "rstd", rstd, rows));
  /* xhat comes from r when it was saved, otherwise from y (see ops.h). */
  const kz_tensor *saved = r ? r : y;
  if (r) {
    KZ_TRY(check(s, op, "r", r, KZ_F32));
    KZ_TRY(check_same_shape(op, "r", r, "dy", dy));
    KZ_TRY(check_row_stats(s, op, "mean", mean, rows));
  } else {
    if (!y) return kz_fail(KZ_ERR_INVALID_ARG, "%s: y (or the saved sum r) is missing", op);
    KZ_TRY(check(s, op, "y", y, KZ_F32));
    KZ_TRY(check_same_shape(op, "y", y, "dy", dy));
    KZ_TRY(check(s, op, "beta", beta, KZ_F32));
    KZ_TRY(check_numel(op, "beta", beta, cols, "one per column of dy"));
  }
  if (dx) {
    KZ_TRY(check(s, op, "dx", dx, KZ_F32));
    KZ_TRY(check_same_shape(op, "dx", dx, "dy", dy));
    KZ_TRY(check_alias(op, "dx", dx, "dy", dy));
    KZ_TRY(check_distinct(op, "dx", dx, r ? "r" : "y", saved));
  }
  if (dh) {
    KZ_TRY(check(s, op, "dh", dh, KZ_F32));
    KZ_TRY(check_same_shape(op, "dh", dh, "dy", dy));
    KZ_TRY(check_alias(op, "dh", dh, "dy", dy));
    KZ_TRY(check_distinct(op, "dh", dh, r ? "r" : "y", saved));
    KZ_TRY(check_distinct(op, "dh", dh, "dx", dx));
  }
  if (dgamma) {
    KZ_TRY(check(s, op, "dgamma", dgamma, KZ_F32));
    KZ_TRY(check_numel(op, "dgamma", dgamma, cols, "one per column of dy"));
  }
  if (dbeta) {
    KZ_TRY(check(s, op, "dbeta", dbeta, KZ_F32));
    KZ_TRY(check_numel(op, "dbeta", dbeta, cols, "one per column of dy"));
  }
  KZ_TRY(check_dropout_p(op, dropout_p));
  KZ_TRY(check_eps(op, eps));
  if (cols == 0 || (!dx && !dh && !dgamma && !dbeta)) return KZ_OK;
  /* From y, xhat = (y - beta) / gamma: a zero gamma has lost its column.
   * Host-resident gammas are checked here (C values); on a GPU the caller
   * vouches for them, as for any data. */
  if (!r && gamma->device.kind == KZ_DEVICE_CPU)
    for (int64_t c = 0; c < cols; ++c)
      if (((const float *)gamma->data)[c] == 0.0f)
        return kz_fail(KZ_ERR_INVALID_ARG,
                       "%s: gamma[%lld] is 0, so y no longer holds that column's input: save r "
                       "in the forward (kz_op_residual_layernorm_r) and pass it",
                       op, (long long)c);
  if (rows == 0) {
    if (accumulate) return KZ_OK;
    if (dgamma) KZ_TRY(kz_fill_bytes(s, dgamma->data, 0, kz_tensor_bytes(dgamma)));
    if (dbeta) KZ_TRY(kz_fill_bytes(s, dbeta->data, 0, kz_tensor_bytes(dbeta)));
    return KZ_OK;
  }
  return DISPATCH(s, residual_layernorm_bwd, op, dy->data, r ? NULL : y->data, r ? r->data : NULL,
                  gamma->data, r ? NULL : beta->data, r ? mean->data : NULL, rstd->data,
                  dx ? dx->data : NULL, dh ? dh->data : NULL, dgamma ? dgamma->data : NULL,
                  dbeta ? dbeta->data : NULL, rows, cols, dropout_p, dropout_key, accumulate);
}

/* x [N, D] (or [B, T, D]: N = B*T rows), idx (any shape, M elements) and
 * rows [M, D] (any shape ending in D). */
static kz_status check_gather(kz_stream *s, const char *op, const kz_tensor *x, const char *x_name,
                              const kz_tensor *idx, const kz_tensor *rows, const char *rows_name) {
  KZ_TRY(check(s, op, x_name, x, KZ_F32));
  KZ_TRY(check(s, op, "idx", idx, KZ_I32));
  KZ_TRY(check(s, op, rows_name, rows, KZ_F32));
  if (x->ndim < 2)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s must be [N, D] or [B, T, D], got %s", op, x_name,
                   describe(x));
  const int64_t dim = kz_tensor_cols(x);
  if (kz_tensor_cols(rows) != dim)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s %s must end in %s's D = %lld", op, rows_name,
                   describe(rows), x_name, (long long)dim);
  KZ_TRY(check_numel(op, rows_name, rows, kz_tensor_numel(idx) * dim, "one row per index"));
  return check_distinct(op, rows_name, rows, x_name, x);
}

kz_status kz_op_gather_rows(kz_stream *s, const kz_tensor *x, const kz_tensor *idx,
                            kz_tensor *out) {
  const char *op = "gather_rows";
  KZ_TRY(check_gather(s, op, x, "x", idx, out, "out"));
  if (kz_tensor_numel(out) == 0) return KZ_OK;
  return DISPATCH(s, gather_rows_fwd, op, x->data, idx->data, out->data, kz_tensor_numel(idx),
                  kz_tensor_rows(x), kz_tensor_cols(x));
}

kz_status kz_op_gather_rows_bwd(kz_stream *s, const kz_tensor *idx, const kz_tensor *dout,
                                kz_tensor *dx, bool accumulate) {
  const char *op = "gather_rows_bwd";
  if (KZ_NOT_WANTED(dx)) return KZ_OK;
  KZ_TRY(check_gather(s, op, dx, "dx", idx, dout, "dout"));
  if (kz_tensor_numel(dx) == 0) return KZ_OK;
  if (kz_tensor_numel(idx) == 0)
    return accumulate ? KZ_OK : kz_fill_bytes(s, dx->data, 0, kz_tensor_bytes(dx));
  return DISPATCH(s, gather_rows_bwd, op, idx->data, dout->data, dx->data, kz_tensor_numel(idx),
                  kz_tensor_rows(dx), kz_tensor_cols(dx), accumulate);
}

/* logits [B*T, 2] (or [B, T, 2]); lengths, starts, ends [B]. Sets *batch, *seq. */
static kz_status check_qa(kz_stream *s, const char *op, const kz_tensor *logits,
                          const kz_tensor *lengths, const kz_tensor *starts, const kz_tensor *ends,
                          int64_t *batch, int64_t *seq) {
  KZ_TRY(check(s, op, "logits", logits, KZ_F32));
  KZ_TRY(check(s, op, "lengths", lengths, KZ_I32));
  KZ_TRY(check(s, op, "starts", starts, KZ_I32));
  KZ_TRY(check(s, op, "ends", ends, KZ_I32));
  const int64_t b = kz_tensor_numel(lengths), rows = kz_tensor_rows(logits);
  KZ_TRY(check_numel(op, "starts", starts, b, "one per sequence, like lengths"));
  KZ_TRY(check_numel(op, "ends", ends, b, "one per sequence, like lengths"));
  if (kz_tensor_cols(logits) != 2)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: logits %s must end in 2 (start, end)", op,
                   describe(logits));
  if ((b == 0) != (rows == 0) || (b > 0 && rows % b != 0))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: logits %s must hold T positions for each of the %lld sequences", op,
                   describe(logits), (long long)b);
  *batch = b;
  *seq = b > 0 ? rows / b : 0;
  return KZ_OK;
}

kz_status kz_op_qa_span_loss(kz_stream *s, const kz_tensor *logits, const kz_tensor *lengths,
                             const kz_tensor *starts, const kz_tensor *ends, kz_tensor *losses) {
  const char *op = "qa_span_loss";
  int64_t batch = 0, seq = 0;
  KZ_TRY(check_qa(s, op, logits, lengths, starts, ends, &batch, &seq));
  KZ_TRY(check(s, op, "losses", losses, KZ_F32));
  KZ_TRY(check_numel(op, "losses", losses, batch, "one per sequence"));
  if (batch == 0) return KZ_OK;
  return DISPATCH(s, qa_span_loss_fwd, op, logits->data, lengths->data, starts->data, ends->data,
                  losses->data, batch, seq);
}

kz_status kz_op_qa_span_loss_bwd(kz_stream *s, const kz_tensor *logits, const kz_tensor *lengths,
                                 const kz_tensor *starts, const kz_tensor *ends,
                                 const kz_tensor *dloss, kz_tensor *dlogits, bool accumulate) {
  const char *op = "qa_span_loss_bwd";
  int64_t batch = 0, seq = 0;
  KZ_TRY(check_qa(s, op, logits, lengths, starts, ends, &batch, &seq));
  KZ_TRY(check(s, op, "dloss", dloss, KZ_F32));
  KZ_TRY(check_numel(op, "dloss", dloss, batch, "one per sequence"));
  if (KZ_NOT_WANTED(dlogits)) return KZ_OK;
  KZ_TRY(check(s, op, "dlogits", dlogits, KZ_F32));
  KZ_TRY(check_same_shape(op, "dlogits", dlogits, "logits", logits));
  KZ_TRY(check_distinct(op, "dlogits", dlogits, "logits", logits));
  if (batch == 0) return KZ_OK;
  return DISPATCH(s, qa_span_loss_bwd, op, logits->data, lengths->data, starts->data, ends->data,
                  dloss->data, dlogits->data, batch, seq, accumulate);
}

/* ---- permute ------------------------------------------------------------------ */

/* Checks x -> y under perm and pads both to the 4-D form of kz_permute_shape. */
static kz_status check_permute(kz_stream *s, const char *op, const kz_tensor *x, const char *xname,
                               const kz_tensor *y, const char *yname, const int *perm,
                               kz_permute_shape *sh) {
  KZ_TRY(check(s, op, xname, x, KZ_F32));
  KZ_TRY(check(s, op, yname, y, KZ_F32));
  if (!perm) return kz_fail(KZ_ERR_INVALID_ARG, "%s: perm is missing", op);
  const int nd = x->ndim, pad = KZ_MAX_DIMS - nd;
  bool seen[KZ_MAX_DIMS] = {false};
  for (int j = 0; j < nd; ++j) {
    if (perm[j] < 0 || perm[j] >= nd || seen[perm[j]])
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: perm is not a permutation of the %d dims of %s %s",
                     op, nd, xname, describe(x));
    seen[perm[j]] = true;
  }
  bool shape_ok = y->ndim == nd;
  for (int j = 0; shape_ok && j < nd; ++j) shape_ok = y->shape[j] == x->shape[perm[j]];
  if (!shape_ok)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s %s must be %s %s with its dims permuted", op, yname,
                   describe(y), xname, describe(x));
  /* The kernels read x while writing y in another order: any overlap would
   * read values already overwritten. */
  const char *xb = x->data, *yb = y->data;
  size_t bytes = kz_tensor_bytes(x);
  if (bytes && xb < yb + bytes && yb < xb + bytes)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s and %s overlap (permute is not in place)", op, yname,
                   xname);
  for (int d = 0; d < KZ_MAX_DIMS; ++d) {
    sh->in[d] = d < pad ? 1 : x->shape[d - pad];
    sh->perm[d] = d < pad ? d : perm[d - pad] + pad;
  }
  return KZ_OK;
}

kz_status kz_op_permute(kz_stream *s, const kz_tensor *x, kz_tensor *y, const int *perm) {
  const char *op = "permute";
  kz_permute_shape sh;
  KZ_TRY(check_permute(s, op, x, "x", y, "y", perm, &sh));
  if (kz_tensor_numel(x) == 0) return KZ_OK;
  return DISPATCH(s, permute, op, x->data, y->data, &sh, false);
}

kz_status kz_op_permute_bwd(kz_stream *s, const kz_tensor *dy, kz_tensor *dx, const int *perm,
                            bool accumulate) {
  const char *op = "permute_bwd";
  if (KZ_NOT_WANTED(dx)) return KZ_OK;
  if (!perm) return kz_fail(KZ_ERR_INVALID_ARG, "%s: perm is missing", op);
  if (!dy) return kz_fail(KZ_ERR_INVALID_ARG, "%s: dy is missing", op);
  /* dx[i] gathers dy along the inverse permutation: dx's dim perm[j] is dy's dim j. */
  int inv[KZ_MAX_DIMS] = {0};
  bool seen[KZ_MAX_DIMS] = {false};
  const int nd = dy->ndim >= 1 && dy->ndim <= KZ_MAX_DIMS ? dy->ndim : 0;
  for (int j = 0; j < nd; ++j) {
    if (perm[j] < 0 || perm[j] >= nd || seen[perm[j]])
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: perm is not a permutation of the %d dims of dy %s",
                     op, nd, describe(dy));
    seen[perm[j]] = true;
    inv[perm[j]] = j;
  }
  kz_permute_shape sh;
  KZ_TRY(check_permute(s, op, dy, "dy", dx, "dx", inv, &sh));
  if (kz_tensor_numel(dy) == 0) return KZ_OK;
  return DISPATCH(s, permute, op, dy->data, dx->data, &sh, accumulate);
}

/* ---- optimizer and casts ------------------------------------------------------- */

kz_status kz_op_ewc_grad(kz_stream *s, const kz_tensor *params, const kz_tensor *anchor,
                         const kz_tensor *fisher, kz_tensor *grads, float lambda) {
  const char *op = "ewc_grad";
  KZ_TRY(check(s, op, "params", params, KZ_F32));
  KZ_TRY(check(s, op, "anchor", anchor, KZ_F32));
  KZ_TRY(check(s, op, "fisher", fisher, KZ_F32));
  KZ_TRY(check(s, op, "grads", grads, KZ_F32));
  KZ_TRY(check_same_shape(op, "anchor", anchor, "params", params));
  KZ_TRY(check_same_shape(op, "fisher", fisher, "params", params));
  KZ_TRY(check_same_shape(op, "grads", grads, "params", params));
  if (!(lambda >= 0.0f) || !isfinite(lambda))
    return kz_fail(KZ_ERR_INVALID_ARG, "ewc_grad: lambda must be >= 0 and finite, got %g",
                   (double)lambda);
  if (kz_tensor_numel(params) == 0) return KZ_OK;
  return DISPATCH(s, ewc_grad, op, params->data, anchor->data, fisher->data, grads->data,
                  kz_tensor_numel(params), lambda);
}

kz_status kz_op_adamw(kz_stream *s, kz_tensor *params, const kz_tensor *grads, kz_tensor *m,
                      kz_tensor *v, kz_tensor *params_bf16, const kz_adamw_hparams *hp) {
  const char *op = "adamw";
  KZ_TRY(check(s, op, "params", params, KZ_F32));
  KZ_TRY(check(s, op, "grads", grads, KZ_F32));
  KZ_TRY(check(s, op, "m", m, KZ_F32));
  KZ_TRY(check(s, op, "v", v, KZ_F32));
  KZ_TRY(check_same_shape(op, "grads", grads, "params", params));
  KZ_TRY(check_same_shape(op, "m", m, "params", params));
  KZ_TRY(check_same_shape(op, "v", v, "params", params));
  if (params_bf16) {
    KZ_TRY(check(s, op, "params_bf16", params_bf16, KZ_BF16));
    KZ_TRY(check_same_shape(op, "params_bf16", params_bf16, "params", params));
  }
  if (!hp) return kz_fail(KZ_ERR_INVALID_ARG, "adamw: hyper-parameters are missing");
  if (!(hp->lr >= 0.0f) || !isfinite(hp->lr))
    return kz_fail(KZ_ERR_INVALID_ARG, "adamw: lr must be >= 0 and finite, got %g", hp->lr);
  if (!(hp->beta1 >= 0.0f && hp->beta1 < 1.0f) || !(hp->beta2 >= 0.0f && hp->beta2 < 1.0f))
    return kz_fail(KZ_ERR_INVALID_ARG, "adamw: betas must lie in [0, 1), got %g and %g", hp->beta1,
                   hp->beta2);
  if (!(hp->eps > 0.0f) || !isfinite(hp->eps))
    return kz_fail(KZ_ERR_INVALID_ARG, "adamw: eps must be positive, got %g", hp->eps);
  if (!(hp->weight_decay >= 0.0f) || !isfinite(hp->weight_decay) || !isfinite(hp->grad_scale))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "adamw: weight_decay must be >= 0 and grad_scale finite, got %g and %g",
                   hp->weight_decay, hp->grad_scale);
  if (hp->step < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "adamw: step counts from 1, got %lld", (long long)hp->step);
  if (kz_tensor_numel(params) == 0) return KZ_OK;
  return DISPATCH(s, adamw, op, params->data, grads->data, m->data, v->data,
                  params_bf16 ? params_bf16->data : NULL, kz_tensor_numel(params), hp);
}

kz_status kz_op_cast(kz_stream *s, const kz_tensor *x, kz_tensor *y) {
  const char *op = "cast";
  if (!x || !y) return kz_fail(KZ_ERR_INVALID_ARG, "cast: x and y are required");
  bool to_bf16 = x->dtype == KZ_F32;
  KZ_TRY(check(s, op, "x", x, to_bf16 ? KZ_F32 : KZ_BF16));
  KZ_TRY(check(s, op, "y", y, to_bf16 ? KZ_BF16 : KZ_F32));
  KZ_TRY(check_same_shape(op, "y", y, "x", x));
  if (kz_tensor_numel(x) == 0) return KZ_OK;
  if (to_bf16) return DISPATCH(s, cast_f32_to_bf16, op, x->data, y->data, kz_tensor_numel(x));
  return DISPATCH(s, cast_bf16_to_f32, op, x->data, y->data, kz_tensor_numel(x));
}

/* ---- unary elementwise ops (generated from the op list) ------------------------ */

typedef kz_status(*unary_fwd_fn) KZ_UNARY_FWD_PARAMS;
typedef kz_status(*unary_bwd_fn) KZ_UNARY_BWD_PARAMS;

/* static inline: a list without unary rows leaves them unused. */
static inline kz_status unary_fwd(kz_stream *s, const char *op, unary_fwd_fn fn, const kz_tensor *x,
                                  kz_tensor *y, float param) {
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "y", y, KZ_F32));
  KZ_TRY(check_same_shape(op, "y", y, "x", x));
  if (!isfinite(param))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the parameter must be finite, got %g", op, param);
  if (kz_tensor_numel(x) == 0) return KZ_OK;
  if (!fn) return unsupported(s, op);
  return fn(s, x->data, y->data, kz_tensor_numel(x), param);
}

static inline kz_status unary_bwd(kz_stream *s, const char *op, unary_bwd_fn fn, const kz_tensor *x,
                                  const kz_tensor *dy, kz_tensor *dx, float param,
                                  bool accumulate) {
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "dy", dy, KZ_F32));
  KZ_TRY(check_same_shape(op, "dy", dy, "x", x));
  if (KZ_NOT_WANTED(dx)) return KZ_OK;
  KZ_TRY(check(s, op, "dx", dx, KZ_F32));
  KZ_TRY(check_same_shape(op, "dx", dx, "x", x));
  if (!isfinite(param))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the parameter must be finite, got %g", op, param);
  if (kz_tensor_numel(x) == 0) return KZ_OK;
  if (!fn) return unsupported(s, op);
  return fn(s, x->data, dy->data, dx->data, kz_tensor_numel(x), param, accumulate);
}

#define KZ_UNARY(name, param, ...)                                                                 \
  kz_status kz_op_##name(kz_stream *s, const kz_tensor *x, kz_tensor *y, float param) {            \
    return unary_fwd(s, #name, s->backend->ops.name##_fwd, x, y, param);                           \
  }                                                                                                \
  kz_status kz_op_##name##_bwd(kz_stream *s, const kz_tensor *x, const kz_tensor *dy,              \
                               kz_tensor *dx, float param, bool accumulate) {                      \
    return unary_bwd(s, #name "_bwd", s->backend->ops.name##_bwd, x, dy, dx, param, accumulate);   \
  }
KZ_OP_UNARIES()
#undef KZ_UNARY

/* ---- the TFT's ops ------------------------------------------------------------- */

/* rows x hidden from c_prev's last dim; gates must hold 4 * rows * hidden. */
static kz_status lstm_dims(const char *op, const kz_tensor *gates, const kz_tensor *c_prev,
                           int64_t *rows, int64_t *hidden) {
  *hidden = kz_tensor_cols(c_prev);
  *rows = kz_tensor_rows(c_prev);
  if (kz_tensor_cols(gates) != 4 * *hidden)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: gates %s must have 4 * %lld columns (i, f, g, o)", op,
                   describe(gates), (long long)*hidden);
  return check_numel(op, "gates", gates, 4 * *rows * *hidden, "rows x 4*hidden");
}

kz_status kz_op_lstm_cell(kz_stream *s, const kz_tensor *gates, const kz_tensor *c_prev,
                          kz_tensor *h, kz_tensor *c) {
  const char *op = "lstm_cell";
  KZ_TRY(check(s, op, "gates", gates, KZ_F32));
  KZ_TRY(check(s, op, "c_prev", c_prev, KZ_F32));
  KZ_TRY(check(s, op, "h", h, KZ_F32));
  KZ_TRY(check(s, op, "c", c, KZ_F32));
  int64_t rows = 0, hidden = 0;
  KZ_TRY(lstm_dims(op, gates, c_prev, &rows, &hidden));
  KZ_TRY(check_same_shape(op, "h", h, "c_prev", c_prev));
  KZ_TRY(check_same_shape(op, "c", c, "c_prev", c_prev));
  if (rows * hidden == 0) return KZ_OK;
  return DISPATCH(s, lstm_cell_fwd, op, gates->data, c_prev->data, h->data, c->data, rows, hidden);
}

kz_status kz_op_lstm_cell_bwd(kz_stream *s, const kz_tensor *gates, const kz_tensor *c_prev,
                              const kz_tensor *c, const kz_tensor *dh, const kz_tensor *dc,
                              kz_tensor *dgates, kz_tensor *dc_prev, bool accumulate) {
  const char *op = "lstm_cell_bwd";
  if (KZ_NOT_WANTED(dgates) && KZ_NOT_WANTED(dc_prev)) return KZ_OK;
  KZ_TRY(check(s, op, "gates", gates, KZ_F32));
  KZ_TRY(check(s, op, "c_prev", c_prev, KZ_F32));
  KZ_TRY(check(s, op, "c", c, KZ_F32));
  KZ_TRY(check(s, op, "dh", dh, KZ_F32));
  int64_t rows = 0, hidden = 0;
  KZ_TRY(lstm_dims(op, gates, c_prev, &rows, &hidden));
  KZ_TRY(check_same_shape(op, "c", c, "c_prev", c_prev));
  KZ_TRY(check_same_shape(op, "dh", dh, "c_prev", c_prev));
  if (dc) {
    KZ_TRY(check(s, op, "dc", dc, KZ_F32));
    KZ_TRY(check_same_shape(op, "dc", dc, "c_prev", c_prev));
  }
  if (dgates) {
    KZ_TRY(check(s, op, "dgates", dgates, KZ_F32));
    KZ_TRY(check_same_shape(op, "dgates", dgates, "gates", gates));
  }
  if (dc_prev) {
    KZ_TRY(check(s, op, "dc_prev", dc_prev, KZ_F32));
    KZ_TRY(check_same_shape(op, "dc_prev", dc_prev, "c_prev", c_prev));
  }
  if (rows * hidden == 0) return KZ_OK;
  return DISPATCH(s, lstm_cell_bwd, op, gates->data, c_prev->data, c->data, dh->data,
                  dc ? dc->data : NULL, dgates ? dgates->data : NULL,
                  dc_prev ? dc_prev->data : NULL, rows, hidden, accumulate);
}

static kz_status glu_dims(const char *op, const kz_tensor *x, const kz_tensor *y, int64_t *rows,
                          int64_t *cols) {
  *cols = kz_tensor_cols(y);
  *rows = kz_tensor_rows(y);
  if (kz_tensor_cols(x) != 2 * *cols || kz_tensor_rows(x) != *rows)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: x %s must be [rows, 2 * cols] for %s", op, describe(x),
                   describe(y));
  return KZ_OK;
}

kz_status kz_op_glu(kz_stream *s, const kz_tensor *x, kz_tensor *y) {
  const char *op = "glu";
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "y", y, KZ_F32));
  int64_t rows = 0, cols = 0;
  KZ_TRY(glu_dims(op, x, y, &rows, &cols));
  if (rows * cols == 0) return KZ_OK;
  return DISPATCH(s, glu_fwd, op, x->data, y->data, rows, cols);
}

kz_status kz_op_glu_bwd(kz_stream *s, const kz_tensor *x, const kz_tensor *dy, kz_tensor *dx,
                        bool accumulate) {
  const char *op = "glu_bwd";
  if (KZ_NOT_WANTED(dx)) return KZ_OK;
  KZ_TRY(check(s, op, "x", x, KZ_F32));
  KZ_TRY(check(s, op, "dy", dy, KZ_F32));
  KZ_TRY(check(s, op, "dx", dx, KZ_F32));
  int64_t rows = 0, cols = 0;
  KZ_TRY(glu_dims(op, x, dy, &rows, &cols));
  KZ_TRY(check_same_shape(op, "dx", dx, "x", x));
  if (rows * cols == 0) return KZ_OK;
  return DISPATCH(s, glu_bwd, op, x->data, dy->data, dx->data, rows, cols, accumulate);
}

static kz_status qloss_check(kz_stream *s, const char *op, const kz_tensor *pred,
                             const kz_tensor *target, const kz_tensor *quantiles,
                             const char *out_name, const kz_tensor *out) {
  KZ_TRY(check(s, op, "pred", pred, KZ_F32));
  KZ_TRY(check(s, op, "target", target, KZ_F32));
  KZ_TRY(check(s, op, "quantiles", quantiles, KZ_F32));
  KZ_TRY(check(s, op, out_name, out, KZ_F32));
  KZ_TRY(check_numel(op, "quantiles", quantiles, kz_tensor_cols(pred), "one per column of pred"));
  KZ_TRY(check_numel(op, "target", target, kz_tensor_rows(pred), "one per row of pred"));
  return check_same_shape(op, out_name, out, "pred", pred);
}

kz_status kz_op_quantile_loss(kz_stream *s, const kz_tensor *pred, const kz_tensor *target,
                              const kz_tensor *quantiles, kz_tensor *losses) {
  const char *op = "quantile_loss";
  KZ_TRY(qloss_check(s, op, pred, target, quantiles, "losses", losses));
  if (kz_tensor_numel(pred) == 0) return KZ_OK;
  return DISPATCH(s, quantile_loss_fwd, op, pred->data, target->data, quantiles->data, losses->data,
                  kz_tensor_rows(pred), kz_tensor_cols(pred));
}

kz_status kz_op_quantile_loss_bwd(kz_stream *s, const kz_tensor *pred, const kz_tensor *target,
                                  const kz_tensor *quantiles, kz_tensor *dpred, double scale,
                                  bool accumulate) {
  const char *op = "quantile_loss_bwd";
  if (KZ_NOT_WANTED(dpred)) return KZ_OK;
  KZ_TRY(qloss_check(s, op, pred, target, quantiles, "dpred", dpred));
  if (!isfinite(scale)) return kz_fail(KZ_ERR_INVALID_ARG, "%s: scale must be finite", op);
  if (kz_tensor_numel(pred) == 0) return KZ_OK;
  return DISPATCH(s, quantile_loss_bwd, op, pred->data, target->data, quantiles->data, dpred->data,
                  kz_tensor_rows(pred), kz_tensor_cols(pred), scale, accumulate);
}
