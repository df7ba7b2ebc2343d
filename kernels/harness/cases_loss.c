/* Cross-entropy and embedding cases. Targets include ignored rows (every
 * fourth); ids repeat (a small vocabulary) so the backward has to sum
 * several rows into one, and some table rows are never referenced, so a
 * non-accumulating backward has to zero them. */
#include "kernels/harness/case_build.h"
#include "kernels/ref/ref_ops.h"

#define IGNORE_INDEX (-100)

static int64_t rows_of(const kz_arg_spec *a) {
  return a->shape[0];
}

static void ignore_some(const kz_op_case *c, kz_host_arg *h) {
  for (int64_t r = 3; r < h[1].n; r += 4) h[1].i[r] = c->p.loss.ignore_index;
}

/* ---- cross_entropy ---------------------------------------------------------- */
static kz_status ce_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_cross_entropy(s, &t[0], &t[1], &t[2], c->p.loss.ignore_index);
}

static void ce_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *lg = &c->args[0];
  kz_ref_cross_entropy_fwd(h[0].f, h[1].i, h[2].f, rows_of(lg), lg->shape[1],
                           c->p.loss.ignore_index);
}

kz_op_case *kz_case_cross_entropy(kz_op_case_list *l, int64_t rows, int64_t classes) {
  kz_op_case *c = kz_case_new(l, "cross_entropy", ce_invoke, ce_ref, "cross_entropy %lldx%lld",
                              (long long)rows, (long long)classes);
  int64_t shape[2] = {rows, classes};
  kz_arg_normal(kz_case_arg(c, "logits", KZ_F32, KZ_ARG_IN, 2, shape), 0, 2);
  kz_arg_ints(kz_case_arg(c, "targets", KZ_I32, KZ_ARG_IN, 1, &rows), 0, classes);
  kz_case_arg(c, "losses", KZ_F32, KZ_ARG_OUT, 1, &rows);
  c->fixup = ignore_some;
  c->p.loss.ignore_index = IGNORE_INDEX;
  c->flops = 4.0 * (double)(rows * classes);
  c->bytes = 4.0 * (double)(rows * classes) + 8.0 * (double)rows;
  return c;
}

static kz_status ce_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_cross_entropy_bwd(s, &t[0], &t[1], &t[2], &t[3], c->p.loss.ignore_index,
                                 c->p.accumulate);
}

static void ce_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *lg = &c->args[0];
  kz_ref_cross_entropy_bwd(h[0].f, h[1].i, h[2].f, h[3].f, rows_of(lg), lg->shape[1],
                           c->p.loss.ignore_index, c->p.accumulate);
}

kz_op_case *kz_case_cross_entropy_bwd(kz_op_case_list *l, int64_t rows, int64_t classes, bool acc) {
  kz_op_case *c =
      kz_case_new(l, "cross_entropy_bwd", ce_bwd_invoke, ce_bwd_ref,
                  "cross_entropy_bwd %lldx%lld acc=%d", (long long)rows, (long long)classes, acc);
  int64_t shape[2] = {rows, classes};
  kz_arg_normal(kz_case_arg(c, "logits", KZ_F32, KZ_ARG_IN, 2, shape), 0, 2);
  kz_arg_ints(kz_case_arg(c, "targets", KZ_I32, KZ_ARG_IN, 1, &rows), 0, classes);
  kz_case_arg(c, "dloss", KZ_F32, KZ_ARG_IN, 1, &rows);
  kz_case_arg(c, "dlogits", KZ_F32, kz_grad_role(acc), 2, shape);
  c->fixup = ignore_some;
  c->p.loss.ignore_index = IGNORE_INDEX;
  c->p.accumulate = acc;
  c->flops = 5.0 * (double)(rows * classes);
  c->bytes = 4.0 * (double)(rows * classes) * (acc ? 3 : 2) + 12.0 * (double)rows;
  return c;
}

/* ---- embedding ----------------------------------------------------------------- */
static kz_status emb_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_embedding(s, &t[0], &t[1], &t[2]);
}

static void emb_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *table = &c->args[1];
  kz_ref_embedding_fwd(h[0].i, h[1].f, h[2].f, h[0].n, table->shape[0], table->shape[1]);
}

