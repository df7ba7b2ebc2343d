/* GPU GBDT kernels (kernels/gbdt_device.h) against straightforward host loops.
 *
 * With a CUDA device every kernel runs on random inputs whose sizes are not
 * multiples of any block size, with missing values, and is compared with a
 * reference written here: gradients within float tolerance of a double
 * computation (relatively, down to e^-60, on confident logistic and softmax
 * rows); quantised gradients, histograms, best splits (split.c's candidates
 * and order, ties included) and partitions exactly (the reference starts
 * from the GPU's own quantised integers, and split gains use the same double
 * operations in the same order); predictions within 1e-6 relative. Without a GPU it prints
 * "skipped: no GPU" and exits 77; a build without CUDA first checks that every entry point says so.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/config/kernel_config.h"
#include "kernels/core/backend.h"
#include "kernels/core/splitmix64.h"
#include "kernels/gbdt_device.h"
#include "models/gbdt/gbdt_bins.h"
#include "models/gbdt/gbdt_model.h"
#include "tests/test_util.h"

/* The kernel layer restates the model layer's layout; they must agree. */
_Static_assert(KZ_GBDT_DEV_MISSING_BIN == KZ_GBDT_MISSING_BIN, "missing bin differs");
_Static_assert(KZ_GBDT_DEV_HIST_BINS == KZ_GBDT_HIST_BINS, "histogram bins differ");
_Static_assert((int)KZ_GBDT_DEV_SQUAREDERROR == (int)KZ_GBDT_REG_SQUAREDERROR &&
                   (int)KZ_GBDT_DEV_ABSOLUTEERROR == (int)KZ_GBDT_REG_ABSOLUTEERROR &&
                   (int)KZ_GBDT_DEV_QUANTILE == (int)KZ_GBDT_REG_QUANTILE &&
                   (int)KZ_GBDT_DEV_LOGISTIC == (int)KZ_GBDT_BINARY_LOGISTIC &&
                   (int)KZ_GBDT_DEV_SOFTMAX == (int)KZ_GBDT_MULTI_SOFTPROB &&
                   (int)KZ_GBDT_DEV_POISSON == (int)KZ_GBDT_COUNT_POISSON,
               "objective order differs");

#define SKIP 77
#define HB KZ_GBDT_DEV_HIST_BINS

/* ---- deterministic random numbers (splitmix64) ----------------------------- */
static uint64_t rng_state = 12345;
static uint64_t rng_u64(void) {
  return kz_splitmix64(&rng_state);
}
static double rng_unit(void) { /* [0, 1) */
  return (double)(rng_u64() >> 11) * (1.0 / 9007199254740992.0);
}
static int rng_int(int n) { /* [0, n) */
  return (int)(rng_u64() % (uint64_t)n);
}

static void *xmalloc(size_t bytes) {
  void *p = calloc(1, bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "out of host memory (%zu bytes)\n", bytes);
    exit(1);
  }
  return p;
}

/* ---- device helpers ---------------------------------------------------------- */
static kz_stream *stream;
static kz_device gpu;
static int gpu_optin; /* bytes of shared memory a block may opt in to */

static void *dev_alloc(size_t bytes) {
  void *p = NULL;
  kz_status st = kz_device_alloc(gpu, bytes ? bytes : 8, &p);
  if (st != KZ_OK) {
    fprintf(stderr, "device alloc of %zu bytes: %s\n", bytes, kz_last_error());
    exit(1);
  }
  return p;
}
static void *dev_upload(const void *host, size_t bytes) {
  void *p = dev_alloc(bytes);
  if (bytes) KZ_CHECK_OK(kz_copy_to_device(stream, p, host, bytes));
  return p;
}
static void download(void *host, const void *dev, size_t bytes) {
  KZ_CHECK_OK(kz_copy_to_host(stream, host, dev, bytes));
  KZ_CHECK_OK(kz_stream_sync(stream));
}
static void dev_free(void *p) {
  kz_device_free(gpu, p);
}

/* ---- 1. gradients ------------------------------------------------------------ */
static void ref_gradients(const kz_gbdt_dev_loss *loss, const float *margin, const float *label,
                          const float *weight, int64_t n, double *gh) {
  const int G = loss->num_group;
  for (int64_t r = 0; r < n; ++r) {
    const float *m = margin + r * G;
    const double y = label[r], w = weight ? weight[r] : 1.0;
    double *o = gh + r * G * 2;
    switch (loss->objective) {
    case KZ_GBDT_DEV_SQUAREDERROR:
      o[0] = (m[0] - y) * w, o[1] = w;
      break;
    case KZ_GBDT_DEV_ABSOLUTEERROR:
      o[0] = (m[0] > y ? 1.0 : (m[0] < y ? -1.0 : 0.0)) * w, o[1] = w;
      break;
    case KZ_GBDT_DEV_QUANTILE:
      o[0] = (y >= m[0] ? -loss->quantile_alpha : 1.0 - loss->quantile_alpha) * w, o[1] = w;
      break;
    case KZ_GBDT_DEV_LOGISTIC: { /* 1 - p as 1 / (1 + e^m): exact for large m too */
      const double p = 1.0 / (1.0 + exp(-(double)m[0])), q = 1.0 / (1.0 + exp((double)m[0]));
      o[0] = (p * (1.0 - y) - q * y) * w, o[1] = fmax(p * q, 1e-16) * w;
      break;
    }
    case KZ_GBDT_DEV_SOFTMAX: {
      double mx = m[0], sum = 0.0;
      for (int k = 1; k < G; ++k) mx = fmax(mx, m[k]);
      for (int k = 0; k < G; ++k) sum += exp(m[k] - mx);
      for (int k = 0; k < G; ++k) {
        const double p = exp(m[k] - mx) / sum;
        double q = 0.0; /* 1 - p, summed from the other classes */
        for (int j = 0; j < G; ++j)
          if (j != k) q += exp(m[j] - mx) / sum;
        o[2 * k] = (k == (int)y ? -q : p) * w;
        o[2 * k + 1] = fmax(2.0 * p * q, 1e-16) * w;
      }
      break;
    }
    case KZ_GBDT_DEV_POISSON:
      o[0] = (exp(m[0]) - y) * w, o[1] = exp(m[0] + loss->max_delta_step) * w;
      break;
    }
  }
}

