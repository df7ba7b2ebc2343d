/* GBDT split search over node histograms.
 *
 * Pass 1: one warp per (node, feature). Lane l holds bins 8l .. 8l+7 (the
 * missing bin, 255, is lane 31's last); an in-lane prefix plus a warp scan
 * gives the left sums of every threshold, exactly, in int64. Each lane scores
 * its thresholds with the missing rows right and left (lane 0 also the
 * missing rows alone left, bin -1), then a butterfly reduction picks the
 * feature's best under a total order: gain, then the candidate's place in
 * split.c's scan (kernels/gbdt_device.h lists it: missing right by rising
 * bin, the last value bin included when the node has missing rows, then
 * missing left by falling bin down to -1). So the winner depends neither on
 * lane order nor on the sums' source: the CPU booster (models/gbdt/split.c)
 * picks the same split from the same sums, ties included.
 * Pass 2: one block per node picks the best feature (gain, then lower index).
 *
 * Scores use double arithmetic with explicit _rn operations: no fused
 * multiply-add, so a host loop in double that does the same operations in
 * the same order gets the same bits, and ties break the same way. */
#include "kernels/cuda/gbdt_common.cuh"

namespace {

#define BINS_PER_LANE (KZ_GBDT_DEV_HIST_BINS / KZ_WARP)

/* order: the candidate's place in split.c's scan of the feature (unique
 * per feature, lower first). */
struct candidate {
  double gain;
  long long lg, lh;
  int bin, dl, order, found;
};

__device__ __forceinline__ bool better(const candidate &a, const candidate &b) {
  if (a.found != b.found) return a.found > b.found;
  if (!a.found) return false;
  if (a.gain != b.gain) return a.gain > b.gain;
  return a.order < b.order; /* split.c keeps the first of equal gains */
}

__device__ __forceinline__ candidate shfl_xor(const candidate &c, int mask) {
  candidate o;
  o.gain = __shfl_xor_sync(0xffffffffu, c.gain, mask);
  o.lg = __shfl_xor_sync(0xffffffffu, c.lg, mask);
  o.lh = __shfl_xor_sync(0xffffffffu, c.lh, mask);
  o.bin = __shfl_xor_sync(0xffffffffu, c.bin, mask);
  o.dl = __shfl_xor_sync(0xffffffffu, c.dl, mask);
  o.order = __shfl_xor_sync(0xffffffffu, c.order, mask);
  o.found = __shfl_xor_sync(0xffffffffu, c.found, mask);
  return o;
}

/* sign(G) * max(|G| - alpha, 0) */
__device__ __forceinline__ double threshold_l1(double g, double alpha) {
  if (g > alpha) return __dsub_rn(g, alpha);
  if (g < -alpha) return __dadd_rn(g, alpha);
  return 0.0;
}

__device__ __forceinline__ double score(double g, double h, const kz_gbdt_dev_split_params &p) {
  const double d = __dadd_rn(h, p.lambda);
  if (d <= 0.0) return 0.0;
  const double t = threshold_l1(g, p.alpha);
  return __ddiv_rn(__dmul_rn(t, t), d);
}

__device__ __forceinline__ double dequant(long long q, double scale) {
  return __dmul_rn(__ll2double_rn(q), scale);
}

/* Scores the candidate with left sums (lg, lh) and keeps it in best when it
 * is valid and better. */
__device__ __forceinline__ void consider(long long lg, long long lh, int bin, int dl, int order,
                                         long long tot_g, long long tot_h, double sc_g, double sc_h,
                                         double parent, const kz_gbdt_dev_split_params &p,
                                         candidate &best) {
  const long long rg = tot_g - lg, rh = tot_h - lh;
  const double HL = dequant(lh, sc_h), HR = dequant(rh, sc_h);
  if (HL < p.min_child_weight || HR < p.min_child_weight) return;
  const double gain = __dsub_rn(
      __dadd_rn(score(dequant(lg, sc_g), HL, p), score(dequant(rg, sc_g), HR, p)), parent);
  if (!(gain > 1e-6 && gain >= p.gamma)) return;
  const candidate c = {gain, lg, lh, bin, dl, order, 1};
  if (better(c, best)) best = c;
}

/* At most SPLIT_FEATURE_BLOCK threads (8 features) a block: under the 1024
 * of any block the compiler caps a thread at 64 registers and this kernel's
 * 16 int64 sums per lane spill. */
#define SPLIT_FEATURE_BLOCK 256

__global__ void __launch_bounds__(SPLIT_FEATURE_BLOCK)
    split_feature_kernel(const int64_t *hist, int32_t n_features, const int32_t *n_bins,
                         const uint8_t *mask, const double *scale, kz_gbdt_dev_split_params p,
                         kz_gbdt_dev_split *out) {
  const int lane = threadIdx.x % KZ_WARP;
  const int f = (int)blockIdx.x * (blockDim.x / KZ_WARP) + (int)threadIdx.x / KZ_WARP;
  const int node = blockIdx.y;
  if (f >= n_features) return; /* whole warps leave together */
  const long long *h = reinterpret_cast<const long long *>(hist) +
                       ((int64_t)node * n_features + f) * (KZ_GBDT_DEV_HIST_BINS * 2);
  long long g[BINS_PER_LANE], hh[BINS_PER_LANE];
#pragma unroll
  for (int k = 0; k < BINS_PER_LANE; ++k) {
    const int b = lane * BINS_PER_LANE + k;
    g[k] = h[2 * b];
    hh[k] = h[2 * b + 1];
  }
  /* The missing bin is lane 31's last entry; it joins no prefix. */
  const long long mg = __shfl_sync(0xffffffffu, g[BINS_PER_LANE - 1], KZ_WARP - 1);
  const long long mh = __shfl_sync(0xffffffffu, hh[BINS_PER_LANE - 1], KZ_WARP - 1);
  if (lane == KZ_WARP - 1) g[BINS_PER_LANE - 1] = hh[BINS_PER_LANE - 1] = 0;
#pragma unroll
  for (int k = 1; k < BINS_PER_LANE; ++k) {
    g[k] += g[k - 1];
    hh[k] += hh[k - 1];
  }
  long long sg = g[BINS_PER_LANE - 1], sh = hh[BINS_PER_LANE - 1];
  for (int o = 1; o < KZ_WARP; o <<= 1) {
    const long long tg = __shfl_up_sync(0xffffffffu, sg, o);
    const long long th = __shfl_up_sync(0xffffffffu, sh, o);
    if (lane >= o) {
      sg += tg;
      sh += th;
    }
  }
  const long long eg = sg - g[BINS_PER_LANE - 1], eh = sh - hh[BINS_PER_LANE - 1];
#pragma unroll
  for (int k = 0; k < BINS_PER_LANE; ++k) {
    g[k] += eg;
    hh[k] += eh;
  }
  const long long tot_g = __shfl_sync(0xffffffffu, sg, KZ_WARP - 1) + mg;
  const long long tot_h = __shfl_sync(0xffffffffu, sh, KZ_WARP - 1) + mh;

  const double sc_g = scale[0], sc_h = scale[1];
  /* Value bins stop at 254: 255 is the missing bin whatever n_bins says. */
  const int nb = max(0, min(n_bins[f], KZ_GBDT_DEV_HIST_BINS - 1));
  const bool enabled = mask == nullptr || mask[f] != 0;
  const bool has_missing = mh > 0 || mg != 0;
  const double parent = score(dequant(tot_g, sc_g), dequant(tot_h, sc_h), p);
  /* split.c's scan: missing right for b = 0 .. last_right (order b; the
   * last value bin, every value left, only beside missing rows), then with
   * missing rows missing left for b = nb-2 down to -1 (order 2nb-2-b). */
  const int last_right = has_missing ? nb - 1 : nb - 2;

  candidate best = {0.0, 0, 0, -1, 0, 0, 0};
  if (enabled) {
#pragma unroll
    for (int k = 0; k < BINS_PER_LANE; ++k) {
      const int b = lane * BINS_PER_LANE + k;
      if (b <= last_right)
        consider(g[k], hh[k], b, 0, b, tot_g, tot_h, sc_g, sc_h, parent, p, best);
      if (has_missing && b <= nb - 2)
        consider(g[k] + mg, hh[k] + mh, b, 1, 2 * nb - 2 - b, tot_g, tot_h, sc_g, sc_h, parent, p,
                 best);
    }
    /* bin -1: the missing rows alone left, every value right */
    if (lane == 0 && has_missing && nb >= 1)
      consider(mg, mh, -1, 1, 2 * nb - 1, tot_g, tot_h, sc_g, sc_h, parent, p, best);
  }
  for (int o = KZ_WARP / 2; o > 0; o >>= 1) {
    const candidate other = shfl_xor(best, o);
    if (better(other, best)) best = other;
  }
  if (lane == 0) {
    kz_gbdt_dev_split r;
    r.gain = best.found ? best.gain : 0.0;
    r.left_g = best.found ? best.lg : 0;
    r.left_h = best.found ? best.lh : 0;
    r.total_g = tot_g;
    r.total_h = tot_h;
    r.feature = best.found ? f : -1;
    r.bin = best.found ? best.bin : -1;
    r.default_left = best.found ? best.dl : 0;
    r.found = best.found;
    out[(int64_t)node * n_features + f] = r;
  }
}

/* Feature index i beats j (either may be -1 for "none"). */
__device__ __forceinline__ bool better_feature(const kz_gbdt_dev_split *pf, int i, int j) {
  if (i < 0) return false;
  if (j < 0) return true;
  if (pf[i].gain != pf[j].gain) return pf[i].gain > pf[j].gain;
  return i < j;
}

__global__ void split_node_kernel(const kz_gbdt_dev_split *per_feature, int32_t n_features,
                                  kz_gbdt_dev_split *best) {
  __shared__ int warp_best[KZ_WARP];
  const kz_gbdt_dev_split *pf = per_feature + (int64_t)blockIdx.x * n_features;
  int bi = -1;
  for (int f = threadIdx.x; f < n_features; f += blockDim.x)
    if (pf[f].found && better_feature(pf, f, bi)) bi = f;
  for (int o = KZ_WARP / 2; o > 0; o >>= 1) {
    const int other = __shfl_xor_sync(0xffffffffu, bi, o);
    if (better_feature(pf, other, bi)) bi = other;
  }
  const int lane = threadIdx.x % KZ_WARP, warp = threadIdx.x / KZ_WARP;
  if (lane == 0) warp_best[warp] = bi;
  __syncthreads();
  if (warp == 0) {
    bi = lane < (int)(blockDim.x / KZ_WARP) ? warp_best[lane] : -1;
    for (int o = KZ_WARP / 2; o > 0; o >>= 1) {
      const int other = __shfl_xor_sync(0xffffffffu, bi, o);
      if (better_feature(pf, other, bi)) bi = other;
    }
    if (lane == 0) {
      kz_gbdt_dev_split r;
      if (bi >= 0) {
        r = pf[bi];
      } else {
        r = pf[0]; /* every feature carries the node's totals */
        r.gain = 0.0;
        r.left_g = r.left_h = 0;
        r.feature = r.bin = -1;
        r.default_left = 0;
        r.found = 0;
      }
      best[blockIdx.x] = r;
    }
  }
}

} // namespace

