/* Fused self-attention on the CPU (contract: kz_attn_shape, core/backend.h).
 *
 * Flash-attention tiling: a block of BQ queries meets the keys BK at a
 * time; the scores of one tile (BQ x BK floats, in L1/L2) go through an
 * online softmax (running row maximum m and sum l, the output rescaled when
 * m grows) and straight into the output accumulator, so no T x T matrix is
 * ever formed and memory grows linearly in T. The two products of a tile
 * (S = Q K^T and O += P V) are single-threaded OpenBLAS calls on the strided
 * tiles in place (no packing of ours). Measured on this op's shapes (one
 * thread, CPU time), OpenBLAS runs these tile shapes (64x128x64 NT,
 * 64x64x128 NN) at 70-90 GFLOP/s, the speed of its 1024^3 sgemm; a perf
 * profile at T = 512 is three quarters tile products and one quarter the
 * softmax and row bookkeeping between them, and the op runs at 50-60 model
 * GFLOP/s per core (bench/results/2026-12-06-attention-cpu.txt): compute-
 * bound, not memory-bound. A hand-written register-blocked tile product was
 * not tried; it would have to beat OpenBLAS's AVX-512 small-matrix kernels.
 *
 * Forward: OpenMP over (b, h, query block), dynamic (causal blocks differ
 * in work). Backward (flash-attention 2): D_i = rowsum(dO * O) per query;
 * per key block, the probabilities are recomputed from the saved lse,
 * P = exp(scale q k - lse), and
 *   dV_j += (P * M)^T dO,  dS = P * (M * dO V^T - D),  dK_j += scale dS^T Q,
 *   dQ   += scale dS K_j  (M: the dropout factors).
 * OpenMP over (b, h): a thread owns one head's dQ (a T x D accumulator) and
 * each key block's dK, dV, so there are no atomics and no T x T buffers. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/attn_dropout.h"
#include "kernels/core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/cpu_vec.h"

/* The elementwise loops over a tile get AVX2/AVX-512 clones (the library is
 * built for baseline x86-64) and may contract multiply-adds. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) &&                             \
    !defined(__SANITIZE_ADDRESS__)
#define KZ_ATTN_LOOP                                                                               \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"),                     \
                 optimize("fp-contract=fast")))
#else
#define KZ_ATTN_LOOP
#endif

static int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

/* Keys [0, visible_keys) can be seen by some query of batch row b. */
static int64_t visible_keys(const kz_attn_shape *sh, int64_t b) {
  int64_t n = sh->seq;
  if (sh->lengths) n = min64(n, sh->lengths[b] > 0 ? sh->lengths[b] : 0);
  return n;
}

typedef struct drop_ctx {
  bool on;
  uint32_t threshold;
  float scale;
} drop_ctx;

static drop_ctx drop_of(const kz_attn_shape *sh) {
  drop_ctx d = {sh->dropout_p > 0, kz_attn_dropout_threshold(sh->dropout_p),
                kz_attn_dropout_scale(sh->dropout_p)};
  return d;
}

/* p[j] *= (kept ? scale : 0) for keys j0 .. j0+n-1 of a row. Also returns,
 * in w (when not NULL), w[j] *= the same factor. */
static KZ_ATTN_LOOP void apply_dropout(float *p, float *w, int64_t n, uint64_t row, int64_t j0,
                                       const drop_ctx *dc) {
  const uint32_t thr = dc->threshold;
  const float sc = dc->scale;
  for (int64_t j = 0; j < n; ++j) {
    const uint32_t bits = kz_attn_dropout_bits(row, (uint32_t)(j0 + j));
    const float f = bits >= thr ? sc : 0.0f;
    p[j] *= f;
    if (w) w[j] *= f;
  }
}