/* Runs one objective; leaves its device gh in *gh_dev_out when asked. */
static void test_gradients_one(kz_gbdt_dev_objective obj, int G, bool weighted, int64_t n,
                               float **gh_dev_out) {
  kz_gbdt_dev_loss loss = {obj, G, 0.3, 0.7};
  float *margin = xmalloc(sizeof(float) * n * G), *label = xmalloc(sizeof(float) * n);
  float *weight = xmalloc(sizeof(float) * n), *gh = xmalloc(sizeof(float) * n * G * 2);
  double *ref = xmalloc(sizeof(double) * n * G * 2);
  for (int64_t i = 0; i < n * G; ++i) margin[i] = (float)(rng_unit() * 6.0 - 3.0);
  /* Confident rows, |margin| 15 .. 60: where 1 - p by subtraction would
   * lose every digit in float (checked relatively below). */
  const bool confident = obj == KZ_GBDT_DEV_LOGISTIC || obj == KZ_GBDT_DEV_SOFTMAX;
  for (int64_t r = 0; confident && r < n; r += 3)
    for (int k = 0; k < G; ++k)
      margin[r * G + k] = (float)((rng_unit() < 0.5 ? -1.0 : 1.0) * (15.0 + 45.0 * rng_unit()));
  for (int64_t r = 0; r < n; ++r) {
    weight[r] = (float)(0.25 + rng_unit());
    switch (obj) {
    case KZ_GBDT_DEV_LOGISTIC:
      label[r] = (float)rng_int(2);
      break;
    case KZ_GBDT_DEV_SOFTMAX:
      label[r] = (float)rng_int(G);
      break;
    case KZ_GBDT_DEV_POISSON:
      label[r] = (float)rng_int(7);
      break;
    default:
      label[r] = (float)(rng_unit() * 8.0 - 4.0);
    }
    /* Exact ties exercise the sign and quantile branches at zero. */
    if (r % 97 == 0 && G == 1) label[r] = margin[r];
  }
  float *d_m = dev_upload(margin, sizeof(float) * n * G);
  float *d_y = dev_upload(label, sizeof(float) * n);
  float *d_w = weighted ? dev_upload(weight, sizeof(float) * n) : NULL;
  float *d_gh = dev_alloc(sizeof(float) * n * G * 2);
  KZ_CHECK_OK(kz_gbdt_dev_gradients(stream, &loss, d_m, d_y, d_w, n, d_gh));
  download(gh, d_gh, sizeof(float) * n * G * 2);
  ref_gradients(&loss, margin, label, weighted ? weight : NULL, n, ref);
  int bad = 0;
  for (int64_t i = 0; i < n * G * 2; ++i) {
    /* relative alone on confident rows (g ~ e^-|m| there), down to the
     * hessian floor's 1e-16 and float's subnormals */
    const bool rel_only = confident && (i / (G * 2)) % 3 == 0;
    const double err = fabs(gh[i] - ref[i]),
                 tol = rel_only ? 2e-5 * fabs(ref[i]) + 1e-37 : 2e-6 + 2e-5 * fabs(ref[i]);
    if (!(err <= tol) && bad++ < 5)
      fprintf(stderr, "gradients obj %d: element %lld: gpu %.9g ref %.9g\n", (int)obj, (long long)i,
              gh[i], ref[i]);
  }
  KZ_CHECK(bad == 0);
  dev_free(d_m), dev_free(d_y), dev_free(d_w);
  if (gh_dev_out)
    *gh_dev_out = d_gh;
  else
    dev_free(d_gh);
  free(margin), free(label), free(weight), free(gh), free(ref);
}

static void test_gradient_args(void) {
  kz_gbdt_dev_loss loss = {KZ_GBDT_DEV_SQUAREDERROR, 2, 0.5, 0.7};
  float dummy = 0;
  KZ_CHECK_FAILS(kz_gbdt_dev_gradients(stream, &loss, &dummy, &dummy, NULL, 1, &dummy),
                 KZ_ERR_INVALID_ARG, "num_group = 2");
  loss.objective = KZ_GBDT_DEV_QUANTILE, loss.num_group = 1, loss.quantile_alpha = 1.5;
  KZ_CHECK_FAILS(kz_gbdt_dev_gradients(stream, &loss, &dummy, &dummy, NULL, 1, &dummy),
                 KZ_ERR_INVALID_ARG, "quantile_alpha");
}

/* ---- 2. quantisation ---------------------------------------------------------- */
/* Quantises d_gh [n x G x 2]; returns the host copy of qgh and the scales
 * after checking them against the host's rounding of the same floats. */
