/* kz_cuda_describe: library versions as reported by the libraries. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>
#ifdef KZ_WITH_CUDNN
#include <cudnn.h>
#endif
#ifdef KZ_WITH_NCCL
#include <nccl.h>
#endif

#include "kernels/cuda/cuda_info.h"

namespace {

/* Runtime and driver encode versions as 1000 * major + 10 * minor. */
void format_cuda_version(char *buf, size_t size, int v) {
  snprintf(buf, size, "%d.%d", v / 1000, (v % 1000) / 10);
}

} // namespace

extern "C" void kz_cuda_describe(char *buf, size_t size) {
  if (buf == NULL || size == 0) return;
  char runtime[32] = "unknown", driver[32] = "none", cublas[32] = "unknown";
  /* A build without the library says so, rather than printing a version. */
  char dnn[32] = "not linked", nccl[32] = "not linked";
  int v = 0;
  if (cudaRuntimeGetVersion(&v) == cudaSuccess) format_cuda_version(runtime, sizeof runtime, v);
  /* Without a driver this either fails or reports 0. */
  v = 0;
  if (cudaDriverGetVersion(&v) == cudaSuccess && v > 0)
    format_cuda_version(driver, sizeof driver, v);
  (void)cudaGetLastError();
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
    snprintf(cublas, sizeof cublas, "%d.%d.%d", major, minor, patch);
#ifdef KZ_WITH_CUDNN
  /* cuDNN 9 encodes 10000 * major + 100 * minor + patch. */
  const size_t d = cudnnGetVersion();
  snprintf(dnn, sizeof dnn, "%zu.%zu.%zu", d / 10000, (d % 10000) / 100, d % 100);
#endif
#ifdef KZ_WITH_NCCL
  /* NCCL >= 2.9 uses the same encoding as cuDNN 9; older ones 1000 * major. */
  if (ncclGetVersion(&v) == ncclSuccess) {
    if (v >= 20900)
      snprintf(nccl, sizeof nccl, "%d.%d.%d", v / 10000, (v % 10000) / 100, v % 100);
    else
      snprintf(nccl, sizeof nccl, "%d.%d.%d", v / 1000, (v % 1000) / 100, v % 100);
  } else {
    snprintf(nccl, sizeof nccl, "unknown");
  }
#endif
  snprintf(buf, size, "CUDA runtime %s, driver %s, cuBLAS %s, cuDNN %s, NCCL %s", runtime, driver,
           cublas, dnn, nccl);
}
