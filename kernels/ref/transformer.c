/* References of the transformer encoder's ops, each written as the
 * composition of existing references so that the fused and specialised
 * kernels are checked against the plain sequence they stand for:
 *  - residual_layernorm: dropout, add, layernorm (and their backwards);
 *  - gather_rows: embedding with x as the table;
 *  - qa_span_loss: two single-row cross-entropies per sequence over its
 *    first lengths[b] positions. */
#include <math.h>
#include <stdlib.h>

#include "kernels/ref/ref_ops.h"

/* The dropout mask of n elements from key, as kz_ref_dropout_fwd draws it. */
static bool dropout_mask(double *mask, int64_t n, double p, uint64_t key) {
  double *ones = malloc((size_t)(n > 0 ? n : 1) * sizeof *ones);
  double *tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof *tmp);
  if (ones && tmp) {
    for (int64_t i = 0; i < n; i++) ones[i] = 1.0;
    kz_ref_dropout_fwd(ones, tmp, mask, n, p, key);
  }
  free(ones);
  free(tmp);
  return ones && tmp;
}

bool kz_ref_residual_layernorm_fwd(const double *x, const double *h, const double *gamma,
                                   const double *beta, double *y, double *r, double *mean,
                                   double *rstd, int64_t rows, int64_t cols, double p, uint64_t key,
                                   double eps) {
  const int64_t n = rows * cols;
  double *hd = malloc((size_t)(n > 0 ? n : 1) * sizeof *hd);
  double *mask = malloc((size_t)(n > 0 ? n : 1) * sizeof *mask);
  double *sum = r ? r : malloc((size_t)(n > 0 ? n : 1) * sizeof *sum);
  double *mu = mean ? mean : malloc((size_t)(rows > 0 ? rows : 1) * sizeof *mu);
  double *rs = rstd ? rstd : malloc((size_t)(rows > 0 ? rows : 1) * sizeof *rs);
  bool ok = hd && mask && sum && mu && rs;
  if (ok) {
    kz_ref_dropout_fwd(h, hd, mask, n, p, key);
    kz_ref_add(x, hd, sum, n);
    kz_ref_layernorm_fwd(sum, gamma, beta, y, mu, rs, rows, cols, eps);
  }
  free(hd);
  free(mask);
  if (!r) free(sum);
  if (!mean) free(mu);
  if (!rstd) free(rs);
  return ok;
}

/* From y (r NULL) the row is rebuilt as xhat / rstd with mean 0: layernorm's
 * backward depends on its input only through xhat = (x - mean) * rstd, so
 * that input gives the same gradients as the true r. */
bool kz_ref_residual_layernorm_bwd(const double *dy, const double *y, const double *r,
                                   const double *gamma, const double *beta, const double *mean,
                                   const double *rstd, double *dx, double *dh, double *dgamma,
                                   double *dbeta, int64_t rows, int64_t cols, double p,
                                   uint64_t key, bool accumulate) {
  const int64_t n = rows * cols;
  double *dr = malloc((size_t)(n > 0 ? n : 1) * sizeof *dr);
  double *mask = malloc((size_t)(n > 0 ? n : 1) * sizeof *mask);
  double *rebuilt = r ? NULL : malloc((size_t)(n > 0 ? n : 1) * sizeof *rebuilt);
  double *zeros = r ? NULL : calloc((size_t)(rows > 0 ? rows : 1), sizeof *zeros);
  bool ok = dr && mask && (r || (rebuilt && zeros)) && dropout_mask(mask, n, p, key);
  if (ok) {
    if (!r)
      for (int64_t i = 0; i < rows; i++)
        for (int64_t c = 0; c < cols; c++)
          rebuilt[i * cols + c] = (y[i * cols + c] - beta[c]) / gamma[c] / rstd[i];
    /* dr is a fresh buffer; only the parameter gradients accumulate. */
    const double *in = r ? r : rebuilt, *mu = r ? mean : zeros;
    kz_ref_layernorm_bwd(dy, in, gamma, mu, rstd, dr, NULL, NULL, rows, cols, false);
    kz_ref_layernorm_bwd(dy, in, gamma, mu, rstd, NULL, dgamma, dbeta, rows, cols, accumulate);
    if (dx)
      for (int64_t i = 0; i < n; i++) dx[i] = (accumulate ? dx[i] : 0.0) + dr[i];
    if (dh) kz_ref_dropout_bwd(dr, mask, dh, n, accumulate);
  }
  free(dr);
  free(mask);
  free(rebuilt);
  free(zeros);
  return ok;
}