static int64_t *test_quantise(const float *d_gh, int64_t n, int G, double *scale_out,
                              int64_t **d_q_out) {
  const int cols = 2 * G;
  float *gh = xmalloc(sizeof(float) * n * cols), *mx = xmalloc(sizeof(float) * cols);
  double *scale = xmalloc(sizeof(double) * cols);
  int64_t *q = xmalloc(sizeof(int64_t) * n * cols);
  float *d_max = dev_alloc(sizeof(float) * cols);
  double *d_scale = dev_alloc(sizeof(double) * cols);
  int64_t *d_q = dev_alloc(sizeof(int64_t) * n * cols);
  KZ_CHECK_OK(kz_gbdt_dev_quantise(stream, d_gh, n, G, d_max, d_scale, d_q));
  download(gh, d_gh, sizeof(float) * n * cols);
  download(mx, d_max, sizeof(float) * cols);
  download(scale, d_scale, sizeof(double) * cols);
  download(q, d_q, sizeof(int64_t) * n * cols);
  int bad = 0;
  int c_bits = 0; /* 2^c_bits: the smallest power of two >= n */
  while (((int64_t)1 << c_bits) < n) ++c_bits;
  for (int c = 0; c < cols; ++c) {
    float m = 0.0f;
    for (int64_t r = 0; r < n; ++r) m = fmaxf(m, fabsf(gh[r * cols + c]));
    /* 2^(ilogb(m) + 1 + c_bits - 61), the power of two of gbdt_device.h */
    const double sc = m > 0.0f ? ldexp(1.0, ilogb((double)m) + 1 + c_bits - 61) : 0.0;
    if (m != mx[c] || sc != scale[c]) {
      fprintf(stderr, "quantise column %d: max gpu %.9g ref %.9g, scale gpu %.17g ref %.17g\n", c,
              mx[c], m, scale[c], sc);
      ++bad;
    }
    KZ_CHECK(m > 0.0f); /* a zero scale would make every later check trivial */
    double abs_sum = 0.0;
    for (int64_t r = 0; r < n; ++r) {
      const int64_t want = sc > 0.0 ? (int64_t)llrint((double)gh[r * cols + c] / sc) : 0;
      if (q[r * cols + c] != want && bad++ < 5)
        fprintf(stderr, "quantise row %lld col %d: gpu %lld ref %lld\n", (long long)r, c,
                (long long)q[r * cols + c], (long long)want);
      abs_sum += fabs((double)want);
    }
    /* no node sum can overflow int64; and the scale is not needlessly coarse */
    if (!(abs_sum <= ldexp(1.0, 61) * (1.0 + 1e-12) + (double)n &&
          abs_sum >= ldexp(1.0, 61) / (4.0 * n))) {
      fprintf(stderr, "quantise column %d: sum |q| = %.17g\n", c, abs_sum);
      ++bad;
    }
  }
  KZ_CHECK(bad == 0);
  if (scale_out) memcpy(scale_out, scale, sizeof(double) * cols);
  dev_free(d_max), dev_free(d_scale);
  *d_q_out = d_q;
  free(gh), free(mx), free(scale);
  return q;
}

/* ---- 3. histograms -------------------------------------------------------------- */
static void ref_hist(const uint8_t *codes, int nf, const int32_t *rows, int64_t n, const int64_t *q,
                     int64_t stride, int64_t *hist) {
  memset(hist, 0, sizeof(int64_t) * nf * HB * 2);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = rows ? rows[i] : i;
    for (int f = 0; f < nf; ++f) {
      const int b = codes[r * nf + f];
      hist[((int64_t)f * HB + b) * 2] += q[r * stride];
      hist[((int64_t)f * HB + b) * 2 + 1] += q[r * stride + 1];
    }
  }
}

static int64_t *gpu_hist(const uint8_t *d_codes, int64_t n_rows, int nf, const int32_t *d_rows,
                         int64_t n, const int64_t *d_q, int64_t stride) {
  int64_t *h = xmalloc(sizeof(int64_t) * nf * HB * 2);
  int64_t *d_h = dev_alloc(sizeof(int64_t) * nf * HB * 2);
  KZ_CHECK_OK(kz_gbdt_dev_histogram(stream, d_codes, n_rows, nf, d_rows, n, d_q, stride, d_h));
  download(h, d_h, sizeof(int64_t) * nf * HB * 2);
  dev_free(d_h);
  return h;
}

static void check_hist(const char *what, const int64_t *got, const int64_t *want, int nf) {
  int bad = 0;
  for (int64_t i = 0; i < (int64_t)nf * HB * 2; ++i)
    if (got[i] != want[i] && bad++ < 5)
      fprintf(stderr, "%s: feature %lld bin %lld %s: gpu %lld ref %lld\n", what,
              (long long)(i / (HB * 2)), (long long)(i / 2 % HB), i % 2 ? "h" : "g",
              (long long)got[i], (long long)want[i]);
  KZ_CHECK(bad == 0);
}

/* ---- 4. split evaluation ---------------------------------------------------------- */
static double ref_l1(double g, double a) {
  return g > a ? g - a : (g < -a ? g + a : 0.0);
}
static double ref_score(double g, double h, const kz_gbdt_dev_split_params *p) {
  if (h + p->lambda <= 0) return 0.0;
  const double t = ref_l1(g, p->alpha);
  return (t * t) / (h + p->lambda);
}

/* Scores one candidate; kept when strictly better (the first of equal
 * gains wins, as split.c's consider). */
static void ref_consider(int64_t lg, int64_t lh, int bin, int dl, int64_t tg, int64_t th,
                         double parent, const double *sc, const kz_gbdt_dev_split_params *p,
                         kz_gbdt_dev_split *r) {
  const int64_t rg = tg - lg, rh = th - lh;
  const double HL = (double)lh * sc[1], HR = (double)rh * sc[1];
  if (HL < p->min_child_weight || HR < p->min_child_weight) return;
  const double gain =
      (ref_score((double)lg * sc[0], HL, p) + ref_score((double)rg * sc[0], HR, p)) - parent;
  if (!(gain > 1e-6 && gain >= p->gamma)) return;
  if (r->found && !(gain > r->gain)) return;
  r->gain = gain, r->left_g = lg, r->left_h = lh, r->bin = bin;
  r->default_left = dl, r->found = 1;
}

/* split.c's scan: missing right by rising bin (the last value bin too when
 * the node has missing rows), then missing left by falling bin to -1. */
