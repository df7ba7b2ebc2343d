/* Batched GEMM on the CPU (contract: kz_gemm in core/backend.h).
 *
 * matmul.impl picks OpenBLAS sgemm (0) or the hand-written blocked kernel
 * below (1). bf16 operands are widened to f32 (exact) and take the f32 path.
 * A batch of small matrices runs one matrix per OpenMP thread; a big matrix
 * is split into slabs of C, one single-threaded sgemm per OpenMP thread
 * (blas_split); OpenBLAS itself always runs single-threaded. A zero C batch
 * stride runs the batch in order, each product updating the same C, which is
 * the literal reading of the contract (and sums over the batch when beta=1). */
#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/cpu/cpu_ops.h"

/* Register tile of the micro-kernel: 6 x 16 floats = 12 AVX accumulators,
 * leaving room for the B row and the A broadcast in 16 registers. */
enum { MR = 6, NR = 16 };

/* Per-matrix m*n*k at or below which a batch is spread one matrix per thread. */
#define SMALL_MNK (256.0 * 256.0 * 256.0)
/* Columns of op(B) packed at once (the L3-resident panel). */
#define NC_MAX 4096
/* Deepest k slab: keeps a B micro-panel (KC_MAX x NR floats) within L1. */
#define KC_MAX 512
/* Tallest A block: MC_MAX x KC_MAX floats is half of a 1 MiB L2. */
#define MC_MAX 256

/* Runtime dispatch lets the vectoriser use AVX2/AVX-512 FMA in a build made
 * for baseline x86-64; fp-contract lets it fuse the multiply-add that strict
 * ISO C mode would keep separate. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) &&                             \
    !defined(__SANITIZE_ADDRESS__)
#define KZ_GEMM_KERNEL                                                                             \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"),                     \
                 optimize("fp-contract=fast")))
#else
#define KZ_GEMM_KERNEL
#endif

static int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}
static int64_t round_up(int64_t x, int64_t to) {
  return (x + to - 1) / to * to;
}

/* ---- validation and trivial cases ---------------------------------------- */

static kz_status check_gemm(const kz_gemm *g) {
  if (g->ab_dtype != KZ_F32 && g->ab_dtype != KZ_BF16)
    return kz_fail(KZ_ERR_INVALID_ARG, "gemm: a/b dtype must be f32 or bf16, got %d",
                   (int)g->ab_dtype);
  if (g->m < 0 || g->n < 0 || g->k < 0 || g->batch < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "gemm: negative size m %lld n %lld k %lld batch %lld",
                   (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->batch);
  if (g->stride_a < 0 || g->stride_b < 0 || g->stride_c < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "gemm: negative batch stride (a %lld, b %lld, c %lld)",
                   (long long)g->stride_a, (long long)g->stride_b, (long long)g->stride_c);
  const int64_t cols_a = g->trans_a ? g->m : g->k, cols_b = g->trans_b ? g->k : g->n;
  if (g->lda < cols_a || g->ldb < cols_b || g->ldc < g->n)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "gemm: leading dimension too small (lda %lld < %lld, ldb %lld < %lld or "
                   "ldc %lld < %lld)",
                   (long long)g->lda, (long long)cols_a, (long long)g->ldb, (long long)cols_b,
                   (long long)g->ldc, (long long)g->n);
  return KZ_OK;
}

/* C = beta * C for every batch entry, in batch order; beta == 0 never reads C. */
static void scale_c(const kz_gemm *g) {
  for (int64_t b = 0; b < g->batch; ++b)
    for (int64_t i = 0; i < g->m; ++i) {
      float *row = g->c + b * g->stride_c + i * g->ldc;
      if (g->beta == 0.0f)
        memset(row, 0, (size_t)g->n * sizeof(float));
      else
        for (int64_t j = 0; j < g->n; ++j) row[j] *= g->beta;
    }
}

static bool spread_batch(const kz_gemm *g, int nthreads) {
  return g->batch >= nthreads && nthreads > 1 && g->stride_c != 0 &&
         (double)g->m * (double)g->n * (double)g->k <= SMALL_MNK;
}

/* ---- OpenBLAS ------------------------------------------------------------ */

