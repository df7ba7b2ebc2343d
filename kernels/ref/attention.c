/* Reference self-attention: the oracle of the fused attention op.
 *
 * Written the textbook way, one (batch, head) at a time with the whole
 * T x T score matrix materialised in double: scores, masks, softmax, dropout,
 * the product with v. The backward differentiates that chain directly
 * (dP = dO V^T, dS = P * (dP - rowsum(dP * P))) and ignores the saved o and
 * lse, so a backend that recomputes from them is checked against an
 * independent derivation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/attn_dropout.h"
#include "kernels/ref/ref_ops.h"

static bool visible(const kz_attn_shape *sh, int64_t b, int64_t i, int64_t j) {
  if (sh->lengths && j >= sh->lengths[b]) return false;
  if (sh->causal && j > i) return false;
  return true;
}

/* The dropout factors of one (b, h): m[i*T + j] is 0 or 1/(1-p); all 1
 * without dropout. */
static void drop_factors(const kz_attn_shape *sh, int64_t b, int64_t h, double *m) {
  const int64_t T = sh->seq;
  const bool on = sh->dropout_p > 0;
  for (int64_t i = 0; i < T; ++i) {
    uint64_t row = kz_attn_dropout_row(sh->dropout_key, b, h, i);
    for (int64_t j = 0; j < T; ++j) {
      bool kept =
          !on || kz_attn_dropout_bits(row, (uint32_t)j) >= kz_attn_dropout_threshold(sh->dropout_p);
      m[i * T + j] = !on ? 1.0 : kept ? 1.0 / (1.0 - sh->dropout_p) : 0.0;
    }
  }
}

static double at(const double *x, int64_t ld, const kz_attn_shape *sh, int64_t b, int64_t t,
                 int64_t h, int64_t d) {
  return x[(b * sh->seq + t) * ld + h * sh->head_dim + d];
}

/* P (undropped softmax, zero where masked) of one (b, h) and each row's lse. */
static void probabilities(const double *q, const double *k, const kz_attn_shape *sh, int64_t b,
                          int64_t h, double *p, double *lse) {
  const int64_t T = sh->seq, D = sh->head_dim;
  for (int64_t i = 0; i < T; ++i) {
    double mx = -INFINITY;
    for (int64_t j = 0; j < T; ++j) {
      double s = 0;
      for (int64_t d = 0; d < D; ++d)
        s += at(q, sh->ld_q, sh, b, i, h, d) * at(k, sh->ld_k, sh, b, j, h, d);
      s *= sh->scale;
      p[i * T + j] = visible(sh, b, i, j) ? s : -INFINITY;
      if (p[i * T + j] > mx) mx = p[i * T + j];
    }
    if (mx == -INFINITY) { /* nothing visible: a zero row */
      for (int64_t j = 0; j < T; ++j) p[i * T + j] = 0;
      lse[i] = -INFINITY;
      continue;
    }
    double sum = 0;
    for (int64_t j = 0; j < T; ++j) {
      p[i * T + j] = exp(p[i * T + j] - mx); /* exp(-inf) = 0 on masked keys */
      sum += p[i * T + j];
    }
    for (int64_t j = 0; j < T; ++j) p[i * T + j] /= sum;
    lse[i] = mx + log(sum);
  }
}

void kz_ref_attention_fwd(const double *q, const double *k, const double *v, double *o, double *lse,
                          const kz_attn_shape *sh) {
  const int64_t T = sh->seq, D = sh->head_dim;
  double *p = malloc((size_t)(2 * T * T + T) * sizeof(double) + 1);
  if (!p) return; /* o stays as it was: the harness reports it unwritten */
  double *m = p + T * T, *row_lse = m + T * T;
  for (int64_t b = 0; b < sh->batch; ++b)
    for (int64_t h = 0; h < sh->heads; ++h) {
      probabilities(q, k, sh, b, h, p, row_lse);
      drop_factors(sh, b, h, m);
      for (int64_t i = 0; i < T; ++i) {
        if (lse) lse[(b * sh->heads + h) * T + i] = row_lse[i];
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < T; ++j)
            acc += p[i * T + j] * m[i * T + j] * at(v, sh->ld_v, sh, b, j, h, d);
          o[(b * T + i) * sh->ld_o + h * D + d] = acc;
        }
      }
    }
  free(p);
}

static void store(double *dst, double value, bool accumulate) {
  *dst = accumulate ? *dst + value : value;
}

void kz_ref_attention_bwd(const double *q, const double *k, const double *v, const double *dout,
                          double *dq, double *dk, double *dv, const kz_attn_shape *sh,
                          bool accumulate) {
  const int64_t T = sh->seq, D = sh->head_dim;
  double *p = malloc((size_t)(3 * T * T + T) * sizeof(double) + 1);
  if (!p) return;
  double *ds = p + T * T, *m = ds + T * T, *row_lse = m + T * T;
  for (int64_t b = 0; b < sh->batch; ++b)
    for (int64_t h = 0; h < sh->heads; ++h) {
      probabilities(q, k, sh, b, h, p, row_lse);
      drop_factors(sh, b, h, m);
      /* dP_ij = m_ij (dO_i . v_j); dS_ij = P_ij (dP_ij - sum_l P_il dP_il). */
      for (int64_t i = 0; i < T; ++i) {
        double dot = 0;
        for (int64_t j = 0; j < T; ++j) {
          double g = 0;
          for (int64_t d = 0; d < D; ++d)
            g += at(dout, sh->ld_o, sh, b, i, h, d) * at(v, sh->ld_v, sh, b, j, h, d);
          ds[i * T + j] = g * m[i * T + j];
          dot += p[i * T + j] * ds[i * T + j];
        }
        for (int64_t j = 0; j < T; ++j) ds[i * T + j] = p[i * T + j] * (ds[i * T + j] - dot);
      }
      for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D; ++d) {
          double gq = 0, gk = 0, gv = 0;
          for (int64_t u = 0; u < T; ++u) {
            gq += ds[t * T + u] * at(k, sh->ld_k, sh, b, u, h, d);
            gk += ds[u * T + t] * at(q, sh->ld_q, sh, b, u, h, d);
            gv += p[u * T + t] * m[u * T + t] * at(dout, sh->ld_o, sh, b, u, h, d);
          }
          if (dq) store(&dq[(b * T + t) * sh->ld_q + h * D + d], sh->scale * gq, accumulate);
          if (dk) store(&dk[(b * T + t) * sh->ld_k + h * D + d], sh->scale * gk, accumulate);
          if (dv) store(&dv[(b * T + t) * sh->ld_v + h * D + d], gv, accumulate);
        }
    }
  free(p);
}