static kz_gbdt_dev_split ref_split_feature(const int64_t *h, int f, int nb, bool enabled,
                                           const double *sc, const kz_gbdt_dev_split_params *p) {
  kz_gbdt_dev_split r = {0};
  r.feature = r.bin = -1;
  int64_t tg = 0, th = 0;
  for (int b = 0; b < HB; ++b) tg += h[2 * b], th += h[2 * b + 1];
  r.total_g = tg, r.total_h = th;
  const int64_t mg = h[2 * (HB - 1)], mh = h[2 * (HB - 1) + 1];
  const double parent = ref_score((double)tg * sc[0], (double)th * sc[1], p);
  const bool has_missing = mh > 0 || mg != 0;
  if (nb > HB - 1) nb = HB - 1;
  int64_t pg = 0, ph = 0;
  for (int b = 0; enabled && b < (has_missing ? nb : nb - 1); ++b) {
    pg += h[2 * b], ph += h[2 * b + 1];
    ref_consider(pg, ph, b, 0, tg, th, parent, sc, p, &r);
  }
  /* left = the value bins <= b plus the missing rows: whole minus bins > b */
  int64_t ag = 0, ah = 0;
  for (int b = nb - 2; enabled && has_missing && b >= -1; --b) {
    ag += h[2 * (b + 1)], ah += h[2 * (b + 1) + 1];
    ref_consider(tg - ag, th - ah, b, 1, tg, th, parent, sc, p, &r);
  }
  if (r.found) r.feature = f;
  return r;
}

static bool split_equal(const kz_gbdt_dev_split *a, const kz_gbdt_dev_split *b) {
  return a->found == b->found && a->feature == b->feature && a->bin == b->bin &&
         a->default_left == b->default_left && a->left_g == b->left_g && a->left_h == b->left_h &&
         a->total_g == b->total_g && a->total_h == b->total_h && a->gain == b->gain;
}

static void print_split(const char *who, const kz_gbdt_dev_split *s) {
  fprintf(stderr,
          "  %s: found %d feature %d bin %d default_left %d gain %.17g left (%lld, %lld) "
          "total (%lld, %lld)\n",
          who, s->found, s->feature, s->bin, s->default_left, s->gain, (long long)s->left_g,
          (long long)s->left_h, (long long)s->total_g, (long long)s->total_h);
}

/* Evaluates n_nodes histograms (host copies in hists) on the GPU; returns the
 * number of nodes with a split found. */
static int test_splits(const int64_t *hists, int n_nodes, int nf, const int32_t *n_bins,
                       const uint8_t *mask, const double *scale, const kz_gbdt_dev_split_params *p,
                       kz_gbdt_dev_split *best_out) {
  const size_t hbytes = sizeof(int64_t) * nf * HB * 2 * n_nodes;
  int64_t *d_h = dev_upload(hists, hbytes);
  int32_t *d_nb = dev_upload(n_bins, sizeof(int32_t) * nf);
  uint8_t *d_mask = mask ? dev_upload(mask, nf) : NULL;
  double *d_scale = dev_upload(scale, sizeof(double) * 2);
  kz_gbdt_dev_split *d_pf = dev_alloc(sizeof(kz_gbdt_dev_split) * n_nodes * nf);
  kz_gbdt_dev_split *d_best = dev_alloc(sizeof(kz_gbdt_dev_split) * n_nodes);
  kz_gbdt_dev_split *pf = xmalloc(sizeof(kz_gbdt_dev_split) * n_nodes * nf);
  kz_gbdt_dev_split *best = xmalloc(sizeof(kz_gbdt_dev_split) * n_nodes);
  kz_gbdt_dev_split *best2 = xmalloc(sizeof(kz_gbdt_dev_split) * n_nodes);
  KZ_CHECK_OK(kz_gbdt_dev_evaluate_splits(stream, d_h, n_nodes, nf, d_nb, d_mask, d_scale, p, d_pf,
                                          d_best));
  download(pf, d_pf, sizeof(kz_gbdt_dev_split) * n_nodes * nf);
  download(best, d_best, sizeof(kz_gbdt_dev_split) * n_nodes);
  /* Without per_feature the kernel uses scratch; the answer must not change. */
  KZ_CHECK_OK(kz_gbdt_dev_evaluate_splits(stream, d_h, n_nodes, nf, d_nb, d_mask, d_scale, p, NULL,
                                          d_best));
  download(best2, d_best, sizeof(kz_gbdt_dev_split) * n_nodes);
  int found = 0, bad = 0;
  for (int node = 0; node < n_nodes; ++node) {
    kz_gbdt_dev_split want_best = {0};
    want_best.feature = want_best.bin = -1;
    for (int f = 0; f < nf; ++f) {
      const kz_gbdt_dev_split want = ref_split_feature(hists + ((int64_t)node * nf + f) * HB * 2, f,
                                                       n_bins[f], !mask || mask[f], scale, p);
      if (f == 0) want_best.total_g = want.total_g, want_best.total_h = want.total_h;
      if (want.found && (!want_best.found || want.gain > want_best.gain)) want_best = want;
      if (!split_equal(&pf[(int64_t)node * nf + f], &want) && bad++ < 5) {
        fprintf(stderr, "split node %d feature %d differs:\n", node, f);
        print_split("gpu", &pf[(int64_t)node * nf + f]);
        print_split("ref", &want);
      }
    }
    if (!split_equal(&best[node], &want_best) || !split_equal(&best2[node], &want_best)) {
      ++bad;
      fprintf(stderr, "best split of node %d differs:\n", node);
      print_split("gpu", &best[node]);
      print_split("gpu (scratch)", &best2[node]);
      print_split("ref", &want_best);
    }
    found += want_best.found;
    if (best_out) best_out[node] = best[node];
  }
  KZ_CHECK(bad == 0);
  dev_free(d_h), dev_free(d_nb), dev_free(d_mask), dev_free(d_scale), dev_free(d_pf);
  dev_free(d_best);
  free(pf), free(best), free(best2);
  return found;
}

