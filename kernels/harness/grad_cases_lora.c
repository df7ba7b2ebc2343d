/* Gradient cases of the LoRA op: x, A and B all differentiable (the model
 * wants dA and dB, and dx flows on to the layer below), the adapter's block
 * both alone and inside a wider output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/harness/grad_check.h"
#include "kernels/ref/ref_ops.h"

/* dims = {rows, in, rank, out}; p.lora.col: the block's first column of
 * an output [rows, out + 2 col] (so columns on both sides stay zero) */
static int64_t ld_of(const kz_grad_case *g) {
  return g->dims[3] + 2 * g->p.lora.col;
}

static void lora_fwd(const kz_grad_case *g, double *const *in, double *out) {
  const int64_t rows = g->dims[0], rank = g->dims[2], ld = ld_of(g);
  double *u = malloc((size_t)(rows * rank) * sizeof(double));
  if (!u) return;
  memset(out, 0, (size_t)(rows * ld) * sizeof(double));
  kz_ref_lora_fwd(in[0], in[1], in[2], u, out + g->p.lora.col, rows, g->dims[1], rank, g->dims[3],
                  ld, g->p.lora.scale);
  free(u);
}

static void lora_bwd(const kz_grad_case *g, double *const *in, const double *dy,
                     double *const *din) {
  const int64_t rows = g->dims[0], k = g->dims[1], rank = g->dims[2], ld = ld_of(g);
  double *u = malloc((size_t)(2 * rows * rank) * sizeof(double));
  if (!u) return;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < rank; j++) {
      double s = 0;
      for (int64_t i = 0; i < k; i++) s += in[0][r * k + i] * in[1][j * k + i];
      u[r * rank + j] = s;
    }
  kz_ref_lora_bwd(in[0], in[1], in[2], u, dy + g->p.lora.col, u + rows * rank, din[0], din[1],
                  din[2], rows, k, rank, g->dims[3], ld, g->p.lora.scale, false);
  free(u);
}

void kz_grad_cases_lora(kz_grad_list *l) {
  /* rows, in, rank, out, col */
  static const int64_t dims[][5] = {{1, 1, 1, 1, 0}, {3, 5, 2, 4, 0}, {6, 7, 3, 5, 2}};
  for (size_t i = 0; i < sizeof dims / sizeof dims[0]; ++i) {
    const int64_t *d = dims[i];
    char name[96];
    snprintf(name, sizeof name, "lora %lldx%lld r%lld ->%lld @%lld", (long long)d[0],
             (long long)d[1], (long long)d[2], (long long)d[3], (long long)d[4]);
    kz_grad_case *g = kz_grad_case_push(l, "lora", lora_fwd, lora_bwd, name);
    for (int j = 0; j < 4; j++) g->dims[j] = d[j];
    g->p.lora.col = d[4];
    g->p.lora.scale = i == 1 ? 2.0f : 0.5f;
    kz_grad_case_input(g, "x", d[0] * d[1], true, 0, 1);
    kz_grad_case_input(g, "a", d[2] * d[1], true, 0, 0.5);
    kz_grad_case_input(g, "b", d[3] * d[2], true, 0, 0.5);
    g->nout = d[0] * (d[3] + 2 * d[4]);
  }
}