/* Number of keys of the tile [j0, j0+nk) that query i sees (a prefix). */
static int64_t row_limit(const kz_attn_shape *sh, int64_t i, int64_t j0, int64_t nk) {
  if (!sh->causal) return nk;
  int64_t lim = i - j0 + 1;
  return lim < 0 ? 0 : min64(lim, nk);
}

/* One row of the online softmax: s holds scale*q.k over n keys, of which
 * the first lim are visible. Turns s into the (undropped) exponentials,
 * updates m and l, and returns the factor the row's output must be
 * multiplied by first. */
static KZ_ATTN_LOOP float online_row(float *s, int64_t n, int64_t lim, float *m, float *l) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < lim; ++j) mx = s[j] > mx ? s[j] : mx;
  const float m_new = mx > *m ? mx : *m;
  if (m_new == -INFINITY) { /* nothing visible yet */
    memset(s, 0, (size_t)n * sizeof(float));
    return 1.0f;
  }
  float acc[KZ_CPU_LANES] = {0};
  int64_t j = 0;
  for (; j + KZ_CPU_LANES <= lim; j += KZ_CPU_LANES)
    for (int u = 0; u < KZ_CPU_LANES; ++u) {
      const float e = kz_cpu_exp_nonpos(s[j + u] - m_new);
      s[j + u] = e;
      acc[u] += e;
    }
  for (int u = 0; j < lim; ++j, ++u) {
    const float e = kz_cpu_exp_nonpos(s[j] - m_new);
    s[j] = e;
    acc[u] += e;
  }
  if (lim < n) memset(s + lim, 0, (size_t)(n - lim) * sizeof(float));
  const float alpha = *m == -INFINITY ? 0.0f : kz_cpu_exp_nonpos(*m - m_new);
  *l = *l * alpha + kz_cpu_fold_sum(acc);
  *m = m_new;
  return alpha;
}

typedef struct fwd_scratch {
  float *s;     /* BQ x BK scores / probabilities */
  float *acc;   /* BQ x D output accumulator */
  float *m, *l; /* BQ each */
} fwd_scratch;

static void fwd_block(const kz_attn_shape *sh, const float *q, const float *k, const float *v,
                      float *o, float *lse, int64_t b, int64_t h, int64_t i0, int64_t nq,
                      int64_t bk, const fwd_scratch *w) {
  const int64_t T = sh->seq, D = sh->head_dim, H = sh->heads;
  const drop_ctx dc = drop_of(sh);
  const float *qb = q + (b * T + i0) * sh->ld_q + h * D;
  const float *kb = k + b * T * sh->ld_k + h * D;
  const float *vb = v + b * T * sh->ld_v + h * D;
  for (int64_t r = 0; r < nq; ++r) {
    w->m[r] = -INFINITY;
    w->l[r] = 0.0f;
  }
  memset(w->acc, 0, (size_t)(nq * D) * sizeof(float));
  int64_t keys = visible_keys(sh, b);
  if (sh->causal) keys = min64(keys, i0 + nq); /* no query of the block sees past its last */
  for (int64_t j0 = 0; j0 < keys; j0 += bk) {
    const int64_t nk = min64(bk, keys - j0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nk, (int)D, sh->scale, qb,
                (int)sh->ld_q, kb + j0 * sh->ld_k, (int)sh->ld_k, 0.0f, w->s, (int)bk);
    for (int64_t r = 0; r < nq; ++r) {
      float *sr = w->s + r * bk;
      const float alpha = online_row(sr, nk, row_limit(sh, i0 + r, j0, nk), &w->m[r], &w->l[r]);
      if (alpha != 1.0f)
        for (int64_t d = 0; d < D; ++d) w->acc[r * D + d] *= alpha;
      if (dc.on)
        apply_dropout(sr, NULL, nk, kz_attn_dropout_row(sh->dropout_key, b, h, i0 + r), j0, &dc);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)D, (int)nk, 1.0f, w->s,
                (int)bk, vb + j0 * sh->ld_v, (int)sh->ld_v, 1.0f, w->acc, (int)D);
  }
  for (int64_t r = 0; r < nq; ++r) {
    float *orow = o + (b * T + i0 + r) * sh->ld_o + h * D;
    const bool empty = w->l[r] == 0.0f;
    const float inv = empty ? 0.0f : 1.0f / w->l[r];
    for (int64_t d = 0; d < D; ++d) orow[d] = w->acc[r * D + d] * inv;
    if (lse) lse[(b * H + h) * T + i0 + r] = empty ? -INFINITY : w->m[r] + logf(w->l[r]);
  }
}