kz_op_case *kz_case_embedding(kz_op_case_list *l, int ids_ndim, const int64_t *ids_shape,
                              int64_t vocab, int64_t dim) {
  int64_t n = 1, out_shape[KZ_MAX_DIMS];
  for (int d = 0; d < ids_ndim; ++d) n *= (out_shape[d] = ids_shape[d]);
  out_shape[ids_ndim] = dim;
  kz_op_case *c =
      kz_case_new(l, "embedding", emb_invoke, emb_ref, "embedding n%lld d%d v%lld x%lld",
                  (long long)n, ids_ndim, (long long)vocab, (long long)dim);
  kz_arg_ints(kz_case_arg(c, "ids", KZ_I32, KZ_ARG_IN, ids_ndim, ids_shape), 0, vocab);
  int64_t tshape[2] = {vocab, dim};
  kz_case_arg(c, "table", KZ_F32, KZ_ARG_IN, 2, tshape);
  kz_case_arg(c, "out", KZ_F32, KZ_ARG_OUT, ids_ndim + 1, out_shape);
  c->bytes = 4.0 * (double)n + 8.0 * (double)(n * dim);
  return c;
}

static kz_status emb_bwd_invoke(const kz_op_case *c, kz_stream *s, kz_tensor *t) {
  return kz_op_embedding_bwd(s, &t[0], &t[1], &t[2], c->p.accumulate);
}

static void emb_bwd_ref(const kz_op_case *c, kz_host_arg *h) {
  const kz_arg_spec *dt = &c->args[2];
  kz_ref_embedding_bwd(h[0].i, h[1].f, h[2].f, h[0].n, dt->shape[0], dt->shape[1], c->p.accumulate);
}

kz_op_case *kz_case_embedding_bwd(kz_op_case_list *l, int64_t n, int64_t vocab, int64_t dim,
                                  bool acc) {
  kz_op_case *c = kz_case_new(l, "embedding_bwd", emb_bwd_invoke, emb_bwd_ref,
                              "embedding_bwd n%lld v%lld x%lld acc=%d", (long long)n,
                              (long long)vocab, (long long)dim, acc);
  int64_t dshape[2] = {n, dim}, tshape[2] = {vocab, dim};
  kz_arg_ints(kz_case_arg(c, "ids", KZ_I32, KZ_ARG_IN, 1, &n), 0, vocab);
  kz_case_arg(c, "dout", KZ_F32, KZ_ARG_IN, 2, dshape);
  kz_case_arg(c, "dtable", KZ_F32, kz_grad_role(acc), 2, tshape);
  c->p.accumulate = acc;
  c->flops = (double)(n * dim);
  c->bytes =
      4.0 * (double)n + 4.0 * (double)(n * dim) + 4.0 * (double)(vocab * dim) * (acc ? 2 : 1);
  return c;
}

void kz_cases_loss(kz_op_case_list *l) {
  static const int64_t rc[][2] = {{1, 1}, {37, 129}, {3, 1000}, {8, 5}, {16, 30522}};
  int nrc = (int)(sizeof rc / sizeof rc[0]);
  for (int i = 0; i < nrc; ++i) kz_case_cross_entropy(l, rc[i][0], rc[i][1]);
  for (int acc = 0; acc < 2; ++acc)
    for (int i = 0; i < nrc; ++i) kz_case_cross_entropy_bwd(l, rc[i][0], rc[i][1], acc);

  static const int64_t one[] = {1}, fifty[] = {50}, bt[] = {4, 9}, many[] = {300};
  kz_case_embedding(l, 1, one, 1, 1);
  kz_case_embedding(l, 1, fifty, 7, 33);
  kz_case_embedding(l, 2, bt, 11, 129);
  kz_case_embedding(l, 1, many, 1000, 64);
  static const int64_t nvd[][3] = {{1, 1, 1}, {50, 7, 33}, {36, 11, 129}, {300, 1000, 64}};
  for (int acc = 0; acc < 2; ++acc)
    for (size_t i = 0; i < sizeof nvd / sizeof nvd[0]; ++i)
      kz_case_embedding_bwd(l, nvd[i][0], nvd[i][1], nvd[i][2], acc);
}
