/* Validated wrappers of the LoRA op pair (ops.h): every shape is checked
 * here, so the backends (kernels/core/lora_gemms.h on their GEMMs) trust
 * their arguments. */
#include "kernels/core/error.h"
#include "kernels/ops_internal.h"

static kz_status unsupported(const kz_stream *s, const char *op) {
  return kz_fail(KZ_ERR_UNSUPPORTED, "%s: not implemented by the %s backend", op, s->backend->name);
}

typedef struct lora_dims {
  int64_t rows, in, rank, out, ld;
} lora_dims;

/* x [R, K], a [r, K], b [M, r], u [R, r], y [R, ld] with col + M <= ld. */
static kz_status lora_check(kz_stream *s, const char *op, const kz_tensor *x, const kz_tensor *a,
                            const kz_tensor *b, const kz_tensor *u, const char *yname,
                            const kz_tensor *y, int64_t col, float scale, lora_dims *d) {
  KZ_TRY(kz_ops_check(s, op, "x", x, KZ_F32));
  KZ_TRY(kz_ops_check(s, op, "a", a, KZ_F32));
  KZ_TRY(kz_ops_check(s, op, "b", b, KZ_F32));
  KZ_TRY(kz_ops_check(s, op, "u", u, KZ_F32));
  KZ_TRY(kz_ops_check(s, op, yname, y, KZ_F32));
  d->rows = kz_tensor_rows(x), d->in = kz_tensor_cols(x);
  d->rank = kz_tensor_rows(a), d->out = kz_tensor_rows(b), d->ld = kz_tensor_cols(y);
  if (a->ndim != 2 || b->ndim != 2 || kz_tensor_cols(a) != d->in || kz_tensor_cols(b) != d->rank)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: a %s must be [rank, %lld] and b %s [out, rank]", op,
                   kz_ops_describe(a), (long long)d->in, kz_ops_describe(b));
  if (d->rank < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: rank %lld (a %s), need at least 1", op,
                   (long long)d->rank, kz_ops_describe(a));
  if (kz_tensor_rows(u) != d->rows || kz_tensor_cols(u) != d->rank)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: u %s must be [%lld, %lld] (rows of x, rank)", op,
                   kz_ops_describe(u), (long long)d->rows, (long long)d->rank);
  if (kz_tensor_rows(y) != d->rows || col < 0 || col + d->out > d->ld)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: %s %s must have %lld rows and columns [%lld, %lld) for b's %lld outputs",
                   op, yname, kz_ops_describe(y), (long long)d->rows, (long long)col,
                   (long long)(col + d->out), (long long)d->out);
  if (!(scale == scale) || scale - scale != 0.0f)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: scale %g is not finite", op, (double)scale);
  return KZ_OK;
}

static kz_status grad_check(kz_stream *s, const char *op, const char *arg, const kz_tensor *t,
                            int64_t rows, int64_t cols) {
  if (!t) return KZ_OK;
  KZ_TRY(kz_ops_check(s, op, arg, t, KZ_F32));
  if (kz_tensor_rows(t) != rows || kz_tensor_cols(t) != cols)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s %s must be [%lld, %lld]", op, arg,
                   kz_ops_describe(t), (long long)rows, (long long)cols);
  return KZ_OK;
}

kz_status kz_op_lora(kz_stream *s, const kz_tensor *x, const kz_tensor *a, const kz_tensor *b,
                     kz_tensor *u, kz_tensor *y, int64_t y_col, float scale) {
  const char *op = "lora";
  lora_dims d;
  KZ_TRY(lora_check(s, op, x, a, b, u, "y", y, y_col, scale, &d));
  if (d.rows == 0) return KZ_OK;
  if (!s->backend->ops.lora_fwd) return unsupported(s, op);
  return s->backend->ops.lora_fwd(s, x->data, a->data, b->data, u->data, (float *)y->data + y_col,
                                  d.rows, d.in, d.rank, d.out, d.ld, scale);
}

kz_status kz_op_lora_bwd(kz_stream *s, const kz_tensor *x, const kz_tensor *a, const kz_tensor *b,
                         const kz_tensor *u, const kz_tensor *dy, int64_t dy_col, kz_tensor *du,
                         kz_tensor *dx, kz_tensor *da, kz_tensor *db, float scale,
                         bool accumulate) {
  const char *op = "lora_bwd";
  lora_dims d;
  KZ_TRY(lora_check(s, op, x, a, b, u, "dy", dy, dy_col, scale, &d));
  KZ_TRY(kz_ops_check(s, op, "du", du, KZ_F32));
  KZ_TRY(grad_check(s, op, "du", du, d.rows, d.rank));
  KZ_TRY(grad_check(s, op, "dx", dx, d.rows, d.in));
  KZ_TRY(grad_check(s, op, "da", da, d.rank, d.in));
  KZ_TRY(grad_check(s, op, "db", db, d.out, d.rank));
  if (!dx && !da && !db) return KZ_OK;
  if (!s->backend->ops.lora_bwd) return unsupported(s, op);
  return s->backend->ops.lora_bwd(s, x->data, a->data, b->data, u->data,
                                  (const float *)dy->data + dy_col, du->data, dx ? dx->data : NULL,
                                  da ? da->data : NULL, db ? db->data : NULL, d.rows, d.in, d.rank,
                                  d.out, d.ld, scale, accumulate);
}
