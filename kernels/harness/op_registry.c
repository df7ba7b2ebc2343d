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

#include "kernels/harness/op_case.h"

#define SLOT(entry) offsetof(kz_op_table, entry)

/* One row per X row of the op list, two per U row (the op and its
 * backward). The trailing sentinel keeps the array non-empty whatever the
 * list holds. */
/* Macro parameters are prefixed with o_ so they cannot replace the member
 * names of the designated initialisers. */
#define ROW_X(o_name, o_slot, o_grad, o_cpu, o_cuda, o_params, o_flops, o_bytes, o_tol_f32,        \
              o_tol_bf16, o_summary)                                                               \
  {.name = #o_name,                                                                                \
   .slot = SLOT(o_slot),                                                                           \
   .flops_formula = o_flops,                                                                       \
   .bytes_formula = o_bytes,                                                                       \
   .tol_f32 = o_tol_f32,                                                                           \
   .tol_bf16 = o_tol_bf16,                                                                         \
   .summary = o_summary,                                                                           \
   .no_grad = KZ_OP_WHY(o_grad),                                                                   \
   .no_cpu = KZ_OP_WHY(o_cpu),                                                                     \
   .no_cuda = KZ_OP_WHY(o_cuda),                                                                   \
   .unfused_cpu = KZ_OP_UNFUSED(o_cpu),                                                            \
   .unfused_cuda = KZ_OP_UNFUSED(o_cuda)},
#define ROW_U(o_name, o_param, o_value, o_grad, o_cpu, o_cuda, o_flops, o_tol, o_summary)          \
  {.name = #o_name,                                                                                \
   .slot = SLOT(o_name##_fwd),                                                                     \
   .flops_formula = o_flops,                                                                       \
   .bytes_formula = "8*N",                                                                         \
   .tol_f32 = o_tol,                                                                               \
   .summary = o_summary,                                                                           \
   .no_grad = KZ_OP_WHY(o_grad),                                                                   \
   .no_cpu = KZ_OP_WHY(o_cpu),                                                                     \
   .no_cuda = KZ_OP_WHY(o_cuda)},                                                                  \
      {.name = #o_name "_bwd",                                                                     \
       .slot = SLOT(o_name##_bwd),                                                                 \
       .flops_formula = "N + " o_flops,                                                            \
       .bytes_formula = "4*N*(acc ? 4 : 3)",                                                       \
       .tol_f32 = o_tol,                                                                           \
       .summary = "dx (+)= dy * " #o_name "'(x; " #o_param ")",                                    \
       .no_grad = "the backward of " #o_name,                                                      \
       .no_cpu = KZ_OP_WHY(o_cpu),                                                                 \
       .no_cuda = KZ_OP_WHY(o_cuda)},

static const kz_op_info infos[] = {KZ_OP_LIST(ROW_X, ROW_U){.name = NULL}};

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

bool kz_op_slot_filled(const kz_backend *b, const kz_op_info *info) {
  /* Every entry of kz_op_table is a function pointer; read the slot as one
   * generic function pointer (memcpy keeps this free of aliasing questions). */
  void (*fn)(void);
  memcpy(&fn, (const char *)&b->ops + info->slot, sizeof fn);
  return fn != NULL;
}

bool kz_op_supported(const kz_backend *b, const kz_op_info *info) {
  const char *fallback = b->kind == KZ_DEVICE_CPU ? info->unfused_cpu : info->unfused_cuda;
  return kz_op_slot_filled(b, info) || fallback != NULL;
}

double kz_op_tolerance(const char *op, kz_dtype dtype) {
  const kz_op_info *info = kz_op_info_find(op);
  if (!info) return 0;
  return dtype == KZ_BF16 ? info->tol_bf16 : info->tol_f32;
}