static bool fits_blas_int(const kz_gemm *g) {
  return g->m <= INT_MAX && g->n <= INT_MAX && g->k <= INT_MAX && g->lda <= INT_MAX &&
         g->ldb <= INT_MAX && g->ldc <= INT_MAX;
}

static void blas_one(const kz_gemm *g, const float *a, const float *b, float *c) {
  /* beta == 0 is passed through: OpenBLAS then never reads C (its small-matrix
   * b0 kernels only write it, and its level-3 driver's beta pass stores zeros
   * rather than computing 0 * C), so a NaN-poisoned C comes out clean without
   * a memset of our own, which was a whole extra pass over C (about 5% of the
   * TFT's training step, whose products mostly have n = 64 and k = 64). The
   * matmul harness checks this with a NaN-poisoned C on every build. */
  cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
              g->trans_b ? CblasTrans : CblasNoTrans, (int)g->m, (int)g->n, (int)g->k, g->alpha, a,
              (int)g->lda, b, (int)g->ldb, g->beta, c, (int)g->ldc);
}

/* One big product split into nthreads slabs of C (rows, or columns when C
 * is wider than tall), each a single-threaded sgemm on its own OpenMP
 * thread. OpenBLAS's own pthread pool would otherwise run beside the
 * OpenMP workers of every other op: two pools on the same cores, whose idle
 * workers keep spinning (measured on the transformer's MLM step, 2 threads:
 * about 20% more CPU time than one pool). Each element of C is the same
 * k-long dot product in either case. */
static void blas_split(const kz_gemm *g, const float *a, const float *b, float *c, int nthreads) {
  const bool by_rows = g->m >= g->n;
  const int64_t len = by_rows ? g->m : g->n;
  /* slab edges on multiples of 16 keep the micro-kernel's tiles whole */
  const int64_t step = round_up((len + nthreads - 1) / nthreads, 16);
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int t = 0; t < nthreads; ++t) {
    const int64_t i0 = (int64_t)t * step;
    if (i0 >= len) continue;
    const int64_t cnt = min64(step, len - i0);
    kz_gemm part = *g;
    const float *pa = a, *pb = b;
    float *pc = c;
    if (by_rows) {
      part.m = cnt;
      pa = g->trans_a ? a + i0 : a + i0 * g->lda;
      pc = c + i0 * g->ldc;
    } else {
      part.n = cnt;
      pb = g->trans_b ? b + i0 * g->ldb : b + i0;
      pc = c + i0;
    }
    blas_one(&part, pa, pb, pc);
  }
}

/* OpenBLAS runs single-threaded inside kaizen, always: all parallelism is
 * OpenMP's (blas_split, or one matrix per thread). OpenBLAS's own pthread
 * pool used to take the products below the split threshold, and its
 * workers then competed for the cores with the OpenMP workers still
 * spinning after the previous op: on the TFT's training step (thousands of
 * mid-sized products, 2 threads) that made 2 threads slower than 1. The
 * setting is process-wide and only ever set to 1, so the race of two first
 * calls is harmless. */
static void blas_single_threaded(void) {
  static int done;
  if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
    openblas_set_num_threads(1);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
  }
}

/* A product is split across the threads when its work, counted as m*n*(k +
 * SPLIT_K_EXTRA) (the extra term is C's traffic: a product with a short k is
 * bound by writing C), is above SPLIT_WORK: at 2 threads each half is then
 * at least about 7 us, above the cost of a parallel region. This takes the
 * TFT's LSTM step (h W_h^T, 64 x 256 x 64, one per time step, sequential):
 * its two halves cut the main thread's time in the LSTM loops by a sixth
 * (2 threads, OMP_WAIT_POLICY=passive on a loaded host; more with spinning
 * workers). */
#define SPLIT_WORK (1.0 * 1024 * 1024)
#define SPLIT_K_EXTRA 8.0

