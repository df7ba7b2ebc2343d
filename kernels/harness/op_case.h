/* The op test harness: one table of cases, run on any backend against ref.
 *
 * A case describes one call of one op: its arguments (name, dtype, shape,
 * role, how to draw random values), its parameters, how to invoke it on a
 * backend (through the validated wrappers of ops.h) and how to compute the
 * same thing with the double-precision reference. The runner (op_check.c)
 * owns everything around the call: random inputs rounded to each argument's
 * dtype, guard bytes around every device buffer, poisoned outputs, NaN/Inf
 * checks and the NMSE comparison. Because `invoke` is a plain field, a test
 * can swap it for a deliberately broken function and watch the runner catch
 * it (tests/test_harness_selftest.c). */
#ifndef KZ_HARNESS_OP_CASE_H
#define KZ_HARNESS_OP_CASE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Arguments of one case. The widest ops planned: a fused attention backward
 * (q, k, v, o, dO, lse -> dq, dk, dv, plus a padding and a causal mask: 11)
 * and an LSTM cell backward (six differentiable inputs, their gradients and
 * the saved gates). tests/test_harness_selftest.c runs a synthetic case of
 * the attention-backward shape, so the runner is known to handle it. */
#define KZ_CASE_MAX_ARGS 16
#define KZ_CASE_NAME_LEN 96
#define KZ_CASE_ATTENTION_BWD_ARGS (6 + 3 + 2)
#ifdef __cplusplus
static_assert(KZ_CASE_MAX_ARGS >= KZ_CASE_ATTENTION_BWD_ARGS, "fused attention backward");
#else
_Static_assert(KZ_CASE_MAX_ARGS >= KZ_CASE_ATTENTION_BWD_ARGS, "fused attention backward");
#endif

/* IN: read only (the runner checks it is left unchanged). OUT: every element
 * must be written; the device copy starts poisoned. INOUT: starts with random
 * values that both the backend and ref see (beta != 0, accumulate=true,
 * optimizer state). */
typedef enum kz_arg_role { KZ_ARG_IN, KZ_ARG_OUT, KZ_ARG_INOUT } kz_arg_role;

typedef enum kz_init_kind {
  KZ_INIT_NORMAL,  /* mean a, standard deviation b */
  KZ_INIT_UNIFORM, /* [a, b) */
  KZ_INIT_INT,     /* integers in [a, b) (i32 arguments) */
} kz_init_kind;

typedef struct kz_arg_spec {
  const char *name;
  kz_dtype dtype;
  int ndim;
  int64_t shape[KZ_MAX_DIMS];
  kz_arg_role role;
  kz_init_kind init;
  double a, b;
  double tol; /* NMSE bound for OUT/INOUT arguments */
} kz_arg_spec;

/* Parameters of a case, one struct per op family: a case fills the family
 * of its op (c->p.norm.eps, c->p.attn.causal) and leaves the others zero,
 * so a new family (LSTM, fused attention) adds its own struct instead of
 * more fields shared by everyone. The last four apply to every op. */
typedef struct kz_gemm_params {
  bool trans_a, trans_b;
  float alpha, beta;
} kz_gemm_params;

typedef struct kz_elementwise_params {
  kz_gelu_approx approx; /* gelu, bias_gelu */
  float param;           /* unary elementwise ops (op_list.h U rows): their parameter */
} kz_elementwise_params;

typedef struct kz_norm_params {
  float eps;
  bool stats; /* layernorm: mean/rstd outputs present */
} kz_norm_params;

typedef struct kz_attn_params {
  float scale;
  bool causal;
  bool lengths; /* softmax: the last argument is lengths [B] */
} kz_attn_params;

typedef struct kz_loss_params {
  int32_t ignore_index;
} kz_loss_params;

typedef struct kz_optim_params {
  kz_adamw_hparams hp;
  int steps;      /* adamw: consecutive steps run, grads is [steps, n] */
  bool bf16_copy; /* adamw: params_bf16 output present */
  float lambda;   /* ewc_grad: the penalty weight */
} kz_optim_params;

