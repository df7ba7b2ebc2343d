/* The CUDA backend: devices, memory, streams, events and the op table.
 *
 * A build with CUDA must still run where there is no GPU or no driver, so
 * every query that fails for lack of one reads as "zero devices" and leaves
 * no sticky error behind for the next runtime call. */
#include <cublas_v2.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace {

int device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

kz_status check_index(int index, const char *what) {
  const int n = device_count();
  if (index < 0 || index >= n)
    return kz_fail(KZ_ERR_NOT_FOUND, "%s: no CUDA device %d (%d present)", what, index, n);
  return KZ_OK;
}

kz_status set_device(int index, const char *what) {
  cudaError_t e = cudaSetDevice(index);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return kz_fail(KZ_ERR_DEVICE, "%s: cudaSetDevice(%d): %s", what, index, cudaGetErrorString(e));
  }
  return KZ_OK;
}

kz_status device_info(int index, kz_device_info *info) {
  KZ_TRY(check_index(index, "device_info"));
  cudaDeviceProp prop;
  KZ_CUDA_CHECK(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
  memset(info, 0, sizeof *info);
  info->device.kind = KZ_DEVICE_CUDA;
  info->device.index = index;
  /* Names longer than our field are cut, not rejected. */
  snprintf(info->name, sizeof info->name, "%.*s", (int)sizeof info->name - 1, prop.name);
  info->compute_major = prop.major;
  info->compute_minor = prop.minor;
  info->multiprocessors = prop.multiProcessorCount;
  info->total_memory = (uint64_t)prop.totalGlobalMem;
  info->shared_mem_optin = (int)prop.sharedMemPerBlockOptin;
  snprintf(info->kernel_target, sizeof info->kernel_target, "%s",
           kz_target_name(kz_target_for_cuda(prop.major, prop.minor)));
  return KZ_OK;
}

kz_status alloc(int device, size_t bytes, void **ptr) {
  *ptr = NULL;
  KZ_TRY(set_device(device, "alloc"));
  if (bytes == 0) return KZ_OK;
  cudaError_t e = cudaMalloc(ptr, bytes);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    *ptr = NULL;
    return kz_fail(e == cudaErrorMemoryAllocation ? KZ_ERR_OUT_OF_MEMORY : KZ_ERR_DEVICE,
                   "cudaMalloc of %zu bytes on cuda:%d: %s", bytes, device, cudaGetErrorString(e));
  }
  return KZ_OK;
}

void release(int device, void *ptr) {
  if (ptr == NULL) return;
  /* Nothing useful can be done with a failure here; clear it so it is not
   * reported by an unrelated later call. */
  if (cudaSetDevice(device) != cudaSuccess || cudaFree(ptr) != cudaSuccess)
    (void)cudaGetLastError();
}

kz_status copy(kz_stream *s, void *dst, const void *src, size_t bytes, kz_copy_kind kind) {
  KZ_TRY(kz_cuda_enter(s, "copy"));
  if (bytes == 0) return KZ_OK;
  cudaMemcpyKind k;
  switch (kind) {
  case KZ_COPY_HOST_TO_DEVICE:
    k = cudaMemcpyHostToDevice;
    break;
  case KZ_COPY_DEVICE_TO_HOST:
    k = cudaMemcpyDeviceToHost;
    break;
  case KZ_COPY_DEVICE_TO_DEVICE:
    k = cudaMemcpyDeviceToDevice;
    break;
  default:
    return kz_fail(KZ_ERR_INVALID_ARG, "copy: unknown copy kind %d", (int)kind);
  }
  KZ_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, k, kz_cuda_stream(s)), "cudaMemcpyAsync");
  return KZ_OK;
}

kz_status fill_bytes(kz_stream *s, void *dst, int value, size_t bytes) {
  KZ_TRY(kz_cuda_enter(s, "fill_bytes"));
  if (bytes == 0) return KZ_OK;
  KZ_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, kz_cuda_stream(s)), "cudaMemsetAsync");
  return KZ_OK;
}

/* Keep freed scratch (cudaMallocAsync in the backward ops) in the device's
 * pool across synchronisations, so steady-state steps do not go back to
 * the driver for it. Best effort: without pool support nothing changes. */
void keep_scratch_pooled(int index) {
  int supported = 0;
  cudaMemPool_t pool;
  if (cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, index) != cudaSuccess ||
      !supported || cudaDeviceGetDefaultMemPool(&pool, index) != cudaSuccess) {
    (void)cudaGetLastError();
    return;
  }
  uint64_t threshold = (uint64_t)256 << 20;
  if (cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold) != cudaSuccess)
    (void)cudaGetLastError();
}