/* ---- 5. partition ------------------------------------------------------------------ */
static void test_partition(const uint8_t *codes, const uint8_t *d_codes, int nf,
                           const int32_t *rows, int64_t n, int feature, int bin, int dl) {
  int32_t *d_rows = dev_upload(rows, sizeof(int32_t) * n);
  int32_t *d_out = dev_alloc(sizeof(int32_t) * n);
  int64_t *d_nl = dev_alloc(sizeof(int64_t));
  int32_t *out = xmalloc(sizeof(int32_t) * n), *want = xmalloc(sizeof(int32_t) * n);
  int64_t nl = -1, want_nl = 0;
  KZ_CHECK_OK(kz_gbdt_dev_partition(stream, d_codes, nf, d_rows, n, feature, bin, dl, d_out, d_nl));
  download(out, d_out, sizeof(int32_t) * n);
  download(&nl, d_nl, sizeof nl);
  for (int side = 0; side < 2; ++side)
    for (int64_t i = 0; i < n; ++i) {
      const int b = codes[(int64_t)rows[i] * nf + feature];
      const bool left = b == KZ_GBDT_DEV_MISSING_BIN ? dl != 0 : b <= bin;
      if (left == (side == 0)) want[want_nl++] = rows[i];
    }
  int64_t lefts = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int b = codes[(int64_t)rows[i] * nf + feature];
    lefts += b == KZ_GBDT_DEV_MISSING_BIN ? dl != 0 : b <= bin;
  }
  KZ_CHECK(nl == lefts);
  KZ_CHECK(lefts > 0 && lefts < n); /* both sides populated, or stability is untested */
  int bad = 0;
  for (int64_t i = 0; i < n; ++i)
    if (out[i] != want[i] && bad++ < 5)
      fprintf(stderr, "partition (f %d, bin %d, dl %d) position %lld: gpu %d ref %d\n", feature,
              bin, dl, (long long)i, out[i], want[i]);
  KZ_CHECK(bad == 0);
  dev_free(d_rows), dev_free(d_out), dev_free(d_nl);
  free(out), free(want);
}

/* ---- 6. prediction ------------------------------------------------------------------ */
typedef struct forest_host {
  int n_trees, num_group, n_nodes, cap;
  int32_t *offset, *group, *feature, *left, *right;
  float *threshold, *leaf;
  uint8_t *dl;
  double base[8];
} forest_host;

static int add_node(forest_host *fo) {
  if (fo->n_nodes == fo->cap) {
    fprintf(stderr, "forest capacity exceeded\n");
    exit(1);
  }
  return fo->n_nodes++;
}

/* Grows a random subtree at absolute index at; children are tree-relative. */
static void grow(forest_host *fo, int base, int at, int depth, int nf) {
  if (depth < 6 && rng_unit() < 0.75) {
    fo->feature[at] = rng_int(nf);
    fo->threshold[at] = (float)(rng_unit() * 4.0 - 2.0);
    fo->dl[at] = (uint8_t)rng_int(2);
    fo->leaf[at] = 0.0f;
    const int l = add_node(fo), r = add_node(fo);
    fo->left[at] = l - base, fo->right[at] = r - base;
    grow(fo, base, l, depth + 1, nf);
    grow(fo, base, r, depth + 1, nf);
  } else {
    fo->feature[at] = -1, fo->left[at] = fo->right[at] = -1;
    fo->threshold[at] = 0.0f, fo->dl[at] = 0;
    fo->leaf[at] = (float)(rng_unit() - 0.5);
  }
}

