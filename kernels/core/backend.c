/* Device-generic helpers on top of the backend tables: backend lookup,
 * streams, allocation and copies. */
#include "kernels/core/backend.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"

const kz_backend *kz_backend_for(kz_device device) {
  return device.kind == KZ_DEVICE_CPU ? kz_backend_cpu() : kz_backend_cuda();
}

static kz_status backend_checked(kz_device device, const kz_backend **out) {
  const kz_backend *be = kz_backend_for(device);
  char name[32];
  kz_device_format(device, name, sizeof name);
  if (!be) return kz_fail(KZ_ERR_UNSUPPORTED, "%s: this build has no CUDA backend", name);
  if (device.index < 0 || device.index >= be->device_count())
    return kz_fail(KZ_ERR_NOT_FOUND, "%s: no such device (%d found)", name, be->device_count());
  *out = be;
  return KZ_OK;
}

kz_status kz_stream_create(kz_device device, kz_stream **out) {
  const kz_backend *be = NULL;
  KZ_TRY(backend_checked(device, &be));
  kz_device_info info;
  KZ_TRY(be->device_info(device.index, &info));
  kz_stream *s = calloc(1, sizeof *s);
  if (!s) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "kz_stream_create: out of host memory");
  s->backend = be;
  s->device = device;
  s->target = device.kind == KZ_DEVICE_CPU
                  ? KZ_TARGET_CPU
                  : kz_target_for_cuda(info.compute_major, info.compute_minor);
  kz_status st = be->stream_init(s);
  if (st != KZ_OK) {
    free(s);
    return st;
  }
  *out = s;
  return KZ_OK;
}

void kz_stream_destroy(kz_stream *s) {
  if (!s) return;
  s->backend->stream_fini(s);
  free(s);
}

kz_status kz_stream_sync(kz_stream *s) {
  return s->backend->stream_sync(s);
}

struct kz_event {
  const kz_backend *backend;
  kz_device device;
  void *native;
  int recorded;
};

kz_status kz_event_create(kz_device device, kz_event **out) {
  const kz_backend *be = NULL;
  KZ_TRY(backend_checked(device, &be));
  kz_event *e = calloc(1, sizeof *e);
  if (!e) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "kz_event_create: out of host memory");
  e->backend = be;
  e->device = device;
  kz_status st = be->event_create(device.index, &e->native);
  if (st != KZ_OK) {
    free(e);
    return st;
  }
  *out = e;
  return KZ_OK;
}

void kz_event_destroy(kz_event *e) {
  if (!e) return;
  e->backend->event_destroy(e->native);
  free(e);
}

/* Events and streams belong to one device; mixing them is a caller bug that
 * CUDA would report obscurely (or not at all), so name both devices. */
static kz_status same_device(const kz_stream *s, const kz_event *e, const char *what) {
  if (s->device.kind == e->device.kind && s->device.index == e->device.index) return KZ_OK;
  char a[32], b[32];
  kz_device_format(s->device, a, sizeof a);
  kz_device_format(e->device, b, sizeof b);
  return kz_fail(KZ_ERR_INVALID_ARG, "%s: the stream is on %s, the event on %s", what, a, b);
}

kz_status kz_event_record(kz_stream *s, kz_event *e) {
  KZ_TRY(same_device(s, e, "kz_event_record"));
  KZ_TRY(s->backend->event_record(s, e->native));
  e->recorded = 1;
  return KZ_OK;
}

kz_status kz_stream_wait_event(kz_stream *s, const kz_event *e) {
  KZ_TRY(same_device(s, e, "kz_stream_wait_event"));
  if (!e->recorded)
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_stream_wait_event: event never recorded");
  return s->backend->stream_wait_event(s, e->native);
}

kz_status kz_event_elapsed_ms(const kz_event *start, const kz_event *stop, float *ms) {
  if (!start->recorded || !stop->recorded)
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_event_elapsed_ms: event never recorded");
  if (start->backend != stop->backend || start->device.index != stop->device.index)
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_event_elapsed_ms: events on different devices");
  return start->backend->event_elapsed_ms(start->native, stop->native, ms);
}

kz_status kz_device_alloc(kz_device device, size_t bytes, void **ptr) {
  const kz_backend *be = NULL;
  KZ_TRY(backend_checked(device, &be));
  return be->alloc(device.index, bytes, ptr);
}

void kz_device_free(kz_device device, void *ptr) {
  const kz_backend *be = kz_backend_for(device);
  if (be && ptr) be->release(device.index, ptr);
}

kz_status kz_copy_to_device(kz_stream *s, void *dst, const void *host_src, size_t bytes) {
  return s->backend->copy(s, dst, host_src, bytes, KZ_COPY_HOST_TO_DEVICE);
}

kz_status kz_copy_to_host(kz_stream *s, void *host_dst, const void *src, size_t bytes) {
  return s->backend->copy(s, host_dst, src, bytes, KZ_COPY_DEVICE_TO_HOST);
}

kz_status kz_copy_on_device(kz_stream *s, void *dst, const void *src, size_t bytes) {
  return s->backend->copy(s, dst, src, bytes, KZ_COPY_DEVICE_TO_DEVICE);
}

kz_status kz_fill_bytes(kz_stream *s, void *dst, int value, size_t bytes) {
  return s->backend->fill_bytes(s, dst, value, bytes);
}

kz_status kz_tensor_alloc(kz_device device, kz_dtype dtype, int ndim, const int64_t *shape,
                          kz_tensor *out) {
  if (ndim < 0 || ndim > KZ_MAX_DIMS)
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_tensor_alloc: %d dims (at most %d)", ndim, KZ_MAX_DIMS);
  kz_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = dtype;
  t.device = device;
  t.ndim = ndim;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] < 0)
      return kz_fail(KZ_ERR_INVALID_ARG, "kz_tensor_alloc: dim %d is negative (%lld)", i,
                     (long long)shape[i]);
    t.shape[i] = shape[i];
  }
  /* Refuse sizes whose byte count would overflow rather than allocate a wrapped size. */
  int64_t numel = 1;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] != 0 && numel > INT64_MAX / 8 / shape[i])
      return kz_fail(KZ_ERR_INVALID_ARG, "kz_tensor_alloc: shape too large");
    numel *= shape[i];
  }
  KZ_TRY(kz_device_alloc(device, kz_tensor_bytes(&t), &t.data));
  *out = t;
  return KZ_OK;
}

void kz_tensor_free(kz_tensor *t) {
  if (!t || !t->data) return;
  kz_device_free(t->device, t->data);
  t->data = NULL;
}