static int64_t knob_block(kz_stream *s, kz_knob id) {
  const int v = kz_stream_knob(s, id);
  return v > 0 ? v : 64;
}

/* OpenBLAS runs single-threaded inside our parallel region (the setting is
 * process-wide, hence restored after). */
#define KZ_BLAS_SERIAL_BEGIN                                                                       \
  const int kz_saved_blas_ = openblas_get_num_threads();                                           \
  openblas_set_num_threads(1)
#define KZ_BLAS_SERIAL_END openblas_set_num_threads(kz_saved_blas_)

kz_status kz_cpu_attention_fwd(kz_stream *s, const float *q, const float *k, const float *v,
                               float *o, float *lse, const kz_attn_shape *sh) {
  const int64_t T = sh->seq, D = sh->head_dim;
  if (T <= 0 || sh->batch <= 0 || sh->heads <= 0) return KZ_OK;
  if (D > INT32_MAX / 4 || T > INT32_MAX / 4)
    return kz_fail(KZ_ERR_INVALID_ARG, "attention: T %lld or D %lld too large for BLAS ints",
                   (long long)T, (long long)D);
  const int64_t bq = min64(knob_block(s, KZ_KNOB_CPU_ATTENTION_BLOCK_Q), T);
  const int64_t bk = min64(knob_block(s, KZ_KNOB_CPU_ATTENTION_BLOCK_K), T);
  const int64_t qblocks = (T + bq - 1) / bq, items = sh->batch * sh->heads * qblocks;
  kz_status st = KZ_OK;
  KZ_BLAS_SERIAL_BEGIN;
#pragma omp parallel
  {
    float *mem = malloc((size_t)(bq * bk + bq * D + 2 * bq) * sizeof(float));
    if (!mem) {
#pragma omp atomic write
      st = KZ_ERR_OUT_OF_MEMORY;
    }
    fwd_scratch w = {0};
    if (mem)
      w = (fwd_scratch){mem, mem + bq * bk, mem + bq * bk + bq * D, mem + bq * bk + bq * D + bq};
      /* Every thread meets the loop (a worksharing construct), even one
       * whose scratch failed: it then skips its items and st reports it. */
#pragma omp for schedule(dynamic, 1)
    for (int64_t it = 0; it < items; ++it) {
      if (!mem) continue;
      const int64_t qb = it % qblocks, bh = it / qblocks;
      const int64_t i0 = qb * bq;
      fwd_block(sh, q, k, v, o, lse, bh / sh->heads, bh % sh->heads, i0, min64(bq, T - i0), bk, &w);
    }
    free(mem);
  }
  KZ_BLAS_SERIAL_END;
  if (st != KZ_OK) return kz_fail(st, "attention: out of memory for the tile scratch");
  return KZ_OK;
}

/* ---- backward --------------------------------------------------------------------- */

typedef struct bwd_scratch {
  float *p, *ds;  /* BQ x BK */
  float *dq;      /* T x D: this head's dQ */
  float *dk, *dv; /* BK x D: this key block's */
  float *di;      /* T: rowsum(dO * O) */
} bwd_scratch;

/* One tile's elementwise step: p = exp(s - lse) on visible keys (0 else),
 * ds = p * (m * dp - D_i), p *= m. */