static void test_predict(void) {
  const int nf = 11, n_trees = 23, G = 3;
  const int64_t n = 1531;
  forest_host fo = {0};
  fo.n_trees = n_trees, fo.num_group = G, fo.cap = n_trees * 128;
  fo.offset = xmalloc(sizeof(int32_t) * (n_trees + 1));
  fo.group = xmalloc(sizeof(int32_t) * n_trees);
  fo.feature = xmalloc(sizeof(int32_t) * fo.cap), fo.left = xmalloc(sizeof(int32_t) * fo.cap);
  fo.right = xmalloc(sizeof(int32_t) * fo.cap), fo.threshold = xmalloc(sizeof(float) * fo.cap);
  fo.leaf = xmalloc(sizeof(float) * fo.cap), fo.dl = xmalloc(fo.cap);
  for (int k = 0; k < G; ++k) fo.base[k] = 0.5 * k - 0.25;
  for (int t = 0; t < n_trees; ++t) {
    fo.offset[t] = fo.n_nodes;
    fo.group[t] = t % G;
    const int root = add_node(&fo);
    grow(&fo, root, root, 0, nf);
  }
  fo.offset[n_trees] = fo.n_nodes;
  float *x = xmalloc(sizeof(float) * n * nf);
  for (int64_t i = 0; i < n * nf; ++i) x[i] = rng_unit() < 0.1 ? NAN : (float)(rng_unit() * 4 - 2);
  /* Values exactly on a threshold must go right (x < threshold is false). */
  for (int64_t r = 0; r < n; r += 13)
    x[r * nf + fo.feature[0] * (fo.feature[0] >= 0)] = fo.threshold[0];

  double *want = xmalloc(sizeof(double) * n * G), *got = xmalloc(sizeof(double) * n * G);
  for (int64_t r = 0; r < n; ++r) {
    for (int k = 0; k < G; ++k) want[r * G + k] = fo.base[k];
    for (int t = 0; t < n_trees; ++t) {
      const int base = fo.offset[t];
      int node = 0;
      while (fo.left[base + node] >= 0) {
        const int i = base + node;
        const float v = x[r * nf + fo.feature[i]];
        node = (isnan(v) ? fo.dl[i] != 0 : v < fo.threshold[i]) ? fo.left[i] : fo.right[i];
      }
      want[r * G + fo.group[t]] += fo.leaf[base + node];
    }
  }
  const int nn = fo.n_nodes;
  kz_gbdt_dev_forest d = {
      .n_trees = n_trees,
      .num_group = G,
      .tree_offset = dev_upload(fo.offset, sizeof(int32_t) * (n_trees + 1)),
      .tree_group = dev_upload(fo.group, sizeof(int32_t) * n_trees),
      .feature = dev_upload(fo.feature, sizeof(int32_t) * nn),
      .threshold = dev_upload(fo.threshold, sizeof(float) * nn),
      .left = dev_upload(fo.left, sizeof(int32_t) * nn),
      .right = dev_upload(fo.right, sizeof(int32_t) * nn),
      .default_left = dev_upload(fo.dl, nn),
      .leaf_value = dev_upload(fo.leaf, sizeof(float) * nn),
      .base_score = dev_upload(fo.base, sizeof(double) * G),
  };
  float *d_x = dev_upload(x, sizeof(float) * n * nf);
  double *d_out = dev_alloc(sizeof(double) * n * G);
  KZ_CHECK_OK(kz_gbdt_dev_predict(stream, &d, d_x, n, nf, d_out));
  download(got, d_out, sizeof(double) * n * G);
  int bad = 0;
  for (int64_t i = 0; i < n * G; ++i)
    if (!(fabs(got[i] - want[i]) <= 1e-6 * fmax(1.0, fabs(want[i]))) && bad++ < 5)
      fprintf(stderr, "predict row %lld group %lld: gpu %.17g ref %.17g\n", (long long)(i / G),
              (long long)(i % G), got[i], want[i]);
  KZ_CHECK(bad == 0);
  KZ_CHECK(nn > 3 * n_trees); /* the trees really split */

  /* A cycle (a child pointing back at the root) must end the walk with NaN. */
  int32_t cyc_left = fo.left[0];
  if (cyc_left >= 0) {
    const int32_t zero = 0;
    KZ_CHECK_OK(
        kz_copy_to_device(stream, (void *)(d.left + fo.offset[0] + cyc_left), &zero, sizeof zero));
    if (fo.left[fo.offset[0] + cyc_left] < 0) {
      /* the child was a leaf: make it an internal node that loops to the root */
      KZ_CHECK_OK(kz_copy_to_device(stream, (void *)(d.right + fo.offset[0] + cyc_left), &zero,
                                    sizeof zero));
      KZ_CHECK_OK(kz_copy_to_device(stream, (void *)(d.feature + fo.offset[0] + cyc_left), &zero,
                                    sizeof zero));
    }
    KZ_CHECK_OK(kz_gbdt_dev_predict(stream, &d, d_x, n, nf, d_out));
    download(got, d_out, sizeof(double) * n * G);
    int nans = 0;
    for (int64_t r = 0; r < n; ++r) nans += isnan(got[r * G + fo.group[0]]);
    KZ_CHECK(nans > 0);
  }
  dev_free((void *)d.tree_offset), dev_free((void *)d.tree_group), dev_free((void *)d.feature);
  dev_free((void *)d.threshold), dev_free((void *)d.left), dev_free((void *)d.right);
  dev_free((void *)d.default_left), dev_free((void *)d.leaf_value);
  dev_free((void *)d.base_score), dev_free(d_x), dev_free(d_out);
  free(fo.offset), free(fo.group), free(fo.feature), free(fo.left), free(fo.right);
  free(fo.threshold), free(fo.leaf), free(fo.dl), free(x), free(want), free(got);
}