static void gemm_blas(const kz_gemm *g, const float *a, const float *b) {
  blas_single_threaded();
  const int nthreads = omp_get_max_threads();
  const double work = (double)g->m * (double)g->n * ((double)g->k + SPLIT_K_EXTRA);
  if (nthreads > 1 && !spread_batch(g, nthreads) && work > SPLIT_WORK &&
      (g->m >= 16 * nthreads || g->n >= 16 * nthreads)) {
    for (int64_t i = 0; i < g->batch; ++i)
      blas_split(g, a + i * g->stride_a, b + i * g->stride_b, g->c + i * g->stride_c, nthreads);
    return;
  }
  if (spread_batch(g, nthreads)) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < g->batch; ++i)
      blas_one(g, a + i * g->stride_a, b + i * g->stride_b, g->c + i * g->stride_c);
    return;
  }
  for (int64_t i = 0; i < g->batch; ++i)
    blas_one(g, a + i * g->stride_a, b + i * g->stride_b, g->c + i * g->stride_c);
}

/* ---- hand-written blocked GEMM ------------------------------------------- */

/* Cache blocking: a kc-deep slab of op(B) nc wide is packed once and shared;
 * each thread packs mc x kc blocks of op(A). One micro-panel of B (kc x NR)
 * stays in L1 while the A block streams from L2. */
typedef struct tile_plan {
  int64_t mc, kc, nc;
} tile_plan;

/* The tile knob scales both blocks: an A block of about 2*tile rows by
 * 4*tile deep. The depth matters most (each C tile is loaded and stored once
 * per k slab), so it is the larger edge. Both are capped to stay cache resident. */
static tile_plan make_plan(const kz_gemm *g, int tile) {
  if (tile < MR) tile = MR;
  if (tile > 1024) tile = 1024;
  tile_plan p;
  p.kc = min64(min64(4 * (int64_t)tile, KC_MAX), g->k);
  p.mc = min64(min64(2 * (int64_t)tile, MC_MAX) / MR * MR, round_up(g->m, MR));
  p.nc = min64(NC_MAX, round_up(g->n, NR));
  return p;
}

/* Packs op(A)[i0 .. i0+mlen, p0 .. p0+klen) as MR-row micro-panels, each
 * stored column by column (MR values per k step), zero-padded to MR rows. */
static void pack_a(const float *a, int64_t lda, bool trans, int64_t i0, int64_t mlen, int64_t p0,
                   int64_t klen, float *restrict dst) {
  for (int64_t ir = 0; ir < mlen; ir += MR) {
    const int64_t mr = min64(MR, mlen - ir);
    float *d = dst + ir * klen;
    if (trans) {
      for (int64_t p = 0; p < klen; ++p) {
        const float *src = a + (p0 + p) * lda + i0 + ir;
        for (int64_t ii = 0; ii < MR; ++ii) d[p * MR + ii] = ii < mr ? src[ii] : 0.0f;
      }
    } else {
      for (int64_t ii = 0; ii < MR; ++ii) {
        if (ii >= mr) {
          for (int64_t p = 0; p < klen; ++p) d[p * MR + ii] = 0.0f;
          continue;
        }
        const float *src = a + (i0 + ir + ii) * lda + p0;
        for (int64_t p = 0; p < klen; ++p) d[p * MR + ii] = src[p];
      }
    }
  }
}

/* Packs micro-panel `panel` (NR columns from j0) of op(B) rows p0 .. p0+klen,
 * row by row (NR values per k step), zero-padded to NR columns. */
static void pack_b_panel(const float *b, int64_t ldb, bool trans, int64_t j0, int64_t nlen,
                         int64_t p0, int64_t klen, int64_t panel, float *restrict dst) {
  const int64_t jr = panel * NR, nr = min64(NR, nlen - jr);
  float *d = dst + jr * klen;
  if (trans) {
    for (int64_t jj = 0; jj < NR; ++jj) {
      if (jj >= nr) {
        for (int64_t p = 0; p < klen; ++p) d[p * NR + jj] = 0.0f;
        continue;
      }
      const float *src = b + (j0 + jr + jj) * ldb + p0;
      for (int64_t p = 0; p < klen; ++p) d[p * NR + jj] = src[p];
    }
  } else {
    for (int64_t p = 0; p < klen; ++p) {
      const float *src = b + (p0 + p) * ldb + j0 + jr;
      for (int64_t jj = 0; jj < NR; ++jj) d[p * NR + jj] = jj < nr ? src[jj] : 0.0f;
    }
  }
}

