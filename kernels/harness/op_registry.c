/* The list of ops the harness, the benchmarks and `kaizen kernels list`
 * enumerate: one row per kz_op_table entry, with the nominal cost formulas
 * and the NMSE bounds every case of the op is held to.
 *
 * Bounds are against the double-precision ref with identical (already
 * rounded) inputs, so they only have to absorb f32 arithmetic: an
 * elementwise op is off by about one f32 rounding (NMSE ~1e-15), a reduction
 * over K terms by ~K * 1e-15. A single wrong element in a few thousand gives
 * NMSE ~1e-4, far above every bound. bf16 outputs (casts, the adamw copy)
 * compare with ref values rounded to bf16 the same way, so they only differ
 * where an f32 result straddles a bf16 rounding boundary. */
#include <stddef.h>
#include <string.h>

#include "kernels/harness/op_case.h"

#define SLOT(entry) offsetof(kz_op_table, entry)

static const kz_op_info infos[] = {
    {"matmul", SLOT(gemm), "2*B*M*N*K", "(B*M*K + B*K*N)*size(ab) + 4*B*M*N*(beta!=0 ? 2 : 1)",
     1e-8, 1e-6, "C = alpha*op(A)op(B) + beta*C; batched, broadcast, f32 or bf16 inputs"},
    {"bias_add", SLOT(bias_add_fwd), "R*C", "4*(2*R*C + C)", 1e-12, 0, "y[r,c] = x[r,c] + bias[c]"},
    {"bias_add_bwd", SLOT(bias_add_bwd), "R*C", "4*(R*C + C*(acc ? 2 : 1))", 1e-9, 0,
     "dbias[c] (+)= sum_r dy[r,c]"},
    {"add", SLOT(add), "N", "12*N", 1e-12, 0, "y = a + b (residual)"},
    {"gelu", SLOT(gelu_fwd), "8*N (nominal)", "8*N", 1e-10, 0, "GELU, erf or tanh form"},
    {"gelu_bwd", SLOT(gelu_bwd), "12*N (nominal)", "4*N*(acc ? 4 : 3)", 1e-10, 0,
     "dx (+)= dy * gelu'(x)"},
    {"layernorm", SLOT(layernorm_fwd), "8*R*C", "4*(2*R*C + 2*C + 2*R)", 1e-9, 0,
     "y = (x-mean)*rstd*gamma + beta, saves mean/rstd"},
    {"layernorm_bwd", SLOT(layernorm_bwd), "12*R*C", "4*(3*R*C + 2*R + 3*C) (+ acc reads)", 1e-8, 0,
     "dx, dgamma, dbeta from saved mean/rstd"},
    {"softmax", SLOT(softmax_fwd), "5*B*H*T*S", "8*B*H*T*S", 1e-10, 0,
     "attention softmax with lengths and causal masks"},
    {"softmax_bwd", SLOT(softmax_bwd), "4*B*H*T*S", "4*B*H*T*S*(acc ? 4 : 3)", 1e-9, 0,
     "dx (+)= scale*y*(dy - sum(dy*y))"},
    {"cross_entropy", SLOT(cross_entropy_fwd), "4*N*C", "4*N*C + 8*N", 1e-9, 0,
     "per-row loss with ignore_index"},
    {"cross_entropy_bwd", SLOT(cross_entropy_bwd), "5*N*C", "4*N*C*(acc ? 3 : 2) + 12*N", 1e-9, 0,
     "dlogits (+)= dloss*(softmax - onehot)"},
    {"embedding", SLOT(embedding_fwd), "0", "4*N + 8*N*D", 1e-12, 0, "out[i,:] = table[ids[i],:]"},
    {"embedding_bwd", SLOT(embedding_bwd), "N*D", "4*N + 4*N*D + 4*V*D*(acc ? 2 : 1)", 1e-10, 0,
     "dtable[ids[i],:] += dout[i,:] (repeated ids sum)"},
    {"adamw", SLOT(adamw), "16*N", "28*N (+ 2*N with the bf16 copy)", 1e-9, 1e-5,
     "AdamW step on f32 master weights, optional bf16 copy"},
    {"cast_f32_to_bf16", SLOT(cast_f32_to_bf16), "0", "6*N", 0, 0,
     "round to nearest even (bit exact)"},
    {"cast_bf16_to_f32", SLOT(cast_bf16_to_f32), "0", "6*N", 0, 0, "widen (bit exact)"},
};

int kz_op_info_count(void) {
  return (int)(sizeof infos / sizeof infos[0]);
}

const kz_op_info *kz_op_info_at(int i) {
  return i >= 0 && i < kz_op_info_count() ? &infos[i] : NULL;
}

const kz_op_info *kz_op_info_find(const char *name) {
  for (int i = 0; i < kz_op_info_count(); ++i)
    if (!strcmp(infos[i].name, name)) return &infos[i];
  return NULL;
}

bool kz_op_supported(const kz_backend *b, const kz_op_info *info) {
  /* Every entry of kz_op_table is a function pointer; read the slot as one
   * generic function pointer (memcpy keeps this free of aliasing questions). */
  void (*fn)(void);
  memcpy(&fn, (const char *)&b->ops + info->slot, sizeof fn);
  return fn != NULL;
}

double kz_op_tolerance(const char *op, kz_dtype dtype) {
  const kz_op_info *info = kz_op_info_find(op);
  if (!info) return 0;
  return dtype == KZ_BF16 ? info->tol_bf16 : info->tol_f32;
}