kz_status stream_init(kz_stream *s) {
  s->native = NULL;
  s->blas = NULL;
  KZ_TRY(check_index(s->device.index, "stream_init"));
  KZ_TRY(set_device(s->device.index, "stream_init"));
  cudaStream_t st = NULL;
  /* Non-blocking: our streams must not serialise with the legacy default
   * stream that other libraries in the process may use. */
  KZ_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "cudaStreamCreate");
  cublasHandle_t h = NULL;
  cublasStatus_t bs = cublasCreate(&h);
  if (bs == CUBLAS_STATUS_SUCCESS) {
    bs = cublasSetStream(h, st);
    if (bs != CUBLAS_STATUS_SUCCESS) cublasDestroy(h);
  }
  if (bs != CUBLAS_STATUS_SUCCESS) {
    cudaStreamDestroy(st);
    (void)cudaGetLastError();
    return kz_fail(KZ_ERR_DEVICE, "stream_init on cuda:%d: cuBLAS: %s", s->device.index,
                   cublasGetStatusString(bs));
  }
  keep_scratch_pooled(s->device.index);
  s->native = st;
  s->blas = h;
  return KZ_OK;
}

void stream_fini(kz_stream *s) {
  if (s == NULL) return;
  if (cudaSetDevice(s->device.index) != cudaSuccess) (void)cudaGetLastError();
  if (s->blas != NULL) cublasDestroy((cublasHandle_t)s->blas);
  if (s->native != NULL && cudaStreamDestroy((cudaStream_t)s->native) != cudaSuccess)
    (void)cudaGetLastError();
  s->blas = NULL;
  s->native = NULL;
}

/* Kernel faults surface here, at the first synchronisation after them. */
kz_status stream_sync(kz_stream *s) {
  KZ_TRY(kz_cuda_enter(s, "stream_sync"));
  cudaError_t e = cudaStreamSynchronize(kz_cuda_stream(s));
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return kz_fail(KZ_ERR_DEVICE, "cuda:%d: work on the stream failed: %s", s->device.index,
                   cudaGetErrorString(e));
  }
  return KZ_OK;
}

kz_status event_create(int device, void **event) {
  *event = NULL;
  KZ_TRY(set_device(device, "event_create"));
  cudaEvent_t e;
  KZ_CUDA_CHECK(cudaEventCreate(&e), "cudaEventCreate");
  *event = e;
  return KZ_OK;
}

void event_destroy(void *event) {
  if (event != NULL && cudaEventDestroy((cudaEvent_t)event) != cudaSuccess)
    (void)cudaGetLastError();
}

kz_status event_record(kz_stream *s, void *event) {
  KZ_TRY(kz_cuda_enter(s, "event_record"));
  KZ_CUDA_CHECK(cudaEventRecord((cudaEvent_t)event, kz_cuda_stream(s)), "cudaEventRecord");
  return KZ_OK;
}

kz_status event_elapsed_ms(void *start, void *stop, float *ms) {
  *ms = 0.0f;
  KZ_CUDA_CHECK(cudaEventSynchronize((cudaEvent_t)stop), "cudaEventSynchronize");
  KZ_CUDA_CHECK(cudaEventElapsedTime(ms, (cudaEvent_t)start, (cudaEvent_t)stop),
                "cudaEventElapsedTime");
  return KZ_OK;
}

kz_status stream_wait_event(kz_stream *s, void *event) {
  KZ_TRY(kz_cuda_enter(s, "stream_wait_event"));
  KZ_CUDA_CHECK(cudaStreamWaitEvent(kz_cuda_stream(s), (cudaEvent_t)event, 0),
                "cudaStreamWaitEvent");
  return KZ_OK;
}

kz_backend make_backend(void) {
  kz_backend b;
  memset(&b, 0, sizeof b);
  b.name = "cuda";
  b.kind = KZ_DEVICE_CUDA;
  b.device_count = device_count;
  b.device_info = device_info;
  b.alloc = alloc;
  b.release = release;
  b.copy = copy;
  b.fill_bytes = fill_bytes;
  b.stream_init = stream_init;
  b.stream_fini = stream_fini;
  b.stream_sync = stream_sync;
  b.event_create = event_create;
  b.event_destroy = event_destroy;
  b.event_record = event_record;
  b.event_elapsed_ms = event_elapsed_ms;
  b.stream_wait_event = stream_wait_event;
  kz_op_table *t = &b.ops;
  /* Filled from the op list: NULL where it marks CUDA KZ_NO. */
#define KZ_SLOT(slot, cpu, cuda, params) t->slot = KZ_OP_FN(cuda, kz_cuda_##slot);
  KZ_OP_SLOTS()
#undef KZ_SLOT
  return b;
}

} // namespace

extern "C" const kz_backend *kz_backend_cuda(void) {
  /* Function-local static: initialised once, thread-safely, on first use. */
  static const kz_backend backend = make_backend();
  return &backend;
}