typedef struct kz_view_params {
  int perm[KZ_MAX_DIMS]; /* permute: y dim j = x dim perm[j] */
  bool backward;         /* permute: run kz_op_permute_bwd (dy -> dx) */
} kz_view_params;

typedef struct kz_tabular_params {
  double p;                       /* dropout: drop probability; standardize: inf_z */
  uint64_t key;                   /* dropout: the mask's key */
  double scale;                   /* mse_bwd: the loss scale */
  int64_t src_col, dst_col, cols; /* copy_cols */
} kz_tabular_params;

typedef struct kz_transformer_params {
  double dropout_p; /* residual_layernorm(_bwd): drop probability of h */
  uint64_t key;     /* residual_layernorm(_bwd): the mask's key */
  bool save_r;      /* residual_layernorm: writes r; its backward reads r instead of y */
} kz_transformer_params;

typedef struct kz_fused_attn_params {
  int64_t batch, heads; /* the wrapper's kz_attn_opts */
  float scale;
  bool causal;
  double dropout_p;
  uint64_t dropout_key;
  bool fused;   /* qkv in one [B*T, 3*H*D] tensor (else separate q, k, v) */
  bool lse;     /* forward: the lse output is present */
  bool lengths; /* a lengths [B] argument is present */
} kz_fused_attn_params;

typedef struct kz_lora_params {
  float scale; /* lora(_bwd): alpha / r */
  int64_t col; /* lora(_bwd): first column of the adapter's block in y / dy */
} kz_lora_params;

typedef struct kz_op_params {
  kz_gemm_params gemm;
  kz_elementwise_params ew;
  kz_norm_params norm;
  kz_attn_params attn;
  kz_loss_params loss;
  kz_optim_params optim;
  kz_view_params view;
  kz_tabular_params tab;      /* the MLP's ops: dropout, mse, standardize, copy_cols */
  kz_transformer_params tf;   /* residual_layernorm (eps in norm), gather_rows, qa_span_loss */
  kz_fused_attn_params fattn; /* attention, attention_bwd */
  kz_lora_params lora;        /* lora, lora_bwd */
  /* Every op: */
  bool accumulate; /* backward ops: add into the gradient outputs */
  bool in_place;   /* y aliases the first input */
  /* Backward ops: gradient outputs passed as NULL ("not wanted"), bit i for
   * the i-th gradient output. The argument stays in the case as an input, so
   * the runner checks it is left untouched; ref gets NULL too. */
  unsigned drop;
  bool unfused; /* fused ops: run with the backend's fused slot cleared */
} kz_op_params;

/* Host values of one argument: doubles for floating dtypes, ints for i32. */
typedef struct kz_host_arg {
  double *f;
  int32_t *i;
  int64_t n;
} kz_host_arg;

typedef struct kz_op_case kz_op_case;
/* Runs the case on a stream; args[] are device tensors in spec order. */
typedef kz_status (*kz_case_invoke_fn)(const kz_op_case *c, kz_stream *s, kz_tensor *args);
/* Computes the expected values of OUT/INOUT arguments in place. */
typedef void (*kz_case_ref_fn)(const kz_op_case *c, kz_host_arg *args);
/* Adjusts generated inputs that must satisfy a relation (saved statistics,
 * a valid softmax output, ignored targets, a zero length). */
typedef void (*kz_case_fixup_fn)(const kz_op_case *c, kz_host_arg *args);

struct kz_op_case {
  const char *op; /* registry name (op_registry.c) */
  char name[KZ_CASE_NAME_LEN];
  int nargs;
  kz_arg_spec args[KZ_CASE_MAX_ARGS];
  kz_op_params p;
  kz_case_invoke_fn invoke;
  kz_case_ref_fn ref;
  kz_case_fixup_fn fixup; /* optional */
  double flops, bytes;    /* nominal work of one invocation, for the bench */
  bool compute_bound;     /* compare with the GEMM peak rather than bandwidth */
};

