/* The CPU backend: host memory, synchronous streams, wall-clock events, and
 * the table of CPU ops (cpu_ops.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/core/error.h"
#include "kernels/cpu/cpu_ops.h"

/* 256 bytes, the same guarantee cudaMalloc gives, so arena offsets and any
 * alignment-dependent fast path behave identically on both backends. */
#define KZ_CPU_ALIGN 256

static int cpu_device_count(void) {
  return 1;
}

static void read_cpu_model(char *buf, size_t size) {
  snprintf(buf, size, "CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "model name", 10)) {
      const char *colon = strchr(line, ':');
      if (colon) {
        colon += 1 + (colon[1] == ' ');
        snprintf(buf, size, "%s", colon);
        buf[strcspn(buf, "\n")] = '\0';
      }
      break;
    }
  }
  fclose(f);
}

static kz_status cpu_device_info(int index, kz_device_info *info) {
  if (index != 0) return kz_fail(KZ_ERR_NOT_FOUND, "cpu:%d: the CPU is device 0", index);
  memset(info, 0, sizeof *info);
  info->device = (kz_device){KZ_DEVICE_CPU, 0};
  read_cpu_model(info->name, sizeof info->name);
  info->multiprocessors = omp_get_max_threads();
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  info->total_memory = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
  snprintf(info->kernel_target, sizeof info->kernel_target, "%s", kz_target_name(KZ_TARGET_CPU));
  return KZ_OK;
}

static kz_status cpu_alloc(int device, size_t bytes, void **ptr) {
  size_t size = (bytes + KZ_CPU_ALIGN - 1) / KZ_CPU_ALIGN * KZ_CPU_ALIGN;
  if (size == 0) size = KZ_CPU_ALIGN; /* a valid, unique pointer even for empty tensors */
  if (size < bytes)
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "cpu: allocation of %zu bytes overflows", bytes);
  void *p = aligned_alloc(KZ_CPU_ALIGN, size);
  if (!p) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "cpu: cannot allocate %zu bytes", bytes);
  *ptr = p;
  return KZ_OK;
}

static void cpu_release(int device, void *ptr) {
  free(ptr);
}

static kz_status cpu_copy(kz_stream *s, void *dst, const void *src, size_t bytes,
                          kz_copy_kind kind) {
  if (bytes) memmove(dst, src, bytes);
  return KZ_OK;
}

static kz_status cpu_fill_bytes(kz_stream *s, void *dst, int value, size_t bytes) {
  if (bytes) memset(dst, value, bytes);
  return KZ_OK;
}

static kz_status cpu_stream_init(kz_stream *s) {
  s->native = NULL;
  s->blas = NULL;
  return KZ_OK;
}

static void cpu_stream_fini(kz_stream *s) {}
static kz_status cpu_stream_sync(kz_stream *s) {
  return KZ_OK;
}

/* CPU work is synchronous, so an event is just the time it was recorded. */
static kz_status cpu_event_create(int device, void **event) {
  double *t = calloc(1, sizeof *t);
  if (!t) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "cpu event: out of host memory");
  *event = t;
  return KZ_OK;
}

static void cpu_event_destroy(void *event) {
  free(event);
}

static kz_status cpu_event_record(kz_stream *s, void *event) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  *(double *)event = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
  return KZ_OK;
}

static kz_status cpu_event_elapsed_ms(void *start, void *stop, float *ms) {
  *ms = (float)(*(double *)stop - *(double *)start);
  return KZ_OK;
}

static kz_status cpu_stream_wait_event(kz_stream *s, void *event) {
  (void)s, (void)event;
  return KZ_OK;
}

static const kz_backend cpu_backend = {
    .name = "cpu",
    .kind = KZ_DEVICE_CPU,
    .device_count = cpu_device_count,
    .device_info = cpu_device_info,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .copy = cpu_copy,
    .fill_bytes = cpu_fill_bytes,
    .stream_init = cpu_stream_init,
    .stream_fini = cpu_stream_fini,
    .stream_sync = cpu_stream_sync,
    .event_create = cpu_event_create,
    .event_destroy = cpu_event_destroy,
    .event_record = cpu_event_record,
    .event_elapsed_ms = cpu_event_elapsed_ms,
    .stream_wait_event = cpu_stream_wait_event,
    /* Filled from the op list: NULL where it marks the CPU KZ_NO. */
    .ops =
        {
#define KZ_SLOT(slot, cpu, cuda, params) .slot = KZ_OP_FN(cpu, kz_cpu_##slot),
            KZ_OP_SLOTS()
#undef KZ_SLOT
        },
};

const kz_backend *kz_backend_cpu(void) {
  return &cpu_backend;
}