/* ---- the booster pipeline: gradients -> quantise -> histograms -> splits -> partition */
static void test_pipeline(void) {
  const int G = 4, nf = 37;
  const int64_t n = 5003;
  float *d_gh = NULL;
  test_gradients_one(KZ_GBDT_DEV_SOFTMAX, G, true, n, &d_gh);
  double scale[2 * 4];
  int64_t *d_q = NULL;
  int64_t *q = test_quantise(d_gh, n, G, scale, &d_q);

  /* Codes: per-feature bin counts from 1 to 255, ~8% missing, one feature
   * with every value missing. */
  int32_t *n_bins = xmalloc(sizeof(int32_t) * nf);
  for (int f = 0; f < nf; ++f)
    n_bins[f] = f == 0 ? 255 : (f == 1 ? 1 : (f == 2 ? 40 : 1 + rng_int(64)));
  uint8_t *codes = xmalloc((size_t)n * nf);
  for (int64_t r = 0; r < n; ++r)
    for (int f = 0; f < nf; ++f)
      codes[r * nf + f] =
          (f == 5 || rng_unit() < 0.08) ? KZ_GBDT_DEV_MISSING_BIN : (uint8_t)rng_int(n_bins[f]);
  /* A node: a random 60% of the rows in shuffled order; its sibling the rest. */
  int32_t *perm = xmalloc(sizeof(int32_t) * n);
  for (int64_t i = 0; i < n; ++i) perm[i] = (int32_t)i;
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = (int64_t)(rng_u64() % (uint64_t)(i + 1));
    const int32_t t = perm[i];
    perm[i] = perm[j], perm[j] = t;
  }
  const int64_t n_node = n * 3 / 5, n_sib = n - n_node;
  uint8_t *d_codes = dev_upload(codes, (size_t)n * nf);
  int32_t *d_node = dev_upload(perm, sizeof(int32_t) * n_node);
  int32_t *d_sib = dev_upload(perm + n_node, sizeof(int32_t) * n_sib);
  const int k = 2; /* an inner group: exercises the qgh stride */
  const int64_t stride = 2 * G;
  const int64_t *qk = q + 2 * k, *d_qk = d_q + 2 * k;

  const size_t hn = (size_t)nf * HB * 2;
  int64_t *want_root = xmalloc(sizeof(int64_t) * hn), *want_node = xmalloc(sizeof(int64_t) * hn);
  int64_t *want_sib = xmalloc(sizeof(int64_t) * hn);
  ref_hist(codes, nf, NULL, n, qk, stride, want_root);
  ref_hist(codes, nf, perm, n_node, qk, stride, want_node);
  ref_hist(codes, nf, perm + n_node, n_sib, qk, stride, want_sib);

  int64_t *got = gpu_hist(d_codes, n, nf, NULL, n, d_qk, stride);
  check_hist("root histogram", got, want_root, nf);
  free(got);
  got = gpu_hist(d_codes, n, nf, d_node, n_node, d_qk, stride);
  check_hist("node histogram", got, want_node, nf);
  free(got);

  /* Odd launch shapes from the kernel config must give the same integers. */
  const kz_target tgt = stream->target;
  const int old_block = kz_kernel_config_value(tgt, KZ_KNOB_CUDA_GBDT_HIST_BLOCK);
  const int old_rows = kz_kernel_config_value(tgt, KZ_KNOB_CUDA_GBDT_HIST_ROWS);
  const int old_fpg = kz_kernel_config_value(tgt, KZ_KNOB_CUDA_GBDT_HIST_FEATURES);
  KZ_CHECK_OK(kz_kernel_config_set(tgt, KZ_KNOB_CUDA_GBDT_HIST_BLOCK, 96));
  KZ_CHECK_OK(kz_kernel_config_set(tgt, KZ_KNOB_CUDA_GBDT_HIST_ROWS, 160));
  KZ_CHECK_OK(kz_kernel_config_set(tgt, KZ_KNOB_CUDA_GBDT_HIST_FEATURES, 5));
  got = gpu_hist(d_codes, n, nf, d_node, n_node, d_qk, stride);
  check_hist("node histogram (block 96, 160 rows, 5 features)", got, want_node, nf);
  free(got);
  /* A group of features whose shared histogram (4 KiB each) exceeds this
   * GPU's opt-in per-block limit must be refused; the kernel caps the group
   * at the feature count, so the case needs that many features (A100: 41,
   * H100: 57; a GPU allowing 64 x 4 KiB has no such group). Then the largest
   * group that fits, above the 48 KiB default where the GPU allows it, must
   * give the same integers. */
  const int optin = gpu_optin;
  KZ_CHECK(optin >= 48 * 1024); /* every GPU of sm_80 and later allows more */
  const int fit = optin / (HB * 2 * (int)sizeof(int64_t));
  int64_t *d_tmp = dev_alloc(sizeof(int64_t) * hn * 2);
  if (fit < 64) {
    const int wide = fit + 1; /* features: one more than a block can hold */
    uint8_t *d_wide = dev_alloc((size_t)n * wide);
    int64_t *d_wh = dev_alloc(sizeof(int64_t) * (size_t)wide * HB * 2);
    KZ_CHECK_OK(kz_kernel_config_set(tgt, KZ_KNOB_CUDA_GBDT_HIST_FEATURES, wide));
    KZ_CHECK_FAILS(kz_gbdt_dev_histogram(stream, d_wide, n, wide, NULL, n, d_qk, stride, d_wh),
                   KZ_ERR_INVALID_ARG, "shared memory");
    dev_free(d_wide), dev_free(d_wh);
  } else {
    printf("this GPU allows %d bytes of shared memory per block: every feature group fits\n",
           optin);
  }
  KZ_CHECK_OK(kz_kernel_config_set(tgt, KZ_KNOB_CUDA_GBDT_HIST_FEATURES, fit < nf ? fit : nf));
  got = gpu_hist(d_codes, n, nf, d_node, n_node, d_qk, stride);
  check_hist("node histogram (the widest feature group that fits)", got, want_node, nf);
  free(got);
  KZ_CHECK_OK(kz_kernel_config_set(tgt, KZ_KNOB_CUDA_GBDT_HIST_BLOCK, old_block));
  KZ_CHECK_OK(kz_kernel_config_set(tgt, KZ_KNOB_CUDA_GBDT_HIST_ROWS, old_rows));
  KZ_CHECK_OK(kz_kernel_config_set(tgt, KZ_KNOB_CUDA_GBDT_HIST_FEATURES, old_fpg));

  /* Subtraction: root - node = sibling. */
  int64_t *d_root = dev_upload(want_root, sizeof(int64_t) * hn);
  int64_t *d_nodeh = dev_upload(want_node, sizeof(int64_t) * hn);
  KZ_CHECK_OK(kz_gbdt_dev_hist_subtract(stream, d_root, d_nodeh, d_tmp, nf));
  got = xmalloc(sizeof(int64_t) * hn);
  download(got, d_tmp, sizeof(int64_t) * hn);
  check_hist("subtracted sibling histogram", got, want_sib, nf);
  free(got);

  /* Splits over three nodes at once, two parameter sets, a feature mask. */
  int64_t *three = xmalloc(sizeof(int64_t) * hn * 3);
  memcpy(three, want_root, sizeof(int64_t) * hn);
  memcpy(three + hn, want_node, sizeof(int64_t) * hn);
  memcpy(three + 2 * hn, want_sib, sizeof(int64_t) * hn);
  uint8_t *mask = xmalloc(nf);
  for (int f = 0; f < nf; ++f) mask[f] = f % 7 != 3;
  const double *sc = scale + 2 * k;
  const kz_gbdt_dev_split_params loose = {1.0, 0.0, 0.0, 0.0};
  const kz_gbdt_dev_split_params strict = {0.5, 0.05, 2.0, 0.01};
  kz_gbdt_dev_split best[3];
  KZ_CHECK(test_splits(three, 3, nf, n_bins, NULL, sc, &loose, best) == 3);
  (void)test_splits(three, 3, nf, n_bins, mask, sc, &strict, NULL); /* checks inside */
  const kz_gbdt_dev_split_params none = {1.0, 0.0, 1e30, 0.0};      /* nothing is heavy enough */
  KZ_CHECK(test_splits(three, 3, nf, n_bins, mask, sc, &none, NULL) == 0);

  /* Partition the node by its best split, by feature 0 with the missing rows
   * either way, and the sibling by feature 2. */
  if (best[1].found)
    test_partition(codes, d_codes, nf, perm, n_node, best[1].feature, best[1].bin,
                   best[1].default_left);
  test_partition(codes, d_codes, nf, perm, n_node, 0, 127, 0);
  test_partition(codes, d_codes, nf, perm, n_node, 0, 127, 1);
  test_partition(codes, d_codes, nf, perm + n_node, n_sib, 2, n_bins[2] / 2, 1);
  /* the missing rows alone left (bin -1), or alone right (the last bin) */
  test_partition(codes, d_codes, nf, perm, n_node, 2, -1, 1);
  test_partition(codes, d_codes, nf, perm, n_node, 2, n_bins[2] - 1, 0);

  dev_free(d_gh), dev_free(d_q), dev_free(d_codes), dev_free(d_node), dev_free(d_sib);
  dev_free(d_tmp), dev_free(d_root), dev_free(d_nodeh);
  free(q), free(n_bins), free(codes), free(perm), free(want_root), free(want_node);
  free(want_sib), free(three), free(mask);
}