extern "C" kz_status
kz_gbdt_dev_evaluate_splits(kz_stream *s, const int64_t *hist, int32_t n_nodes, int32_t n_features,
                            const int32_t *n_bins, const uint8_t *feature_mask,
                            const double *scale_dev, const kz_gbdt_dev_split_params *params,
                            kz_gbdt_dev_split *per_feature, kz_gbdt_dev_split *best) {
  static const char op[] = "gbdt evaluate_splits";
  if (n_nodes < 0 || n_nodes > 65535)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: n_nodes = %d is not in 0..65535", op, n_nodes);
  if (n_features < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: n_features = %d (need >= 1)", op, n_features);
  KZ_TRY(kz_gbdt_check_ptr(op, "params", params));
  const kz_gbdt_dev_split_params p = *params;
  if (!(p.lambda >= 0.0) || !(p.alpha >= 0.0) || !(p.min_child_weight >= 0.0) || !(p.gamma >= 0.0))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: lambda %g, alpha %g, min_child_weight %g and gamma %g must all be >= 0", op,
                   p.lambda, p.alpha, p.min_child_weight, p.gamma);
  if (n_nodes == 0) return KZ_OK;
  KZ_TRY(kz_gbdt_check_ptr(op, "hist", hist));
  KZ_TRY(kz_gbdt_check_ptr(op, "n_bins", n_bins));
  KZ_TRY(kz_gbdt_check_ptr(op, "scale_dev", scale_dev));
  KZ_TRY(kz_gbdt_check_ptr(op, "best", best));
  KZ_TRY(kz_cuda_enter(s, op));
  int block;
  KZ_TRY(kz_gbdt_row_block(s, op, &block));
  cudaStream_t st = kz_cuda_stream(s);
  kz_gbdt_dev_split *pf = per_feature;
  if (pf == NULL)
    KZ_TRY(kz_cuda_scratch_alloc(s, sizeof(kz_gbdt_dev_split) * (size_t)n_nodes * n_features,
                                 (void **)&pf, op));
  const int fblock = min(block, SPLIT_FEATURE_BLOCK), warps = fblock / KZ_WARP;
  const dim3 grid((unsigned)((n_features + warps - 1) / warps), (unsigned)n_nodes);
  split_feature_kernel<<<grid, fblock, 0, st>>>(hist, n_features, n_bins, feature_mask, scale_dev,
                                                p, pf);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) {
    split_node_kernel<<<(unsigned)n_nodes, block, 0, st>>>(pf, n_features, best);
    e = cudaGetLastError();
  }
  if (pf != per_feature) kz_cuda_scratch_free(s, pf);
  KZ_CUDA_CHECK(e, op);
  return KZ_OK;
}
