/* The device list: the CPU first, then every CUDA device the driver reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/backend.h"
#include "kernels/core/error.h"

int kz_cuda_device_count(void) {
  const kz_backend *cuda = kz_backend_cuda();
  return cuda ? cuda->device_count() : 0;
}

int kz_device_list_count(void) {
  return 1 + kz_cuda_device_count();
}

kz_status kz_device_list_get(int position, kz_device_info *info) {
  if (position == 0) return kz_backend_cpu()->device_info(0, info);
  int n_cuda = kz_cuda_device_count();
  if (position < 0 || position > n_cuda)
    return kz_fail(KZ_ERR_NOT_FOUND, "device position %d out of range (%d devices)", position,
                   1 + n_cuda);
  return kz_backend_cuda()->device_info(position - 1, info);
}

void kz_device_format(kz_device device, char *buf, size_t size) {
  if (device.kind == KZ_DEVICE_CPU)
    snprintf(buf, size, "cpu");
  else
    snprintf(buf, size, "cuda:%d", device.index);
}

kz_status kz_device_parse(const char *spec, kz_device *out) {
  if (!spec) spec = "auto";
  int n_cuda = kz_cuda_device_count();
  if (!strcmp(spec, "auto")) {
    *out = (kz_device){n_cuda > 0 ? KZ_DEVICE_CUDA : KZ_DEVICE_CPU, 0};
    return KZ_OK;
  }
  if (!strcmp(spec, "cpu")) {
    *out = (kz_device){KZ_DEVICE_CPU, 0};
    return KZ_OK;
  }
  if (!strncmp(spec, "cuda", 4) && (spec[4] == '\0' || spec[4] == ':')) {
    long index = 0;
    if (spec[4] == ':') {
      char *end = NULL;
      index = strtol(spec + 5, &end, 10);
      if (end == spec + 5 || *end != '\0' || index < 0 || index > 1024)
        return kz_fail(KZ_ERR_INVALID_ARG,
                       "device '%s': expected auto, cpu, cuda or cuda:N with N >= 0", spec);
    }
    if (!kz_backend_cuda())
      return kz_fail(KZ_ERR_UNSUPPORTED, "device '%s': this build has no CUDA backend", spec);
    if (index >= n_cuda)
      return kz_fail(KZ_ERR_NOT_FOUND, "device '%s': %d CUDA device(s) found", spec, n_cuda);
    *out = (kz_device){KZ_DEVICE_CUDA, (int)index};
    return KZ_OK;
  }
  return kz_fail(KZ_ERR_INVALID_ARG, "device '%s': expected auto, cpu, cuda or cuda:N", spec);
}