/* out = A micro-panel (MR x kc) times B micro-panel (kc x NR). The constant
 * trip counts let the compiler keep acc in registers and vectorise over j. */
KZ_GEMM_KERNEL static void micro_kernel(int64_t kc, const float *restrict ap,
                                        const float *restrict bp, float *restrict out) {
  float acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = 0.0f;
  for (int64_t p = 0; p < kc; ++p) {
    const float *bk = bp + p * NR, *ak = ap + p * MR;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += ak[i] * bk[j];
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) out[i * NR + j] = acc[i][j];
}

/* Writes the valid mr x nr corner of a tile: the first k slab applies beta
 * (never reading C when beta == 0), later slabs add. */
static void store_tile(float *c, int64_t ldc, const float *acc, int64_t mr, int64_t nr, float alpha,
                       float beta, bool first) {
  for (int64_t i = 0; i < mr; ++i) {
    float *row = c + i * ldc;
    const float *src = acc + i * NR;
    if (!first)
      for (int64_t j = 0; j < nr; ++j) row[j] += alpha * src[j];
    else if (beta == 0.0f)
      for (int64_t j = 0; j < nr; ++j) row[j] = alpha * src[j];
    else
      for (int64_t j = 0; j < nr; ++j) row[j] = alpha * src[j] + beta * row[j];
  }
}

/* One matrix by a team of nthreads; apacks holds one mc*kc block per thread. */
static void tiled_one(const kz_gemm *g, const tile_plan *pl, const float *a, const float *b,
                      float *c, float *bpack, float *apacks, int nthreads) {
  const int64_t m = g->m, n = g->n, k = g->k;
  const int64_t nic = (m + pl->mc - 1) / pl->mc;
#pragma omp parallel num_threads(nthreads)
  {
    float *apack = apacks + (int64_t)omp_get_thread_num() * pl->mc * pl->kc;
    for (int64_t jc = 0; jc < n; jc += pl->nc) {
      const int64_t nlen = min64(pl->nc, n - jc), npanels = (nlen + NR - 1) / NR;
      /* Split the columns too when there are few row blocks, so every
       * thread gets several work units. */
      int64_t nch = (4 * (int64_t)omp_get_num_threads() + nic - 1) / nic;
      nch = nch < 1 ? 1 : min64(nch, npanels);
      const int64_t per_ch = (npanels + nch - 1) / nch;
      nch = (npanels + per_ch - 1) / per_ch;
      for (int64_t pc = 0; pc < k; pc += pl->kc) {
        const int64_t klen = min64(pl->kc, k - pc);
#pragma omp for schedule(static)
        for (int64_t panel = 0; panel < npanels; ++panel)
          pack_b_panel(b, g->ldb, g->trans_b, jc, nlen, pc, klen, panel, bpack);
        /* Units are row-block major and handed out in contiguous runs, so a
         * thread repacks A only when its run crosses into a new row block. */
        int64_t packed_ic = -1;
#pragma omp for schedule(static)
        for (int64_t u = 0; u < nic * nch; ++u) {
          const int64_t ic = u / nch, ch = u % nch;
          const int64_t i0 = ic * pl->mc, mlen = min64(pl->mc, m - i0);
          if (ic != packed_ic) {
            pack_a(a, g->lda, g->trans_a, i0, mlen, pc, klen, apack);
            packed_ic = ic;
          }
          const int64_t p_end = min64((ch + 1) * per_ch, npanels);
          for (int64_t panel = ch * per_ch; panel < p_end; ++panel) {
            const int64_t jr = panel * NR, nr = min64(NR, nlen - jr);
            for (int64_t ir = 0; ir < mlen; ir += MR) {
              float acc[MR * NR];
              micro_kernel(klen, apack + ir * klen, bpack + jr * klen, acc);
              store_tile(c + (i0 + ir) * g->ldc + jc + jr, g->ldc, acc, min64(MR, mlen - ir), nr,
                         g->alpha, g->beta, pc == 0);
            }
          }
        }
      }
    }
  }
}

