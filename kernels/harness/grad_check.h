/* Gradient checks: every backward of the reference implementation against
 * central finite differences of its forward, all in double.
 *
 * For a case with inputs x_1..x_k and output y = f(x), the scalar loss is
 * L = sum(w * y) with fixed random weights w, so dL/dy = w is what the
 * backward receives. Each element of each differentiable input is nudged by
 * +-h and (L+ - L-) / 2h compared with the analytic gradient. The backend
 * backwards are then held to the ref ones by the parity suite, so together
 * the two prove every backend's gradients. */
#ifndef KZ_HARNESS_GRAD_CHECK_H
#define KZ_HARNESS_GRAD_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/harness/op_case.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Inputs of one gradient case: an LSTM cell has six differentiable ones
 * (x, h, c, W_x, W_h, b); tests/test_harness_selftest.c runs a six-input
 * case to prove the check handles them. */
#define KZ_GRAD_MAX_INPUTS 8
#define KZ_GRAD_LSTM_INPUTS 6
#ifndef __cplusplus
_Static_assert(KZ_GRAD_MAX_INPUTS >= KZ_GRAD_LSTM_INPUTS, "LSTM cell: six differentiable inputs");
#endif
#define KZ_GRAD_MAX_INTS 64
/* Central differences in double with h = 1e-5 are accurate to ~1e-9
 * relative on these smooth functions; a wrong formula is off by O(1). */
#define KZ_GRAD_STEP 1e-5
#define KZ_GRAD_TOL 1e-6

typedef struct kz_grad_input {
  const char *name;
  int64_t n;
  bool differentiable;
  double mean, std; /* random initial values */
} kz_grad_input;

typedef struct kz_grad_case kz_grad_case;
typedef void (*kz_grad_fwd_fn)(const kz_grad_case *g, double *const *in, double *out);
/* Writes dL/d(input) for every differentiable input (din[i] NULL otherwise). */
typedef void (*kz_grad_bwd_fn)(const kz_grad_case *g, double *const *in, const double *dout,
                               double *const *din);

struct kz_grad_case {
  const char *op; /* registry name of the forward op */
  char name[KZ_CASE_NAME_LEN];
  int ninputs;
  kz_grad_input in[KZ_GRAD_MAX_INPUTS];
  int64_t nout;
  int64_t dims[4]; /* op-specific sizes (rows/cols, m/n/k/batch, B/H/T/S) */
  kz_op_params p;
  int32_t ints[KZ_GRAD_MAX_INTS]; /* ids, targets or lengths */
  kz_grad_fwd_fn fwd;
  kz_grad_bwd_fn bwd;
};

typedef struct kz_grad_list {
  kz_grad_case *items;
  int count, cap;
  bool oom;
} kz_grad_list;

typedef struct kz_grad_result {
  bool passed;
  double worst_rel; /* max over inputs of |g - g_fd| / max(|g|, |g_fd|) (2-norms) */
  char message[512];
} kz_grad_result;

kz_status kz_grad_cases_build(kz_grad_list *list);
void kz_grad_list_free(kz_grad_list *list);
/* Names of the ops that have gradient cases, in registry order. */
int kz_grad_op_count(void);
const char *kz_grad_op_at(int i);

/* For case builders kept in their own files: appends a zeroed case (the
 * name is used as given) and adds an input to it (aborts past
 * KZ_GRAD_MAX_INPUTS, like every builder). */
kz_grad_case *kz_grad_case_push(kz_grad_list *l, const char *op, kz_grad_fwd_fn fwd,
                                kz_grad_bwd_fn bwd, const char *name);
void kz_grad_case_input(kz_grad_case *g, const char *name, int64_t n, bool diff, double mean,
                        double std);
void kz_grad_cases_attention(kz_grad_list *l); /* grad_cases_attention.c */
void kz_grad_cases_lora(kz_grad_list *l);      /* grad_cases_lora.c */

void kz_grad_case_run(const kz_grad_case *g, uint64_t seed, kz_grad_result *r);
/* Runs the cases of `op` (NULL: all) and prints a line per op. */
kz_status kz_harness_grad(const char *op, uint64_t base_seed, bool verbose, FILE *out,
                          kz_suite_counts *counts);

#ifdef __cplusplus
}
#endif
#endif
