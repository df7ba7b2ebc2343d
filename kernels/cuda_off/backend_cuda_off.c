/* Built instead of kernels/cuda/ when CUDA is off: the CUDA backend is absent,
 * which every caller already handles (kz_backend_cuda() == NULL). */
#include <stdio.h>

#include "kernels/core/backend.h"
#include "kernels/cuda/cuda_info.h"

const kz_backend *kz_backend_cuda(void) {
  return NULL;
}

void kz_cuda_describe(char *buf, size_t size) {
  snprintf(buf, size, "not built (configure with -DKZ_CUDA=ON)");
}