static KZ_ATTN_LOOP void bwd_row(float *p, float *dp, int64_t n, int64_t lim, float lse, float di) {
  for (int64_t j = 0; j < lim; ++j) p[j] = kz_cpu_exp_nonpos(p[j] - lse);
  for (int64_t j = lim; j < n; ++j) p[j] = 0.0f;
  for (int64_t j = 0; j < n; ++j) dp[j] = p[j] * (dp[j] - di);
}

/* dst (+)= src for `rows` rows of D floats, dst strided. */
static void write_rows(float *dst, int64_t ld, const float *src, int64_t rows, int64_t D,
                       bool accumulate) {
  for (int64_t r = 0; r < rows; ++r) {
    float *d = dst + r * ld;
    const float *x = src + r * D;
    if (accumulate)
      for (int64_t c = 0; c < D; ++c) d[c] += x[c];
    else
      memcpy(d, x, (size_t)D * sizeof(float));
  }
}

static void zero_rows(float *dst, int64_t ld, int64_t rows, int64_t D) {
  for (int64_t r = 0; r < rows; ++r) memset(dst + r * ld, 0, (size_t)D * sizeof(float));
}

typedef struct bwd_args {
  const float *q, *k, *v, *o, *dout, *lse;
  float *dq, *dk, *dv;
  bool accumulate;
} bwd_args;

static void bwd_head(const kz_attn_shape *sh, const bwd_args *a, int64_t b, int64_t h, int64_t bq,
                     int64_t bk, const bwd_scratch *w) {
  const int64_t T = sh->seq, D = sh->head_dim;
  const drop_ctx dc = drop_of(sh);
  const float *qh = a->q + b * T * sh->ld_q + h * D;
  const float *kh = a->k + b * T * sh->ld_k + h * D;
  const float *vh = a->v + b * T * sh->ld_v + h * D;
  const float *oh = a->o + b * T * sh->ld_o + h * D;
  const float *doh = a->dout + b * T * sh->ld_o + h * D;
  const float *lh = a->lse + (b * sh->heads + h) * T;
  const int64_t keys = visible_keys(sh, b);
  for (int64_t i = 0; i < T; ++i) w->di[i] = kz_cpu_dot(doh + i * sh->ld_o, oh + i * sh->ld_o, D);
  if (a->dq) memset(w->dq, 0, (size_t)(T * D) * sizeof(float));
  for (int64_t j0 = 0; j0 < keys; j0 += bk) {
    const int64_t nk = min64(bk, keys - j0);
    memset(w->dk, 0, (size_t)(nk * D) * sizeof(float));
    memset(w->dv, 0, (size_t)(nk * D) * sizeof(float));
    /* Causal: query blocks wholly above the key block see none of it. */
    const int64_t first = sh->causal ? j0 / bq * bq : 0;
    for (int64_t i0 = first; i0 < T; i0 += bq) {
      const int64_t nq = min64(bq, T - i0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nk, (int)D, sh->scale,
                  qh + i0 * sh->ld_q, (int)sh->ld_q, kh + j0 * sh->ld_k, (int)sh->ld_k, 0.0f, w->p,
                  (int)bk);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nk, (int)D, 1.0f,
                  doh + i0 * sh->ld_o, (int)sh->ld_o, vh + j0 * sh->ld_v, (int)sh->ld_v, 0.0f,
                  w->ds, (int)bk);
      for (int64_t r = 0; r < nq; ++r) {
        const int64_t i = i0 + r;
        float *pr = w->p + r * bk, *dr = w->ds + r * bk;
        const int64_t lim = lh[i] == -INFINITY ? 0 : row_limit(sh, i, j0, nk);
        /* The dropout factor multiplies dP before D_i is subtracted, and
         * P after dS is formed from it. */
        if (dc.on) {
          const uint64_t row = kz_attn_dropout_row(sh->dropout_key, b, h, i);
          apply_dropout(dr, NULL, nk, row, j0, &dc);
          bwd_row(pr, dr, nk, lim, lh[i], w->di[i]);
          apply_dropout(pr, NULL, nk, row, j0, &dc);
        } else {
          bwd_row(pr, dr, nk, lim, lh[i], w->di[i]);
        }
      }
      if (a->dv)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nk, (int)D, (int)nq, 1.0f, w->p,
                    (int)bk, doh + i0 * sh->ld_o, (int)sh->ld_o, 1.0f, w->dv, (int)D);
      if (a->dk)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nk, (int)D, (int)nq, sh->scale,
                    w->ds, (int)bk, qh + i0 * sh->ld_q, (int)sh->ld_q, 1.0f, w->dk, (int)D);
      if (a->dq)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)D, (int)nk, sh->scale,
                    w->ds, (int)bk, kh + j0 * sh->ld_k, (int)sh->ld_k, 1.0f, w->dq + i0 * D,
                    (int)D);
    }
    if (a->dk)
      write_rows(a->dk + (b * T + j0) * sh->ld_k + h * D, sh->ld_k, w->dk, nk, D, a->accumulate);
    if (a->dv)
      write_rows(a->dv + (b * T + j0) * sh->ld_v + h * D, sh->ld_v, w->dv, nk, D, a->accumulate);
  }
  /* Padding keys get no gradient. */
  if (!a->accumulate && keys < T) {
    if (a->dk) zero_rows(a->dk + (b * T + keys) * sh->ld_k + h * D, sh->ld_k, T - keys, D);
    if (a->dv) zero_rows(a->dv + (b * T + keys) * sh->ld_v + h * D, sh->ld_v, T - keys, D);
  }
  if (a->dq) write_rows(a->dq + b * T * sh->ld_q + h * D, sh->ld_q, w->dq, T, D, a->accumulate);
}