/* ---- a build without CUDA: every entry point must say so --------------------------- */
#ifndef KZ_WITH_CUDA
static void test_stubs(void) {
  kz_gbdt_dev_loss loss = {KZ_GBDT_DEV_SQUAREDERROR, 1, 0.5, 0.7};
  kz_gbdt_dev_split_params p = {1, 0, 0, 0};
  kz_gbdt_dev_forest fo = {0};
  const char *why = "built without CUDA";
  KZ_CHECK_FAILS(kz_gbdt_dev_gradients(NULL, &loss, NULL, NULL, NULL, 0, NULL), KZ_ERR_UNSUPPORTED,
                 why);
  KZ_CHECK_FAILS(kz_gbdt_dev_quantise(NULL, NULL, 0, 1, NULL, NULL, NULL), KZ_ERR_UNSUPPORTED, why);
  KZ_CHECK_FAILS(kz_gbdt_dev_histogram(NULL, NULL, 0, 1, NULL, 0, NULL, 2, NULL),
                 KZ_ERR_UNSUPPORTED, why);
  KZ_CHECK_FAILS(kz_gbdt_dev_hist_subtract(NULL, NULL, NULL, NULL, 1), KZ_ERR_UNSUPPORTED, why);
  KZ_CHECK_FAILS(kz_gbdt_dev_evaluate_splits(NULL, NULL, 0, 1, NULL, NULL, NULL, &p, NULL, NULL),
                 KZ_ERR_UNSUPPORTED, why);
  KZ_CHECK_FAILS(kz_gbdt_dev_partition(NULL, NULL, 1, NULL, 0, 0, 0, 0, NULL, NULL),
                 KZ_ERR_UNSUPPORTED, why);
  KZ_CHECK_FAILS(kz_gbdt_dev_predict(NULL, &fo, NULL, 0, 1, NULL), KZ_ERR_UNSUPPORTED, why);
}
#endif

int main(void) {
#ifndef KZ_WITH_CUDA
  test_stubs();
  if (kz_test_failures) return KZ_TEST_RESULT();
#endif
  int found = -1;
  for (int i = 0; i < kz_device_list_count(); ++i) {
    kz_device_info info;
    if (kz_device_list_get(i, &info) == KZ_OK && info.device.kind == KZ_DEVICE_CUDA) {
      found = i;
      gpu = info.device;
      gpu_optin = info.shared_mem_optin;
      printf("testing on cuda:%d (%s, sm_%d%d, kernel target %s)\n", info.device.index, info.name,
             info.compute_major, info.compute_minor, info.kernel_target);
      break;
    }
  }
  if (found < 0) {
    printf("skipped: no GPU\n");
    return SKIP;
  }
  if (kz_stream_create(gpu, &stream) != KZ_OK) {
    fprintf(stderr, "stream on cuda:%d: %s\n", gpu.index, kz_last_error());
    return 1;
  }
  test_gradient_args();
  const kz_gbdt_dev_objective objs[] = {KZ_GBDT_DEV_SQUAREDERROR, KZ_GBDT_DEV_ABSOLUTEERROR,
                                        KZ_GBDT_DEV_QUANTILE,     KZ_GBDT_DEV_LOGISTIC,
                                        KZ_GBDT_DEV_SOFTMAX,      KZ_GBDT_DEV_POISSON};
  for (size_t i = 0; i < sizeof objs / sizeof objs[0]; ++i) {
    const int G = objs[i] == KZ_GBDT_DEV_SOFTMAX ? 7 : 1;
    test_gradients_one(objs[i], G, true, 1037, NULL);
    test_gradients_one(objs[i], G, false, 61, NULL);
  }
  test_pipeline();
  test_predict();
  kz_stream_destroy(stream);
  if (!kz_test_failures)
    printf("ok: gradients, quantisation, histograms, splits, partitions, "
           "predictions match the host reference\n");
  return KZ_TEST_RESULT();
}