static kz_status gemm_tiled(kz_stream *s, const kz_gemm *g, const float *a, const float *b) {
  const tile_plan pl = make_plan(g, kz_stream_knob(s, KZ_KNOB_CPU_MATMUL_TILE));
  const int nthreads = omp_get_max_threads();
  const bool spread = spread_batch(g, nthreads);
  /* Spread: each thread owns a B slab and an A block. Otherwise: one shared
   * B slab and one A block per thread. */
  const int64_t a_len = pl.mc * pl.kc, b_len = pl.kc * pl.nc;
  const int64_t total = (int64_t)nthreads * a_len + (spread ? nthreads : 1) * b_len;
  float *buf = malloc((size_t)total * sizeof(float));
  if (!buf)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gemm: %lld floats of packing buffers", (long long)total);
  if (spread) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < g->batch; ++i) {
      float *mine = buf + (int64_t)omp_get_thread_num() * (a_len + b_len);
      tiled_one(g, &pl, a + i * g->stride_a, b + i * g->stride_b, g->c + i * g->stride_c, mine,
                mine + b_len, 1);
    }
  } else {
    for (int64_t i = 0; i < g->batch; ++i)
      tiled_one(g, &pl, a + i * g->stride_a, b + i * g->stride_b, g->c + i * g->stride_c, buf,
                buf + b_len, nthreads);
  }
  free(buf);
  return KZ_OK;
}

/* ---- bf16 operands ------------------------------------------------------- */

/* Widens the stored rows x cols matrices of a batch operand into a dense f32
 * copy (bf16 -> f32 is exact: the bits move up 16 places). A broadcast
 * operand is widened once. */
static float *widen_bf16(const uint16_t *src, int64_t rows, int64_t cols, int64_t ld,
                         int64_t stride, int64_t batch) {
  const int64_t count = stride == 0 ? 1 : batch;
  float *dst = malloc((size_t)(count * rows * cols) * sizeof(float));
  if (!dst) return NULL;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < count * rows; ++r) {
    const uint16_t *in = src + (r / rows) * stride + (r % rows) * ld;
    float *out = dst + r * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const uint32_t bits = (uint32_t)in[j] << 16;
      memcpy(&out[j], &bits, sizeof(float));
    }
  }
  return dst;
}

static kz_status gemm_f32(kz_stream *s, const kz_gemm *g, const float *a, const float *b) {
  if (kz_stream_knob(s, KZ_KNOB_CPU_MATMUL_IMPL) == 0 && fits_blas_int(g)) {
    gemm_blas(g, a, b);
    return KZ_OK;
  }
  return gemm_tiled(s, g, a, b);
}

kz_status kz_cpu_gemm(kz_stream *s, const kz_gemm *g) {
  KZ_TRY(check_gemm(g));
  if (g->m == 0 || g->n == 0 || g->batch == 0) return KZ_OK;
  if (g->k == 0 || g->alpha == 0.0f) {
    scale_c(g);
    return KZ_OK;
  }
  if (g->ab_dtype == KZ_F32) return gemm_f32(s, g, g->a, g->b);

  const int64_t rows_a = g->trans_a ? g->k : g->m, cols_a = g->trans_a ? g->m : g->k;
  const int64_t rows_b = g->trans_b ? g->n : g->k, cols_b = g->trans_b ? g->k : g->n;
  float *a = widen_bf16(g->a, rows_a, cols_a, g->lda, g->stride_a, g->batch);
  float *b = a ? widen_bf16(g->b, rows_b, cols_b, g->ldb, g->stride_b, g->batch) : NULL;
  if (!a || !b) {
    free(a);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY,
                   "gemm: no memory to widen bf16 operands (%lld x %lld "
                   "and %lld x %lld, batch %lld)",
                   (long long)rows_a, (long long)cols_a, (long long)rows_b, (long long)cols_b,
                   (long long)g->batch);
  }
  kz_gemm wide = *g;
  wide.ab_dtype = KZ_F32;
  wide.lda = cols_a;
  wide.ldb = cols_b;
  wide.stride_a = g->stride_a == 0 ? 0 : rows_a * cols_a;
  wide.stride_b = g->stride_b == 0 ? 0 : rows_b * cols_b;
  const kz_status st = gemm_f32(s, &wide, a, b);
  free(a);
  free(b);
  return st;
}