kz_status kz_cpu_attention_bwd(kz_stream *s, const float *q, const float *k, const float *v,
                               const float *o, const float *dout, const float *lse, float *dq,
                               float *dk, float *dv, const kz_attn_shape *sh, bool accumulate) {
  const int64_t T = sh->seq, D = sh->head_dim;
  if (T <= 0 || sh->batch <= 0 || sh->heads <= 0 || (!dq && !dk && !dv)) return KZ_OK;
  if (D > INT32_MAX / 4 || T > INT32_MAX / 4)
    return kz_fail(KZ_ERR_INVALID_ARG, "attention_bwd: T %lld or D %lld too large for BLAS ints",
                   (long long)T, (long long)D);
  const int64_t bq = min64(knob_block(s, KZ_KNOB_CPU_ATTENTION_BLOCK_Q), T);
  const int64_t bk = min64(knob_block(s, KZ_KNOB_CPU_ATTENTION_BLOCK_K), T);
  const int64_t items = sh->batch * sh->heads;
  const bwd_args a = {q, k, v, o, dout, lse, dq, dk, dv, accumulate};
  kz_status st = KZ_OK;
  KZ_BLAS_SERIAL_BEGIN;
#pragma omp parallel
  {
    const size_t n = (size_t)(2 * bq * bk + T * D + 2 * bk * D + T);
    float *mem = malloc(n * sizeof(float));
    if (!mem) {
#pragma omp atomic write
      st = KZ_ERR_OUT_OF_MEMORY;
    }
    bwd_scratch w = {0};
    if (mem) {
      w.p = mem;
      w.ds = w.p + bq * bk;
      w.dq = w.ds + bq * bk;
      w.dk = w.dq + T * D;
      w.dv = w.dk + bk * D;
      w.di = w.dv + bk * D;
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t it = 0; it < items; ++it)
      if (mem) bwd_head(sh, &a, it / sh->heads, it % sh->heads, bq, bk, &w);
    free(mem);
  }
  KZ_BLAS_SERIAL_END;
  if (st != KZ_OK) return kz_fail(st, "attention_bwd: out of memory for the tile scratch");
  return KZ_OK;
}
