/* The TFT's building blocks as op sequences: linear layers, the gated
 * residual network (GRN) and the gated skip connection, each with the
 * activations its backward needs. Every input gradient (da, dc, dx, dskip)
 * is ADDED into (the network zeroes its gradient buffers once per step);
 * parameter gradients are added into the gradient block. */
#ifndef KZ_MODELS_TFT_BLOCKS_H
#define KZ_MODELS_TFT_BLOCKS_H

#include "kernels/core/arena.h"
#include "models/tft/tft_net.h"

/* A [r, c] tensor from the arena (c 0 allowed: one column is taken). */
kz_status kz_tft_alloc(kz_arena *a, int64_t r, int64_t c, kz_tensor *out);
/* A [r, c] view of the first r * c elements of t. */
kz_tensor kz_tft_view2(const kz_tensor *t, int64_t r, int64_t c);
/* Rows [r0, r0 + n) of a 2-D tensor. */
kz_tensor kz_tft_rows(const kz_tensor *t, int64_t r0, int64_t n);

/* y = x W^T + b; the backward adds dW, db and (dx non-NULL) dx. */
kz_status kz_tft_linear(kz_stream *s, const kz_tensor *x, const kz_tft_param *w,
                        const kz_tft_param *b, kz_tensor *y);
kz_status kz_tft_linear_bwd(kz_stream *s, const kz_tensor *x, const kz_tft_param *w,
                            const kz_tft_param *b, const kz_tensor *dy, kz_tensor *dx);

/* Dropout on the input of every GLU (the GRNs' gates and the gated skip
 * connections), as in Lim et al. and pytorch-forecasting: one state per
 * network, shared by its blocks. Blocks allocated with it hold a mask and
 * the dropped input; active only while training with p > 0, each block's
 * forward drawing its mask from key + a counter (masks differ between
 * blocks and steps, and are a function of the key on every backend). */
typedef struct kz_tft_drop {
  double p;
  int active;
  uint64_t key, counter;
} kz_tft_drop;

typedef struct kz_tft_grn_acts {
  int64_t rows, B;
  kz_tft_drop *drop;       /* NULL: no dropout (no mask allocated) */
  kz_tensor mask, z2d, dd; /* [rows, hid]: the mask, the dropped z2, its gradient */
  kz_tensor a, c;          /* the inputs (views, not owned); c: [B, ctx] or unset */
  kz_tensor z1, h1, z2, zg, g, skip, sum, mean, rstd, cproj;
  kz_tensor dsum, dzg, dz2, dh1, dz1, dcproj; /* backward scratch */
  /* without dropout: the gate composed with the second layer, Wc = W_g W_2
   * [2 out, hid] and bc = W_g b_2 + b_g; backward M = dzg^T h1, sg its column
   * sums (tft_blocks.c) */
  kz_tensor Wc, bc, M, sg;
} kz_tft_grn_acts;

/* rows = T * B (time-major) for time-varying inputs, B for static ones. */
kz_status kz_tft_grn_alloc(kz_arena *a, const kz_tft_grn *g, int64_t rows, int64_t B,
                           kz_tft_drop *drop, kz_tft_grn_acts *x);
/* y [rows, out] is the caller's (a view into a larger buffer is fine). */
kz_status kz_tft_grn_fwd(kz_stream *s, const kz_tft_grn *g, const kz_tensor *a, const kz_tensor *c,
                         kz_tensor *y, kz_tft_grn_acts *x);
kz_status kz_tft_grn_bwd(kz_stream *s, const kz_tft_grn *g, kz_tft_grn_acts *x, const kz_tensor *dy,
                         kz_tensor *da, kz_tensor *dc);
/* The GRN after its first layer, for callers that form z1 = a W_1^T + b_1
 * themselves (x->z1, before the context term, which this adds) and the skip
 * input (a, or the projection when in != out). The backward leaves dz1 (after
 * the context's share) and dsum, the skip input's gradient, in x and adds
 * the other parameters' and dc's gradients; the first layer's and the skip
 * projection's are the caller's. */
kz_status kz_tft_grn_fwd_z1(kz_stream *s, const kz_tft_grn *g, const kz_tensor *skip,
                            const kz_tensor *c, kz_tensor *y, kz_tft_grn_acts *x);
kz_status kz_tft_grn_bwd_z1(kz_stream *s, const kz_tft_grn *g, kz_tft_grn_acts *x,
                            const kz_tensor *dy, kz_tensor *dc);

typedef struct kz_tft_gate_acts {
  int64_t rows;
  kz_tft_drop *drop;
  kz_tensor mask, xd, dd; /* [rows, in] */
  kz_tensor x;
  kz_tensor zg, g, sum, mean, rstd, dsum, dzg;
} kz_tft_gate_acts;

kz_status kz_tft_gate_alloc(kz_arena *a, const kz_tft_gate *g, int64_t rows, kz_tft_drop *drop,
                            kz_tft_gate_acts *x);
kz_status kz_tft_gate_fwd(kz_stream *s, const kz_tft_gate *g, const kz_tensor *x,
                          const kz_tensor *skip, kz_tensor *y, kz_tft_gate_acts *a);
kz_status kz_tft_gate_bwd(kz_stream *s, const kz_tft_gate *g, kz_tft_gate_acts *a,
                          const kz_tensor *dy, kz_tensor *dx, kz_tensor *dskip);

#endif

/* ---- variable selection (tft_vsn.c) ---- */
typedef struct kz_tft_vsn_acts {
  int64_t rows, B;
  kz_tensor x[KZ_TFT_MAX_VARS];        /* inputs: real [rows, 1] f32, categorical [rows] i32 */
  kz_tensor E, flat, Y, Et, logits, w; /* [V,rows,d] [rows,V*d] [V,rows,d] [rows,V,d] [rows,V] x2 */
  kz_tft_grn_acts var[KZ_TFT_MAX_VARS], sel;
  kz_tensor dE, dflat, dY, dEt, dlogits, dw;
  /* all-real inputs (tft_vsn.c, "first layers through the embeddings"):
   * P [n, 2, d], cv [n, d], Wbig [n + 1, n d], Pf [n + 1, d], Ps [n + 1, n],
   * cf [d], cs [n], GA [n + 1, d], GS [n + 1, n], dWbig [n + 1, n d],
   * SR [2, d], tmp [2, d] */
  kz_tensor P, cv, Wbig, Pf, Ps, cf, cs, GA, GS, dWbig, SR, tmp;
} kz_tft_vsn_acts;

kz_status kz_tft_vsn_alloc(kz_arena *a, const kz_tft_vsn *v, int64_t rows, int64_t B, int64_t d,
                           kz_tft_drop *drop, kz_tft_vsn_acts *x);
/* x->x[] set by the caller; out [rows, d]; c: the context [B, d] or NULL. */
kz_status kz_tft_vsn_fwd(kz_stream *s, const kz_tft_vsn *v, kz_tft_vsn_acts *x, const kz_tensor *c,
                         kz_tensor *out);
kz_status kz_tft_vsn_bwd(kz_stream *s, const kz_tft_vsn *v, kz_tft_vsn_acts *x,
                         const kz_tensor *dout, kz_tensor *dc);