/* ---- the op registry ----------------------------------------------------- */
typedef struct kz_op_info {
  const char *name;
  size_t slot; /* offsetof(kz_op_table, entry) */
  const char *flops_formula, *bytes_formula;
  double tol_f32, tol_bf16; /* NMSE bounds by output (or input, for matmul) dtype */
  const char *summary;
  /* Why the op has no gradient cases, no CPU or no CUDA implementation (the
   * list's KZ_NO reasons); NULL where it has them. */
  const char *no_grad, *no_cpu, *no_cuda;
  /* A fused op's unfused sequence where that backend's slot is NULL. */
  const char *unfused_cpu, *unfused_cuda;
} kz_op_info;

int kz_op_info_count(void);
const kz_op_info *kz_op_info_at(int i);
const kz_op_info *kz_op_info_find(const char *name);
/* True when the backend's table has a non-NULL entry for the op. */
bool kz_op_slot_filled(const kz_backend *b, const kz_op_info *info);
/* True when the op runs on the backend: its slot, or a fused op's fallback. */
bool kz_op_supported(const kz_backend *b, const kz_op_info *info);
double kz_op_tolerance(const char *op, kz_dtype dtype);

/* ---- the case table -------------------------------------------------------- */
typedef struct kz_op_case_list {
  kz_op_case *items;
  int count, cap;
  bool oom; /* a push failed; builders keep going on a scratch slot */
} kz_op_case_list;

/* Every parity case, in registry order. */
kz_status kz_op_cases_build(kz_op_case_list *list);
void kz_op_case_list_free(kz_op_case_list *list);

/* ---- running a case ------------------------------------------------------- */
enum {
  KZ_CASE_FAIL_GUARD = 1 << 0,     /* bytes before or after an argument changed */
  KZ_CASE_FAIL_UNWRITTEN = 1 << 1, /* an output element still holds the poison */
  KZ_CASE_FAIL_NONFINITE = 1 << 2, /* an output element is NaN or Inf */
  KZ_CASE_FAIL_NMSE = 1 << 3,      /* an output differs from ref beyond its bound */
  KZ_CASE_FAIL_INPUT = 1 << 4,     /* an input was modified */
  KZ_CASE_FAIL_STATUS = 1 << 5,    /* the op returned an error */
  KZ_CASE_FAIL_HARNESS = 1 << 6,   /* allocation, copy or ref failure */
};

typedef struct kz_case_result {
  unsigned failures;  /* KZ_CASE_FAIL_* bits; 0 = pass */
  bool skipped;       /* the backend does not implement the op */
  uint64_t seed;      /* the case's own seed */
  double worst_ratio; /* max over outputs of nmse / tol */
  char message[768];
} kz_case_result;

/* Runs one case on the stream with inputs drawn from `seed`. */
void kz_op_case_run(const kz_op_case *c, kz_stream *s, uint64_t seed, kz_case_result *r);

/* The seed of one case: the base seed mixed with the case name, so a case's
 * inputs do not change when cases are added around it. */
uint64_t kz_case_seed(uint64_t base, const char *case_name);
/* KZ_TEST_SEED (decimal or 0x hex; "random" draws one) or the fixed default. */
uint64_t kz_harness_base_seed(void);

/* ---- suites: what the CLI and the ctest drivers run ------------------------ */
typedef struct kz_suite_counts {
  int passed, failed, skipped;
} kz_suite_counts;

/* Runs every case of `op` (NULL: all ops) on the device; prints one line per
 * op (per case when verbose) and every failure with its seed. */
kz_status kz_harness_test_device(kz_device device, const char *op, uint64_t base_seed, bool verbose,
                                 FILE *out, kz_suite_counts *counts);

#ifdef __cplusplus
}
#endif
#endif
