/* The list of ops the harness, the benchmarks and `kaizen kernels list`
 * enumerate, derived from the op list (op_list.h): one row per registry op,
 * with the nominal cost formulas and the NMSE bounds every case of the op is
 * held to.
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

#include "harness/op_case.h"

#define SLOT(entry) offsetof(kz_op_table, entry)

/* One row per X row of the op list, two per U row (the op and its
 * backward). The trailing sentinel keeps the array non-empty whatever the
 * list holds. */
#define ROW_X(name, slot, grad, cpu, cuda, params, flops, bytes, tol_f32, tol_bf16, summary)       \
  {#name,    SLOT(slot), flops,           bytes,          tol_f32,                                 \
   tol_bf16, summary,    KZ_OP_WHY(grad), KZ_OP_WHY(cpu), KZ_OP_WHY(cuda)},
#define ROW_U(name, param, value, grad, cpu, cuda, flops, tol, summary)                            \
  {#name, SLOT(name##_fwd), flops,           "8*N",          tol,                                  \
   0,     summary,          KZ_OP_WHY(grad), KZ_OP_WHY(cpu), KZ_OP_WHY(cuda)},                     \
      {#name "_bwd",                                                                               \
       SLOT(name##_bwd),                                                                           \
       "N + " flops,                                                                               \
       "4*N*(acc ? 4 : 3)",                                                                        \
       tol,                                                                                        \
       0,                                                                                          \
       "dx (+)= dy * " #name "'(x; " #param ")",                                                   \
       "the backward of " #name,                                                                   \
       KZ_OP_WHY(cpu),                                                                             \
       KZ_OP_WHY(cuda)},

static const kz_op_info infos[] = {
    KZ_OP_LIST(ROW_X, ROW_U){NULL, 0, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL}};

int kz_op_info_count(void) {
  return (int)(sizeof infos / sizeof infos[0]) - 1; /* the sentinel */
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
