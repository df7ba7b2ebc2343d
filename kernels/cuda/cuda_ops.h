/* CUDA backend op entry points (hand-written kernels; cuBLAS for GEMM). Each has the
 * signature of its kz_op_table slot in core/backend.h; backend_cuda.cu fills
 * the table with them. Tunables come from kz_stream_knob(s, KZ_KNOB_CUDA_*). */
#ifndef KZ_CUDA_OPS_H
#define KZ_CUDA_OPS_H

#include "kernels/core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* kz_cuda_<slot> for every slot of the op list; a slot the list marks KZ_NO
 * for CUDA is declared but never defined or referenced. */
#define KZ_SLOT(slot, cpu, cuda, params) kz_status kz_cuda_##slot params;
KZ_OP_SLOTS()
#undef KZ_SLOT

#ifdef __cplusplus
}
#endif
#endif
