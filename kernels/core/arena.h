/* Activation arena: one device allocation carved by a bump pointer.
 *
 * Sized once per (model, batch shape) and reset every step, so the training
 * loop never allocates. A planning arena (kz_arena_plan) hands out no memory
 * and only measures: run the forward pass once against it, then create the
 * real arena with kz_arena_planned_bytes(). */
#ifndef KZ_CORE_ARENA_H
#define KZ_CORE_ARENA_H

#include <stddef.h>

#include "kaizen.h"
#include "kernels/core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kz_arena kz_arena;

#define KZ_ARENA_ALIGN 256 /* bytes; covers 128-bit loads and cuBLAS's preference */

kz_status kz_arena_create(kz_device device, size_t capacity, kz_arena **out);
/* A measuring arena: allocations succeed with NULL data and grow the plan. */
kz_status kz_arena_plan(kz_device device, kz_arena **out);
void kz_arena_destroy(kz_arena *a);
/* Returns KZ_ERR_OUT_OF_MEMORY naming the request and the free space. */
kz_status kz_arena_alloc(kz_arena *a, size_t bytes, void **ptr);
kz_status kz_arena_tensor(kz_arena *a, kz_dtype dtype, int ndim, const int64_t *shape,
                          kz_tensor *out);
/* Marks let a phase (one layer's backward) give back its scratch space. */
size_t kz_arena_mark(const kz_arena *a);
void kz_arena_release(kz_arena *a, size_t mark);
void kz_arena_reset(kz_arena *a);
size_t kz_arena_used(const kz_arena *a);
size_t kz_arena_capacity(const kz_arena *a);
/* High-water mark, and the capacity a planning arena measured. */
size_t kz_arena_peak(const kz_arena *a);
size_t kz_arena_planned_bytes(const kz_arena *a);

#ifdef __cplusplus
}
#endif
#endif
