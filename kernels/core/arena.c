/* Bump allocator over one device allocation (see arena.h for why). */
#include "kernels/core/arena.h"

#include <stdlib.h>

#include "kernels/core/backend.h"
#include "kernels/core/error.h"

struct kz_arena {
  kz_device device;
  char *base; /* NULL for a planning arena */
  size_t capacity;
  size_t used;
  size_t peak;
  int planning;
};

static size_t align_up(size_t n) {
  return (n + KZ_ARENA_ALIGN - 1) / KZ_ARENA_ALIGN * KZ_ARENA_ALIGN;
}

kz_status kz_arena_create(kz_device device, size_t capacity, kz_arena **out) {
  kz_arena *a = calloc(1, sizeof *a);
  if (!a) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "arena: out of host memory");
  a->device = device;
  a->capacity = align_up(capacity);
  if (a->capacity > 0) {
    void *p = NULL;
    kz_status st = kz_device_alloc(device, a->capacity, &p);
    if (st != KZ_OK) {
      free(a);
      return kz_fail_context(st, "arena of %zu bytes", capacity);
    }
    a->base = p;
  }
  *out = a;
  return KZ_OK;
}

kz_status kz_arena_plan(kz_device device, kz_arena **out) {
  kz_arena *a = calloc(1, sizeof *a);
  if (!a) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "arena: out of host memory");
  a->device = device;
  a->planning = 1;
  *out = a;
  return KZ_OK;
}

void kz_arena_destroy(kz_arena *a) {
  if (!a) return;
  if (a->base) kz_device_free(a->device, a->base);
  free(a);
}

kz_status kz_arena_alloc(kz_arena *a, size_t bytes, void **ptr) {
  size_t size = align_up(bytes);
  if (size < bytes)
    return kz_fail(KZ_ERR_INVALID_ARG, "arena: request of %zu bytes overflows", bytes);
  if (a->planning) {
    *ptr = NULL;
  } else {
    if (size > a->capacity - a->used)
      return kz_fail(KZ_ERR_OUT_OF_MEMORY,
                     "arena: request of %zu bytes does not fit (%zu of %zu bytes free)", bytes,
                     a->capacity - a->used, a->capacity);
    *ptr = a->base + a->used;
  }
  a->used += size;
  if (a->used > a->peak) a->peak = a->used;
  return KZ_OK;
}

kz_status kz_arena_tensor(kz_arena *a, kz_dtype dtype, int ndim, const int64_t *shape,
                          kz_tensor *out) {
  if (ndim < 0 || ndim > KZ_MAX_DIMS)
    return kz_fail(KZ_ERR_INVALID_ARG, "arena tensor: %d dims (at most %d)", ndim, KZ_MAX_DIMS);
  kz_tensor t = {0};
  t.dtype = dtype;
  t.device = a->device;
  t.ndim = ndim;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] < 0) return kz_fail(KZ_ERR_INVALID_ARG, "arena tensor: negative dim %d", i);
    t.shape[i] = shape[i];
  }
  KZ_TRY(kz_arena_alloc(a, kz_tensor_bytes(&t), &t.data));
  *out = t;
  return KZ_OK;
}

size_t kz_arena_mark(const kz_arena *a) {
  return a->used;
}

void kz_arena_release(kz_arena *a, size_t mark) {
  if (mark <= a->used) a->used = mark;
}

void kz_arena_reset(kz_arena *a) {
  a->used = 0;
}
size_t kz_arena_used(const kz_arena *a) {
  return a->used;
}
size_t kz_arena_capacity(const kz_arena *a) {
  return a->capacity;
}
size_t kz_arena_peak(const kz_arena *a) {
  return a->peak;
}
size_t kz_arena_planned_bytes(const kz_arena *a) {
  return a->peak;
}
