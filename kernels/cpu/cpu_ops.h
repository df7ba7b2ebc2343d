/* CPU backend op entry points (OpenMP threads, OpenBLAS sgemm). Each has the
 * signature of its kz_op_table slot in core/backend.h; backend_cpu.c fills
 * the table with them. Tunables come from kz_stream_knob(s, KZ_KNOB_CPU_*). */
#ifndef KZ_CPU_OPS_H
#define KZ_CPU_OPS_H

#include "kernels/core/backend.h"

/* kz_cpu_<slot> for every slot of the op list; a slot the list marks KZ_NO
 * for the CPU is declared but never defined or referenced. */
#define KZ_SLOT(slot, cpu, cuda, params) kz_status kz_cpu_##slot params;
KZ_OP_SLOTS()
#undef KZ_SLOT

#endif