bool kz_ref_gather_rows_fwd(const double *x, const int32_t *idx, double *out, int64_t m, int64_t n,
                            int64_t dim) {
  return kz_ref_embedding_fwd(idx, x, out, m, n, dim);
}

void kz_ref_gather_rows_bwd(const int32_t *idx, const double *dout, double *dx, int64_t m,
                            int64_t n, int64_t dim, bool accumulate) {
  kz_ref_embedding_bwd(idx, dout, dx, m, n, dim, accumulate);
}

/* No target is ignored: INT32_MIN is never a position. */
#define QA_NO_IGNORE INT32_MIN

/* Column col of the first len positions of sequence b, as one row of logits. */
static void qa_column(const double *logits, int64_t b, int64_t seq, int col, int64_t len,
                      double *row) {
  for (int64_t t = 0; t < len; t++) row[t] = logits[(b * seq + t) * 2 + col];
}

bool kz_ref_qa_span_loss_fwd(const double *logits, const int32_t *lengths, const int32_t *starts,
                             const int32_t *ends, double *losses, int64_t batch, int64_t seq) {
  double *row = malloc((size_t)(seq > 0 ? seq : 1) * sizeof *row);
  bool ok = row != NULL;
  for (int64_t b = 0; ok && b < batch; b++) {
    const int64_t len = lengths[b];
    ok = len >= 1 && len <= seq && starts[b] >= 0 && starts[b] < len && ends[b] >= 0 &&
         ends[b] < len;
    double ce[2] = {0, 0};
    for (int col = 0; ok && col < 2; col++) {
      qa_column(logits, b, seq, col, len, row);
      const int32_t target = col == 0 ? starts[b] : ends[b];
      ok = kz_ref_cross_entropy_fwd(row, &target, &ce[col], 1, len, QA_NO_IGNORE);
    }
    if (ok) losses[b] = 0.5 * (ce[0] + ce[1]);
  }
  free(row);
  return ok;
}

/* A length outside [0, seq] is clamped (the CPU op refuses it before this
 * matters; CUDA clamps the same way). */
bool kz_ref_qa_span_loss_bwd(const double *logits, const int32_t *lengths, const int32_t *starts,
                             const int32_t *ends, const double *dloss, double *dlogits,
                             int64_t batch, int64_t seq, bool accumulate) {
  double *row = malloc((size_t)(seq > 0 ? seq : 1) * sizeof *row);
  double *drow = malloc((size_t)(seq > 0 ? seq : 1) * sizeof *drow);
  bool ok = row && drow;
  for (int64_t b = 0; ok && b < batch; b++) {
    const int64_t len = lengths[b] < 0 ? 0 : lengths[b] > seq ? seq : lengths[b];
    const double half = 0.5 * dloss[b];
    for (int col = 0; col < 2; col++) {
      const int32_t target = col == 0 ? starts[b] : ends[b];
      if (len > 0) {
        qa_column(logits, b, seq, col, len, row);
        kz_ref_cross_entropy_bwd(row, &target, &half, drow, 1, len, QA_NO_IGNORE, false);
      }
      for (int64_t t = 0; t < seq; t++) {
        double *d = &dlogits[(b * seq + t) * 2 + col];
        const double g = t < len ? drow[t] : 0.0;
        *d = accumulate ? *d + g : g;
      }
    }
  }
  free(row);
  free(drow);
  return ok;
}

double kz_ref_tanh(double x, double scale) {
  return tanh(scale * x);
}

double kz_ref_tanh_grad(double x, double scale) {
  const double t = tanh(scale * x);
  return scale * (1.0 - t * t);
}
